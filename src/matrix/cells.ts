// The axes of `ptefarm matrix` (operation family x backing x mechanism), what each cell needs from
// a target, and how a corpus case is assigned to one cell. Used by src/matrix/generate.ts (which
// generates cases inside a cell), src/matrix/run.ts (which decides which cells a target supports)
// and the matrix reports (src/report/matrix.ts). docs/matrix-schema.md documents the same axes.
import type { Case, Kind, OpName } from '../ops/schema.ts';
import type { Capabilities } from '../ops/trace.ts';

export const FAMILIES = ['fault', 'fork', 'mremap', 'mprotect', 'clear_refs', 'swap', 'thp', 'uffd', 'scan'] as const;
export type Family = (typeof FAMILIES)[number];
export const BACKINGS = ['anon', 'shared-anon', 'memfd-shared', 'memfd-private'] as const satisfies readonly Kind[];
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
const FAMILY_NEEDS: Partial<Record<Family, readonly string[]>> = { swap: ['swap'], thp: ['thp'], scan: ['pagemap_scan'] };

const CAPABILITY_WORDS: Record<string, string> = {
  soft_dirty: 'soft-dirty is compiled out (no CONFIG_MEM_SOFT_DIRTY) or not reported',
  uffd_wp: 'no userfaultfd write-protect (UFFDIO_REGISTER_MODE_WP)',
  wp_async: 'no UFFD_FEATURE_WP_ASYNC',
  pagemap_scan: 'no PAGEMAP_SCAN ioctl',
  swap: 'no active swap: MADV_PAGEOUT cannot reclaim',
  thp: 'transparent huge pages disabled',
};

export function cellId(c: Cell): string { return `${c.family}/${c.backing}/${c.mechanism}`; }

export function allCells(): Cell[] {
  const out: Cell[] = [];
  for (const family of FAMILIES) for (const backing of BACKINGS) for (const mechanism of MECHANISMS) out.push({ family, backing, mechanism });
  return out;
}

/** Why a cell has no cases on any target, or undefined. The soft-dirty mechanism is the one
 *  without userfaultfd, so the uffd family cannot be in it. */
export function unsupportedByDesign(c: Cell): string | undefined {
  if (c.family === 'uffd' && c.mechanism === 'soft-dirty') return 'by design: soft-dirty cases use no userfaultfd, and this family is userfaultfd\'s own';
  return undefined;
}

/** Why a target with these capabilities cannot run the cell, or undefined. */
export function unsupportedOn(c: Cell, caps: Capabilities): string | undefined {
  const needs = [...MECHANISM_NEEDS[c.mechanism], ...(FAMILY_NEEDS[c.family] ?? [])];
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
 *  THP mapping counts for thp; none at all: fault), the kind of its first mapping, its mechanism. */
export function classifyCase(c: Case): Cell {
  const ops = new Set<OpName>(c.ops.map((o) => o.op));
  const thpMap = c.ops.some((o) => o.op === 'mmap' && o.thp);
  const family = FAMILY_PRIORITY.find((f) => (f === 'thp' && thpMap) || FAMILY_OPS[f].some((o) => ops.has(o))) ?? 'fault';
  const first = c.ops.find((o) => o.op === 'mmap');
  // the matrix has no hugetlb backing: a hugetlb case counts as anon (private) or shared-anon
  const backing: Backing = first && first.op === 'mmap' ? (first.kind === 'hugetlb' ? 'anon' : first.kind === 'hugetlb-shared' ? 'shared-anon' : first.kind) : 'anon';
  return { family, backing, mechanism: mechanismOf(c) };
}
