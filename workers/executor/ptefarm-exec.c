/*
 * ptefarm-exec: the native executor of the `live` target.
 *
 * One long-lived process serves many cases over stdin/stdout (protocol in README.md next to this
 * file; the TypeScript side is src/targets/live.ts). Per case it forks a SUPERVISOR (S), which
 * drops privileges, pins itself to one CPU (MADV_PAGEOUT only drains the local CPU's LRU batches,
 * so pages faulted on another CPU would not be reclaimable), and creates the case's processes.
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
 * answers with a fault line, so a hang or a crash never takes the executor down.
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
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ---- definitions newer than the build host's headers (values from the kernel UAPI) ---- */
#ifndef MADV_COLD
#define MADV_COLD 20
#endif
#ifndef MADV_PAGEOUT
#define MADV_PAGEOUT 21
#endif
#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE 25
#endif
#ifndef MREMAP_DONTUNMAP
#define MREMAP_DONTUNMAP 4
#endif
#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif
#ifndef UFFD_USER_MODE_ONLY
#define UFFD_USER_MODE_ONLY 1
#endif
#ifndef UFFD_FEATURE_WP_UNPOPULATED
#define UFFD_FEATURE_WP_UNPOPULATED (1 << 13)
#endif
#ifndef UFFD_FEATURE_WP_ASYNC
#define UFFD_FEATURE_WP_ASYNC (1 << 15)
#endif
#ifndef MFD_CLOEXEC
#define MFD_CLOEXEC 1U
#endif

struct pf_page_region { uint64_t start, end, categories; };
struct pf_pm_scan_arg {
  uint64_t size, flags, start, end, walk_end, vec, vec_len, max_pages;
  uint64_t category_inverted, category_mask, category_anyof_mask, return_mask;
};
#define PF_PAGEMAP_SCAN _IOWR('f', 16, struct pf_pm_scan_arg)
#define PM_SCAN_WP_MATCHING (1ULL << 0)
#define PM_SCAN_CHECK_WPASYNC (1ULL << 1)
/* categories, in the order of the trace's scan letters a w f p s z h d g */
#define PAGE_IS_WPALLOWED (1ULL << 0)
#define PAGE_IS_WRITTEN (1ULL << 1)
#define PAGE_IS_FILE (1ULL << 2)
#define PAGE_IS_PRESENT (1ULL << 3)
#define PAGE_IS_SWAPPED (1ULL << 4)
#define PAGE_IS_PFNZERO (1ULL << 5)
#define PAGE_IS_HUGE (1ULL << 6)
#define PAGE_IS_SOFT_DIRTY (1ULL << 7)
#define PAGE_IS_GUARD (1ULL << 8)
#define PAGE_CATS_ALL 0x1ffULL

/* ---- limits ---- */
#define PG 4096ULL
#define HPG_PAGES 512ULL
#define MAXP 8          /* processes per case */
#define MAXR 128        /* region ids per case (64 names + `old` names) */
#define MAXPAGES 1024   /* pages per region; also the size of a memfd behind a memfd-* region */
#define MAXOPS 256
#define MAXCTX 16       /* userfaultfd contexts (process 0 + one per event_fork child) */

/* op codes of the line protocol (src/targets/live.ts encodes the same numbers) */
enum {
  OP_SKIP = 0, OP_MMAP = 1, OP_MUNMAP = 2, OP_MREMAP = 3, OP_MPROTECT = 4, OP_READ = 5, OP_WRITE = 6,
  OP_FORK = 7, OP_EXIT = 8, OP_CLEAR_REFS = 9, OP_PAGEOUT = 10, OP_DONTNEED = 11, OP_COLLAPSE = 12,
  OP_SPLIT = 13, OP_UREG = 14, OP_UUNREG = 15, OP_WP = 16, OP_SCAN = 17,
};
/* commands to case processes (binary, over the command pipes) */
enum { C_MMAP = 1, C_MUNMAP, C_MREMAP, C_MPROTECT, C_TOUCH, C_FORK, C_EXIT, C_CLEAR_REFS, C_MADVISE,
       C_SPLIT, C_SCAN, C_OBSERVE, C_UFFD_OPEN };

/* one line of the case: op code and up to 9 integer arguments */
struct line { int64_t v[10]; int n; };

static int g_ncase_ops;
static struct line g_ops[MAXOPS];
static int64_t g_uffd_features = -1; /* -1: the case opens no userfaultfd */
static long g_timeout_ms = 10000;
static int g_inject_kind, g_inject_op = -1; /* test-only fault injection: 1 hang, 2 crash of S */
static int g_cpu = -1;
static uid_t g_drop_uid = 65534;
static gid_t g_drop_gid = 65534;

/* ------------------------------------------------------------------------------------------- */
/* small helpers                                                                                */

static int write_full(int fd, const void *buf, size_t n) {
  const char *p = buf;
  while (n) {
    ssize_t w = write(fd, p, n);
    if (w < 0) { if (errno == EINTR) continue; return -1; }
    p += w; n -= (size_t)w;
  }
  return 0;
}

static int read_full(int fd, void *buf, size_t n) {
  char *p = buf;
  while (n) {
    ssize_t r = read(fd, p, n);
    if (r < 0) { if (errno == EINTR) continue; return -1; }
    if (r == 0) return -1;
    p += r; n -= (size_t)r;
  }
  return 0;
}

