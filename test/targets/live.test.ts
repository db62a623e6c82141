// The live target on the real kernel. Expected bits come from the kernel's documented behaviour
// (x86-semantics, rule ids in the test names; §15 is what a 6.18 kernel showed),
// not from earlier runs. Soft-dirty (D) is '?' here because this kernel has it compiled out; the
// tests compare the first five letters unless the host shows soft-dirty.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import { LiveTarget } from '../../src/targets/live.ts';
import { DEFAULT_EXECUTOR } from '../../src/targets/probe.ts';
import { parseCase } from '../../src/ops/validate.ts';
import { traceSchema, type Trace } from '../../src/ops/trace.ts';

if (!existsSync(DEFAULT_EXECUTOR)) throw new Error(`native executor not built: run \`make -C workers/executor\` (${DEFAULT_EXECUTOR})`);

const swapActive = readFileSync('/proc/swaps', 'utf8').trim().split('\n').length > 1;
let t: LiveTarget;
beforeAll(() => { t = new LiveTarget(); });
afterAll(async () => { await t.close(); });

async function run(c: object): Promise<Trace> {
  const tr = await t.execute(parseCase({ format: 'ptefarm-case/1', ...c }));
  expect(traceSchema.safeParse(tr).success).toBe(true);
  expect(tr.fault).toBeUndefined();
  return tr;
}
/** first five letters (P S F E W) of each page of one region after step `i` */
const pg = (tr: Trace, i: number, region = 'a', proc = 0) => tr.steps[i].pages?.[String(proc)]?.[region]?.map((s) => s.slice(0, 5));
const rcs = (tr: Trace) => tr.steps.map((s) => s.rc);

