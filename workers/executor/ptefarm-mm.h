/*
 * ptefarm-mm.h: the process machinery of ptefarm's native executor (ptefarm-exec.c; what it shares
 * with the reproducers of `ptefarm repro` is in ptefarm-observe.h): syscall helpers, privilege
 * dropping, the case processes (they execute one command at a time and read their OWN
 * /proc/self/pagemap and PAGEMAP_SCAN on request) and the supervisor's side of the command pipes
 * and userfaultfd contexts.
 *
 * Include after `#define _GNU_SOURCE`. The includer defines two functions declared below:
 *   fatal(fmt, ...)   the supervisor cannot go on (reports the reason and exits; never returns)
 *   emit_event(...)   a userfaultfd event the supervisor read (kind, process, address, child)
 *   flush_output()    the supervisor is about to wait without progress: its buffered lines go out
 */
#ifndef PTEFARM_MM_H
#define PTEFARM_MM_H

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ptefarm-uapi.h"
#include "ptefarm-observe.h" /* pm_code, observe_range, the outcomes */
#include "ptefarm-content.h" /* content_value, content_read: the content oracle */

static void fatal(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
static void emit_event(const char *kind, int p, uint64_t addr, int has_addr, int child);
static void flush_output(void);

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
  case SIGSYS: return "SIGSYS"; case SIGSTOP: return "SIGSTOP"; case SIGTSTP: return "SIGTSTP";
  case SIGTTIN: return "SIGTTIN"; case SIGTTOU: return "SIGTTOU"; case SIGCONT: return "SIGCONT";
  case SIGINT: return "SIGINT"; case SIGHUP: return "SIGHUP"; case SIGQUIT: return "SIGQUIT";
  case SIGUSR1: return "SIGUSR1"; case SIGUSR2: return "SIGUSR2"; case SIGPIPE: return "SIGPIPE";
  default: { static char b[32]; snprintf(b, sizeof b, "SIG%d", s); return b; }
  }
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

static int set_caps2(uint64_t eff, uint64_t perm) {
  struct capdata2 c;
  memset(&c, 0, sizeof c);
  c.h.version = _LINUX_CAPABILITY_VERSION_3;
  c.d[0].effective = (uint32_t)eff; c.d[0].permitted = (uint32_t)perm;
  c.d[1].effective = (uint32_t)(eff >> 32); c.d[1].permitted = (uint32_t)(perm >> 32);
  return (int)syscall(SYS_capset, &c.h, c.d);
}

static int set_caps(uint64_t eff_perm) { return set_caps2(eff_perm, eff_perm); }

/* the permitted set of this process (the low 32 capabilities: CAP_SYS_PTRACE is 19) */
static uint32_t permitted_caps(void) {
  struct capdata2 c;
  memset(&c, 0, sizeof c);
  c.h.version = _LINUX_CAPABILITY_VERSION_3;
  return syscall(SYS_capget, &c.h, c.d) ? 0 : c.d[0].permitted;
}

/* The event_fork supervisor keeps CAP_SYS_PTRACE only PERMITTED, never effective: it never uses
 * it, it only passes it on to each case's process 0 by fork, which raises it for UFFDIO_API alone
 * (proc_uffd_open). No-op without it. */
static int park_ptrace(void) {
  return permitted_caps() & (1u << CAP_SYS_PTRACE) ? set_caps2(0, 1ULL << CAP_SYS_PTRACE) : 0;
}

/* process 0 of an event_fork case, right before userfaultfd() and UFFDIO_API: the permitted
 * CAP_SYS_PTRACE made effective (userfaultfd_api: capable(CAP_SYS_PTRACE)). No-op without it. */
static void raise_ptrace(void) {
  if (permitted_caps() & (1u << CAP_SYS_PTRACE)) set_caps(1ULL << CAP_SYS_PTRACE);
}

/* Case processes never run as root and hold no capability. When started as root we become
 * uid/gid (nobody) with an empty capability bounding set and no_new_privs. Only when `keep_ptrace`
 * (the supervisor of cases asking for UFFD_FEATURE_EVENT_FORK, which userfaultfd_api() allows only
 * with CAP_SYS_PTRACE) do we keep that one capability: the supervisor then parks it (permitted
 * only, park_ptrace), process 0 raises it for UFFDIO_API and drops it right after, and every
 * other case process is born without it. */
static int drop_privileges_for_case(uid_t uid, gid_t gid, int keep_ptrace, char *why, size_t whylen) {
  if (geteuid() != 0) {
    /* not root: keep the uid, and of whatever capabilities we were given at most CAP_SYS_PTRACE */
    struct capdata2 cur;
    memset(&cur, 0, sizeof cur);
    cur.h.version = _LINUX_CAPABILITY_VERSION_3;
    int has_ptrace = !syscall(SYS_capget, &cur.h, cur.d) && (cur.d[0].permitted & (1u << CAP_SYS_PTRACE));
    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    if (set_caps(keep_ptrace && has_ptrace ? 1ULL << CAP_SYS_PTRACE : 0)) { snprintf(why, whylen, "capset: %s", strerror(errno)); return -1; }
    return 0;
  }
  /* the bounding set can only shrink with CAP_SETPCAP, i.e. before setuid */
  for (int cap = 0; cap <= 63; cap++) {
    if (keep_ptrace && cap == CAP_SYS_PTRACE) continue;
    if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) && errno != EINVAL) {
      snprintf(why, whylen, "PR_CAPBSET_DROP(%d): %s", cap, strerror(errno)); return -1;
    }
  }
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)) { snprintf(why, whylen, "PR_SET_NO_NEW_PRIVS: %s", strerror(errno)); return -1; }
  if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0)) { snprintf(why, whylen, "PR_SET_KEEPCAPS: %s", strerror(errno)); return -1; }
  if (setgroups(0, NULL) || setgid(gid) || setuid(uid)) {
    snprintf(why, whylen, "dropping to uid %d: %s", (int)uid, strerror(errno)); return -1;
  }
  if (set_caps(keep_ptrace ? 1ULL << CAP_SYS_PTRACE : 0)) { snprintf(why, whylen, "capset: %s", strerror(errno)); return -1; }
  prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0);
  /* setuid made us non-dumpable, which makes /proc/self/clear_refs root-owned (proc inode
   * ownership follows dumpability); the case must be able to write it. */
  prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
  return 0;
}

