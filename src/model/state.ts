// The state the reference model tracks: processes, VMAs, page-table entries, pages.
// Page numbers count pages from the arena (slotStartPage below), not from address 0; blocks are PMD
// ranges (page / HPAGE_PAGES: 512 pages = 2 MiB with 4 KiB pages, 2048 pages = 32 MiB with 16 KiB
// pages).
import type { Feature, Kind } from '../ops/schema.ts';
import type { HEntry } from './hugetlb.ts';
import { arenaOf, GEOMETRY_4K, hugetlbSlotStartPage as hugetlbSlotStartOf, memfdPagesFor, slotStartPage as slotStartOf, type PageGeometry } from '../ops/layout.ts';

/** The page geometry of the prediction running now, as module bindings the machine reads like the
 *  kernel's own HPAGE_PMD_NR: pages per PMD, pages of a memfd behind a memfd-* region, and arena
 *  slot starts. 4 KiB unless predict() (src/model/model.ts) runs a case inside inGeometry(); a
 *  prediction is synchronous, so no other case can observe the setting. */
export let HPAGE_PAGES = GEOMETRY_4K.pmdPages;
export let MEMFD_PAGES = memfdPagesFor(GEOMETRY_4K);
/** pages of the fault-around window: 64 KiB (mm/memory.c fault_around_pages = 65536 >> PAGE_SHIFT):
 *  16 with 4 KiB pages, 4 with 16 KiB pages */
export let FAULT_AROUND_PAGES = 65536 / GEOMETRY_4K.pageSize;
let current: PageGeometry = GEOMETRY_4K;
/** First page of an arena slot (src/ops/layout.ts), as the model numbers pages. The arena starts
 *  at page 2^33 (32 TiB), hugetlb slots at 48 TiB, and page numbers that large are not V8 small
 *  integers (each one a boxed heap number in every loop and Map key). The model counts
 *  pages from the arena's base instead, and hugetlb slots from HUGETLB_MODEL_BASE (2^29 pages: 2 TiB
 *  above the base with 4 KiB pages, far above any ordinary slot, whose count is bounded by the ops
 *  of a case). Both offsets are multiples of the PUD (PMD pages x PTRS_PER_PMD), so every alignment
 *  the model asks about (PMD block, PUD, fault-around window) is the same as the address's. No
 *  absolute page number leaves the model: traces, outcomes and events count pages of a region. */
const HUGETLB_MODEL_BASE = 2 ** 29;
export const slotStartPage = (slot: number) => slotStartOf(slot, current) - arenaOf(current).basePage;
export const hugetlbSlotStartPage = (slot: number) => hugetlbSlotStartOf(slot, current) - hugetlbSlotStartOf(0, current) + HUGETLB_MODEL_BASE;
export function modelGeometry(): PageGeometry { return current; }

/** Run `fn` (synchronous) with the model in geometry `g`, restoring the previous one after. */
export function inGeometry<T>(g: PageGeometry, fn: () => T): T {
  const was = current;
  setGeometry(g);
  try {
    const r = fn();
    if (r && typeof (r as { then?: unknown }).then === 'function') throw new Error('inGeometry: the model runs synchronously (got a promise)');
    return r;
  } finally { setGeometry(was); }
}

function setGeometry(x: PageGeometry): void {
  current = x; HPAGE_PAGES = x.pmdPages; MEMFD_PAGES = memfdPagesFor(x); FAULT_AROUND_PAGES = Math.max(1, 65536 / x.pageSize);
}

export type Prot = 'none' | 'r' | 'rw';

/** Recent history of rule ids that decided an entry's bits (most recent last, bounded). */
export type Why = string[];
const WHY_MAX = 6;
/** the last history withRule extended, the rule and the result: an op changing many entries
 *  that share one history (a clear_refs, a fork, a PMD split) extends it once and the entries
 *  share the result. Histories are never changed once built (every change makes a new one), so
 *  sharing is safe; reset per prediction (resetClock) so that no two predictions share one. */
