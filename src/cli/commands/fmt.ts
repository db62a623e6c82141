// `ptefarm fmt CASE.json` prints a case in the compact text form; `ptefarm fmt --json CASE.txt`
// converts the text form back to ptefarm-case/1 JSON. Both validate: a bad file is an error naming
// the line (text) or the op index and field (JSON), exit 2.
import type { Command } from 'commander';
import { parseCase, CaseError } from '../../ops/validate.ts';
import { formatText, parseTextCase, TextError } from '../../ops/text.ts';
import type { Case } from '../../ops/schema.ts';
import { readText } from '../io.ts';

/** JSON with one op per line: diff-friendly and what corpus files use. */
export function formatCaseJson(c: Case): string {
  const head: string[] = [`  "format": ${JSON.stringify(c.format)}`];
  if (c.name !== undefined) head.push(`  "name": ${JSON.stringify(c.name)}`);
  if (c.uffd !== undefined) head.push(`  "uffd": ${JSON.stringify(c.uffd)}`);
  const ops = c.ops.map((op) => `    ${JSON.stringify(op)}`).join(',\n');
  return `{\n${head.join(',\n')},\n  "ops": [\n${ops}\n  ]\n}\n`;
}

export function fmtCommand(file: string, opts: { json?: boolean; indices?: boolean }): string {
  const src = readText(file);
  if (opts.json) return formatCaseJson(parseTextCase(src, file));
  let json: unknown;
  try {
    json = JSON.parse(src);
  } catch (e) {
    const hint = /^\s*(ptefarm-case\/|name |uffd|\d+\s+\w|mmap )/.test(src) ? ' (this looks like the text form: use fmt --json to convert it)' : '';
    throw new Error(`${file}: not JSON: ${(e as Error).message}${hint}`);
  }
  return formatText(parseCase(json, undefined, file), { indices: opts.indices });
}

export function register(program: Command): void {
  program
    .command('fmt')
    .description('print a case JSON file in the compact text form (one op per line); --json converts text back to JSON')
    .argument('<file>', 'case file (JSON, or text with --json); - for stdin')
    .option('--json', 'read the text form and print ptefarm-case/1 JSON')
    .option('--no-indices', 'text output without the leading op index')
    .action((file: string, opts: { json?: boolean; indices?: boolean }) => {
      try {
        process.stdout.write(fmtCommand(file, opts));
      } catch (e) {
        if (e instanceof CaseError || e instanceof TextError || e instanceof Error) {
          process.stderr.write(`ptefarm fmt: ${e.message}\n`);
          process.exitCode = 2;
          return;
        }
        throw e;
      }
    });
}
