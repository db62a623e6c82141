// The verdict of comparing a trace with the reference model's prediction.
import type { EntryClass } from '../model/api.ts';
import type { OpName } from '../ops/schema.ts';

/** lost: a written page reported clean (CRIU would lose data); spurious: a clean page reported written;
 *  wp-lost: uffd-wp protection missing where x86 keeps it; wp-stale: protection present where x86 dropped it;
 *  mismatch: any other difference (present/swap/file/exclusive bits, rc, scan categories, events). */
export type Severity = 'lost' | 'spurious' | 'wp-lost' | 'wp-stale' | 'mismatch';

export interface Violation {
  kind: 'bit' | 'scan' | 'rc' | 'event';
  step: number;
  op: OpName;
  proc?: number;
  region?: string;
  page?: number;
  /** pagemap letter (P S F E W D), scan letter, 'rc' or 'events' */
  bit: string;
  expected: string;
  actual: string;
  /** model rules behind the expected value */
  rules: string[];
  severity: Severity;
  entry?: EntryClass;
  /** one line in words */
  message: string;
}

export interface Verdict {
  ok: boolean;
  /** number of bits (and scan categories, rcs) compared */
  compared: number;
  violations: Violation[];
  /** the target did not run the case (missing capability), with the reason */
  skipped?: string;
  /** the target faulted (executor hang/crash): not a verdict on the kernel */
  fault?: string;
  /** what the model assumed where the trace did not say (printed with the verdict) */
  assumed?: string[];
}