/* the same, keeping CAP_SYS_PTRACE (the probe asks whether UFFD_FEATURE_EVENT_FORK is usable) */
static int drop_privileges(uid_t uid, gid_t gid, char *why, size_t whylen) {
  return drop_privileges_for_case(uid, gid, 1, why, whylen);
}

static void drop_all_caps(void) { if (geteuid() != 0) set_caps(0); }

/* soft-dirty compiled in: a fresh VMA carries VM_SOFTDIRTY, shown as `sd` in smaps VmFlags */
static int host_soft_dirty(void) {
  int sd = 0;
  void *m = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  FILE *f = fopen("/proc/self/smaps", "re");
  if (f && m != MAP_FAILED) {
    char line[1024];
    int in = 0;
    while (fgets(line, sizeof line, f)) {
      unsigned long lo, hi;
      if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2) { in = (uintptr_t)m >= lo && (uintptr_t)m < hi; continue; }
      if (in && !strncmp(line, "VmFlags:", 8)) { sd = strstr(line, " sd") != NULL; break; }
    }
  }
  if (f) fclose(f);
  if (m != MAP_FAILED) munmap(m, PG);
  return sd;
}

/* ------------------------------------------------------------------------------------------- */
/* case processes                                                                               */

static int cmd_pipe[MAXP][2], rep_pipe[MAXP][2];
static int me = -1;          /* this case process's number */
static pid_t g_supervisor;   /* the parent of every case process */
static int pm_fd = -1;       /* this process's own /proc/self/pagemap */
static int mem_fd = -1;      /* this process's own /proc/self/mem (content read-back, ptefarm-content.h) */
static int uffd_sock[2] = {-1, -1};
static int g_may_hold_caps; /* process 0 before its first command (case_process) */

static void open_own_pagemap(void) {
  if (pm_fd >= 0) close(pm_fd);
  pm_fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
  if (mem_fd >= 0) close(mem_fd); /* a parent's: bound to the parent's mm */
  mem_fd = -1; /* opened by content_read when a page needs it (PROT_NONE, NUMA balancing on) */
}

/* A command whose cmd.c is N > 0 is followed by N ranges: after the command the process observes
 * them (as C_OBSERVE with content) and sends both replies in one write, so that the supervisor
 * wakes once per op instead of twice (the acting process's observation no longer costs its own
 * round trip). The process is idle between the two, as it would be waiting for C_OBSERVE. */
static struct range g_obs_ranges[MAXR];
/* the commands an observation may follow: the ops' own (not exit, observe or the uffd hand-over);
 * the supervisor (send_cmd) and the case process (case_process) decide by this one test */
static inline int cmd_observes_after(int code) { return code != C_EXIT && code != C_OBSERVE && code != C_UFFD_OPEN; }
static int g_obs_after;            /* ranges to observe after the current command's reply; 0: none */
static uint8_t g_staged[(MAXPAGES + 1) * sizeof(struct pf_page_region) + 4 * sizeof(struct rep) + (1 << 18)];
static size_t g_staged_len;        /* the command's reply, held until the observation is appended */
static void observe(struct range *rs, int n, int with_content);

static void reply(int err, int n, int64_t x, const void *payload, size_t plen) {
  struct rep r = { err, n, x };
  if (g_obs_after > 0) { /* stage this reply, append the observation's (observe calls reply again) */
    int k = g_obs_after;
    g_obs_after = 0;
    memcpy(g_staged, &r, sizeof r);
    if (plen) memcpy(g_staged + sizeof r, payload, plen);
    g_staged_len = sizeof r + plen;
    observe(g_obs_ranges, k, 1);
    return;
  }
  if (g_staged_len && g_staged_len + sizeof r + plen <= sizeof g_staged) { /* both replies, one write */
    memcpy(g_staged + g_staged_len, &r, sizeof r);
    if (plen) memcpy(g_staged + g_staged_len + sizeof r, payload, plen);
    size_t len = g_staged_len + sizeof r + plen;
    g_staged_len = 0;
    if (write_full(rep_pipe[me][1], g_staged, len)) _exit(111);
    return;
  }
  if (g_staged_len) { size_t len = g_staged_len; g_staged_len = 0; if (write_full(rep_pipe[me][1], g_staged, len)) _exit(111); }
  if (write_full(rep_pipe[me][1], &r, sizeof r)) _exit(111);
  if (plen && write_full(rep_pipe[me][1], payload, plen)) _exit(111);
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
  /* a whole page at any supported page size (4 KiB..64 KiB) */
  static char probe_page[65536] __attribute__((aligned(65536)));
  if (mask < 0) {
    struct pf_page_region v[4];
    probe_page[0] = 1;
    uint64_t a = (uint64_t)(uintptr_t)probe_page;
    mask = do_scan(a, a + PG, 0, 0, 0, PAGE_CATS_ALL, 0, v, 4) >= 0 ? (int64_t)PAGE_CATS_ALL
                                                                  : (int64_t)(PAGE_CATS_ALL & ~PAGE_IS_GUARD);
  }
  return (uint64_t)mask;
}

/* the codes of every range, then (with_content) the values of the present pages (8 bytes each)
 * and which were read (1 byte each), read after the pagemap (ptefarm-content.h) */
