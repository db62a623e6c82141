// The farm chaos suite (issue 18): what the README promises about faults, measured. Real nats-server,
// real `ptefarm worker` processes of model:x86 (fast), default ack_wait. Every scenario runs the same
// campaign (same seed, same size) twice on one server: once unfaulted, once with the fault, and asserts
//   - every case recorded exactly once (one stored result per case, one verdict per case),
//   - the same case sequence as the unfaulted run (determinism survives the fault),
//   - no job of the campaign left in the work queue when the coordinator returns,
//   - the faulted run's wall time within 1.5x the unfaulted one's (a ratio, both measured here).
// The figures are printed (console.log) so they can be quoted.
import { afterEach, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { jetstream } from '@nats-io/jetstream';
import { runFarmCampaign, type FarmSummary } from '../../src/transport/nats-campaign.ts';
import { canonicalJson } from '../../src/campaign/canon.ts';
import { connectNats, consumerName, JOBS_STREAM, jobSubject } from '../../src/transport/nats-common.ts';
import { countingChecker, natsServerMissing, recordedResults, spawnWorker, startNatsServer, stopWorker, type NatsServer, type WorkerProc } from '../helpers/nats-server.ts';

const missing = natsServerMissing();
if (missing) console.warn(`skipping the farm chaos suite: ${missing}`);

const cleanup: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => { for (const f of cleanup.splice(0).reverse()) await f(); });

const TARGET = 'model:x86';
const CASES = 900;
const MAX_OPS = 5;
const RATIO = 1.5;

async function farm(nWorkers: number): Promise<{ server: NatsServer; ws: WorkerProc[] }> {
  const server = await startNatsServer();
  cleanup.push(() => server.dispose());
  const ws = await Promise.all(Array.from({ length: nWorkers }, () => spawnWorker(server.url, TARGET)));
  for (const w of ws) cleanup.push(() => { w.proc.kill('SIGCONT'); return stopWorker(w); });
  // warm up workers and this process (module loading, JIT) so the first measured run is not the slow one
  await campaign(server, 'warmup', 1, undefined, 150);
  return { server, ws };
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

interface Outcome { s: FarmSummary; ms: number; checks: number; cases: string[] }

/** one in-process coordinator run of the campaign; `fault` is called on every progress event */
async function campaign(server: NatsServer, name: string, seed: number, fault?: (completed: number) => void, size = CASES): Promise<Outcome> {
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

/** the promises of the README, for one faulted run against its unfaulted twin */
async function expectRecordedOnce(server: NatsServer, campaignId: string, seed: number): Promise<{ stored: number; redelivered: number }> {
  const nc = await connectNats(server.url);
  try {
    const rec = await recordedResults(nc, campaignId);
    const ids = rec.map((r) => r.id);
    const distinct = new Set(ids);
    for (let i = 0; i < CASES; i++) expect(distinct.has(`${seed}-c${i}`), `case ${i} has no recorded result`).toBe(true);
    expect(distinct.size).toBe(CASES);
    expect(rec.length, 'results stored twice for one case').toBe(CASES);
    return { stored: rec.length, redelivered: rec.filter((r) => (r.delivery ?? 1) > 1).length };
  } finally { await nc.close(); }
}

async function report(scenario: string, server: NatsServer, base: Outcome, hurt: { s: FarmSummary; ms: number; checks?: number; cases?: string[] }, seed: number) {
  const queue = await queueState(server);
  const rec = await expectRecordedOnce(server, hurt.s.campaign, seed);
  const ratio = hurt.ms / base.ms;
  console.log(`[chaos] ${scenario}: unfaulted ${(base.ms / 1000).toFixed(2)} s, faulted ${(hurt.ms / 1000).toFixed(2)} s, ratio ${ratio.toFixed(2)}; ` +
    `${hurt.s.cases}/${CASES} cases, ${rec.stored} results stored, ${rec.redelivered} from a redelivery, ` +
    `${hurt.s.farm.duplicates} duplicate(s) discarded, ${(hurt.s.farm as { rejected?: number }).rejected ?? 0} rejected, ${hurt.s.farm.sweptJobs ?? 0} swept, ${hurt.s.farm.workersLost} worker(s) lost; ` +
    `queue: ${queue.stored} stored, ${queue.pending} pending, ${queue.ackPending} unacked`);
  expect(hurt.s.cases).toBe(CASES);
  expect(hurt.s.faults).toBe(0);
  expect(hurt.s.infrastructure_faults).toEqual([]);
  if (hurt.checks !== undefined) expect(hurt.checks, 'one verdict per case').toBe(CASES);
  if (hurt.cases) expect(digest(hurt.cases), 'the fault changed the case sequence').toBe(digest(base.cases));
  expect(hurt.s.coverage.rules).toEqual(base.s.coverage.rules);
  expect(queue.stored, 'jobs left in the work queue').toBe(0);
  expect(ratio, `faulted ${hurt.ms.toFixed(0)} ms vs unfaulted ${base.ms.toFixed(0)} ms`).toBeLessThanOrEqual(RATIO);
}

describe.skipIf(!!missing)('farm chaos (real nats-server, real workers, default ack_wait)', () => {
  it('worker SIGKILL: its jobs come back within seconds, the other workers never idle for ack_wait', async () => {
    const { server, ws } = await farm(3);
    const base = await campaign(server, 'base', 21);
    let killed = false;
    const hurt = await campaign(server, 'kill', 21, (done) => {
      if (!killed && done >= CASES * 0.3) { killed = true; ws[0].proc.kill('SIGKILL'); }
    });
    expect(killed).toBe(true);
    expect(await ws[0].exited).toBe(null);
    await report('worker SIGKILL', server, base, hurt, 21);
  }, 120_000);

  it('worker SIGSTOP beyond ack_wait: its jobs are redelivered, its late results are discarded', async () => {
    const { server, ws } = await farm(3);
    const base = await campaign(server, 'base', 22);
    let stopped = false;
    const hurt = await campaign(server, 'stop', 22, (done) => {
      if (!stopped && done >= CASES * 0.3) { stopped = true; ws[0].proc.kill('SIGSTOP'); }
    });
    expect(stopped).toBe(true);
    // it wakes up after the campaign, with results of jobs others already finished: nothing changes
    ws[0].proc.kill('SIGCONT');
    await new Promise((r) => setTimeout(r, 1500));
    await report('worker SIGSTOP', server, base, hurt, 22);
    expect(ws[0].proc.exitCode).toBe(null);
  }, 120_000);

  it('nats-server SIGKILL and restart: nothing lost, nothing counted twice, no finished job left queued', async () => {
    const { server } = await farm(3);
    const base = await campaign(server, 'base', 23);
    let restart: Promise<void> | undefined;
    const hurt = await campaign(server, 'restart', 23, (done) => {
      if (!restart && done >= CASES * 0.3) restart = server.restart('SIGKILL');
    });
    expect(restart).toBeDefined();
    await restart;
    await report('nats-server SIGKILL + restart', server, base, hurt, 23);
  }, 120_000);

});