static const char *errname(int e) {
  switch (e) {
  case 0: return "0";
  case EPERM: return "EPERM"; case ENOENT: return "ENOENT"; case ESRCH: return "ESRCH";
  case EINTR: return "EINTR"; case EIO: return "EIO"; case ENXIO: return "ENXIO";
  case E2BIG: return "E2BIG"; case EBADF: return "EBADF"; case ECHILD: return "ECHILD";
  case EAGAIN: return "EAGAIN"; case ENOMEM: return "ENOMEM"; case EACCES: return "EACCES";
  case EFAULT: return "EFAULT"; case EBUSY: return "EBUSY"; case EEXIST: return "EEXIST";
  case ENODEV: return "ENODEV"; case EINVAL: return "EINVAL"; case ENFILE: return "ENFILE";
  case EMFILE: return "EMFILE"; case ENOTTY: return "ENOTTY"; case EFBIG: return "EFBIG";
  case ENOSPC: return "ENOSPC"; case ESPIPE: return "ESPIPE"; case EROFS: return "EROFS";
  case ERANGE: return "ERANGE"; case ENOSYS: return "ENOSYS"; case EOVERFLOW: return "EOVERFLOW";
  case EOPNOTSUPP: return "EOPNOTSUPP"; case EHWPOISON: return "EHWPOISON";
  default: { static char b[32]; snprintf(b, sizeof b, "E%d", e); return b; }
  }
}

static const char *signame(int s) {
  switch (s) {
  case SIGSEGV: return "SIGSEGV"; case SIGBUS: return "SIGBUS"; case SIGKILL: return "SIGKILL";
  case SIGABRT: return "SIGABRT"; case SIGILL: return "SIGILL"; case SIGFPE: return "SIGFPE";
  case SIGTERM: return "SIGTERM"; case SIGALRM: return "SIGALRM"; case SIGTRAP: return "SIGTRAP";
  case SIGSYS: return "SIGSYS";
  default: { static char b[32]; snprintf(b, sizeof b, "SIG%d", s); return b; }
  }
}

static long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/* fork whose child gets the CALLER'S PARENT as parent (the supervisor), so the supervisor can
 * waitid() every case process and learn the signal that killed it. No CLONE_VM: the address
 * space is duplicated exactly as by fork() (kernel dup_mmap), which is what the case observes. */
static pid_t fork_to_supervisor(void) {
  return (pid_t)syscall(SYS_clone, CLONE_PARENT | SIGCHLD, 0, 0, 0, 0);
}

/* ------------------------------------------------------------------------------------------- */
/* privileges                                                                                   */

struct capdata2 { struct __user_cap_header_struct h; struct __user_cap_data_struct d[2]; };

static int set_caps(uint64_t eff_perm) {
  struct capdata2 c;
  memset(&c, 0, sizeof c);
  c.h.version = _LINUX_CAPABILITY_VERSION_3;
  c.d[0].effective = c.d[0].permitted = (uint32_t)eff_perm;
  c.d[1].effective = c.d[1].permitted = (uint32_t)(eff_perm >> 32);
  return (int)syscall(SYS_capset, &c.h, c.d);
}

/* Case processes never run as root. When started as root we become `nobody` and keep exactly one
 * capability, CAP_SYS_PTRACE, which userfaultfd_api() demands for UFFD_FEATURE_EVENT_FORK;
 * process 0 drops it right after UFFDIO_API and the supervisor right after forking process 0. */
static int drop_privileges(char *why, size_t whylen) {
  if (geteuid() != 0) return 0;
  if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0)) { snprintf(why, whylen, "PR_SET_KEEPCAPS: %s", strerror(errno)); return -1; }
  if (setgroups(0, NULL) || setgid(g_drop_gid) || setuid(g_drop_uid)) {
    snprintf(why, whylen, "dropping to uid %d: %s", (int)g_drop_uid, strerror(errno)); return -1;
  }
  if (set_caps(1ULL << CAP_SYS_PTRACE)) { snprintf(why, whylen, "capset: %s", strerror(errno)); return -1; }
  /* setuid made us non-dumpable, which makes /proc/self/clear_refs root-owned (proc inode
   * ownership follows dumpability); the case must be able to write it. */
  prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
  return 0;
}

static void drop_all_caps(void) { if (geteuid() != 0) set_caps(0); }

/* ------------------------------------------------------------------------------------------- */
/* case processes                                                                               */

struct cmd { int32_t code, a, b, c; uint64_t addr, len, addr2, len2; };
struct rep { int32_t err; int32_t n; int64_t x; };
struct range { uint64_t addr; uint64_t pages; };

static int cmd_pipe[MAXP][2], rep_pipe[MAXP][2];
static int me = -1;          /* this case process's number */
static int pm_fd = -1;       /* this process's own /proc/self/pagemap */
static int uffd_sock[2] = {-1, -1};

static void open_own_pagemap(void) {
  if (pm_fd >= 0) close(pm_fd);
  pm_fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
}

static void reply(int err, int n, int64_t x, const void *payload, size_t plen) {
  struct rep r = { err, n, x };
  if (write_full(rep_pipe[me][1], &r, sizeof r)) _exit(111);
  if (plen && write_full(rep_pipe[me][1], payload, plen)) _exit(111);
}

/* 6-bit pagemap code: P S F E W D = bits 63 62 61 56 57 55 -> code bits 0..5; the supervisor adds
 * nothing, the TypeScript side turns codes into letters. Bits 6/7 of the byte carry the
 * PAGEMAP_SCAN HUGE/PFNZERO categories, used only for the `huge` outcome. */
static uint8_t pm_code(uint64_t e) {
  return (uint8_t)(((e >> 63) & 1) | (((e >> 62) & 1) << 1) | (((e >> 61) & 1) << 2) |
                   (((e >> 56) & 1) << 3) | (((e >> 57) & 1) << 4) | (((e >> 55) & 1) << 5));
}

static int g_scan_ok = 1; /* PAGEMAP_SCAN works here (cleared on ENOTTY/EINVAL) */

static long do_scan(uint64_t start, uint64_t end, uint64_t flags, uint64_t mask, uint64_t anyof,
                    uint64_t ret_mask, uint64_t max_pages, struct pf_page_region *vec, uint64_t vlen) {
  struct pf_pm_scan_arg a;
  memset(&a, 0, sizeof a);
  a.size = sizeof a; a.flags = flags; a.start = start; a.end = end;
  a.vec = (uint64_t)(uintptr_t)vec; a.vec_len = vlen; a.max_pages = max_pages;
  a.category_mask = mask; a.category_anyof_mask = anyof; a.return_mask = ret_mask;
  return ioctl(pm_fd, PF_PAGEMAP_SCAN, &a);
}

