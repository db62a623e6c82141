// Case generators the benchmarks need besides ptefarm's own guided generator:
//  - uniformCase: the baseline of "finding bugs" (src/campaign/uniform.ts) with the same per-case op
//    cap and the same observation-cost budget as the guided generator (DEFAULT_MAX_COST);
//  - scaleCase: exactly N ops over regions of exactly P pages (model speed and scale-of-work), built
//    with the guided generator's own op primitives (OpGen), so the op mix is the product's.
import type { Case, Feature, Kind } from '../../src/ops/schema.ts';
import { FEATURES } from '../../src/ops/schema.ts';
import { CaseBuilder } from '../../src/campaign/builder.ts';
import { DEFAULT_MAX_COST, OpGen } from '../../src/campaign/generate.ts';
import { Rng } from '../../src/campaign/rng.ts';
import { uniformCase as uniformCaseOf, validPrefix } from '../../src/campaign/uniform.ts';

export { validPrefix };

/** A uniform random case over the same op set as the guided generator (src/campaign/uniform.ts),
 *  under the guided generator's default cost budget. */
export function uniformCase(rng: Rng, maxOps = 40, maxCost = DEFAULT_MAX_COST): Case {
  return uniformCaseOf(rng, maxOps, maxCost);
}

/** OpGen whose new regions all have exactly `pages` pages (no THP regions, no cost budget). */
class FixedPagesGen extends OpGen {
  constructor(rng: Rng, b: CaseBuilder, maxOps: number, readonly pages: number) { super(rng, b, maxOps, Number.POSITIVE_INFINITY); }
  override mmap(proc: number, opts: { kind?: Kind; thp?: boolean; pages?: number; after?: string } = {}): string | undefined {
    return super.mmap(proc, { ...opts, thp: false, pages: this.pages });
  }
}

/** A case of exactly `ops` ops whose regions have `pages` pages (the guided generator's op mix). */
export function scaleCase(rng: Rng, ops: number, pages: number): Case {
  const uffd = rng.chance(0.7) ? { features: FEATURES.filter(() => rng.chance(0.4)) as Feature[] } : undefined;
  const b = new CaseBuilder(uffd);
  const g = new FixedPagesGen(rng, b, ops + 8, pages);
  g.mmap(0);
  for (let guard = 0; b.ops.length < ops && guard < 50 * ops; guard++) {
    if (rng.chance(0.55)) g.motif(); else g.randomOp();
  }
  const c = b.toCase();
  c.ops = c.ops.slice(0, ops);
  const v = validPrefix(c)!;
  return v;
}

/** `n` scale cases from one seed. `accept` may reject a case (e.g. one whose process 0 is killed by
 *  a signal early, which leaves the remaining ops with nothing to do); at most 20 tries per case. */
export function scaleCases(seed: number, n: number, ops: number, pages: number, accept: (c: Case) => boolean = () => true): Case[] {
  const rng = new Rng(seed);
  const out: Case[] = [];
  for (let tries = 0; out.length < n && tries < 20 * n; tries++) {
    const c = scaleCase(rng, ops, pages);
    if (c.ops.length === ops && accept(c)) out.push(c);
  }
  return out;
}
