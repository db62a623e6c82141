/*
 * ---- runtime (the same process structure and syscalls as ptefarm's native executor) ----------
 *
 *   main  --forks-->  S, the supervisor (drops root to nobody, keeping CAP_SYS_PTRACE only for
 *                     event_fork; pinned to one CPU, owns the userfaultfd and resolves sync
 *                     write-protect faults)
 *   S     --commands over pipes-->  P0, P1, ... (the case's processes; each reads its OWN
 *                     /proc/self/pagemap after every op and sends the codes back over a pipe)
 *
 * S checks every step against the expectations above and prints KTAP test points. If the kernel
 * chose another outcome than the one the expectations assume (no huge page where a THP was
 * assumed, a fresh page where a read was assumed to map the zero page, a page that MADV_PAGEOUT
 * did not reclaim), the expectations do not apply: the attempt
 * is repeated (up to 3 times), then the test is skipped.
 */
/* uapi definitions, limits, the command protocol, case processes and the supervisor's plumbing:
 * the executor's own code (workers/executor/ptefarm-mm.h), inlined by `ptefarm repro` */
#include "ptefarm-mm.h"

#define KSFT_PASS 0
#define KSFT_FAIL 1
#define KSFT_SKIP 4
#define EXIT_OUTCOME 3 /* supervisor: the kernel chose another outcome; try again */

#define ATTEMPTS 3
#define TIMEOUT_S 60

static int g_cpu = -1;
static int g_soft_dirty;
static FILE *out;

/* as root, become nobody with no capability, keeping CAP_SYS_PTRACE only for a case that needs
 * it (UFFD_FEATURE_EVENT_FORK) */
static int drop_to_nobody(char *why, size_t whylen) {
  uid_t uid = 65534; gid_t gid = 65534;
  struct passwd *pw = geteuid() == 0 ? getpwnam("nobody") : NULL;
  if (pw) { uid = pw->pw_uid; gid = pw->pw_gid; }
  int keep_ptrace = UFFD_FEATURES >= 0 && (UFFD_FEATURES & UFFD_FEATURE_EVENT_FORK);
  return drop_privileges_for_case(uid, gid, keep_ptrace, why, whylen);
}

/* ---- supervisor ----------------------------------------------------------------------------- */
static void fatal(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("# harness error: ", out);
  vfprintf(out, fmt, ap);
  fputc('\n', out);
  va_end(ap);
  fflush(out);
  exit(KSFT_FAIL);
}

/* events of the current op, as "kind proc region page child" ('-' for none) */
static char events[64][96];
static int nevents;

static void emit_event(const char *kind, int p, uint64_t addr, int has_addr, int child) {
  if (nevents >= 64) return;
  uint64_t page = 0;
  int r = has_addr && p >= 0 ? region_at(p, addr, &page) : -1;
  char c[16] = "-";
  if (child >= 0) snprintf(c, sizeof c, "%d", child);
  if (r >= 0) snprintf(events[nevents++], 96, "%s %d %s %llu %s", kind, p, REGION_NAMES[r], (unsigned long long)page, c);
  else snprintf(events[nevents++], 96, "%s %d - - %s", kind, p, c);
}

/* ---- expectations --------------------------------------------------------------------------- */
static const char *BIT_NAME[6] = { "present", "swapped", "file", "exclusive", "uffd-wp", "soft-dirty" };
static const char BIT_LETTER[6] = { 'P', 'S', 'F', 'E', 'W', 'D' };
static const char *SCAN_NAME[9] = { "WPALLOWED", "WRITTEN", "FILE", "PRESENT", "SWAPPED", "PFNZERO", "HUGE", "SOFT_DIRTY", "GUARD" };
static const char SCAN_LETTER[9] = { 'a', 'w', 'f', 'p', 's', 'z', 'h', 'd', 'g' };

