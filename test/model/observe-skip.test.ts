// The observer (src/model/observe.ts) reads again after an op only the PTE chunks, PMD blocks and
// pages the machine stamped since its last look (src/model/state.ts, the mutation clock). A change
// that reached the state without a stamp — an entry changed in place after a read that does not
// stamp, a Page field written around its setter, a VMA change the region view does not compare —
// would leave a page's bits, entry class or content as the step before showed them. This test
// predicts cases from every generator the campaign uses (guided fresh, mutated and extended cases,
// uniform, hugetlb, the 16 KiB geometry), with mutants, profiles, attribution and an observed trace
// fed back as a check does, once with the skipping and once reading every page after every op
// (ModelOptions.observeEveryPage), and requires the two predictions to be equal.
import { describe, expect, it } from 'vitest';
import { predict } from '../../src/model/model.ts';
import { MUTANTS } from '../../src/model/mutants.ts';
import { PROFILES } from '../../src/model/profile.ts';
import type { ModelOptions, Prediction } from '../../src/model/api.ts';
import { extendCase, freshCase, GuidedGenerator, maxCostFor, mutateCase } from '../../src/campaign/generate.ts';
import { uniformCase } from '../../src/campaign/uniform.ts';
import { hugetlbCase } from '../../src/campaign/hugetlb-gen.ts';
import { Rng } from '../../src/campaign/rng.ts';
import { geometryOf, GEOMETRY_4K, type PageGeometry } from '../../src/ops/layout.ts';
import type { Case } from '../../src/ops/schema.ts';

interface Job { c: Case; label: string; geometry: PageGeometry }

function jobs(seed: number, n: number): Job[] {
  const out: Job[] = [];
  const gen = new GuidedGenerator(seed);
  const rng = new Rng(seed + 1);
  const g16 = geometryOf(16384);
  let last: Case | undefined;
  for (let i = 0; i < n; i++) {
    const c = gen.next();
    out.push({ c, label: `guided #${i}`, geometry: GEOMETRY_4K });
    if (last && i % 3 === 0) out.push({ c: mutateCase(rng, last), label: `mutated #${i}`, geometry: GEOMETRY_4K });
    if (last && i % 5 === 0) out.push({ c: extendCase(rng, last), label: `extended #${i}`, geometry: GEOMETRY_4K });
    if (i % 4 === 0) out.push({ c: uniformCase(rng, 40, maxCostFor(GEOMETRY_4K)), label: `uniform #${i}`, geometry: GEOMETRY_4K });
    if (i % 10 === 0) out.push({ c: hugetlbCase(rng), label: `hugetlb #${i}`, geometry: GEOMETRY_4K });
    if (i % 8 === 0) out.push({ c: freshCase(rng, 40, g16), label: `16k #${i}`, geometry: g16 });
    last = c;
  }
  return out;
}

/** the options of the k-th prediction: plain, with attribution, a mutant, a profile */
function optionsFor(k: number, geometry: PageGeometry): ModelOptions {
  const profiles = Object.keys(PROFILES);
  switch (k % 4) {
    case 0: return { geometry };
    case 1: return { geometry, attribution: true };
    case 2: return { geometry, mutant: MUTANTS[(k >> 2) % MUTANTS.length].id, attribution: (k >> 2) % 2 === 0 };
    default: return { geometry, profile: profiles[(k >> 2) % profiles.length] };
  }
}

/** the prediction, or the error it throws (both must agree) */
function run(c: Case, observed: Parameters<typeof predict>[1], opts: ModelOptions): Prediction | string {
  try { return predict(c, observed, opts); } catch (e) { return `throws: ${String(e)}`; }
}

describe('observer skipping', () => {
  it('predicts exactly what reading every page after every op predicts', () => {
    let compared = 0;
    const all = jobs(7, 120);
    all.forEach((j, k) => {
      const opts = optionsFor(k, j.geometry);
      const skip = run(j.c, undefined, opts);
      const every = run(j.c, undefined, { ...opts, observeEveryPage: true });
      expect(skip, `${j.label} ${JSON.stringify(opts)}`).toEqual(every);
      compared++;
      if (typeof skip === 'string') return;
      // an observed trace fed back as a check does (outcomes, pages, skipped ops)
      const observed = skip.steps.map((s) => ({ outcome: s.outcome, pages: s.pages, skipped: s.skipped }));
      expect(run(j.c, observed, opts), `${j.label} observed`).toEqual(run(j.c, observed, { ...opts, observeEveryPage: true }));
      compared++;
    });
    // every generator took part
    for (const kind of ['guided', 'mutated', 'extended', 'uniform', 'hugetlb', '16k']) expect(all.some((j) => j.label.startsWith(kind))).toBe(true);
    expect(compared).toBeGreaterThan(400);
  }, 600_000);
});
