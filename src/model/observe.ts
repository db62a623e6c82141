// The model's pagemap observer: after every op of a prediction, what a pagemap read of every page of
// every region of every live process shows (fs/proc/task_mmu.c pagemap_read; R-PM-1..5), the entry
// class behind each page, and what each page reads (the content oracle, content.ts). Called by
// predict() (src/model/model.ts) once per step.
// Only what changed is read again: the machine stamps every PteTable chunk, PMD block and Page it
// changes or hands out with the mutation clock (src/model/state.ts), and a region's view keeps the
// tick of its last look; a chunk whose entries, PMD and pages carry no newer stamp, under VMAs that
// did not move, shows what it showed. Regions the stamps do not cover (hugetlb: its own tables)
// and attribution (the rules behind every bit, asked only on a divergence) are read whole. Within a
// chunk not handed out whole and under a PMD with no newer stamp, only the slots whose entry or page
// was stamped are read (entries and PMDs stamp only changes the walk can see). A step's
// arrays (letters, entry classes, contents, content histories) are the last step's where none of
// their pages changed; a changed one is a copy made on its first changed page (Writer), never an
// array a step has shown (test/model/observe-shared.test.ts).
import { dict } from '../ops/records.ts';
import type { ContentMap, PageMap } from '../ops/trace.ts';
import type { EntryClass } from './api.ts';
import type { Machine } from './machine.ts';
import type { Knobs } from './profile.ts';
import { blockOf, clockNow, HPAGE_PAGES, mapcount, pageStampNow, PTE_CHUNK, type HugePmd, type Page, type Proc, type Pte, type Region, type Vma } from './state.ts';
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

/** The four maps of a step, as indices into RegionView.out and ProcView.maps: per page the
 *  letters, the entry class, the content and the content history. */
const PAGES = 0, ENTRY = 1, CONTENT = 2, CWHY = 3;
/** a mask of changed map kinds (bit 1 << kind), and STRUCT: the set of processes changed */
const ALL_KINDS = 15, STRUCT = 16;

/** a region's four arrays a step shows (by kind: PAGES, ENTRY, CONTENT, CWHY) */
type Out = [string[], EntryClass[], (number | null)[], (string[] | null)[]];
/** a process's four maps (region name -> that region's array of the kind) */
type Maps = [Record<string, string[]>, Record<string, EntryClass[]>, Record<string, (number | null)[]>, Record<string, (string[] | null)[]>];

/** One region's observation as the last step left it, and what its walk read. Its `out` arrays
 *  are shown by predictions and never changed once shown (a later view that changes a page
 *  copies the array first: Writer); `codes` and `deps` are the observer's own, handed from a view
 *  to the next and written in place (only the latest view's are read). */
interface RegionView {
  width: number;
  /** the region's first page and size when walked */
  start: number;
  n: number;
  /** per page: the pagemap bits P..G (bits 0..6) and the entry class (bits 7 and up) `out` shows */
  codes: number[];
  /** per page the Page whose fields the walk read (a present PTE's page, a huge PMD's subpage;
   *  the head page a huge PMD's exclusive bit may read is checked by walkStamped) */
  deps: (Page | undefined)[];
  /** the R-PM rules the codes exercise (anyOf) */
  any: number;
  out: Out;
  /** the VMAs over the region when walked, and their start, end, VM_SOFTDIRTY, hugetlb-ness */
  vmas: Vma[];
  vmaNums: number[];
  /** the mutation clock when this view was last known to be current */
  at: number;
  /** false: the walk read state the clock does not stamp (a hugetlb VMA): walk it whole again */
  exact: boolean;
}

/** One live process's part of the observations of a prediction, kept from step to step: its
 *  regions' names and views (in region order, written in place), the maps the last step showed
 *  (each replaced, never changed, when a region's array of its kind is), and what this step
 *  changed (`changed`: a mask of kinds) and exercised (`any`). */
interface ProcView {
  id: string;
  names: string[];
  views: RegionView[];
  maps: Maps;
  changed: number;
  any: number;
}

/** What every page walk of one step reads besides the process: the machine, the mutant and the
 *  knobs (fixed for a prediction), and the scratch array hugetlb's pagemapBits fills. */
interface WalkCtx {
  m: Machine;
  mutant: string | undefined;
  knobs: Knobs;
  b: number[];
}

/** the content history of a page no write reached (content.ts contentWhy), one array for every
 *  such page: a prediction's arrays are read, never changed */
const FRESH_WHY = contentWhy(undefined);