/* expand a run-length string ("P..E.Dx3 ......") into `n` fixed-width items */
static int expand(const char *rle, int width, char *outbuf, int n) {
  int k = 0;
  const char *s = rle;
  while (*s) {
    while (*s == ' ') s++;
    if (!*s) break;
    const char *item = s;
    s += width;
    long rep = 1;
    if (*s == 'x') { rep = strtol(s + 1, (char **)&s, 10); }
    for (long j = 0; j < rep; j++) {
      if (k >= n) return -1;
      memcpy(outbuf + (size_t)k * width, item, (size_t)width);
      k++;
    }
  }
  return k;
}

static int g_failures_in_step;
static int g_step;

static void mismatch(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void mismatch(const char *fmt, ...) {
  g_failures_in_step++;
  if (g_failures_in_step > 8) { if (g_failures_in_step == 9) fputs("# ... (more mismatches in this step)\n", out); return; }
  va_list ap;
  va_start(ap, fmt);
  fprintf(out, "# step %d (%s): ", g_step, OP_TEXT[g_step]);
  vfprintf(out, fmt, ap);
  fputc('\n', out);
  va_end(ap);
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(const char *const *)a, *(const char *const *)b); }

/* "a b c" of sorted event strings joined by ';' */
static void events_text(char *dst, size_t n) {
  const char *v[64];
  for (int i = 0; i < nevents; i++) v[i] = events[i];
  qsort(v, (size_t)nevents, sizeof v[0], cmp_str);
  dst[0] = 0;
  for (int i = 0; i < nevents; i++) {
    if (i) strncat(dst, ";", n - strlen(dst) - 1);
    strncat(dst, v[i], n - strlen(dst) - 1);
  }
}

/* append page k to a list printed as ranges ("0-511 600"), the form the expectations use */
static void add_page(char *dst, size_t n, uint64_t k, uint64_t *run_first, uint64_t *run_last, int *have) {
  if (*have && k == *run_last + 1) { *run_last = k; return; }
  if (*have) {
    size_t l = strlen(dst);
    if (*run_first == *run_last) snprintf(dst + l, n - l, "%s%llu", l ? " " : "", (unsigned long long)*run_first);
    else snprintf(dst + l, n - l, "%s%llu-%llu", l ? " " : "", (unsigned long long)*run_first, (unsigned long long)*run_last);
  }
  *run_first = *run_last = k; *have = 1;
}
static void end_pages(char *dst, size_t n, uint64_t *run_first, uint64_t *run_last, int *have) {
  if (*have) { add_page(dst, n, *run_last + 2, run_first, run_last, have); *have = 0; }
}

/* The outcome the kernel chose for this op (the executor's definitions): returns 0 when it is the
 * one the expectations assume. */
