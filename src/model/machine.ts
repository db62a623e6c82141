// The x86 reference machine: executes case ops on a model of processes, VMAs and page tables.
// Pure and deterministic; the only inputs besides the case are the outcomes the kernel chose
// (THP or not, swapped out or not). Each behaviour cites its rule (rules.ts) and kernel function.
import type { Case, Feature, Op, OpOf } from '../ops/schema.ts';
import type { Outcome, UffdEvent } from '../ops/trace.ts';
import { own } from '../ops/records.ts';
import type { Knobs } from './profile.ts';
import * as htlb from './hugetlb.ts';
import {
  blockOf, blockStart, FAULT_AROUND_PAGES, HPAGE_PAGES, hugetlbSlotStartPage, isAnonVma, isShared, MEMFD_PAGES, slotStartPage, withRule,
  type Ctx, type HugePmd, Page, PTE_CHUNK, type Proc, type Prot, type Pte, type Region, type ShmObj, type Vma, type Why, hugePmdWith, mapcount, newProc, newRegion, pteWith, vmaWith, whyOf,
} from './state.ts';
import { copyContent, keptBy, mappedPage, storeWrite, writeValue } from './content.ts';

export type Rc = 0 | string;

/** thrown by a fault that a populate (GUP) fault cannot complete: a sync uffd-wp fault on a
 *  UFFD_USER_MODE_ONLY context (fs/userfaultfd.c handle_userfault -> VM_FAULT_SIGBUS) */
const GUP_SIGBUS = Symbol('gup-sigbus');

/** ops that are ioctls (or the close) of the acting process's userfaultfd */
const UFFD_IOCTLS: ReadonlySet<Op['op']> = new Set(['uffd_register', 'uffd_unregister', 'wp', 'close_uffd']);

export class Machine implements htlb.HugetlbHost {
  procs: Proc[];
  private nextId = 1;
  private slot = 0;
  private hslot = 0;
  readonly zeroPage: Page = new Page(0, true, true, false);
  /** rule ids exercised by the current op (coverage) */
  rules = new Set<string>();
  events: UffdEvent[] = [];
  /** rules behind the current op's return code, when more than the op's own rules */
  rcWhy: string[] = [];
  private outcome: Outcome | undefined;
  /** region -> pages the observation shows as possibly the zero page after the current read (set by
   *  predict() when the trace records no `zero` outcome) */
  zeroInferred: Record<string, number[]> | undefined;
  /** the current op's prediction used zeroInferred */
  assumed = false;
  /** absolute pages of the acting process whose observation after the current pageout is the same
   *  as before it (set by predict() from a trace; undefined: neutral, or nothing observed) */
  unchangedInferred: ReadonlySet<number> | undefined;
  /** the current op left a folio whole because of unchangedInferred (folioLeftWhole) */
  leftWholeAssumed = false;
  /** absolute pages of the acting process that the observation after the current collapse shows
   *  present (set by predict() from a trace; undefined: neutral, or nothing observed) */
  presentObserved: ReadonlySet<number> | undefined;
  private curRegion = '';
  /** the case index of the op running now (a write's value, content.ts writeValue) */
  private opIndex = 0;
  /** absolute [start, end) of the pages the current read/write/populate faults (R-MTHP-1) */
  private faultRange: [number, number] = [0, 0];
  // HugetlbHost (src/model/hugetlb.ts)
  regionStart(p: Proc): number { return p.regions.get(this.curRegion)?.start ?? 0; }
  regionName(): string { return this.curRegion; }
  private rootCtx: Ctx | null;

  constructor(readonly c: Case, readonly k: Knobs, readonly mutant?: string) {
    this.rootCtx = c.uffd ? this.newCtx(new Set(c.uffd.features ?? []), 0) : null;
    this.procs = [newProc(0, true, this.rootCtx)];
  }

  private newCtx(features: Set<Feature>, mm: number): Ctx {
    // UFFD_FEATURE_WP_ASYNC implies WP_UNPOPULATED (fs/userfaultfd.c userfaultfd_api)
    if (features.has('wp_async')) features.add('wp_unpopulated');
    return { id: this.nextId++, features, mm };
  }

  private mut(id: string): boolean {
    return this.mutant === id;
  }

  rule(id: string): string {
    // per-page loops name the same rule for every page: a string compare instead of a Set lookup
    // (the set itself is replaced per op, by exec and by predict() for a skipped op)
    // (the last two: a loop may alternate two rules, as fork's R-FORK-3 and R-DATA-8)
    if (this.rules !== this.lastRules) { this.lastRules = this.rules; this.lastRule = this.lastRule2 = ''; }
    if (id !== this.lastRule && id !== this.lastRule2) { this.rules.add(id); this.lastRule2 = this.lastRule; this.lastRule = id; }
    return id;
  }
  private lastRule = '';
  private lastRule2 = '';
  private lastRules: Set<string> | undefined;

  newPage(anon: boolean, nonzero: boolean, obj?: ShmObj, index?: number): Page {
    // one class for every page (state.ts Page): the observer's and the fault paths' property loads
    // stay monomorphic, and every change the observer could see stamps the page
    return new Page(this.nextId++, anon, false, nonzero, obj, index);
  }

  // ---------------------------------------------------------------------------------------------
  // outcomes

  /** Did the kernel map this block huge during the current op? Neutral (no outcome): yes. The
   *  outcome names, per region, the first page of the region each new huge block covers. */
  private wantsHuge(p: Proc, block: number): boolean {
    if (!this.outcome) return true;
    const r = p.regions.get(this.curRegion);
    const list = own(this.outcome.huge, this.curRegion);
    if (!r || !list) return false;
    return list.includes(Math.max(blockStart(block), r.start) - r.start);
  }

  /** The large folio (anonymous mTHP) the `folio` outcome says this fault at `page` mapped, as the
   *  absolute [first, pages) block, when the kernel could have: R-MTHP-1. A block the kernel cannot
   *  make here is ignored (the fault maps one page, and the observation then disagrees): an aligned
   *  power of two below the PMD, inside one VMA that is private anon with MADV_HUGEPAGE and not
   *  uffd-armed, every entry none (a fault) or every entry a swap entry with the same bits (a
   *  swap-in). mm/memory.c alloc_anon_folio (thp_vma_allowable_orders, thp_vma_suitable_order,
   *  userfaultfd_armed, pte_range_none) and alloc_swap_folio (can_swapin_thp, swap_pte_batch). */
  private outcomeFolio(p: Proc, v: Vma, page: number, from: 'none' | 'swap'): [number, number] | undefined {
    const r = p.regions.get(this.curRegion);
    const list = own(this.outcome?.folio, this.curRegion);
    if (!r || !list) return undefined;
    const hit = list.find(([f, n]) => page - r.start >= f && page - r.start < f + n);
    if (!hit) return undefined;
    let first = r.start + hit[0], n = hit[1];
    if (n < 2 || (n & (n - 1)) || n >= HPAGE_PAGES || first % n) return undefined;
    // The executor groups the pages that became present together into the largest aligned blocks
    // of the enabled sizes without knowing VMA boundaries or registrations: a block the kernel
    // cannot have made whole may be several faults side by side. Its aligned halves are then
    // tried, and a half is taken as a folio only if it made a page outside the op's own range
    // present (inside it every page was faulted anyway, one by one or not).
    // Only a block that spans VMAs, or an armed or non-THP one, is cut: a block inside one VMA
    // that allows large folios stands or falls whole.
    const oneVma = (f: number, k: number) => isAnonVma(v) && v.thp && !v.uffd && f >= v.start && f + k <= v.end;
    if (oneVma(first, n)) return this.folioPossible(p, v, first, n, from) ? [first, n] : undefined;
    for (let whole = true; n >= 2; whole = false) {
      if (this.folioPossible(p, v, first, n, from) && (whole || this.reachesOutsideFaults(first, n))) return [first, n];
      n /= 2;
      if (page >= first + n) first += n;
    }
    return undefined;
  }

  /** the kernel's conditions for a large folio over [first, first + n) (R-MTHP-1, R-MTHP-2) */
  private folioPossible(p: Proc, v: Vma, first: number, n: number, from: 'none' | 'swap'): boolean {
    if (!isAnonVma(v) || !v.thp || v.uffd || first < v.start || first + n > v.end) return false;
    if (p.pmds.get(blockOf(first))?.t === 'huge') return false;
    const e0 = p.ptes.get(first);
    for (let i = first; i < first + n; i++) {
      const e = p.ptes.get(i);
      if (from === 'none' ? e !== undefined : (e?.t !== 'swap' || e0?.t !== 'swap' || e.wp !== e0.wp || e.sd !== e0.sd || this.swapShared(e.page))) return false;
    }
    return true;
  }

  /** some page of the block lies outside the range the current read/write/populate faults */
  private reachesOutsideFaults(first: number, n: number): boolean {
    const [s, e] = this.faultRange;
    return first < s || first + n > e;
  }

  /** R-MTHP-1: a fault on none maps the whole large folio the kernel allocated, by PTEs, every page
   *  with the fault's entry: writable, dirty and soft-dirty when the VMA is writable (mm/memory.c
   *  do_anonymous_page: set_ptes of nr_pages, pte_mkdirty). Only the written page holds data. */
  private mapAnonFolio(p: Proc, v: Vma, page: number, write: boolean): boolean {
    const blk = this.outcomeFolio(p, v, page, 'none');
    if (!blk) return false;
    const [first, n] = blk;
    this.anonVmaPrepare(p, v);
    this.ensureTable(p, blockOf(first));
    const id = this.rule('R-MTHP-1');
    const writable = v.prot === 'rw';
    const pages = Array.from({ length: n }, (_, i) => this.newPage(true, write && first + i === page));
    for (const pg of pages) pg.folio = pages;
    for (let i = 0; i < n; i++) p.ptes.set(first + i, { t: 'present', page: pages[i], wp: false, sd: writable, writable, dirty: writable, why: whyOf(id) });
    return true;
  }

  /** R-MTHP-2: a swap-in of a large folio maps every page of the block at once, each keeping its
   *  swap entry's soft-dirty and uffd-wp bits (all equal, swap_pte_batch); writable when the fault
   *  needs none, and dirty (soft-dirty) for a write fault (mm/memory.c do_swap_page with
   *  alloc_swap_folio, pte_mkdirty on FAULT_FLAG_WRITE). */
  private swapInFolio(p: Proc, v: Vma, page: number, write: boolean): boolean {
    const blk = this.outcomeFolio(p, v, page, 'swap');
    if (!blk) return false;
    const [first, n] = blk;
    const id = this.rule('R-MTHP-2');
    const pages: Page[] = [];
    for (let i = first; i < first + n; i++) {
      const e = p.ptes.get(i) as Extract<Pte, { t: 'swap' }>;
      // as R-SWIN-1: writable only where no soft-dirty or wp fault is needed (pte_needs_soft_dirty_wp)
      const writable = !e.wp && v.prot === 'rw' && (v.sd || e.sd);
      p.ptes.set(i, { t: 'present', page: e.page, wp: e.wp, sd: e.sd || (write && writable), writable, dirty: write && writable, why: withRule(e.why, id) });
      pages.push(e.page);
    }
    for (const pg of pages) pg.folio = pages;
    return true;
  }

  /** Does this read fault map the shared zero page (the huge zero page for a THP fault)? The
   *  kernel's and the host's choice (mm/memory.c do_anonymous_page: `!mm_forbids_zeropage`;
   *  mm/huge_memory.c do_huge_pmd_anonymous_page: `transparent_hugepage_use_zero_page`), and a host
   *  exists whose read faults never do, whatever sysfs says: the `zero` outcome says, else what the
   *  caller inferred from the observation (`zeroInferred`), else yes, as on a stock x86 host. A
   *  huge zero PMD is named by the first page of its block in the region. */
  private readMapsZero(p: Proc, page: number, huge: boolean): boolean {
    const r = p.regions.get(this.curRegion);
    if (!r) return true;
    const k = huge ? Math.max(blockStart(blockOf(page)), r.start) - r.start : page - r.start;
    // kernels without PFNZERO for the huge zero folio (pfnZeroHuge) cannot record it: infer instead
    const recorded = huge && !this.k.pfnZeroHuge ? undefined : own(this.outcome?.zero, this.curRegion);
    if (recorded) return recorded.includes(k);
    const inferred = own(this.zeroInferred, this.curRegion);
    if (!inferred) return true;
    this.assumed = true;
    return inferred.includes(k);
  }

  private swappedOut(p: Proc, page: number): boolean {
    if (!this.outcome) return true;
    const r = p.regions.get(this.curRegion);
    const list = own(this.outcome.swapped_out, this.curRegion);
    if (!r || !list) return false;
    return list.includes(page - r.start);
  }

  /** Did the kernel leave this large folio whole and untouched during the current pageout? Its split
   *  or its reclaim may fail, and then nothing of it changes: mm/madvise.c
   *  madvise_cold_or_pageout_pte_range skips a PMD THP or a PTE batch whose folio_trylock or
   *  split_folio fails (an extra reference fails split_huge_page_to_list_to_order's
   *  can_split_folio; a ref-freeze failure after unmap_folio remaps the PTEs unchanged with
   *  remap_page and no zero-page remap), and a folio off the LRU is never isolated
   *  (!folio_test_lru, folio_isolate_lru); mm/vmscan.c shrink_folio_list keeps a folio it cannot
   *  lock or split (can_split_folio -> activate_locked). Neutral: never. From a trace: only when every
   *  page of the folio is observed exactly as before the op (none swapped out, no zero-page remap). */
  private folioLeftWhole(pages: Iterable<number>): boolean {
    const same = this.outcome && this.unchangedInferred;
    if (!same) return false;
    for (const a of pages) if (!same.has(a)) return false;
    this.leftWholeAssumed = true;
    return true;
  }

  // ---------------------------------------------------------------------------------------------
  // VMA helpers

  vmaAt(p: Proc, page: number): Vma | undefined {
    const k = vmaIndexAt(p.vmas, page);
    return k < 0 ? undefined : p.vmas[k];
  }

  private vmasIn(p: Proc, start: number, end: number): Vma[] {
    return p.vmas.filter((v) => v.start < end && start < v.end);
  }

  /** some VMA overlaps [start, end) (vmasIn(...).length without the array) */
  private anyVmaIn(p: Proc, start: number, end: number): boolean {
    for (const v of p.vmas) if (v.start < end && start < v.end) return true;
    return false;
  }

  private sortVmas(p: Proc) {
    // an insertion sort by start, in place (stable, as Array.prototype.sort): the list is sorted
    // but for the one VMA just pushed or moved, and sort's comparator and work arrays cost more
    const vs = p.vmas;
    for (let k = 1; k < vs.length; k++) {
      const x = vs[k];
      let j = k;
      while (j > 0 && vs[j - 1].start > x.start) { vs[j] = vs[j - 1]; j--; }
      vs[j] = x;
    }
  }

  /** Split the VMA containing `at` so that a VMA boundary lies at `at` (mm/vma.c __split_vma):
   *  flags copied to both parts (R-MUNMAP-2); a huge PMD straddling the boundary is split first
   *  (R-MUNMAP-3, mm/huge_memory.c vma_adjust_trans_huge). */
  private splitAt(p: Proc, at: number) {
    const v = this.vmaAt(p, at);
    if (!v || v.start === at) return;
    if (at % HPAGE_PAGES !== 0) {
      const pmd = p.pmds.get(blockOf(at));
      if (pmd?.t === 'huge') { this.rule('R-MUNMAP-3'); this.splitPmd(p, blockOf(at)); }
    }
    this.rule('R-MUNMAP-2');
    const tail = vmaWith(v, { start: at, pgoff: v.pgoff + (at - v.start) });
    v.end = at;
    p.vmas.push(tail);
    this.sortVmas(p);
  }

  /** Make VMA boundaries at start and end. */
  private isolate(p: Proc, start: number, end: number) {
    this.splitAt(p, start);
    this.splitAt(p, end);
  }

  /** anon_vma_prepare: the first anon fault of a VMA reuses the anon_vma of an adjacent VMA that
   *  differs only in access flags and soft-dirty, when that anon_vma is its own alone (mm/rmap.c
   *  find_mergeable_anon_vma, anon_vma_compatible, reusable_anon_vma; next tried first). Shared
   *  anon_vmas let later mprotects merge the two VMAs. */
  private anonVmaPrepare(p: Proc, v: Vma) {
    if (v.anonVma) return;
    const next = p.vmas.find((x) => x.start === v.end);
    const prev = p.vmas.find((x) => x.end === v.start);
    for (const [a, b, o] of [[v, next, next], [prev, v, prev]] as const) {
      if (!a || !b || !o || !o.anonVma || o.forkedChain) continue;
      if (a.kind !== b.kind || a.thp !== b.thp || a.account !== b.account || (a.uffd?.id ?? 0) !== (b.uffd?.id ?? 0)) continue;
      if (a.obj !== b.obj || ((a.obj || isAnonVma(a)) && a.pgoff + (a.end - a.start) !== b.pgoff)) continue;
      this.rule('R-MERGE-4');
      v.anonVma = o.anonVma;
      return;
    }
    v.anonVma = this.nextId++;
  }

