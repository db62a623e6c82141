/*
 * ---- runtime (the same process structure and syscalls as ptefarm's native executor) ----------
 *
 *   main  --forks-->  S, the supervisor (drops root to nobody keeping CAP_SYS_PTRACE, pinned to
 *                     one CPU, owns the userfaultfd and resolves sync write-protect faults)
 *   S     --commands over pipes-->  P0, P1, ... (the case's processes; each reads its OWN
 *                     /proc/self/pagemap after every op and sends the codes back over a pipe)
 *
 * S checks every step against the expectations above and prints KTAP test points. If the kernel
 * chose another outcome than the one the expectations assume (no huge page where a THP was
 * assumed, a page that MADV_PAGEOUT did not reclaim), the expectations do not apply: the attempt
 * is repeated (up to 3 times), then the test is skipped.
 */
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

/* PAGEMAP_SCAN (linux/fs.h, 6.7+), defined here so that older headers compile */
struct pf_page_region { uint64_t start, end, categories; };
struct pf_pm_scan_arg {
  uint64_t size, flags, start, end, walk_end, vec, vec_len, max_pages;
  uint64_t category_inverted, category_mask, category_anyof_mask, return_mask;
};
#define PF_PAGEMAP_SCAN _IOWR('f', 16, struct pf_pm_scan_arg)
#define PM_SCAN_WP_MATCHING (1ULL << 0)
#define PM_SCAN_CHECK_WPASYNC (1ULL << 1)
#define PAGE_IS_WRITTEN (1ULL << 1)
#define PAGE_IS_PFNZERO (1ULL << 5)
#define PAGE_IS_HUGE (1ULL << 6)
#define PAGE_IS_GUARD (1ULL << 8)
#define PAGE_CATS_ALL 0x1ffULL

#define KSFT_PASS 0
#define KSFT_FAIL 1
#define KSFT_SKIP 4
#define EXIT_OUTCOME 3 /* supervisor: the kernel chose another outcome; try again */

#define PG 4096ULL
#define HPG_PAGES 512ULL
#define MAXP 8
#define MAXR 128
#define MAXPAGES 1024
#define MAXCTX 16
#define ATTEMPTS 3
#define TIMEOUT_S 60

enum {
  OP_SKIP = 0, OP_MMAP = 1, OP_MUNMAP = 2, OP_MREMAP = 3, OP_MPROTECT = 4, OP_READ = 5, OP_WRITE = 6,
  OP_FORK = 7, OP_EXIT = 8, OP_CLEAR_REFS = 9, OP_PAGEOUT = 10, OP_DONTNEED = 11, OP_COLLAPSE = 12,
  OP_SPLIT = 13, OP_UREG = 14, OP_UUNREG = 15, OP_WP = 16, OP_SCAN = 17,
};
enum { C_MMAP = 1, C_MUNMAP, C_MREMAP, C_MPROTECT, C_TOUCH, C_FORK, C_EXIT, C_CLEAR_REFS, C_MADVISE,
       C_SPLIT, C_SCAN, C_OBSERVE, C_UFFD_OPEN };

static int g_cpu = -1;
static int g_soft_dirty;
static FILE *out;

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

/* fork whose child has the supervisor as parent (CLONE_PARENT), as the executor does */
static pid_t fork_to_supervisor(void) {
  return (pid_t)syscall(SYS_clone, CLONE_PARENT | SIGCHLD, 0, 0, 0, 0);
}

/* ---- privileges: as root, become nobody keeping only CAP_SYS_PTRACE (UFFD_FEATURE_EVENT_FORK) */
struct capdata2 { struct __user_cap_header_struct h; struct __user_cap_data_struct d[2]; };

static int set_caps(uint64_t eff_perm) {
  struct capdata2 c;
  memset(&c, 0, sizeof c);
  c.h.version = _LINUX_CAPABILITY_VERSION_3;
  c.d[0].effective = c.d[0].permitted = (uint32_t)eff_perm;
  c.d[1].effective = c.d[1].permitted = (uint32_t)(eff_perm >> 32);
  return (int)syscall(SYS_capset, &c.h, c.d);
}

