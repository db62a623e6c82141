// Buckets of violations by signature (bit, severity, rule, op kind, entry class — computed by
// check's `signature()`): hit counts and the smallest reproducer seen for each bucket.
import type { Case } from '../ops/schema.ts';
import type { Violation } from '../check/types.ts';
import { canonicalJson } from './canon.ts';

export interface Bucket {
  signature: string;
  hits: number;
  /** smallest reproducer so far (minimized when the campaign got to it) */
  case: Case;
  minimized: boolean;
  /** one example violation, for reports */
  example: Violation;
  /** case index (in generation order) of the first hit */
  firstIndex: number;
  /** ms since campaign start of the first hit */
  firstMs: number;
  /** k/N reliability of the minimized reproducer on non-deterministic targets */
  reliability?: { ok: number; runs: number };
}

/** Size order of reproducers: fewer ops, then fewer pages touched, then shorter canonical JSON (name ignored). */
export function caseSize(c: Case): [number, number, number] {
  let pages = 0;
  for (const op of c.ops) {
    if (op.op === 'mmap') pages += op.pages;
    else if ('count' in op && typeof op.count === 'number') pages += op.count;
  }
  const { name: _name, ...rest } = c;
  return [c.ops.length, pages, canonicalJson(rest).length];
}

export function smaller(a: Case, b: Case): boolean {
  const x = caseSize(a), y = caseSize(b);
  for (let i = 0; i < 3; i++) if (x[i] !== y[i]) return x[i]! < y[i]!;
  return false;
}

export class Dedup {
  private readonly buckets = new Map<string, Bucket>();

  get size(): number { return this.buckets.size; }
  has(sig: string): boolean { return this.buckets.has(sig); }
  get(sig: string): Bucket | undefined { return this.buckets.get(sig); }
  all(): Bucket[] { return [...this.buckets.values()]; }

  /**
   * Record one failing case: every distinct signature among its violations gets a hit. Returns
   * the signatures that opened a new bucket.
   */
  record(c: Case, violations: Violation[], sig: (v: Violation) => string, at: { index: number; ms: number }): string[] {
    const fresh: string[] = [];
    const seen = new Set<string>();
    for (const v of violations) {
      const s = sig(v);
      if (seen.has(s)) continue;
      seen.add(s);
      const b = this.buckets.get(s);
      if (!b) {
        this.buckets.set(s, { signature: s, hits: 1, case: c, minimized: false, example: v, firstIndex: at.index, firstMs: at.ms });
        fresh.push(s);
      } else {
        b.hits++;
        if (!b.minimized && smaller(c, b.case)) b.case = c;
      }
    }
    return fresh;
  }

  /** Offer a (minimized) reproducer for a bucket: kept if smaller, or if the bucket had none minimized. */
  offer(sig: string, c: Case, minimized: boolean): boolean {
    const b = this.buckets.get(sig);
    if (!b) return false;
    if ((minimized && !b.minimized) || (minimized === b.minimized && smaller(c, b.case))) {
      b.case = c;
      b.minimized = b.minimized || minimized;
      return true;
    }
    return false;
  }
}
