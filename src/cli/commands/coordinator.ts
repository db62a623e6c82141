// `ptefarm coordinator --nats URL --target T [campaign options]`: run a fuzz campaign whose cases are
// executed by `ptefarm worker` processes of that target anywhere on the farm. Generation, checks,
// dedup and minimization stay here. `--resume` continues a stopped or crashed campaign (the last one
// started on that server, or --campaign ID) from the state and results recorded in JetStream.
// Exit: 0 nothing found, 1 findings (buckets), 2 bad input / NATS unreachable.
import type { Command } from 'commander';
import { runFarmCampaign, type FarmSummary } from '../../transport/nats-campaign.ts';
import type { FarmEvent, NatsTransport } from '../../transport/nats.ts';
import type { CampaignEvent } from '../../campaign/campaign.ts';
import { REGRESSIONS_DIR } from '../../campaign/corpus.ts';
import { addNatsAuthOptions, natsAuthFrom, parseDurationMs, parsePositiveInt, type NatsFlags } from '../../transport/nats-cli.ts';
import { guarded, InputError } from '../io.ts';

export interface CoordinatorFlags extends NatsFlags {
  target?: string;
  seed?: number;
  cases?: number;
  duration?: string;
  timeout?: string;
  first?: boolean;
  stopAfterBuckets?: number;
  minimize?: boolean;
  corpus?: string;
  maxOps?: number;
  window?: number;
  campaign?: string;
  resume?: boolean;
  ackWait?: string;
  maxDeliver?: number;
  json?: boolean;
  quiet?: boolean;
  /** false: do not save reproducers */
  save?: boolean;
  profile?: string;
}

/** `ptefarm fuzz --nats URL ...`: fuzz's options (strings, ms timeout) mapped onto the coordinator's. */
export interface FuzzFarmFlags extends NatsFlags, Pick<CoordinatorFlags, 'campaign' | 'resume' | 'window' | 'ackWait' | 'maxDeliver'> {
  target: string; cases?: string; duration?: string; seed?: string; json?: boolean; corpus: string; save: boolean;
  timeout: string; profile?: string; stopAfter?: string; minimize: boolean;
}

export function fuzzThroughFarm(o: FuzzFarmFlags): Promise<number> {
  const int = (name: string, v: string | undefined, min: number) => {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new InputError(`--${name}: expected an integer >= ${min}, got "${v}"`);
    return n;
  };
  return coordinate({
    ...o,
    cases: int('cases', o.cases, 1),
    seed: int('seed', o.seed, 0),
    timeout: `${int('timeout', o.timeout, 1)}ms`,
    stopAfterBuckets: int('stop-after', o.stopAfter, 1),
  });
}

/** The campaign options the coordinator shares with `fuzz --nats`. */
export function addFarmCampaignOptions(cmd: Command): Command {
  return cmd
    .option('--campaign <id>', 'campaign id (default: generated); with --resume, which campaign to continue')
    .option('--resume', 'continue the last campaign started on this server (or --campaign ID) without re-running recorded cases')
    .option('--window <n>', 'cases in flight through the farm (default 32; stored with the campaign)', parsePositiveInt('--window'))
    .option('--ack-wait <duration>', 'how long a job stays with a worker that stopped answering before it is redelivered (default 30s)')
    .option('--max-deliver <n>', 'attempts to run one case before it is dead-lettered as an infrastructure fault (default 5)', parsePositiveInt('--max-deliver'));
}

export function register(program: Command) {
  const cmd = program.command('coordinator')
    .description('run a fuzz campaign through a NATS JetStream farm of `ptefarm worker` processes')
    .requiredOption('--nats <url>', 'NATS server URL(s), comma-separated')
    .option('-t, --target <spec>', 'target the workers run (required unless --resume)')
    .option('--seed <n>', 'campaign seed (default: random)', (s) => { const n = Number(s); if (!Number.isInteger(n) || n < 0) throw new InputError(`--seed: expected a non-negative integer, got "${s}"`); return n; })
    .option('--cases <n>', 'stop after this many cases (default 1000 unless --duration)', parsePositiveInt('--cases'))
    .option('--duration <duration>', 'stop generating after this long, e.g. 60s, 10m')
    .option('--timeout <duration>', 'per-case timeout on the worker (default 10s)')
    .option('--first', 'stop at the first finding (bucket)')
    .option('--stop-after-buckets <n>', 'stop once this many buckets exist', parsePositiveInt('--stop-after-buckets'))
    .option('--no-minimize', 'do not minimize findings')
    .option('--corpus <dir>', `where minimized reproducers are saved (default ${REGRESSIONS_DIR})`)
    .option('--max-ops <n>', 'upper bound on ops per generated case (default 40)', parsePositiveInt('--max-ops'))
    .option('--json', 'print the summary as JSON on stdout')
    .option('-q, --quiet', 'no progress lines on stderr');
  addFarmCampaignOptions(cmd);
  addNatsAuthOptions(cmd).action((o: CoordinatorFlags) => guarded(() => coordinate(o)));
}

function farmLine(e: FarmEvent): string | undefined {
  switch (e.type) {
    case 'worker-joined': return `worker joined: ${e.worker.id} (${e.worker.target}, ${e.worker.threads} threads, ${String(e.worker.caps.arch ?? '?')} ${String(e.worker.caps.kernel ?? '')})`;
    case 'worker-lost': return `worker lost: ${e.worker.id} (${e.worker.target}): no heartbeat for ${(e.silentMs / 1000).toFixed(1)} s; its cases return to the queue after ack_wait`;
    case 'worker-left': return `worker left: ${e.worker.id} (${e.worker.target})`;
    case 'dead-letter': return `dead-lettered job ${e.id} after ${e.deliveries} deliveries (no ${e.target} worker could finish it): counted as an infrastructure fault`;
    case 'connection': return e.status === 'disconnect' ? 'disconnected from NATS; reconnecting (nothing recorded is lost)' : e.status === 'reconnect' ? 'reconnected to NATS' : undefined;
    case 'replayed': return `resumed: ${e.results} recorded result(s) replayed from JetStream`;
    default: return undefined;
  }
}

