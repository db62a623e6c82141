// What a maintainer reads first: a syzbot-style one-line title per bucket, made from the root
// violation, the case (what kind of memory the region is) and the rule catalogue (rule id and the
// kernel function it mirrors), e.g. "uffd-wp lost on swap-out of anon PTE (R-PO-1, mm/rmap.c
// try_to_unmap_one)"; and violations grouped into page ranges (`p0 a[0..512)`, the case text
// form's range notation) so one THP is one line, not 512. Used by the campaign (bucket summaries),
// the gate and every report, and the check command.
import type { Case, Op } from '../ops/schema.ts';
import { BIT_NAMES, SCAN_NAMES, type BitLetter, type ScanLetter } from '../ops/trace.ts';
import { formatOp } from '../ops/text.ts';
import { ALL_RULES } from '../model/catalogue.ts';
import { describeValue } from '../model/content.ts';
import type { Rule } from '../model/rules.ts';
import type { Violation } from '../check/types.ts';
import { direction, firstDivergence, ruleId, shownBit } from './signature.ts';
import { decisionKind } from '../check/decisions.ts';

const RULES = new Map<string, Rule>(ALL_RULES.map((r) => [r.id, r]));

/** The catalogue entry of a rule id (a fine scan id falls back to its parent). */
export function ruleOf(id: string | undefined): Rule | undefined {
  if (!id) return undefined;
  return RULES.get(id) ?? RULES.get(id.split('.')[0]!);
}

