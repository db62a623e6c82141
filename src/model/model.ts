// The reference model's entry point: run a case on the Machine, observe pagemap after every op
// (src/model/observe.ts), and return the predicted trace with the rules behind every bit.
import { atLeastV2, type Case, type Op, type OpOf } from '../ops/schema.ts';
import { pageLetters, SCAN_LETTERS, type Outcome, type PageMap, type Step } from '../ops/trace.ts';
import { GEOMETRY_4K } from '../ops/layout.ts';
import { dict, own } from '../ops/records.ts';
import { CasePlan, NO_LIMITS } from '../ops/plan.ts';
import type { ModelOptions, PredictedStep, Prediction } from './api.ts';
import { Machine } from './machine.ts';
import { getMutant } from './mutants.ts';
import { getProfile } from './profile.ts';
import { blockOf, blockStart, HPAGE_PAGES, inGeometry, isAnonVma, newProc, resetClock, type Proc, type Vma } from './state.ts';
import { Observer, regDecision, SEEN_RULES, uniq } from './observe.ts';
import * as htlb from './hugetlb.ts';
import { defaultSplitEntry, pagemapScan, scanLetterIndex, type HugeEntry, type ScanEntry, type ScanInput, type ScanKnobs, type ScanPage, type ScanResult, type ScanVma } from './scan.ts';

/** What the model takes from an observed trace step: the kernel's outcome, whether the target
 *  skipped the op. */
export type ObservedStep = Pick<Step, 'outcome' | 'skipped' | 'pages'> | undefined;

/** Would predict() with options `a` and with `b` model the same kernel, so that the same case and
 *  observed steps give the same prediction: the same mutant, attribution and geometry, and the
 *  same knobs once each profile's are overlaid with its `knobs` (the profile's name matters only
 *  through them; observeEveryPage gives the same prediction either way). The check asks it of a
 *  model target's own prediction (src/check/check.ts CheckOptions.own). */
export function sameModelOptions(a: ModelOptions, b: ModelOptions): boolean {
  if (a.mutant !== b.mutant || !!a.attribution !== !!b.attribution) return false;
  const ga = a.geometry ?? GEOMETRY_4K, gb = b.geometry ?? GEOMETRY_4K;
  if (ga.pageSize !== gb.pageSize || ga.pmdPages !== gb.pmdPages) return false;
  const ka: Record<string, unknown> = { ...getProfile(a.profile).knobs, ...a.knobs };
  const kb: Record<string, unknown> = { ...getProfile(b.profile).knobs, ...b.knobs };
  for (const k in ka) if (ka[k] !== kb[k]) return false;
  for (const k in kb) if (ka[k] !== kb[k]) return false;
  return true;
}

export function predict(c: Case, observed?: ReadonlyArray<ObservedStep>, opts: ModelOptions = {}): Prediction {
  // page numbers and PMD blocks count the target's pages (src/model/state.ts inGeometry)
  return inGeometry(opts.geometry ?? GEOMETRY_4K, () => predictIn(c, observed, opts));
}

