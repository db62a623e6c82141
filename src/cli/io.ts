// Shared CLI plumbing: reading case/trace files with errors that name the file and the problem.
import { readFileSync } from 'node:fs';
import type { Case } from '../ops/schema.ts';
import { parseCase } from '../ops/validate.ts';
import { parseTextCase } from '../ops/text.ts';
import { traceSchema, type Trace } from '../ops/trace.ts';
import { clip, someProblems } from '../ops/bounded.ts';

/** An error for bad input: the CLI prints its message and exits 2. */
export class InputError extends Error {}

/** A file's text (`-`: standard input); an InputError naming the file when it cannot be read */
export function readText(path: string): string {
  try { return readFileSync(path === '-' ? 0 : path, 'utf8'); } catch (e) { throw new InputError(`${path}: cannot read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`); }
}

function parseJson(text: string, path: string): unknown {
  try { return JSON.parse(text); } catch (e) { throw new InputError(`${path}: not valid JSON: ${(e as Error).message}`); }
}

export function readJson(path: string): unknown {
  return parseJson(readText(path), path);
}

/** A case file in either form (docs/case-format.md "Text form"): JSON when its first non-blank
 *  character is `{`, else the text form `ptefarm fmt` prints; both validated, errors naming the
 *  file and the op (JSON) or line (text) */
export function readCase(path: string): Case {
  const text = readText(path);
  try {
    return /^\s*\{/.test(text) ? parseCase(parseJson(text, path), undefined, path) : parseTextCase(text, path);
  } catch (e) { throw e instanceof InputError ? e : new InputError((e as Error).message); }
}

export function readTrace(path: string): Trace {
  return parseTrace(readJson(path), path);
}

/** Parse unknown JSON as a trace; InputError naming every problem (bounded) otherwise. */
export function parseTrace(json: unknown, path = '(trace)'): Trace {
  const r = traceSchema.safeParse(json);
  if (!r.success) throw new InputError(`${path}: invalid trace:\n  ${someProblems(r.error.issues.map((i) => `${clip(i.path.map((p) => clip(String(p), 40)).join('.')) || '(trace)'}: ${clip(i.message)}`)).join('\n  ')}`);
  return r.data as Trace;
}

/** a warning line on stderr (e.g. a target's host warnings) */
export function warn(line: string): void {
  process.stderr.write(`ptefarm: warning: ${line}\n`);
}

/** Run a command body; InputError and target errors exit 2 with the message on stderr. */
export async function guarded(body: () => Promise<number | void>): Promise<never> {
  let code: number;
  try { code = (await body()) ?? 0; } catch (e) {
    process.stderr.write(`ptefarm: ${(e as Error).message}\n`);
    code = 2;
  }
  process.exitCode = code;
  return undefined as never;
}

/** JSON printed by the CLI (summaries, --json events) uses snake_case keys: src/ops/records.ts snakeKeys. */
export { snakeKeys } from '../ops/records.ts';