let memoIn: Why | undefined, memoId = '', memoOut: Why = [];
/** the one before (a loop may extend two histories in turn: fork's R-FORK-1 then R-FORK-3) */
let memoIn2: Why | undefined, memoId2 = '', memoOut2: Why = [];
export function withRule(why: Why, id: string): Why {
  if (why[why.length - 1] === id) return why;
  if (why === memoIn && id === memoId) return memoOut;
  if (why === memoIn2 && id === memoId2) return memoOut2;
  const w = extended(why, id);
  memoIn2 = memoIn; memoId2 = memoId; memoOut2 = memoOut;
  memoIn = why; memoId = id; memoOut = w;
  return w;
}

/** `why`'s last WHY_MAX - 1 rules, then `id` */
function extended(why: Why, id: string): Why {
  const w = why.slice(why.length >= WHY_MAX ? why.length - WHY_MAX + 1 : 0);
  w.push(id);
  return w;
}

/** The history of an entry one rule just made (a fault's new PTE or PMD, a marker): one array per
 *  rule for every entry and every prediction, not one per entry. Safe to share as withRule's are:
 *  a history is never changed once built, and attribution copies what it reports (observe.ts). */
const FRESH_WHY = new Map<string, Why>();
export function whyOf(id: string): Why {
  // a fault loop asks for the same rule's history page after page: the last answer first
  if (id === lastFreshId) return lastFresh;
  let w = FRESH_WHY.get(id);
  if (w === undefined) FRESH_WHY.set(id, w = [id]);
  lastFreshId = id; lastFresh = w;
  return w;
}
let lastFreshId = '', lastFresh: Why = [];

/** The mutation clock of the prediction running now: every change the observer could see stamps
 *  the changed thing (a PteTable chunk, a PMD block, a Page) with the next tick, so that the
 *  observer (src/model/observe.ts) re-reads only what was stamped after its last look. Reset by
 *  predict() at the start of each prediction (predictions are synchronous and never nested), so
 *  stamps stay small integers. */
let clock = 0;
export function tick(): number { return ++clock; }
export function clockNow(): number { return clock; }
/** the newest tick a Page was stamped with (Page.ver): while it is not newer than the observer's
 *  last look, no page a view read changed, and the observer skips asking each one */
let pageClock = 0;
function pageTick(): number { return pageClock = ++clock; }
export function pageStampNow(): number { return pageClock; }
export function resetClock(): void { clock = 0; pageClock = 0; memoIn = undefined; memoOut = []; memoIn2 = undefined; memoOut2 = []; }

/** A 4 KiB page of memory. Identity matters for pagemap bit 56 (mapcount). A class, not a plain
 *  object, so that every change the observer can see (folio, val, valWhy, whether the mapcount is
 *  1) stamps `ver` with the mutation clock whichever code path makes it (the private fields
 *  keep object literals out: every page is made by newPage below). */
export class Page {
  /** anonymous memory (pagemap bit 61 clear); page-cache/shmem pages are not anon */
  readonly anon: boolean;
  /** the shared 4 KiB zero page */
  readonly zero: boolean;
  /** content is not all zero (a folio split remaps all-zero subpages to the zero page) */
  nonzero: boolean;
  /** shmem object and index, for page-cache pages */
  obj: ShmObj | undefined;
  index: number | undefined;
  /** a shmem page written out to swap (its page-cache slot holds a swap entry) */
  inSwap: boolean;
  /** the mutation-clock tick of the last change the observer can see (of a field it reads) */
  ver = 0;
  private folio_: Page[] | undefined = undefined;
  private val_: number | undefined = undefined;
  private valWhy_: string[] | undefined = undefined;
  private ptMaps_ = 0;
  private ptSwaps_ = 0;
  private pmdMaps_ = 0;

  constructor(readonly id: number, anon: boolean, zero: boolean, nonzero: boolean, obj?: ShmObj, index?: number) {
    this.anon = anon; this.zero = zero; this.nonzero = nonzero; this.obj = obj; this.index = index; this.inSwap = false;
  }