function predictIn(c: Case, observed: ReadonlyArray<ObservedStep> | undefined, opts: ModelOptions): Prediction {
  const profile = getProfile(opts.profile);
  if (opts.mutant) getMutant(opts.mutant);
  resetClock(); // stamps count from 0 in every prediction (state.ts tick)
  const m = new Machine(c, opts.knobs ? { ...profile.knobs, ...opts.knobs } : profile.knobs, opts.mutant);
  // the case's static plan decides region sizes whatever a syscall returns (targets keep their
  // region tables by it); stepped alongside to size regions after an in-place mremap, so only a
  // case with one needs it, and only up to its last one (nothing else reads the plan)
  let lastInPlace = -1;
  for (let k = c.ops.length - 1; k >= 0; k--) if (inPlaceMremap(c.ops[k])) { lastInPlace = k; break; }
  let plan: CasePlan | undefined = lastInPlace >= 0 ? new CasePlan({ uffd: c.uffd !== undefined, limits: NO_LIMITS, geometry: opts.geometry }) : undefined;
  const steps: PredictedStep[] = [];
  const inferredAt: number[] = [];
  const leftWholeAt: number[] = [];
  const observer = new Observer(!!opts.observeEveryPage);
  const width = pageLetters(c);
  c.ops.forEach((op, i) => {
    if (plan && (i > lastInPlace || plan.step(op, i).length)) plan = undefined;
    const obs = observed?.[i];
    let rc: 0 | string = 0;
    let scan: PageMap | undefined;
    let walkEnd: number | undefined;
    let outcome: Outcome = obs?.outcome ?? {};
    const actor = m.procs[op.proc ?? 0];
    let skipped = obs?.skipped;
    let opReg: string[] | undefined;
    let wpAllowed: PredictedStep['wpAllowed'];
    if (!skipped && !actor) skipped = `process ${op.proc ?? 0} was never created (its fork was not run)`;
    if (!skipped && actor && !actor.alive) skipped = `process ${actor.id} was killed or exited before this op`;
    if (skipped) {
      m.rules = new Set();
      m.events = [];
      // a fork that did not run still takes its number: later processes keep the case's numbering
      if (op.op === 'fork') m.procs.push(newProc(m.procs.length, false, null));
    } else {
      // what the op changed, for the outcome the model reports when the trace gives none
      const before = obs?.outcome ? undefined : snapshot(m, op);
      if (opts.attribution) opReg = regDecisionsOf(m, op);
      m.zeroInferred = recordsZero(op) ? inferZero(obs, op as OpOf<'read'>) : undefined;
      m.assumed = false;
      m.unchangedInferred = op.op === 'pageout' && obs?.outcome ? unchangedPages(m, op.proc ?? 0, observed?.[i - 1], obs) : undefined;
      m.leftWholeAssumed = false;
      m.presentObserved = op.op === 'collapse' && obs?.outcome ? presentPages(m, op.proc ?? 0, obs) : undefined;
      rc = m.exec(op, i, obs?.outcome);
      if (plan && inPlaceMremap(op)) sizeFromPlan(m, plan, op as OpOf<'mremap'>);
      if (m.assumed) inferredAt.push(i);
      if (m.leftWholeAssumed) leftWholeAt.push(i);
      outcome = obs?.outcome ?? diffOutcome(m, op, before);
      if (op.op === 'scan') {
        const r = runScan(m, op, opts.mutant, !!opts.attribution);
        rc = r.rc;
        wpAllowed = r.wpAllowed;
        scan = r.scan;
        walkEnd = r.walkEnd;
        // a model target reports the walk_end it computed as the step's outcome (R-PMS-10)
        if (walkEnd !== undefined && !obs?.outcome && atLeastV2(c.format)) { outcome.walk_end = dict(); outcome.walk_end[op.region] = walkEnd; }
      }
    }
    const o = observer.observe(m, opts.mutant, !!opts.attribution, width);
    // built field by field in the order a reader sees them (no object spreads: one per step)
    const step = { op: i, rc, pages: o.pages, why: o.why, entry: o.entry, scan, content: o.content, contentWhy: o.contentWhy } as PredictedStep;
    if (walkEnd !== undefined) step.walkEnd = walkEnd;
    step.events = m.events;
    if (skipped) step.skipped = skipped;
    step.rules = sortedRules(m.rules, o.seen);
    step.rcRules = m.rcWhy.length ? m.rcWhy : undefined;
    step.outcome = outcome;
    if (opts.attribution) {
      step.reg = o.reg;
      if (opReg?.length) step.opReg = opReg;
      if (wpAllowed) step.wpAllowed = wpAllowed;
    }
    steps.push(step);
  });
  const assumptions = inferredAt.length
    ? [`read-fault zero page inferred from the observed exclusive bit at step${inferredAt.length > 1 ? 's' : ''} ${inferredAt.join(', ')} (the trace records no \`zero\` outcome)`]
    : [];
  if (leftWholeAt.length) assumptions.push(`pageout left a large folio whole (its split or reclaim failed) at step${leftWholeAt.length > 1 ? 's' : ''} ${leftWholeAt.join(', ')}: every page of it observed as before the op`);
  return { steps, assumptions };
}

/** The rule ids of a step, sorted as Array.prototype.sort sorts strings (by UTF-16 code units,
 *  which `<` compares too): the machine's (`rules`) and the R-PM rules its observation exercised
 *  (`seen`: Observation.seen, each once), by an insertion sort of the few ids an op exercises,
 *  without the work arrays the built-in sort allocates (nor growing the machine's set). */