/** The arrays the walk of one region writes, slot by slot, as it reads each page: the view's
 *  `out` arrays, each copied on its first changed slot (`own`: a bit per kind copied or new), so
 *  that an array an earlier step showed is never changed and a kind no page changed stays the
 *  last view's; and the view's codes and deps, written in place. A slot whose code, content and
 *  history are the last view's writes nothing but its dep: a walk costs the pages it reads and the
 *  arrays that change, in one pass (no scratch copy compared afterwards). */
class Writer {
  strs: string[] = [];
  cls: EntryClass[] = [];
  content: (number | null)[] = [];
  cwhy: (string[] | null)[] = [];
  codes: number[] = [];
  deps: (Page | undefined)[] = [];
  own = 0;
  table: readonly string[] = [];

  /** start writing over `from`'s arrays, or over new ones of n slots */
  begin(from: RegionView | undefined, n: number, width: number): void {
    this.table = width === 7 ? LETTER_TABLE_7 : LETTER_TABLE;
    if (from !== undefined) {
      const o = from.out;
      this.strs = o[PAGES]; this.cls = o[ENTRY]; this.content = o[CONTENT]; this.cwhy = o[CWHY];
      this.codes = from.codes; this.deps = from.deps;
      this.own = 0;
    } else {
      this.strs = new Array<string>(n); this.cls = new Array<EntryClass>(n);
      this.content = new Array<number | null>(n); this.cwhy = new Array<string[] | null>(n);
      this.codes = new Array<number>(n); this.deps = new Array<Page | undefined>(n);
      this.own = ALL_KINDS;
    }
  }

  /** slot k reads code c (pagemap bits and entry class), content cv and history cw (null, null:
   *  no page), from page pg */
  put(k: number, c: number, pg: Page | undefined, cv: number | null, cw: string[] | null): void {
    this.deps[k] = pg;
    // the codes describe the out arrays' letters and classes: the same code, the same strings
    if (this.codes[k] !== c) {
      this.codes[k] = c;
      const s = this.table[c & 127];
      if (this.strs[k] !== s) {
        if ((this.own & 1) === 0) { this.strs = this.strs.slice(); this.own |= 1; }
        this.strs[k] = s;
      }
      const e = CLASSES[c >> 7];
      if (this.cls[k] !== e) {
        if ((this.own & 2) === 0) { this.cls = this.cls.slice(); this.own |= 2; }
        this.cls[k] = e;
      }
    }
    if (this.content[k] !== cv) {
      if ((this.own & 4) === 0) { this.content = this.content.slice(); this.own |= 4; }
      this.content[k] = cv;
    }
    if (this.cwhy[k] !== cw) {
      if ((this.own & 8) === 0) { this.cwhy = this.cwhy.slice(); this.own |= 8; }
      this.cwhy[k] = cw;
    }
  }

  /** a new view of what was written (`from`: the view it was written over); the caller fills in
   *  where it was walked (start, at, exact, vmas) */
  view(from: RegionView | undefined, n: number, width: number): RegionView {
    return {
      width, start: 0, n, at: 0, exact: true, vmas: from ? from.vmas : [], vmaNums: from ? from.vmaNums : [],
      codes: this.codes, deps: this.deps,
      // the R-PM bits are letters (P..D): unchanged letters, unchanged rules
      any: (this.own & 1) !== 0 ? anyOf(this.codes, n) : from!.any,
      out: [this.strs, this.cls, this.content, this.cwhy],
    };
  }
}

/** one for every prediction: predictions are synchronous and never nested (state.ts resetClock) */
const WRITER = new Writer();

/** The region views of one prediction, by process and region name. `everyPage`: read every page
 *  after every op (ModelOptions.observeEveryPage), the reference the skipping is tested against. */
export class Observer {
  private readonly procs = new Map<Proc, ProcView>();
  /** the live processes' parts in the last observation, in process order (written in place) */
  private readonly list: ProcView[] = [];
  /** the last observation made, and whether without attribution: its maps serve where they still
   *  hold, and the whole of it (without attribution) for a step that changed nothing it shows */
  private shown: Observation | undefined;
  private plain = false;
  private ctx: WalkCtx | undefined;

  constructor(private readonly everyPage = false) {}

