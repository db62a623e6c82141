/* The helpers of a reproducer `ptefarm repro` writes (src/report/repro.ts). The generator keeps
 * what a case needs: `if FLAG` ... `end` sections and lines prefixed `FLAG:`, inlines the
 * executor's ptefarm-observe.h (and, with `folio`, ptefarm-folio.h) where included, and writes the
 * case's steps at `steps`.
 * Nothing above `begin` is copied. */
/*@ begin */
#include "ptefarm-observe.h"
multi:/* ---- helpers. S (main) and the case's processes P0, P1, ... run case_steps() from the top: in_proc(i, p): S sends p "go", p runs
multi: * the block, reports with done(); in_sup(i, p): S runs it for p; end_step(): S reads and compares every /proc/PID/pagemap ---- */
solo:/* ---- helpers. main() is the case's only process: it runs case_steps(), and after every step
solo: * end_step() reads /proc/self/pagemap and compares it with what want() recorded. ---- */
multinores:struct msg { int born, proc; long val; }; /* done: errno (0 ok); born: a new process's pid */
multi:static int go[NPROCS][2], msgs[2], pidfd[NPROCS];
struct region { int proc; const char *name, *want, *vals; uint64_t addr, pages, was_pages; uint8_t was[MAXPAGES], now[MAXPAGES]; } R[NREGIONS];
nocontent:static int me = -1, pid[NPROCS], pagemap[NPROCS], alive[NPROCS];
content:static int me = -1, pid[NPROCS], pagemap[NPROCS], alive[NPROCS], mem[NPROCS]; /* mem: /proc/PID/mem (FOLL_FORCE reads: PROT_NONE too, no fault) */
static int cur_step, cur_proc, ran, fails, step_fails, soft_dirty, scan_ok = 1, guard_ok = 1, bisect, harness_error /* set-up failed: no verdict */;
static const char *cur_text, *want_rc; static char rc[32]; /* the step's result: "0", an errno name, or the signal its own access raised */
#define mismatch(...) (void)(++step_fails <= 8 && printf("# step %d (%s): ", cur_step, cur_text) && printf(__VA_ARGS__) && putchar('\n'))
static void finish(int code, const char *why) { /* kselftest exit codes; --bisect: skip or harness error -> 125 */
  if (code == KSFT_PASS && ASSERTS_ONLY_SOFT_DIRTY && !soft_dirty) code = KSFT_SKIP, why = "this case asserts soft-dirty (bit 55), which this kernel cannot show";
  if (why) printf("# SKIP %s\n", why);
  printf("# Totals: pass:%d fail:%d xfail:0 xpass:0 skip:%d error:%d\n", code == KSFT_PASS ? NOPS : 0, code == KSFT_FAIL && !harness_error, code == KSFT_SKIP, harness_error);
  for (int p = 0; p < NPROCS; p++) if (alive[p] && pid[p] > 0) kill(pid[p], SIGKILL);
  exit(bisect && (code == KSFT_SKIP || harness_error) ? 125 : code); }
static void harness(const char *what) { printf("# harness error: %s: %s\n", what, strerror(errno)), harness_error = 1, finish(KSFT_FAIL, NULL); }
ptrace:static void caps(uint32_t keep) { syscall(SYS_capset, &(struct __user_cap_header_struct){ _LINUX_CAPABILITY_VERSION_3, 0 }, (struct __user_cap_data_struct[2]){ { keep, keep, 0 }, { 0, 0, 0 } }); }
static void set_rc(int e) { /* by the errno names this case's expectations use */ snprintf(rc, sizeof rc, "E%d", e);
  for (size_t k = 0; k < sizeof ERRNO / sizeof ERRNO[0]; k++) if (ERRNO[k].e == e) snprintf(rc, sizeof rc, "%s", ERRNO[k].name); }
