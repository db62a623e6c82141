// The worker process of the NATS farm (`ptefarm worker --nats URL --target T`): announces itself
// (probe facts + target) with heartbeats, pulls jobs of its target from the shared durable consumer
// (at most `threads` ahead of its running ones), runs them on a piscina pool with the same task module
// as the embedded transport (which checks each case where it ran: src/transport/verdict.ts),
// publishes each result to the results stream, and acks the job only after the server stored the
// result (PubAck). A thread is free again once its case ran: storing the result and acking overlap
// the next case, and a pulled job waits in the worker only behind the running ones, so a killed
// worker strands at most 3 x `threads` jobs (queued, running, being answered), and only for one
// ack_wait; a stopping worker naks the queued ones at once. Every job is validated (envelope, case format, limits) before it is
// executed; a bad one gets a fault result naming the problem and the worker keeps serving.
import { hostname } from 'node:os';
import { availableParallelism } from 'node:os';
import { randomBytes } from 'node:crypto';
import { headers, type NatsConnection } from '@nats-io/transport-node';
import { jetstream, type Consumer, type JsMsg } from '@nats-io/jetstream';
import { EmbeddedTransport } from '../src/transport/embedded.ts';
import type { CaseJob, CaseResult } from '../src/transport/transport.ts';
import { openTarget } from '../src/targets/registry.ts';
import { probeHost } from '../src/targets/probe.ts';
import { validateCase } from '../src/ops/validate.ts';
import { DEFAULT_LIMITS, GEOMETRY_4K, limitsFor, type Limits } from '../src/ops/layout.ts';
import { geometryOfHost } from '../src/ops/trace.ts';
import { clip, show, someProblems } from '../src/ops/bounded.ts';
import { PROFILES } from '../src/model/profile.ts';

const hasProfile = (name: string) => Object.hasOwn(PROFILES, name);
import {
  BYE_SUBJECT, HEARTBEAT_SUBJECT, JOBS_STREAM, JS_TIMEOUT_MS, PING_SUBJECT, WORKING_FRACTION, connectNats, consumerName, deadLetterFault, deadSubject, isNotFound, ensureTargetConsumer, ensureTopology,
  resultMsgId, resultSubject, retrying, type JobMessage, type NatsAuth, type ResultMessage, type WorkerBeat,
} from '../src/transport/nats-common.ts';

export interface WorkerOptions {
  url: string;
  auth?: NatsAuth;
  target: string;
  threads?: number;
  /** heartbeat period (default 2 s) */
  heartbeatMs?: number;
  /** cap on a job's per-case timeout (default 120 s) */
  maxCaseMs?: number;
  limits?: Limits;
  log?: (line: string) => void;
  /** how long stop() waits for the jobs in hand (default 30 s) */
  stopGraceMs?: number;
}

export interface WorkerStats { done: number; refused: number; deadLettered: number; duplicatesDropped: number; ackFailures: number; publishRetries: number }

export interface WorkerHandle {
  id: string;
  stats: WorkerStats;
  /** stop pulling, finish the jobs in hand, say goodbye, disconnect */
  stop(): Promise<void>;
  /** resolves when the worker stopped */
  done: Promise<void>;
}

const CAMPAIGN_RE = /^[A-Za-z0-9_-]{1,64}$/;

/** the largest delay a Node timer takes (larger ones fire at once) */
const MAX_TIMER_MS = 2_147_483_647;
const wholeIn = (v: unknown, lo: number, hi: number) => typeof v === 'number' && Number.isInteger(v) && v >= lo && v <= hi;

/** Envelope problems of a job message (the case itself is checked by validateCase). Every field is
 *  checked for type and range before anything uses it; messages quote input bounded (show). */
