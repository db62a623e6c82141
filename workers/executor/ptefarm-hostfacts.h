/*
 * ptefarm-hostfacts.h: the host facts the executor's `probe` request reports beyond what a case
 * can use (included by ptefarm-exec.c, used only by probe_child). The TypeScript side
 * (src/targets/probe.ts) turns them into sourced facts, on the host and inside a QEMU guest alike.
 *
 * - Behaviour, because sysfs can lie (a host exists where use_zero_page reads 1 but read faults
 *   allocate): does a read fault on private anonymous memory map the shared zero page, for a 4 KiB
 *   fault and for a THP fault? The probe faults memory in and asks the kernel what got mapped.
 * - The base page size (sysconf).
 * - The raw text of the files that decide THP and swap (`file <path> <line>`, one per line of the
 *   file), so that a guest's settings reach the host exactly as the host's own are read.
 *
 * Needs pm_fd (open_own_pagemap) and do_scan from ptefarm-mm.h.
 */
#ifndef PTEFARM_HOSTFACTS_H
#define PTEFARM_HOSTFACTS_H

#include <dirent.h>

/* What the first page of [addr, addr+len) is now, from PAGEMAP_SCAN: its categories (PRESENT,
 * PFNZERO, HUGE), or -1 when the scan failed. */
static int64_t page_categories(uint64_t addr, uint64_t len) {
  struct pf_page_region v[4];
  long n = do_scan(addr, addr + len, 0, 0, 0, PAGE_IS_PRESENT | PAGE_IS_PFNZERO | PAGE_IS_HUGE, 0, v, 4);
  if (n < 0) return -1;
  if (n == 0 || v[0].start != addr) return 0; /* the first page is in no category: not present */
  return (int64_t)v[0].categories;
}

/* A 4 KiB read fault on private anonymous memory (MADV_NOHUGEPAGE: no THP, no mTHP) maps the zero
 * page (do_anonymous_page: a read fault installs my_zero_pfn unless mm_forbids_zeropage) or a fresh
 * page. PAGEMAP_SCAN reports PAGE_IS_PFNZERO for a PTE of the zero pfn (fs/proc/task_mmu.c
 * pagemap_page_category). Without PAGEMAP_SCAN (< 6.7) the pagemap entry tells: the zero page is
 * no normal page (vm_normal_page is NULL), so pte_to_pagemap_entry never sets bit 56 (exclusive),
 * which a freshly allocated anon page has. *via: "scan" or "pagemap". 1 zero page, 0 a fresh page,
 * -1 cannot tell (the page is not present after the read). */
static int probe_zero_page(const char **via) {
  *via = "none";
  void *m = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (m == MAP_FAILED) return -1;
  madvise(m, PG, MADV_NOHUGEPAGE);
  (void)*(volatile char *)m;
  int r = -1;
  uint64_t a = (uint64_t)(uintptr_t)m;
  int64_t cats = pm_fd >= 0 ? page_categories(a, PG) : -1;
  if (cats >= 0) {
    *via = "scan";
    if (cats & PAGE_IS_PRESENT) r = (cats & PAGE_IS_PFNZERO) ? 1 : 0;
  } else if (pm_fd >= 0) {
    uint64_t e = 0;
    if (pread(pm_fd, &e, 8, (off_t)(a / PG * 8)) == 8) {
      *via = "pagemap";
      if (e >> 63 & 1) r = (e >> 56 & 1) ? 0 : 1;
    }
  }
  munmap(m, PG);
  return r;
}

/* A read fault in a MADV_HUGEPAGE, PMD-aligned anon block: the huge zero page
 * (do_huge_pmd_anonymous_page with use_zero_page and a read fault: set_huge_zero_folio), a THP
 * allocated for the read, or no huge mapping at all (THP off, allocation failed). PAGEMAP_SCAN
 * reports HUGE for a PMD mapping and PFNZERO for the huge zero page (pagemap_thp_category). Returns
 * "zero", "thp", "small" (mapped by PTEs), "none" (nothing mapped), "unknown" (no PAGEMAP_SCAN or
 * no memory). */