static int check_outcome(int i, int p, int rid, const struct region *before, uint64_t first, uint64_t count, char *why, size_t whylen) {
  const struct exp_step *e = &EXP_STEP[i];
  char got[4096] = "";
  if (e->huge && p >= 0 && P[p].alive && rid >= 0) {
    struct region *rg = &P[p].reg[rid];
    uint64_t sp = rg->start / PG;
    for (uint64_t b = sp / HPG_PAGES * HPG_PAGES; b < sp + rg->pages; b += HPG_PAGES) {
      uint64_t k = b > sp ? b - sp : 0;
      uint8_t now = cur_obs[p][rid][k], then = 0;
      if (!(now & 0x40)) continue;
      if (before[rid].known && k < before[rid].pages) then = prev_obs[p][rid][k];
      if (!(then & 0x40) || ((then & 0x80) && !(now & 0x80)))
        snprintf(got + strlen(got), sizeof got - strlen(got), "%s%llu", got[0] ? " " : "", (unsigned long long)k);
    }
    if (strcmp(got, e->huge)) {
      snprintf(why, whylen, "huge PMDs newly mapped at %s[%s], the expectations assume %s[%s]", REGION_NAMES[rid], got, REGION_NAMES[rid], e->huge);
      return 1;
    }
  }
  if (e->zero && p >= 0 && P[p].alive && rid >= 0) {
    /* pages this read newly mapped to the shared zero page (PAGEMAP_SCAN PFNZERO; a huge zero PMD
     * by its block's first page): some hosts' kernels map no zero page on read faults */
    got[0] = 0;
    uint64_t rf = 0, rl = 0, sp = P[p].reg[rid].start / PG, last_block = UINT64_MAX;
    int have = 0;
    for (uint64_t k = first; k < first + count; k++) {
      uint8_t now = cur_obs[p][rid][k];
      uint8_t then = before[rid].known && k < before[rid].pages ? prev_obs[p][rid][k] : 0;
      if (!(now & 0x80) || (then & 0x80)) continue;
      if (now & 0x40) {
        uint64_t b = (sp + k) / HPG_PAGES, bs = b * HPG_PAGES;
        if (b == last_block) continue;
        last_block = b;
        add_page(got, sizeof got, bs > sp ? bs - sp : 0, &rf, &rl, &have);
      } else add_page(got, sizeof got, k, &rf, &rl, &have);
    }
    end_pages(got, sizeof got, &rf, &rl, &have);
    if (strcmp(got, e->zero)) {
      snprintf(why, whylen, "the read mapped the zero page at %s[%s], the expectations assume %s[%s]", REGION_NAMES[rid], got, REGION_NAMES[rid], e->zero);
      return 1;
    }
  }
  if (e->swapped && p >= 0 && P[p].alive && rid >= 0) {
    got[0] = 0;
    uint64_t rf = 0, rl = 0;
    int have = 0;
    for (uint64_t k = first; k < first + count; k++)
      if ((prev_obs[p][rid][k] & 1) && !(cur_obs[p][rid][k] & 1)) add_page(got, sizeof got, k, &rf, &rl, &have);
    end_pages(got, sizeof got, &rf, &rl, &have);
    if (strcmp(got, e->swapped)) {
      snprintf(why, whylen, "MADV_PAGEOUT took pages %s[%s] out, the expectations assume %s[%s]", REGION_NAMES[rid], got, REGION_NAMES[rid], e->swapped);
      return 1;
    }
  }
  return 0;
}

static void check_pages(int i) {
  static char exp[MAXPAGES * 6];
  for (size_t k = 0; k < sizeof EXP_PAGES / sizeof EXP_PAGES[0]; k++) {
    const struct exp_pages *e = &EXP_PAGES[k];
    if (e->step != i) continue;
    struct proc *pr = &P[e->proc];
    if (e->proc >= nprocs || !pr->alive) { mismatch("process %d is gone, expected it to map region %s", e->proc, REGION_NAMES[e->rid]); continue; }
    struct region *rg = &pr->reg[e->rid];
    int n = expand(e->bits, 6, exp, MAXPAGES);
    if (!rg->known || n != (int)rg->pages) { mismatch("p%d %s: %llu pages observed, expected %d", e->proc, REGION_NAMES[e->rid], (unsigned long long)rg->pages, n); continue; }
    for (int pg = 0; pg < n; pg++) {
      uint8_t v = cur_obs[e->proc][e->rid][pg];
      for (int b = 0; b < 6; b++) {
        char x = exp[pg * 6 + b];
        if (x == '*' || x == '?') continue;
        if (b == 5 && !g_soft_dirty) continue;
        int want = x != '.', got = (v >> b) & 1;
        if (want != got)
          mismatch("p%d %s page %d %s is %d, expected %d (bit %c)", e->proc, REGION_NAMES[e->rid], pg, BIT_NAME[b], got, want, BIT_LETTER[b]);
      }
    }
  }
}

