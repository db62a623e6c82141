/*
 * ptefarm-exec: the native executor of the `live` target.
 *
 * One long-lived process serves many cases over stdin/stdout (protocol in README.md next to this
 * file; the TypeScript side is src/targets/live.ts). It forks a SUPERVISOR (S) once, which drops
 * privileges, pins itself to one CPU (MADV_PAGEOUT only drains the local CPU's LRU batches, so
 * pages faulted on another CPU would not be reclaimable), and then serves case after case: main
 * hands it each checked case over a pipe, S creates the case's processes (process 0 is forked by
 * S's zygote, ptefarm-mm.h start_zygote, so that S's own pages are not copy-on-write during the
 * case) and kills them after it.
 * An S that died (its case's fault, a kill) is forked again for the next case. Cases that need
 * CAP_SYS_PTRACE (event_fork) have a long-lived S of their own, which keeps that one capability
 * parked (permitted, not effective) for each case's process 0, so that the other one holds none.
 *
 *   main  --case text-->  S  --binary commands over pipes-->  P0, P1, ... (the case processes)
 *   main  <--step lines--  S  <--replies, pagemap codes------  P0, P1, ...
 *
 * Case processes are dumb: they execute one syscall-level command at a time at the address the
 * supervisor gives and read their OWN /proc/self/pagemap (opened after fork) on request. Every
 * case process is created with CLONE_PARENT, so S is the parent of all of them and learns through
 * waitid() which signal killed one. S also owns every userfaultfd of the case: process 0 opens it
 * and passes it to S over a unix socket, so S's poll loop resolves sync write-protect faults and
 * reads fork/remap/unmap events (with event_fork the child's new uffd is installed in S, the
 * reader). Userfaultfd ioctls of the case (register, unregister, writeprotect) are issued by S on
 * the context of the addressed process: the ioctls act on the mm the context is bound to, not on
 * the caller's.
 *
 * main enforces the wall-clock limit: it kills S's whole process group when the case overruns and
 * answers with a fault line, so a hang or a crash never takes the executor down (nor outlives the
 * case: the next case starts a new S).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ptefarm-mm.h"
#include "ptefarm-hostfacts.h"

#define MAXOPS 256

/* one line of the case: op code and up to 9 integer arguments */
struct line { int64_t v[10]; int n; };

static int g_ncase_ops;
static struct line g_ops[MAXOPS];
static int64_t g_uffd_features = -1; /* -1: the case opens no userfaultfd */
static long g_timeout_ms = 10000;
static int g_inject_kind, g_inject_op = -1; /* test-only fault injection: 1 hang, 2 crash, 3 pause of S */
static int g_cpu = -1;
static pid_t g_main_pid; /* the executor's request loop, S's parent */
static uid_t g_drop_uid = 65534;
static gid_t g_drop_gid = 65534;

static long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/* ------------------------------------------------------------------------------------------- */
/* supervisor                                                                                   */

static FILE *out;

static void fatal(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("f ", out);
  vfprintf(out, fmt, ap);
  fputc('\n', out);
  va_end(ap);
  fflush(out);
  exit(3);
}

/* ops whose line names a region id (the third number) */
static int op_has_region(int code) {
  return code != OP_SKIP && code != OP_FORK && code != OP_EXIT && code != OP_CLEAR_REFS && code != OP_CLOSE_UFFD;
}

/* inject kind 3 (tests only): S announces its pid and the case processes' pids (0: gone) in an
 * `i` line and waits for SIGUSR1 before op k, so that a test can act on them at a known point */
static void inject_pause(int i) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGUSR1);
  sigprocmask(SIG_BLOCK, &set, NULL);
  fprintf(out, "i paused before op %d: supervisor %d processes", i, (int)getpid());
  for (int p = 0; p < nprocs; p++) fprintf(out, " %d", P[p].alive ? (int)P[p].pid : 0);
  fputc('\n', out);
  fflush(out);
  int sig;
  sigwait(&set, &sig);
}

/* events are collected while the op runs and printed after its `s` line */
static char evbuf[1 << 16];
static size_t evlen;

static void emit_event(const char *kind, int p, uint64_t addr, int has_addr, int child) {
  uint64_t page = 0;
  int r = has_addr && p >= 0 ? region_at(p, addr, &page) : -1;
  char b[160];
  int n;
  if (r >= 0) n = snprintf(b, sizeof b, "e %s %d %d %llu", kind, p, r, (unsigned long long)page);
  else n = snprintf(b, sizeof b, "e %s %d - -", kind, p);
  if (child >= 0) n += snprintf(b + n, sizeof b - (size_t)n, " %d\n", child);
  else n += snprintf(b + n, sizeof b - (size_t)n, " -\n");
  if (evlen + (size_t)n < sizeof evbuf) { memcpy(evbuf + evlen, b, (size_t)n); evlen += (size_t)n; }
}

/* The step lines are buffered for the whole case (one write to main per case, not per op: main
 * forwards what it reads, so each write costs a wakeup of main and of the reader behind it), and
 * written out early wherever the supervisor may wait without bound: a poll that timed out (a case
 * process slow or hung: ptefarm-mm.h wait_reply), the teardown of an exiting process, an injected
 * fault, and every fatal() or env_report, so that main still has the steps before a timeout. */
static void flush_output(void) { fflush(out); }

static void flush_events(void) {
  fwrite(evbuf, 1, evlen, out);
  evlen = 0;
}

