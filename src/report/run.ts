// The stored run directory's format (gate.json): what `ptefarm gate` and `ptefarm fuzz --out`
// (src/gate/) write and every report (junit, ktap, markdown, html) reads. Types only, plus the
// format tag: the reports depend on this file, never on the code that produced the run.
import type { TargetInfo } from '../ops/trace.ts';
import type { Summary } from '../campaign/campaign.ts';

export const GATE_FORMAT = 'ptefarm-gate/1';

export type CorpusStatus = 'pass' | 'fail' | 'known' | 'flaky' | 'skip' | 'error';

export interface CorpusResult {
  path: string;
  name?: string;
  status: CorpusStatus;
  /** the case's signature (its first divergence), when it failed; [] otherwise */
  signatures: string[];
  /** the bucket title, when it failed */
  title?: string;
  /** the root violation at the first diverging step (or the error / skip reason) in words */
  message?: string;
  /** compared and masked bits per bit kind, when it ran */
  bits?: Record<string, { compared: number; masked: number }>;
  ms: number;
}

export type BucketStatus = 'new' | 'baseline' | 'flaky';

export interface GateBucket {
  signature: string;
  /** one line, syzbot style (src/findings/title.ts), from the case this bucket stores */
  title: string;
  /** where the bucket was found: a corpus file path, or "campaign" */
  source: string;
  status: BucketStatus;
  /** baseline reason (status baseline) */
  reason?: string;
  hits: number;
  ops: number;
  minimized: boolean;
  /** runs of the case that showed the signature again, out of `runs` */
  reproduced: number;
  runs: number;
  /** the root violation at the first diverging step of the stored case, in words */
  example: string;
  /** that step, in the stored case (case_file) */
  step: number;
  /** violations at later steps of the stored case: consequences, not buckets */
  consequences: number;
  /** the case, relative to the run directory */
  case_file: string;
  /** the trace of one reproducing (or, failing that, the last) re-run, relative to the run directory */
  trace_file?: string;
}

export interface TimelinePoint { t: number; cases: number }

export interface GateRun {
  format: typeof GATE_FORMAT;
  target: string;
  target_info?: TargetInfo;
  profile?: string;
  seed: number;
  started: string;
  elapsed_s: number;
  budget: { cases?: number; duration_ms?: number };
  reproduce_runs: number;
  corpus_dirs: string[];
  /** the signature scheme of every signature in this run (src/findings/signature.ts SIGNATURE_VERSION;
   *  absent in run directories older than it: scheme 1) */
  signature_version?: number;
  /** `rekeyed`: baseline patterns written under an older signature scheme, as read today */
  baseline?: { file: string; entries: number; rekeyed?: { written: string; now: string }[] };
  verdict: 'pass' | 'fail' | 'error';
  exit_code: 0 | 1 | 2;
  /** why the gate passed or failed, one sentence each */
  reasons: string[];
  /** infrastructure errors */
  errors: string[];
  corpus: CorpusResult[];
  campaign?: Omit<Summary, 'buckets'> & { buckets: number };
  timeline: TimelinePoint[];
  /** the first faults of the campaign (case index -1: during minimization or saving) */
  faults: { index: number; fault: string }[];
  buckets: GateBucket[];
}
