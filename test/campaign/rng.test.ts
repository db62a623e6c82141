// Rng.weightedIndex (src/campaign/rng.ts), which the guided generator's pool pick uses instead of
// weighted() over [entry, weight] pairs: for any weights (zero and negative ones included) it draws
// the same number and picks the same index as weighted() does, so the case sequence of a seed is
// the same with either.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Rng } from '../../src/campaign/rng.ts';

describe('Rng.weightedIndex', () => {
  it('picks what weighted() picks from the same weights, leaving the generator in the same state', () => {
    const weight = fc.oneof(fc.double({ min: 0, max: 10, noNaN: true }), fc.constantFrom(0, -1, 1e-300, 1 / 3));
    fc.assert(fc.property(fc.integer({ min: 0, max: 2 ** 31 }), fc.array(weight, { minLength: 1, maxLength: 40 }), (seed, ws) => {
      const a = new Rng(seed), b = new Rng(seed);
      const viaPairs = () => a.weighted(ws.map((w, i) => [i, w] as const));
      const viaIndex = () => b.weightedIndex(ws.length, (i) => ws[i]!);
      if (!ws.some((w) => w > 0)) {
        expect(viaPairs).toThrow(/no positive weight/);
        expect(viaIndex).toThrow(/no positive weight/);
        return;
      }
      for (let k = 0; k < 5; k++) expect(viaIndex()).toBe(viaPairs());
      expect(b.u32()).toBe(a.u32());
    }), { numRuns: 2000 });
  });
});
