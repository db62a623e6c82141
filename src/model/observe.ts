// The model's pagemap observer: after every op of a prediction, what a pagemap read of every page of
// every region of every live process shows (fs/proc/task_mmu.c pagemap_read; R-PM-1..5), the entry
// class behind each page, and what each page reads (the content oracle, content.ts). Called by
// predict() (src/model/model.ts) once per step.
// Only what changed is read again: the machine stamps every PteTable chunk, PMD block and Page it
// changes or hands out with the mutation clock (src/model/state.ts), and a region's view keeps the
// tick of its last look; a chunk whose entries, PMD and pages carry no newer stamp, under VMAs that
// did not move, shows what it showed. Regions the stamps do not cover (hugetlb: its own tables)
// and attribution (the rules behind every bit, asked only on a divergence) are read whole.
import { dict } from '../ops/records.ts';
import type { ContentMap, PageMap } from '../ops/trace.ts';
import type { EntryClass } from './api.ts';
import type { Machine } from './machine.ts';
import type { Knobs } from './profile.ts';
import { blockOf, clockNow, HPAGE_PAGES, mapcount, PTE_CHUNK, type HugePmd, type Page, type Proc, type Pte, type Region, type Vma } from './state.ts';
import { contentOf, contentWhy } from './content.ts';
import * as htlb from './hugetlb.ts';

export interface Observation {
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

/** the R-PM rules an observation exercised, as bits of Observation.seen */
const SEEN = { PM1: 1, PM2: 2, PM3: 4, PM4: 8, PM5: 16 } as const;
export const SEEN_RULES: readonly [number, string][] = [[SEEN.PM1, 'R-PM-1'], [SEEN.PM2, 'R-PM-2'], [SEEN.PM3, 'R-PM-3'], [SEEN.PM4, 'R-PM-4'], [SEEN.PM5, 'R-PM-5']];

/** entry classes by the number a page's code packs in bits 7 and up */
const CLASSES: readonly EntryClass[] = ['gap', 'huge', 'huge-zero', 'zero', 'pte-thp', 'pte', 'swap', 'guard', 'marker', 'none'];
const CL = { gap: 0, huge: 1, 'huge-zero': 2, zero: 3, 'pte-thp': 4, pte: 5, swap: 6, guard: 7, marker: 8, none: 9 } as const;

/** One region's observation as the last step left it, and what its walk read. A step whose page
 *  codes and contents are all unchanged reuses its arrays; nothing downstream mutates a
 *  prediction's arrays. */
interface RegionView {
  width: number;
  /** the region's first page and size when walked */
  start: number;
  n: number;
  /** per page: the pagemap bits P..G (bits 0..6) and the entry class (bits 7 and up) */
  codes: Int32Array;
  vals: Float64Array;
  /** per page the content history array read (page.valWhy; undefined: none yet; null: unmapped) */
  whyRefs: (readonly string[] | undefined | null)[];
  any: number;
  strs: string[];
  cls: EntryClass[];
  content: (number | null)[];
  contentWhy: (string[] | null)[];
  /** per page the Page whose fields the walk read (a present PTE's page, a huge PMD's subpage;
   *  the head page a huge PMD's exclusive bit may read is checked by chunkChanged) */
  deps: (Page | undefined)[];
  /** the VMAs over the region when walked, and their start, end, VM_SOFTDIRTY, hugetlb-ness */
  vmas: Vma[];
  vmaNums: number[];
  /** the mutation clock when this view was last known to be current */
  at: number;
  /** false: the walk read state the clock does not stamp (a hugetlb VMA): walk it whole again */
  exact: boolean;
}

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

/** What every page walk of one step reads besides the process: the machine, the mutant and the
 *  knobs (fixed for a prediction), and the scratch array hugetlb's pagemapBits fills. */
interface WalkCtx {
  m: Machine;
  mutant: string | undefined;
  knobs: Knobs;
  b: number[];
}

/** The scratch buffers a region's walk fills before they are compared with its last view (grown
 *  as needed). Only the slots of the walked ranges are meaningful: the rest of the region is the
 *  last view's, which the walk did not read again, so it is neither copied nor compared (at 512
 *  pages a step that changes one chunk costs that chunk, not the region). */
class Scratch {
  codes = new Int32Array(64);
  vals = new Float64Array(64);
  whyRefs: (readonly string[] | undefined | null)[] = [];
  deps: (Page | undefined)[] = [];
  /** the walked slot ranges as pairs [lo, hi), ascending, `nr` numbers of them meaningful */
  ranges: number[] = [];
  nr = 0;