/* The return mask of every scan: all categories, less GUARD on kernels before 6.15, which reject
 * unknown category bits with EINVAL (fs/proc/task_mmu.c pagemap_scan_get_args). Probed once. */
static uint64_t scan_return_mask(void)
{
  static int64_t mask = -1;
  static char probe_page[4096] __attribute__((aligned(4096)));
  if (mask < 0) {
    struct pf_page_region v[4];
    probe_page[0] = 1;
    uint64_t a = (uint64_t)(uintptr_t)probe_page;
    mask = do_scan(a, a + PG, 0, 0, 0, PAGE_CATS_ALL, 0, v, 4) >= 0 ? (int64_t)PAGE_CATS_ALL
                                                                  : (int64_t)(PAGE_CATS_ALL & ~PAGE_IS_GUARD);
  }
  return (uint64_t)mask;
}

static void observe(struct range *rs, int n) {
  static uint64_t ent[MAXPAGES];
  static uint8_t out[MAXR * MAXPAGES];
  static struct pf_page_region vec[MAXPAGES];
  size_t o = 0;
  for (int i = 0; i < n; i++) {
    uint64_t pages = rs[i].pages;
    memset(ent, 0, pages * 8);
    ssize_t got = pread(pm_fd, ent, pages * 8, (off_t)(rs[i].addr / PG * 8));
    (void)got;
    for (uint64_t k = 0; k < pages; k++) out[o + k] = pm_code(ent[k]);
    if (g_scan_ok) {
      long r = do_scan(rs[i].addr, rs[i].addr + pages * PG, 0, 0, PAGE_IS_HUGE,
                       PAGE_IS_HUGE | PAGE_IS_PFNZERO, 0, vec, MAXPAGES);
      if (r < 0 && (errno == ENOTTY || errno == EINVAL)) g_scan_ok = 0;
      for (long j = 0; j < r; j++)
        for (uint64_t a = vec[j].start; a < vec[j].end; a += PG) {
          uint64_t k = (a - rs[i].addr) / PG;
          if (k < pages) out[o + k] |= (uint8_t)(0x40 | ((vec[j].categories & PAGE_IS_PFNZERO) ? 0x80 : 0));
        }
    }
    o += pages;
  }
  reply(0, (int)o, 0, out, o);
}

/* Which protection a page has right now, from /proc/self/maps (the split op restores it). */
static int prot_of(uint64_t addr) {
  FILE *f = fopen("/proc/self/maps", "re");
  if (!f) return -1;
  char line[512];
  int prot = -1;
  while (fgets(line, sizeof line, f)) {
    unsigned long lo, hi; char perms[8];
    if (sscanf(line, "%lx-%lx %7s", &lo, &hi, perms) != 3) continue;
    if (addr >= lo && addr < hi) {
      prot = (perms[0] == 'r' ? PROT_READ : 0) | (perms[1] == 'w' ? PROT_WRITE : 0) | (perms[2] == 'x' ? PROT_EXEC : 0);
      break;
    }
  }
  fclose(f);
  return prot;
}

static void proc_uffd_open(uint64_t features) {
  int fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY);
  int err = 0;
  if (fd < 0) err = errno;
  else {
    struct uffdio_api api = { .api = UFFD_API, .features = features };
    if (ioctl(fd, UFFDIO_API, &api)) err = errno;
  }
  drop_all_caps();
  if (!err) {
    char dummy = 'u';
    struct iovec iov = { &dummy, 1 };
    char cbuf[CMSG_SPACE(sizeof(int))];
    struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf };
    struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
    cm->cmsg_level = SOL_SOCKET; cm->cmsg_type = SCM_RIGHTS; cm->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(cm), &fd, sizeof fd);
    if (sendmsg(uffd_sock[1], &mh, 0) < 0) err = errno;
  }
  /* the supervisor holds the only descriptor from now on: an exit of process 0 must not close
   * the context (userfaultfd_release would clear every wp bit) */
  if (fd >= 0) close(fd);
  reply(err, 0, 0, NULL, 0);
}