  /** The observation after a step. Rule attribution only on request: it dominates the cost. */
  observe(m: Machine, mutant: string | undefined, attribution: boolean, width: 6 | 7 = 6): Observation {
    // the machine, mutant and knobs are those of the whole prediction
    const w = this.ctx ??= { m, mutant, knobs: m.k, b: [0, 0, 0, 0, 0, 0, 0] };
    const list = this.list;
    let any = 0, changed = 0, k = 0;
    let why: Observation['why'] | undefined, reg: Observation['reg'] = NO_REG;
    if (attribution) { why = dict(); reg = dict(); }
    for (const p of m.procs) {
      if (!p.alive) continue;
      const pv = this.observeProc(w, p, width);
      if (list[k] !== pv) { list[k] = pv; changed |= ALL_KINDS | STRUCT; }
      changed |= pv.changed;
      any |= pv.any;
      if (attribution) { why![pv.id] = attributeProc(p, 'why'); reg[pv.id] = attributeProc(p, 'reg'); }
      k++;
    }
    if (list.length !== k) { list.length = k; changed |= ALL_KINDS | STRUCT; }
    const seen = seenOf(any);
    const was = this.shown;
    // nothing any map shows changed: the last observation itself (nothing downstream changes one)
    if (!attribution && this.plain && was !== undefined && changed === 0) return was.seen === seen ? was : { ...was, seen };
    // each map is the last observation's while no process's map of its kind changed
    const fresh = was === undefined;
    const pages = fresh || changed & 1 ? procMap(list, PAGES) : was.pages;
    const entry = fresh || changed & 2 ? procMap(list, ENTRY) : was.entry;
    const content = fresh || changed & 4 ? procMap(list, CONTENT) : was.content;
    const contentWhys = fresh || changed & 8 ? procMap(list, CWHY) : was.contentWhy;
    if (!attribution) {
      // every process's NO_WHY, the last one's while the processes are the same
      if (this.plain && !fresh && (changed & STRUCT) === 0) why = was.why;
      else { why = dict(); for (const pv of list) why[pv.id] = NO_WHY; }
    }
    const obs: Observation = { seen, pages, why: why!, entry, reg, content, contentWhy: contentWhys };
    this.shown = obs;
    this.plain = !attribution;
    return obs;
  }

  /** Process p's part after this step: each region's view, and the maps of the kinds a view
   *  changed built again. */
  private observeProc(w: WalkCtx, p: Proc, width: number): ProcView {
    let pv = this.procs.get(p);
    let changed = 0;
    if (pv === undefined) {
      this.procs.set(p, pv = { id: String(p.id), names: [], views: [], maps: [NO_MAP, NO_MAP, NO_MAP, NO_MAP] as unknown as Maps, changed: 0, any: 0 });
      changed = ALL_KINDS;
    }
    const names = pv.names, views = pv.views;
    // the regions of the last step, once one differs (by name or place): where to find a view
    let oldNames: string[] | undefined, oldViews: RegionView[] | undefined;
    let any = 0, k = 0;
    for (const [name, r] of p.regions) {
      let prev: RegionView | undefined;
      if (oldNames === undefined && names[k] === name) prev = views[k];
      else {
        if (oldNames === undefined) { oldNames = names.slice(); oldViews = views.slice(); changed = ALL_KINDS; }
        const j = oldNames.indexOf(name);
        prev = j >= 0 ? oldViews![j] : undefined;
        names[k] = name;
      }
      const view = this.observeRegion(w, p, r, width, prev);
      const old = views[k];
      if (view !== old) {
        if (old === undefined) changed = ALL_KINDS;
        else {
          const a = view.out, b = old.out;
          if (a[PAGES] !== b[PAGES]) changed |= 1;
          if (a[ENTRY] !== b[ENTRY]) changed |= 2;
          if (a[CONTENT] !== b[CONTENT]) changed |= 4;
          if (a[CWHY] !== b[CWHY]) changed |= 8;
        }
        views[k] = view;
      }
      any |= view.any;
      k++;
    }
    if (names.length !== k) { names.length = k; views.length = k; changed = ALL_KINDS; }
    const maps = pv.maps;
    if (changed & 1) maps[PAGES] = regionMap(names, views, PAGES);
    if (changed & 2) maps[ENTRY] = regionMap(names, views, ENTRY);
    if (changed & 4) maps[CONTENT] = regionMap(names, views, CONTENT);
    if (changed & 8) maps[CWHY] = regionMap(names, views, CWHY);
    pv.changed = changed;
    pv.any = any;
    return pv;
  }

