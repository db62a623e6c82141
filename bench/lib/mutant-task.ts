// One mutant of the "finding bugs" benchmark (run in child processes by `main` below, also callable
// in-thread): time and
// cases to the first violation on model:x86+ID with ptefarm's guided campaign (runCampaign, the
// in-process transport, minimization of the first bucket as the product does it) versus a uniform
// random generator (bench/lib/gen.ts) through the same transport and the same checker, under the
// same case budget. Both sides pay the same per-case work (mutant execution + reference check with
// coverage); only generation and feedback differ.
import { runCampaign } from '../../src/campaign/campaign.ts';
import { referenceChecker, type Checker } from '../../src/campaign/checker.ts';
import { InProcessTransport } from '../../src/campaign/inprocess.ts';
import { Rng } from '../../src/campaign/rng.ts';
import { uniformCase } from './gen.ts';

export interface MutantJob {
  mutant: string;
  seed: number;
  /** case budget for either side */
  budget: number;
  /** wall-clock cap of the guided side until its first violation (ms) */
  capMs: number;
  /** wall-clock cap on minimization after the first violation (ms) */
  minimizeCapMs: number;
  /** the uniform side runs for clamp(uniformFactor x guided time, uniformMinMs, uniformMaxMs) */
  uniformFactor: number;
  uniformMinMs: number;
  uniformMaxMs: number;
  /** cap on executions of the minimization */
  maxMinimizeRuns?: number;
}

export interface SideResult {
  found: boolean;
  cases: number;
  ms: number;
  /** stopped by the case budget or the time cap without a violation */
  capped: boolean;
}

export interface MutantResult {
  mutant: string;
  guided: SideResult & {
    /** first bucket -> campaign returned (every signature of the bucket minimized, or the cap) */
    minimize_ms?: number;
    /** first bucket -> first minimized reproducer */
    minimize_first_ms?: number;
    minimize_capped?: boolean;
    minimized_ops?: number;
  };
  /** the uniform side's time cap */
  uniform_cap_ms: number;
  uniform: SideResult;
}

let checkerP: Promise<Checker> | undefined;

export default async function runMutant(job: MutantJob): Promise<MutantResult> {
  const checker = await (checkerP ??= referenceChecker());
  const target = `model:x86+${job.mutant}`;

  // guided: the product's campaign, stopped at the first bucket, which it minimizes
  const tg = new InProcessTransport();
  let firstMs: number | undefined;
  let firstIndex: number | undefined;
  let minimizedMs: number | undefined;
  let minimizedOps: number | undefined;
  let guidedCases = 0;
  const ctl = new AbortController();
  let minimizeCapped = false;
  const g0 = performance.now();
  const watch = setInterval(() => {
    const now = performance.now() - g0;
    if (firstMs !== undefined && now - firstMs > job.minimizeCapMs) { minimizeCapped = true; ctl.abort(); }
    if (firstMs === undefined && now > job.capMs + 1000) ctl.abort();
  }, 50);
  let endMs = 0;
  try {
    await runCampaign({
      target, transport: tg, checker, seed: job.seed, cases: job.budget, durationMs: job.capMs, signal: ctl.signal,
      stopAfterBuckets: 1, maxMinimizeRuns: job.maxMinimizeRuns ?? 2000,
      onCase: (i) => { guidedCases = i + 1; },
      onEvent: (e) => {
        if (e.type === 'bucket' && firstMs === undefined) { firstMs = e.ms; firstIndex = e.index; }
        if (e.type === 'minimized' && minimizedMs === undefined) { minimizedMs = e.ms; minimizedOps = e.ops; }
      },
    });
    endMs = performance.now() - g0;
  } finally { clearInterval(watch); await tg.close(); }
  const guided: MutantResult['guided'] = firstMs !== undefined
    ? { found: true, cases: firstIndex! + 1, ms: firstMs, capped: false }
    : { found: false, cases: guidedCases, ms: job.capMs, capped: true };
  if (firstMs !== undefined) {
    guided.minimize_ms = endMs - firstMs;
    guided.minimize_capped = minimizeCapped;
    if (minimizedMs !== undefined) { guided.minimize_first_ms = minimizedMs - firstMs; guided.minimized_ops = minimizedOps; }
  }
  const capMs = guided.found ? Math.min(job.uniformMaxMs, Math.max(job.uniformMinMs, job.uniformFactor * guided.ms)) : job.uniformMaxMs;

  // uniform: same transport kind, same checker (with coverage, as the campaign computes it)
  const tu = new InProcessTransport();
  const rng = new Rng(job.seed);
  const t0 = performance.now();
  let uniform: SideResult = { found: false, cases: 0, ms: 0, capped: true };
  try {
    for (let i = 0; i < job.budget; i++) {
      if (performance.now() - t0 > capMs) break;
      const c = uniformCase(rng);
      const res = await tu.run({ id: `u${i}`, target, case: c }, { timeoutMs: 10_000 });
      uniform.cases = i + 1;
      if (!res.trace || res.fault || res.trace.fault) continue;
      const out = checker.check(c, res.trace);
      if (!out.fault && !out.skipped && out.violations.length) { uniform = { found: true, cases: i + 1, ms: performance.now() - t0, capped: false }; break; }
    }
    if (!uniform.found) uniform.ms = performance.now() - t0;
  } finally { await tu.close(); }
  return { mutant: job.mutant, guided, uniform, uniform_cap_ms: capMs };
}

// As a child process: `node --import tsx mutant-task.ts '<json array of MutantJob>'` runs the jobs one
// after the other and prints one JSON result per line. (Child processes rather than piscina threads:
// tsx's loader inherited by a worker thread leaves some nested .ts imports untransformed.)
if (process.argv[1]?.endsWith('mutant-task.ts') && process.argv[2]) {
  const jobs = JSON.parse(process.argv[2]) as MutantJob[];
  for (const j of jobs) process.stdout.write(`${JSON.stringify(await runMutant(j))}\n`);
}
