// The differential test: random valid cases (all ops, all four kinds, uffd feature sets) run on the
// live kernel and are checked against the reference model fed the trace's outcomes. Any
// divergence fails, printing the (shrunk) case and the violations. A divergence is a finding
// about the model or the kernel, to be analysed, never "fixed" by changing expectations here.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { existsSync } from 'node:fs';
import { caseArb } from '../../src/ops/arbitrary.ts';
import { checkTrace } from '../../src/check/check.ts';
import { LiveTarget } from '../../src/targets/live.ts';
import { DEFAULT_EXECUTOR } from '../../src/targets/probe.ts';
import type { Case } from '../../src/ops/schema.ts';

if (!existsSync(DEFAULT_EXECUTOR)) throw new Error(`native executor not built: run \`make -C workers/executor\` (${DEFAULT_EXECUTOR})`);

const RUNS = Number(process.env.PTEFARM_DIFF_RUNS ?? 2000);
// a fixed seed keeps CI deterministic; set PTEFARM_DIFF_SEED to explore (campaigns explore too)
const SEED = Number(process.env.PTEFARM_DIFF_SEED ?? 20261123);
let t: LiveTarget;
beforeAll(() => { t = new LiveTarget(); });
afterAll(async () => { await t.close(); });

describe('live vs model:x86', () => {
  it(`${RUNS} random cases agree with the reference model`, async () => {
    let faults = 0, checked = 0;
    await fc.assert(fc.asyncProperty(caseArb({ maxOps: 16, maxPages: 1024 }), async (c: Case) => {
      const tr = await t.execute(c);
      if (tr.fault) { faults++; return true; } // infrastructure, not a verdict on the kernel
      const v = checkTrace(c, tr);
      checked++;
      if (v.violations.length) {
        throw new Error(`live diverges from the model:\n${JSON.stringify(c)}\n` +
          v.violations.slice(0, 8).map((x) => `  ${x.message} [${x.rules.join(', ')}]`).join('\n'));
      }
      return true;
    }), { numRuns: RUNS, seed: SEED, interruptAfterTimeLimit: 170_000, markInterruptAsFailure: false });
    expect(faults).toBeLessThan(Math.max(3, checked / 100));
  }, 600_000);
});
