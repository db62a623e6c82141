// Traces recorded on this x86_64 6.18 host with anonymous mTHP on (hugepages-16kB `always`, tag
// 16k; every size `always`, tag all): the two hand-written scenarios of test/model/mthp.test.ts
// and 22 cases of the generator's motifMthp each, plus the case the every-size 2,000-case run
// found (a read across VMAs split by a one-page registration; a shmem THP swapped out and in
// whole, R-SWIN-2, which stock settings show too), recorded with the live target
// (test/fixtures/mthp-host/). The kernel chose the folio sizes; the executor recorded them as the
// `folio` outcome (workers/executor/ptefarm-folio.h). The model must agree with every pair by
// following that outcome, and a forged outcome must still be a violation.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkTrace } from '../../src/check/check.ts';
import { parseCase } from '../../src/ops/validate.ts';
import { traceSchema, type Trace } from '../../src/ops/trace.ts';

const dir = join(import.meta.dirname, '../fixtures/mthp-host');
const names = readdirSync(dir).filter((f) => f.endsWith('.case.json')).map((f) => f.slice(0, -'.case.json'.length)).sort();
const load = (n: string) => ({
  c: parseCase(JSON.parse(readFileSync(join(dir, `${n}.case.json`), 'utf8'))),
  t: traceSchema.parse(JSON.parse(readFileSync(join(dir, `${n}.trace.json`), 'utf8'))) as Trace,
});
const hasFolio = (t: Trace) => t.steps.some((s) => Object.values(s.outcome?.folio ?? {}).some((l) => l.length));

describe('traces from this host with anonymous mTHP on', () => {
  it('has the recorded pairs, most with large folios', () => {
    expect(names.length).toBe(50);
    expect(names.filter((n) => hasFolio(load(n).t)).length).toBeGreaterThanOrEqual(30);
  });

  it('every pair agrees with the model following the folio outcome', () => {
    const bad: string[] = [];
    let compared = 0;
    for (const n of names) {
      const { c, t } = load(n);
      const v = checkTrace(c, t);
      compared += v.compared;
      if (!v.ok) bad.push(`${n}: ${v.violations[0]?.message ?? v.fault}`);
    }
    expect(bad).toEqual([]);
    expect(compared).toBeGreaterThan(500_000);
  });

  it('a forged outcome is a violation: the large folios left out (each fault one page), or moved by one page', () => {
    const withFolio = names.filter((n) => hasFolio(load(n).t));
    let dropped = 0, shifted = 0;
    for (const n of withFolio) {
      const { c, t } = load(n);
      const drop: Trace = { ...t, steps: t.steps.map((s) => (s.outcome?.folio ? { ...s, outcome: { ...s.outcome, folio: undefined } } : s)) };
      if (!checkTrace(c, drop).ok) dropped++;
      const shift: Trace = {
        ...t,
        steps: t.steps.map((s) => (s.outcome?.folio
          ? { ...s, outcome: { ...s.outcome, folio: Object.fromEntries(Object.entries(s.outcome.folio).map(([r, l]) => [r, l.map(([f, k]) => [f + 1, k] as [number, number])])) } }
          : s)),
      };
      if (!checkTrace(c, shift).ok) shifted++;
    }
    // every recorded large folio is visible in the pages it made present
    expect(dropped).toBe(withFolio.length);
    expect(shifted).toBe(withFolio.length);
  });
});