  fit(n: number): void {
    if (this.codes.length < n) { this.codes = new Int32Array(n); this.vals = new Float64Array(n); }
    this.nr = 0;
  }

  /** slots [lo, hi) were walked (adjacent ranges are joined) */
  walked(lo: number, hi: number): void {
    const r = this.ranges;
    if (this.nr > 0 && r[this.nr - 1] === lo) { r[this.nr - 1] = hi; return; }
    r[this.nr++] = lo; r[this.nr++] = hi;
  }
}

const SCRATCH = new Scratch();

/** The region views of one prediction, by process and region name. `everyPage`: read every page
 *  after every op (ModelOptions.observeEveryPage), the reference the skipping is tested against. */
export class Observer {
  private readonly views = new Map<Proc, Map<string, RegionView>>();
  /** one for every prediction: predictions are synchronous and never nested (state.ts resetClock) */
  private readonly scratch = SCRATCH;
  private readonly procViews = new Map<Proc, ProcView>();
  /** the last observation without attribution and its processes' parts, for a step that changed
   *  nothing any observation shows */
  private last: { procs: ProcView[]; obs: Observation } | undefined;
  /** the last observation made, with attribution or not: its maps serve where they still hold */
  private shown: { procs: ProcView[]; obs: Observation } | undefined;
  private ctx: WalkCtx | undefined;

  constructor(private readonly everyPage = false) {}

  /** The observation after a step. Rule attribution only on request: it dominates the cost. */
  observe(m: Machine, mutant: string | undefined, attribution: boolean, width: 6 | 7 = 6): Observation {
    // the machine, mutant and knobs are those of the whole prediction
    const w = this.ctx ??= { m, mutant, knobs: m.k, b: [0, 0, 0, 0, 0, 0, 0] };
    let any = 0;
    const procs: ProcView[] = [];
    const attr = attribution ? { whyOf: new Map<ProcView, Record<string, string[][][]>>(), regOf: new Map<ProcView, Record<string, (string | undefined)[]>>() } : undefined;
    let sameProcs = !attribution && this.last !== undefined;
    for (const p of m.procs) {
      if (!p.alive) continue;
      const pv = this.observeProc(w, p, width, attribution);
      for (const v of pv.list) any |= v.any;
      if (sameProcs && this.last!.procs[procs.length] !== pv) sameProcs = false;
      procs.push(pv);
      if (attr) { attr.whyOf.set(pv, attributeProc(p, 'why')); attr.regOf.set(pv, attributeProc(p, 'reg')); }
    }
    const seen = seenOf(any);
    // every live process kept its maps: the step's maps are the last step's
    // (the same views give the same R-PM bits: the last observation itself serves, as a step's
    // maps are shared between steps already and nothing downstream changes an observation)
    if (sameProcs && this.last!.procs.length === procs.length) return this.last!.obs.seen === seen ? this.last!.obs : { ...this.last!.obs, seen };
    const obs = assemble(procs, seen, attr, this.shown);
    this.shown = { procs, obs };
    this.last = attribution ? undefined : this.shown;
    return obs;
  }