static void observe(struct range *rs, int n, int with_content) {
  static uint8_t codes[MAXR * MAXPAGES * 10];
  size_t o = 0;
  for (int i = 0; i < n; i++) {
    observe_range(pm_fd, rs[i].addr, rs[i].pages, codes + o, &g_scan_ok);
    o += rs[i].pages;
  }
  if (with_content) {
    uint64_t *vals = (uint64_t *)(void *)(codes + MAXR * MAXPAGES);
    uint8_t *known = codes + MAXR * MAXPAGES * 9;
    size_t q = 0;
    for (int i = 0; i < n; i++) { content_read(&mem_fd, rs[i].addr, rs[i].pages, codes + q, vals + q, known + q); q += rs[i].pages; }
    memmove(codes + o, vals, o * 8);
    memmove(codes + o * 9, known, o);
  }
  reply(0, (int)o, 0, codes, with_content ? o * 10 : o);
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
  if (features & UFFD_FEATURE_EVENT_FORK) raise_ptrace();
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

/* SIGSEGV and SIGBUS are an op's rc only when the process's own access caused them: the kernel
 * then fills si_code > 0 (SEGV_MAPERR, BUS_ADRERR, ...), which no other process can forge (only
 * kill/sigqueue codes, <= 0). Raised by a fault, the signal is re-raised with the default action,
 * so the process dies of it as it would without this handler; sent from outside, the process
 * exits with EXIT_EXTERNAL_SIGNAL + signal, which the supervisor reports as a fault. */
static void on_fatal_signal(int sig, siginfo_t *si, void *uc) {
  (void)uc;
  /* a content load of a present page whose VMA is not readable: back to content_read, which
   * reads that page through /proc/self/mem (ptefarm-content.h); the fault changed nothing */
  if (si->si_code > 0 && content_loading) siglongjmp(content_jb, 1);
  if (si->si_code <= 0) _exit(EXIT_EXTERNAL_SIGNAL + sig);
  struct sigaction dfl;
  memset(&dfl, 0, sizeof dfl);
  dfl.sa_handler = SIG_DFL;
  sigaction(sig, &dfl, NULL);
  raise(sig);
}

/* A case process's side of its command pipe: the supervisor writes a command and the ranges that
 * follow it in one write (send_cmd, observe_all), so one read takes both. cmd_bytes hands out what
 * was read and reads on only for the rest. Emptied at every process's start (case_process). */
static uint8_t g_cmd_in[sizeof(struct cmd) + MAXR * sizeof(struct range)];
static size_t g_cmd_in_off, g_cmd_in_len;

static int cmd_bytes(void *dst, size_t n) {
  size_t have = g_cmd_in_len - g_cmd_in_off < n ? g_cmd_in_len - g_cmd_in_off : n;
  memcpy(dst, g_cmd_in + g_cmd_in_off, have);
  g_cmd_in_off += have;
  if (g_cmd_in_off == g_cmd_in_len) g_cmd_in_off = g_cmd_in_len = 0;
  return have < n ? read_full(cmd_pipe[me][0], (char *)dst + have, n - have) : 0;
}

/* the next command: one read of whatever the pipe holds, up to a command and its ranges */
static int read_cmd(struct cmd *c) {
  while (g_cmd_in_len - g_cmd_in_off < sizeof *c) {
    if (g_cmd_in_off) { memmove(g_cmd_in, g_cmd_in + g_cmd_in_off, g_cmd_in_len - g_cmd_in_off); g_cmd_in_len -= g_cmd_in_off; g_cmd_in_off = 0; }
    ssize_t r = read(cmd_pipe[me][0], g_cmd_in + g_cmd_in_len, sizeof g_cmd_in - g_cmd_in_len);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return -1;
    g_cmd_in_len += (size_t)r;
  }
  return cmd_bytes(c, sizeof *c);
}

static void case_process(void) __attribute__((noreturn));
static void case_process(void) {
  static struct range rs[MAXR];
  static struct pf_page_region vec[MAXPAGES + 1];
  prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0); /* the supervisor is every case process's parent */
  if (getppid() != g_supervisor) _exit(114); /* it died before PDEATHSIG was armed */
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = on_fatal_signal;
  sa.sa_flags = SA_SIGINFO | SA_NODEFER;
  sigaction(SIGSEGV, &sa, NULL);
  sigaction(SIGBUS, &sa, NULL);
  open_own_pagemap();
  struct rep hello = { pm_fd < 0 ? errno : 0, 0, (int64_t)getpid() };
  if (write_full(rep_pipe[me][1], &hello, sizeof hello)) _exit(111);
  g_obs_after = 0; g_staged_len = 0; /* a forked child starts with nothing pending */
  g_cmd_in_off = g_cmd_in_len = 0;
  for (;;) {
    struct cmd c;
    if (read_cmd(&c)) _exit(112);
    if (c.c < 0 || c.c > MAXR || (c.c && cmd_bytes(g_obs_ranges, (size_t)c.c * sizeof g_obs_ranges[0]))) _exit(113);
    g_obs_after = cmd_observes_after(c.code) ? c.c : 0;
    /* a process that could hold a parked CAP_SYS_PTRACE (process 0 of an event_fork case) gives
     * it up at its first command, whatever that is: proc_uffd_open drops it itself */
    if (g_may_hold_caps && c.code != C_UFFD_OPEN) drop_all_caps();
    g_may_hold_caps = 0;
    int err = 0;
    /* C_TOUCH's and C_MADVISE's `resident` runs (ptefarm-observe.h), the reply's n and payload */
    static unsigned char res_then[MAXPAGES], res_now[MAXPAGES];
    static uint64_t res_runs[MAXPAGES + 2];
    int rn = 0;
    switch (c.code) {
    case C_UFFD_OPEN: proc_uffd_open(c.addr); continue;
    case C_MMAP: { /* a: kind 0 anon, 1 shared-anon, 2 memfd-shared, 3 memfd-private, 4 hugetlb, 5 hugetlb-shared; b: thp */
      int fd = -1, flags = MAP_FIXED_NOREPLACE;
      void *p = MAP_FAILED;
      if (c.a == 0) flags |= MAP_PRIVATE | MAP_ANONYMOUS;
      else if (c.a == 1) flags |= MAP_SHARED | MAP_ANONYMOUS;
      else if (c.a >= 4) flags |= (c.a == 4 ? MAP_PRIVATE : MAP_SHARED) | MAP_ANONYMOUS | MAP_HUGETLB; /* default 2 MiB hstate */
      else {
        flags |= c.a == 2 ? MAP_SHARED : MAP_PRIVATE;
        fd = memfd_create("ptefarm", MFD_CLOEXEC);
        if (fd < 0 || ftruncate(fd, (off_t)(PAGES_LIMIT * PG))) err = errno;
      }
      if (!err) {
        p = mmap((void *)(uintptr_t)c.addr, c.len, PROT_READ | PROT_WRITE, flags, fd, 0);
        if (p == MAP_FAILED) err = errno;
        else if (p != (void *)(uintptr_t)c.addr) { munmap(p, c.len); err = EEXIST; }
      }
      if (fd >= 0) close(fd);
      /* MADV_NOHUGEPAGE keeps THP out of a small-page region; a kernel without THP knows neither
       * advice (mm/madvise.c madvise_behavior_valid: CONFIG_TRANSPARENT_HUGEPAGE) and says EINVAL:
       * nothing to keep out. (Cases with THP regions are skipped there: host-policy.ts.) */
      if (!err && c.a < 4 && madvise(p, c.len, c.b ? MADV_HUGEPAGE : MADV_NOHUGEPAGE) && !(errno == EINVAL && !c.b)) err = errno;
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
      /* a write stores 8 bytes: addr2 + k at page k (content_value, ptefarm-content.h);
       * b > 0: the region of b pages at len2 is shmem THP: its `resident` pages before and after */
      if (c.b > 0) resident_pages(c.len2, (uint64_t)c.b, res_then);
      for (uint64_t off = 0; off < c.len; off += PG) {
        volatile uint64_t *b = (volatile uint64_t *)(uintptr_t)(c.addr + off);
        if (c.a) *b = c.addr2 + off / PG; else (void)*(volatile uint8_t *)b;
      }
      if (c.b > 0) resident_pages(c.len2, (uint64_t)c.b, res_now), rn = resident_outcome(res_then, res_now, (uint64_t)c.b, res_runs);
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
    case C_MADVISE: /* b > 0 (MADV_POPULATE_*): as C_TOUCH's */
      if (c.b > 0) resident_pages(c.len2, (uint64_t)c.b, res_then);
      if (madvise((void *)(uintptr_t)c.addr, c.len, c.a)) err = errno;
      if (c.b > 0) resident_pages(c.len2, (uint64_t)c.b, res_now), rn = resident_outcome(res_then, res_now, (uint64_t)c.b, res_runs);
      break;
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
    case C_SCAN: { /* a: wp_matching, len2: max_pages (0: none), b: SCAN_* (ptefarm-uapi.h), addr2: masks */
      uint64_t pages = c.len / PG;
      uint64_t cats = scan_return_mask();
      uint64_t flags = c.a ? PM_SCAN_WP_MATCHING | PM_SCAN_CHECK_WPASYNC : 0;
      uint64_t mask = c.a ? PAGE_IS_WRITTEN : 0, inv = 0, anyof = 0;
      if (c.b & SCAN_EXPLICIT) {
        flags = (c.a ? PM_SCAN_WP_MATCHING : 0) | (c.b & SCAN_CHECK_WPASYNC ? PM_SCAN_CHECK_WPASYNC : 0);
        mask = c.addr2 & 0x1ff; inv = (c.addr2 >> 9) & 0x1ff; anyof = (c.addr2 >> 18) & 0x1ff; cats = (c.b & SCAN_DEFAULT_RETURN) ? scan_return_mask() : (c.addr2 >> 27) & 0x1ff;
      }
      int novec = !!(c.b & SCAN_NO_VEC);
      struct pf_pm_scan_arg a;
      memset(&a, 0, sizeof a);
      a.size = sizeof a; a.flags = flags; a.start = c.addr; a.end = c.addr + c.len;
      a.vec = novec ? 0 : (uint64_t)(uintptr_t)vec; a.vec_len = novec ? 0 : pages + 1; a.max_pages = c.len2;
      a.category_mask = mask; a.category_inverted = inv; a.category_anyof_mask = anyof; a.return_mask = cats;
      long r = ioctl(pm_fd, PF_PAGEMAP_SCAN, &a);
      if (r < 0) { reply(errno, 0, 0, NULL, 0); continue; }
      /* x: walk_end, the address where the walk stopped */
      reply(0, (int)r, (int64_t)a.walk_end, vec, (size_t)r * sizeof vec[0]);
      continue;
    }
    case C_OBSERVE: /* a: number of ranges that follow; b: also read the content back */
      if (c.a < 0 || c.a > MAXR || cmd_bytes(rs, (size_t)c.a * sizeof rs[0])) _exit(113);
      observe(rs, c.a, c.b);
      continue;
    default: err = ENOSYS;
    }
    reply(err, rn, 0, res_runs, (size_t)rn * 2 * sizeof res_runs[0]);
  }
}

/* ------------------------------------------------------------------------------------------- */
/* supervisor: the case processes, their command pipes and the userfaultfd contexts             */

struct region { int known; uint64_t start; uint64_t pages; };
/* observed: the process was asked to observe its regions right after the current op (cmd.c), and
 * its observation follows the op's reply on its reply pipe (observe_all reads it) */
struct proc { int alive; pid_t pid; int pidfd; int ctx; int observed; struct region reg[MAXR]; };
struct ctx { int fd; int proc; };

static struct proc P[MAXP];
static int nprocs;
static struct ctx CTX[MAXCTX];
static int nctx;
/* The supervisor's observation arrays (prev_obs[p][g][page] ...), in memory allocated once per
 * supervisor by alloc_supervisor_arrays */
static uint8_t (*prev_obs)[MAXR][MAXPAGES];
static uint8_t (*cur_obs)[MAXR][MAXPAGES];
/* the content read back after the last op (ptefarm-content.h): value and whether it was read */
static uint64_t (*cur_val)[MAXR][MAXPAGES];
static uint8_t (*cur_known)[MAXR][MAXPAGES];
/* what observe_all reads from a process's reply pipe: codes, values, read flags (10 bytes a page) */
static uint8_t *obs_buf;
#define OBS_BUF_BYTES ((size_t)MAXR * MAXPAGES * 10)

/* What the supervisor read from a process's reply pipe and not yet used: a reply is read with as
 * much of what follows it as the pipe holds (its payload, and after an op the observation the
 * process sent in the same write), so that one wakeup costs one poll and one read, not one per
 * part (wait_reply, read_payload). Emptied at every case's start (reset_case_state). */
#define RX_CAP ((size_t)1 << 16)
struct rx { uint8_t *b; size_t off, len; };
static struct rx RX[MAXP];

/* The arrays above, in one mapping that forks do not inherit (MADV_DONTFORK, mm/madvise.c:
 * VM_DONTCOPY, skipped by dup_mmap). A long-lived supervisor keeps them faulted in across cases;
 * inherited, every fork of process 0 would write-protect the pages the supervisor wrote (a
 * copy-on-write fault at its next write to each). Only the supervisor touches them (and the RX
 * buffers live there too). */
static void alloc_supervisor_arrays(void) {
  size_t planes = (size_t)MAXP * MAXR * MAXPAGES;
  size_t len = planes * (1 + 1 + 8 + 1) + OBS_BUF_BYTES + MAXP * RX_CAP;
  uint8_t *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (m == MAP_FAILED) fatal("mmap of the supervisor's arrays (%zu bytes): %s", len, strerror(errno));
  if (madvise(m, len, MADV_DONTFORK)) fatal("MADV_DONTFORK: %s", strerror(errno));
  cur_val = (void *)m;               /* 8-byte elements first: aligned */
  prev_obs = (void *)(m + planes * 8);
  cur_obs = (void *)(m + planes * 9);
  cur_known = (void *)(m + planes * 10);
  obs_buf = m + planes * 11;
  for (int p = 0; p < MAXP; p++) RX[p].b = obs_buf + OBS_BUF_BYTES + (size_t)p * RX_CAP;
}
/* this op's observation becomes the previous one: only the pages regions have (the arrays are sized
 * for the largest geometry, 2 MiB each: copying them whole after every op cost 5x in throughput) */
static void keep_obs(void) {
  for (int p = 0; p < MAXP; p++)
    for (int g = 0; g < MAXR; g++)
      if (P[p].reg[g].known) memcpy(prev_obs[p][g], cur_obs[p][g], P[p].reg[g].pages);
}
static int g_fork_child = -1; /* process number being created by the fork in progress */

static int region_at(int p, uint64_t addr, uint64_t *page) {
  for (int r = 0; r < MAXR; r++) {
    struct region *g = &P[p].reg[r];
    if (g->known && addr >= g->start && addr < g->start + g->pages * PG) { *page = (addr - g->start) / PG; return r; }
  }
  return -1;
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
      int r;
      for (int tries = 0; (r = ioctl(CTX[i].fd, UFFDIO_WRITEPROTECT, &wp)) && errno == EAGAIN && tries < 1000; tries++) usleep(100);
      /* a hugetlb page is un-protected whole (mm/userfaultfd.c mwriteprotect_range: EINVAL for a
       * range not aligned to the huge page size; the fault address is the huge page's start) */
      if (r && errno == EINVAL) {
        wp.range.start = a & ~(HPG_PAGES * PG - 1); wp.range.len = HPG_PAGES * PG;
        for (int tries = 0; ioctl(CTX[i].fd, UFFDIO_WRITEPROTECT, &wp) && errno == EAGAIN && tries < 1000; tries++) usleep(100);
      }
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

static pid_t g_zygote; /* the supervisor's child that forks each case's process 0 (start_zygote) */

/* A case process stopped from outside (SIGSTOP, SIGTSTP, ...) would stall the case until the
 * wall-clock limit and is no longer running the case as written: a fault, reported at once.
 * waitid(WSTOPPED) without WEXITED consumes only stop reports. */
static void check_stopped(void) {
  siginfo_t si;
  memset(&si, 0, sizeof si);
  if (waitid(P_ALL, 0, &si, WSTOPPED | WNOHANG) || !si.si_pid) return;
  int who = -1;
  for (int q = 0; q < nprocs; q++) if (P[q].pid == si.si_pid) who = q;
  if (who < 0 && si.si_pid == g_zygote) fatal("zygote stopped by %s from outside the case", signame(si.si_status));
  fatal("case process %d stopped by %s from outside the case", who, signame(si.si_status));
}

/* How process p ended, from waitid: returns SIGSEGV or SIGBUS when its own access raised it (an
 * rc, if the command could cause it: the caller decides); anything else is a fault. */
static int death_signal(int p) {
  siginfo_t si;
  memset(&si, 0, sizeof si);
  if (waitid(P_PID, (id_t)P[p].pid, &si, WEXITED)) fatal("waitid(process %d): %s", p, strerror(errno));
  P[p].alive = 0;
  if (si.si_code == CLD_EXITED) {
    if (si.si_status > EXIT_EXTERNAL_SIGNAL && si.si_status < EXIT_EXTERNAL_SIGNAL + 32)
      fatal("case process %d killed by %s from outside the case", p, signame(si.si_status - EXIT_EXTERNAL_SIGNAL));
    fatal("process %d exited with status %d outside an exit op", p, si.si_status);
  }
  if (si.si_status != SIGSEGV && si.si_status != SIGBUS)
    fatal("case process %d killed by %s from outside the case", p, signame(si.si_status)); /* kill(), OOM killer */
  return si.si_status;
}

/* Wait for a reply from process p while serving userfaultfd contexts. Returns 0 with the reply,
 * or the signal (SIGSEGV, SIGBUS) that its own access raised when the process died instead. */
static int wait_reply(int p, struct rep *r) {
  for (;;) {
    struct rx *x = &RX[p];
    if (x->len - x->off >= sizeof *r) { /* read with an earlier reply, or complete now */
      memcpy(r, x->b + x->off, sizeof *r);
      x->off += sizeof *r;
      if (x->off == x->len) x->off = x->len = 0;
      return 0;
    }
    struct pollfd fds[2 + MAXCTX];
    int n = 0;
    fds[n].fd = rep_pipe[p][0]; fds[n++].events = POLLIN;
    fds[n].fd = P[p].pidfd; fds[n++].events = POLLIN;
    for (int i = 0; i < nctx; i++) { fds[n].fd = CTX[i].fd; fds[n++].events = POLLIN; }
    int k = poll(fds, (nfds_t)n, STOP_CHECK_MS);
    if (k < 0) { if (errno == EINTR) continue; fatal("poll: %s", strerror(errno)); }
    if (k == 0) { flush_output(); check_stopped(); continue; }
    for (int i = 0; i < nctx; i++) if (fds[2 + i].revents) drain_ctx(i);
    if (fds[0].revents & POLLIN) {
      struct rx *x = &RX[p];
      if (x->off) { memmove(x->b, x->b + x->off, x->len - x->off); x->len -= x->off; x->off = 0; }
      ssize_t got = read(rep_pipe[p][0], x->b + x->len, RX_CAP - x->len);
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) fatal("reply pipe of process %d broke", p);
      x->len += (size_t)got;
      continue;
    }
    if (fds[1].revents) return death_signal(p);
  }
}

/* The payload after a reply header: a process killed or stopped half-way is a fault, not a hang. */
static void read_payload(int p, void *buf, size_t len) {
  char *b = buf;
  struct rx *x = &RX[p];
  size_t have = x->len - x->off < len ? x->len - x->off : len; /* read with the reply (wait_reply) */
  memcpy(b, x->b + x->off, have);
  b += have; len -= have; x->off += have;
  if (x->off == x->len) x->off = x->len = 0;
  while (len) {
    struct pollfd fds[2] = { { rep_pipe[p][0], POLLIN, 0 }, { P[p].pidfd, POLLIN, 0 } };
    int k = poll(fds, 2, STOP_CHECK_MS);
    if (k < 0) { if (errno == EINTR) continue; fatal("poll: %s", strerror(errno)); }
    if (k == 0) { flush_output(); check_stopped(); continue; }
    if (fds[0].revents & POLLIN) {
      ssize_t got = read(rep_pipe[p][0], b, len);
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) fatal("reply pipe of process %d broke", p);
      b += got; len -= (size_t)got;
      continue;
    }
    if (fds[1].revents) fatal("process %d died while sending its reply (%s)", p, signame(death_signal(p)));
  }
}

