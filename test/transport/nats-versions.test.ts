// Mixed farm versions (src/transport/nats.ts, Versions): a pre-batch worker (job messages v 1 only,
// announced without `batch`/`protocol`) is reported once with both versions, gets single jobs, and a
// v 2 batch it took and refused (as such a worker does: under the id seq-<stream sequence>, then
// acked away) loses no job: the batch's jobs go back to the queue and are answered. Real
// nats-server; the old worker is simulated here with the pre-batch worker's rules (workers/worker.ts
// at fd521d4: envelope `v` must be 1, a job without an id answered as seq-<n>).
import { afterEach, describe, expect, it } from 'vitest';
import { jetstream } from '@nats-io/jetstream';
import { NatsTransport, type FarmEvent } from '../../src/transport/nats.ts';
import {
  connectNats, consumerName, ensureTargetConsumer, ensureTopology, HEARTBEAT_SUBJECT, JOBS_STREAM, resultMsgId, resultSubject, type JobMessage, type ResultMessage,
} from '../../src/transport/nats-common.ts';
import runJob from '../../workers/task.ts';
import { natsServerMissing, startNatsServer } from '../helpers/nats-server.ts';

const missing = natsServerMissing();
if (missing) console.warn(`skipping the mixed-version farm tests: ${missing}`);

const cleanup: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => { for (const f of cleanup.splice(0).reverse()) await f(); });

const TARGET = 'model:x86';
const tiny = (pages: number) => ({ format: 'ptefarm-case/1', ops: [{ op: 'mmap', region: 'a', pages, kind: 'anon' }, { op: 'write', region: 'a', first: 0, count: 1 }] }) as never;
const until = async (ok: () => boolean, ms = 10_000) => { for (const end = Date.now() + ms; !ok() && Date.now() < end;) await new Promise((r) => setTimeout(r, 20)); };

/** A worker from before batches: beats without `batch` or `protocol`, takes one message at a time,
 *  refuses what is not a v 1 job and runs the rest on the model. */
async function preBatchWorker(url: string, beats = true): Promise<{ stop: () => Promise<void>; refused: number[] }> {
  const nc = await connectNats(url);
  const jsm = await ensureTopology(nc);
  await ensureTargetConsumer(jsm, TARGET);
  const js = jetstream(nc);
  const id = 'old-worker';
  const origin = { id, target: TARGET };
  const beat = () => nc.publish(HEARTBEAT_SUBJECT, JSON.stringify({ id, host: 'h', pid: 1, target: TARGET, threads: 1, caps: {}, busy: 0, done: 0, refused: 0, started: 0, intervalMs: 500 }));
  if (beats) beat();
  await nc.flush();
  const timer = setInterval(() => { if (beats) beat(); }, 500);
  const refused: number[] = [];
  let stopping = false;
  const consumer = await js.consumers.get(JOBS_STREAM, consumerName(TARGET));
  const loop = (async () => {
    while (!stopping) {
      const batch = await consumer.fetch({ max_messages: 1, expires: 1000 });
      for await (const m of batch) {
        const j = m.json<Partial<JobMessage> & { v?: number }>();
        const campaign = j.campaign!;
        let res: ResultMessage;
        if (j.v !== 1 || typeof j.id !== 'string') {
          refused.push(m.seq);
          const jobId = `seq-${m.seq}`;
          res = { v: 1, campaign, id: jobId, hash: 'none', origin, delivery: m.info.deliveryCount,
            result: { id: jobId, fault: `refused by worker ${id}: invalid job (not executed): v: expected 1, got ${String(j.v)}; id: expected a job id of 1..200 characters, got undefined`, worker: id, ms: 0 } };
        } else {
          const r = await runJob({ id: j.id, target: TARGET, case: j.case! });
          res = { v: 1, campaign, id: j.id, hash: j.hash!, origin, delivery: m.info.deliveryCount, result: { ...r, id: j.id, worker: `${id}/${r.worker ?? ''}` } };
        }
        await js.publish(resultSubject(campaign), JSON.stringify(res), { msgID: resultMsgId(campaign, res.id, res.hash) });
        m.ack();
      }
    }
  })();
  return { refused, stop: async () => { stopping = true; clearInterval(timer); await loop.catch(() => undefined); await nc.close(); } };
}

