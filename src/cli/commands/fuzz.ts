// `ptefarm fuzz`: a coverage-guided campaign against one target on the embedded transport.
// Exit 0 when nothing was found, 1 when some violation bucket was, 2 on bad input.
// --json: JSON-lines events on stdout, the last line being the summary object.
import { availableParallelism } from 'node:os';
import type { Command } from 'commander';
import cliProgress from 'cli-progress';
import { runCampaign, type CampaignEvent, type Summary } from '../../campaign/campaign.ts';
import { referenceChecker } from '../../campaign/checker.ts';
import { InProcessTransport } from '../../campaign/inprocess.ts';
import { REGRESSIONS_DIR } from '../../campaign/corpus.ts';
import { EmbeddedTransport } from '../../transport/embedded.ts';
import type { Transport } from '../../transport/transport.ts';
import { openTarget } from '../../targets/registry.ts';
import { guarded, InputError } from '../io.ts';
import { saveFuzzRun } from '../../report/fuzzrun.ts';
import { addFarmCampaignOptions, fuzzThroughFarm, type FuzzFarmFlags } from './coordinator.ts';
import { addNatsAuthOptions } from '../../transport/nats-cli.ts';

interface Opts {
  target: string; cases?: string; duration?: string; seed?: string; threads?: string; json?: boolean;
  corpus: string; save: boolean; timeout: string; profile?: string; stopAfter?: string; minimize: boolean; out?: string;
}

export function parseDuration(s: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(s.trim());
  if (!m) throw new InputError(`bad duration "${s}" (e.g. 60s, 5m, 1500ms)`);
  const x = Number(m[1]);
  const unit = m[2] ?? 's';
  return x * (unit === 'ms' ? 1 : unit === 's' ? 1000 : unit === 'm' ? 60_000 : 3_600_000);
}

function intOpt(name: string, s: string | undefined, min: number): number | undefined {
  if (s === undefined) return undefined;
  const n = Number(s);
  if (!Number.isInteger(n) || n < min) throw new InputError(`--${name}: expected an integer >= ${min}, got "${s}"`);
  return n;
}

