// One mutant of the "finding bugs" benchmark (run in child processes by `main` below, also callable
// in-thread; the `mutants` section of bench/lib/sections.ts and bench/tools/mutant-cases.ts use it):
// CASES to the first violation on model:x86+ID, over several seeds, with ptefarm's guided campaign
// (runCampaign, the in-process transport, stopped at its first bucket) versus the uniform random
// generator (bench/lib/gen.ts) through the same transport and the same checker. Counts, not times:
// a loaded host gives the same numbers, and both sides pay the same per-case work.
//
// Why several seeds: cases-to-first-find is a waiting time; one seed's "2 vs 61" is luck. Each side's
// figure is its cases per find, pooled over the seeds: (cases run on all seeds, a run that found
// nothing counting its whole budget) / (seeds that found it) — the maximum-likelihood mean of a
// geometric waiting time with censored runs. A side that found it on no seed has only a lower
// bound ("not found within N"), never counted as found; the ratio is then a bound (≥ or ≤).
import { runCampaign } from '../../src/campaign/campaign.ts';
import { referenceChecker, type Checker } from '../../src/campaign/checker.ts';
import { InProcessTransport } from '../../src/campaign/inprocess.ts';
import { Rng } from '../../src/campaign/rng.ts';
import { uniformCase } from './gen.ts';

export interface MutantJob {
  mutant: string;
  /** the seeds each side may use, in order: one guided campaign and one uniform stream per seed */
  seeds: number[];
  /** a side runs at least this many seeds, then stops at `targetFinds` finds, or at once if it has
   *  found nothing yet (cheap mutants get more seeds, so their ratio is less a matter of luck) */
  minSeeds: number;
  targetFinds: number;
  /** the guided side's own minSeeds / targetFinds (default: the same as uniform's). Its cases to
   *  the first find vary 10-100x between seeds, and a guided seed is cheap (it stops at its find),
   *  while a uniform side without a find pays its whole budget per seed */
  guidedMinSeeds?: number;
  guidedTargetFinds?: number;
  /** each side stops at its target finds only once it has run this many cases (default 0): a
   *  mutant found in a few cases gets more seeds (up to `seeds`), as its cases per find from 12
   *  finds is mostly luck (B-27: 0.64 and 0.72 in two runs, where the per-case rates over 1,280
   *  feedback-free cases are 5.4% guided, 4.2% uniform) */
  minCases?: number;
  /** guided case budget per seed */
  guidedBudget: number;
  /** uniform case budget per seed: clamp(uniformFactor × guided cases per find, uniformMin,
   *  uniformMax); uniformMax when guided found it on no seed */
  uniformFactor: number;
  uniformMin: number;
  uniformMax: number;
  /** the first seed's campaign minimizes its first bucket as the product does (minimize_s_max):
   *  wall-clock cap (ms) and cap on executions; the other seeds do not minimize */
  minimizeCapMs: number;
  maxMinimizeRuns: number;
}

/** one seed: the 1-based number of the first case with a violation (null: none within `ran`) */
export interface SeedRun { seed: number; found: number | null; ran: number }

export interface SideCount {
  runs: SeedRun[];
  /** seeds that found it */
  finds: number;
  /** cases run over all seeds */
  cases: number;
  /** cases / finds (null when finds = 0: then only "more than `cases`" is known) */
  per_find: number | null;
  /** median over the seeds of the first-find case, a seed that found nothing counting as
   *  infinitely late (null when half or more found nothing) */
  median: number | null;
}

export type Bound = 'exact' | '≥' | '≤' | 'unresolved';

export interface MutantResult {
  mutant: string;
  guided: SideCount & {
    /** first seed: first bucket -> campaign returned (minimization of the bucket, or its cap) */
    minimize_ms?: number;
    minimize_capped?: boolean;
    minimized_ops?: number;
  };
  /** the uniform side's per-seed case budget */
  uniform_budget: number;
  uniform: SideCount;
  /** uniform cases per find / guided cases per find (null when neither found it) */
  ratio: number | null;
  bound: Bound;
}