static const char CODE_ALPHABET[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz!#$%&()*+,-./";

static void print_pages(void) {
  for (int p = 0; p < nprocs; p++) {
    if (!P[p].alive) continue;
    for (int g = 0; g < MAXR; g++) {
      if (!P[p].reg[g].known) continue;
      fprintf(out, "p %d %d ", p, g);
      uint64_t n = P[p].reg[g].pages;
      for (uint64_t k = 0; k < n;) {
        uint8_t v = cur_obs[p][g][k] & 0x3f;
        uint64_t j = k + 1;
        while (j < n && (cur_obs[p][g][j] & 0x3f) == v) j++;
        fputc(CODE_ALPHABET[v], out);
        if (j - k > 1) fprintf(out, "%llu", (unsigned long long)(j - k));
        k = j;
      }
      fputc('\n', out);
      /* guard pages (pagemap bit 58) of the region, as runs: `g proc rid first count ...` */
      int g_printed = 0;
      for (uint64_t k = 0; k < n;) {
        if (!OBS_IS_GUARD(cur_obs[p][g][k])) { k++; continue; }
        uint64_t j = k + 1;
        while (j < n && OBS_IS_GUARD(cur_obs[p][g][j])) j++;
        if (!g_printed) { fprintf(out, "g %d %d", p, g); g_printed = 1; }
        fprintf(out, " %llu %llu", (unsigned long long)k, (unsigned long long)(j - k));
        k = j;
      }
      if (g_printed) fputc('\n', out);
    }
  }
}

/* the content of every live process's regions (`c` lines, ptefarm-content.h) */
static void print_content(void) {
  for (int p = 0; p < nprocs; p++) {
    if (!P[p].alive) continue;
    for (int g = 0; g < MAXR; g++)
      if (P[p].reg[g].known) content_print(out, p, g, P[p].reg[g].pages, cur_val[p][g], cur_known[p][g]);
  }
}

/* `huge` outcome: 2 MiB blocks of the acting process's regions that are mapped by a huge PMD now
 * and were not before this op (or were the huge zero page and now are a real THP). */
static void print_huge(int p, const struct region *before) {
  if (p < 0 || !P[p].alive) return;
  for (int g = 0; g < MAXR; g++) {
    struct region *rg = &P[p].reg[g];
    if (!rg->known) continue;
    int printed = 0;
    uint64_t ks[MAXPAGES / HPG_PAGES + 2];
    int n = huge_outcome(cur_obs[p][g], rg->pages, prev_obs[p][g], before[g].known ? before[g].pages : 0, rg->start / PG, ks);
    for (int j = 0; j < n; j++) {
      if (!printed) { fprintf(out, "h %d", g); printed = 1; }
      fprintf(out, " %llu", (unsigned long long)ks[j]);
    }
    if (printed) fputc('\n', out);
  }
}

/* `zero` outcome of a read: pages of the op's range in the acting process that are mapped to the
 * shared zero page now (PAGEMAP_SCAN PFNZERO) and were not before this op. Whether a read fault
 * maps the zero page is the kernel's choice (mm/memory.c do_anonymous_page: !mm_forbids_zeropage;
 * mm/huge_memory.c do_huge_pmd_anonymous_page: transparent_hugepage_use_zero_page), and hosts
 * differ, so it is recorded, not assumed. A huge zero PMD is listed once, by the first page of the
 * block in the region (as `huge`). Printed, possibly empty, after every read when PAGEMAP_SCAN
 * works: an absent line means "not recorded". */
static void print_zero(int p, int g, uint64_t first, uint64_t count, const struct region *before) {
  if (p < 0 || !P[p].alive || !g_scan_ok) return;
  struct region *rg = &P[p].reg[g];
  if (!rg->known) return;
  static uint64_t ks[MAXPAGES];
  if (first > rg->pages) first = rg->pages;
  if (count > rg->pages - first) count = rg->pages - first;
  int n = zero_outcome(cur_obs[p][g], prev_obs[p][g], before[g].known ? before[g].pages : 0, first, count, rg->start / PG, ks);
  fprintf(out, "z %d", g);
  for (int j = 0; j < n; j++) fprintf(out, " %llu", (unsigned long long)ks[j]);
  fputc('\n', out);
}

/* khugepaged and reclaim interfering with the case: env_check after every observation */
#include "ptefarm-env.h"
/* the `folio` outcome of faults in mTHP-eligible regions */
#include "ptefarm-folio.h"

/* region id -> a shmem region (shared-anon, memfd-shared, memfd-private) mapped with MADV_HUGEPAGE:
 * its faults record the `resident` outcome (ptefarm-observe.h resident_pages) */
static uint8_t g_reg_shthp[MAXR];

/* `r rid first count ...`: the runs of pages of region g that became resident during the op (the
 * C_TOUCH / C_MADVISE reply's n runs, its payload: first, count pairs; read_resident) */
static uint64_t g_res_runs[MAXPAGES + 2];
static int g_res_n;
static void read_resident(int p, const struct rep *r) {
  g_res_n = 0;
  if (r->n <= 0) return;
  if (r->n > MAXPAGES / 2 + 1) fatal("a `resident` reply of %d runs", r->n);
  read_payload(p, g_res_runs, (size_t)r->n * 2 * sizeof g_res_runs[0]);
  g_res_n = r->n;
}
static void print_resident(int p, int g) {
  if (p < 0 || !P[p].alive || g < 0 || !g_reg_shthp[g] || !P[p].reg[g].known || !g_res_n) return;
  fprintf(out, "r %d", g);
  for (int j = 0; j < 2 * g_res_n; j++) fprintf(out, " %llu", (unsigned long long)g_res_runs[j]);
  fputc('\n', out);
}

/* A case as main hands it to a supervisor, after main checked every number (check_op_line): the
 * header, then `nops` struct line. Main and the supervisors are forks of one binary, so the
 * layout is the same on both ends. */
struct case_msg { int nops; int inject_kind, inject_op; int64_t uffd_features; };

/* the case's processes, pipes and userfaultfd contexts start from nothing in every case */
static void reset_case_state(void) {
  memset(P, 0, sizeof P);
  memset(CTX, 0, sizeof CTX);
  nprocs = 0; nctx = 0; g_fork_child = -1; evlen = 0; g_observe_after_op = 0;
  g_anon_orders = 0; memset(g_reg_mthp, 0, sizeof g_reg_mthp); memset(g_reg_shthp, 0, sizeof g_reg_shthp);
  for (int i = 0; i < MAXP; i++) cmd_pipe[i][0] = cmd_pipe[i][1] = rep_pipe[i][0] = rep_pipe[i][1] = -1;
  for (int i = 0; i < MAXP; i++) RX[i].off = RX[i].len = 0;
}

/* After `x`: the case processes are killed and reaped (their address spaces are torn down
 * meanwhile, while main already answers `end`), and every descriptor of the case is closed, so
 * that a long-lived supervisor starts the next case as a fresh one would. */
static void end_case(void) {
  for (int p = 0; p < nprocs; p++) if (P[p].alive) kill(P[p].pid, SIGKILL);
  for (int p = 0; p < nprocs; p++) if (P[p].alive) reap(p);
  for (int p = 0; p < MAXP; p++) if (P[p].pidfd >= 0) { close(P[p].pidfd); P[p].pidfd = -1; }
  for (int i = 0; i < nctx; i++) if (CTX[i].fd >= 0) close(CTX[i].fd);
  for (int i = 0; i < MAXP; i++)
    for (int e = 0; e < 2; e++) {
      if (cmd_pipe[i][e] >= 0) close(cmd_pipe[i][e]);
      if (rep_pipe[i][e] >= 0) close(rep_pipe[i][e]);
    }
  for (int e = 0; e < 2; e++) if (uffd_sock[e] >= 0) { close(uffd_sock[e]); uffd_sock[e] = -1; }
}

static void serve_case(void);

/* A supervisor: set up once (pinned, core dumps off, privileges dropped), then it serves the cases
 * main sends on its stdin, one at a time, until EOF. It leaves with `_exit`: exit() would run
 * libc's exit handlers, copy-on-write faults. */
static void supervisor_main(int keep_ptrace) __attribute__((noreturn));
static void supervisor_main(int keep_ptrace) {
  out = fdopen(STDOUT_FILENO, "w");
  setvbuf(out, NULL, _IOFBF, 1 << 16);
  char why[256] = "";
  struct rlimit nocore = { 0, 0 };
  setrlimit(RLIMIT_CORE, &nocore);
  if (g_cpu >= 0) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(g_cpu, &set);
    if (sched_setaffinity(0, sizeof set, &set)) fatal("sched_setaffinity(cpu %d): %s", g_cpu, strerror(errno));
  }
  if (drop_privileges_for_case(g_drop_uid, g_drop_gid, keep_ptrace, why, sizeof why)) fatal("%s", why);
  if (keep_ptrace && park_ptrace()) fatal("capset: %s", strerror(errno));
  prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0); /* credential changes reset it */
  if (getppid() != g_main_pid) fatal("the executor ended before the case started");
  start_zygote();
  alloc_supervisor_arrays();
  for (;;) {
    struct case_msg m;
    if (read_full(STDIN_FILENO, &m, sizeof m)) _exit(0); /* main is gone or done */
    if (m.nops < 1 || m.nops > MAXOPS || read_full(STDIN_FILENO, g_ops, (size_t)m.nops * sizeof g_ops[0]))
      fatal("bad case message from the executor's request loop");
    g_ncase_ops = m.nops;
    g_uffd_features = m.uffd_features;
    g_inject_kind = m.inject_kind;
    g_inject_op = m.inject_op;
    serve_case();
  }
}

