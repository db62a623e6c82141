// The observer (src/model/observe.ts) shares a step's arrays with the steps before it where no page
// changed, and writes a changed page into a copy of the array it copies on the array's first change
// (its Writer): an array a step has shown is never written again. A write that reached an array
// already shown would change what an earlier step of the same prediction says after the fact. This
// test predicts each case, then prefixes of it (the model is causal: step k depends on ops 0..k
// only), and requires step k of the whole prediction to equal the last step of the prediction of
// ops 0..k, which no later step could have written into.
import { describe, expect, it } from 'vitest';
import { predict } from '../../src/model/model.ts';
import { extendCase, GuidedGenerator } from '../../src/campaign/generate.ts';
import { Rng } from '../../src/campaign/rng.ts';
import type { Case } from '../../src/ops/schema.ts';

/** the parts of a step the observer builds */
const shown = (s: ReturnType<typeof predict>['steps'][number]) => ({ pages: s.pages, entry: s.entry, content: s.content, contentWhy: s.contentWhy });

describe('observer arrays', () => {
  it('a step shows after the whole prediction what it showed when it was the last step', () => {
    const gen = new GuidedGenerator(11);
    const rng = new Rng(12);
    let compared = 0;
    for (let i = 0; i < 40; i++) {
      let c: Case = gen.next();
      if (i % 2) c = extendCase(rng, c);
      const whole = predict(c);
      for (const k of [0, c.ops.length >> 2, c.ops.length >> 1, (3 * c.ops.length) >> 2, c.ops.length - 1]) {
        if (k < 0 || k >= c.ops.length) continue;
        const prefix = predict({ ...c, ops: c.ops.slice(0, k + 1) });
        expect(shown(whole.steps[k]), `case ${i} step ${k}`).toEqual(shown(prefix.steps[k]));
        compared++;
      }
    }
    expect(compared).toBeGreaterThan(150);
  }, 300_000);
});
