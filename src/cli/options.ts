// The flags shared by the commands that run campaigns (`fuzz`, `coordinator`, `gate`) and by those
// that only need the work directory (`minimize`, `replay`, `corpus`), registered with one wording.
// Their values are parsed and defaulted in src/campaign/config.ts (resolveCampaignFlags).
import { Option, type Command } from 'commander';
import { DEFAULT_CASES, DEFAULT_SEED, DEFAULT_TIMEOUT, DEFAULT_WORKDIR } from '../campaign/config.ts';

export function addWorkdirOption(cmd: Command): Command {
  return cmd.option('--workdir <dir>', `work directory holding findings/ and runs/ (default ./${DEFAULT_WORKDIR} under the current directory)`);
}

export const TIMEOUT_HELP = `per-case timeout: 500ms, 30s, 2m (default ${DEFAULT_TIMEOUT})`;

/**
 * --cases, --duration, --seed, --timeout, --workdir, --no-save for every campaign; with `fuzzing`
 * (fuzz, coordinator) also --stop-after, --no-minimize and the hidden old spellings
 * (--stop-after-buckets, --first, and --corpus, which now only explains where findings went).
 */
export function addCampaignOptions(cmd: Command, o: { fuzzing: boolean }): Command {
  cmd
    .option('-n, --cases <n>', `fresh cases to generate (default ${DEFAULT_CASES} unless --duration)`)
    .option('-d, --duration <time>', 'generate fresh cases for this long instead: 30s, 5m, 2h')
    .option('-s, --seed <n>', `generator seed: an integer, or "random" (default ${DEFAULT_SEED}; the summary names the seed used)`)
    .option('--timeout <time>', TIMEOUT_HELP)
    .option('--no-save', 'do not record findings in the work directory');
  addWorkdirOption(cmd);
  if (o.fuzzing) {
    cmd
      .option('--stop-after <n>', 'stop once this many buckets (distinct findings) exist')
      .addOption(new Option('--stop-after-buckets <n>', 'old spelling of --stop-after').hideHelp())
      .addOption(new Option('--first', 'old spelling of --stop-after 1').hideHelp())
      .option('--no-minimize', 'do not minimize findings')
      .addOption(new Option('--corpus <dir>', 'removed: findings go to --workdir').hideHelp());
  }
  return cmd;
}
