/*
 * ptefarm-observe.h: what a page looks like and which outcome the kernel chose, in ONE place for
 * the native executor (ptefarm-mm.h observe, ptefarm-exec.c print_huge / print_zero / pageout) and
 * the reproducers `ptefarm repro` writes (src/report/repro.ts inlines this file's text).
 * Needs PG, HPG_PAGES, MAXPAGES, PF_PAGEMAP_SCAN, struct pf_pm_scan_arg / pf_page_region and
 * PAGE_IS_HUGE / PAGE_IS_PFNZERO defined before it (ptefarm-uapi.h, or the reproducer's header).
 */
#ifndef PTEFARM_OBSERVE_H
#define PTEFARM_OBSERVE_H
#define OBS_HUGE 0x40 /* PAGEMAP_SCAN HUGE: mapped by a huge PMD */
#define OBS_ZERO 0x80 /* PAGEMAP_SCAN PFNZERO: the kernel's word that this is the shared zero page */
/* bit 6 means HUGE on a present page and GUARD (pagemap bit 58, PM_GUARD_REGION, 6.15+) on a
 * non-present one: a guard marker is never mapped, a huge PMD always is */
#define OBS_GUARD 0x40
#define OBS_IS_HUGE(x) (((x) & 0x41) == 0x41)
#define OBS_IS_GUARD(x) (((x) & 0x41) == 0x40)

/* page code: bits 0..5 = pagemap bits 63 62 61 56 57 55 (P S F E W D), plus OBS_HUGE / OBS_ZERO */
static uint8_t pm_code(uint64_t e) {
  return (uint8_t)(((e >> 63) & 1) | (((e >> 62) & 1) << 1) | (((e >> 61) & 1) << 2) |
                   (((e >> 56) & 1) << 3) | (((e >> 57) & 1) << 4) | (((e >> 55) & 1) << 5));
}

/* the codes of `pages` pages at addr, from the pagemap file pm (/proc/PID/pagemap); *scan_ok is
 * cleared when the kernel has no PAGEMAP_SCAN (before 6.7), and OBS_* are then never set */
static void observe_range(int pm, uint64_t addr, uint64_t pages, uint8_t *codes, int *scan_ok) {
  static uint64_t ent[MAXPAGES];
  static struct pf_page_region vec[MAXPAGES];
  if (pread(pm, ent, pages * 8, (off_t)(addr / PG * 8)) != (ssize_t)(pages * 8)) memset(ent, 0, pages * 8);
  for (uint64_t k = 0; k < pages; k++) codes[k] = (uint8_t)(pm_code(ent[k]) | (((ent[k] >> 58) & 1) && !((ent[k] >> 63) & 1) ? OBS_GUARD : 0));
  long r = !*scan_ok ? 0 : ioctl(pm, PF_PAGEMAP_SCAN, &(struct pf_pm_scan_arg){ .size = sizeof(struct pf_pm_scan_arg), .start = addr, .end = addr + pages * PG,
    .vec = (uint64_t)(uintptr_t)vec, .vec_len = MAXPAGES, .category_anyof_mask = PAGE_IS_HUGE | PAGE_IS_PFNZERO, .return_mask = PAGE_IS_HUGE | PAGE_IS_PFNZERO });
  if (r < 0 && (errno == ENOTTY || errno == EINVAL)) *scan_ok = 0;
  for (long j = 0; j < r; j++)
    for (uint64_t x = vec[j].start; x < vec[j].end; x += PG)
      if ((x - addr) / PG < pages)
        codes[(x - addr) / PG] |= (uint8_t)(((vec[j].categories & PAGE_IS_HUGE) && (codes[(x - addr) / PG] & 1) ? OBS_HUGE : 0) | ((vec[j].categories & PAGE_IS_PFNZERO) ? OBS_ZERO : 0));
}

/* `huge` outcome: the first page (region-relative) of every 2 MiB block of a region of `pages`
 * pages at page number sp that a huge PMD maps now and did not before (then: `then_pages` codes of
 * the region before the op; a huge zero PMD that became a real THP counts as new). */
