// `ptefarm serve --target T`: the exec: protocol on this process's own stdin/stdout, for any
// target. Each input line is one ptefarm-case/1 JSON document; each gets exactly one output line,
// a ptefarm-trace/1 JSON document. A line that is not a valid case is answered with a trace whose
// `fault` names the problem (and no steps), so the peer never waits for an answer that won't come.
import { createInterface } from 'node:readline';
import type { Command } from 'commander';
import { openTarget } from '../../targets/registry.ts';
import { validateCase } from '../../ops/validate.ts';
import type { Case } from '../../ops/schema.ts';
import type { Trace, TargetInfo } from '../../ops/trace.ts';
import type { Target } from '../../targets/target.ts';
import { someProblems } from '../../ops/bounded.ts';

export async function serve(target: Target, input: NodeJS.ReadableStream, output: NodeJS.WritableStream): Promise<number> {
  let info: TargetInfo | undefined;
  const getInfo = async () => (info ??= await target.info());
  let n = 0;
  const rl = createInterface({ input, crlfDelay: Infinity });
  for await (const line of rl) {
    if (!line.trim()) continue;
    n++;
    let trace: Trace;
    let json: unknown;
    try { json = JSON.parse(line); } catch (e) { json = undefined; trace = { format: 'ptefarm-trace/1', target: await getInfo(), steps: [], fault: `input line ${n} is not JSON: ${(e as Error).message}` }; }
    if (json !== undefined) {
      const problems = validateCase(json);
      if (problems.length) trace = { format: 'ptefarm-trace/1', target: await getInfo(), steps: [], fault: `invalid case on input line ${n}: ${someProblems(problems, 8).join('; ')}` };
      else {
        try { trace = await target.execute(json as Case); } catch (e) {
          trace = { format: 'ptefarm-trace/1', target: await getInfo(), steps: [], fault: `target error: ${(e as Error).message}` };
        }
      }
    }
    output.write(JSON.stringify(trace!) + '\n');
  }
  return n;
}

export function register(program: Command): void {
  program
    .command('serve')
    .description('read one case JSON per line on stdin, run it on a target, write one trace JSON per line on stdout (the exec: protocol)')
    .requiredOption('-t, --target <spec>', 'target to run cases on, e.g. live or model:x86')
    .action(async (opts: { target: string }) => {
      let target: Target;
      try { target = await openTarget(opts.target); } catch (e) {
        process.stderr.write(`ptefarm serve: ${(e as Error).message}\n`);
        process.exitCode = 2;
        return;
      }
      try { await serve(target, process.stdin, process.stdout); } finally { await target.close(); }
    });
}
