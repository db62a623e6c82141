// The campaign: generate (coordinator only, deterministic: src/campaign/scheduler.ts), dispatch
// through a Transport keeping it full, hand each result to the result handler (the verdict made
// where the case ran → dedup → events: src/campaign/results.ts), start the jobs of a new bucket
// (minimize, reliability re-runs: src/campaign/jobs.ts, through the same transport), record
// findings in the work directory (never in the tracked corpus: src/campaign/findings.ts), report
// events and a summary. Called by `ptefarm fuzz`, the gate and the farm's campaign driver.
import type { Case } from '../ops/schema.ts';
import type { Transport, CaseResult } from '../transport/transport.ts';
import type { Checker } from './checker.ts';
import type { GenerateOptions } from './generate.ts';
import type { Bucket } from './dedup.ts';
import { addHits, recordFinding } from './findings.ts';
import { Scheduler } from './scheduler.ts';
import { ResultHandler } from './results.ts';
import { CaseRunner, minimizeJob, reliabilityJob } from './jobs.ts';
import { geometryOfHost, type Trace } from '../ops/trace.ts';
import { limitsFor } from '../ops/layout.ts';

export interface CampaignOptions {
  target: string;
  transport: Transport;
  checker: Checker;
  seed: number;
  /** the kernel profile the campaign's checker was made with (referenceChecker({ profile })), kept
   *  with a farm campaign's definition; the check itself, and its coverage, follow the checker
   *  (absent: the traced kernel's profile) */
  profile?: string;
  /** stop after generating this many cases */
  cases?: number;
  /** stop generating after this long */
  durationMs?: number;
  /** per-case timeout (default 10 s); a timed-out case is a fault */
  timeoutMs?: number;
  /** stop once this many buckets exist (e.g. 1: "first finding") */
  stopAfterBuckets?: number;
  /** minimize new buckets (default true) */
  minimize?: boolean;
  /** re-runs of a minimized reproducer to measure reliability; default 5 on non-model targets, 0 on model targets */
  reliabilityRuns?: number;
  /** work directory whose findings/ receive every bucket (src/campaign/config.ts resolves it);
   *  undefined = record nothing */
  workdir?: string;
  /** what runs the campaign, stored with its findings (default "fuzz") */
  source?: string;
  /** cap on executions per minimization (default 3000) */
  maxMinimizeRuns?: number;
  generate?: GenerateOptions;
  /** feedback lag in cases (default 64; raised to 2 x concurrency) */
  lag?: number;
  signal?: AbortSignal;
  onEvent?: (e: CampaignEvent) => void;
  /** record every generated case's canonical identity (for determinism tests) */
  onCase?: (index: number, c: Case) => void;
}

export interface Stats {
  cases: number;
  completed: number;
  violations: number;
  faults: number;
  skipped: number;
  elapsedMs: number;
  rulesHit: number;
  rulesTotal: number;
  buckets: number;
  inflight: number;
}

export type CampaignEvent =
  | { type: 'start'; target: string; seed: number; concurrency: number }
  | { type: 'progress'; stats: Stats }
  | { type: 'violation'; index: number; signature: string; title: string }
  | { type: 'fault'; index: number; fault: string; case?: Case }
  // case and trace: what opened the bucket / the minimized reproducer and a trace showing it (for
  // the live dashboard's step tables; `fuzz --json` leaves them out)
  | { type: 'bucket'; signature: string; index: number; ms: number; example?: string; case?: Case; trace?: Trace }
  | { type: 'minimized'; signature: string; ops: number; runs: number; oneMinimal: boolean; ms: number; case?: Case; trace?: Trace }
  | { type: 'saved'; signature: string; path: string; written: boolean }
  | { type: 'stopped'; reason: string };

export interface BucketSummary {
  signature: string;
  /** one line, syzbot style: what went wrong where, with the rule and kernel function */
  title: string;
  hits: number;
  case: Case;
  minimized: boolean;
  ops: number;
  first_case: number;
  first_ms: number;
  /** ms from campaign start until the minimized reproducer was ready */
  minimized_ms?: number;
  reliability?: string;
  file?: string;
  /** the root violation's page run at the first diverging step OF `case` */
  example: string;
  /** that step, in `case` */
  step: number;
  /** violations at later steps of `case` (consequences, not buckets) */
  consequences: number;
}

export interface Summary {
  target: string;
  seed: number;
  cases: number;
  violations: number;
  faults: number;
  skipped: number;
  elapsed_s: number;
  cases_per_s: number;
  coverage: { rules_hit: number; rules_total: number; rules: string[] };
  stopped: string;
  buckets: BucketSummary[];
}

export function isModelTarget(spec: string): boolean {
  return spec.startsWith('model:');
}

