// The verdict of comparing a trace with the reference model's prediction.
import type { EntryClass } from '../model/api.ts';
import type { OpName } from '../ops/schema.ts';

/** data: a process reads a value other than the one x86 keeps there (the content oracle: the
 *  data itself is gone or wrong, worse than a bit that could lose it); lost: a written page
 *  reported clean (CRIU would lose data); spurious: a clean page reported written;
 *  wp-lost: uffd-wp protection missing where x86 keeps it; wp-stale: protection present where x86 dropped it;
 *  mismatch: any other difference (present/swap/file/exclusive bits, rc, scan categories, events). */
export type Severity = 'data' | 'lost' | 'spurious' | 'wp-lost' | 'wp-stale' | 'mismatch';
/** Severities from the worst: where severities are ordered (buckets, reports, the gate), data first. */
export const SEVERITY_ORDER: readonly Severity[] = ['data', 'lost', 'wp-lost', 'spurious', 'wp-stale', 'mismatch'];
export const severityRank = (s: Severity | string): number => { const i = SEVERITY_ORDER.indexOf(s as Severity); return i < 0 ? SEVERITY_ORDER.length : i; };

export interface Violation {
  /** data: a value read back differs (the content oracle, src/model/content.ts) */
  kind: 'bit' | 'scan' | 'rc' | 'event' | 'data';
  step: number;
  op: OpName;
  proc?: number;
  region?: string;
  page?: number;
  /** pagemap letter (P S F E W D), scan letter, 'rc', 'events' or 'content' */
  bit: string;
  expected: string;
  actual: string;
  /** model rules behind the expected value (for a pagemap bit: the read-out rule, then the entry's history) */
  rules: string[];
  /** the most specific rule: the one the op of this step applied to this entry (else the op's own
   *  rule family); what signatures and titles name. Absent in synthetic violations: the last of `rules`. */
  rule?: string;
  severity: Severity;
  /** the hidden per-VMA decision that set up the diverging state, when the reference explains the
   *  divergence by one (src/check/decisions.ts): its rule, e.g. R-REG-1; signatures and titles name it */
  decision?: string;
  entry?: EntryClass;
  /** for a PAGEMAP_SCAN page one side reports and the other does not (or, in a WP_MATCHING scan
   *  without an output vector, a hole one side arms and the other does not): the category letter
   *  x86's mask test turned on for the page, and x86's value of it (src/check/scan-rules.ts). The
   *  signature keys on it: a page left out for lacking WRITTEN is the same divergence as a page
   *  reported without it */
  decidedBy?: { letter: string; value: '0' | '1' };
  /** one line in words */
  message: string;
}

/** Bits compared and masked (the target showed `?`, or cannot show the kind) for one bit kind. */
export interface BitCount { compared: number; masked: number }

/** Bit kinds counted in a verdict: the six pagemap bits by name, PAGEMAP_SCAN categories as
 *  `scan:NAME`, return codes as `rc`, uffd event lists as `events`, values read back as `content`
 *  (masked: read where the model maps no page, so it cannot say what the page holds). */
export type BitCounts = Record<string, BitCount>;

export interface Verdict {
  /** no violation and no fault (a SKIP is ok: nothing was found wrong) */
  ok: boolean;
  /** number of bits (and scan categories, rcs) compared */
  compared: number;
  /** compared and masked bits per bit kind (only kinds that occurred) */
  bits: BitCounts;
  violations: Violation[];
  /** a SKIP, with the reason: the target did not run the case (missing capability), or every
   *  bit the case asserts was masked (see assertedKinds in check.ts) */
  skipped?: string;
  /** the target faulted (executor hang/crash): not a verdict on the kernel */
  fault?: string;
  /** what the model assumed where the trace did not say (printed with the verdict) */
  assumed?: string[];
}
