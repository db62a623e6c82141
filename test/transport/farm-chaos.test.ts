// The farm chaos suite (issue 18): what the README promises about faults, measured. Real nats-server,
// real `ptefarm worker` processes of model:x86 (fast), default ack_wait. Every scenario runs the same
// campaign (same seed, same size) twice on one server: unfaulted, then with the fault, and asserts
//   - every case recorded exactly once (one stored result per case, one verdict per case),
//   - the same case sequence as the unfaulted run (determinism survives the fault),
//   - no job left in the work queue when the coordinator returns,
//   - the faulted run's wall time within 1.5x the unfaulted one's (a ratio, both measured here).
// A fault costs a fixed few seconds whatever the campaign's size (about one ack wait, 3 s; a server
// restart adds its own start-up), so the size is calibrated to this machine's current speed: the
// unfaulted run takes about RUN_S seconds (the reference was a 1,000-case, 7.6 s campaign),
// which also keeps the file near 3 minutes on a loaded 2-core box.
// The figures are printed (console.log) so they can be quoted.
import { afterEach, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jetstream } from '@nats-io/jetstream';
import { runFarmCampaign, type FarmSummary } from '../../src/campaign/nats-campaign.ts';
import { canonicalJson } from '../../src/ops/canon.ts';
import { connectNats, consumerName, JOBS_STREAM, jobSubject } from '../../src/transport/nats-common.ts';
import { BIN, countingChecker, natsServerMissing, recordedResults, spawnWorker, startNatsServer, stopWorker, type NatsServer, type WorkerProc } from '../helpers/nats-server.ts';

const missing = natsServerMissing();
if (missing) console.warn(`skipping the farm chaos suite: ${missing}`);

const cleanup: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => { for (const f of cleanup.splice(0).reverse()) await f(); });

const TARGET = 'model:x86';
const MAX_OPS = 5;
const RATIO = 1.5;
/** seconds an unfaulted run should take */
const RUN_S = 10;
const WORKERS = 2;

interface Farm { server: NatsServer; ws: WorkerProc[]; cases: number }

/** a server, workers, and the campaign size that takes about RUN_S seconds on this machine now */
async function farm(): Promise<Farm> {
  const server = await startNatsServer();
  cleanup.push(() => server.dispose());
  const ws = await Promise.all(Array.from({ length: WORKERS }, () => spawnWorker(server.url, TARGET)));
  cleanup.push(() => Promise.all(ws.map((w) => { w.proc.kill('SIGCONT'); return stopWorker(w); })));
  // warm up workers and this process (module loading, JIT); the speed is measured after case 50
  let from: number | undefined;
  const warm = await campaign(server, 'warmup', 1, 200, (done) => { if (from === undefined && done >= 50) from = performance.now(); });
  const perS = (200 - 50) / ((performance.now() - (from ?? performance.now() - warm.ms)) / 1000);
  const cases = Math.min(3000, Math.max(200, Math.round((RUN_S * perS) / 50) * 50));
  console.log(`[chaos] calibration: ${perS.toFixed(0)} cases/s -> ${cases} cases per run`);
  return { server, ws, cases };
}

/** jobs of the target still in the work queue (stored messages) and the consumer's view of them */
async function queueState(server: NatsServer): Promise<{ stored: number; pending: number; ackPending: number }> {
  const nc = await connectNats(server.url);
  try {
    const jsm = await jetstream(nc).jetstreamManager();
    const subj = jobSubject(TARGET);
    const si = await jsm.streams.info(JOBS_STREAM, { subjects_filter: subj });
    const ci = await jsm.consumers.info(JOBS_STREAM, consumerName(TARGET));
    return { stored: si.state.subjects?.[subj] ?? 0, pending: ci.num_pending, ackPending: ci.num_ack_pending };
  } finally { await nc.close(); }
}

interface Outcome { s: FarmSummary; ms: number; checks?: number; cases?: string[] }