  /** Region r's view after this step: the last one (`prev`) when nothing it read changed; else
   *  one written over the last one where the walk found changes (every chunk without a usable
   *  `prev`). */
  private observeRegion(w: WalkCtx, p: Proc, r: Region, width: number, prev: RegionView | undefined): RegionView {
    const n = r.pages;
    const at = clockNow();
    const wr = WRITER;
    // a view of the same size shares the arrays whose part did not change; one also walked under
    // the same VMAs at the same place (and exact) is walked again only where stamps are newer
    const same = prev !== undefined && prev.width === width && prev.n === n ? prev : undefined;
    wr.begin(same, n, width);
    if (same !== undefined && !this.everyPage && same.exact && same.start === r.start && sameVmas(p.vmas, r, same)) {
      // the chunks whose entries, PMD or pages were stamped since the last look
      // nothing was stamped since the last look (a step that changed no entry, PMD or page)
      if (same.at === at) return same;
      walkStamped(w, p, r, same, wr);
      if (wr.own === 0) { same.at = at; return same; }
      // walked under the same VMAs at the same place: where and under what it was walked holds
      const view = wr.view(same, n, width);
      view.start = same.start;
      view.at = at;
      return view;
    }
    walkPages(w, p, r, r.start, r.start + n, wr);
    const view = wr.own === 0 ? same! : wr.view(same, n, width);
    view.start = r.start;
    view.at = at;
    view.exact = !hugetlbOver(p.vmas, r.start, r.start + n);
    vmasOf(p.vmas, r, view);
    return view;
  }
}

/** a process's maps before its first observation (always replaced by it) */
const NO_MAP = Object.freeze(dict<never>());

/** A process's map of one kind: region name -> that region's array (prototype-free: region names
 *  come from the case). */
function regionMap<K extends 0 | 1 | 2 | 3>(names: readonly string[], views: readonly RegionView[], kind: K): Maps[K] {
  const out = dict<Out[K]>();
  for (let k = 0; k < names.length; k++) out[names[k]] = views[k].out[kind];
  return out as Maps[K];
}

/** The step's map of one kind: process id -> that process's map (prototype-free, as every map of
 *  a step). Its keys are integers (V8 keeps them as elements): one whose first process is 0, as
 *  nearly all are, starts as a literal holding it, about a third of the cost of adding the first
 *  element to an empty Object.create(null). */
function procMap<K extends 0 | 1 | 2 | 3>(list: readonly ProcView[], kind: K): Record<string, Maps[K]> {
  let out: Record<string, Maps[K]>, k = 0;
  if (list.length > 0 && list[0].id === '0') { out = { __proto__: null, 0: list[0].maps[kind] } as unknown as Record<string, Maps[K]>; k = 1; }
  else out = dict<Maps[K]>();
  for (; k < list.length; k++) out[list[k].id] = list[k].maps[kind];
  return out;
}

