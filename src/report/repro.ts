// `ptefarm repro`: a case as a short standalone C program (kselftest style) that a maintainer can
// read: one commented block of plain syscalls per op, at the executor's addresses (the live
// target's plan, src/targets/live.ts encodeCase), followed by the bits the reference model
// expects after it, as data (merged page ranges). A small helper section (src/report/
// repro-runtime.c, cut to what the case uses) runs the case's processes step by step, reads
// /proc/PID/pagemap after every step and compares (a ptefarm-case/2 case: seven letters, G =
// pagemap bit 58; its scans pass the /2 arguments and check the model's walk_end). The outcome
// computations (huge PMD, zero page, reclaim) are the executor's own (workers/executor/
// ptefarm-observe.h, inlined). It compiles with `cc repro.c` on any Linux box and needs nothing
// from ptefarm. Called by src/cli/commands/repro.ts.
//
// Expectations depend on outcomes the kernel chooses (was a fault mapped huge? did a read map the
// zero page? did MADV_PAGEOUT reclaim? which large folios did anon mTHP make?). By default they
// assume the model's neutral outcomes; `outcomes` (a trace, e.g. recorded on the machine that will
// run the program) makes them assume that trace's outcomes instead. The program checks that the
// kernel chose the assumed outcome before comparing bits, and skips (exit 4) otherwise. A trace
// with large folios adds the folio check (workers/executor/ptefarm-folio.h, inlined) after every
// fault in an anon MADV_HUGEPAGE region; its skip names the hugepages-<size>kB/enabled files.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { atLeastV2, formatFor, isHugetlbKind, type Case, type Op } from '../ops/schema.ts';
import { SCAN_NAMES, SCAN_LETTERS, type Trace, type UffdEvent } from '../ops/trace.ts';
import { formatOp } from '../ops/text.ts';
import { predict, recordsZero } from '../model/model.ts';
import { parseModelSpec } from '../targets/model.ts';
import { encodeCase, SCAN_CHECK_WPASYNC, SCAN_DEFAULT_RETURN, SCAN_NO_VEC } from '../targets/executor/protocol.ts';
import { packagePath } from '../package-root.ts';
import { own } from '../ops/records.ts';
import { assertedKinds } from '../check/check.ts';
import { writeValue } from '../model/content.ts';

export class ReproError extends Error {}

/** Ops the C program performs (every op of ptefarm-case/1 and /2). */
export const C_OPS: ReadonlySet<Op['op']> = new Set([
  'mmap', 'munmap', 'mremap', 'mprotect', 'read', 'write', 'fork', 'exit', 'clear_refs', 'pageout', 'dontneed',
  'collapse', 'split', 'uffd_register', 'uffd_unregister', 'wp', 'scan', 'populate', 'close_uffd', 'guard', 'unguard',
]);

export interface ReproOptions {
  /** the model whose predictions the program checks (default model:x86) */
  expectFrom?: string;
  /** take the outcomes (huge, swapped_out, zero, folio) from this trace instead of the model's neutral ones */
  outcomes?: Trace;
  /** source shown in the header, e.g. the case file */
  source?: string;
}

const RUNTIME = packagePath('src', 'report', 'repro-runtime.c');
/** the executor's shared header (ptefarm-observe.h), which the runtime #includes */
const EXECUTOR_DIR = packagePath('workers', 'executor');

const PG = 4096;
const HPG_PAGES = 512;
const MAXPAGES = 1024; // workers/executor/ptefarm-uapi.h MAXPAGES: also the size of a memfd
const FEATURE_NAMES: Record<string, string> = {
  event_fork: 'UFFD_FEATURE_EVENT_FORK', event_remap: 'UFFD_FEATURE_EVENT_REMAP', event_unmap: 'UFFD_FEATURE_EVENT_UNMAP',
  wp_unpopulated: 'UFFD_FEATURE_WP_UNPOPULATED', wp_async: 'UFFD_FEATURE_WP_ASYNC',
};
/** uapi constants newer than many build hosts' headers (values from the kernel UAPI), spelled exactly as
 *  glibc's and the kernel's headers spell them, so that a newer header's identical definition does not clash */
const UAPI: Record<string, string> = {
  MAP_FIXED_NOREPLACE: '0x100000', MADV_PAGEOUT: '21', MADV_POPULATE_READ: '22', MADV_POPULATE_WRITE: '23', MADV_COLLAPSE: '25',
  MADV_GUARD_INSTALL: '102', MADV_GUARD_REMOVE: '103', MREMAP_DONTUNMAP: '4', UFFD_USER_MODE_ONLY: '1', UFFD_FEATURE_WP_UNPOPULATED: '(1<<13)', UFFD_FEATURE_WP_ASYNC: '(1<<15)',
};