/** one in-process coordinator run of the campaign; `fault` is called on every progress event */
async function campaign(server: NatsServer, name: string, seed: number, size: number, fault?: (completed: number) => void): Promise<Outcome> {
  const { checker, calls } = await countingChecker();
  const cases: string[] = [];
  const t0 = performance.now();
  const s = await runFarmCampaign({
    url: server.url,
    campaign: name,
    definition: { target: TARGET, seed, cases: size, generate: { maxOps: MAX_OPS }, minimize: false },
    checker,
    onCase: (i, c) => { cases[i] = canonicalJson(c); },
    onEvent: (e) => { if (e.type === 'progress') fault?.(e.stats.completed); },
  });
  return { s, ms: performance.now() - t0, checks: calls(), cases };
}

const digest = (xs: string[]) => createHash('sha256').update(xs.join('\n')).digest('hex').slice(0, 12);

/** every case of the campaign has exactly one stored result */
async function expectRecordedOnce(server: NatsServer, campaignId: string, seed: number, n: number): Promise<{ stored: number; redelivered: number }> {
  const nc = await connectNats(server.url);
  try {
    const rec = await recordedResults(nc, campaignId);
    const distinct = new Set(rec.map((r) => r.id));
    for (let i = 0; i < n; i++) expect(distinct.has(`${seed}-c${i}`), `case ${i} has no recorded result`).toBe(true);
    expect(distinct.size).toBe(n);
    expect(rec.length, 'results stored twice for one case').toBe(n);
    return { stored: rec.length, redelivered: rec.filter((r) => (r.delivery ?? 1) > 1).length };
  } finally { await nc.close(); }
}

/** the README's promises, for one faulted run against its unfaulted twin; prints the figures */
async function judge(scenario: string, f: Farm, base: Outcome, hurt: Outcome, seed: number, ratioLimit = RATIO) {
  const n = f.cases;
  const queue = await queueState(f.server);
  const rec = await expectRecordedOnce(f.server, hurt.s.campaign, seed, n);
  const ratio = hurt.ms / base.ms;
  const farmStats = hurt.s.farm;
  console.log(`[chaos] ${scenario}: unfaulted ${(base.ms / 1000).toFixed(2)} s, faulted ${(hurt.ms / 1000).toFixed(2)} s, ratio ${ratio.toFixed(2)}; ` +
    `${hurt.s.cases}/${n} cases, ${hurt.s.faults} faults, ${rec.stored} results stored, ${rec.redelivered} from a redelivery, ` +
    `${farmStats.duplicates} duplicate(s) discarded, ${farmStats.rejected} rejected, ${farmStats.sweptJobs} finished job(s) swept, ${farmStats.workersLost} worker(s) lost; ` +
    `queue after: ${queue.stored} stored, ${queue.pending} pending, ${queue.ackPending} unacked`);
  expect(hurt.s.cases).toBe(n);
  expect(hurt.s.faults).toBe(0);
  expect(hurt.s.infrastructure_faults).toEqual([]);
  // verdicts come from the workers that ran the cases: the coordinator checks nothing itself
  if (hurt.checks !== undefined) expect(hurt.checks, 'checks made by the coordinator').toBe(0);
  if (hurt.cases && base.cases) expect(digest(hurt.cases), 'the fault changed the case sequence').toBe(digest(base.cases));
  expect(hurt.s.coverage.rules).toEqual(base.s.coverage.rules);
  expect(queue.stored, 'jobs left in the work queue').toBe(0);
  expect(queue.pending + queue.ackPending).toBe(0);
  expect(ratio, `faulted ${hurt.ms.toFixed(0)} ms vs unfaulted ${base.ms.toFixed(0)} ms`).toBeLessThanOrEqual(ratioLimit);
}