function sortedRules(rules: ReadonlySet<string>, seen: number): string[] {
  const out: string[] = [];
  for (const r of rules) insertSorted(out, r);
  if (seen) for (let k = 0; k < SEEN_RULES.length; k++) if (seen & SEEN_RULES[k][0] && !rules.has(SEEN_RULES[k][1])) insertSorted(out, SEEN_RULES[k][1]);
  return out;
}

function insertSorted(out: string[], r: string): void {
  let k = out.length;
  out.push(r);
  while (k > 0 && out[k - 1] > r) { out[k] = out[k - 1]; k--; }
  out[k] = r;
}

/** an mremap without MREMAP_MAYMOVE: the only op whose region size the model takes from the plan */
function inPlaceMremap(op: Op): boolean {
  return op.op === 'mremap' && op.move === false;
}

/** An in-place mremap leaves its region at the size the case's plan gives it (src/ops/plan.ts:
 *  the new size, unless growing is blocked by another region), also when the syscall failed for
 *  another reason (EFAULT: the old range does not lie in one VMA): the model's region must name
 *  the pages every target observes. */
function sizeFromPlan(m: Machine, plan: CasePlan, op: OpOf<'mremap'>): void {
  const p = op.proc ?? 0;
  const r = m.procs[p]?.regions.get(op.region);
  const planned = plan.regionOf(p, op.region);
  if (r && planned) r.pages = planned.pages;
}

/** Ops whose read faults the kernel may answer with the zero page or not (a host's choice): their
 *  steps record the `zero` outcome. A read, and MADV_POPULATE_READ, whose GUP read faults take the
 *  same do_anonymous_page / do_huge_pmd_anonymous_page path (R-POP-1). */
export function recordsZero(op: Op): boolean {
  return op.op === 'read' || (op.op === 'populate' && !op.write);
}

/** For a read whose trace step records no `zero` outcome: the pages of the op's region that the
 *  observation after it allows to be the zero page (present, not exclusive). A page a read fault
 *  filled with a fresh page is exclusive (do_anonymous_page: RMAP_EXCLUSIVE); the zero page never
 *  is. Undefined when the step observed nothing of that region. */
function inferZero(obs: ObservedStep, op: OpOf<'read'>): Record<string, number[]> | undefined {
  const strs = own(own(obs?.pages, String(op.proc ?? 0)), op.region);
  if (!strs) return undefined;
  const zero: number[] = [];
  strs.forEach((s, k) => { if (s[0] === 'P' && s[3] !== 'E') zero.push(k); });
  const out = dict<number[]>();
  out[op.region] = zero;
  return out;
}

/** For a pageout step of a trace: the absolute pages of process `proc` that the observation after
 *  the op shows exactly as the observation before it (the previous step's), the evidence that the
 *  kernel left a large folio whole (Machine.folioLeftWhole). Undefined when either step observed
 *  nothing of the process. */
function unchangedPages(m: Machine, proc: number, before: ObservedStep, after: ObservedStep): Set<number> | undefined {
  const was = own(before?.pages, String(proc));
  if (!was) return undefined;
  return observedPagesWhere(m, proc, after, (s, region, k, pages) => {
    const a = own(was, region);
    return !!a && a.length === pages && a[k] === s;
  });
}

/** For a collapse step of a trace: the absolute pages of process `proc` that the observation after
 *  the op shows present, the evidence of the swap-ins a collapse that then failed already did
 *  (Machine.swapInBeforeFailedCollapse). Undefined when the step observed nothing of the process. */
function presentPages(m: Machine, proc: number, after: ObservedStep): Set<number> | undefined {
  return observedPagesWhere(m, proc, after, (s) => s[0] === 'P');
}

/** The absolute pages of process `proc` whose letters in the observation after a step pass `keep`
 *  (the page's letters, its region, its index there, the region's observed size); undefined when
 *  the step observed nothing of the process. */
function observedPagesWhere(m: Machine, proc: number, after: ObservedStep, keep: (s: string, region: string, k: number, pages: number) => boolean): Set<number> | undefined {
  const now = own(after?.pages, String(proc));
  const p = m.procs[proc];
  if (!now || !p) return undefined;
  const out = new Set<number>();
  for (const [name, r] of p.regions) {
    const strs = own(now, name);
    if (strs) for (let k = 0; k < strs.length; k++) if (keep(strs[k], name, k, strs.length)) out.add(r.start + k);
  }
  return out;
}