/*@ if resident */
static unsigned char (*res_vec)[MAXPAGES]; /* a fault step's resident pages of its region before and after (ptefarm-observe.h resident_pages), taken by the process that faults: shared, so main reads a child's */
__attribute__((constructor)) static void res_init(void) { if ((res_vec = mmap(NULL, 2 * MAXPAGES, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0)) == MAP_FAILED) _exit(1); }
static void res_at(uint64_t start, uint64_t pages, int after) { resident_pages(start, pages, res_vec[after]); }
/*@ end */
/*@ if uffd */
static int uffd[NPROCS]; static void no_uffd(const char *err) { printf("# userfaultfd with features 0x%llx: %s\n", (unsigned long long)(UFFD_FEATURES), err), finish(KSFT_SKIP, "this userfaultfd is not available here"); }
/*@ end */
/*@ if mu */
static int nctx, ctx_fd[2 * NPROCS], uffd_sock[2];
/*@ if ev */
static int ctx_proc[2 * NPROCS], forked = -1, nevents; static char events[32][64], ev[2048]; static const char *want_ev;
static void event(const char *kind, int p, uint64_t a, int child) { /* "kind proc region page child" */
  int k = 0; while (k < NREGIONS && !(R[k].want && R[k].proc == p && a >= R[k].addr && a < R[k].addr + R[k].pages * PG)) k++;
  if (nevents < 32 && k < NREGIONS) snprintf(events[nevents++], 64, "%s %d %s %llu -", kind, p, R[k].name, (unsigned long long)((a - R[k].addr) / PG));
  else if (nevents < 32) snprintf(events[nevents++], 64, child >= 0 ? "%s %d - - %d" : "%s %d - - -", kind, p, child); }
/* S: a sync wp fault is resolved by clearing wp on the page (waking the writer); fork/remap/unmap events are noted */
static void drain(int c) {
  for (struct uffd_msg m; ctx_fd[c] >= 0 && read(ctx_fd[c], &m, sizeof m) == sizeof m;) {
    uint64_t a = m.arg.pagefault.address & ~(PG - 1); if (m.event == UFFD_EVENT_PAGEFAULT) event("wp_fault", ctx_proc[c], a, -1);
    while (m.event == UFFD_EVENT_PAGEFAULT && ioctl(ctx_fd[c], UFFDIO_WRITEPROTECT, &(struct uffdio_writeprotect){ { a, PG }, 0 }) && errno == EAGAIN) usleep(100);
    if (m.event == UFFD_EVENT_FORK) forked = (int)m.arg.fork.ufd, fcntl(forked, F_SETFL, O_NONBLOCK); /* the child's context: see born() */
    if (m.event == UFFD_EVENT_REMAP || m.event == UFFD_EVENT_UNMAP) event(m.event == UFFD_EVENT_REMAP ? "remap" : "unmap", ctx_proc[c], m.event == UFFD_EVENT_REMAP ? m.arg.remap.from : m.arg.remove.start, -1);
  } }
/*@ end */
/* p0 opens the userfaultfd, S holds its only descriptor (SCM_RIGHTS): closing it releases the context (userfaultfd_release) */
static int pass_fd(int fd) { /* fd >= 0: send it (p0); -1: receive it (S) */
  char cbuf[CMSG_SPACE(sizeof fd)] = { 0 }, x = 'u';
  struct msghdr mh = { .msg_iov = &(struct iovec){ &x, 1 }, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf };
  *CMSG_FIRSTHDR(&mh) = (struct cmsghdr){ .cmsg_len = CMSG_LEN(sizeof fd), .cmsg_level = SOL_SOCKET, .cmsg_type = SCM_RIGHTS }; memcpy(CMSG_DATA(CMSG_FIRSTHDR(&mh)), &fd, sizeof fd);
  if (fd >= 0) return sendmsg(uffd_sock[1], &mh, 0) < 0 ? -1 : close(fd);
  if (recvmsg(uffd_sock[0], &mh, 0) < 0) harness("receiving the userfaultfd");
  return memcpy(&fd, CMSG_DATA(CMSG_FIRSTHDR(&mh)), sizeof fd), fd; }
static int open_uffd(uint64_t features) { /* in p0 */
  int fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY); if (fd < 0 || ioctl(fd, UFFDIO_API, &(struct uffdio_api){ .api = UFFD_API, .features = features })) return -1;
