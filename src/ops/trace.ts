// The ptefarm-trace/1 format: what a target reports. Types plus a zod schema for traces read from
// files or from exec: targets, which may observe less than a full trace (case-format.md).
import { z } from 'zod';
import { atLeastV2, regionName, type Case } from './schema.ts';
import { safeRecord } from './records.ts';
import { DEFAULT_LIMITS, GEOMETRY_4K, geometryOf, MAX_PAGES_PER_REGION, MAX_PMD_PAGES, type PageGeometry } from './layout.ts';
import { clip, show, someProblems } from './bounded.ts';

/** pagemap letters in trace order: present(63) swapped(62) file(61) exclusive(56) uffd-wp(57)
 *  soft-dirty(55), and for a ptefarm-case/2 case guard-region(58) */
export const BIT_LETTERS = ['P', 'S', 'F', 'E', 'W', 'D', 'G'] as const;
export type BitLetter = (typeof BIT_LETTERS)[number];
export const BIT_NAMES: Record<BitLetter, string> = {
  P: 'present', S: 'swapped', F: 'file', E: 'exclusive', W: 'uffd-wp', D: 'soft-dirty', G: 'guard',
};

/** Letters per page string in the trace of case `c`: 7 (with G, pagemap bit 58) for a
 *  ptefarm-case/2 case, 6 for a /1 case (no op of /1 makes a guard region), so that /1 traces and
 *  their expectations stay as they were. */
export function pageLetters(c: { format: string }): 6 | 7 {
  return atLeastV2(c.format) ? 7 : 6;
}
/** PAGEMAP_SCAN category letters in trace order */
export const SCAN_LETTERS = ['a', 'w', 'f', 'p', 's', 'z', 'h', 'd', 'g'] as const;
export type ScanLetter = (typeof SCAN_LETTERS)[number];
export const SCAN_NAMES: Record<ScanLetter, string> = {
  a: 'WPALLOWED', w: 'WRITTEN', f: 'FILE', p: 'PRESENT', s: 'SWAPPED', z: 'PFNZERO', h: 'HUGE', d: 'SOFT_DIRTY', g: 'GUARD',
};

export interface Capabilities {
  soft_dirty: boolean;
  uffd_wp: boolean;
  wp_async: boolean;
  pagemap_scan: boolean;
  swap: boolean;
  thp: boolean;
  [k: string]: boolean | undefined;
}

/** Host settings fixed for the whole run that change expected bits (sysfs values as read by the
 *  target); the check turns them into model knobs (src/model/profile.ts hostKnobs). */
export interface HostSettings {
  /** /sys/kernel/mm/transparent_hugepage/shmem_enabled */
  shmem_enabled?: string;
  /** sysconf(_SC_PAGESIZE) in the case process, when not 4096: the unit of every page number */
  page_size?: number;
  /** bytes one PMD maps (hpage_pmd_size, or derived from the page size), when not 2 MiB */
  pmd_size?: number;
}

/** The page geometry a trace's target reports (4 KiB pages and 2 MiB PMDs when it says nothing). */
export function geometryOfHost(host: HostSettings | undefined): PageGeometry {
  if (!host || (host.page_size === undefined && host.pmd_size === undefined)) return GEOMETRY_4K;
  return geometryOf(host.page_size ?? GEOMETRY_4K.pageSize, host.pmd_size);
}

export interface TargetInfo {
  name: string;
  arch: string;
  kernel: string;
  capabilities: Capabilities;
  host?: HostSettings;
}

export type EventKind = 'wp_fault' | 'fork' | 'remap' | 'unmap';
export interface UffdEvent {
  kind: EventKind;
  proc: number;
  region?: string;
  page?: number;
  child?: number;
}

