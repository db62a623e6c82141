/*
 * ptefarm-env.h: interference from the host during a case, detected by the supervisor of
 * ptefarm-exec.c after every op's observation (before the step is printed). Two things outside the
 * case change its bits, and the model cannot predict either:
 *
 * - khugepaged collapsing a MADV_HUGEPAGE range (mm/khugepaged.c khugepaged_scan_mm_slot ->
 *   collapse_huge_page). Only a fault into an empty PMD (do_huge_pmd_anonymous_page, do_set_pmd
 *   from finish_fault / filemap_map_pages, both need pmd_none) or MADV_COLLAPSE creates a huge
 *   mapping in a case, and a fault only where no page table existed: a block that became huge during
 *   any other op, in another process than the acting one, or where the block had PTE-mapped pages
 *   (present, swapped or a uffd-wp marker) before a read or write was collapsed behind the case.
 * - reclaim (kswapd, direct reclaim) or migration turning a present page into a swap entry
 *   (try_to_unmap_one) that no pageout asked for. Checked for the ops that cannot do it themselves:
 *   not pageout, dontneed, split, collapse, mremap (a zap in a uffd-wp VMA leaves a marker, which
 *   pagemap also shows as swapped), nor a write-protect's or an arming scan's zap of a page-cache PMD
 *   (wp_left_marker).
 *
 * Either way the step is not printed: the supervisor writes `u <kind> <proc> <rid> <page>` and ends
 * the case; the TypeScript side (src/targets/live.ts decodeReply) drops the step and reports the
 * case as an `environment:` fault, never as a violation.
 */
#ifndef PTEFARM_ENV_H
#define PTEFARM_ENV_H

/* pagemap code bits (ptefarm-mm.h pm_code) and the PAGEMAP_SCAN bits observe() adds */
#define OBS_P 0x01
#define OBS_S 0x02
#define OBS_W 0x10
#define OBS_HUGE 0x40
#define OBS_ZERO 0x80

static void env_report(const char *kind, int q, int g, uint64_t page) __attribute__((noreturn));
static void env_report(const char *kind, int q, int g, uint64_t page) {
  fprintf(out, "u %s %d %d %llu\n", kind, q, g, (unsigned long long)page);
  fflush(out);
  exit(3);
}

/* ops that cannot turn a present page into a swap entry themselves */
static int op_cannot_swap(int code) {
  switch (code) {
  case OP_SKIP: case OP_MMAP: case OP_MUNMAP: case OP_MPROTECT: case OP_READ: case OP_WRITE: case OP_FORK:
  case OP_EXIT: case OP_CLEAR_REFS: case OP_UREG: case OP_UUNREG: case OP_WP: case OP_SCAN:
  case OP_POPULATE: case OP_CLOSE_UFFD:
    return 1;
  default: return 0;
  }
}

/* A write-protect that zapped a page-cache PMD and left a uffd-wp marker where it mapped a page:
 * not a swap-out, although pagemap shows the marker as swapped (S+W). mm/mprotect.c
 * change_pmd_range splits a huge PMD of a non-anonymous VMA under MM_CP_UFFD_WP (whole or partly
 * in range, pgtable_split_needed), and mm/huge_memory.c __split_huge_pmd_locked zaps a file PMD
 * instead of remapping it; change_pte_range then installs the marker on each now-empty PTE of the
 * range (userfaultfd_wp_use_markers). PAGEMAP_SCAN's arming (PM_SCAN_WP_MATCHING) does the same
 * over part of a huge PMD: fs/proc/task_mmu.c pagemap_scan_thp_entry splits it and the PTE walk
 * (pagemap_scan_pmd_entry, make_uffd_wp_pte) puts a marker on each empty PTE it arms (live 6.18: a
 * scan of a[317] of a collapsed shmem THP, WP_ASYNC and WP_UNPOPULATED). Only pages of the op's own
 * range that a huge PMD mapped: an anonymous THP is split into present PTEs and keeps its pages. */
static int wp_left_marker(int code, int own_region, uint64_t first, uint64_t count, uint64_t k, uint8_t was, uint8_t is) {
  return (code == OP_WP || code == OP_SCAN) && own_region && k >= first && k < first + count && OBS_IS_HUGE(was) && (is & OBS_W);
}

