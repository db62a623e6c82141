// The campaign's reference checker: a trace that does not fit its case (a target's bug or a forged
// result) is a fault for every caller (campaign, gate, fuzz --out, minimize), never a violation,
// never ok, and never an exception that takes the run down with the results it already has.
import { describe, expect, it } from 'vitest';
import { referenceChecker } from '../../src/campaign/checker.ts';
import { parseCase } from '../../src/ops/validate.ts';
import { ModelTarget } from '../../src/targets/model.ts';
import type { Trace } from '../../src/ops/trace.ts';

const c = parseCase({ format: 'ptefarm-case/1', ops: [{ op: 'mmap', region: 'a', pages: 2, kind: 'anon' }, { op: 'write', region: 'a' }] });
const good = () => JSON.parse(JSON.stringify(new ModelTarget('model:x86').executeSync(c))) as Trace;

describe('referenceChecker and bad traces', () => {
  it('a missing step, a step for an op the case lacks, a wrong-slot letter: a fault naming the problem', async () => {
    const k = await referenceChecker();
    expect(k.check(c, good())).toMatchObject({ violations: [] });
    expect(k.check(c, good()).fault).toBeUndefined();
    const missing = good(); missing.steps.pop();
    const extra = good(); extra.steps.push({ ...extra.steps[1], op: 5 });
    const letters = good(); letters.steps[1].pages!['0'].a[0] = 'D..E.P';
    for (const [t, re] of [[missing, /steps: 1 step\(s\) for 2 op\(s\)/], [extra, /steps\[2\]\.op: the case has no op 5/], [letters, /steps\[1\]\.pages\.0\.a\[0\]/]] as const) {
      const out = k.check(c, t);
      expect(out.violations).toEqual([]);
      expect(out.fault).toMatch(/^target returned an invalid trace:/);
      expect(out.fault).toMatch(re);
    }
  });
});
