// Kernel profiles: the version-dependent knobs of x86-semantics.md §0.4. A profile names the kernel
// line whose behaviour the model predicts; the live kernel's release picks one (closest not newer).

export interface Knobs {
  /** VM_SOFTDIRTY OR-ed across VMAs on every merge (mm/vma.c VMA_STICKY_FLAGS, 6.19 / 6.18.y) */
  stickySoftDirty: boolean;
  /** PAGEMAP_SCAN generic path reports pte_none as WRITTEN (task_mmu.c pagemap_page_category, Jul 2026) */
  scanNoneWritten: boolean;
  /** PAGEMAP_SCAN reports a PMD hole in a uffd-wp VMA as WRITTEN (pagemap_scan_pte_hole, Jul 2026) */
  scanHoleWritten: boolean;
  /** WRITTEN only inside VM_UFFD_WP VMAs (7.3 RWP series) */
  scanWrittenUffdOnly: boolean;
  /** pagemap bit 61 set for huge-zero PMD pages (pagemap_pmd_range_thp uses pmd_page) */
  hugeZeroPmFile: boolean;
  /** PAGEMAP_SCAN PFNZERO for the huge zero folio (6.16, 6.12.36) */
  pfnZeroHuge: boolean;
  /** mremap without EVENT_REMAP strips wp bits and markers (mremap.c, 6.13 / 6.12.11; "mm: clear
   *  uffd-wp PTE/PMD state on mremap()" went to the 6.1 stable line too: Debian's 6.1.192 shows it) */
  mremapUffdClear: boolean;
  /** whole page-table mremap moves disabled for uffd-wp without EVENT_REMAP */
  mremapNoPgtableMoveUffd: boolean;
  /** write fault on the huge zero page allocates a THP (huge_memory.c do_huge_zero_wp_pmd, ~6.14) */
  hugeZeroWriteAllocatesThp: boolean;
  /** PAGEMAP_SCAN exists (6.7) and UFFD_FEATURE_WP_ASYNC exists (6.7) */
  pagemapScan: boolean;
  /** folio split remaps zero-filled subpages to the shared zero page (6.12), keeping sd/wp (6.18) */
  splitZeroRemap: boolean;
  splitZeroRemapKeepsBits: boolean;
  /** mremap may move several VMAs at once when not resizing (mm/mremap.c, 6.17) */
  mremapMultiVma: boolean;
  /** a moving mremap that shrinks checks the old range's VMA before it unmaps the tail
   *  (mm/mremap.c check_prep_vma before shrink_vma, the 6.16-6.17 mremap rework; measured on
   *  6.18.44); before, mremap_to unmapped [addr + new_len, addr + old_len) first and vma_to_resize
   *  then failed with EFAULT, the tail gone (6.12 source; measured on 6.12.118 and 6.1 guests) */
  mremapCheckBeforeShrink: boolean;
  /** mprotect of an unfaulted (no anon_vma) private anon VMA to read-only drops VM_ACCOUNT, so it
   *  no longer merges with a faulted read-only neighbour, which keeps it (mm/mprotect.c
   *  mprotect_fixup, 6.7 "mm/mprotect: allow unfaulted VMAs to be unaccounted on mprotect()") */
  mprotectUnaccountsUnfaulted: boolean;
  /** UFFDIO_REGISTER, UFFDIO_UNREGISTER and close() of a userfaultfd leave a merged VMA the flags of
   *  its merge target, resetting only __VM_UFFD_FLAGS (mm/userfaultfd.c userfaultfd_set_ctx, from
   *  userfaultfd_register_range and userfaultfd_clear_vma; 6.11, "userfaultfd: move core VMA
   *  manipulation logic to mm/userfaultfd.c"). Before, fs/userfaultfd.c userfaultfd_register,
   *  userfaultfd_unregister and userfaultfd_release computed new_flags from the VMA they changed
   *  and set them on whatever vma_merge returned (userfaultfd_set_vm_flags(vma, new_flags)): the
   *  merged VMA took the changed VMA's VM_SOFTDIRTY, as mprotect's does (R-MERGE-2 'modified';
   *  measured on Debian's 6.1 guest: corpus/regressions/bit.d.spurious.r-merge-2.empty-b97ae96b.ff1887ac.json) */
  uffdMergeKeepsTargetFlags: boolean;
  /** MADV_COLLAPSE on shmem works: it forces shmem THP unless sysfs shmem_enabled is `deny`
   *  (mm/shmem.c shmem_allowable_huge_orders, shmem_huge_force). A host setting. */
  shmemCollapse: boolean;
  /** MADV_DONTNEED frees page tables it empties (CONFIG_PT_RECLAIM, mm/pt_reclaim.c, 6.14) */
  ptReclaim: boolean;
  /** pagemap bit 56 of every page of a PMD-mapped THP is the head page's exclusivity
   *  (fs/proc/task_mmu.c pagemap_pmd_range_thp passes `page`, not `page + idx`, to
   *  __folio_page_mapped_exclusively since 6.15; measured on 6.18; see corpus/findings) */
  pmdExclusiveFromHead: boolean;
  /** a faulted range may merge into an unfaulted next (or prev) VMA (mm/vma.c is_mergeable_anon_vma,
   *  fixed in 6.16 "fix incorrectly disallowed anonymous VMA merges"; 6.12 and 6.1 refuse) */
  anonMergeIntoUnfaultedNext: boolean;
  /** fault-around maps a whole large page-cache folio that fits the VMA and PMD (mm/filemap.c
   *  filemap_map_pages, 6.18 "map entire large folio"; measured on 6.18.44) */
  faultAroundWholeFolio: boolean;
  /** a write fault on shmem maps a whole large page-cache folio at PTE level, all dirty (mm/memory.c
   *  finish_fault, 6.11 "extend finish_fault() to support large folio") */
  finishFaultWholeFolio: boolean;
  /** MADV_POPULATE_* faults the range without madvise's VMA walk and stops at the first page
   *  without a VMA (6.10, "mm/madvise: don't perform madvise VMA walk for
   *  MADV_POPULATE_(READ|WRITE)"); before, madvise_walk_vmas skipped holes, populated the VMAs after
   *  them and returned ENOMEM at the end */
  populateNoVmaWalk: boolean;
  /** MADV_GUARD_INSTALL / MADV_GUARD_REMOVE exist (6.13; pagemap bit 58 and PAGE_IS_GUARD 6.15) */
  guardRegions: boolean;
  /** UFFDIO_WRITEPROTECT walks every VMA of its range (mm/userfaultfd.c mwriteprotect_range, 6.4
   *  "mm/userfaultfd: support WP on multiple VMAs"); before, find_dst_vma took the one VMA that had
   *  to cover the whole range, and a range over several VMAs was ENOENT with nothing protected */
  wpMultiVma: boolean;
  /** CONFIG_MEM_SOFT_DIRTY (absent = built in). A host setting: without it PAGEMAP_SCAN's category
   *  masks never see SOFT_DIRTY (fs/proc/task_mmu.c: pte_soft_dirty() is 0, VM_SOFTDIRTY is 0) */
  memSoftDirty?: boolean;
  /** MADV_GUARD_INSTALL sets the sticky VM_MAYBE_GUARD flag, which makes fork copy the VMA's page
   *  tables, and prepares an anon_vma only for anonymous VMAs (the VMA_STICKY_FLAGS series, 6.19;
   *  in 6.18.y: smaps shows `gu` on the 6.18.44 host); before, anon_vma_prepare on every VMA */
  maybeGuardFlag?: boolean;
}