export interface Outcome {
  /** region -> first page of every 2 MiB block this op newly mapped with a huge PMD */
  huge?: Record<string, number[]>;
  /** region -> pages this pageout took out of the page table */
  swapped_out?: Record<string, number[]>;
  /** region -> pages this read mapped to the shared zero page (a huge zero PMD: the first page of
   *  its block in the region, as in `huge`). Whether a read fault maps the zero page or allocates a
   *  page is the kernel's (and the host's) choice. Absent: not recorded, and the model infers it
   *  from the step's observation (the verdict says so); present and empty: no zero page. */
  zero?: Record<string, number[]>;
  /** region -> the large folios (anonymous mTHP) this op's faults mapped, as [first page, pages]
   *  pairs: aligned blocks of 2^k > 1 pages that became present together (a fault's
   *  alloc_anon_folio or a swap-in's alloc_swap_folio, mm/memory.c). The kernel's and the host's
   *  choice (per-size sysfs settings), recorded by the executor. Absent: every fault mapped one page. */
  folio?: Record<string, [number, number][]>;
  /** region -> the runs of pages of a shmem THP region that this fault op made resident in memory,
   *  as [first page, pages] pairs (mincore() before and after the op, which a page table does not
   *  affect: workers/executor/ptefarm-observe.h resident_pages): a shmem folio the fault brought
   *  back from swap whole, a piece of a split large swap entry, or one page (mm/shmem.c
   *  shmem_swapin_folio, shmem_split_large_entry), the kernel's and the host's choice
   *  (CONFIG_THP_SWAP, a free swap cluster). A plain number is the form of traces recorded before
   *  runs (to 2026-12-07): the first page of a 2 MiB block (as in `huge`) made wholly resident;
   *  the model reads both (src/model/machine.ts shmemSwapInFolio). Absent: nothing came back. */
  resident?: Record<string, (number | [number, number])[]>;
  /** region -> PAGEMAP_SCAN's walk_end of this scan, as a page of the region (the scanned range's
   *  end when the walk was not cut short by max_pages) */
  walk_end?: Record<string, number>;
}

/** proc -> region -> one string per page */
export type PageMap = Record<string, Record<string, string[]>>;
/** proc -> region -> per page a value read back, or null (not read) */
export type ContentMap = Record<string, Record<string, (number | null)[]>>;

export interface Step {
  op: number;
  rc: 0 | string;
  outcome?: Outcome;
  events?: UffdEvent[];
  pages?: PageMap;
  scan?: PageMap;
  /** content oracle: proc -> region -> per page the first 8 bytes the process read there after
   *  the op (src/model/content.ts), null where it read nothing (a page the observation does not
   *  show present); -1 for a value beyond 2^53 (never written by a case) */
  content?: ContentMap;
  /** set by a target that did not run the op (missing capability); the reason in words */
  skipped?: string;
}

export interface Trace {
  format: 'ptefarm-trace/1';
  target: TargetInfo;
  steps: Step[];
  /** set when the target could not complete the case (hang, crash, executor death) */
  fault?: string;
  /** set when the target did not run the case at all (a capability it needs is missing); the
   *  reason in words. Never a violation. */
  skipped?: string;
}

/** one pagemap string: each slot only its own letter, `.` (0) or `?` (not shown); six letters, or
 *  seven with the guard bit (ptefarm-case/2) */
export const PAGE_STRING_RE = /^[P.?][S.?][F.?][E.?][W.?][D.?][G.?]?$/;
/** one PAGEMAP_SCAN string: each slot only its own letter or `.`; `---------` for a page not reported */
export const SCAN_STRING_RE = /^(?:-{9}|[a.][w.][f.][p.][s.][z.][h.][d.][g.])$/;
/** a process number as a trace key */
const PROC_KEY_RE = /^(?:0|[1-9][0-9]{0,8})$/;

/** Index of the first entry of `strs` that is not a string `re` accepts, or -1. Tests a string
 *  equal to the last one accepted only once: a region's pages mostly repeat one string (the same
 *  object, for a trace read by JSON.parse), and traceProblems runs this on every page of every
 *  step of every trace a campaign checks (a regex test per page was ~6% of the farm pool's CPU). */
function firstBad(strs: readonly unknown[], re: RegExp): number {
  let last: string | undefined;
  for (let i = 0; i < strs.length; i++) {
    const x = strs[i];
    if (x === last && last !== undefined) continue;
    if (typeof x !== 'string' || !re.test(x)) return i;
    last = x;
  }
  return -1;
}

