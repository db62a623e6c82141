/* The executor floor: the raw syscalls of a fixed set of cases, in-process, nothing of ptefarm.
 *
 * Input (file argv[1]): per case
 *   case <nops> <uffd_features|-1>
 *   then per op: the op line in the executor's encoding (workers/executor/README.md), followed by
 *   one observation line `o <n> <start_page> <pages> ...` listing every range the executor reads
 *   after that op (every region of every live process).
 * For each case the floor forks one process (pinned to the CPU the executor uses), which performs
 * the ops' syscalls directly on its own address space and, after every op, preads its own
 * /proc/self/pagemap for every listed range plus one PAGEMAP_SCAN (anyof HUGE) per range, and reads
 * back the first 8 bytes of every page the pagemap shows present (the content oracle,
 * workers/executor/ptefarm-content.h) in the cheapest correct form: a plain load where the VMA is
 * readable, an 8-byte pread of /proc/self/mem for a page whose load faulted (PROT_NONE) — the
 * reads the executor's case processes must do at the least. It then exits; the parent waits for it.
 *
 * Deliberate simplifications (this is a lower bound, not an executor):
 *  - one process per case: ops of forked processes run in the same address space; a `fork` op is a
 *    real fork() whose child exits at once (the page-table copy is paid, nothing more);
 *  - userfaultfd, when the case has one, is opened with WP_ASYNC added and the EVENT_* features
 *    removed (a single thread cannot serve sync wp faults or non-cooperative events);
 *  - faults from touching protected or unmapped pages are caught (sigsetjmp) and ignored.
 * Output: `floor cases=N ops=M ms=T cpu_ms=C` on stdout (T: wall time over all cases, fork+wait
 * included; C: CPU time, user + system, of the case processes and of this process's forks and
 * waits, which a loaded host inflates less).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* the uapi definitions newer than the host headers, and the limits, shared with the executor */
#include "../workers/executor/ptefarm-uapi.h"

#ifndef MAXOPS
#define MAXOPS 256
#endif
#define MAXOBS (8 * MAXR)

struct line { int64_t v[12]; int n; };
struct op { struct line l; int nobs; int64_t *obs; };
struct kase { int nops; int64_t features; struct op *ops; };
struct reg { uint64_t start, pages; };

static struct reg R[MAXR];
static int pm_fd = -1, mem_fd = -1, uffd = -1;
static sigjmp_buf jb, load_jb;
static volatile sig_atomic_t loading;
static volatile uint64_t sink;

static void on_fault(int sig) { (void)sig; if (loading) siglongjmp(load_jb, 1); siglongjmp(jb, 1); }

/* the content read-back of one present page: a load, or /proc/self/mem when the load faults */
static void read_back(uint64_t addr) {
  uint64_t v = 0;
  if (!sigsetjmp(load_jb, 0)) {
    loading = 1;
    v = *(volatile uint64_t *)(uintptr_t)addr;
    loading = 0;
  } else {
    loading = 0;
    if (pread(mem_fd, &v, 8, (off_t)addr) != 8) v = 0;
  }
  sink += v;
}

static long scan(uint64_t start, uint64_t end, uint64_t flags, uint64_t mask, uint64_t anyof, uint64_t ret,
                 uint64_t max_pages, struct pf_page_region *vec, uint64_t vlen) {
  struct pf_pm_scan_arg a;
  memset(&a, 0, sizeof a);
  a.size = sizeof a; a.flags = flags; a.start = start; a.end = end;
  a.vec = (uint64_t)(uintptr_t)vec; a.vec_len = vlen; a.max_pages = max_pages;
  a.category_mask = mask; a.category_anyof_mask = anyof; a.return_mask = ret;
  return ioctl(pm_fd, PF_PAGEMAP_SCAN, &a);
}