  private compatible(a: Vma, b: Vma, intoNext = false): boolean {
    // mm/vma.c is_mergeable_vma / is_mergeable_anon_vma / is_mergeable_vm_userfaultfd_ctx
    if (a.end !== b.start || a.kind !== b.kind || a.prot !== b.prot || a.thp !== b.thp) return false;
    if (htlb.isHugetlbVma(a)) return false; // VM_DONTEXPAND is VM_SPECIAL: hugetlb VMAs never merge
    if (a.account !== b.account) return false; // VM_ACCOUNT is one of the flags that must match
    // 6.12: is_mergeable_anon_vma(.., next) sees next's empty anon_vma_chain as not singular, so a
    // faulted range never merges into an unfaulted next VMA (allowed again in 6.16); nor into an
    // unfaulted prev (can_vma_merge_after passes prev the same way; measured on 6.1: a faulted
    // page mprotect'd to match an unfaulted read-only prev that kept VM_ACCOUNT stays a VMA apart)
    if (intoNext && !this.k.anonMergeIntoUnfaultedNext && a.anonVma && !b.anonVma) return false;
    if (!intoNext && !this.k.anonMergeIntoUnfaultedNext && !a.anonVma && b.anonVma) return false;
    if ((a.uffd?.id ?? 0) !== (b.uffd?.id ?? 0)) return false;
    if (a.obj !== b.obj) return false;
    // vm_pgoff must continue for every VMA (can_vma_merge_after/before), anonymous ones too: an
    // anonymous VMA that mremap moved after its first fault keeps its old pgoff (copy_vma)
    if ((a.obj || isAnonVma(a)) && a.pgoff + (a.end - a.start) !== b.pgoff) return false;
    if (a.anonVma && b.anonVma && a.anonVma !== b.anonVma) return false;
    // only one has an anon_vma: the merged VMA would take it, which it may only when its chain is
    // its own alone, not cloned from a parent at fork (mm/vma.c is_mergeable_anon_vma,
    // vma_had_uncowed_parents: !list_is_singular(&vma->anon_vma_chain)). Measured on 6.18.44: a
    // fork child's guarded (so anon_vma-prepared) VMA and a new anon mmap placed after it stay two
    // VMAs, and the child's fork copies none of the new one's page table.
    if ((a.anonVma && !b.anonVma && a.forkedChain) || (b.anonVma && !a.anonVma && b.forkedChain)) return false;
    return true;
  }

  /** Merge `v` with compatible neighbours. `mode` decides VM_SOFTDIRTY of the result when the
   *  sticky flag knob is off (R-MERGE-2): 'modified' = the flags of v (mprotect/madvise), 'target' =
   *  the flags of the VMA v expands into (mremap, uffd register), 'mmap' = set (R-MMAP-1). */
  private merge(p: Proc, v: Vma, mode: 'modified' | 'target' | 'mmap', withPrev = true) {
    let cur = v;
    const prev = withPrev ? p.vmas.find((x) => x.end === cur.start) : undefined;
    if (prev && this.compatible(prev, cur)) cur = this.absorb(p, prev, cur, mode, cur);
    const next = p.vmas.find((x) => x.start === cur.end);
    if (next && this.compatible(cur, next, true)) cur = this.absorb(p, cur, next, mode, v);
    return cur;
  }

  private absorb(p: Proc, a: Vma, b: Vma, mode: 'modified' | 'target' | 'mmap', modified: Vma): Vma {
    this.rule('R-MERGE-3');
    let sd: boolean;
    let why: Why;
    if (mode === 'mmap') {
      // R-MMAP-1: the whole merged VMA is flagged (mm/vma.c __mmap_complete)
      if (this.mut('B-2')) { const other = a === modified ? b : a; sd = other.sd; why = withRule(other.sdWhy, 'R-MMAP-1'); }
      else { sd = true; why = withRule(modified.sdWhy, this.rule('R-MMAP-1')); }
    } else if (this.k.stickySoftDirty && !this.mut('B-1')) {
      sd = a.sd || b.sd; // R-MERGE-1: VMA_STICKY_FLAGS
      why = withRule(a.sd ? a.sdWhy : b.sdWhy, this.rule('R-MERGE-1'));
    } else {
      const src = mode === 'modified' ? modified : (a === modified ? b : a);
      sd = src.sd; // R-MERGE-2
      why = withRule(src.sdWhy, this.rule(this.mut('B-1') ? 'R-MERGE-1' : 'R-MERGE-2'));
    }
    const merged = vmaWith(a, { end: b.end, sd, sdWhy: why, anonVma: a.anonVma || b.anonVma, forkedChain: a.forkedChain || b.forkedChain });
    // VM_MAYBE_GUARD is sticky like VM_SOFTDIRTY (VMA_STICKY_FLAGS): the merge keeps it
    if (a.maybeGuard || b.maybeGuard) merged.maybeGuard = true;
    p.vmas = p.vmas.filter((x) => x !== a && x !== b);
    p.vmas.push(merged);
    this.sortVmas(p);
    return merged;
  }

  /** Shared VMAs need write notification when soft-dirty tracking is on or uffd-wp is armed
   *  (mm/mmap.c vma_wants_writenotify, vma_soft_dirty_enabled, userfaultfd_wp). */
  private writeNotify(v: Vma): boolean {
    if (!isShared(v)) return false;
    if (this.mut('B-4') && !v.sd && !v.uffd) return false;
    if (this.mut('B-16') && v.uffd && v.sd) return false;
    return !v.sd || !!v.uffd;
  }

  /** Whether a read fault maps a page-cache page writable (mm/memory.c set_pte_range via
   *  finish_fault / filemap_map_pages, do_set_pmd): only in a shared writable mapping that needs no
   *  write notification (maybe_mkwrite on VM_SHARED|VM_WRITE); a private one (memfd-private) maps
   *  it read-only for a later CoW. */
  private readMapsWritable(v: Vma): boolean {
    return v.kind !== 'memfd-private' && v.prot === 'rw' && !this.writeNotify(v);
  }

  /** The first page of the `size`-page folio of the page cache around `page` of `v`, aligned in
   *  the object's index (folios are aligned there, not in the address space). */
  private folioStartAt(v: Vma, page: number, size: number): number {
    return page - ((v.pgoff + (page - v.start)) % size);
  }

  /** Reclaim wrote the PMD-sized folio at index `f` of `obj` to swap: the page cache no longer
   *  holds it large, and it may come back whole (R-SWIN-2) until a page comes back alone (R-SWIN-3
   *  splits the entry: swapSplit). */
  private folioToSwap(obj: NonNullable<Vma['obj']>, f: number): void {
    obj.huge.delete(f);
    (obj.swappedHuge ??= new Set()).add(f);
    obj.swapSplit?.delete(f);
  }

  // ---------------------------------------------------------------------------------------------
  // page tables

  /** Remove an entry, remembering which rule removed it. */
  private drop(p: Proc, page: number, rule: string) {
    p.ptes.delete(page);
    p.gone.set(page, whyOf(this.rule(rule)));
  }

  private ensureTable(p: Proc, block: number) {
    if (!p.pmds.has(block)) p.pmds.set(block, { t: 'table' });
  }

  /** Free page tables of blocks no VMA overlaps any more (mm/memory.c free_pgtables). */
  private freeTables(p: Proc, start: number, end: number) {
    for (let b = blockOf(start); b <= blockOf(end - 1); b++) {
      if (!this.anyVmaIn(p, blockStart(b), blockStart(b + 1))) {
        p.pmds.delete(b);
        p.ptes.deleteRange(blockStart(b), blockStart(b + 1));
      }
    }
  }

  /** Split a huge PMD into PTEs (mm/huge_memory.c __split_huge_pmd_locked). */
  splitPmd(p: Proc, block: number, reason?: string) {
    const pmd = p.pmds.get(block);
    if (pmd?.t !== 'huge') return;
    const base = blockStart(block);
    if (pmd.pages && !pmd.pages[0].anon) {
      // R-SPLIT-3: a file/shmem PMD is just cleared (no page table deposited on x86): a PMD hole.
      // Its 512 pages keep why they are empty (attribution only: p.gone, read for pte_none): the
      // PMD's history, the reason for the split and the split, as the anon branch's PTEs do — so
      // a divergence on them names the split, whichever op made the fault that split it
      const id = this.rule('R-SPLIT-3');
      const why = withRule(reason ? withRule(pmd.why, reason) : pmd.why, id);
      p.pmds.delete(block);
      for (let i = 0; i < HPAGE_PAGES; i++) p.gone.set(base + i, why);
      return;
    }
    p.pmds.set(block, { t: 'table' });
    if (!pmd.pages) {
      // R-SPLIT-2: huge zero -> 512 zero PTEs, wp copied (since 6.3), no soft-dirty
      const id = this.rule('R-SPLIT-2');
      const wp = pmd.wp && !this.mut('B-13');
      const why = withRule(reason ? withRule(pmd.why, reason) : pmd.why, id);
      for (let i = 0; i < HPAGE_PAGES; i++) {
        p.ptes.set(base + i, { t: 'present', page: this.zeroPage, wp, sd: pmd.sd, writable: false, dirty: false, why });
      }
      return;
    }
    // R-SPLIT-1: PTE soft-dirty = PMD soft-dirty OR PMD dirty (x86 pte_mkdirty sets soft-dirty)
    const id = this.rule('R-SPLIT-1');
    const sd = pmd.sd || (pmd.dirty && !this.mut('B-30'));
    const why = withRule(reason ? withRule(pmd.why, reason) : pmd.why, id);
    for (let i = 0; i < HPAGE_PAGES; i++) {
      p.ptes.set(base + i, { t: 'present', page: pmd.pages[i], wp: pmd.wp, sd, writable: pmd.writable, dirty: pmd.dirty, why });
    }
  }

  /** Split the folio behind a PMD-mapped anon THP (migration-entry split, mm/migrate.c
   *  remove_migration_pte): exact bits, zero-filled subpages remapped to the zero page (R-SPLIT-5). */
  private folioSplit(p: Proc, block: number) {
    const pmd = p.pmds.get(block);
    if (pmd?.t !== 'huge' || !pmd.pages) { this.splitPmd(p, block); return; }
    const id = this.rule('R-SPLIT-5');
    p.pmds.set(block, { t: 'table' });
    for (const pg of pmd.pages) pg.folio = undefined;
    const base = blockStart(block);
    for (let i = 0; i < HPAGE_PAGES; i++) {
      const page = pmd.pages[i];
      if (this.k.splitZeroRemap && !page.nonzero && i > 0 || (this.k.splitZeroRemap && !page.nonzero && i === 0)) {
        const keep = this.k.splitZeroRemapKeepsBits && !this.mut('B-26');
        p.ptes.set(base + i, { t: 'present', page: this.zeroPage, wp: keep && pmd.wp, sd: keep && pmd.sd, writable: false, dirty: false, why: withRule(pmd.why, id) });
      } else {
        p.ptes.set(base + i, { t: 'present', page, wp: pmd.wp, sd: pmd.sd, writable: pmd.writable, dirty: pmd.dirty, why: withRule(pmd.why, id) });
      }
    }
  }

  /** Addresses where process p maps pages of `folio` by PTE. */
  private folioPtes(p: Proc, folio: Page[]): number[] {
    const set = new Set(folio);
    const at: number[] = [];
    for (const [a, e] of p.ptes) if (e.t === 'present' && set.has(e.page)) at.push(a);
    return at.sort((x, y) => x - y);
  }

  /** split_folio of a PTE-mapped anon folio (migration entries, mm/migrate.c remove_migration_pte):
   *  bits exact, zero-filled subpages remapped to the zero page (R-SPLIT-5). */
  private splitFolioPtes(p: Proc, folio: Page[], at: number[]) {
    const id = this.rule('R-SPLIT-5');
    for (const a of at) {
      const e = p.ptes.get(a);
      if (e?.t !== 'present') continue;
      if (this.k.splitZeroRemap && !e.page.nonzero) {
        const keep = this.k.splitZeroRemapKeepsBits && !this.mut('B-26');
        p.ptes.set(a, { t: 'present', page: this.zeroPage, wp: keep && e.wp, sd: keep && e.sd, writable: false, dirty: false, why: withRule(e.why, id) });
      }
    }
    for (const pg of folio) pg.folio = undefined;
  }

  /** some page of the folio is mapped more than once */
  private mappedElsewhere(folio: Page[]): boolean {
    return folio.some((pg) => pg.zero || mapcount(pg) > 1);
  }
  /** mapcount <= 1 (pagemap's count: present PTEs and huge PMDs of live processes, Page.ptMaps
   *  and pmdMaps) */
  private exclusive(page: Page): boolean {
    return !page.zero && mapcount(page) <= 1;
  }

  /** An anon page may be reused (or made writable) only when nothing else holds it: no other
   *  mapping and no swap entry elsewhere keeping it in the swap cache (mm/memory.c
   *  wp_can_reuse_anon_folio, PageAnonExclusive after a shared swap-in). */
  private soleOwner(page: Page): boolean {
    return !page.zero && page.ptMaps + page.ptSwaps + page.pmdMaps <= 1;
  }

  /** Does a RO->RW transition of this present PTE happen at once? (mm/mprotect.c
   *  can_change_pte_writable): no soft-dirty fault needed, not wp, and private: exclusive anon,
   *  shared: dirty. R-MPROT-3. */
  private canMakeWritable(v: Vma, e: { page: Page; wp: boolean; sd: boolean; dirty: boolean }): boolean {
    if (v.prot !== 'rw') return false;
    if (e.wp && !(this.mut('B-16') && isShared(v))) return false;
    const sdFaultNeeded = !v.sd && !e.sd;
    if (sdFaultNeeded && !this.mut('B-3')) return false;
    if (isShared(v)) return e.dirty;
    return e.page.anon && !e.page.zero && this.soleOwner(e.page);
  }

  // ---------------------------------------------------------------------------------------------
  // ops

  exec(op: Op, index: number, outcome: Outcome | undefined): Rc {
    this.rules = new Set();
    this.events = [];
    this.rcWhy = [];
    this.outcome = outcome;
    const pid = op.proc ?? 0;
    const p = this.procs[pid];
    if (!p || !p.alive) return 'ESRCH';
    this.curRegion = 'region' in op ? op.region : '';
    this.opIndex = index;
    // an ioctl on a descriptor closed by close_uffd (R-CLOSE-1)
    if (UFFD_IOCTLS.has(op.op) && !p.ctx) { this.rule('R-CLOSE-1'); return 'EBADF'; }
    if (op.op !== 'mmap' && 'region' in op && p.regions.get(op.region)?.hugetlb) {
      // ops on a hugetlb region: alignment and the hugetlb fault/zap paths (src/model/hugetlb.ts)
      const [s, e] = this.range(p, op as { region: string; first?: number; count?: number });
      const rc = htlb.hugetlbOp(this, p, op, s, e);
      if (rc !== undefined) return rc;
    }
    switch (op.op) {
      case 'mmap': return this.mmap(p, op);
      case 'munmap': return this.munmap(p, op);
      case 'mremap': return this.mremap(p, op);
      case 'mprotect': return this.mprotect(p, op);
      case 'read': return this.access(p, op, false);
      case 'write': return this.access(p, op, true);
      case 'fork': return this.fork(p);
      case 'exit': this.rule('R-EXIT-1'); p.alive = false; return 0;
      case 'clear_refs': return this.clearRefs(p, op.value ?? 4);
      case 'pageout': return this.pageout(p, op);
      case 'dontneed': return this.dontneed(p, op);
      case 'collapse': return this.collapse(p, op);
      case 'split': return this.split(p, op);
      case 'uffd_register': return this.register(p, op);
      case 'uffd_unregister': return this.unregister(p, op);
      case 'wp': return this.writeProtect(p, op);
      case 'scan': return 0; // handled by the model driver (scan.ts) on the same state
      case 'populate': return this.populate(p, op);
      case 'close_uffd': return this.closeUffd(p);
      case 'guard': return this.guardRegion(p, op, true);
      case 'unguard': return this.guardRegion(p, op, false);
    }
  }

  range(p: Proc, op: { region: string; first?: number; count?: number }): [number, number] {
    const r = p.regions.get(op.region)!;
    const first = op.first ?? 0;
    const count = op.count ?? r.pages - first;
    return [r.start + first, r.start + first + count];
  }

  /** the first page of [start, end) no VMA covers, or `end`: one lookup per VMA, not per page */
  firstGap(p: Proc, start: number, end: number): number {
    for (let i = start; i < end;) {
      const v = this.vmaAt(p, i);
      if (!v) return i;
      i = v.end;
    }
    return end;
  }

  private hasGap(p: Proc, start: number, end: number): boolean {
    return this.firstGap(p, start, end) < end;
  }

  private mmap(p: Proc, op: OpOf<'mmap'>): Rc {
    const hugetlb = op.kind === 'hugetlb' || op.kind === 'hugetlb-shared';
    const start = op.after !== undefined ? p.regions.get(op.after)!.start + p.regions.get(op.after)!.pages
      : hugetlb ? hugetlbSlotStartPage(this.hslot++) : slotStartPage(this.slot++);
    const end = start + op.pages;
    if (this.anyVmaIn(p, start, end)) {
      // MAP_FIXED_NOREPLACE; the region still names the planned range (src/ops/validate.ts)
      p.regions.set(op.region, newRegion(start, op.pages, hugetlb));
      return 'EEXIST';
    }
    // shared anon memory is a shmem file of the mapping's size; a memfd is sized to the region limit
    const obj: ShmObj | null = op.kind === 'anon' || op.kind === 'hugetlb' ? null
      : { id: this.nextId++, pages: new Map(), size: op.kind === 'shared-anon' || op.kind === 'hugetlb-shared' ? op.pages : MEMFD_PAGES, huge: new Set() };
    this.rule('R-MMAP-4');
    const v = vmaWith({
      start, end, kind: op.kind, prot: 'rw', sd: true, sdWhy: [this.rule('R-MMAP-1')], anonVma: 0, uffd: null,
      // private writable mappings are accounted (mm/mmap.c accountable_mapping)
      account: op.kind === 'anon' || op.kind === 'memfd-private', forkedChain: false,
      // an anonymous mapping's vm_pgoff is its address in pages (mm/mmap.c do_mmap: pgoff = addr
      // >> PAGE_SHIFT for MAP_ANONYMOUS|MAP_PRIVATE); a file's (shmem, memfd) is the file offset
      thp: op.thp ?? false, obj, pgoff: op.kind === 'anon' ? start : 0, regWhy: [], maybeGuard: false,
    });
    p.vmas.push(v);
    this.sortVmas(p);
    p.regions.set(op.region, newRegion(start, op.pages, hugetlb));
    this.merge(p, v, 'mmap');
    return 0;
  }

  private unmapRange(p: Proc, start: number, end: number) {
    // R-EVT-1: UFFD_EVENT_UNMAP for registered VMAs when the context asked for it
    for (const v of this.vmasIn(p, start, end)) {
      if (v.uffd?.features.has('event_unmap')) {
        this.rule('R-EVT-1');
        this.events.push({ kind: 'unmap', proc: p.id, region: this.curRegion, page: start - p.regions.get(this.curRegion)!.start });
        break;
      }
    }
    this.isolate(p, start, end);
    this.rule('R-MUNMAP-1');
    p.vmas = p.vmas.filter((v) => !(v.start >= start && v.end <= end));
    for (let b = blockOf(start); b <= blockOf(end - 1); b++) {
      const pmd = p.pmds.get(b);
      if (pmd?.t === 'huge' && blockStart(b) >= start && blockStart(b + 1) <= end) p.pmds.delete(b);
    }
    p.ptes.deleteRange(start, end);
    htlb.unmap(p, start, end);
    this.freeTables(p, start, end);
  }