interface Run { code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }

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
  it('worker SIGKILL: its jobs come back within seconds, the other worker never idles for long', async () => {
    const f = await farm();
    const base = await campaign(f.server, 'base', 21, f.cases);
    let killed = false;
    const hurt = await campaign(f.server, 'kill', 21, f.cases, (done) => {
      if (!killed && done >= f.cases * 0.3) { killed = true; f.ws[0].proc.kill('SIGKILL'); }
    });
    expect(killed).toBe(true);
    expect(await f.ws[0].exited).toBe(null);
    await judge('worker SIGKILL', f, base, hurt, 21);
  }, 120_000);

  it('worker SIGSTOP beyond ack_wait: its jobs are redelivered, its late results are discarded', async () => {
    const f = await farm();
    const base = await campaign(f.server, 'base', 22, f.cases);
    let stopped = false;
    const hurt = await campaign(f.server, 'stop', 22, f.cases, (done) => {
      if (!stopped && done >= f.cases * 0.3) { stopped = true; f.ws[0].proc.kill('SIGSTOP'); }
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
    const base = await campaign(f.server, 'base', 23, f.cases);
    let restart: Promise<void> | undefined;
    const hurt = await campaign(f.server, 'restart', 23, f.cases, (done) => {
      if (!restart && done >= f.cases * 0.3) restart = f.server.restart('SIGKILL');
    });
    expect(restart).toBeDefined();
    await restart;
    await judge('nats-server SIGKILL + restart', f, base, hurt, 23);
  }, 120_000);

  it('coordinator SIGKILL then --resume: recorded cases are replayed, not re-run', async () => {
    const f = await farm();
    const workdir = mkdtempSync(join(tmpdir(), 'ptefarm-work-'));
    cleanup.push(() => rmSync(workdir, { recursive: true, force: true }));
    const args = (id: string) => ['--nats', f.server.url, '--target', TARGET, '--cases', String(f.cases), '--seed', '24', '--max-ops', String(MAX_OPS),
      '--campaign', id, '--workdir', workdir, '--json', '--no-minimize'];
    let t0 = performance.now();
    const b = await coordinatorCli(args('base'));
    const base: Outcome = { s: JSON.parse(b.stdout.trim().split('\n').pop()!) as FarmSummary, ms: performance.now() - t0 };
    expect(b.code, b.stderr).toBe(0);

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
    const hurt: Outcome = { s: JSON.parse(second.stdout.trim().split('\n').pop()!) as FarmSummary, ms: performance.now() - t0 };
    expect(second.code, second.stderr).toBe(0);
    expect(hurt.s.resumed).toBe(true);
    expect(hurt.s.farm.replayed).toBeGreaterThanOrEqual(killedAt);
    // every case once: replayed from the record, published again, or (a batch of the crashed
    // coordinator still queued) adopted from that message instead of published a second time
    expect(hurt.s.farm.replayed + hurt.s.farm.published + (hurt.s.farm.adopted ?? 0)).toBe(f.cases);
    console.log(`[chaos] coordinator SIGKILL at ${killedAt}/${f.cases} cases after ${(firstMs / 1000).toFixed(2)} s; the resumed coordinator ran ` +
      `${((hurt.ms - firstMs) / 1000).toFixed(2)} s (campaign loop ${hurt.s.elapsed_s} s, the rest start-up), replayed ${hurt.s.farm.replayed} results, adopted ${hurt.s.farm.adopted} queued jobs and published ${hurt.s.farm.published} jobs; ` +
      `unfaulted: campaign loop ${base.s.elapsed_s} s of ${(base.ms / 1000).toFixed(2)} s`);
    // Not 1.5x (issue 18 leaves this open): the resumed coordinator replays the recorded results
    // without running them again, and takes their verdicts from the record, but one process start
    // and the replay still cost time: 1.0-2.0x was measured at f = 0.3 on a box at load 20 (when
    // the coordinator still re-checked every replayed trace). The bound still catches a resume that
    // re-runs recorded cases on workers or stalls for long.
    await judge('coordinator SIGKILL + --resume', f, base, hurt, 24, 2.5);
  }, 150_000);
});
