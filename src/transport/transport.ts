// The seam between the campaign (which generates and checks) and whatever executes cases:
// the embedded piscina pool or a NATS JetStream farm. Both carry the same job and result.
import type { Case } from '../ops/schema.ts';
import type { Trace } from '../ops/trace.ts';

export interface CaseJob {
  /** unique within a campaign; results are matched (and de-duplicated) by it */
  id: string;
  /** target spec, e.g. "model:x86", "model:x86+B-3", "live", "exec:..." */
  target: string;
  case: Case;
}

export interface CaseResult {
  id: string;
  /** the trace, when the target ran the case (a trace may still carry `fault`) */
  trace?: Trace;
  /** infrastructure or executor fault: the case could not be run; never a violation */
  fault?: string;
  /** who ran it (worker id / host), for reports */
  worker?: string;
  ms?: number;
}

export interface Transport {
  run(job: CaseJob, opts?: { timeoutMs?: number }): Promise<CaseResult>;
  /** how many jobs may usefully be in flight at once */
  readonly concurrency: number;
  close(): Promise<void>;
}
