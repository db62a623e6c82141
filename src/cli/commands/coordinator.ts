// `ptefarm coordinator --nats URL --target T [campaign options]`: run a fuzz campaign whose cases are
// executed by `ptefarm worker` processes of that target anywhere on the farm. Generation, checks,
// dedup and minimization stay here. `--resume` continues a stopped or crashed campaign (the last one
// started on that server, or --campaign ID) from the state and results recorded in JetStream.
// Findings are recorded in the work directory (--workdir, default ./ptefarm-work), never in corpus/.
// A target no live worker serves is said at once; after --no-worker-grace (default 30s) without one
// the campaign stops (kept for --resume) and the command exits 2.
// Exit: 0 nothing found, 1 findings (buckets), 2 bad input / NATS unreachable / no worker for the target.
import type { Command } from 'commander';
import type { FarmSummary } from '../../campaign/nats-campaign.ts';
import type { FarmEvent, NatsTransport } from '../../transport/nats.ts';
import type { CampaignEvent } from '../../campaign/campaign.ts';
import { DEFAULT_NO_WORKER_GRACE, parseDuration, resolveCampaignFlags, resolveNoWorkerGrace, type CampaignFlags } from '../../campaign/config.ts';
import { addNatsAuthOptions, natsAuthFrom, parsePositiveInt, type NatsFlags } from '../../transport/nats-cli.ts';
import { guarded, InputError, snakeKeys } from '../io.ts';
import { addCampaignOptions } from '../options.ts';
import { addUiOptions, natsWorkers, openUi, type UiFlags } from '../../ui/attach.ts';

export interface CoordinatorFlags extends NatsFlags, CampaignFlags, UiFlags {
  target?: string;
  maxOps?: number;
  window?: number;
  campaign?: string;
  resume?: boolean;
  ackWait?: string;
  maxDeliver?: number;
  json?: boolean;
  quiet?: boolean;
  /** --no-worker-grace <time>; commander's `true` when absent */
  workerGrace?: string | boolean;
}

/** `ptefarm fuzz --nats URL ...`: the same flags, the same resolution, through the farm. */
export type FuzzFarmFlags = CoordinatorFlags & { target: string };

export function fuzzThroughFarm(o: FuzzFarmFlags): Promise<number> {
  return coordinate(o);
}

/** The campaign options the coordinator shares with `fuzz --nats`. */
export function addFarmCampaignOptions(cmd: Command): Command {
  return cmd
    .option('--campaign <id>', 'campaign id (default: generated); with --resume, which campaign to continue')
    .option('--resume', 'continue the last campaign started on this server (or --campaign ID) without re-running recorded cases')
    .option('--window <n>', 'cases in flight through the farm (default 32; stored with the campaign)', parsePositiveInt('--window'))
    .option('--ack-wait <time>', 'how long a job stays with a worker that stopped answering before it is redelivered: 3s, 1m (default 3s; running cases are kept alive)')
    .option('--max-deliver <n>', 'attempts to run one case before it is dead-lettered as an infrastructure fault (default 5)', parsePositiveInt('--max-deliver'))
    .option('--no-worker-grace <time>', `with no live worker for the target, stop (resumable) and exit 2 after this long: 30s, 5m (default ${DEFAULT_NO_WORKER_GRACE})`);
}

export function register(program: Command) {
  const cmd = program.command('coordinator')
    .description('run a fuzz campaign through a NATS JetStream farm of `ptefarm worker` processes')
    .requiredOption('--nats <url>', 'NATS server URL(s), comma-separated')
    .option('-t, --target <spec>', 'target the workers run (required unless --resume)')
    .option('--profile <name>', 'kernel profile of the reference model')
    .option('--max-ops <n>', 'upper bound on ops per generated case (default 40)', parsePositiveInt('--max-ops'))
    .option('--json', 'print the summary as JSON on stdout')
    .option('-q, --quiet', 'no progress lines on stderr');
  addCampaignOptions(cmd, { fuzzing: true });
  addFarmCampaignOptions(cmd);
  addUiOptions(addNatsAuthOptions(cmd)).action((o: CoordinatorFlags) => guarded(() => coordinate(o)));
}