static void reap(int p) {
  siginfo_t si;
  waitid(P_PID, (id_t)P[p].pid, &si, WEXITED);
  close(P[p].pidfd);
  P[p].pidfd = -1;
  P[p].alive = 0;
}

/* set by the supervisor around an op whose acting process may observe right after it (every op
 * but mremap, whose region table changes after it runs, and exit) */
static int g_observe_after_op;

/* the known regions of process p as ranges, in region-id order (observe_all's order) */
static int ranges_of(int p, struct range *rs) {
  int n = 0;
  for (int r = 0; r < MAXR; r++)
    if (P[p].reg[r].known) { rs[n].addr = P[p].reg[r].start; rs[n].pages = P[p].reg[r].pages; n++; }
  return n;
}

/* a command and the ranges that follow it (an observation's, cmd.c or C_OBSERVE's cmd.a), in one write */
static struct { struct cmd c; struct range rs[MAXR]; } g_cmd_msg;

static void send_cmd(int p, struct cmd *c) {
  int n = 0;
  c->c = 0;
  if (g_observe_after_op && cmd_observes_after(c->code)) {
    n = ranges_of(p, g_cmd_msg.rs);
    if (n) { c->c = n; P[p].observed = 1; }
  }
  g_cmd_msg.c = *c;
  if (write_full(cmd_pipe[p][1], &g_cmd_msg, sizeof g_cmd_msg.c + (size_t)n * sizeof g_cmd_msg.rs[0])) fatal("command pipe of process %d broke", p);
}