  /** the subpages of the large (THP) folio this page belongs to, until the folio is split */
  get folio(): Page[] | undefined { return this.folio_; }
  set folio(f: Page[] | undefined) { this.folio_ = f; this.ver = pageTick(); }
  /** content oracle (content.ts): the value in the first 8 bytes (absent: 0) and the rules that
   *  decided it */
  get val(): number | undefined { return this.val_; }
  set val(x: number | undefined) { this.val_ = x; this.ver = pageTick(); }
  get valWhy(): string[] | undefined { return this.valWhy_; }
  set valWhy(w: string[] | undefined) { this.valWhy_ = w; this.ver = pageTick(); }
  /** the references to this page from live processes' page tables, kept by PteTable and PmdTable
   *  at every change (the zero page is not counted): present PTEs, swap PTEs, huge PMDs. The
   *  mapcount (pagemap bit 56, R-PM-4) is ptMaps + pmdMaps; reuse and swap-cache sharing ask
   *  for the swap entries too. Counted as changes happen so that no question about a page walks
   *  every process's tables. The observer reads of them only whether the mapcount is 1 (the
   *  exclusive bit, observe.ts pteCode and hugeCode): a change stamps `ver` only when that
   *  flips, and a change of the swap entries never does. */
  get ptMaps(): number { return this.ptMaps_; }
  set ptMaps(n: number) { if ((n + this.pmdMaps_ === 1) !== (this.ptMaps_ + this.pmdMaps_ === 1)) this.ver = pageTick(); this.ptMaps_ = n; }
  get ptSwaps(): number { return this.ptSwaps_; }
  set ptSwaps(n: number) { this.ptSwaps_ = n; }
  get pmdMaps(): number { return this.pmdMaps_; }
  set pmdMaps(n: number) { if ((this.ptMaps_ + n === 1) !== (this.ptMaps_ + this.pmdMaps_ === 1)) this.ver = pageTick(); this.pmdMaps_ = n; }
}

/** a page's mapcount as pagemap's bit 56 counts it: present PTEs and huge PMDs of live
 *  processes (0 for the zero page) */
export function mapcount(pg: Page): number {
  return pg.ptMaps + pg.pmdMaps;
}

/** The shmem file behind a shared-anon or memfd region (its page cache). */
export interface ShmObj {
  id: number;
  pages: Map<number, Page>;
  /** size in pages: a fault at or past it is SIGBUS */
  size: number;
  /** first indices of 2 MiB ranges the page cache holds as one THP (after MADV_COLLAPSE) */
  huge: Set<number>;
  /** first indices of THPs that reclaim took out whole (their pages in swap): a fault may bring
   *  one back whole (R-SWIN-2) */
  swappedHuge?: Set<number>;
  /** first indices of such THPs a page of which came back alone: the large swap entry is split
   *  (mm/shmem.c shmem_split_large_entry), and a fault may bring a piece back whole (R-SWIN-3) */
  swapSplit?: Set<number>;
}

export interface Ctx {
  id: number;
  features: ReadonlySet<Feature>;
  /** the process whose mm this userfaultfd acts on (ctx->mm) */
  mm: number;
}

export interface Vma {
  start: number;
  end: number;
  kind: Kind;
  prot: Prot;
  /** VM_SOFTDIRTY: set means tracking is off for this VMA (every page reads soft-dirty) */
  sd: boolean;
  sdWhy: Why;
  /** anon_vma id, 0 = none */
  anonVma: number;
  /** uffd-wp registration (VM_UFFD_WP) and its context */
  uffd: Ctx | null;
  /** MADV_HUGEPAGE (true) or MADV_NOHUGEPAGE (false) */
  thp: boolean;
  obj: ShmObj | null;
  /** page offset into obj of vma.start */
  pgoff: number;
  /** rules that decided the registration (attribution for wp expectations and uffd op errors) */
  regWhy: Why;
  /** VM_ACCOUNT: charged private writable mapping (must match for a merge) */
  account: boolean;
  /** anon_vma_chain of more than one anon_vma (a fork child's VMA): its anon_vma is not reusable */
  forkedChain: boolean;
  /** VM_MAYBE_GUARD (smaps `gu`): a guard was installed in it once; sticky, never cleared; makes
   *  fork copy its page tables (R-GRD-1, R-GRD-5) */
  maybeGuard: boolean;
}

