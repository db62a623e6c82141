// Address layout shared by the model and every executor. Regions live in fixed slots of an arena
// far from anything the loader maps, so adjacency (and therefore VMA merging, which decides
// VM_SOFTDIRTY) is a property of the case, not of the kernel's address choice. Slot starts are
// PMD aligned, so THP eligibility and whole-page-table mremap moves are predictable too.
//
// Page numbers count the target's base pages (docs/page-size.md): a case is the same list of pages
// on any page size, and a PMD block is `pmdPages` of them (512 with 4 KiB pages, 2048 with 16 KiB).
// The constants below are the 4 KiB (x86_64) geometry; a target with another page size gets its
// layout from the functions taking a PageGeometry (the arena at 32 TiB, slots of 32 PMDs).
export const PAGE_SIZE = 4096;
export const HPAGE_PAGES = 512; // pages per PMD (2 MiB) on x86_64 with 4 KiB pages
export const ARENA_BASE_PAGE = 0x2000_0000_0000 / PAGE_SIZE; // 32 TiB, page number
export const SLOT_PAGES = (64 * 1024 * 1024) / PAGE_SIZE;

/** A target's page geometry: its base page size (sysconf(_SC_PAGESIZE)) and the pages one PMD
 *  maps (a PMD-sized THP). */
export interface PageGeometry { pageSize: number; pmdPages: number }

/** 4 KiB pages, 2 MiB PMDs: x86_64, arm64 and riscv64 with 4 KiB pages */
export const GEOMETRY_4K: PageGeometry = Object.freeze({ pageSize: PAGE_SIZE, pmdPages: HPAGE_PAGES });

/** The largest PMD (in pages) the native executor is compiled for (workers/executor/ptefarm-uapi.h
 *  MAXPAGES is two of them): 16 KiB pages. 64 KiB pages (512 MiB PMDs) are refused by the host
 *  policy (src/targets/host-policy.ts). */
export const MAX_PMD_PAGES = 2048;

/** The geometry of a page size (bytes) and, when known, the PMD size (bytes: sysfs
 *  hpage_pmd_size). Without a PMD size it is one page table of 8-byte entries (PTRS_PER_PTE =
 *  PAGE_SIZE / 8 on every 64-bit architecture with a PMD level: x86_64, arm64, riscv64). */
export function geometryOf(pageSize: number, pmdSize?: number | null): PageGeometry {
  if (!Number.isInteger(pageSize) || pageSize < 4096 || (pageSize & (pageSize - 1)) !== 0) throw new Error(`page size ${pageSize}: not a power of two of at least 4096 bytes`);
  const pmdPages = pmdSize ? pmdSize / pageSize : pageSize / 8;
  if (!Number.isInteger(pmdPages) || pmdPages < 2 || (pmdPages & (pmdPages - 1)) !== 0) throw new Error(`PMD size ${pmdSize} is not a power-of-two multiple of the page size ${pageSize}`);
  if (pageSize === GEOMETRY_4K.pageSize && pmdPages === GEOMETRY_4K.pmdPages) return GEOMETRY_4K;
  return Object.freeze({ pageSize, pmdPages });
}

/** `4 KiB pages, 2 MiB PMD` */
export function describeGeometry(g: PageGeometry): string {
  const size = (b: number) => (b >= 1 << 20 ? `${b / (1 << 20)} MiB` : `${b / 1024} KiB`);
  return `${size(g.pageSize)} pages, ${size(g.pageSize * g.pmdPages)} PMD`;
}

/** Where a geometry's arena starts (page number of 32 TiB) and how many pages a slot has (32 PMDs:
 *  64 MiB with 4 KiB pages, 1 GiB with 16 KiB pages). */
export function arenaOf(g: PageGeometry): { basePage: number; slotPages: number } {
  return { basePage: 0x2000_0000_0000 / g.pageSize, slotPages: 32 * g.pmdPages };
}

/** First page number of arena slot `slot`. Every mmap without `after`, and every moving mremap,
 *  consumes the next slot (whether or not the syscall succeeds). */
export function slotStartPage(slot: number, g: PageGeometry = GEOMETRY_4K): number {
  const a = arenaOf(g);
  return a.basePage + slot * a.slotPages;
}

/** First page number of hugetlb arena slot `slot`: hugetlb regions (ptefarm-case/3) live from 48
 *  TiB, one PUD (1 GiB with 4 KiB pages: PMD pages x PTRS_PER_PMD) each, so that no other region
 *  shares the page table level their huge entries live in: whether a hugetlb slot is a hole (no PMD
 *  table: pagemap_scan_pte_hole) or a none entry (pagemap_scan_hugetlb_entry) then depends on the
 *  region's own history only (mm/hugetlb.c huge_pte_offset). */
export function hugetlbSlotStartPage(slot: number, g: PageGeometry = GEOMETRY_4K): number {
  const pud = g.pmdPages * (g.pageSize / 8);
  return 0x3000_0000_0000 / g.pageSize + slot * pud;
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

/** The limits of a geometry: a region may hold two PMDs (1024 pages with 4 KiB pages: the table
 *  above; 4096 with 16 KiB pages); the executor's MAXPAGES is the largest of them. */
export function limitsFor(g: PageGeometry): Limits {
  return g.pmdPages === HPAGE_PAGES ? DEFAULT_LIMITS : { ...DEFAULT_LIMITS, maxPagesPerRegion: 2 * g.pmdPages };
}

/** the most pages a region has on any geometry the executor supports (trace schema bound) */
export const MAX_PAGES_PER_REGION = 2 * MAX_PMD_PAGES;

/** A memfd behind a memfd-* region is sized to the region limit so mremap growth stays inside it. */
export const MEMFD_PAGES = DEFAULT_LIMITS.maxPagesPerRegion;
export function memfdPagesFor(g: PageGeometry): number { return limitsFor(g).maxPagesPerRegion; }
