// `ptefarm repro`: the C reproducer is a straight-line program (one block of plain syscalls per op,
// the model's expected bits as merged page ranges after it), short (<= 250 lines for a case of at
// most 10 ops), clean under `cc -Wall -Wextra -Werror` for every corpus case, and runs on this
// machine's kernel: it passes or skips saying why; a forged expectation makes it fail naming the
// step, page and bit; kselftest exit codes, and --bisect maps a skip to 125 for `git bisect run`.
// ptefarm-case/2 cases (guard regions, the full PAGEMAP_SCAN arguments) are covered the same way.
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatFor, type Case } from '../../src/ops/schema.ts';
import { parseCase } from '../../src/ops/validate.ts';
import { parseTextCase } from '../../src/ops/text.ts';
import { predict } from '../../src/model/model.ts';
import { generateRepro, ReproError } from '../../src/report/repro.ts';
import { openTarget } from '../../src/targets/registry.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'ptefarm-repro-'));
const cli = (...args: string[]) => spawnSync(process.execPath, [join(root, 'bin/ptefarm.mjs'), ...args], { encoding: 'utf8', cwd: root });
const haveCc = spawnSync('cc', ['--version']).status === 0;
const linux = process.platform === 'linux';
const corpusFiles = ['seeds', 'mutants', 'regressions', 'findings'].flatMap((d) =>
  readdirSync(join(root, 'corpus', d)).filter((f) => f.endsWith('.json')).sort().map((f) => `corpus/${d}/${f}`));
const load = (rel: string): Case => parseCase(JSON.parse(readFileSync(join(root, rel), 'utf8')));
// every corpus case, /1 and /2 (guard ops, PAGEMAP_SCAN's full arguments), is exported
const reproducible = corpusFiles;
// the cases that need ptefarm-case/2 (today the guard and scan-argument mutants' exposing cases)
const v2Cases = corpusFiles.filter((f) => formatFor(load(f).ops) === 'ptefarm-case/2');
const seed = (name: string) => load(`corpus/seeds/${name}`);

function build(name: string, src: string, flags: string[] = []): string {
  const c = join(dir, `${name}.c`), bin = join(dir, name);
  writeFileSync(c, src);
  const r = spawnSync('cc', [...flags, '-o', bin, c], { encoding: 'utf8' });
  expect(r.status, `cc ${name}.c:\n${r.stderr}`).toBe(0);
  expect(r.stderr, `cc ${name}.c warnings`).toBe('');
  return bin;
}
const exec = (bin: string, args: string[] = [], env: Record<string, string> = {}) =>
  spawnSync(bin, args, { encoding: 'utf8', timeout: 120_000, env: { ...process.env, ...env } });

/** The expectations the C program states, step by step, read back from its source: `want(p, "name",
 *  addr, pages, "FIRST-LAST BITS, ...")` lines hold until changed, `want_scan` lines and the
 *  `end_step("rc")` result belong to their step. Expanded here, independently of the generator. */
function statedExpectations(src: string) {
  const body = src.slice(src.indexOf('static void case_steps(void) {'));
  const expand = (ranges: string, pages: number) => {
    const out: string[] = new Array(pages).fill('<unset>');
    for (const item of ranges.split(', ')) {
      const m = /^(\d+)(?:-(\d+))? (\S+)$/.exec(item);
      if (!m) throw new Error(`bad range item ${item}`);
      for (let k = Number(m[1]); k <= Number(m[2] ?? m[1]); k++) out[k] = m[3];
    }
    return out;
  };
  const current = new Map<string, string[]>();
  const steps: { pages: Map<string, string[]>; scan: Map<string, string[]>; rc: string }[] = [];
  let scan = new Map<string, string[]>();
  for (const line of body.split('\n')) {
    // (a case whose data moves through a kernel path states its values on the same line: want_vals)
    let m = /^ {2}want\((\d+), "([^"]+)", (0x[0-9a-f]+|0), (\d+), (?:"([^"]*)"|NULL)\);(?: want_vals\(.*\);)?$/.exec(line);
    if (m) { if (m[5] === undefined) current.delete(`${m[1]} ${m[2]}`); else current.set(`${m[1]} ${m[2]}`, expand(m[5], Number(m[4]))); continue; }
    m = /^ {2}want_scan\((\d+), "([^"]+)", "([^"]*)"\);$/.exec(line);
    if (m) { scan.set(`${m[1]} ${m[2]}`, m[3].split(', ').flatMap((it) => { const [r, v] = it.split(' '); const [a, b] = r.split('-').map(Number); return new Array((b ?? a) - a + 1).fill(v); })); continue; }
    m = /^ {2}end_step\("([^"]*)"\);$/.exec(line);
    if (m) { steps.push({ pages: new Map(current), scan, rc: m[1] }); scan = new Map(); }
  }
  return steps;
}