export function envelopeProblems(j: Partial<JobMessage>, target: string): string[] {
  const p: string[] = [];
  if (typeof j !== 'object' || j === null || Array.isArray(j) || Object.keys(j).length === 0) return ['job: expected a JSON object'];
  if (j.v !== 1) p.push(`v: expected 1, got ${show(j.v)}`);
  if (typeof j.campaign !== 'string' || !CAMPAIGN_RE.test(j.campaign)) p.push(`campaign: expected a campaign id ([A-Za-z0-9_-]{1,64}), got ${show(j.campaign)}`);
  if (typeof j.id !== 'string' || !j.id || j.id.length > 200) p.push(`id: expected a job id of 1..200 characters, got ${show(j.id)}`);
  if (typeof j.hash !== 'string' || j.hash.length > 200) p.push(`hash: expected a string of at most 200 characters, got ${show(j.hash)}`);
  if (j.target !== target) p.push(`target: this worker runs ${target}, the job asks for ${show(j.target)}`);
  if (j.timeoutMs !== undefined && !wholeIn(j.timeoutMs, 1, MAX_TIMER_MS)) p.push(`timeoutMs: expected a whole number of milliseconds 1..${MAX_TIMER_MS}, got ${show(j.timeoutMs)}`);
  if (j.maxDeliver !== undefined && !wholeIn(j.maxDeliver, 1, 1_000_000)) p.push(`maxDeliver: expected a whole number 1..1000000, got ${show(j.maxDeliver)}`);
  if (j.ackWaitMs !== undefined && !wholeIn(j.ackWaitMs, 100, MAX_TIMER_MS)) p.push(`ackWaitMs: expected a whole number of milliseconds 100..${MAX_TIMER_MS}, got ${show(j.ackWaitMs)}`);
  if (j.check !== undefined && (typeof j.check !== 'object' || j.check === null || Array.isArray(j.check) ||
    (j.check.profile !== undefined && (typeof j.check.profile !== 'string' || !hasProfile(j.check.profile))) ||
    (j.check.traces !== undefined && j.check.traces !== 'failing' && j.check.traces !== 'all'))) {
    p.push(`check: expected { profile?: a known kernel profile (${Object.keys(PROFILES).join(', ')}), traces?: "failing" | "all" }, got ${show(j.check)}`);
  }
  return p;
}

