// A job with a malformed field (a non-integer, negative or huge timeoutMs, ackWaitMs or maxDeliver,
// an oversized hash) gets a fault result naming the field and is acked; the handler never throws
// (issue 18 item 9: a timeoutMs of 1.5 made AbortSignal.timeout throw, the job got no result and was
// redelivered until dead-lettered). Real nats-server, real `ptefarm worker`.
import { afterAll, describe, expect, it } from 'vitest';
import { jetstream } from '@nats-io/jetstream';
import { envelopeProblems } from '../../workers/worker.ts';
import { EmbeddedTransport } from '../../src/transport/embedded.ts';
import { connectNats, consumerName, JOBS_STREAM, jobSubject, type JobMessage } from '../../src/transport/nats-common.ts';
import { natsServerMissing, spawnWorker, startNatsServer, stopWorker } from '../helpers/nats-server.ts';

const valid = { format: 'ptefarm-case/1', ops: [{ op: 'mmap', region: 'a', pages: 2, kind: 'anon' }, { op: 'write', region: 'a', first: 0, count: 1 }] };
const job = (id: string, extra: Record<string, unknown> = {}): JobMessage =>
  ({ v: 1, campaign: 'jobs', id, target: 'model:x86', case: valid as never, timeoutMs: 5000, hash: 'h', ...extra });

const BAD_FIELDS: [string, Record<string, unknown>, RegExp][] = [
  ['timeout-fraction', { timeoutMs: 1.5 }, /timeoutMs: expected a whole number of milliseconds 1\.\.2147483647, got 1\.5/],
  ['timeout-negative', { timeoutMs: -5 }, /timeoutMs: .* got -5/],
  ['timeout-zero', { timeoutMs: 0 }, /timeoutMs: .* got 0/],
  ['timeout-huge', { timeoutMs: 1e300 }, /timeoutMs: .* got 1e\+300/],
  ['timeout-string', { timeoutMs: '10' }, /timeoutMs: .* got "10"/],
  ['timeout-null', { timeoutMs: null }, /timeoutMs: .* got null/],
  ['ackwait-huge', { ackWaitMs: 1e300 }, /ackWaitMs: .* got 1e\+300/],
  ['ackwait-fraction', { ackWaitMs: 150.5 }, /ackWaitMs: .* got 150\.5/],
  ['maxdeliver-fraction', { maxDeliver: 1.5 }, /maxDeliver: .* got 1\.5/],
  ['hash-huge', { hash: 'x'.repeat(100_000) }, /hash: expected a string of at most 200 characters, got "x{150,}… \(100002 chars\)/],
  ['check-array', { check: [] }, /check: expected \{ profile\?: a known kernel profile \(6\.18, 6\.12, 6\.1\), traces\?: "failing" \| "all" \}, got \[\]/],
  ['check-unknown-profile', { check: { profile: '9.99' } }, /check: expected .* got \{"profile":"9\.99"\}/],
  ['check-proto-profile', { check: { profile: '__proto__' } }, /check: expected .* got \{"profile":"__proto__"\}/],
  ['check-bad-traces', { check: { traces: 'some' } }, /check: expected .* got \{"traces":"some"\}/],
];

describe('worker job validation', () => {
  it('envelopeProblems names every malformed field, with bounded quotes', () => {
    for (const [name, extra, re] of BAD_FIELDS) {
      const p = envelopeProblems(job(name, extra), 'model:x86');
      expect(p.join('\n'), name).toMatch(re);
      for (const x of p) expect(x.length, name).toBeLessThan(400);
    }
    expect(envelopeProblems(job('fine'), 'model:x86')).toEqual([]);
    expect(envelopeProblems(job('fine', { timeoutMs: 2_147_483_647, ackWaitMs: 100, maxDeliver: 5 }), 'model:x86')).toEqual([]);
    expect(envelopeProblems(job('fine', { check: {} }), 'model:x86')).toEqual([]);
    expect(envelopeProblems(job('fine', { check: { profile: '6.12', traces: 'all' } }), 'model:x86')).toEqual([]);
  });

  it('the embedded pool answers a bad per-case timeout with a fault result instead of throwing', async () => {
    const pool = new EmbeddedTransport({ threads: 1 });
    try {
      for (const t of [1.5, -1, 0, 1e300, Number.NaN]) {
        const r = await pool.run({ id: `t${t}`, target: 'model:x86', case: valid as never }, { timeoutMs: t });
        expect(r.fault, String(t)).toMatch(/bad per-case timeout/);
      }
    } finally { await pool.close(); }
  }, 60_000);

  const missing = natsServerMissing();
  const cleanup: (() => Promise<unknown> | unknown)[] = [];
  afterAll(async () => { for (const f of cleanup.splice(0).reverse()) await f(); });

  it.skipIf(!!missing)('a worker answers every malformed job with a fault naming the field, acks it and keeps serving', async () => {
    const server = await startNatsServer();
    cleanup.push(() => server.dispose());
    const w = await spawnWorker(server.url, 'model:x86');
    cleanup.push(() => stopWorker(w));
    const nc = await connectNats(server.url);
    cleanup.push(() => nc.close());
    const js = jetstream(nc);
    const results = new Map<string, { fault?: string; trace?: unknown }>();
    const sub = nc.subscribe('ptefarm.result.jobs', { callback: (_e, m) => { const r = m.json<{ id: string; result: { fault?: string; trace?: unknown } }>(); results.set(r.id, r.result); } });
    cleanup.push(() => sub.unsubscribe());
    for (const [name, extra] of BAD_FIELDS) await js.publish(jobSubject('model:x86'), JSON.stringify(job(name, extra)));
    await js.publish(jobSubject('model:x86'), JSON.stringify(job('valid')));
    const want = BAD_FIELDS.length + 1;
    for (let i = 0; i < 300 && results.size < want; i++) await new Promise((r) => setTimeout(r, 50));
    expect([...results.keys()].sort()).toEqual([...BAD_FIELDS.map(([n]) => n), 'valid'].sort());
    for (const [name, , re] of BAD_FIELDS) {
      const f = results.get(name)!.fault;
      expect(f, name).toMatch(/refused by worker .*: invalid job \(not executed\)/);
      expect(f, name).toMatch(re);
      expect(f!.length, name).toBeLessThan(1000);
    }
    expect(results.get('valid')!.fault).toBeUndefined();
    expect(results.get('valid')!.trace).toBeDefined();
    expect(w.proc.exitCode).toBe(null);
    expect(w.log()).not.toMatch(/job failed/);
    // every job acked (the ack follows the stored result: give it a moment)
    const jsm = await js.jetstreamManager();
    let left = -1;
    for (let i = 0; i < 100 && left !== 0; i++) {
      const ci = await jsm.consumers.info(JOBS_STREAM, consumerName('model:x86'));
      left = ci.num_pending + ci.num_ack_pending;
      if (left) await new Promise((r) => setTimeout(r, 50));
    }
    expect(left, w.log()).toBe(0);
  }, 60_000);
});