static void observe(const struct op *o) {
  static uint64_t ent[MAXPAGES];
  static struct pf_page_region vec[MAXPAGES + 1];
  static uint8_t code[MAXPAGES];
  for (int i = 0; i < o->nobs; i++) {
    uint64_t start = (uint64_t)o->obs[2 * i], pages = (uint64_t)o->obs[2 * i + 1];
    if (pages > MAXPAGES) pages = MAXPAGES;
    memset(ent, 0, pages * 8);
    if (pread(pm_fd, ent, pages * 8, (off_t)(start * 8)) < 0) continue;
    for (uint64_t k = 0; k < pages; k++) {
      uint64_t e = ent[k];
      code[k] = (uint8_t)(((e >> 63) & 1) | (((e >> 62) & 1) << 1) | (((e >> 61) & 1) << 2) |
                          (((e >> 56) & 1) << 3) | (((e >> 57) & 1) << 4) | (((e >> 55) & 1) << 5));
    }
    long r = scan(start * PG, (start + pages) * PG, 0, 0, PAGE_IS_HUGE, PAGE_IS_HUGE | PAGE_IS_PFNZERO, 0, vec, MAXPAGES);
    for (long j = 0; j < r; j++) code[0] |= 0x40;
    sink += code[pages ? pages - 1 : 0];
    for (uint64_t k = 0; k < pages; k++) if (code[k] & 1) read_back((start + k) * PG);
  }
}

static int prot_of(uint64_t addr) {
  FILE *f = fopen("/proc/self/maps", "re");
  if (!f) return -1;
  char line[512];
  int prot = -1;
  while (fgets(line, sizeof line, f)) {
    unsigned long lo, hi; char perms[8];
    if (sscanf(line, "%lx-%lx %7s", &lo, &hi, perms) != 3) continue;
    if (addr >= lo && addr < hi) { prot = (perms[0] == 'r' ? PROT_READ : 0) | (perms[1] == 'w' ? PROT_WRITE : 0); break; }
  }
  fclose(f);
  return prot;
}

static void touch(uint64_t addr, uint64_t len, int write) {
  if (sigsetjmp(jb, 1)) return; /* a fault ends the touch, as it would end the case process */
  for (uint64_t off = 0; off < len; off += PG) {
    volatile uint8_t *b = (volatile uint8_t *)(uintptr_t)(addr + off);
    if (write) *b = 0x5a; else sink += *b;
  }
}