/* run a command in process p; returns "0", an errno name or a signal name. Only an access to the
 * case's memory (read/write) can raise the signal that ends a process as its rc. */
static const char *run(int p, struct cmd *c, struct rep *r) {
  send_cmd(p, c);
  int sig = wait_reply(p, r);
  if (sig) {
    reap(p);
    if (c->code != C_TOUCH) fatal("case process %d died of %s in a command that does not touch the case's memory (%d)", p, signame(sig), c->code);
    return signame(sig);
  }
  return errname(r->err);
}

static void start_process(int p, pid_t pid) {
  struct rep hello;
  P[p].pid = pid;
  P[p].pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
  if (P[p].pidfd < 0) fatal("pidfd_open: %s", strerror(errno));
  P[p].alive = 1;
  int sig = wait_reply(p, &hello);
  if (sig) fatal("process %d died at start (%s)", p, signame(sig));
  if (hello.err) fatal("process %d cannot open its pagemap: %s", p, strerror(hello.err));
}

/* ---- the zygote: where every case's process 0 is forked from ---------------------------------- */
/* A fork makes every page the parent has mapped copy-on-write in both. Forked from the
 * supervisor, process 0 cost the supervisor a copy-on-write fault for every page of its own it
 * wrote during the case (its stack, stdio buffer, tables: about 17 per case, each tens of
 * microseconds under a hypervisor). So process 0 is forked from the zygote (Z) instead: a child
 * of the supervisor, forked once before the supervisor serves any case, which does nothing but
 * wait for the next case's descriptors and fork. It forks with CLONE_PARENT (fork_to_supervisor),
 * so process 0 is the supervisor's child as before (waitid, reap). Z holds what the supervisor
 * holds (nothing, or for the event_fork supervisor CAP_SYS_PTRACE parked: process 0 inherits it
 * from Z as it did from S), dies with the supervisor (PR_SET_PDEATHSIG) and lives in its process
 * group, so that main's kill of the group ends it too. */
