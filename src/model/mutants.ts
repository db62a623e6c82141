// Mutants: the reference with exactly one rule changed (x86-semantics.md §11). B-n are historical
// kernel bugs, M-n plausible porting slips, D-n data bugs only the content oracle (content.ts)
// sees. Only those the case op set can express are listed; the model checks `mutant === id` at
// the one place the rule is applied.
export interface Mutant { id: string; rule: string; text: string }

export const MUTANTS: Mutant[] = [
  { id: 'B-1', rule: 'R-MERGE-1', text: 'merged VMA takes the modified VMA\'s VM_SOFTDIRTY instead of the OR (pre "propagate VM_SOFTDIRTY on merge")' },
  { id: 'B-2', rule: 'R-MMAP-1', text: 'an mmap that merges into an existing VMA leaves the merged VMA with the neighbour\'s VM_SOFTDIRTY instead of setting it' },
  { id: 'B-3', rule: 'R-MPROT-3', text: 'mprotect RO->RW makes PTEs writable although a soft-dirty fault is needed (pre 76aefad628aa)' },
  { id: 'B-4', rule: 'R-CR-1', text: 'clear_refs leaves shared VMAs without write notification, so refaulted shmem PTEs are writable' },
  { id: 'B-5', rule: 'R-CR-2', text: 'clear_refs clears soft-dirty but forgets to write-protect present PTEs' },
  { id: 'B-10', rule: 'R-FORK-5', text: 'fork keeps the wp bit of swap entries in a child without EVENT_FORK' },
  { id: 'B-11', rule: 'R-FORK-3', text: 'fork keeps the wp bit of present PTEs in a child without EVENT_FORK' },
  { id: 'B-12', rule: 'R-FORK-5', text: 'fork copies uffd-wp markers into a child without EVENT_FORK' },
  { id: 'B-13', rule: 'R-SPLIT-2', text: 'splitting a huge-zero PMD loses its wp bit' },
  { id: 'B-15', rule: 'R-COL-1', text: 'MADV_COLLAPSE ignores wp PTEs and collapses, dropping the protection' },
  { id: 'B-16', rule: 'R-MPROT-3', text: 'shared uffd-wp VMAs lack write notification: mprotect RW makes wp PTEs writable' },
  { id: 'B-18', rule: 'R-UNREG-1', text: 'UFFDIO_UNREGISTER leaves wp bits and markers behind' },
  { id: 'B-19', rule: 'R-CLOSE-1', text: 'close() of a userfaultfd unregisters its VMAs but leaves wp bits and markers behind (pre 6.9 "mm/userfaultfd: reset ptes when close() for wr-protected ones")' },
  { id: 'B-20', rule: 'R-REG-1', text: 'registering a range that starts mid-VMA registers the whole VMA' },
  { id: 'B-21', rule: 'R-MRM-6', text: 'mremap without EVENT_REMAP keeps wp bits and markers in the moved range' },
  { id: 'B-22', rule: 'R-MRM-3', text: 'whole page-table mremap moves ignore the uffd-wp-without-EVENT_REMAP gate' },
  { id: 'B-23', rule: 'R-PMS-3', text: 'PAGEMAP_SCAN\'s PTE fast paths read the uffd-wp bit of a swap entry with the present-PTE helper: a write-protected swap entry is reported WRITTEN by the WRITTEN fast path (pre 6.9 "fs/proc/task_mmu: fix uffd-wp confusion in pagemap_scan_pmd_entry()")' },
  { id: 'B-25', rule: 'R-PMS-2', text: 'PAGEMAP_SCAN never reports PFNZERO for the huge zero page' },
  { id: 'B-26', rule: 'R-SPLIT-5', text: 'a folio split (a PMD THP or a PTE-mapped mTHP folio split by partial MADV_PAGEOUT) remaps zero-filled subpages to the zero page without their soft-dirty and uffd-wp bits (pre 2025 "mm/rmap: fix soft-dirty and uffd-wp bit loss when remapping zero-filled mTHP subpage to shared zeropage", mm/migrate.c try_to_map_unused_to_zeropage)' },
  { id: 'B-40', rule: 'R-PO-2', text: 'reclaim (or the split of R-PO-4) unmaps the PTEs of a large page-cache folio in one batch and installs the uffd-wp marker for the first PTE only: the others of a write-protected shmem folio come back unprotected (pre 2026 "mm: fix uffd-wp bit loss when batching file folio unmapping", and "mm: rmap: skip batched unmapping for UFFD vmas"; mm/rmap.c try_to_unmap_one, folio_unmap_pte_batch)' },
  { id: 'B-27', rule: 'R-PMS-2', text: 'PAGEMAP_SCAN generic path reports pte_none as not written and does not arm it' },
  { id: 'B-28', rule: 'R-PMS-6', text: 'PAGEMAP_SCAN never reports a PMD hole as written nor arms it' },
  { id: 'B-32', rule: 'R-PMS-5', text: 'PAGEMAP_SCAN with WP_MATCHING and no output vector over part of a THP backs out output it never had: a NULL dereference kills the task (pre 2025 "fs/proc/task_mmu: check p->vec_buf for NULL")' },
  { id: 'B-33', rule: 'R-HTLB-10', text: 'PAGEMAP_SCAN\'s hugetlb entry compares the reported range with HPAGE_SIZE, not the VMA\'s huge page size (pre 2026 "fs/proc/task_mmu: use huge_page_size in pagemap_scan_hugetlb_entry"), as where the two differ: a whole written hugetlb page under WP_MATCHING is backed out (not reported, walk_end at its start) instead of write-protected' },
  { id: 'B-30', rule: 'R-SPLIT-1', text: 'an anon PMD split gives PTEs soft-dirty only from the PMD soft-dirty bit, not from its dirty bit (pre-6.0 behaviour)' },
  { id: 'D-1', rule: 'R-DATA-4', text: 'MADV_PAGEOUT reclaims a written shmem page as clean, without writing it to swap: the next fault reads zero (the data loss "fs/proc/task_mmu: fix loss of young/dirty bits during pagemap scan", 6.9, fixed: a shmem page whose dirty bit is lost is dropped by reclaim)' },
  { id: 'D-2', rule: 'R-DATA-5', text: 'swap-in of an anon page maps it zero-filled: the swapped-out data is lost (the symptom of "mm: zswap: fix data loss on SWP_SYNCHRONOUS_IO devices", 6.8: a page read back from a zram-like device without the swap cache after its zswap copy was dropped)' },
  { id: 'M-21', rule: 'R-HTLB-8', text: 'MADV_DONTNEED of a write-protected hugetlb page (or its marker) leaves no uffd-wp marker: the protection is lost (__unmap_hugepage_range without the marker restore)' },
  { id: 'M-1', rule: 'R-PM-1', text: 'pagemap ignores the VMA soft-dirty flag for pages without an entry' },
  { id: 'M-2', rule: 'R-PM-1', text: 'pagemap reports soft-dirty for addresses between VMAs' },
  { id: 'M-3', rule: 'R-PM-3', text: 'pagemap reports uffd-wp markers with the swap bit clear' },
  { id: 'M-4', rule: 'R-FORK-1', text: 'fork keeps wp bits and markers in the child regardless of EVENT_FORK' },
  { id: 'M-5', rule: 'R-DN-2', text: 'MADV_DONTNEED in non-anon uffd-wp VMAs leaves no wp markers' },
  { id: 'M-6', rule: 'R-DN-1', text: 'MADV_DONTNEED in anon VMAs leaves wp markers' },
  { id: 'M-7', rule: 'R-ASYNC-2', text: 'an async write to a wp THP un-protects all 512 pages instead of splitting' },
  { id: 'M-8', rule: 'R-MRM-1', text: 'mremap per-entry moves do not set soft-dirty' },
  { id: 'M-9', rule: 'R-PO-1', text: 'swap-out drops the soft-dirty bit' },
  { id: 'M-10', rule: 'R-CR-2', text: 'clear_refs also clears the uffd-wp bit' },
  { id: 'M-11', rule: 'R-WP-3', text: 'write-protect of anon none installs markers even without WP_UNPOPULATED' },
  { id: 'M-12', rule: 'R-PMS-4', text: 'PAGEMAP_SCAN\'s exclusive-WP fast path (WP_MATCHING without an output vector) honours the category masks: it arms only interesting written entries' },
  { id: 'M-13', rule: 'R-PMS-1', text: 'PAGEMAP_SCAN reports WPALLOWED for VMAs of a sync (non-WP_ASYNC) context' },
  { id: 'M-14', rule: 'R-MRM-7', text: 'mremap growth in place sets VM_SOFTDIRTY' },
  { id: 'M-15', rule: 'R-POP-2', text: 'MADV_POPULATE_* reports a failing fault (SIGBUS) as EINVAL, like a permission problem (the 5.14-rc behaviour, fixed before release by "mm/madvise: report SIGBUS as -EFAULT for MADV_POPULATE_(READ|WRITE)")' },
  { id: 'M-16', rule: 'R-POP-1', text: 'MADV_POPULATE_WRITE stores data like a write: pages it faulted are no longer zero-filled (a folio split keeps them instead of mapping the zero page)' },
  { id: 'M-17', rule: 'R-POP-3', text: 'a populate write on a sync uffd-wp page is delivered to the monitor like a user fault (UFFD_USER_MODE_ONLY ignored): a wp fault event, and the write completes' },
  { id: 'M-18', rule: 'R-GRD-4', text: 'MADV_DONTNEED (an ordinary zap) drops guard markers as munmap does' },
  { id: 'M-19', rule: 'R-GRD-5', text: 'fork copies no guard markers of a non-anonymous VMA (its page tables are not copied)' },
  { id: 'M-30', rule: 'R-SPLIT-5', text: 'MADV_PAGEOUT of part of a PTE-mapped large folio (mTHP, or a split THP) reclaims the covered pages without splitting the folio (madvise_cold_or_pageout_pte_range without split_folio): its zero-filled subpages in range are swapped instead of remapped to the zero page' },
  { id: 'M-20', rule: 'R-PMS-9', text: 'PAGEMAP_SCAN arming leaves guard markers without the swp uffd-wp bit: they stay WRITTEN' },
];

export function getMutant(id: string): Mutant {
  const m = MUTANTS.find((x) => x.id === id);
  if (!m) throw new Error(`unknown mutant "${id}" (known: ${MUTANTS.map((x) => x.id).join(', ')})`);
  return m;
}