static int huge_outcome(const uint8_t *now, uint64_t pages, const uint8_t *then, uint64_t then_pages, uint64_t sp, uint64_t *out) {
  int n = 0;
  for (uint64_t b = sp / HPG_PAGES * HPG_PAGES; b < sp + pages; b += HPG_PAGES) {
    uint64_t k = b > sp ? b - sp : 0;
    uint8_t was = k < then_pages ? then[k] : 0;
    if (OBS_IS_HUGE(now[k]) && (!OBS_IS_HUGE(was) || ((was & OBS_ZERO) && !(now[k] & OBS_ZERO)))) out[n++] = k;
  }
  return n;
}

/* `zero` outcome of a read of pages [first, first + count): the pages it newly mapped to the
 * shared zero page (a huge zero PMD once, by the first page of its block in the region). Whether a
 * read fault maps the zero page is the kernel's choice (mm/memory.c do_anonymous_page:
 * mm_forbids_zeropage; mm/huge_memory.c do_huge_pmd_anonymous_page:
 * transparent_hugepage_use_zero_page), and hosts differ. */
static int zero_outcome(const uint8_t *now, const uint8_t *then, uint64_t then_pages, uint64_t first, uint64_t count, uint64_t sp, uint64_t *out) {
  int n = 0;
  uint64_t last_block = UINT64_MAX;
  for (uint64_t k = first; k < first + count; k++) {
    if (!(now[k] & OBS_ZERO) || (k < then_pages && (then[k] & OBS_ZERO))) continue;
    if (!OBS_IS_HUGE(now[k])) { out[n++] = k; continue; }
    uint64_t b = (sp + k) / HPG_PAGES;
    if (b != last_block) out[n++] = b * HPG_PAGES > sp ? b * HPG_PAGES - sp : 0;
    last_block = b;
  }
  return n;
}

/* `swapped_out` outcome of MADV_PAGEOUT over [first, first + count): present before, not now */
static int swapped_outcome(const uint8_t *now, const uint8_t *then, uint64_t first, uint64_t count, uint64_t *out) {
  int n = 0;
  for (uint64_t k = first; k < first + count; k++) if ((then[k] & 1) && !(now[k] & 1)) out[n++] = k;
  return n;
}

/* `resident` outcome of a fault in a shmem THP region (shared-anon, memfd-*): vec[k] bit 0 set when
 * page k of the region is resident in memory, by mincore() (mm/mincore.c mincore_page: the page
 * cache, or the swap cache for a page in swap), one 2 MiB block at a time; a block with a hole
 * (mincore ENOMEM) counts as not resident. A page table neither helps nor hinders: mincore reads
 * the object for a PTE that maps nothing. Taken before and after the op, it tells the folio a
 * fault brought back from swap (mm/shmem.c shmem_swapin_folio): whole (a large swap entry read as
 * one folio, CONFIG_THP_SWAP), a piece of a split entry (shmem_split_large_entry, 6.18), or one
 * page: the host's choice, recorded, never assumed. */
static void resident_pages(uint64_t rstart, uint64_t rpages, unsigned char *vec) {
  const uint64_t bs = PG * HPG_PAGES, end = rstart + (rpages < MAXPAGES ? rpages : MAXPAGES) * PG;
  for (uint64_t lo = rstart, hi; lo < end; lo = hi) {
    hi = (lo / bs + 1) * bs, hi = hi > end ? end : hi;
    if (mincore((void *)(uintptr_t)lo, hi - lo, vec + (lo - rstart) / PG)) memset(vec + (lo - rstart) / PG, 0, (hi - lo) / PG);
  }
}

/* the runs (first, count pairs in out) of region pages resident in `now` and not in `then` */
static int resident_outcome(const unsigned char *then, const unsigned char *now, uint64_t rpages, uint64_t *out) {
  int n = 0;
  for (uint64_t k = 0; k < rpages && k < MAXPAGES; k++) {
    if (!(now[k] & 1) || (then[k] & 1)) continue;
    if (n && out[n - 2] + out[n - 1] == k) out[n - 1]++;
    else out[n++] = k, out[n++] = 1;
  }
  return n / 2;
}
#endif /* PTEFARM_OBSERVE_H */
