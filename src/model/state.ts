// The state the reference model tracks: processes, VMAs, page-table entries, pages.
// Page numbers are absolute (address / 4096); blocks are 2 MiB PMD ranges (page / 512).
import type { Feature, Kind } from '../ops/schema.ts';
import { HPAGE_PAGES } from '../ops/layout.ts';

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
}

/** The shmem file behind a shared-anon or memfd region (its page cache). */
export interface ShmObj {
  id: number;
  pages: Map<number, Page>;
  /** size in pages: a fault at or past it is SIGBUS */
  size: number;
  /** first indices of 2 MiB ranges the page cache holds as one THP (after MADV_COLLAPSE) */
  huge: Set<number>;
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

export interface Region { start: number; pages: number }

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