  private munmap(p: Proc, op: OpOf<'munmap'>): Rc {
    const [start, end] = this.range(p, op);
    this.unmapRange(p, start, end);
    return 0;
  }

  private mprotect(p: Proc, op: OpOf<'mprotect'>): Rc {
    const [start, end] = this.range(p, op);
    // do_mprotect_pkey: works VMA by VMA and stops with ENOMEM at the first hole
    const stop = this.firstGap(p, start, end);
    if (stop === start) { this.rule('R-MADV-1'); return 'ENOMEM'; }
    this.rule('R-MPROT-1');
    if (op.prot === 'none') this.rule('R-MPROT-2'); // PROT_NONE entries stay present (pte_present)
    // mprotect_fixup leaves a VMA whose flags would not change alone: no VMA or PMD split
    if (this.vmasIn(p, start, stop).every((v) => v.prot === op.prot)) return stop < end ? 'ENOMEM' : 0;
    if (this.vmaAt(p, start)?.prot !== op.prot) { this.splitPartialAt(p, start, stop, start, 'R-MPROT-4'); this.splitAt(p, start); }
    if (this.vmaAt(p, stop - 1)?.prot !== op.prot) { this.splitPartialAt(p, start, stop, stop - 1, 'R-MPROT-4'); this.splitAt(p, stop); }
    const modified: Vma[] = [];
    for (const v of this.vmasIn(p, start, stop)) {
      if (v.prot === op.prot) continue;
      modified.push(v);
      // mprotect_fixup: making a private mapping writable charges it (VM_ACCOUNT); making an anon
      // VMA without anon_vma read-only drops the charge (6.7+; before, it kept it and merged with
      // a faulted read-only neighbour, measured on 6.1); the flag then decides merges
      if (op.prot === 'rw' && !isShared(v)) v.account = true;
      else if (op.prot !== 'rw' && v.account && isAnonVma(v) && !v.anonVma && this.k.mprotectUnaccountsUnfaulted) v.account = false;
      const upgrade = op.prot === 'rw' && v.prot !== 'rw';
      v.prot = op.prot;
      // the write bit and the history change, which the observer does not read: peek, no stamps
      // (a chunk at a time: one lookup per PTE_CHUNK pages, none for a chunk never populated)
      for (let lo = v.start; lo < v.end;) {
        const c = Math.floor(lo / PTE_CHUNK), base = c * PTE_CHUNK;
        const hi = Math.min(base + PTE_CHUNK, v.end);
        const t = p.ptes.peekChunk(c);
        if (t !== undefined) {
          for (let k = lo - base; k < hi - base; k++) {
            const e = t.e[k];
            if (e?.t !== 'present') continue;
            if (op.prot !== 'rw') e.writable = false;
            else if (upgrade && !e.writable) { e.writable = this.canMakeWritable(v, e); e.why = withRule(e.why, this.rule('R-MPROT-3')); }
          }
        }
        lo = hi;
      }
      for (let b = blockOf(v.start); b <= blockOf(v.end - 1); b++) {
        const pmd = p.pmds.peek(b);
        if (pmd?.t !== 'huge') continue;
        if (op.prot !== 'rw') pmd.writable = false;
        else if (upgrade && !pmd.writable && pmd.pages) {
          this.rule('R-MPROT-3');
          pmd.writable = this.canMakeWritable(v, { page: pmd.pages[0], wp: pmd.wp, sd: pmd.sd, dirty: pmd.dirty });
        }
      }
    }
    // only a VMA whose flags changed is merged, with its prev and its next at once (mm/mprotect.c
    // mprotect_fixup returns early for unchanged flags; vma_modify_flags -> vma_merge_existing_range):
    // merging from an unchanged VMA of the range would stop one VMA short (measured on 6.18: after
    // mprotect a[1] none, mprotect a[..2) rw, fault-around maps page cache across a[1..3))
    // (a modified VMA already absorbed by an earlier one's merge: the VMA that holds it now, whose
    // next may merge too, as the kernel's modify of that VMA would)
    for (const v of modified) { const cur = p.vmas.includes(v) ? v : this.vmaAt(p, v.start); if (cur) this.merge(p, cur, 'modified'); }
    if (stop < end) { this.rule('R-MADV-1'); return 'ENOMEM'; }
    return 0;
  }

  /** split the huge PMD holding `at` if [start, end) covers it only partly */
  private splitPartialAt(p: Proc, start: number, end: number, at: number, id: string) {
    const b = blockOf(at);
    const pmd = p.pmds.get(b);
    if (pmd?.t === 'huge' && (blockStart(b) < start || blockStart(b + 1) > end)) {
      this.rule(id);
      this.splitPmd(p, b);
    }
  }

  // --- faults ------------------------------------------------------------------------------------

  private access(p: Proc, op: OpOf<'read'> | OpOf<'write'>, write: boolean): Rc {
    const [start, end] = this.range(p, op);
    this.faultRange = [start, end];
    // the VMA of the last page while the next lies in it (VMAs never overlap, so one that still
    // covers page i and is still p's is the one vmaAt finds): one lookup per VMA, not per page
    let v: Vma | undefined, vi = -1;
    // page i's PteTable chunk and whether its PMD is huge, read once per chunk and block, and again
    // after every page that took the fault paths (which may change the tables)
    let chunk: readonly (Pte | undefined)[] | undefined, chunkBase = 0, chunkEnd = -1, blkEnd = -1, huge = false;
    const regionStart = p.regions.get(this.curRegion)!.start;
    for (let i = start; i < end; i++) {
      if (v === undefined || i >= v.end || i < v.start || p.vmas[vi] !== v) { vi = vmaIndexAt(p.vmas, i); v = vi < 0 ? undefined : p.vmas[vi]; }
      if (!v || v.prot === 'none' || (write && v.prot !== 'rw')) {
        // R-FLT-14: SIGSEGV kills the process
        this.rule('R-FLT-14');
        p.alive = false;
        return 'SIGSEGV';
      }
      if (i >= chunkEnd) { const c = Math.floor(i / PTE_CHUNK); chunkBase = c * PTE_CHUNK; chunkEnd = chunkBase + PTE_CHUNK; chunk = p.ptes.peekChunk(c)?.e; }
      if (i >= blkEnd) { const b = blockOf(i); blkEnd = blockStart(b + 1); huge = p.pmds.peek(b)?.t === 'huge'; }
      const pe = chunk === undefined ? undefined : chunk[i - chunkBase];
      if (pe?.t === 'guard') {
        // R-GRD-3: a fault on a guard marker is VM_FAULT_SIGSEGV (mm/memory.c handle_pte_marker)
        this.rule('R-GRD-3');
        p.alive = false;
        return 'SIGSEGV';
      }
      if (v.obj && v.pgoff + (i - v.start) >= v.obj.size && pe?.t !== 'present' && !huge) {
        // R-FLT-15: a fault past the end of the shmem object (shared anon grown by mremap) is SIGBUS
        this.rule('R-FLT-15');
        p.alive = false;
        return 'SIGBUS';
      }
      if (huge && !write) continue; // readPage: a huge PMD maps the page already
      if (!huge && pe?.t === 'present') {
        // what readPage and writePage do with a present PTE that needs no fault: a read changes
        // nothing; a write through a writable entry sets its dirty bit and stores its value
        if (!write) continue;
        if (pe.writable) { this.writeWritable(pe); this.storeIn(pe.page, i - regionStart); continue; }
      }
      if (write) this.writePage(p, v, i); else this.readPage(p, v, i);
      if (write) { const pg = mappedPage(p, i); if (pg) this.storeIn(pg, i - regionStart); }
      chunkEnd = -1; blkEnd = -1;
    }
    return 0;
  }

  /** R-DATA-1: the write op stores its value in the page it left mapped (content.ts mappedPage),
   *  page `k` of the op's region */
  private storeIn(pg: Page, k: number) {
    if (pg.zero) return;
    this.rule('R-DATA-1');
    storeWrite(pg, writeValue(this.opIndex, k));
  }

  private shmPage(v: Vma, page: number): Page {
    const obj = v.obj!;
    const index = v.pgoff + (page - v.start);
    let pg = obj.pages.get(index);
    if (!pg) { pg = this.newPage(false, false, obj, index); obj.pages.set(index, pg); }
    if (pg.inSwap) keptBy(pg, this.rule('R-DATA-4')); // shmem_swapin_folio: the content comes back
    // a page of it came back on its own: the large entry is split (R-SWIN-3)
    const f = index - (index % HPAGE_PAGES);
    if (obj.swappedHuge?.delete(f)) (obj.swapSplit ??= new Set()).add(f);
    pg.inSwap = false;
    return pg;
  }

  /** THP-eligible fault: VMA asked for THP, the block lies inside the VMA and has no page table. */
  private thpEligible(p: Proc, v: Vma, page: number): boolean {
    const b = blockOf(page);
    return isAnonVma(v) && v.thp && v.start <= blockStart(b) && blockStart(b + 1) <= v.end && !p.pmds.has(b);
  }

  /** A fault in a PMD hole of a shmem VMA whose page cache holds a THP for the block maps it by
   *  PMD (mm/memory.c finish_fault -> do_set_pmd; needs thp_vma_suitable_order). */
  private shmemHugeFault(p: Proc, v: Vma, page: number, write: boolean, refault = false): boolean {
    const b = blockOf(page);
    if (isAnonVma(v) || p.pmds.has(b) || (write && v.kind === 'memfd-private')) return false;
    if (v.start > blockStart(b) || v.end < blockStart(b + 1)) return false;
    const first = v.pgoff + (blockStart(b) - v.start);
    // R-FLT-3H: where sysfs shmem_enabled allows it (`advise` with MADV_HUGEPAGE, `always`), a fault
    // whose PMD-sized index range of the page cache is empty (and inside the object) allocates a
    // PMD-sized folio and maps it by PMD (mm/shmem.c shmem_get_folio_gfp, shmem_allowable_huge_orders,
    // shmem_suitable_orders; mm/memory.c do_set_pmd). A host setting: followed only where the trace
    // records the block as newly huge, never assumed.
    if (first % HPAGE_PAGES === 0 && v.thp && this.outcome && !v.obj!.huge.has(first) && first + HPAGE_PAGES <= v.obj!.size &&
        this.wantsHuge(p, b) && this.cacheRangeEmpty(v.obj!, first)) {
      this.rule('R-FLT-3H');
      v.obj!.huge.add(first);
    }
    // R-SWIN-2: a shmem THP that reclaim wrote to swap whole (CONFIG_THP_SWAP, a free swap
    // cluster: the host's choice) may come back whole on a fault (mm/shmem.c shmem_swapin_folio):
    // shmemSwapInFolio follows the `resident` outcome; a trace without it (recorded before the
    // executor took it) still shows a PMD mapping in `huge`, which only the whole folio makes;
    // without either its pages come back one by one
    const obj = v.obj!;
    if (first % HPAGE_PAGES === 0 && !obj.huge.has(first) && obj.swappedHuge?.has(first) && this.outcome && this.wantsHuge(p, b)) {
      this.rule('R-SWIN-2');
      obj.swappedHuge.delete(first);
      obj.huge.add(first);
    }
    // `refault`: the PMD this fault found was just zapped (R-ASYNC-2); its THP is mapped again
    if (first % HPAGE_PAGES !== 0 || !v.obj!.huge.has(first) || (!refault && !this.wantsHuge(p, b))) return false;
    const pages = Array.from({ length: HPAGE_PAGES }, (_, i) => this.shmPage(v, blockStart(b) + i));
    if (write) pages[page - blockStart(b)].nonzero = true;
    const writable = write || this.readMapsWritable(v);
    p.pmds.set(b, { t: 'huge', pages, wp: false, sd: write, writable, dirty: write, why: whyOf(this.rule(write ? 'R-FLT-10' : 'R-FLT-3')) });
    return true;
  }

  /** R-SWIN-2: a fault on page `page` of shmem VMA v (none or a uffd-wp marker there) whose
   *  PMD-sized folio reclaim wrote to swap (obj.swappedHuge) brings the whole folio back when the
   *  `resident` outcome says the block became wholly resident during the op: mm/shmem.c
   *  shmem_swapin_folio reads a large swap entry as one folio (shmem_swap_alloc_folio on a
   *  synchronous device, 6.14+; a large folio still in the swap cache, swap_cache_get_folio),
   *  else splits the entry and reads one page (shmem_split_large_entry). Which of the two the host
   *  does (CONFIG_THP_SWAP, a free swap cluster at writeout, the device, the allocation) is recorded
   *  per case, never assumed: without the outcome the pages come back one by one (shmPage). Every
   *  page of the folio leaves swap and the page cache holds the PMD-sized folio again.
   *  R-SWIN-3: once a page came back alone the entry is split (obj.swapSplit): 6.18 splits it
   *  non-uniformly (shmem_split_large_entry: xas_try_split down by xas_try_split_min_order), so the
   *  rest stays in swap as aligned pieces of smaller orders, each of which a later fault reads as
   *  one folio; 6.12 splits it into single pages. The piece is the largest aligned range of the
   *  object around the faulting page, all in swap and inside the VMA, whose pages a run of the
   *  outcome says became resident during the op: recorded, never assumed. Returns the folio's
   *  pages (0: none came back whole here). */
  private shmemSwapInFolio(p: Proc, v: Vma, page: number): number {
    const obj = v.obj;
    if (!obj || !(obj.swappedHuge?.size || obj.swapSplit?.size) || isAnonVma(v)) return 0;
    const index = v.pgoff + (page - v.start);
    const first = index - (index % HPAGE_PAGES);
    const b = blockOf(page);
    const r = p.regions.get(this.curRegion);
    const list = own(this.outcome?.resident, this.curRegion);
    if (!r || !list || !obj.pages.get(index)?.inSwap) return 0;
    let size = 0;
    // the folio lies at the block the outcome names (an address block mapping the object's
    // PMD-sized index range): a block first page (the older form) or a run over the block's part
    // in the region
    if (obj.swappedHuge?.has(first) && page - (index - first) === blockStart(b)) {
      const lo = Math.max(blockStart(b), r.start) - r.start, hi = Math.min(blockStart(b + 1), r.start + r.pages) - r.start;
      if (list.some((e) => (typeof e === 'number' ? e === lo : e[0] <= lo && hi <= e[0] + e[1]))) size = HPAGE_PAGES;
    }
    const k = page - r.start;
    const run = list.find((e): e is [number, number] => typeof e !== 'number' && e[0] <= k && k < e[0] + e[1]);
    if (!size && run && (obj.swappedHuge?.has(first) || obj.swapSplit?.has(first))) {
      for (let n = HPAGE_PAGES / 2; n >= 2 && !size; n /= 2) {
        const at = page - (index % n), f = index - (index % n);
        if (at < v.start || at + n > v.end || at - r.start < run[0] || at + n - r.start > run[0] + run[1]) continue;
        let all = true;
        for (let i = f; i < f + n && all; i++) all = !!obj.pages.get(i)?.inSwap;
        if (all) size = n;
      }
    }
    if (!size) return 0;
    this.rule(size === HPAGE_PAGES ? 'R-SWIN-2' : 'R-SWIN-3');
    const f0 = index - (index % size);
    for (let i = f0; i < f0 + size; i++) {
      const pg = obj.pages.get(i);
      if (pg?.inSwap) { keptBy(pg, this.rule('R-DATA-4')); pg.inSwap = false; }
    }
    if (size === HPAGE_PAGES) { obj.swappedHuge!.delete(first); obj.huge.add(first); }
    return size;
  }

  /** Map the `size` pages of the page-cache folio around `page` (aligned in the object's index) at
   *  PTE level, each with one entry — `writable`, `dirty` (soft-dirty with it: x86 pte_mkdirty), no
   *  uffd-wp, its history `from` extended by `rule` — when the folio lies inside the VMA and one page
   *  table and every PTE of its range is none (a uffd-wp marker is not): mm/memory.c finish_fault
   *  (6.11+, pte_range_none, then set_pte_range for the whole folio). Maps nothing and returns false
   *  otherwise. The uffd and wp conditions are the callers' (mapSwappedInFolio, mapWholeFolio). */
  private mapFolioRange(p: Proc, v: Vma, page: number, size: number, writable: boolean, dirty: boolean, from: Why, rule: string): boolean {
    const start = this.folioStartAt(v, page, size);
    if (start < v.start || start + size > v.end || blockOf(start) !== blockOf(start + size - 1)) return false;
    for (let i = start; i < start + size; i++) if (p.ptes.has(i)) return false;
    const id = this.rule(rule);
    const why = from.length ? withRule(from, id) : whyOf(id);
    for (let i = start; i < start + size; i++) {
      p.ptes.set(i, { t: 'present', page: this.shmPage(v, i), wp: false, sd: dirty, writable, dirty, why });
    }
    return true;
  }

  /** R-SWIN-2: a read fault (or populate read) that brought a shmem folio back whole
   *  (shmemSwapInFolio) and could not map it by PMD maps it at PTE level (mapFolioRange: mm/memory.c
   *  finish_fault, 6.11+) when the VMA is not uffd-armed; set_pte_range gives each page the fault's
   *  entry: read-only for a private mapping, writable for a shared one that needs no write
   *  notification, not dirty. Shmem keeps no swap entry in the page table, so no soft-dirty or
   *  uffd-wp bit comes back with the pages.
   *  do_read_fault ran fault-around before ->fault, when every page of the block was still in swap:
   *  it mapped none of them, so none is mapped here beyond the faulting page when the conditions
   *  fail (the caller skips fault-around). R-SWIN-3: a piece of `size` pages (shmemSwapInFolio)
   *  is mapped by the same rules; fault-around, which ran before, found it in swap. */
  private mapSwappedInFolio(p: Proc, v: Vma, page: number, wp: boolean, why: Why, size: number): boolean {
    if (v.uffd || wp || !this.k.finishFaultWholeFolio) return false;
    return this.mapFolioRange(p, v, page, size, this.readMapsWritable(v), false, why, v.kind === 'memfd-private' ? 'R-FLT-4' : 'R-FLT-3');
  }