/** A VMA with every field of `v` except those `changes` sets: how the machine makes every VMA (a
 *  new mapping, a split's tail, a merge, a fork's copy, an mremap move), so that all VMAs have one
 *  object shape (the same fields in the same order) and the code reading them stays monomorphic
 *  (an object spread gives each copy site its own hidden class). */
export function vmaWith(v: Vma, changes: Partial<Vma> = {}): Vma {
  // every field from `v`, then each key `changes` has (as a spread would take it, an explicit
  // undefined too): no intermediate spread object and no `in` test per field
  const w: Vma = {
    start: v.start, end: v.end, kind: v.kind, prot: v.prot, sd: v.sd, sdWhy: v.sdWhy, anonVma: v.anonVma,
    uffd: v.uffd, thp: v.thp, obj: v.obj, pgoff: v.pgoff, regWhy: v.regWhy, account: v.account,
    forkedChain: v.forkedChain, maybeGuard: v.maybeGuard,
  };
  for (const k in changes) (w as unknown as Record<string, unknown>)[k] = (changes as Record<string, unknown>)[k];
  return w;
}

export type Pte =
  | { t: 'present'; page: Page; wp: boolean; sd: boolean; writable: boolean; dirty: boolean; why: Why }
  | { t: 'swap'; page: Page; wp: boolean; sd: boolean; why: Why }
  | { t: 'marker'; sd: boolean; why: Why }
  /** guard-region PTE marker (MADV_GUARD_INSTALL, mm/madvise.c guard_install_set_pte): a swap PTE
   *  whose access is SIGSEGV; `wp`/`sd` are its swp uffd-wp / soft-dirty bits (set by a
   *  PAGEMAP_SCAN arming, an mremap move) */
  | { t: 'guard'; wp: boolean; sd: boolean; why: Why };

/** A PTE with every field of `e` except those `changes` sets, built as the machine builds each
 *  kind fresh (the same fields in the same order), so that a copy (fork, mremap) has its kind's
 *  one object shape rather than one per copy site (an object spread's own hidden class). */
export function pteWith<P extends Pte>(e: P, changes: Partial<P>): P {
  // each field from `changes` when it has the key (as a spread would take it), else from `e`:
  // no intermediate spread object (fork and mremap copy every entry of a range this way)
  const c = changes as PteFields, x = e as PteFields;
  const wp = 'wp' in c ? c.wp! : x.wp!, sd = 'sd' in c ? c.sd! : x.sd!, why = 'why' in c ? c.why! : x.why!;
  switch (e.t) {
    case 'present': return { t: 'present', page: 'page' in c ? c.page! : x.page!, wp, sd, writable: 'writable' in c ? c.writable! : x.writable!, dirty: 'dirty' in c ? c.dirty! : x.dirty!, why } as P;
    case 'swap': return { t: 'swap', page: 'page' in c ? c.page! : x.page!, wp, sd, why } as P;
    case 'marker': return { t: 'marker', sd, why } as P;
    case 'guard': return { t: 'guard', wp, sd, why } as P;
  }
  throw new Error(`pteWith: unknown entry kind`);
}
/** the fields of any kind of PTE, for pteWith */
interface PteFields { page?: Page; wp?: boolean; sd?: boolean; writable?: boolean; dirty?: boolean; why?: Why }

/** pages per PteTable chunk: a power of two dividing every geometry's PMD (512 or 2048 pages) */
export const PTE_CHUNK = 64;

/** One PteTable chunk: PTE_CHUNK slots and their mutation-clock stamps. `sv[k]`: the tick of the
 *  last time slot k's entry was set, deleted or handed out alone (get, touch, stampSlot); `all`:
 *  the last time the chunk was handed out whole (chunk, iteration, stampChunk), which counts for
 *  every slot; `ver`: the newest of them all (the observer skips a chunk not newer than its last
 *  look, and re-reads only the slots newer than it when `all` is not). */