static int drop_privileges(char *why, size_t whylen) {
  if (geteuid() != 0) return 0;
  uid_t uid = 65534; gid_t gid = 65534;
  struct passwd *pw = getpwnam("nobody");
  if (pw) { uid = pw->pw_uid; gid = pw->pw_gid; }
  if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0)) { snprintf(why, whylen, "PR_SET_KEEPCAPS: %s", strerror(errno)); return -1; }
  if (setgroups(0, NULL) || setgid(gid) || setuid(uid)) { snprintf(why, whylen, "dropping to uid %d: %s", (int)uid, strerror(errno)); return -1; }
  if (set_caps(1ULL << CAP_SYS_PTRACE)) { snprintf(why, whylen, "capset: %s", strerror(errno)); return -1; }
  prctl(PR_SET_DUMPABLE, 1, 0, 0, 0); /* keeps /proc/self/clear_refs writable by the process */
  return 0;
}

static void drop_all_caps(void) { if (geteuid() != 0) set_caps(0); }

/* ---- case processes ------------------------------------------------------------------------- */
struct cmd { int32_t code, a, b, c; uint64_t addr, len, addr2, len2; };
struct rep { int32_t err; int32_t n; int64_t x; };
struct range { uint64_t addr; uint64_t pages; };

static int cmd_pipe[MAXP][2], rep_pipe[MAXP][2];
static int me = -1;
static int pm_fd = -1;
static int uffd_sock[2] = {-1, -1};

static void reply(int err, int n, int64_t x, const void *payload, size_t plen) {
  struct rep r = { err, n, x };
  if (write_full(rep_pipe[me][1], &r, sizeof r)) _exit(111);
  if (plen && write_full(rep_pipe[me][1], payload, plen)) _exit(111);
}

/* pagemap bits P S F E W D = 63 62 61 56 57 55 -> code bits 0..5; bits 6/7: scan HUGE/PFNZERO */
static uint8_t pm_code(uint64_t e) {
  return (uint8_t)(((e >> 63) & 1) | (((e >> 62) & 1) << 1) | (((e >> 61) & 1) << 2) |
                   (((e >> 56) & 1) << 3) | (((e >> 57) & 1) << 4) | (((e >> 55) & 1) << 5));
}

static long do_scan(uint64_t start, uint64_t end, uint64_t flags, uint64_t mask, uint64_t anyof,
                    uint64_t ret_mask, uint64_t max_pages, struct pf_page_region *vec, uint64_t vlen) {
  struct pf_pm_scan_arg a;
  memset(&a, 0, sizeof a);
  a.size = sizeof a; a.flags = flags; a.start = start; a.end = end;
  a.vec = (uint64_t)(uintptr_t)vec; a.vec_len = vlen; a.max_pages = max_pages;
  a.category_mask = mask; a.category_anyof_mask = anyof; a.return_mask = ret_mask;
  return ioctl(pm_fd, PF_PAGEMAP_SCAN, &a);
}

static void observe(struct range *rs, int n) {
  static uint64_t ent[MAXPAGES];
  static uint8_t buf[MAXR * MAXPAGES];
  static struct pf_page_region vec[MAXPAGES];
  size_t o = 0;
  for (int i = 0; i < n; i++) {
    uint64_t pages = rs[i].pages;
    memset(ent, 0, pages * 8);
    ssize_t got = pread(pm_fd, ent, pages * 8, (off_t)(rs[i].addr / PG * 8));
    (void)got;
    for (uint64_t k = 0; k < pages; k++) buf[o + k] = pm_code(ent[k]);
    long r = do_scan(rs[i].addr, rs[i].addr + pages * PG, 0, 0, PAGE_IS_HUGE, PAGE_IS_HUGE | PAGE_IS_PFNZERO, 0, vec, MAXPAGES);
    for (long j = 0; j < r; j++)
      for (uint64_t a = vec[j].start; a < vec[j].end; a += PG) {
        uint64_t k = (a - rs[i].addr) / PG;
        if (k < pages) buf[o + k] |= (uint8_t)(0x40 | ((vec[j].categories & PAGE_IS_PFNZERO) ? 0x80 : 0));
      }
    o += pages;
  }
  reply(0, (int)o, 0, buf, o);
}

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
  if (fd >= 0) close(fd); /* S holds the only descriptor: an exit of P0 keeps the context */
  reply(err, 0, 0, NULL, 0);
}

