/*
 * ptefarm-folio.h: the `folio` outcome of a fault (anonymous multi-size THP, mTHP), observed without
 * privileges. Included by ptefarm-exec.c; print_folio is called after read, write and populate.
 * `ptefarm repro` inlines the rest (src/report/repro.ts folioHeader) for its folio check.
 *
 * A fault in a MADV_HUGEPAGE anon region may allocate a large folio of 2^k pages and map it whole by
 * PTEs (mm/memory.c do_anonymous_page -> alloc_anon_folio, orders from thp_vma_allowable_orders and
 * the per-size sysfs files hugepages-<size>kB/enabled), and a swap-in may bring a large folio back
 * (mm/memory.c do_swap_page -> alloc_swap_folio). Which size the kernel picks (and whether an
 * allocation falls back to a smaller one) is the kernel's choice, so it is recorded, not assumed:
 * the pages of a region that became present during the op form aligned blocks; a block of 2^k > 1
 * pages (k an order enabled for anon faults at the case's start) is printed as `l rid first pages`.
 * The pages of the op's own range that it faulted one by one in ascending order cannot be told
 * apart from one large folio by pagemap alone; the greedy grouping (largest enabled order first)
 * gives the kernel's grouping whenever each fault got the largest order that fits, which is
 * alloc_anon_folio's choice unless an allocation fails. The model checks every block it is given.
 */
#ifndef PTEFARM_FOLIO_H
#define PTEFARM_FOLIO_H

/* bit k set: order k is enabled for anon faults of a MADV_HUGEPAGE VMA (below the PMD order) */
static uint32_t g_anon_orders;
/* region id -> the region was mapped anon private with MADV_HUGEPAGE (the only regions mTHP reaches:
 * every other region gets MADV_NOHUGEPAGE, ptefarm-mm.h C_MMAP) */
static uint8_t g_reg_mthp[MAXR];

/* the first word of a sysfs THP file: the bracketed choice ("always [madvise] never" -> madvise) */
static int thp_choice(const char *path, char *out, size_t n) {
  FILE *f = fopen(path, "re");
  if (!f) return -1;
  char line[256];
  int ok = fgets(line, sizeof line, f) != NULL;
  fclose(f);
  if (!ok) return -1;
  char *a = strchr(line, '['), *b = a ? strchr(a, ']') : NULL;
  if (!a || !b) return -1;
  size_t len = (size_t)(b - a - 1) < n - 1 ? (size_t)(b - a - 1) : n - 1;
  memcpy(out, a + 1, len);
  out[len] = 0;
  return 0;
}

/* read the per-size anon settings (a MADV_HUGEPAGE VMA gets `always` and `madvise` sizes, and
 * `inherit` ones when the top-level `enabled` is always or madvise: mm/huge_memory.c
 * __thp_vma_allowable_orders, huge_anon_orders_*) */
static void read_anon_orders(void) {
  char top[32] = "", v[32], path[320];
  g_anon_orders = 0;
  int top_on = thp_choice("/sys/kernel/mm/transparent_hugepage/enabled", top, sizeof top) == 0 &&
               (!strcmp(top, "always") || !strcmp(top, "madvise"));
  for (int k = 1; (PG << k) < PG * HPG_PAGES && k < 31; k++) {
    snprintf(path, sizeof path, "/sys/kernel/mm/transparent_hugepage/hugepages-%llukB/enabled", (unsigned long long)((PG << k) / 1024));
    if (thp_choice(path, v, sizeof v)) continue;
    if (!strcmp(v, "always") || !strcmp(v, "madvise") || (!strcmp(v, "inherit") && top_on)) g_anon_orders |= 1u << k;
  }
}

/* blocks of pages of a region (`pages` codes at page number sp) that became present during the op
 * (present now, not before; not mapped by a huge PMD), grouped greedily into aligned blocks of an
 * enabled order; only blocks of two pages or more are written to out as (first, pages) pairs */
static int folio_outcome(const uint8_t *now, const uint8_t *then, uint64_t then_pages, uint64_t pages, uint64_t sp, uint32_t orders, uint64_t *out) {
  static uint8_t taken[MAXPAGES];
  int n = 0;
  if (!orders) return 0;
  memset(taken, 0, pages);
#define NEWLY(k) ((now[k] & 1) && !OBS_IS_HUGE(now[k]) && !((k) < then_pages && (then[k] & 1)) && !taken[k])
  for (uint64_t k = 0; k < pages; k++) {
    if (!NEWLY(k)) continue;
    for (int o = 30; o >= 1; o--) {
      if (!(orders & (1u << o))) continue;
      uint64_t sz = 1ull << o, a = (sp + k) / sz * sz;
      if (a < sp || a + sz > sp + pages) continue;
      uint64_t f = a - sp, j = f;
      while (j < f + sz && NEWLY(j)) j++;
      if (j < f + sz) continue;
      memset(taken + f, 1, sz);
      out[n++] = f; out[n++] = sz;
      break;
    }
  }
#undef NEWLY
  return n;
}

/* `l rid first pages ...` (l: large folio; `f` is the fault line): the large folios the acting process's fault(s) mapped in region g */
static void print_folio(int p, int g, const struct region *before) {
  if (p < 0 || !P[p].alive || g < 0 || !g_reg_mthp[g]) return;
  struct region *rg = &P[p].reg[g];
  if (!rg->known) return;
  static uint64_t ks[2 * MAXPAGES];
  int n = folio_outcome(cur_obs[p][g], prev_obs[p][g], before[g].known ? before[g].pages : 0, rg->pages, rg->start / PG, g_anon_orders, ks);
  if (!n) return;
  fprintf(out, "l %d", g);
  for (int j = 0; j < n; j++) fprintf(out, " %llu", (unsigned long long)ks[j]);
  fputc('\n', out);
}
#endif /* PTEFARM_FOLIO_H */