ptrace:  caps(0); /* CAP_SYS_PTRACE was for UFFD_FEATURE_EVENT_FORK only (fs/userfaultfd.c userfaultfd_api) */
  return pass_fd(fd); }
static void take_uffd(void) { if (me < 0) strcmp(rc, "0") ? no_uffd(rc) : (void)(nctx = 1, uffd[0] = ctx_fd[0] = pass_fd(-1)); } /* in S */
/*@ end */
/*@ if close_uffd */
static int close_uffd(int p) { /* every process that used this context loses it (EBADF later) */
  int fd = uffd[p], r = close(fd);
  for (int q = 0; q < NPROCS; q++) if (uffd[q] == fd) uffd[q] = -1;
mu:  for (int c = 0; c < nctx; c++) if (ctx_fd[c] == fd) ctx_fd[c] = -1;
  return r; }
/*@ end */
/*@ if multi */
static void born(int p, pid_t child) { /* S: process p exists; S reads its pagemap from outside */
  char path[64]; snprintf(path, sizeof path, "/proc/%d/pagemap", (int)child);
  if ((pidfd[p] = (int)syscall(SYS_pidfd_open, child, 0)) < 0 || (pagemap[p] = open(path, O_RDONLY | O_CLOEXEC)) < 0) harness(path);
content:  if (snprintf(path, sizeof path, "/proc/%d/mem", (int)child), (mem[p] = open(path, O_RDONLY | O_CLOEXEC)) < 0) harness(path);
  pid[p] = child, alive[p] = 1;
mu:  uffd[p] = p ? uffd[cur_proc] : -1; /* without event_fork the child shares the parent's context */
ev:  if (forked >= 0) event("fork", cur_proc, 0, p), uffd[p] = ctx_fd[nctx] = forked, ctx_proc[nctx++] = p, forked = -1;
}
static void wait_done(int p) { /* S: until process p reports its step or ends */
  for (struct msg m;;) {
    struct pollfd f[2 + 2 * NPROCS] = { { msgs[0], POLLIN, 0 }, { pidfd[p], POLLIN, 0 } };
    siginfo_t si = { 0 }; int n = 2;
ev:    for (int c = 0; c < nctx; c++) f[n++] = (struct pollfd){ ctx_fd[c], POLLIN, 0 };
    if (poll(f, (nfds_t)n, -1) < 0 && errno != EINTR) harness("poll");
ev:    for (int c = 0; c < nctx; c++) if (f[2 + c].revents) drain(c);
multinores:    if ((f[0].revents & POLLIN) && read(msgs[0], &m, sizeof m) == sizeof m) { if (!m.born) { if (m.val) set_rc((int)m.val); return; } born(m.proc, (pid_t)m.val); }
    if (!(f[1].revents & POLLIN) || waitid(P_PID, (id_t)pid[p], &si, WEXITED)) continue;
    alive[p] = 0; /* its exit op (status 0), or a fault of its own access (SIGSEGV, SIGBUS: the result) */
    if (si.si_code != CLD_EXITED && (si.si_status == SIGSEGV || si.si_status == SIGBUS)) snprintf(rc, sizeof rc, si.si_status == SIGSEGV ? "SIGSEGV" : "SIGBUS");
    else if (si.si_code != CLD_EXITED || si.si_status) harness("a case process died");
    return;
  } }
/*@ end */
static int begin(int i, int p, const char *text) { cur_step = i, cur_proc = p, cur_text = text, step_fails = 0, ran = alive[p], strcpy(rc, "0");
ev:  nevents = 0, want_ev = "";
  return ran; }
/*@ if multi */
static int in_proc(int i, int p, const char *text) { /* step i, done by process p */
  char g = 'g'; if (me >= 0) return me == p && read(go[me][0], &g, 1) == 1 && (cur_proc = p, 1);
  if (begin(i, p, text) && write(go[p][1], &g, 1) == 1) wait_done(p);
  return 0; }