  /** R-FLT-10L: a write fault on shmem none whose page-cache folio is a large (PMD-sized) one maps
   *  the whole folio at PTE level with the faulting PTE's flags — every page writable, dirty and
   *  soft-dirty — when the VMA is not uffd-armed (mapFolioRange: mm/memory.c finish_fault,
   *  set_pte_range; 6.11 "extend finish_fault() to support large folio"). `piece`: the pages of a
   *  piece of a split swap entry this fault just brought back (R-SWIN-3, shmemSwapInFolio), mapped
   *  by the same rules. */
  private mapWholeFolio(p: Proc, v: Vma, page: number, piece = 0): boolean {
    if (v.uffd) return false; // per-page faults keep the uffd semantics
    const index = v.pgoff + (page - v.start);
    const n = piece > 1 && piece < HPAGE_PAGES ? piece : HPAGE_PAGES;
    if (n === HPAGE_PAGES && !v.obj!.huge.has(index - (index % n))) return false;
    if (!this.mapFolioRange(p, v, page, n, true, true, [], 'R-FLT-10L')) return false;
    this.shmPage(v, page).nonzero = true; // the faulting page takes the write
    return true;
  }

  /** no page of the PMD-sized index range [first, first+512) is in the page cache */
  private cacheRangeEmpty(obj: ShmObj, first: number): boolean {
    for (let i = first; i < first + HPAGE_PAGES; i++) if (obj.pages.has(i)) return false;
    return true;
  }

  /** a write through a writable present PTE */
  private writeWritable(e: Extract<Pte, { t: 'present' }>) {
    // (the reference never has a writable wp PTE; a mutant that makes one writes through it)
    this.rule('R-FLT-8W'); // hardware sets the dirty bit only
    e.dirty = true; e.page.nonzero = true;
  }

  /** a write through a writable THP PMD */
  private writeWritableHuge(pmd: HugePmd, page: number) {
    this.rule('R-FLT-8W');
    pmd.dirty = true; pmd.pages![page - blockStart(blockOf(page))].nonzero = true;
  }

  private readPage(p: Proc, v: Vma, page: number) {
    const b = blockOf(page);
    // peek: a read that finds its page mapped changes nothing (no stamp for the observer)
    if (p.pmds.peek(b)?.t === 'huge') return;
    const e0 = p.ptes.peek(page);
    const wholeIn = e0 === undefined || e0.t === 'marker' ? this.shmemSwapInFolio(p, v, page) : 0;
    if (!p.ptes.has(page) && this.shmemHugeFault(p, v, page, false)) return;
    if (p.ptes.peek(page)?.t === 'present') return;
    const e = p.ptes.get(page);
    if (e?.t === 'swap') {
      if (this.swapInFolio(p, v, page, false)) return;
      // R-SWIN-1: swap-in keeps soft-dirty and wp; writable only if no fault is needed
      const id = this.rule('R-SWIN-1');
      // R-DATA-5: the swapped page comes back with its content (mutant D-2: it comes back zeroed)
      keptBy(e.page, this.rule('R-DATA-5'));
      if (this.mut('D-2')) e.page.val = 0;
      const n = { t: 'present' as const, page: e.page, wp: e.wp, sd: e.sd, writable: false, dirty: false, why: withRule(e.why, id) };
      p.ptes.set(page, n);
      n.writable = !n.wp && v.prot === 'rw' && (v.sd || n.sd) && this.soleOwner(n.page);
      return;
    }
    let wp = false;
    let why: Why = [];
    if (e?.t === 'marker') {
      p.ptes.delete(page);
      if (v.uffd) { wp = true; why = withRule(e.why, this.rule('R-FLT-12')); }
      else this.rule('R-FLT-13');
    }
    if (isAnonVma(v)) {
      const writable = v.prot === 'rw';
      if (!wp && this.thpEligible(p, v, page) && this.wantsHuge(p, b)) {
        if (this.readMapsZero(p, page, true)) {
          // R-FLT-2: huge zero page; an anon_vma is created
          p.pmds.set(b, { t: 'huge', pages: null, wp: false, sd: false, writable: false, dirty: false, why: whyOf(this.rule('R-FLT-2')) });
        } else {
          // R-FLT-2A: no huge zero page: a THP, its PMD made dirty (soft-dirty on x86) whatever the
          // access, writable when the VMA is (huge_memory.c map_anon_folio_pmd: pmd_mkdirty, maybe_pmd_mkwrite)
          const pages = Array.from({ length: HPAGE_PAGES }, () => this.newPage(true, false));
          for (const pg of pages) pg.folio = pages;
          p.pmds.set(b, { t: 'huge', pages, wp: false, sd: true, writable, dirty: true, why: whyOf(this.rule('R-FLT-2A')) });
        }
        this.anonVmaPrepare(p, v);
        return;
      }
      this.ensureTable(p, b);
      if (this.readMapsZero(p, page, false)) {
        p.ptes.set(page, { t: 'present', page: this.zeroPage, wp, sd: false, writable: false, dirty: false, why: withRule(why, this.rule('R-FLT-1')) });
        return;
      }
      if (!wp && this.mapAnonFolio(p, v, page, false)) return;
      // R-FLT-1A: no zero page: do_anonymous_page allocates a zeroed private page (anon_vma
      // prepared), made writable and dirty (soft-dirty on x86) only in a VM_WRITE VMA; a uffd-wp
      // marker's bit is kept (pte_mkuffd_wp, which write-protects on x86)
      const pg = this.freshPageFor(p, v, page);
      p.ptes.set(page, { t: 'present', page: pg, wp, sd: writable, writable: writable && !wp, dirty: writable, why: withRule(why, this.rule('R-FLT-1A')) });
      return;
    }
    this.ensureTable(p, b);
    const fwhy = isShared(v) ? this.sharedFaultWhy(v, why) : why;
    if (wholeIn && this.mapSwappedInFolio(p, v, page, wp, fwhy, wholeIn)) return;
    const pg = this.shmPage(v, page);
    const writable = this.readMapsWritable(v) && !wp;
    p.ptes.set(page, { t: 'present', page: pg, wp, sd: false, writable, dirty: false, why: withRule(fwhy, this.rule(v.kind === 'memfd-private' ? 'R-FLT-4' : 'R-FLT-3')) });
    // a piece (R-SWIN-3): fault-around ran before ->fault, with the piece still in swap
    if (!wholeIn) this.faultAround(p, v, page);
    else if (wholeIn < HPAGE_PAGES) this.faultAround(p, v, page, this.folioStartAt(v, page, wholeIn), wholeIn);
  }

  /** R-FLT-3A: a read fault on a page-cache mapping first maps the cached neighbours of `page`
   *  (mm/memory.c do_read_fault -> do_fault_around, before ->fault), not in uffd-wp VMAs
   *  (uffd_disable_fault_around). Also where ->fault then fails: a page past the end of the shmem
   *  object (shmem_fault: VM_FAULT_SIGBUS) after its cached neighbours were mapped (filemap_map_pages
   *  clips the window to the file's end); the page table is installed only when a page is mapped
   *  (filemap_map_pmd, after the first uptodate folio is found). */
  private faultAround(p: Proc, v: Vma, page: number, skipFrom = 0, skipPages = 0): void {
    if (v.uffd) return;
    const b = blockOf(page);
    let table = p.pmds.has(b);
    // do_fault_around: 64 KiB (16 pages of 4 KiB, 4 of 16 KiB: fault_around_pages) from the
    // aligned start clamped to the VMA, then clamped to the VMA end and the page table
    let lo = Math.max(page - (page % FAULT_AROUND_PAGES), v.start, blockStart(b));
    let hi = Math.min(lo + FAULT_AROUND_PAGES, v.end, blockStart(b + 1));
    // 6.18: a large folio that lies wholly inside the VMA and the PMD is mapped whole
    // (mm/filemap.c filemap_map_pages), not just the window; measured on the live kernel
    const index = v.pgoff + (page - v.start);
    const folioFirst = index - (index % HPAGE_PAGES);
    const folioStart = page - (index - folioFirst);
    if (this.k.faultAroundWholeFolio && v.obj!.huge.has(folioFirst) && folioStart >= v.start &&
        folioStart + HPAGE_PAGES <= v.end && blockOf(folioStart) === b && folioStart % HPAGE_PAGES === 0) {
      lo = folioStart;
      hi = folioStart + HPAGE_PAGES;
    }
    for (let j = lo; j < hi; j++) {
      if (j === page || p.ptes.has(j) || (j >= skipFrom && j < skipFrom + skipPages)) continue;
      const cached = v.obj!.pages.get(v.pgoff + (j - v.start));
      // a swapped-out shmem page is a swap entry in the page cache: fault-around skips it
      if (!cached || cached.inSwap) continue;
      if (!table) { this.ensureTable(p, b); table = true; }
      this.rule('R-FLT-3A');
      p.ptes.set(j, { t: 'present', page: cached, wp: false, sd: false, writable: this.readMapsWritable(v), dirty: false, why: whyOf('R-FLT-3A') });
    }
  }

  /** The history a read fault on a shared mapping starts from: the VMA's last soft-dirty and
   *  registration rules, then the entry's own (a marker's). Without a marker, one array per pair
   *  of VMA histories for all the pages of a fault loop, so that withRule's memo extends it once
   *  and the pages share the result (histories are never changed once built: state.ts withRule). */
  private sharedFaultWhy(v: Vma, why: Why): Why {
    if (why.length) return [...v.sdWhy.slice(-2), ...v.regWhy.slice(-1), ...why];
    if (v.sdWhy !== this.faultWhySd || v.regWhy !== this.faultWhyReg) {
      this.faultWhySd = v.sdWhy; this.faultWhyReg = v.regWhy;
      this.faultWhy = [...v.sdWhy.slice(-2), ...v.regWhy.slice(-1)];
    }
    return this.faultWhy;
  }
  private faultWhySd: Why | undefined;
  private faultWhyReg: Why | undefined;
  private faultWhy: Why = [];

  private wpFault(p: Proc, v: Vma, page: number): 'sync' | 'async' {
    if (v.uffd?.features.has('wp_async')) { this.rule('R-ASYNC-1'); return 'async'; }
    // a populate fault is a kernel fault: a UFFD_USER_MODE_ONLY context answers SIGBUS (R-POP-3)
    if (this.gup) { if (!this.mut('M-17')) throw GUP_SIGBUS; this.rule('R-POP-3'); }
    this.rule('R-SYNC-1');
    const r = p.regions.get(this.curRegion)!;
    this.events.push({ kind: 'wp_fault', proc: p.id, region: this.curRegion, page: page - r.start });
    return 'sync';
  }

  /** Clear wp on one page as the sync fault handler does (UFFDIO_WRITEPROTECT clear, R-WP-6). */
  private resolveWp(p: Proc, v: Vma, page: number) {
    const b = blockOf(page);
    if (p.pmds.get(b)?.t === 'huge') this.splitPmd(p, b); // a 4 KiB clear splits (R-SYNC-2)
    const e = p.ptes.get(page);
    if (e?.t === 'present' && e.wp) {
      e.wp = false; e.why = withRule(e.why, this.rule('R-WP-6'));
      e.writable = this.canMakeWritable(v, e);
    } else if (e?.t === 'marker') p.ptes.delete(page);
  }

  private writePage(p: Proc, v: Vma, page: number) {
    const b = blockOf(page);
    // a write through a writable present PTE or THP PMD sets only what no observation reads (the
    // dirty bit, the page's nonzero): peek, so that neither the PMD block nor the chunk is stamped
    // for the observer (the content the write stores stamps the page itself: storeIn). The
    // same cases as below (writeHuge: a PMD wp under uffd faults first; the huge zero page is
    // never writable)
    const pk = p.pmds.peek(b);
    let pe: Pte | undefined;
    if (pk?.t === 'huge') {
      if (pk.writable && pk.pages && !(pk.wp && v.uffd)) { this.writeWritableHuge(pk, page); return; }
    } else {
      pe = p.ptes.peek(page);
      if (pe?.t === 'present' && pe.writable) { this.writeWritable(pe); return; }
    }
    // the PMD and the entry just peeked, now stamped as get() stamps them: the fault changes them
    if (pk?.t === 'huge') { p.pmds.touch(b); this.writeHuge(p, v, page, pk); return; }
    let e = pe;
    if (e !== undefined) p.ptes.touch(page);
    // R-SWIN-2: shmem_fault brings the folio back whole before the write is mapped (the folio
    // itself for a shared mapping, its page copied for a private one: do_cow_fault)
    const piece = !e || e.t === 'marker' ? this.shmemSwapInFolio(p, v, page) : 0;
    if (!e && this.shmemHugeFault(p, v, page, true)) return;
    if (e?.t === 'marker') {
      if (v.uffd) {
        // R-FLT-12: populate as a fault on none, keeping wp (read-only, dirty, soft-dirty), then
        // the wp fault proper
        const id = this.rule('R-FLT-12');
        p.ptes.delete(page);
        const pg = this.freshPageFor(p, v, page);
        e = { t: 'present', page: pg, wp: true, sd: true, writable: false, dirty: true, why: withRule(e.why, id) };
        p.ptes.set(page, e);
      } else {
        this.rule('R-FLT-13');
        p.ptes.delete(page);
        e = undefined;
      }
    }
    if (!e) {
      if (isAnonVma(v) && this.thpEligible(p, v, page) && this.wantsHuge(p, b)) {
        // R-FLT-6: a THP, dirty and writable -> all 512 pages soft-dirty
        const pages = Array.from({ length: HPAGE_PAGES }, (_, i) => this.newPage(true, blockStart(b) + i === page));
        for (const pg of pages) pg.folio = pages;
        p.pmds.set(b, { t: 'huge', pages, wp: false, sd: true, writable: true, dirty: true, why: whyOf(this.rule('R-FLT-6')) });
        this.anonVmaPrepare(p, v);
        return;
      }
      if (isAnonVma(v) && this.mapAnonFolio(p, v, page, true)) return;
      this.ensureTable(p, b);
      if (isShared(v) && this.k.finishFaultWholeFolio && this.mapWholeFolio(p, v, page, piece)) return;
      const pg = this.freshPageFor(p, v, page);
      pg.nonzero = true;
      p.ptes.set(page, { t: 'present', page: pg, wp: false, sd: true, writable: true, dirty: true, why: whyOf(this.rule(isAnonVma(v) ? 'R-FLT-6' : 'R-FLT-10')) });
      return;
    }
    // the faulting page then takes the write as any present entry does (reuse, wp or CoW below)
    if (e.t === 'swap' && isAnonVma(v) && this.swapInFolio(p, v, page, true)) e = p.ptes.get(page)!;
    if (e.t === 'swap') {
      // R-FLT-11: swap in, then the write completes (copying if the slot is shared)
      const id = this.rule('R-FLT-11');
      keptBy(e.page, this.rule('R-DATA-5'));
      const shared = this.swapShared(e.page);
      const n: Pte = { t: 'present', page: e.page, wp: e.wp, sd: e.sd, writable: false, dirty: false, why: withRule(e.why, id) };
      p.ptes.set(page, n);
      if (!n.wp && !shared) { n.writable = true; n.dirty = true; n.sd = true; n.page.nonzero = true; return; }
      e = n;
    }
    if (e.t !== 'present') return;
    if (e.writable) { this.writeWritable(e); return; }
    if (e.wp && v.uffd) {
      if (this.wpFault(p, v, page) === 'sync') {
        this.resolveWp(p, v, page);
        const r = p.ptes.get(page);
        if (r?.t === 'present' && r.writable) { r.dirty = true; r.page.nonzero = true; return; }
      } else {
        e.wp = false;
      }
    }
    this.cowOrReuse(p, v, page);
  }

  /** do_wp_page: reuse an exclusive anon page or a shared-mapping page, else copy; both dirty the
   *  PTE (soft-dirty on x86). R-FLT-7 (zero page), R-FLT-8, R-FORK-8. */
  private cowOrReuse(p: Proc, v: Vma, page: number) {
    const e = p.ptes.get(page);
    if (e?.t !== 'present') return;
    const reuse = isShared(v) || (e.page.anon && !e.page.zero && this.soleOwner(e.page));
    let pg = e.page;
    let id: string;
    if (e.page.zero) {
      id = 'R-FLT-7';
      pg = this.newPage(true, true);
      this.anonVmaPrepare(p, v); // wp_page_copy -> anon_vma_prepare
    }
    else if (reuse) { id = 'R-FLT-8'; }
    else {
      id = e.page.anon ? 'R-FORK-8' : 'R-FLT-8';
      pg = this.newPage(true, true);
      this.anonVmaPrepare(p, v);
    }
    // R-DATA-3: a copy takes the old page's content (a populate write stores nothing after it)
    if (pg !== e.page) copyContent(e.page, pg, this.rule('R-DATA-3') as 'R-DATA-3');
    pg.nonzero = true;
    p.ptes.set(page, { t: 'present', page: pg, wp: e.wp, sd: true, writable: true, dirty: true, why: withRule(e.why, this.rule(id)) });
  }

  private freshPageFor(p: Proc, v: Vma, page: number): Page {
    if (isShared(v)) return this.shmPage(v, page);
    this.anonVmaPrepare(p, v);
    // memfd-private write on none: do_cow_fault copies the page-cache page into an anon page
    // (R-DATA-3: its content too)
    const cached = v.kind === 'memfd-private' ? this.shmPage(v, page) : undefined;
    const pg = this.newPage(true, false);
    if (!cached) this.rule('R-DATA-2'); // do_anonymous_page: a zeroed page
    if (cached) copyContent(cached, pg, 'R-DATA-3');
    return pg;
  }

  /** more than one PTE (present or swap) refers to this swapped page: its swap slot is shared */
  private swapShared(page: Page): boolean {
    if (page.zero) throw new Error('swapShared: the zero page is never in swap');
    return page.ptMaps + page.ptSwaps > 1;
  }

