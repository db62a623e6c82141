// Root-cause signatures: one bucket per root cause. A failing case's signature comes from its FIRST
// divergence — the earliest diverging step, and at it one root violation chosen by a fixed order —
// naming the kind, the bit, the direction, the most specific rule (Violation.rule, chosen by the
// check), the op of that step (the op that created the diverging state: before it every bit
// matched) and the entry class. Later divergences of the same case are its consequences: reported,
// never bucketed. The campaign, the minimizer's predicate, the gate, fuzz run directories and the
// replay/check commands all call `caseSignature`, so a minimized case reproduces its own signature
// at its own first diverging step.
import type { Violation } from '../check/types.ts';

export interface FirstDivergence {
  /** the earliest step with a violation */
  step: number;
  /** the violation the signature is made of */
  root: Violation;
  /** every violation at that step (the root first) */
  atStep: Violation[];
  /** violations at later steps: consequences, not buckets */
  consequences: Violation[];
}

const KIND_ORDER: Record<Violation['kind'], number> = { rc: 0, bit: 1, scan: 2, event: 3 };
// the tracked bits first: a uffd-wp or soft-dirty divergence is what the case is about
const BIT_ORDER = ['W', 'D', 'P', 'S', 'F', 'E'];
const bitRank = (b: string) => { const i = BIT_ORDER.indexOf(b); return i < 0 ? BIT_ORDER.length : i; };
// when one op makes pages of several entry classes diverge, the bucket takes the most ordinary
// one present (a 4 KiB PTE before a THP, a mapped page before a swap entry, marker or hole), so the
// same bug hit with a different mix of pages lands in the same bucket
const ENTRY_ORDER = ['pte', 'pte-thp', 'huge', 'zero', 'huge-zero', 'swap', 'marker', 'none', 'gap'];
const entryRank = (e: string | undefined) => { const i = e === undefined ? -1 : ENTRY_ORDER.indexOf(e); return i < 0 ? ENTRY_ORDER.length : i; };

/** Total order of violations at one step: kind, bit, direction, entry class, process, region, page. */
export function compareAtStep(a: Violation, b: Violation): number {
  return KIND_ORDER[a.kind] - KIND_ORDER[b.kind]
    || bitRank(a.bit) - bitRank(b.bit) || (a.bit < b.bit ? -1 : a.bit > b.bit ? 1 : 0)
    || direction(a).localeCompare(direction(b))
    || entryRank(a.entry) - entryRank(b.entry)
    || (a.proc ?? -1) - (b.proc ?? -1)
    || (a.region ?? '').localeCompare(b.region ?? '')
    || (a.page ?? -1) - (b.page ?? -1);
}

export function firstDivergence(vs: readonly Violation[]): FirstDivergence | undefined {
  if (!vs.length) return undefined;
  const step = Math.min(...vs.map((v) => v.step));
  const atStep = vs.filter((v) => v.step === step).sort(compareAtStep);
  return { step, root: atStep[0]!, atStep, consequences: vs.filter((v) => v.step !== step) };
}

/** Which way a bit went: the severity for soft-dirty/uffd-wp/WRITTEN; set/cleared for other bits;
 *  reported/unreported for a scan category one side leaves out; mismatch for rc and events. */
export function direction(v: Violation): string {
  if (v.severity !== 'mismatch' || (v.kind !== 'bit' && v.kind !== 'scan')) return v.severity;
  if (v.actual === '-' || v.expected === '-') return v.actual === '-' ? 'unreported' : 'reported';
  if (v.expected === '0' && v.actual === '1') return 'set';
  if (v.expected === '1' && v.actual === '0') return 'cleared';
  return 'mismatch';
}

/** The signature of one violation: kind.bit.direction.rule.op.entry (baseline patterns match it). */
export function signature(v: Violation): string {
  const rule = v.rule ?? v.rules[v.rules.length - 1] ?? 'none';
  return `${v.kind}.${v.bit}.${direction(v)}.${rule}.${v.op}.${v.entry ?? 'na'}`;
}

/** The signature of a failing case (its first divergence's root), or undefined when it passes. */
export function caseSignature(vs: readonly Violation[], sig: (v: Violation) => string = signature): string | undefined {
  const f = firstDivergence(vs);
  return f ? sig(f.root) : undefined;
}