static void done(long r) { /* a block's result: >= 0, or -1 with errno */
  struct msg m = { .born = 0, .proc = me, .val = r < 0 ? errno : 0 }; if (me < 0 && m.val) set_rc((int)m.val);
  if (me >= 0 && me == cur_proc && write(msgs[1], &m, sizeof m) != sizeof m) _exit(1); }
/*@ end */
solo:static int in_proc(int i, int p, const char *text) { return begin(i, p, text); } /* step i: this process does it */
solo:static void done(long r) { if (r < 0) set_rc(errno); } /* a block's result: >= 0, or -1 with errno */
sup:static int in_sup(int i, int p, const char *text) { return me < 0 && begin(i, p, text); } /* step i, done by S for p */
/*@ if touch */
solo:static sigjmp_buf fault;
solo:static void on_fault(int sig) { siglongjmp(fault, sig); }
static int touch(uint64_t addr, uint64_t pages, uint64_t val) { /* val: a write of val, val + 1, ... (8 bytes a page), 0: a read */
solo:  int sig = sigsetjmp(fault, 1); /* a fault of its own access ends the process (here: its steps) */
solo:  if (sig) return alive[0] = 0, snprintf(rc, sizeof rc, sig == SIGSEGV ? "SIGSEGV" : "SIGBUS"), 0;
  for (volatile char *b = (volatile char *)(uintptr_t)addr; b < (volatile char *)(uintptr_t)(addr + pages * PG); b += PG) if (val) *(volatile uint64_t *)b = val++; else (void)*b;
  return 0; }
/*@ end */
/*@ if fork */
static int fork_as(int child) { /* fork(); the child's parent is S (CLONE_PARENT), so S can wait for it */
  pid_t c = (pid_t)syscall(SYS_clone, CLONE_PARENT | SIGCHLD, 0, 0, 0, 0);
  if (c == 0) me = child, prctl(PR_SET_PDEATHSIG, SIGKILL);
  else if (c > 0 && write(msgs[1], &(struct msg){ .born = 1, .proc = child, .val = c }, sizeof(struct msg)) != sizeof(struct msg)) _exit(1);
  return c < 0 ? -1 : 0; }
/*@ end */
/*@ if split */
static int prot_of(uint64_t addr) { /* the protection of a page now (/proc/self/maps) */
  FILE *f = fopen("/proc/self/maps", "re");
  char line[512], perms[8];
  unsigned long lo, hi;
  int prot = -1;
  while (f && prot < 0 && fgets(line, sizeof line, f))
    if (sscanf(line, "%lx-%lx %7s", &lo, &hi, perms) == 3 && addr >= lo && addr < hi) prot = (perms[0] == 'r' ? PROT_READ : 0) | (perms[1] == 'w' ? PROT_WRITE : 0);
  if (f) fclose(f);
  return prot; }
/*@ end */
static struct region *region(int p, const char *name) { /* process p's region: found, or a free slot */
  struct region *r = R; while (r < R + NREGIONS - 1 && r->name && (r->proc != p || strcmp(r->name, name))) r++;
  return r; }
/* p's region after this step: "FIRST-LAST BITS, ..." (P S F E W D (G) = pagemap bits 63 62 61 56 57 55 (58); '.' 0, '*' any; NULL: gone) */
static void want(int p, const char *name, uint64_t addr, uint64_t pages, const char *bits) { struct region *r = region(p, name); r->proc = p, r->name = name, r->addr = addr, r->pages = pages, r->want = bits; }
/*@ if content */
static void want_vals(int p, const char *name, const char *vals) { region(p, name)->vals = vals; } /* "FIRST-LAST V[+], ...": V, V+1 (+), ... */
static void check_vals(const struct region *r) { /* the first 8 bytes of each present page (ptefarm-content.h) */
  for (char *e, *v = (char *)r->vals; v && *v; v = e + (*e == '+') + (e[*e == '+'] == ',' ? 2 : 0))
    for (unsigned long long lo = strtoul(v, &e, 10), hi = *e == '-' ? strtoul(e + 1, &e, 10) : lo, x = strtoull(e + 1, &e, 10), k = lo, got; k <= hi && k < r->pages; k++)
      if ((r->now[k] & 1) && pread(mem[r->proc], &got, 8, (off_t)(r->addr + k * PG)) == 8 && got != x + (*e == '+' ? k - lo : 0)) mismatch("p%d %s page %llu reads %llu, expected %llu (data)", r->proc, r->name, k, got, x + (*e == '+' ? k - lo : 0)); }
