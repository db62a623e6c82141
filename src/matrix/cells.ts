// The axes of `ptefarm matrix` (operation family x backing x mechanism), what each cell needs from
// a target, and how a corpus case is assigned to one cell. Used by src/matrix/generate.ts (which
// generates cases inside a cell), src/matrix/run.ts (which decides which cells a target supports)
// and the matrix reports (src/report/matrix.ts). docs/matrix-schema.md documents the same axes.
import { isHugetlbKind, type Case, type Kind, type OpName } from '../ops/schema.ts';
import type { Capabilities } from '../ops/trace.ts';

export const FAMILIES = ['fault', 'fork', 'mremap', 'mprotect', 'clear_refs', 'swap', 'thp', 'mthp', 'uffd', 'scan'] as const;
export type Family = (typeof FAMILIES)[number];
export const BACKINGS = ['anon', 'shared-anon', 'memfd-shared', 'memfd-private', 'hugetlb', 'hugetlb-shared'] as const satisfies readonly Kind[];
export type Backing = (typeof BACKINGS)[number];
export const MECHANISMS = ['soft-dirty', 'uffd-wp-sync', 'uffd-wp-async', 'scan'] as const;
export type Mechanism = (typeof MECHANISMS)[number];

export interface Cell { family: Family; backing: Backing; mechanism: Mechanism }

/** the ops that make a case belong to a family (the generator emits at least one of them) */
export const FAMILY_OPS: Record<Family, readonly OpName[]> = {
  fault: ['dontneed'],
  fork: ['fork'],
  mremap: ['mremap'],
  mprotect: ['mprotect'],
  clear_refs: ['clear_refs'],
  swap: ['pageout'],
  thp: ['collapse', 'split'],
  // an anon mTHP case: large folios at fault in a zapped block, then split or copied by one of these
  mthp: ['munmap', 'mprotect', 'dontneed', 'pageout', 'fork'],
  uffd: ['uffd_unregister'],
  scan: ['scan'],
};

export const FAMILY_TITLES: Record<Family, string> = {
  fault: 'faults: first touch, MADV_DONTNEED zap and refault',
  fork: 'fork (copy-on-write, child writes)',
  mremap: 'mremap (move, resize, DONTUNMAP)',
  mprotect: 'mprotect (RO/RW/none round trips)',
  clear_refs: 'clear_refs (/proc/PID/clear_refs 1..5)',
  swap: 'swap (MADV_PAGEOUT, swap-in)',
  thp: 'THP: huge faults, MADV_COLLAPSE, PMD split (mprotect of one page away and back)',
  mthp: 'anon mTHP: large folios at fault, split by partial munmap/mprotect/DONTNEED/PAGEOUT, fork CoW, swap',
  uffd: 'uffd register / WRITEPROTECT / unregister',
  scan: 'PAGEMAP_SCAN',
};

export const MECHANISM_TITLES: Record<Mechanism, string> = {
  'soft-dirty': 'soft-dirty: clear_refs 4, then pagemap bit 55',
  'uffd-wp-sync': 'uffd-wp sync: UFFDIO_WRITEPROTECT, faults delivered as events',
  'uffd-wp-async': 'uffd-wp async: UFFD_FEATURE_WP_ASYNC, the kernel un-protects on write',
  scan: 'PAGEMAP_SCAN WP_MATCHING (async wp, PAGE_IS_WRITTEN get-and-clear)',
};

/** capabilities (src/targets/probe.ts capabilitiesOf) each axis value needs */
const MECHANISM_NEEDS: Record<Mechanism, readonly string[]> = {
  'soft-dirty': ['soft_dirty'],
  'uffd-wp-sync': ['uffd_wp'],
  'uffd-wp-async': ['uffd_wp', 'wp_async'],
  scan: ['uffd_wp', 'wp_async', 'pagemap_scan'],
};
const FAMILY_NEEDS: Partial<Record<Family, readonly string[]>> = { swap: ['swap'], thp: ['thp'], mthp: ['anon_mthp'], scan: ['pagemap_scan'] };
const BACKING_NEEDS: Partial<Record<Backing, readonly string[]>> = { hugetlb: ['hugetlb'], 'hugetlb-shared': ['hugetlb'] };

const CAPABILITY_WORDS: Record<string, string> = {
  soft_dirty: 'soft-dirty is compiled out (no CONFIG_MEM_SOFT_DIRTY) or not reported',
  uffd_wp: 'no userfaultfd write-protect (UFFDIO_REGISTER_MODE_WP)',
  wp_async: 'no UFFD_FEATURE_WP_ASYNC',
  pagemap_scan: 'no PAGEMAP_SCAN ioctl',
  swap: 'no active swap: MADV_PAGEOUT cannot reclaim',
  thp: 'transparent huge pages disabled',
  hugetlb: 'no free 2 MiB hugetlb pages: /sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages was 0 when probed (none reserved: QEMU guests reserve none; on a host run `ptefarm setup --hugetlb N` as root), or pages are not 4 KiB',
  anon_mthp: 'no anon mTHP size enabled: every /sys/kernel/mm/transparent_hugepage/hugepages-<size>kB/enabled below the PMD size is never (or inherit with THP off); enable one (a QEMU image spec ending in ,mthp=16K+64K does)',
};

