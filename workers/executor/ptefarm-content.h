/*
 * ptefarm-content.h: the content oracle's side of the executor (ptefarm-exec.c, ptefarm-mm.h) and of
 * the reproducers (src/report/repro.ts inlines this file's text).
 *
 * A write op stores a value in the first 8 bytes of every page it writes: content_value(op, page),
 * the op's index in the case and the page's index in the op's region at the time of the write,
 * never 0 (src/model/content.ts writeValue computes the same number). After every step each live
 * case process reads back the first 8 bytes of the pages its pagemap observation shows PRESENT
 * (never a swapped page, a guard marker or a hole: reading those would fault them in) through its
 * own /proc/self/mem. That is a FOLL_FORCE GUP read (fs/proc/base.c mem_rw -> access_remote_vm):
 * it works under PROT_NONE, takes no write fault (no CoW break, no soft-dirty) and maps nothing
 * that is not mapped; verified on the live kernel by test/workers/content.test.ts (the pagemap is
 * the same before and after the read).
 */
#ifndef PTEFARM_CONTENT_H
#define PTEFARM_CONTENT_H
#include <stdint.h>

/* the value a write op (index op of the case) stores at page `page` of its region */
static inline uint64_t content_value(int op, uint64_t page) { return ((uint64_t)(op + 1) << 16) + page; }

/* bytes the read-back buffer holds: up to CONTENT_CHUNK pages per pread (16 KiB pages at most) */
#define CONTENT_CHUNK 64

/* The first 8 bytes of every page of [addr, addr + pages*PG) whose code (ptefarm-observe.h) says
 * present (bit 0) and not a guard marker, read through mem (an fd of /proc/self/mem); vals[k] is
 * left as is for a page not read, and known[k] says which were read. Runs of present pages are read
 * in one pread each (chunks of CONTENT_CHUNK pages). */
static void content_read(int mem, uint64_t addr, uint64_t pages, const uint8_t *codes, uint64_t *vals, uint8_t *known) {
  static uint8_t buf[CONTENT_CHUNK * 65536];
  for (uint64_t k = 0; k < pages;) {
    known[k] = 0;
    if (!(codes[k] & 1)) { k++; continue; }
    uint64_t j = k + 1;
    while (j < pages && j - k < CONTENT_CHUNK && (codes[j] & 1)) j++;
    ssize_t want = (ssize_t)((j - k) * PG);
    if (mem >= 0 && pread(mem, buf, (size_t)want, (off_t)(addr + k * PG)) == want) {
      for (uint64_t q = k; q < j; q++) { memcpy(&vals[q], buf + (q - k) * PG, 8); known[q] = 1; }
    } else {
      for (uint64_t q = k; q < j; q++) known[q] = 0;
    }
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