/** The registration decisions of the VMAs an op is about to act on (PredictedStep.opReg): those
 *  under its region, or every VMA of the process for an op without a region (fork, clear_refs...). */
function regDecisionsOf(m: Machine, op: Op): string[] {
  const p = m.procs[op.proc ?? 0];
  if (!p) return [];
  const r = 'region' in op ? p.regions.get(op.region) : undefined;
  const vmas = 'region' in op ? (r ? p.vmas.filter((v) => v.start < r.start + r.pages && r.start < v.end) : []) : p.vmas;
  return uniq(vmas.map(regDecision).filter((x): x is string => x !== undefined));
}

/** PAGEMAP_SCAN: build the scan module's view of the range, run it, apply its actions. */
/** the category bits of a case's letter string (`"wp"` -> WRITTEN|PRESENT), or undefined */
function categoryBits(letters: string | undefined): number | undefined {
  if (letters === undefined) return undefined;
  let m = 0;
  for (const ch of letters) m |= 1 << scanLetterIndex(ch);
  return m;
}

function runScan(m: Machine, op: OpOf<'scan'>, mutant?: string, attribution = false): { rc: 0 | string; scan?: PageMap; walkEnd?: number; wpAllowed?: PredictedStep['wpAllowed'] } {
  const p = m.procs[op.proc ?? 0];
  if (!m.k.pagemapScan) return { rc: 'ENOTTY' };
  const [start, end] = m.range(p, op);
  const input: ScanPage[] = [];
  // one ScanVma per VMA, shared by its pages (the scan reads them, never changes them)
  const scanVmas = new Map<object, ScanVma>();
  const unreg = new Set<number>(); // ScanVma ids of VMAs a recorded decision left unregistered
  let v: ReturnType<Machine['vmaAt']>;
  for (let i = start; i < end; i++) {
    // the last page's VMA while it still covers page i (VMAs never overlap): a lookup per VMA
    if (v === undefined || i < v.start || i >= v.end) v = m.vmaAt(p, i);
    if (!v) { input.push({ vma: null, entry: GAP_ENTRY }); continue; }
    let sv = scanVmas.get(v);
    if (!sv) {
      const id = scanVmas.size + 1;
      if (regDecision(v)?.startsWith('-')) unreg.add(id);
      sv = { id, uffdWp: !!v.uffd, anon: isAnonVma(v), softDirty: v.sd, wpAsync: !!v.uffd && (v.uffd.features.has('wp_async') || mutant === 'M-13') };
      scanVmas.set(v, sv);
    }
    input.push({ vma: sv, entry: scanEntry(p, i, v) });
  }
  const scanInput: ScanInput = {
    firstPage: start,
    pmdPages: HPAGE_PAGES,
    pages: input,
    query: {
      wpMatching: !!op.wp_matching, checkWpasync: op.check_wpasync, maxPages: op.max_pages, vec: !op.no_vec,
      mask: categoryBits(op.category_mask), inverted: categoryBits(op.category_inverted),
      anyof: categoryBits(op.category_anyof_mask), ret: categoryBits(op.return_mask),
      fastPathSwapConfusion: mutant === 'B-23', backoutNullDeref: mutant === 'B-32',
      exclusiveWpHonoursMasks: mutant === 'M-12', armSkipsGuard: mutant === 'M-20', hugetlbSizeMismatch: mutant === 'B-33',
    },
    knobs: {
      scanNoneWritten: m.k.scanNoneWritten && mutant !== 'B-27',
      scanHoleWritten: m.k.scanHoleWritten && mutant !== 'B-28',
      scanWrittenUffdOnly: m.k.scanWrittenUffdOnly,
      pfnZeroHuge: m.k.pfnZeroHuge && mutant !== 'B-25',
      guard: m.k.guardRegions,
      memSoftDirty: m.k.memSoftDirty !== false,
    },
    // the redo after a partial-THP split must see the machine's own split rule (R-SPLIT-1/2/3)
    splitEntry: mutant === 'B-30' ? splitEntryB30 : defaultSplitEntry,
  };
  const res = pagemapScan(scanInput, attribution);
  const offset = start - p.regions.get(op.region)!.start;
  const wpAllowed = attribution ? { ...wpAllowedDecides(scanInput, res, offset, op.region)!, reg: registrationDecides(scanInput, res, offset, unreg, !!p.ctx?.features.has('wp_async')), why: { offset, pages: res.why! } } : undefined;
  // the scan module's fine ids (coverage) and their parent rule (attribution, mutants' rule names)
  for (const r of res.rules) { m.rules.add(r); const dot = r.indexOf('.'); if (dot >= 0) m.rules.add(r.slice(0, dot)); }
  // entries the exclusive-WP fast path armed say so (R-PMS-4), others the path that armed them
  const fast = res.rules.includes('R-PMS-4');
  for (const a of res.actions) {
    switch (a.kind) {
      case 'split-pmd': m.splitPmd(p, a.block); break;
      case 'wp-pmd': {
        const pmd = p.pmds.get(a.block);
        if (pmd?.t === 'huge') { pmd.wp = true; pmd.writable = false; pmd.why = [...pmd.why, 'R-PMS-5']; }
        break;
      }
      case 'pgtable': if (!p.pmds.has(a.block)) p.pmds.set(a.block, { t: 'table' }); break;
      case 'htlb-wp': {
        const e = p.htlb?.get(a.block);
        if (e?.t === 'present') { e.wp = true; e.why = [...e.why, 'R-HTLB-10']; }
        break;
      }
      case 'htlb-marker': htlb.protect(m, p, m.vmaAt(p, a.block * HPAGE_PAGES)!, a.block * HPAGE_PAGES, (a.block + 1) * HPAGE_PAGES, true); break;
      case 'marker': p.ptes.set(start + a.page, { t: 'marker', sd: false, why: [fast ? 'R-PMS-4' : 'R-PMS-6'] }); break;
      case 'wp-pte': {
        const e = p.ptes.get(start + a.page);
        if (e && e.t !== 'marker') { e.wp = true; e.why = [...e.why, e.t === 'guard' ? 'R-PMS-9' : fast ? 'R-PMS-4' : 'R-PMS-3']; if (e.t === 'present') e.writable = false; }
        break;
      }
    }
  }
  if (res.rc === 'SIGKILL') { p.alive = false; return { rc: res.rc, wpAllowed }; }
  if (res.rc !== 0) return { rc: res.rc, wpAllowed };
  const r = p.regions.get(op.region)!;
  const walkEnd = start - r.start + res.walkEnd;
  if (!res.vec) return { rc: 0, walkEnd, wpAllowed };
  const cats: string[] = [];
  for (let i = r.start; i < r.start + r.pages; i++) cats.push(i >= start && i < end ? res.cats[i - start] : '---------');
  const scan: PageMap = dict();
  scan[String(p.id)] = dict();
  scan[String(p.id)][op.region] = cats;
  return { rc: 0, scan, walkEnd, wpAllowed };
}