export function cellId(c: Cell): string { return `${c.family}/${c.backing}/${c.mechanism}`; }

export function allCells(): Cell[] {
  const out: Cell[] = [];
  for (const family of FAMILIES) for (const backing of BACKINGS) for (const mechanism of MECHANISMS) out.push({ family, backing, mechanism });
  return out;
}

const HUGETLB_CANNOT: Partial<Record<Family, string>> = {
  mremap: 'not on hugetlb: the case format refuses mremap of a hugetlb region (src/ops/plan.ts): moving or resizing a hugetlb VMA is outside what the model follows',
  swap: 'not on hugetlb: hugetlb pages are never reclaimed to swap (MADV_PAGEOUT is EINVAL there, R-HTLB-2: mm/madvise.c can_madv_lru_vma)',
  thp: 'not on hugetlb: a hugetlb page is never a THP: MADV_COLLAPSE is EINVAL there (R-HTLB-2: madvise_collapse) and the case format refuses a split of it (src/ops/plan.ts)',
  mthp: 'not on hugetlb: anon mTHP large folios are anonymous (non-hugetlb) memory only (mm/memory.c alloc_anon_folio)',
};

/** Why a cell has no cases on any target, or undefined. The soft-dirty mechanism is the one
 *  without userfaultfd, so the uffd family cannot be in it; the hugetlb backings cannot express
 *  some families (HUGETLB_CANNOT); anon mTHP is anonymous private memory only. */
export function unsupportedByDesign(c: Cell): string | undefined {
  if (c.family === 'uffd' && c.mechanism === 'soft-dirty') return 'by design: soft-dirty cases use no userfaultfd, and this family is userfaultfd\'s own';
  if (isHugetlbKind(c.backing) && HUGETLB_CANNOT[c.family]) return HUGETLB_CANNOT[c.family];
  if (c.family === 'mthp' && c.backing !== 'anon') return 'by design: the mthp family is anonymous private memory (shmem/memfd large folios are refused by the host policy, src/targets/host-policy.ts)';
  return undefined;
}

/** Why a target with these capabilities cannot run the cell, or undefined. */
export function unsupportedOn(c: Cell, caps: Capabilities): string | undefined {
  const needs = [...(BACKING_NEEDS[c.backing] ?? []), ...MECHANISM_NEEDS[c.mechanism], ...(FAMILY_NEEDS[c.family] ?? [])];
  const missing = [...new Set(needs)].filter((n) => caps[n] !== true);
  if (!missing.length) return undefined;
  return missing.map((m) => CAPABILITY_WORDS[m] ?? `no ${m}`).join('; ');
}

/** Family order for assigning a corpus case with ops of several families: the first that matches
 *  (rarer, more specific paths first; clear_refs, which nearly every soft-dirty case has, last). */
const FAMILY_PRIORITY: readonly Family[] = ['thp', 'mremap', 'fork', 'mprotect', 'swap', 'uffd', 'scan', 'fault', 'clear_refs'];

/** The mechanism of a case: no userfaultfd -> soft-dirty; WP_ASYNC with a WP_MATCHING scan -> scan;
 *  WP_ASYNC -> async; otherwise sync. */
export function mechanismOf(c: Case): Mechanism {
  if (!c.uffd) return 'soft-dirty';
  if (!(c.uffd.features ?? []).includes('wp_async')) return 'uffd-wp-sync';
  return c.ops.some((o) => o.op === 'scan' && o.wp_matching) ? 'scan' : 'uffd-wp-async';
}

/** The one cell of a corpus case: the first family (FAMILY_PRIORITY) with an op in the case (a
 *  THP mapping counts for thp; none at all: fault) that its backing can express, the kind of its
 *  first mapping, its mechanism. No corpus case goes to mthp: whether a fault mapped a large
 *  folio is the host's (the `folio` outcome), not the case's. */
export function classifyCase(c: Case): Cell {
  const ops = new Set<OpName>(c.ops.map((o) => o.op));
  const thpMap = c.ops.some((o) => o.op === 'mmap' && o.thp);
  const first = c.ops.find((o) => o.op === 'mmap');
  const backing: Backing = first && first.op === 'mmap' ? first.kind : 'anon';
  const mechanism = mechanismOf(c);
  // a hugetlb case's pageout or collapse (refused by the kernel there) does not make it a swap or thp case
  const family = FAMILY_PRIORITY.find((f) => !unsupportedByDesign({ family: f, backing, mechanism }) && ((f === 'thp' && thpMap) || FAMILY_OPS[f].some((o) => ops.has(o)))) ?? 'fault';
  return { family, backing, mechanism };
}
