// The campaign's jobs: work that submits cases of its own through the campaign's transport, like
// the generated cases, so on a farm they run, and are checked, on the workers of the campaign's
// target: minimizing a new bucket's reproducer (src/campaign/minimize.ts decides what to try) and
// re-running the minimized reproducer to measure its reliability on non-deterministic targets.
// Called by runCampaign (src/campaign/campaign.ts).
import type { Case } from '../ops/schema.ts';
import type { Trace } from '../ops/trace.ts';
import type { Limits } from '../ops/layout.ts';
import type { CaseResult, Transport } from '../transport/transport.ts';
import { canonicalJson } from '../ops/canon.ts';
import { minimize } from './minimize.ts';
import type { RootInfo } from './dedup.ts';
import type { ResultHandler } from './results.ts';

/** Submits one case at a time for a job (ids `<seed>-<n>`, distinct from generated cases' `<seed>-c<i>`). */
export class CaseRunner {
  private seq = 0;
  constructor(
    private readonly transport: Transport,
    private readonly target: string,
    private readonly seed: number,
    private readonly handler: ResultHandler,
    private readonly timeoutMs: number,
    /** resolves when the campaign is interrupted: a job stops waiting for its case */
    private readonly interrupted: Promise<void>,
  ) {}

  /** run `c`; undefined when the campaign was interrupted first */
  run(c: Case): Promise<CaseResult | undefined> {
    const job = this.handler.jobOf(`${this.seed}-${this.seq++}`, this.target, c);
    return Promise.race([this.transport.run(job, { timeoutMs: this.timeoutMs }), this.interrupted.then(() => undefined)]);
  }
}

export interface Minimized {
  case: Case;
  info: RootInfo;
  runs: number;
  oneMinimal: boolean;
  /** false when the minimization was interrupted (the case is the best so far) */
  complete: boolean;
  /** a trace showing the minimized case's violation, when a run returned one */
  trace?: Trace;
}

/** Minimize `c` to a case with the same signature (its first divergence at its own first diverging
 *  step), running every candidate through `runner`; undefined when nothing kept failing. */
export async function minimizeJob(sig: string, c: Case, o: { runner: CaseRunner; handler: ResultHandler; parallel: number; signal: AbortSignal; maxRuns: number; limits?: Limits }): Promise<Minimized | undefined> {
  const traces = new Map<string, Trace>(); // a trace of each failing candidate (the result is one of them)
  const m = await minimize(c, {
    test: async (x) => {
      const r = await o.runner.run(x);
      const sigs = o.handler.sigsOf(x, r);
      if (sigs?.length && r?.trace) traces.set(canonicalJson(x), r.trace);
      return sigs;
    },
    target: [sig],
    parallel: o.parallel,
    signal: o.signal,
    maxRuns: o.maxRuns,
    limits: o.limits,
  });
  if (m.signatures.length === 0) return undefined;
  // the minimizer judged the case it returns (one of its failing runs); else one more run
  const info = o.handler.known(m.case) ?? (o.handler.sigsOf(m.case, await o.runner.run(m.case)), o.handler.known(m.case));
  if (!info) return undefined;
  return { case: m.case, info, runs: m.runs, oneMinimal: m.oneMinimal, complete: !m.aborted, trace: traces.get(canonicalJson(m.case)) };
}

/** Run `c` `runs` times; how many showed signature `sig` (an interrupted run does not count). */
export async function reliabilityJob(sig: string, c: Case, runs: number, o: { runner: CaseRunner; handler: ResultHandler }): Promise<{ ok: number; runs: number }> {
  let ok = 0;
  for (let i = 0; i < runs; i++) {
    const s = o.handler.sigsOf(c, await o.runner.run(c));
    if (s && s.includes(sig)) ok++;
  }
  return { ok, runs };
}
