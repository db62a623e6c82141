// Batches of jobs in one NATS message (src/transport/nats-common.ts BatchMessage), as the worker
// takes them: the batch limits and every envelope field are checked before anything runs, and a
// malformed batch gets a fault naming the problem for each job it names (never a trace, never a
// verdict); a sound batch runs, each job's case checked on its own; results go back in the batch's
// fixed chunks; a worker killed mid-batch loses no result it stored, and the redelivery answers the
// rest without storing any job twice (or, past maxDeliver, dead-letters only the rest).
// Real nats-server, real `ptefarm worker` processes, batches published by hand.
import { afterEach, describe, expect, it } from 'vitest';
import { headers, type NatsConnection } from '@nats-io/transport-node';
import { jetstream } from '@nats-io/jetstream';
import { batchProblems } from '../../workers/worker.ts';
import {
  connectNats, consumerName, ensureTopology, JOBS_STREAM, jobSubject, MAX_BATCH_BYTES, MAX_BATCH_JOBS, RESULTS_STREAM, resultSubject,
  type BatchMessage, type ResultBatchMessage, type ResultMessage,
} from '../../src/transport/nats-common.ts';
import { natsServerMissing, recordedResults, spawnWorker, startNatsServer, stopWorker } from '../helpers/nats-server.ts';

const TARGET = 'model:x86';
const valid = { format: 'ptefarm-case/1', ops: [{ op: 'mmap', region: 'a', pages: 2, kind: 'anon' }, { op: 'write', region: 'a', first: 0, count: 1 }] };
/** about a second of model time with the check (1024 pages written 255 times) */
const heavy = { format: 'ptefarm-case/1', ops: [{ op: 'mmap', region: 'a', pages: 1024, kind: 'anon' }, ...Array.from({ length: 255 }, () => ({ op: 'write', region: 'a', first: 0, count: 1024 }))] };
const entry = (id: string, c: unknown = valid, extra: Record<string, unknown> = {}) => ({ id, hash: `h-${id}`, case: c as never, ...extra });
const batch = (campaign: string, jobs: unknown[], extra: Record<string, unknown> = {}): BatchMessage =>
  ({ v: 2, campaign, target: TARGET, timeoutMs: 60_000, chunk: 2, jobs: jobs as never, ...extra });

describe('batchProblems', () => {
  const ok = batch('c', [entry('a'), entry('b')]);
  const problems = (b: unknown, bytes = 100) => batchProblems(b as never, TARGET, bytes).join('\n');

  it('takes a sound batch', () => {
    expect(batchProblems(ok, TARGET, 100)).toEqual([]);
    expect(batchProblems(batch('c', Array.from({ length: MAX_BATCH_JOBS }, (_, i) => entry(`j${i}`)), { chunk: MAX_BATCH_JOBS, maxDeliver: 5, ackWaitMs: 3000 }), TARGET, MAX_BATCH_BYTES)).toEqual([]);
  });

  it('names each malformed field and limit, quoting input bounded', () => {
    const cases: [unknown, number, RegExp][] = [
      [ok, MAX_BATCH_BYTES + 1, new RegExp(`^batch: ${MAX_BATCH_BYTES + 1} bytes exceed the limit of ${MAX_BATCH_BYTES}$`)],
      [batch('c', Array.from({ length: MAX_BATCH_JOBS + 1 }, (_, i) => entry(`j${i}`))), 100, new RegExp(`^jobs: ${MAX_BATCH_JOBS + 1} jobs exceed the limit of ${MAX_BATCH_JOBS} per batch$`)],
      [batch('c', []), 100, /^jobs: expected an array of 1\.\.64 jobs, got \[\]$/],
      [{ ...ok, jobs: 'x'.repeat(10_000) }, 100, /^jobs: expected an array of 1\.\.64 jobs, got "x{10,}… \(10002 chars\)"?$/],
      [batch('c', [entry('a'), entry('b'), entry('a')]), 100, /^jobs\[2\]\.id: "a" is also jobs\[0\]'s$/],
      [batch('c', [entry('a'), { hash: 'h', case: valid }]), 100, /^jobs\[1\]\.id: expected a job id of 1\.\.200 characters, got undefined$/],
      [batch('c', [entry('a'), null]), 100, /^jobs\[1\]: expected a job object, got null$/],
      [batch('c', [entry('a', valid, { hash: '' })]), 100, /^jobs\[0\]\.hash: expected a string of 1\.\.200 characters, got ""$/],
      [batch('c', [entry('a', valid, { check: { profile: '__proto__' } })]), 100, /^jobs\[0\]\.check: expected .* got \{"profile":"__proto__"\}$/],
      [{ ...ok, chunk: 0 }, 100, /^chunk: expected a whole number 1\.\.64, got 0$/],
      [{ ...ok, chunk: 1.5 }, 100, /^chunk: .* got 1\.5$/],
      [{ ...ok, timeoutMs: -1 }, 100, /^timeoutMs: .* got -1$/],
      [{ ...ok, target: 'live' }, 100, /^target: this worker runs model:x86, the batch asks for "live"$/],
      [{ ...ok, campaign: 'a.b' }, 100, /^campaign: expected a campaign id .* got "a\.b"$/],
      [{ ...ok, maxDeliver: 0 }, 100, /^maxDeliver: .* got 0$/],
    ];
    for (const [b, bytes, re] of cases) {
      const p = problems(b, bytes);
      expect(p, JSON.stringify(b).slice(0, 200)).toMatch(re);
      for (const line of p.split('\n')) expect(line.length).toBeLessThan(400);
    }
  });
});

const missing = natsServerMissing();
if (missing) console.warn(`skipping the worker batch tests: ${missing}`);

const cleanup: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => { for (const f of cleanup.splice(0).reverse()) await f(); });

