// PAGEMAP_SCAN over one scanned page range: a pure function of what the model knows about every
// 4 KiB page of the range. It predicts the categories the ioctl reports per page and lists the state
// changes (write-protection, markers, page-table allocation, THP split) the model must apply, in the
// order the kernel walk performs them.
//
// The whole argument space of struct pm_scan_arg that a case can give (case-format.md `scan`):
// flags WP_MATCHING and CHECK_WPASYNC, category_mask / category_inverted / category_anyof_mask /
// return_mask, max_pages, and an output vector or none (vec NULL, vec_len 0). The output vector,
// when given, holds every region of the range. Three PTE-level paths, as pagemap_scan_pmd_entry
// takes them: the exclusive-WP fast path (WP_MATCHING without a vector, R-PMS-4), the WRITTEN fast
// path (category_mask = return_mask = WRITTEN, no anyof, no inverted, R-PMS-3.fast) and the
// generic path (R-PMS-3.generic).
//
// Sources: x86-semantics.md §3 and fs/proc/task_mmu.c of linux 6.12.117 (which already carries the
// July-2026 PAGEMAP_SCAN fixes); version differences go through ScanKnobs (§0.4). No kernel text is
// reproduced here; rule sentences are paraphrases.
//
// Not modelled: hugetlb VMAs (no case kind creates them), VM_PFNMAP VMAs, PMD/PTE migration entries
// (transient), bounce-buffer refills (the kernel restarts the walk at walk_end, which is equivalent
// for per-page categories; only region boundaries could differ, and regions are not reported here).

// ---------------------------------------------------------------------------------------------
// Category bits (include/uapi/linux/fs.h PAGE_IS_*; GUARD is 6.15+)

export const PAGE_IS_WPALLOWED = 1 << 0;
export const PAGE_IS_WRITTEN = 1 << 1;
export const PAGE_IS_FILE = 1 << 2;
export const PAGE_IS_PRESENT = 1 << 3;
export const PAGE_IS_SWAPPED = 1 << 4;
export const PAGE_IS_PFNZERO = 1 << 5;
export const PAGE_IS_HUGE = 1 << 6;
export const PAGE_IS_SOFT_DIRTY = 1 << 7;
export const PAGE_IS_GUARD = 1 << 8;

/** The nine category letters in trace order; letter i is the category bit 1 << i (the uapi order). */
export const SCAN_CATEGORY_LETTERS = ['a', 'w', 'f', 'p', 's', 'z', 'h', 'd', 'g'] as const;
/** the bit index of a category letter in SCAN_CATEGORY_LETTERS (-1: not a category letter) */
export const scanLetterIndex = (l: string): number => SCAN_CATEGORY_LETTERS.indexOf(l as (typeof SCAN_CATEGORY_LETTERS)[number]);
/** A page the scan did not report. */
export const NOT_REPORTED = '---------';

/** Category bit mask -> nine-letter string (letter or `.`), e.g. PRESENT|WRITTEN -> `.w.p.....`. */
export function categoryString(mask: number): string {
  let s = '';
  for (let i = 0; i < SCAN_CATEGORY_LETTERS.length; i++) s += mask & (1 << i) ? SCAN_CATEGORY_LETTERS[i] : '.';
  return s;
}

/** Nine-letter string -> category bit mask; `null` for a `-` (not reported) string. Throws on a malformed string. */
export function parseCategoryString(s: string): number | null {
  if (s === NOT_REPORTED) return null;
  if (s.length !== SCAN_CATEGORY_LETTERS.length) throw new Error(`scan category string "${s}" is not 9 letters`);
  let mask = 0;
  for (let i = 0; i < s.length; i++) {
    if (s[i] === SCAN_CATEGORY_LETTERS[i]) mask |= 1 << i;
    else if (s[i] !== '.') throw new Error(`scan category string "${s}": position ${i + 1} must be "${SCAN_CATEGORY_LETTERS[i]}" or "."`);
  }
  return mask;
}

// ---------------------------------------------------------------------------------------------
// Input

export interface ScanVma {
  /** identity of the VMA: consecutive pages with the same id are one VMA */
  id: number;
  /** VM_UFFD_WP (registered in WP mode) */
  uffdWp: boolean;
  /** the registering ctx has UFFD_FEATURE_WP_ASYNC (which forces WP_UNPOPULATED) */
  wpAsync: boolean;
  /** VM_SOFTDIRTY (set = tracking off for the VMA, every page reads soft-dirty) */
  softDirty: boolean;
  /** vma_is_anonymous(): private anonymous only (shared anon and memfd mappings are not) */
  anon: boolean;
}

/** A PMD-mapped 2 MiB page as seen by every 4 KiB page it covers. */
export interface HugeEntry {
  kind: 'huge';
  /** PMD uffd-wp bit */
  wp: boolean;
  /** PMD soft-dirty bit */
  sd: boolean;
  /** the folio is not anon (page cache / shmem). Ignored for the huge zero folio, which the scan
   *  never reports FILE (vm_normal_page_pmd() gives no page) even where pagemap bit 61 is set. */
  file: boolean;
  /** the huge zero folio */
  hugeZero: boolean;
}

export type ScanEntry =
  /** no VMA here (the page must have `vma: null`) */
  | { kind: 'gap' }
  /** in a VMA, but no PTE table covers this 2 MiB block (PMD hole, or higher-level hole) */
  | { kind: 'hole' }
  /** pte_none inside an existing PTE table */
  | { kind: 'none' }
  /** present PTE; `zero` = the shared 4K zero page; `file` = page is not anon (ignored when zero) */
  | { kind: 'present'; wp: boolean; sd: boolean; file: boolean; zero: boolean }
  /** anon swap PTE with its swp uffd-wp / swp soft-dirty bits */
  | { kind: 'swap'; wp: boolean; sd: boolean }
  /** uffd-wp PTE marker (`sd` = its swp soft-dirty bit, normally false) */
  | { kind: 'marker'; sd: boolean }
  /** guard-region PTE marker (MADV_GUARD_INSTALL, 6.15+); `wp` = swp uffd-wp bit set on it by an
   *  earlier arming (R-PMS-9); `sd` = its swp soft-dirty bit (an mremap move sets it) */
  | { kind: 'guard'; wp: boolean; sd?: boolean }
  /** a hugetlb entry (src/model/hugetlb.ts): a hole (no PMD table), pte_none, a present huge PTE
   *  (`wp`, `file` = folio not anon, `sd` = its soft-dirty bit) or a uffd-wp marker */
  | { kind: 'hugetlb'; state: 'hole' | 'none' | 'present' | 'marker'; wp: boolean; file: boolean; sd: boolean }
  | HugeEntry;