static void case_process(void) __attribute__((noreturn));
static void case_process(void) {
  static struct range rs[MAXR];
  static struct pf_page_region vec[MAXPAGES + 1];
  prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0); /* the supervisor is every case process's parent */
  open_own_pagemap();
  struct rep hello = { pm_fd < 0 ? errno : 0, 0, (int64_t)getpid() };
  if (write_full(rep_pipe[me][1], &hello, sizeof hello)) _exit(111);
  for (;;) {
    struct cmd c;
    if (read_full(cmd_pipe[me][0], &c, sizeof c)) _exit(112);
    int err = 0;
    switch (c.code) {
    case C_UFFD_OPEN: proc_uffd_open(c.addr); continue;
    case C_MMAP: { /* a: kind 0 anon, 1 shared-anon, 2 memfd-shared, 3 memfd-private; b: thp */
      int fd = -1, flags = MAP_FIXED_NOREPLACE;
      void *p = MAP_FAILED;
      if (c.a == 0) flags |= MAP_PRIVATE | MAP_ANONYMOUS;
      else if (c.a == 1) flags |= MAP_SHARED | MAP_ANONYMOUS;
      else {
        flags |= c.a == 2 ? MAP_SHARED : MAP_PRIVATE;
        fd = memfd_create("ptefarm", MFD_CLOEXEC);
        if (fd < 0 || ftruncate(fd, (off_t)(MAXPAGES * PG))) err = errno;
      }
      if (!err) {
        p = mmap((void *)(uintptr_t)c.addr, c.len, PROT_READ | PROT_WRITE, flags, fd, 0);
        if (p == MAP_FAILED) err = errno;
        else if (p != (void *)(uintptr_t)c.addr) { munmap(p, c.len); err = EEXIST; }
      }
      if (fd >= 0) close(fd);
      if (!err && madvise(p, c.len, c.b ? MADV_HUGEPAGE : MADV_NOHUGEPAGE)) err = errno;
      break;
    }
    case C_MUNMAP: if (munmap((void *)(uintptr_t)c.addr, c.len)) err = errno; break;
    case C_MREMAP: { /* a: move, b: dontunmap */
      void *r;
      if (c.a) r = mremap((void *)(uintptr_t)c.addr, c.len, c.len2,
                          MREMAP_MAYMOVE | MREMAP_FIXED | (c.b ? MREMAP_DONTUNMAP : 0), (void *)(uintptr_t)c.addr2);
      else r = mremap((void *)(uintptr_t)c.addr, c.len, c.len2, 0);
      if (r == MAP_FAILED) err = errno;
      break;
    }
    case C_MPROTECT: if (mprotect((void *)(uintptr_t)c.addr, c.len, c.a)) err = errno; break;
    case C_TOUCH: /* a: 1 write. One byte per page, in order; a fatal signal ends this process. */
      for (uint64_t off = 0; off < c.len; off += PG) {
        volatile uint8_t *b = (volatile uint8_t *)(uintptr_t)(c.addr + off);
        if (c.a) *b = 0x5a; else (void)*b;
      }
      break;
    case C_FORK: { /* a: the child's process number */
      pid_t pid = fork_to_supervisor();
      if (pid == 0) {
        me = c.a;
        case_process();
      }
      if (pid < 0) err = errno;
      reply(err, 0, pid, NULL, 0);
      continue;
    }
    case C_EXIT: reply(0, 0, 0, NULL, 0); _exit(0);
    case C_CLEAR_REFS: {
      char b[16];
      int n = snprintf(b, sizeof b, "%d", c.a);
      int fd = open("/proc/self/clear_refs", O_WRONLY | O_CLOEXEC);
      if (fd < 0) err = errno;
      else { if (write(fd, b, (size_t)n) < 0) err = errno; close(fd); }
      break;
    }
    case C_MADVISE: if (madvise((void *)(uintptr_t)c.addr, c.len, c.a)) err = errno; break;
    case C_SPLIT: {
      /* Split the huge PMD holding the page without changing protection or contents: change
       * the protection of that one 4 KiB page and change it back. A protection change over part
       * of a huge PMD splits it (mprotect_fixup -> split_vma -> vma_adjust_trans_huge, and
       * change_pmd_range -> __split_huge_pmd), the VMA pieces merge again on the way back
       * (same flags, same anon_vma, same uffd context), and the page keeps its final protection.
       * The temporary protection is PROT_NONE if the page is read-only now, else PROT_READ.
       * Syscalls, exactly: mprotect(page, 4096, tmp); mprotect(page, 4096, current). A page
       * outside any VMA gets mprotect(page, 4096, PROT_READ), which fails with ENOMEM. */
      int cur = prot_of(c.addr);
      int tmp = cur == PROT_READ ? PROT_NONE : PROT_READ;
      if (mprotect((void *)(uintptr_t)c.addr, PG, tmp)) err = errno;
      else if (cur >= 0 && mprotect((void *)(uintptr_t)c.addr, PG, cur)) err = errno;
      break;
    }
    case C_SCAN: { /* a: wp_matching, len2: max_pages (0: none) */
      uint64_t pages = c.len / PG;
      uint64_t cats = scan_return_mask();
      long r = c.a ? do_scan(c.addr, c.addr + c.len, PM_SCAN_WP_MATCHING | PM_SCAN_CHECK_WPASYNC,
                             PAGE_IS_WRITTEN, 0, cats, c.len2, vec, pages + 1)
                   : do_scan(c.addr, c.addr + c.len, 0, 0, 0, cats, c.len2, vec, pages + 1);
      if (r < 0) { reply(errno, 0, 0, NULL, 0); continue; }
      reply(0, (int)r, 0, vec, (size_t)r * sizeof vec[0]);
      continue;
    }
    case C_OBSERVE: /* a: number of ranges that follow */
      if (c.a < 0 || c.a > MAXR || read_full(cmd_pipe[me][0], rs, (size_t)c.a * sizeof rs[0])) _exit(113);
      observe(rs, c.a);
      continue;
    default: err = ENOSYS;
    }
    reply(err, 0, 0, NULL, 0);
  }
}

/* ------------------------------------------------------------------------------------------- */
/* supervisor                                                                                   */

struct region { int known; uint64_t start; uint64_t pages; };
struct proc { int alive; pid_t pid; int pidfd; int ctx; struct region reg[MAXR]; };
struct ctx { int fd; int proc; };

static struct proc P[MAXP];
static int nprocs;
static struct ctx CTX[MAXCTX];
static int nctx;
static uint8_t prev_obs[MAXP][MAXR][MAXPAGES];
static uint8_t cur_obs[MAXP][MAXR][MAXPAGES];
static FILE *out;
static int g_fork_child = -1; /* process number being created by the fork in progress */

