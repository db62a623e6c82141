// The farm chaos suite (issue 18): what the README promises about faults, measured. Real nats-server,
// real `ptefarm worker` processes of model:x86 (fast), default ack_wait. Every scenario runs the same
// campaign (same seed, same size) twice on one server: unfaulted, then with the fault, and asserts
//   - every case recorded exactly once (one stored result per case, one verdict per case),
//   - the same case sequence as the unfaulted run (determinism survives the fault),
//   - no job left in the work queue when the coordinator returns,
//   - what the fault costs, counted (issue 18 item 5: a dead worker stalled the farm because the
//     jobs it held came back only after a 30 s ack wait): the unfaulted run runs no case twice; the
//     faulted run runs again (stored from a redelivery, or a late result discarded) at most the
//     jobs that were in flight at the fault; and what holds a lost job back, the consumer's ack wait
//     as the server has it, is the README's 3 s (a dead worker's jobs come back after it, the
//     survivors keep running the rest meanwhile: the campaign's window and lag, src/campaign/campaign.ts).
//     The runs are counted twice over: from what the coordinator sees (stored results' delivery
//     counts, duplicates it discarded) and from what the workers say they ran (their heartbeats'
//     `done` counters). Only the second sees a job run again whose result the server drops as a
//     duplicate (same Nats-Msg-Id) before the coordinator could see it: the last test runs workers
//     whose ack is a nak (test/transport/fixtures/nak-worker.ts), which pass every other check. A
//     worker that never acks runs nothing twice here: the coordinator removes a finished job's
//     message within 0.5 s, before the 3 s ack wait would deliver it again (measured: 600 runs for
//     600 cases, as with the real worker).
// Wall times are printed, never asserted (speed goals live in `npm run bench`): a ratio of wall
// times failed on a loaded host. The size is calibrated so that the unfaulted run takes about RUN_S
// seconds, which keeps the file near 3 minutes on a loaded 2-core box.
// The figures are printed (console.log) so they can be quoted.
import { afterEach, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { jetstream } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { runFarmCampaign, summarySchema, type FarmSummary } from '../../src/campaign/nats-campaign.ts';
import { CAMPAIGN_RECORD_FORMAT, decodeRecord } from '../../src/campaign/campaign-record.ts';
import { canonicalJson } from '../../src/ops/canon.ts';
import { connectNats, consumerName, HEARTBEAT_SUBJECT, JOBS_STREAM, jobSubject, PING_SUBJECT, type WorkerBeat } from '../../src/transport/nats-common.ts';
import { BIN, countingChecker, natsServerMissing, recordedResults, spawnWorker, startNatsServer, stopWorker, type NatsServer, type WorkerProc } from '../helpers/nats-server.ts';

const missing = natsServerMissing();
if (missing) console.warn(`skipping the farm chaos suite: ${missing}`);

const cleanup: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => { for (const f of cleanup.splice(0).reverse()) await f(); });

const TARGET = 'model:x86';
const MAX_OPS = 5;
/** seconds an unfaulted run should take */
const RUN_S = 10;
/** seconds the coordinator CLI's unfaulted campaign should take in the --resume test, so that its
 *  progress lines (every 2 s) come well before the end */
const CLI_RUN_S = 8;
const WORKERS = 2;

/** what the workers say they ran: each worker's `done` counter (jobs it answered) by worker id */
type Runs = Map<string, number>;

/**
 * The workers' run counters, from their heartbeats (WorkerBeat.done). A snapshot pings them and
 * takes, of every worker still running, the first beat that arrives after the ping's round trip:
 * the server handled that beat after the ping, so it left the worker after every result the worker
 * had published before (one connection keeps its order), and its count covers them. A worker that
 * does not answer (killed; stopped) counts as its last beat said: the runs of its last heartbeat
 * period (500 ms) before a SIGKILL are not counted.
 */