static void case_process(void) __attribute__((noreturn));
static void case_process(void) {
  static struct range rs[MAXR];
  static struct pf_page_region vec[MAXPAGES + 1];
  prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
  if (pm_fd >= 0) close(pm_fd);
  pm_fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
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
    case C_MREMAP: {
      void *r;
      if (c.a) r = mremap((void *)(uintptr_t)c.addr, c.len, c.len2,
                          MREMAP_MAYMOVE | MREMAP_FIXED | (c.b ? MREMAP_DONTUNMAP : 0), (void *)(uintptr_t)c.addr2);
      else r = mremap((void *)(uintptr_t)c.addr, c.len, c.len2, 0);
      if (r == MAP_FAILED) err = errno;
      break;
    }
    case C_MPROTECT: if (mprotect((void *)(uintptr_t)c.addr, c.len, c.a)) err = errno; break;
    case C_TOUCH: /* one byte per page, in order; a write stores 0x5a */
      for (uint64_t off = 0; off < c.len; off += PG) {
        volatile uint8_t *b = (volatile uint8_t *)(uintptr_t)(c.addr + off);
        if (c.a) *b = 0x5a; else (void)*b;
      }
      break;
    case C_FORK: {
      pid_t pid = fork_to_supervisor();
      if (pid == 0) { me = c.a; case_process(); }
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
    case C_SPLIT: { /* mprotect(page, 4096, tmp); mprotect(page, 4096, current) */
      int cur = prot_of(c.addr);
      int tmp = cur == PROT_READ ? PROT_NONE : PROT_READ;
      if (mprotect((void *)(uintptr_t)c.addr, PG, tmp)) err = errno;
      else if (cur >= 0 && mprotect((void *)(uintptr_t)c.addr, PG, cur)) err = errno;
      break;
    }
    case C_SCAN: {
      uint64_t pages = c.len / PG;
      long r = c.a ? do_scan(c.addr, c.addr + c.len, PM_SCAN_WP_MATCHING | PM_SCAN_CHECK_WPASYNC,
                             PAGE_IS_WRITTEN, 0, PAGE_CATS_ALL, c.len2, vec, pages + 1)
                   : do_scan(c.addr, c.addr + c.len, 0, 0, 0, PAGE_CATS_ALL, c.len2, vec, pages + 1);
      if (r < 0) { reply(errno, 0, 0, NULL, 0); continue; }
      reply(0, (int)r, 0, vec, (size_t)r * sizeof vec[0]);
      continue;
    }
    case C_OBSERVE:
      if (c.a < 0 || c.a > MAXR || read_full(cmd_pipe[me][0], rs, (size_t)c.a * sizeof rs[0])) _exit(113);
      observe(rs, c.a);
      continue;
    default: err = ENOSYS;
    }
    reply(err, 0, 0, NULL, 0);
  }
}

/* ---- supervisor ----------------------------------------------------------------------------- */
struct region { int known; uint64_t start; uint64_t pages; };
struct proc { int alive; pid_t pid; int pidfd; int ctx; struct region reg[MAXR]; };
struct ctx { int fd; int proc; };

static struct proc P[MAXP];
static int nprocs;
static struct ctx CTX[MAXCTX];
static int nctx;
static uint8_t prev_obs[MAXP][MAXR][MAXPAGES];
static uint8_t cur_obs[MAXP][MAXR][MAXPAGES];
static int g_fork_child = -1;