static void fault_exit(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
static void fault_exit(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("f ", out);
  vfprintf(out, fmt, ap);
  fputc('\n', out);
  va_end(ap);
  fflush(out);
  exit(3);
}

static int region_at(int p, uint64_t addr, uint64_t *page) {
  for (int r = 0; r < MAXR; r++) {
    struct region *g = &P[p].reg[r];
    if (g->known && addr >= g->start && addr < g->start + g->pages * PG) { *page = (addr - g->start) / PG; return r; }
  }
  return -1;
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

static void flush_events(void) {
  fwrite(evbuf, 1, evlen, out);
  evlen = 0;
}

/* Read every pending message of one userfaultfd context. Sync write-protect faults are resolved by
 * clearing wp on the faulting page (UFFDIO_WRITEPROTECT without MODE_WP, which also wakes the
 * faulting thread); fork/remap/unmap events are recorded (reading them lets the blocked mm
 * operation complete). */
static void drain_ctx(int i) {
  for (;;) {
    struct uffd_msg m;
    ssize_t n = read(CTX[i].fd, &m, sizeof m);
    if (n < 0 && errno == EINTR) continue;
    if (n != (ssize_t)sizeof m) return;
    int p = CTX[i].proc;
    switch (m.event) {
    case UFFD_EVENT_PAGEFAULT: {
      uint64_t a = m.arg.pagefault.address & ~(PG - 1);
      emit_event("wp_fault", p, a, 1, -1);
      struct uffdio_writeprotect wp = { .range = { a, PG }, .mode = 0 };
      for (int tries = 0; ioctl(CTX[i].fd, UFFDIO_WRITEPROTECT, &wp) && errno == EAGAIN && tries < 1000; tries++) usleep(100);
      break;
    }
    case UFFD_EVENT_FORK: {
      int child = g_fork_child;
      int nfd = (int)m.arg.fork.ufd;
      fcntl(nfd, F_SETFL, fcntl(nfd, F_GETFL) | O_NONBLOCK);
      if (nctx < MAXCTX && child >= 0) { CTX[nctx].fd = nfd; CTX[nctx].proc = child; P[child].ctx = nctx; nctx++; }
      emit_event("fork", p, 0, 0, child);
      break;
    }
    case UFFD_EVENT_REMAP: emit_event("remap", p, m.arg.remap.from, 1, -1); break;
    case UFFD_EVENT_UNMAP: emit_event("unmap", p, m.arg.remove.start, 1, -1); break;
    default: break;
    }
  }
}

static void drain_all(void) { for (int i = 0; i < nctx; i++) drain_ctx(i); }

/* Wait for a reply from process p while serving userfaultfd contexts. Returns 0 with the reply,
 * or the killing signal number (>0) when the process died instead. */
static int wait_reply(int p, struct rep *r) {
  for (;;) {
    struct pollfd fds[2 + MAXCTX];
    int n = 0;
    fds[n].fd = rep_pipe[p][0]; fds[n++].events = POLLIN;
    fds[n].fd = P[p].pidfd; fds[n++].events = POLLIN;
    for (int i = 0; i < nctx; i++) { fds[n].fd = CTX[i].fd; fds[n++].events = POLLIN; }
    int k = poll(fds, (nfds_t)n, -1);
    if (k < 0) { if (errno == EINTR) continue; fault_exit("poll: %s", strerror(errno)); }
    for (int i = 0; i < nctx; i++) if (fds[2 + i].revents) drain_ctx(i);
    if (fds[0].revents & POLLIN) {
      if (read_full(rep_pipe[p][0], r, sizeof *r)) fault_exit("reply pipe of process %d broke", p);
      return 0;
    }
    if (fds[1].revents) {
      siginfo_t si;
      memset(&si, 0, sizeof si);
      if (waitid(P_PID, (id_t)P[p].pid, &si, WEXITED)) fault_exit("waitid(process %d): %s", p, strerror(errno));
      P[p].alive = 0;
      if (si.si_code == CLD_KILLED || si.si_code == CLD_DUMPED) return si.si_status;
      fault_exit("process %d exited with status %d outside an exit op", p, si.si_status);
    }
  }
}

static void reap(int p) {
  siginfo_t si;
  waitid(P_PID, (id_t)P[p].pid, &si, WEXITED);
  close(P[p].pidfd);
  P[p].pidfd = -1;
  P[p].alive = 0;
}

static void send_cmd(int p, struct cmd *c) {
  if (write_full(cmd_pipe[p][1], c, sizeof *c)) fault_exit("command pipe of process %d broke", p);
}

/* run a command in process p; returns "0", an errno name or a signal name */
static const char *run(int p, struct cmd *c, struct rep *r) {
  send_cmd(p, c);
  int sig = wait_reply(p, r);
  if (sig) { reap(p); return signame(sig); }
  return errname(r->err);
}

static int start_process(int p, pid_t pid) {
  struct rep hello;
  P[p].pid = pid;
  P[p].pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
  if (P[p].pidfd < 0) fault_exit("pidfd_open: %s", strerror(errno));
  P[p].alive = 1;
  int sig = wait_reply(p, &hello);
  if (sig) fault_exit("process %d died at start (%s)", p, signame(sig));
  if (hello.err) fault_exit("process %d cannot open its pagemap: %s", p, strerror(hello.err));
  return 0;
}

static void observe_all(void) {
  static struct range rs[MAXR];
  for (int p = 0; p < nprocs; p++) {
    if (!P[p].alive) continue;
    int n = 0;
    for (int r = 0; r < MAXR; r++)
      if (P[p].reg[r].known) { rs[n].addr = P[p].reg[r].start; rs[n].pages = P[p].reg[r].pages; n++; }
    struct cmd c = { .code = C_OBSERVE, .a = n };
    send_cmd(p, &c);
    if (n && write_full(cmd_pipe[p][1], rs, (size_t)n * sizeof rs[0])) fault_exit("command pipe of process %d broke", p);
  }
  static uint8_t buf[MAXR * MAXPAGES];
  for (int p = 0; p < nprocs; p++) {
    if (!P[p].alive) continue;
    struct rep r;
    int sig = wait_reply(p, &r);
    if (sig) fault_exit("process %d died while reading its pagemap (%s)", p, signame(sig));
    if (r.n < 0 || r.n > (int)sizeof buf || read_full(rep_pipe[p][0], buf, (size_t)r.n)) fault_exit("bad observation from process %d", p);
    size_t o = 0;
    for (int g = 0; g < MAXR; g++) {
      if (!P[p].reg[g].known) continue;
      memcpy(cur_obs[p][g], buf + o, P[p].reg[g].pages);
      o += P[p].reg[g].pages;
    }
  }
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
    }
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
    uint64_t sp = rg->start / PG;
    uint64_t first_block = sp / HPG_PAGES * HPG_PAGES;
    for (uint64_t b = first_block; b < sp + rg->pages; b += HPG_PAGES) {
      uint64_t k = b > sp ? b - sp : 0;
      uint8_t now = cur_obs[p][g][k];
      if (!(now & 0x40)) continue;
      uint8_t then = 0;
      /* compared by region-relative page, so a huge PMD moved by mremap is not "new" */
      if (before[g].known && k < before[g].pages) then = prev_obs[p][g][k];
      int newly = !(then & 0x40) || ((then & 0x80) && !(now & 0x80));
      if (!newly) continue;
      if (!printed) { fprintf(out, "h %d", g); printed = 1; }
      fprintf(out, " %llu", (unsigned long long)k);
    }
    if (printed) fputc('\n', out);
  }
}

