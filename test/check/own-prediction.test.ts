// The check of a model target's trace where it ran uses the prediction the trace was made from
// (src/check/check.ts CheckOptions.own, src/targets/model.ts ownPrediction) instead of running the
// model again, when it would predict with the same options. That is sound only while the model
// predicts the same steps from the outcomes it reported as without them: checked here on generated
// cases (fresh, uniform, hugetlb and mutated: the scheduler is fed the rules) and the seed corpus,
// for every profile and both geometries, verdict for verdict against the check that predicts anew.
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { Case } from '../../src/ops/schema.ts';
import { Scheduler } from '../../src/campaign/scheduler.ts';
import { checkCase } from '../../src/check/check.ts';
import { sameModelOptions } from '../../src/model/model.ts';
import { ModelTarget, ownPrediction } from '../../src/targets/model.ts';
import { checkWhereRun } from '../../src/transport/verdict.ts';

const seeds: Case[] = readdirSync(new URL('../../corpus/seeds/', import.meta.url))
  .filter((f) => f.endsWith('.json'))
  .map((f) => JSON.parse(readFileSync(new URL(`../../corpus/seeds/${f}`, import.meta.url), 'utf8')) as Case);

describe('the check of a model target trace with its own prediction', () => {
  for (const spec of ['model:x86', 'model:x86@6.12', 'model:x86@6.1', 'model:x86-16k']) {
    it(`gives the verdict of a check that predicts again (${spec})`, () => {
      const t = new ModelTarget(spec);
      const sch = new Scheduler(3, { geometry: t.spec.geometry }, 0);
      const cases: Case[] = spec.endsWith('16k') ? [] : [...seeds];
      for (let i = 0; i < 250; i++) {
        const { index, case: c } = sch.take()!;
        const v = checkWhereRun(c, t.executeSync(c));
        sch.done(index, c, v.step_rules.length ? v.step_rules : null);
        cases.push(c);
      }
      let reused = 0;
      for (const c of cases) {
        const trace = t.executeSync(c);
        const own = ownPrediction(trace);
        expect(own).toBeDefined();
        // a structured clone is not the target's trace: checked with a prediction of its own
        expect(ownPrediction(structuredClone(trace))).toBeUndefined();
        expect(checkWhereRun(c, trace)).toEqual(checkWhereRun(c, structuredClone(trace)));
        if (trace.fault === undefined) reused++;
      }
      expect(reused).toBeGreaterThan(200);
    });
  }

  it('is used when the options match, and only then', () => {
    const t = new ModelTarget('model:x86');
    const c: Case = { format: 'ptefarm-case/1', ops: [{ op: 'mmap', region: 'a', pages: 2, kind: 'anon' }, { op: 'write', region: 'a' }] };
    const trace = t.executeSync(c);
    const own = ownPrediction(trace)!;
    // a prediction whose rules no model would give: seen in the verdict only if it was used
    const marked = { ...own, prediction: { ...own.prediction, steps: own.prediction.steps.map((s) => ({ ...s, rules: ['R-MARK'] })) } };
    expect(checkCase(c, trace, { own: marked }).stepRules).toEqual([['R-MARK'], ['R-MARK']]);
    const real = checkCase(c, trace).stepRules;
    expect(real[1]).not.toEqual(['R-MARK']);
    // another profile, a mutant, attribution: predicted again
    expect(checkCase(c, trace, { own: marked, profile: '6.1' }).stepRules).toEqual(checkCase(c, trace, { profile: '6.1' }).stepRules);
    expect(checkCase(c, trace, { own: { ...marked, options: { ...marked.options, mutant: 'B-3' } } }).stepRules).toEqual(real);
    expect(checkCase(c, trace, { own: marked, attribution: true }).stepRules).toEqual(real);
    // a mutant target's trace keeps none (its check is the reference's, another prediction)
    expect(ownPrediction(new ModelTarget('model:x86+B-3').executeSync(c))).toBeUndefined();
  });

  it('sameModelOptions compares the kernel the options model', () => {
    expect(sameModelOptions({}, { profile: '6.18' })).toBe(true);
    expect(sameModelOptions({ profile: '6.18' }, { profile: '6.18', knobs: { guardRegions: true } })).toBe(true);
    expect(sameModelOptions({ profile: '6.18' }, { profile: '6.18', knobs: { shmemCollapse: false } })).toBe(false);
    expect(sameModelOptions({ profile: '6.18' }, { profile: '6.12' })).toBe(false);
    expect(sameModelOptions({}, { mutant: 'B-3' })).toBe(false);
    expect(sameModelOptions({}, { geometry: { pageSize: 16384, pmdPages: 2048 } })).toBe(false);
  });
});
