// `ptefarm repro` with a trace recorded while anonymous mTHP was on (test/fixtures/mthp-host/): the
// reproducer's expectations follow the recorded `folio` outcome (R-MTHP-1/2), and after every fault
// in an anon MADV_HUGEPAGE region the program checks that this kernel made the same large folios.
// On a host whose kernel chose otherwise (mTHP off, as this host stands) it skips (exit 4) naming the
// hugepages-<size>kB/enabled file, never passes or fails on it; with the recording's size on for
// the one program run (root, restored in finally) it passes. Cases without a folio outcome get none
// of this code.
import { afterAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseCase } from '../../src/ops/validate.ts';
import { traceSchema, type Trace } from '../../src/ops/trace.ts';
import { generateRepro } from '../../src/report/repro.ts';
import { buildC } from '../helpers/c-build.ts';

const fixtures = join(import.meta.dirname, '../fixtures/mthp-host');
const load = (n: string) => ({
  c: parseCase(JSON.parse(readFileSync(join(fixtures, `${n}.case.json`), 'utf8'))),
  t: traceSchema.parse(JSON.parse(readFileSync(join(fixtures, `${n}.trace.json`), 'utf8'))) as Trace,
});
const names = readdirSync(fixtures).filter((f) => f.endsWith('.case.json')).map((f) => f.slice(0, -'.case.json'.length)).sort();
const blocksOf = (t: Trace) => t.steps.flatMap((s) => Object.values(s.outcome?.folio ?? {}).flat());
const withFolio = names.filter((n) => blocksOf(load(n).t).length);
const THP = '/sys/kernel/mm/transparent_hugepage';
const ANON_64K = `${THP}/hugepages-64kB/enabled`;
const haveCc = spawnSync('cc', ['--version']).status === 0;
const dir = mkdtempSync(join(tmpdir(), 'ptefarm-repro-folio-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function build(name: string, src: string): string {
  const { bin, stderr } = buildC(dir, name, src);
  expect(stderr).toBe('');
  return bin;
}
const run = (bin: string) => spawnSync(bin, [], { encoding: 'utf8', timeout: 120_000 });

/** the bracketed choice of a sysfs THP file, or undefined */
const selectedIn = (path: string) => { try { return /\[(\w+)\]/.exec(readFileSync(path, 'utf8'))?.[1]; } catch { return undefined; } };
/** the anon mTHP sizes (kB, below the PMD) a MADV_HUGEPAGE region may get here now (mm/huge_memory.c
 *  __thp_vma_allowable_orders: always and madvise sizes, inherit ones when the top-level file is on) */
function anonMthpSizesOn(): number[] {
  const top = selectedIn(`${THP}/enabled`);
  let entries: string[] = [];
  try { entries = readdirSync(THP); } catch { return []; }
  return entries.map((e) => /^hugepages-(\d+)kB$/.exec(e)).filter((m) => m && Number(m[1]) < 2048)
    .filter((m) => { const v = selectedIn(`${THP}/${m![0]}/enabled`); return v === 'always' || v === 'madvise' || (v === 'inherit' && (top === 'always' || top === 'madvise')); })
    .map((m) => Number(m![1])).sort((a, b) => a - b);
}

// all-g3: a PMD THP (step 1), MADV_DONTNEED of [80, 112) splits it, then a write at page 100 refaults
// into a hole whose only aligned none block is [96, 112): with every size on the kernel chose 64 KiB
const PASSING = 'all-g3';

describe('the reproducer of a trace with large folios (anon mTHP)', () => {
  it('states the recorded blocks after the faults that made them; a trace without folios (or no trace) gets no folio code', () => {
    expect(withFolio.length).toBeGreaterThanOrEqual(30);
    for (const n of withFolio) {
      const { c, t } = load(n);
      const src = generateRepro(c, { outcomes: t });
      // the assume(FOLIO, ...) lines, read back in step order: one per read/write/populate of an anon thp region
      const stated = [...src.matchAll(/assume\(FOLIO, \d+, "(\w+)", 0, 0, "([^"]*)"\);/g)].map((m) => [m[1], m[2]]);
      const faults = c.ops.map((op, i) => [op, i] as const).filter(([op]) => ['read', 'write', 'populate'].includes(op.op));
      const recorded = faults.flatMap(([op, i]) => {
        const region = (op as { region: string }).region;
        const mm = c.ops.find((o) => o.op === 'mmap' && o.region === region) as { kind: string; thp?: boolean } | undefined;
        if (mm?.kind !== 'anon' || !mm.thp) return [];
        const l = t.steps.find((s) => s.op === i)?.outcome?.folio?.[region] ?? [];
        return [[region, l.map(([f, k]) => `${f}+${k}`).join(' ')]];
      });
      expect(stated, n).toEqual(recorded);
      const kb = [...new Set(blocksOf(t).map(([, k]) => k * 4))].sort((a, b) => a - b);
      expect(src).toContain(`#define FOLIO_WHY "this kernel chose other large folios than the recording host, whose anon mTHP sizes were on (${kb.map((s) => `${THP}/hugepages-${s}kB/enabled`).join(', ')})"`);
      expect(generateRepro(c)).not.toMatch(/FOLIO_WHY|assume\(FOLIO|read_anon_orders\(\)/);
    }
    const plain = names.find((n) => !withFolio.includes(n))!;
    const { c, t } = load(plain);
    expect(generateRepro(c, { outcomes: t })).not.toMatch(/FOLIO_WHY|assume\(FOLIO|read_anon_orders\(\)/);
  });

  it.skipIf(!haveCc)('compiles clean under -Wall -Wextra -Werror (a 64 kB folio, 16 kB folios, the longest program)', () => {
    for (const n of [PASSING, '16k-g20', 'all-c-wp-zero-remap']) build(n, generateRepro(load(n).c, { outcomes: load(n).t }));
  });

  it.skipIf(!haveCc || process.platform !== 'linux')('on this host with no anon mTHP size on: exit 4, KTAP SKIP naming hugepages-64kB/enabled, after the step whose fault made one page', (ctx) => {
    if (anonMthpSizesOn().length) ctx.skip(); // another test has a size on right now: this host is not the one this test describes
    const { c, t } = load(PASSING);
    const r = run(build(`${PASSING}-off`, generateRepro(c, { outcomes: t })));
    expect(r.status, r.stdout).toBe(4);
    expect(r.stdout).toContain('# step 3 (write a[100]): large folios (FIRST+PAGES) newly mapped at a[], the expectations assume a[96+16]\n');
    expect(r.stdout).toContain(`# SKIP this kernel chose other large folios than the recording host, whose anon mTHP sizes were on (${ANON_64K})\n`);
    expect(r.stdout).toContain('# Totals: pass:0 fail:0 xfail:0 xpass:0 skip:1 error:0');
    expect(r.stdout).not.toMatch(/^not ok/m);
  });

  const canWrite = haveCc && process.getuid?.() === 0 && existsSync(ANON_64K);
  it.skipIf(!canWrite)('with hugepages-64kB/enabled = madvise for the one program run (restored): the kernel makes the recorded folio and the program passes', () => {
    const { c, t } = load(PASSING);
    const bin = build(`${PASSING}-on`, generateRepro(c, { outcomes: t }));
    const was = selectedIn(ANON_64K)!;
    const others = anonMthpSizesOn().filter((kb) => kb !== 64);
    const restore = () => { try { writeFileSync(ANON_64K, was); } catch { /* reported by the assertion below */ } };
    process.once('exit', restore);
    let r: ReturnType<typeof run>;
    try {
      writeFileSync(ANON_64K, 'madvise');
      r = run(bin);
    } finally {
      restore();
      process.off('exit', restore);
    }
    expect(readFileSync(ANON_64K, 'utf8')).toContain(`[${was}]`);
    expect(others, 'another anon mTHP size was on during the run (another test toggling): the kernel may pick it').toEqual([]);
    expect(r.status, r.stdout).toBe(0);
    expect(r.stdout).toMatch(/^ok 4 step 3 \(write a\[100\]\)$/m);
    expect(r.stdout).not.toMatch(/# SKIP|^not ok/m);
  });
});