export interface ScanPage {
  /** the VMA covering the page, null for a gap */
  vma: ScanVma | null;
  entry: ScanEntry;
}

export interface ScanKnobs {
  /** V_SCAN_NONE_WRITTEN: generic path reports pte_none as WRITTEN */
  scanNoneWritten: boolean;
  /** V_SCAN_HOLE_WRITTEN: a PMD hole in a (non-hugetlb) VM_UFFD_WP VMA is WRITTEN (and armed) */
  scanHoleWritten: boolean;
  /** V_SCAN_WRITTEN_UFFD_ONLY: WRITTEN only inside VM_UFFD_WP VMAs (7.3) */
  scanWrittenUffdOnly: boolean;
  /** V_PFNZERO_HUGE: PFNZERO reported for the huge zero PMD */
  pfnZeroHuge: boolean;
  /** V_GUARD: guard markers exist and report GUARD (default true; a `guard` entry with this false is an error) */
  guard?: boolean;
  /** CONFIG_MEM_SOFT_DIRTY (default true). When false no page or VMA is ever SOFT_DIRTY, whatever the input says. */
  memSoftDirty?: boolean;
}

export interface ScanQuery {
  /** PM_SCAN_WP_MATCHING */
  wpMatching: boolean;
  /** PM_SCAN_CHECK_WPASYNC; absent = wpMatching (the `scan` op's `wp_matching` sets both) */
  checkWpasync?: boolean;
  /** max_pages; 0 or absent = unlimited */
  maxPages?: number;
  /** category_mask; absent = WRITTEN with wpMatching, else 0 */
  mask?: number;
  /** category_inverted, category_anyof_mask (absent = 0), return_mask (absent = every category) */
  inverted?: number;
  anyof?: number;
  ret?: number;
  /** an output vector (absent = true). Without one nothing is reported, max_pages never binds and
   *  walk_end is the range's end (pagemap_scan_output returns at once without p->vec_buf) */
  vec?: boolean;
  /** mutant B-23: the fast paths read a swap PTE's uffd-wp bit with pte_uffd_wp() (pre "fix
   *  uffd-wp confusion in pagemap_scan_pmd_entry()"): a write-protected swap entry counts as written */
  fastPathSwapConfusion?: boolean;
  /** mutant B-32: pagemap_scan_backout_range without the p->vec_buf NULL check (pre "fs/proc/task_mmu:
   *  check p->vec_buf for NULL"): WP_MATCHING without an output vector over part of a THP oopses */
  backoutNullDeref?: boolean;
  /** mutant M-12: the exclusive-WP fast path honours the category masks (arms only interesting
   *  WRITTEN entries, as the generic path would) */
  exclusiveWpHonoursMasks?: boolean;
  /** mutant M-20: arming leaves guard markers alone (no swp uffd-wp bit set on them) */
  armSkipsGuard?: boolean;
  /** mutant B-33: pagemap_scan_hugetlb_entry compares the reported range with HPAGE_SIZE instead
   *  of the VMA's huge_page_size (pre 2026 "fs/proc/task_mmu: use huge_page_size in
   *  pagemap_scan_hugetlb_entry"), as on a kernel whose hugetlb page size is not HPAGE_SIZE: a
   *  whole huge page counts as partial and is backed out instead of write-protected */
  hugetlbSizeMismatch?: boolean;
}

/** every category bit (PM_SCAN_CATEGORIES) */
export const PAGE_CATS_ALL = 0x1ff;

export interface ScanInput {
  /** absolute page number (address / page size) of pages[0]: fixes which PMD block each page is in */
  firstPage: number;
  /** pages per PMD block (default 512: 4 KiB pages; 2048 with 16 KiB pages) */
  pmdPages?: number;
  /** one entry per 4 KiB page of the scanned range, in address order */
  pages: readonly ScanPage[];
  query: ScanQuery;
  knobs: ScanKnobs;
  /**
   * The 4 KiB entry a page of a huge PMD has right after `split_huge_pmd` (used for the redo at PTE
   * level). Default: `defaultSplitEntry`. Pass the model's own split rule to keep one implementation.
   */
  splitEntry?: (huge: HugeEntry, vma: ScanVma, knobs: ScanKnobs) => ScanEntry;
}

// ---------------------------------------------------------------------------------------------
// Output

export type ScanAction =
  /** set the uffd-wp bit on a present PTE (also write-protects it), or the swp uffd-wp bit on a swap / guard entry */
  | { kind: 'wp-pte'; page: number }
  /** install a uffd-wp marker in an empty slot (pte_none, or a hole slot after its `pgtable`) */
  | { kind: 'marker'; page: number }
  /** a PTE table is allocated for this 2 MiB block: every hole slot of the block, in range or not, becomes pte_none */
  | { kind: 'pgtable'; block: number }
  /** set the uffd-wp bit on the huge PMD in place */
  | { kind: 'wp-pmd'; block: number }
  /** split the huge PMD of this block (anon: 512 PTEs; non-anon: PMD cleared = hole); the actions after it address the split entries */
  | { kind: 'split-pmd'; block: number }
  /** set the uffd-wp bit on the present huge PTE of this hugetlb block (make_uffd_wp_huge_pte) */
  | { kind: 'htlb-wp'; block: number }
  /** install a uffd-wp marker in this empty hugetlb block, allocating its PMD table (pagemap_scan_hugetlb_hole_wp) */
  | { kind: 'htlb-marker'; block: number };
// `page` = index into ScanInput.pages; `block` = absolute 2 MiB block number = floor(absolute page / 512).

export interface ScanResult {
  /** 0, or the ioctl error; SIGKILL only for mutant B-32 (a kernel oops kills the task) */
  rc: 0 | 'EPERM' | 'EINVAL' | 'SIGKILL';
  /** per input page: nine-letter categories, or `---------` where not reported; all `-` on error */
  cats: string[];
  /** state changes in walk order; on EPERM those performed before the failing VMA (they stay applied) */
  actions: ScanAction[];
  /** rule ids exercised (see SCAN_RULES), sorted, unique */
  rules: string[];
  /** walk_end as a page index: where output stopped (max_pages), else pages.length */
  walkEnd: number;
  /** the query had an output vector: `cats` is what it held (else every page reads `---------`) */
  vec: boolean;
  /** per input page, the rules that decided it (only when asked: `pagemapScan(input, true)`) */
  why?: ScanPageWhy[];
}

/**
 * Per-page provenance of one scan (asked for by the check's attribution pass only): which rule
 * decided each category letter, whether the page is reported, and whether and how it is armed.
 * A divergence then names the rule of the page it is on, not the first rule of the scan
 * (src/check/scan-rules.ts).
 */