static void serve_case(void) {
  char why[256] = "";
  reset_case_state();
  int procs = 1; /* process numbers are taken by fork ops only */
  for (int i = 0; i < g_ncase_ops; i++) procs += g_ops[i].v[0] == OP_FORK;
  start_process0(procs, g_uffd_features >= 0); /* S holds no capability, or (event_fork) CAP_SYS_PTRACE parked */
  if (g_uffd_features >= 0) {
    struct cmd c = { .code = C_UFFD_OPEN, .addr = (uint64_t)g_uffd_features };
    struct rep r;
    const char *rc = run(0, &c, &r);
    if (strcmp(rc, "0")) fatal("process 0 could not open a userfaultfd with features 0x%llx: %s",
                               (unsigned long long)g_uffd_features, rc);
    if ((CTX[0].fd = recv_uffd(why, sizeof why)) < 0) fatal("%s", why);
    CTX[0].proc = 0; nctx = 1; P[0].ctx = 0;
  }

  static struct region before[MAXR];
  /* the mTHP sizes matter only to anon MADV_HUGEPAGE regions (print_folio): 9 sysfs reads saved
   * for every other case */
  for (int i = 0; i < g_ncase_ops; i++)
    if (g_ops[i].v[0] == OP_MMAP && g_ops[i].v[5] == 0 && g_ops[i].v[6]) { read_anon_orders(); break; }
  for (int i = 0; i < g_ncase_ops; i++) {
    if (i == g_inject_op) {
      fflush(out); /* the steps before it reach main */
      if (g_inject_kind == 1) for (;;) pause();
      if (g_inject_kind == 2) abort();
      if (g_inject_kind == 3) inject_pause(i);
    }
    int64_t *v = g_ops[i].v;
    int code = (int)v[0], p = (int)v[1];
    if (p < 0 || p >= nprocs) fatal("bad request: op %d addresses process %d, which does not exist", i, p);
    if (!P[p].alive) {
      /* killed by a signal at an earlier op: later ops of it cannot run; the step is observed. A
       * fork it would have done still takes its number (as in the case's plan), dead at birth. */
      if (code == OP_FORK && nprocs < MAXP) P[nprocs++].alive = 0;
      fprintf(out, "s %d 0\nk process %d is gone (killed by a signal earlier)\n", i, p);
      observe_all();
      print_pages();
      print_content();
      keep_obs();
      continue;
    }
    struct proc *pr = &P[p];
    /* op lines were range-checked by main (check_op_line): rid is 0..MAXR-1 for region ops */
    int rid = op_has_region(code) ? (int)v[2] : -1;
    struct region *rg = rid >= 0 ? &pr->reg[rid] : NULL;
    if (rg && code != OP_MMAP && !rg->known) fatal("bad request: op %d: region %d unknown in process %d", i, rid, p);
    memcpy(before, pr->reg, sizeof before);
    uint64_t first = 0, count = 0;
    if (rg && code != OP_MMAP && code != OP_MREMAP && code != OP_SPLIT) {
      first = (uint64_t)v[3]; count = (uint64_t)v[4];
      /* subtraction form: first + count could wrap */
      if (first > rg->pages || count > rg->pages - first)
        fatal("bad request: op %d: pages %llu + %llu outside the region of %llu pages", i,
              (unsigned long long)first, (unsigned long long)count, (unsigned long long)rg->pages);
    }
    uint64_t addr = rg ? rg->start + first * PG : 0, len = count * PG;
    struct cmd c;
    memset(&c, 0, sizeof c);
    struct rep r = { 0 };
    g_res_n = 0;
    const char *rc = "0";
    int acted = p;
    int scan_region = -1, walk_region = -1; uint64_t scan_first = 0, scan_count = 0, walk_end = 0;
    static struct pf_page_region vec[MAXPAGES + 1];
    long nvec = 0;
    /* the acting process observes right after its op, in the same reply (ptefarm-mm.h send_cmd);
     * not after mremap, whose region table changes only after it ran */
    g_observe_after_op = code != OP_MREMAP;
    switch (code) {
    case OP_SKIP: acted = -1; break;
    case OP_MMAP: { /* proc rid startpage pages kind thp */
      uint64_t pages = (uint64_t)v[4];
      if (pages < 1 || pages > PAGES_LIMIT) fatal("op %d: %llu pages exceed the limit of %llu", i, (unsigned long long)pages, (unsigned long long)PAGES_LIMIT);
      rg->known = 1; rg->start = (uint64_t)v[3] * PG; rg->pages = pages;
      g_reg_mthp[rid] = v[5] == 0 && v[6];
      g_reg_shthp[rid] = v[5] >= 1 && v[5] <= 3 && v[6];
      c.code = C_MMAP; c.addr = rg->start; c.len = pages * PG; c.a = (int)v[5]; c.b = (int)v[6];
      rc = run(p, &c, &r);
      break;
    }
    case OP_MREMAP: { /* proc rid newpages move dontunmap oldrid newstartpage apply */
      uint64_t np = (uint64_t)v[3];
      int move = (int)v[4], dontunmap = (int)v[5], oldrid = (int)v[6], apply = (int)v[8];
      if (np < 1 || np > PAGES_LIMIT) fatal("op %d: %llu pages exceed the limit of %llu", i, (unsigned long long)np, (unsigned long long)PAGES_LIMIT);
      c.code = C_MREMAP; c.addr = rg->start; c.len = rg->pages * PG; c.len2 = np * PG;
      c.a = move; c.b = dontunmap; c.addr2 = (uint64_t)v[7] * PG;
      g_fork_child = -1;
      rc = run(p, &c, &r);
      if (move) {
        if (oldrid >= 0 && oldrid < MAXR) { pr->reg[oldrid] = *rg; g_reg_mthp[oldrid] = g_reg_mthp[rid]; g_reg_shthp[oldrid] = g_reg_shthp[rid]; }
        rg->start = c.addr2; rg->pages = np;
      } else if (apply) rg->pages = np;
      break;
    }
    case OP_MUNMAP: c.code = C_MUNMAP; c.addr = addr; c.len = len; rc = run(p, &c, &r); break;
    case OP_MPROTECT: {
      int prot = v[5] == 0 ? PROT_NONE : v[5] == 1 ? PROT_READ : PROT_READ | PROT_WRITE;
      c.code = C_MPROTECT; c.addr = addr; c.len = len; c.a = prot; rc = run(p, &c, &r);
      break;
    }
    case OP_READ: case OP_WRITE:
      c.code = C_TOUCH; c.addr = addr; c.len = len; c.a = code == OP_WRITE; c.addr2 = content_value(i, first);
      if (g_reg_shthp[rid]) { c.b = (int)rg->pages; c.len2 = rg->start; }
      rc = run(p, &c, &r);
      if (P[p].alive) read_resident(p, &r);
      break;
    case OP_FORK: {
      if (nprocs >= MAXP) fatal("op %d: fork would exceed the limit of %d processes", i, MAXP);
      int child = nprocs;
      c.code = C_FORK; c.a = child;
      g_fork_child = child;
      rc = run(p, &c, &r);
      nprocs++; /* the number is taken even when fork fails; that process is then dead */
      if (!strcmp(rc, "0")) {
        memcpy(P[child].reg, pr->reg, sizeof pr->reg);
        if (P[child].ctx < 0) P[child].ctx = pr->ctx; /* no event_fork: the inherited descriptor */
        start_process(child, (pid_t)r.x);
        /* events of the fork itself were read while waiting; nothing else can be pending */
      }
      g_fork_child = -1;
      acted = -1;
      break;
    }
    case OP_EXIT: {
      c.code = C_EXIT;
      rc = run(p, &c, &r);
      flush_output(); /* the teardown's wait below is not bounded by the supervisor */
      if (pr->alive) reap(p); /* the mm is torn down before the task becomes waitable */
      acted = -1;
      break;
    }
    case OP_CLEAR_REFS: c.code = C_CLEAR_REFS; c.a = (int)v[2]; rc = run(p, &c, &r); acted = -1; break;
    case OP_PAGEOUT: case OP_DONTNEED:
      c.code = C_MADVISE; c.addr = addr; c.len = len; c.a = code == OP_PAGEOUT ? MADV_PAGEOUT : MADV_DONTNEED;
      rc = run(p, &c, &r);
      break;
    case OP_COLLAPSE: collapse_cmd(&c, rg, addr, len); rc = run(p, &c, &r); break;
    case OP_SPLIT: {
      uint64_t page = (uint64_t)v[3];
      if (page >= rg->pages) fatal("op %d: page %llu outside the region", i, (unsigned long long)page);
      c.code = C_SPLIT; c.addr = rg->start + page * PG; rc = run(p, &c, &r);
      break;
    }
    case OP_UREG: case OP_UUNREG: case OP_WP: rc = uffd_op(p, code, addr, len, (int)v[5]); break;
    case OP_SCAN: { /* proc rid first count wp_matching max_pages scan_bits masks */
      c.code = C_SCAN; c.addr = addr; c.len = len; c.a = (int)v[5]; c.len2 = (uint64_t)v[6];
      if (g_ops[i].n == 9) { c.b = (int)v[7]; c.addr2 = (uint64_t)v[8]; } /* a /1 line has neither */
      rc = run_scan(p, &c, vec, &nvec, &walk_end);
      if (nvec >= 0 && !(c.b & SCAN_NO_VEC)) { scan_region = rid; scan_first = first; scan_count = count; }
      if (nvec >= 0 && (c.b & SCAN_EXPLICIT)) walk_region = rid;
      break;
    }
    case OP_GUARD: case OP_UNGUARD: /* proc rid first count */
      c.code = C_MADVISE; c.addr = addr; c.len = len; c.a = code == OP_GUARD ? MADV_GUARD_INSTALL : MADV_GUARD_REMOVE;
      rc = run(p, &c, &r);
      break;
    case OP_CLOSE_UFFD: rc = uffd_close(p); acted = -1; break; /* proc -1 */
    case OP_POPULATE: /* proc rid first count write */
      c.code = C_MADVISE; c.addr = addr; c.len = len; c.a = v[5] ? MADV_POPULATE_WRITE : MADV_POPULATE_READ;
      if (g_reg_shthp[rid]) { c.b = (int)rg->pages; c.len2 = rg->start; }
      rc = run(p, &c, &r);
      if (P[p].alive) read_resident(p, &r);
      break;
    default: fatal("op %d: unknown op code %d", i, code);
    }
    g_observe_after_op = 0;
    drain_all();
    fprintf(out, "s %d %s\n", i, rc);
    flush_events();
    observe_all();
    env_check(code, p, rid, first, count, before);
    print_huge(acted, before);
    if (code == OP_READ) print_zero(acted, rid, first, count, before);
    if (code == OP_POPULATE && !v[5]) print_zero(acted, rid, first, count, before); /* GUP read faults */
    if (code == OP_READ || code == OP_WRITE || code == OP_POPULATE) print_folio(acted, rid, before);
    if (code == OP_READ || code == OP_WRITE || code == OP_POPULATE) print_resident(acted, rid);
    if (code == OP_PAGEOUT && P[p].alive) {
      static uint64_t ks[MAXPAGES];
      int n = swapped_outcome(cur_obs[p][rid], prev_obs[p][rid], first, count, ks);
      if (n) fprintf(out, "o %d", rid);
      for (int j = 0; j < n; j++) fprintf(out, " %llu", (unsigned long long)ks[j]);
      if (n) fputc('\n', out);
    }
    print_pages();
    print_content();
    if (walk_region >= 0) /* walk_end as a page of the region (`w rid page`) */
      fprintf(out, "w %d %llu\n", walk_region, (unsigned long long)((walk_end - P[p].reg[walk_region].start) / PG));
    if (scan_region >= 0) {
      fprintf(out, "n %d %d %llu %llu", p, scan_region, (unsigned long long)scan_first, (unsigned long long)scan_count);
      uint64_t base = P[p].reg[scan_region].start;
      for (long j = 0; j < nvec; j++)
        fprintf(out, " %llu %llu %llu", (unsigned long long)((vec[j].start - base) / PG),
                (unsigned long long)((vec[j].end - base) / PG), (unsigned long long)vec[j].categories);
      fputc('\n', out);
    }
    keep_obs();
  }
  fputs("x\n", out);
  fflush(out);
  end_case();
}