/** A nats-server, a coordinator (campaign `campaign`, concurrency 4, its events into `events`) and a
 *  batching worker announced by hand (it takes nothing): the next jobs go out as one batch. */
async function coordinatorBesideBatchingWorker(campaign: string, events?: FarmEvent[]) {
  const server = await startNatsServer();
  cleanup.push(() => server.dispose());
  const a = await NatsTransport.connect(server.url, {}, { campaign, concurrency: 4, onEvent: events ? (e) => events.push(e) : undefined });
  cleanup.push(() => a.close());
  const nc = await connectNats(server.url);
  cleanup.push(() => nc.close());
  nc.publish(HEARTBEAT_SUBJECT, JSON.stringify({ id: 'w-new', host: 'h', pid: 2, target: TARGET, threads: 2, caps: {}, busy: 0, done: 0, refused: 0, started: 0, intervalMs: 60_000, batch: 4, protocol: 2 }));
  await nc.flush();
  await until(() => a.workers(TARGET).length === 1);
  return { a, server };
}

describe.skipIf(!!missing)('mixed farm versions (real nats-server)', () => {
  it('a pre-batch worker is named once with both versions, gets single jobs, and a batch it refused goes back to the queue: no job lost, no fault', async () => {
    const events: FarmEvent[] = [];
    const { a, server } = await coordinatorBesideBatchingWorker('mixed', events);
    const batched = [1, 2, 3, 4].map((i) => a.run({ id: `b${i}`, target: TARGET, case: tiny(i) }));
    await until(() => a.stats.messages === 1);
    expect(a.stats).toMatchObject({ published: 4, messages: 1 });
    expect(events.filter((e) => e.type === 'version-mismatch')).toEqual([]);

    // an old worker joins and takes the queued batch
    const old = await preBatchWorker(server.url);
    cleanup.push(() => old.stop());
    const res = await Promise.all(batched);
    expect(old.refused).toHaveLength(1);
    for (const r of res) {
      expect(r.fault, r.id).toBeUndefined();
      expect(r.trace?.steps, r.id).toHaveLength(2);
      expect(r.worker?.startsWith('old-worker/')).toBe(true);
    }
    expect(a.stats.requeued).toBe(4);
    expect(a.stats.rejected).toBe(0);
    const mismatch = events.filter((e) => e.type === 'version-mismatch');
    expect(mismatch).toHaveLength(1);
    expect(mismatch[0]).toMatchObject({ workerVersion: 1, coordinatorVersion: 2 });
    expect((mismatch[0] as { message: string }).message).toMatch(/^worker old-worker \(model:x86\) reads job messages v1, this coordinator writes v2/);

    // while it is live, jobs given together go one per message, which it reads
    const before = a.stats.messages;
    const singles = await Promise.all([5, 6, 7].map((i) => a.run({ id: `s${i}`, target: TARGET, case: tiny(i) })));
    for (const r of singles) expect(r.fault, r.id).toBeUndefined();
    expect(a.stats.messages - before).toBe(3);
    expect(old.refused).toHaveLength(1);
    expect(events.filter((e) => e.type === 'version-mismatch')).toHaveLength(1);
  }, 60_000);

  it('a batch refused again and again (the old worker never announced itself) ends in a bounded fault naming both versions, never a lost job', async () => {
    const { a, server } = await coordinatorBesideBatchingWorker('silent');
    const old = await preBatchWorker(server.url, false);
    cleanup.push(() => old.stop());
    const res = await Promise.all([1, 2].map((i) => a.run({ id: `b${i}`, target: TARGET, case: tiny(i) })));
    // the first publication and three more, each refused
    expect(old.refused).toHaveLength(4);
    expect(a.stats.requeued).toBe(6);
    for (const r of res) expect(r.fault).toBe('infrastructure: job protocol mismatch: worker old-worker reads job messages v1, the batch holding this job was v2; refused 4 times, not run');
  }, 60_000);
});
