// Root-cause signatures: one bucket per root cause. A failing case's signature comes from its FIRST
// divergence — the earliest diverging step, and at it one root violation — naming the kind, the
// bit, the direction, the most specific rule (Violation.rule, chosen by the check: the rule that
// created the diverging state at that step) and the coarse entry kind (a page-holding entry or an
// empty one). Deliberately NOT the op of the step: one rule is applied under many ops (a THP split
// happens inside mprotect, MADV_DONTNEED, a write fault, UFFDIO_WRITEPROTECT...), and one bug
// bucketed per op was the main source of one-bug-many-buckets (issue 12); the rule already names
// the kernel path, the title still names the op. Later divergences of the same case are its
// consequences: reported, never bucketed. The campaign, the minimizer's predicate, the gate, fuzz
// run directories and the replay/check commands all call `caseSignature`, so a minimized case
// reproduces its own signature at its own first diverging step.
import type { Violation } from '../check/types.ts';
import { decisionKind, entryHoldsPage, readOutOnly } from '../check/decisions.ts';
import { BIT_NAMES, SCAN_NAMES } from '../ops/trace.ts';
import { own } from '../ops/records.ts';
import { ALL_RULES } from '../model/catalogue.ts';

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

// a wrong value read back (data) ranks first: the data itself is gone, worse than a bit that could lose it;
// scan categories before pagemap bits: PAGEMAP_SCAN computes a page's categories from the state
// before its own arming, and arms by them (pagemap_scan_pmd_entry arms what it reports WRITTEN), so
// a category that differs comes first and explains a uffd-wp bit the scan then (did not) set
const KIND_ORDER: Record<Violation['kind'], number> = { data: 0, rc: 1, scan: 2, bit: 3, event: 4 };
// the tracked bits first: a uffd-wp or soft-dirty divergence is what the case is about — after the
// guard bit: a guard marker on one side only is the entry itself differing (pagemap bit 58 is
// is_guard_pte_marker), and pte_to_pagemap_entry reads the marker's swap and uffd-wp bits off it, so
// whether a dropped guard marker had been armed by a scan (R-PMS-9) must not decide the bucket
const BIT_ORDER = ['G', 'W', 'D', 'P', 'S', 'F', 'E'];
const bitRank = (b: string) => { const i = BIT_ORDER.indexOf(b); return i < 0 ? BIT_ORDER.length : i; };
// when one op makes pages of several entry classes diverge, the bucket takes the most ordinary
// one present (a 4 KiB PTE before a THP, a mapped page before a swap entry, marker or hole), so the
// same bug hit with a different mix of pages lands in the same bucket
const ENTRY_ORDER = ['pte', 'pte-thp', 'huge', 'zero', 'huge-zero', 'swap', 'marker', 'guard', 'none', 'gap'];
// except for soft-dirty: on pte_none it can only come from the VMA's VM_SOFTDIRTY (pagemap reads
// the flag for every page of the VMA: fs/proc/task_mmu.c pte_to_pagemap_entry, pagemap_pte_hole),
// so a soft-dirty divergence shown on pte_none is the VMA's, and the same divergence on the VMA's
// pages at that step is taken to be the flag's too (whatever the mix of faulted pages)
const entryRank = (e: string | undefined, bit?: string) => {
  if (bit === 'D' && e === 'none') return -1;
  const i = e === undefined ? -1 : ENTRY_ORDER.indexOf(e); return i < 0 ? ENTRY_ORDER.length : i;
};

/** The letter a violation is about: for a scan page one side reports and the other does not, the
 *  category letter x86's mask test turned on (Violation.decidedBy), else its bit. */
export function shownBit(v: Violation): string {
  return v.decidedBy?.letter ?? v.bit;
}

/** The kind a violation is bucketed as: a page the scan's mask test decided (Violation.decidedBy)
 *  is a scan divergence whichever way the trace shows it — its reporting, or its arming where the
 *  scan has no output vector (src/check/scan-rules.ts holeArmedByMasks). */
export function shownKind(v: Violation): Violation['kind'] {
  return v.decidedBy ? 'scan' : v.kind;
}

/** Total order of violations at one step: kind, bit, direction, entry class, process, region, page. */
export function compareAtStep(a: Violation, b: Violation): number {
  const ab = shownBit(a), bb = shownBit(b);
  return KIND_ORDER[shownKind(a)] - KIND_ORDER[shownKind(b)]
    || bitRank(ab) - bitRank(bb) || (ab < bb ? -1 : ab > bb ? 1 : 0)
    || direction(a).localeCompare(direction(b))
    || entryRank(a.entry, a.bit) - entryRank(b.entry, b.bit)
    || (a.proc ?? -1) - (b.proc ?? -1)
    || (a.region ?? '').localeCompare(b.region ?? '')
    || (a.page ?? -1) - (b.page ?? -1);
}