static int g_zsock = -1; /* the supervisor's end of the zygote's socket */

/* the descriptors a case's processes use: per process its command pipe's read end and its reply
 * pipe's write end (the supervisor keeps the other ends), then the userfaultfd socket's end */
#define ZFDS (2 * MAXP + 1)
#define ZYGOTE_NAME "ptefarm-zygote"

static void zygote_main(int sock) __attribute__((noreturn));
static void zygote_main(int sock) {
  prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
  if (getppid() != g_supervisor) _exit(0); /* the supervisor died before PDEATHSIG was armed */
  close(STDIN_FILENO); close(STDOUT_FILENO); /* main's pipes: only the supervisor talks to main */
  /* named for ps and the tests (test/helpers/executor.ts zygoteOf); process 0 takes the old name back */
  char name[16] = "";
  prctl(PR_GET_NAME, name, 0, 0, 0);
  prctl(PR_SET_NAME, ZYGOTE_NAME, 0, 0, 0);
  for (;;) {
    int hdr[2]; /* procs, uffd_case */
    char cbuf[CMSG_SPACE(sizeof(int) * ZFDS)];
    struct iovec iov = { hdr, sizeof hdr };
    struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf };
    ssize_t n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
    if (n < 0 && errno == EINTR) continue;
    if (n != (ssize_t)sizeof hdr) _exit(0); /* the supervisor is gone */
    struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
    int fds[ZFDS], nfd = 0;
    if (cm && cm->cmsg_type == SCM_RIGHTS) {
      nfd = (int)((cm->cmsg_len - CMSG_LEN(0)) / sizeof(int));
      memcpy(fds, CMSG_DATA(cm), sizeof(int) * (size_t)nfd);
    }
    int procs = hdr[0], uffd_case = hdr[1];
    int err = 0;
    if (procs < 1 || procs > MAXP || nfd != 2 * procs + !!uffd_case) err = EINVAL;
    else {
      for (int i = 0; i < MAXP; i++) {
        cmd_pipe[i][0] = i < procs ? fds[2 * i] : -1; rep_pipe[i][1] = i < procs ? fds[2 * i + 1] : -1;
        cmd_pipe[i][1] = rep_pipe[i][0] = -1;
      }
      uffd_sock[0] = -1; uffd_sock[1] = uffd_case ? fds[2 * procs] : -1;
      pid_t pid = fork_to_supervisor();
      if (pid == 0) { close(sock); prctl(PR_SET_NAME, name, 0, 0, 0); me = 0; g_may_hold_caps = 1; case_process(); }
      if (pid < 0) err = errno;
    }
    for (int i = 0; i < nfd; i++) close(fds[i]);
    /* process 0 tells the supervisor it started (its hello); only a failure is told here */
    if (err && write(sock, &err, sizeof err) < 0) _exit(0);
  }
}

