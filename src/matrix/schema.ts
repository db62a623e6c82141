// The ptefarm-matrix/2 document (`ptefarm matrix --out DIR` writes it as matrix.json): its types
// and the zod schema that validates it (tests, and any reader in TypeScript). The format is
// documented for other readers (e.g. CRIU's feature check) in docs/matrix-schema.md; change both
// together, and bump the version on an incompatible change.
import { z } from 'zod';
import { BACKINGS, FAMILIES, MECHANISMS } from './cells.ts';

export const MATRIX_FORMAT = 'ptefarm-matrix/2';
export const CELL_STATUSES = ['agrees', 'diverges', 'unsupported', 'faulted'] as const;

const bucket = z.strictObject({
  signature: z.string(),
  title: z.string(),
  /** cases of this cell whose trace had a violation of this signature */
  hits: z.number().int().min(1),
  /** the smallest such case, relative to the matrix directory */
  case_file: z.string().optional(),
});

const result = z.strictObject({
  target: z.string(),
  status: z.enum(CELL_STATUSES),
  /** cases run whose trace was compared with the model (agreeing + diverging) */
  cases: z.number().int().min(0),
  agreeing: z.number().int().min(0),
  diverging: z.number().int().min(0),
  /** cases the target did not run (a capability a case needs), with reasons */
  skipped: z.number().int().min(0),
  /** cases that could not be run or completed (infrastructure): never agreement */
  faults: z.number().int().min(0),
  /** for unsupported (why) and faulted (the first fault) */
  reason: z.string().optional(),
  buckets: z.array(bucket),
});

const target = z.strictObject({
  spec: z.string(),
  arch: z.string().optional(),
  kernel: z.string().optional(),
  /** the target's base page size in bytes (its probe; generated cases count these pages) */
  page_size: z.number().int().min(4096).optional(),
  capabilities: z.record(z.string(), z.boolean()).optional(),
  /** the target refused to start (a host setting the model does not cover) or could not open */
  refused: z.string().optional(),
  warnings: z.array(z.string()),
  elapsed_s: z.number().min(0),
  totals: z.strictObject({ cases: z.number().int().min(0), agreeing: z.number().int().min(0), diverging: z.number().int().min(0), skipped: z.number().int().min(0), faults: z.number().int().min(0) }),
});

export const matrixSchema = z.strictObject({
  format: z.literal(MATRIX_FORMAT),
  generated_at: z.string(),
  ptefarm_version: z.string(),
  seed: z.number().int().min(0),
  cases_per_cell: z.number().int().min(0),
  /** corpus files that were part of the suite (each assigned to one cell) */
  corpus: z.array(z.strictObject({ file: z.string(), cell: z.string() })),
  axes: z.strictObject({
    families: z.array(z.strictObject({ id: z.enum(FAMILIES), title: z.string(), ops: z.array(z.string()) })),
    backings: z.array(z.enum(BACKINGS)),
    mechanisms: z.array(z.strictObject({ id: z.enum(MECHANISMS), title: z.string() })),
  }),
  targets: z.array(target),
  cells: z.array(z.strictObject({
    id: z.string(),
    family: z.enum(FAMILIES),
    backing: z.enum(BACKINGS),
    mechanism: z.enum(MECHANISMS),
    /** one per target, in the order of `targets` */
    results: z.array(result),
  })),
});

export type MatrixDoc = z.infer<typeof matrixSchema>;
export type CellResult = z.infer<typeof result>;
export type MatrixTarget = z.infer<typeof target>;
export type CellStatus = (typeof CELL_STATUSES)[number];

/** Validate a parsed matrix.json: the document, or a list of problems naming their paths. */
export function validateMatrix(x: unknown): { ok: true; doc: MatrixDoc } | { ok: false; problems: string[] } {
  const r = matrixSchema.safeParse(x);
  if (r.success) return { ok: true, doc: r.data };
  return { ok: false, problems: r.error.issues.map((i) => `${i.path.join('.') || '(matrix)'}: ${i.message}`) };
}

/** The same schema as JSON Schema (draft 2020-12), for readers outside TypeScript; stored as
 *  docs/matrix.schema.json (test/matrix/schema.test.ts keeps the file equal to this). */
export function matrixJsonSchema(): Record<string, unknown> {
  return {
    title: MATRIX_FORMAT,
    ...z.toJSONSchema(matrixSchema),
  } as Record<string, unknown>;
}