export interface ScanPageWhy {
  /** per category letter (SCAN_CATEGORY_LETTERS order), the rule that decided its value: the VMA's
   *  (R-PMS-1.vmacat: WPALLOWED, and SOFT_DIRTY of a VM_SOFTDIRTY VMA), the entry's category rule
   *  (R-PMS-2.*), the WRITTEN fast path's (R-PMS-3.fast), or the 7.3 gate (R-PMS-2.uffdonly);
   *  '' where the walk never looked */
  cats: readonly string[];
  /** the rule that decided whether the page is reported: the mask test (R-PMS-3.masks, or the
   *  WRITTEN fast path's R-PMS-3.fast), the VMA gate (R-PMS-1.*), max_pages or the walk stopping
   *  before it (R-PMS-7), a backed-out hugetlb page (R-HTLB-10); with no output vector nothing is */
  report: string;
  /** the category letter the mask test turned on (reported: one whose loss would have excluded it;
   *  not reported: one that excluded it), tracked bits first (WRITTEN, SOFT_DIRTY); and its value */
  by?: { letter: string; value: boolean };
  /** under WP_MATCHING, the rule that decided whether the walk arms the page and how: R-PMS-4
   *  (the exclusive-WP fast path, where the masks would not have armed it), R-PMS-3.generic or
   *  R-PMS-3.fast (armed as reported WRITTEN), R-PMS-9 (a guard marker armed), R-PMS-6 (a hole),
   *  R-PMS-5.* (a huge PMD); not armed: the rule of what excluded it */
  arm?: string;
  /** for a scan that failed (it reports nothing), the letter the mask test had turned on (`by`)
   *  before the failure: the arming done by then stays (R-PMS-1.eperm) */
  armedBy?: { letter: string; value: boolean };
  /** armed by the exclusive-WP fast path although the masks exclude it (what R-PMS-4 alone decides) */
  pastMasks?: true;
}

// ---------------------------------------------------------------------------------------------
// Rule catalogue

export interface ScanRule { id: string; text: string; source: string }

const TM = 'fs/proc/task_mmu.c';
export const SCAN_RULES: readonly ScanRule[] = [
  { id: 'R-PMS-1', text: 'PAGEMAP_SCAN gates every VMA before walking it: a VMA whose ctx lacks WP_ASYNC or that is not VM_UFFD_WP is not wp_allowed; with CHECK_WPASYNC the ioctl fails there with EPERM, with WP_MATCHING alone it is skipped, otherwise it is walked', source: `${TM} pagemap_scan_test_walk` },
  { id: 'R-PMS-1.eperm', text: 'CHECK_WPASYNC meeting a non-wp_allowed VMA returns EPERM; write-protection already applied to earlier VMAs stays; the caller gets no categories', source: `${TM} pagemap_scan_test_walk, do_pagemap_scan` },
  { id: 'R-PMS-1.vmacat', text: 'every page of a walked VMA carries the VMA categories: WPALLOWED iff wp_allowed (VM_UFFD_WP and WP_ASYNC ctx), SOFT_DIRTY iff VM_SOFTDIRTY', source: `${TM} pagemap_scan_test_walk` },
  { id: 'R-PMS-1.gap', text: 'addresses outside any VMA are never reported, counted against max_pages, or armed', source: `${TM} pagemap_scan_pte_hole (no vma)` },
  { id: 'R-PMS-2.none', text: 'a pte_none is WRITTEN (no marker = not write-protected) in any VMA with V_SCAN_NONE_WRITTEN (before: no category); with V_SCAN_WRITTEN_UFFD_ONLY only in VM_UFFD_WP VMAs', source: `${TM} pagemap_page_category` },
  { id: 'R-PMS-2.present', text: 'a present PTE is PRESENT; WRITTEN iff its uffd-wp bit is clear; FILE iff it maps a normal non-anon page (never the zero page); PFNZERO iff it maps the 4K zero page; SOFT_DIRTY iff its soft-dirty bit', source: `${TM} pagemap_page_category` },
  { id: 'R-PMS-2.swap', text: 'an anon swap PTE is SWAPPED; WRITTEN iff its swp uffd-wp bit is clear; SOFT_DIRTY iff its swp soft-dirty bit; never FILE', source: `${TM} pagemap_page_category` },
  { id: 'R-PMS-2.marker', text: 'a uffd-wp marker is SWAPPED and never WRITTEN (so never re-armed); SOFT_DIRTY iff its swp soft-dirty bit', source: `${TM} pagemap_page_category (pte_swp_uffd_wp_any)` },
  { id: 'R-PMS-2.guard', text: 'a guard marker is SWAPPED|GUARD, WRITTEN iff no swp uffd-wp bit has been set on it (V_GUARD, 6.15+)', source: `${TM} pagemap_page_category (6.15+)` },
  { id: 'R-PMS-2.thp', text: 'a huge PMD is HUGE|PRESENT for all its pages; WRITTEN iff the PMD uffd-wp bit is clear; FILE iff a non-anon folio (not the huge zero folio); PFNZERO iff the huge zero folio (V_PFNZERO_HUGE); SOFT_DIRTY iff the PMD soft-dirty bit', source: `${TM} pagemap_thp_category` },
  { id: 'R-PMS-2.hole', text: 'a range with no PTE table inside a VMA carries only the VMA categories, plus WRITTEN when V_SCAN_HOLE_WRITTEN and the VMA is VM_UFFD_WP (non-hugetlb)', source: `${TM} pagemap_scan_pte_hole` },
  { id: 'R-PMS-2.uffdonly', text: 'with V_SCAN_WRITTEN_UFFD_ONLY, WRITTEN is withheld from every page of a VMA that is not VM_UFFD_WP', source: `${TM} pagemap_page_category (7.3)` },
  { id: 'R-PMS-3.generic', text: 'with an output buffer and category_mask WRITTEN the generic PTE path runs: only pages whose categories include WRITTEN are reported, and under WP_MATCHING each reported page is armed (present/swap/guard: uffd-wp bit set; pte_none: uffd-wp marker); already-protected entries are not WRITTEN and are left alone', source: `${TM} pagemap_scan_pmd_entry, make_uffd_wp_pte` },
  { id: 'R-PMS-5.whole', text: 'under WP_MATCHING a WRITTEN huge PMD whose whole 2 MiB is reported is write-protected in place (stays huge)', source: `${TM} pagemap_scan_thp_entry, make_uffd_wp_pmd` },
  { id: 'R-PMS-5.split', text: 'under WP_MATCHING a WRITTEN huge PMD only partly reported (range edge or max_pages) is split, its output backed out, and the range redone at PTE level (a non-anon PMD split leaves a hole, handled as a hole)', source: `${TM} pagemap_scan_thp_entry, pagemap_scan_backout_range; mm/huge_memory.c __split_huge_pmd_locked` },
  { id: 'R-PMS-6', text: 'under WP_MATCHING a reported hole is armed with uffd_wp_range over the reported part: a PTE table is allocated for each 2 MiB block and a uffd-wp marker installed in every reported slot', source: `${TM} pagemap_scan_pte_hole; mm/mprotect.c change_pmd_prepare, change_pte_range` },
  { id: 'R-PMS-1.skip', text: 'with WP_MATCHING but without CHECK_WPASYNC a VMA that is not wp_allowed is skipped silently; a VMA whose categories (XOR category_inverted) lack the WPALLOWED bit category_mask asks for is skipped', source: `${TM} pagemap_scan_test_walk, pagemap_scan_is_interesting_vma` },
  { id: 'R-PMS-3.masks', text: 'a page is interesting iff (categories XOR category_inverted) has every bit of category_mask and, when category_anyof_mask is set, one of its bits; it is reported with categories AND return_mask', source: `${TM} pagemap_scan_is_interesting_page, pagemap_scan_output` },
  { id: 'R-PMS-3.fast', text: 'with category_mask = return_mask = WRITTEN and no anyof or inverted mask, PTE tables take the WRITTEN fast path: every entry not write-protected (present wp bit, swp uffd-wp bit, uffd-wp marker) is reported WRITTEN (whatever else it is) and armed under WP_MATCHING', source: `${TM} pagemap_scan_pmd_entry` },
  { id: 'R-PMS-4', text: 'WP_MATCHING without an output vector takes the exclusive-WP fast path in PTE tables: every entry not already write-protected is armed, whatever the category masks; nothing is reported and max_pages never binds', source: `${TM} pagemap_scan_pmd_entry, pagemap_scan_output (no vec_buf)` },
  { id: 'R-PMS-11', text: 'a category mask (category_mask, category_inverted, category_anyof_mask, return_mask) with a bit the kernel does not know, GUARD before 6.15, fails with EINVAL before any walk; without a return_mask every category the kernel knows is returned', source: `${TM} pagemap_scan_get_args (PM_SCAN_CATEGORIES)` },
  { id: 'R-PMS-10', text: 'walk_end is where the walk stopped reporting (the truncation point of max_pages), else the end of the range', source: `${TM} do_pagemap_scan, pagemap_scan_output` },
  { id: 'R-PMS-7', text: 'max_pages: the range that would exceed it is truncated to fit and the walk stops there (walk_end); only reported pages count, and the walk goes on while no further page is reported', source: `${TM} pagemap_scan_output, do_pagemap_scan` },
  { id: 'R-PMS-8', text: 'PAGEMAP_SCAN never changes soft-dirty bits and never clears uffd-wp; it only sets wp, installs markers and page tables, and splits THPs', source: `${TM} make_uffd_wp_pte, make_uffd_wp_pmd` },
  { id: 'R-PMS-9', text: 'arming a guard marker sets its swp uffd-wp bit (pagemap then reads wp=1 there and the scan no longer reports it WRITTEN)', source: `${TM} make_uffd_wp_pte` },
];

