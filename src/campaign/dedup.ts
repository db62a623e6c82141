// Buckets of failing cases by root-cause signature (one per case: its first divergence, see
// src/findings/signature.ts): hit counts and the smallest reproducer seen for each bucket, always
// with the root violation, title and example line OF THAT reproducer (so every step and page a
// report prints refers to the case it prints).
import type { Case } from '../ops/schema.ts';
import type { RootInfo } from '../findings/title.ts';
import { canonicalJson } from '../ops/canon.ts';

export type { RootInfo } from '../findings/title.ts';

export interface Bucket {
  signature: string;
  hits: number;
  /** smallest reproducer so far (minimized when the campaign got to it) */
  case: Case;
  minimized: boolean;
  /** the root violation of `case`, with title and example line */
  info: RootInfo;
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

  /** Record one failing case under its signature: 'new' when it opened a bucket, 'smaller' when
   *  it became the (unminimized) bucket's reproducer, 'hit' otherwise. */
  record(c: Case, sig: string, info: RootInfo, at: { index: number; ms: number }): 'new' | 'smaller' | 'hit' {
    const b = this.buckets.get(sig);
    if (!b) {
      this.buckets.set(sig, { signature: sig, hits: 1, case: c, minimized: false, info, firstIndex: at.index, firstMs: at.ms });
      return 'new';
    }
    b.hits++;
    if (!b.minimized && smaller(c, b.case)) { b.case = c; b.info = info; return 'smaller'; }
    return 'hit';
  }

  /** Offer a (minimized) reproducer for a bucket: kept if smaller, or if the bucket had none minimized. */
  offer(sig: string, c: Case, minimized: boolean, info: RootInfo): boolean {
    const b = this.buckets.get(sig);
    if (!b) return false;
    if ((minimized && !b.minimized) || (minimized === b.minimized && smaller(c, b.case))) {
      b.case = c;
      b.info = info;
      b.minimized = b.minimized || minimized;
      return true;
    }
    return false;
  }
}