export interface PteChunk {
  readonly e: (Pte | undefined)[];
  readonly sv: number[];
  ver: number;
  all: number;
}

/** A process's page-table entries by page number, kept in arrays of PTE_CHUNK pages (as the kernel
 *  keeps a PTE table per PMD, only smaller, so that a 64-page region costs 64 slots): a lookup is a
 *  small-integer Map key and an array index, and a walk over a range reads one array per chunk.
 *  The API is Map's (get, set, has, delete, size, iteration); iteration goes chunk by chunk, in
 *  address order within a chunk: nothing in the model depends on Map insertion order (every loop
 *  over entries counts, sorts, or changes each entry on its own).
 *  Entries are changed in place by whoever holds one (e.wp = ...), so every way out of the table
 *  that hands out an entry, not only set and delete, stamps it with the mutation clock: one entry
 *  (get, touch, set, delete) its slot, the whole chunk (chunk, iteration) every slot (PteChunk).
 *  A chunk whose `ver` is not newer than the observer's last look holds the same entries with the
 *  same fields, and in one whose `all` is not, so do the slots not stamped since. The observer
 *  reads through peekChunk, which does not stamp; so do the model's read-only views (peek). */
export class PteTable {
  private readonly chunks = new Map<number, PteChunk>();
  /** the chunk the last lookup found, by index: the machine and the observer walk a range page by
   *  page, asking for the same chunk PTE_CHUNK times in a row (chunks are never removed, so the
   *  one remembered stays the map's) */
  private lastC = -1;
  private lastT: PteChunk | undefined = undefined;
  private count = 0;
  /** the owning process is alive: its entries count in their pages' references (Page.ptMaps,
   *  ptSwaps); cleared once by Proc.alive = false */
  private live = true;

  /** the owner died: its entries no longer count as references (done once) */
  die(): void {
    if (!this.live) return;
    for (const t of this.chunks.values()) { t.ver = t.all = tick(); for (const e of t.e) countPte(e, -1); }
    this.live = false;
  }

  get size(): number { return this.count; }

  /** chunk `c`, or undefined when the process never had an entry there */
  private find(c: number): PteChunk | undefined {
    if (c === this.lastC) return this.lastT;
    const t = this.chunks.get(c);
    if (t !== undefined) { this.lastC = c; this.lastT = t; }
    return t;
  }

  get(page: number): Pte | undefined {
    const c = Math.floor(page / PTE_CHUNK);
    const t = this.find(c);
    if (t === undefined) return undefined;
    const k = page - c * PTE_CHUNK;
    const e = t.e[k];
    if (e !== undefined) t.ver = t.sv[k] = tick();
    return e;
  }

  /** the entry at `page` for reading only (not to be changed): does not stamp its chunk */
  peek(page: number): Pte | undefined {
    const c = Math.floor(page / PTE_CHUNK);
    const t = this.find(c);
    return t === undefined ? undefined : t.e[page - c * PTE_CHUNK];
  }

  has(page: number): boolean { return this.peek(page) !== undefined; }

  /** the entries of chunk `c` (slot k holds page c * PTE_CHUNK + k), or undefined when the process
   *  never had an entry there: for walks over a range without a lookup per page */
  chunk(c: number): readonly (Pte | undefined)[] | undefined {
    const t = this.find(c);
    if (t === undefined) return undefined;
    t.ver = t.all = tick();
    return t.e;
  }

  /** chunk `c` with its stamp, for reading only (the observer): does not stamp */
  peekChunk(c: number): Readonly<PteChunk> | undefined { return this.find(c); }

  /** every chunk with its stamp, for a walk that changes only some entries: it stamps the
   *  chunks it changes itself (stampChunk) */
  peekChunks(): IterableIterator<PteChunk> { return this.chunks.values(); }

  /** stamp chunk `t` (one peekChunks handed out), every slot of it */
  stampChunk(t: PteChunk): void { t.ver = t.all = tick(); }