// ---------------------------------------------------------------------------------------------
// Split rule used for the PTE-level redo (x86-semantics.md §7.4)

/**
 * Default post-split 4 KiB entry of a huge PMD (mm/huge_memory.c `__split_huge_pmd_locked`):
 * non-anon VMA → the PMD is cleared, no PTEs (R-SPLIT-3) → `hole`;
 * huge zero → zero-page PTE keeping only wp (`__split_huge_zero_page_pmd`, R-SPLIT-2);
 * anon THP → present PTE with the PMD's wp, and sd = PMD sd OR PMD dirty (x86 pte_mkdirty also sets
 * soft-dirty; anon THP PMDs are always dirty here, so sd = 1 whenever soft-dirty is built in, R-SPLIT-1).
 */
export function defaultSplitEntry(huge: HugeEntry, vma: ScanVma, knobs: ScanKnobs): ScanEntry {
  if (!vma.anon) return { kind: 'hole' };
  if (huge.hugeZero) return { kind: 'present', wp: huge.wp, sd: false, file: false, zero: true };
  return { kind: 'present', wp: huge.wp, sd: knobs.memSoftDirty !== false, file: false, zero: false };
}

// ---------------------------------------------------------------------------------------------
// The walk

/** the provenance of a page the walk never looked at (shared, never mutated) */
const EMPTY_WHY: readonly string[] = SCAN_CATEGORY_LETTERS.map(() => '');
/** which category the mask test is said to turn on when several do: the tracked ones first */
const LETTER_PRIORITY = [PAGE_IS_WRITTEN, PAGE_IS_SOFT_DIRTY, PAGE_IS_WPALLOWED, PAGE_IS_FILE, PAGE_IS_PRESENT, PAGE_IS_SWAPPED, PAGE_IS_PFNZERO, PAGE_IS_HUGE, PAGE_IS_GUARD];
const letterOf = (bit: number) => SCAN_CATEGORY_LETTERS[31 - Math.clz32(bit)]!;
/** the category rule of an entry in a PTE table (pagemap_page_category's branches) */
const PTE_CATEGORY_RULE: Record<string, string> = { none: 'R-PMS-2.none', present: 'R-PMS-2.present', swap: 'R-PMS-2.swap', marker: 'R-PMS-2.marker', guard: 'R-PMS-2.guard' };

/** the walk ends (max_pages reached): thrown out of the walk, caught by pagemapScan. Not an Error:
 *  nothing reads its stack, and capturing one made every truncated scan pay for it */
class Stop {}
/** mutant B-32: the kernel dereferences a NULL pointer in the ioctl (the task is killed) */
class Oops {}

/** PAGEMAP_SCAN of the given range (x86-semantics.md §3; fs/proc/task_mmu.c `do_pagemap_scan`). */
export function pagemapScan(input: ScanInput, explain = false): ScanResult {
  return new ScanWalk(input, explain).run();
}

/** One PAGEMAP_SCAN walk: the query and the output so far as fields, the kernel's helpers as
 *  methods (not closures made for every scan: tsx wraps each named closure in a __name call,
 *  and the model scans after nearly every scan op of a case). */
