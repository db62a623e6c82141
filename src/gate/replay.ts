// Corpus replay for the gate (src/gate/gate.ts): run every corpus case once on the target, judge
// its trace against the reference (its signature is its first divergence, src/findings/), and say
// per case pass / fail / skip / error. A bad file or a faulting case is an infrastructure error,
// never a pass; a case whose asserted bits were all masked is a SKIP with the reason.
import type { Case } from '../ops/schema.ts';
import type { Trace } from '../ops/trace.ts';
import type { Transport } from '../transport/transport.ts';
import type { Checker, CheckOutcome } from '../campaign/checker.ts';
import { loadCorpus } from '../campaign/corpus.ts';
import { rootInfo, type RootInfo } from '../findings/title.ts';
import type { CorpusResult } from '../report/run.ts';

export type CaseRun = { trace?: Trace; fault?: string };
export type RunCase = (c: Case) => Promise<CaseRun>;

/** One case on the transport; a missing trace or a trace fault is a fault. */
export function caseRunner(transport: Transport, target: string, timeoutMs = 10_000): RunCase {
  let seq = 0;
  return async (c) => {
    const r = await transport.run({ id: `gate-${seq++}`, target, case: c }, { timeoutMs });
    if (r.fault) return { fault: r.fault };
    if (!r.trace) return { fault: 'no trace' };
    if (r.trace.fault) return { trace: r.trace, fault: r.trace.fault };
    return { trace: r.trace };
  };
}

export interface Judged { out: CheckOutcome; info?: RootInfo; sig?: string }

/** The case's verdict and signature: its first divergence (src/findings/signature.ts). */
export function judge(checker: Checker, c: Case, trace: Trace): Judged {
  const out = checker.check(c, trace);
  const info = out.fault || out.skipped ? undefined : rootInfo(out.violations, c);
  return { out, info, sig: info ? checker.signature(info.root) : undefined };
}

/** A failing corpus case: its signature, root violation and the case itself. */
export interface ReplayHit { sig: string; info: RootInfo; c: Case; path: string }

export interface ReplayOptions {
  dirs: string[];
  runCase: RunCase;
  checker: Checker;
  /** cases replayed at once (the transport's concurrency) */
  concurrency: number;
  /** receives every infrastructure error */
  errors: string[];
}

/** Replay the corpus; results in corpus order, in parallel up to `concurrency`. */
export async function replayCorpus(o: ReplayOptions): Promise<{ results: CorpusResult[]; hits: ReplayHit[] }> {
  const entries = await loadCorpus(o.dirs).catch((e: Error) => { o.errors.push(`corpus: ${e.message}`); return []; });
  const one = async (e: (typeof entries)[number]): Promise<{ r: CorpusResult; hit?: ReplayHit }> => {
    const s0 = performance.now();
    const ms = () => Math.round(performance.now() - s0);
    if (!e.case) {
      o.errors.push(`bad corpus file ${e.path}: ${e.error}`);
      return { r: { path: e.path, status: 'error', signatures: [], message: e.error, ms: 0 } };
    }
    const base = { path: e.path, name: e.case.name };
    const r = await o.runCase(e.case);
    if (r.fault || !r.trace) {
      o.errors.push(`corpus case ${e.path} faulted: ${r.fault}`);
      return { r: { ...base, status: 'error', signatures: [], message: r.fault, ms: ms() } };
    }
    if (r.trace.skipped) return { r: { ...base, status: 'skip', signatures: [], message: r.trace.skipped, ms: ms() } };
    const { out, info, sig } = judge(o.checker, e.case, r.trace);
    if (out.fault) {
      o.errors.push(`corpus case ${e.path}: ${out.fault}`);
      return { r: { ...base, status: 'error', signatures: [], message: out.fault, ms: ms() } };
    }
    // every bit the case asserts was masked: a SKIP, with the reason (never a silent pass)
    if (out.skipped) return { r: { ...base, status: 'skip', signatures: [], message: out.skipped, ms: ms() } };
    return {
      r: { ...base, status: sig ? 'fail' : 'pass', signatures: sig ? [sig] : [], ...(info ? { title: info.title, message: info.line } : {}), ms: ms() },
      ...(sig && info ? { hit: { sig, info, c: e.case, path: e.path } } : {}),
    };
  };
  const done: Awaited<ReturnType<typeof one>>[] = new Array(entries.length);
  let next = 0;
  await Promise.all(Array.from({ length: Math.max(1, Math.min(o.concurrency, entries.length)) }, async () => {
    while (next < entries.length) { const i = next++; done[i] = await one(entries[i]); }
  }));
  return { results: done.map((d) => d.r), hits: done.flatMap((d) => (d.hit ? [d.hit] : [])) };
}