/** pagemap read of pages [lo, hi) of region r, written slot by slot (slot k: page r.start + k) */
function walkPages(w: WalkCtx, p: Proc, r: Region, lo: number, hi: number, wr: Writer): void {
  const vmas = p.vmas; // sorted by start
  let vi = 0;
  // the VMA over page i (undefined: a gap) and whether it is hugetlb, looked up again only at
  // vEnd, the first page past it (or past the gap: the next VMA's start)
  let v: Vma | undefined, vHtlb = false, vEnd = -1;
  let blkEnd = -1; // the PMD is looked up once per block (page numbers are never negative: small integers throughout)
  let huge: HugePmd | undefined;
  let chunk: readonly (Pte | undefined)[] | undefined; // the PteTable chunk holding page i
  let chunkBase = 0, chunkEnd = -1;
  // a hugetlb page's code is its huge page's (pagemapBits reads the VMA and the entry of the
  // page's PMD block, never the page itself): read once per block and VMA, not once per page
  let hCode = 0, hV: Vma | undefined, hEnd = -1;
  for (let i = lo, k = lo - r.start; i < hi; i++, k++) {
    if (i >= vEnd) {
      while (vi < vmas.length && vmas[vi].end <= i) vi++;
      if (vi === vmas.length) { v = undefined; vEnd = hi; }
      else if (vmas[vi].start <= i) { v = vmas[vi]; vEnd = v.end; vHtlb = htlb.isHugetlbVma(v); }
      else { v = undefined; vEnd = vmas[vi].start; }
    }
    if (i >= blkEnd) { const bk = blockOf(i); blkEnd = (bk + 1) * HPAGE_PAGES; const pmd = p.pmds.peek(bk); huge = pmd?.t === 'huge' ? pmd : undefined; }
    if (i >= chunkEnd) { const c = Math.floor(i / PTE_CHUNK); chunkBase = c * PTE_CHUNK; chunkEnd = chunkBase + PTE_CHUNK; chunk = p.ptes.peekChunk(c)?.e; }
    const e = huge || chunk === undefined ? undefined : chunk[i - chunkBase];
    const sub = huge?.pages ? huge.pages[i % HPAGE_PAGES] : undefined;
    let code: number;
    if (!v) code = gapCode(w);
    else if (vHtlb) {
      if (v !== hV || i >= hEnd) { hCode = hugetlbCode(w, p, v, i); hV = v; hEnd = blkEnd; }
      code = hCode;
    }
    else if (huge) code = hugeCode(w, v, huge, sub);
    else code = pteCode(w, v, e);
    // the page this process maps here, whatever the VMA says (content.ts mappedPage), and what
    // it reads (the huge zero page: zeroes; no page: nothing)
    const pg = huge ? sub : e?.t === 'present' ? e.page : undefined;
    if (huge && !huge.pages) wr.put(k, code, pg, 0, FRESH_WHY);
    else if (pg) wr.put(k, code, pg, contentOf(pg), pg.valWhy ?? FRESH_WHY);
    else wr.put(k, code, pg, null, null);
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

/** Walk again what region r's view `v` read and the machine stamped since `v.at`: a chunk handed
 *  out whole since (its `all` stamp), or whose block's PMD was stamped (a chunk lies in one block:
 *  PTE_CHUNK divides the PMD's pages) or the head page of its huge PMD (whose mapcount the
 *  exclusive bit reads with knob pmdExclusiveFromHead), whole; elsewhere only the slots whose
 *  entry (the chunk's slot stamps) or page (the view's deps) was stamped: what such a slot read
 *  besides its entry and page is its PMD and VMA, neither of them changed. While no page at all
 *  was stamped since `v.at` (state.ts pageStampNow: a step that changed only entries, PMDs or
 *  VMAs), no slot's page is asked. */
function walkStamped(w: WalkCtx, p: Proc, r: Region, v: RegionView, wr: Writer): void {
  const at = v.at, deps = v.deps, start = v.start;
  // no page was stamped since the last look: only entries and PMDs can have changed
  const pagesNew = pageStampNow() > at;
  let block = -1, blockNew = false;
  for (let lo = r.start, end = r.start + r.pages; lo < end;) {
    const c = Math.floor(lo / PTE_CHUNK), base = c * PTE_CHUNK;
    const hi = Math.min(base + PTE_CHUNK, end);
    const b = blockOf(lo);
    if (b !== block) {
      block = b;
      const pmd = p.pmds.peek(b);
      blockNew = p.pmds.stampOf(b) > at || (pmd?.t === 'huge' && pmd.pages !== null && pmd.pages[0].ver > at);
    }
    const t = blockNew ? undefined : p.ptes.peekChunk(c);
    if (blockNew || (t !== undefined && t.all > at)) walkPages(w, p, r, lo, hi, wr);
    else if (t === undefined || t.ver <= at) {
      if (!pagesNew) { lo = hi; continue; }
      // runs of slots whose page changed
      for (let k = lo - start, kEnd = hi - start; k < kEnd; k++) {
        const d = deps[k];
        if (d === undefined || d.ver <= at) continue;
        let kHi = k + 1;
        while (kHi < kEnd) { const e = deps[kHi]; if (e === undefined || e.ver <= at) break; kHi++; }
        walkPages(w, p, r, start + k, start + kHi, wr);
        k = kHi;
      }
    } else {
      // runs of slots whose entry (the chunk's slot stamps) or page changed
      const sv = t.sv, off = start - base;
      for (let k = lo - start, kEnd = hi - start; k < kEnd; k++) {
        if (sv[k + off] <= at) { if (!pagesNew) continue; const d = deps[k]; if (d === undefined || d.ver <= at) continue; }
        let kHi = k + 1;
        while (kHi < kEnd) {
          if (sv[kHi + off] <= at) { if (!pagesNew) break; const e = deps[kHi]; if (e === undefined || e.ver <= at) break; }
          kHi++;
        }
        walkPages(w, p, r, start + k, start + kHi, wr);
        k = kHi;
      }
    }
    lo = hi;
  }
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

/** The R-PM rules pages with these codes exercise, as bits: R-PM-1 D, R-PM-2 W, R-PM-3 S,
 *  R-PM-4 E, R-PM-5 F. */
function anyOf(codes: readonly number[], n: number): number {
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
