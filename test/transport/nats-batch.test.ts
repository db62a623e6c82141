// The coordinator's batches (src/transport/nats.ts): jobs given to run() together travel as one
// message per worker share when the target's workers announce that they take batches, one at a
// time otherwise; a resumed coordinator waits for the jobs a queued message of its predecessor
// holds instead of publishing them a second time. Real nats-server, real `ptefarm worker`.
import { afterEach, describe, expect, it } from 'vitest';
import { jetstream } from '@nats-io/jetstream';
import { NatsTransport } from '../../src/transport/nats.ts';
import { connectNats, HEARTBEAT_SUBJECT, JOBS_STREAM, jobSubject, type BatchMessage, type JobMessage } from '../../src/transport/nats-common.ts';
import { natsServerMissing, recordedResults, spawnWorker, startNatsServer, stopWorker } from '../helpers/nats-server.ts';

const missing = natsServerMissing();
if (missing) console.warn(`skipping the coordinator batch tests: ${missing}`);

const cleanup: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => { for (const f of cleanup.splice(0).reverse()) await f(); });

const TARGET = 'model:x86';
const tiny = (pages: number) => ({ format: 'ptefarm-case/1', ops: [{ op: 'mmap', region: 'a', pages, kind: 'anon' }, { op: 'write', region: 'a', first: 0, count: 1 }] }) as never;

/** the job messages stored in the work queue, in order */
async function queued(url: string): Promise<(JobMessage | BatchMessage)[]> {
  const nc = await connectNats(url);
  try {
    const jsm = await jetstream(nc).jetstreamManager();
    const out: (JobMessage | BatchMessage)[] = [];
    for (let seq = 0; ;) {
      const m = await jsm.streams.getMessage(JOBS_STREAM, { seq: seq + 1, next_by_subj: jobSubject(TARGET) } as unknown as { seq: number }).catch(() => null);
      if (!m) return out;
      seq = m.seq;
      out.push(m.json());
    }
  } finally { await nc.close(); }
}

describe.skipIf(!!missing)('coordinator batches (real nats-server)', () => {
  it('sends jobs one per message to a target no batching worker announced, in batches once one did; a resumed coordinator adopts a queued batch', async () => {
    const server = await startNatsServer();
    cleanup.push(() => server.dispose());
    const a = await NatsTransport.connect(server.url, {}, { campaign: 'adopt', concurrency: 4 });
    cleanup.push(() => a.close());
    // nobody announced: single jobs (v 1), which every worker reads
    const lone = [a.run({ id: 'j0', target: TARGET, case: tiny(1) }), a.run({ id: 'j1', target: TARGET, case: tiny(2) })];
    for (let i = 0; i < 200 && a.stats.messages < 2; i++) await new Promise((r) => setTimeout(r, 20));
    expect((await queued(server.url)).map((m) => m.v)).toEqual([1, 1]);
    // a worker that takes batches of 4 with 2 threads announces itself (by hand: no worker runs yet)
    const nc = await connectNats(server.url);
    cleanup.push(() => nc.close());
    nc.publish(HEARTBEAT_SUBJECT, JSON.stringify({ id: 'w-by-hand', host: 'h', pid: 1, target: TARGET, threads: 2, caps: {}, busy: 0, done: 0, refused: 0, started: 0, intervalMs: 60_000, batch: 4 }));
    await nc.flush();
    for (let i = 0; i < 200 && !a.workers(TARGET).length; i++) await new Promise((r) => setTimeout(r, 20));
    const together = [2, 3, 4, 5, 6].map((i) => a.run({ id: `j${i}`, target: TARGET, case: tiny(i) }));
    for (let i = 0; i < 200 && a.stats.messages < 4; i++) await new Promise((r) => setTimeout(r, 20));
    const q = await queued(server.url);
    // five jobs given together, batches of at most 4 answered in chunks of the worker's 2 threads
    expect(q.map((m) => (m.v === 2 ? m.jobs.map((j) => j.id) : [m.id]))).toEqual([['j0'], ['j1'], ['j2', 'j3', 'j4', 'j5'], ['j6']]);
    expect((q[2] as BatchMessage).chunk).toBe(2);
    expect(a.stats).toMatchObject({ published: 7, messages: 4, adopted: 0 });
    // the coordinator dies (its runs never answered); its messages stay queued
    await a.close();
    void lone; void together;

    // a resumed coordinator regenerates the same jobs: it waits for the queued messages' results
    const b = await NatsTransport.connect(server.url, {}, { campaign: 'adopt', concurrency: 4, resumed: true });
    cleanup.push(() => b.close());
    await b.sweep([TARGET]);
    const again = [0, 1, 2, 3, 4, 5, 6].map((i) => b.run({ id: `j${i}`, target: TARGET, case: tiny(i === 0 ? 1 : i === 1 ? 2 : i) }));
    await new Promise((r) => setTimeout(r, 200));
    expect(b.stats).toMatchObject({ published: 0, messages: 0, adopted: 7 });
    expect((await queued(server.url)).length).toBe(4);
    const w = await spawnWorker(server.url, TARGET);
    cleanup.push(() => stopWorker(w));
    const res = await Promise.all(again);
    for (const r of res) {
      expect(r.fault, r.id).toBeUndefined();
      expect(r.trace, r.id).toBeDefined();
      expect(r.worker?.startsWith(`${w.id}/`)).toBe(true);
    }
    // each job ran once: one stored result per job, and nothing left queued
    const rec = await recordedResults(nc, 'adopt');
    expect(rec.map((r) => r.id).sort()).toEqual(['j0', 'j1', 'j2', 'j3', 'j4', 'j5', 'j6']);
    for (let i = 0; i < 100 && (await queued(server.url)).length; i++) await new Promise((r) => setTimeout(r, 50));
    expect(await queued(server.url)).toEqual([]);
  }, 90_000);

  it('a campaign-sized stream of jobs through a real worker travels in fewer messages than jobs, each answered once', async () => {
    const server = await startNatsServer();
    cleanup.push(() => server.dispose());
    const w = await spawnWorker(server.url, TARGET);
    cleanup.push(() => stopWorker(w));
    const t = await NatsTransport.connect(server.url, {}, { campaign: 'stream', concurrency: 8 });
    cleanup.push(() => t.close());
    for (let i = 0; i < 200 && !t.workers(TARGET).length; i++) await new Promise((r) => setTimeout(r, 20));
    // a window of 16 jobs kept full, as the campaign keeps it
    const N = 200;
    let next = 0;
    const results = new Map<string, { fault?: string }>();
    await new Promise<void>((resolve) => {
      const submit = () => {
        if (next >= N) return;
        const id = `s${next}`;
        const pages = 1 + (next++ % 7);
        void t.run({ id, target: TARGET, case: tiny(pages), check: {} }).then((r) => {
          results.set(id, r);
          if (results.size === N) resolve(); else submit();
        });
      };
      for (let i = 0; i < 16; i++) submit();
    });
    expect(results.size).toBe(N);
    for (const [id, r] of results) expect(r.fault, id).toBeUndefined();
    expect(t.stats.published).toBe(N);
    expect(t.stats.messages).toBeLessThan(N);
    expect(t.stats.duplicates + t.stats.rejected).toBe(0);
    const nc = await connectNats(server.url);
    try {
      const rec = await recordedResults(nc, 'stream');
      expect(rec.length).toBe(N);
      expect(new Set(rec.map((r) => r.id)).size).toBe(N);
    } finally { await nc.close(); }
    console.log(`[batch] ${N} jobs in ${t.stats.messages} job messages`);
  }, 90_000);
});