export async function runCampaign(opts: CampaignOptions): Promise<Summary> {
  const { transport, checker, target } = opts;
  const t0 = performance.now();
  const ms = () => performance.now() - t0;
  const timeoutMs = opts.timeoutMs ?? 10_000;
  // in flight: what the transport holds plus one queued, so that a freed slot is filled at once; at
  // most the feedback lag, which stays what it was without `slots` (the case sequence depends on it)
  const lagAsked = Math.max(opts.lag ?? 64, Math.max(2, transport.concurrency * 2));
  const window = Math.max(2, transport.concurrency * 2, Math.min((transport.slots ?? 0) + 1, lagAsked));
  const maxCases = opts.cases ?? (opts.durationMs === undefined ? 1000 : Number.POSITIVE_INFINITY);
  const deadline = opts.durationMs === undefined ? Number.POSITIVE_INFINITY : opts.durationMs;
  const emit = (e: CampaignEvent) => { try { opts.onEvent?.(e); } catch { /* a listener must not break the campaign */ } };
  const scheduler = new Scheduler(opts.seed, opts.generate, lagAsked);
  const results = new ResultHandler(checker, emit, ms);
  const { dedup, stats } = results;
  const minimizeOn = opts.minimize ?? true;
  const reliabilityRuns = opts.reliabilityRuns ?? (isModelTarget(target) ? 0 : 5);
  const files = new Map<string, string>();
  /** hits already recorded per bucket */
  const reported = new Map<string, number>();
  const saves: Promise<void>[] = [];
  const minimizedAt = new Map<string, number>();
  const minimizeCtl = new AbortController();
  const onAbort = () => minimizeCtl.abort();
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  const interrupted = new Promise<void>((resolve) => {
    if (opts.signal?.aborted) resolve();
    opts.signal?.addEventListener('abort', () => resolve(), { once: true });
  });
  const runner = new CaseRunner(transport, target, opts.seed, results, timeoutMs, interrupted);

  let stopReason = '';
  const inflight = new Set<number>();
  const minimizations: Promise<void>[] = [];
  let wake: (() => void) | undefined;
  const notify = () => { const w = wake; wake = undefined; w?.(); };

  // a bucket's finding is recorded once, when its reproducer is final (minimized, or given up on);
  // hits found after that are added at the end without rewriting the case
  const save = (sig: string): Promise<void> => {
    const b = dedup.get(sig);
    if (!opts.workdir || !b || reported.has(sig)) return Promise.resolve();
    reported.set(sig, b.hits);
    const p = recordFinding(opts.workdir, {
      target, signature: sig, case: b.case, hits: b.hits, minimized: b.minimized, source: opts.source ?? 'fuzz',
      info: results.infoOf.get(sig), geometry: opts.generate?.geometry ?? geometryOfHost(results.infoOf.get(sig)?.host), seed: opts.seed, caseIndex: b.firstIndex, example: b.info.line, title: b.info.title,
      ...(b.reliability ? { reliability: `${b.reliability.ok}/${b.reliability.runs}` } : {}),
    }).then((r) => {
      files.set(sig, r.caseFile);
      emit({ type: 'saved', signature: sig, path: r.caseFile, written: r.written });
    }, (e: Error) => emit({ type: 'fault', index: -1, fault: `recording ${sig}: ${e.message}` }));
    saves.push(p);
    return p;
  };

  /** the jobs a new bucket starts: minimize its reproducer, measure its reliability, record it */
  const minimizeBucket = async (sig: string, c: Case): Promise<void> => {
    if (dedup.get(sig)?.minimized || minimizeCtl.signal.aborted) return;
    const m = await minimizeJob(sig, c, { runner, handler: results, parallel: transport.concurrency, signal: minimizeCtl.signal, maxRuns: opts.maxMinimizeRuns ?? 3000, limits: opts.generate?.geometry && limitsFor(opts.generate.geometry) });
    if (!m) return;
    const reliability = reliabilityRuns > 0 && !minimizeCtl.signal.aborted ? await reliabilityJob(sig, m.case, reliabilityRuns, { runner, handler: results }) : undefined;
    dedup.offer(sig, m.case, m.complete, m.info);
    const b = dedup.get(sig)!;
    if (reliability) b.reliability = reliability;
    minimizedAt.set(sig, ms());
    emit({ type: 'minimized', signature: sig, ops: m.case.ops.length, runs: m.runs, oneMinimal: m.oneMinimal, ms: ms(), case: m.case, trace: m.trace });
    await save(sig);
  };

  let finished = false;
  const handle = (index: number, c: Case, res: CaseResult) => {
    if (finished) return; // a late result after an interrupted campaign ended: not part of it
    inflight.delete(index);
    const h = results.handle(index, c, res);
    if (h.opened) {
      const sig = h.opened;
      // the finding is recorded once its reproducer is final (save); without minimization now
      if (!minimizeOn) void save(sig);
      else minimizations.push(minimizeBucket(sig, c).catch((e) => {
        emit({ type: 'fault', index, fault: `minimize: ${(e as Error).message}` });
      }));
      if (opts.stopAfterBuckets !== undefined && dedup.size >= opts.stopAfterBuckets && !stopReason) stopReason = `found ${dedup.size} bucket(s)`;
    }
    scheduler.done(index, c, h.rules);
    notify();
  };

  emit({ type: 'start', target, seed: opts.seed, concurrency: transport.concurrency });
  let lastProgress = 0;
  const progress = () => {
    stats.elapsedMs = ms();
    stats.rulesHit = results.rulesHit.size;
    stats.inflight = inflight.size;
    stats.buckets = dedup.size;
    emit({ type: 'progress', stats: { ...stats } });
  };

  for (;;) {
    if (!stopReason) {
      if (opts.signal?.aborted) stopReason = 'interrupted';
      else if (stats.cases >= maxCases) stopReason = `reached ${maxCases} cases`;
      else if (ms() >= deadline) stopReason = 'duration elapsed';
    }
    // generate while the window has room and the lagged feedback is available
    while (!stopReason && inflight.size < window && stats.cases < maxCases) {
      const next = scheduler.take();
      if (!next) break;
      const { index: i, case: c } = next;
      opts.onCase?.(i, c);
      stats.cases++;
      inflight.add(i);
      const job = results.jobOf(`${opts.seed}-c${i}`, target, c);
      transport.run(job, { timeoutMs }).then(
        (res) => handle(i, c, res),
        (e) => handle(i, c, { id: job.id, fault: `transport: ${(e as Error).message}` }),
      );
    }
    if (ms() - lastProgress > 250) { lastProgress = ms(); progress(); }
    if (inflight.size === 0 && (stopReason || stats.cases >= maxCases)) break;
    // interrupted: do not wait for in-flight cases (nor say "reached N cases" of cases never run)
    if (stopReason && opts.signal?.aborted) { stopReason = 'interrupted'; break; }
    const remaining = deadline - ms();
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => { wake = undefined; resolve(); }, Math.max(1, Math.min(250, Number.isFinite(remaining) ? remaining : 250)));
      wake = () => { clearTimeout(t); resolve(); };
    });
  }
  if (!stopReason) stopReason = `reached ${stats.cases} cases`;
  if (opts.signal?.aborted) finished = true;
  emit({ type: 'stopped', reason: stopReason });
  await Promise.all(minimizations);
  // buckets whose minimization failed or was interrupted keep their best case so far
  for (const b of dedup.all()) void save(b.signature);
  await Promise.all(saves);
  if (opts.workdir) {
    for (const b of dedup.all()) {
      const extra = b.hits - (reported.get(b.signature) ?? b.hits);
      if (extra > 0) await addHits(opts.workdir, target, b.signature, extra).catch((e: Error) => emit({ type: 'fault', index: -1, fault: `recording ${b.signature}: ${e.message}` }));
    }
  }
  opts.signal?.removeEventListener('abort', onAbort);
  progress();

  const elapsed = ms() / 1000;
  const rulesHit = results.rulesHit;
  return {
    target,
    seed: opts.seed,
    cases: stats.completed,
    violations: stats.violations,
    faults: stats.faults,
    skipped: stats.skipped,
    elapsed_s: round(elapsed, 3),
    cases_per_s: round(stats.completed / Math.max(elapsed, 1e-6), 1),
    coverage: { rules_hit: rulesHit.size, rules_total: checker.rulesTotal, rules: [...rulesHit].sort() },
    stopped: stopReason,
    buckets: dedup.all().map((b: Bucket) => ({
      signature: b.signature,
      title: b.info.title,
      hits: b.hits,
      case: b.case,
      minimized: b.minimized,
      ops: b.case.ops.length,
      first_case: b.firstIndex,
      first_ms: round(b.firstMs, 1),
      ...(minimizedAt.has(b.signature) ? { minimized_ms: round(minimizedAt.get(b.signature)!, 1) } : {}),
      ...(b.reliability ? { reliability: `${b.reliability.ok}/${b.reliability.runs}` } : {}),
      ...(files.has(b.signature) ? { file: files.get(b.signature) } : {}),
      example: b.info.line,
      step: b.info.root.step,
      consequences: b.info.consequences,
    })),
  };
}

function round(x: number, d: number): number {
  const f = 10 ** d;
  return Math.round(x * f) / f;
}