static void supervise(void) __attribute__((noreturn));
static void supervise(void) {
  out = fdopen(STDOUT_FILENO, "w");
  setvbuf(out, NULL, _IOFBF, 1 << 16);
  char why[256] = "";
  struct rlimit nocore = { 0, 0 };
  setrlimit(RLIMIT_CORE, &nocore);
  if (g_cpu >= 0) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(g_cpu, &set);
    if (sched_setaffinity(0, sizeof set, &set)) fault_exit("sched_setaffinity(cpu %d): %s", g_cpu, strerror(errno));
  }
  if (drop_privileges(why, sizeof why)) fault_exit("%s", why);
  prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0); /* credential changes reset it */
  for (int i = 0; i < MAXP; i++)
    if (pipe2(cmd_pipe[i], O_CLOEXEC) || pipe2(rep_pipe[i], O_CLOEXEC)) fault_exit("pipe: %s", strerror(errno));
  if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, uffd_sock)) fault_exit("socketpair: %s", strerror(errno));
  for (int i = 0; i < MAXP; i++) { P[i].ctx = -1; P[i].pidfd = -1; }

  pid_t pid = fork();
  if (pid < 0) fault_exit("fork: %s", strerror(errno));
  if (pid == 0) { me = 0; case_process(); }
  nprocs = 1;
  start_process(0, pid);
  if (g_uffd_features >= 0) {
    struct cmd c = { .code = C_UFFD_OPEN, .addr = (uint64_t)g_uffd_features };
    struct rep r;
    const char *rc = run(0, &c, &r);
    if (strcmp(rc, "0")) fault_exit("process 0 could not open a userfaultfd with features 0x%llx: %s",
                                    (unsigned long long)g_uffd_features, rc);
    char dummy;
    char cbuf[CMSG_SPACE(sizeof(int))];
    struct iovec iov = { &dummy, 1 };
    struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf };
    if (recvmsg(uffd_sock[0], &mh, 0) < 0) fault_exit("receiving the userfaultfd: %s", strerror(errno));
    struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
    if (!cm || cm->cmsg_type != SCM_RIGHTS) fault_exit("no userfaultfd received from process 0");
    memcpy(&CTX[0].fd, CMSG_DATA(cm), sizeof(int));
    CTX[0].proc = 0; nctx = 1; P[0].ctx = 0;
  }
  drop_all_caps();

  static struct region before[MAXR];
  for (int i = 0; i < g_ncase_ops; i++) {
    if (i == g_inject_op) {
      if (g_inject_kind == 1) for (;;) pause();
      if (g_inject_kind == 2) abort();
    }
    int64_t *v = g_ops[i].v;
    int code = (int)v[0], p = (int)v[1];
    if (p < 0 || p >= nprocs) fault_exit("op %d addresses process %d, which does not exist", i, p);
    if (!P[p].alive) {
      /* killed by a signal at an earlier op: later ops of it cannot run; the step is observed. A
       * fork it would have done still takes its number (as in the case's plan), dead at birth. */
      if (code == OP_FORK && nprocs < MAXP) P[nprocs++].alive = 0;
      fprintf(out, "s %d 0\nk process %d is gone (killed by a signal earlier)\n", i, p);
      observe_all();
      print_pages();
      fflush(out);
      memcpy(prev_obs, cur_obs, sizeof prev_obs);
      continue;
    }
    struct proc *pr = &P[p];
    int rid = (code != OP_FORK && code != OP_EXIT && code != OP_CLEAR_REFS && code != OP_SKIP) ? (int)v[2] : -1;
    if (rid >= MAXR) fault_exit("op %d: region id %d out of range", i, rid);
    struct region *rg = rid >= 0 ? &pr->reg[rid] : NULL;
    if (rg && code != OP_MMAP && !rg->known) fault_exit("op %d: region %d unknown in process %d", i, rid, p);
    memcpy(before, pr->reg, sizeof before);
    uint64_t first = 0, count = 0;
    if (rg && code != OP_MMAP && code != OP_MREMAP && code != OP_SPLIT) {
      first = (uint64_t)v[3]; count = (uint64_t)v[4];
      if (first + count > rg->pages) fault_exit("op %d: pages %llu..%llu outside the region", i,
                                                (unsigned long long)first, (unsigned long long)(first + count - 1));
    }
    uint64_t addr = rg ? rg->start + first * PG : 0, len = count * PG;
    struct cmd c;
    memset(&c, 0, sizeof c);
    struct rep r = { 0 };
    const char *rc = "0";
    int acted = p;
    int scan_region = -1; uint64_t scan_first = 0, scan_count = 0;
    static struct pf_page_region vec[MAXPAGES + 1];
    long nvec = 0;
    switch (code) {
    case OP_SKIP: acted = -1; break;
    case OP_MMAP: { /* proc rid startpage pages kind thp */
      uint64_t pages = (uint64_t)v[4];
      if (pages < 1 || pages > MAXPAGES) fault_exit("op %d: %llu pages exceed the limit of %d", i, (unsigned long long)pages, MAXPAGES);
      rg->known = 1; rg->start = (uint64_t)v[3] * PG; rg->pages = pages;
      c.code = C_MMAP; c.addr = rg->start; c.len = pages * PG; c.a = (int)v[5]; c.b = (int)v[6];
      rc = run(p, &c, &r);
      break;
    }
    case OP_MREMAP: { /* proc rid newpages move dontunmap oldrid newstartpage apply */
      uint64_t np = (uint64_t)v[3];
      int move = (int)v[4], dontunmap = (int)v[5], oldrid = (int)v[6], apply = (int)v[8];
      if (np < 1 || np > MAXPAGES) fault_exit("op %d: %llu pages exceed the limit of %d", i, (unsigned long long)np, MAXPAGES);
      c.code = C_MREMAP; c.addr = rg->start; c.len = rg->pages * PG; c.len2 = np * PG;
      c.a = move; c.b = dontunmap; c.addr2 = (uint64_t)v[7] * PG;
      g_fork_child = -1;
      rc = run(p, &c, &r);
      if (move) {
        if (oldrid >= 0 && oldrid < MAXR) pr->reg[oldrid] = *rg;
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
      c.code = C_TOUCH; c.addr = addr; c.len = len; c.a = code == OP_WRITE; rc = run(p, &c, &r); break;
    case OP_FORK: {
      if (nprocs >= MAXP) fault_exit("op %d: fork would exceed the limit of %d processes", i, MAXP);
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
      if (pr->alive) reap(p); /* the mm is torn down before the task becomes waitable */
      acted = -1;
      break;
    }
    case OP_CLEAR_REFS: c.code = C_CLEAR_REFS; c.a = (int)v[2]; rc = run(p, &c, &r); acted = -1; break;
    case OP_PAGEOUT: case OP_DONTNEED:
      c.code = C_MADVISE; c.addr = addr; c.len = len; c.a = code == OP_PAGEOUT ? MADV_PAGEOUT : MADV_DONTNEED;
      rc = run(p, &c, &r);
      break;
    case OP_COLLAPSE: {
      /* MADV_COLLAPSE itself only collapses 2 MiB blocks fully inside the range, so widen the
       * range to the blocks it touches, clipped to the region's address range. */
      uint64_t lo = addr & ~(HPG_PAGES * PG - 1), hi = (addr + len + HPG_PAGES * PG - 1) & ~(HPG_PAGES * PG - 1);
      if (lo < rg->start) lo = rg->start;
      if (hi > rg->start + rg->pages * PG) hi = rg->start + rg->pages * PG;
      c.code = C_MADVISE; c.addr = lo; c.len = hi - lo; c.a = MADV_COLLAPSE;
      rc = run(p, &c, &r);
      break;
    }
    case OP_SPLIT: {
      uint64_t page = (uint64_t)v[3];
      if (page >= rg->pages) fault_exit("op %d: page %llu outside the region", i, (unsigned long long)page);
      c.code = C_SPLIT; c.addr = rg->start + page * PG; rc = run(p, &c, &r);
      break;
    }
    case OP_UREG: case OP_UUNREG: case OP_WP: {
      int ci = pr->ctx;
      int err = 0;
      if (ci < 0) err = EBADF; /* validated cases never get here: uffd ops need a top-level uffd */
      else if (code == OP_UREG) {
        struct uffdio_register reg = { .range = { addr, len }, .mode = UFFDIO_REGISTER_MODE_WP };
        if (ioctl(CTX[ci].fd, UFFDIO_REGISTER, &reg)) err = errno;
      } else if (code == OP_UUNREG) {
        struct uffdio_range rr = { addr, len };
        if (ioctl(CTX[ci].fd, UFFDIO_UNREGISTER, &rr)) err = errno;
      } else {
        struct uffdio_writeprotect wp = { .range = { addr, len }, .mode = v[5] ? UFFDIO_WRITEPROTECT_MODE_WP : 0 };
        if (ioctl(CTX[ci].fd, UFFDIO_WRITEPROTECT, &wp)) err = errno;
      }
      rc = errname(err);
      break;
    }
    case OP_SCAN: { /* proc rid first count wp_matching max_pages */
      c.code = C_SCAN; c.addr = addr; c.len = len; c.a = (int)v[5]; c.len2 = (uint64_t)v[6];
      send_cmd(p, &c);
      int sig = wait_reply(p, &r);
      if (sig) { reap(p); rc = signame(sig); break; }
      rc = errname(r.err);
      if (!r.err) {
        nvec = r.n;
        if (nvec < 0 || nvec > MAXPAGES + 1 || read_full(rep_pipe[p][0], vec, (size_t)nvec * sizeof vec[0])) fault_exit("bad scan reply");
        scan_region = rid; scan_first = first; scan_count = count;
      }
      break;
    }
    default: fault_exit("op %d: unknown op code %d", i, code);
    }
    drain_all();
    fprintf(out, "s %d %s\n", i, rc);
    flush_events();
    observe_all();
    print_huge(acted, before);
    if (code == OP_PAGEOUT && P[p].alive) {
      int printed = 0;
      for (uint64_t k = first; k < first + count; k++)
        if ((prev_obs[p][rid][k] & 1) && !(cur_obs[p][rid][k] & 1)) {
          if (!printed) { fprintf(out, "o %d", rid); printed = 1; }
          fprintf(out, " %llu", (unsigned long long)k);
        }
      if (printed) fputc('\n', out);
    }
    print_pages();
    if (scan_region >= 0) {
      fprintf(out, "n %d %d %llu %llu", p, scan_region, (unsigned long long)scan_first, (unsigned long long)scan_count);
      uint64_t base = P[p].reg[scan_region].start;
      for (long j = 0; j < nvec; j++)
        fprintf(out, " %llu %llu %llu", (unsigned long long)((vec[j].start - base) / PG),
                (unsigned long long)((vec[j].end - base) / PG), (unsigned long long)vec[j].categories);
      fputc('\n', out);
    }
    fflush(out);
    memcpy(prev_obs, cur_obs, sizeof prev_obs);
  }
  fputs("x\n", out);
  fflush(out);
  for (int p = 0; p < nprocs; p++) if (P[p].alive) kill(P[p].pid, SIGKILL);
  for (int p = 0; p < nprocs; p++) if (P[p].alive) reap(p);
  exit(0);
}

/* ------------------------------------------------------------------------------------------- */
/* probe: what this host can do, seen from a process set up exactly like a case process         */

static void probe_child(void) {
  char why[256] = "";
  if (g_cpu >= 0) { cpu_set_t s; CPU_ZERO(&s); CPU_SET(g_cpu, &s); sched_setaffinity(0, sizeof s, &s); }
  int dropped = drop_privileges(why, sizeof why) == 0;
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
  /* soft-dirty compiled in: a fresh VMA carries VM_SOFTDIRTY, shown as `sd` in smaps VmFlags */
  int soft_dirty = 0;
  void *m2 = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  FILE *f = fopen("/proc/self/smaps", "re");
  if (f && m2 != MAP_FAILED) {
    char line[1024];
    int in = 0;
    while (fgets(line, sizeof line, f)) {
      unsigned long lo, hi;
      if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2) { in = (uintptr_t)m2 >= lo && (uintptr_t)m2 < hi; continue; }
      if (in && !strncmp(line, "VmFlags:", 8)) { soft_dirty = strstr(line, " sd") != NULL; break; }
    }
  }
  if (f) fclose(f);
  printf(" uffd=%d uffd_features=0x%llx uffd_wp=%d wp_async=%d wp_unpopulated=%d event_fork=%d"
         " event_remap=%d event_unmap=%d pagemap_scan=%d scan_guard=%d soft_dirty=%d cpu=%d\n",
         uffd, (unsigned long long)feats, uffd_wp, !!(feats & UFFD_FEATURE_WP_ASYNC), !!(feats & UFFD_FEATURE_WP_UNPOPULATED),
         event_fork, !!(feats & UFFD_FEATURE_EVENT_REMAP), !!(feats & UFFD_FEATURE_EVENT_UNMAP), scan, scan_guard,
         soft_dirty, g_cpu);
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

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...) {
  char b[1024];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(b, sizeof b, fmt, ap);
  va_end(ap);
  if (n > (int)sizeof b - 1) n = (int)sizeof b - 1;
  if (write_full(STDOUT_FILENO, b, (size_t)n)) exit(1);
}

