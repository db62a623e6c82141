// The ptefarm-case/1, /2 and /3 formats (docs/case-format.md) as a zod schema: the one place the
// shape of a case is defined. Types are inferred from it. /2 adds the guard-region ops and
// PAGEMAP_SCAN's full argument space; /3 adds the hugetlb mapping kinds. A case using what a later
// format added is refused under an earlier one (src/ops/validate.ts); every /1 case is a /2 case,
// every /2 case a /3 case.
import { z } from 'zod';

/** a region name (also the key of every region-keyed record of a trace) */
export const REGION_NAME_RE = /^[A-Za-z_][A-Za-z0-9_.-]{0,31}$/;
export const regionName = z.string().regex(REGION_NAME_RE, 'a region name: a letter or _, then up to 31 of [A-Za-z0-9_.-]');
const proc = z.number().int().min(0).optional();
const first = z.number().int().min(0).optional();
const count = z.number().int().min(1).optional();

export const KINDS = ['anon', 'shared-anon', 'memfd-shared', 'memfd-private'] as const;
/** ptefarm-case/3: mappings backed by 2 MiB hugetlb pages (MAP_HUGETLB|MAP_ANONYMOUS, private or
 *  shared); sized and addressed in whole huge pages (src/ops/plan.ts) */
export const HUGETLB_KINDS = ['hugetlb', 'hugetlb-shared'] as const;
export const ALL_KINDS = [...KINDS, ...HUGETLB_KINDS] as const;
export function isHugetlbKind(k: string): boolean { return k === 'hugetlb' || k === 'hugetlb-shared'; }
export const FEATURES = ['wp_async', 'wp_unpopulated', 'event_fork', 'event_remap', 'event_unmap'] as const;
export const CASE_FORMATS = ['ptefarm-case/1', 'ptefarm-case/2', 'ptefarm-case/3'] as const;
export type CaseFormat = (typeof CASE_FORMATS)[number];

/** PAGEMAP_SCAN categories as a string of the scan letters (src/ops/trace.ts SCAN_LETTERS order,
 *  each at most once, in that order): `""` = none, `"wp"` = WRITTEN|PRESENT */
export const SCAN_CATEGORY_RE = /^a?w?f?p?s?z?h?d?g?$/;
const categories = z.string().regex(SCAN_CATEGORY_RE, 'PAGEMAP_SCAN categories: letters of awfpszhdg, each at most once, in that order');

const name = regionName;
const ranged = { region: name, first, count, proc };

export const opSchemas = {
  mmap: z.strictObject({ op: z.literal('mmap'), region: name, pages: z.number().int().min(1), kind: z.enum(ALL_KINDS), thp: z.boolean().optional(), after: name.optional(), proc }),
  munmap: z.strictObject({ op: z.literal('munmap'), ...ranged }),
  mremap: z.strictObject({ op: z.literal('mremap'), region: name, pages: z.number().int().min(1).optional(), move: z.boolean().optional(), dontunmap: z.boolean().optional(), old: name.optional(), proc }),
  mprotect: z.strictObject({ op: z.literal('mprotect'), ...ranged, prot: z.enum(['none', 'r', 'rw']) }),
  read: z.strictObject({ op: z.literal('read'), ...ranged }),
  write: z.strictObject({ op: z.literal('write'), ...ranged }),
  fork: z.strictObject({ op: z.literal('fork'), proc }),
  exit: z.strictObject({ op: z.literal('exit'), proc }),
  clear_refs: z.strictObject({ op: z.literal('clear_refs'), value: z.number().int().min(1).max(5).optional(), proc }),
  pageout: z.strictObject({ op: z.literal('pageout'), ...ranged }),
  dontneed: z.strictObject({ op: z.literal('dontneed'), ...ranged }),
  collapse: z.strictObject({ op: z.literal('collapse'), ...ranged }),
  split: z.strictObject({ op: z.literal('split'), region: name, page: z.number().int().min(0), proc }),
  uffd_register: z.strictObject({ op: z.literal('uffd_register'), ...ranged }),
  uffd_unregister: z.strictObject({ op: z.literal('uffd_unregister'), ...ranged }),
  wp: z.strictObject({ op: z.literal('wp'), ...ranged, on: z.boolean() }),
  scan: z.strictObject({
    op: z.literal('scan'), ...ranged, wp_matching: z.boolean().optional(), max_pages: z.number().int().min(1).optional(),
    // ptefarm-case/2: the rest of struct pm_scan_arg (include/uapi/linux/fs.h)
    check_wpasync: z.boolean().optional(), no_vec: z.boolean().optional(),
    category_mask: categories.optional(), category_inverted: categories.optional(),
    category_anyof_mask: categories.optional(), return_mask: categories.optional(),
  }),
  // MADV_POPULATE_READ (write absent or false) / MADV_POPULATE_WRITE over the range
  populate: z.strictObject({ op: z.literal('populate'), ...ranged, write: z.boolean().optional() }),
  // close() of the process's userfaultfd (its only descriptor: the kernel releases the context)
  close_uffd: z.strictObject({ op: z.literal('close_uffd'), proc }),
  // ptefarm-case/2: MADV_GUARD_INSTALL / MADV_GUARD_REMOVE over the range (6.13+)
  guard: z.strictObject({ op: z.literal('guard'), ...ranged }),
  unguard: z.strictObject({ op: z.literal('unguard'), ...ranged }),
} as const;