  private writeHuge(p: Proc, v: Vma, page: number, pmd: HugePmd) {
    const b = blockOf(page);
    if (pmd.wp && v.uffd) {
      if (this.wpFault(p, v, page) === 'sync') {
        this.resolveWp(p, v, page);
      } else if (pmd.pages && !pmd.pages[0].anon && isShared(v)) {
        // R-ASYNC-2 (shared file PMD, which only PAGEMAP_SCAN's arming over a whole THP makes wp:
        // UFFDIO_WRITEPROTECT splits first): wp_huge_pmd tests userfaultfd_huge_pmd_wp for
        // anonymous VMAs only; shmem has no ->huge_fault, so the PMD is split, which zaps a file
        // PMD and leaves no marker (__split_huge_pmd_locked: R-SPLIT-3), and the fault then finds
        // the PMD none and maps the page-cache THP by PMD again, writable and not wp (mm/memory.c
        // wp_huge_pmd, finish_fault -> do_set_pmd; the same in 6.12 and 6.18). All 512 pages lose
        // uffd-wp, the 511 unwritten ones included (a later scan reports them WRITTEN). The refault
        // is no choice of the host (the folio is in the page cache already), and the block is huge
        // before and after the op, so the trace's `huge` outcome cannot name it: it is taken as
        // done. Seen on 6.18.44 by the README campaign (seed 16).
        this.splitPmd(p, b, this.rule('R-ASYNC-2'));
        if (!this.shmemHugeFault(p, v, page, true, true)) this.writePage(p, v, page);
        return;
      } else {
        if (this.mut('M-7')) {
          // mutant: un-protect the whole PMD instead of splitting
          pmd.wp = false; pmd.why = withRule(pmd.why, this.rule('R-ASYNC-2'));
          if (pmd.pages) { pmd.sd = true; pmd.dirty = true; pmd.writable = true; pmd.pages[page - blockStart(b)].nonzero = true; return; }
        } else {
          // R-ASYNC-2: split, then un-protect only the written page
          this.splitPmd(p, b, this.rule('R-ASYNC-2'));
          const e = p.ptes.get(page);
          if (e?.t === 'present') e.wp = false;
        }
      }
      this.writePage(p, v, page);
      return;
    }
    if (!pmd.pages) {
      // R-FLT-7: write to the huge zero page
      if (this.k.hugeZeroWriteAllocatesThp && this.wantsHugeOrSame(p, b)) {
        const pages = Array.from({ length: HPAGE_PAGES }, (_, i) => this.newPage(true, blockStart(b) + i === page));
        for (const pg of pages) pg.folio = pages;
        p.pmds.set(b, { t: 'huge', pages, wp: false, sd: true, writable: true, dirty: true, why: withRule(pmd.why, this.rule('R-FLT-7')) });
        return;
      }
      this.rule('R-FLT-7');
      this.splitPmd(p, b);
      this.cowOrReuse(p, v, page);
      return;
    }
    if (pmd.writable) { this.writeWritableHuge(pmd, page); return; }
    if (!pmd.pages[0].anon && v.kind === 'memfd-private') {
      // a file PMD in a private mapping: wp_huge_pmd splits it (zap, R-SPLIT-3) and the write
      // CoWs 4 KiB at PTE level (do_cow_fault): the rest of the block reads not present
      this.rule('R-FLT-9');
      this.splitPmd(p, b);
      this.writePage(p, v, page);
      return;
    }
    if (!pmd.pages[0].anon) {
      // shmem PMD: zapped and refaulted at PTE level, usually as a dirty writable PMD again (R-FLT-9)
      this.rule('R-FLT-9');
      pmd.writable = true; pmd.dirty = true; pmd.sd = true; pmd.why = withRule(pmd.why, 'R-FLT-9');
      pmd.pages[page - blockStart(b)].nonzero = true;
      return;
    }
    const exclusive = pmd.pages.every((pg) => this.exclusive(pg));
    if (exclusive) {
      // R-FLT-9: an exclusive THP is reused in place: the PMD is dirtied (all 512 soft-dirty)
      this.rule('R-FLT-9');
      pmd.writable = true; pmd.dirty = true; pmd.sd = true; pmd.why = withRule(pmd.why, 'R-FLT-9');
      pmd.pages[page - blockStart(b)].nonzero = true;
      return;
    }
    this.rule('R-FLT-9');
    this.splitPmd(p, b);
    this.cowOrReuse(p, v, page);
  }

  /** A write to the huge zero page keeps a huge mapping when the outcome says the block is huge
   *  after the op (or no outcome is given). */
  private wantsHugeOrSame(p: Proc, b: number): boolean {
    return this.wantsHuge(p, b);
  }

  // --- fork / clear_refs ---------------------------------------------------------------------------

  private fork(p: Proc): Rc {
    const child = newProc(this.procs.length, true, p.ctx);
    for (const [n, r] of p.regions) child.regions.set(n, newRegion(r.start, r.pages, r.hugetlb));
    const forkCtx = new Map<number, Ctx>();
    let event = false;
    for (const v of p.vmas) {
      // R-FORK-1: dup_userfaultfd keeps the registration only with EVENT_FORK
      let uffd: Ctx | null = null;
      if (v.uffd) {
        this.rule('R-FORK-1');
        if (v.uffd.features.has('event_fork') || this.mut('M-4')) {
          event = v.uffd.features.has('event_fork') || event;
          let c = forkCtx.get(v.uffd.id);
          if (!c) { c = this.newCtx(new Set(v.uffd.features), child.id); forkCtx.set(v.uffd.id, c); }
          uffd = c;
        }
      }
      // anon_vma_fork gives every child VMA an anon_vma of its own (mm/rmap.c): child VMAs that
      // shared one in the parent no longer merge with each other
      // the child's registration (kept or dropped) is R-FORK-1's decision: its provenance (attribution)
      const cv = vmaWith(v, { uffd, forkedChain: !!v.anonVma, anonVma: v.anonVma ? this.nextId++ : 0, regWhy: v.uffd ? withRule(v.regWhy, 'R-FORK-1') : v.regWhy });
      child.vmas.push(cv);
      if (htlb.isHugetlbVma(v)) { htlb.forkVma(this, p, child, v, cv); continue; }
      // R-FORK-2: vma_needs_copy
      this.rule('R-FORK-2');
      const childWp = !!cv.uffd;
      // vma_needs_copy: uffd-wp in the child, an anon_vma, or VM_MAYBE_GUARD (R-GRD-5)
      if (!(childWp || v.anonVma || v.maybeGuard)) continue;
      const keepWp = childWp || this.mut('M-4');
      const cow = !isShared(v);
      // the parent's entries lose only their write bit (CoW), which the observer does not read:
      // peek, no stamps (the pages the child maps too are stamped by their reference counts)
      for (let b = blockOf(v.start); b <= blockOf(v.end - 1); b++) {
        const pmd = p.pmds.peek(b);
        if (!pmd) continue;
        if (pmd.t === 'huge') {
          if (pmd.pages && !pmd.pages[0].anon) continue; // R-FORK-6: shmem PMDs are not copied
          const id = this.rule('R-FORK-6');
          if (cow) pmd.writable = false;
          child.pmds.set(b, hugePmdWith(pmd, { wp: pmd.wp && keepWp, why: withRule(pmd.why, id) }));
        } else child.pmds.set(b, { t: 'table' });
      }
      // the parent's chunk of page i, looked up once per PTE_CHUNK pages (only the child's table changes)
      let chunk: readonly (Pte | undefined)[] | undefined, chunkBase = 0, chunkEnd = -1;
      for (let i = v.start; i < v.end; i++) {
        if (i >= chunkEnd) { const c = Math.floor(i / PTE_CHUNK); chunkBase = c * PTE_CHUNK; chunkEnd = chunkBase + PTE_CHUNK; chunk = p.ptes.peekChunk(c)?.e; }
        const e = chunk === undefined ? undefined : chunk[i - chunkBase];
        if (!e) continue;
        if (e.t === 'present') {
          // R-FORK-3: soft-dirty copied; CoW write-protects both; wp only into a uffd-wp child
          const id = this.rule('R-FORK-3');
          keptBy(e.page, this.rule('R-DATA-8')); // the child maps the same page: it reads the parent's values
          if (cow) e.writable = false;
          const wp = e.wp && (keepWp || this.mut('B-11'));
          const why = withRule(v.uffd ? withRule(e.why, 'R-FORK-1') : e.why, id);
          // the copy built as pteWith builds it, without a changes object per entry
          child.ptes.set(i, { t: 'present', page: e.page, wp, sd: e.sd, writable: cow ? false : e.writable, dirty: e.dirty, why });
        } else if (e.t === 'swap') {
          const id = this.rule('R-FORK-5');
          const why = withRule(v.uffd ? withRule(e.why, 'R-FORK-1') : e.why, id);
          child.ptes.set(i, { t: 'swap', page: e.page, wp: e.wp && (keepWp || this.mut('B-10')), sd: e.sd, why });
        } else if (e.t === 'guard') {
          if (this.mut('M-19') && !isAnonVma(v)) { child.gone.set(i, whyOf(this.rule('R-GRD-5'))); continue; }
          // R-GRD-5: copy_pte_marker always copies a guard marker, built afresh (its swp uffd-wp
          // and soft-dirty bits are not copied); the VMA has an anon_vma since the install (R-GRD-1)
          child.ptes.set(i, { t: 'guard', wp: false, sd: false, why: withRule(e.why, this.rule('R-GRD-5')) });
        } else if (keepWp || this.mut('B-12')) {
          // copy_pte_marker + make_pte_marker builds a fresh marker: the swp soft-dirty bit is lost
          child.ptes.set(i, pteWith(e, { sd: false, why: withRule(e.why, this.rule('R-FORK-5')) }));
        } else child.gone.set(i, [this.rule('R-FORK-1'), this.rule('R-FORK-5')]);
      }
    }
    this.procs.push(child);
    // the child's own context arrives with the fork event; without one it keeps the inherited fd
    const own = [...forkCtx.values()][0];
    if (event && own) child.ctx = own;
    if (event) this.events.push({ kind: 'fork', proc: p.id, child: child.id });
    return 0;
  }

  private clearRefs(p: Proc, value: number): Rc {
    if (value !== 4) { this.rule('R-CR-0'); return 0; }
    if (p.htlb?.size) this.rule('R-HTLB-11'); // clear_refs_write's walk skips hugetlb entries
    for (const v of p.vmas) {
      // R-CR-1: VM_SOFTDIRTY cleared, write notification on for shared VMAs
      if (v.sd) { v.sd = false; v.sdWhy = withRule(v.sdWhy, this.rule('R-CR-1')); }
    }
    // every entry changes, but the observer reads only soft-dirty and wp of them (not the write
    // bit nor the history): only an entry or block where one of those changes is stamped for it
    const keepsWrite = this.mut('B-5'), clearsWp = this.mut('M-10');
    for (const t of p.ptes.peekChunks()) {
      for (let k = 0; k < PTE_CHUNK; k++) {
        const e = t.e[k];
        if (e === undefined) continue;
        let seen = e.sd;
        if (e.t === 'present') {
          // R-CR-2: write-protect and clear soft-dirty; wp untouched
          if (!keepsWrite) e.writable = false;
          e.sd = false;
          if (clearsWp) { if (e.wp) seen = true; e.wp = false; }
          e.why = withRule(e.why, this.rule('R-CR-2'));
        } else {
          e.sd = false; // R-CR-3
          e.why = withRule(e.why, this.rule('R-CR-3'));
        }
        if (seen) p.ptes.stampSlot(t, k);
      }
    }
    for (const [b, pmd] of p.pmds.peekEntries()) {
      if (pmd.t !== 'huge') continue;
      if (pmd.sd || (pmd.wp && this.mut('M-10'))) p.pmds.touch(b);
      pmd.writable = false; pmd.sd = false; // R-CR-4
      if (this.mut('M-10')) pmd.wp = false;
      pmd.why = withRule(pmd.why, this.rule('R-CR-4'));
    }
    return 0;
  }

  // --- madvise -------------------------------------------------------------------------------------

  private pageout(p: Proc, op: OpOf<'pageout'>): Rc {
    const [start, end] = this.range(p, op);
    const gap = this.hasGap(p, start, end);
    // R-PO-3: part of a THP -> folio split first; a whole THP swaps as a unit or is split
    for (let b = blockOf(start); b <= blockOf(end - 1); b++) {
      const pmd = p.pmds.get(b);
      if (pmd?.t !== 'huge') continue;
      if (!pmd.pages) { this.rule('R-PO-0'); continue; }
      const whole = blockStart(b) >= start && blockStart(b + 1) <= end;
      // R-PO-0: a folio another process maps too is left alone (mm/madvise.c
      // madvise_cold_or_pageout_pte_range: folio_maybe_mapped_shared), shmem as anon
      if (!pmd.pages[0].anon && this.mappedElsewhere(pmd.pages)) { this.rule('R-PO-0'); continue; }
      // R-PO-3: the split (part of the THP) or the reclaim (all of it) may fail: PMD left as it is
      // (a folio mapped elsewhere too is R-PO-0's, below)
      if (this.unchangedInferred && !this.mappedElsewhere(pmd.pages) && this.folioLeftWhole(Array.from({ length: HPAGE_PAGES }, (_, i) => blockStart(b) + i))) { this.rule('R-PO-3'); continue; }
      if (!pmd.pages[0].anon) {
        // a shmem THP: the PMD is zapped and reclaim splits the large folio in the page cache
        this.rule('R-PO-3');
        const pg0 = pmd.pages[0];
        if (pg0.obj && pg0.index !== undefined) {
          this.folioToSwap(pg0.obj, pg0.index - (pg0.index % HPAGE_PAGES));
        }
        // R-PO-2: a THP wholly in range is reclaimed: shmem_writeout puts every page in swap (whole,
        // or split first), so a later fault-around skips them (swap entries in the page cache);
        // part of it is only split (R-PO-4: unmapped, nothing reclaimed). Measured on 6.18.44:
        // pageout of a whole collapsed memfd THP, mprotect of one page (no PMD fault any more), a
        // read of a[0] maps a[0] alone.
        if (whole) {
          this.rule('R-PO-2');
          for (let k = 0; k < HPAGE_PAGES; k++) {
            if (!this.swappedOut(p, blockStart(b) + k)) continue;
            pmd.pages[k].inSwap = true;
            keptBy(pmd.pages[k], this.rule('R-DATA-4'));
          }
        }
        this.splitPmd(p, b);
        continue;
      }
      if (this.mappedElsewhere(pmd.pages)) { this.rule('R-PO-0'); continue; }
      this.rule('R-PO-3');
      if (whole && (!this.outcome || Array.from({ length: HPAGE_PAGES }, (_, i) => this.swappedOut(p, blockStart(b) + i)).every(Boolean))) {
        // swapped as a unit: the non-freezing PMD split makes every swap entry soft-dirty when
        // the PMD was dirty (mm/rmap.c try_to_unmap_one with TTU_SPLIT_HUGE_PMD)
        this.splitPmd(p, b);
        for (const pg of pmd.pages) pg.folio = undefined;
        for (let i = blockStart(b); i < blockStart(b + 1); i++) {
          const e = p.ptes.get(i);
          if (e?.t === 'present') { keptBy(e.page, this.rule('R-DATA-5')); p.ptes.set(i, { t: 'swap', page: e.page, wp: e.wp, sd: this.mut('M-9') ? false : e.sd, why: withRule(e.why, this.rule('R-PO-1')) }); }
        }
        continue;
      }
      this.folioSplit(p, b);
    }
    let prevUnmapped: Page | undefined, prevAt = -1;
    // R-PO-2: a PTE batch covering a whole large page-cache folio is isolated and reclaimed as one
    // (mm/madvise.c madvise_cold_or_pageout_pte_range: nr == folio_nr_pages, no split, the walk
    // skips the batch's other PTEs): its pages are not met again as a partial batch (R-PO-4).
    // Reclaim writes the folio out whole or split (mm/shmem.c shmem_writeout), so it may come back
    // whole (R-SWIN-2); the page cache no longer holds it large.
    let batchEnd = -1;
    const reclaimed: Page[] = [];
    for (let i = start; i < end; i++) {
      const v = this.vmaAt(p, i);
      const e = p.ptes.get(i);
      if (!v || e?.t !== 'present') continue;
      if (e.page.folio) {
        // a PTE-mapped large folio: pageout of part of it splits it first (zero subpages to the
        // zero page, R-SPLIT-5); a folio wholly in range is reclaimed as one
        const folio = e.page.folio;
        const at = this.folioPtes(p, folio);
        if (this.mappedElsewhere(folio)) { this.rule('R-PO-0'); continue; }
        // R-PO-3: its split_folio (or its reclaim) may fail: the whole folio left as it is
        if (this.folioLeftWhole(at)) { this.rule('R-PO-3'); continue; }
        const inRange = at.length === folio.length && at.every((a) => a >= start && a < end);
        this.rule('R-PO-3');
        // M-30: the partial range is reclaimed without splitting the folio first
        if ((!inRange && !this.mut('M-30')) || (this.outcome && !at.every((a) => this.swappedOut(p, a)))) { this.splitFolioPtes(p, folio, at); }
        else for (const pg of folio) pg.folio = undefined;
      }
      // R-PO-4: a PTE of a large page-cache folio the range does not cover whole
      if (i >= batchEnd && !e.page.anon && this.inLargeCacheFolio(e.page)) {
        if (this.pageoutCacheFolio(p, v, i, end)) continue;
        batchEnd = i + HPAGE_PAGES;
        reclaimed.push(e.page);
      }
      const cur = p.ptes.get(i);
      if (cur?.t !== 'present') continue;
      if (cur.page.zero || !this.exclusive(cur.page)) { this.rule('R-PO-0'); continue; }
      if (!this.swappedOut(p, i)) continue;
      if (e.page.anon) {
        // R-PO-1: swap entry keeps soft-dirty and wp; R-DATA-5: the swap slot keeps the content
        keptBy(e.page, this.rule('R-DATA-5'));
        p.ptes.set(i, { t: 'swap', page: e.page, wp: e.wp, sd: this.mut('M-9') ? false : e.sd, why: withRule(e.why, this.rule('R-PO-1')) });
      } else {
        // R-PO-2: shmem page leaves none, or a marker where the PTE was wp in a uffd-wp VMA
        // (mm/rmap.c try_to_unmap_one: pte_install_uffd_wp_if_needed, for every PTE: no batched
        // unmapping of file folios in uffd VMAs)
        this.rule('R-PO-2');
        const obj = e.page.obj;
        if (obj && e.page.index !== undefined && !e.dirty && !e.page.nonzero && !this.inLargeCacheFolio(e.page)) {
          // a page never dirtied (read-faulted, nothing written: a clean PTE over zero content) is
          // not written to swap: mm/vmscan.c shrink_folio_list frees a clean shmem folio from the
          // page cache (__remove_mapping), leaving a hole there (fault-around finds nothing, a
          // collapse of an otherwise empty block SCAN_TRUNCATED: EINVAL, R-COL-2). Measured on
          // 6.18.44: read a[293] of a memfd, pageout it, collapse -> EINVAL, nothing collapsed;
          // written first, or another page cached, the collapse succeeds. (A page dirtied only by a
          // populate write whose PTE was zapped and refaulted clean is taken for clean here.)
          obj.pages.delete(e.page.index);
        } else {
          e.page.inSwap = true;
        }
        // R-DATA-4: shmem_writeout puts the content in swap (mutant D-1: the page, its dirty bit
        // lost, is dropped as clean and the next fault reads zero)
        keptBy(e.page, this.rule('R-DATA-4'));
        if (this.mut('D-1') && e.page.nonzero) { e.page.val = 0; e.page.nonzero = false; }
        // B-40: a batch of PTEs mapping consecutive pages of one large page-cache folio was unmapped
        // at once and only its first PTE got the marker
        const batched = this.mut('B-40') && this.inLargeCacheFolio(e.page) && prevUnmapped?.obj === e.page.obj &&
          prevUnmapped?.index === e.page.index! - 1 && prevAt === i - 1 && this.sameCacheFolio(prevUnmapped, e.page);
        prevUnmapped = e.page; prevAt = i;
        if (e.wp && v.uffd && !batched) p.ptes.set(i, { t: 'marker', sd: false, why: withRule(e.why, 'R-PO-2') });
        else p.ptes.delete(i);
      }
    }
    for (const pg of reclaimed) {
      const f = pg.index! - (pg.index! % HPAGE_PAGES);
      const obj = pg.obj!;
      let swapped = true;
      for (let k = f; k < f + HPAGE_PAGES; k++) if (!obj.pages.get(k)?.inSwap) swapped = false;
      if (!swapped) continue; // some page stayed (its reclaim failed): the folio is still large
      this.folioToSwap(obj, f);
    }
    if (gap) { this.rule('R-MADV-1'); return 'ENOMEM'; }
    return 0;
  }