class RunCounter {
  private readonly last = new Map<string, { done: number; n: number }>();
  private received = 0;
  private constructor(private readonly nc: NatsConnection) {
    nc.subscribe(HEARTBEAT_SUBJECT, { callback: (err, m) => {
      if (err) return;
      const b = m.json<WorkerBeat>();
      this.last.set(b.id, { done: b.done, n: ++this.received });
    } });
  }
  static async open(server: NatsServer): Promise<RunCounter> { return new RunCounter(await connectNats(server.url)); }
  async snapshot(ws: WorkerProc[]): Promise<Runs> {
    this.nc.publish(PING_SUBJECT);
    await this.nc.flush();
    const mark = this.received;
    const running = ws.filter((w) => w.proc.exitCode === null && w.proc.signalCode === null);
    for (const until = Date.now() + 5000; Date.now() < until && running.some((w) => (this.last.get(w.id)?.n ?? 0) <= mark);) await new Promise((r) => setTimeout(r, 20));
    return new Map(ws.map((w) => [w.id, this.last.get(w.id)?.done ?? 0]));
  }
  close(): Promise<void> { return this.nc.close(); }
}

/** jobs the workers ran between two snapshots */
const ran = (from: Runs, to: Runs) => [...to].reduce((n, [id, done]) => n + done - (from.get(id) ?? 0), 0);

interface Farm { server: NatsServer; ws: WorkerProc[]; cases: number; counter: RunCounter }

const NAK_WORKER = fileURLToPath(new URL('./fixtures/nak-worker.ts', import.meta.url));

/** a server, workers, and the campaign size that takes about RUN_S seconds on this machine now
 *  (`cases`: that size, not measured); `broken`: workers whose ack is a nak */
async function farm(o: { cases?: number; broken?: boolean } = {}): Promise<Farm> {
  const server = await startNatsServer();
  cleanup.push(() => server.dispose());
  const ws = await Promise.all(Array.from({ length: WORKERS }, () => spawnWorker(server.url, TARGET, [], o.broken ? ['--import', 'tsx', NAK_WORKER] : undefined)));
  cleanup.push(() => Promise.all(ws.map((w) => { w.proc.kill('SIGCONT'); return stopWorker(w); })));
  const counter = await RunCounter.open(server);
  cleanup.push(() => counter.close());
  if (o.cases) return { server, ws, cases: o.cases, counter };
  // warm up workers and this process (module loading, JIT); the speed is measured after case 50
  let from: number | undefined;
  const warm = await campaign({ server }, 'warmup', 1, 200, (done) => { if (from === undefined && done >= 50) from = performance.now(); });
  const perS = (200 - 50) / ((performance.now() - (from ?? performance.now() - warm.ms)) / 1000);
  const cases = Math.min(3000, Math.max(200, Math.round((RUN_S * perS) / 50) * 50));
  console.log(`[chaos] calibration: ${perS.toFixed(0)} cases/s -> ${cases} cases per run`);
  return { server, ws, cases, counter };
}

/** jobs of the target still in the work queue (stored messages) and the consumer's view of them */
async function queueState(server: NatsServer): Promise<{ stored: number; pending: number; ackPending: number; ackWaitMs: number }> {
  const nc = await connectNats(server.url);
  try {
    const jsm = await jetstream(nc).jetstreamManager();
    const subj = jobSubject(TARGET);
    const si = await jsm.streams.info(JOBS_STREAM, { subjects_filter: subj });
    const ci = await jsm.consumers.info(JOBS_STREAM, consumerName(TARGET));
    return { stored: si.state.subjects?.[subj] ?? 0, pending: ci.num_pending, ackPending: ci.num_ack_pending, ackWaitMs: (ci.config.ack_wait ?? 30e9) / 1e6 }; // unset: the server default, 30 s
  } finally { await nc.close(); }
}

interface Outcome {
  s: FarmSummary; ms: number; checks?: number; cases?: string[];
  /** ids of the jobs the coordinator had issued and not seen answered when the fault was injected */
  atFault?: Set<string>;
  /** ids of results discarded as a second answer to a job (FarmEvent 'duplicate') */
  duplicates?: string[];
  /** the workers' run counters when the run started */
  before?: Runs;
}