  /** Process p's part: each region's view, and p's maps of the last step when every view is kept. */
  private observeProc(w: WalkCtx, p: Proc, width: number, attribution: boolean): ProcView {
    let views = this.views.get(p);
    if (!views) this.views.set(p, views = new Map());
    const was = this.procViews.get(p);
    // the last step's part while every region keeps its name and view; lists only once one does not
    let kept = !attribution && was !== undefined && was.names.length === p.regions.size;
    let names: string[] | undefined, list: RegionView[] | undefined;
    let k = 0;
    for (const [name, r] of p.regions) {
      const prev = views.get(name);
      const view = this.observeRegion(w, p, r, width, prev);
      if (view !== prev) views.set(name, view);
      if (kept && (was!.names[k] !== name || was!.list[k] !== view)) { kept = false; names = was!.names.slice(0, k); list = was!.list.slice(0, k); }
      if (!kept) { (names ??= []).push(name); (list ??= []).push(view); }
      k++;
    }
    if (kept) return was!;
    names ??= []; list ??= [];
    // each of the four maps is the last step's while its regions and their arrays of that kind
    // are (a write changes letters and contents, seldom entry classes)
    const like = was !== undefined && sameNames(was.names, names) ? was : undefined;
    const pv: ProcView = {
      id: String(p.id), names, list,
      pages: regionMap(names, list, 'strs', like, like?.pages),
      entry: regionMap(names, list, 'cls', like, like?.entry),
      content: regionMap(names, list, 'content', like, like?.content),
      contentWhy: regionMap(names, list, 'contentWhy', like, like?.contentWhy),
    };
    this.procViews.set(p, pv);
    return pv;
  }