/* The zygote is gone (its socket's other end closed): reaps it; returns the signal that killed it,
 * or 0 */
static int zygote_gone(void) {
  siginfo_t si;
  memset(&si, 0, sizeof si);
  close(g_zsock);
  g_zsock = -1;
  if (waitid(P_PID, (id_t)g_zygote, &si, WEXITED)) si.si_code = 0;
  g_zygote = 0;
  return si.si_code == CLD_KILLED || si.si_code == CLD_DUMPED ? si.si_status : 0;
}

/* Fork the zygote: once per supervisor, before it serves a case (its memory is then the least it
 * will be, which is what each fork of process 0 copies), and again at the start of a case when the
 * one it had was killed (start_process0). */
static void start_zygote(void) {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv)) fatal("socketpair: %s", strerror(errno));
  g_supervisor = getpid();
  pid_t pid = fork();
  if (pid < 0) fatal("fork: %s", strerror(errno));
  if (pid == 0) { close(sv[0]); zygote_main(sv[1]); }
  close(sv[1]);
  g_zsock = sv[0]; g_zygote = pid;
}

/* the command pipes and (uffd_case) the userfaultfd socket of the case's processes (procs: how many
 * the case can have, 1 + its fork ops), then process 0 itself, forked by the zygote */
static void start_process0(int procs, int uffd_case) {
  if (procs > MAXP) procs = MAXP;
  for (int i = 0; i < procs; i++)
    if (pipe2(cmd_pipe[i], O_CLOEXEC) || pipe2(rep_pipe[i], O_CLOEXEC)) fatal("pipe: %s", strerror(errno));
  /* the socket process 0 hands its userfaultfd over on (proc_uffd_open): only a case that opens one */
  if (uffd_case && socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, uffd_sock)) fatal("socketpair: %s", strerror(errno));
  for (int i = 0; i < MAXP; i++) { P[i].ctx = -1; P[i].pidfd = -1; }

  int hdr[2] = { procs, uffd_case }, fds[ZFDS], nfd = 0;
  for (int i = 0; i < procs; i++) { fds[nfd++] = cmd_pipe[i][0]; fds[nfd++] = rep_pipe[i][1]; }
  if (uffd_case) fds[nfd++] = uffd_sock[1];
  char cbuf[CMSG_SPACE(sizeof(int) * ZFDS)];
  memset(cbuf, 0, sizeof cbuf);
  struct iovec iov = { hdr, sizeof hdr };
  struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)nfd) };
  struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
  cm->cmsg_level = SOL_SOCKET; cm->cmsg_type = SCM_RIGHTS; cm->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)nfd);
  memcpy(CMSG_DATA(cm), fds, sizeof(int) * (size_t)nfd);
  for (int again = 1; sendmsg(g_zsock, &mh, MSG_NOSIGNAL) < 0;) {
    if (errno == EINTR) continue;
    /* the zygote died since the last case (a kill from outside): this case never used it, so it
     * runs on a new one, as on a new supervisor */
    if (again-- && (errno == EPIPE || errno == ECONNREFUSED || errno == ECONNRESET || errno == ENOTCONN)) {
      zygote_gone();
      start_zygote();
      continue;
    }
    fatal("process 0 could not be forked: the zygote is gone (%s)", strerror(errno));
  }
  /* the supervisor keeps what it holds: nothing, or (event_fork) CAP_SYS_PTRACE parked for the
   * next case's process 0. Process 0's hello names its pid. */
  nprocs = 1;
  for (;;) {
    struct pollfd f[2] = { { rep_pipe[0][0], POLLIN, 0 }, { g_zsock, POLLIN, 0 } };
    int k = poll(f, 2, STOP_CHECK_MS);
    if (k < 0) { if (errno == EINTR) continue; fatal("poll: %s", strerror(errno)); }
    if (f[0].revents & POLLIN) break;
    if (f[1].revents) {
      int err = 0;
      if (read(g_zsock, &err, sizeof err) == (ssize_t)sizeof err) fatal("fork of process 0: %s", strerror(err));
      int sig = zygote_gone(); /* during this case's start */
      if (sig) fatal("zygote killed by %s from outside the case", signame(sig));
      fatal("process 0 could not be forked: the zygote is gone");
    }
    if (k == 0) {
      flush_output();
      check_stopped();
      /* process 0 died before its hello (a kill from outside): the supervisor's only children
       * are the zygote and the case's processes, reaped after every case */
      siginfo_t si;
      memset(&si, 0, sizeof si);
      if (!waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) && si.si_pid && si.si_pid != g_zygote)
        fatal("process 0 died at start (%s)", si.si_code == CLD_EXITED ? "exited" : signame(si.si_status));
    }
  }
  struct rep hello;
  P[0].pidfd = -1; /* not known yet: poll skips it, and the hello is there */
  if (wait_reply(0, &hello)) fatal("process 0 died at start");
  P[0].pid = (pid_t)hello.x;
  P[0].pidfd = (int)syscall(SYS_pidfd_open, P[0].pid, 0);
  if (P[0].pidfd < 0) fatal("pidfd_open: %s", strerror(errno));
  P[0].alive = 1;
  if (hello.err) fatal("process 0 cannot open its pagemap: %s", strerror(hello.err));
}