function farmLine(e: FarmEvent): string | undefined {
  switch (e.type) {
    case 'worker-joined': return `worker joined: ${e.worker.id} (${e.worker.target}, ${e.worker.threads} threads, ${String(e.worker.caps.arch ?? '?')} ${String(e.worker.caps.kernel ?? '')})`;
    case 'worker-lost': return `worker lost: ${e.worker.id} (${e.worker.target}): no heartbeat for ${(e.silentMs / 1000).toFixed(1)} s; its cases return to the queue after ack_wait`;
    case 'worker-left': return `worker left: ${e.worker.id} (${e.worker.target})`;
    case 'dead-letter': return `dead-lettered job ${e.id} after ${e.deliveries} deliveries (no ${e.target} worker could finish it): counted as an infrastructure fault`;
    case 'connection': return e.status === 'disconnect' ? 'disconnected from NATS; reconnecting (nothing recorded is lost)' : e.status === 'reconnect' ? 'reconnected to NATS' : undefined;
    case 'replayed': return `resumed: ${e.results} recorded result(s) replayed from JetStream`;
    case 'rejected': return `rejected a result for job ${e.id}: ${e.reason} (not recorded)`;
    case 'version-mismatch': return e.message;
    default: return undefined;
  }
}

/** Shared by `coordinator` and `fuzz --nats`. */
export async function coordinate(o: CoordinatorFlags): Promise<number> {
  if (!o.nats) throw new InputError('--nats URL is required');
  if (!o.resume && !o.target) throw new InputError('--target is required (unless --resume)');
  // resolve (and reject bad values) before connecting; a resumed campaign keeps its stored definition
  const st = resolveCampaignFlags(o);
  const graceMs = resolveNoWorkerGrace(o.workerGrace);
  if (o.resume && (o.target || o.seed !== undefined || o.cases || o.duration)) {
    process.stderr.write('ptefarm: --resume continues the stored campaign; --target/--seed/--cases/--duration are ignored (the work directory is this command line\'s)\n');
  }
  const say = (l: string) => { if (!o.quiet) process.stderr.write(`${l}\n`); };
  const ctl = new AbortController();
  const onSig = () => { say('interrupted: stopping (resume later with --resume)'); ctl.abort(); };
  process.once('SIGINT', onSig);
  process.once('SIGTERM', onSig);
  let lastLine = 0;
  let transport: NatsTransport | undefined;
  /** why the campaign was stopped for want of a worker, once the grace ran out */
  let starved: string | undefined;
  let watch: NodeJS.Timeout | undefined;
  const workersLine = () => {
    const by = new Map<string, number>();
    for (const w of transport?.workers() ?? []) by.set(w.target, (by.get(w.target) ?? 0) + 1);
    return by.size ? [...by].map(([t, n]) => `${n}x ${t}`).join(', ') : 'none';
  };
  const onEvent = (e: CampaignEvent) => {
    if (e.type === 'progress' && Date.now() - lastLine > 2000) {
      lastLine = Date.now();
      const s = e.stats;
      say(`[${(s.elapsedMs / 1000).toFixed(1)}s] ${s.completed}/${s.cases} cases, ${s.violations} violations, ${s.faults} faults, ${s.buckets} buckets, ${s.inflight} in flight; workers: ${workersLine()}`);
    } else if (e.type === 'bucket') say(`new bucket ${e.signature} (case ${e.index})`);
    else if (e.type === 'minimized') say(`minimized ${e.signature}: ${e.ops} ops after ${e.runs} runs`);
    else if (e.type === 'saved' && e.written) say(`saved ${e.path}`);
    else if (e.type === 'fault' && e.index < 0) say(`fault: ${e.fault}`);
  };
  // a target no live worker serves: said at once (the transport pinged the workers on connect,
  // they answer within a round trip), then stop and exit 2 unless one joins within the grace
  const graceText = `${o.workerGrace === undefined || o.workerGrace === true ? DEFAULT_NO_WORKER_GRACE : o.workerGrace}`;
  const watchWorkers = (t: NatsTransport, tgt: string, id: string): NodeJS.Timeout => {
    let since: number | undefined;
    const check = () => {
      if (t.workers(tgt).length) {
        if (since !== undefined) say(`a worker for ${tgt} is live: continuing`);
        since = undefined;
      } else if (since === undefined) {
        since = Date.now();
        say(`warning: no live worker serves ${tgt} on ${o.nats}: its cases wait in the queue; start \`ptefarm worker --nats URL --target ${tgt}\`. Stopping with exit 2 in ${graceText} (--no-worker-grace) unless one joins`);
      } else if (Date.now() - since >= graceMs) {
        starved = `no live worker served ${tgt} for ${graceText} (--no-worker-grace): campaign ${id} stopped; start a worker and continue it with --resume --campaign ${id}`;
        ctl.abort();
        return;
      }
      watch = setTimeout(check, Math.min(250, graceMs)).unref();
    };
    return setTimeout(check, Math.min(1000, graceMs)).unref();
  };
  let rejectedShown = 0;
  const ui = await openUi(o, o.target && !o.resume ? 'coordinator' : 'coordinator --resume', {
    target: o.target, seed: st.seed, profile: st.profile, workdir: st.save ? st.workdir : undefined,
  });
  let summary: FarmSummary;
  // the NATS clients load only here, not for `fuzz` without --nats nor for `gate` (start-up time)
  const { runFarmCampaign } = await import('../../campaign/nats-campaign.ts');
  try {
    summary = await runFarmCampaign({
      url: o.nats,
      auth: natsAuthFrom(o),
      campaign: o.campaign,
      resume: o.resume,
      ackWaitMs: o.ackWait ? parseDuration(o.ackWait, 'ack-wait') : undefined,
      maxDeliver: o.maxDeliver,
      // from the command line also on --resume: a stored record never decides where files go
      workdir: st.save ? st.workdir : undefined,
      definition: o.resume ? undefined : {
        target: o.target!,
        seed: st.seed,
        cases: st.cases,
        durationMs: st.durationMs,
        timeoutMs: st.timeoutMs,
        stopAfterBuckets: st.stopAfterBuckets,
        minimize: st.minimize,
        profile: st.profile,
        generate: o.maxOps ? { maxOps: o.maxOps } : undefined,
        concurrency: o.window,
      },
      signal: ctl.signal,
      onEvent: (e) => { ui?.state.onEvent(e); onEvent(e); },
      onFarmEvent: (e) => {
        ui?.state.onFarmEvent(e);
        // a flood of bad results is counted in the summary, not printed line by line
        if (e.type === 'rejected' && ++rejectedShown > 10) { if (rejectedShown === 11) say('further rejected results are only counted'); return; }
        const l = farmLine(e);
        if (l) say(l);
      },
      onTransport: (t) => { transport = t; ui?.state.setWorkers(natsWorkers(t)); say(`campaign ${t.campaign} on ${o.nats}`); },
      onDefinition: (def, prev) => {
        if (transport) watch = watchWorkers(transport, def.target, def.campaign);
        // a resumed campaign shows its stored definition, not this command line's
        ui?.state.setCampaign({ id: def.campaign, resumed: !!o.resume, target: def.target, seed: def.seed, profile: def.profile, workdir: st.save ? st.workdir : undefined, elapsedMsBefore: prev?.elapsedMs, completedBefore: prev?.completed });
        ui?.state.setOptions({
          campaign: def.campaign, target: def.target, seed: def.seed, cases: def.cases, duration_ms: def.durationMs, timeout_ms: def.timeoutMs,
          stop_after: def.stopAfterBuckets, minimize: def.minimize, profile: def.profile, workdir: (st.save ? st.workdir : undefined) ?? '(not saving)',
          window: def.concurrency, max_ops: def.generate?.maxOps, started: def.started, nats: o.nats, ack_wait_ms: o.ackWait ? parseDuration(o.ackWait, 'ack-wait') : undefined, max_deliver: o.maxDeliver,
        });
      },
    });
  } catch (e) {
    ui?.state.finished(`error: ${(e as Error).message}`);
    await ui?.close();
    throw e;
  } finally {
    clearTimeout(watch);
    process.removeListener('SIGINT', onSig);
    process.removeListener('SIGTERM', onSig);
  }
  ui?.state.finished(summary.stopped);
  await ui?.close();
  if (o.json) process.stdout.write(JSON.stringify(snakeKeys(summary)) + '\n');
  else {
    const f = summary.farm;
    process.stdout.write([
      `campaign ${summary.campaign}${summary.resumed ? ' (resumed)' : ''}: ${summary.target}, seed ${summary.seed}, ${summary.stopped}`,
      `${summary.cases} cases in ${summary.elapsed_s} s (${summary.cases_per_s}/s): ${summary.violations} violations, ${summary.faults} faults, ${summary.skipped} skipped`,
      `farm: ${f.published} published, ${f.replayed} replayed from the record, ${f.duplicates} duplicate result(s) discarded, ${f.rejected} rejected, ${f.deadLettered.length} dead-lettered, ${f.workersLost} worker(s) lost, ${f.sweptJobs} finished job(s) swept from the queue`,
      ...summary.infrastructure_faults.map((x) => `  infrastructure fault: ${x.id}: ${x.fault}`),
      ...summary.buckets.map((b) => `  bucket ${b.title} [${b.signature}]: ${b.hits} hit(s), ${b.ops} ops${b.minimized ? ' (minimized)' : ''}${b.file ? ` -> ${b.file}` : ''}`),
    ].join('\n') + '\n');
  }
  if (starved) { process.stderr.write(`ptefarm: ${starved}\n`); return 2; }
  return summary.buckets.length ? 1 : 0;
}