export function formatSummary(s: Summary): string {
  const lines = [
    `${s.target}: ${s.cases} cases in ${s.elapsed_s}s (${s.cases_per_s}/s), seed ${s.seed}, stopped: ${s.stopped}`,
    `violations: ${s.violations} case(s), faults: ${s.faults}, skipped: ${s.skipped}, buckets: ${s.buckets.length}`,
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
    .description('coverage-guided fuzzing campaign against a target; buckets, minimizes and saves findings')
    .requiredOption('-t, --target <spec>', 'target: model:x86[+MUTANT], live, exec:CMD')
    .option('-n, --cases <n>', 'number of cases (default 1000 unless --duration)')
    .option('-d, --duration <time>', 'run for this long (60s, 5m)')
    .option('-s, --seed <n>', 'generation seed (default: from the clock, printed)')
    .option('-j, --threads <k>', 'worker threads (0 = run in this thread)', String(availableParallelism()))
    .option('--json', 'JSON-lines events; the last line is the summary')
    .option('--corpus <dir>', 'where reproducers are saved', REGRESSIONS_DIR)
    .option('--no-save', 'do not save reproducers')
    .option('--no-minimize', 'do not minimize findings')
    .option('--timeout <ms>', 'per-case timeout', '10000')
    .option('--stop-after <buckets>', 'stop once this many distinct findings exist')
    .option('--profile <name>', 'kernel profile of the reference model')
    .option('--out <dir>', 'run directory: summary (gate.json), bucket cases and traces, reports (src/report)')
    .option('--nats <url>', 'run the campaign through a NATS JetStream farm of `ptefarm worker` processes (see `ptefarm coordinator`)')
    .action((o: Opts) => guarded(async () => {
      if ((o as { nats?: string }).nats) return fuzzThroughFarm(o as Opts & FuzzFarmFlags);
      const cases = intOpt('cases', o.cases, 1);
      const durationMs = o.duration !== undefined ? parseDuration(o.duration) : undefined;
      const seed = intOpt('seed', o.seed, 0) ?? (Date.now() % 2 ** 31);
      const threads = intOpt('threads', o.threads, 0)!;
      const timeoutMs = intOpt('timeout', o.timeout, 1)!;
      const stopAfterBuckets = intOpt('stop-after', o.stopAfter, 1);
      // fail early, in this thread, on a bad target spec
      try { await (await openTarget(o.target)).close(); } catch (e) { throw new InputError((e as Error).message); }
      const checker = await referenceChecker({ profile: o.profile });
      const transport: Transport = threads === 0 ? new InProcessTransport() : new EmbeddedTransport({ threads });
      const ctl = new AbortController();
      let interrupts = 0;
      const onSigint = () => {
        if (++interrupts > 1) process.exit(130);
        ctl.abort();
      };
      process.on('SIGINT', onSigint);
      const out = (x: unknown) => process.stdout.write(JSON.stringify(x) + '\n');
      const tty = !o.json && process.stderr.isTTY;
      const total = cases ?? (durationMs !== undefined ? Math.round(durationMs / 1000) : 1000);
      const bar = tty ? new cliProgress.SingleBar({
        stream: process.stderr,
        format: `fuzz {bar} {value}/{total} ${cases === undefined && durationMs !== undefined ? 's' : 'cases'} | {cps} cases/s | {viol} violations | {buckets} buckets | rules {rules}`,
        hideCursor: true, clearOnComplete: false,
      }, cliProgress.Presets.shades_classic) : undefined;
      bar?.start(total, 0, { cps: 0, viol: 0, buckets: 0, rules: `0/${checker.rulesTotal}` });
      let lastJsonProgress = 0;
      const timeline = [{ t: 0, cases: 0 }];
      const onEvent = (e: CampaignEvent) => {
        if (e.type === 'progress') {
          const st = e.stats;
          timeline.push({ t: Math.round(st.elapsedMs) / 1000, cases: st.completed });
          bar?.update(cases === undefined && durationMs !== undefined ? Math.min(total, Math.round(st.elapsedMs / 1000)) : st.completed, {
            cps: (st.completed / Math.max(st.elapsedMs / 1000, 1e-3)).toFixed(0), viol: st.violations, buckets: st.buckets, rules: `${st.rulesHit}/${st.rulesTotal}`,
          });
          if (o.json && st.elapsedMs - lastJsonProgress >= 1000) { lastJsonProgress = st.elapsedMs; out({ event: 'progress', ...st }); }
          return;
        }
        if (o.json) out({ event: e.type, ...Object.fromEntries(Object.entries(e).filter(([k]) => k !== 'type')) });
        else if (!tty && (e.type === 'bucket' || e.type === 'minimized' || e.type === 'saved')) {
          process.stderr.write(`${e.type}: ${JSON.stringify(Object.fromEntries(Object.entries(e).filter(([k]) => k !== 'type')))}\n`);
        }
      };
      let summary: Summary;
      try {
        summary = await runCampaign({
          target: o.target, transport, checker, seed, cases, durationMs, timeoutMs, stopAfterBuckets,
          corpusDir: o.save ? o.corpus : undefined, minimize: o.minimize, profile: o.profile, signal: ctl.signal, onEvent,
        });
      } catch (e) {
        bar?.stop();
        process.off('SIGINT', onSigint);
        await transport.close();
        throw e;
      }
      bar?.stop();
      // the summary goes out before the pool is drained and torn down
      if (o.json) {
        const { coverage, ...rest } = summary;
        out({ ...rest, coverage: { rules_hit: coverage.rules_hit, rules_total: coverage.rules_total, rules: coverage.rules } });
      } else process.stdout.write(formatSummary(summary) + '\n');
      try { await transport.close(); } finally { process.off('SIGINT', onSigint); }
      if (o.out) await saveFuzzRun(o.out, summary, { target: o.target, profile: o.profile, timeline });
      return summary.buckets.length ? 1 : 0;
    }));
  addNatsAuthOptions(addFarmCampaignOptions(cmd));
}