export interface Profile { name: string; knobs: Knobs }

/** Knobs a host setting decides, from the settings a trace's target reports. A setting absent
 *  from the trace leaves the profile's value (a stock host's). */
export function hostKnobs(host: { shmem_enabled?: string } | undefined): Partial<Knobs> {
  const k: Partial<Knobs> = {};
  // shmem_enabled=deny refuses shmem THP even to MADV_COLLAPSE (mm/shmem.c
  // shmem_allowable_huge_orders: SHMEM_HUGE_DENY before shmem_huge_force)
  if (host?.shmem_enabled !== undefined) k.shmemCollapse = host.shmem_enabled !== 'deny';
  return k;
}

const K618: Knobs = {
  stickySoftDirty: true, scanNoneWritten: true, scanHoleWritten: true, scanWrittenUffdOnly: false,
  hugeZeroPmFile: true, pfnZeroHuge: true, mremapUffdClear: true, mremapNoPgtableMoveUffd: true,
  hugeZeroWriteAllocatesThp: true, pagemapScan: true, splitZeroRemap: true, splitZeroRemapKeepsBits: true,
  mremapMultiVma: true, mremapCheckBeforeShrink: true, mprotectUnaccountsUnfaulted: true, uffdMergeKeepsTargetFlags: true, shmemCollapse: true, ptReclaim: true, pmdExclusiveFromHead: true, anonMergeIntoUnfaultedNext: true, faultAroundWholeFolio: true,
  finishFaultWholeFolio: true,
  populateNoVmaWalk: true,
  guardRegions: true,
  maybeGuardFlag: true,
  wpMultiVma: true,
};