  /** R-PO-4: MADV_PAGEOUT meets PTE `i` of process p, which maps a page of a large page-cache
   *  (shmem) folio. mm/madvise.c madvise_cold_or_pageout_pte_range: when the PTE batch from `i`
   *  (madvise_folio_pte_batch: consecutive PTEs mapping consecutive pages of the folio, inside the
   *  range, the VMA and the page table) is shorter than the folio, a folio another process maps is
   *  skipped (folio_maybe_mapped_shared, R-PO-0), else split_folio splits it. For a file folio the
   *  split unmaps it (mm/huge_memory.c unmap_folio -> try_to_unmap: every PTE mapping it goes,
   *  leaving a uffd-wp marker where the PTE was wp in a uffd-wp VMA, pte_install_uffd_wp_if_needed)
   *  and remap_page restores nothing (anon folios only); the walk re-reads the now-empty PTE, so no
   *  page of the folio is reclaimed: they stay in the page cache (not swapped) and refault.
   *  Measured on 6.18.44: pageout of a[301] after an mremap shrank a shmem THP mapping to 302 pages
   *  unmaps a[300] too, and a read of a[300] then fault-arounds a[301] back from the page cache.
   *  Returns false when the batch is the whole folio (the reclaim of R-PO-2 follows). */
  private pageoutCacheFolio(p: Proc, v: Vma, i: number, end: number): boolean {
    const pg = (p.ptes.get(i) as Extract<Pte, { t: 'present' }>).page;
    const obj = pg.obj!;
    const first = pg.index! - (pg.index! % HPAGE_PAGES);
    const inFolio = (e: Pte | undefined): e is Extract<Pte, { t: 'present' }> =>
      e?.t === 'present' && !e.page.anon && e.page.obj === obj && e.page.index! - (e.page.index! % HPAGE_PAGES) === first;
    const stop = Math.min(end, v.end, blockStart(blockOf(i) + 1));
    let n = 0;
    for (let a = i; a < stop; a++, n++) {
      const e = p.ptes.get(a);
      if (!inFolio(e) || e.page.index !== pg.index! + n) break;
    }
    if (n === HPAGE_PAGES) return false;
    /** addresses where q maps a page of the folio: its PTEs, and (pmdsToo) its huge PMDs */
    const maps = (q: Proc, pmdsToo: boolean): number[] => {
      const at: number[] = [];
      for (const qv of q.vmas) {
        if (qv.obj !== obj) continue;
        const lo = Math.max(qv.start, qv.start + first - qv.pgoff);
        const hi = Math.min(qv.end, qv.start + first + HPAGE_PAGES - qv.pgoff);
        for (let a = lo; a < hi; a++) if (inFolio(q.ptes.get(a))) at.push(a);
        for (let b = blockOf(lo); pmdsToo && lo < hi && b <= blockOf(hi - 1); b++) {
          const pmd = q.pmds.peek(b);
          if (pmd?.t === 'huge' && pmd.pages?.[0].obj === obj) at.push(blockStart(b));
        }
      }
      return at;
    };
    if (this.procs.some((q) => q !== p && q.alive && maps(q, true).length > 0)) { this.rule('R-PO-0'); return true; }
    const at = maps(p, false);
    // R-PO-3: its folio_trylock or split_folio may fail: the folio left as it is
    if (this.folioLeftWhole(at)) { this.rule('R-PO-3'); return true; }
    const id = this.rule('R-PO-4');
    obj.huge.delete(first);
    let prevAt = Number.NaN, prevIndex = Number.NaN;
    for (const a of at) {
      const e = p.ptes.get(a);
      if (e?.t !== 'present') continue;
      // B-40: the split's try_to_unmap batches consecutive PTEs of the folio as reclaim's does
      const batched = this.mut('B-40') && prevAt === a - 1 && prevIndex === e.page.index! - 1;
      prevAt = a; prevIndex = e.page.index!;
      // R-PO-2: the marker is try_to_unmap_one's, as for reclaim
      if (e.wp && this.vmaAt(p, a)?.uffd && !batched) p.ptes.set(a, { t: 'marker', sd: false, why: withRule(withRule(e.why, id), this.rule('R-PO-2')) });
      else p.ptes.delete(a);
    }
    return true;
  }

  /** a page-cache page of a large (PMD-sized) folio: a THP the page cache holds */
  private inLargeCacheFolio(pg: Page): boolean {
    return !!pg.obj && pg.index !== undefined && pg.obj.huge.has(pg.index - (pg.index % HPAGE_PAGES));
  }
  private sameCacheFolio(a: Page, b: Page): boolean {
    return a.obj === b.obj && a.index !== undefined && b.index !== undefined && Math.floor(a.index / HPAGE_PAGES) === Math.floor(b.index / HPAGE_PAGES);
  }

  /** zap_pte_range for one PTE (details=NULL, as MADV_DONTNEED). */
  private zapPte(p: Proc, v: Vma, i: number) {
    const e = p.ptes.get(i);
    if (!e) return;
    // R-GRD-4: an ordinary zap (details without ZAP_FLAG_DROP_MARKER) keeps guard markers
    // (mm/memory.c zap_nonpresent_ptes); only munmap drops them (R-MUNMAP-1)
    if (e.t === 'guard') {
      e.why = withRule(e.why, this.rule('R-GRD-4'));
      if (this.mut('M-18')) this.drop(p, i, 'R-GRD-4');
      return;
    }
    if (isAnonVma(v)) {
      // R-DN-1: anon zap drops everything, markers included
      this.rule('R-DN-1');
      if (e.t === 'present' || e.t === 'swap') this.rule('R-DATA-7'); // the next fault zero-fills
      if (e.t === 'marker' && this.mut('M-6')) return;
      if (this.mut('M-6') && e.t !== 'marker' && e.wp && v.uffd) { p.ptes.set(i, { t: 'marker', sd: false, why: withRule(e.why, 'R-DN-1') }); return; }
      this.drop(p, i, 'R-DN-1');
      return;
    }
    // R-DN-2: non-anon VMA still uffd-wp: a wp entry (or marker) leaves a marker
    this.rule('R-DN-2');
    if (e.t === 'present' && e.page.anon && !e.page.zero) this.rule('R-DATA-7'); // a private file CoW copy: the page cache refaults
    const wasWp = e.t === 'marker' || e.wp;
    if (wasWp && v.uffd && !this.mut('M-5')) p.ptes.set(i, { t: 'marker', sd: false, why: withRule(e.why, 'R-DN-2') });
    else this.drop(p, i, 'R-DN-2');
  }

  private dontneed(p: Proc, op: OpOf<'dontneed'>): Rc {
    const [start, end] = this.range(p, op);
    const gap = this.hasGap(p, start, end);
    for (let b = blockOf(start); b <= blockOf(end - 1); b++) {
      const pmd = p.pmds.get(b);
      if (pmd?.t !== 'huge' || !this.vmaAt(p, blockStart(b))) continue;
      if (blockStart(b) >= start && blockStart(b + 1) <= end) {
        // R-DN-3: zap_huge_pmd leaves a PMD hole (no page table, no marker)
        this.rule('R-DN-3');
        p.pmds.delete(b);
      } else this.splitPmd(p, b);
    }
    for (let i = start; i < end; i++) {
      const v = this.vmaAt(p, i);
      if (v) this.zapPte(p, v, i);
    }
    if (this.k.ptReclaim) {
      // R-DN-4: a zap covering a whole page table that leaves it empty frees it (mm/pt_reclaim.c,
      // zap_pte_range with reclaim_pt): the block becomes a PMD hole
      for (const v of this.vmasIn(p, start, end)) {
        const zs = Math.max(start, v.start);
        const ze = Math.min(end, v.end);
        for (let b = Math.ceil(zs / HPAGE_PAGES); blockStart(b + 1) <= ze; b++) {
          if (p.pmds.peek(b)?.t !== 'table') continue;
          let empty = true;
          for (let i = blockStart(b); i < blockStart(b + 1) && empty; i++) empty = !p.ptes.has(i);
          if (empty) { this.rule('R-DN-4'); p.pmds.delete(b); }
        }
      }
    }
    if (gap) { this.rule('R-MADV-1'); return 'ENOMEM'; }
    return 0;
  }

  private collapse(p: Proc, op: OpOf<'collapse'>): Rc {
    const [rs, re] = this.range(p, op);
    const r = p.regions.get(op.region)!;
    // the executor widens the range to 2 MiB blocks, clipped to the region
    const lo = Math.max(blockStart(blockOf(rs)), r.start);
    const hi = Math.min(blockStart(blockOf(re - 1) + 1), r.start + r.pages);
    this.rule('R-COL-3');
    // madvise_walk_vmas: each VMA in turn; the first error stops the walk; holes give ENOMEM
    let rc: Rc = 0;
    for (const v of this.vmasIn(p, lo, hi)) {
      if (!this.collapseAllowed(v)) return 'EINVAL';
      const s0 = Math.max(lo, v.start);
      const e0 = Math.min(hi, v.end);
      // madvise_collapse rounds the range inward to whole PMDs; some failures end the walk at
      // once, the "whitelisted" ones only set the final error (mm/khugepaged.c madvise_collapse)
      for (let b = Math.ceil(s0 / HPAGE_PAGES); blockStart(b + 1) <= e0; b++) {
        if (p.pmds.get(b)?.t === 'huge') continue; // SCAN_PMD_MAPPED counts as success
        const r1 = isAnonVma(v) ? this.collapseAnon(p, v, b) : this.collapseShmem(p, v, b);
        if (r1 === 0) continue;
        if (typeof r1 === 'object') return r1.exit;
        rc = r1;
      }
    }
    if (rc === 0 && this.hasGap(p, lo, hi)) { this.rule('R-MADV-1'); return 'ENOMEM'; }
    return rc;
  }

  /** thp_vma_allowable_order for MADV_COLLAPSE (mm/huge_memory.c __thp_vma_allowable_orders): not
   *  VM_NOHUGEPAGE; the VMA holds one aligned PMD (file VMAs: with aligned offset); anon VMAs need
   *  an anon_vma; shmem is forced (shmem_allowable_huge_orders with shmem_huge_force). */
  private collapseAllowed(v: Vma): boolean {
    if (!v.thp) return false;
    const haddr = blockStart(blockOf(v.end - HPAGE_PAGES));
    if (haddr < v.start || haddr + HPAGE_PAGES > v.end) return false;
    if (isAnonVma(v)) return v.anonVma !== 0;
    return (v.start - v.pgoff) % HPAGE_PAGES === 0 && this.k.shmemCollapse;
  }

  /** hpage_collapse_scan_pmd + collapse_huge_page for one anon block. `{exit}`: the walk stops. */
  private collapseAnon(p: Proc, v: Vma, b: number): Rc | { exit: Rc } {
    this.rule('R-COL-1');
    if (!p.pmds.has(b)) return { exit: 'EINVAL' }; // SCAN_PMD_NONE: no page table
    // per PTE in order, as hpage_collapse_scan_pmd: swap entries and markers first (wp ->
    // SCAN_PTE_UFFD_WP), then none/zero (fine unless uffd-armed: SCAN_EXCEED_NONE_PTE -> EBUSY),
    // then the wp bit of present PTEs
    let guard = -1;
    for (let i = blockStart(b); i < blockStart(b + 1); i++) {
      const e = p.ptes.get(i);
      if (e && e.t !== 'present') {
        // a guard marker is a swap PTE to the scan (is_swap_pte, no uffd-wp bit): it passes (R-GRD-7)
        if (e.t === 'guard') { if (guard < 0) guard = i; continue; }
        if ((e.t === 'marker' || e.wp) && !this.mut('B-15')) return 'EINVAL';
        continue;
      }
      if (!e || e.page.zero) {
        if (v.uffd) return { exit: 'EBUSY' };
        continue;
      }
      if (e.wp && !this.mut('B-15')) return 'EINVAL'; // SCAN_PTE_UFFD_WP, whitelisted
    }
    if (guard >= 0) {
      // R-GRD-7: collapse_huge_page then reads the block's swap PTEs in, in order
      // (__collapse_huge_page_swapin), and do_swap_page on the guard marker fails
      // (handle_pte_marker: VM_FAULT_SIGSEGV -> SCAN_FAIL): EINVAL, and the walk stops
      // (madvise_collapse: not a whitelisted result). The swap entries before it stay read in,
      // as the observation after the op shows (a failed allocation reads none). Measured on
      // 6.18.44 (live campaign seeds 73 and 74: the scan goes on past the marker to EBUSY in a
      // uffd-armed VMA; the page swapped out before the marker comes back present). Neutral (no
      // observation): the swap-ins in address order up to the first marker all happened, as they
      // do when the THP allocation succeeded (it did: the rc is EINVAL, not ENOMEM)
      this.rule('R-GRD-7');
      this.swapInBeforeFailedCollapse(p, v, b, guard);
      return { exit: 'EINVAL' };
    }
    if (!this.wantsHuge(p, b)) { this.swapInBeforeFailedCollapse(p, v, b); return this.outcome ? '*' : 0; }
    const pages = Array.from({ length: HPAGE_PAGES }, (_, i) => {
      const e = p.ptes.get(blockStart(b) + i);
      const pg = this.newPage(true, !!e && (e.t === 'present' || e.t === 'swap') && e.page.nonzero);
      // R-DATA-6: each small page (swapped ones read in first) is copied into the THP
      copyContent(e && (e.t === 'present' || e.t === 'swap') ? e.page : undefined, pg, this.rule('R-DATA-6') as 'R-DATA-6');
      return pg;
    });
    for (const pg of pages) pg.folio = pages;
    for (let i = blockStart(b); i < blockStart(b + 1); i++) p.ptes.delete(i);
    p.pmds.set(b, { t: 'huge', pages, wp: false, sd: true, writable: v.prot === 'rw', dirty: true, why: whyOf('R-COL-1') });
    return 0;
  }

  /** R-COL-1: collapse_huge_page reads the block's swapped-out pages back in
   *  (__collapse_huge_page_swapin, one do_swap_page read fault per swap PTE) after allocating the
   *  THP and before the steps that can still fail (__collapse_huge_page_isolate: folio lock,
   *  refcount, LRU isolation; the copy), and a failure does not undo them (mm/khugepaged.c
   *  collapse_huge_page); a swap-in may also fail part way. So for a block the trace says did not
   *  become huge, each swap entry the observation after the op shows present was swapped in by the
   *  collapse, with the bits of a read swap-in (R-SWIN-1: soft-dirty and uffd-wp from the entry,
   *  writable only if no fault is needed). Only swap entries hpage_collapse_scan_pmd let through
   *  (no uffd-wp: the scan above refused those) reach here. Neutral: the block becomes huge, or,
   *  given `neutralUpTo` (R-GRD-7, a failure at a known page), the swap entries before it. */
  private swapInBeforeFailedCollapse(p: Proc, v: Vma, b: number, neutralUpTo?: number): void {
    // with a trace, its observation (none when it observed nothing of the process); without, the
    // pages before a known failure
    const seen = this.outcome ? this.presentObserved : undefined;
    const end = this.outcome ? (seen ? blockStart(b + 1) : blockStart(b)) : (neutralUpTo ?? blockStart(b));
    for (let i = blockStart(b); i < end; i++) {
      if (p.ptes.get(i)?.t !== 'swap' || (seen && !seen.has(i))) continue;
      this.rule('R-COL-1');
      this.readPage(p, v, i);
    }
  }