export function sideCount(runs: SeedRun[]): SideCount {
  const finds = runs.filter((r) => r.found !== null).length;
  const cases = runs.reduce((s, r) => s + (r.found ?? r.ran), 0);
  const sorted = runs.map((r) => r.found ?? Infinity).sort((a, b) => a - b);
  const n = sorted.length;
  const mid = n % 2 ? sorted[(n - 1) / 2]! : (sorted[n / 2 - 1]! + sorted[n / 2]!) / 2;
  return { runs, finds, cases, per_find: finds ? cases / finds : null, median: Number.isFinite(mid) ? mid : null };
}

/** uniform over guided cases per find; a side with no find contributes its lower bound (all its cases) */
export function compareSides(g: SideCount, u: SideCount): { ratio: number | null; bound: Bound } {
  if (g.per_find !== null && u.per_find !== null) return { ratio: u.per_find / g.per_find, bound: 'exact' };
  if (g.per_find !== null) return { ratio: u.cases / g.per_find, bound: '≥' };
  if (u.per_find !== null) return { ratio: u.per_find / g.cases, bound: '≤' };
  return { ratio: null, bound: 'unresolved' };
}

/** "guided 61 (2/5 seeds, per find 80)" style text of one side */
export function sideText(s: SideCount): string {
  const firsts = s.runs.map((r) => (r.found === null ? `>${r.ran}` : String(r.found))).join(' ');
  return s.finds ? `${fmtCount(s.per_find!)}/find (${s.finds}/${s.runs.length} seeds: ${firsts})` : `not found within ${s.runs[0]?.ran ?? 0} × ${s.runs.length} seeds`;
}
const fmtCount = (x: number) => (x >= 100 ? Math.round(x).toString() : x.toFixed(1));

/** geometric mean of positive numbers */
export function geomean(xs: number[]): number {
  return xs.length ? Math.exp(xs.reduce((s, x) => s + Math.log(x), 0) / xs.length) : Number.NaN;
}

/** guided: the product's campaign on one seed, stopped at its first bucket */
export async function guidedRun(checker: Checker, mutant: string, seed: number, budget: number,
  minimize?: { capMs: number; maxRuns: number }): Promise<SeedRun & { minimize_ms?: number; minimize_capped?: boolean; minimized_ops?: number }> {
  const tr = new InProcessTransport();
  let first: number | undefined;
  let firstMs: number | undefined;
  let ran = 0;
  let minimizedOps: number | undefined;
  let capped = false;
  const ctl = new AbortController();
  const t0 = performance.now();
  const watch = minimize && setInterval(() => {
    if (firstMs !== undefined && performance.now() - t0 - firstMs > minimize.capMs) { capped = true; ctl.abort(); }
  }, 50);
  let endMs = 0;
  try {
    await runCampaign({
      target: `model:x86+${mutant}`, transport: tr, checker, seed, cases: budget, signal: ctl.signal, stopAfterBuckets: 1,
      minimize: !!minimize, maxMinimizeRuns: minimize?.maxRuns ?? 1,
      onCase: (i) => { ran = Math.max(ran, i + 1); },
      onEvent: (e) => {
        if (e.type === 'bucket') { if (first === undefined || e.index + 1 < first) first = e.index + 1; firstMs ??= e.ms; }
        if (e.type === 'minimized') minimizedOps ??= e.ops;
      },
    });
    endMs = performance.now() - t0;
  } finally { if (watch) clearInterval(watch); await tr.close(); }
  const run: SeedRun & { minimize_ms?: number; minimize_capped?: boolean; minimized_ops?: number } = { seed, found: first ?? null, ran };
  if (minimize && firstMs !== undefined) {
    run.minimize_ms = endMs - firstMs;
    run.minimize_capped = capped;
    if (minimizedOps !== undefined) run.minimized_ops = minimizedOps;
  }
  return run;
}