/** mutant B-30's split rule for the scan's redo after a partial-THP split: a subpage keeps the
 *  PMD's soft-dirty bit, not the dirty bit's (a module function: runScan makes no closure per scan) */
function splitEntryB30(huge: HugeEntry, vma: ScanVma, knobs: ScanKnobs): ScanEntry {
  const e = defaultSplitEntry(huge, vma, knobs);
  return e.kind === 'present' && !e.zero ? { ...e, sd: huge.sd } : e;
}

/** What the WP-allowed decision of the scanned VMAs decides (PredictedStep.wpAllowed): the scan run
 *  again, pure, with that decision flipped for every registered VMA (pagemap_scan_test_walk: a
 *  VMA is wp_allowed iff VM_UFFD_WP with a WP_ASYNC context, R-PMS-1); the pages whose categories
 *  or arming differ, as pages of the region (`offset`: the scan's first page in it), and whether
 *  the return code does. */
function wpAllowedDecides(input: ScanInput, res: ScanResult, offset: number, region: string): Omit<NonNullable<PredictedStep['wpAllowed']>, 'reg'> {
  const flip = flipDecides(input, res, offset, (v) => (v.uffdWp ? { ...v, wpAsync: !v.wpAsync } : v));
  return { region, pages: flip.pages, rc: flip.rc };
}

