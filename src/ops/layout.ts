// Address layout shared by the model and every executor. Regions live in fixed 64 MiB slots of an
// arena far from anything the loader maps, so adjacency (and therefore VMA merging, which decides
// VM_SOFTDIRTY) is a property of the case, not of the kernel's address choice. Slot starts are
// 2 MiB aligned, so THP eligibility and whole-page-table mremap moves are predictable too.
export const PAGE_SIZE = 4096;
export const HPAGE_PAGES = 512; // pages per PMD (2 MiB) on x86_64 with 4 KiB pages
export const ARENA_BASE_PAGE = 0x2000_0000_0000 / PAGE_SIZE; // 32 TiB, page number
export const SLOT_PAGES = (64 * 1024 * 1024) / PAGE_SIZE;

/** First page number of arena slot `slot`. Every mmap without `after`, and every moving mremap,
 *  consumes the next slot (whether or not the syscall succeeds). */
export function slotStartPage(slot: number): number {
  return ARENA_BASE_PAGE + slot * SLOT_PAGES;
}

export interface Limits {
  /** region names per case, in all processes, `old` names included (one executor region id each) */
  maxRegions: number;
  maxPagesPerRegion: number;
  /** processes per case, process 0 included */
  maxProcs: number;
  maxOps: number;
}

/** The limits table: what the validator (src/ops/validate.ts), the generators, the workers and the
 *  live/QEMU targets (src/targets/live.ts encodeCase) enforce, and what the native executor is
 *  compiled for (workers/executor/ptefarm-uapi.h MAXR, MAXPAGES, MAXP; ptefarm-exec.c MAXOPS;
 *  test/ops/limits.test.ts keeps the two equal). A case within it never faults on the executor's
 *  limits. */
export const DEFAULT_LIMITS: Limits = { maxRegions: 64, maxPagesPerRegion: 1024, maxProcs: 8, maxOps: 256 };

/** A memfd behind a memfd-* region is sized to the region limit so mremap growth stays inside it. */
export const MEMFD_PAGES = DEFAULT_LIMITS.maxPagesPerRegion;