  /** Region r's view after this step: the last one (`prev`) when nothing it read changed; else
   *  built from the last one and the chunks walked again (every chunk without a usable `prev`). */
  private observeRegion(w: WalkCtx, p: Proc, r: Region, width: number, prev: RegionView | undefined): RegionView {
    const n = r.pages;
    const s = this.scratch;
    s.fit(n);
    const at = clockNow();
    // a view of the same size shares the arrays whose part did not change; one also walked under
    // the same VMAs at the same place (and exact) is walked again only where stamps are newer
    const same = prev !== undefined && prev.width === width && prev.n === n ? prev : undefined;
    const usable = same !== undefined && !this.everyPage && same.exact && same.start === r.start && sameVmas(p.vmas, r, same);
    if (usable) {
      // the chunks whose entries, PMD or pages were stamped since the last look
      for (let lo = r.start, end = r.start + n; lo < end;) {
        const c = Math.floor(lo / PTE_CHUNK);
        const hi = Math.min((c + 1) * PTE_CHUNK, end);
        if (chunkChanged(p, c, lo, hi, same, same.at)) {
          walkPages(w, p, r, lo, hi, s);
          s.walked(lo - r.start, hi - r.start);
        }
        lo = hi;
      }
      if (s.nr === 0) { same.at = at; return same; }
      const view = nextView(same, s, n, width);
      // walked under the same VMAs at the same place: where and under what it was walked holds
      if (view !== same) { view.start = same.start; view.exact = true; }
      view.at = at;
      return view;
    }
    walkPages(w, p, r, r.start, r.start + n, s);
    s.walked(0, n);
    const view = nextView(same, s, n, width);
    view.start = r.start;
    view.at = at;
    view.exact = !hugetlbOver(p.vmas, r.start, r.start + n);
    vmasOf(p.vmas, r, view);
    return view;
  }
}

function sameNames(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  for (let k = 0; k < a.length; k++) if (a[k] !== b[k]) return false;
  return true;
}

/** A process's map of one kind (region name -> the views' arrays of that kind): `last` (the map of
 *  `was`, a part with the same region names) while every region's array is the same, else a new
 *  one (prototype-free: region names come from the case). */
function regionMap<K extends 'strs' | 'cls' | 'content' | 'contentWhy'>(names: readonly string[], list: readonly RegionView[], key: K, was: ProcView | undefined, last: Record<string, RegionView[K]> | undefined): Record<string, RegionView[K]> {
  if (was !== undefined && last !== undefined) {
    let k = 0;
    while (k < list.length && list[k][key] === was.list[k][key]) k++;
    if (k === list.length) return last;
  }
  const out = dict<RegionView[K]>();
  for (let k = 0; k < names.length; k++) out[names[k]] = list[k][key];
  return out;
}

/** pagemap read of pages [lo, hi) of region r into the scratch buffers (slot k: page r.start + k). */
function walkPages(w: WalkCtx, p: Proc, r: Region, lo: number, hi: number, s: Scratch): void {
  const { codes, vals, whyRefs, deps } = s;
  const vmas = p.vmas; // sorted by start
  let vi = 0;
  while (vi < vmas.length && vmas[vi].end <= lo) vi++;
  let blkEnd = -1; // the PMD is looked up once per block (page numbers are never negative: small integers throughout)
  let huge: HugePmd | undefined;
  let chunk: readonly (Pte | undefined)[] | undefined; // the PteTable chunk holding page i
  let chunkBase = 0, chunkEnd = -1;
  for (let i = lo, k = lo - r.start; i < hi; i++, k++) {
    while (vi < vmas.length && vmas[vi].end <= i) vi++;
    const v = vi < vmas.length && vmas[vi].start <= i ? vmas[vi] : undefined;
    if (i >= blkEnd) { const bk = blockOf(i); blkEnd = (bk + 1) * HPAGE_PAGES; const pmd = p.pmds.peek(bk); huge = pmd?.t === 'huge' ? pmd : undefined; }
    if (i >= chunkEnd) { const c = Math.floor(i / PTE_CHUNK); chunkBase = c * PTE_CHUNK; chunkEnd = chunkBase + PTE_CHUNK; chunk = p.ptes.peekChunk(c)?.e; }
    const e = huge || chunk === undefined ? undefined : chunk[i - chunkBase];
    const sub = huge?.pages ? huge.pages[i % HPAGE_PAGES] : undefined;
    let code: number;
    if (!v) code = gapCode(w);
    else if (htlb.isHugetlbVma(v)) code = hugetlbCode(w, p, v, i);
    else if (huge) code = hugeCode(w, v, huge, sub);
    else code = pteCode(w, v, e);
    codes[k] = code;
    // the page this process maps here, whatever the VMA says (content.ts mappedPage)
    const pg = huge ? sub : e?.t === 'present' ? e.page : undefined;
    deps[k] = pg;
    if (huge && !huge.pages) { vals[k] = 0; whyRefs[k] = undefined; }
    else if (pg) { vals[k] = contentOf(pg); whyRefs[k] = pg.valWhy; }
    else { vals[k] = -1; whyRefs[k] = null; }
  }
}

// A page's code: pagemap bits P S F E W D G as bits 0..6, its entry class from bit 7.

/** R-PM-1: addresses outside any VMA read all zero */
function gapCode(w: WalkCtx): number {
  return (w.mutant === 'M-2' ? 32 : 0) | (CL.gap << 7);
}

/** R-HTLB-9: pagemap_hugetlb_range */
function hugetlbCode(w: WalkCtx, p: Proc, v: Vma, i: number): number {
  const b = w.b;
  b[0] = b[1] = b[2] = b[3] = b[4] = b[5] = b[6] = 0;
  const hk = htlb.pagemapBits(w.m, p, v, i, b);
  return (b[0] | (b[1] << 1) | (b[2] << 2) | (b[3] << 3) | (b[4] << 4) | (b[5] << 5) | (b[6] << 6)) | (CL[hk] << 7);
}

/** a page under a huge PMD (pagemap_pmd_range) */
function hugeCode(w: WalkCtx, v: Vma, huge: HugePmd, sub: Page | undefined): number {
  const excl = w.knobs.pmdExclusiveFromHead ? huge.pages?.[0] : sub;
  const bits = 1 | ((sub ? (sub.anon ? 0 : 1) : w.knobs.hugeZeroPmFile ? 1 : 0) << 2)
    | (excl && mapcount(excl) === 1 ? 8 : 0)
    | (huge.wp ? 16 : 0) | (huge.sd || v.sd ? 32 : 0);
  return bits | ((sub ? CL.huge : CL['huge-zero']) << 7);
}

/** a page under a PTE table (pte_to_pagemap_entry) */
function pteCode(w: WalkCtx, v: Vma, e: Pte | undefined): number {
  if (e === undefined) return (w.mutant !== 'M-1' && v.sd ? 32 : 0) | (CL.none << 7);
  const sd = e.sd || v.sd ? 32 : 0;
  switch (e.t) {
    case 'present': {
      const pg = e.page;
      const bits = 1 | (pg.anon ? 0 : 4) | (!pg.zero && mapcount(pg) === 1 ? 8 : 0) | (e.wp ? 16 : 0) | sd;
      return bits | ((pg.zero ? CL.zero : pg.folio ? CL['pte-thp'] : CL.pte) << 7);
    }
    case 'swap': return 2 | (e.wp ? 16 : 0) | sd | (CL.swap << 7);
    // R-GRD-1: a guard marker is a swap PTE with PM_GUARD_REGION (bit 58); its swp uffd-wp and
    // soft-dirty bits read as for any swap PTE (fs/proc/task_mmu.c pte_to_pagemap_entry)
    case 'guard': return 2 | (e.wp ? 16 : 0) | sd | 64 | (CL.guard << 7);
    case 'marker': return (w.mutant === 'M-3' ? 0 : 2) | 16 | sd | (CL.marker << 7);
  }
}

/** Whether anything pages [lo, hi) of chunk c read was stamped after `at`: the chunk's entries,
 *  its block's PMD (a chunk lies in one block: PTE_CHUNK divides the PMD's pages), the head page
 *  of a huge PMD (whose mapcount the exclusive bit reads with knob pmdExclusiveFromHead), or a
 *  page a slot read (the view's deps). */
function chunkChanged(p: Proc, c: number, lo: number, hi: number, v: RegionView, at: number): boolean {
  const t = p.ptes.peekChunk(c);
  if (t !== undefined && t.ver > at) return true;
  const b = blockOf(lo);
  if (p.pmds.stampOf(b) > at) return true;
  const pmd = p.pmds.peek(b);
  if (pmd?.t === 'huge' && pmd.pages && pmd.pages[0].ver > at) return true;
  const deps = v.deps;
  for (let k = lo - v.start, kEnd = hi - v.start; k < kEnd; k++) {
    const d = deps[k];
    if (d !== undefined && d.ver > at) return true;
  }
  return false;
}

/** whether a hugetlb VMA overlaps pages [start, end) (its entries are not stamped: walked whole) */
function hugetlbOver(vmas: readonly Vma[], start: number, end: number): boolean {
  for (let k = 0; k < vmas.length; k++) { const v = vmas[k]; if (v.start < end && start < v.end && htlb.isHugetlbVma(v)) return true; }
  return false;
}

/** Whether the VMAs over region r are those `v` was walked under, with the same bounds,
 *  VM_SOFTDIRTY and kind (VMAs are changed in place: compared by value, not only identity). */
function sameVmas(vmas: readonly Vma[], r: Region, v: RegionView): boolean {
  const end = r.start + r.pages;
  let j = 0;
  for (let i = 0; i < vmas.length; i++) {
    const x = vmas[i];
    if (x.end <= r.start) continue;
    if (x.start >= end) break;
    if (j >= v.vmas.length || v.vmas[j] !== x) return false;
    const o = 4 * j;
    if (v.vmaNums[o] !== x.start || v.vmaNums[o + 1] !== x.end || v.vmaNums[o + 2] !== (x.sd ? 1 : 0) || v.vmaNums[o + 3] !== (htlb.isHugetlbVma(x) ? 1 : 0)) return false;
    j++;
  }
  return j === v.vmas.length;
}

/** Record in view `v` the VMAs over region r (sameVmas compares against them). Written slot by
 *  slot into the view's own lists (nextView hands a replaced view's on) and cut to length, so
 *  that lists of the same length keep their storage. */
function vmasOf(vmas: readonly Vma[], r: Region, v: RegionView): void {
  const end = r.start + r.pages;
  const list = v.vmas, nums = v.vmaNums;
  let j = 0;
  for (let i = 0; i < vmas.length; i++) {
    const x = vmas[i];
    if (x.end <= r.start) continue;
    if (x.start >= end) break;
    list[j] = x;
    const o = 4 * j++;
    nums[o] = x.start; nums[o + 1] = x.end; nums[o + 2] = x.sd ? 1 : 0; nums[o + 3] = htlb.isHugetlbVma(x) ? 1 : 0;
  }
  if (list.length !== j) { list.length = j; nums.length = 4 * j; }
}

/** the content history of a page no write reached (content.ts contentWhy), one array for every
 *  such page: a prediction's arrays are read, never changed */
const FRESH_WHY = contentWhy(undefined);

/** A region's view after this walk (the scratch buffers' walked ranges; every other slot is
 *  `prev`'s): the previous view when nothing changed, else a new one that shares each of the
 *  previous view's arrays whose part did not change (letters, entry classes, contents, content
 *  histories) and copies the others with the walked slots rewritten, so a step costs the walk and
 *  the arrays that changed. The caller fills in where the view was walked (start, at, exact, vmas). */
function nextView(prev: RegionView | undefined, s: Scratch, n: number, width: number): RegionView {
  const { codes, vals, whyRefs, ranges, nr } = s;
  const sdeps = s.deps;
  let letters = !prev, classes = !prev, values = !prev, whys = !prev, deps = !prev;
  if (prev) {
    const pc = prev.codes, pv = prev.vals, pw = prev.whyRefs, pd = prev.deps;
    for (let j = 0; j < nr; j += 2) {
      for (let k = ranges[j], kEnd = ranges[j + 1]; k < kEnd; k++) {
        const c = codes[k], d = pc[k];
        if (c !== d) { if ((c & 127) !== (d & 127)) letters = true; if (c >> 7 !== d >> 7) classes = true; }
        const w = whyRefs[k], x = pw[k];
        if (w !== x) { whys = true; if ((w === null) !== (x === null)) values = true; }
        if (vals[k] !== pv[k]) values = true;
        if (sdeps[k] !== pd[k]) deps = true;
      }
    }
    if (!letters && !classes && !values && !whys && !deps) return prev;
  }
  const table = width === 7 ? LETTER_TABLE_7 : LETTER_TABLE;
  let strs = prev?.strs, cls = prev?.cls, content = prev?.content, contentWhys = prev?.contentWhy;
  // a changed array starts as a copy of the last one (one block copy) and the walked slots are
  // rewritten; without a last view the one range is the whole region
  if (letters) strs = prev ? prev.strs.slice() : new Array<string>(n);
  if (classes) cls = prev ? prev.cls.slice() : new Array<EntryClass>(n);
  if (values) content = prev ? prev.content.slice() : new Array<number | null>(n);
  if (whys) contentWhys = prev ? prev.contentWhy.slice() : new Array<string[] | null>(n);
  // the walk's own arrays (codes, vals, whyRefs, deps) are the observer's alone: the previous
  // view's, of the same size, are dead once this one replaces it (only its identity is compared,
  // observeProc), so their walked slots are overwritten rather than copied anew
  let vc: Int32Array, vv: Float64Array, vw: (readonly string[] | undefined | null)[], vd: (Page | undefined)[];
  if (prev) { vc = prev.codes; vv = prev.vals; vw = prev.whyRefs; vd = prev.deps; }
  else { vc = new Int32Array(n); vv = new Float64Array(n); vw = new Array(n); vd = new Array(n); }
  for (let j = 0; j < nr; j += 2) {
    for (let k = ranges[j], kEnd = ranges[j + 1]; k < kEnd; k++) {
      const c = codes[k], w = whyRefs[k];
      if (letters) strs![k] = table[c & 127];
      if (classes) cls![k] = CLASSES[c >> 7];
      if (values) content![k] = w === null ? null : vals[k];
      if (whys) contentWhys![k] = w === null ? null : w === undefined ? FRESH_WHY : contentWhy(w as string[]);
      vc[k] = c; vv[k] = vals[k]; vw[k] = w; vd[k] = sdeps[k];
    }
  }
  return {
    width, start: 0, n, at: 0, exact: true, vmas: prev ? prev.vmas : [], vmaNums: prev ? prev.vmaNums : [],
    any: letters || classes ? anyOf(vc, n) : prev!.any,
    codes: vc, vals: vv, whyRefs: vw, deps: vd,
    strs: strs!, cls: cls!, content: content!, contentWhy: contentWhys!,
  };
}

/** The R-PM rules pages with these codes exercise, as bits: R-PM-1 D, R-PM-2 W, R-PM-3 S,
 *  R-PM-4 E, R-PM-5 F. */
function anyOf(codes: Int32Array, n: number): number {
  let any = 0;
  for (let k = 0; k < n; k++) {
    const bits = codes[k];
    any |= ((bits >> 5) & 1) | (((bits >> 4) & 1) << 1) | (((bits >> 1) & 1) << 2) | (bits & 8) | (((bits >> 2) & 1) << 4);
  }
  return any;
}

function seenOf(any: number): number {
  let seen = 0;
  if (any & 1) seen |= SEEN.PM1;
  if (any & 2) seen |= SEEN.PM2;
  if (any & 4) seen |= SEEN.PM3;
  if (any & 8) seen |= SEEN.PM4;
  if (any & 16) seen |= SEEN.PM5;
  return seen;
}

/** Without attribution a process's `why` is empty, and so is the whole `reg` (predict() reports it
 *  only with attribution): one frozen record each for every step, not new ones per step and process */
const NO_WHY: Record<string, string[][][]> = Object.freeze(dict<string[][][]>());
const NO_REG: Observation['reg'] = Object.freeze(dict<Record<string, (string | undefined)[]>>());

type Shown = { procs: ProcView[]; obs: Observation };

/** The step's maps from its processes' parts (keyed by process ids: prototype-free, as every map
 *  of a step), with the attribution when asked. Each map is the last observation's (`was`) while
 *  the same processes show the same maps of that kind: no new records for a step that changed
 *  only letters, or only one process. */
function assemble(procs: readonly ProcView[], seen: number, attr: { whyOf: Map<ProcView, Record<string, string[][][]>>; regOf: Map<ProcView, Record<string, (string | undefined)[]>> } | undefined, was: Shown | undefined): Observation {
  const like = was !== undefined && sameIds(was.procs, procs) ? was : undefined;
  const pages = procMap(procs, 'pages', like);
  const entry = procMap(procs, 'entry', like);
  const content = procMap(procs, 'content', like);
  const contentWhys = procMap(procs, 'contentWhy', like);
  let why: Observation['why'];
  let reg: Observation['reg'] = NO_REG;
  if (attr) {
    why = dict(); reg = dict();
    for (const pv of procs) { why[pv.id] = attr.whyOf.get(pv)!; reg[pv.id] = attr.regOf.get(pv)!; }
  } else if (like !== undefined && like.obs.reg === NO_REG) why = like.obs.why; // every process's NO_WHY
  else {
    why = dict();
    for (const pv of procs) why[pv.id] = NO_WHY;
  }
  return { seen, pages, why, entry, reg, content, contentWhy: contentWhys };
}

function sameIds(a: readonly ProcView[], b: readonly ProcView[]): boolean {
  if (a.length !== b.length) return false;
  for (let k = 0; k < a.length; k++) if (a[k].id !== b[k].id) return false;
  return true;
}

/** The step's map of one kind (process id -> that process's map): the last observation's while
 *  every process shows the same one (`was`: the last observation, over the same process ids). */
function procMap<K extends 'pages' | 'entry' | 'content' | 'contentWhy'>(procs: readonly ProcView[], key: K, was: Shown | undefined): Record<string, ProcView[K]> {
  if (was !== undefined) {
    let k = 0;
    while (k < procs.length && procs[k][key] === was.procs[k][key]) k++;
    if (k === procs.length) return was.obs[key] as Record<string, ProcView[K]>;
  }
  const out = dict<ProcView[K]>();
  for (const pv of procs) out[pv.id] = pv[key];
  return out;
}

// ---------------------------------------------------------------------------------------------
// attribution: the rules behind every bit (on a divergence only)

/** Per region of p, per page: the rules behind each bit (`why`), or the registration decision of
 *  its VMA (`reg`). */
function attributeProc(p: Proc, what: 'why'): Record<string, string[][][]>;
function attributeProc(p: Proc, what: 'reg'): Record<string, (string | undefined)[]>;
function attributeProc(p: Proc, what: 'why' | 'reg'): Record<string, string[][][]> | Record<string, (string | undefined)[]> {
  const out: Record<string, unknown[]> = dict();
  for (const [name, r] of p.regions) {
    const list: unknown[] = [];
    let vi = 0;
    for (let i = r.start; i < r.start + r.pages; i++) {
      while (vi < p.vmas.length && p.vmas[vi].end <= i) vi++;
      const v = vi < p.vmas.length && p.vmas[vi].start <= i ? p.vmas[vi] : undefined;
      list.push(what === 'why' ? attribute(p, v, i).map(uniq) : regDecision(v));
    }
    out[name] = list;
  }
  return out as Record<string, string[][][]> | Record<string, (string | undefined)[]>;
}

/** The registration decision of a VMA (PredictedStep.reg): `+RULE` registered, `-RULE` not
 *  registered, RULE the last rule that decided it (Vma.regWhy); undefined when none ever did. */
export function regDecision(v: Vma | undefined): string | undefined {
  const last = v?.regWhy[v.regWhy.length - 1];
  return last === undefined ? undefined : `${v!.uffd ? '+' : '-'}${last}`;
}

/** The rules behind each of the six bits of page i (P S F E W D). */
function attribute(p: Proc, v: Vma | undefined, i: number): string[][] {
  if (!v) return [['R-MUNMAP-1'], ['R-MUNMAP-1'], ['R-MUNMAP-1'], ['R-MUNMAP-1'], ['R-MUNMAP-1'], ['R-PM-1', 'R-MUNMAP-1'], ['R-MUNMAP-1']];
  if (htlb.isHugetlbVma(v)) {
    const w = ['R-HTLB-9', ...htlb.why(p, i)];
    return [w, w, w, w, [...w, ...v.regWhy], ['R-PM-1', ...v.sdWhy], w];
  }
  const pmd = p.pmds.peek(blockOf(i));
  if (pmd?.t === 'huge') {
    return [pmd.why, ['R-PM-3'], ['R-PM-5', ...pmd.why], ['R-PM-4', ...pmd.why], ['R-PM-2', ...pmd.why], ['R-PM-1', ...(pmd.sd ? pmd.why : v.sdWhy)], ['R-GRD-1', ...pmd.why]];
  }
  const e = p.ptes.peek(i);
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

export function uniq(a: string[]): string[] {
  return [...new Set(a)];
}