static void run_op(const struct line *l) {
  const int64_t *v = l->v;
  int code = (int)v[0];
  uint64_t a, len;
  switch (code) {
  case 0: case 8: return; /* skip, exit */
  case 1: { /* mmap proc rid start pages kind thp */
    int rid = (int)v[2], kind = (int)v[5], fd = -1, flags = MAP_FIXED_NOREPLACE;
    R[rid].start = (uint64_t)v[3]; R[rid].pages = (uint64_t)v[4];
    if (kind == 0) flags |= MAP_PRIVATE | MAP_ANONYMOUS;
    else if (kind == 1) flags |= MAP_SHARED | MAP_ANONYMOUS;
    else {
      flags |= kind == 2 ? MAP_SHARED : MAP_PRIVATE;
      fd = memfd_create("floor", MFD_CLOEXEC);
      if (fd < 0 || ftruncate(fd, (off_t)(MAXPAGES * PG))) return;
    }
    void *p = mmap((void *)(uintptr_t)(R[rid].start * PG), R[rid].pages * PG, PROT_READ | PROT_WRITE, flags, fd, 0);
    if (fd >= 0) close(fd);
    if (p != MAP_FAILED) madvise(p, R[rid].pages * PG, v[6] ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
    return;
  }
  case 3: { /* mremap proc rid new_pages move dontunmap old_rid new_start apply */
    int rid = (int)v[2], old = (int)v[6];
    uint64_t np = (uint64_t)v[3];
    struct reg r = R[rid];
    if (v[4]) {
      mremap((void *)(uintptr_t)(r.start * PG), r.pages * PG, np * PG,
             MREMAP_MAYMOVE | MREMAP_FIXED | (v[5] ? MREMAP_DONTUNMAP : 0), (void *)(uintptr_t)(v[7] * PG));
      if (old >= 0 && old < MAXR) R[old] = r;
      R[rid].start = (uint64_t)v[7]; R[rid].pages = np;
    } else {
      mremap((void *)(uintptr_t)(r.start * PG), r.pages * PG, np * PG, 0);
      if (v[8]) R[rid].pages = np;
    }
    return;
  }
  case 7: { /* fork */
    pid_t pid = fork();
    if (pid == 0) _exit(0);
    if (pid > 0) waitpid(pid, NULL, 0);
    return;
  }
  case 9: { /* clear_refs proc value */
    char b[16];
    int n = snprintf(b, sizeof b, "%d", (int)v[2]);
    int fd = open("/proc/self/clear_refs", O_WRONLY | O_CLOEXEC);
    if (fd >= 0) { if (write(fd, b, (size_t)n) < 0) sink++; close(fd); }
    return;
  }
  case 13: { /* split proc rid page */
    a = (R[v[2]].start + (uint64_t)v[3]) * PG;
    int cur = prot_of(a);
    if (mprotect((void *)(uintptr_t)a, PG, cur == PROT_READ ? PROT_NONE : PROT_READ) == 0 && cur >= 0)
      mprotect((void *)(uintptr_t)a, PG, cur);
    return;
  }
  }
  /* ranged: code proc rid first count [extra] */
  a = (R[v[2]].start + (uint64_t)v[3]) * PG;
  len = (uint64_t)v[4] * PG;
  switch (code) {
  case 2: munmap((void *)(uintptr_t)a, len); break;
  case 4: mprotect((void *)(uintptr_t)a, len, v[5] == 0 ? PROT_NONE : v[5] == 1 ? PROT_READ : PROT_READ | PROT_WRITE); break;
  case 5: touch(a, len, 0); break;
  case 6: touch(a, len, 1); break;
  case 10: madvise((void *)(uintptr_t)a, len, MADV_PAGEOUT); break;
  case 11: madvise((void *)(uintptr_t)a, len, MADV_DONTNEED); break;
  case 12: { /* widened to 2 MiB, clipped to the region */
    uint64_t rs = R[v[2]].start * PG, re = rs + R[v[2]].pages * PG;
    uint64_t lo = a & ~((512 * PG) - 1), hi = (a + len + 512 * PG - 1) & ~((512 * PG) - 1);
    if (lo < rs) lo = rs;
    if (hi > re) hi = re;
    madvise((void *)(uintptr_t)lo, hi - lo, MADV_COLLAPSE);
    break;
  }
  case 14: if (uffd >= 0) { struct uffdio_register r = { .range = { a, len }, .mode = UFFDIO_REGISTER_MODE_WP }; ioctl(uffd, UFFDIO_REGISTER, &r); } break;
  case 15: if (uffd >= 0) { struct uffdio_range r = { a, len }; ioctl(uffd, UFFDIO_UNREGISTER, &r); } break;
  case 16: if (uffd >= 0) { struct uffdio_writeprotect w = { .range = { a, len }, .mode = v[5] ? UFFDIO_WRITEPROTECT_MODE_WP : 0 }; ioctl(uffd, UFFDIO_WRITEPROTECT, &w); } break;
  case 17: {
    static struct pf_page_region vec[MAXPAGES + 2];
    uint64_t pages = len / PG;
    if (pages > MAXPAGES) pages = MAXPAGES;
    long r = v[5] ? scan(a, a + len, 1 | 2, PAGE_IS_WRITTEN, 0, PAGE_CATS_ALL, (uint64_t)v[6], vec, pages + 1)
                  : scan(a, a + len, 0, 0, 0, PAGE_CATS_ALL, (uint64_t)v[6], vec, pages + 1);
    if (r > 0) sink += vec[0].categories;
    break;
  }
  }
}

static void run_case(const struct kase *k) {
  memset(R, 0, sizeof R);
  pm_fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
  mem_fd = open("/proc/self/mem", O_RDONLY | O_CLOEXEC);
  if (k->features >= 0) {
    uffd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY);
    if (uffd >= 0) {
      struct uffdio_api api = { .api = UFFD_API, .features = ((uint64_t)k->features & ~(uint64_t)(UFFD_FEATURE_EVENT_FORK | UFFD_FEATURE_EVENT_REMAP | UFFD_FEATURE_EVENT_UNMAP)) | UFFD_FEATURE_WP_ASYNC };
      if (ioctl(uffd, UFFDIO_API, &api)) { close(uffd); uffd = -1; }
    }
  }
  for (int i = 0; i < k->nops; i++) {
    run_op(&k->ops[i].l);
    observe(&k->ops[i]);
  }
}

static int parse_nums(const char *s, int64_t *out, int max) {
  int n = 0;
  char *end;
  while (n < max) {
    while (*s == ' ') s++;
    if (!*s || *s == '\n') break;
    out[n++] = strtoll(s, &end, 10);
    if (end == s) break;
    s = end;
  }
  return n;
}