class ScanWalk {
  readonly pages: readonly ScanPage[];
  readonly query: ScanQuery;
  readonly knobs: ScanKnobs;
  readonly firstPage: number;
  readonly PMD_PAGES: number;
  readonly splitEntry: NonNullable<ScanInput['splitEntry']>;
  readonly n: number;
  readonly rules = new Set<string>();
  readonly vec: boolean;
  /** without an output vector nothing counts against max_pages (pagemap_scan_output returns at once) */
  readonly maxPages: number;
  readonly mask: number;
  readonly inv: number;
  readonly anyof: number;
  readonly guardOn: boolean;
  readonly allCats: number;
  /** no return_mask: every category this kernel knows (GUARD from 6.15) */
  readonly ret: number;
  readonly checkWpasync: boolean | undefined;
  /** without CONFIG_MEM_SOFT_DIRTY no entry or VMA is ever SOFT_DIRTY, also for the category
   *  masks (a host setting: the check takes it from the trace's soft_dirty capability) */
  readonly sdBuilt: boolean;
  readonly SD: number;
  readonly cats: (number | null)[];
  readonly actions: ScanAction[] = [];
  found = 0;
  walkEnd: number;
  /** provenance (explain only): a page the walk never reached was cut off by max_pages (R-PMS-7) */
  readonly why: ScanPageWhy[] | undefined;
  /** the last output() truncated the range (max_pages): the walk ends after the caller's handling */
  stopped = false;

  constructor(input: ScanInput, explain: boolean) {
    const query = input.query, knobs = input.knobs;
    this.pages = input.pages; this.query = query; this.knobs = knobs; this.firstPage = input.firstPage;
    this.PMD_PAGES = input.pmdPages ?? 512;
    this.splitEntry = input.splitEntry ?? defaultSplitEntry;
    const n = this.n = input.pages.length;
    const vec = this.vec = query.vec !== false;
    this.maxPages = vec && query.maxPages && query.maxPages > 0 ? query.maxPages : Infinity;
    this.mask = query.mask ?? (query.wpMatching ? PAGE_IS_WRITTEN : 0);
    this.inv = query.inverted ?? 0;
    this.anyof = query.anyof ?? 0;
    this.guardOn = knobs.guard !== false;
    this.allCats = this.guardOn ? PAGE_CATS_ALL : PAGE_CATS_ALL & ~PAGE_IS_GUARD;
    this.ret = query.ret ?? this.allCats;
    this.checkWpasync = query.checkWpasync ?? query.wpMatching;
    if (this.mask !== (query.wpMatching ? PAGE_IS_WRITTEN : 0) || this.inv || this.anyof || this.ret !== this.allCats) this.rules.add('R-PMS-3.masks');
    if (!vec) this.rules.add('R-PMS-10'); // walk_end: the range's end, whatever max_pages says
    this.sdBuilt = knobs.memSoftDirty !== false;
    this.SD = this.sdBuilt ? PAGE_IS_SOFT_DIRTY : 0;
    this.cats = new Array<number | null>(n).fill(null);
    this.walkEnd = n;
    this.why = explain
      ? Array.from({ length: n }, () => (query.wpMatching ? { cats: EMPTY_WHY, report: 'R-PMS-7', arm: 'R-PMS-7' } : { cats: EMPTY_WHY, report: 'R-PMS-7' }))
      : undefined;
  }

  blockOf(i: number): number { return Math.floor((this.firstPage + i) / this.PMD_PAGES); }

  finish(rc: ScanResult['rc']): ScanResult {
    // an ioctl that fails reports nothing: its failing rule decided every page
    // (the letter that decided a page already armed is kept as armedBy: its arming stays)
    if (this.why && rc !== 0) { const r = rc === 'EPERM' ? 'R-PMS-1.eperm' : rc === 'EINVAL' ? 'R-PMS-11' : 'R-PMS-5.split'; for (const w of this.why) { w.report = r; if (w.by) w.armedBy = w.by; delete w.by; } }
    return {
      rc,
      cats: this.cats.map((c) => (rc !== 0 || c === null ? NOT_REPORTED : categoryString(this.sdBuilt ? c : c & ~PAGE_IS_SOFT_DIRTY))),
      actions: this.actions,
      rules: [...this.rules].sort(),
      walkEnd: rc === 0 ? this.walkEnd : this.n,
      vec: this.vec,
      ...(this.why ? { why: this.why } : {}),
    };
  }

  // task_mmu.c pagemap_scan_is_interesting_page (R-PMS-3.masks)
  interesting(c: number) {
    const x = c ^ this.inv;
    return (x & this.mask) === this.mask && (!this.anyof || (x & this.anyof) !== 0);
  }

  // the entry is write-protected, as the fast paths test it (pte_uffd_wp / pte_swp_uffd_wp_any)
  isWp(e: ScanEntry): boolean {
    return e.kind === 'marker' ||
      ((e.kind === 'present' || e.kind === 'guard' || (e.kind === 'swap' && !this.query.fastPathSwapConfusion)) && e.wp);
  }

  // task_mmu.c pagemap_scan_output: report [s, e) truncated to max_pages; returns the reported end.
  // Truncation (or nothing left to report) ends the walk after the caller's own handling (R-PMS-7).
  output(c: number, s: number, e: number): number {
    this.stopped = false;
    if (!this.vec) return e;
    let end = e;
    let stop = false;
    if (this.found + (e - s) > this.maxPages) {
      end = s + (this.maxPages - this.found);
      stop = true;
      this.walkEnd = end;
      this.rules.add('R-PMS-7');
      this.rules.add('R-PMS-10');
    }
    for (let i = s; i < end; i++) this.cats[i] = c & this.ret;
    this.found += end - s;
    this.stopped = stop;
    return end;
  }

  withheld(vma: ScanVma, c: number): boolean { return this.knobs.scanWrittenUffdOnly && !vma.uffdWp && (c & PAGE_IS_WRITTEN) !== 0; }
  writtenGate(vma: ScanVma, c: number) {
    if (this.withheld(vma, c)) {
      this.rules.add('R-PMS-2.uffdonly');
      return c & ~PAGE_IS_WRITTEN;
    }
    return c;
  }

