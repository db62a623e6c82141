// The one `ptefarm` command. Each subcommand lives in its own module under src/cli/commands and
// registers itself on the program; only the module of the command being run is imported
// (commands/index.ts), so `ptefarm --version` or `ptefarm rules` start fast.
// Exit codes: 0 ok, 1 finding/violation, 2 bad input or target error.
import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { modulesFor } from './commands/index.ts';
import { packagePath } from '../package-root.ts';

const { version } = JSON.parse(readFileSync(packagePath('package.json'), 'utf8')) as { version: string };

const program = new Command('ptefarm')
  .description('Fuzz and property-check soft-dirty and uffd-wp tracking against the x86 reference model')
  .version(version, '-V, --version', 'print the version of ptefarm')
  .showHelpAfterError()
  .exitOverride((err) => { process.exit(err.exitCode === 0 ? 0 : 2); });

for (const m of await Promise.all(modulesFor(process.argv.slice(2)).map((d) => d.load()))) m.register(program);

// a closed pipe (`ptefarm rules | head`) is not an error
process.stdout.on('error', (e: NodeJS.ErrnoException) => { if (e.code === 'EPIPE') process.exit(0); throw e; });

try {
  await program.parseAsync(process.argv);
} catch (e) {
  process.stderr.write(`ptefarm: ${(e as Error).message}\n`);
  process.exit(2);
}