  /** stamp slot k of chunk `t` (one peekChunks handed out): the caller changed that entry only */
  stampSlot(t: PteChunk, k: number): void { t.ver = t.sv[k] = tick(); }

  /** every chunk's entries (slots without an entry hold undefined): for scans of all entries */
  *allChunks(): IterableIterator<readonly (Pte | undefined)[]> {
    for (const t of this.chunks.values()) { t.ver = t.all = tick(); yield t.e; }
  }

  set(page: number, e: Pte): this {
    const c = Math.floor(page / PTE_CHUNK);
    let t = this.find(c);
    if (t === undefined) { t = { e: new Array<Pte | undefined>(PTE_CHUNK).fill(undefined), sv: new Array<number>(PTE_CHUNK).fill(0), ver: 0, all: 0 }; this.chunks.set(c, t); }
    const k = page - c * PTE_CHUNK;
    const old = t.e[k];
    if (old === undefined) this.count++;
    else if (this.live) countPte(old, -1);
    if (this.live) countPte(e, 1);
    t.e[k] = e;
    t.ver = t.sv[k] = tick();
    return this;
  }

  delete(page: number): boolean {
    const c = Math.floor(page / PTE_CHUNK);
    const t = this.find(c);
    const k = page - c * PTE_CHUNK;
    if (t === undefined || t.e[k] === undefined) return false;
    if (this.live) countPte(t.e[k], -1);
    t.e[k] = undefined;
    t.ver = t.sv[k] = tick();
    this.count--;
    return true;
  }

  /** delete every entry of pages [start, end): as delete() page by page (each entry leaves its
   *  page's reference counts; a chunk that lost an entry is stamped), with one chunk lookup per
   *  PTE_CHUNK pages instead of one per page (an unmap frees whole 512-page tables) */
  deleteRange(start: number, end: number): void {
    for (let lo = start; lo < end;) {
      const c = Math.floor(lo / PTE_CHUNK), base = c * PTE_CHUNK;
      const hi = Math.min(base + PTE_CHUNK, end);
      const t = this.find(c);
      if (t !== undefined) {
        let gone = 0, s = 0;
        for (let k = lo - base; k < hi - base; k++) {
          const e = t.e[k];
          if (e === undefined) continue;
          if (this.live) countPte(e, -1);
          t.e[k] = undefined;
          if (gone++ === 0) t.ver = s = tick();
          t.sv[k] = s;
        }
        if (gone) this.count -= gone;
      }
      lo = hi;
    }
  }

  /** stamp the chunk of `page` (the caller changed a field of its entry that the observer reads,
   *  after reading it with peek or peekChunk) */
  touch(page: number): void {
    const c = Math.floor(page / PTE_CHUNK);
    const t = this.find(c);
    if (t !== undefined) t.ver = t.sv[page - c * PTE_CHUNK] = tick();
  }

  *entries(): IterableIterator<[number, Pte]> {
    for (const [c, t] of this.chunks) {
      t.ver = t.all = tick();
      for (let k = 0; k < PTE_CHUNK; k++) { const e = t.e[k]; if (e !== undefined) yield [c * PTE_CHUNK + k, e]; }
    }
  }

  *values(): IterableIterator<Pte> {
    for (const t of this.chunks.values()) { t.ver = t.all = tick(); for (let k = 0; k < PTE_CHUNK; k++) { const e = t.e[k]; if (e !== undefined) yield e; } }
  }

  [Symbol.iterator](): IterableIterator<[number, Pte]> { return this.entries(); }
}

function countPte(e: Pte | undefined, d: number): void {
  if (e === undefined) return;
  // the Page setters stamp the page: its mapcount is what the observer reads
  if (e.t === 'present') { if (!e.page.zero) e.page.ptMaps += d; }
  else if (e.t === 'swap') { if (!e.page.zero) e.page.ptSwaps += d; }
}

function countPmd(pmd: Pmd | undefined, d: number): void {
  if (pmd?.t !== 'huge' || !pmd.pages) return;
  for (const pg of pmd.pages) if (!pg.zero) pg.pmdMaps += d;
}