/* ------------------------------------------------------------------------------------------- */
/* probe: what this host can do, seen from a process set up exactly like a case process         */

static void probe_child(void) {
  char why[256] = "";
  if (g_cpu >= 0) { cpu_set_t s; CPU_ZERO(&s); CPU_SET(g_cpu, &s); sched_setaffinity(0, sizeof s, &s); }
  int dropped = drop_privileges(g_drop_uid, g_drop_gid, why, sizeof why) == 0;
  printf("probe uid=%d privileges_dropped=%d", (int)getuid(), dropped && getuid() != 0);
  /* userfaultfd and its API features */
  int fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY);
  uint64_t feats = 0;
  int uffd = 0;
  if (fd >= 0) {
    struct uffdio_api api = { .api = UFFD_API, .features = 0 };
    if (!ioctl(fd, UFFDIO_API, &api)) { uffd = 1; feats = api.features; }
    close(fd);
  }
  int event_fork = 0;
  if (uffd) {
    fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY);
    struct uffdio_api api = { .api = UFFD_API, .features = UFFD_FEATURE_EVENT_FORK };
    if (fd >= 0 && !ioctl(fd, UFFDIO_API, &api)) event_fork = 1;
    if (fd >= 0) close(fd);
  }
  /* uffd-wp works: register WP on a private anon page and write-protect it */
  int uffd_wp = 0;
  void *m = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (uffd && m != MAP_FAILED) {
    fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY);
    struct uffdio_api api = { .api = UFFD_API, .features = 0 };
    *(volatile char *)m = 1;
    struct uffdio_register reg = { .range = { (uint64_t)(uintptr_t)m, PG }, .mode = UFFDIO_REGISTER_MODE_WP };
    struct uffdio_writeprotect wp = { .range = { (uint64_t)(uintptr_t)m, PG }, .mode = UFFDIO_WRITEPROTECT_MODE_WP };
    if (fd >= 0 && !ioctl(fd, UFFDIO_API, &api) && !ioctl(fd, UFFDIO_REGISTER, &reg) && !ioctl(fd, UFFDIO_WRITEPROTECT, &wp)) {
      uint64_t e = 0;
      int pfd = open("/proc/self/pagemap", O_RDONLY);
      if (pfd >= 0 && pread(pfd, &e, 8, (off_t)((uintptr_t)m / PG * 8)) == 8 && (e >> 57 & 1)) uffd_wp = 1;
      if (pfd >= 0) close(pfd);
    }
    if (fd >= 0) close(fd);
  }
  /* PAGEMAP_SCAN, and whether it knows the GUARD category (6.15+) */
  int scan = 0, scan_guard = 0;
  open_own_pagemap();
  if (pm_fd >= 0 && m != MAP_FAILED) {
    struct pf_page_region v[4];
    uint64_t a = (uint64_t)(uintptr_t)m;
    if (do_scan(a, a + PG, 0, 0, 0, PAGE_CATS_ALL & ~PAGE_IS_GUARD, 0, v, 4) >= 0) scan = 1;
    if (do_scan(a, a + PG, 0, 0, 0, PAGE_CATS_ALL, 0, v, 4) >= 0) scan_guard = 1;
  }
  int soft_dirty = host_soft_dirty();
  /* host facts the model depends on, by behaviour (ptefarm-hostfacts.h) */
  const char *zero_via;
  int zero_page = probe_zero_page(&zero_via);
  const char *thp_read = probe_thp_read(pmd_size_of_host());
  printf(" uffd=%d uffd_features=0x%llx uffd_wp=%d wp_async=%d wp_unpopulated=%d event_fork=%d"
         " event_remap=%d event_unmap=%d pagemap_scan=%d scan_guard=%d soft_dirty=%d cpu=%d"
         " page_size=%ld zero_page=%d zero_page_via=%s thp_read=%s folio_outcome=1\n",
         uffd, (unsigned long long)feats, uffd_wp, !!(feats & UFFD_FEATURE_WP_ASYNC), !!(feats & UFFD_FEATURE_WP_UNPOPULATED),
         event_fork, !!(feats & UFFD_FEATURE_EVENT_REMAP), !!(feats & UFFD_FEATURE_EVENT_UNMAP), scan, scan_guard,
         soft_dirty, g_cpu, sysconf(_SC_PAGESIZE), zero_page, zero_via, thp_read);
  print_host_files();
  fflush(stdout);
  _exit(0);
}

