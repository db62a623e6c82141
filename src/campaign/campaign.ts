// The campaign loop: generate (coordinator only, deterministic), dispatch through a Transport keeping
// it full, check every trace here in the coordinator, bucket violations, minimize new buckets (in
// the background, through the same transport), record findings in the work directory (never in the
// tracked corpus: src/campaign/findings.ts), report events and a summary.
//
// Determinism of the generated sequence: case i is generated after exactly the coverage feedback
// of cases 0 .. i-1-lag has been applied, in index order (lag = max(opts.lag, 2 x concurrency)).
// The generator therefore never sees results in an order chosen by thread timing. A slow case can
// hold generation back only after `lag` more cases were generated, and never past its timeout.
import type { Case } from '../ops/schema.ts';
import type { Transport, CaseJob, CaseResult } from '../transport/transport.ts';
import type { Violation } from '../check/types.ts';
import type { Checker, CoverageRequest, CoverageResult } from './checker.ts';
import { GuidedGenerator, type GenerateOptions } from './generate.ts';
import { limitsFor } from '../ops/layout.ts';
import { Dedup, type Bucket, type RootInfo } from './dedup.ts';
import { rootInfo } from '../findings/title.ts';
import { minimize } from './minimize.ts';
import { addHits, recordFinding } from './findings.ts';
import { canonicalJson } from './canon.ts';
import type { TargetInfo, Trace } from '../ops/trace.ts';