/** The same for the registration (PredictedStep.scanReg): the scan re-run with every VMA that a
 *  recorded decision left unregistered (`unreg`, by ScanVma id) registered, with the acting
 *  process's context (`async`: WP_ASYNC); the pages whose categories or arming change. */
function registrationDecides(input: ScanInput, res: ScanResult, offset: number, unreg: ReadonlySet<number>, async: boolean): Record<number, string> {
  if (!unreg.size) return {};
  return flipDecides(input, res, offset, (v) => (unreg.has(v.id) ? { ...v, uffdWp: true, wpAsync: async } : v)).pages;
}

/** The scan re-run, pure, with each page's VMA changed by `flip`: per page of the region (`offset`:
 *  the scan's first page in it) the scan letters that change (`-` when whether the page is reported
 *  at all does), and `W` when its arming does; and whether the return code changes. */
function flipDecides(input: ScanInput, res: ScanResult, offset: number, flip: (v: ScanVma) => ScanVma): { pages: Record<number, string>; rc: boolean } {
  const flipped = pagemapScan({ ...input, pages: input.pages.map((x) => (x.vma ? { ...x, vma: flip(x.vma) } : x)) });
  const armed = (r: ScanResult) => {
    const out = new Set<number>();
    for (const a of r.actions) {
      if (a.kind === 'marker' || a.kind === 'wp-pte') out.add(a.page);
      else if (a.kind === 'wp-pmd') for (let k = 0; k < input.pages.length; k++) if (Math.floor((input.firstPage + k) / (input.pmdPages ?? 512)) === a.block) out.add(k);
    }
    return out;
  };
  const a0 = armed(res), a1 = armed(flipped);
  const pages: Record<number, string> = {};
  for (let k = 0; k < input.pages.length; k++) {
    const x = res.cats[k]!, y = flipped.cats[k]!;
    // `-`: whether the page is reported at all changes; else the letters whose value changes
    let d = (x[0] === '-') !== (y[0] === '-') ? '-' : '';
    if (!d) for (let b = 0; b < x.length; b++) if (x[b] !== y[b]) d += SCAN_LETTERS[b];
    if (a0.has(k) !== a1.has(k)) d += 'W';
    if (d) pages[offset + k] = d;
  }
  return { pages, rc: res.rc !== flipped.rc };
}

/** the entries without fields of their own, one object each for every scan (the scan never
 *  changes an entry) */
const GAP_ENTRY: ScanEntry = { kind: 'gap' };
const HOLE_ENTRY: ScanEntry = { kind: 'hole' };
const NONE_ENTRY: ScanEntry = { kind: 'none' };

/** page i's entry under v, the VMA covering it (the one vmaAt finds) */
function scanEntry(p: Proc, i: number, v: Vma): ScanEntry {
  if (htlb.isHugetlbVma(v)) {
    const e = p.htlb?.get(blockOf(i));
    if (e?.t === 'present') return { kind: 'hugetlb', state: 'present', wp: e.wp, file: !e.page.anon, sd: e.sd };
    return { kind: 'hugetlb', state: e ? 'marker' : htlb.isHole(p, i) ? 'hole' : 'none', wp: !!e, file: false, sd: false };
  }
  const pmd = p.pmds.peek(blockOf(i));
  if (!pmd) return HOLE_ENTRY;
  if (pmd.t === 'huge') return { kind: 'huge', wp: pmd.wp, sd: pmd.sd, file: !!pmd.pages && !pmd.pages[0].anon, hugeZero: !pmd.pages };
  const e = p.ptes.peek(i);
  if (!e) return NONE_ENTRY;
  if (e.t === 'present') return { kind: 'present', wp: e.wp, sd: e.sd, file: !e.page.anon, zero: e.page.zero };
  if (e.t === 'swap') return { kind: 'swap', wp: e.wp, sd: e.sd };
  if (e.t === 'guard') return { kind: 'guard', wp: e.wp, sd: e.sd };
  return { kind: 'marker', sd: e.sd };
}

/** What diffOutcome compares against, taken before the op over its region (first page `start`,
 *  `pages` pages): per PMD block from blockOf(start), 0 not huge, 1 a huge PMD of a THP, 2 the huge
 *  zero PMD; for a pageout the present pages, ascending; for an op recording `zero`, per page of
 *  the region whether it maps the zero page. Plain arrays: taken for nearly every op. */