/**
 * The first divergence of a case. The root is chosen in two stages: the first violation in
 * `compareAtStep` order fixes what diverged (kind, bit, direction); among the violations of that
 * kind, bit and direction, the rule that explains the most of them is the root's (ties: the earlier
 * in order). Why a majority: one op can apply a side rule to a few pages of a range it changes (the
 * page a THP split is cut at also gets the writability rule R-MPROT-3), and which page comes first
 * must not decide the bucket.
 */
export function firstDivergence(vs: readonly Violation[]): FirstDivergence | undefined {
  if (!vs.length) return undefined;
  const step = Math.min(...vs.map((v) => v.step));
  const sorted = vs.filter((v) => v.step === step).sort(compareAtStep);
  // a divergence the reference explains by a hidden per-VMA decision (Violation.decision) is that
  // decision's, whatever else the step shows: the decision set up the state the others diverge from
  const decided = sorted.find((v) => v.decision !== undefined);
  if (decided) return { step, root: decided, atStep: [decided, ...sorted.filter((v) => v !== decided)], consequences: vs.filter((v) => v.step !== step) };
  const lead = sorted[0]!;
  const same = (v: Violation) => shownKind(v) === shownKind(lead) && shownBit(v) === shownBit(lead) && direction(v) === direction(lead);
  const votes = new Map<string, number>();
  for (const v of sorted) if (same(v)) votes.set(ruleId(v), (votes.get(ruleId(v)) ?? 0) + 1);
  let root = lead;
  for (const v of sorted) if (same(v) && votes.get(ruleId(v))! > votes.get(ruleId(root))!) root = v;
  const atStep = [root, ...sorted.filter((v) => v !== root)];
  return { step, root, atStep, consequences: vs.filter((v) => v.step !== step) };
}

/** The rule a violation names: for a bit decided by the read-out alone (readOutOnly), the read-out
 *  rule (R-PM-*), whatever op last touched the range; else the most specific one the check chose,
 *  else the last of its history. */
export function ruleId(v: Violation): string {
  if (readOutOnly(v)) { const r = v.rules.find((x) => x.startsWith('R-PM-')); if (r) return r; }
  return v.rule ?? v.rules[v.rules.length - 1] ?? 'none';
}

/** The coarse entry kind a signature keys on: `page` for an entry that holds a page (a present PTE
 *  or PMD, the zero page included, or a swap entry), `empty` for one that does not (pte_none, a
 *  uffd-wp or guard marker, an address outside any VMA: decisions.ts entryHoldsPage), `na` for
 *  violations about no page (rc, events).
 *  Coarse because one bug usually hits several entry classes of the same kind (a stale uffd-wp bit
 *  on 4 KiB, THP and swapped pages alike) while the kernel handles page-holding entries and
 *  placeholders on separate paths (e.g. copy_nonpresent_pte's swap entry vs marker branches). */
export function entryKind(e: string | undefined): 'page' | 'empty' | 'na' {
  if (e === undefined) return 'na';
  return entryHoldsPage(e) ? 'page' : 'empty';
}

// Rules that set VM_SOFTDIRTY on a VMA, or keep or drop it (the catalogue text names the flag), other
// than the read-out rules (R-PM-*): pagemap ORs the flag into bit 55 of every page of the VMA
// (fs/proc/task_mmu.c pte_to_pagemap_entry, pagemap_pte_hole), so a soft-dirty divergence such a
// rule explains is the flag's whichever entries the VMA has — all faulted (B-1's merge of written
// pages) or not
const VMA_SOFTDIRTY_RULES = new Set(ALL_RULES.filter((r) => /VM_SOFTDIRTY/.test(r.text) && !r.id.startsWith('R-PM-')).map((r) => r.id));
// Rules whose kernel helper treats a page-holding entry and a placeholder alike, in one place: which
// of them a case happened to have there is no second path. mm/mremap.c move_soft_dirty_pte marks a
// present PTE and a non-present one (swap entry, uffd-wp or guard marker: is_swap_pte) in one
// function (R-MRM-1); PAGEMAP_SCAN's exclusive-WP fast path arms every entry of the table through
// make_uffd_wp_pte, present, swap, pte_none and markers alike (fs/proc/task_mmu.c
// pagemap_scan_pmd_entry, R-PMS-4)
const ENTRY_BLIND_RULES = new Set(['R-MRM-1', 'R-PMS-4']);