/** A process's PMDs by block: a Map whose changes keep the subpages' Page.pmdMaps (a huge PMD's
 *  `pages` array is never replaced in place, only the whole PMD). As PteTable does for its
 *  chunks, every change to or from a huge PMD and every handout of one (get, iteration) stamps
 *  its block with the mutation clock (stampOf); peek reads without stamping. */
export class PmdTable extends Map<number, Pmd> {
  private live = true;
  private stamps: Map<number, number> | undefined;
  /** the block the last peek or get asked for and its PMD (undefined: none), forgotten at every
   *  change (set, delete, clear): a walk asks for one block page after page */
  private lastB = NaN;
  private lastPmd: Pmd | undefined = undefined;

  private stamp(block: number): void {
    (this.stamps ??= new Map()).set(block, tick());
  }

  private stampAll(): void {
    for (const b of super.keys()) this.stamp(b);
  }

  /** the tick of the last change or handout of block's PMD (0: never) */
  stampOf(block: number): number { return this.stamps?.get(block) ?? 0; }

  /** block's PMD for reading only (not to be changed): does not stamp it */
  peek(block: number): Pmd | undefined {
    if (block === this.lastB) return this.lastPmd;
    const pmd = super.get(block);
    this.lastB = block; this.lastPmd = pmd;
    return pmd;
  }

  /** block has a PMD (never stored undefined): through peek's remembered lookup, as the fault
   *  paths ask it page after page (thpEligible, ensureTable) */
  override has(block: number): boolean { return this.peek(block) !== undefined; }

  /** every block and PMD, without stamping: for a walk that stamps what it changes (touch) */
  peekEntries(): MapIterator<[number, Pmd]> { return super.entries(); }

  /** stamp block's PMD (the caller changed a field the observer reads after peeking it) */
  touch(block: number): void { this.stamp(block); }

  die(): void {
    if (!this.live) return;
    for (const [b, pmd] of super.entries()) { this.stamp(b); countPmd(pmd, -1); }
    this.live = false;
  }

  override get(block: number): Pmd | undefined {
    const pmd = this.peek(block);
    // a page-table PMD ({t: 'table'}) has no field to change: only a huge one is stamped, as the
    // one a caller may change in place (a table's PTEs stamp their own chunks)
    if (pmd?.t === 'huge') this.stamp(block);
    return pmd;
  }

  override set(block: number, pmd: Pmd): this {
    this.lastB = NaN;
    // Map's constructor calls set before the field initializers run: nothing to count then.
    // The observer reads a block's PMD only when it is huge (a page-table PMD, like none, sends
    // it to the PTEs, which stamp their own chunks): a change between none and a page table
    // (a fault's first PTE of a block, fork's copy of a table) is not stamped
    if (this.live) {
      const old = super.get(block);
      countPmd(old, -1); countPmd(pmd, 1);
      if (pmd.t === 'huge' || old?.t === 'huge') this.stamp(block);
    }
    return super.set(block, pmd);
  }

  override delete(block: number): boolean {
    this.lastB = NaN;
    const old = super.get(block);
    if (this.live) countPmd(old, -1);
    // as set: only a huge PMD going is a change the observer sees
    if (old?.t === 'huge') this.stamp(block);
    return super.delete(block);
  }

  override clear(): void {
    this.lastB = NaN;
    this.stampAll();
    if (this.live) for (const pmd of super.values()) countPmd(pmd, -1);
    super.clear();
  }

  override values(): MapIterator<Pmd> { this.stampAll(); return super.values(); }
  override entries(): MapIterator<[number, Pmd]> { this.stampAll(); return super.entries(); }
  override [Symbol.iterator](): MapIterator<[number, Pmd]> { this.stampAll(); return super.entries(); }
  override forEach(fn: (pmd: Pmd, block: number, map: Map<number, Pmd>) => void, thisArg?: unknown): void { this.stampAll(); super.forEach(fn, thisArg); }
}

