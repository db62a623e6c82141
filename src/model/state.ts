// The state the reference model tracks: processes, VMAs, page-table entries, pages.
// Page numbers are absolute (address / page size); blocks are PMD ranges (page / HPAGE_PAGES:
// 512 pages = 2 MiB with 4 KiB pages, 2048 pages = 32 MiB with 16 KiB pages).
import type { Feature, Kind } from '../ops/schema.ts';
import type { HEntry } from './hugetlb.ts';
import { GEOMETRY_4K, memfdPagesFor, slotStartPage as slotStartOf, type PageGeometry } from '../ops/layout.ts';

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
export const slotStartPage = (slot: number) => slotStartOf(slot, current);
export function modelGeometry(): PageGeometry { return current; }

/** Run `fn` (synchronous) with the model in geometry `g`, restoring the previous one after. */
export function inGeometry<T>(g: PageGeometry, fn: () => T): T {
  const was = current;
  const set = (x: PageGeometry) => { current = x; HPAGE_PAGES = x.pmdPages; MEMFD_PAGES = memfdPagesFor(x); FAULT_AROUND_PAGES = Math.max(1, 65536 / x.pageSize); };
  set(g);
  try {
    const r = fn();
    if (r && typeof (r as { then?: unknown }).then === 'function') throw new Error('inGeometry: the model runs synchronously (got a promise)');
    return r;
  } finally { set(was); }
}

export type Prot = 'none' | 'r' | 'rw';

/** Recent history of rule ids that decided an entry's bits (most recent last, bounded). */
export type Why = string[];
const WHY_MAX = 6;
export function withRule(why: Why, id: string): Why {
  if (why[why.length - 1] === id) return why;
  const w = why.length >= WHY_MAX ? why.slice(why.length - WHY_MAX + 1) : why.slice();
  w.push(id);
  return w;
}

/** A 4 KiB page of memory. Identity matters for pagemap bit 56 (mapcount). */
export interface Page {
  id: number;
  /** anonymous memory (pagemap bit 61 clear); page-cache/shmem pages are not anon */
  anon: boolean;
  /** the shared 4 KiB zero page */
  zero: boolean;
  /** content is not all zero (a folio split remaps all-zero subpages to the zero page) */
  nonzero: boolean;
  /** shmem object and index, for page-cache pages */
  obj?: ShmObj;
  index?: number;
  /** a shmem page written out to swap (its page-cache slot holds a swap entry) */
  inSwap?: boolean;
  /** the subpages of the large (THP) folio this page belongs to, until the folio is split */
  folio?: Page[];
  /** content oracle (content.ts): the value in the first 8 bytes (absent: 0) and the rules that
   *  decided it */
  val?: number;
  valWhy?: string[];
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
  maybeGuard?: boolean;
}

export type Pte =
  | { t: 'present'; page: Page; wp: boolean; sd: boolean; writable: boolean; dirty: boolean; why: Why }
  | { t: 'swap'; page: Page; wp: boolean; sd: boolean; why: Why }
  | { t: 'marker'; sd: boolean; why: Why }
  /** guard-region PTE marker (MADV_GUARD_INSTALL, mm/madvise.c guard_install_set_pte): a swap PTE
   *  whose access is SIGSEGV; `wp`/`sd` are its swp uffd-wp / soft-dirty bits (set by a
   *  PAGEMAP_SCAN arming, an mremap move) */
  | { t: 'guard'; wp: boolean; sd: boolean; why: Why };

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

export interface Region { start: number; pages: number; hugetlb?: boolean }

export interface Proc {
  id: number;
  alive: boolean;
  vmas: Vma[];
  ptes: Map<number, Pte>;
  pmds: Map<number, Pmd>;
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

export const blockOf = (page: number) => Math.floor(page / HPAGE_PAGES);
export const blockStart = (block: number) => block * HPAGE_PAGES;

export function isAnonVma(v: Vma): boolean {
  return v.kind === 'anon';
}
export function isShared(v: Vma): boolean {
  return v.kind === 'shared-anon' || v.kind === 'memfd-shared';
}
export function wpAsync(v: Vma): boolean {
  return !!v.uffd?.features.has('wp_async');
}
