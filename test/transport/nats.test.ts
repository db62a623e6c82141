// The NATS farm against a real nats-server (spawned per test on 127.0.0.1, random port, temporary
// store) and real `ptefarm worker` processes. What is asserted is outcomes, never timings: every case
// of a campaign gets exactly one verdict although a worker is SIGKILLed / the server restarted
// midway; a remote finding is minimized on a worker of its target; bad jobs are refused.
import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { headers } from '@nats-io/transport-node';
import { jetstream } from '@nats-io/jetstream';
import { runFarmCampaign, type FarmSummary } from '../../src/campaign/nats-campaign.ts';
import type { FarmEvent } from '../../src/transport/nats.ts';
import { NatsTransport as Transport } from '../../src/transport/nats.ts';
import { connectNats, consumerName, DEAD_STREAM, HEARTBEAT_SUBJECT, JOBS_STREAM, jobSubject, deadSubject, resultMsgId, resultSubject, type JobMessage } from '../../src/transport/nats-common.ts';
import { validateCase } from '../../src/ops/validate.ts';
import { ModelTarget } from '../../src/targets/model.ts';
import { checkWhereRun, traceDigest } from '../../src/transport/verdict.ts';
import { countingChecker, natsServerMissing, recordedResults, spawnWorker, startNatsServer, stopWorker, type NatsServer, type WorkerProc } from '../helpers/nats-server.ts';

const missing = natsServerMissing();
if (missing) console.warn(`skipping NATS farm tests: ${missing}`);

const cleanup: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

async function setup(workers: string[]): Promise<{ server: NatsServer; ws: WorkerProc[] }> {
  const server = await startNatsServer();
  cleanup.push(() => server.dispose());
  const ws = await Promise.all(workers.map((t) => spawnWorker(server.url, t)));
  for (const w of ws) cleanup.push(() => stopWorker(w));
  return { server, ws };
}

const CASES = 1000;

/** the invariants of a campaign that must survive crashes: one verdict per case, nothing lost */
async function expectEveryCaseOnce(server: NatsServer, s: FarmSummary, coordinatorChecks: number) {
  expect(s.cases).toBe(CASES);
  expect(s.faults).toBe(0);
  expect(s.infrastructure_faults).toEqual([]);
  // every verdict was made by the worker that ran the case: the coordinator checked nothing itself
  // (and s.cases above: no case counted twice)
  expect(coordinatorChecks).toBe(0);
  const nc = await connectNats(server.url);
  try {
    const rec = await recordedResults(nc, s.campaign);
    const ids = rec.map((r) => r.id);
    const distinct = new Set(ids);
    expect(distinct.size).toBe(CASES);
    for (let i = 0; i < CASES; i++) expect(distinct.has(`${s.seed}-c${i}`)).toBe(true);
    const redelivered = rec.filter((r) => (r.delivery ?? 1) > 1).length;
    console.info(`campaign ${s.campaign}: ${rec.length} results stored for ${distinct.size} cases (${rec.length - distinct.size} duplicate(s) stored), ` +
      `${redelivered} produced by a redelivery; coordinator discarded ${s.farm.duplicates} duplicate(s), ${s.farm.publishRetries} publish retries; ${s.cases_per_s} cases/s`);
  } finally { await nc.close(); }
}

