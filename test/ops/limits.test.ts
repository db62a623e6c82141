// One limits table (src/ops/layout.ts DEFAULT_LIMITS) for the validator, the live target and the
// native executor, and bounded error messages (issue 18 item 12): the validator allowed 64 regions
// per process while the executor has 128 region ids per case, so a valid case faulted; a 100 KB
// field or a 20 MB rc string was echoed in full.
import { readFileSync, existsSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { DEFAULT_LIMITS, GEOMETRY_4K, geometryOf, limitsFor, MAX_PAGES_PER_REGION, MAX_PMD_PAGES } from '../../src/ops/layout.ts';
import { validateCase, parseCase, CaseError } from '../../src/ops/validate.ts';
import { checkTrace } from '../../src/check/check.ts';
import { ModelTarget } from '../../src/targets/model.ts';
import { LiveTarget } from '../../src/targets/live.ts';
import { DEFAULT_EXECUTOR } from '../../src/targets/probe.ts';
import { formatVerdict } from '../../src/cli/commands/check.ts';
import { stepTable } from '../../src/report/steps.ts';
import { traceSchema } from '../../src/ops/trace.ts';
import type { Case } from '../../src/ops/schema.ts';

const src = (f: string) => readFileSync(new URL(`../../workers/executor/${f}`, import.meta.url), 'utf8');
function cDefine(name: string): number {
  const all = src('ptefarm-uapi.h') + '\n' + src('ptefarm-exec.c') + '\n' + src('ptefarm-mm.h');
  const m = [...all.matchAll(new RegExp(`^#define\\s+${name}\\s+(\\d+)`, 'gm'))];
  expect(m.length, `#define ${name} in workers/executor`).toBe(1);
  return Number(m[0][1]);
}

/** `perProc` fresh region names in each of `procs` processes (p0 forks the others first) */
function manyNames(procs: number, perProc: number, withOld = 0): Case {
  const ops: object[] = [];
  for (let p = 1; p < procs; p++) ops.push({ op: 'fork' });
  for (let p = 0; p < procs; p++) for (let i = 0; i < perProc; i++) ops.push({ op: 'mmap', region: `p${p}r${i}`, pages: 1, kind: 'anon', proc: p });
  for (let i = 0; i < withOld; i++) ops.push({ op: 'mremap', region: `p0r${i}`, dontunmap: true, old: `old${i}` });
  return { format: 'ptefarm-case/1', ops } as Case;
}

describe('the limits table', () => {
  it('the executor is compiled for the same numbers (C header constants)', () => {
    // MAXPAGES sizes the executor's arrays for the largest geometry (16 KiB pages: two 2048-page
    // PMDs); the pages limit it enforces is the target geometry's (PAGES_LIMIT, limitsFor)
    expect({
      maxRegions: cDefine('MAXR'), maxPagesPerRegion: cDefine('MAXPAGES'), maxProcs: cDefine('MAXP'), maxOps: cDefine('MAXOPS'),
    }).toEqual({ ...DEFAULT_LIMITS, maxPagesPerRegion: MAX_PAGES_PER_REGION });
    expect(limitsFor(GEOMETRY_4K)).toBe(DEFAULT_LIMITS);
    expect(limitsFor(geometryOf(16384))).toEqual({ ...DEFAULT_LIMITS, maxPagesPerRegion: 4096 });
    expect(2 * MAX_PMD_PAGES).toBe(MAX_PAGES_PER_REGION);
  });

  it('the region limit counts region names per case, in all processes, `old` names included', () => {
    const max = DEFAULT_LIMITS.maxRegions;
    // 8 processes x 9 names = 72 names > 64, although each process has only 9
    const over = validateCase(manyNames(8, 9));
    expect(over[0]).toBe(`ops[${7 + 64}].region: more than ${max} region names in the case (\`old\` names included)`);
    expect(over).toHaveLength(72 - 64);
    // 60 names + 5 old names = 65
    expect(validateCase(manyNames(1, 60, 5))).toEqual([`ops[64].old: more than ${max} region names in the case (\`old\` names included)`]);
    // exactly at the limit: valid
    expect(validateCase(manyNames(8, 8))).toEqual([]);
    expect(validateCase(manyNames(1, 60, 4))).toEqual([]);
    // a name used in two processes is one region id: not counted twice
    const shared = manyNames(2, 32);
    (shared.ops as object[]).push({ op: 'mmap', region: 'p0r0', pages: 1, kind: 'anon', proc: 1 });
    expect(validateCase(shared)).toEqual([]);
  });

  const live = existsSync(DEFAULT_EXECUTOR);
  let lt: LiveTarget | undefined;
  afterAll(async () => { await lt?.close(); });
  it.skipIf(!live)('live: a case at the region limit runs without a fault; one past it (validated with larger limits) is refused with the problem before the executor', async () => {
    lt = new LiveTarget();
    for (const c of [manyNames(8, 8), manyNames(1, 60, 4)]) {
      const t = await lt.execute(parseCase(c));
      expect(t.fault).toBeUndefined();
      expect(checkTrace(c, t).ok).toBe(true);
    }
    await expect(lt.execute(manyNames(8, 9))).rejects.toThrow(/more than 64 region names in the case/);
  }, 60_000);
});

describe('bounded error messages', () => {
  const big = 'x'.repeat(100_000);
  const A = { op: 'mmap', region: 'a', pages: 1, kind: 'anon' };
  const cases: [string, unknown, RegExp][] = [
    ['100 KB op name', { format: 'ptefarm-case/1', ops: [{ op: big }] }, /^ops\[0\]\.op: unknown op "x{50,}… \(100002 chars\)/],
    ['100 KB region name', { format: 'ptefarm-case/1', ops: [{ ...A, region: big }] }, /^ops\[0\]\.region: a region name/],
    ['100 KB unknown key', { format: 'ptefarm-case/1', ops: [{ ...A, [big]: 1 }] }, /^ops\[0\]: Unrecognized key: "x+… \(\d+ chars\)/],
    ['100 KB kind', { format: 'ptefarm-case/1', ops: [{ ...A, kind: big }] }, /^ops\[0\]\.kind: /],
    ['100 KB top-level key', { format: 'ptefarm-case/1', ops: [A], [big]: 1 }, /^\(case\): Unrecognized key|^: Unrecognized key|Unrecognized key: "x+…/],
    ['100 KB format', { format: big, ops: [A] }, /^format: /],
  ];
  for (const [what, input, re] of cases) {
    it(`${what}: named, and quoted at most a few hundred characters`, () => {
      const p = validateCase(input);
      expect(p.length).toBeGreaterThan(0);
      expect(p[0]).toMatch(re);
      for (const x of p) expect(x.length).toBeLessThan(500);
      try { parseCase(input); } catch (e) { expect(e).toBeInstanceOf(CaseError); expect((e as Error).message.length).toBeLessThan(2000); }
    });
  }

  it('10,000 bad ops: the message lists the first problems and counts the rest', () => {
    const input = { format: 'ptefarm-case/1', ops: Array.from({ length: 200 }, () => ({ op: 'write', region: 'a', first: -1 })) };
    expect(() => parseCase(input)).toThrow(/\(\d+ more problem\(s\)\)/);
    expect(() => parseCase(input)).toThrow(CaseError);
    try { parseCase(input); } catch (e) { expect((e as Error).message.length).toBeLessThan(6000); }
    const over = { format: 'ptefarm-case/1', ops: Array.from({ length: 10_000 }, () => ({ op: big })) };
    expect(validateCase(over)).toEqual(['ops: 10000 ops exceed the limit of 256']);
  });

  it('a 20 MB rc string in a trace is echoed truncated in the violation and the printed verdict', () => {
    const c = parseCase({ format: 'ptefarm-case/1', ops: [A, { op: 'write', region: 'a' }] });
    const t = JSON.parse(JSON.stringify(new ModelTarget('model:x86').executeSync(c)));
    t.steps[1].rc = 'E'.repeat(20_000_000);
    const v = checkTrace(c, t);
    expect(v.ok).toBe(false);
    expect(v.violations[0].message).toMatch(/step 1 \(write a\): returned E{200}… \(20000000 chars\), x86 returns 0/);
    expect(v.violations[0].actual.length).toBeLessThan(300);
    expect(formatVerdict(v).length).toBeLessThan(1000);
    // the report's step table quotes it bounded too
    expect(stepTable(c, t)[1].rc.actual).toMatch(/^E{200}… \(20000000 chars\)$/);
    // a 20 MB fault or skip reason read from a file is kept to 4,000 characters
    const parsed = traceSchema.parse({ ...JSON.parse(JSON.stringify(new ModelTarget('model:x86').executeSync(c))), fault: 'F'.repeat(20_000_000) });
    expect(parsed.fault!.length).toBeLessThan(4100);
    // and a 20 MB fault
    const f = checkTrace(c, { ...JSON.parse(JSON.stringify(new ModelTarget('model:x86').executeSync(c))), fault: 'F'.repeat(20_000_000) });
    expect(formatVerdict(f).length).toBeLessThan(1000);
  });
});
