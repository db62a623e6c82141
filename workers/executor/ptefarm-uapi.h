/*
 * ptefarm-uapi.h: kernel UAPI definitions newer than a build host's headers may be, plus the
 * limits and the command protocol of ptefarm's native executor (ptefarm-exec.c and its headers).
 *
 * Include after `#define _GNU_SOURCE` and the system headers; it defines no functions.
 */
#ifndef PTEFARM_UAPI_H
#define PTEFARM_UAPI_H

#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

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
#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22
#endif
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif
#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102
#endif
#ifndef MADV_GUARD_REMOVE
#define MADV_GUARD_REMOVE 103
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

/* PAGEMAP_SCAN (linux/fs.h, 6.7+), under ptefarm's own names so that newer headers do not clash */
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

/* ---- page geometry (docs/page-size.md) ---- */
/* Set once by geometry_init() (ptefarm-hostfacts.h) before any request: the page size is
 * sysconf(_SC_PAGESIZE) and a PMD maps one page table of 8-byte entries (PTRS_PER_PTE =
 * PAGE_SIZE / 8: 512 pages = 2 MiB with 4 KiB pages, 2048 pages = 32 MiB with 16 KiB pages).
 * Every page number and count of a plan counts these pages (src/ops/layout.ts PageGeometry). */
static uint64_t g_pg = 4096, g_hpg_pages = 512;
#define PG g_pg
#define HPG_PAGES g_hpg_pages
/* pages per region at this page size: two PMDs (1024 with 4 KiB pages: src/ops/layout.ts limitsFor),
 * never more than the arrays hold (64 KiB pages are refused by src/targets/host-policy.ts); also the
 * size of a memfd behind a memfd-* region */
#define PAGES_LIMIT (2 * g_hpg_pages < MAXPAGES ? 2 * g_hpg_pages : (uint64_t)MAXPAGES)

/* ---- limits ---- */
#define MAXP 8          /* processes per case */
#define MAXR 64         /* region ids per case: region names, `old` names included (src/ops/layout.ts DEFAULT_LIMITS.maxRegions) */
#define MAXPAGES 4096   /* pages per region on the largest geometry (16 KiB pages): array sizes (src/ops/layout.ts MAX_PAGES_PER_REGION) */
#define MAXCTX 16       /* userfaultfd contexts (process 0 + one per event_fork child) */

/* op codes of the plan (src/targets/live.ts encodeCase encodes the same numbers) */
enum {
  OP_SKIP = 0, OP_MMAP = 1, OP_MUNMAP = 2, OP_MREMAP = 3, OP_MPROTECT = 4, OP_READ = 5, OP_WRITE = 6,
  OP_FORK = 7, OP_EXIT = 8, OP_CLEAR_REFS = 9, OP_PAGEOUT = 10, OP_DONTNEED = 11, OP_COLLAPSE = 12,
  OP_SPLIT = 13, OP_UREG = 14, OP_UUNREG = 15, OP_WP = 16, OP_SCAN = 17,
  OP_POPULATE = 18, OP_CLOSE_UFFD = 19, OP_GUARD = 20, OP_UNGUARD = 21,
};
#define OP_LAST OP_UNGUARD
/* C_SCAN's b: the ptefarm-case/2 arguments (0: the /1 scan, a = wp_matching). With SCAN_EXPLICIT,
 * addr2 packs category_mask | inverted << 9 | anyof << 18 | return_mask << 27. */
#define SCAN_EXPLICIT 1
#define SCAN_CHECK_WPASYNC 2
#define SCAN_NO_VEC 4
#define SCAN_DEFAULT_RETURN 8 /* no return_mask in the case: every category this kernel knows */
/* commands to case processes (binary, over the command pipes) */
enum { C_MMAP = 1, C_MUNMAP, C_MREMAP, C_MPROTECT, C_TOUCH, C_FORK, C_EXIT, C_CLEAR_REFS, C_MADVISE,
       C_SPLIT, C_SCAN, C_OBSERVE, C_UFFD_OPEN };

struct cmd { int32_t code, a, b, c; uint64_t addr, len, addr2, len2; };
struct rep { int32_t err; int32_t n; int64_t x; };
struct range { uint64_t addr; uint64_t pages; };
/* observation byte: ptefarm-observe.h (OBS_HUGE/OBS_GUARD in bit 6, OBS_ZERO) */

/* ---- what the executor accepts, and how a fault from outside the case is told apart ---- */
/* Where regions may be placed: the arena of src/ops/layout.ts starts at 32 TiB (arenaOf);
 * its slots of 32 PMDs end far below 48 TiB, and both stay far from what the loader maps. The
 * executor refuses region pages outside [ARENA_FIRST_PAGE, ARENA_END_PAGE), in pages of PG. */
#define ARENA_FIRST_PAGE (0x200000000000ULL / PG) /* 32 TiB */
/* hugetlb regions (ptefarm-case/3) from 48 TiB: their huge pages are no THP (env_check skips them) */
#define HUGETLB_ARENA_FIRST_PAGE (0x300000000000ULL / PG)
#define ARENA_END_PAGE (0x400000000000ULL / PG)   /* 64 TiB: 32-48 TiB regions, 48-64 TiB hugetlb regions (hugetlbSlotStartPage) */
/* A case process that a SIGSEGV or SIGBUS reached from outside (kill(), not a fault of its own
 * access) exits with this status + the signal number, so that the supervisor reports a fault and
 * never an rc the model would compare. */
#define EXIT_EXTERNAL_SIGNAL 192
/* how often a waiting supervisor looks for case processes stopped from outside (SIGSTOP) */
#define STOP_CHECK_MS 200

#endif /* PTEFARM_UAPI_H */
