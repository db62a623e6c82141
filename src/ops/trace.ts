// The ptefarm-trace/1 format: what a target reports. Types plus a zod schema for traces read from
// files or from exec: targets, which may observe less than a full trace (case-format.md).
import { z } from 'zod';
import { regionName } from './schema.ts';
import { safeRecord } from './records.ts';

/** pagemap letters in trace order: present(63) swapped(62) file(61) exclusive(56) uffd-wp(57) soft-dirty(55) */
export const BIT_LETTERS = ['P', 'S', 'F', 'E', 'W', 'D'] as const;
export type BitLetter = (typeof BIT_LETTERS)[number];
export const BIT_NAMES: Record<BitLetter, string> = {
  P: 'present', S: 'swapped', F: 'file', E: 'exclusive', W: 'uffd-wp', D: 'soft-dirty',
};
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

export interface TargetInfo {
  name: string;
  arch: string;
  kernel: string;
  capabilities: Capabilities;
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
}

/** proc -> region -> one string per page */
export type PageMap = Record<string, Record<string, string[]>>;

export interface Step {
  op: number;
  rc: 0 | string;
  outcome?: Outcome;
  events?: UffdEvent[];
  pages?: PageMap;
  scan?: PageMap;
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

const pageStr = z.string().regex(/^[PSFEWD.?]{6}$/, 'six letters of PSFEWD, . or ?');
const scanStr = z.string().regex(/^[awfpszhdg.\-]{9}$/, 'nine PAGEMAP_SCAN letters, . or -');
// prototype-free records that keep every key (z.record drops `__proto__`)
const pageMap = (s: z.ZodString) => safeRecord(safeRecord(z.array(s), regionName));

export const traceSchema = z.object({
  format: z.literal('ptefarm-trace/1'),
  target: z.object({
    name: z.string(), arch: z.string(), kernel: z.string(),
    capabilities: safeRecord(z.boolean()),
  }),
  steps: z.array(z.object({
    op: z.number().int().min(0),
    rc: z.union([z.literal(0), z.string()]),
    outcome: z.object({
      huge: safeRecord(z.array(z.number().int().min(0)), regionName).optional(),
      swapped_out: safeRecord(z.array(z.number().int().min(0)), regionName).optional(),
    }).optional(),
    events: z.array(z.object({
      kind: z.enum(['wp_fault', 'fork', 'remap', 'unmap']), proc: z.number().int(),
      region: z.string().optional(), page: z.number().int().optional(), child: z.number().int().optional(),
    })).optional(),
    pages: pageMap(pageStr).optional(),
    scan: pageMap(scanStr).optional(),
    skipped: z.string().optional(),
  })),
  fault: z.string().optional(),
  skipped: z.string().optional(),
});