  private collapseShmem(p: Proc, v: Vma, b: number): Rc | { exit: Rc } {
    // R-COL-2: the page cache gets one THP; every PTE mapping the old pages (any process) is
    // unmapped (leaving a marker where it was wp in a uffd-wp VMA); this process then maps the
    // THP read-only by PMD (not soft-dirty), unless its VMA is uffd-wp
    this.rule('R-COL-2');
    const obj = v.obj!;
    const first = v.pgoff + (blockStart(b) - v.start);
    // nothing cached in the block: nothing to collapse (measured on 6.18: EINVAL)
    let cached = false;
    for (let i = 0; i < HPAGE_PAGES && !cached; i++) cached = obj.pages.has(first + i);
    if (!cached) return { exit: 'EINVAL' }; // SCAN_TRUNCATED ends the walk
    const already = obj.huge.has(first);
    obj.huge.add(first);
    // a page cache that already holds the THP is left as it is (only this process maps it)
    for (let i = 0; i < HPAGE_PAGES && !already; i++) {
      const old = obj.pages.get(first + i);
      const fresh = this.newPage(false, !!old?.nonzero, obj, first + i);
      copyContent(old, fresh, 'R-DATA-6'); // R-DATA-6: collapse_file copies the old page
      obj.pages.set(first + i, fresh);
      if (old?.inSwap) old.inSwap = false;
      if (!old) continue;
      for (const q of this.procs) {
        if (!q.alive) continue;
        for (const [addr, e] of q.ptes) {
          if (e.t === 'present' && e.page === old) {
            const qv = this.vmaAt(q, addr);
            if (e.wp && qv?.uffd) q.ptes.set(addr, { t: 'marker', sd: false, why: withRule(e.why, 'R-COL-2') });
            else q.ptes.delete(addr);
          }
        }
      }
    }
    // retract_page_tables: every other VMA mapping this range whole and aligned, without uffd-wp
    // or an anon_vma, whose table for the block is now empty, loses that table (a PMD hole; its
    // next fault maps the THP by PMD) (mm/khugepaged.c retract_page_tables)
    for (const q of this.procs) {
      if (!q.alive) continue;
      for (const qv of q.vmas) {
        if (qv === v || qv.obj !== obj || qv.uffd || qv.anonVma || qv.maybeGuard) continue; // file_backed_vma_is_retractable
        const qb = qv.start + (first - qv.pgoff);
        if (qb % HPAGE_PAGES !== 0 || qb < qv.start || qb + HPAGE_PAGES > qv.end) continue;
        const blk = blockOf(qb);
        if (q.pmds.get(blk)?.t !== 'table') continue;
        let empty = true;
        for (let i = qb; i < qb + HPAGE_PAGES && empty; i++) empty = !q.ptes.has(i);
        if (empty) { this.rule('R-COL-2'); q.pmds.delete(blk); }
      }
    }
    // madvise_collapse then maps it in this process with collapse_pte_mapped_thp, which refuses a
    // uffd-wp VMA (SCAN_PTE_UFFD_WP) and a table still mapping anything else, such as a private
    // mapping's anon CoW pages: EINVAL, although the page cache was collapsed (measured on 6.18)
    if (v.uffd) return 'EINVAL'; // SCAN_PTE_UFFD_WP, whitelisted
    for (let i = blockStart(b); i < blockStart(b + 1); i++) {
      const e = p.ptes.get(i);
      // PTEs mapping the THP's own pages are what collapse_pte_mapped_thp replaces
      if (e?.t === 'guard') { this.rule('R-GRD-7'); return 'EINVAL'; } // SCAN_PTE_NON_PRESENT
      if (e && !(e.t === 'present' && e.page === obj.pages.get(first + (i - blockStart(b))))) return { exit: 'EINVAL' };
    }
    if (!this.wantsHuge(p, b)) return this.outcome ? '*' : 0;
    for (let i = blockStart(b); i < blockStart(b + 1); i++) p.ptes.delete(i);
    const pages = Array.from({ length: HPAGE_PAGES }, (_, i) => obj.pages.get(first + i)!);
    p.pmds.set(b, { t: 'huge', pages, wp: false, sd: false, writable: false, dirty: false, why: whyOf('R-COL-2') });
    return 0;
  }

  /** split: the executor (workers/executor/README.md) mprotects the page to another protection and
   *  back. The partial mprotect splits the PMD (R-MPROT-4 -> R-SPLIT-1/2/3) and the VMA; the second
   *  call restores the protection (the PTE write bit follows R-MPROT-3) and merges the VMA back. */
  private split(p: Proc, op: OpOf<'split'>): Rc {
    const page = p.regions.get(op.region)!.start + op.page;
    const v = this.vmaAt(p, page);
    if (!v) return 'ENOMEM';
    const cur = v.prot;
    const tmp: Prot = cur === 'r' ? 'none' : 'r';
    const r = p.regions.get(op.region)!;
    const at = { op: 'mprotect' as const, region: op.region, first: page - r.start, count: 1, proc: op.proc };
    this.mprotect(p, { ...at, prot: tmp });
    return this.mprotect(p, { ...at, prot: cur });
  }

  // --- userfaultfd ----------------------------------------------------------------------------------

  /** The case's userfaultfd belongs to process 0's mm (ctx->mm): a child that inherited the
   *  descriptor registers and write-protects process 0's memory at its own region addresses
   *  (fs/userfaultfd.c userfaultfd_register uses ctx->mm); once process 0 is gone, ESRCH. */
  private uffdTarget(p: Proc, op: { region: string; first?: number; count?: number }): { q: Proc; ctx: Ctx; start: number; end: number } | undefined {
    const ctx = p.ctx!;
    const q = this.procs[ctx.mm];
    if (q !== p) this.rule('R-UFFD-MM');
    if (!q.alive) return undefined;
    const [start, end] = this.range(p, op);
    return { q, ctx, start, end };
  }

  private register(actor: Proc, op: OpOf<'uffd_register'>): Rc {
    const t = this.uffdTarget(actor, op);
    if (!t) return 'ENOMEM'; // mmget_not_zero failed
    const p = t.q;
    let { start } = t;
    const { end, ctx } = t;
    if (!this.anyVmaIn(p, start, end)) return 'EINVAL';
    this.rule('R-REG-1');
    const touched = this.vmasIn(p, start, end);
    const span: [number, number] = [touched[0].start, touched[touched.length - 1].end];
    if (this.mut('B-20')) { const v = this.vmaAt(p, start); if (v) start = v.start; }
    for (const v of touched) if (v.uffd && v.uffd !== ctx) return 'EBUSY';
    // a VMA already registered with this context in this mode is skipped: no split
    // (fs/userfaultfd.c userfaultfd_register, "skip" when ctx and flags are unchanged)
    if (this.vmaAt(p, start)?.uffd !== ctx) this.splitAt(p, start);
    if (this.vmaAt(p, end)?.uffd !== ctx) this.splitAt(p, end);
    // every part of the VMAs the range cut records that registration decided its state
    for (const v of this.vmasIn(p, span[0], span[1])) v.regWhy = withRule(v.regWhy, 'R-REG-1');
    const changed: Vma[] = [];
    for (const v of this.vmasIn(p, start, end)) {
      if (v.uffd && v.uffd !== ctx) return 'EBUSY';
      if (v.uffd !== ctx) changed.push(v);
      v.uffd = ctx;
    }
    // only the VMAs whose registration changed are modified, each merged with its prev and its
    // next at once (userfaultfd_register skips the others; vma_modify_flags_uffd ->
    // vma_merge_existing_range): merging from a skipped VMA would stop one VMA short
    for (const v of changed) if (p.vmas.includes(v)) this.merge(p, v, this.uffdMergeMode());
    return 0;
  }

  /** uffd_wp_range(..., false) over [start, end) of VMA v (R-UNREG-1 / R-WP-6). */
  private unprotect(p: Proc, v: Vma, start: number, end: number, id: string) {
    if (htlb.isHugetlbVma(v)) { htlb.protect(this, p, v, start, end, false, id); return; }
    for (let b = blockOf(start); b <= blockOf(end - 1); b++) {
      const pmd = p.pmds.get(b);
      if (pmd?.t !== 'huge') continue;
      // change_pmd_range splits a PMD the range covers only partly, protected or not
      if (blockStart(b) < start || blockStart(b + 1) > end) { this.splitPmd(p, b); continue; }
      if (pmd.wp) { pmd.wp = false; pmd.why = withRule(pmd.why, id); }
    }
    for (let i = start; i < end; i++) {
      const e = p.ptes.peek(i);
      if (!e) continue;
      if (e.t === 'marker') { this.drop(p, i, id); continue; }
      // R-GRD-6: un-protecting skips guard markers too: a swp uffd-wp bit PAGEMAP_SCAN set on one
      // stays (mm/mprotect.c change_pte_range; measured on 6.18)
      if (e.t === 'guard') { if (e.wp) this.rule('R-GRD-6'); continue; }
      if (!e.wp) continue;
      p.ptes.touch(i); // its wp bit changes (an entry left as it was is not stamped)
      e.wp = false; e.why = withRule(e.why, id);
      if (e.t === 'present') e.writable = this.canMakeWritable(v, e);
    }
  }

  /** VM_SOFTDIRTY of a VMA that registering, unregistering or closing a userfaultfd merged: the merge
   *  target's (userfaultfd_set_ctx, 6.11) or, before, the changed VMA's own (fs/userfaultfd.c
   *  userfaultfd_set_vm_flags(vma, new_flags) after vma_merge; knob uffdMergeKeepsTargetFlags) */
  private uffdMergeMode(): 'target' | 'modified' { return this.k.uffdMergeKeepsTargetFlags ? 'target' : 'modified'; }

  private unregister(actor: Proc, op: OpOf<'uffd_unregister'>): Rc {
    const t = this.uffdTarget(actor, op);
    if (!t) return 'ENOMEM'; // mmget_not_zero failed
    const { q: p, start, end } = t;
    if (!this.anyVmaIn(p, start, end)) return 'EINVAL';
    // only registered VMAs are split at the range's ends (userfaultfd_unregister skips the others)
    if (this.vmaAt(p, start)?.uffd) this.splitAt(p, start);
    if (this.vmaAt(p, end)?.uffd) this.splitAt(p, end);
    const id = this.rule('R-UNREG-1');
    const changed: Vma[] = [];
    for (const v of this.vmasIn(p, start, end)) {
      if (!v.uffd) continue;
      if (!this.mut('B-18')) this.unprotect(p, v, Math.max(start, v.start), Math.min(end, v.end), id);
      v.uffd = null;
      v.regWhy = withRule(v.regWhy, id);
      changed.push(v);
    }
    // only the VMAs it unregistered are modified (userfaultfd_unregister skips unregistered ones;
    // userfaultfd_clear_vma -> vma_modify_flags_uffd merges each with its prev and next at once)
    for (const v of changed) if (p.vmas.includes(v)) this.merge(p, v, this.uffdMergeMode());
    return 0;
  }

  private writeProtect(actor: Proc, op: OpOf<'wp'>): Rc {
    const t = this.uffdTarget(actor, op);
    if (!t) return 'ESRCH';
    const { q: p, start, end } = t;
    if (!this.anyVmaIn(p, start, end)) { this.rule('R-WP-0'); return 'ENOENT'; }
    // R-WP-7: before 6.4 the range had to lie in one registered VMA (mwriteprotect_range, find_dst_vma)
    const vs = this.vmasIn(p, start, end);
    if (!this.k.wpMultiVma && (vs.length !== 1 || vs[0]!.start > start || vs[0]!.end < end)) { this.rule('R-WP-7'); return 'ENOENT'; }
    for (const v of vs) {
      const s = Math.max(start, v.start);
      const e = Math.min(end, v.end);
      if (!v.uffd) { this.rule('R-WP-0'); this.rcWhy = [...v.regWhy, 'R-WP-0']; return 'ENOENT'; }
      if (!op.on) { this.unprotect(p, v, s, e, this.rule('R-WP-6')); continue; }
      this.protect(p, v, s, e);
    }
    return 0;
  }

  /** uffd_wp_range(..., true) over [s, e) of VMA v. */
  protect(p: Proc, v: Vma, s: number, e: number) {
    if (htlb.isHugetlbVma(v)) { htlb.protect(this, p, v, s, e, true); return; }
    const markers = !isAnonVma(v) || !!v.uffd?.features.has('wp_unpopulated') || this.mut('M-11');
    for (let b = blockOf(s); b <= blockOf(e - 1); b++) {
      const pmd = p.pmds.get(b);
      if (pmd?.t !== 'huge') continue;
      const whole = blockStart(b) >= s && blockStart(b + 1) <= e;
      const anon = !pmd.pages || pmd.pages[0].anon;
      if (whole && anon) { pmd.wp = true; pmd.writable = false; pmd.why = withRule(pmd.why, this.rule('R-WP-5')); }
      else { this.rule('R-WP-5'); this.splitPmd(p, b); }
    }
    for (let i = s; i < e; i++) {
      const b = blockOf(i);
      if (p.pmds.peek(b)?.t === 'huge') continue;
      const ent = p.ptes.get(i);
      if (!ent) {
        if (markers) {
          this.ensureTable(p, b);
          p.ptes.set(i, { t: 'marker', sd: false, why: whyOf(this.rule('R-WP-3')) });
        } else p.gone.set(i, whyOf(this.rule('R-WP-3'))); // anon none without WP_UNPOPULATED stays unprotected
        continue;
      }
      if (ent.t === 'marker') continue; // R-WP-4
      // R-GRD-6: change_pte_range leaves guard markers alone (mm/mprotect.c: guard swap entries are skipped)
      if (ent.t === 'guard') { this.rule('R-GRD-6'); continue; }
      ent.wp = true;
      ent.why = withRule(ent.why, this.rule(ent.t === 'present' ? 'R-WP-1' : 'R-WP-2'));
      if (ent.t === 'present') ent.writable = false;
    }
  }

  // --- mremap ---------------------------------------------------------------------------------------

  private mremap(p: Proc, op: OpOf<'mremap'>): Rc {
    const r = p.regions.get(op.region)!;
    const start = r.start;
    const oldEnd = r.start + r.pages;
    const pages = op.pages ?? r.pages;
    this.rule('R-MRM-10');
    if (!(op.move ?? true)) return this.mremapInPlace(p, r, pages);
    const dst = slotStartPage(this.slot++);
    let rc: Rc;
    if (pages === r.pages && this.k.mremapMultiVma) {
      // a same-size MREMAP_FIXED move takes the batched path (mm/mremap.c remap_move, 6.17)
      rc = this.remapMove(p, start, oldEnd, dst, !!op.dontunmap, op.region);
    } else {
      // vma_lookup + check_prep_vma: the old range must lie inside one VMA
      // shrinking unmaps the tail first (shrink_vma), so only the kept part must lie in the VMA
      let v = this.vmaAt(p, start);
      // before the 6.16-6.17 rework, mremap_to unmapped the tail (do_munmap) after vma_lookup of
      // the start only, and vma_to_resize failed after it: EFAULT with the tail gone (6.12
      // mm/mremap.c mremap_to; measured on 6.12.118 and 6.1, while 6.18.44 unmaps nothing)
      const early = !!v && pages < r.pages && !this.k.mremapCheckBeforeShrink;
      if (early) { this.rule('R-MRM-8'); this.unmapRange(p, start + pages, oldEnd); v = this.vmaAt(p, start); }
      if (!v || v.end < start + Math.min(pages, r.pages)) rc = 'EFAULT';
      else {
        let srcEnd = oldEnd;
        if (pages < r.pages) {
          if (!early) { this.rule('R-MRM-8'); this.unmapRange(p, start + pages, oldEnd); }
          srcEnd = start + pages;
        }
        this.moveRange(p, start, srcEnd, dst, !!op.dontunmap, op.region);
        if (pages > r.pages) {
          // growth after the move extends the new VMA (R-MRM-7)
          const last = this.vmaAt(p, dst + r.pages - 1)!;
          last.end = dst + pages;
          last.sdWhy = withRule(last.sdWhy, this.rule('R-MRM-7'));
          if (this.mut('M-14')) last.sd = true;
        }
        rc = 0;
      }
    }
    // the region follows the case's static plan whatever the rc (src/ops/validate.ts)
    if (op.dontunmap && op.old !== undefined) p.regions.set(op.old, newRegion(start, r.pages));
    r.start = dst;
    r.pages = pages;
    return rc;
  }

  private mremapInPlace(p: Proc, r: Region, pages: number): Rc {
    const start = r.start;
    const oldEnd = r.start + r.pages;
    const v = this.vmaAt(p, start);
    if (!v) { r.pages = pages; return 'EFAULT'; }
    // no resize and in-place shrink need only a VMA at the start (measured on 6.18)
    if (pages === r.pages) return 0;
    if (pages < r.pages) { this.rule('R-MRM-8'); this.unmapRange(p, start + pages, oldEnd); r.pages = pages; return 0; }
    // growth: the old range must lie in one VMA (EFAULT); it must end there and the space after
    // it be free, else without MREMAP_MAYMOVE ENOMEM (vrm_can_expand_in_place)
    if (v.end < oldEnd) { r.pages = pages; return 'EFAULT'; }
    if (v.end !== oldEnd || this.anyVmaIn(p, oldEnd, start + pages)) return 'ENOMEM';
    // R-MRM-7: grow in place, VM_SOFTDIRTY not set (vma_merge_extend)
    v.end = start + pages;
    v.sdWhy = withRule(v.sdWhy, this.rule('R-MRM-7'));
    if (this.mut('M-14')) v.sd = true;
    r.pages = pages;
    // vma_merge_extend merges the grown range into v (as prev) and maybe into the next VMA, never v
    // into its own prev (mm/vma.c vma_merge_new_range; 6.1 vma_adjust merges nothing). Measured on
    // 6.1 and 6.12.118: an unfaulted VMA grown beside a faulted prev it could not merge with keeps
    // its VM_SOFTDIRTY
    this.merge(p, v, 'target', false);
    return 0;
  }

  /** mm/mremap.c remap_move (6.17+): VMA by VMA, keeping the gaps between them; no gap at the
   *  start; a uffd-armed VMA may only be moved alone, covering the whole range (vma_multi_allowed;
   *  checked on the live 6.18 kernel). Earlier VMAs stay moved when a later one fails. */
  private remapMove(p: Proc, start: number, end: number, dst: number, dontunmap: boolean, region: string): Rc {
    const spans = this.vmasIn(p, start, end).map((v) => [Math.max(v.start, start), Math.min(v.end, end)] as const);
    let seen = false;
    let allowed = true;
    for (const [a, e] of spans) {
      if (!allowed) return 'EFAULT';
      if (!seen && start < a) return 'EFAULT';
      const v = this.vmaAt(p, a)!;
      allowed = !v.uffd;
      // measured on 6.18: a uffd-armed VMA moves only when it alone covers the whole range
      if (!allowed && (seen || v.start > start || v.end < end)) return 'EFAULT';
      this.moveRange(p, a, e, dst + (a - start), dontunmap, region);
      seen = true;
    }
    return seen ? 0 : 'EFAULT';
  }

