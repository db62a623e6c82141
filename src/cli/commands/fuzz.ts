// `ptefarm fuzz`: a coverage-guided campaign against one target on the embedded transport.
// Exit 0 when nothing was found, 1 when some violation bucket was, 2 on bad input.
// --json: JSON-lines events on stdout (snake_case keys), the last line being the summary object.
// Findings are recorded in the work directory (--workdir, default ./ptefarm-work), never in corpus/.
import { availableParallelism } from 'node:os';
import type { Command } from 'commander';
import cliProgress from 'cli-progress';
import { runCampaign, type CampaignEvent, type Summary } from '../../campaign/campaign.ts';
import { generateOptionsFor } from '../../campaign/target-fit.ts';
import { referenceChecker } from '../../campaign/checker.ts';
import { InProcessTransport } from '../../campaign/inprocess.ts';
import { parseCount, resolveCampaignFlags, type CampaignFlags } from '../../campaign/config.ts';
import { EmbeddedTransport } from '../../transport/embedded.ts';
import type { Transport } from '../../transport/transport.ts';
import { openCheckedTarget } from '../../targets/registry.ts';
import { guarded, InputError, snakeKeys, warn } from '../io.ts';
import { clip } from '../../ops/bounded.ts';
import { addCampaignOptions } from '../options.ts';
import { saveFuzzRun } from '../../gate/fuzzrun.ts';
import { addFarmCampaignOptions, fuzzThroughFarm, type FuzzFarmFlags } from './coordinator.ts';
import { addNatsAuthOptions } from '../../transport/nats-cli.ts';
import { addUiOptions, openUi, poolWorkers, type UiFlags } from '../../ui/attach.ts';
import type { TargetInfo } from '../../ops/trace.ts';

interface Opts extends CampaignFlags, UiFlags {
  target: string; threads?: string; json?: boolean; out?: string;
}

/** how many distinct fault texts the text summary lists (the --json events carry every one) */
const FAULT_REASONS_SHOWN = 10;

/** The faults of a campaign by text (clipped), counted, the first FAULT_REASONS_SHOWN distinct
 *  ones: the text summary says what went wrong, not only how often. */
export class FaultTally {
  private readonly byText = new Map<string, number>();
  private others = 0;
  add(fault: string): void {
    const k = clip(fault);
    const n = this.byText.get(k);
    if (n !== undefined) this.byText.set(k, n + 1);
    else if (this.byText.size < FAULT_REASONS_SHOWN) this.byText.set(k, 1);
    else this.others++;
  }
  lines(): string[] {
    const out = [...this.byText].map(([k, n]) => `  fault (${n} case(s)): ${k}`);
    if (this.others) out.push(`  … and ${this.others} fault(s) of other kinds (--json lists every fault event)`);
    return out;
  }
}

export function formatSummary(s: Summary, faults?: FaultTally): string {
  const lines = [
    `${s.target}: ${s.cases} cases in ${s.elapsed_s}s (${s.cases_per_s}/s), seed ${s.seed}, stopped: ${s.stopped}`,
    `violations: ${s.violations} case(s), faults: ${s.faults}, skipped: ${s.skipped}, buckets: ${s.buckets.length}`,
    ...(faults?.lines() ?? []),
    `rule coverage: ${s.coverage.rules_hit}/${s.coverage.rules_total}`,
  ];
  for (const b of s.buckets) {
    lines.push(`  ${b.title}`);
    lines.push(`      [${b.hits} hit(s)] ${b.signature} — ${b.ops} op(s)${b.minimized ? ', minimized' : ''}${b.reliability ? `, reproduced ${b.reliability}` : ''}${b.file ? ` -> ${b.file}` : ''}`);
    // step and pages of the case printed above (the bucket's stored case), not of the first hit
    lines.push(`      first divergence: ${b.example}${b.consequences ? ` (+${b.consequences} later violation(s))` : ''}`);
  }
  return lines.join('\n');
}