export const PROFILES: Record<string, Profile> = {
  '6.18': { name: '6.18', knobs: K618 },
  '6.12': {
    name: '6.12',
    knobs: { ...K618, guardRegions: false, stickySoftDirty: false, hugeZeroWriteAllocatesThp: false, mremapMultiVma: false, mremapCheckBeforeShrink: false, ptReclaim: false, pmdExclusiveFromHead: false, anonMergeIntoUnfaultedNext: false, faultAroundWholeFolio: false },
  },
  '6.1': {
    name: '6.1',
    knobs: {
      ...K618, stickySoftDirty: false, scanNoneWritten: false, scanHoleWritten: false, pfnZeroHuge: false,
      hugeZeroWriteAllocatesThp: false, wpMultiVma: false,
      pagemapScan: false, splitZeroRemap: false, splitZeroRemapKeepsBits: false, mremapMultiVma: false, mremapCheckBeforeShrink: false,
      mprotectUnaccountsUnfaulted: false, uffdMergeKeepsTargetFlags: false, ptReclaim: false, pmdExclusiveFromHead: false, anonMergeIntoUnfaultedNext: false, faultAroundWholeFolio: false,
      finishFaultWholeFolio: false,
      populateNoVmaWalk: false, guardRegions: false,
    },
  },
};

export const DEFAULT_PROFILE = '6.18';

/** Knobs a kernel release decides between two profiles: guard regions with pagemap bit 58 and
 *  PAGE_IS_GUARD from 6.15 (a 6.15-6.17 kernel takes the 6.12 profile otherwise). */
export function releaseKnobs(release: string): Partial<Knobs> {
  const m = /(\d+)\.(\d+)/.exec(release);
  if (!m) return {};
  const v = Number(m[1]) * 1000 + Number(m[2]);
  return v >= 6015 ? { guardRegions: true } : {};
}

export function getProfile(name: string = DEFAULT_PROFILE): Profile {
  const p = Object.hasOwn(PROFILES, name) ? PROFILES[name] : undefined;
  if (!p) throw new Error(`unknown kernel profile "${name}" (known: ${Object.keys(PROFILES).join(', ')})`);
  return p;
}

/** The profile for a kernel release string such as "6.18.44-fc": the newest profile not newer. */
export function profileForRelease(release: string): string {
  const m = /(\d+)\.(\d+)/.exec(release);
  if (!m) return DEFAULT_PROFILE;
  const v = Number(m[1]) * 1000 + Number(m[2]);
  const known = Object.keys(PROFILES).map((n) => [n, Number(n.split('.')[0]) * 1000 + Number(n.split('.')[1])] as const)
    .sort((a, b) => b[1] - a[1]);
  for (const [n, kv] of known) if (kv <= v) return n;
  return known[known.length - 1][0];
}
