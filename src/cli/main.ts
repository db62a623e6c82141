// The one `ptefarm` command. Each subcommand lives in its own module under src/cli/commands and
// registers itself on the program; exit codes: 0 ok, 1 finding/violation, 2 bad input or target error.
import { Command } from 'commander';
import { commands } from './commands/index.ts';

const program = new Command('ptefarm')
  .description('Fuzz and property-check soft-dirty and uffd-wp tracking against the x86 reference model')
  .showHelpAfterError()
  .exitOverride((err) => { process.exit(err.exitCode === 0 ? 0 : 2); });

for (const register of commands) register(program);

// a closed pipe (`ptefarm rules | head`) is not an error
process.stdout.on('error', (e: NodeJS.ErrnoException) => { if (e.code === 'EPIPE') process.exit(0); throw e; });

try {
  await program.parseAsync(process.argv);
} catch (e) {
  process.stderr.write(`ptefarm: ${(e as Error).message}\n`);
  process.exit(2);
}