  // task_mmu.c pagemap_page_category (R-PMS-2.*)
  pteCategory(e: ScanEntry): number {
    const rule = PTE_CATEGORY_RULE[e.kind];
    if (rule) this.rules.add(rule);
    return this.pteCategoryOf(e);
  }
  // the same without recording the rule (the provenance's what-if of the exclusive-WP fast path)
  pteCategoryOf(e: ScanEntry): number {
    switch (e.kind) {
      case 'none':
        return this.knobs.scanNoneWritten ? PAGE_IS_WRITTEN : 0;
      case 'present': {
        let c = PAGE_IS_PRESENT;
        if (!e.wp) c |= PAGE_IS_WRITTEN;
        if (e.file && !e.zero) c |= PAGE_IS_FILE; // vm_normal_page() is NULL for the zero page
        if (e.zero) c |= PAGE_IS_PFNZERO;
        if (e.sd) c |= this.SD;
        return c;
      }
      case 'swap': {
        let c = PAGE_IS_SWAPPED;
        if (!e.wp) c |= PAGE_IS_WRITTEN;
        if (e.sd) c |= this.SD; // a swap entry carries no pfn: never FILE
        return c;
      }
      case 'marker':
        return PAGE_IS_SWAPPED | (e.sd ? this.SD : 0);
      case 'guard':
        if (!this.guardOn) throw new Error('pagemapScan: a guard marker on a kernel without guard regions (knobs.guard false)');
        return PAGE_IS_SWAPPED | PAGE_IS_GUARD | (e.wp ? 0 : PAGE_IS_WRITTEN) | (e.sd ? this.SD : 0);
      default:
        throw new Error(`pagemapScan: entry kind "${e.kind}" inside a PTE table`);
    }
  }

  // task_mmu.c pagemap_thp_category (R-PMS-2.thp)
  thpCategory(h: HugeEntry): number {
    this.rules.add('R-PMS-2.thp');
    let c = PAGE_IS_HUGE | PAGE_IS_PRESENT;
    if (!h.wp) c |= PAGE_IS_WRITTEN;
    if (h.file && !h.hugeZero) c |= PAGE_IS_FILE; // vm_normal_page_pmd() is NULL for the huge zero folio
    if (h.hugeZero && this.knobs.pfnZeroHuge) c |= PAGE_IS_PFNZERO;
    if (h.sd) c |= this.SD;
    return c;
  }

  // --- provenance (explain only; never records a rule or changes the walk) ---
  // the letter the mask test turned on for categories c (pagemap_scan_is_interesting_page): reported,
  // a category_mask bit (or the only category_anyof_mask bit present) whose loss would exclude it;
  // not reported, a category_mask bit missing (else the anyof mask)
  decidingBit(c: number): number | undefined {
    const x = c ^ this.inv;
    let cands: number;
    if (this.interesting(c)) { const any = x & this.anyof; cands = this.mask | (any && (any & (any - 1)) === 0 ? any : 0); }
    else cands = (this.mask & ~x) || this.anyof;
    return LETTER_PRIORITY.find((b) => (cands & b) !== 0);
  }
  /** page i's categories: `raw` before the 7.3 WRITTEN gate, `entry` the rule of its entry's
   *  categories; the this.mask test decided its reporting (R-PMS-3.masks, or `report`) */
  explainPage(i: number, vma: ScanVma, raw: number, entry: string, report = 'R-PMS-3.masks') {
    const w = this.why![i]!;
    // the WRITTEN fast path never applies the 7.3 gate
    const gated = report !== 'R-PMS-3.fast' && this.withheld(vma, raw);
    w.cats = SCAN_CATEGORY_LETTERS.map((_, b) => {
      const bit = 1 << b;
      if (bit === PAGE_IS_WPALLOWED || (bit === PAGE_IS_SOFT_DIRTY && vma.softDirty && this.sdBuilt)) return 'R-PMS-1.vmacat';
      if (bit === PAGE_IS_WRITTEN && gated) return 'R-PMS-2.uffdonly';
      return entry;
    });
    const c = gated ? raw & ~PAGE_IS_WRITTEN : raw;
    w.report = report;
    // the WRITTEN fast path reports by WRITTEN alone; other paths that report, by the mask test
    const bit = report === 'R-PMS-3.masks' ? this.decidingBit(c) : report === 'R-PMS-3.fast' ? PAGE_IS_WRITTEN : undefined;
    if (bit) w.by = { letter: letterOf(bit), value: (c & bit) !== 0 }; else delete w.by;
    return w;
  }
  /** the rule that kept page i from being armed: its deciding letter's, else its report rule */
  notArmed(i: number) {
    const w = this.why![i]!;
    w.arm = w.by ? w.cats[scanLetterIndex(w.by.letter)] : w.report;
  }
  /** this.pages [from, to) were cut off by max_pages: not reported, nor armed (R-PMS-7) */
  cutOff(from: number, to: number) {
    for (let i = from; i < to; i++) { const w = this.why![i]!; w.report = 'R-PMS-7'; delete w.by; if (this.query.wpMatching) w.arm = 'R-PMS-7'; }
  }

  // task_mmu.c pagemap_scan_pte_hole (R-PMS-2.hole, R-PMS-6). Holes are handled per 2 MiB block; the
  // kernel may get one call for a larger (PUD-level) hole, which reports and arms the same pages.
  walkHole(vma: ScanVma, vmaCat: number, s: number, e: number) {
    this.rules.add('R-PMS-2.hole');
    let c = vmaCat;
    const raw = this.knobs.scanHoleWritten && vma.uffdWp ? c | PAGE_IS_WRITTEN : c;
    if (this.knobs.scanHoleWritten && vma.uffdWp) c = this.writtenGate(vma, c | PAGE_IS_WRITTEN);
    if (this.why) for (let i = s; i < e; i++) { this.explainPage(i, vma, raw, 'R-PMS-2.hole'); if (this.query.wpMatching) this.notArmed(i); }
    if (!this.interesting(c)) return;
    const end = this.output(c, s, e);
    if (this.why) { this.cutOff(end, e); if (this.query.wpMatching) for (let i = s; i < end; i++) this.why[i]!.arm = 'R-PMS-6'; }
    if (end > s && this.query.wpMatching) {
      // uffd_wp_range -> change_protection(MM_CP_UFFD_WP): wp_allowed implies markers are used, so
      // the PTE table is allocated and a marker installed in each reported slot.
      this.rules.add('R-PMS-6');
      this.actions.push({ kind: 'pgtable', block: this.blockOf(s) });
      for (let i = s; i < end; i++) this.actions.push({ kind: 'marker', page: i });
    }
    if (this.stopped) throw new Stop();
  }