/** ops and scan fields a ptefarm-case/1 case cannot use */
export const V2_OPS: ReadonlySet<string> = new Set(['guard', 'unguard']);
export const V2_SCAN_FIELDS = ['check_wpasync', 'no_vec', 'category_mask', 'category_inverted', 'category_anyof_mask', 'return_mask'] as const;

/** does this op need ptefarm-case/2? */
export function needsV2(op: { op: string } & Record<string, unknown>): boolean {
  return V2_OPS.has(op.op) || (op.op === 'scan' && V2_SCAN_FIELDS.some((f) => op[f] !== undefined));
}

/** does this op need ptefarm-case/3? (an mmap of a hugetlb kind) */
export function needsV3(op: { op: string } & Record<string, unknown>): boolean {
  return op.op === 'mmap' && typeof op.kind === 'string' && isHugetlbKind(op.kind);
}

/** The format a case with these ops is written in: the oldest that holds them (so that every case
 *  an older reader understands stays readable by it). */
export function formatFor(ops: ReadonlyArray<{ op: string } & Record<string, unknown>>): CaseFormat {
  if (ops.some((o) => needsV3(o))) return 'ptefarm-case/3';
  return ops.some((o) => needsV2(o)) ? 'ptefarm-case/2' : 'ptefarm-case/1';
}

/** /2 or later: seven page letters, PAGEMAP_SCAN's full arguments, walk_end */
export function atLeastV2(f: string): boolean { return f !== 'ptefarm-case/1'; }

export type OpName = keyof typeof opSchemas;
export const OP_NAMES = Object.keys(opSchemas) as OpName[];

export const opSchema = z.discriminatedUnion('op', Object.values(opSchemas) as unknown as [
  (typeof opSchemas)[OpName], ...(typeof opSchemas)[OpName][]
]);

export const caseSchema = z.strictObject({
  format: z.enum(CASE_FORMATS),
  name: z.string().max(4000).optional(),
  uffd: z.strictObject({ features: z.array(z.enum(FEATURES)).max(FEATURES.length).optional() }).optional(),
  ops: z.array(z.unknown()).min(1),
});

export type Kind = (typeof ALL_KINDS)[number];
export type Feature = (typeof FEATURES)[number];
export type OpOf<N extends OpName> = z.infer<(typeof opSchemas)[N]>;
export type Op = { [N in OpName]: OpOf<N> }[OpName];
export interface Case {
  format: CaseFormat;
  name?: string;
  uffd?: { features?: Feature[] };
  ops: Op[];
}

/** A copy of `op` that shares nothing with it: every op is a flat record of numbers, strings and
 *  booleans (opSchemas; test/ops/schema.test.ts holds them to it), so a shallow copy is a deep one,
 *  key order included (the generators copy every op of every case: structuredClone cost them more). */
export function copyOp<T extends Op>(op: T): T {
  return { ...op };
}