/** result messages of `campaign` as they are published (core subscription), each job's result by id */
function collect(nc: NatsConnection, campaign: string) {
  const byId = new Map<string, ResultMessage['result'][]>();
  const messages: (ResultMessage | ResultBatchMessage)[] = [];
  const sub = nc.subscribe(resultSubject(campaign), {
    callback: (_e, m) => {
      const r = m.json<ResultMessage | ResultBatchMessage>();
      messages.push(r);
      for (const x of r.v === 2 ? r.results : [r]) byId.set(x.id, [...(byId.get(x.id) ?? []), x.result]);
    },
  });
  cleanup.push(() => sub.unsubscribe());
  return { byId, messages, until: async (n: number, ms = 60_000) => { for (const t0 = Date.now(); byId.size < n && Date.now() - t0 < ms;) await new Promise((r) => setTimeout(r, 50)); } };
}

async function queueEmpty(nc: NatsConnection): Promise<number> {
  const jsm = await jetstream(nc).jetstreamManager();
  let left = -1;
  for (let i = 0; i < 200 && left !== 0; i++) {
    const ci = await jsm.consumers.info(JOBS_STREAM, consumerName(TARGET));
    left = ci.num_pending + ci.num_ack_pending;
    if (left) await new Promise((r) => setTimeout(r, 50));
  }
  return left;
}