/** "mm/rmap.c try_to_unmap_one" from a rule source listing several functions. */
function kernelFunction(r: Rule): string {
  return r.source.split(/,\s*/)[0]!.replace(/\s*\(.*$/, '').trim();
}

const OP_PHRASE: Record<Op['op'], string> = {
  mmap: 'mmap', munmap: 'munmap', mremap: 'mremap', mprotect: 'mprotect', read: 'read fault', write: 'write fault',
  fork: 'fork', exit: 'exit', clear_refs: 'clear_refs', pageout: 'swap-out', dontneed: 'MADV_DONTNEED',
  collapse: 'MADV_COLLAPSE', split: 'THP split', uffd_register: 'UFFDIO_REGISTER', uffd_unregister: 'UFFDIO_UNREGISTER',
  wp: 'UFFDIO_WRITEPROTECT', scan: 'PAGEMAP_SCAN', populate: 'MADV_POPULATE', close_uffd: 'close of the userfaultfd',
  guard: 'MADV_GUARD_INSTALL', unguard: 'MADV_GUARD_REMOVE',
};
const ENTRY_PHRASE: Record<string, string> = {
  none: 'empty PTE', pte: 'PTE', zero: 'zero-page PTE', huge: 'huge PMD', 'huge-zero': 'huge zero PMD',
  'pte-thp': 'PTE-mapped THP', swap: 'swap entry', marker: 'uffd-wp marker', guard: 'guard marker', gap: 'unmapped page',
};
const KIND_PHRASE: Record<string, string> = { anon: 'anon', 'shared-anon': 'shared anon', 'memfd-shared': 'shmem', 'memfd-private': 'private memfd' };
const SWAP_IN_RULES = new Set(['R-SWIN-1', 'R-FLT-11', 'R-DATA-5']);

/** The mapping kind of a region as of a step (mmap names it; mremap's `old` range keeps it). */
export function regionKind(c: Case, region: string, step: number): string | undefined {
  const kinds = new Map<string, string>();
  c.ops.slice(0, step + 1).forEach((op) => {
    if (op.op === 'mmap') kinds.set(op.region, op.kind);
    // with dontunmap, `old` names the range left behind: the same mapping kind
    else if (op.op === 'mremap' && op.old !== undefined && kinds.has(op.region)) kinds.set(op.old, kinds.get(op.region)!);
  });
  return kinds.get(region);
}

function what(v: Violation): string {
  const d = direction(v);
  if (v.kind === 'bit') {
    const name = BIT_NAMES[v.bit as BitLetter] ?? v.bit;
    if (d === 'lost' || d === 'wp-lost') return `${name} lost`;
    if (d === 'spurious') return `${name} set spuriously`;
    if (d === 'wp-stale') return `${name} left set`;
    return `${name} bit ${d === 'set' ? 'set' : d === 'cleared' ? 'cleared' : 'differs'}`;
  }
  if (v.kind === 'scan' && v.decidedBy) {
    // a page one side reports, by the category its mask test turned on
    const name = `PAGEMAP_SCAN ${SCAN_NAMES[shownBit(v) as ScanLetter] ?? shownBit(v)}`;
    const seen = v.actual === '-' ? 'page not reported' : 'page reported';
    return d === 'lost' || d === 'cleared' ? `${name} missing (${seen})` : `${name} reported spuriously (${seen})`;
  }
  if (v.kind === 'scan') {
    const name = `PAGEMAP_SCAN ${SCAN_NAMES[v.bit as ScanLetter] ?? v.bit}`;
    if (d === 'unreported') return `${name} not reported`;
    if (d === 'reported') return `${name} reported`;
    if (d === 'lost' || d === 'cleared') return `${name} missing`;
    return `${name} ${d === 'spurious' || d === 'set' ? 'reported spuriously' : 'differs'}`;
  }
  if (v.kind === 'data') return d === 'data-lost' ? 'data lost' : d === 'data-stale' ? 'stale data read' : 'wrong data read';
  if (v.kind === 'rc') return 'return code differs';
  return 'uffd events differ';
}

const FAULT_OPS = new Set<Op['op']>(['read', 'write', 'populate']);
// rule families a fault applies to the faulting entry itself (not a side effect such as a THP split)
const FAULT_FAMILIES = new Set(['R-FLT', 'R-ASYNC', 'R-SYNC', 'R-POP', 'R-WP']);
// earlier faults on the entry (the read fault that mapped the page before a write, the populate
// that ran a write fault) are the fault's own history, not what set the entry up
const FAULTS_BEFORE = new Set(['R-FLT', 'R-ASYNC', 'R-SYNC', 'R-POP', 'R-SWIN']);
const family = (id: string) => id.split('.')[0]!.replace(/-[^-]*$/, '');

/**
 * For a pagemap bit diverging at a fault (read, write, populate): the rule that last changed the entry before
 * the fault — the state the fault acted on. A fault only does what the entry left by an earlier op
 * lets it do (a write to a PTE that an earlier mprotect or clear_refs should have left read-only
 * takes no fault and sets no soft-dirty), so the earlier op's rule is where the bug is likely to be
 * (B-3: do_wp_page never runs because can_change_pte_writable made the PTE writable). Taken from
 * the bit's history (Violation.rules, oldest first): the latest rule before the root rule that is
 * neither a pagemap read-out rule (R-PM-*), nor a fault (FAULTS_BEFORE), nor of the root rule's own
 * family. Undefined for other ops, for
 * a root rule that is a side effect of the fault rather than the fault itself (a THP split), and
 * for a swap-in, which faults whatever set the entry up.
 */
export function setupRule(v: Violation): string | undefined {
  const root = ruleId(v);
  if (v.kind !== 'bit' || !FAULT_OPS.has(v.op) || !FAULT_FAMILIES.has(family(root)) || SWAP_IN_RULES.has(root)) return undefined;
  const chain = v.rules;
  let i = chain.lastIndexOf(root);
  if (i < 0) i = chain.length;
  for (let j = i - 1; j >= 0; j--) {
    const r = chain[j]!;
    if (r.startsWith('R-PM-') || FAULTS_BEFORE.has(family(r)) || family(r) === family(root)) continue;
    return r;
  }
  return undefined;
}

/** The bucket title of a root violation of case `c` (the case the bucket prints): what diverged on
 *  which op and entry, the rule and kernel function; at a fault, also the rule and function that
 *  set the entry up (setupRule), e.g. "soft-dirty lost on write fault of anon PTE (R-FLT-8,
 *  mm/memory.c do_wp_page; set up by R-MPROT-3, mm/mprotect.c can_change_pte_writable)". */
export function titleOf(v: Violation, c?: Case): string {
  if (v.decision) return decisionTitle(v, c);
  const rule = ruleOf(ruleId(v));
  const op = SWAP_IN_RULES.has(rule?.id ?? '') && (v.op === 'read' || v.op === 'write') ? 'swap-in' : OP_PHRASE[v.op] ?? v.op;
  let where = '';
  if (v.kind === 'bit' || v.kind === 'scan' || v.kind === 'data') {
    const kind = c && v.region !== undefined ? regionKind(c, v.region, v.step) : undefined;
    const entry = v.entry ? ENTRY_PHRASE[v.entry] ?? v.entry : undefined;
    const parts = [kind ? KIND_PHRASE[kind] ?? kind : undefined, entry].filter(Boolean);
    if (parts.length) where = ` of ${parts.join(' ')}`;
  }
  const setupId = setupRule(v);
  const setup = setupId ? ruleOf(setupId) : undefined;
  const after = setup ? `; set up by ${setup.id}, ${kernelFunction(setup)}` : setupId ? `; set up by ${setupId}` : '';
  const cite = rule ? ` (${rule.id}, ${kernelFunction(rule)}${after})` : v.rule ? ` (${v.rule}${after})` : '';
  return `${what(v)} on ${op}${where}${cite}`;
}

const DECISION_PHRASE = { registration: "the VMA's uffd-wp registration", 'wp-allowed': "PAGEMAP_SCAN's WP-allowed decision for the VMA" } as const;

/** The title of a root explained by a hidden per-VMA decision: the decision first, then how this
 *  case showed it, e.g. "contrary to the VMA's uffd-wp registration (R-REG-1, fs/userfaultfd.c
 *  userfaultfd_register): return code differs on UFFDIO_WRITEPROTECT". "Contrary to", not "wrong":
 *  the kernel may have decided wrong, or decided right and not followed it (B-11). */
function decisionTitle(v: Violation, c?: Case): string {
  const d = v.decision!;
  const rule = ruleOf(d);
  const seen = titleOf({ ...v, decision: undefined }, c).replace(/ \(.*\)$/, '');
  return `contrary to ${DECISION_PHRASE[decisionKind(d)]} (${rule ? `${rule.id}, ${kernelFunction(rule)}` : d}): ${seen}`;
}

/** The title of a failing case (its first divergence), or undefined when it passes. */
export function caseTitle(vs: readonly Violation[], c?: Case): string | undefined {
  const f = firstDivergence(vs);
  return f ? titleOf(f.root, c) : undefined;
}

/** Violations of one step that differ only in the page, over a run of consecutive pages. */
export interface ViolationGroup { first: Violation; firstPage?: number; lastPage?: number; count: number }

const groupKey = (v: Violation) => JSON.stringify([v.step, v.kind, v.bit, v.proc ?? null, v.region ?? null, v.expected, v.actual, v.rule ?? null, v.severity, v.entry ?? null, v.rules]);

/** Group violations (kept in order) into runs of consecutive pages with everything else equal. */
export function groupViolations(vs: readonly Violation[]): ViolationGroup[] {
  const out: ViolationGroup[] = [];
  const open = new Map<string, ViolationGroup>();
  for (const v of vs) {
    const k = groupKey(v);
    const g = open.get(k);
    if (g && v.page !== undefined && g.lastPage !== undefined && v.page === g.lastPage + 1) { g.lastPage = v.page; g.count++; continue; }
    const n: ViolationGroup = { first: v, firstPage: v.page, lastPage: v.page, count: 1 };
    out.push(n);
    open.set(k, n);
  }
  return out;
}

/** `a[3]` or `a[0..512)`: the case text form's range notation. */
export function pageRange(region: string, first: number, last: number): string {
  return first === last ? `${region}[${first}]` : `${region}[${first}..${last + 1})`;
}

const valueText = (v: Violation, x: string) => (v.kind === 'scan' && x === '-' ? 'not reported' : x);

/** One line for a group: `step 4 (pageout a): p0 a[0..512) uffd-wp is 0, x86 has 1 (wp-lost; R-PO-1)`. */
export function describeGroup(g: ViolationGroup, c?: Case): string {
  const v = g.first;
  const op = c?.ops[v.step];
  const at = `step ${v.step} (${op ? formatOp(op) : v.op})`;
  const rule = v.rule ?? v.rules[v.rules.length - 1];
  if (v.kind === 'rc') return `${at}: returned ${v.actual}, x86 returns ${v.expected}${rule ? ` (${rule})` : ''}`;
  if (v.kind === 'event') return `${at}: uffd events ${v.actual}, x86 delivers ${v.expected}${rule ? ` (${rule})` : ''}`;
  const pages = v.region !== undefined && g.firstPage !== undefined ? pageRange(v.region, g.firstPage, g.lastPage!) : v.region ?? '';
  if (v.kind === 'data') return `${at}: p${v.proc ?? 0} ${pages} reads ${describeValue(Number(v.actual))}, x86 has ${describeValue(Number(v.expected))} (data${rule ? `; ${rule}` : ''}${v.entry ? `; ${v.entry}` : ''})`;
  const name = v.kind === 'scan' ? `PAGEMAP_SCAN ${SCAN_NAMES[v.bit as ScanLetter] ?? v.bit}` : BIT_NAMES[v.bit as BitLetter] ?? v.bit;
  return `${at}: p${v.proc ?? 0} ${pages} ${name} is ${valueText(v, v.actual)}, x86 has ${valueText(v, v.expected)} (${direction(v)}${rule ? `; ${rule}` : ''}${v.entry ? `; ${v.entry}` : ''})`;
}

/** A case's violations as lines: the first divergence (its root group first), then the
 *  consequences at later steps, each run of pages one line; `max` caps the lines. */
export function describeViolations(vs: readonly Violation[], c?: Case, max = 50): { first: string[]; consequences: string[]; more: number } {
  const f = firstDivergence(vs);
  if (!f) return { first: [], consequences: [], more: 0 };
  const first = groupViolations(f.atStep).map((g) => describeGroup(g, c));
  const later = groupViolations(f.consequences).map((g) => describeGroup(g, c));
  const room = Math.max(0, max - first.length);
  return { first, consequences: later.slice(0, room), more: later.length - Math.min(room, later.length) + Math.max(0, first.length - max) };
}

/** What a bucket says about its reproducer: the root violation at its first diverging step, the
 *  title, the root's page run in words, and how many later violations (consequences) it has. */
export interface RootInfo { root: Violation; title: string; line: string; consequences: number }

/** The RootInfo of a failing case, or undefined when it passes. */
export function rootInfo(vs: readonly Violation[], c?: Case): RootInfo | undefined {
  const f = firstDivergence(vs);
  if (!f) return undefined;
  return { root: f.root, title: titleOf(f.root, c), line: describeGroup(groupViolations(f.atStep)[0]!, c), consequences: f.consequences.length };
}