/*@ end */
static void compare(const struct region *r, const char *want, const char *got, int w, const char *what) { /* `got`: w letters a page, '.' 0 */
  for (char *e; *want; want = e + 1 + w + (e[1 + w] == ',' ? 2 : 0)) {
    unsigned long lo = strtoul(want, &e, 10), hi = *e == '-' ? strtoul(e + 1, &e, 10) : lo;
    for (unsigned long k = lo; k <= hi && k < r->pages; k++)
      for (int b = 0; b < w; b++) {
        char x = e[1 + b], y = got[k * (unsigned long)w + (unsigned long)b];
        int xs = x != '.' && x != '-', ys = y != '.' && y != '-', masked = x == '*' || x == '?' || (b == (w == 9 ? 7 : 5) && !soft_dirty) || (w == 7 && b == 6 && !guard_ok);
        if ((x == '-') != (y == '-') && b == 0) mismatch("%sp%d %s page %lu is %sreported", what, r->proc, r->name, k, y == '-' ? "not " : "");
        else if (x != '-' && y != '-' && !masked && xs != ys) mismatch("%sp%d %s page %lu %c is %d, expected %d", what, r->proc, r->name, k, (w == 9 ? "awfpszhdg" : "PSFEWDG")[b], ys, xs);
      }
  } }
/*@ if folio */
#include "ptefarm-folio.h"
/*@ end */
/*@ if outcomes */
/* the outcome the kernel chose must be the one the expectations assume, else they do not apply */
static struct assumption { int what, p; const char *name, *want; uint64_t first, count; } A[4]; static int nassume;
static void assume(int what, int p, const char *name, uint64_t first, uint64_t count, const char *want) {
  if (me < 0) A[nassume++] = (struct assumption){ what, p, name, want, first, count }; }