/** one in-process coordinator run of the campaign; `fault` is called on every progress event and
 *  returns true when it injected the fault then (the jobs in flight at that moment are noted) */
async function campaign(f: Pick<Farm, 'server'> & Partial<Farm>, name: string, seed: number, size: number, fault?: (completed: number) => boolean | void): Promise<Outcome> {
  const server = f.server;
  const before = f.counter && f.ws ? await f.counter.snapshot(f.ws) : undefined;
  const { checker, calls } = await countingChecker();
  const cases: string[] = [];
  const open = new Set<string>();
  const duplicates: string[] = [];
  let atFault: Set<string> | undefined;
  const t0 = performance.now();
  const s = await runFarmCampaign({
    url: server.url,
    campaign: name,
    definition: { target: TARGET, seed, cases: size, generate: { maxOps: MAX_OPS }, minimize: false },
    checker,
    onCase: (i, c) => { cases[i] = canonicalJson(c); },
    onEvent: (e) => { if (e.type === 'progress' && fault?.(e.stats.completed) && !atFault) atFault = new Set(open); },
    onFarmEvent: (e) => { if (e.type === 'duplicate') duplicates.push(e.id); },
    // observe which jobs are in flight (the transport is the real one; its answers pass unchanged)
    onTransport: (t) => {
      const run = t.run.bind(t);
      t.run = (job, o) => { open.add(job.id); return run(job, o).finally(() => open.delete(job.id)); };
    },
  });
  return { s, ms: performance.now() - t0, checks: calls(), cases, atFault, duplicates, before };
}

const digest = (xs: string[]) => createHash('sha256').update(xs.join('\n')).digest('hex').slice(0, 12);

/** every case of the campaign has exactly one stored result; the ids stored from a redelivery,
 *  and the highest delivery count among them */
async function expectRecordedOnce(server: NatsServer, campaignId: string, seed: number, n: number): Promise<{ stored: number; redelivered: string[]; maxDelivery: number }> {
  const nc = await connectNats(server.url);
  try {
    const rec = await recordedResults(nc, campaignId);
    const distinct = new Set(rec.map((r) => r.id));
    for (let i = 0; i < n; i++) expect(distinct.has(`${seed}-c${i}`), `case ${i} has no recorded result`).toBe(true);
    expect(distinct.size).toBe(n);
    expect(rec.length, 'results stored twice for one case').toBe(n);
    const again = rec.filter((r) => (r.delivery ?? 1) > 1);
    return { stored: rec.length, redelivered: again.map((r) => r.id), maxDelivery: Math.max(1, ...rec.map((r) => r.delivery ?? 1)) };
  } finally { await nc.close(); }
}

/** the README's promise for a dead or stopped worker: its jobs come back after a 3 s ack wait */
const ACK_WAIT_PROMISED_MS = 3000;

/** an unfaulted run of n cases runs each once: no result stored from a redelivery, no duplicate
 *  result discarded, and (what only the workers see) n jobs run by the workers' own counters */
function expectUnfaultedCost(rec: { redelivered: string[] }, s: FarmSummary, runs: number | undefined, n: number) {
  expect(rec.redelivered, 'unfaulted run: results from a redelivery').toEqual([]);
  expect(s.farm.duplicates, 'unfaulted run: duplicate results').toBe(0);
  if (runs !== undefined) expect(runs, 'unfaulted run: jobs the workers ran (their done counters) for its cases').toBe(n);
}

/** the README's promises, for one faulted run against its unfaulted twin; prints the figures */
/** `workerRunsBounded` false: the workers' own count of re-runs is printed, not held to the jobs in
 *  flight (a nats-server SIGKILL: see that scenario) */