const pageStr = z.string().regex(PAGE_STRING_RE, 'six or seven characters, each its own letter of PSFEWDG (in that order), . or ?');
const scanStr = z.string().regex(SCAN_STRING_RE, 'nine characters, each its own letter of awfpszhdg (in that order) or ., or --------- for a page not reported');
const procKey = z.string().regex(PROC_KEY_RE, 'a process number');
const pageMap = (s: z.ZodString) => safeRecord(safeRecord(z.array(s), regionName), procKey);
/** a page of a region: below the pages-per-region limit */
const pageIndex = z.number().int().min(0).max(MAX_PAGES_PER_REGION - 1);
/** a fault or skip reason: words for a person, kept to a bounded length */
const reason = (what: string) => z.string().min(1, `an empty ${what}: give the reason (or leave the key out)`).transform((x) => clip(x, 4000));

export const traceSchema = z.object({
  format: z.literal('ptefarm-trace/1'),
  target: z.object({
    name: z.string(), arch: z.string(), kernel: z.string(),
    capabilities: safeRecord(z.boolean(), z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,63}$/, 'a capability name')),
    host: z.strictObject({
      shmem_enabled: z.string().max(32).optional(),
      page_size: z.number().int().refine((n) => [4096, 16384].includes(n), 'a page size of 4096 or 16384 bytes').optional(),
      pmd_size: z.number().int().refine((n) => n >= 2 * 4096 && n <= MAX_PMD_PAGES * 16384 && (n & (n - 1)) === 0, 'a power-of-two PMD size the executor supports').optional(),
    }).optional(),
  }),
  steps: z.array(z.object({
    op: z.number().int().min(0),
    rc: z.union([z.literal(0), z.string().min(1)]),
    outcome: z.strictObject({
      huge: safeRecord(z.array(pageIndex), regionName).optional(),
      swapped_out: safeRecord(z.array(pageIndex), regionName).optional(),
      zero: safeRecord(z.array(pageIndex), regionName).optional(),
      folio: safeRecord(z.array(z.tuple([pageIndex, z.number().int().min(2).max(MAX_PMD_PAGES)])), regionName).optional(),
      resident: safeRecord(z.array(z.union([pageIndex, z.tuple([pageIndex, z.number().int().min(1).max(DEFAULT_LIMITS.maxPagesPerRegion)])])), regionName).optional(),
      walk_end: safeRecord(z.number().int().min(0).max(DEFAULT_LIMITS.maxPagesPerRegion), regionName).optional(),
    }).optional(),
    events: z.array(z.object({
      kind: z.enum(['wp_fault', 'fork', 'remap', 'unmap']), proc: z.number().int().min(0).max(DEFAULT_LIMITS.maxProcs - 1),
      region: regionName.optional(), page: pageIndex.optional(), child: z.number().int().min(0).max(DEFAULT_LIMITS.maxProcs - 1).optional(),
    })).optional(),
    pages: pageMap(pageStr).optional(),
    scan: pageMap(scanStr).optional(),
    content: safeRecord(safeRecord(z.array(z.number().int().min(-1).max(Number.MAX_SAFE_INTEGER).nullable()).max(MAX_PAGES_PER_REGION), regionName), procKey).optional(),
    skipped: reason('skip reason').optional(),
  })),
  fault: reason('fault').optional(),
  skipped: reason('skip reason').optional(),
});