  // task_mmu.c pagemap_scan_pmd_entry, generic loop (R-PMS-3.generic)
  arm(ent: ScanEntry, i: number) {
    if (ent.kind === 'none') this.actions.push({ kind: 'marker', page: i });
    else {
      if (ent.kind === 'guard') { this.rules.add('R-PMS-9'); if (this.query.armSkipsGuard) return; }
      this.actions.push({ kind: 'wp-pte', page: i });
    }
  }
  /** pages [s, e) of a PTE table: each page's own entry, or `only` for every page (the entries a
   *  huge PMD's split leaves) */
  walkPtes(vma: ScanVma, vmaCat: number, s: number, e: number, only?: ScanEntry) {
    if (this.query.wpMatching && !this.vec && !this.query.exclusiveWpHonoursMasks) {
      // R-PMS-4: exclusive-WP fast path, no category test at all
      this.rules.add('R-PMS-4');
      for (let i = s; i < e; i++) {
        const ent = only ?? this.pages[i].entry;
        if (this.why) {
          // armed by this path whatever the masks (R-PMS-4) where the masks would not have armed the
          // page; where they would have, a guard marker is armed as the other paths arm it (R-PMS-9)
          const raw = vmaCat | this.pteCategoryOf(ent);
          const c = this.withheld(vma, raw) ? raw & ~PAGE_IS_WRITTEN : raw;
          const w = this.explainPage(i, vma, raw, PTE_CATEGORY_RULE[ent.kind]!, 'R-PMS-4');
          const masksArm = this.interesting(c) && (c & PAGE_IS_WRITTEN) !== 0;
          w.arm = !this.isWp(ent) && ent.kind === 'guard' && masksArm ? 'R-PMS-9' : 'R-PMS-4';
          if (!this.isWp(ent) && !masksArm) w.pastMasks = true;
        }
        if (!this.isWp(ent)) this.arm(ent, i);
      }
      return;
    }
    if (!this.anyof && !this.inv && this.mask === PAGE_IS_WRITTEN && this.ret === PAGE_IS_WRITTEN) {
      // R-PMS-3.fast: WRITTEN fast path, the entry's other categories never computed
      this.rules.add('R-PMS-3.fast');
      for (let i = s; i < e; i++) {
        const ent = only ?? this.pages[i].entry;
        // the fast path tests write-protection alone: it decides WRITTEN, reporting and arming
        if (this.why) {
          const w = this.explainPage(i, vma, vmaCat | (this.isWp(ent) ? 0 : PAGE_IS_WRITTEN), 'R-PMS-3.fast', 'R-PMS-3.fast');
          if (this.query.wpMatching) w.arm = !this.isWp(ent) && ent.kind === 'guard' ? 'R-PMS-9' : 'R-PMS-3.fast';
        }
        if (this.isWp(ent)) continue;
        const end = this.output(vmaCat | PAGE_IS_WRITTEN, i, i + 1);
        if (end === i) { if (this.why) this.cutOff(i, i + 1); throw new Stop(); }
        if (this.query.wpMatching) this.arm(ent, i);
        if (this.stopped) throw new Stop();
      }
      return;
    }
    for (let i = s; i < e; i++) {
      const ent = only ?? this.pages[i].entry;
      const raw = vmaCat | this.pteCategory(ent);
      const c = this.writtenGate(vma, raw);
      if (this.why) {
        const w = this.explainPage(i, vma, raw, PTE_CATEGORY_RULE[ent.kind]!);
        // armed as reported WRITTEN (a guard marker: R-PMS-9), else kept by what excluded it or its WRITTEN
        if (this.query.wpMatching) { if (!this.interesting(c)) this.notArmed(i); else w.arm = c & PAGE_IS_WRITTEN ? (ent.kind === 'guard' ? 'R-PMS-9' : 'R-PMS-3.generic') : w.cats[1]; }
      }
      if (!this.interesting(c)) continue;
      const end = this.output(c, i, i + 1);
      if (end === i) { if (this.why) this.cutOff(i, i + 1); throw new Stop(); }
      if (this.query.wpMatching && c & PAGE_IS_WRITTEN) {
        this.rules.add('R-PMS-3.generic');
        this.arm(ent, i);
      }
      if (this.stopped) throw new Stop();
    }
  }

  // task_mmu.c pagemap_scan_thp_entry (R-PMS-5.*), falling back to the PTE level after a split
  walkThp(vma: ScanVma, vmaCat: number, s: number, e: number, h: HugeEntry) {
    const raw = vmaCat | this.thpCategory(h);
    const c = this.writtenGate(vma, raw);
    if (this.why) {
      for (let i = s; i < e; i++) {
        const w = this.explainPage(i, vma, raw, 'R-PMS-2.thp');
        if (this.query.wpMatching) { if (!this.interesting(c)) this.notArmed(i); else w.arm = c & PAGE_IS_WRITTEN ? 'R-PMS-5.whole' : w.cats[1]; }
      }
    }
    if (!this.interesting(c)) return;
    const end = this.output(c, s, e);
    if (this.why) this.cutOff(end, e);
    if (end === s) throw new Stop();
    if (this.query.wpMatching && c & PAGE_IS_WRITTEN) {
      const block = this.blockOf(s);
      const whole = (this.firstPage + s) % this.PMD_PAGES === 0 && end - s === this.PMD_PAGES;
      if (whole) {
        this.rules.add('R-PMS-5.whole');
        this.actions.push({ kind: 'wp-pmd', block });
      } else {
        this.rules.add('R-PMS-5.split');
        if (this.why) for (let i = s; i < e; i++) this.why[i]!.arm = 'R-PMS-5.split';
        this.actions.push({ kind: 'split-pmd', block });
        // pagemap_scan_backout_range: the partial output is withdrawn (nothing to withdraw without an
        // output vector), then the PMD range is redone
        if (!this.vec && this.query.backoutNullDeref) throw new Oops();
        if (this.vec) {
          for (let i = s; i < end; i++) this.cats[i] = null;
          this.found -= end - s;
        }
        // walk_end keeps the truncation point set above (the kernel never clears it); the redo
        // truncates at the same page again unless the split left an uninteresting hole.
        const after = this.splitEntry(h, vma, this.knobs);
        if (after.kind === 'hole') this.walkHole(vma, vmaCat, s, e); // pte table gone: ACTION_AGAIN -> pte_hole
        else this.walkPtes(vma, vmaCat, s, e, after);
        return;
      }
    }
    if (this.stopped) throw new Stop();
  }

  // a hugetlb page's categories are pagemap_hugetlb_category's (R-HTLB-10), the VMA's aside
  explainHugetlb(s: number, e: number, c: number) {
    for (let i = s; i < e; i++) {
      const vma = this.pages[i]!.vma!;
      const w = this.explainPage(i, vma, c, 'R-HTLB-10');
      if (this.query.wpMatching) { if (!this.interesting(c)) this.notArmed(i); else w.arm = c & PAGE_IS_WRITTEN ? 'R-HTLB-10' : w.cats[1]; }
    }
  }