interface Snapshot { start: number; pages: number; huge: number[]; present: number[]; zero: Uint8Array | undefined }

/** Huge blocks and present pages of the op's region, before the op. */
function snapshot(m: Machine, op: Op): Snapshot | undefined {
  const p = m.procs[op.proc ?? 0];
  if (!p?.alive || !('region' in op)) return undefined;
  const r = p.regions.get(op.region);
  if (!r) return undefined;
  const huge: number[] = [];
  const present: number[] = [];
  for (let b = blockOf(r.start); b <= blockOf(r.start + r.pages - 1); b++) {
    const pmd = p.pmds.peek(b);
    huge.push(pmd?.t === 'huge' ? (pmd.pages ? 1 : 2) : 0);
  }
  if (op.op === 'pageout') {
    for (let i = r.start; i < r.start + r.pages; i++) {
      if (p.pmds.peek(blockOf(i))?.t === 'huge' || p.ptes.peek(i)?.t === 'present') present.push(i);
    }
  }
  let zero: Uint8Array | undefined;
  if (recordsZero(op)) {
    zero = new Uint8Array(r.pages);
    for (let i = r.start; i < r.start + r.pages; i++) if (isZeroPage(p, i)) zero[i - r.start] = 1;
  }
  return { start: r.start, pages: r.pages, huge, present, zero };
}

/** Whether page i maps the zero page (4 KiB, or by a huge zero PMD). */
function isZeroPage(p: Proc, i: number): boolean {
  const pmd = p.pmds.peek(blockOf(i));
  if (pmd?.t === 'huge') return !pmd.pages;
  const e = p.ptes.peek(i);
  return e?.t === 'present' && e.page.zero;
}

/** The outcome the model chose (neutral): blocks newly mapped huge (not huge before, or the huge
 *  zero page replaced by a THP) and, for pageout, pages present before and not after. */
function diffOutcome(m: Machine, op: Op, before: Snapshot | undefined): Outcome {
  if (!before || !('region' in op)) return {};
  const p = m.procs[op.proc ?? 0];
  const r = p.regions.get(op.region);
  if (!r) return {};
  const out: Outcome = {};
  const huge: number[] = [];
  const b0 = blockOf(before.start), bEnd = blockOf(before.start + before.pages - 1);
  for (let b = blockOf(r.start); b <= blockOf(r.start + r.pages - 1); b++) {
    const pmd = p.pmds.peek(b);
    if (pmd?.t !== 'huge') continue;
    // newly huge: not huge before, or the huge zero page replaced by a THP (or the reverse)
    const was = b >= b0 && b <= bEnd ? before.huge[b - b0] : 0;
    if (was === 0 || was !== (pmd.pages ? 1 : 2)) huge.push(Math.max(b * HPAGE_PAGES, r.start) - r.start);
  }
  if (huge.length) { out.huge = dict(); out.huge[op.region] = huge; }
  if (recordsZero(op)) {
    // the form the executor records: new 4 KiB zero pages, a new huge zero PMD by its block's first
    // page (ascending, each once: pages are walked in order, a block's pages are consecutive)
    const zero: number[] = [];
    const wasZero = before.zero;
    for (let i = r.start; i < r.start + r.pages; i++) {
      if (!isZeroPage(p, i)) continue;
      const k = i - before.start;
      if (wasZero && k >= 0 && k < before.pages && wasZero[k]) continue;
      const at = p.pmds.peek(blockOf(i))?.t === 'huge' ? Math.max(blockStart(blockOf(i)), r.start) - r.start : i - r.start;
      if (zero.length === 0 || zero[zero.length - 1] !== at) zero.push(at);
    }
    out.zero = dict();
    out.zero[op.region] = zero;
  }
  if (op.op === 'pageout') {
    const gone: number[] = [];
    for (const i of before.present) {
      if (p.pmds.peek(blockOf(i))?.t === 'huge' || p.ptes.peek(i)?.t === 'present') continue;
      gone.push(i - r.start);
    }
    if (gone.length) { out.swapped_out = dict(); out.swapped_out[op.region] = gone.sort((a, b) => a - b); }
  }
  return out;
}