/* every live process reads the pagemap codes of all its known regions into cur_obs */
static void observe_all(void) {
  for (int p = 0; p < nprocs; p++) {
    if (!P[p].alive || P[p].observed) continue; /* observed: its observation is on the way already */
    int n = ranges_of(p, g_cmd_msg.rs);
    g_cmd_msg.c = (struct cmd){ .code = C_OBSERVE, .a = n, .b = 1 }; /* c = 0: send_cmd's observe-after is never on here */
    if (write_full(cmd_pipe[p][1], &g_cmd_msg, sizeof g_cmd_msg.c + (size_t)n * sizeof g_cmd_msg.rs[0])) fatal("command pipe of process %d broke", p);
  }
  uint8_t *buf = obs_buf;
  for (int p = 0; p < nprocs; p++) {
    P[p].observed = 0;
    if (!P[p].alive) continue;
    struct rep r;
    int sig = wait_reply(p, &r);
    if (sig) fatal("process %d died while reading its pagemap (%s)", p, signame(sig));
    if (r.n < 0 || r.n > MAXR * MAXPAGES) fatal("bad observation from process %d", p);
    read_payload(p, buf, (size_t)r.n * 10);
    size_t o = 0, n = (size_t)r.n;
    for (int g = 0; g < MAXR; g++) {
      if (!P[p].reg[g].known) continue;
      uint64_t pg = P[p].reg[g].pages;
      memcpy(cur_obs[p][g], buf + o, pg);
      memcpy(cur_val[p][g], buf + n + o * 8, pg * 8);
      memcpy(cur_known[p][g], buf + n * 9 + o, pg);
      o += pg;
    }
  }
}

/* MADV_COLLAPSE itself only collapses 2 MiB blocks fully inside the range, so the collapse op
 * widens the range to the blocks it touches, clipped to the region's address range. */
static void collapse_cmd(struct cmd *c, const struct region *rg, uint64_t addr, uint64_t len) {
  uint64_t lo = addr & ~(HPG_PAGES * PG - 1), hi = (addr + len + HPG_PAGES * PG - 1) & ~(HPG_PAGES * PG - 1);
  if (lo < rg->start) lo = rg->start;
  if (hi > rg->start + rg->pages * PG) hi = rg->start + rg->pages * PG;
  c->code = C_MADVISE; c->addr = lo; c->len = hi - lo; c->a = MADV_COLLAPSE;
}

/* register / unregister / writeprotect (wp: 1 set, 0 clear) on process p's userfaultfd context,
 * issued by the supervisor; returns "0" or the errno name */
static const char *uffd_op(int p, int code, uint64_t addr, uint64_t len, int wp_on) {
  int ci = P[p].ctx;
  int err = 0;
  if (ci < 0) err = EBADF; /* validated cases never get here: uffd ops need a top-level uffd */
  else if (code == OP_UREG) {
    struct uffdio_register reg = { .range = { addr, len }, .mode = UFFDIO_REGISTER_MODE_WP };
    if (ioctl(CTX[ci].fd, UFFDIO_REGISTER, &reg)) err = errno;
  } else if (code == OP_UUNREG) {
    struct uffdio_range rr = { addr, len };
    if (ioctl(CTX[ci].fd, UFFDIO_UNREGISTER, &rr)) err = errno;
  } else {
    struct uffdio_writeprotect wp = { .range = { addr, len }, .mode = wp_on ? UFFDIO_WRITEPROTECT_MODE_WP : 0 };
    if (ioctl(CTX[ci].fd, UFFDIO_WRITEPROTECT, &wp)) err = errno;
  }
  return errname(err);
}

/* close_uffd: close process p's userfaultfd. The supervisor holds a context's only descriptor, so
 * the kernel releases the context (fs/userfaultfd.c userfaultfd_release: its VMAs are unregistered,
 * wp bits and markers reset). Every process that used the same context loses it; their later
 * register/unregister/wp ops get EBADF. Returns "0" or the errno name. */
static const char *uffd_close(int p) {
  int ci = P[p].ctx;
  if (ci < 0 || CTX[ci].fd < 0) return errname(EBADF);
  int err = close(CTX[ci].fd) ? errno : 0;
  CTX[ci].fd = -1; /* poll() skips negative descriptors; drain_ctx reads nothing from it */
  for (int q = 0; q < MAXP; q++) if (P[q].ctx == ci) P[q].ctx = -1;
  return errname(err);
}

/* run a C_SCAN command in process p; returns "0", an errno name or a signal name, and the regions
 * in vec (*nvec of them; -1 when the scan gave none) */
static const char *run_scan(int p, struct cmd *c, struct pf_page_region *vec, long *nvec, uint64_t *walk_end) {
  struct rep r;
  *nvec = -1;
  *walk_end = 0;
  send_cmd(p, c);
  int sig = wait_reply(p, &r);
  if (sig) fatal("case process %d died of %s in PAGEMAP_SCAN", p, signame(sig));
  if (!r.err) {
    if (r.n < 0 || r.n > (int)MAXPAGES + 1) fatal("bad scan reply");
    read_payload(p, vec, (size_t)r.n * sizeof vec[0]);
    *nvec = r.n;
    *walk_end = (uint64_t)r.x;
  }
  return errname(r.err);
}

/* The supervisor's receiving end of proc_uffd_open: the userfaultfd process 0 opened, or -1 with
 * the reason in why. */
static int recv_uffd(char *why, size_t whylen) {
  char dummy;
  char cbuf[CMSG_SPACE(sizeof(int))];
  struct iovec iov = { &dummy, 1 };
  struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf };
  if (recvmsg(uffd_sock[0], &mh, 0) < 0) { snprintf(why, whylen, "receiving the userfaultfd: %s", strerror(errno)); return -1; }
  struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
  if (!cm || cm->cmsg_type != SCM_RIGHTS) { snprintf(why, whylen, "no userfaultfd received from process 0"); return -1; }
  int fd;
  memcpy(&fd, CMSG_DATA(cm), sizeof(int));
  return fd;
}

#endif /* PTEFARM_MM_H */