  // task_mmu.c pagemap_scan_hugetlb_entry / pagemap_hugetlb_category, and pagemap_scan_pte_hole for
  // a hugetlb hole (R-HTLB-10): one call per huge page (clipped to the range and VMA)
  walkHugetlb(vmaCat: number, s: number, e: number, h: Extract<ScanEntry, { kind: 'hugetlb' }>) {
    this.rules.add('R-HTLB-10');
    const block = this.blockOf(s);
    if (h.state === 'hole') {
      // "hugetlb differs": an unpopulated hugetlb range is not WRITTEN
      if (this.why) this.explainHugetlb(s, e, vmaCat);
      if (!this.interesting(vmaCat)) return;
      const end = this.output(vmaCat, s, e);
      if (this.why) this.cutOff(end, e);
      if (end > s && this.query.wpMatching) this.actions.push({ kind: 'htlb-marker', block });
      if (this.stopped) throw new Stop();
      return;
    }
    let c = vmaCat | PAGE_IS_HUGE;
    if (h.state === 'present') {
      c |= PAGE_IS_PRESENT;
      if (!h.wp) c |= PAGE_IS_WRITTEN;
      if (h.file) c |= PAGE_IS_FILE;
      if (h.sd) c |= this.SD;
    } else if (h.state === 'marker') c |= PAGE_IS_SWAPPED;
    if (this.why) this.explainHugetlb(s, e, c);
    if (!this.interesting(c)) return;
    const end = this.output(c, s, e);
    if (this.why) this.cutOff(end, e);
    if (end === s) throw new Stop();
    if (this.query.wpMatching && c & PAGE_IS_WRITTEN) {
      const whole = (this.firstPage + s) % this.PMD_PAGES === 0 && end - s === this.PMD_PAGES && !this.query.hugetlbSizeMismatch;
      if (!whole) {
        // partial HugeTLB page WP isn't possible: backed out, walk_end = start, and the walk goes on
        if (this.vec) { for (let i = s; i < end; i++) this.cats[i] = null; this.found -= end - s; }
        if (this.why) for (let i = s; i < e; i++) { const w = this.why[i]!; w.report = 'R-HTLB-10'; delete w.by; w.arm = 'R-HTLB-10'; }
        this.walkEnd = s;
        return;
      }
      this.actions.push({ kind: 'htlb-wp', block });
    }
    if (this.stopped) throw new Stop();
  }

  /** this.pages [from, to) of a VMA the walk skips (R-PMS-1.skip): by its WP-allowed decision, or by its
   *  WPALLOWED category (`vmaCat`) against category_mask */
  skipped(from: number, to: number, vmaCat?: number) {
    for (let k = from; k < to; k++) {
      const w = this.why![k]!;
      w.report = 'R-PMS-1.skip';
      if (vmaCat !== undefined) { w.cats = SCAN_CATEGORY_LETTERS.map(() => 'R-PMS-1.vmacat'); w.by = { letter: 'a', value: (vmaCat & PAGE_IS_WPALLOWED) !== 0 }; }
      if (this.query.wpMatching) w.arm = 'R-PMS-1.skip';
    }
  }

  run(): ScanResult {
    if (!this.guardOn && (this.mask | this.inv | this.anyof | this.ret) & PAGE_IS_GUARD) { this.rules.add('R-PMS-11'); return this.finish('EINVAL'); }
    try {
      let i = 0;
      while (i < this.n) {
        const vma = this.pages[i].vma;
        // extent of this VMA (or gap) within the range
        let j = i + 1;
        while (j < this.n && (this.pages[j].vma?.id ?? null) === (vma?.id ?? null)) j++;
        if (vma === null) {
          for (let k = i; k < j; k++) {
            if (this.pages[k].entry.kind !== 'gap') throw new Error(`pagemapScan: page ${k} has no VMA but entry "${this.pages[k].entry.kind}"`);
          }
          this.rules.add('R-PMS-1.gap');
          if (this.why) for (let k = i; k < j; k++) { this.why[k]!.report = 'R-PMS-1.gap'; if (this.query.wpMatching) this.why[k]!.arm = 'R-PMS-1.gap'; }
          i = j;
          continue;
        }

        // pagemap_scan_test_walk (R-PMS-1)
        this.rules.add('R-PMS-1');
        const wpAllowed = vma.uffdWp && vma.wpAsync;
        if (!wpAllowed && this.checkWpasync) {
          this.rules.add('R-PMS-1.eperm');
          return this.finish('EPERM');
        }
        if (!wpAllowed && this.query.wpMatching) { this.rules.add('R-PMS-1.skip'); if (this.why) this.skipped(i, j); i = j; continue; }
        this.rules.add('R-PMS-1.vmacat');
        const vmaCat = (wpAllowed ? PAGE_IS_WPALLOWED : 0) | (vma.softDirty ? this.SD : 0);
        // pagemap_scan_is_interesting_vma: only the WPALLOWED bit of category_mask is tested here
        const required = this.mask & PAGE_IS_WPALLOWED;
        if (((vmaCat ^ this.inv) & required) !== required) { this.rules.add('R-PMS-1.skip'); if (this.why) this.skipped(i, j, vmaCat); i = j; continue; }

        // walk_pmd_range: one 2 MiB block (clipped to VMA and range) at a time
        let s = i;
        while (s < j) {
          const blockEnd = (this.blockOf(s) + 1) * this.PMD_PAGES - this.firstPage;
          const e = Math.min(j, blockEnd);
          const first = this.pages[s].entry;
          for (let k = s; k < e; k++) {
            const ek = this.pages[k].entry;
            if (ek.kind === 'gap') throw new Error(`pagemapScan: page ${k} is in VMA ${vma.id} but has entry "gap"`);
            const levelMismatch =
              first.kind === 'hole' || first.kind === 'huge' ? ek.kind !== first.kind : ek.kind === 'hole' || ek.kind === 'huge';
            if (levelMismatch) throw new Error(`pagemapScan: 2 MiB block ${this.blockOf(s)} mixes "${first.kind}" and "${ek.kind}" entries`);
            if (first.kind === 'huge' && ek.kind === 'huge' &&
                (ek.wp !== first.wp || ek.sd !== first.sd || ek.file !== first.file || ek.hugeZero !== first.hugeZero)) {
              throw new Error(`pagemapScan: pages of the huge PMD of block ${this.blockOf(s)} disagree`);
            }
          }
          if (first.kind === 'hugetlb') this.walkHugetlb(vmaCat, s, e, first);
          else if (first.kind === 'hole') this.walkHole(vma, vmaCat, s, e);
          else if (first.kind === 'huge') this.walkThp(vma, vmaCat, s, e, first);
          else this.walkPtes(vma, vmaCat, s, e);
          s = e;
        }
        i = j;
      }
    } catch (err) {
      if (err instanceof Oops) { this.rules.add('R-PMS-5.split'); return this.finish('SIGKILL'); }
      if (!(err instanceof Stop)) throw err;
    }
    if (this.actions.length > 0) this.rules.add('R-PMS-8');
    return this.finish(0);
  }
}