export function register(program: Command) {
  const cmd = program.command('fuzz')
    .description('coverage-guided fuzzing campaign against a target; buckets and minimizes findings and records them in the work directory')
    .requiredOption('-t, --target <spec>', 'target: model:x86[+MUTANT], live, exec:CMD')
    .option('-j, --threads <k>', 'worker threads (0 = run in this thread)', String(availableParallelism()))
    .option('--json', 'JSON-lines events; the last line is the summary')
    .option('--profile <name>', 'kernel profile of the reference model')
    .option('--out <dir>', 'run directory: summary (gate.json), bucket cases and traces, reports (src/report)')
    .option('--nats <url>', 'run the campaign through a NATS JetStream farm of `ptefarm worker` processes (see `ptefarm coordinator`)');
  addCampaignOptions(cmd, { fuzzing: true })
    .action((o: Opts) => guarded(async () => {
      if ((o as { nats?: string }).nats) return fuzzThroughFarm(o as Opts & FuzzFarmFlags);
      const { seed, cases, durationMs, timeoutMs, stopAfterBuckets, workdir, save, minimize } = resolveCampaignFlags(o);
      const threads = parseCount('threads', o.threads, 0)!;
      // fail early, in this thread, on a bad target spec
      let info: TargetInfo;
      try {
        const t = await openCheckedTarget(o.target, warn);
        // what it can run and show sizes the generated cases (generateOptionsFor)
        try { info = await t.info(); } finally { await t.close(); }
      } catch (e) { throw new InputError((e as Error).message); }
      // the cases fit what the target can run and show: its page geometry, hugetlb pages, soft-dirty
      const generate = generateOptionsFor(info);
      const checker = await referenceChecker({ profile: o.profile });
      const ui = await openUi(o, 'fuzz', {
        target: o.target, seed, profile: o.profile, workdir: save ? workdir : undefined,
        options: { target: o.target, seed, cases, duration_ms: durationMs, timeout_ms: timeoutMs, stop_after: stopAfterBuckets, minimize, threads, profile: o.profile, workdir: save ? workdir : '(not saving)', transport: threads === 0 ? 'in-thread' : 'embedded pool' },
      });
      const transport: Transport = threads === 0 ? new InProcessTransport() : new EmbeddedTransport({ threads });
      ui?.state.setWorkers(poolWorkers(transport, o.target));
      ui?.state.setTargetInfo(o.ui ? info : undefined);
      const ctl = new AbortController();
      let interrupts = 0;
      const onSigint = () => {
        if (++interrupts > 1) process.exit(130);
        ctl.abort();
      };
      process.on('SIGINT', onSigint);
      const out = (x: unknown) => process.stdout.write(JSON.stringify(x) + '\n');
      const tty = !o.json && process.stderr.isTTY;
      const byTime = durationMs !== undefined && o.cases === undefined;
      const total = byTime ? Math.round(durationMs / 1000) : cases!;
      const bar = tty ? new cliProgress.SingleBar({
        stream: process.stderr,
        format: `fuzz {bar} {value}/{total} ${byTime ? 's' : 'cases'} | {cps} cases/s | {viol} violations | {buckets} buckets | rules {rules}`,
        hideCursor: true, clearOnComplete: false,
      }, cliProgress.Presets.shades_classic) : undefined;
      bar?.start(total, 0, { cps: 0, viol: 0, buckets: 0, rules: `0/${checker.rulesTotal}` });
      let lastJsonProgress = 0;
      const timeline = [{ t: 0, cases: 0 }];
      // a fault is never a verdict, but the summary says what it was (an environment fault, a
      // crashed or hung executor, a result that could not be recorded)
      const faults = new FaultTally();
      const onEvent = (e: CampaignEvent) => {
        ui?.state.onEvent(e);
        if (e.type === 'fault') faults.add(e.fault);
        if (e.type === 'progress') {
          const st = e.stats;
          timeline.push({ t: Math.round(st.elapsedMs) / 1000, cases: st.completed });
          bar?.update(byTime ? Math.min(total, Math.round(st.elapsedMs / 1000)) : st.completed, {
            cps: (st.completed / Math.max(st.elapsedMs / 1000, 1e-3)).toFixed(0), viol: st.violations, buckets: st.buckets, rules: `${st.rulesHit}/${st.rulesTotal}`,
          });
          if (o.json && st.elapsedMs - lastJsonProgress >= 1000) { lastJsonProgress = st.elapsedMs; out(snakeKeys({ event: 'progress', ...st })); }
          return;
        }
        if (o.json) out(snakeKeys({ event: e.type, ...Object.fromEntries(Object.entries(e).filter(([k]) => k !== 'type' && k !== 'trace' && !(k === 'case' && (e.type === 'bucket' || e.type === 'minimized')))) }));
        else if (!tty && (e.type === 'bucket' || e.type === 'minimized' || e.type === 'saved')) {
          process.stderr.write(`${e.type}: ${JSON.stringify(snakeKeys(Object.fromEntries(Object.entries(e).filter(([k]) => k !== 'type' && k !== 'trace' && k !== 'case'))))}\n`);
        }
      };
      let summary: Summary;
      try {
        summary = await runCampaign({
          target: o.target, transport, checker, seed, cases, durationMs, timeoutMs, stopAfterBuckets,
          workdir: save ? workdir : undefined, source: 'fuzz', minimize, profile: o.profile, signal: ctl.signal, onEvent,
          generate,
        });
      } catch (e) {
        bar?.stop();
        process.off('SIGINT', onSigint);
        await transport.close();
        await ui?.close();
        throw e;
      }
      bar?.stop();
      // the summary goes out before the pool is drained and torn down
      if (o.json) {
        out(snakeKeys(summary));
      } else {
        process.stdout.write(formatSummary(summary, faults) + '\n');
        if (save && summary.buckets.length) process.stdout.write(`findings recorded in ${workdir}/findings (\`ptefarm corpus list\`; promote one with \`ptefarm corpus add ID\`)\n`);
      }
      ui?.state.finished(summary.stopped);
      try { await transport.close(); } finally { process.off('SIGINT', onSigint); await ui?.close(); }
      if (o.out) await saveFuzzRun(o.out, summary, { target: o.target, profile: o.profile, timeline });
      return summary.buckets.length ? 1 : 0;
    }));
  addUiOptions(addNatsAuthOptions(addFarmCampaignOptions(cmd)));
}