static void check_scan(int i, int p, int rid, uint64_t first, uint64_t count, struct pf_page_region *vec, long nvec) {
  static char exp[MAXPAGES * 9], got[MAXPAGES * 9];
  for (size_t k = 0; k < sizeof EXP_SCAN / sizeof EXP_SCAN[0]; k++) {
    const struct exp_scan *e = &EXP_SCAN[k];
    if (e->step != i || e->proc != p || e->rid != rid) continue;
    uint64_t pages = P[p].reg[rid].pages, base = P[p].reg[rid].start;
    int n = expand(e->cats, 9, exp, MAXPAGES);
    if (n != (int)pages) { mismatch("scan expectations cover %d pages, region %s has %llu", n, REGION_NAMES[rid], (unsigned long long)pages); return; }
    memset(got, '-', (size_t)pages * 9);
    for (long j = 0; j < nvec; j++)
      for (uint64_t a = vec[j].start; a < vec[j].end; a += PG) {
        uint64_t q = (a - base) / PG;
        if (a < base || q >= pages) continue;
        for (int b = 0; b < 9; b++) got[q * 9 + b] = (vec[j].categories >> b) & 1 ? SCAN_LETTER[b] : '.';
      }
    (void)first; (void)count;
    for (uint64_t pg = 0; pg < pages; pg++) {
      const char *x = exp + pg * 9, *y = got + pg * 9;
      if (x[0] == '-' || y[0] == '-') {
        if ((x[0] == '-') != (y[0] == '-'))
          mismatch("PAGEMAP_SCAN p%d %s page %llu is %s, expected %s", p, REGION_NAMES[rid], (unsigned long long)pg,
                   y[0] == '-' ? "not reported" : "reported", x[0] == '-' ? "not reported" : "reported");
        continue;
      }
      for (int b = 0; b < 9; b++) {
        if (b == 7 && !g_soft_dirty) continue;
        int want = x[b] != '.', have = y[b] != '.';
        if (want != have)
          mismatch("PAGEMAP_SCAN p%d %s page %llu category %s is %d, expected %d", p, REGION_NAMES[rid], (unsigned long long)pg, SCAN_NAME[b], have, want);
      }
    }
  }
}

