// The seam between the campaign (which generates, dedups and stores) and whatever executes cases:
// the embedded piscina pool or a NATS JetStream farm. Both carry the same job and result. A job may
// ask for the check where the case ran (`check`): the worker then answers with the verdict, the
// violations and the rules the reference used (src/transport/verdict.ts), so the coordinator makes
// no prediction of its own.
import type { Case } from '../ops/schema.ts';
import type { Trace } from '../ops/trace.ts';
import type { Violation } from '../check/types.ts';

/** What a job asks of the check made where it ran: the reference model with the campaign's kernel
 *  profile (absent: the traced kernel's, src/check/check.ts), and which traces to send back. */
export interface CheckRequest {
  profile?: string;
  /** 'failing' (default): a trace only when the case did not pass (violations or a fault);
   *  'all': every trace */
  traces?: 'failing' | 'all';
}

/** The check of one case, made where it ran (the coordinator's checker makes the same one). */
export interface CaseVerdict {
  /** no violation and no fault (a SKIP passes) */
  ok: boolean;
  violations: Violation[];
  /** per op, the rule ids the reference exercised (coverage); empty when nothing was predicted */
  step_rules: string[][];
  /** a SKIP, with the reason */
  skipped?: string;
  /** the trace does not fit its case, or the check itself failed: a fault, never a verdict */
  fault?: string;
  /** the kernel profile the prediction used */
  profile?: string;
  /** sha-256 (32 hex) of the checked trace's JSON, when the trace is sent with the verdict (which
   *  then must be this one); a passing case's verdict, sent alone, does without (it costs a
   *  serialization of the whole trace per case) */
  trace_digest?: string;
}

export interface CaseJob {
  /** unique within a campaign; results are matched (and de-duplicated) by it */
  id: string;
  /** target spec, e.g. "model:x86", "model:x86+B-3", "live", "exec:..." */
  target: string;
  case: Case;
  /** check the trace where the case ran (absent: return the trace only) */
  check?: CheckRequest;
}

export interface CaseResult {
  id: string;
  /** the trace, when the target ran the case (a trace may still carry `fault`) */
  trace?: Trace;
  /** infrastructure or executor fault: the case could not be run; never a violation */
  fault?: string;
  /** the check made where the case ran, when the job asked for it */
  verdict?: CaseVerdict;
  /** who ran it (worker id / host), for reports */
  worker?: string;
  ms?: number;
}

export interface Transport {
  run(job: CaseJob, opts?: { timeoutMs?: number }): Promise<CaseResult>;
  /** how many jobs may usefully be in flight at once */
  readonly concurrency: number;
  /** jobs it holds at once when more than `concurrency` (an embedded pool's threads each hold a few) */
  readonly slots?: number;
  close(): Promise<void>;
}