describe('live target: the case-format example', () => {
  it('wp survives swap-out (write, WRITEPROTECT with wp_async, pageout, read)', async () => {
    const tr = await run({
      name: 'wp survives swap-out', uffd: { features: ['wp_async'] },
      ops: [
        { op: 'mmap', region: 'a', pages: 4, kind: 'anon' },
        { op: 'uffd_register', region: 'a' },
        { op: 'write', region: 'a', first: 0, count: 2 },
        { op: 'wp', region: 'a', on: true },
        { op: 'pageout', region: 'a', first: 0, count: 1 },
        { op: 'read', region: 'a', first: 0, count: 1 },
      ],
    });
    expect(tr.target.name).toBe('live');
    expect(tr.steps.map((s) => s.op)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(rcs(tr)).toEqual([0, 0, 0, 0, 0, 0]);
    expect(pg(tr, 0)).toEqual(['.....', '.....', '.....', '.....']); // R-MMAP-4
    expect(pg(tr, 1)).toEqual(['.....', '.....', '.....', '.....']); // R-REG-1: registration touches nothing
    expect(pg(tr, 2)).toEqual(['P..E.', 'P..E.', '.....', '.....']); // R-FLT-6
    // R-WP-1 present pages get wp; R-WP-3 with WP_UNPOPULATED (forced by WP_ASYNC) none -> marker
    expect(pg(tr, 3)).toEqual(['P..EW', 'P..EW', '.S..W', '.S..W']);
    if (swapActive) {
      expect(tr.steps[4].skipped).toBeUndefined();
      const out = tr.steps[4].outcome?.swapped_out?.a ?? [];
      // R-PO-1: a page that really left is a swap entry keeping wp
      expect(pg(tr, 4)![0]).toBe(out.includes(0) ? '.S..W' : 'P..EW');
      // R-SWIN-1: swap-in keeps wp
      expect(pg(tr, 5)![0]).toBe('P..EW');
    } else {
      expect(tr.steps[4].skipped).toMatch(/swap/);
    }
    if (!tr.target.capabilities.soft_dirty) for (const s of tr.steps) for (const p of s.pages!['0'].a) expect(p[5]).toBe('?');
  });
});

describe('live target: one case per op kind', () => {
  it('mmap kinds and read faults (R-FLT-1, R-FLT-3, R-FLT-4)', async () => {
    const tr = await run({ ops: [
      { op: 'mmap', region: 'a', pages: 2, kind: 'anon' },
      { op: 'mmap', region: 'b', pages: 2, kind: 'shared-anon' },
      { op: 'mmap', region: 'c', pages: 2, kind: 'memfd-shared' },
      { op: 'mmap', region: 'd', pages: 2, kind: 'memfd-private' },
      { op: 'read', region: 'a', count: 1 }, { op: 'read', region: 'b', count: 1 },
      { op: 'read', region: 'c', count: 1 }, { op: 'read', region: 'd', count: 1 },
      { op: 'write', region: 'd', first: 1, count: 1 },
    ] });
    expect(rcs(tr).every((r) => r === 0)).toBe(true);
    // R-FLT-1: the read maps the 4K zero page (not file, not exclusive) -- or, where the kernel maps
    // no zero page on read faults (a host choice), R-FLT-1A: a fresh exclusive page. The trace
    // records which (the `zero` outcome, from PAGEMAP_SCAN PFNZERO).
    const zero = tr.steps[4].outcome?.zero?.a;
    expect(zero).toBeDefined();
    expect(pg(tr, 7, 'a')).toEqual([zero!.includes(0) ? 'P....' : 'P..E.', '.....']);
    expect(pg(tr, 7, 'b')).toEqual(['P.FE.', '.....']); // shmem page cache page
    expect(pg(tr, 7, 'c')).toEqual(['P.FE.', '.....']);
    expect(pg(tr, 8, 'd')).toEqual(['P.FE.', 'P..E.']); // private file read = page cache; write = anon CoW (R-FLT-10)
  });

  it('munmap leaves a gap that reads all zero, mprotect(PROT_NONE) keeps pages present (R-MUNMAP-1, R-MPROT-2)', async () => {
    const tr = await run({ ops: [
      { op: 'mmap', region: 'a', pages: 3, kind: 'anon' },
      { op: 'write', region: 'a' },
      { op: 'munmap', region: 'a', first: 1, count: 1 },
      { op: 'mprotect', region: 'a', first: 2, count: 1, prot: 'none' },
      { op: 'read', region: 'a', first: 2, count: 1 },
      { op: 'read', region: 'a', first: 0, count: 1 },
    ] });
    expect(pg(tr, 2)).toEqual(['P..E.', '.....', 'P..E.']);
    expect(pg(tr, 3)).toEqual(['P..E.', '.....', 'P..E.']);
    expect(tr.steps[4].rc).toBe('SIGSEGV'); // the reading process is killed ...
    expect(tr.steps[4].pages).toEqual({}); // ... and gone
    expect(tr.steps[5].skipped).toMatch(/process 0 is gone/); // a dead process's later ops do not run
  });

  it('mremap move, grow in place, dontunmap with old (R-MRM-5, R-MRM-7, R-MRM-9)', async () => {
    const tr = await run({ ops: [
      { op: 'mmap', region: 'a', pages: 2, kind: 'anon' },
      { op: 'write', region: 'a' },
      { op: 'mremap', region: 'a' },
      { op: 'mremap', region: 'a', pages: 4, move: false },
      { op: 'mremap', region: 'a', dontunmap: true, old: 'o' },
      { op: 'mremap', region: 'a', pages: 2, move: false },
    ] });
    expect(rcs(tr)).toEqual([0, 0, 0, 0, 0, 0]);
    expect(pg(tr, 2)).toEqual(['P..E.', 'P..E.']);
    expect(pg(tr, 3)).toEqual(['P..E.', 'P..E.', '.....', '.....']);
    expect(pg(tr, 4, 'o')).toEqual(['.....', '.....', '.....', '.....']);
    expect(pg(tr, 4)).toEqual(['P..E.', 'P..E.', '.....', '.....']);
    expect(pg(tr, 5)).toEqual(['P..E.', 'P..E.']);
  });

  it('fork shares pages (E=0 in both), CoW write and exit restore exclusivity (R-FORK-7, R-PM-4)', async () => {
    const tr = await run({ ops: [
      { op: 'mmap', region: 'a', pages: 2, kind: 'anon' },
      { op: 'write', region: 'a' },
      { op: 'fork' },
      { op: 'write', region: 'a', proc: 1, first: 0, count: 1 },
      { op: 'exit', proc: 1 },
    ] });
    expect(pg(tr, 2, 'a', 0)).toEqual(['P....', 'P....']);
    expect(pg(tr, 2, 'a', 1)).toEqual(['P....', 'P....']);
    expect(pg(tr, 3, 'a', 0)).toEqual(['P..E.', 'P....']);
    expect(pg(tr, 3, 'a', 1)).toEqual(['P..E.', 'P....']);
    expect(Object.keys(tr.steps[4].pages!)).toEqual(['0']);
    expect(pg(tr, 4, 'a', 0)).toEqual(['P..E.', 'P..E.']);
  });

  it('clear_refs is accepted for 1-5; dontneed drops anon pages (R-DN-1)', async () => {
    const tr = await run({ ops: [
      { op: 'mmap', region: 'a', pages: 2, kind: 'anon' },
      { op: 'write', region: 'a' },
      { op: 'clear_refs', value: 4 },
      { op: 'clear_refs', value: 1 },
      { op: 'dontneed', region: 'a', first: 1 },
    ] });
    expect(rcs(tr)).toEqual([0, 0, 0, 0, 0]);
    expect(pg(tr, 3)).toEqual(['P..E.', 'P..E.']);
    expect(pg(tr, 4)).toEqual(['P..E.', '.....']);
  });

  it('THP: read maps the huge zero page, write a THP, split makes PTEs, collapse makes it huge again', async () => {
    const tr = await run({ ops: [
      { op: 'mmap', region: 'z', pages: 512, kind: 'anon', thp: true },
      { op: 'read', region: 'z', count: 1 },
      { op: 'mmap', region: 'a', pages: 512, kind: 'anon', thp: true },
      { op: 'write', region: 'a', count: 1 },
      { op: 'split', region: 'a', page: 7 },
      { op: 'collapse', region: 'a', first: 3, count: 1 },
    ] });
    expect(rcs(tr)).toEqual([0, 0, 0, 0, 0, 0]);
    // R-FLT-2, V_HUGEZERO_PMFILE (§15: huge zero reads p=1 f=1 x=0); where the kernel maps no huge
    // zero page (use_zero_page=0, or a host whose read faults never do), R-FLT-2A: a real THP
    expect(tr.steps[1].outcome?.huge).toEqual({ z: [0] });
    const hugeZero = tr.steps[1].outcome?.zero?.z;
    expect(hugeZero).toBeDefined();
    expect(new Set(pg(tr, 1, 'z'))).toEqual(new Set([hugeZero!.includes(0) ? 'P.F..' : 'P..E.']));
    // R-FLT-6: a write into an empty THP-eligible PMD maps a whole THP: all 512 pages present
    expect(tr.steps[3].outcome?.huge).toEqual({ a: [0] });
    expect(new Set(pg(tr, 3))).toEqual(new Set(['P..E.']));
    // R-SPLIT-1: same pages, now PTE-mapped: nothing new is huge, pagemap unchanged
    expect(tr.steps[4].outcome?.huge).toEqual({});
    expect(new Set(pg(tr, 4))).toEqual(new Set(['P..E.']));
    // R-COL-1: MADV_COLLAPSE over the covered 2 MiB block maps it huge again
    expect(tr.steps[5].outcome?.huge).toEqual({ a: [0] });
  });

  it('split is visible to PAGEMAP_SCAN: HUGE before, not after', async () => {
    const tr = await run({ ops: [
      { op: 'mmap', region: 'a', pages: 512, kind: 'anon', thp: true },
      { op: 'write', region: 'a', count: 1 },
      { op: 'scan', region: 'a', first: 0, count: 2 },
      { op: 'split', region: 'a', page: 300 },
      { op: 'scan', region: 'a', first: 0, count: 2 },
    ] });
    expect(tr.steps[2].scan!['0'].a.slice(0, 3)).toEqual(['.w.p..h..', '.w.p..h..', '---------']);
    expect(tr.steps[4].scan!['0'].a.slice(0, 2)).toEqual(['.w.p.....', '.w.p.....']);
  });

  it.skipIf(!swapActive)('pageout reports the pages that left (needs active swap: run ptefarm setup-swap)', async () => {
    const tr = await run({ ops: [
      { op: 'mmap', region: 'a', pages: 4, kind: 'anon' },
      { op: 'write', region: 'a' },
      { op: 'pageout', region: 'a', first: 1, count: 2 },
    ] });
    const out = tr.steps[2].outcome!.swapped_out!.a ?? [];
    expect(out.every((p) => p === 1 || p === 2)).toBe(true);
    const pages = pg(tr, 2)!;
    for (let i = 0; i < 4; i++) expect(pages[i]).toBe(out.includes(i) ? '.S...' : 'P..E.'); // R-PO-1
  });
});

describe('live target: userfaultfd', () => {
  it('WRITEPROTECT of an unpopulated anon page reads .S..W. only with WP_UNPOPULATED (R-WP-3)', async () => {
    const ops = [
      { op: 'mmap', region: 'a', pages: 2, kind: 'anon' },
      { op: 'uffd_register', region: 'a' },
      { op: 'wp', region: 'a', on: true },
    ];
    const withMarkers = await run({ uffd: { features: ['wp_unpopulated'] }, ops });
    expect(pg(withMarkers, 2)).toEqual(['.S..W', '.S..W']);
    const without = await run({ uffd: { features: [] }, ops });
    expect(pg(without, 2)).toEqual(['.....', '.....']);
    // shmem always gets markers (not an anon VMA)
    const shmem = await run({ uffd: { features: [] }, ops: [{ ...ops[0], kind: 'memfd-shared' }, ops[1], ops[2]] });
    expect(pg(shmem, 2)).toEqual(['.S..W', '.S..W']);
  });

  it('sync mode: a write to a wp page is a wp_fault event, resolved by clearing wp on that page (R-SYNC-1)', async () => {
    const tr = await run({ uffd: { features: [] }, ops: [
      { op: 'mmap', region: 'a', pages: 3, kind: 'anon' },
      { op: 'write', region: 'a' },
      { op: 'uffd_register', region: 'a' },
      { op: 'wp', region: 'a', on: true },
      { op: 'write', region: 'a', first: 1, count: 1 },
    ] });
    expect(tr.steps[3].events).toEqual([]);
    expect(tr.steps[4].events).toEqual([{ kind: 'wp_fault', proc: 0, region: 'a', page: 1 }]);
    expect(pg(tr, 4)).toEqual(['P..EW', 'P..E.', 'P..EW']);
  });

  it('async mode: a write clears wp with no event; read of a marker keeps wp (R-ASYNC-1, R-FLT-12)', async () => {
    const tr = await run({ uffd: { features: ['wp_async'] }, ops: [
      { op: 'mmap', region: 'a', pages: 3, kind: 'anon' },
      { op: 'uffd_register', region: 'a' },
      { op: 'wp', region: 'a', on: true },
      { op: 'write', region: 'a', first: 0, count: 1 },
      { op: 'read', region: 'a', first: 1, count: 1 },
      { op: 'uffd_unregister', region: 'a' },
    ] });
    expect(tr.steps[3].events).toEqual([]);
    // the marker's wp bit is kept on the zero page (R-FLT-12) or on the fresh page (R-FLT-1A)
    const zero = tr.steps[4].outcome?.zero?.a;
    expect(zero).toBeDefined();
    expect(pg(tr, 4)).toEqual(['P..E.', zero!.includes(1) ? 'P...W' : 'P..EW', '.S..W']);
    expect(pg(tr, 5)).toEqual(['P..E.', zero!.includes(1) ? 'P....' : 'P..E.', '.....']); // R-UNREG-1
  });

  it('fork without event_fork drops markers and wp in the child; with event_fork they are copied (R-FORK-1/3/5)', async () => {
    const ops = (features: string[]) => ({ uffd: { features }, ops: [
      { op: 'mmap', region: 'a', pages: 2, kind: 'anon' },
      { op: 'write', region: 'a', count: 1 },
      { op: 'uffd_register', region: 'a' },
      { op: 'wp', region: 'a', on: true },
      { op: 'fork' },
    ] });
    const plain = await run(ops(['wp_async']));
    expect(pg(plain, 4, 'a', 0)).toEqual(['P...W', '.S..W']);
    expect(pg(plain, 4, 'a', 1)).toEqual(['P....', '.....']);
    expect(plain.steps[4].events).toEqual([]);
    const ef = await run(ops(['wp_async', 'event_fork']));
    if (ef.skipped) { expect(ef.skipped).toMatch(/EVENT_FORK|event_fork/); return; }
    expect(pg(ef, 4, 'a', 1)).toEqual(['P...W', '.S..W']);
    expect(ef.steps[4].events).toEqual([{ kind: 'fork', proc: 0, child: 1 }]);
  });

  it('sync faults in an event_fork child are resolved through the child\'s own userfaultfd', async () => {
    const tr = await run({ uffd: { features: ['event_fork'] }, ops: [
      { op: 'mmap', region: 'a', pages: 2, kind: 'anon' },
      { op: 'write', region: 'a' },
      { op: 'uffd_register', region: 'a' },
      { op: 'wp', region: 'a', on: true },
      { op: 'fork' },
      { op: 'write', region: 'a', proc: 1, first: 1, count: 1 },
    ] });
    if (tr.skipped) return;
    expect(tr.steps[5].events).toEqual([{ kind: 'wp_fault', proc: 1, region: 'a', page: 1 }]);
    expect(pg(tr, 5, 'a', 1)![1]).toBe('P..E.');
    // the parent keeps wp; its page 1 is mapped once again after the child's CoW (R-PM-4)
    expect(pg(tr, 5, 'a', 0)).toEqual(['P...W', 'P..EW']);
  });

  it('mremap without event_remap drops wp (R-MRM-6); remap and unmap events when asked for', async () => {
    const base = [
      { op: 'mmap', region: 'a', pages: 2, kind: 'anon' },
      { op: 'write', region: 'a', count: 1 },
      { op: 'uffd_register', region: 'a' },
      { op: 'wp', region: 'a', on: true },
      { op: 'mremap', region: 'a' },
    ];
    const plain = await run({ uffd: { features: ['wp_async'] }, ops: base });
    expect(pg(plain, 4)).toEqual(['P..E.', '.....']);
    const ev = await run({ uffd: { features: ['wp_async', 'event_remap'] }, ops: base });
    expect(pg(ev, 4)).toEqual(['P..EW', '.S..W']); // wp and markers move with EVENT_REMAP
    expect(ev.steps[4].events).toEqual([{ kind: 'remap', proc: 0, region: 'a', page: 0 }]);
    const un = await run({ uffd: { features: ['wp_async', 'event_unmap'] }, ops: [...base.slice(0, 3), { op: 'munmap', region: 'a', first: 1, count: 1 }] });
    expect(un.steps[3].events).toEqual([{ kind: 'unmap', proc: 0, region: 'a', page: 1 }]);
  });
});

describe('live target: PAGEMAP_SCAN', () => {
  it('plain scan: none pages are WRITTEN outside uffd VMAs on 6.18, max_pages truncates (§15, §3.4)', async () => {
    const tr = await run({ ops: [
      { op: 'mmap', region: 'a', pages: 3, kind: 'anon' },
      { op: 'write', region: 'a', count: 1 },
      { op: 'scan', region: 'a' },
      { op: 'scan', region: 'a', max_pages: 1 },
      { op: 'scan', region: 'a', first: 1, count: 1 },
    ] });
    expect(tr.steps[2].scan).toEqual({ 0: { a: ['.w.p.....', '.w.......', '.w.......'] } });
    expect(tr.steps[3].scan).toEqual({ 0: { a: ['.w.p.....', '---------', '---------'] } });
    expect(tr.steps[4].scan).toEqual({ 0: { a: ['---------', '.w.......', '---------'] } });
  });

  it('wp_matching: reports written pages and re-protects them; EPERM on an unregistered VMA (R-PMS-1)', async () => {
    const tr = await run({ uffd: { features: ['wp_async'] }, ops: [
      { op: 'mmap', region: 'a', pages: 2, kind: 'anon' },
      { op: 'uffd_register', region: 'a' },
      { op: 'wp', region: 'a', on: true },
      { op: 'write', region: 'a', count: 1 },
      { op: 'scan', region: 'a', wp_matching: true },
      { op: 'mmap', region: 'b', pages: 1, kind: 'anon' },
      { op: 'scan', region: 'b', wp_matching: true },
    ] });
    expect(tr.steps[4].rc).toBe(0);
    expect(tr.steps[4].scan).toEqual({ 0: { a: ['aw.p.....', '---------'] } });
    expect(pg(tr, 4)).toEqual(['P..EW', '.S..W']);
    expect(tr.steps[6].rc).toBe('EPERM');
    expect(tr.steps[6].scan).toBeUndefined();
  });
});

describe('live target: limits and faults', () => {
  const small = { format: 'ptefarm-case/1' as const, ops: [{ op: 'mmap' as const, region: 'a', pages: 1, kind: 'anon' as const }, { op: 'write' as const, region: 'a' }] };

  it('a case that hangs becomes a fault, and the next case runs', async () => {
    const hang = new LiveTarget({ caseTimeoutMs: 300, inject: { kind: 'hang', op: 1 } });
    try {
      const tr = await hang.execute(small);
      expect(tr.fault).toMatch(/timeout/);
      expect(tr.steps.length).toBe(1); // op 0 completed before the hang
      const again = await hang.execute(small);
      expect(again.fault).toMatch(/timeout/);
      expect(hang.starts).toBe(1); // the executor itself survived both
    } finally { await hang.close(); }
    const next = await t.execute(small);
    expect(next.fault).toBeUndefined();
    expect(pg(next, 1)).toEqual(['P..E.']);
  });

  it('a real case that overruns its wall-clock limit is a timeout fault', async () => {
    const slow = new LiveTarget({ caseTimeoutMs: 1 });
    try {
      const ops = [{ op: 'mmap', region: 'a', pages: 1024, kind: 'anon' }, ...Array.from({ length: 100 }, () => ({ op: 'write', region: 'a' }))];
      const tr = await slow.execute(parseCase({ format: 'ptefarm-case/1', ops }));
      expect(tr.fault).toMatch(/timeout/);
      expect(tr.steps.length).toBeLessThan(101);
    } finally { await slow.close(); }
  });

  it('a crash of the case supervisor becomes a fault, and the next case runs', async () => {
    const crash = new LiveTarget({ inject: { kind: 'crash', op: 1 } });
    try {
      const tr = await crash.execute(small);
      expect(tr.fault).toMatch(/SIGABRT/);
      expect(tr.steps.length).toBe(1);
      expect(crash.starts).toBe(1);
    } finally { await crash.close(); }
  });

  it('the executor killed mid-run is restarted for the next case', async () => {
    const lt = new LiveTarget({ caseTimeoutMs: 20_000, inject: { kind: 'hang', op: 1 } });
    try {
      await lt.info();
      const pending = lt.execute(small);
      await new Promise((r) => setTimeout(r, 300));
      process.kill(lt.pid!, 'SIGKILL');
      const tr = await pending;
      expect(tr.fault).toMatch(/executor .*SIGKILL/);
      (lt.opts as { inject?: unknown }).inject = undefined;
      const next = await lt.execute(small);
      expect(next.fault).toBeUndefined();
      expect(lt.starts).toBe(2);
      expect(pg(next, 1)).toEqual(['P..E.']);
    } finally { await lt.close(); }
  });

  it('a case needing a feature the host lacks is skipped, never run', async () => {
    const probe = await t.info();
    if (probe.capabilities.event_fork) return; // nothing missing to test on this host
    const tr = await t.execute(parseCase({ format: 'ptefarm-case/1', uffd: { features: ['event_fork'] }, ops: small.ops }));
    expect(tr.skipped).toMatch(/EVENT_FORK/);
    expect(tr.steps).toEqual([]);
  });
});

// MADV_POPULATE_READ / MADV_POPULATE_WRITE as the kernel does them (mm/madvise.c madvise_populate,
// mm/gup.c faultin_page_range / __get_user_pages with FOLL_MADV_POPULATE). Bits that depend on
// whether this host maps the zero page on read faults are compared through the step's `zero`
// outcome, never assumed.
describe('live target: MADV_POPULATE (R-POP-*)', () => {
  it('R-POP-2: errors stop the walk (ENOMEM at a hole, EINVAL without permission, EFAULT past a shmem end); earlier pages stay populated', async () => {
    const tr = await run({ ops: [
      { op: 'mmap', region: 'a', pages: 4, kind: 'anon' },
      { op: 'munmap', region: 'a', first: 2, count: 1 },
      { op: 'populate', region: 'a', write: true },
      { op: 'mprotect', region: 'a', first: 3, count: 1, prot: 'r' },
      { op: 'populate', region: 'a', first: 3, count: 1, write: true },
      { op: 'mprotect', region: 'a', first: 3, count: 1, prot: 'none' },
      { op: 'populate', region: 'a', first: 3, count: 1 },
      { op: 'mmap', region: 'b', pages: 2, kind: 'shared-anon' },
      { op: 'mremap', region: 'b', pages: 4, move: false },
      { op: 'populate', region: 'b' },
      { op: 'write', region: 'b', first: 0, count: 1 },
    ] });
    expect(rcs(tr)).toEqual([0, 0, 'ENOMEM', 0, 'EINVAL', 0, 'EINVAL', 0, 0, 'EFAULT', 0]);
    expect(pg(tr, 2)).toEqual(['P..E.', 'P..E.', '.....', '.....']); // pages 0-1 written-populated before the hole
    expect(pg(tr, 4)![3]).toBe('.....'); //   no VM_WRITE: nothing populated
    expect(pg(tr, 6)![3]).toBe('.....'); //   no VM_READ: nothing populated, and no SIGSEGV
    expect(pg(tr, 9, 'b')).toEqual(['P.FE.', 'P.FE.', '.....', '.....']); // SIGBUS of the fault -> EFAULT
    expect(tr.steps[10].skipped).toBeUndefined(); // the process is alive
  });

  it('R-POP-1: populate read faults like a read (the zero page, or not, as the `zero` outcome records); populate write like a write', async () => {
    const tr = await run({ ops: [
      { op: 'mmap', region: 'a', pages: 4, kind: 'anon' },
      { op: 'populate', region: 'a', first: 0, count: 2 },
      { op: 'populate', region: 'a', write: true },
    ] });
    const zero = tr.steps[1].outcome?.zero?.a;
    expect(zero).toBeDefined(); //             recorded for MADV_POPULATE_READ as for a read
    expect(pg(tr, 1)).toEqual([0, 1].map((k): string => (zero!.includes(k) ? 'P....' : 'P..E.')).concat(['.....', '.....']));
    expect(pg(tr, 2)).toEqual(['P..E.', 'P..E.', 'P..E.', 'P..E.']);
    expect(tr.steps[2].outcome?.zero).toBeUndefined(); // a populate write records none
  });

  it('R-POP-3: a populate write on sync uffd-wp fails with EFAULT without a fault event (a marker is populated first); WP_ASYNC un-protects', async () => {
    for (const features of [['wp_unpopulated'], ['wp_async']] as const) {
      const tr = await run({ uffd: { features: [...features] }, ops: [
        { op: 'mmap', region: 'a', pages: 4, kind: 'anon' },
        { op: 'write', region: 'a', first: 0, count: 1 },
        { op: 'uffd_register', region: 'a' },
        { op: 'wp', region: 'a', on: true },
        { op: 'populate', region: 'a', first: 1, count: 2, write: true },
        { op: 'populate', region: 'a', first: 0, count: 1, write: true },
      ] });
      expect(pg(tr, 3)).toEqual(['P..EW', '.S..W', '.S..W', '.S..W']);
      if (features[0] === 'wp_async') {
        expect(rcs(tr).slice(4)).toEqual([0, 0]);
        expect(pg(tr, 5)).toEqual(['P..E.', 'P..E.', 'P..E.', '.S..W']);
      } else {
        expect(rcs(tr).slice(4)).toEqual(['EFAULT', 'EFAULT']);
        expect(pg(tr, 4)).toEqual(['P..EW', 'P..EW', '.S..W', '.S..W']); // stopped at the first page
        expect(pg(tr, 5)![0]).toBe('P..EW');
      }
      expect(tr.steps[4].events).toEqual([]);
      expect(tr.steps[5].events).toEqual([]);
    }
  });

  it.skipIf(!swapActive)('R-POP-1/R-SPLIT-5: a THP faulted by a populate write holds no data: a folio split maps all of it to the zero page', async () => {
    for (const fill of ['populate', 'write'] as const) {
      const tr = await run({ ops: [
        { op: 'mmap', region: 'a', pages: 512, kind: 'anon', thp: true },
        fill === 'populate' ? { op: 'populate', region: 'a', write: true } : { op: 'write', region: 'a', first: 0, count: 1 },
        { op: 'pageout', region: 'a', first: 0, count: 4 },
      ] });
      if (!tr.steps[1].outcome?.huge?.a?.includes(0)) continue; // no THP this time: nothing to show
      const after = pg(tr, 2)!;
      // zero-filled subpages are remapped to the zero page (present, not exclusive)
      for (let k = 1; k < 512; k++) expect(after[k]).toBe('P....');
      if (fill === 'populate') expect(after[0]).toBe('P....');
      else expect(after[0]).not.toBe('P....'); // page 0 holds the written byte: kept or swapped
    }
  });
});

// close() of the case's userfaultfd: the executor holds each context's only descriptor, so closing
// it releases the context (fs/userfaultfd.c userfaultfd_release; 6.9+ resets wp PTEs and markers).
describe('live target: close of the userfaultfd (R-CLOSE-1)', () => {
  it('wp bits and markers are reset, the range is unregistered, later ioctls fail with EBADF', async () => {
    const tr = await run({ uffd: { features: ['wp_unpopulated'] }, ops: [
      { op: 'mmap', region: 'a', pages: 4, kind: 'anon' },
      { op: 'uffd_register', region: 'a' },
      { op: 'write', region: 'a', first: 0, count: 2 },
      { op: 'wp', region: 'a', on: true },
      { op: 'close_uffd' },
      { op: 'write', region: 'a', first: 0, count: 1 },
      { op: 'wp', region: 'a', on: true },
      { op: 'close_uffd' },
    ] });
    expect(pg(tr, 3)).toEqual(['P..EW', 'P..EW', '.S..W', '.S..W']);
    expect(pg(tr, 4)).toEqual(['P..E.', 'P..E.', '.....', '.....']);
    expect(tr.steps[5].events).toEqual([]); // no longer registered: no wp fault
    expect(rcs(tr)).toEqual([0, 0, 0, 0, 0, 0, 'EBADF', 'EBADF']);
  });

  it('a child without EVENT_FORK closes the inherited descriptor, i.e. its parent\'s context; an EVENT_FORK child only its own', async () => {
    const probe = await t.info();
    const inherited = await run({ uffd: { features: ['wp_async'] }, ops: [
      { op: 'mmap', region: 'a', pages: 2, kind: 'anon' },
      { op: 'uffd_register', region: 'a' },
      { op: 'write', region: 'a' },
      { op: 'wp', region: 'a', on: true },
      { op: 'fork' },
      { op: 'close_uffd', proc: 1 },
      { op: 'wp', region: 'a', on: false },
    ] });
    expect(pg(inherited, 5, 'a', 0)).toEqual(['P....', 'P....']);
    expect(rcs(inherited).slice(5)).toEqual([0, 'EBADF']);
    if (!probe.capabilities.event_fork) return;
    const own = await run({ uffd: { features: ['event_fork', 'wp_async'] }, ops: [
      { op: 'mmap', region: 'a', pages: 2, kind: 'anon' },
      { op: 'uffd_register', region: 'a' },
      { op: 'write', region: 'a' },
      { op: 'wp', region: 'a', on: true },
      { op: 'fork' },
      { op: 'close_uffd', proc: 1 },
      { op: 'close_uffd' },
    ] });
    expect(pg(own, 5, 'a', 0)).toEqual(['P...W', 'P...W']);
    expect(pg(own, 5, 'a', 1)).toEqual(['P....', 'P....']);
    expect(pg(own, 6, 'a', 0)).toEqual(['P....', 'P....']);
  });
});