describe.skipIf(!!missing)('NATS farm (real nats-server)', () => {
  it('every case gets exactly one verdict although a worker is SIGKILLed midway', async () => {
    const { server, ws } = await setup(['model:x86', 'model:x86']);
    const { checker, calls } = await countingChecker();
    const events: FarmEvent[] = [];
    let killedAt = -1;
    const s = await runFarmCampaign({
      url: server.url,
      // short ack_wait: the dead worker's jobs come back after 2 s instead of 30
      ackWaitMs: 2000,
      definition: { target: 'model:x86', seed: 7, cases: CASES, generate: { maxOps: 5 }, minimize: false, concurrency: 8 },
      checker,
      onFarmEvent: (e) => events.push(e),
      onEvent: (e) => {
        if (e.type === 'progress' && killedAt < 0 && e.stats.completed >= 300) {
          killedAt = e.stats.completed;
          ws[0].proc.kill('SIGKILL');
        }
      },
    });
    expect(killedAt).toBeGreaterThanOrEqual(300);
    expect(killedAt).toBeLessThan(CASES);
    expect(await ws[0].exited).toBe(null); // killed by the signal
    await expectEveryCaseOnce(server, s, calls());
    // the coordinator noticed the silent worker
    expect(events.some((e) => e.type === 'worker-lost' && e.worker.id === ws[0].id)).toBe(true);
  }, 120_000);

  it('every case gets exactly one verdict although nats-server is restarted midway (same port, same store)', async () => {
    const { server } = await setup(['model:x86', 'model:x86']);
    const { checker, calls } = await countingChecker();
    const events: FarmEvent[] = [];
    let restart: Promise<void> | undefined;
    const cases: unknown[] = [];
    const s = await runFarmCampaign({
      onCase: (i, c) => { cases[i] = c; },
      url: server.url,
      ackWaitMs: 2000,
      definition: { target: 'model:x86', seed: 8, cases: CASES, generate: { maxOps: 5 }, minimize: false, concurrency: 8 },
      checker,
      onFarmEvent: (e) => events.push(e),
      onEvent: (e) => {
        if (e.type === 'fault') console.warn(`fault in case ${e.index}: ${e.fault}: ${JSON.stringify(cases[e.index])}`);
        if (e.type === 'progress' && !restart && e.stats.completed >= 300) restart = server.restart();
      },
    });
    expect(restart).toBeDefined();
    await restart;
    await expectEveryCaseOnce(server, s, calls());
    expect(events.some((e) => e.type === 'connection' && e.status === 'disconnect')).toBe(true);
    expect(events.some((e) => e.type === 'connection' && e.status === 'reconnect')).toBe(true);
  }, 120_000);

  it('a mutant violation found remotely is minimized on a worker of that target and recorded in the work directory', async () => {
    // a model:x86 worker is there too: minimization jobs must not reach it
    const { server, ws } = await setup(['model:x86+B-3', 'model:x86']);
    const workdir = mkdtempSync(join(tmpdir(), 'ptefarm-work-'));
    cleanup.push(() => rmSync(workdir, { recursive: true, force: true }));
    const s = await runFarmCampaign({
      url: server.url,
      definition: { target: 'model:x86+B-3', seed: 1, cases: 2000, stopAfterBuckets: 1, concurrency: 4 },
      workdir,
    });
    expect(s.buckets.length).toBeGreaterThanOrEqual(1);
    const b = s.buckets[0];
    expect(b.minimized).toBe(true);
    expect(b.file).toBeDefined();
    expect(b.file!.startsWith(join(workdir, 'findings'))).toBe(true);
    expect(readdirSync(join(workdir, 'findings')).length).toBeGreaterThanOrEqual(1);
    const saved = JSON.parse(readFileSync(b.file!, 'utf8'));
    expect(validateCase(saved)).toEqual([]);
    expect(saved.ops.length).toBe(b.ops);
    // minimization ran through the farm: more jobs than campaign cases, all run by the B-3 worker
    expect(s.farm.published).toBeGreaterThan(s.cases);
    const nc = await connectNats(server.url);
    try {
      const rec = await recordedResults(nc, s.campaign);
      expect(rec.length).toBeGreaterThan(s.cases);
      const minimizeJobs = rec.filter((r) => !/-c\d+$/.test(r.id));
      expect(minimizeJobs.length).toBeGreaterThan(0);
      for (const r of rec) expect(r.result.worker?.startsWith(`${ws[0].id}/`)).toBe(true);
    } finally { await nc.close(); }
  }, 120_000);

  it('a worker refuses malformed and over-limit jobs with a fault naming the problem, and keeps serving', async () => {
    const { server, ws } = await setup(['model:x86']);
    const nc = await connectNats(server.url);
    cleanup.push(() => nc.close());
    const js = jetstream(nc);
    const campaign = 'refusals';
    const results = new Map<string, { fault?: string; trace?: unknown }>();
    const sub = nc.subscribe(`ptefarm.result.${campaign}`, { callback: (_e, m) => { const r = m.json<{ id: string; result: { fault?: string; trace?: unknown } }>(); results.set(r.id, r.result); } });
    cleanup.push(() => sub.unsubscribe());
    const job = (id: string, c: unknown): JobMessage => ({ v: 1, campaign, id, target: 'model:x86', case: c as never, timeoutMs: 5000, hash: 'h' });
    const valid = { format: 'ptefarm-case/1', ops: [{ op: 'mmap', region: 'a', pages: 2, kind: 'anon' }, { op: 'write', region: 'a', first: 0, count: 1 }] };
    const h = headers();
    h.set('Ptefarm-Campaign', campaign);
    h.set('Ptefarm-Job', 'not-json');
    const subj = jobSubject('model:x86');
    await js.publish(subj, '{ this is not json', { headers: h });
    const h2 = headers();
    h2.set('Ptefarm-Campaign', campaign);
    h2.set('Ptefarm-Job', 'null-job');
    await js.publish(subj, 'null', { headers: h2 });
    await js.publish(subj, JSON.stringify(job('too-many-pages', { format: 'ptefarm-case/1', ops: [{ op: 'mmap', region: 'a', pages: 100_000, kind: 'anon' }] })));
    await js.publish(subj, JSON.stringify(job('too-many-ops', { format: 'ptefarm-case/1', ops: [valid.ops[0], ...Array.from({ length: 300 }, () => valid.ops[1])] })));
    await js.publish(subj, JSON.stringify(job('no-region', { format: 'ptefarm-case/1', ops: [{ op: 'write', region: 'zz', first: 0, count: 1 }] })));
    await js.publish(subj, JSON.stringify({ ...job('wrong-target', valid), target: 'live' }));
    await js.publish(subj, JSON.stringify(job('valid', valid)));
    for (let i = 0; i < 600 && results.size < 7; i++) await new Promise((r) => setTimeout(r, 50));
    expect([...results.keys()].sort()).toEqual(['no-region', 'not-json', 'null-job', 'too-many-ops', 'too-many-pages', 'valid', 'wrong-target']);
    expect(results.get('not-json')!.fault).toMatch(/refused.*not valid JSON/);
    expect(results.get('null-job')!.fault).toMatch(/refused.*job: expected a JSON object/);
    expect(results.get('too-many-pages')!.fault).toMatch(/refused.*ops\[0\]\.pages/);
    expect(results.get('too-many-ops')!.fault).toMatch(/refused.*301 ops exceed the limit of 256/);
    expect(results.get('no-region')!.fault).toMatch(/refused.*ops\[0\]/);
    expect(results.get('wrong-target')!.fault).toMatch(/refused.*this worker runs model:x86/);
    expect(results.get('valid')!.fault).toBeUndefined();
    expect(results.get('valid')!.trace).toBeDefined();
    // still serving, and the queue is empty (refused jobs are acked, not redelivered forever)
    expect(ws[0].proc.exitCode).toBe(null);
    expect(ws[0].log()).toMatch(/refused job too-many-pages/);
    const jsm = await js.jetstreamManager();
    const ci = await jsm.consumers.info(JOBS_STREAM, consumerName('model:x86'));
    expect(ci.num_pending + ci.num_ack_pending).toBe(0);
  }, 60_000);

  /** a "worker" that takes jobs of `target` and dies with them: pulls, never acks (keeps a pull
   *  pending, which 2.9 needs to emit the max-deliveries advisory); stops after `max` deliveries */
  function doomedPuller(url: string, target: string, max = Infinity): { taken: () => number; stop: () => void } {
    let stop = false;
    let taken = 0;
    void (async () => {
      const nc = await connectNats(url);
      const js = jetstream(nc);
      while (!stop && taken < max) {
        try {
          const c = await js.consumers.get(JOBS_STREAM, consumerName(target));
          for await (const _m of await c.fetch({ max_messages: 1, expires: 1000 })) taken++;
        } catch { await new Promise((r) => setTimeout(r, 100)); }
      }
      await nc.close();
    })();
    return { taken: () => taken, stop: () => { stop = true; } };
  }

  async function expectDeadLettered(server: NatsServer, campaign: string, id: string, target: string) {
    const nc = await connectNats(server.url);
    try {
      const jsm = await jetstream(nc).jetstreamManager();
      const dead = await jsm.streams.getMessage(DEAD_STREAM, { last_by_subj: deadSubject(campaign) });
      expect(dead!.json<JobMessage>().id).toBe(id);
      const jobs = await jsm.streams.info(JOBS_STREAM, { subjects_filter: jobSubject(target) });
      expect(jobs.state.subjects?.[jobSubject(target)] ?? 0).toBe(0);
    } finally { await nc.close(); }
  }

  const tiny = { format: 'ptefarm-case/1', ops: [{ op: 'mmap', region: 'a', pages: 1, kind: 'anon' }] } as never;

  it('a job no worker finishes in maxDeliver attempts is dead-lettered by the worker that gets the extra delivery', async () => {
    const server = await startNatsServer();
    cleanup.push(() => server.dispose());
    const events: FarmEvent[] = [];
    // ack_wait leaves the worker time to dead-letter (and ack) the third delivery on a loaded machine
    const t = await Transport.connect(server.url, {}, { campaign: 'dlq1', maxDeliver: 2, ackWaitMs: 4000, onEvent: (e) => events.push(e) });
    cleanup.push(() => t.close());
    const target = 'model:x86@6.12';
    const resP = t.run({ id: 'doomed', target, case: tiny }, { timeoutMs: 1000 });
    const p = doomedPuller(server.url, target, 2);
    cleanup.push(() => p.stop());
    while (p.taken() < 2) await new Promise((r) => setTimeout(r, 100));
    // a real worker now gets the third delivery: it must not run the case again but dead-letter it
    const w = await spawnWorker(server.url, target);
    cleanup.push(() => stopWorker(w));
    const res = await resP;
    expect(res.fault).toMatch(/^infrastructure: case delivered 2 times without a result.*dead-lettered to ptefarm\.dead\.dlq1/);
    expect(res.worker).toBe(w.id);
    expect(t.stats.deadLettered).toEqual(['doomed']);
    expect(events.some((e) => e.type === 'dead-letter' && e.id === 'doomed')).toBe(true);
    await expectDeadLettered(server, 'dlq1', 'doomed', target);
    // and it keeps serving
    const ok = await t.run({ id: 'fine', target, case: tiny }, { timeoutMs: 5000 });
    expect(ok.fault).toBeUndefined();
    expect(ok.trace).toBeDefined();
  }, 60_000);

  it('when even the extra delivery dies, the coordinator dead-letters the job on the max-deliveries advisory', async () => {
    const server = await startNatsServer();
    cleanup.push(() => server.dispose());
    const t = await Transport.connect(server.url, {}, { campaign: 'dlq2', maxDeliver: 2, ackWaitMs: 1000 });
    cleanup.push(() => t.close());
    const target = 'model:x86@6.12';
    const resP = t.run({ id: 'doomed', target, case: tiny }, { timeoutMs: 1000 });
    const p = doomedPuller(server.url, target);
    cleanup.push(() => p.stop());
    const res = await resP;
    expect(res.fault).toMatch(/^infrastructure: case delivered 3 times without a result.*dead-lettered to ptefarm\.dead\.dlq2/);
    expect(res.worker).toBe('coordinator');
    expect(p.taken()).toBe(3);
    expect(t.stats.deadLettered).toEqual(['doomed']);
    await expectDeadLettered(server, 'dlq2', 'doomed', target);
  }, 60_000);

  it('a second result for the same job is counted once: dropped by the server (same Nats-Msg-Id) or by the coordinator (by job id)', async () => {
    const server = await startNatsServer();
    cleanup.push(() => server.dispose());
    const t = await Transport.connect(server.url, {}, { campaign: 'dups' });
    cleanup.push(() => t.close());
    const target = 'model:x86@6.1';
    const resP = t.run({ id: 'j1', target, case: tiny }, { timeoutMs: 1000 });
    // play the worker by hand: take the job, answer it three times
    const nc = await connectNats(server.url);
    cleanup.push(() => nc.close());
    const js = jetstream(nc);
    let job: JobMessage | undefined;
    while (!job) {
      try {
        const c = await js.consumers.get(JOBS_STREAM, consumerName(target));
        const m = await c.next({ expires: 1000 });
        if (m) { job = m.json<JobMessage>(); m.ack(); }
      } catch { await new Promise((r) => setTimeout(r, 100)); }
    }
    const answer = (fault: string) => JSON.stringify({ v: 1, campaign: 'dups', id: job!.id, hash: job!.hash, origin: { id: 'by-hand', target }, result: { id: job!.id, fault } });
    const a1 = await js.publish(resultSubject('dups'), answer('first'), { msgID: resultMsgId('dups', job.id, job.hash) });
    // a redelivered job's result inside the duplicate window: the server drops it
    const a2 = await js.publish(resultSubject('dups'), answer('second'), { msgID: resultMsgId('dups', job.id, job.hash) });
    // one that got past the window (other msg id): stored, and the coordinator discards it
    const a3 = await js.publish(resultSubject('dups'), answer('third'), { msgID: 'outside-the-window' });
    expect(a1.duplicate).toBe(false);
    expect(a2.duplicate).toBe(true);
    expect(a3.duplicate).toBe(false);
    const res = await resP;
    expect(res.fault).toBe('first');
    while (t.stats.received < 2) await new Promise((r) => setTimeout(r, 50));
    expect(t.stats.duplicates).toBe(1);
  }, 60_000);

  it('a result is accepted only for a job this coordinator issued, from a producer of its target; the rest is rejected, never recorded', async () => {
    const server = await startNatsServer();
    cleanup.push(() => server.dispose());
    const events: FarmEvent[] = [];
    const t = await Transport.connect(server.url, {}, { campaign: 'ident', onEvent: (e) => events.push(e) });
    cleanup.push(() => t.close());
    const target = 'model:x86@6.12';
    const resP = t.run({ id: 'j1', target, case: tiny }, { timeoutMs: 1000 });
    let settled: { fault?: string } | undefined;
    void resP.then((r) => { settled = r; });
    // play the worker by hand: take the job
    const nc = await connectNats(server.url);
    cleanup.push(() => nc.close());
    const js = jetstream(nc);
    let job: JobMessage | undefined;
    while (!job) {
      try {
        const c = await js.consumers.get(JOBS_STREAM, consumerName(target));
        const m = await c.next({ expires: 1000 });
        if (m) { job = m.json<JobMessage>(); m.ack(); }
      } catch { await new Promise((r) => setTimeout(r, 100)); }
    }
    // a worker of another target announces itself: its id claiming the job's target is not believed
    nc.publish(HEARTBEAT_SUBJECT, JSON.stringify({ id: 'live-worker', host: 'h', pid: 1, target: 'live', threads: 1, caps: {}, busy: 0, done: 0, refused: 0, started: 0, intervalMs: 60_000 }));
    await nc.flush();
    while (!t.workers('live').length) await new Promise((r) => setTimeout(r, 20));
    const answer = (fault: string, patch: Record<string, unknown> = {}) => JSON.stringify({
      v: 1, campaign: 'ident', id: job!.id, hash: job!.hash, origin: { id: 'w1', target }, result: { id: job!.id, fault }, ...patch,
    });
    let n = 0;
    const publish = (data: string) => js.publish(resultSubject('ident'), data, { msgID: `forged-${n++}` });
    await publish(answer('never issued', { id: 'j-never' }));
    await publish(answer('other target', { origin: { id: 'w2', target: 'model:x86' } }));
    await publish(answer('no origin', { origin: undefined }));
    await publish(answer('other case', { hash: '0123456789abcdef' }));
    await publish(answer('announced as live', { origin: { id: 'live-worker', target } }));
    await publish('{"v":1,"campaign":"ident","id":"j1","hash":');
    while (t.stats.rejected < 6) await new Promise((r) => setTimeout(r, 20));
    expect(settled).toBeUndefined();
    // the real answer still gets through; a second one after it is a duplicate, not a second verdict
    await js.publish(resultSubject('ident'), answer('real'), { msgID: resultMsgId('ident', job.id, job.hash) });
    expect((await resP).fault).toBe('real');
    await publish(answer('late'));
    while (t.stats.received < 8) await new Promise((r) => setTimeout(r, 20));
    expect(t.stats.rejected).toBe(6);
    expect(t.stats.duplicates).toBe(1);
    const reasons = events.filter((e) => e.type === 'rejected').map((e) => `${(e as { id: string }).id}: ${(e as { reason: string }).reason}`);
    expect(reasons).toEqual([
      'j-never: no such job issued by this coordinator',
      expect.stringMatching(/^j1: produced by w2 for model:x86, the job is for model:x86@6\.12$/),
      expect.stringMatching(/^j1: malformed result: origin: /),
      expect.stringMatching(/^j1: answers another case/),
      'j1: worker live-worker serves live, the job is for model:x86@6.12',
      expect.stringMatching(/^\?: malformed result: /),
    ]);
  }, 60_000);

  it('a worker\'s verdict is taken only from a result that answers the job and agrees with itself and its trace', async () => {
    const server = await startNatsServer();
    cleanup.push(() => server.dispose());
    const events: FarmEvent[] = [];
    const t = await Transport.connect(server.url, {}, { campaign: 'verd', onEvent: (e) => events.push(e) });
    cleanup.push(() => t.close());
    const target = 'model:x86';
    const resP = t.run({ id: 'v1', target, case: tiny, check: {} }, { timeoutMs: 1000 });
    let settled: unknown;
    void resP.then((r) => { settled = r; });
    const nc = await connectNats(server.url);
    cleanup.push(() => nc.close());
    const js = jetstream(nc);
    let job: JobMessage | undefined;
    while (!job) {
      try {
        const c = await js.consumers.get(JOBS_STREAM, consumerName(target));
        const m = await c.next({ expires: 1000 });
        if (m) { job = m.json<JobMessage>(); m.ack(); }
      } catch { await new Promise((r) => setTimeout(r, 100)); }
    }
    expect(job.check).toEqual({}); // the job asks the worker for the check
    const trace = new ModelTarget(target).executeSync(tiny);
    const verdict = checkWhereRun(tiny, trace); // passing: sent without its trace
    const otherTrace = new ModelTarget('model:x86@6.1').executeSync(tiny);
    const answer = (result: Record<string, unknown>, patch: Record<string, unknown> = {}) => JSON.stringify({
      v: 1, campaign: 'verd', id: job!.id, hash: job!.hash, origin: { id: 'w1', target }, result: { id: job!.id, ...result }, ...patch,
    });
    let n = 0;
    const publish = (data: string) => js.publish(resultSubject('verd'), data, { msgID: `forged-${n++}` });
    await publish(answer({ verdict }, { id: 'v-other' }));                                           // "ok" for another job
    await publish(answer({ verdict }, { hash: '0123456789abcdef' }));                                // "ok" for another case
    await publish(answer({ verdict: { ...verdict, trace_digest: traceDigest(trace) }, trace: otherTrace })); // "ok" naming another trace
    await publish(answer({ verdict: { ...verdict, violations: [{ kind: 'rc', step: 0, op: 'mmap', bit: 'rc', expected: '0', actual: 'ENOMEM', rules: [], severity: 'mismatch', message: 'm' }] } }));
    await publish(answer({ verdict: { ...verdict, step_rules: 'R-1' } }));                           // malformed
    while (t.stats.rejected < 5) await new Promise((r) => setTimeout(r, 20));
    expect(settled).toBeUndefined();
    await js.publish(resultSubject('verd'), answer({ verdict }), { msgID: resultMsgId('verd', job.id, job.hash) });
    const got = await resP;
    expect(got.verdict).toEqual(verdict);
    expect(got.trace).toBeUndefined();
    expect(t.stats.rejected).toBe(5);
    const reasons = events.filter((e) => e.type === 'rejected').map((e) => `${(e as { id: string }).id}: ${(e as { reason: string }).reason}`);
    expect(reasons).toEqual([
      'v-other: no such job issued by this coordinator',
      expect.stringMatching(/^v1: answers another case/),
      expect.stringMatching(/^v1: verdict: names trace [0-9a-f]{32}, the result carries another$/),
      expect.stringMatching(/^v1: verdict: ok is true with 1 violation/),
      expect.stringMatching(/^v1: malformed result: result\.verdict\.step_rules: /),
    ]);
  }, 60_000);
});