/* ---- one attempt ---------------------------------------------------------------------------- */
static void supervise(void) __attribute__((noreturn));
static void supervise(void) {
  char why[512] = "";
  if (g_cpu >= 0) { cpu_set_t set; CPU_ZERO(&set); CPU_SET(g_cpu, &set); sched_setaffinity(0, sizeof set, &set); }
  if (drop_to_nobody(why, sizeof why)) fatal("%s", why);
  prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
  fflush(out);
  start_process0();
  if (UFFD_FEATURES >= 0) {
    struct cmd c = { .code = C_UFFD_OPEN, .addr = (uint64_t)UFFD_FEATURES };
    struct rep r;
    const char *rc = run(0, &c, &r);
    if (strcmp(rc, "0")) {
      fprintf(out, "# SKIP userfaultfd with features 0x%llx is not available here: %s%s\n", (unsigned long long)UFFD_FEATURES, rc,
              !strcmp(rc, "EPERM") ? " (UFFD_FEATURE_EVENT_FORK needs CAP_SYS_PTRACE: run as root)" : "");
      fflush(out);
      exit(KSFT_SKIP);
    }
    if ((CTX[0].fd = recv_uffd(why, sizeof why)) < 0) fatal("%s", why);
    CTX[0].proc = 0; nctx = 1; P[0].ctx = 0;
  }
  drop_all_caps();

  int failed = 0;
  static struct region before[MAXR];
  for (int i = 0; i < NOPS; i++) {
    const int64_t *v = OPS[i];
    int code = (int)v[0], p = (int)v[1];
    g_step = i; g_failures_in_step = 0; nevents = 0;
    if (p < 0 || p >= nprocs) fatal("op %d addresses process %d, which does not exist", i, p);
    int skipped = !P[p].alive;
    const char *rc = "0";
    int acted = p, rid = -1;
    uint64_t first = 0, count = 0;
    static struct pf_page_region vec[MAXPAGES + 1];
    long nvec = 0;
    int scanned = 0;
    memcpy(before, P[p].reg, sizeof before);
    if (skipped) {
      if (code == OP_FORK && nprocs < MAXP) P[nprocs++].alive = 0; /* the number is taken anyway */
      acted = -1;
    } else {
      struct proc *pr = &P[p];
      rid = (code != OP_FORK && code != OP_EXIT && code != OP_CLEAR_REFS && code != OP_SKIP) ? (int)v[2] : -1;
      struct region *rg = rid >= 0 ? &pr->reg[rid] : NULL;
      if (rg && code != OP_MMAP && !rg->known) fatal("op %d: region %s unknown in process %d", i, REGION_NAMES[rid], p);
      if (rg && code != OP_MMAP && code != OP_MREMAP && code != OP_SPLIT) { first = (uint64_t)v[3]; count = (uint64_t)v[4]; }
      uint64_t addr = rg ? rg->start + first * PG : 0, len = count * PG;
      struct cmd c;
      memset(&c, 0, sizeof c);
      struct rep r = { 0 };
      switch (code) {
      case OP_SKIP: acted = -1; break;
      case OP_MMAP:
        rg->known = 1; rg->start = (uint64_t)v[3] * PG; rg->pages = (uint64_t)v[4];
        c.code = C_MMAP; c.addr = rg->start; c.len = rg->pages * PG; c.a = (int)v[5]; c.b = (int)v[6];
        rc = run(p, &c, &r);
        break;
      case OP_MREMAP: {
        uint64_t np = (uint64_t)v[3];
        int move = (int)v[4], oldrid = (int)v[6], apply = (int)v[8];
        c.code = C_MREMAP; c.addr = rg->start; c.len = rg->pages * PG; c.len2 = np * PG;
        c.a = move; c.b = (int)v[5]; c.addr2 = (uint64_t)v[7] * PG;
        rc = run(p, &c, &r);
        if (move) {
          if (oldrid >= 0 && oldrid < MAXR) pr->reg[oldrid] = *rg;
          rg->start = c.addr2; rg->pages = np;
        } else if (apply) rg->pages = np;
        break;
      }
      case OP_MUNMAP: c.code = C_MUNMAP; c.addr = addr; c.len = len; rc = run(p, &c, &r); break;
      case OP_MPROTECT:
        c.code = C_MPROTECT; c.addr = addr; c.len = len; c.a = v[5] == 0 ? PROT_NONE : v[5] == 1 ? PROT_READ : PROT_READ | PROT_WRITE;
        rc = run(p, &c, &r);
        break;
      case OP_READ: case OP_WRITE:
        c.code = C_TOUCH; c.addr = addr; c.len = len; c.a = code == OP_WRITE; rc = run(p, &c, &r); break;
      case OP_FORK: {
        if (nprocs >= MAXP) fatal("op %d: fork would exceed %d processes", i, MAXP);
        int child = nprocs;
        c.code = C_FORK; c.a = child;
        g_fork_child = child;
        fflush(out);
        rc = run(p, &c, &r);
        nprocs++;
        if (!strcmp(rc, "0")) {
          memcpy(P[child].reg, pr->reg, sizeof pr->reg);
          if (P[child].ctx < 0) P[child].ctx = pr->ctx;
          start_process(child, (pid_t)r.x);
        }
        g_fork_child = -1;
        acted = -1;
        break;
      }
      case OP_EXIT:
        c.code = C_EXIT;
        rc = run(p, &c, &r);
        if (pr->alive) reap(p);
        acted = -1;
        break;
      case OP_CLEAR_REFS: c.code = C_CLEAR_REFS; c.a = (int)v[2]; rc = run(p, &c, &r); acted = -1; break;
      case OP_PAGEOUT: case OP_DONTNEED:
        c.code = C_MADVISE; c.addr = addr; c.len = len; c.a = code == OP_PAGEOUT ? MADV_PAGEOUT : MADV_DONTNEED;
        rc = run(p, &c, &r);
        break;
      case OP_COLLAPSE: collapse_cmd(&c, rg, addr, len); rc = run(p, &c, &r); break;
      case OP_SPLIT: c.code = C_SPLIT; c.addr = rg->start + (uint64_t)v[3] * PG; rc = run(p, &c, &r); break;
      case OP_UREG: case OP_UUNREG: case OP_WP: rc = uffd_op(p, code, addr, len, (int)v[5]); break;
      case OP_SCAN: {
        c.code = C_SCAN; c.addr = addr; c.len = len; c.a = (int)v[5]; c.len2 = (uint64_t)v[6];
        rc = run_scan(p, &c, vec, &nvec);
        scanned = nvec >= 0;
        break;
      }
      case OP_CLOSE_UFFD: rc = uffd_close(p); acted = -1; break;
      case OP_POPULATE:
        c.code = C_MADVISE; c.addr = addr; c.len = len; c.a = v[5] ? MADV_POPULATE_WRITE : MADV_POPULATE_READ;
        rc = run(p, &c, &r);
        break;
      default: fatal("op %d: unknown op code %d", i, code);
      }
    }
    drain_all();
    observe_all();

    /* check: rc, the outcome the expectations assume, events, every pagemap bit, scan categories */
    const struct exp_step *e = &EXP_STEP[i];
    if (!skipped && strcmp(e->rc, "*") && strcmp(e->rc, rc)) mismatch("returned %s, expected %s", rc, e->rc);
    if (!skipped && !g_failures_in_step && check_outcome(i, acted, rid, before, first, count, why, sizeof why)) {
      fprintf(out, "# step %d (%s): the kernel chose another outcome: %s\n", i, OP_TEXT[i], why);
      fflush(out);
      exit(EXIT_OUTCOME);
    }
    if (e->events) {
      char got[4096];
      events_text(got, sizeof got);
      if (strcmp(got, e->events)) mismatch("uffd events [%s], expected [%s]", got, e->events);
    }
    check_pages(i);
    if (scanned) check_scan(i, p, rid, first, count, vec, nvec);
    else if (!skipped && code == OP_SCAN && !strcmp(e->rc, "0")) mismatch("PAGEMAP_SCAN returned nothing");
    if (g_failures_in_step) failed++;
    fprintf(out, "%s %d step %d (%s)%s\n", g_failures_in_step ? "not ok" : "ok", i + 1, i, OP_TEXT[i],
            skipped ? " # SKIP its process is gone" : "");
    fflush(out);
    memcpy(prev_obs, cur_obs, sizeof prev_obs);
  }
  for (int p = 0; p < nprocs; p++) if (P[p].alive) kill(P[p].pid, SIGKILL);
  for (int p = 0; p < nprocs; p++) if (P[p].alive) reap(p);
  exit(failed ? KSFT_FAIL : KSFT_PASS);
}