export interface HugePmd {
  t: 'huge';
  /** 512 subpages, or null for the huge zero page */
  pages: Page[] | null;
  wp: boolean;
  sd: boolean;
  writable: boolean;
  dirty: boolean;
  why: Why;
}
export type Pmd = HugePmd | { t: 'table' };

/** A huge PMD with every field of `h` except those `changes` sets, in the order the machine builds
 *  one fresh: one object shape for every huge PMD (see pteWith). */
export function hugePmdWith(h: HugePmd, changes: Partial<HugePmd>): HugePmd {
  const c = { ...h, ...changes };
  return { t: 'huge', pages: c.pages, wp: c.wp, sd: c.sd, writable: c.writable, dirty: c.dirty, why: c.why };
}

export interface Region { start: number; pages: number; hugetlb: boolean }

/** A region of the case's plan as the model keeps it: made here only (mmap, fork's copy, an mremap
 *  that leaves the old name), so that every Region has one object shape and the observer's and the
 *  machine's reads of one stay monomorphic (a spread or a literal per site gave each its own
 *  hidden class, and the observer's region reads went megamorphic). */
export function newRegion(start: number, pages: number, hugetlb = false): Region {
  return { start, pages, hugetlb };
}

export interface Proc {
  id: number;
  alive: boolean;
  vmas: Vma[];
  ptes: PteTable;
  pmds: PmdTable;
  regions: Map<string, Region>;
  /** why a page has no entry (zap, dropped marker, ...): attribution for expectations on none */
  gone: Map<number, Why>;
  /** the userfaultfd this process's uffd ops use: process 0's, a child's own from the fork event
   *  (EVENT_FORK), or the descriptor inherited from its parent */
  ctx: Ctx | null;
  /** hugetlb huge PTEs by block, and the PUDs whose PMD table exists (src/model/hugetlb.ts) */
  htlb?: Map<number, HEntry>;
  htlbPud?: Set<number>;
}

/** A new process (alive, or a fork that did not run: dead from the start). `alive` is an accessor:
 *  setting it false (exit, a fatal signal) takes the process's entries out of their pages'
 *  reference counts, whichever code path kills it; a process never comes back to life. */
export function newProc(id: number, alive: boolean, ctx: Ctx | null): Proc {
  const p = new LiveProc(id, ctx);
  if (!alive) p.alive = false;
  return p;
}

/** Proc as a class, the accessor on its prototype: an object literal with its own get/set makes
 *  every process an object of its own shape (fresh accessor closures each), and every property
 *  load from a process in the machine and the observer megamorphic. */
class LiveProc implements Proc {
  vmas: Vma[] = [];
  readonly ptes = new PteTable();
  readonly pmds = new PmdTable();
  regions = new Map<string, Region>();
  gone = new Map<number, Why>();
  htlb?: Map<number, HEntry> = undefined;
  htlbPud?: Set<number> = undefined;
  private live = true;

  constructor(readonly id: number, public ctx: Ctx | null) {}

  get alive(): boolean { return this.live; }
  set alive(v: boolean) {
    if (v === this.live) return;
    if (v) throw new Error(`process ${this.id}: a dead process cannot come back to life`);
    this.live = false;
    this.ptes.die();
    this.pmds.die();
  }
}

export const blockOf = (page: number) => Math.floor(page / HPAGE_PAGES);
export const blockStart = (block: number) => block * HPAGE_PAGES;

export function isAnonVma(v: Vma): boolean {
  return v.kind === 'anon';
}
/** a MAP_SHARED backing (shared anon, shared memfd) of a VMA */
export function isShared(v: Vma): boolean {
  return isSharedKind(v.kind);
}
/** the same by kind, for records other than VMAs (the case generator's RegionState:
 *  src/campaign/generate.ts): isShared's own read of `kind` then sees VMAs only and stays
 *  monomorphic in the machine's fault paths (the generator's records come in many shapes) */
export function isSharedKind(kind: Kind): boolean {
  return kind === 'shared-anon' || kind === 'memfd-shared';
}
export function wpAsync(v: Vma): boolean {
  return !!v.uffd?.features.has('wp_async');
}
