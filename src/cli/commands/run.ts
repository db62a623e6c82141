// `ptefarm run --target T CASE`: execute a case on a target and print its trace JSON.
import type { Command } from 'commander';
import { openTarget } from '../../targets/registry.ts';
import { guarded, readCase } from '../io.ts';

export function register(program: Command) {
  program.command('run')
    .description('execute a case on a target and print the trace JSON')
    .requiredOption('-t, --target <spec>', 'target: model:x86[+MUTANT], live, exec:CMD')
    .argument('<case>', 'case file (JSON, or the text form ptefarm fmt prints)')
    .action((file: string, o: { target: string }) => guarded(async () => {
      const c = readCase(file);
      const t = await openTarget(o.target);
      try {
        const trace = await t.execute(c);
        process.stdout.write(JSON.stringify(trace) + '\n');
        return trace.fault ? 2 : 0;
      } finally { await t.close(); }
    }));
}
