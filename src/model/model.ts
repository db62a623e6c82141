// The reference model's entry point: run a case on the Machine, observe pagemap after every op,
// and return the predicted trace with the rules behind every bit.
import { atLeastV2, type Case, type Op, type OpOf } from '../ops/schema.ts';
import { pageLetters, SCAN_LETTERS, type ContentMap, type Outcome, type PageMap, type Step } from '../ops/trace.ts';
import { GEOMETRY_4K } from '../ops/layout.ts';
import { dict, own } from '../ops/records.ts';
import { CasePlan, NO_LIMITS } from '../ops/plan.ts';
import type { EntryClass, ModelOptions, PredictedStep, Prediction } from './api.ts';
import { Machine } from './machine.ts';
import { getMutant } from './mutants.ts';
import { getProfile } from './profile.ts';
import { blockOf, blockStart, HPAGE_PAGES, inGeometry, isAnonVma, mapcount, newProc, PTE_CHUNK, type Pmd, type Proc, type Pte, type Vma } from './state.ts';
import { contentOf, contentWhy } from './content.ts';
import * as htlb from './hugetlb.ts';
import { defaultSplitEntry, pagemapScan, scanLetterIndex, type ScanEntry, type ScanInput, type ScanPage, type ScanResult, type ScanVma } from './scan.ts';

/** What the model takes from an observed trace step: the kernel's outcome, whether the target
 *  skipped the op. */
export type ObservedStep = Pick<Step, 'outcome' | 'skipped' | 'pages'> | undefined;

export function predict(c: Case, observed?: ReadonlyArray<ObservedStep>, opts: ModelOptions = {}): Prediction {
  // page numbers and PMD blocks count the target's pages (src/model/state.ts inGeometry)
  return inGeometry(opts.geometry ?? GEOMETRY_4K, () => predictIn(c, observed, opts));
}

function predictIn(c: Case, observed: ReadonlyArray<ObservedStep> | undefined, opts: ModelOptions): Prediction {
  const profile = getProfile(opts.profile);
  if (opts.mutant) getMutant(opts.mutant);
  const m = new Machine(c, opts.knobs ? { ...profile.knobs, ...opts.knobs } : profile.knobs, opts.mutant);
  // the case's static plan decides region sizes whatever a syscall returns (targets keep their
  // region tables by it); stepped alongside to size regions after an in-place mremap
  let plan: CasePlan | undefined = new CasePlan({ uffd: c.uffd !== undefined, limits: NO_LIMITS, geometry: opts.geometry });
  const steps: PredictedStep[] = [];
  const inferredAt: number[] = [];
  const leftWholeAt: number[] = [];
  const observer = new Observer();
  const width = pageLetters(c);
  c.ops.forEach((op, i) => {
    if (plan && plan.step(op, i).length) plan = undefined;
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
      rc = m.exec(op, i, obs?.outcome);
      if (plan && op.op === 'mremap' && op.move === false) sizeFromPlan(m, plan, op);
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
    for (const [bit, r] of SEEN_RULES) if (o.seen & bit) m.rules.add(r);
    steps.push({
      op: i, rc, pages: o.pages, why: o.why, entry: o.entry, scan, content: o.content, contentWhy: o.contentWhy, ...(walkEnd !== undefined ? { walkEnd } : {}), events: m.events, ...(skipped ? { skipped } : {}),
      rules: [...m.rules].sort(), rcRules: m.rcWhy.length ? m.rcWhy : undefined, outcome,
      ...(opts.attribution ? { reg: o.reg, ...(opReg?.length ? { opReg } : {}), ...(wpAllowed ? { wpAllowed } : {}) } : {}),
    });
  });
  const assumptions = inferredAt.length
    ? [`read-fault zero page inferred from the observed exclusive bit at step${inferredAt.length > 1 ? 's' : ''} ${inferredAt.join(', ')} (the trace records no \`zero\` outcome)`]
    : [];
  if (leftWholeAt.length) assumptions.push(`pageout left a large folio whole (its split or reclaim failed) at step${leftWholeAt.length > 1 ? 's' : ''} ${leftWholeAt.join(', ')}: every page of it observed as before the op`);
  return { steps, assumptions };
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
  const was = own(before?.pages, String(proc)), now = own(after?.pages, String(proc));
  const p = m.procs[proc];
  if (!was || !now || !p) return undefined;
  const same = new Set<number>();
  for (const [name, r] of p.regions) {
    const a = own(was, name), b = own(now, name);
    if (!a || !b || a.length !== b.length) continue;
    for (let k = 0; k < b.length; k++) if (a[k] === b[k]) same.add(r.start + k);
  }
  return same;
}

