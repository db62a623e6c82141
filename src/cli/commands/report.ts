// `ptefarm report RUN_DIR`: regenerate the reports (JUnit, KTAP, markdown, HTML) of a stored run.
import type { Command } from 'commander';
import { loadRun, writeReports } from '../../report/rundir.ts';
import { guarded, InputError } from '../io.ts';

export function register(program: Command) {
  program.command('report')
    .description('regenerate the reports (junit.xml, ktap.txt, summary.md, report.html) of a stored run directory')
    .argument('<run-dir>', 'a directory written by `ptefarm gate` (or `fuzz --out`)')
    .option('--junit <file>', 'also write the JUnit XML here')
    .option('--ktap <file>', 'also write the KTAP report here')
    .option('--markdown <file>', 'also write the markdown summary here')
    .option('--html <file>', 'also write the HTML report here')
    .action((dir: string, o: { junit?: string; ktap?: string; markdown?: string; html?: string }) => guarded(async () => {
      try { await loadRun(dir); } catch (e) { throw new InputError((e as Error).message); }
      const written = await writeReports(dir, o);
      for (const p of Object.values(written).flat()) process.stdout.write(`${p}\n`);
      return 0;
    }));
}
