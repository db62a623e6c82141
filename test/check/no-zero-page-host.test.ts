// Traces recorded on an x86_64 host whose 6.18 kernel never maps the zero page on a read fault (a
// boot option; sysfs `use_zero_page` still reads 1): 40 corpus seeds and 80 cases a live campaign
// minimized there, recorded with `ptefarm serve --target live` before traces carried the `zero`
// outcome, with that host's `ptefarm probe --json` (test/fixtures/no-zero-page-host/). The model
// must agree with every one, inferring each read's zero-page choice from the observation and
// saying so, and must still disagree where the host does not explain a difference.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkTrace } from '../../src/check/check.ts';
import { parseCase } from '../../src/ops/validate.ts';
import { traceSchema, type Trace } from '../../src/ops/trace.ts';

const dir = join(import.meta.dirname, '../fixtures/no-zero-page-host');
const names = readdirSync(dir).filter((f) => f.endsWith('.case.json')).map((f) => f.slice(0, -'.case.json'.length)).sort();
const load = (n: string) => ({
  c: parseCase(JSON.parse(readFileSync(join(dir, `${n}.case.json`), 'utf8'))),
  t: traceSchema.parse(JSON.parse(readFileSync(join(dir, `${n}.trace.json`), 'utf8'))) as Trace,
});

describe('traces from a host that maps no zero page on read faults', () => {
  it('has the 120 recorded pairs and the host probe', () => {
    expect(names.length).toBe(120);
    const probe = JSON.parse(readFileSync(join(dir, 'probe.json'), 'utf8'));
    expect(probe.kernel).toMatch(/^6\.18\./);
  });

  it('every pair agrees with the model; reads without a recorded outcome say what was inferred', () => {
    let compared = 0;
    let inferred = 0;
    const bad: string[] = [];
    for (const n of names) {
      const { c, t } = load(n);
      const v = checkTrace(c, t);
      compared += v.compared;
      if (!v.ok) bad.push(`${n}: ${v.violations[0]?.message ?? v.fault}`);
      const reads = c.ops.some((op) => op.op === 'read');
      if (reads && t.steps.some((s) => c.ops[s.op]?.op === 'read' && !s.skipped && !s.outcome?.zero)) {
        if (v.assumed?.length) inferred++;
      }
    }
    expect(bad).toEqual([]);
    expect(compared).toBeGreaterThan(1_000_000);
    expect(inferred).toBeGreaterThan(0);
  });

  it('a stock-host expectation is still a violation there: recording `zero` as the zero page where the host gave a fresh page', () => {
    // s-pms-zeropfn reads anon memory; claim (falsely) that every read mapped the zero page
    const { c, t } = load('s-pms-zeropfn');
    const forged: Trace = {
      ...t,
      steps: t.steps.map((s) => {
        const op = c.ops[s.op];
        if (op.op !== 'read') return s;
        const pages = Array.from({ length: 1024 }, (_, k) => k);
        return { ...s, outcome: { ...s.outcome, zero: { [op.region]: pages } } };
      }),
    };
    const v = checkTrace(c, forged);
    expect(v.ok).toBe(false);
    expect(v.violations.some((x) => x.bit === 'E' && x.expected === '0' && x.actual === '1')).toBe(true);
  });
});
