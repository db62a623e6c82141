// The ptefarm-case/1 format (docs/case-format.md) as a zod schema: the one place the
// shape of a case is defined. Types are inferred from it.
import { z } from 'zod';

/** a region name (also the key of every region-keyed record of a trace) */
export const REGION_NAME_RE = /^[A-Za-z_][A-Za-z0-9_.-]{0,31}$/;
export const regionName = z.string().regex(REGION_NAME_RE, 'a region name: a letter or _, then up to 31 of [A-Za-z0-9_.-]');
const proc = z.number().int().min(0).optional();
const first = z.number().int().min(0).optional();
const count = z.number().int().min(1).optional();

export const KINDS = ['anon', 'shared-anon', 'memfd-shared', 'memfd-private'] as const;
export const FEATURES = ['wp_async', 'wp_unpopulated', 'event_fork', 'event_remap', 'event_unmap'] as const;

const name = regionName;
const ranged = { region: name, first, count, proc };

export const opSchemas = {
  mmap: z.strictObject({ op: z.literal('mmap'), region: name, pages: z.number().int().min(1), kind: z.enum(KINDS), thp: z.boolean().optional(), after: name.optional(), proc }),
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
  scan: z.strictObject({ op: z.literal('scan'), ...ranged, wp_matching: z.boolean().optional(), max_pages: z.number().int().min(1).optional() }),
  // MADV_POPULATE_READ (write absent or false) / MADV_POPULATE_WRITE over the range
  populate: z.strictObject({ op: z.literal('populate'), ...ranged, write: z.boolean().optional() }),
  // close() of the process's userfaultfd (its only descriptor: the kernel releases the context)
  close_uffd: z.strictObject({ op: z.literal('close_uffd'), proc }),
} as const;

export type OpName = keyof typeof opSchemas;
export const OP_NAMES = Object.keys(opSchemas) as OpName[];

export const opSchema = z.discriminatedUnion('op', Object.values(opSchemas) as unknown as [
  (typeof opSchemas)[OpName], ...(typeof opSchemas)[OpName][]
]);

export const caseSchema = z.strictObject({
  format: z.literal('ptefarm-case/1'),
  name: z.string().max(4000).optional(),
  uffd: z.strictObject({ features: z.array(z.enum(FEATURES)).max(FEATURES.length).optional() }).optional(),
  ops: z.array(z.unknown()).min(1),
});

export type Kind = (typeof KINDS)[number];
export type Feature = (typeof FEATURES)[number];
export type OpOf<N extends OpName> = z.infer<(typeof opSchemas)[N]>;
export type Op = { [N in OpName]: OpOf<N> }[OpName];
export interface Case {
  format: 'ptefarm-case/1';
  name?: string;
  uffd?: { features?: Feature[] };
  ops: Op[];
}