/** Shared by `coordinator` and `fuzz --nats`. */
export async function coordinate(o: CoordinatorFlags): Promise<number> {
  if (!o.nats) throw new InputError('--nats URL is required');
  if (!o.resume && !o.target) throw new InputError('--target is required (unless --resume)');
  if (o.resume && (o.target || o.seed !== undefined || o.cases || o.duration)) {
    process.stderr.write('ptefarm: --resume continues the stored campaign; --target/--seed/--cases/--duration are ignored\n');
  }
  const say = (l: string) => { if (!o.quiet) process.stderr.write(`${l}\n`); };
  const ctl = new AbortController();
  const onSig = () => { say('interrupted: stopping (resume later with --resume)'); ctl.abort(); };
  process.once('SIGINT', onSig);
  process.once('SIGTERM', onSig);
  let lastLine = 0;
  let transport: NatsTransport | undefined;
  let target = o.target;
  let noWorkerSince = Date.now();
  let warned = false;
  const workersLine = () => {
    const by = new Map<string, number>();
    for (const w of transport?.workers() ?? []) by.set(w.target, (by.get(w.target) ?? 0) + 1);
    return by.size ? [...by].map(([t, n]) => `${n}x ${t}`).join(', ') : 'none';
  };
  const onEvent = (e: CampaignEvent) => {
    if (e.type === 'start') target = e.target;
    if (e.type === 'progress') {
      // cases wait in the queue of their target until a worker for it shows up: say so once
      if (transport && target && transport.workers(target).length) { noWorkerSince = Date.now(); warned = false; }
      else if (!warned && Date.now() - noWorkerSince > 10_000) { warned = true; say(`no live worker serves ${target}: its cases wait in the queue (start \`ptefarm worker --nats URL --target ${target}\`)`); }
    }
    if (e.type === 'progress' && Date.now() - lastLine > 2000) {
      lastLine = Date.now();
      const s = e.stats;
      say(`[${(s.elapsedMs / 1000).toFixed(1)}s] ${s.completed}/${s.cases} cases, ${s.violations} violations, ${s.faults} faults, ${s.buckets} buckets, ${s.inflight} in flight; workers: ${workersLine()}`);
    } else if (e.type === 'bucket') say(`new bucket ${e.signature} (case ${e.index})`);
    else if (e.type === 'minimized') say(`minimized ${e.signature}: ${e.ops} ops after ${e.runs} runs`);
    else if (e.type === 'saved' && e.written) say(`saved ${e.path}`);
    else if (e.type === 'fault' && e.index < 0) say(`fault: ${e.fault}`);
  };
  const seed = o.seed ?? Math.floor(Math.random() * 2 ** 31);
  let summary: FarmSummary;
  try {
    summary = await runFarmCampaign({
      url: o.nats,
      auth: natsAuthFrom(o),
      campaign: o.campaign,
      resume: o.resume,
      ackWaitMs: o.ackWait ? parseDurationMs(o.ackWait) : undefined,
      maxDeliver: o.maxDeliver,
      definition: o.resume ? undefined : {
        target: o.target!,
        seed,
        cases: o.cases,
        durationMs: o.duration ? parseDurationMs(o.duration) : undefined,
        timeoutMs: o.timeout ? parseDurationMs(o.timeout) : undefined,
        stopAfterBuckets: o.first ? 1 : o.stopAfterBuckets,
        minimize: o.minimize,
        corpusDir: o.save === false ? undefined : o.corpus ?? REGRESSIONS_DIR,
        profile: o.profile,
        generate: o.maxOps ? { maxOps: o.maxOps } : undefined,
        concurrency: o.window,
      },
      signal: ctl.signal,
      onEvent,
      onFarmEvent: (e) => { const l = farmLine(e); if (l) say(l); },
      onTransport: (t) => { transport = t; say(`campaign ${t.campaign} on ${o.nats}`); },
    });
  } finally {
    process.removeListener('SIGINT', onSig);
    process.removeListener('SIGTERM', onSig);
  }
  if (o.json) process.stdout.write(JSON.stringify(summary) + '\n');
  else {
    const f = summary.farm;
    process.stdout.write([
      `campaign ${summary.campaign}${summary.resumed ? ' (resumed)' : ''}: ${summary.target}, seed ${summary.seed}, ${summary.stopped}`,
      `${summary.cases} cases in ${summary.elapsed_s} s (${summary.cases_per_s}/s): ${summary.violations} violations, ${summary.faults} faults, ${summary.skipped} skipped`,
      `farm: ${f.published} published, ${f.replayed} replayed from the record, ${f.duplicates} duplicate result(s) discarded, ${f.deadLettered.length} dead-lettered, ${f.workersLost} worker(s) lost`,
      ...summary.infrastructure_faults.map((x) => `  infrastructure fault: ${x.id}: ${x.fault}`),
      ...summary.buckets.map((b) => `  bucket ${b.title} [${b.signature}]: ${b.hits} hit(s), ${b.ops} ops${b.minimized ? ' (minimized)' : ''}${b.file ? ` -> ${b.file}` : ''}`),
    ].join('\n') + '\n');
  }
  return summary.buckets.length ? 1 : 0;
}