/* Check op i (code, acting process p, region rid, pages [first, first+count)) against the
 * observation before it (prev_obs) and after it (cur_obs); `before` is p's region table before the
 * op. Returns when the host did not interfere; otherwise reports and ends the case. */
static void env_check(int code, int p, int rid, uint64_t first, uint64_t count, const struct region *before) {
  const uint64_t block = HPG_PAGES * PG;
  /* the address range where this op may create huge mappings in process p */
  uint64_t lo = 0, hi = 0;
  if ((code == OP_READ || code == OP_WRITE || code == OP_POPULATE) && rid >= 0) {
    lo = P[p].reg[rid].start + first * PG; hi = lo + count * PG;
  } else if (code == OP_COLLAPSE && rid >= 0) {
    struct cmd c;
    collapse_cmd(&c, &P[p].reg[rid], P[p].reg[rid].start + first * PG, count * PG);
    lo = c.addr; hi = c.addr + c.len;
  }
  int child = code == OP_FORK ? nprocs - 1 : -1; /* created by this op: nothing to compare with */
  for (int q = 0; q < nprocs; q++) {
    if (!P[q].alive || q == child) continue;
    for (int g = 0; g < MAXR; g++) {
      const struct region *now = &P[q].reg[g];
      const struct region *old = q == p ? &before[g] : now;
      if (!now->known || !old->known) continue;
      const uint8_t *was = prev_obs[q][g], *is = cur_obs[q][g];
      if (op_cannot_swap(code)) {
        for (uint64_t k = 0; k < now->pages && k < old->pages; k++)
          if ((was[k] & OBS_P) && (is[k] & OBS_S) && !(is[k] & OBS_P) && !wp_left_marker(code, q == p && g == rid, first, count, k, was[k], is[k]))
            env_report("swap", q, g, k);
        /* a page the op itself faulted in (read, write, populate: present after it unless the access
         * failed, which leaves it as it was) that is a swap entry now and was not one before: reclaim
         * took it between the fault and the observation */
        if ((code == OP_READ || code == OP_WRITE || code == OP_POPULATE) && q == p && g == rid)
          for (uint64_t k = first; k < first + count && k < now->pages && k < old->pages; k++)
            if ((is[k] & OBS_S) && !(is[k] & OBS_P) && !((was[k] & OBS_S) && !(was[k] & OBS_P))) env_report("swap", q, g, k);
      }
      /* blocks that are huge now and were not (or were the huge zero page and now are a THP), by
       * region-relative page as print_huge compares them */
      uint64_t sp = now->start / PG;
      if (sp >= HUGETLB_ARENA_FIRST_PAGE) continue; /* a hugetlb region: its huge pages are hugetlb's */
      for (uint64_t b = sp / HPG_PAGES * HPG_PAGES; b < sp + now->pages; b += HPG_PAGES) {
        uint64_t k = b > sp ? b - sp : 0;
        if (!OBS_IS_HUGE(is[k])) continue;
        uint8_t then = k < old->pages ? was[k] : 0;
        if (OBS_IS_HUGE(then) && !((then & OBS_ZERO) && !(is[k] & OBS_ZERO))) continue;
        uint64_t ba = b * PG;
        int in_range = q == p && ba < hi && ba + block > lo;
        if (in_range && code == OP_COLLAPSE) continue;
        if (in_range && OBS_IS_HUGE(then)) continue; /* huge zero page -> THP: a write fault */
        if (in_range) {
          /* a fault maps a huge page only where no page table was: none of the block's pages
           * had an entry before */
          int populated = 0;
          uint64_t osp = old->start / PG;
          for (uint64_t j = b > osp ? b - osp : 0; j < old->pages && osp + j < b + HPG_PAGES; j++)
            if (was[j] & (OBS_P | OBS_S | OBS_W)) { populated = 1; break; }
          if (!populated) continue;
        }
        env_report("khugepaged", q, g, k);
      }
    }
  }
}

#endif /* PTEFARM_ENV_H */