/** The registration decision of a VMA (PredictedStep.reg): `+RULE` registered, `-RULE` not
 *  registered, RULE the last rule that decided it (Vma.regWhy); undefined when none ever did. */
function regDecision(v: Vma | undefined): string | undefined {
  const last = v?.regWhy[v.regWhy.length - 1];
  return last === undefined ? undefined : `${v!.uffd ? '+' : '-'}${last}`;
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

interface Observation {
  /** R-PM rules this observation exercised (coverage), as SEEN bits */
  seen: number;
  /** with attribution: per page, the registration decision of its VMA (regDecision) */
  reg: Record<string, Record<string, (string | undefined)[]>>;
  pages: PageMap;
  why: Record<string, Record<string, string[][][]>>;
  entry: Record<string, Record<string, EntryClass[]>>;
  /** the content oracle (src/model/content.ts): what each page reads, null where nothing is mapped */
  content: ContentMap;
  contentWhy: Record<string, Record<string, (string[] | null)[]>>;
}

/** entry classes by the number observe packs into a page's code (bits 7 and up) */
const CLASSES: readonly EntryClass[] = ['gap', 'huge', 'huge-zero', 'zero', 'pte-thp', 'pte', 'swap', 'guard', 'marker', 'none'];
const CL = { gap: 0, huge: 1, 'huge-zero': 2, zero: 3, 'pte-thp': 4, pte: 5, swap: 6, guard: 7, marker: 8, none: 9 } as const;

/** One region's observation as the previous step left it: a step whose page codes and contents
 *  are all unchanged reuses its arrays (most ops touch one region of one process), so the cost of
 *  a step is the walk, not the strings. Nothing downstream mutates a prediction's arrays. */
interface RegionView {
  width: number;
  codes: Int32Array;
  vals: Float64Array;
  /** per page the content history array read (page.valWhy; undefined: none yet; null: unmapped) */
  whyRefs: (readonly string[] | undefined | null)[];
  any: number;
  strs: string[];
  cls: EntryClass[];
  content: (number | null)[];
  contentWhy: (string[] | null)[];
}

/** The region views of one prediction, by process and region name, and the scratch buffers the
 *  walk fills before comparing (grown as needed). */
class Observer {
  private readonly views = new Map<Proc, Map<string, RegionView>>();
  private codes = new Int32Array(64);
  private vals = new Float64Array(64);
  private whyRefs: (readonly string[] | undefined | null)[] = [];
  private readonly procViews = new Map<Proc, ProcView>();
  /** the last observation without attribution and its processes' parts, for a step that changed
   *  nothing any observation shows */
  private last: { procs: ProcView[]; obs: Observation } | undefined;
  private readonly whyOf = new Map<ProcView, Record<string, string[][][]>>();
  private readonly regOf = new Map<ProcView, Record<string, (string | undefined)[]>>();

  /** pagemap read of every page of every region of every live process (fs/proc/task_mmu.c
   *  pagemap_read; R-PM-1..5), and what each reads (the content oracle, content.ts). Rule
   *  attribution only on request: it dominates the cost. */
  observe(m: Machine, mutant: string | undefined, attribution: boolean, width: 6 | 7 = 6): Observation {
    const knobs = m.k;
    const b = [0, 0, 0, 0, 0, 0, 0];
    let any = 0;
    const procs: ProcView[] = [];
    let sameProcs = !attribution && this.last !== undefined;
    for (const p of m.procs) {
      if (!p.alive) continue;
      let views = this.views.get(p);
      if (!views) this.views.set(p, views = new Map());
      // this step's views of p's regions, in region order; with attribution, the rules per bit
      const names: string[] = [];
      const list: RegionView[] = [];
      const whyOf: Record<string, string[][][]> = dict();
      const regOf: Record<string, (string | undefined)[]> = dict();
      const vmas = p.vmas; // sorted by start
      for (const [name, r] of p.regions) {
        const n = r.pages;
        if (this.codes.length < n) { this.codes = new Int32Array(n); this.vals = new Float64Array(n); }
        const codes = this.codes, vals = this.vals, whyRefs = this.whyRefs;
        const whys: string[][][] = [];
        const regs: (string | undefined)[] = [];
        let vi = 0;
        let blkEnd = -Infinity; // the PMD is looked up once per block
        let pmd: Pmd | undefined;
        let chunk: readonly (Pte | undefined)[] | undefined; // the PteTable chunk holding page i
        let chunkBase = 0, chunkEnd = -Infinity;
        let rAny = 0;
        for (let i = r.start, k = 0; k < n; i++, k++) {
          while (vi < vmas.length && vmas[vi].end <= i) vi++;
          const v = vi < vmas.length && vmas[vi].start <= i ? vmas[vi] : undefined;
          if (i >= blkEnd) { const bk = blockOf(i); blkEnd = blockStart(bk + 1); pmd = p.pmds.get(bk); }
          if (i >= chunkEnd) { const c = Math.floor(i / PTE_CHUNK); chunkBase = c * PTE_CHUNK; chunkEnd = chunkBase + PTE_CHUNK; chunk = p.ptes.chunk(c); }
          const huge = pmd?.t === 'huge' ? pmd : undefined;
          const e = huge || chunk === undefined ? undefined : chunk[i - chunkBase];
          // P S F E W D G as bits 0..6
          let bits = 0;
          let cl: number;
          if (!v) {
            // R-PM-1: addresses outside any VMA read all zero
            if (mutant === 'M-2') bits = 32;
            cl = CL.gap;
          } else if (htlb.isHugetlbVma(v)) {
            // R-HTLB-9: pagemap_hugetlb_range
            b[0] = b[1] = b[2] = b[3] = b[4] = b[5] = b[6] = 0;
            const hk = htlb.pagemapBits(m, p, v, i, b);
            bits = b[0] | (b[1] << 1) | (b[2] << 2) | (b[3] << 3) | (b[4] << 4) | (b[5] << 5) | (b[6] << 6);
            cl = CL[hk];
          } else if (huge) {
            const sub = huge.pages?.[i % HPAGE_PAGES];
            const excl = knobs.pmdExclusiveFromHead ? huge.pages?.[0] : sub;
            bits = 1 | ((sub ? (sub.anon ? 0 : 1) : knobs.hugeZeroPmFile ? 1 : 0) << 2)
              | (excl && mapcount(excl) === 1 ? 8 : 0)
              | (huge.wp ? 16 : 0) | (huge.sd || v.sd ? 32 : 0);
            cl = sub ? CL.huge : CL['huge-zero'];
          } else if (e?.t === 'present') {
            bits = 1 | (e.page.anon ? 0 : 4) | (!e.page.zero && mapcount(e.page) === 1 ? 8 : 0)
              | (e.wp ? 16 : 0) | (e.sd || v.sd ? 32 : 0);
            cl = e.page.zero ? CL.zero : e.page.folio ? CL['pte-thp'] : CL.pte;
          } else if (e?.t === 'swap') {
            bits = 2 | (e.wp ? 16 : 0) | (e.sd || v.sd ? 32 : 0);
            cl = CL.swap;
          } else if (e?.t === 'guard') {
            // R-GRD-1: a guard marker is a swap PTE with PM_GUARD_REGION (bit 58); its swp uffd-wp
            // and soft-dirty bits read as for any swap PTE (fs/proc/task_mmu.c pte_to_pagemap_entry)
            bits = 2 | (e.wp ? 16 : 0) | (e.sd || v.sd ? 32 : 0) | 64;
            cl = CL.guard;
          } else if (e?.t === 'marker') {
            bits = (mutant === 'M-3' ? 0 : 2) | 16 | (e.sd || v.sd ? 32 : 0);
            cl = CL.marker;
          } else {
            if (mutant !== 'M-1') bits = v.sd ? 32 : 0;
            cl = CL.none;
          }
          codes[k] = bits | (cl << 7);
          // R-PM-1 D, R-PM-2 W, R-PM-3 S, R-PM-4 E, R-PM-5 F (the `seen` bits below)
          rAny |= ((bits >> 5) & 1) | (((bits >> 4) & 1) << 1) | (((bits >> 1) & 1) << 2) | (bits & 8) | (((bits >> 2) & 1) << 4);
          // the page this process maps here, whatever the VMA says (content.ts mappedPage)
          const pg = huge ? (huge.pages ? huge.pages[i % HPAGE_PAGES] : undefined) : e?.t === 'present' ? e.page : undefined;
          if (huge && !huge.pages) { vals[k] = 0; whyRefs[k] = undefined; }
          else if (pg) { vals[k] = contentOf(pg); whyRefs[k] = pg.valWhy; }
          else { vals[k] = -1; whyRefs[k] = null; }
          if (attribution) { whys.push(attribute(p, v, i).map(uniq)); regs.push(regDecision(v)); }
        }
        const was = views.get(name);
        const view = nextView(was?.width === width && was.codes.length === n ? was : undefined, codes, vals, whyRefs, n, width, rAny);
        if (view !== was) views.set(name, view);
        any |= view.any;
        names.push(name);
        list.push(view);
        if (attribution) { whyOf[name] = whys; regOf[name] = regs; }
      }
      // a process whose regions all kept their views keeps its maps of the last step too
      const was = this.procViews.get(p);
      let pv: ProcView;
      if (!attribution && was && was.names.length === names.length && was.names.every((x, k) => x === names[k] && was.list[k] === list[k])) pv = was;
      else {
        pv = { id: String(p.id), names, list, pages: dict(), entry: dict(), content: dict(), contentWhy: dict() };
        for (let k = 0; k < names.length; k++) {
          const v = list[k];
          pv.pages[names[k]] = v.strs; pv.entry[names[k]] = v.cls; pv.content[names[k]] = v.content; pv.contentWhy[names[k]] = v.contentWhy;
        }
        this.procViews.set(p, pv);
      }
      if (sameProcs && this.last!.procs[procs.length] !== pv) sameProcs = false;
      procs.push(pv);
      if (attribution) { this.whyOf.set(pv, whyOf); this.regOf.set(pv, regOf); }
    }
    let seen = 0;
    if (any & 1) seen |= SEEN.PM1;
    if (any & 2) seen |= SEEN.PM2;
    if (any & 4) seen |= SEEN.PM3;
    if (any & 8) seen |= SEEN.PM4;
    if (any & 16) seen |= SEEN.PM5;
    // every live process kept its maps: the step's maps are the last step's
    if (sameProcs && this.last!.procs.length === procs.length) return { ...this.last!.obs, seen };
    // keyed by region names from the case: prototype-free (a region may be called `__proto__`)
    const pages: PageMap = dict();
    const why: Observation['why'] = dict();
    const entry: Observation['entry'] = dict();
    const reg: Observation['reg'] = dict();
    const content: ContentMap = dict();
    const contentWhys: Observation['contentWhy'] = dict();
    for (const pv of procs) {
      pages[pv.id] = pv.pages; entry[pv.id] = pv.entry; content[pv.id] = pv.content; contentWhys[pv.id] = pv.contentWhy;
      why[pv.id] = attribution ? this.whyOf.get(pv)! : dict();
      reg[pv.id] = attribution ? this.regOf.get(pv)! : dict();
    }
    const obs: Observation = { seen, pages, why, entry, reg, content, contentWhy: contentWhys };
    this.last = attribution ? undefined : { procs, obs };
    if (attribution) { this.whyOf.clear(); this.regOf.clear(); }
    return obs;
  }
}

/** the R-PM rules an observation exercised, as bits of Observation.seen */
const SEEN = { PM1: 1, PM2: 2, PM3: 4, PM4: 8, PM5: 16 } as const;
const SEEN_RULES: readonly [number, string][] = [[SEEN.PM1, 'R-PM-1'], [SEEN.PM2, 'R-PM-2'], [SEEN.PM3, 'R-PM-3'], [SEEN.PM4, 'R-PM-4'], [SEEN.PM5, 'R-PM-5']];

/** One live process's part of an observation: its regions' views (in region order) and the maps
 *  a step shows, kept while every view stays the same. */
interface ProcView {
  id: string;
  names: string[];
  list: RegionView[];
  pages: Record<string, string[]>;
  entry: Record<string, EntryClass[]>;
  content: Record<string, (number | null)[]>;
  contentWhy: Record<string, (string[] | null)[]>;
}

/** the content history of a page no write reached (content.ts contentWhy), one array for every
 *  such page: a prediction's arrays are read, never changed */
const FRESH_WHY = contentWhy(undefined);

/** A region's view after this walk (the scratch buffers `codes`, `vals`, `whyRefs`): the previous
 *  view when nothing changed, else a new one that shares each of the previous view's arrays whose
 *  part did not change (letters, entry classes, contents, content histories), so a step costs the
 *  walk and the arrays that changed. */
function nextView(prev: RegionView | undefined, codes: Int32Array, vals: Float64Array, whyRefs: readonly (readonly string[] | undefined | null)[], n: number, width: number, any: number): RegionView {
  let letters = !prev, classes = !prev, values = !prev, whys = !prev;
  if (prev) {
    const pc = prev.codes, pv = prev.vals, pw = prev.whyRefs;
    for (let k = 0; k < n; k++) {
      const c = codes[k], d = pc[k];
      if (c !== d) { if ((c & 127) !== (d & 127)) letters = true; if (c >> 7 !== d >> 7) classes = true; }
      const w = whyRefs[k], x = pw[k];
      if (w !== x) { whys = true; if ((w === null) !== (x === null)) values = true; }
      if (vals[k] !== pv[k]) values = true;
    }
    if (!letters && !classes && !values && !whys) return prev;
  }
  const table = width === 7 ? LETTER_TABLE_7 : LETTER_TABLE;
  let strs = prev?.strs, cls = prev?.cls, content = prev?.content, contentWhys = prev?.contentWhy;
  if (letters) { strs = new Array(n); for (let k = 0; k < n; k++) strs[k] = table[codes[k] & 127]; }
  if (classes) { cls = new Array(n); for (let k = 0; k < n; k++) cls[k] = CLASSES[codes[k] >> 7]; }
  if (values) { content = new Array(n); for (let k = 0; k < n; k++) content[k] = whyRefs[k] === null ? null : vals[k]; }
  if (whys) {
    contentWhys = new Array(n);
    for (let k = 0; k < n; k++) { const w = whyRefs[k]; contentWhys[k] = w === null ? null : w === undefined ? FRESH_WHY : contentWhy(w as string[]); }
  }
  return {
    width, any: letters || classes ? any : prev!.any,
    codes: letters || classes ? codes.slice(0, n) : prev!.codes,
    vals: values ? vals.slice(0, n) : prev!.vals,
    whyRefs: whys ? whyRefs.slice(0, n) : prev!.whyRefs,
    strs: strs!, cls: cls!, content: content!, contentWhy: contentWhys!,
  };
}

/** The rules behind each of the six bits of page i (P S F E W D). */
function attribute(p: Proc, v: Vma | undefined, i: number): string[][] {
  if (!v) return [['R-MUNMAP-1'], ['R-MUNMAP-1'], ['R-MUNMAP-1'], ['R-MUNMAP-1'], ['R-MUNMAP-1'], ['R-PM-1', 'R-MUNMAP-1'], ['R-MUNMAP-1']];
  if (htlb.isHugetlbVma(v)) {
    const w = ['R-HTLB-9', ...htlb.why(p, i)];
    return [w, w, w, w, [...w, ...v.regWhy], ['R-PM-1', ...v.sdWhy], w];
  }
  const pmd = p.pmds.get(blockOf(i));
  if (pmd?.t === 'huge') {
    return [pmd.why, ['R-PM-3'], ['R-PM-5', ...pmd.why], ['R-PM-4', ...pmd.why], ['R-PM-2', ...pmd.why], ['R-PM-1', ...(pmd.sd ? pmd.why : v.sdWhy)], ['R-GRD-1', ...pmd.why]];
  }
  const e = p.ptes.get(i);
  if (e?.t === 'present') {
    return [e.why, ['R-PM-3'], ['R-PM-5', ...e.why], ['R-PM-4', ...e.why], ['R-PM-2', ...e.why], ['R-PM-1', ...sdChain(e, v)], ['R-GRD-1', ...e.why]];
  }
  if (e?.t === 'swap') {
    return [e.why, ['R-PM-3', ...e.why], ['R-PM-5'], ['R-PM-4'], ['R-PM-2', ...e.why], ['R-PM-1', ...sdChain(e, v)], ['R-GRD-1', ...e.why]];
  }
  if (e?.t === 'guard') {
    return [e.why, ['R-PM-3', ...e.why], ['R-PM-5'], ['R-PM-4'], ['R-PM-2', ...e.why], ['R-PM-1', ...sdChain(e, v)], e.why];
  }
  if (e?.t === 'marker') {
    return [e.why, ['R-PM-3', ...e.why], ['R-PM-5'], ['R-PM-4'], ['R-PM-2', ...e.why, ...v.regWhy], ['R-PM-1', ...sdChain(e, v)], ['R-GRD-1', ...e.why]];
  }
  const gone = p.gone.get(i) ?? [];
  return [['R-PM-3', ...gone], ['R-PM-3', ...gone], ['R-PM-5'], ['R-PM-4'], ['R-PM-2', ...gone, ...v.regWhy], ['R-PM-1', ...v.sdWhy], ['R-GRD-1', ...gone]];
}

/** The soft-dirty history of an entry: its own when the entry is soft-dirty; else, when only the
 *  VMA's VM_SOFTDIRTY makes the bit 1 (pagemap_pte_range ORs it in), the VMA's reasons last — they
 *  decide the bit, not what was done to the entry (a merge losing VM_SOFTDIRTY is the merge's
 *  divergence on every page of the VMA, page-holding or empty). */
function sdChain(e: { sd: boolean; why: string[] }, v: Vma): string[] {
  if (e.sd) return e.why;
  return v.sd ? [...e.why, ...v.sdWhy] : [...v.sdWhy, ...e.why];
}

const LETTERS = 'PSFEWD';
/** the six-letter strings, indexed by the bits P..D as a mask (P = bit 0); 128 entries so that
 *  a code with the guard bit indexes it too (a six-letter trace shows no guard letter) */
const LETTER_TABLE: string[] = Array.from({ length: 128 }, (_, m) => {
  let s = '';
  for (let i = 0; i < 6; i++) s += m & (1 << i) ? LETTERS[i] : '.';
  return s;
});
/** the same with the guard letter (`G`, bit 6) of a seven-letter trace, indexed by P..G */
const LETTER_TABLE_7: string[] = Array.from({ length: 128 }, (_, m) => LETTER_TABLE[m & 63] + (m & 64 ? 'G' : '.'));

function uniq(a: string[]): string[] {
  return [...new Set(a)];
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
  const vmaIds = new Map<object, number>();
  const unreg = new Set<number>(); // ScanVma ids of VMAs a recorded decision left unregistered
  for (let i = start; i < end; i++) {
    const v = m.vmaAt(p, i);
    if (!v) { input.push({ vma: null, entry: { kind: 'gap' } }); continue; }
    if (!vmaIds.has(v)) { vmaIds.set(v, vmaIds.size + 1); if (regDecision(v)?.startsWith('-')) unreg.add(vmaIds.size); }
    const sv: ScanVma = {
      id: vmaIds.get(v)!, uffdWp: !!v.uffd, anon: isAnonVma(v), softDirty: v.sd,
      wpAsync: !!v.uffd && (v.uffd.features.has('wp_async') || mutant === 'M-13'),
    };
    input.push({ vma: sv, entry: scanEntry(p, i) });
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
    splitEntry: (huge, vma, knobs) => {
      const e = defaultSplitEntry(huge, vma, knobs);
      return mutant === 'B-30' && e.kind === 'present' && !e.zero ? { ...e, sd: huge.sd } : e;
    },
  };
  const res = pagemapScan(scanInput, attribution);
  const offset = start - p.regions.get(op.region)!.start;
  const wpAllowed = attribution ? { ...wpAllowedDecides(scanInput, res, offset, op.region)!, reg: registrationDecides(scanInput, res, offset, unreg, !!p.ctx?.features.has('wp_async')), why: { offset, pages: res.why! } } : undefined;
  // the scan module's fine ids (coverage) and their parent rule (attribution, mutants' rule names)
  for (const r of res.rules) { m.rules.add(r); m.rules.add(r.split('.')[0]); }
  // entries the exclusive-WP fast path armed say so (R-PMS-4), others the path that armed them
  const fast = res.rules.includes('R-PMS-4');
  for (const a of res.actions) {
    switch (a.kind) {
      case 'split-pmd': m.splitPmd(p, a.block, m.vmaAt(p, a.block * HPAGE_PAGES)); break;
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
  const r = [...p.regions].find(([n]) => n === op.region)![1];
  const walkEnd = start - r.start + res.walkEnd;
  if (!res.vec) return { rc: 0, walkEnd, wpAllowed };
  const cats: string[] = [];
  for (let i = r.start; i < r.start + r.pages; i++) cats.push(i >= start && i < end ? res.cats[i - start] : '---------');
  const scan: PageMap = dict();
  scan[String(p.id)] = dict();
  scan[String(p.id)][op.region] = cats;
  return { rc: 0, scan, walkEnd, wpAllowed };
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

function scanEntry(p: Proc, i: number): ScanEntry {
  if (htlb.isHugetlbVma(p.vmas.find((v) => v.start <= i && i < v.end))) {
    const e = p.htlb?.get(blockOf(i));
    if (e?.t === 'present') return { kind: 'hugetlb', state: 'present', wp: e.wp, file: !e.page.anon, sd: e.sd };
    return { kind: 'hugetlb', state: e ? 'marker' : htlb.isHole(p, i) ? 'hole' : 'none', wp: !!e, file: false, sd: false };
  }
  const pmd = p.pmds.get(blockOf(i));
  if (!pmd) return { kind: 'hole' };
  if (pmd.t === 'huge') return { kind: 'huge', wp: pmd.wp, sd: pmd.sd, file: !!pmd.pages && !pmd.pages[0].anon, hugeZero: !pmd.pages };
  const e = p.ptes.get(i);
  if (!e) return { kind: 'none' };
  if (e.t === 'present') return { kind: 'present', wp: e.wp, sd: e.sd, file: !e.page.anon, zero: e.page.zero };
  if (e.t === 'swap') return { kind: 'swap', wp: e.wp, sd: e.sd };
  if (e.t === 'guard') return { kind: 'guard', wp: e.wp, sd: e.sd };
  return { kind: 'marker', sd: e.sd };
}

interface Snapshot { huge: Map<number, boolean>; present: Set<number>; zero: Set<number> }

/** Huge blocks (block -> is huge zero) and present pages of the op's region, before the op. */
function snapshot(m: Machine, op: Op): Snapshot | undefined {
  const p = m.procs[op.proc ?? 0];
  if (!p?.alive || !('region' in op)) return undefined;
  const r = p.regions.get(op.region);
  if (!r) return undefined;
  const huge = new Map<number, boolean>();
  const present = new Set<number>();
  for (let b = blockOf(r.start); b <= blockOf(r.start + r.pages - 1); b++) {
    const pmd = p.pmds.get(b);
    if (pmd?.t === 'huge') huge.set(b, !pmd.pages);
  }
  if (op.op === 'pageout') {
    for (let i = r.start; i < r.start + r.pages; i++) {
      if (p.pmds.get(blockOf(i))?.t === 'huge' || p.ptes.get(i)?.t === 'present') present.add(i);
    }
  }
  const zero = recordsZero(op) ? zeroPages(p, r.start, r.pages) : new Set<number>();
  return { huge, present, zero };
}

/** Pages of [start, start+pages) mapped to the zero page (4 KiB, or by a huge zero PMD). */
function zeroPages(p: Proc, start: number, pages: number): Set<number> {
  const out = new Set<number>();
  for (let i = start; i < start + pages; i++) {
    const pmd = p.pmds.get(blockOf(i));
    const e = p.ptes.get(i);
    if (pmd?.t === 'huge' ? !pmd.pages : e?.t === 'present' && e.page.zero) out.add(i);
  }
  return out;
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
  for (let b = blockOf(r.start); b <= blockOf(r.start + r.pages - 1); b++) {
    const pmd = p.pmds.get(b);
    if (pmd?.t !== 'huge') continue;
    const was = before.huge.get(b);
    if (was === undefined || was !== !pmd.pages) huge.push(Math.max(b * HPAGE_PAGES, r.start) - r.start);
  }
  if (huge.length) { out.huge = dict(); out.huge[op.region] = huge; }
  if (recordsZero(op)) {
    // the form the executor records: new 4 KiB zero pages, a new huge zero PMD by its block's first page
    const zero = new Set<number>();
    for (const i of zeroPages(p, r.start, r.pages)) {
      if (before.zero.has(i)) continue;
      zero.add(p.pmds.get(blockOf(i))?.t === 'huge' ? Math.max(blockStart(blockOf(i)), r.start) - r.start : i - r.start);
    }
    out.zero = dict();
    out.zero[op.region] = [...zero].sort((a, b) => a - b);
  }
  if (op.op === 'pageout') {
    const gone: number[] = [];
    for (const i of before.present) {
      if (p.pmds.get(blockOf(i))?.t === 'huge' || p.ptes.get(i)?.t === 'present') continue;
      gone.push(i - r.start);
    }
    if (gone.length) { out.swapped_out = dict(); out.swapped_out[op.region] = gone.sort((a, b) => a - b); }
  }
  return out;
}
