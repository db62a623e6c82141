// `ptefarm gate --target T`: the merge gate (src/gate/gate.ts). Replays the corpus, runs a fixed
// deterministic budget of fresh cases, fails only on new reproducible violations, writes the run
// directory (gate.json, cases, traces, reports; default <workdir>/runs/gate-<time>) and records
// the campaign's findings in the work directory, never in corpus/. Exit 0 pass, 1 new reproducible
// violation, 2 infrastructure error.
import type { Command } from 'commander';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { openCheckedTarget } from '../../targets/registry.ts';
import { parseModelSpec } from '../../targets/model.ts';
import { profileForRelease } from '../../model/profile.ts';
import { referenceChecker } from '../../campaign/checker.ts';
import { generateOptionsFor } from '../../campaign/target-fit.ts';
import { DEFAULT_CORPUS_DIRS } from '../../campaign/corpus.ts';
import { EmbeddedTransport } from '../../transport/embedded.ts';
import type { TargetInfo } from '../../ops/trace.ts';
import { runGate } from '../../gate/gate.ts';
import { readBaseline, type Baseline } from '../../gate/baseline.ts';
import { saveRun, writeReports } from '../../report/rundir.ts';
import { parseCount, resolveCampaignFlags, runsDir, type CampaignFlags } from '../../campaign/config.ts';
import { guarded, InputError, warn } from '../io.ts';
import { addCampaignOptions } from '../options.ts';
import { addUiOptions, openUi, poolWorkers, type UiFlags } from '../../ui/attach.ts';

interface Opts extends Omit<CampaignFlags, 'corpus'>, UiFlags {
  target: string; corpus?: string[]; baseline?: string;
  junit?: string; ktap?: string; markdown?: string; html?: string; out?: string; threads?: string;
  reproduce: string; quiet?: boolean;
}

export function stamp(d = new Date()): string {
  return d.toISOString().replace(/[-:]/g, '').replace(/\..*/, '').replace('T', '-');
}

export function register(program: Command) {
  const cmd = program.command('gate')
    .description('gate a merge: replay the corpus, run a fixed budget of fresh cases, fail only on new reproducible violations')
    .requiredOption('-t, --target <spec>', 'target: model:x86[+MUTANT], live, exec:CMD')
    .option('--corpus <dir...>', `corpus directories or files to replay (default ${DEFAULT_CORPUS_DIRS.join(' ')})`)
    .option('--baseline <file>', 'JSON list of accepted signatures, each with a reason')
    .option('--junit <file>', 'also write the JUnit XML report here')
    .option('--ktap <file>', 'also write the KTAP report here')
    .option('--markdown <file>', 'also write the markdown summary here')
    .option('--html <file>', 'also write the HTML report here')
    .option('--out <dir>', 'run directory (default <workdir>/runs/gate-<time>)')
    .option('-j, --threads <k>', 'worker threads (default: available parallelism, at most 8; 1 on live)')
    .option('--reproduce <n>', 're-runs of each failing case; it must fail every time to fail the gate', '3')
    .option('--profile <name>', 'kernel profile of the reference model (default: the target\'s)')
    .option('-q, --quiet', 'no progress lines on stderr');
  addUiOptions(addCampaignOptions(cmd, { fuzzing: false }))
    .action((o: Opts) => guarded(async () => {
      // --cases 0: replay the corpus only
      const { seed, cases, durationMs, timeoutMs, workdir, save } = resolveCampaignFlags(o);
      const reproduceRuns = parseCount('reproduce', o.reproduce, 1)!;
      const threads = parseCount('threads', o.threads, 1);
      let baseline: Baseline | undefined;
      if (o.baseline) { try { baseline = readBaseline(o.baseline); } catch (e) { throw new InputError((e as Error).message); } }
      const outDir = o.out ?? join(runsDir(workdir), `gate-${stamp()}`);
      const log = o.quiet ? () => undefined : (l: string) => process.stderr.write(l + '\n');

      // the target must start before anything else: otherwise exit 2 with the reason
      let info: TargetInfo;
      try {
        const t = await openCheckedTarget(o.target, warn);
        try { info = await t.info(); } finally { await t.close(); }
      } catch (e) { throw new Error(`target ${o.target} cannot start: ${(e as Error).message}`); }
      const profile = o.profile ?? (o.target.startsWith('model:') ? parseModelSpec(o.target).profile : profileForRelease(info.kernel));
      const checker = await referenceChecker({ profile });
      const transport = new EmbeddedTransport({ threads: threads ?? Math.min(availableParallelism(), o.target === 'live' ? 1 : 8), timeoutMs });
      const ui = await openUi(o, 'gate', {
        target: o.target, seed, profile, workdir: save ? workdir : undefined,
        options: { target: o.target, seed, cases, duration_ms: durationMs, timeout_ms: timeoutMs, reproduce: reproduceRuns, corpus: (o.corpus ?? DEFAULT_CORPUS_DIRS).join(' '), baseline: o.baseline, profile, threads: transport.concurrency, out: outDir, workdir: save ? workdir : '(not saving)' },
      });
      ui?.state.setWorkers(poolWorkers(transport, o.target));
      ui?.state.setTargetInfo(info);
      ui?.state.note('the gate replays the corpus first; the figures below are its fresh cases');
      const ac = new AbortController();
      const onInt = () => ac.abort();
      process.once('SIGINT', onInt);
      try {
        const run = await runGate({
          target: o.target, transport, checker, corpusDirs: o.corpus ?? DEFAULT_CORPUS_DIRS, seed, cases, durationMs,
          baseline, baselineFile: o.baseline, reproduceRuns, timeoutMs, outDir, targetInfo: info, profile, signal: ac.signal, log,
          // the fresh cases fit what the target can run and show, as fuzz's do
          generate: generateOptionsFor(info),
          workdir: save ? workdir : undefined, onEvent: ui ? (e) => ui.state.onEvent(e) : undefined,
        });
        ui?.state.finished(`gate ${run.verdict}`);
        await saveRun(outDir, run);
        const written = await writeReports(outDir, { junit: o.junit, ktap: o.ktap, markdown: o.markdown, html: o.html });
        process.stdout.write(`gate ${run.verdict.toUpperCase()} (exit ${run.exit_code}) on ${o.target} in ${run.elapsed_s} s\n`);
        for (const r of run.reasons) process.stdout.write(`  ${r}\n`);
        process.stdout.write(`run directory: ${outDir} (${Object.values(written).flat().length} report file(s))\n`);
        return run.exit_code;
      } finally {
        process.off('SIGINT', onInt);
        await transport.close();
        await ui?.close();
      }
    }));
}
