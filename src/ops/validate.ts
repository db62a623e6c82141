// Reading a case: the zod schema for shape, then a structural walk for what a schema cannot say
// (regions and processes that exist at each point, ranges inside regions, limits: the static plan
// of src/ops/plan.ts, stepped op by op). Every problem
// is reported as `ops[i].field: message`, all of them at once.
import { z } from 'zod';
import { caseSchema, needsV3, opSchemas, OP_NAMES, V2_OPS, V2_SCAN_FIELDS, type Case, type Op, type OpName } from './schema.ts';
import { DEFAULT_LIMITS, type Limits } from './layout.ts';
import { CasePlan } from './plan.ts';
import { clip, show, someProblems } from './bounded.ts';

export class CaseError extends Error {
  constructor(readonly problems: string[], source?: string) {
    super(`${source ? clip(source, 120) + ': ' : ''}invalid case:\n  ${someProblems(problems).join('\n  ')}`);
    this.name = 'CaseError';
  }
}

function pathString(prefix: string, path: PropertyKey[]): string {
  let s = prefix;
  // keys come from input: quoted bounded
  for (const p of path) s += typeof p === 'number' ? `[${p}]` : s ? `.${clip(String(p), 40)}` : clip(String(p), 40);
  return s || '(case)';
}

function zodProblems(prefix: string, err: z.ZodError): string[] {
  return err.issues.map((i) => `${pathString(prefix, i.path)}: ${clip(i.message)}`);
}

/** Parse and validate unknown JSON as a case. Throws CaseError naming every problem. */
export function parseCase(input: unknown, limits: Limits = DEFAULT_LIMITS, source?: string): Case {
  const problems = validateCase(input, limits);
  if (problems.length) throw new CaseError(problems, source);
  return input as Case;
}

export function validateCase(input: unknown, limits: Limits = DEFAULT_LIMITS): string[] {
  const top = caseSchema.safeParse(input);
  if (!top.success) return zodProblems('', top.error);
  const problems: string[] = [];
  const ops = top.data.ops;
  // past the op limit nothing else is looked at: the work stays bounded whatever the input's size
  if (ops.length > limits.maxOps) return [`ops: ${ops.length} ops exceed the limit of ${limits.maxOps}`];
  const parsed: Op[] = [];
  ops.forEach((raw, i) => {
    const kind = (raw as { op?: unknown } | null)?.op;
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
      problems.push(`ops[${i}]: expected an object`);
    } else if (typeof kind !== 'string' || !(OP_NAMES as string[]).includes(kind)) {
      problems.push(`ops[${i}].op: unknown op ${show(kind, 60)} (expected one of ${OP_NAMES.join(', ')})`);
    } else {
      const r = opSchemas[kind as OpName].safeParse(raw);
      if (r.success) parsed[i] = r.data as Op;
      else problems.push(...zodProblems(`ops[${i}]`, r.error));
    }
  });
  if (problems.length) return problems;
  return structuralProblems(top.data as Case, parsed, limits);
}

/** The structural problems of a case built by ptefarm's own generators (src/campaign/: typed ops
 *  from CaseBuilder/OpGen, never parsed input): the plan's walk without the zod shape check, which
 *  costs the coordinator a third of a generated case. Input from anywhere else goes through
 *  validateCase. */
export function generatedCaseProblems(c: Case, limits: Limits = DEFAULT_LIMITS): string[] {
  if (c.ops.length === 0) return ['ops: a case needs at least one op'];
  if (c.ops.length > limits.maxOps) return [`ops: ${c.ops.length} ops exceed the limit of ${limits.maxOps}`];
  return structuralProblems(c, c.ops, limits);
}

function structuralProblems(c: Case, ops: Op[], limits: Limits): string[] {
  const plan = new CasePlan({ uffd: c.uffd !== undefined, limits });
  const problems: string[] = [];
  if (c.format === 'ptefarm-case/1') {
    // what /2 added is refused in a /1 case, naming the field, so that a /1 reader never meets it
    ops.forEach((op, i) => {
      if (V2_OPS.has(op.op)) problems.push(`ops[${i}].op: ${op.op} needs "format": "ptefarm-case/2"`);
      else if (op.op === 'scan') for (const f of V2_SCAN_FIELDS) if (op[f] !== undefined) problems.push(`ops[${i}].${f}: needs "format": "ptefarm-case/2"`);
    });
    if (problems.length) return problems;
  }
  if (c.format !== 'ptefarm-case/3') {
    // hugetlb kinds came with /3
    ops.forEach((op, i) => { if (needsV3(op)) problems.push(`ops[${i}].kind: ${(op as { kind: string }).kind} needs "format": "ptefarm-case/3"`); });
    if (problems.length) return problems;
  }
  ops.forEach((op, i) => { problems.push(...plan.step(op, i)); });
  return problems;
}