describe.skipIf(!!missing)('a worker takes batches of jobs (real nats-server)', () => {
  it('runs a sound batch and answers it in its chunks; refuses a malformed one with a fault per job naming the problem', async () => {
    const server = await startNatsServer();
    cleanup.push(() => server.dispose());
    const w = await spawnWorker(server.url, TARGET);
    cleanup.push(() => stopWorker(w));
    const nc = await connectNats(server.url);
    cleanup.push(() => nc.close());
    const js = jetstream(nc);
    const got = collect(nc, 'batches');
    const subj = jobSubject(TARGET);
    // sound: three jobs, chunks of two; the second job's case is over the limits, the others run
    await js.publish(subj, JSON.stringify(batch('batches', [entry('ok1', valid, { check: {} }), entry('big', { format: 'ptefarm-case/1', ops: [{ op: 'mmap', region: 'a', pages: 100_000, kind: 'anon' }] }), entry('ok2')])));
    // malformed: the same id twice; a job of another target; more jobs than the limit; no readable jobs
    await js.publish(subj, JSON.stringify(batch('batches', [entry('dup'), entry('dup'), entry('dup-other')])));
    await js.publish(subj, JSON.stringify(batch('batches', [entry('elsewhere')], { target: 'live' })));
    await js.publish(subj, JSON.stringify(batch('batches', Array.from({ length: MAX_BATCH_JOBS + 1 }, (_, i) => entry(`many${i}`)))));
    const h = headers();
    h.set('Ptefarm-Campaign', 'batches');
    h.set('Ptefarm-Job', 'no-jobs');
    await js.publish(subj, JSON.stringify({ ...batch('batches', []), jobs: { not: 'an array' } }), { headers: h });
    const want = 3 + 2 + 1 + MAX_BATCH_JOBS + 1;
    await got.until(want);
    expect(got.byId.size).toBe(want);
    for (const [id, rs] of got.byId) expect(rs.length, `${id} answered ${rs.length} times`).toBe(1);
    const one = (id: string) => got.byId.get(id)![0]!;

    // the sound batch: the two good jobs ran (the first one checked where it ran), the bad one was refused
    expect(one('ok1').fault).toBeUndefined();
    expect(one('ok1').verdict?.ok).toBe(true);
    expect(one('ok2').fault).toBeUndefined();
    expect(one('ok2').trace).toBeDefined();
    expect(one('big').fault).toMatch(/^refused by worker .*: invalid job \(not executed\): case ops\[0\]\.pages/);
    // in its chunks: [ok1, big] and [ok2], from its first delivery
    const chunks = got.messages.filter((m): m is ResultBatchMessage => m.v === 2 && m.results.some((r) => r.id.startsWith('ok') || r.id === 'big'));
    expect(chunks.map((m) => m.results.map((r) => r.id)).sort()).toEqual([['ok1', 'big'], ['ok2']]);
    expect(chunks.every((m) => m.delivery === 1 && m.origin.id === w.id && m.origin.target === TARGET)).toBe(true);

    // the malformed ones: nothing ran, every job they name has the fault naming the problem
    const refused: [string, RegExp][] = [
      ['dup', /jobs\[1\]\.id: "dup" is also jobs\[0\]'s/], ['dup-other', /jobs\[1\]\.id: "dup" is also jobs\[0\]'s/],
      ['elsewhere', /target: this worker runs model:x86, the batch asks for "live"/],
      ['many0', new RegExp(`jobs: ${MAX_BATCH_JOBS + 1} jobs exceed the limit of ${MAX_BATCH_JOBS} per batch`)],
      [`many${MAX_BATCH_JOBS - 1}`, /jobs: 65 jobs exceed/],
      ['no-jobs', /jobs: expected an array of 1\.\.64 jobs, got \{"not":"an array"\}/],
    ];
    for (const [id, re] of refused) {
      const r = one(id);
      expect(r.fault, id).toMatch(/^refused by worker .*: invalid job \(not executed\): /);
      expect(r.fault, id).toMatch(re);
      expect(r.fault!.length, id).toBeLessThan(2000);
      // never a verdict, never a trace: a refused job is a fault, not "ok" nor a violation
      expect(r.trace, id).toBeUndefined();
      expect(r.verdict, id).toBeUndefined();
    }
    // the jobs past the limit are not answered (nor run): the batch names at most MAX_BATCH_JOBS
    expect(got.byId.has(`many${MAX_BATCH_JOBS}`)).toBe(false);
    expect(w.proc.exitCode).toBe(null);
    expect(w.log()).not.toMatch(/job failed/);
    expect(await queueEmpty(nc), w.log()).toBe(0);
  }, 90_000);

  for (const mode of ['redelivered', 'dead-lettered'] as const) {
    it(`a worker killed mid-batch keeps the chunk it stored; the redelivery ${mode === 'redelivered' ? 'answers the rest, nothing stored twice' : 'past maxDeliver dead-letters only the rest'}`, async () => {
      const server = await startNatsServer();
      cleanup.push(() => server.dispose());
      const nc = await connectNats(server.url);
      cleanup.push(() => nc.close());
      await ensureTopology(nc);
      const js = jetstream(nc);
      const campaign = `kill-${mode}`;
      const got = collect(nc, campaign);
      // one thread: the tiny first job's chunk is stored while the heavy second one runs
      const a = await spawnWorker(server.url, TARGET, ['--threads', '1']);
      cleanup.push(() => stopWorker(a));
      got.byId.clear();
      let killed = false;
      const watch = setInterval(() => { if (!killed && got.byId.has('first')) { killed = true; a.proc.kill('SIGKILL'); } }, 5);
      cleanup.push(() => clearInterval(watch));
      await js.publish(jobSubject(TARGET), JSON.stringify(batch(campaign, [entry('first'), entry('heavy1', heavy, { check: {} }), entry('heavy2', heavy, { check: {} })],
        { chunk: 1, ackWaitMs: 1000, ...(mode === 'dead-lettered' ? { maxDeliver: 1 } : {}) })));
      await got.until(1);
      for (let i = 0; i < 200 && !killed; i++) await new Promise((r) => setTimeout(r, 10));
      expect(killed).toBe(true);
      expect(await a.exited).toBe(null);
      expect(got.byId.has('heavy1'), 'the worker finished the heavy job before it was killed: the test proves nothing').toBe(false);
      // another worker gets the batch again once the consumer's ack_wait ran out (3 s)
      const b = await spawnWorker(server.url, TARGET);
      cleanup.push(() => stopWorker(b));
      await got.until(3);
      expect(await queueEmpty(nc), b.log()).toBe(0);
      const rec = await recordedResults(nc, campaign);
      // every job stored exactly once; the first from the killed worker's first delivery
      expect(rec.map((r) => r.id).sort()).toEqual(['first', 'heavy1', 'heavy2']);
      const of = (id: string) => rec.find((r) => r.id === id)!;
      expect(of('first').origin.id).toBe(a.id);
      expect(of('first').delivery).toBe(1);
      expect(of('first').result.trace).toBeDefined();
      for (const id of ['heavy1', 'heavy2']) {
        expect(of(id).origin.id).toBe(b.id);
        expect(of(id).delivery).toBe(2);
        if (mode === 'redelivered') {
          expect(of(id).result.fault).toBeUndefined();
          expect(of(id).result.verdict?.ok).toBe(true);
        } else {
          expect(of(id).dead).toBe(true);
          expect(of(id).result.fault).toMatch(/^infrastructure: case delivered 1 times without a result.*dead-lettered to ptefarm\.dead\.kill-dead-lettered/);
        }
      }
      const jsm = await js.jetstreamManager();
      const stored = await jsm.streams.info(RESULTS_STREAM, { subjects_filter: resultSubject(campaign) });
      expect(stored.state.subjects?.[resultSubject(campaign)]).toBe(3);
    }, 120_000);
  }
});