static const char *probe_thp_read(uint64_t pmd_size) {
  if (pm_fd < 0 || !pmd_size) return "unknown";
  size_t len = (size_t)pmd_size * 2;
  char *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (m == MAP_FAILED) return "unknown";
  uint64_t a = ((uint64_t)(uintptr_t)m + pmd_size - 1) & ~(pmd_size - 1);
  const char *r = "unknown";
  if (!madvise((void *)(uintptr_t)a, (size_t)pmd_size, MADV_HUGEPAGE)) {
    (void)*(volatile char *)(uintptr_t)a;
    int64_t cats = page_categories(a, pmd_size);
    if (cats >= 0) r = (cats & PAGE_IS_HUGE) ? ((cats & PAGE_IS_PFNZERO) ? "zero" : "thp") : (cats & PAGE_IS_PRESENT) ? "small" : "none";
  }
  munmap(m, len);
  return r;
}

/* Print `file <path> <line>` for every line of a (small) text file; nothing when it cannot be read. */
static void print_file_lines(const char *path) {
  FILE *f = fopen(path, "re");
  if (!f) return;
  char line[512];
  int lines = 0;
  while (lines < 64 && fgets(line, sizeof line, f)) {
    line[strcspn(line, "\n")] = 0;
    printf("file %s %s\n", path, line);
    lines++;
  }
  fclose(f);
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* every regular file of a directory whose name starts with `prefix` (sorted), or every
 * `hugepages-*` subdirectory's `enabled` and `shmem_enabled` when subdirs is set */
static void print_dir(const char *dir, int subdirs) {
  DIR *d = opendir(dir);
  if (!d) return;
  char *names[128];
  int n = 0;
  struct dirent *de;
  while ((de = readdir(d)) && n < 128) {
    if (de->d_name[0] == '.') continue;
    if (subdirs ? strncmp(de->d_name, "hugepages-", 10) != 0 : de->d_type == DT_DIR) continue;
    names[n++] = strdup(de->d_name);
  }
  closedir(d);
  qsort(names, (size_t)n, sizeof names[0], cmp_str);
  char path[512];
  for (int i = 0; i < n; i++) {
    if (subdirs) {
      snprintf(path, sizeof path, "%s/%s/enabled", dir, names[i]);
      print_file_lines(path);
      snprintf(path, sizeof path, "%s/%s/shmem_enabled", dir, names[i]);
      print_file_lines(path);
    } else {
      snprintf(path, sizeof path, "%s/%s", dir, names[i]);
      print_file_lines(path);
    }
    free(names[i]);
  }
}

#define THP_SYSFS "/sys/kernel/mm/transparent_hugepage"

/* the files behind the THP, mTHP, khugepaged and swap facts */
static void print_host_files(void) {
  static const char *const top[] = { "enabled", "defrag", "use_zero_page", "shmem_enabled", "hpage_pmd_size" };
  char path[256];
  for (size_t i = 0; i < sizeof top / sizeof top[0]; i++) {
    snprintf(path, sizeof path, THP_SYSFS "/%s", top[i]);
    print_file_lines(path);
  }
  print_dir(THP_SYSFS "/khugepaged", 0);
  print_dir(THP_SYSFS, 1);
  print_file_lines("/proc/swaps");
}

/* the PMD size from sysfs (0 when THP is not configured) */
static uint64_t pmd_size_of_host(void) {
  FILE *f = fopen(THP_SYSFS "/hpage_pmd_size", "re");
  unsigned long long v = 0;
  if (f) { if (fscanf(f, "%llu", &v) != 1) v = 0; fclose(f); }
  return (uint64_t)v;
}

/* The page geometry every plan counts in (ptefarm-uapi.h g_pg, g_hpg_pages): sysconf(_SC_PAGESIZE)
 * and one page table's worth of pages per PMD (PTRS_PER_PTE = PAGE_SIZE / 8); the sysfs PMD size,
 * where THP is configured, must agree. Returns nonzero (with the reason on stderr) otherwise. */
static int geometry_init(void) {
  long ps = sysconf(_SC_PAGESIZE);
  if (ps < 4096 || (ps & (ps - 1))) { fprintf(stderr, "ptefarm-exec: page size %ld is not a power of two >= 4096\n", ps); return 1; }
  g_pg = (uint64_t)ps;
  g_hpg_pages = g_pg / 8;
  uint64_t pmd = pmd_size_of_host();
  if (pmd && pmd != g_pg * g_hpg_pages) {
    fprintf(stderr, "ptefarm-exec: hpage_pmd_size %llu is not %llu pages of %llu bytes\n",
            (unsigned long long)pmd, (unsigned long long)g_hpg_pages, (unsigned long long)g_pg);
    return 1;
  }
  return 0;
}

#endif /* PTEFARM_HOSTFACTS_H */
