// The subcommands: each module under src/cli/commands exports a `register(program)` that defines
// its commands. This list names the commands each module defines, so that main.ts imports only the
// module of the command being run (start-up time, issue 13: `fuzz` pulls in piscina and NATS,
// `rules` must not). Add new modules here; test/cli/commands.test.ts checks the names match.
import type { Command } from 'commander';

export type Register = (program: Command) => void;

export interface CommandModule {
  /** the top-level command names the module's register() defines */
  names: readonly string[];
  load: () => Promise<{ register: Register }>;
}

export const commandModules: readonly CommandModule[] = [
  { names: ['run'], load: () => import('./run.ts') },
  { names: ['check'], load: () => import('./check.ts') },
  { names: ['rules', 'mutants'], load: () => import('./catalogue.ts') },
  { names: ['fmt'], load: () => import('./fmt.ts') },
  { names: ['probe'], load: () => import('./probe.ts') },
  { names: ['serve'], load: () => import('./serve.ts') },
  { names: ['setup', 'setup-swap'], load: () => import('./setup.ts') },
  { names: ['gate'], load: () => import('./gate.ts') },
  { names: ['report'], load: () => import('./report.ts') },
  { names: ['repro'], load: () => import('./repro.ts') },
  { names: ['fuzz'], load: () => import('./fuzz.ts') },
  { names: ['replay'], load: () => import('./replay.ts') },
  { names: ['minimize'], load: () => import('./minimize.ts') },
  { names: ['corpus'], load: () => import('./corpus.ts') },
  { names: ['coordinator'], load: () => import('./coordinator.ts') },
  { names: ['worker'], load: () => import('./worker.ts') },
  { names: ['qemu'], load: () => import('./qemu.ts') },
  { names: ['matrix'], load: () => import('./matrix.ts') },
  { names: ['selftests'], load: () => import('./selftests.ts') },
];

/** The modules a command line needs: the one defining the named command (also for `help NAME`);
 *  none for a bare `--version`; all of them for help, no command, or an unknown name (so that
 *  commander can list them or suggest the closest). */
export function modulesFor(args: readonly string[]): readonly CommandModule[] {
  const words = args.filter((a) => !a.startsWith('-'));
  const name = words[0] === 'help' ? words[1] : words[0];
  if (name === undefined) {
    const onlyVersion = args.length > 0 && args.every((a) => a === '-V' || a === '--version');
    return onlyVersion ? [] : commandModules;
  }
  const m = commandModules.find((d) => d.names.includes(name));
  return m ? [m] : commandModules;
}