async function judge(scenario: string, f: Farm, base: Outcome, hurt: Outcome, seed: number, workerRunsBounded = true) {
  const n = f.cases;
  const after = await f.counter.snapshot(f.ws);
  const baseRuns = base.before && hurt.before ? ran(base.before, hurt.before) : undefined;
  const runs = hurt.before ? ran(hurt.before, after) : undefined;
  const queue = await queueState(f.server);
  const baseRec = base.s.campaign ? await expectRecordedOnce(f.server, base.s.campaign, seed, n) : undefined;
  const rec = await expectRecordedOnce(f.server, hurt.s.campaign, seed, n);
  const farmStats = hurt.s.farm;
  const atFault = hurt.atFault;
  const rerun = [...rec.redelivered, ...(hurt.duplicates ?? [])];
  const again = new Set(rerun);
  console.log(`[chaos] ${scenario}: unfaulted ${(base.ms / 1000).toFixed(2)} s, faulted ${(hurt.ms / 1000).toFixed(2)} s (printed, not asserted); ` +
    `${hurt.s.cases}/${n} cases, ${hurt.s.faults} faults, ${rec.stored} results stored, ${rec.redelivered.length} from a redelivery (highest delivery ${rec.maxDelivery}), ` +
    `${farmStats.duplicates} duplicate(s) discarded, ${again.size} case(s) run again of ${atFault?.size ?? '?'} job(s) in flight at the fault (${[...again].filter((id) => !atFault?.has(id)).length} issued after it), ack wait ${queue.ackWaitMs} ms; ${farmStats.rejected} rejected, ${farmStats.sweptJobs} finished job(s) swept, ${farmStats.workersLost} worker(s) lost; ` +
    `${runs ?? '?'} job(s) run by the workers' counters; queue after: ${queue.stored} stored, ${queue.pending} pending, ${queue.ackPending} unacked` +
    (baseRec ? `; unfaulted: ${baseRec.redelivered.length} from a redelivery, ${base.s.farm.duplicates} duplicate(s), ${baseRuns ?? '?'} job(s) run by the workers' counters` : ''));
  expect(hurt.s.cases).toBe(n);
  expect(hurt.s.faults).toBe(0);
  expect(hurt.s.infrastructure_faults).toEqual([]);
  // verdicts come from the workers that ran the cases: the coordinator checks nothing itself
  if (hurt.checks !== undefined) expect(hurt.checks, 'checks made by the coordinator').toBe(0);
  if (hurt.cases && base.cases) expect(digest(hurt.cases), 'the fault changed the case sequence').toBe(digest(base.cases));
  expect(hurt.s.coverage.rules).toEqual(base.s.coverage.rules);
  expect(queue.stored, 'jobs left in the work queue').toBe(0);
  expect(queue.pending + queue.ackPending).toBe(0);
  // what the fault cost, counted: nothing runs twice without a fault; with one, no more cases run
  // again than there were jobs in flight when it struck; a lost job is held back one ack wait
  if (baseRec) expectUnfaultedCost(baseRec, base.s, baseRuns, n);
  if (atFault) expect(again.size, `cases run again (${[...again].slice(0, 12).join(' ')}) vs jobs in flight at the fault`).toBeLessThanOrEqual(atFault.size);
  if (atFault && runs !== undefined && workerRunsBounded) expect(runs - n, 'jobs the workers ran (their done counters) beyond one per case vs jobs in flight at the fault').toBeLessThanOrEqual(atFault.size);
  expect(queue.ackWaitMs, 'the ack wait a lost job waits (consumer config on the server)').toBeLessThanOrEqual(ACK_WAIT_PROMISED_MS);
}

interface Run { code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }

/** the coordinator's --json summary (its last line): the FarmSummary with snake_case keys
 *  (src/cli/io.ts), the encoding of the stored summary record, read back as that record is */
function cliSummary(r: Run): FarmSummary {
  const raw = JSON.parse(r.stdout.trim().split('\n').pop()!) as Record<string, unknown>;
  return decodeRecord({ format: CAMPAIGN_RECORD_FORMAT, ...raw }, summarySchema, 'coordinator --json summary') as unknown as FarmSummary;
}