/* Run S for one case; forward complete lines of its output; enforce the wall-clock limit. */
static void run_case(const char *id) {
  int pfd[2];
  if (pipe2(pfd, O_CLOEXEC)) { say("begin %s\nf pipe: %s\nend %s\n", id, strerror(errno), id); return; }
  say("begin %s\n", id);
  pid_t s = fork();
  if (s < 0) { close(pfd[0]); close(pfd[1]); say("f fork: %s\nend %s\n", strerror(errno), id); return; }
  if (s == 0) {
    setpgid(0, 0);
    prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
    dup2(pfd[1], STDOUT_FILENO);
    close(pfd[0]);
    signal(SIGPIPE, SIG_DFL);
    supervise();
  }
  setpgid(s, s);
  close(pfd[1]);
  static char buf[1 << 16];
  size_t have = 0;
  long deadline = now_ms() + g_timeout_ms;
  int timed_out = 0, saw_end = 0;
  char fault[512] = "";
  for (;;) {
    long left = deadline - now_ms();
    if (left <= 0) { timed_out = 1; break; }
    struct pollfd p = { pfd[0], POLLIN, 0 };
    int k = poll(&p, 1, (int)(left > 1000000 ? 1000000 : left));
    if (k < 0) { if (errno == EINTR) continue; break; }
    if (k == 0) continue;
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
    if (write_full(STDOUT_FILENO, buf, done)) exit(1);
    memmove(buf, last, have - done);
    have -= done;
  }
  close(pfd[0]);
  kill(-s, SIGKILL);
  int st = 0;
  waitpid(s, &st, 0);
  /* case processes are in S's process group; make sure none outlives the case */
  kill(-s, SIGKILL);
  if (timed_out) say("f timeout: the case did not finish within %ld ms\n", g_timeout_ms);
  else if (fault[0]) say("f %s\n", fault);
  else if (!saw_end) {
    if (WIFSIGNALED(st)) say("f supervisor killed by %s\n", signame(WTERMSIG(st)));
    else if (!(WIFEXITED(st) && WEXITSTATUS(st) == 3)) say("f supervisor ended without finishing the case (status %d)\n", st);
  }
  say("end %s\n", id);
}