static void check_outcome(const struct assumption *a) {
  static uint64_t got[MAXPAGES]; char s[4096] = "";
  struct region *r = region(a->p, a->name); int n = 0;
huge:  if (a->what == HUGE) n = huge_outcome(r->now, r->pages, r->was, r->was_pages, r->addr / PG, got);
zero:  if (a->what == ZERO) n = zero_outcome(r->now, r->was, r->was_pages, a->first, a->count, r->addr / PG, got);
swapped:  if (a->what == SWAPPED) n = swapped_outcome(r->now, r->was, a->first, a->count, got);
resident:  if (a->what == RESIDENT) for (int j = 0, m = resident_outcome(res_vec[0], res_vec[1], r->pages, got); j < 2 * m; j += 2) /* FIRST+PAGES */
resident:    snprintf(s + strlen(s), sizeof s - strlen(s), "%s%llu+%llu", *s ? " " : "", (unsigned long long)got[j], (unsigned long long)got[j + 1]);
folio:  if (a->what == FOLIO) for (int j = 0, m = folio_outcome(r->now, r->was, r->was_pages, r->pages, r->addr / PG, g_anon_orders, got); j < m; j += 2) /* FIRST+PAGES */
folio:    snprintf(s + strlen(s), sizeof s - strlen(s), "%s%llu+%llu", *s ? " " : "", (unsigned long long)got[j], (unsigned long long)got[j + 1]);
  for (int j = 0, k = 0; j < n; j = ++k) {
    while (k + 1 < n && got[k + 1] == got[k] + 1) k++;
    snprintf(s + strlen(s), sizeof s - strlen(s), k > j ? "%s%llu-%llu" : "%s%llu", *s ? " " : "", (unsigned long long)got[j], (unsigned long long)got[k]);
  }
resident:  if (ran && alive[a->p] && a->what == RESIDENT && strcmp(s, a->want)) printf("# step %d (%s): pages of %s made resident (mincore, FIRST+PAGES) at [%s], the expectations assume [%s]\n", cur_step, cur_text, a->name, s, a->want),
resident:    finish(KSFT_SKIP, "this kernel brought a shmem folio back from swap otherwise than the expectations assume (whole, or page by page)");
  if (ran && alive[a->p] && strcmp(s, a->want)) printf("# step %d (%s): %s %s[%s], the expectations assume %s[%s]\n", cur_step, cur_text, (const char *[]){
nofolio:    "huge PMDs newly mapped at", "the read mapped the zero page at", "MADV_PAGEOUT took out" }[a->what], a->name, s, a->name, a->want), finish(KSFT_SKIP, "the kernel chose another outcome"); }
folio:    "huge PMDs newly mapped at", "the read mapped the zero page at", "MADV_PAGEOUT took out", "large folios (FIRST+PAGES) newly mapped at" }[a->what], a->name, s, a->name, a->want),
folio:    finish(KSFT_SKIP, a->what == FOLIO ? FOLIO_WHY : "the kernel chose another outcome"); }
/*@ end */
/*@ if scan */
static struct pf_page_region vec[MAXPAGES + 1];
static long nvec = -1;
static uint64_t scan_cats = PAGE_CATS_ALL; /* less GUARD before 6.15 (fs/proc/task_mmu.c pagemap_scan_get_args) */
static const char *want_cats; static struct region *scan_r;
/* the categories the model expects the scan to report: "FIRST-LAST awfpszhdg" ('-': not reported) */
wantscan:static void want_scan(int p, const char *name, const char *cats) { scan_r = region(p, name), want_cats = cats; }
static void check_scan(const struct region *r) {
  static char y[MAXPAGES * 9];
  memset(y, '-', r->pages * 9);
  for (long j = 0; j < nvec; j++)
    for (uint64_t a = vec[j].start; a < vec[j].end && a >= r->addr && (a - r->addr) / PG < r->pages; a += PG)
      for (int b = 0; b < 9; b++) y[(a - r->addr) / PG * 9 + (uint64_t)b] = (vec[j].categories >> b) & 1 ? "awfpszhdg"[b] : '.';
  if (nvec >= 0) compare(r, want_cats, y, 9, "PAGEMAP_SCAN ");
  else if (!strcmp(want_rc, "0")) mismatch("PAGEMAP_SCAN returned nothing");
  nvec = -1; }