/** A trace that does not fit its case: bad input (exit 2), never a verdict on the kernel. */
export class TraceError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid trace:\n  ${someProblems(problems).join('\n  ')}`);
    this.name = 'TraceError';
  }
}

/** traceProblems' problems with step `i`'s page or scan strings: keys that are not process numbers,
 *  and per region the first string `re` rejects. A module function, not a closure made per step:
 *  under tsx (development runs, the pool threads of a source checkout) every closure made is also
 *  named (esbuild's __name), which cost about half of traceProblems; compiled (dist/) it is even.
 *  `valid`: the arrays found good already (a trace may show one array at several steps: the live
 *  target's decoder and the model's observer keep a region's array while it does not change). */
function stringProblems(problems: string[], i: number, field: 'pages' | 'scan', map: PageMap | undefined, re: RegExp, valid: Set<unknown>): void {
  if (map == null) return;
  for (const proc of Object.keys(map)) {
    if (!PROC_KEY_RE.test(proc)) { problems.push(`steps[${i}].${field}.${clip(proc, 40)}: not a process number`); continue; }
    const regions = map[proc]!;
    for (const region of Object.keys(regions)) {
      const strs = regions[region];
      if (valid.has(strs)) continue;
      const bad = Array.isArray(strs) ? firstBad(strs, re) : 0;
      if (bad < 0) valid.add(strs);
      if (bad >= 0) problems.push(`steps[${i}].${field}.${proc}.${clip(region, 40)}[${bad}]: ${show(Array.isArray(strs) ? strs[bad] : strs, 40)} is not a ${field === 'pages' ? 'PSFEWD(G) page' : 'PAGEMAP_SCAN'} string`);
    }
  }
}

/** What makes a (schema-valid) trace unusable for case `c`: a step for an op the case lacks, steps
 *  out of order or repeated, fewer steps than ops without a fault, letters in the wrong slots,
 *  keys that are not process numbers. Cheap enough for every check (no model run). */
export function traceProblems(c: Case, t: Trace): string[] {
  const problems: string[] = [];
  if (t.skipped !== undefined) {
    // a case the target did not run has nothing to compare: steps would be a contradiction
    if (t.steps.length) problems.push(`steps: a skipped trace (not run: ${show(t.skipped, 60)}) has no steps, this one has ${t.steps.length}`);
    return problems;
  }
  const n = c.ops.length;
  let prev = -1;
  const validPages = new Set<unknown>(), validScans = new Set<unknown>();
  t.steps.forEach((s, i) => {
    if (!Number.isInteger(s.op) || s.op < 0 || s.op >= n) {
      problems.push(`steps[${i}].op: the case has no op ${show(s.op)} (its ops are 0..${n - 1})`);
      return;
    }
    if (s.op <= prev) problems.push(`steps[${i}].op: op ${s.op} after op ${prev}: one step per op, in order`);
    prev = Math.max(prev, s.op);
    stringProblems(problems, i, 'pages', s.pages, PAGE_STRING_RE, validPages);
    stringProblems(problems, i, 'scan', s.scan, SCAN_STRING_RE, validScans);
    if (s.scan !== undefined) {
      // PAGEMAP_SCAN results belong to a scan op, for its process and region only
      const op = c.ops[s.op];
      const want = op.op === 'scan' ? `${op.proc ?? 0}.${op.region}` : undefined;
      for (const [proc, regions] of Object.entries(s.scan)) for (const region of Object.keys(regions)) {
        if (`${proc}.${region}` !== want) problems.push(`steps[${i}].scan.${clip(proc, 40)}.${clip(region, 40)}: ${want ? `the op scans ${want} only` : `op ${s.op} (${op.op}) is not a scan`}`);
      }
    }
    // `resident` (a fault's shmem swap-in): region -> [first, pages] runs, or block first pages
    // (the older form); the model reads it as such even from a trace built in process (never
    // through traceSchema)
    const res = s.outcome?.resident as unknown;
    const page = (k: unknown) => Number.isSafeInteger(k) && (k as number) >= 0;
    const entry = (e: unknown) => page(e) || (Array.isArray(e) && e.length === 2 && page(e[0]) && page(e[1]) && e[1] > 0);
    if (res !== undefined) {
      if (res === null || typeof res !== 'object' || Array.isArray(res)) problems.push(`steps[${i}].outcome.resident: a record of region -> [first, pages] runs, not ${show(res)}`);
      else for (const [region, l] of Object.entries(res)) {
        if (!Array.isArray(l) || !l.every(entry)) problems.push(`steps[${i}].outcome.resident.${clip(region, 40)}: a list of [first, pages] runs (or 2 MiB block first pages), not ${show(l)}`);
      }
    }
  });
  if (t.fault === undefined && problems.length === 0 && t.steps.length < n) {
    const have = new Set(t.steps.map((s) => s.op));
    const missing = c.ops.map((_, i) => i).filter((i) => !have.has(i));
    problems.push(`steps: ${t.steps.length} step(s) for ${n} op(s) and no fault: a complete trace has one step per op (missing: ops ${clip(missing.join(', '), 60)})`);
  }
  return problems;
}