/** The entry kind a signature keys on: `empty` for a soft-dirty divergence a VM_SOFTDIRTY rule
 *  explains (the flag's, as on pte_none), `any` for a rule whose kernel helper handles every entry
 *  kind in one place, else the coarse entryKind. */
export function signatureEntryKind(v: Violation): string {
  const rule = ruleId(v);
  if (v.kind === 'bit' && v.bit === 'D' && VMA_SOFTDIRTY_RULES.has(rule)) return 'empty';
  if (v.entry !== undefined && ENTRY_BLIND_RULES.has(rule.split('.')[0]!)) return 'any';
  return entryKind(v.entry);
}

/** Which way a bit went: the severity for soft-dirty/uffd-wp/WRITTEN; set/cleared for other bits;
 *  reported/unreported for a scan category one side leaves out; mismatch for rc and events. */
export function direction(v: Violation): string {
  // a page one side reports (or, in a scan without an output vector, arms: scan-rules.ts
  // holeArmedByMasks): as if x86's value of the letter its mask test turned on had flipped
  if (v.decidedBy) {
    const set = v.decidedBy.value === '1';
    return v.decidedBy.letter === 'w' ? (set ? 'lost' : 'spurious') : set ? 'cleared' : 'set';
  }
  if (v.kind === 'data') return v.expected !== '0' && v.actual === '0' ? 'data-lost' : v.expected === '0' ? 'data-stale' : 'data';
  if (v.severity !== 'mismatch' || (v.kind !== 'bit' && v.kind !== 'scan')) return v.severity;
  if (v.actual === '-' || v.expected === '-') return v.actual === '-' ? 'unreported' : 'reported';
  if (v.expected === '0' && v.actual === '1') return 'set';
  if (v.expected === '1' && v.actual === '0') return 'cleared';
  return 'mismatch';
}

// The pagemap bits read off the entry's type (fs/proc/task_mmu.c pte_to_pagemap_entry: PM_PRESENT
// for a present PTE, PM_SWAP for a swap entry or marker, PM_FILE for a non-anon page, PM_MMAP_EXCLUSIVE
// from the page's mapcount): none is state an op sets on its own, they change together when an op
// installs another entry than x86 does, and which of them differs is the case's accident — a
// zero-filled subpage a folio split leaves swapped shows present cleared, one it leaves mapped as an
// anon page shows exclusive set (R-SPLIT-5: try_to_map_unused_to_zeropage not reached; M-16, M-30).
// A signature keys them as one letter, `entry`, direction `mismatch`
const ENTRY_TYPE_BITS = new Set(['P', 'S', 'F', 'E']);

/** The letter and direction a signature names: `entry`/`mismatch` for an entry-type bit. */
function signatureBitDirection(v: Violation): [string, string] {
  if (shownKind(v) === 'bit' && ENTRY_TYPE_BITS.has(shownBit(v))) return ['entry', 'mismatch'];
  return [shownBit(v), direction(v)];
}

/** The signature of one violation: kind.bit.direction.rule.entrykind (signatureEntryKind), e.g.
 *  `bit.W.wp-lost.R-PO-1.page` (baseline patterns match it); for one explained by a hidden per-VMA
 *  decision, `vma.KIND.RULE` (e.g. `vma.registration.R-REG-1`): which bit, op or entry shows a
 *  wrong registration is the case's accident, the decision is the bug's. */
export function signature(v: Violation): string {
  if (v.decision) return `vma.${decisionKind(v.decision)}.${v.decision}`;
  const [bit, dir] = signatureBitDirection(v);
  return `${shownKind(v)}.${bit}.${dir}.${ruleId(v)}.${signatureEntryKind(v)}`;
}

/** The bit kinds (verdict BitCounts keys, src/check/types.ts) a signature is about: the pagemap bit
 *  it names (`bit.D.…` -> soft-dirty; `bit.entry.…` -> present, swapped, file, exclusive), its scan category (`scan.w.…` -> scan:WRITTEN), `rc`,
 *  `events`, `content`; none for a hidden per-VMA decision (`vma.…`: it shows on whatever an op
 *  looks at next). A replayed finding compares at least these (src/check/check.ts maskedSkip): it is
 *  a SKIP only where they are masked too. */