/*@ end */
scan2:static struct pf_pm_scan_arg sa; /* a /2 scan's arguments, which the kernel updates with walk_end; want_walk: the model's, a page of the region at base */
walk:static const char *walk_name; static uint64_t walk_base, walk_page; static void want_walk(const char *name, uint64_t base, uint64_t page) { walk_name = name, walk_base = base, walk_page = page; }
ev:static int cmp(const void *a, const void *b) { return strcmp(a, b); }
static void end_step(const char *want) { /* S, after every step: the result, the outcome, the uffd events, every region's pages */
  static char got[MAXPAGES * LETTERS];
  if (me >= 0) return;
  want_rc = want;
  if (ran && strcmp(want, "*") && strcmp(want, rc)) mismatch("returned %s, expected %s", rc, want);
ev:  for (int c = 0; c < nctx; c++) drain(c);
  for (int k = 0; k < NREGIONS; k++) if (R[k].want && alive[R[k].proc]) observe_range(pagemap[R[k].proc], R[k].addr, R[k].pages, R[k].now, &scan_ok);
outcomes:  for (int i = 0; i < nassume && !step_fails; i++) check_outcome(&A[i]);
outcomes:  nassume = 0;
ev:  qsort(events, (size_t)nevents, sizeof events[0], cmp);
ev:  for (int k = ev[0] = 0; k < nevents; k++) snprintf(ev + strlen(ev), sizeof ev - strlen(ev), "%s%s", k ? ";" : "", events[k]);
ev:  if (strcmp(ev, want_ev)) mismatch("uffd events [%s], expected [%s]", ev, want_ev);
walk:  if (walk_name && ran && nvec >= 0 && sa.walk_end != walk_base + walk_page * PG) mismatch("PAGEMAP_SCAN walk_end is %s page %lld, expected %llu", walk_name, (long long)(sa.walk_end - walk_base) / (long long)PG, (unsigned long long)walk_page);
walk:  walk_name = NULL;
scan:  if (want_cats && ran) check_scan(scan_r);
scan:  want_cats = NULL;
  for (struct region *r = R; r < R + NREGIONS; r++) {
    if (r->want && !alive[r->proc]) mismatch("process %d is gone, expected it to map %s", r->proc, r->name);
    for (uint64_t k = 0; k < r->pages * LETTERS; k++) got[k] = (k % LETTERS == 6 ? OBS_IS_GUARD(r->now[k / LETTERS]) : (r->now[k / LETTERS] >> (k % LETTERS)) & 1) ? "PSFEWDG"[k % LETTERS] : '.';
nocontent:    if (r->want && alive[r->proc]) compare(r, r->want, got, LETTERS, "");
content:    if (r->want && alive[r->proc]) compare(r, r->want, got, LETTERS, ""), check_vals(r);
  }
  fails += step_fails > 0, printf("%s %d step %d (%s)%s\n", step_fails ? "not ok" : "ok", cur_step + 1, cur_step, cur_text, ran ? "" : " # SKIP its process is gone");
  for (int k = 0; k < NREGIONS; k++) memcpy(R[k].was, R[k].now, sizeof R[k].now), R[k].was_pages = R[k].want ? R[k].pages : 0; }
/*@ steps */
static void timeout(int sig) { printf("# the case did not end in 60 s: step %d (%s) blocked (signal %d)\n", cur_step, cur_text, sig), finish(KSFT_FAIL, NULL); }
int main(int argc, char **argv) { /* host checks, then S runs the case */
  volatile char *m = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0); int pm = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
  bisect = (argc > 1 && !strcmp(argv[1], "--bisect")) || getenv("PTEFARM_BISECT") != NULL, setvbuf(stdout, NULL, _IOLBF, 0);
  printf("KTAP version 1\n# ptefarm reproducer: %s\n", CASE_NAME);
  if (sysconf(_SC_PAGESIZE) != (long)PG) finish(KSFT_SKIP, "generated for pages of another size than this kernel's"); /* the plan counts PG-byte pages */
  uint64_t e = *m = 1; /* a written page of a fresh mapping is soft-dirty, if the kernel has soft-dirty at all */
  if (!(soft_dirty = pread(pm, &e, 8, (off_t)((uintptr_t)m / PG * 8)) == 8 && (e >> 55) & 1)) printf("# this kernel shows no soft-dirty: bit 55 and SOFT_DIRTY are not compared\n");