/* ------------------------------------------------------------------------------------------- */
/* main: the request loop                                                                       */

static int parse_ints(const char *s, int64_t *v, int max) {
  int n = 0;
  char *end;
  while (n < max) {
    while (*s == ' ' || *s == '\t') s++;
    if (!*s || *s == '\n') break;
    errno = 0;
    long long x = strtoll(s, &end, 10);
    if (end == s || errno) return -1;
    v[n++] = x;
    s = end;
  }
  while (*s == ' ' || *s == '\t') s++;
  return (*s && *s != '\n') ? -1 : n;
}

/* main's `begin <id>` line, held back until the case's first output goes out, so that a reply
 * the supervisor sent in one piece leaves main in one write: begin, steps, end (each write wakes
 * the reader) */
static char g_begin[96];
static size_t g_begin_len;

/* write a, then b (either may be empty), with whatever `begin` is held back before them */
static void out_write(const char *a, size_t na, const char *b, size_t nb) {
  struct iovec v[3] = { { g_begin, g_begin_len }, { (void *)a, na }, { (void *)b, nb } };
  size_t total = g_begin_len + na + nb;
  g_begin_len = 0;
  ssize_t w = writev(STDOUT_FILENO, v, 3);
  if (w < 0 && errno != EINTR) exit(1);
  if (w == (ssize_t)total) return;
  size_t skip = w > 0 ? (size_t)w : 0; /* a short write: the rest, part by part */
  for (int k = 0; k < 3; k++) {
    if (skip >= v[k].iov_len) { skip -= v[k].iov_len; continue; }
    if (write_full(STDOUT_FILENO, (const char *)v[k].iov_base + skip, v[k].iov_len - skip)) exit(1);
    skip = 0;
  }
}

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...) {
  char b[1024];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(b, sizeof b, fmt, ap);
  va_end(ap);
  if (n > (int)sizeof b - 1) n = (int)sizeof b - 1;
  out_write(b, (size_t)n, NULL, 0);
}