/** uniform: bench/lib/gen.ts uniformCase from Rng(seed), same transport kind and checker */
export async function uniformRun(checker: Checker, mutant: string, seed: number, budget: number): Promise<SeedRun> {
  const tr = new InProcessTransport();
  const rng = new Rng(seed);
  try {
    for (let i = 0; i < budget; i++) {
      const c = uniformCase(rng);
      const res = await tr.run({ id: `u${i}`, target: `model:x86+${mutant}`, case: c }, { timeoutMs: 10_000 });
      if (!res.trace || res.fault || res.trace.fault) continue;
      const out = checker.check(c, res.trace);
      if (!out.fault && !out.skipped && out.violations.length) return { seed, found: i + 1, ran: i + 1 };
    }
  } finally { await tr.close(); }
  return { seed, found: null, ran: budget };
}

/** the uniform per-seed budget for a guided result (MutantJob.uniformFactor) */
export function uniformBudgetFor(job: Pick<MutantJob, 'uniformFactor' | 'uniformMin' | 'uniformMax'>, g: SideCount): number {
  if (g.per_find === null) return job.uniformMax;
  return Math.round(Math.min(job.uniformMax, Math.max(job.uniformMin, job.uniformFactor * g.per_find)));
}

/** the seeds a side runs (MutantJob.minSeeds, targetFinds, minCases): `run` per seed until the
 *  stop rule: after minSeeds, none found, or targetFinds finds once minCases cases were run */
export async function runSeeds<R extends SeedRun>(seeds: number[], minSeeds: number, targetFinds: number, run: (seed: number, k: number) => Promise<R>, minCases = 0): Promise<R[]> {
  const out: R[] = [];
  for (const [k, seed] of seeds.entries()) {
    if (out.length >= minSeeds) {
      const finds = out.filter((r) => r.found !== null).length;
      if (finds === 0 || (finds >= targetFinds && sideCount(out).cases >= minCases)) break;
    }
    out.push(await run(seed, k));
  }
  return out;
}

let checkerP: Promise<Checker> | undefined;

export default async function runMutant(job: MutantJob): Promise<MutantResult> {
  const checker = await (checkerP ??= referenceChecker());
  const gruns = await runSeeds(job.seeds, job.guidedMinSeeds ?? job.minSeeds, job.guidedTargetFinds ?? job.targetFinds, (seed, k) =>
    guidedRun(checker, job.mutant, seed, job.guidedBudget, k === 0 ? { capMs: job.minimizeCapMs, maxRuns: job.maxMinimizeRuns } : undefined), job.minCases);
  const first = gruns[0];
  const guided: MutantResult['guided'] = sideCount(gruns.map(({ seed, found, ran }) => ({ seed, found, ran })));
  if (first?.minimize_ms !== undefined) {
    guided.minimize_ms = first.minimize_ms;
    guided.minimize_capped = first.minimize_capped;
    if (first.minimized_ops !== undefined) guided.minimized_ops = first.minimized_ops;
  }
  const budget = uniformBudgetFor(job, guided);
  const uruns = await runSeeds(job.seeds, job.minSeeds, job.targetFinds, (seed) => uniformRun(checker, job.mutant, seed, budget), job.minCases);
  const uniform = sideCount(uruns);
  return { mutant: job.mutant, guided, uniform_budget: budget, uniform, ...compareSides(guided, uniform) };
}

// As a child process: `node --import tsx mutant-task.ts '<json array of MutantJob>'` runs the jobs one
// after the other and prints one JSON result per line. (Child processes rather than piscina threads:
// tsx's loader inherited by a worker thread leaves some nested .ts imports untransformed.)
if (process.argv[1]?.endsWith('mutant-task.ts') && process.argv[2]) {
  const jobs = JSON.parse(process.argv[2]) as MutantJob[];
  for (const j of jobs) process.stdout.write(`${JSON.stringify(await runMutant(j))}\n`);
}