  /** Move [a, e) to `to`, VMA by VMA, with uffd events. The VMAs are split to the range first
   *  (R-MUNMAP-2) except with MREMAP_DONTUNMAP, which splits nothing: move_vma copies the range
   *  into a new VMA (copy_vma) and moves its page tables, and only unmap_source_vma's
   *  do_vmi_munmap would split the old VMA (mm/mremap.c; 6.1 and 6.12 split it ahead only when
   *  VM_LOCKED, which no case sets), so a VMA part of which moved stays whole, anon_vma included
   *  (R-MRM-9). */
  private moveRange(p: Proc, a: number, e: number, to: number, dontunmap: boolean, region: string) {
    if (!dontunmap) this.isolate(p, a, e);
    for (const v of this.vmasIn(p, a, e)) {
      const s = Math.max(v.start, a), t = Math.min(v.end, e);
      const remapEvent = !!v.uffd?.features.has('event_remap');
      // the old range is unmapped through do_vmi_munmap, which delivers UFFD_EVENT_UNMAP (R-EVT-1)
      const unmapEvent = !dontunmap && !!v.uffd?.features.has('event_unmap');
      const r = p.regions.get(region)!;
      this.moveVma(p, v, s, t, to - a, dontunmap);
      if (remapEvent) { this.rule('R-MRM-6E'); this.events.push({ kind: 'remap', proc: p.id, region, page: s - r.start }); }
      if (unmapEvent) { this.rule('R-EVT-1'); this.events.push({ kind: 'unmap', proc: p.id, region, page: s - r.start }); }
    }
  }

  /** Move [s, t) of `v` (all of it unless MREMAP_DONTUNMAP) by `delta` pages. */
  private moveVma(p: Proc, v: Vma, s: number, t: number, delta: number, dontunmap: boolean) {
    const clearUffd = !!v.uffd && !v.uffd.features.has('event_remap') && this.k.mremapUffdClear && !this.mut('B-21');
    // copy_vma (mm/vma.c): an anonymous VMA never faulted (no anon_vma) takes its new address as
    // vm_pgoff, so it merges at the destination as a fresh mapping would; a faulted one keeps its
    // pgoff (new_pgoff: the moved range's offset), and so no longer merges with a neighbour whose
    // pgoff is its address
    const pgoff = isAnonVma(v) && !v.anonVma ? s + delta : v.pgoff + (s - v.start);
    const nv = vmaWith(v, { start: s + delta, end: t + delta, pgoff, sdWhy: withRule(v.sdWhy, this.rule('R-MRM-5')) });
    if (v.uffd && !v.uffd.features.has('event_remap') && this.k.mremapUffdClear) {
      this.rule('R-MRM-6');
      nv.regWhy = withRule(v.regWhy, 'R-MRM-6');
      if (!this.mut('B-21')) nv.uffd = null;
    }
    // page tables of moved blocks: whole-table relink (R-MRM-3), huge PMD move (R-MRM-2), or
    // per-entry moves (R-MRM-1) — mm/mremap.c move_page_tables
    const tableMoveGate = !!v.uffd && !v.uffd.features.has('event_remap') && this.k.mremapNoPgtableMoveUffd && !this.mut('B-22');
    for (let b = blockOf(s); b <= blockOf(t - 1); b++) {
      const bs = Math.max(blockStart(b), s);
      const be = Math.min(blockStart(b + 1), t);
      const full = bs === blockStart(b) && be === blockStart(b + 1) && (bs + delta) % HPAGE_PAGES === 0;
      const pmd = p.pmds.get(b);
      const db = blockOf(bs + delta);
      if (pmd?.t === 'huge') {
        if (full) {
          const id = this.rule('R-MRM-2');
          p.pmds.delete(b);
          p.pmds.set(db, hugePmdWith(pmd, { sd: true, wp: pmd.wp && !clearUffd, why: withRule(pmd.why, id) }));
          continue;
        }
        this.splitPmd(p, b);
      }
      const gated = full && p.pmds.get(b)?.t === 'table' && !p.pmds.has(db) && tableMoveGate;
      if (gated) this.rule('R-MRM-3');
      if (full && p.pmds.get(b)?.t === 'table' && !p.pmds.has(db) && !tableMoveGate) {
        const id = this.rule('R-MRM-3');
        p.pmds.delete(b);
        p.pmds.set(db, { t: 'table' });
        for (let i = bs; i < be; i++) {
          const e = p.ptes.peek(i); // its delete stamps the chunk
          if (!e) continue;
          p.ptes.delete(i);
          p.ptes.set(i + delta, pteWith(e, { why: withRule(e.why, id) })); // relinked: every bit as it was
        }
        continue; // the table itself moved: the old range is a PMD hole, also with DONTUNMAP
      }
      // per-entry moves (move_ptes) into a destination table allocated first (alloc_new_pmd)
      if (p.pmds.get(b)?.t === 'table') { this.ensureTable(p, blockOf(bs + delta)); this.ensureTable(p, blockOf(be - 1 + delta)); }
      for (let i = bs; i < be; i++) {
        const e = p.ptes.peek(i); // its delete stamps the chunk
        if (!e) continue;
        p.ptes.delete(i);
        if (clearUffd && e.t === 'marker') { p.gone.set(i + delta, whyOf(this.rule('R-MRM-6'))); continue; }
        this.ensureTable(p, blockOf(i + delta));
        const id = this.rule('R-MRM-1');
        const sd = this.mut('M-8') ? e.sd : true;
        let why = withRule(e.why, id);
        if (gated) why = withRule(why, 'R-MRM-3');
        if (clearUffd || v.uffd) why = withRule(why, 'R-MRM-6');
        if (e.t === 'marker') p.ptes.set(i + delta, pteWith(e, { sd, why }));
        else p.ptes.set(i + delta, pteWith(e, { sd, wp: e.wp && !clearUffd, why }));
      }
    }
    p.vmas.push(nv);
    this.sortVmas(p);
    this.merge(p, nv, 'target'); // copy_vma merges with compatible neighbours at the destination
    if (dontunmap) {
      // R-MRM-9: the old VMA stays, whole, the moved range empty; only a VMA that moved whole
      // loses its anon_vma (mm/mremap.c dontunmap_complete -> unlink_anon_vmas), so fork no longer
      // copies it; one part of which moved keeps it, and fork copies its other pages
      // (vma_needs_copy) — measured on 6.18.44 (live campaign seed 51)
      this.rule('R-MRM-9');
      if (s === v.start && t === v.end) {
        v.anonVma = 0;
        v.forkedChain = false;
      }
    } else {
      p.vmas = p.vmas.filter((x) => x !== v);
      this.freeTables(p, v.start, v.end);
    }
    this.sortVmas(p);
  }

  // --- MADV_POPULATE_(READ|WRITE) ---------------------------------------------------------------

  /** set while populate faults a page in: GUP faults carry no FAULT_FLAG_USER (R-POP-3) */
  private gup = false;

  /** madvise(MADV_POPULATE_READ / MADV_POPULATE_WRITE): mm/madvise.c madvise_populate ->
   *  mm/gup.c faultin_page_range -> __get_user_pages with FOLL_MADV_POPULATE. Page by page in
   *  order, as a read or write fault would (R-POP-1); the first page that cannot be populated ends
   *  the walk with its error and the pages before it stay populated (R-POP-2). */
  private populate(p: Proc, op: OpOf<'populate'>): Rc {
    const [start, end] = this.range(p, op);
    this.faultRange = [start, end];
    const write = !!op.write;
    this.rule('R-POP-1');
    let hole = false;
    // the VMA of the last page while it still covers page i and is still p's (as access)
    let v: Vma | undefined, vi = -1;
    for (let i = start; i < end; i++) {
      if (v === undefined || i >= v.end || i < v.start || p.vmas[vi] !== v) { vi = vmaIndexAt(p.vmas, i); v = vi < 0 ? undefined : p.vmas[vi]; }
      // __get_user_pages (FOLL_MADV_POPULATE): vma_lookup fails -> ENOMEM; check_vma_flags
      // (VM_READ for a read, VM_WRITE for a write, no FOLL_FORCE) fails -> EINVAL. Before 6.10
      // madvise_walk_vmas skipped the hole and reported ENOMEM after the last VMA.
      if (!v && !this.k.populateNoVmaWalk) { this.rule('R-POP-2'); hole = true; continue; }
      if (!v) { this.rule('R-POP-2'); return 'ENOMEM'; }
      if (v.prot === 'none' || (write && v.prot !== 'rw')) { this.rule('R-POP-2'); return 'EINVAL'; }
      // R-GRD-3: the GUP fault on a guard marker is VM_FAULT_SIGSEGV, which populate returns as
      // -EFAULT (mm/gup.c faultin_page -> vm_fault_to_errno; measured on 6.18)
      if (p.ptes.peek(i)?.t === 'guard') { this.rule('R-GRD-3'); return 'EFAULT'; }
      if (v.obj && v.pgoff + (i - v.start) >= v.obj.size && p.ptes.peek(i)?.t !== 'present' && p.pmds.peek(blockOf(i))?.t !== 'huge') {
        // the fault past the end of the shmem object is VM_FAULT_SIGBUS: -EFAULT, no signal; a
        // read fault maps the page's cached neighbours first (faultAround; measured on 6.18: after
        // fork, p1's MADV_POPULATE_READ of a[2] past the end maps a[1] written by p0)
        if (!write) this.faultAround(p, v, i);
        this.rule('R-POP-2');
        return this.mut('M-15') ? 'EINVAL' : 'EFAULT';
      }
      if (!write) { this.readPage(p, v, i); continue; }
      const rc = this.populateWrite(p, v, i);
      if (rc !== 0) return rc;
    }
    return hole ? 'ENOMEM' : 0;
  }

  /** One page of MADV_POPULATE_WRITE: FOLL_WRITE follows a writable entry without a fault
   *  (R-POP-4), else it takes a write fault (handle_mm_fault with FAULT_FLAG_WRITE) that stores
   *  nothing: the page keeps its content (which decides R-SPLIT-5's zero-page remap later). */
  private populateWrite(p: Proc, v: Vma, i: number): Rc {
    const pmd = p.pmds.get(blockOf(i));
    if (pmd?.t === 'huge' && pmd.writable) {
      // follow_huge_pmd -> touch_pmd(vma, addr, pmd, write): pmd_mkdirty, which sets the
      // soft-dirty bit too on x86 (mm/huge_memory.c touch_pmd)
      pmd.dirty = true; pmd.sd = true; pmd.why = withRule(pmd.why, this.rule('R-POP-4'));
      return 0;
    }
    const e = p.ptes.get(i);
    if (pmd?.t !== 'huge' && e?.t === 'present' && e.writable) {
      // follow_page_pte with FOLL_TOUCH marks the folio dirty, not the PTE (mm/gup.c)
      this.rule('R-POP-4');
      return 0;
    }
    const content = this.contentAt(p, v, i);
    this.gup = true;
    try {
      this.writePage(p, v, i);
    } catch (x) {
      if (x !== GUP_SIGBUS) throw x;
      this.rule('R-POP-3');
      return this.mut('M-15') ? 'EINVAL' : 'EFAULT';
    } finally {
      this.gup = false;
    }
    const now = p.pmds.get(blockOf(i));
    const pte = p.ptes.get(i);
    const page = now?.t === 'huge' ? now.pages?.[i - blockStart(blockOf(i))] : pte && (pte.t === 'present' || pte.t === 'swap') ? pte.page : undefined;
    if (page && !page.zero) page.nonzero = this.mut('M-16') ? true : content;
    // the entry's content (and so a later folio split's zero-page remap) was decided here
    if (now?.t === 'huge') now.why = withRule(now.why, 'R-POP-1');
    else if (pte) pte.why = withRule(pte.why, 'R-POP-1');
    return 0;
  }

  /** Is the content of page i (what a fault there would map or copy) not all zero? */
  private contentAt(p: Proc, v: Vma, i: number): boolean {
    const pmd = p.pmds.get(blockOf(i));
    if (pmd?.t === 'huge') return !!pmd.pages?.[i - blockStart(blockOf(i))].nonzero;
    const e = p.ptes.get(i);
    if (e && (e.t === 'present' || e.t === 'swap')) return e.page.nonzero;
    return !!v.obj?.pages.get(v.pgoff + (i - v.start))?.nonzero;
  }

  // --- guard regions (MADV_GUARD_INSTALL / MADV_GUARD_REMOVE) --------------------------------------

  /** madvise(MADV_GUARD_INSTALL / MADV_GUARD_REMOVE) over the op's range: mm/madvise.c
   *  madvise_walk_vmas (VMA by VMA; a hole is ENOMEM after the walk) -> madvise_guard_install /
   *  madvise_guard_remove. Kernels before 6.13 do not know the advice (madvise_behavior_valid: EINVAL). */
  private guardRegion(p: Proc, op: OpOf<'guard'> | OpOf<'unguard'>, install: boolean): Rc {
    if (!this.k.guardRegions) { this.rule('R-GRD-1'); return 'EINVAL'; }
    const [start, end] = this.range(p, op);
    const gap = this.hasGap(p, start, end);
    let rc: Rc = 0;
    for (const v of this.vmasIn(p, start, end)) {
      const s = Math.max(start, v.start);
      const e = Math.min(end, v.end);
      if (install) { if (!this.guardInstall(p, v, s, e)) rc = '*'; }
      else this.guardRemove(p, v, s, e);
    }
    if (rc !== 0) return rc;
    if (gap) { this.rule('R-MADV-1'); return 'ENOMEM'; }
    return 0;
  }

  /** R-GRD-1 (mm/madvise.c madvise_guard_install): anon_vma_prepare on the VMA (whatever its kind,
   *  6.18; so fork copies its page tables, R-GRD-5); if the range holds anything but guard markers
   *  and holes (a present or swap entry, a uffd-wp marker, a huge PMD) it is zapped as MADV_DONTNEED
   *  zaps (zap_page_range_single, no page-table reclaim), then every slot gets a guard marker
   *  (guard_install_set_pte), page tables allocated where missing. A uffd-wp marker the zap keeps
   *  (non-anon VMA, R-DN-2) makes the install retry forever (restart_syscall; measured on 6.18: the
   *  call never returns): false, the state after the zap. */
  private guardInstall(p: Proc, v: Vma, s: number, e: number): boolean {
    const id = this.rule('R-GRD-1');
    // VM_MAYBE_GUARD (sticky) and an anon_vma for an anonymous VMA; without the flag (kernels
    // before the VMA_STICKY_FLAGS series) an anon_vma for any VMA, so that fork copies the markers
    if (this.k.maybeGuardFlag) { v.maybeGuard = true; if (isAnonVma(v)) this.anonVmaPrepare(p, v); }
    else this.anonVmaPrepare(p, v);
    let zap = false;
    for (let b = blockOf(s); b <= blockOf(e - 1) && !zap; b++) zap = p.pmds.peek(b)?.t === 'huge';
    for (let i = s; i < e && !zap; i++) { const x = p.ptes.peek(i); zap = !!x && x.t !== 'guard'; }
    if (zap) {
      for (let b = blockOf(s); b <= blockOf(e - 1); b++) {
        if (p.pmds.get(b)?.t !== 'huge') continue;
        if (blockStart(b) >= s && blockStart(b + 1) <= e) { this.rule('R-DN-3'); p.pmds.delete(b); }
        else this.splitPmd(p, b);
      }
      for (let i = s; i < e; i++) this.zapPte(p, v, i);
      for (let i = s; i < e; i++) if (p.ptes.peek(i)?.t === 'marker') return false;
    }
    for (let i = s; i < e; i++) {
      if (p.ptes.peek(i)?.t === 'guard') continue;
      this.ensureTable(p, blockOf(i));
      p.ptes.set(i, { t: 'guard', wp: false, sd: false, why: whyOf(id) });
    }
    return true;
  }

  /** R-GRD-2 (mm/madvise.c madvise_guard_remove): every guard marker of the range is cleared
   *  (guard_remove_pte_entry: pte_clear, whatever swp bits it carries); huge PMDs are skipped, other
   *  entries untouched, page tables kept. */
  private guardRemove(p: Proc, _v: Vma, s: number, e: number) {
    this.rule('R-GRD-2');
    for (let i = s; i < e; i++) if (p.ptes.peek(i)?.t === 'guard' && p.pmds.peek(blockOf(i))?.t !== 'huge') this.drop(p, i, 'R-GRD-2');
  }

  // --- close() of a userfaultfd -------------------------------------------------------------------

  /** close_uffd: the process's userfaultfd descriptor is closed. It is the context's only one (the
   *  executor keeps exactly one per context), so the kernel releases the context
   *  (fs/userfaultfd.c userfaultfd_release -> mm/userfaultfd.c userfaultfd_release_all): in the
   *  context's mm, if it is still alive (mmget_not_zero), every VMA registered with it is
   *  unregistered by userfaultfd_clear_vma, which since 6.9 ("mm/userfaultfd: reset ptes when
   *  close() for wr-protected ones") first resets its wp bits and markers (uffd_wp_range(...,
   *  false), as R-UNREG-1), then clears the flags and merges. Every process using that descriptor
   *  loses it (R-CLOSE-1). */
  private closeUffd(p: Proc): Rc {
    const ctx = p.ctx!;
    const id = this.rule('R-CLOSE-1');
    for (const q of this.procs) if (q.ctx === ctx) q.ctx = null;
    const mm = this.procs[ctx.mm];
    if (!mm?.alive) return 0;
    const cleared = mm.vmas.filter((v) => v.uffd === ctx);
    for (const v of cleared) {
      if (!this.mut('B-19')) this.unprotect(mm, v, v.start, v.end, id);
      v.uffd = null;
      v.regWhy = withRule(v.regWhy, id);
    }
    for (const v of cleared) if (mm.vmas.includes(v)) this.merge(mm, v, this.uffdMergeMode());
    return 0;
  }
}

export function protOf(v: Vma): Prot { return v.prot; }

/** the index in `vmas` of the first VMA holding page `page`, or -1 (a scan in list order, as the
 *  list may be unsorted for a moment inside an op) */
function vmaIndexAt(vmas: readonly Vma[], page: number): number {
  for (let k = 0; k < vmas.length; k++) { const v = vmas[k]; if (v.start <= page && page < v.end) return k; }
  return -1;
}