int main(int argc, char **argv) {
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
  if (geteuid() == 0) { struct passwd *pw = getpwnam("nobody"); if (pw && g_drop_uid == 65534) { g_drop_uid = pw->pw_uid; g_drop_gid = pw->pw_gid; } }
  say("ready ptefarm-exec/1 cpu=%d euid=%d\n", g_cpu, (int)geteuid());
  static char line[4096];
  FILE *in = stdin;
  while (fgets(line, sizeof line, in)) {
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
    if (strncmp(line, "case ", 5)) { say("error unknown request: %.60s\n", line); continue; }
    /* case <id> <nops> <uffd_features|-1> <timeout_ms> [<inject_kind> <inject_op>] */
    char id[64];
    int64_t h[6];
    int off = 0;
    if (sscanf(line, "case %63s %n", id, &off) != 1) { say("error bad case header\n"); continue; }
    int nh = parse_ints(line + off, h, 6);
    if (nh < 3) { say("begin %s\nf bad case header: %.80s\nend %s\n", id, line, id); continue; }
    int nops = (int)h[0];
    g_uffd_features = h[1];
    g_timeout_ms = h[2] > 0 ? h[2] : 10000;
    g_inject_kind = nh >= 5 ? (int)h[3] : 0;
    g_inject_op = nh >= 5 ? (int)h[4] : -1;
    int bad = nops < 1 || nops > MAXOPS;
    char err[160] = "";
    if (bad) snprintf(err, sizeof err, "%d ops (limit %d)", nops, MAXOPS);
    for (int i = 0; i < nops && i < MAXOPS; i++) {
      if (!fgets(line, sizeof line, in)) return 0;
      int n = parse_ints(line, g_ops[i].v, 10);
      if (n < 2 && !bad) { bad = 1; snprintf(err, sizeof err, "op line %d is malformed: %.60s", i, line); }
      g_ops[i].n = n;
    }
    if (bad) { say("begin %s\nf bad case: %s\nend %s\n", id, err, id); continue; }
    g_ncase_ops = nops;
    run_case(id);
  }
  return 0;
}