/* ---- main: host checks, attempts, KTAP ------------------------------------------------------ */
static int host_pagemap_scan(void) {
  void *m = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  struct pf_page_region v[2];
  pm_fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
  uint64_t a = (uint64_t)(uintptr_t)m;
  int ok = m != MAP_FAILED && pm_fd >= 0 && do_scan(a, a + PG, 0, 0, 0, PAGE_CATS_ALL, 0, v, 2) >= 0;
  if (pm_fd >= 0) close(pm_fd);
  pm_fd = -1;
  if (m != MAP_FAILED) munmap(m, PG);
  return ok;
}

static int host_swap(void) {
  FILE *f = fopen("/proc/swaps", "re");
  if (!f) return 0;
  char line[512];
  int n = 0;
  while (fgets(line, sizeof line, f)) n++;
  fclose(f);
  return n > 1; /* a header line, then one line per active swap area */
}

int main(void) {
  cpu_set_t set;
  if (!sched_getaffinity(0, sizeof set, &set))
    for (int c = 0; c < CPU_SETSIZE; c++) if (CPU_ISSET(c, &set)) { g_cpu = c; break; }
  setvbuf(stdout, NULL, _IOLBF, 0);
  printf("KTAP version 1\n# ptefarm reproducer: %s\n", CASE_NAME);
  /* the plan's page numbers count 4 KiB pages (ptefarm-uapi.h PG): elsewhere they mean other addresses */
  if (sysconf(_SC_PAGESIZE) != (long)PG) { printf("1..0 # SKIP generated for %llu-byte pages; this kernel has %ld-byte pages\n", (unsigned long long)PG, sysconf(_SC_PAGESIZE)); return KSFT_SKIP; }
  g_soft_dirty = host_soft_dirty();
  if (!g_soft_dirty) printf("# SKIP soft-dirty checks: this kernel has no soft-dirty (no \"sd\" in a fresh mapping's VmFlags), bit 55 and SOFT_DIRTY are not compared\n");
  if (USES_SCAN && !host_pagemap_scan()) { printf("1..0 # SKIP PAGEMAP_SCAN is not supported by this kernel\n"); return KSFT_SKIP; }
  if (USES_PAGEOUT && !host_swap()) { printf("1..0 # SKIP no active swap: MADV_PAGEOUT cannot reclaim anonymous pages\n"); return KSFT_SKIP; }
  printf("1..%d\n", NOPS);
  fflush(stdout);
  for (int attempt = 1; attempt <= ATTEMPTS; attempt++) {
    FILE *tmp = tmpfile();
    if (!tmp) { printf("# harness error: tmpfile: %s\nnot ok 1 harness\n", strerror(errno)); return KSFT_FAIL; }
    pid_t s = fork();
    if (s < 0) { printf("# harness error: fork: %s\n", strerror(errno)); return KSFT_FAIL; }
    if (s == 0) {
      setpgid(0, 0);
      out = tmp;
      alarm(TIMEOUT_S);
      supervise();
    }
    setpgid(s, s);
    int st = 0;
    waitpid(s, &st, 0);
    kill(-s, SIGKILL);
    int code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    /* copy what the attempt printed; an outcome retry prints only its diagnostic */
    rewind(tmp);
    char line[4096];
    int last = attempt == ATTEMPTS;
    while (fgets(line, sizeof line, tmp)) {
      if (code == EXIT_OUTCOME && !last && line[0] != '#') continue;
      fputs(line, stdout);
    }
    fclose(tmp);
    if (code == EXIT_OUTCOME && !last) { printf("# attempt %d: retrying\n", attempt); continue; }
    if (code == EXIT_OUTCOME) {
      printf("# SKIP the kernel chose other outcomes (THP, reclaim) than the expectations assume, %d times\n", ATTEMPTS);
      printf("# Totals: pass:0 fail:0 xfail:0 xpass:0 skip:1 error:0\n");
      return KSFT_SKIP;
    }
    if (WIFSIGNALED(st)) {
      printf("# harness error: the supervisor was killed by %s%s\n", signame(WTERMSIG(st)), WTERMSIG(st) == SIGALRM ? " (timeout)" : "");
      return KSFT_FAIL;
    }
    if (code == KSFT_PASS && ASSERTS_SOFT_DIRTY && !ASSERTS_UFFD_WP && !g_soft_dirty) {
      /* nothing differed, but the bits this case exists for were never compared: not a pass */
      printf("# SKIP this case asserts soft-dirty (bit 55), which this kernel cannot show: every asserted bit was masked\n");
      printf("# Totals: pass:0 fail:0 xfail:0 xpass:0 skip:1 error:0\n");
      return KSFT_SKIP;
    }
    if (code == KSFT_PASS) printf("# Totals: pass:%d fail:0 xfail:0 xpass:0 skip:0 error:0\n", NOPS);
    else if (code == KSFT_FAIL) printf("# FAIL: the kernel differs from the x86 reference model (first mismatch above)\n");
    return code;
  }
  return KSFT_FAIL;
}