describe('ptefarm repro: the program', () => {
  it('the CLI writes a C file for a seed; a bad case is exit 2', () => {
    const out = join(dir, 'cli.c');
    const r = cli('repro', 'corpus/seeds/s-pms-unpop-thp.json', '-o', out);
    expect(r.status, r.stderr).toBe(0);
    const src = readFileSync(out, 'utf8');
    expect(src).toMatch(/NOPS = 8,/);
    // newer uapi than the build host's headers may have, defined by hand
    for (const k of ['PF_PAGEMAP_SCAN', 'UFFD_FEATURE_WP_ASYNC', 'UFFD_USER_MODE_ONLY', 'MADV_COLLAPSE', 'MAP_FIXED_NOREPLACE']) expect(src).toContain(`#define ${k}`);
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, '{"format":"ptefarm-case/1","ops":[{"op":"write","region":"a"}]}');
    const b = cli('repro', bad);
    expect(b.status).toBe(2);
    expect(b.stderr).toMatch(/region/);
  }, 60_000);

  it('an op the generator cannot express fails generation naming the op', () => {
    const c = { format: 'ptefarm-case/1', ops: [{ op: 'mmap', region: 'a', pages: 1, kind: 'anon' }, { op: 'ksm_merge', region: 'a' }] } as unknown as Case;
    expect(() => generateRepro(c)).toThrow(ReproError);
    expect(() => generateRepro(c)).toThrow(/op 1 \(ksm_merge\): the C reproducer cannot express "ksm_merge" yet/);
  });

  it('is straight-line: one block of plain syscalls per op, no op table, no interpreter', () => {
    const src = generateRepro(seed('s-uffd-wpfork-anon-event.json'));
    expect(src).not.toMatch(/OPS\[|switch \(code\)|OP_MMAP|EXP_PAGES/);
    const body = src.slice(src.indexOf('static void case_steps(void) {'));
    expect(body).toContain('if (in_proc(0, 0, "mmap a pages=1 kind=anon")) {');
    expect(body).toMatch(/mmap\(\(void \*\)0x200000000000, 1 \* PG, PROT_READ \| PROT_WRITE, MAP_PRIVATE \| MAP_ANONYMOUS \| MAP_FIXED_NOREPLACE, -1, 0\);/);
    expect(body).toContain('if (in_sup(1, 0, "uffd_register a")) done(ioctl(uffd[0], UFFDIO_REGISTER, &(struct uffdio_register){ { 0x200000000000, 1 * PG }, UFFDIO_REGISTER_MODE_WP, 0 }));');
    expect(body).toContain('if (in_proc(4, 0, "fork")) done(fork_as(1));');
    expect(body).toContain('if (in_proc(5, 1, "p1 exit")) _exit(0);');
    expect(body).toContain('if (in_proc(6, 0, "pageout a")) done(madvise((void *)0x200000000000, 1 * PG, MADV_PAGEOUT));');
    expect(body).toContain('want_ev = "fork 0 - - 1";');
    // one block per op, each closed by the check of its step
    expect(body.match(/^ {2}end_step\(/gm)).toHaveLength(11);
    // merged ranges: a THP region is one item, not 512
    expect(generateRepro(seed('s-pms-unpop-thp.json'))).toContain('want(0, "a", 0x200000000000, 512, "0-511 .....D");');
  });

  it('the expectations in the C program are the model\'s predictions, step by step', () => {
    for (const f of ['s-uffd-wpfork-anon-event.json', 's-pms-base.json', 's-uffd-wp-mremap-thp-private-swapout.json', 's-pms-2regions.json']) {
      const c = seed(f);
      const stated = statedExpectations(generateRepro(c));
      const pred = predict(c);
      expect(stated, f).toHaveLength(pred.steps.length);
      pred.steps.forEach((s, i) => {
        expect(stated[i].rc, `${f} step ${i} rc`).toBe(String(s.rc));
        const want = new Map<string, string[]>();
        for (const [p, regions] of Object.entries(s.pages)) for (const [name, strs] of Object.entries(regions)) want.set(`${p} ${name}`, strs);
        expect(stated[i].pages, `${f} step ${i} pages`).toEqual(want);
        const scan = new Map<string, string[]>();
        for (const [p, regions] of Object.entries(s.scan ?? {})) for (const [name, strs] of Object.entries(regions)) scan.set(`${p} ${name}`, strs);
        expect(stated[i].scan, `${f} step ${i} scan`).toEqual(scan);
      });
    }
  });

  it('every corpus case of at most 10 ops gives a program of at most 250 lines, supervised ones (fork, a served userfaultfd) too', () => {
    // a case that forks (or whose userfaultfd needs serving) carries the supervisor's helpers too,
    // only those it uses (repro-runtime.c sections): counted and printed, and held to the same bound
    const counts: string[] = [];
    const over: string[] = [];
    for (const f of reproducible) {
      const c = load(f);
      const src = generateRepro(c);
      const n = src.split('\n').length, multi = src.includes('static void wait_done(');
      counts.push(`${c.ops.length}:${n}${multi ? 'm' : ''}`);
      if (c.ops.length <= 10 && n > 250) over.push(`${f} (${c.ops.length} ops${multi ? ', supervised' : ''}): ${n} lines`);
    }
    console.log(`repro line counts (ops:lines, m = supervised) of all ${reproducible.length} corpus cases (${v2Cases.length} of them ptefarm-case/2): ${counts.join(' ')}`);
    expect(v2Cases.length).toBeGreaterThan(0);
    expect(over).toEqual([]);
  });
});

describe.skipIf(!haveCc || !linux)('ptefarm repro: compiled and run on this kernel', () => {
  it('every corpus case compiles clean with cc -Wall -Wextra -Werror', () => {
    for (const f of reproducible) build(f.replace(/[/.]/g, '_'), generateRepro(load(f), { source: f }), ['-Wall', '-Wextra', '-Werror']);
  }, 600_000);

  it('every seed passes on this kernel, or skips saying why', () => {
    const results: Record<string, number> = {};
    for (const f of reproducible.filter((x) => x.startsWith('corpus/seeds/'))) {
      const name = f.replace(/^.*\//, '').replace(/\.json$/, '');
      const r = exec(build(name, generateRepro(load(f), { source: f })));
      results[name] = r.status ?? -1;
      expect(r.stdout).toMatch(/^KTAP version 1\n/);
      if (r.status === 4) expect(r.stdout, name).toMatch(/^# SKIP \S/m);
      else expect(r.status, `${name}:\n${r.stdout}${r.stderr}`).toBe(0);
      if (r.status === 0) expect(r.stdout).toMatch(new RegExp(`^1\\.\\.${load(f).ops.length}$`, 'm'));
    }
    const passed = Object.values(results).filter((s) => s === 0).length;
    console.log(`repro: ${passed} seeds passed, ${Object.keys(results).length - passed} skipped on ${spawnSync('uname', ['-r'], { encoding: 'utf8' }).stdout.trim()}: ${Object.entries(results).filter(([, s]) => s).map(([n]) => n).join(' ')}`);
    expect(passed).toBeGreaterThan(0);
  }, 600_000);

  it('every supervised corpus case of at most 10 ops (fork, a served userfaultfd) passes on this kernel, or skips saying why', () => {
    const results: string[] = [];
    for (const f of reproducible) {
      const c = load(f);
      const src = generateRepro(c, { source: f });
      if (c.ops.length > 10 || !src.includes('static void wait_done(')) continue;
      const r = exec(build(`sup-${f.replace(/[/.]/g, '_')}`, src, ['-Wall', '-Wextra', '-Werror']));
      if (r.status === 4) expect(r.stdout, f).toMatch(/^# SKIP \S/m);
      else expect(r.status, `${f}:\n${r.stdout}${r.stderr}`).toBe(0);
      results.push(`${f.replace(/^corpus\//, '')}:${r.status === 0 ? 'pass' : 'skip'}`);
    }
    console.log(`repro, supervised <= 10 ops: ${results.join(' ')}`);
    expect(results.length).toBeGreaterThan(0);
  }, 600_000);

  it('with the outcomes this host chose (a live trace), a zero-page case runs its checks instead of skipping', async () => {
    const c = seed('s-pms-zeropfn.json');
    const t = await openTarget('live');
    let trace;
    try { trace = await t.execute(c); } finally { await t.close(); }
    if (trace.skipped || trace.fault) return; // the live target cannot run it here: nothing to compare
    const r = exec(build('zeropfn-live', generateRepro(c, { outcomes: trace })));
    expect(r.status, r.stdout).toBe(0);
    expect(r.stdout).toMatch(/^ok 7 step 6 \(scan b\)$/m);
  }, 120_000);

  it('a soft-dirty-only case whose bits were all masked is a SKIP (exit 4), never a pass', () => {
    // s-sd-simple asserts only bit 55 (soft-dirty.c test_simple); s-uffd-wpunpop asserts uffd-wp and is not affected
    const src = generateRepro(seed('s-sd-simple.json'));
    expect(src).toMatch(/ASSERTS_ONLY_SOFT_DIRTY = 1/);
    expect(generateRepro(seed('s-uffd-wpunpop.json'))).toMatch(/ASSERTS_ONLY_SOFT_DIRTY = 0/);
    const r = exec(build('sd-simple', src));
    if (!/^# this kernel shows no soft-dirty/m.test(r.stdout)) expect(r.status, r.stdout).toBe(0);
    else {
      expect(r.status, r.stdout).toBe(4);
      expect(r.stdout).toMatch(/^# SKIP this case asserts soft-dirty \(bit 55\), which this kernel cannot show$/m);
      expect(r.stdout).toMatch(/^# Totals: pass:0 fail:0 xfail:0 xpass:0 skip:1 error:0$/m);
    }
  }, 120_000);

  it('a forged expected bit fails (exit 1), naming the step, page and bit; a forged scan category too', () => {
    // process 0 and a forked child: the supervisor checks both processes' pagemaps
    const src = generateRepro(seed('s-uffd-wpfork-anon.json'));
    const row = '  want(0, "a", 0x200000000000, 1, "0 P..EWD");';
    expect(src).toContain(row);
    const bin = build('forged-bit', src.replace(row, row.replace('"0 P..EWD"', '"0 P..E.D"')));
    const r = exec(bin);
    expect(r.status, r.stdout).toBe(1);
    expect(r.stdout).toContain('# step 3 (wp a on): p0 a page 0 W is 1, expected 0');
    expect(r.stdout).toMatch(/^not ok 4 step 3 \(wp a on\)$/m);
    expect(r.stdout).toMatch(/^ok 3 step 2 \(write a\)$/m);
    expect(r.stdout).toMatch(/^# Totals: pass:0 fail:1 /m);

    const scan = generateRepro(seed('s-pms-base.json'));
    const srow = '  want_scan(0, "a", "0-31 aw.p...d.");';
    expect(scan).toContain(srow);
    const s = exec(build('forged-scan', scan.replace(srow, srow.replace('"0-31 aw.p...d."', '"0 a..p...d., 1-31 aw.p...d."'))));
    expect(s.status, s.stdout).toBe(1);
    expect(s.stdout).toMatch(/# step 5 \(scan a\): PAGEMAP_SCAN p0 a page 0 w is 1, expected 0/);
  }, 120_000);

  it('--bisect (or PTEFARM_BISECT=1) maps skip to 125 and keeps fail 1 and pass 0', () => {
    const src = generateRepro(seed('s-uffd-wpfork-anon.json'));
    const pass = build('bisect-pass', src);
    expect(exec(pass, ['--bisect']).status).toBe(0);
    // a forged outcome (MADV_PAGEOUT assumed to reclaim nothing) is a skip: the expectations do not apply
    const row = '  assume(SWAPPED, 0, "a", 0, 1, "0");';
    expect(src).toContain(row);
    const skip = build('bisect-skip', src.replace(row, row.replace('"0");', '"");')));
    const plain = exec(skip);
    expect(plain.status, plain.stdout).toBe(4);
    if (!/^# SKIP no active swap/m.test(plain.stdout)) {
      expect(plain.stdout).toMatch(/^# step 6 \(pageout a\): MADV_PAGEOUT took out a\[0\], the expectations assume a\[\]$/m);
      expect(plain.stdout).toMatch(/^# SKIP the kernel chose another outcome$/m);
    }
    expect(exec(skip, ['--bisect']).status).toBe(125);
    expect(exec(skip, [], { PTEFARM_BISECT: '1' }).status).toBe(125);
    const fail = build('bisect-fail', src.replace('  want(0, "a", 0x200000000000, 1, "0 P..EWD");', '  want(0, "a", 0x200000000000, 1, "0 P..E.D");'));
    expect(exec(fail, ['--bisect']).status).toBe(1);
  }, 120_000);

  it('--bisect maps a harness error (a set-up failure, not the kernel\'s verdict) to 125; without it the run fails (1) and KTAP counts an error', () => {
    // a supervised case forks its case processes; with RLIMIT_NPROC 0 the case's own user (nobody
    // when run as root: the program drops to it first) cannot fork (kernel/fork.c copy_process: EAGAIN)
    const bin = build('bisect-harness', generateRepro(seed('s-uffd-wpfork-anon.json')));
    const limited = (args: string[], env: Record<string, string> = {}) =>
      spawnSync('prlimit', ['--nproc=0', bin, ...args], { encoding: 'utf8', timeout: 120_000, env: { ...process.env, ...env } });
    const plain = limited([]);
    expect(plain.stdout, plain.stderr).toMatch(/^# harness error: fork: Resource temporarily unavailable$/m);
    expect(plain.status, plain.stdout).toBe(1);
    expect(plain.stdout).toMatch(/^# Totals: pass:0 fail:0 xfail:0 xpass:0 skip:0 error:1$/m);
    expect(limited(['--bisect']).status).toBe(125);
    expect(limited([], { PTEFARM_BISECT: '1' }).status).toBe(125);
    // the same program without the limit is no harness error: it passes (or skips saying why)
    const free = exec(bin, ['--bisect']);
    expect(free.stdout).not.toMatch(/harness error/);
    expect([0, 125]).toContain(free.status);
  }, 120_000);

  it('a process killed by its own access is the step\'s result (SIGSEGV), and its later steps are skipped', () => {
    const c = parseCase({
      format: 'ptefarm-case/1', name: 'child writes a read-only page',
      ops: [{ op: 'mmap', region: 'a', pages: 2, kind: 'anon' }, { op: 'write', region: 'a' }, { op: 'fork' },
        { op: 'mprotect', region: 'a', prot: 'r', proc: 1 }, { op: 'write', region: 'a', proc: 1 }, { op: 'write', region: 'a', proc: 1 }, { op: 'write', region: 'a' }],
    });
    expect(String(predict(c).steps[4].rc)).toBe('SIGSEGV');
    const r = exec(build('sigsegv', generateRepro(c)));
    expect(r.status, r.stdout).toBe(0);
    expect(r.stdout).toMatch(/^ok 5 step 4 \(p1 write a\)$/m);
    expect(r.stdout).toMatch(/^ok 6 step 5 \(p1 write a\) # SKIP its process is gone$/m);
    // the same in one process: the fault ends that process's steps
    const solo = parseCase({ format: 'ptefarm-case/1', ops: [{ op: 'mmap', region: 'a', pages: 1, kind: 'anon' }, { op: 'mprotect', region: 'a', prot: 'none' }, { op: 'read', region: 'a' }] });
    const s = exec(build('sigsegv-solo', generateRepro(solo)));
    expect(s.status, s.stdout).toBe(0);
    expect(s.stdout).toMatch(/^ok 3 step 2 \(read a\)$/m);
  }, 120_000);
});

describe.skipIf(!haveCc || !linux)('ptefarm repro: ptefarm-case/2 (guard regions, PAGEMAP_SCAN\'s full arguments) on this kernel', () => {
  it('every /2 corpus case passes or skips saying why, and fails (exit 1) with its mutant\'s expectations', () => {
    const results: string[] = [];
    for (const f of v2Cases) {
      const name = f.replace(/^.*\//, '').replace(/\.json$/, '');
      const r = exec(build(`v2-${name}`, generateRepro(load(f), { source: f })));
      expect(r.stdout).toMatch(/^KTAP version 1\n/);
      if (r.status === 4) { expect(r.stdout, name).toMatch(/^# SKIP \S/m); results.push(`${name}:skip`); continue; }
      expect(r.status, `${name}:\n${r.stdout}${r.stderr}`).toBe(0);
      expect(r.stdout).toMatch(new RegExp(`^1\\.\\.${load(f).ops.length}$`, 'm'));
      // the exposing case of mutant <name> (corpus/mutants/<name>.json): the kernel's answer differs from the mutant's
      if (!f.startsWith('corpus/mutants/')) { results.push(`${name}:pass`); continue; }
      const m = exec(build(`v2-${name}-mutant`, generateRepro(load(f), { expectFrom: `model:x86+${name}` })));
      expect(m.status, `${name} with model:x86+${name}:\n${m.stdout}`).toBe(1);
      expect(m.stdout).toMatch(/^not ok \d+ step \d+ /m);
      results.push(`${name}:pass,mutant-fails`);
    }
    console.log(`repro /2 on ${spawnSync('uname', ['-r'], { encoding: 'utf8' }).stdout.trim()}: ${results.join(' ')}`);
  }, 600_000);

  it('/2 scans of a forked process (run by the supervisor), with max_pages stopping the walk, and guard markers in a memfd pass', () => {
    const cases = {
      fork: 'ptefarm-case/2\nmmap a pages=4 kind=anon\nwrite a[0..2)\nfork\np1 scan a category_anyof_mask=p return_mask=wp\nscan a no_vec\n',
      walk: 'ptefarm-case/2\nmmap a pages=8 kind=anon\nwrite a\nscan a max_pages=3 category_mask=p return_mask=p\nguard a[5..7)\nscan a category_inverted=p return_mask=sg\n',
      memfd: 'ptefarm-case/2\nmmap a pages=4 kind=memfd-shared\nguard a[1..3)\nread a[0]\nunguard a[1]\nwrite a[1]\nmunmap a[2]\n',
    };
    for (const [name, text] of Object.entries(cases)) {
      const c = parseTextCase(text);
      const src = generateRepro(c);
      if (name === 'walk') expect(src).toContain(`want_walk("a", 0x200000000000, ${predict(c).steps[2].walkEnd});`);
      const r = exec(build(`v2-adhoc-${name}`, src, ['-Wall', '-Wextra', '-Werror']));
      if (r.status === 4) { expect(r.stdout, name).toMatch(/^# SKIP \S/m); continue; }
      expect(r.status, `${name}:\n${r.stdout}`).toBe(0);
      expect(r.stdout.match(/^ok \d+ step \d+ \(.*\)$/gm), name).toHaveLength(c.ops.length);
    }
    expect(predict(parseTextCase(cases.walk)).steps[2].walkEnd).toBe(3); // max_pages=3 stops the walk at page 3
  }, 120_000);

  it('a forged guard bit fails (exit 1), naming the step, page and G', () => {
    const src = generateRepro(load('corpus/mutants/M-18.json'));
    const row = '  want(0, "a", 0x200000000000, 2, "0 P..E.D., 1 .S...DG");';
    expect(src).toContain(row);
    const ok = exec(build('guard-ok', src));
    if (ok.status === 4) { expect(ok.stdout).toMatch(/^# SKIP this kernel has no PAGE_IS_GUARD/m); return; }
    expect(ok.status, ok.stdout).toBe(0);
    // the guard marker of page 1 forged away (G and the swap-entry S): the kernel still shows both
    const r = exec(build('guard-forged', src.replace(row, row.replace('1 .S...DG', '1 .S...D.'))));
    expect(r.status, r.stdout).toBe(1);
    expect(r.stdout).toContain('# step 2 (guard a[1]): p0 a page 1 G is 1, expected 0');
    expect(r.stdout).toMatch(/^not ok 3 step 2 \(guard a\[1\]\)$/m);
    // and a G where there is no guard marker
    const r2 = exec(build('guard-forged2', src.replace(row, row.replace('"0 P..E.D., ', '"0 P..E.DG, '))));
    expect(r2.status, r2.stdout).toBe(1);
    expect(r2.stdout).toContain('# step 2 (guard a[1]): p0 a page 0 G is 0, expected 1');
  }, 120_000);

  it('a kernel without PAGE_IS_GUARD (before 6.15; simulated: the probe forced to fail) skips a guard case and masks G elsewhere', () => {
    const guard = generateRepro(load('corpus/mutants/M-18.json'));
    expect(guard).toContain('  guard_ok = ioctl(pm, PF_PAGEMAP_SCAN,');
    const g = exec(build('guard-none', guard.replace('  guard_ok = ioctl(pm, PF_PAGEMAP_SCAN,', '  guard_ok = 0 && ioctl(pm, PF_PAGEMAP_SCAN,')));
    expect(g.status, g.stdout).toBe(4);
    expect(g.stdout).toMatch(/^# SKIP this kernel has no PAGE_IS_GUARD nor pagemap bit 58 \(6\.15\+\): guard regions cannot be observed$/m);
    // B-23 uses no GUARD category and no guard op: it runs, with G not compared (a forged G then passes)
    const scan = generateRepro(load('corpus/mutants/B-23.json'));
    const probe = '  guard_ok = !!(scan_cats & PAGE_IS_GUARD);';
    expect(scan).toContain(probe);
    const row = '  want(0, "a", 0x200000000000, 2, "0-1 P..E.D.");';
    expect(scan).toContain(row);
    const forged = scan.replace(row, row.replace('P..E.D.', 'P..E.DG'));
    const b = exec(build('guard-none-scan', forged.replace(probe, '  guard_ok = 0;')));
    expect(b.status, b.stdout).toBe(0);
    expect(b.stdout).toMatch(/^# this kernel shows no guard regions \(PAGE_IS_GUARD, bit 58: 6\.15\+\): G is not compared$/m);
    expect(exec(build('guard-scan-forged', forged)).status).toBe(1); // where the kernel shows G, the forged one fails
  }, 120_000);

  it('a forged walk_end fails (exit 1); a touch of a guard page is the SIGSEGV the model predicts', () => {
    const src = generateRepro(load('corpus/mutants/M-12.json'));
    const row = '  want_walk("a", 0x200000000000, 3);';
    expect(src).toContain(row);
    const r = exec(build('walk-forged', src.replace(row, row.replace(', 3);', ', 1);'))));
    if (r.status === 4) { expect(r.stdout).toMatch(/^# SKIP \S/m); return; }
    expect(r.status, r.stdout).toBe(1);
    expect(r.stdout).toContain('# step 3 (scan a wp_matching no_vec category_mask=s): PAGEMAP_SCAN walk_end is a page 3, expected 1');
    const c = parseCase({ format: 'ptefarm-case/2', ops: [{ op: 'mmap', region: 'a', pages: 2, kind: 'anon' }, { op: 'guard', region: 'a', first: 1, count: 1 }, { op: 'write', region: 'a' }, { op: 'unguard', region: 'a' }] });
    expect(String(predict(c).steps[2].rc)).toBe('SIGSEGV');
    const s = exec(build('guard-sigsegv', generateRepro(c)));
    if (s.status === 4) { expect(s.stdout).toMatch(/^# SKIP this kernel has no PAGE_IS_GUARD/m); return; }
    expect(s.status, s.stdout).toBe(0);
    expect(s.stdout).toMatch(/^ok 3 step 2 \(write a\)$/m);
  }, 120_000);
});

describe.skipIf(!haveCc || !linux)('ptefarm repro: close_uffd (the program closes the context like the executor)', () => {
  it('B-19\'s exposing case passes on this kernel (6.9+ resets wp on close) and fails with the mutant\'s expectations', () => {
    const b19 = load('corpus/mutants/B-19.json');
    const ok = exec(build('b19', generateRepro(b19, { source: 'corpus/mutants/B-19.json' })));
    if (ok.status === 4) { expect(ok.stdout).toMatch(/^# SKIP \S/m); return; }
    expect(ok.status, ok.stdout).toBe(0);
    const bad = exec(build('b19-mutant', generateRepro(b19, { expectFrom: 'model:x86+B-19' })));
    expect(bad.status, bad.stdout).toBe(1);
    expect(bad.stdout).toMatch(/# step 4 \(close_uffd\): p0 a page 0 W is 0, expected 1/);
    expect(bad.stdout).toMatch(/^not ok 5 step 4 \(close_uffd\)$/m);
  }, 120_000);
});