/* A supervisor process as main sees it: its pid (0: none), the pipe main sends it cases on and
 * the pipe main reads its lines from. */
struct sup { pid_t pid; int req; int out; };
/* the long-lived supervisors: started before the first case that can use them, and again after
 * one died (a fault of its case, a kill from outside). g_sup holds no capability at all; g_sup_ptrace
 * serves only cases asking for UFFD_FEATURE_EVENT_FORK and holds CAP_SYS_PTRACE parked (permitted,
 * never effective) for their process 0 (README "Security") */
static struct sup g_sup = { 0, -1, -1 }, g_sup_ptrace = { 0, -1, -1 };

static void sup_gone(struct sup *s) {
  if (s->pid > 0) {
    kill(-s->pid, SIGKILL); /* its case processes are in its process group */
    waitpid(s->pid, NULL, 0);
    kill(-s->pid, SIGKILL); /* none outlives it */
  }
  if (s->req >= 0) close(s->req);
  if (s->out >= 0) close(s->out);
  s->pid = 0; s->req = s->out = -1;
}

/* Fork a supervisor (own process group, dies with main). keep_ptrace: the supervisor of cases
 * asking for UFFD_FEATURE_EVENT_FORK, which passes CAP_SYS_PTRACE on to each case's process 0 for
 * UFFDIO_API (userfaultfd_api); the other supervisor never has it. */
static int start_supervisor(struct sup *s, int keep_ptrace, char *why, size_t n) {
  int req[2], outp[2];
  if (pipe2(req, O_CLOEXEC)) { snprintf(why, n, "pipe: %s", strerror(errno)); return -1; }
  if (pipe2(outp, O_CLOEXEC)) { close(req[0]); close(req[1]); snprintf(why, n, "pipe: %s", strerror(errno)); return -1; }
  pid_t pid = fork();
  if (pid < 0) {
    close(req[0]); close(req[1]); close(outp[0]); close(outp[1]);
    snprintf(why, n, "fork: %s", strerror(errno)); return -1;
  }
  if (pid == 0) {
    setpgid(0, 0);
    prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
    dup2(req[0], STDIN_FILENO);
    dup2(outp[1], STDOUT_FILENO);
    close(req[0]); close(req[1]); close(outp[0]); close(outp[1]);
    struct sup *others[2] = { &g_sup, &g_sup_ptrace };
    for (int k = 0; k < 2; k++) /* the other supervisor's pipes */
      if (others[k] != s && others[k]->pid > 0) { close(others[k]->req); close(others[k]->out); }
    signal(SIGPIPE, SIG_DFL);
    supervisor_main(keep_ptrace);
  }
  setpgid(pid, pid);
  close(req[0]); close(outp[1]);
  s->pid = pid; s->req = req[1]; s->out = outp[0];
  return 0;
}

/* Run one case on a supervisor: the capability-free one, or the event_fork one for a case that
 * needs CAP_SYS_PTRACE; forward complete lines of its output; enforce the wall-clock limit. A
 * supervisor that did not finish the case is killed with its process group (restarted for the
 * next case), so a hang or a crash never outlives the case. */
static void run_case(const char *id) {
  g_begin_len = (size_t)snprintf(g_begin, sizeof g_begin, "begin %s\n", id); /* ids are at most 63 characters */
  int needs_ptrace = g_uffd_features >= 0 && (g_uffd_features & UFFD_FEATURE_EVENT_FORK);
  struct sup *sp = needs_ptrace ? &g_sup_ptrace : &g_sup;
  char why[256];
  if (sp->pid > 0 && waitpid(sp->pid, NULL, WNOHANG) != 0) sup_gone(sp); /* died while idle */
  if (sp->pid <= 0 && start_supervisor(sp, needs_ptrace, why, sizeof why)) {
    say("f %s\nend %s\n", why, id);
    return;
  }
  pid_t s = sp->pid;
  struct case_msg m = { g_ncase_ops, g_inject_kind, g_inject_op, g_uffd_features };
  /* a supervisor that died since: the read below sees it (EOF) and says how it ended */
  if (!write_full(sp->req, &m, sizeof m)) write_full(sp->req, g_ops, (size_t)g_ncase_ops * sizeof g_ops[0]);
  int pfd[1] = { sp->out };
  static char buf[1 << 16];
  size_t have = 0;
  long deadline = now_ms() + g_timeout_ms;
  int timed_out = 0, saw_end = 0;
  char fault[512] = "";
  for (;;) {
    long left = deadline - now_ms();
    if (left <= 0) { timed_out = 1; break; }
    struct pollfd p = { pfd[0], POLLIN, 0 };
    int k = poll(&p, 1, (int)(left > STOP_CHECK_MS ? STOP_CHECK_MS : left));
    if (k < 0) { if (errno == EINTR) continue; break; }
    if (k == 0) {
      /* S stopped from outside (SIGSTOP): the case is no longer running as written */
      siginfo_t si;
      memset(&si, 0, sizeof si);
      if (!waitid(P_PID, (id_t)s, &si, WSTOPPED | WNOHANG | WNOWAIT) && si.si_pid == s) {
        snprintf(fault, sizeof fault, "supervisor stopped by %s from outside the case", signame(si.si_status));
        break;
      }
      continue;
    }
    ssize_t n = read(pfd[0], buf + have, sizeof buf - have);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    have += (size_t)n;
    char *last = NULL;
    for (size_t i = have; i > 0; i--) if (buf[i - 1] == '\n') { last = buf + i; break; }
    if (!last) {
      if (have == sizeof buf) { snprintf(fault, sizeof fault, "supervisor wrote a line longer than %zu bytes", sizeof buf); break; }
      continue;
    }
    size_t done = (size_t)(last - buf);
    /* `x` marks a complete case; anything after a complete line set is forwarded as is */
    for (size_t i = 0; i < done; i++)
      if ((i == 0 || buf[i - 1] == '\n') && buf[i] == 'x' && (buf[i + 1] == '\n')) saw_end = 1;
    /* the reply is complete: `end` now (in the same write), while S kills and reaps the case
     * processes (their address spaces are torn down meanwhile); the next case is read by S once
     * they are gone */
    char end[96];
    int nend = saw_end ? snprintf(end, sizeof end, "end %s\n", id) : 0;
    out_write(buf, done, end, (size_t)nend);
    if (saw_end) return;
    memmove(buf, last, have - done);
    have -= done;
  }
  kill(-s, SIGKILL);
  int st = 0;
  waitpid(s, &st, 0);
  sp->pid = 0; /* reaped: sup_gone only closes its pipes and kills what is left of its group */
  kill(-s, SIGKILL);
  sup_gone(sp);
  if (timed_out) say("f timeout: the case did not finish within %ld ms\n", g_timeout_ms);
  else if (fault[0]) say("f %s\n", fault);
  else {
    if (WIFSIGNALED(st) && WTERMSIG(st) != SIGABRT && WTERMSIG(st) != SIGSEGV && WTERMSIG(st) != SIGBUS)
      say("f supervisor killed by %s from outside the case\n", signame(WTERMSIG(st)));
    else if (WIFSIGNALED(st)) say("f supervisor killed by %s\n", signame(WTERMSIG(st)));
    else if (!(WIFEXITED(st) && WEXITSTATUS(st) == 3)) say("f supervisor ended without finishing the case (status %d)\n", st);
  }
  say("end %s\n", id);
}

