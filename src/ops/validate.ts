// Reading a case: the zod schema for shape, then a structural walk for what a schema cannot say
// (regions and processes that exist at each point, ranges inside regions, limits: the static plan
// of src/ops/plan.ts, stepped op by op). Every problem
// is reported as `ops[i].field: message`, all of them at once.
import { z } from 'zod';
import { caseSchema, opSchemas, OP_NAMES, type Case, type Op, type OpName } from './schema.ts';
import { DEFAULT_LIMITS, type Limits } from './layout.ts';
import { CasePlan } from './plan.ts';

export class CaseError extends Error {
  constructor(readonly problems: string[], source?: string) {
    super(`${source ? source + ': ' : ''}invalid case:\n  ${problems.join('\n  ')}`);
    this.name = 'CaseError';
  }
}

function pathString(prefix: string, path: PropertyKey[]): string {
  let s = prefix;
  for (const p of path) s += typeof p === 'number' ? `[${p}]` : s ? `.${String(p)}` : String(p);
  return s || '(case)';
}

function zodProblems(prefix: string, err: z.ZodError): string[] {
  return err.issues.map((i) => `${pathString(prefix, i.path)}: ${i.message}`);
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
  if (ops.length > limits.maxOps) problems.push(`ops: ${ops.length} ops exceed the limit of ${limits.maxOps}`);
  const parsed: Op[] = [];
  ops.forEach((raw, i) => {
    const kind = (raw as { op?: unknown } | null)?.op;
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
      problems.push(`ops[${i}]: expected an object`);
    } else if (typeof kind !== 'string' || !(OP_NAMES as string[]).includes(kind)) {
      problems.push(`ops[${i}].op: unknown op ${JSON.stringify(kind)} (expected one of ${OP_NAMES.join(', ')})`);
    } else {
      const r = opSchemas[kind as OpName].safeParse(raw);
      if (r.success) parsed[i] = r.data as Op;
      else problems.push(...zodProblems(`ops[${i}]`, r.error));
    }
  });
  if (problems.length) return problems;
  return structuralProblems(top.data as Case, parsed, limits);
}

function structuralProblems(c: Case, ops: Op[], limits: Limits): string[] {
  const plan = new CasePlan({ uffd: c.uffd !== undefined, limits });
  const problems: string[] = [];
  ops.forEach((op, i) => { problems.push(...plan.step(op, i)); });
  return problems;
}