static void harness_error(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
static void harness_error(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("# harness error: ", out);
  vfprintf(out, fmt, ap);
  fputc('\n', out);
  va_end(ap);
  fflush(out);
  exit(KSFT_FAIL);
}

static int region_at(int p, uint64_t addr, uint64_t *page) {
  for (int r = 0; r < MAXR; r++) {
    struct region *g = &P[p].reg[r];
    if (g->known && addr >= g->start && addr < g->start + g->pages * PG) { *page = (addr - g->start) / PG; return r; }
  }
  return -1;
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

static void drain_ctx(int i) {
  for (;;) {
    struct uffd_msg m;
    ssize_t n = read(CTX[i].fd, &m, sizeof m);
    if (n < 0 && errno == EINTR) continue;
    if (n != (ssize_t)sizeof m) return;
    int p = CTX[i].proc;
    switch (m.event) {
    case UFFD_EVENT_PAGEFAULT: { /* sync wp fault: clear wp on the page, which wakes the writer */
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

static int wait_reply(int p, struct rep *r) {
  for (;;) {
    struct pollfd fds[2 + MAXCTX];
    int n = 0;
    fds[n].fd = rep_pipe[p][0]; fds[n++].events = POLLIN;
    fds[n].fd = P[p].pidfd; fds[n++].events = POLLIN;
    for (int i = 0; i < nctx; i++) { fds[n].fd = CTX[i].fd; fds[n++].events = POLLIN; }
    int k = poll(fds, (nfds_t)n, -1);
    if (k < 0) { if (errno == EINTR) continue; harness_error("poll: %s", strerror(errno)); }
    for (int i = 0; i < nctx; i++) if (fds[2 + i].revents) drain_ctx(i);
    if (fds[0].revents & POLLIN) {
      if (read_full(rep_pipe[p][0], r, sizeof *r)) harness_error("reply pipe of process %d broke", p);
      return 0;
    }
    if (fds[1].revents) {
      siginfo_t si;
      memset(&si, 0, sizeof si);
      if (waitid(P_PID, (id_t)P[p].pid, &si, WEXITED)) harness_error("waitid(process %d): %s", p, strerror(errno));
      P[p].alive = 0;
      if (si.si_code == CLD_KILLED || si.si_code == CLD_DUMPED) return si.si_status;
      harness_error("process %d exited with status %d outside an exit op", p, si.si_status);
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
  if (write_full(cmd_pipe[p][1], c, sizeof *c)) harness_error("command pipe of process %d broke", p);
}

static const char *run(int p, struct cmd *c, struct rep *r) {
  send_cmd(p, c);
  int sig = wait_reply(p, r);
  if (sig) { reap(p); return signame(sig); }
  return errname(r->err);
}

static void start_process(int p, pid_t pid) {
  struct rep hello;
  P[p].pid = pid;
  P[p].pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
  if (P[p].pidfd < 0) harness_error("pidfd_open: %s", strerror(errno));
  P[p].alive = 1;
  int sig = wait_reply(p, &hello);
  if (sig) harness_error("process %d died at start (%s)", p, signame(sig));
  if (hello.err) harness_error("process %d cannot open its pagemap: %s", p, strerror(hello.err));
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
    if (n && write_full(cmd_pipe[p][1], rs, (size_t)n * sizeof rs[0])) harness_error("command pipe of process %d broke", p);
  }
  static uint8_t buf[MAXR * MAXPAGES];
  for (int p = 0; p < nprocs; p++) {
    if (!P[p].alive) continue;
    struct rep r;
    int sig = wait_reply(p, &r);
    if (sig) harness_error("process %d died while reading its pagemap (%s)", p, signame(sig));
    if (r.n < 0 || r.n > (int)sizeof buf || read_full(rep_pipe[p][0], buf, (size_t)r.n)) harness_error("bad observation from process %d", p);
    size_t o = 0;
    for (int g = 0; g < MAXR; g++) {
      if (!P[p].reg[g].known) continue;
      memcpy(cur_obs[p][g], buf + o, P[p].reg[g].pages);
      o += P[p].reg[g].pages;
    }
  }
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
  if (drop_privileges(why, sizeof why)) harness_error("%s", why);
  prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
  for (int i = 0; i < MAXP; i++)
    if (pipe2(cmd_pipe[i], O_CLOEXEC) || pipe2(rep_pipe[i], O_CLOEXEC)) harness_error("pipe: %s", strerror(errno));
  if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, uffd_sock)) harness_error("socketpair: %s", strerror(errno));
  for (int i = 0; i < MAXP; i++) { P[i].ctx = -1; P[i].pidfd = -1; }

  fflush(out);
  pid_t pid = fork();
  if (pid < 0) harness_error("fork: %s", strerror(errno));
  if (pid == 0) { me = 0; case_process(); }
  nprocs = 1;
  start_process(0, pid);
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
    char dummy;
    char cbuf[CMSG_SPACE(sizeof(int))];
    struct iovec iov = { &dummy, 1 };
    struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf };
    if (recvmsg(uffd_sock[0], &mh, 0) < 0) harness_error("receiving the userfaultfd: %s", strerror(errno));
    struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
    if (!cm || cm->cmsg_type != SCM_RIGHTS) harness_error("no userfaultfd received from process 0");
    memcpy(&CTX[0].fd, CMSG_DATA(cm), sizeof(int));
    CTX[0].proc = 0; nctx = 1; P[0].ctx = 0;
  }
  drop_all_caps();

  int failed = 0;
  static struct region before[MAXR];
  for (int i = 0; i < NOPS; i++) {
    const int64_t *v = OPS[i];
    int code = (int)v[0], p = (int)v[1];
    g_step = i; g_failures_in_step = 0; nevents = 0;
    if (p < 0 || p >= nprocs) harness_error("op %d addresses process %d, which does not exist", i, p);
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
      if (rg && code != OP_MMAP && !rg->known) harness_error("op %d: region %s unknown in process %d", i, REGION_NAMES[rid], p);
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
        if (nprocs >= MAXP) harness_error("op %d: fork would exceed %d processes", i, MAXP);
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
      case OP_COLLAPSE: {
        uint64_t lo = addr & ~(HPG_PAGES * PG - 1), hi = (addr + len + HPG_PAGES * PG - 1) & ~(HPG_PAGES * PG - 1);
        if (lo < rg->start) lo = rg->start;
        if (hi > rg->start + rg->pages * PG) hi = rg->start + rg->pages * PG;
        c.code = C_MADVISE; c.addr = lo; c.len = hi - lo; c.a = MADV_COLLAPSE;
        rc = run(p, &c, &r);
        break;
      }
      case OP_SPLIT: c.code = C_SPLIT; c.addr = rg->start + (uint64_t)v[3] * PG; rc = run(p, &c, &r); break;
      case OP_UREG: case OP_UUNREG: case OP_WP: {
        int ci = pr->ctx, err = 0;
        if (ci < 0) err = EBADF;
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
      case OP_SCAN: {
        c.code = C_SCAN; c.addr = addr; c.len = len; c.a = (int)v[5]; c.len2 = (uint64_t)v[6];
        send_cmd(p, &c);
        int sig = wait_reply(p, &r);
        if (sig) { reap(p); rc = signame(sig); break; }
        rc = errname(r.err);
        if (!r.err) {
          nvec = r.n;
          if (nvec < 0 || nvec > MAXPAGES + 1 || read_full(rep_pipe[p][0], vec, (size_t)nvec * sizeof vec[0])) harness_error("bad scan reply");
          scanned = 1;
        }
        break;
      }
      default: harness_error("op %d: unknown op code %d", i, code);
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
static int host_soft_dirty(void) {
  /* a fresh VMA carries VM_SOFTDIRTY, shown as `sd` in smaps VmFlags, iff soft-dirty is compiled in */
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
    if (code == KSFT_PASS) printf("# Totals: pass:%d fail:0 xfail:0 xpass:0 skip:0 error:0\n", NOPS);
    else if (code == KSFT_FAIL) printf("# FAIL: the kernel differs from the x86 reference model (first mismatch above)\n");
    return code;
  }
  return KSFT_FAIL;
}