export async function startWorker(o: WorkerOptions): Promise<WorkerHandle> {
  const log = o.log ?? ((l: string) => process.stderr.write(`${l}\n`));
  const threads = Math.max(1, o.threads ?? availableParallelism());
  const heartbeatMs = o.heartbeatMs ?? 2000;
  const maxCaseMs = o.maxCaseMs ?? 120_000;
  let limits = o.limits ?? DEFAULT_LIMITS;
  const id = `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;

  // the target must open here before we take any job: a bad spec is an error at start, not N faults
  const t = await openTarget(o.target);
  let caps: Record<string, unknown>;
  try {
    const info = await t.info();
    // page_size/pmd_size (when not 4 KiB / 2 MiB): the coordinator generates cases in this geometry
    caps = { arch: info.arch, kernel: info.kernel, ...info.capabilities,
      ...(info.host?.page_size !== undefined ? { page_size: info.host.page_size } : {}), ...(info.host?.pmd_size !== undefined ? { pmd_size: info.host.pmd_size } : {}) };
    // a target with larger pages takes regions of two of its PMDs (docs/page-size.md)
    const g = geometryOfHost(info.host);
    if (!o.limits && g !== GEOMETRY_4K) limits = limitsFor(g);
  } finally { await t.close(); }
  if (o.target === 'live') {
    const p = await probeHost();
    caps = { ...caps, probe: p };
  }

  const nc: NatsConnection = await connectNats(o.url, o.auth, `ptefarm-worker:${id}`);
  const jsm = await ensureTopology(nc).catch(async (e) => { await nc.close(); throw e; });
  const cinfo = await ensureTargetConsumer(jsm, o.target);
  const js = jetstream(nc, { timeout: JS_TIMEOUT_MS });
  const pool = new EmbeddedTransport({ threads, timeoutMs: maxCaseMs });

  /** on every result: the coordinator accepts results only from producers of the job's target */
  const origin = { id, target: o.target };
  const stats: WorkerStats = { done: 0, refused: 0, deadLettered: 0, duplicatesDropped: 0, ackFailures: 0, publishRetries: 0 };
  let busy = 0;
  let stopping = false;
  const started = Date.now();
  let slotFreed: (() => void) | undefined;
  const inHand = new Set<Promise<void>>();
  let current: { stop(): void } | undefined;

  const beat = (): WorkerBeat => ({ id, host: hostname(), pid: process.pid, target: o.target, threads, caps, busy, done: stats.done, refused: stats.refused, started, intervalMs: heartbeatMs });
  const announce = () => { try { nc.publish(HEARTBEAT_SUBJECT, JSON.stringify(beat())); } catch { /* reconnecting */ } };
  announce();
  const hb = setInterval(announce, heartbeatMs);
  const pingSub = nc.subscribe(PING_SUBJECT, { callback: () => announce() });

  void (async () => {
    for await (const s of nc.status()) {
      if (s.type === 'disconnect') log(`worker ${id}: disconnected from NATS; reconnecting`);
      else if (s.type === 'reconnect') log(`worker ${id}: reconnected`);
    }
  })().catch(() => undefined);

  const publishResult = async (campaign: string, r: ResultMessage) => {
    const data = JSON.stringify(r);
    try {
      const ack = await retrying('result', () => js.publish(resultSubject(campaign), data, { msgID: resultMsgId(campaign, r.id, r.hash) }), () => false, () => { stats.publishRetries++; });
      if (ack.duplicate) stats.duplicatesDropped++;
    } catch (e) {
      // a result the server will not take (too large): publish a small fault instead of losing the case
      const small: ResultMessage = { ...r, result: { id: r.id, fault: `worker: result not publishable: ${(e as Error).message}`, worker: id } };
      await retrying('result', () => js.publish(resultSubject(campaign), JSON.stringify(small), { msgID: resultMsgId(campaign, r.id, r.hash) }), () => false);
    }
  };

  /** ack without waiting for the server's confirmation (no round trip per case): an ack lost in
   *  a server outage costs nothing, because the coordinator removes the job from the queue once it
   *  sees the result (src/transport/nats.ts), and a redelivery's result is a dropped duplicate */
  const ack = (m: JsMsg) => {
    try { m.ack(); } catch { stats.ackFailures++; }
  };

  const deadLetter = async (m: JsMsg, job: JobMessage) => {
    const attempts = m.info.deliveryCount - 1;
    const h = headers();
    h.set('Ptefarm-Deliveries', String(attempts));
    await retrying('dead-letter', () => js.publish(deadSubject(job.campaign), m.data, { headers: h, msgID: `dead/${job.campaign}/${job.id}/${job.hash}` }), () => false);
    await publishResult(job.campaign, {
      v: 1, campaign: job.campaign, id: job.id, hash: job.hash, dead: true, delivery: m.info.deliveryCount, origin,
      result: { id: job.id, fault: deadLetterFault(attempts, job.target, job.campaign), worker: id },
    });
    ack(m);
    stats.deadLettered++;
    log(`worker ${id}: dead-lettered job ${job.id} of campaign ${job.campaign} after ${attempts} deliveries without a result`);
  };

  /** `ran`: called once the job's case has run (or was refused): its thread takes the next job
   *  while the result is stored and the job acked */
  /** a pulled job message, parsed and kept ours (in progress) from the moment it arrives: ack_wait
   *  only has to cover a dead worker, not a long case nor the wait in this worker's queue */
  interface Held { m: JsMsg; job: Partial<JobMessage> | undefined; problems: string[]; keep: NodeJS.Timeout }
  const hold = (m: JsMsg): Held => {
    let job: Partial<JobMessage> | undefined;
    let problems: string[] = [];
    try { job = m.json<JobMessage>(); } catch (e) { problems = [`job: not valid JSON: ${(e as Error).message}`]; }
    if (job !== undefined) problems = envelopeProblems(job ?? {}, o.target);
    // the coordinator may have changed ack_wait after this worker read it: the job says what it is
    const ackWaitMs = !problems.length && job!.ackWaitMs ? job!.ackWaitMs : Number(cinfo.config.ack_wait ?? 30e9) / 1e6;
    const keep = setInterval(() => { try { m.working(); } catch { /* reconnecting */ } }, Math.max(100, ackWaitMs / WORKING_FRACTION));
    return { m, job, problems, keep };
  };

  const handle = async ({ m, job, problems, keep }: Held, ran: () => void) => {
    try {
      if (!problems.length && job!.maxDeliver !== undefined && m.info.deliveryCount > job!.maxDeliver) {
        // the last delivery the consumer makes: every earlier one died or hung without a result
        await deadLetter(m, job as JobMessage);
        return;
      }
      const campaign = job && typeof job.campaign === 'string' && CAMPAIGN_RE.test(job.campaign) ? job.campaign
        : (m.headers?.get('Ptefarm-Campaign') && CAMPAIGN_RE.test(m.headers.get('Ptefarm-Campaign')) ? m.headers.get('Ptefarm-Campaign') : '_invalid');
      const jobId = job && typeof job.id === 'string' && job.id && job.id.length <= 200 ? job.id : (m.headers?.get('Ptefarm-Job') || `seq-${m.seq}`);
      // the hash names the result (Nats-Msg-Id): only a well-formed one is echoed
      const hash = job && typeof job.hash === 'string' && job.hash.length <= 200 ? job.hash : 'none';
      if (!problems.length) {
        const caseProblems = validateCase(job!.case, limits);
        if (caseProblems.length) problems = caseProblems.map((p) => `case ${p}`);
      }
      let result: CaseResult;
      if (problems.length) {
        stats.refused++;
        const shown = someProblems(problems, 8).join('; ');
        result = { id: jobId, fault: `refused by worker ${id}: invalid job (not executed): ${shown}`, worker: id, ms: 0 };
        log(`worker ${id}: refused job ${jobId} of campaign ${campaign}: ${shown}`);
      } else {
        const timeoutMs = Math.min(job!.timeoutMs ?? maxCaseMs, maxCaseMs);
        const task: CaseJob = { id: jobId, target: o.target, case: job!.case! };
        // the check is made here, in the pool thread that ran the case (workers/task.ts)
        if (job!.check) task.check = { ...(job!.check.profile ? { profile: job!.check.profile } : {}), ...(job!.check.traces ? { traces: job!.check.traces } : {}) };
        // whatever goes wrong in running it, the job gets a result (a handler that throws leaves the
        // job to be redelivered until it is dead-lettered)
        try { result = await pool.run(task, { timeoutMs }); } catch (e) { result = { id: jobId, fault: `worker: ${clip((e as Error).message ?? String(e))}`, ms: 0 }; }
        result = { ...result, id: jobId, worker: `${id}/${result.worker ?? ''}` };
      }
      ran();
      await publishResult(campaign, { v: 1, campaign, id: jobId, hash, origin, result, delivery: m.info.deliveryCount });
      // only now: the result is on the server's disk
      ack(m);
      stats.done++;
    } finally {
      clearInterval(keep);
    }
  };

  /** jobs pulled and not yet running: up to `threads` more than the threads, so that a thread
   *  that finishes a case starts the next one at once instead of waiting for a pull round trip */
  const queued: Held[] = [];
  const dispatch = () => {
    while (!stopping && busy < threads && queued.length) {
      const h = queued.shift()!;
      busy++;
      let released = false;
      const release = () => {
        if (released) return;
        released = true;
        busy--;
        dispatch();
        const w = slotFreed; slotFreed = undefined; w?.();
      };
      const p = handle(h, release).catch((e) => log(`worker ${id}: job failed: ${(e as Error).message}`)).finally(() => {
        release();
        inHand.delete(p);
      });
      inHand.add(p);
    }
  };

  const loop = async () => {
    let consumer: Consumer | undefined;
    while (!stopping) {
      const free = 2 * threads - busy - queued.length;
      if (free <= 0) { await new Promise<void>((r) => { slotFreed = r; }); continue; }
      try {
        consumer ??= await js.consumers.get(JOBS_STREAM, consumerName(o.target));
        // at most `threads` jobs beyond the running ones: little hoarding, a crash strands little
        // a short expiry bounds how long a pull lost in a server restart keeps this worker idle
        const batch = await consumer.fetch({ max_messages: free, expires: 2000 });
        current = batch;
        for await (const m of batch) {
          queued.push(hold(m));
          dispatch();
        }
        current = undefined;
      } catch (e) {
        current = undefined;
        if (stopping) break;
        consumer = undefined;
        // the consumer was deleted (or the server lost it): make it again
        if (isNotFound(e)) await ensureTargetConsumer(jsm, o.target).catch(() => undefined);
        const msg = (e as Error).message;
        if (!/timeout|disconnect|closed|connection|heartbeat|503|no responders/i.test(msg)) log(`worker ${id}: pull failed: ${msg}; retrying`);
        await new Promise((r) => setTimeout(r, 500));
      }
    }
    // jobs pulled but never started go back to the queue now, not after ack_wait
    for (const h of queued.splice(0)) { clearInterval(h.keep); try { h.m.nak(); } catch { /* closed: redelivered after ack_wait */ } }
  };

  log(`worker ${id}: serving ${o.target} with ${threads} thread(s) on ${o.url}`);
  const done = loop().then(async () => {
    await Promise.allSettled([...inHand]);
  });

  let stopped: Promise<void> | undefined;
  const stop = () => stopped ??= (async () => {
    stopping = true;
    current?.stop();
    const w = slotFreed; slotFreed = undefined; w?.();
    // finish the jobs in hand, but not forever (server gone): unacked jobs are redelivered anyway
    let grace: NodeJS.Timeout | undefined;
    await Promise.race([done, new Promise<void>((r) => { grace = setTimeout(r, o.stopGraceMs ?? 30_000); })]);
    clearTimeout(grace);
    clearInterval(hb);
    pingSub.unsubscribe();
    try { nc.publish(BYE_SUBJECT, JSON.stringify(beat())); } catch { /* closed */ }
    await pool.close();
    await nc.drain().catch(() => nc.close());
    log(`worker ${id}: stopped after ${stats.done} job(s) (${stats.refused} refused)`);
  })();

  return { id, stats, stop, done: done.then(() => stopped ?? Promise.resolve()) };
}