/* ---- requests: every number is checked here, before anything runs ------------------------- */

/* numbers on each op line, by op code (README "Op lines") */
static const int OP_NUMBERS[OP_LAST + 1] = {
  [OP_SKIP] = 2, [OP_MMAP] = 7, [OP_MUNMAP] = 5, [OP_MREMAP] = 9, [OP_MPROTECT] = 6, [OP_READ] = 5,
  [OP_WRITE] = 5, [OP_FORK] = 2, [OP_EXIT] = 2, [OP_CLEAR_REFS] = 3, [OP_PAGEOUT] = 5, [OP_DONTNEED] = 5,
  [OP_COLLAPSE] = 5, [OP_SPLIT] = 4, [OP_UREG] = 5, [OP_UUNREG] = 5, [OP_WP] = 6, [OP_SCAN] = 9,
  [OP_POPULATE] = 6, [OP_CLOSE_UFFD] = 3, [OP_GUARD] = 5, [OP_UNGUARD] = 5,
};

static int in_range(int64_t x, int64_t lo, int64_t hi) { return x >= lo && x <= hi; }

/* A bad request (only reachable by bypassing the validator: `exec:`/`serve` input or a forged
 * line) is refused with the reason, never run: op code and count of numbers, process number,
 * region id, region placement in the arena and every page number or count in range, so that
 * nothing in S can index out of bounds or wrap. Returns 0, or -1 with the reason in why. */
static int check_op_line(const struct line *l, char *why, size_t n) {
  const int64_t *v = l->v;
  if (l->n < 2) { snprintf(why, n, "fewer than 2 numbers"); return -1; }
  if (!in_range(v[0], 0, OP_LAST)) { snprintf(why, n, "unknown op code %lld", (long long)v[0]); return -1; }
  int code = (int)v[0];
  /* a scan line of the /1 form (7 numbers, no scan bits and masks) is still accepted */
  if (l->n != OP_NUMBERS[code] && !(code == OP_SCAN && l->n == 7)) { snprintf(why, n, "op code %d takes %d numbers, not %d", code, OP_NUMBERS[code], l->n); return -1; }
  if (!in_range(v[1], 0, MAXP - 1)) { snprintf(why, n, "process %lld outside 0..%d", (long long)v[1], MAXP - 1); return -1; }
  if (op_has_region(code) && !in_range(v[2], 0, MAXR - 1)) {
    snprintf(why, n, "region id %lld outside 0..%d", (long long)v[2], MAXR - 1); return -1;
  }
  const char *bad = NULL;
  const int64_t lim = (int64_t)PAGES_LIMIT;
  static char msg[64];
  switch (code) {
  case OP_MMAP:
    if (!in_range(v[3], (int64_t)ARENA_FIRST_PAGE, (int64_t)(ARENA_END_PAGE - lim))) bad = "start page outside the arena";
    else if (!in_range(v[4], 1, lim)) { snprintf(msg, sizeof msg, "pages outside 1..%lld", (long long)lim); bad = msg; }
    else if (!in_range(v[5], 0, 5)) bad = "kind outside 0..5";
    else if (!in_range(v[6], 0, 1)) bad = "thp not 0 or 1";
    break;
  case OP_MREMAP:
    if (!in_range(v[3], 1, lim)) { snprintf(msg, sizeof msg, "new pages outside 1..%lld", (long long)lim); bad = msg; }
    else if (!in_range(v[4], 0, 1) || !in_range(v[5], 0, 1) || !in_range(v[8], 0, 1)) bad = "move, dontunmap or apply not 0 or 1";
    else if (!in_range(v[6], -1, MAXR - 1)) bad = "old region id outside -1..63";
    else if (v[4] && !in_range(v[7], (int64_t)ARENA_FIRST_PAGE, (int64_t)(ARENA_END_PAGE - lim))) bad = "new start page outside the arena";
    break;
  case OP_CLEAR_REFS: if (!in_range(v[2], 1, 5)) bad = "clear_refs value outside 1..5"; break;
  case OP_SPLIT: if (!in_range(v[3], 0, lim - 1)) { snprintf(msg, sizeof msg, "page outside 0..%lld", (long long)(lim - 1)); bad = msg; } break;
  case OP_SKIP: case OP_FORK: case OP_EXIT: break;
  case OP_CLOSE_UFFD: if (v[2] != -1) bad = "close_uffd takes region -1"; break;
  default: /* code proc rid first count [extra...]: the range itself is checked against the region in S */
    if (!in_range(v[3], 0, lim) || !in_range(v[4], 0, lim)) { snprintf(msg, sizeof msg, "first or count outside 0..%lld", (long long)lim); bad = msg; }
    else if (code == OP_MPROTECT && v[5] != 0 && v[5] != 1 && v[5] != 3) bad = "prot not 0, 1 or 3";
    else if (code == OP_WP && !in_range(v[5], 0, 1)) bad = "on not 0 or 1";
    else if (code == OP_SCAN && (!in_range(v[5], 0, 1) || !in_range(v[6], 0, INT32_MAX) ||
                                 (l->n == 9 && (!in_range(v[7], 0, 15) || !in_range(v[8], 0, (1LL << 36) - 1)))))
      bad = "wp_matching, max_pages, scan bits or masks out of range";
    else if (code == OP_POPULATE && !in_range(v[5], 0, 1)) bad = "write not 0 or 1";
  }
  if (bad) { snprintf(why, n, "%s", bad); return -1; }
  return 0;
}

/* up to 60 characters of a request for an error line: one line, printable */
static const char *shown(const char *line) {
  static char b[64];
  size_t k = 0;
  for (; line[k] && line[k] != '\n' && k < 60; k++) b[k] = line[k] >= 0x20 && line[k] < 0x7f ? line[k] : '?';
  b[k] = 0;
  return b;
}