export interface CampaignOptions {
  target: string;
  transport: Transport;
  checker: Checker;
  seed: number;
  /** model profile for coverage (default: the model's default) */
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

interface Done { index: number; c: Case; res: CaseResult }

export function isModelTarget(spec: string): boolean {
  return spec.startsWith('model:');
}

export async function runCampaign(opts: CampaignOptions): Promise<Summary> {
  const { transport, checker, target } = opts;
  const t0 = performance.now();
  const ms = () => performance.now() - t0;
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const window = Math.max(2, transport.concurrency * 2);
  const lag = Math.max(opts.lag ?? 64, window);
  const maxCases = opts.cases ?? (opts.durationMs === undefined ? 1000 : Number.POSITIVE_INFINITY);
  const deadline = opts.durationMs === undefined ? Number.POSITIVE_INFINITY : opts.durationMs;
  const gen = new GuidedGenerator(opts.seed, opts.generate);
  const dedup = new Dedup();
  const emit = (e: CampaignEvent) => { try { opts.onEvent?.(e); } catch { /* a listener must not break the campaign */ } };
  const minimizeOn = opts.minimize ?? true;
  const reliabilityRuns = opts.reliabilityRuns ?? (isModelTarget(target) ? 0 : 5);
  const stats: Stats = { cases: 0, completed: 0, violations: 0, faults: 0, skipped: 0, elapsedMs: 0, rulesHit: 0, rulesTotal: checker.rulesTotal, buckets: 0, inflight: 0 };
  const files = new Map<string, string>();
  /** the target facts of the trace that opened each bucket, and the hits already recorded */
  const infoOf = new Map<string, TargetInfo>();
  const reported = new Map<string, number>();
  const saves: Promise<void>[] = [];
  /** rules seen in any checked result so far (display/summary; guidance uses the lagged feedback) */
  const rulesHit = new Set<string>();
  const minimizedAt = new Map<string, number>();
  const minimizeCtl = new AbortController();
  const onAbort = () => minimizeCtl.abort();
  opts.signal?.addEventListener('abort', onAbort, { once: true });

  // feedback buffered per case index; applied strictly in index order, `lag` cases behind
  const feedback = new Map<number, { c: Case; rules: string[][] } | null>();
  let applied = 0;
  let stopReason = '';
  const inflight = new Set<number>();
  const minimizations: Promise<void>[] = [];
  let wake: (() => void) | undefined;
  const notify = () => { const w = wake; wake = undefined; w?.(); };
  let jobSeq = 0;

  const abortPromise = new Promise<void>((resolve) => {
    if (opts.signal?.aborted) resolve();
    opts.signal?.addEventListener('abort', () => resolve(), { once: true });
  });

  const runOne = async (c: Case): Promise<CaseResult | undefined> => {
    const job = { id: `${opts.seed}-${jobSeq++}`, target, case: c };
    const r = await Promise.race([transport.run(job, { timeoutMs }), abortPromise.then(() => undefined)]);
    return r;
  };

  /** signature and root info of a failing case (its first divergence); undefined when it passes */
  const judge = (c: Case, vs: Violation[]): { sig: string; info: RootInfo } | undefined => {
    const info = rootInfo(vs, c);
    return info && { sig: checker.signature(info.root), info };
  };
  // root info of the cases the minimizer ran, so the minimized case's needs no extra run
  const judged = new WeakMap<Case, RootInfo>();
  const sigsOf = (c: Case, res: CaseResult | undefined): string[] | undefined => {
    if (!res || res.fault || !res.trace || res.trace.fault) return undefined;
    const out = checker.check(c, res.trace);
    if (out.fault || out.skipped) return undefined;
    const j = judge(c, out.violations);
    if (!j) return [];
    judged.set(c, j.info);
    return [j.sig];
  };
  const rootInfoOf = async (c: Case): Promise<RootInfo | undefined> => {
    const known = judged.get(c);
    if (known) return known;
    await sigsOf(c, await runOne(c));
    return judged.get(c);
  };

  // a bucket's finding is recorded once, when its reproducer is final (minimized, or given up on);
  // hits found after that are added at the end without rewriting the case
  const save = (sig: string): Promise<void> => {
    const b = dedup.get(sig);
    if (!opts.workdir || !b || reported.has(sig)) return Promise.resolve();
    reported.set(sig, b.hits);
    const p = recordFinding(opts.workdir, {
      target, signature: sig, case: b.case, hits: b.hits, minimized: b.minimized, source: opts.source ?? 'fuzz',
      info: infoOf.get(sig), seed: opts.seed, caseIndex: b.firstIndex, example: b.info.line, title: b.info.title,
      ...(b.reliability ? { reliability: `${b.reliability.ok}/${b.reliability.runs}` } : {}),
    }).then((r) => {
      files.set(sig, r.caseFile);
      emit({ type: 'saved', signature: sig, path: r.caseFile, written: r.written });
    }, (e: Error) => emit({ type: 'fault', index: -1, fault: `recording ${sig}: ${e.message}` }));
    saves.push(p);
    return p;
  };

  const minimizeBucket = async (sig: string, c: Case): Promise<void> => {
    if (dedup.get(sig)?.minimized || minimizeCtl.signal.aborted) return;
    // the predicate is the case's own signature: its first divergence, at its own first diverging step
    const traces = new Map<string, Trace>(); // a trace of each failing candidate (the result is one of them)
    const m = await minimize(c, {
      test: async (x) => { const r = await runOne(x); const sigs = sigsOf(x, r); if (sigs?.length && r?.trace) traces.set(canonicalJson(x), r.trace); return sigs; },
      target: [sig],
      parallel: transport.concurrency,
      signal: minimizeCtl.signal,
      maxRuns: opts.maxMinimizeRuns ?? 3000,
      limits: opts.generate?.geometry && limitsFor(opts.generate.geometry),
    });
    if (m.signatures.length === 0) return;
    const info = await rootInfoOf(m.case);
    if (!info) return;
    let reliability: { ok: number; runs: number } | undefined;
    if (reliabilityRuns > 0 && !minimizeCtl.signal.aborted) {
      let ok = 0;
      for (let i = 0; i < reliabilityRuns; i++) {
        const s = sigsOf(m.case, await runOne(m.case));
        if (s && s.includes(sig)) ok++;
      }
      reliability = { ok, runs: reliabilityRuns };
    }
    dedup.offer(sig, m.case, !m.aborted, info);
    const b = dedup.get(sig)!;
    if (reliability) b.reliability = reliability;
    minimizedAt.set(sig, ms());
    emit({ type: 'minimized', signature: sig, ops: m.case.ops.length, runs: m.runs, oneMinimal: m.oneMinimal, ms: ms(), case: m.case, trace: traces.get(canonicalJson(m.case)) });
    await save(sig);
  };

  let finished = false;
  const handle = (d: Done) => {
    if (finished) return; // a late result after an interrupted campaign ended: not part of it
    inflight.delete(d.index);
    stats.completed++;
    const { res, c } = d;
    let rules: string[][] | null = null;
    if (res.fault || !res.trace || res.trace.fault) {
      stats.faults++;
      emit({ type: 'fault', index: d.index, fault: res.fault ?? res.trace?.fault ?? 'no trace', case: c });
    } else {
      let out;
      const known = (res as CoverageResult).step_rules;
      try { out = checker.check(c, res.trace, known && known.length === c.ops.length ? known : undefined); } catch (e) {
        stats.faults++;
        emit({ type: 'fault', index: d.index, fault: `check: ${(e as Error).message}`, case: c });
      }
      if (out) {
        if (out.fault) { stats.faults++; emit({ type: 'fault', index: d.index, fault: out.fault, case: c }); }
        else if (out.skipped) {
          stats.skipped++;
          // a case skipped because its asserted bits were masked still ran: coverage feedback
          if (out.stepRules.length === c.ops.length) rules = out.stepRules;
        } else {
          rules = out.stepRules;
          for (const rs of rules) for (const r of rs) if (!checker.catalogue || checker.catalogue.has(r)) rulesHit.add(r);
          const j = judge(c, out.violations);
          if (j) {
            stats.violations++;
            const rec = dedup.record(c, j.sig, j.info, { index: d.index, ms: ms() });
            emit({ type: 'violation', index: d.index, signature: j.sig, title: j.info.title });
            if (rec === 'new') {
              emit({ type: 'bucket', signature: j.sig, index: d.index, ms: ms(), example: j.info.line, case: c, trace: res.trace });
              stats.buckets = dedup.size;
              if (res.trace) infoOf.set(j.sig, res.trace.target);
              // the finding is recorded once its reproducer is final (save); without minimization now
              if (!minimizeOn) void save(j.sig);
              if (minimizeOn) minimizations.push(minimizeBucket(j.sig, c).catch((e) => {
                emit({ type: 'fault', index: d.index, fault: `minimize: ${(e as Error).message}` });
              }));
              if (opts.stopAfterBuckets !== undefined && dedup.size >= opts.stopAfterBuckets && !stopReason) stopReason = `found ${dedup.size} bucket(s)`;
            }
          }
        }
      }
    }
    feedback.set(d.index, rules ? { c, rules } : null);
    notify();
  };

  emit({ type: 'start', target, seed: opts.seed, concurrency: transport.concurrency });
  let lastProgress = 0;
  const progress = () => {
    stats.elapsedMs = ms();
    stats.rulesHit = rulesHit.size;
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
      const i = stats.cases;
      let blocked = false;
      while (applied < i - lag) {
        if (!feedback.has(applied)) { blocked = true; break; }
        const f = feedback.get(applied)!;
        feedback.delete(applied);
        if (f) gen.feedback(f.c, f.rules);
        applied++;
      }
      if (blocked) break;
      const c = gen.next();
      opts.onCase?.(i, c);
      stats.cases++;
      inflight.add(i);
      const job: CaseJob & CoverageRequest = { id: `${opts.seed}-c${i}`, target, case: c, coverage: opts.profile ? { profile: opts.profile } : {} };
      transport.run(job, { timeoutMs }).then(
        (res) => handle({ index: i, c, res }),
        (e) => handle({ index: i, c, res: { id: job.id, fault: `transport: ${(e as Error).message}` } }),
      );
    }
    if (ms() - lastProgress > 250) { lastProgress = ms(); progress(); }
    if (inflight.size === 0 && (stopReason || stats.cases >= maxCases)) break;
    if (stopReason && opts.signal?.aborted) break; // interrupted: do not wait for in-flight cases
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
