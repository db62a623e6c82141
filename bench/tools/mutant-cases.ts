// Cases to the first violation per mutant, guided campaign versus the uniform generator, over several
// seeds, counted in cases under case budgets only (no wall-clock caps): it gives the same numbers on
// a loaded host, so generator changes can be compared there. The sides, the per-seed runs and the
// pooled "cases per find" figure are those of the bench's `mutants` section (bench/lib/mutant-task.ts:
// a seed that found nothing counts its whole budget and is never counted as a find).
// usage: node --import tsx bench/tools/mutant-cases.ts [--seeds 1-16] [--min-seeds 5] [--finds 10] [--min-cases 0] [--budget 10000]
//          [--uniform-budget N | --uniform-factor 10 --uniform-min 200 --uniform-max 3000]
//          [--side both|guided|uniform] [--only B-20,M-4]
// Prints one JSON line per mutant, side and seed ({side, seed, id, found: case number or null, ran}),
// one per mutant (each side's cases per find, finds, median; with both sides the ratio uniform over
// guided and whether it is exact or a bound), then a summary line (min and geometric mean of the
// ratios, mutants found per side, unresolved ones).
import { referenceChecker } from '../../src/campaign/checker.ts';
import { MUTANTS } from '../../src/model/mutants.ts';
import { compareSides, geomean, guidedRun, runSeeds, sideCount, uniformBudgetFor, uniformRun } from '../lib/mutant-task.ts';

const arg = (name: string, def: string) => { const i = process.argv.indexOf(name); return i >= 0 ? process.argv[i + 1] ?? def : def; };
// a list (1,2,3) or a range (1-16); each side runs --min-seeds of them, then stops at --finds finds
// or at once if it found nothing (bench/lib/mutant-task.ts runSeeds)
const seedArg = arg('--seeds', '1-16');
const range = /^(\d+)-(\d+)$/.exec(seedArg);
const seeds = range ? Array.from({ length: Math.max(0, Number(range[2]) - Number(range[1]) + 1) }, (_, i) => Number(range[1]) + i) : seedArg.split(',').map(Number);
const minSeeds = Number(arg('--min-seeds', '5'));
const targetFinds = Number(arg('--finds', '10'));
// a side stops at --finds finds only once it ran this many cases (cheap mutants get more seeds)
const minCases = Number(arg('--min-cases', '0'));
const budget = Number(arg('--budget', '10000'));
const fixedUniform = process.argv.includes('--uniform-budget') ? Number(arg('--uniform-budget', '')) : undefined;
const adapt = { uniformFactor: Number(arg('--uniform-factor', '10')), uniformMin: Number(arg('--uniform-min', '200')), uniformMax: Number(arg('--uniform-max', '3000')) };
const side = arg('--side', 'both');
const ids = arg('--only', '') ? arg('--only', '').split(',') : MUTANTS.map((m) => m.id);
const known = new Set(MUTANTS.map((m) => m.id));
if (!seeds.length || seeds.some((s) => !Number.isInteger(s)) || !(minSeeds >= 1) || !(minCases >= 0) || !(targetFinds >= 1) || !(budget > 0) || (fixedUniform !== undefined && !(fixedUniform > 0))
  || !(adapt.uniformFactor > 0 && adapt.uniformMin > 0 && adapt.uniformMax >= adapt.uniformMin)
  || !['both', 'guided', 'uniform'].includes(side) || ids.some((id) => !known.has(id))) {
  process.stderr.write('usage: mutant-cases.ts [--seeds 1,2,3|1-16] [--min-seeds N] [--finds N] [--min-cases N] [--budget N] [--uniform-budget N | --uniform-factor F --uniform-min N --uniform-max N] [--side both|guided|uniform] [--only IDS (of src/model/mutants.ts)]\n');
  process.exit(2);
}
const checker = await referenceChecker();
const line = (o: object) => process.stdout.write(`${JSON.stringify(o)}\n`);
const r3 = (x: number | null) => (x === null ? null : Math.round(x * 1000) / 1000);

const ratios: Array<{ id: string; ratio: number; bound: string }> = [];
const unresolved: string[] = [];
let gFound = 0, uFound = 0;
for (const id of ids) {
  const out: Record<string, unknown> = { id };
  let g, u;
  if (side !== 'uniform') {
    const runs = await runSeeds(seeds, minSeeds, targetFinds, async (seed) => { const r = await guidedRun(checker, id, seed, budget); line({ side: 'guided', id, ...r }); return r; }, minCases);
    g = sideCount(runs);
    out.guided = { per_find: r3(g.per_find), finds: g.finds, cases: g.cases, median: g.median };
    if (g.finds) gFound++;
  }
  if (side !== 'guided') {
    const ub = fixedUniform ?? (g ? uniformBudgetFor(adapt, g) : adapt.uniformMax);
    const runs = await runSeeds(seeds, minSeeds, targetFinds, async (seed) => { const r = await uniformRun(checker, id, seed, ub); line({ side: 'uniform', id, ...r }); return r; }, minCases);
    u = sideCount(runs);
    out.uniform = { per_find: r3(u.per_find), finds: u.finds, cases: u.cases, median: u.median, budget: ub };
    if (u.finds) uFound++;
  }
  if (g && u) {
    const c = compareSides(g, u);
    out.uniform_over_guided = r3(c.ratio);
    out.bound = c.bound;
    if (c.ratio === null) unresolved.push(id); else ratios.push({ id, ratio: c.ratio, bound: c.bound });
  }
  line(out);
}
if (side === 'both') {
  const worst = [...ratios].sort((a, b) => a.ratio - b.ratio).slice(0, 5).map((x) => `${x.id} ${x.bound === 'exact' ? '' : x.bound}${r3(x.ratio)}`);
  line({
    summary: true, seeds: seedArg, min_seeds: minSeeds, target_finds: targetFinds, min_cases: minCases, mutants: ids.length, guided_found: gFound, uniform_found: uFound, unresolved,
    min: r3(ratios.length ? Math.min(...ratios.map((x) => x.ratio)) : null), geomean: r3(ratios.length ? geomean(ratios.map((x) => x.ratio)) : null),
    bounds: ratios.filter((x) => x.bound !== 'exact').length, worst,
  });
}
process.exit(0);
