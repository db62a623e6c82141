// `ptefarm repro CASE`: write a standalone C reproducer (kselftest style) of a case that checks
// every bit the reference model expects (src/report/repro.ts). Exit 2 when the case cannot be
// expressed in C (the error names the op) or the input is bad.
import { writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { generateRepro, ReproError } from '../../report/repro.ts';
import { openTarget } from '../../targets/registry.ts';
import type { Trace } from '../../ops/trace.ts';
import { guarded, InputError, readCase, readTrace } from '../io.ts';

interface Opts { expectFrom: string; output?: string; outcomes?: string; outcomesFrom?: string }

export function register(program: Command) {
  program.command('repro')
    .description('write a short standalone C program (one block of plain syscalls per op; KTAP output, exit 0 pass / 1 fail / 4 skip, --bisect: skip -> 125) that runs a case and checks every bit the model expects')
    .argument('<case>', 'case file (JSON, or the text form ptefarm fmt prints)')
    .option('--expect-from <model>', 'the model whose predictions the program checks', 'model:x86')
    .option('-o, --output <file>', 'write the C source here (default: stdout)')
    .option('--outcomes <trace>', 'assume the outcomes (THP, reclaim) of this recorded trace instead of the model\'s neutral ones')
    .option('--outcomes-from <target>', 'run the case once on this target (e.g. live) and assume its outcomes')
    .action((file: string, o: Opts) => guarded(async () => {
      const c = readCase(file);
      let outcomes: Trace | undefined;
      if (o.outcomes && o.outcomesFrom) throw new InputError('give --outcomes or --outcomes-from, not both');
      if (o.outcomes) outcomes = readTrace(o.outcomes);
      if (o.outcomesFrom) {
        const t = await openTarget(o.outcomesFrom);
        try { outcomes = await t.execute(c); } finally { await t.close(); }
        if (outcomes.fault || outcomes.skipped) throw new Error(`--outcomes-from ${o.outcomesFrom}: the case did not run: ${outcomes.fault ?? outcomes.skipped}`);
      }
      let src: string;
      try { src = generateRepro(c, { expectFrom: o.expectFrom, outcomes, source: file }); }
      catch (e) { if (e instanceof ReproError) throw new InputError(`${file}: ${e.message}`); throw e; }
      if (o.output) {
        writeFileSync(o.output, src);
        process.stderr.write(`wrote ${o.output}: compile with \`cc -o repro ${o.output}\`, run ./repro (exit 0 pass, 1 fail, 4 skip; ./repro --bisect for \`git bisect run\`: skip -> 125)\n`);
      } else process.stdout.write(src);
      return 0;
    }));
}