/** the coordinator CLI as a child process; `until(stderr)` true => SIGKILL it */
function coordinatorCli(args: string[], until?: (stderr: string) => boolean): Promise<Run> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [BIN, 'coordinator', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
    p.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; if (until?.(stderr)) p.kill('SIGKILL'); });
    p.on('exit', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

describe.skipIf(!!missing)('farm chaos (real nats-server, real workers, default ack_wait)', () => {
  it('worker SIGKILL: its jobs come back after one 3 s ack wait, no other case runs twice', async () => {
    const f = await farm();
    const base = await campaign(f, 'base', 21, f.cases);
    let killed = false;
    const hurt = await campaign(f, 'kill', 21, f.cases, (done) => {
      if (!killed && done >= f.cases * 0.3) { killed = true; f.ws[0].proc.kill('SIGKILL'); return true; }
    });
    expect(killed).toBe(true);
    expect(await f.ws[0].exited).toBe(null);
    await judge('worker SIGKILL', f, base, hurt, 21);
  }, 120_000);

  it('worker SIGSTOP beyond ack_wait: its jobs are redelivered, its late results are discarded', async () => {
    const f = await farm();
    const base = await campaign(f, 'base', 22, f.cases);
    let stopped = false;
    const hurt = await campaign(f, 'stop', 22, f.cases, (done) => {
      if (!stopped && done >= f.cases * 0.3) { stopped = true; f.ws[0].proc.kill('SIGSTOP'); return true; }
    });
    expect(stopped).toBe(true);
    // it wakes up after the campaign with results others already recorded: nothing changes
    f.ws[0].proc.kill('SIGCONT');
    await new Promise((r) => setTimeout(r, 1500));
    expect(f.ws[0].proc.exitCode).toBe(null);
    await judge('worker SIGSTOP', f, base, hurt, 22);
  }, 120_000);

  it('nats-server SIGKILL and restart: nothing lost, nothing counted twice, no finished job left queued', async () => {
    const f = await farm();
    const base = await campaign(f, 'base', 23, f.cases);
    let restart: Promise<void> | undefined;
    const hurt = await campaign(f, 'restart', 23, f.cases, (done) => {
      if (!restart && done >= f.cases * 0.3) { restart = f.server.restart('SIGKILL'); return true; }
    });
    expect(restart).toBeDefined();
    await restart;
    // the workers' done counters are printed here, not bounded by the jobs in flight: a SIGKILLed
    // nats-server comes back with the consumer's ack state it last wrote, so jobs acked just before
    // the kill are delivered and run again (seen: 10, 5 and 124 runs beyond one per case against
    // 62-64 in flight). Their results are dropped as duplicates (by the server's duplicate window,
    // or by the coordinator); what judge asserts of the coordinator's side (every case recorded
    // once, no more cases run again than jobs in flight) still holds
    await judge('nats-server SIGKILL + restart', f, base, hurt, 23, false);
  }, 120_000);

  it('coordinator SIGKILL then --resume: recorded cases are replayed, not re-run', async () => {
    const f = await farm();
    const workdir = mkdtempSync(join(tmpdir(), 'ptefarm-work-'));
    cleanup.push(() => rmSync(workdir, { recursive: true, force: true }));
    const args = (id: string) => ['--nats', f.server.url, '--target', TARGET, '--cases', String(f.cases), '--seed', '24', '--max-ops', String(MAX_OPS),
      '--campaign', id, '--workdir', workdir, '--json', '--no-minimize'];
    let t0 = performance.now();
    let baseBefore = await f.counter.snapshot(f.ws);
    let b = await coordinatorCli(args('base'));
    expect(b.code, b.stderr).toBe(0);
    // the kill below is triggered by the coordinator's progress lines (one per 2 s): a campaign
    // that ends within 2 s prints none and is never killed. The calibration measures the in-process
    // coordinator cold; the CLI's campaign loop can be several times faster, so the campaign is
    // sized again from this unfaulted CLI run to last about CLI_RUN_S, and the unfaulted run repeated
    const loopS = cliSummary(b).elapsed_s;
    if (loopS < CLI_RUN_S) {
      f.cases = Math.min(30_000, Math.ceil((f.cases * CLI_RUN_S) / Math.max(0.1, loopS) / 50) * 50);
      t0 = performance.now();
      baseBefore = await f.counter.snapshot(f.ws);
      b = await coordinatorCli(args('base-sized'));
      expect(b.code, b.stderr).toBe(0);
    }
    const base: Outcome = { s: cliSummary(b), ms: performance.now() - t0, before: baseBefore };

    const hurtBefore = await f.counter.snapshot(f.ws);
    t0 = performance.now();
    let killedAt = 0;
    const first = await coordinatorCli(args('crash'), (err) => {
      const m = [...err.matchAll(/\] (\d+)\/\d+ cases/g)].pop();
      if (m && Number(m[1]) >= f.cases * 0.3 && !killedAt) { killedAt = Number(m[1]); return true; }
      return false;
    });
    expect(first.signal).toBe('SIGKILL');
    const firstMs = performance.now() - t0;
    const second = await coordinatorCli(['--nats', f.server.url, '--resume', '--campaign', 'crash', '--workdir', workdir, '--json']);
    expect(second.code, second.stderr).toBe(0);
    const hurt: Outcome = { s: cliSummary(second), ms: performance.now() - t0, before: hurtBefore };
    expect(hurt.s.resumed).toBe(true);
    expect(hurt.s.farm.replayed).toBeGreaterThanOrEqual(killedAt);
    // every case once: replayed from the record, published again, or (a batch of the crashed
    // coordinator still queued) adopted from that message instead of published a second time
    expect(hurt.s.farm.replayed + hurt.s.farm.published + (hurt.s.farm.adopted ?? 0)).toBe(f.cases);
    console.log(`[chaos] coordinator SIGKILL at ${killedAt}/${f.cases} cases after ${(firstMs / 1000).toFixed(2)} s; the resumed coordinator ran ` +
      `${((hurt.ms - firstMs) / 1000).toFixed(2)} s (campaign loop ${hurt.s.elapsed_s} s, the rest start-up), replayed ${hurt.s.farm.replayed} results, adopted ${hurt.s.farm.adopted} queued jobs and published ${hurt.s.farm.published} jobs; ` +
      `unfaulted: campaign loop ${base.s.elapsed_s} s of ${(base.ms / 1000).toFixed(2)} s`);
    // what the crash cost, counted: the resumed coordinator replays the recorded results without
    // running them again (replayed + published + adopted above: each case once), and every case
    // still has exactly one stored result (judge)
    await judge('coordinator SIGKILL + --resume', f, base, hurt, 24);
  }, 150_000);

  it('the workers\' run counters catch a job run again unseen: workers whose ack is a nak pass every other check of an unfaulted run', async () => {
    const f = await farm({ cases: 200, broken: true });
    const base = await campaign(f, 'nak', 25, f.cases);
    const runs = ran(base.before!, await f.counter.snapshot(f.ws));
    const rec = await expectRecordedOnce(f.server, base.s.campaign, 25, f.cases);
    console.log(`[chaos] workers whose ack is a nak: ${f.cases} cases, ${runs} job(s) run by the workers' counters, ${rec.redelivered.length} result(s) stored from a redelivery, ${base.s.farm.duplicates} duplicate(s) seen by the coordinator`);
    expect(base.s.cases).toBe(f.cases);
    expect(base.s.faults).toBe(0);
    // what the coordinator sees is clean: every extra run's result was dropped by the server
    expect(rec.redelivered).toEqual([]);
    expect(base.s.farm.duplicates).toBe(0);
    expect(() => expectUnfaultedCost(rec, base.s, undefined, f.cases)).not.toThrow();
    // the run count is not
    expect(runs).toBeGreaterThan(f.cases);
    expect(() => expectUnfaultedCost(rec, base.s, runs, f.cases)).toThrow(/unfaulted run: jobs the workers ran/);
  }, 120_000);
});