int main(int argc, char **argv) {
  if (argc < 2) { fprintf(stderr, "usage: floor CASES_FILE [CPU]\n"); return 2; }
  FILE *f = fopen(argv[1], "r");
  if (!f) { perror(argv[1]); return 2; }
  int cpu = -1;
  if (argc > 2) cpu = atoi(argv[2]);
  else {
    cpu_set_t s;
    if (!sched_getaffinity(0, sizeof s, &s)) for (int i = 0; i < CPU_SETSIZE; i++) if (CPU_ISSET(i, &s)) { cpu = i; break; }
  }
  /* read everything first: parsing is not part of the floor */
  static char buf[1 << 16];
  int cap = 64, nk = 0;
  struct kase *ks = malloc(sizeof *ks * (size_t)cap);
  long total_ops = 0;
  while (fgets(buf, sizeof buf, f)) {
    if (strncmp(buf, "case ", 5)) continue;
    int64_t h[2] = {0, -1};
    parse_nums(buf + 5, h, 2);
    if (nk == cap) { cap *= 2; ks = realloc(ks, sizeof *ks * (size_t)cap); }
    struct kase *k = &ks[nk++];
    k->nops = (int)h[0]; k->features = h[1];
    if (k->nops > MAXOPS) { fprintf(stderr, "too many ops\n"); return 2; }
    k->ops = calloc((size_t)k->nops, sizeof *k->ops);
    for (int i = 0; i < k->nops; i++) {
      static char ob[1 << 20];
      if (!fgets(buf, sizeof buf, f)) { fprintf(stderr, "truncated case\n"); return 2; }
      k->ops[i].l.n = parse_nums(buf, k->ops[i].l.v, 12);
      if (!fgets(ob, sizeof ob, f) || ob[0] != 'o') { fprintf(stderr, "missing observation line\n"); return 2; }
      static int64_t nums[2 * MAXOBS + 1];
      int n = parse_nums(ob + 1, nums, 2 * MAXOBS + 1);
      k->ops[i].nobs = n > 0 ? (int)nums[0] : 0;
      if (k->ops[i].nobs > MAXOBS) k->ops[i].nobs = MAXOBS;
      k->ops[i].obs = malloc(sizeof(int64_t) * 2 * (size_t)(k->ops[i].nobs + 1));
      memcpy(k->ops[i].obs, nums + 1, sizeof(int64_t) * 2 * (size_t)k->ops[i].nobs);
    }
    total_ops += k->nops;
  }
  fclose(f);

  struct timespec t0, t1;
  struct rusage self0, self1;
  getrusage(RUSAGE_SELF, &self0);
  clock_gettime(CLOCK_MONOTONIC, &t0);
  for (int i = 0; i < nk; i++) {
    pid_t pid = fork();
    if (pid < 0) { perror("fork"); return 1; }
    if (pid == 0) {
      if (cpu >= 0) { cpu_set_t s; CPU_ZERO(&s); CPU_SET(cpu, &s); sched_setaffinity(0, sizeof s, &s); }
      struct sigaction sa;
      memset(&sa, 0, sizeof sa);
      sa.sa_handler = on_fault;
      sa.sa_flags = SA_NODEFER;
      sigaction(SIGSEGV, &sa, NULL);
      sigaction(SIGBUS, &sa, NULL);
      run_case(&ks[i]);
      _exit(0);
    }
    int st;
    waitpid(pid, &st, 0);
  }
  clock_gettime(CLOCK_MONOTONIC, &t1);
  getrusage(RUSAGE_SELF, &self1);
  double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
  struct rusage ru;
  getrusage(RUSAGE_CHILDREN, &ru);
#define RU_MS(r) ((double)((r).ru_utime.tv_sec + (r).ru_stime.tv_sec) * 1e3 + (double)((r).ru_utime.tv_usec + (r).ru_stime.tv_usec) / 1e3)
  /* the case processes, and this process while it forked and waited for them (as the wall time) */
  double cpu_ms = RU_MS(ru) + RU_MS(self1) - RU_MS(self0);
  printf("floor cases=%d ops=%ld ms=%.3f cpu_ms=%.3f\n", nk, total_ops, ms, cpu_ms);
  return 0;
}