export function signatureBitKinds(sig: string): string[] {
  const [kind, bit] = sig.split('.');
  switch (kind) {
    case 'bit': {
      if (bit === 'entry') return [...ENTRY_TYPE_BITS].map((b) => own(BIT_NAMES, b)!);
      const name = own(BIT_NAMES, bit ?? ''); return name ? [name] : [];
    }
    case 'scan': { const name = own(SCAN_NAMES, bit ?? ''); return name ? [`scan:${name}`] : bit === 'walk_end' ? ['scan:walk_end'] : []; }
    case 'rc': return ['rc'];
    case 'event': return ['events'];
    case 'data': return ['content'];
    default: return [];
  }
}

/** Where a bucket ranks among others by the severity its signature names (check/types.ts
 *  SEVERITY_ORDER): data (a wrong value read back) first, then a lost soft-dirty bit or WRITTEN
 *  category, then lost uffd-wp protection, then everything else. Reports and the gate list buckets
 *  of one status in this order. */
export function signatureRank(sig: string): number {
  const [kind, , dir] = sig.split('.');
  if (kind === 'data') return 0;
  return dir === 'lost' ? 1 : dir === 'wp-lost' ? 2 : 3;
}

// The signature scheme's version. Stored signatures (a gate baseline, a finding's finding.json, a
// promoted corpus file's finding) carry it so that a re-keying is said, not mistaken for a new or a
// vanished bug. 1: every signature written before versions were recorded. 2: the entry-type bits
// P/S/F/E are one letter `bit.entry.mismatch`; R-MRM-1 and R-PMS-4 key entry kind `any`; a soft-dirty
// divergence a VM_SOFTDIRTY rule explains keys `empty` (see ENTRY_TYPE_BITS, ENTRY_BLIND_RULES,
// VMA_SOFTDIRTY_RULES above). 3: a divergence on a page that a file/shmem PMD split emptied at that
// step names the split, R-SPLIT-3 (the model now keeps why those pages are empty, Machine.splitPmd),
// not the rule of the op whose fault split it: a write's R-FLT-10 and a populate write's R-POP-1 were
// two buckets of one root (the README campaign's seed 16). Scheme 2 keyed these on the op's rule, so
// no rewriting of the signature text can tell which of its R-FLT-*/R-POP-1 buckets were such splits:
// `currentSignature` leaves them as written (a replayed finding then shows today's key beside the
// stored one). A change to `signature` — or to the provenance it reads — that re-keys a bucket bumps
// it and teaches `currentSignature` the re-keying where the old key alone determines the new one.
// 4: a wp bit UFFDIO_UNREGISTER or close() leaves on a page it unregistered is that step's decision
// (vma.registration.R-UNREG-1 / R-CLOSE-1) also where the unregistered VMA merged with a neighbour
// whose last decision was an older one (it was named after that one, often R-REG-1: B-18, B-19).
// Which scheme-3 vma.registration.* keys were such pages the text cannot tell: read as written.
export const SIGNATURE_VERSION = 4;

/** A signature (or a baseline pattern, `*` wildcards kept) written under an older scheme, in
 *  today's: what `signature` now names the same root cause. Idempotent: a current signature comes
 *  back unchanged, so a signature of unknown version can be passed through it. The rule is read off
 *  the signature itself (kind.bit.direction.rule.entrykind; a rule id may hold dots). */
export function currentSignature(sig: string): string {
  const parts = sig.split('.');
  if (parts[0] !== 'bit' && parts[0] !== 'scan') return sig;
  if (parts[0] === 'bit' && ENTRY_TYPE_BITS.has(parts[1] ?? '')) {
    parts[1] = 'entry';
    if (parts.length > 2 && parts[2] !== '*') parts[2] = 'mismatch';
  }
  if (parts.length >= 5) {
    const rule = parts.slice(3, -1).join('.');
    const entry = parts[parts.length - 1]!;
    const blind = ENTRY_BLIND_RULES.has(rule.split('.')[0]!) && (entry === 'page' || entry === 'empty');
    if (blind) parts[parts.length - 1] = 'any';
    else if (parts[0] === 'bit' && parts[1] === 'D' && VMA_SOFTDIRTY_RULES.has(rule) && entry === 'page') parts[parts.length - 1] = 'empty';
  }
  return parts.join('.');
}

/** The signature of a failing case (its first divergence's root), or undefined when it passes. */
export function caseSignature(vs: readonly Violation[], sig: (v: Violation) => string = signature): string | undefined {
  const f = firstDivergence(vs);
  return f ? sig(f.root) : undefined;
}
