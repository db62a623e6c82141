/*
 * ptefarm-content.h: the content oracle's side of the executor (ptefarm-exec.c, ptefarm-mm.h) and of
 * the reproducers (src/report/repro.ts inlines this file's text).
 *
 * A write op stores a value in the first 8 bytes of every page it writes: content_value(op, page),
 * the op's index in the case and the page's index in the op's region at the time of the write,
 * never 0 (src/model/content.ts writeValue computes the same number). After every step each live
 * case process reads back the first 8 bytes of the pages its pagemap observation shows PRESENT
 * (never a swapped page, a guard marker or a hole: reading those would fault them in): by a plain
 * load where the page's VMA is readable, else through its own /proc/self/mem, a FOLL_FORCE GUP read
 * (fs/proc/base.c mem_rw -> access_remote_vm) that works under PROT_NONE (content_read says why
 * neither changes what pagemap shows). Neither takes a write fault (no CoW break, no soft-dirty) nor
 * maps anything that is not mapped; checked on the live kernel by test/targets/live-content.test.ts.
 */
#ifndef PTEFARM_CONTENT_H
#define PTEFARM_CONTENT_H
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>

/* the value a write op (index op of the case) stores at page `page` of its region */
static inline uint64_t content_value(int op, uint64_t page) { return ((uint64_t)(op + 1) << 16) + page; }

/* bytes the fallback read-back buffer holds: up to CONTENT_CHUNK pages per pread (16 KiB pages at most) */
#define CONTENT_CHUNK 64

/* A direct load of a present page that faults (only a page whose VMA is not readable: PROT_NONE)
 * jumps back here from the case process's SIGSEGV/SIGBUS handler (ptefarm-mm.h on_fatal_signal). */
static sigjmp_buf content_jb;
static volatile sig_atomic_t content_loading;

/* The first 8 bytes of every page of [addr, addr + pages*PG) whose code (ptefarm-observe.h) says
 * present (bit 0) and not a guard marker (*mem: this process's /proc/self/mem, or -1 until a page
 * needs it); vals[k] is left as is for a page not read, and known[k] says which were read.
 *
 * Each present page is read by a plain 8-byte load, falling back to /proc/self/mem (mem) for the
 * rest of a run of present pages once a load faults. Why a load changes nothing the oracle sees:
 * a load from a page whose PTE (or PMD) is present and whose VMA is readable does not fault at all
 * on x86 (the MMU only sets the accessed bit, which pagemap does not report: fs/proc/task_mmu.c
 * pte_to_pagemap_entry; on a guest CPU that manages the accessed bit in software, arm64 without
 * hardware AF or riscv without Svadu, the fault only makes the entry young: mm/memory.c
 * handle_pte_fault -> pte_mkyoung); a load from a present page of a VMA without VM_READ (PROT_NONE) faults,
 * and the fault ends in arch/x86/mm/fault.c do_user_addr_fault -> access_error ->
 * bad_area_access_error (SIGSEGV) before handle_mm_fault, so nothing is mapped or changed either.
 * The one present entry a load would fault on in a readable VMA is a NUMA-hinting PROT_NONE PTE
 * (mm/memory.c do_numa_page), which the GUP read does not fault on (include/linux/mm.h
 * gup_can_follow_protnone: true without FOLL_HONOR_NUMA_FAULT); such PTEs exist only with NUMA
 * balancing on (kernel/sched/fair.c task_numa_work -> change_prot_numa), so with
 * content_direct_loads 0 (the executor clears it when /proc/sys/kernel/numa_balancing is not 0)
 * every page goes through mem. Pages the pagemap shows swapped, guard markers and holes are never
 * touched either way. */
static int content_direct_loads = 1;

static void content_read(int *mem, uint64_t addr, uint64_t pages, const uint8_t *codes, uint64_t *vals, uint8_t *known) {
  static uint8_t buf[CONTENT_CHUNK * 65536];
  volatile uint64_t k = 0;
  while (k < pages) {
    known[k] = 0;
    if (!(codes[k] & 1) || OBS_IS_GUARD(codes[k])) { k++; continue; }
    if (content_direct_loads && !sigsetjmp(content_jb, 0)) {
      content_loading = 1;
      vals[k] = *(volatile uint64_t *)(uintptr_t)(addr + k * PG);
      content_loading = 0;
      known[k] = 1;
      k++;
      continue;
    }
    content_loading = 0;
    /* the load at page k faulted (not readable), or loads are off: the run of present pages from k
     * through mem, a FOLL_FORCE GUP read (fs/proc/base.c mem_rw -> access_remote_vm) that works under PROT_NONE */
    uint64_t j = k + 1;
    while (j < pages && j - k < CONTENT_CHUNK && (codes[j] & 1)) j++;
    ssize_t want = (ssize_t)((j - k) * PG);
    if (*mem < 0) *mem = open("/proc/self/mem", O_RDONLY | O_CLOEXEC); /* opened on first need */
    int ok = *mem >= 0 && pread(*mem, buf, (size_t)want, (off_t)(addr + k * PG)) == want;
    for (uint64_t q = k; q < j; q++) { if (ok) memcpy(&vals[q], buf + (q - k) * PG, 8); known[q] = (uint8_t)ok; }
    k = j;
  }
}

/* One `c proc rid` line of a region's values: tokens `-N` (N pages not read), `VxN` (N pages of
 * value V) and `V+N` (N pages of V, V+1, ...: one write over a range), values in decimal. */
static void content_print(FILE *f, int p, int g, uint64_t pages, const uint64_t *vals, const uint8_t *known) {
  fprintf(f, "c %d %d", p, g);
  for (uint64_t k = 0; k < pages;) {
    uint64_t j = k + 1;
    if (!known[k]) {
      while (j < pages && !known[j]) j++;
      fprintf(f, " -%llu", (unsigned long long)(j - k));
    } else if (j < pages && known[j] && vals[j] == vals[k] + 1 && vals[k] != 0) {
      while (j < pages && known[j] && vals[j] == vals[j - 1] + 1) j++;
      fprintf(f, " %llu+%llu", (unsigned long long)vals[k], (unsigned long long)(j - k));
    } else {
      while (j < pages && known[j] && vals[j] == vals[k]) j++;
      fprintf(f, " %llux%llu", (unsigned long long)vals[k], (unsigned long long)(j - k));
    }
    k = j;
  }
  fputc('\n', f);
}
#endif /* PTEFARM_CONTENT_H */