g7:  struct pf_page_region g1; /* pagemap bit 58 (PM_GUARD_REGION) came with PAGE_IS_GUARD (6.15, fs/proc/task_mmu.c): G needs both */
g7:  guard_ok = ioctl(pm, PF_PAGEMAP_SCAN, &(struct pf_pm_scan_arg){ .size = sizeof(struct pf_pm_scan_arg), .start = (uintptr_t)m, .end = (uintptr_t)m + PG, .vec = (uintptr_t)&g1, .vec_len = 1, .return_mask = PAGE_IS_GUARD }) >= 0;
scan:  struct pf_pm_scan_arg a = { .size = sizeof a, .start = (uintptr_t)m, .end = (uintptr_t)m + PG, .vec = (uintptr_t)vec, .vec_len = 1, .return_mask = scan_cats };
scan:  if (ioctl(pm, PF_PAGEMAP_SCAN, &a) < 0 && (a.return_mask = scan_cats &= ~PAGE_IS_GUARD, ioctl(pm, PF_PAGEMAP_SCAN, &a) < 0)) finish(KSFT_SKIP, "PAGEMAP_SCAN is not supported by this kernel");
g7scan:  guard_ok = !!(scan_cats & PAGE_IS_GUARD); /* pagemap bit 58 (PM_GUARD_REGION) came with PAGE_IS_GUARD (6.15, fs/proc/task_mmu.c) */
v2:  if (!guard_ok) NEEDS_GUARD ? finish(KSFT_SKIP, "this kernel has no PAGE_IS_GUARD nor pagemap bit 58 (6.15+): guard regions cannot be observed") : (void)printf("# this kernel shows no guard regions (PAGE_IS_GUARD, bit 58: 6.15+): G is not compared\n");
htlb:  FILE *hf = fopen("/sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages", "re"); long hfree = 0; /* MAP_HUGETLB takes the 2 MiB hstate */
htlb:  if (!hf || fscanf(hf, "%ld", &hfree) != 1) hfree = 0;
htlb:  if (hf) fclose(hf);
htlb:  if (hfree < HUGETLB_NEED) printf("# %ld free 2 MiB hugetlb pages, the case may need %d (reserve: echo N > /proc/sys/vm/nr_hugepages)\n", hfree, (int)HUGETLB_NEED), finish(KSFT_SKIP, "too few free hugetlb pages");
swapped:  char line[512]; int areas = -1; /* /proc/swaps: a header line, then one line per active swap area */
swapped:  for (FILE *f = fopen("/proc/swaps", "re"); f && fgets(line, sizeof line, f);) areas++;
swapped:  if (areas < 1) finish(KSFT_SKIP, "no active swap: MADV_PAGEOUT cannot reclaim anonymous pages");
swapped:  cpu_set_t set; /* one CPU for all: MADV_PAGEOUT drains only the local CPU's LRU batches */
swapped:  for (int c = 0; !sched_getaffinity(0, sizeof set, &set) && c < CPU_SETSIZE; c++)
swapped:    if (CPU_ISSET(c, &set)) { CPU_ZERO(&set); CPU_SET(c, &set); sched_setaffinity(0, sizeof set, &set); break; }
folio:  read_anon_orders(); /* the anon mTHP sizes this kernel may use: the expectations assume the recording host's choice */
  printf("1..%d\n", NOPS);
  signal(SIGALRM, timeout), alarm(60);
  if (geteuid() == 0) { /* the case runs as nobody, with no capability (setuid clears them) */
ptrace:    prctl(PR_SET_KEEPCAPS, 1); /* but CAP_SYS_PTRACE, which UFFD_FEATURE_EVENT_FORK needs */
    if (setgroups(0, NULL) || setgid(65534) || setuid(65534)) harness("dropping root");
    prctl(PR_SET_DUMPABLE, 1); } /* setuid cleared it; /proc/PID/pagemap needs it */
ptrace:  caps(1u << CAP_SYS_PTRACE);
  prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
multi:  for (int p = 0; p <= NPROCS; p++) if (pipe2(p < NPROCS ? go[p] : msgs, O_CLOEXEC)) harness("pipe");
mu:  if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, uffd_sock)) harness("socketpair");
multi:  pid_t p0 = fork(); if (p0 < 0) harness("fork");
multi:  if (p0 == 0) { me = 0, prctl(PR_SET_PDEATHSIG, SIGKILL), case_steps(); for (;;) pause(); } /* p0 runs the case, then waits for S to end it */
multi:  born(0, p0); /* with p0's capabilities (a case process must not hold more than S to be readable) */
ptracemulti:  caps(0); /* S: no capability from here on */
solonc:  alive[0] = 1, pagemap[0] = pm;
contentsolo:  if ((alive[0] = 1, pagemap[0] = pm, mem[0] = open("/proc/self/mem", O_RDONLY | O_CLOEXEC)) < 0) harness("/proc/self/mem");
touchsolo:  signal(SIGSEGV, on_fault), signal(SIGBUS, on_fault);
  case_steps();
  finish(fails ? KSFT_FAIL : KSFT_PASS, NULL); }
/*@ end */