/* Request lines, with one line of push-back: a case's op lines end early at a line that is not
 * numeric (the next request), so that a case announcing more lines than it sends cannot swallow
 * the requests after it. A line longer than the buffer is consumed whole and flagged. */
static char g_pushed[4096];
static int g_have_pushed;

static int next_line(char *buf, size_t n, int *too_long) {
  *too_long = 0;
  if (g_have_pushed) { snprintf(buf, n, "%s", g_pushed); g_have_pushed = 0; return 1; }
  if (!fgets(buf, (int)n, stdin)) return 0;
  size_t len = strlen(buf);
  if (len == n - 1 && buf[len - 1] != '\n') {
    int ch;
    while ((ch = getchar()) != EOF && ch != '\n') {}
    *too_long = 1;
  }
  return 1;
}

static void push_back(const char *line) { snprintf(g_pushed, sizeof g_pushed, "%s", line); g_have_pushed = 1; }

static int is_op_line(const char *s) {
  while (*s == ' ' || *s == '\t') s++;
  return (*s >= '0' && *s <= '9') || *s == '-';
}

/* after a case header with an unusable op count: its op lines are dropped without a reply each */
static int g_skip_op_lines;

static int is_case_id(const char *id) {
  for (const char *c = id; *c; c++)
    if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || strchr("._:-", *c))) return 0;
  return *id != 0;
}

int main(int argc, char **argv) {
  /* the executor dies with the thread that started it (a worker thread of a pool that is torn
   * down, a crashed node): a stopped or busy executor must not outlive its user */
  pid_t parent = getppid();
  prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
  if (getppid() != parent) return 1;
  g_main_pid = getpid();
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--cpu") && i + 1 < argc) g_cpu = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--user") && i + 1 < argc) {
      struct passwd *pw = getpwnam(argv[++i]);
      if (!pw) { fprintf(stderr, "ptefarm-exec: unknown user %s\n", argv[i]); return 2; }
      g_drop_uid = pw->pw_uid; g_drop_gid = pw->pw_gid;
    } else { fprintf(stderr, "usage: ptefarm-exec [--cpu N] [--user NAME]\n"); return 2; }
  }
  if (g_cpu < 0) { /* default: the first CPU this process may run on */
    cpu_set_t set;
    if (!sched_getaffinity(0, sizeof set, &set))
      for (int c = 0; c < CPU_SETSIZE; c++) if (CPU_ISSET(c, &set)) { g_cpu = c; break; }
  }
  signal(SIGPIPE, SIG_IGN);
  if (geometry_init()) return 2;
  { /* NUMA balancing on: content loads could take NUMA-hinting faults (ptefarm-content.h) */
    char nb[16] = "0";
    FILE *f = fopen("/proc/sys/kernel/numa_balancing", "re");
    if (f) { if (!fgets(nb, sizeof nb, f)) nb[0] = '0'; fclose(f); }
    content_direct_loads = nb[0] == '0';
  }
  if (geteuid() == 0) { struct passwd *pw = getpwnam("nobody"); if (pw && g_drop_uid == 65534) { g_drop_uid = pw->pw_uid; g_drop_gid = pw->pw_gid; } }
  say("ready ptefarm-exec/1 cpu=%d euid=%d\n", g_cpu, (int)geteuid());
  static char line[4096];
  int too_long;
  while (next_line(line, sizeof line, &too_long)) {
    if (too_long) { say("error request longer than %zu bytes\n", sizeof line - 2); continue; }
    if (!is_op_line(line)) g_skip_op_lines = 0;
    if (!strncmp(line, "quit", 4)) break;
    if (!strncmp(line, "probe", 5)) {
      fflush(stdout);
      pid_t c = fork();
      if (c == 0) probe_child();
      int st;
      waitpid(c, &st, 0);
      say("end probe\n");
      continue;
    }
    if (is_op_line(line)) {
      if (!g_skip_op_lines) say("error op line outside a case: %s\n", shown(line));
      continue;
    }
    if (strncmp(line, "case ", 5)) { say("error unknown request: %s\n", shown(line)); continue; }
    /* case <id> <nops> <uffd_features|-1> <timeout_ms> [<inject_kind> <inject_op>] */
    char id[64];
    int64_t h[6];
    int off = 0;
    if (sscanf(line, "case %63s %n", id, &off) != 1 || !is_case_id(id)) { say("error bad case id: %s\n", shown(line)); continue; }
    int nh = parse_ints(line + off, h, 6);
    char err[200] = "";
    if (nh != 3 && nh != 5) snprintf(err, sizeof err, "bad case header: %s", shown(line));
    else if (!in_range(h[0], 1, MAXOPS)) snprintf(err, sizeof err, "%lld ops (limit %d)", (long long)h[0], MAXOPS);
    else if (!in_range(h[1], -1, UINT32_MAX)) snprintf(err, sizeof err, "userfaultfd features %lld out of range", (long long)h[1]);
    else if (!in_range(h[2], 1, 3600000)) snprintf(err, sizeof err, "timeout %lld ms outside 1..3600000", (long long)h[2]);
    else if (nh == 5 && (!in_range(h[3], 0, 3) || !in_range(h[4], 0, MAXOPS - 1))) snprintf(err, sizeof err, "bad inject %lld %lld", (long long)h[3], (long long)h[4]);
    int nops = nh >= 1 && in_range(h[0], 1, MAXOPS) ? (int)h[0] : 0;
    if (!nops) g_skip_op_lines = 1; /* how many op lines follow is unknown: drop those that do */
    for (int i = 0; i < nops; i++) {
      if (!next_line(line, sizeof line, &too_long)) return 0;
      if (too_long) { if (!err[0]) snprintf(err, sizeof err, "op line %d is longer than %zu bytes", i, sizeof line - 2); continue; }
      if (!is_op_line(line)) {
        push_back(line);
        if (!err[0]) snprintf(err, sizeof err, "the case announced %d op lines but sent %d", nops, i);
        break;
      }
      g_ops[i].n = parse_ints(line, g_ops[i].v, 10);
      char why[120];
      if (g_ops[i].n < 0 && !err[0]) snprintf(err, sizeof err, "op line %d is malformed: %s", i, shown(line));
      else if (!err[0] && check_op_line(&g_ops[i], why, sizeof why)) snprintf(err, sizeof err, "op line %d (%s): %s", i, shown(line), why);
    }
    if (err[0]) { say("begin %s\nf bad request: %s\nend %s\n", id, err, id); continue; }
    g_ncase_ops = nops;
    g_uffd_features = h[1];
    g_timeout_ms = (long)h[2];
    g_inject_kind = nh == 5 ? (int)h[3] : 0;
    g_inject_op = nh == 5 ? (int)h[4] : -1;
    run_case(id);
  }
  return 0;
}