const cstr = (s: string) => '"' + s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n').replace(/[^\x20-\x7e]/g, '?') + '"';
const ccomment = (s: string) => s.replace(/\*\//g, '* /').replace(/[^\x20-\x7e]/g, '?');
const hex = (n: number) => `0x${n.toString(16)}`;
const PAGE_IS_GUARD = 1 << SCAN_LETTERS.indexOf('g');
/** a PAGEMAP_SCAN category mask by the uapi names (include/uapi/linux/fs.h PAGE_IS_*) */
const catNames = (m: number) => m === 0x1ff ? 'PAGE_CATS_ALL'
  : SCAN_LETTERS.map((l, b) => (m >> b) & 1 ? `PAGE_IS_${SCAN_NAMES[l]}` : '').filter(Boolean).join(' | ');

/** run-length form "ITEMxN" (kept for callers that print page strings compactly) */
export function rle(items: string[]): string {
  const out: string[] = [];
  for (let i = 0; i < items.length;) {
    let j = i + 1;
    while (j < items.length && items[j] === items[i]) j++;
    out.push(j - i > 1 ? `${items[i]}x${j - i}` : items[i]);
    i = j;
  }
  return out.join(' ');
}

/** page lists as ranges ("0-511 600"), as the C side prints outcomes */
export function pageRanges(pages: number[]): string {
  const out: string[] = [];
  for (let i = 0; i < pages.length;) {
    let j = i;
    while (j + 1 < pages.length && pages[j + 1] === pages[j] + 1) j++;
    out.push(j > i ? `${pages[i]}-${pages[j]}` : `${pages[i]}`);
    i = j + 1;
  }
  return out.join(' ');
}

/** one item per page as merged ranges: "0-3 P..E.D, 4 ......" (the C side's `expand` reads it back) */
export function itemRanges(items: string[]): string {
  const out: string[] = [];
  for (let i = 0; i < items.length;) {
    let j = i;
    while (j + 1 < items.length && items[j + 1] === items[i]) j++;
    out.push(`${j > i ? `${i}-${j}` : i} ${items[i]}`);
    i = j + 1;
  }
  return out.join(', ');
}

/** content rules that move data through a kernel path (src/model/content.ts) */
const CONTENT_PATH_RULES: ReadonlySet<string> = new Set(['R-DATA-3', 'R-DATA-4', 'R-DATA-5', 'R-DATA-6', 'R-DATA-7', 'R-DATA-8']);

/** per page values as merged ranges for want_vals: "0-3 131072+, 4 0" ('+': each page one more;
 *  pages the model maps nothing at are left out) */
export function valueRanges(vals: ReadonlyArray<number | null>): string {
  const out: string[] = [];
  for (let i = 0; i < vals.length;) {
    const v = vals[i];
    if (v === null) { i++; continue; }
    let j = i;
    const inc = v !== 0 && vals[i + 1] === v + 1;
    while (j + 1 < vals.length && vals[j + 1] !== null && vals[j + 1] === (inc ? v + (j + 1 - i) : v)) j++;
    out.push(`${j > i ? `${i}-${j}` : i} ${v}${inc ? '+' : ''}`);
    i = j + 1;
  }
  return out.join(', ');
}

/** The runtime cut to the flags a case needs: `if FLAG` ... `end` sections, `FLAG:` line prefixes. */
export function cutRuntime(text: string, flags: ReadonlySet<string>): string {
  const begin = text.indexOf('/*@ begin */');
  if (begin < 0) throw new ReproError('the C runtime has no /*@ begin */ marker');
  const keep: boolean[] = [];
  const out: string[] = [];
  for (const line of text.slice(begin).split('\n')) {
    const m = /^\/\*@ (begin|if (\w+)|end|steps) \*\/$/.exec(line);
    const on = keep.every(Boolean);
    if (m?.[1] === 'begin') keep.push(true);
    else if (m?.[2]) keep.push(flags.has(m[2]));
    else if (m?.[1] === 'end') keep.pop();
    else if (!on) continue;
    else if (m?.[1] === 'steps') out.push('/*@ steps */');
    else {
      const p = /^(\w+):(.*)$/.exec(line);
      if (p) { if (flags.has(p[1])) out.push(p[2]); }
      else out.push(line);
    }
  }
  return out.join('\n');
}

/** ptefarm-observe.h without its guard and file comment, and only the outcome functions in use */
function observeHeader(flags: ReadonlySet<string>): string {
  let body: string;
  try { body = readFileSync(join(EXECUTOR_DIR, 'ptefarm-observe.h'), 'utf8'); } catch (e) {
    throw new ReproError(`the C runtime includes ptefarm-observe.h, which is not in workers/executor: ${(e as Error).message}`);
  }
  const inner = body.slice(body.indexOf('#define PTEFARM_OBSERVE_H') + '#define PTEFARM_OBSERVE_H'.length, body.lastIndexOf('#endif')).trim();
  const fn: Record<string, string> = { huge_outcome: 'huge', zero_outcome: 'zero', swapped_outcome: 'swapped', resident_pages: 'resident', resident_outcome: 'resident' };
  const kept = inner.split(/\n\n/).filter((chunk) => {
    const name = /static \w+ (\w+)\(/.exec(chunk)?.[1];
    return !name || !(name in fn) || flags.has(fn[name]);
  });
  // the header's comments explain the kernel functions behind each outcome; the reproducer keeps one line
  const code = kept.join('\n').replace(/\/\*[\s\S]*?\*\//g, '').split('\n').map((l) => l.trimEnd()).filter(Boolean);
  return ['/* from ptefarm\'s workers/executor/ptefarm-observe.h, shared with the executor: page codes and outcomes */', ...code].join('\n');
}

/** ptefarm-folio.h's observation of the `folio` outcome (the enabled anon mTHP orders from sysfs and
 *  the greedy grouping into aligned blocks), without the executor's region table and printer */
function folioHeader(): string {
  let body: string;
  try { body = readFileSync(join(EXECUTOR_DIR, 'ptefarm-folio.h'), 'utf8'); } catch (e) {
    throw new ReproError(`the C runtime includes ptefarm-folio.h, which is not in workers/executor: ${(e as Error).message}`);
  }
  const inner = body.slice(body.indexOf('#define PTEFARM_FOLIO_H') + '#define PTEFARM_FOLIO_H'.length, body.lastIndexOf('#endif'));
  const code = inner.replace(/\/\*[\s\S]*?\*\//g, '').split(/\n\n/).filter((chunk) => !/static void print_folio\(/.test(chunk)).join('\n')
    .split('\n').map((l) => l.trimEnd()).filter((l) => l && !/g_reg_mthp/.test(l));
  for (const fn of ['thp_choice', 'read_anon_orders', 'folio_outcome']) {
    if (!code.some((l) => new RegExp(`^static \\w+ ${fn}\\(`).test(l))) throw new ReproError(`workers/executor/ptefarm-folio.h has no ${fn}(), which the reproducer's folio check uses`);
  }
  return ['/* from ptefarm\'s workers/executor/ptefarm-folio.h, shared with the executor: the anon mTHP sizes enabled, the `folio` outcome */', ...code].join('\n');
}

const eventText = (e: UffdEvent) => `${e.kind} ${e.proc} ${e.region ?? '-'} ${e.page ?? '-'} ${e.child ?? '-'}`;

interface Reg { start: number; pages: number }

export function generateRepro(c0: Case, opts: ReproOptions = {}): string {
  // a /2-format case that uses nothing of /2 is the same case in /1 (six pagemap letters, the /1
  // scan); a /2 case's pages have a seventh letter, G (pagemap bit 58), and its scans the /2 arguments
  const c: Case = { ...c0, format: formatFor(c0.ops) };
  const v2 = atLeastV2(c.format);
  const bad = c.ops.map((op, i) => [op, i] as const).filter(([op]) => !C_OPS.has(op.op));
  if (bad.length) {
    const [op, i] = bad[0];
    throw new ReproError(`op ${i} (${op.op}): the C reproducer cannot express "${op.op}" yet`);
  }
  const spec = opts.expectFrom ?? 'model:x86';
  let model;
  try { model = parseModelSpec(spec); } catch (e) { throw new ReproError(`--expect-from: ${(e as Error).message}`); }
  const observed = opts.outcomes
    ? c.ops.map((_, i) => { const s = opts.outcomes!.steps.find((x) => x.op === i); return s ? { outcome: s.outcome ?? {}, pages: s.pages } : undefined; })
    : undefined;
  // a trace with large folios (anon mTHP): the expectations follow them (R-MTHP-1/2), so after every
  // fault in an anon MADV_HUGEPAGE region the program checks that this kernel made the same blocks
  const folioPages = new Set<number>();
  for (const s of opts.outcomes?.steps ?? []) for (const l of Object.values(s.outcome?.folio ?? {})) for (const [, n] of l) folioPages.add(n);
  const pred = predict(c, observed, { profile: model.profile, ...(model.mutant ? { mutant: model.mutant } : {}) });
  let enc;
  try { enc = encodeCase(c); } catch (e) { throw new ReproError((e as Error).message); }
  const names = enc.regionNames;

  // the executor's region table, followed op by op: proc -> region id -> start page, pages
  const procs: Map<number, Reg>[] = [new Map()];
  const kinds = new Map<string, { kind: string; thp: boolean }>();
  const flags = new Set<string>();
  const uapi = new Set<string>(['MAP_FIXED_NOREPLACE']);
  const errnos = new Set<string>();
  let hugetlbPages = 0; // 2 MiB pages the case's hugetlb mmaps hold (times its processes: HUGETLB_NEED)
  let needsGuard = false; // guard ops, or a scan mask with GUARD: a kernel before 6.15 cannot run the case
  // One process, and no userfaultfd message the model expects (a sync write-protect fault or a
  // fork/remap/unmap event blocks the faulting or mapping call until someone reads it): the program
  // itself is process 0, no supervisor needed. A message the model does not expect then blocks the
  // step, and the program ends with a timeout, which is a failure.
  const solo = !c.ops.some((o) => o.op === 'fork' || o.op === 'exit') && !pred.steps.some((s) => s.events.length);
  const supFn = solo ? 'in_proc' : 'in_sup'; // in one process, S is the case process
  const lines: string[] = [];
  const shown = new Map<string, string>(); // "p region" -> want() arguments last written
  const shownVals = new Map<string, string>(); // "p region" -> want_vals() values last written
  // values are checked where the case reads back data that moved through a kernel path (a CoW
  // copy, fork, swap-in, collapse: R-DATA-3..6, 8) or was dropped by MADV_DONTNEED (R-DATA-7), so
  // that a data finding's program exits 1 on a wrong value; a case that only writes and reads in
  // place keeps its short program
  const contentChecked = pred.steps.some((s) => s.rules.includes('R-DATA-7') ||
    Object.values(s.contentWhy ?? {}).some((regions) => Object.values(regions).some((ws) => ws.some((w) => w?.some((r) => CONTENT_PATH_RULES.has(r))))));
  flags.add(contentChecked ? 'content' : 'nocontent');
  if (solo) flags.add(contentChecked ? 'contentsolo' : 'solonc');
  const usesUffd = c.uffd !== undefined || c.ops.some((o) => ['uffd_register', 'uffd_unregister', 'wp', 'close_uffd'].includes(o.op));
  if (usesUffd) { flags.add('uffd'); uapi.add('UFFD_USER_MODE_ONLY'); }
  const features = (c.uffd?.features ?? []).map((f) => FEATURE_NAMES[f]);
  for (const f of features) if (own(UAPI, f)) uapi.add(f);
  flags.add(solo ? 'solo' : 'multi');
  if (usesUffd && !solo) flags.add('mu');
  // S reads the userfaultfd (resolving sync write-protect faults, noting events) only when the model
  // expects a message; one it does not expect blocks its step, and the program fails on the timeout
  if (usesUffd && !solo && pred.steps.some((s) => s.events.length)) flags.add('ev');
  if (enc.uffdFeatures >= 0 && solo) {
    lines.push(`  /* setup: a userfaultfd (${features.join(' | ') || 'no features'}) */`);
    lines.push('  uffd[0] = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY);');
    lines.push('  if (uffd[0] < 0 || ioctl(uffd[0], UFFDIO_API, &(struct uffdio_api){ .api = UFFD_API, .features = UFFD_FEATURES })) no_uffd(strerror(errno));');
    if (features.includes('UFFD_FEATURE_EVENT_FORK')) lines.push('  caps(0); /* CAP_SYS_PTRACE was for UFFD_FEATURE_EVENT_FORK only (fs/userfaultfd.c userfaultfd_api) */');
  } else if (enc.uffdFeatures >= 0) {
    lines.push(`  /* setup, p0: a userfaultfd (${features.join(' | ') || 'no features'}), handed to S, which holds it from now on */`);
    lines.push(`  if (in_proc(-1, 0, "userfaultfd")) done(open_uffd(UFFD_FEATURES));`, '  take_uffd();');
  }

  c.ops.forEach((op, i) => {
    const v = enc.lines[i].split(' ').map(Number);
    const p = v[1];
    const table = procs[p] ?? (procs[p] = new Map());
    const rid = v[2];
    const reg = 'region' in op ? table.get(rid) : undefined;
    const text = cstr(formatOp(op));
    const ps = pred.steps[i];
    const first = v[3], count = v[4];
    const addr = reg ? hex((reg.start + (op.op === 'split' ? v[3] : first)) * PG) : '0';
    const len = `${count} * PG`;
    const at = `(void *)${addr}`;
    const block: string[] = [];
    const proc = (body: string | string[]) => {
      const b = typeof body === 'string' ? [body] : body;
      if (b.length === 1) block.push(`  if (in_proc(${i}, ${p}, ${text})) ${b[0]}`);
      else block.push(`  if (in_proc(${i}, ${p}, ${text})) {`, ...b.map((l) => `    ${l}`), '  }');
    };
    const sup = (body: string[]) => {
      if (!solo) flags.add('sup');
      if (body.length === 1) block.push(`  if (${supFn}(${i}, ${p}, ${text})) ${body[0]}`);
      else block.push(`  if (${supFn}(${i}, ${p}, ${text})) {`, ...body.map((l) => `    ${l}`), '  }');
    };
    // R-SWIN-2: a fault in a shmem THP region after a pageout may bring a folio back from swap
    // whole or a piece; the process that faults takes the region's resident pages before and after
    // (ptefarm-observe.h resident_pages), and the expectations assume the outcome (RESIDENT)
    const residentAt = (region: string): ((after: 0 | 1) => string) | undefined => {
      const k = kinds.get(region), r = procs[p]?.get(rid);
      if (!r || !k?.thp || !['shared-anon', 'memfd-shared', 'memfd-private'].includes(k.kind) || !c.ops.slice(0, i).some((o) => o.op === 'pageout')) return undefined;
      flags.add('resident');
      return (after) => `res_at(${hex(r.start * PG)}, ${r.pages}, ${after});`;
    };
    const madv = (adv: string) => { if (own(UAPI, adv)) uapi.add(adv); proc(`done(madvise(${at}, ${len}, ${adv}));`); };
    let why = '', walkLine = '';
    switch (op.op) {
      case 'mmap': {
        const pages = v[4], kind = op.kind, thp = op.thp ? 'MADV_HUGEPAGE' : 'MADV_NOHUGEPAGE';
        kinds.set(op.region, { kind, thp: !!op.thp });
        table.set(rid, { start: v[3], pages });
        const m = `(void *)${hex(v[3] * PG)}, ${pages} * PG, PROT_READ | PROT_WRITE`;
        if (isHugetlbKind(kind)) {
          // MAP_HUGETLB: the default (2 MiB) hstate; skipped where too few pages are free (htlb)
          flags.add('htlb');
          hugetlbPages += Math.ceil(pages / HPG_PAGES);
          proc([`void *m = mmap(${m}, ${kind === 'hugetlb' ? 'MAP_PRIVATE' : 'MAP_SHARED'} | MAP_ANONYMOUS | MAP_HUGETLB | MAP_FIXED_NOREPLACE, -1, 0);`,
            'done(m == MAP_FAILED ? -1 : 0);']);
        } else if (kind === 'anon' || kind === 'shared-anon') {
          proc([`void *m = mmap(${m}, ${kind === 'anon' ? 'MAP_PRIVATE' : 'MAP_SHARED'} | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);`,
            `done(m == MAP_FAILED ? -1 : madvise(m, ${pages} * PG, ${thp}));`]);
        } else {
          why = ` (a memfd of ${MAXPAGES} pages)`;
          proc([`int fd = memfd_create(${cstr(op.region)}, MFD_CLOEXEC);`,
            `void *m = fd < 0 || ftruncate(fd, ${MAXPAGES} * PG) ? MAP_FAILED : mmap(${m}, ${kind === 'memfd-shared' ? 'MAP_SHARED' : 'MAP_PRIVATE'} | MAP_FIXED_NOREPLACE, fd, 0);`,
            'if (fd >= 0) close(fd);',
            `done(m == MAP_FAILED ? -1 : madvise(m, ${pages} * PG, ${thp}));`]);
        }
        break;
      }
      case 'munmap': proc(`done(munmap(${at}, ${len}));`); break;
      case 'mremap': {
        const [np, move, dontunmap, oldrid, newStart, apply] = v.slice(3, 9);
        const old = `(void *)${hex(reg!.start * PG)}, ${reg!.pages} * PG, ${np} * PG`;
        if (move) {
          if (dontunmap) uapi.add('MREMAP_DONTUNMAP');
          proc(`done(mremap(${old}, MREMAP_MAYMOVE | MREMAP_FIXED${dontunmap ? ' | MREMAP_DONTUNMAP' : ''}, (void *)${hex(newStart * PG)}) == MAP_FAILED ? -1 : 0);`);
          if (oldrid >= 0) { table.set(oldrid, { ...reg! }); const k = kinds.get(op.region); if (k && op.old) kinds.set(op.old, k); }
          table.set(rid, { start: newStart, pages: np });
        } else {
          proc(`done(mremap(${old}, 0) == MAP_FAILED ? -1 : 0);`);
          if (apply) table.set(rid, { start: reg!.start, pages: np });
        }
        break;
      }
      case 'mprotect': proc(`done(mprotect(${at}, ${len}, ${['PROT_NONE', 'PROT_READ', '', 'PROT_READ | PROT_WRITE'][v[5]]}));`); break;
      // a write stores the content oracle's values (src/model/content.ts writeValue: op, page), a read 0
      case 'read': case 'write': {
        flags.add('touch');
        const t = `touch(${addr}, ${count}, ${op.op === 'write' ? writeValue(i, first) : 0})`;
        const res = residentAt(op.region);
        proc(res ? [res(0), `int t = ${t};`, res(1), 'done(t);'] : `done(${t});`);
        break;
      }
      case 'fork': {
        flags.add('fork');
        const child = procs.length;
        procs.push(new Map([...table].map(([k, r]) => [k, { ...r }])));
        block.push(`  if (in_proc(${i}, ${p}, ${text})) done(fork_as(${child}));`);
        why = ` -> p${child}`;
        break;
      }
      case 'exit': proc('_exit(0);'); break;
      case 'clear_refs':
        proc([`int fd = open("/proc/self/clear_refs", O_WRONLY | O_CLOEXEC);`, `done(fd < 0 ? -1 : write(fd, "${v[2]}", 1));`, 'if (fd >= 0) close(fd);']);
        break;
      case 'pageout': madv('MADV_PAGEOUT'); break;
      case 'dontneed': madv('MADV_DONTNEED'); break;
      case 'populate': {
        const res = residentAt(op.region);
        if (!res) { madv(v[5] ? 'MADV_POPULATE_WRITE' : 'MADV_POPULATE_READ'); break; }
        proc([res(0), `long t = madvise(${at}, ${len}, ${v[5] ? 'MADV_POPULATE_WRITE' : 'MADV_POPULATE_READ'});`, 'int e = errno;', res(1), 'errno = e;', 'done(t);']);
        break;
      }
    case 'guard': case 'unguard': needsGuard = true; madv(op.op === 'guard' ? 'MADV_GUARD_INSTALL' : 'MADV_GUARD_REMOVE'); break;
      case 'collapse': {
        // MADV_COLLAPSE only collapses 2 MiB blocks fully inside the range: the op widens the
        // range to the blocks it touches, clipped to the region (as the executor's collapse_cmd)
        uapi.add('MADV_COLLAPSE');
        const a = reg!.start + first, b = a + count, H = HPG_PAGES;
        const lo = Math.max(Math.floor(a / H) * H, reg!.start), hi = Math.min(Math.ceil(b / H) * H, reg!.start + reg!.pages);
        proc(`done(madvise((void *)${hex(lo * PG)}, ${hi - lo} * PG, MADV_COLLAPSE));`);
        why = ' (widened to whole 2 MiB blocks)';
        break;
      }
      case 'split':
        flags.add('split');
        why = ': change one page\'s protection and back (mprotect_fixup splits the PMD; the VMAs merge again)';
        proc([`int prot = prot_of(${addr});`, `done(mprotect(${at}, PG, prot == PROT_READ ? PROT_NONE : PROT_READ) || (prot >= 0 && mprotect(${at}, PG, prot)) ? -1 : 0);`]);
        break;
      case 'uffd_register': sup([`done(ioctl(uffd[${p}], UFFDIO_REGISTER, &(struct uffdio_register){ { ${addr}, ${len} }, UFFDIO_REGISTER_MODE_WP, 0 }));`]); break;
      case 'uffd_unregister': sup([`done(ioctl(uffd[${p}], UFFDIO_UNREGISTER, &(struct uffdio_range){ ${addr}, ${len} }));`]); break;
      case 'wp':
        sup([`done(ioctl(uffd[${p}], UFFDIO_WRITEPROTECT, &(struct uffdio_writeprotect){ { ${addr}, ${len} }, ${v[5] ? 'UFFDIO_WRITEPROTECT_MODE_WP' : '0'} }));`]);
        break;
      case 'close_uffd': flags.add('close_uffd'); sup([`done(close_uffd(${p}));`]); why = ': its only descriptor, S\'s (userfaultfd_release)'; break;
      case 'scan': {
        flags.add('scan');
        const wpm = v[5] === 1;
        const end = hex((reg!.start + first + count) * PG);
        // the arguments as the executor passes them (workers/executor/ptefarm-mm.h C_SCAN): a /1
        // line has the wp_matching form and every category the kernel knows; a /2 line (src/targets/
        // live.ts scanExtra) packs flags and the four masks explicitly
        if (v.length > 7) {
          const bits = v[7], m = v[8], defRet = (bits & SCAN_DEFAULT_RETURN) !== 0;
          // no return_mask in the case: every category this kernel knows (scan_cats, probed at start)
          const mask = (k: number) => (k === 3 && defRet ? 0 : Math.floor(m / 2 ** (9 * k)) % 512);
          const fl = [...(wpm ? ['PM_SCAN_WP_MATCHING'] : []), ...(bits & SCAN_CHECK_WPASYNC ? ['PM_SCAN_CHECK_WPASYNC'] : [])];
          const novec = (bits & SCAN_NO_VEC) !== 0;
          if ([0, 1, 2, 3].some((k) => mask(k) & PAGE_IS_GUARD)) needsGuard = true;
          const args = [`.vec = ${novec ? '0' : '(uintptr_t)vec'}, .vec_len = ${novec ? 0 : count + 1}, .max_pages = ${v[6]},`, ...(fl.length ? [` .flags = ${fl.join(' | ')},`] : []),
            ...['category_mask', 'category_inverted', 'category_anyof_mask', 'return_mask'].map((f, k) => k === 3 && defRet ? ' .return_mask = scan_cats,' : mask(k) ? ` .${f} = ${catNames(mask(k))},` : '')].join('').replace(/,$/, '');
          if (novec) why = ': no output vector (vec = 0, vec_len = 0), only the return value and walk_end';
          // walk_end is checked: the arguments in `sa`, which the kernel updates (every process runs
          // this line; S's copy is the one the call uses), then the call
          flags.add('scan2');
          block.push(`  sa = (struct pf_pm_scan_arg){ .size = sizeof sa, .start = ${addr}, .end = ${end},`, `    ${args} };`);
          sup([`done(nvec = ioctl(pagemap[${p}], PF_PAGEMAP_SCAN, &sa));`]);
        } else {
          if (!solo) flags.add('sup');
          block.push(`  if (${supFn}(${i}, ${p}, ${text})) done(nvec = ioctl(pagemap[${p}], PF_PAGEMAP_SCAN, &(struct pf_pm_scan_arg){ .size = sizeof(struct pf_pm_scan_arg),`,
            `    .start = ${addr}, .end = ${end}, .vec = (uintptr_t)vec, .vec_len = ${count + 1}, .max_pages = ${v[6]}, .return_mask = scan_cats${wpm ? ',\n    .flags = PM_SCAN_WP_MATCHING | PM_SCAN_CHECK_WPASYNC, .category_mask = PAGE_IS_WRITTEN' : ''} }));`);
        }
        if (wpm && !why) why = ': PAGEMAP_SCAN that write-protects the written pages it reports';
        // walk_end, where the walk stopped: the check compares it for a /2 case (R-PMS-10)
        if (v.length > 7 && ps.walkEnd !== undefined) flags.add('walk'), walkLine = `  want_walk(${cstr(op.region)}, ${hex(reg!.start * PG)}, ${ps.walkEnd});`;
        break;
      }
    }
    if (why) lines.push(`  /* step ${i}, p${p}: ${ccomment(formatOp(op))}${why} */`);
    lines.push(...block);

    // what the model expects after it: pages of every region that changed, outcomes, events, scan
    const seen = new Set<string>();
    for (const [pk, regions] of Object.entries(ps.pages)) {
      for (const [name, strs] of Object.entries(regions)) {
        const id = names.indexOf(name);
        const r = procs[Number(pk)]?.get(id);
        if (id < 0 || !r) throw new ReproError(`step ${i}: the model names region "${name}" of p${pk}, which the executor plan does not know`);
        const key = `${pk} ${name}`;
        const args = `${pk}, ${cstr(name)}, ${hex(r.start * PG)}, ${strs.length}, ${cstr(itemRanges(strs))}`;
        seen.add(key);
        const bitsLine = shown.get(key) !== args;
        if (bitsLine) lines.push(`  want(${args});`);
        shown.set(key, args);
        // the values, on the want() line when both change (content: the case moves data through a
        // kernel path); none mapped (""): the last values stay, checked only at pages the pagemap
        // shows present, which the bits already require to be absent
        const vals = contentChecked ? own(own(ps.content, pk), name) : undefined;
        const vs = vals ? valueRanges(vals) : '';
        if (vs && shownVals.get(key) !== vs) {
          const call = `want_vals(${pk}, ${cstr(name)}, ${cstr(vs)});`;
          if (bitsLine) lines[lines.length - 1] += ` ${call}`; else lines.push(`  ${call}`);
          shownVals.set(key, vs);
        }
      }
    }
    for (const key of [...shown.keys()]) {
      if (seen.has(key)) continue;
      const [pk, name] = [key.slice(0, key.indexOf(' ')), key.slice(key.indexOf(' ') + 1)];
      lines.push(`  want(${pk}, ${cstr(name)}, 0, 0, NULL);`);
      shownVals.delete(key);
      shown.delete(key);
    }
    const region = 'region' in op ? op.region : undefined;
    if (region !== undefined) {
      const k = kinds.get(region);
      const faults = op.op === 'read' || op.op === 'write' || op.op === 'collapse' || op.op === 'populate';
      const huge = own(ps.outcome.huge, region) ?? [];
      // a huge PMD needs a region that covers a whole 2 MiB block
      const pages = procs[p]?.get(rid)?.pages ?? 0;
      // a hugetlb region's huge pages are hugetlb's, no outcome of the kernel's choosing
      if (faults && !(k && isHugetlbKind(k.kind)) && (huge.length || (k && (k.thp || k.kind !== 'anon') && pages >= HPG_PAGES))) {
        flags.add('outcomes'); flags.add('huge');
        lines.push(`  assume(HUGE, ${p}, ${cstr(region)}, 0, 0, ${cstr(pageRanges(huge))});`);
      }
      const z = [...(own(ps.outcome.zero, region) ?? [])].sort((a, b) => a - b);
      // only anonymous memory maps the zero page (mm/memory.c do_anonymous_page; shmem allocates)
      if (recordsZero(op) && (z.length || k?.kind === 'anon')) {
        flags.add('outcomes'); flags.add('zero');
        lines.push(`  assume(ZERO, ${p}, ${cstr(region)}, ${first}, ${count}, ${cstr(pageRanges(z))});`);
      }
      // a fault that could allocate a large folio (mm/memory.c alloc_anon_folio, alloc_swap_folio)
      if (folioPages.size && (op.op === 'read' || op.op === 'write' || op.op === 'populate') && k?.kind === 'anon' && k.thp) {
        flags.add('outcomes'); flags.add('folio');
        const fl = [...(own(ps.outcome.folio, region) ?? [])].sort((a, b) => a[0] - b[0]);
        lines.push(`  assume(FOLIO, ${p}, ${cstr(region)}, 0, 0, ${cstr(fl.map(([f, n]) => `${f}+${n}`).join(' '))});`);
      }
      if ((op.op === 'read' || op.op === 'write' || op.op === 'populate') && flags.has('resident') && k?.thp && ['shared-anon', 'memfd-shared', 'memfd-private'].includes(k.kind) && c.ops.slice(0, i).some((o) => o.op === 'pageout')) {
        flags.add('outcomes');
        // runs as FIRST+PAGES; a trace's older form (a 2 MiB block's first page) as the block's run
        const g = procs[p]?.get(rid) ?? { start: 0, pages: 0 };
        const runs = (own(ps.outcome.resident, region) ?? []).map((e) => (typeof e === 'number' ? [e, Math.min(g.pages, Math.floor((g.start + e) / HPG_PAGES + 1) * HPG_PAGES - g.start) - e] : e));
        lines.push(`  assume(RESIDENT, ${p}, ${cstr(region)}, 0, 0, ${cstr(runs.sort((a, b) => a[0] - b[0]).map(([f, n]) => `${f}+${n}`).join(' '))});`);
      }
      if (op.op === 'pageout') {
        flags.add('outcomes'); flags.add('swapped');
        const s = [...(own(ps.outcome.swapped_out, region) ?? [])].sort((a, b) => a - b);
        lines.push(`  assume(SWAPPED, ${p}, ${cstr(region)}, ${first}, ${count}, ${cstr(pageRanges(s))});`);
      }
    }
    if (walkLine) lines.push(walkLine);
    if (ps.events.length) lines.push(`  want_ev = ${cstr(ps.events.map(eventText).sort().join(';'))};`);
    for (const [pk, regions] of Object.entries(ps.scan ?? {})) {
      for (const [name, strs] of Object.entries(regions)) flags.add('wantscan'), lines.push(`  want_scan(${pk}, ${cstr(name)}, ${cstr(itemRanges(strs))});`);
    }
    const rc = String(ps.rc);
    if (/^E[A-Z0-9]+$/.test(rc)) errnos.add(rc);
    lines.push(`  end_step(${cstr(rc)});`);
  });

  // the regions S keeps: every (process, region) pair the expectations name
  const pairs = new Set<string>();
  for (const s of pred.steps) for (const [pk, regions] of Object.entries(s.pages)) for (const name of Object.keys(regions)) pairs.add(`${pk} ${name}`);
  const asserted = assertedKinds(c);
  if (solo && flags.has('touch')) flags.add('touchsolo');
  const ptrace = features.includes('UFFD_FEATURE_EVENT_FORK');
  if (ptrace) flags.add('ptrace');
  if (ptrace && !solo) flags.add('ptracemulti');
  if (v2) flags.add(flags.has('scan') ? 'g7scan' : 'g7');
  if (v2) flags.add('v2');
  if (!flags.has('folio')) flags.add('nofolio');
  if (!solo) flags.add('multinores');
  const runtime = cutRuntime(readFileSync(RUNTIME, 'utf8'), flags)
    .replace(/^#include "ptefarm-observe\.h"$/m, () => observeHeader(flags))
    .replace(/^#include "ptefarm-folio\.h"$/m, () => folioHeader())
    .replace('/*@ steps */', () => `/* ---- the case ---- */\nstatic void case_steps(void) {\n${lines.join('\n')}\n}`);
  const name = c.name ?? opts.source ?? 'unnamed case';
  const multi = !solo, touchSolo = solo && flags.has('touch');
  const includes = ['errno.h', 'fcntl.h', 'grp.h', ...(ptrace ? ['linux/capability.h'] : []), ...(usesUffd ? ['linux/userfaultfd.h'] : []), ...(multi ? ['poll.h'] : []),
    ...(flags.has('swapped') || flags.has('fork') ? ['sched.h'] : []), ...(touchSolo ? ['setjmp.h'] : []), 'signal.h', 'stdint.h', 'stdio.h', 'stdlib.h',
    'string.h', 'sys/ioctl.h', 'sys/mman.h', 'sys/prctl.h', ...(flags.has('mu') ? ['sys/socket.h'] : []), 'sys/syscall.h', ...(multi ? ['sys/wait.h'] : []), 'unistd.h'];
  const defs = [...uapi].sort().map((k) => `#define ${k} ${UAPI[k]}`);
  const scanDefs = flags.has('scan') || v2
    ? `, PM_SCAN_WP_MATCHING = 1, PM_SCAN_CHECK_WPASYNC = 2, ${SCAN_LETTERS.map((l, b) => [l, b] as const).filter(([l]) => l !== 'z' && l !== 'h').map(([l, b]) => `PAGE_IS_${SCAN_NAMES[l]} = 1 << ${b}`).join(', ')}, PAGE_CATS_ALL = 0x1ff`
    : '';
  return `/*
 * ptefarm reproducer: ${ccomment(name)}
 * Generated by \`ptefarm repro\`${opts.source ? ` from ${ccomment(opts.source)}` : ''}; expectations: ${ccomment(spec)}${opts.outcomes ? ', outcomes from a recorded trace' : ', neutral outcomes'}.
 *   cc -o repro repro.c && ./repro       KTAP; exit 0 pass, 1 fail, 4 skip (kselftest)
 *   git bisect run ./repro --bisect      the same, but skip or harness error -> 125 (also PTEFARM_BISECT=1); as root the case runs as nobody */
#define _GNU_SOURCE
${includes.map((h) => `#include <${h}>`).join('\n')}
/* newer uapi than some headers have (spelled as the headers do: an identical redefinition is no clash) */
${defs.join('\n')}
/* PAGEMAP_SCAN (linux/fs.h, 6.7+), under ptefarm's own names so that newer headers do not clash */
struct pf_page_region { uint64_t start, end, categories; };
struct pf_pm_scan_arg { uint64_t size, flags, start, end, walk_end, vec, vec_len, max_pages, category_inverted, category_mask, category_anyof_mask, return_mask; };
#define PF_PAGEMAP_SCAN _IOWR('f', 16, struct pf_pm_scan_arg)
enum { PAGE_IS_PFNZERO = 1 << 5, PAGE_IS_HUGE = 1 << 6${scanDefs} };
#define PG 4096ULL
enum { HPG_PAGES = 512, MAXPAGES = ${MAXPAGES}, KSFT_PASS = 0, KSFT_FAIL = 1, KSFT_SKIP = 4, HUGE = 0, ZERO, SWAPPED,${flags.has('folio') ? ' FOLIO,' : ''}${flags.has('resident') ? ' RESIDENT,' : ''}
  NOPS = ${c.ops.length}, NPROCS = ${procs.length}, NREGIONS = ${Math.max(1, pairs.size)}, ASSERTS_ONLY_SOFT_DIRTY = ${asserted.has('soft-dirty') && !asserted.has('uffd-wp') ? 1 : 0} /* a pass with soft-dirty masked is a SKIP */, LETTERS = ${v2 ? 7 : 6} /* pagemap letters per page: P S F E W D${v2 ? ' G (bit 58)' : ''} */${v2 ? `, NEEDS_GUARD = ${needsGuard ? 1 : 0} /* guard ops or GUARD in a scan mask: 6.15+ */` : ''}${hugetlbPages ? `, HUGETLB_NEED = ${hugetlbPages * (1 + c.ops.filter((o) => o.op === 'fork').length)} /* free 2 MiB hugetlb pages the case may hold (a fork may copy each) */` : ''} };
static const char *CASE_NAME = ${cstr(name)};
${flags.has('folio') ? `#define FOLIO_WHY ${cstr(`this kernel chose other large folios than the recording host, whose anon mTHP sizes were on (${[...folioPages].sort((a, b) => a - b).map((n) => `/sys/kernel/mm/transparent_hugepage/hugepages-${n * PG / 1024}kB/enabled`).join(', ')})`)}\n` : ''}${usesUffd ? `#define UFFD_FEATURES (${features.join(' | ') || '0'})\n` : ''}static const struct { int e; const char *name; } ERRNO[] = { { 0, "0" }${[...errnos].sort().map((e) => `, { ${e}, "${e}" }`).join('')} };
${runtime}`;
}
