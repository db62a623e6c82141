// The worker process of the NATS farm (`ptefarm worker --nats URL --target T`): announces itself
// (probe facts + target, and how many jobs it takes per message) with heartbeats, pulls job
// messages of its target from the shared durable consumer (a single job, v 1, or a batch, v 2:
// src/transport/nats-common.ts BatchMessage; at most about `threads` jobs ahead of its running
// ones), runs the jobs on a piscina pool with the same task module as the embedded transport (which
// checks each case where it ran: src/transport/verdict.ts), publishes the results to the results
// stream (a batch's in its fixed chunks, each as soon as its jobs have run), and acks the message
// only after the server stored all of them (PubAck). A thread is free again once its case ran:
// storing results and acking overlap the next case. A killed worker strands the messages in hand
// for one ack_wait; their redelivery runs the batch again, and the chunks stored before are dropped
// by the server as duplicates, so no stored result is lost or doubled. A stopping worker naks the
// messages it has not started at once. Every message is validated (envelope, batch limits: jobs,
// bytes, ids) and every job's case (format, limits) before it is executed; a bad one gets a fault
// result naming the problem (a malformed batch: each job it names) and the worker keeps serving.
import { hostname } from 'node:os';
import { availableParallelism } from 'node:os';
import { randomBytes } from 'node:crypto';
import { headers, type NatsConnection } from '@nats-io/transport-node';
import { jetstream, type Consumer, type JsMsg } from '@nats-io/jetstream';
import { EmbeddedTransport, TASKS_PER_THREAD } from '../src/transport/embedded.ts';
import type { CaseJob, CaseResult } from '../src/transport/transport.ts';
import { openTarget } from '../src/targets/registry.ts';
import { probeHost } from '../src/targets/probe.ts';
import { validateCase } from '../src/ops/validate.ts';
import { DEFAULT_LIMITS, GEOMETRY_4K, limitsFor, type Limits } from '../src/ops/layout.ts';
import { geometryOfHost } from '../src/ops/trace.ts';
import { clip, show, someProblems } from '../src/ops/bounded.ts';
import { PROFILES } from '../src/model/profile.ts';

const hasProfile = (name: string) => Object.hasOwn(PROFILES, name);
import type { Case } from '../src/ops/schema.ts';
import type { CheckRequest } from '../src/transport/transport.ts';
import {
  BYE_SUBJECT, HEARTBEAT_SUBJECT, JOB_PROTOCOL, JOBS_STREAM, JS_TIMEOUT_MS, MAX_BATCH_BYTES, MAX_BATCH_JOBS, PING_SUBJECT, WORKING_FRACTION, batchChunks, batchKey, connectNats, consumerName, deadBatchMsgId, deadLetterFault, deadSubject, isNotFound, ensureTargetConsumer, ensureTopology,
  resultChunkMsgId, resultMsgId, resultSubject, retrying, type BatchMessage, type JobMessage, type NatsAuth, type ResultBatchMessage, type ResultMessage, type WorkerBeat,
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
  const c = checkProblem(j.check);
  if (c) p.push(`check: ${c}`);
  return p;
}

function checkProblem(check: unknown): string | undefined {
  const c = check as CheckRequest | null | undefined;
  if (c !== undefined && (typeof c !== 'object' || c === null || Array.isArray(c) ||
    (c.profile !== undefined && (typeof c.profile !== 'string' || !hasProfile(c.profile))) ||
    (c.traces !== undefined && c.traces !== 'failing' && c.traces !== 'all'))) {
    return `expected { profile?: a known kernel profile (${Object.keys(PROFILES).join(', ')}), traces?: "failing" | "all" }, got ${show(check)}`;
  }
  return undefined;
}

/** Problems of a batch message (v 2) as a whole: envelope fields, the batch limits (jobs, bytes)
 *  and each job's id (1..200 characters, unique in the batch), hash and check; any of them refuses
 *  the whole batch. Each job's case is checked by validateCase when it is about to run. */
export function batchProblems(b: Partial<BatchMessage>, target: string, bytes: number): string[] {
  const p: string[] = [];
  if (bytes > MAX_BATCH_BYTES) p.push(`batch: ${bytes} bytes exceed the limit of ${MAX_BATCH_BYTES}`);
  if (b.v !== 2) p.push(`v: expected 2, got ${show(b.v)}`);
  if (typeof b.campaign !== 'string' || !CAMPAIGN_RE.test(b.campaign)) p.push(`campaign: expected a campaign id ([A-Za-z0-9_-]{1,64}), got ${show(b.campaign)}`);
  if (b.target !== target) p.push(`target: this worker runs ${target}, the batch asks for ${show(b.target)}`);
  if (!wholeIn(b.timeoutMs, 1, MAX_TIMER_MS)) p.push(`timeoutMs: expected a whole number of milliseconds 1..${MAX_TIMER_MS}, got ${show(b.timeoutMs)}`);
  if (b.maxDeliver !== undefined && !wholeIn(b.maxDeliver, 1, 1_000_000)) p.push(`maxDeliver: expected a whole number 1..1000000, got ${show(b.maxDeliver)}`);
  if (b.ackWaitMs !== undefined && !wholeIn(b.ackWaitMs, 100, MAX_TIMER_MS)) p.push(`ackWaitMs: expected a whole number of milliseconds 100..${MAX_TIMER_MS}, got ${show(b.ackWaitMs)}`);
  if (!wholeIn(b.chunk, 1, MAX_BATCH_JOBS)) p.push(`chunk: expected a whole number 1..${MAX_BATCH_JOBS}, got ${show(b.chunk)}`);
  if (!Array.isArray(b.jobs) || b.jobs.length === 0) { p.push(`jobs: expected an array of 1..${MAX_BATCH_JOBS} jobs, got ${show(b.jobs)}`); return p; }
  if (b.jobs.length > MAX_BATCH_JOBS) p.push(`jobs: ${b.jobs.length} jobs exceed the limit of ${MAX_BATCH_JOBS} per batch`);
  const seen = new Map<string, number>();
  b.jobs.slice(0, MAX_BATCH_JOBS).forEach((j: Partial<BatchMessage['jobs'][number]> | null, i) => {
    if (typeof j !== 'object' || j === null || Array.isArray(j)) { p.push(`jobs[${i}]: expected a job object, got ${show(j)}`); return; }
    if (typeof j.id !== 'string' || !j.id || j.id.length > 200) p.push(`jobs[${i}].id: expected a job id of 1..200 characters, got ${show(j.id)}`);
    else if (seen.has(j.id)) p.push(`jobs[${i}].id: ${show(j.id)} is also jobs[${seen.get(j.id)}]'s`);
    else seen.set(j.id, i);
    if (typeof j.hash !== 'string' || !j.hash || j.hash.length > 200) p.push(`jobs[${i}].hash: expected a string of 1..200 characters, got ${show(j.hash)}`);
    const c = checkProblem(j.check);
    if (c) p.push(`jobs[${i}].check: ${c}`);
  });
  return p;
}

/** one job of a pulled message */
interface Job { work: Work; pos: number; id: string; hash: string; case: unknown; check?: CheckRequest; problems: string[]; dead?: boolean }
/** a pulled message: one job (v 1) or a batch (v 2), answered in chunks by position */
interface Work {
  m: JsMsg; v: 1 | 2; campaign: string; key: string; chunk: number;
  timeoutMs?: number; maxDeliver?: number; ackWaitMs?: number;
  /** problems of the message as a whole: none of its jobs runs */
  envelope: string[];
  jobs: Job[]; results: (CaseResult | undefined)[]; chunks: [number, number][]; chunksLeft: number;
  /** a job of it was started (or it is being dead-lettered): a stopping worker finishes it */
  started: boolean;
  keep?: NodeJS.Timeout;
}

/** A pulled message as the worker's unit of work. A message that cannot be read as a batch is
 *  answered as one job (v 1), under its id, else its Ptefarm-Job header, else `seq-<n>`. */
function parseWork(m: JsMsg, target: string): Work {
  let raw: Record<string, unknown> | null | undefined;
  let notJson: string | undefined;
  try { raw = m.json<Record<string, unknown> | null>(); } catch (e) { notJson = `job: not valid JSON: ${(e as Error).message}`; }
  const header = (name: string) => m.headers?.get(name) || undefined;
  const campaignOf = (c: unknown) => (typeof c === 'string' && CAMPAIGN_RE.test(c) ? c : (CAMPAIGN_RE.test(header('Ptefarm-Campaign') ?? '') ? header('Ptefarm-Campaign')! : '_invalid'));
  const work = (w: Omit<Work, 'results' | 'chunks' | 'chunksLeft' | 'started' | 'jobs'>, jobs: Omit<Job, 'work' | 'pos'>[]): Work => {
    const out = w as Work;
    out.jobs = jobs.map((j, pos) => ({ ...j, work: out, pos }));
    out.results = new Array(jobs.length);
    out.chunks = batchChunks(jobs.length, w.chunk);
    out.chunksLeft = out.chunks.length;
    out.started = false;
    return out;
  };
  if (notJson === undefined && typeof raw === 'object' && raw !== null && !Array.isArray(raw) && raw.v === 2) {
    const b = raw as Partial<BatchMessage>;
    const envelope = batchProblems(b, target, m.data.length);
    const campaign = campaignOf(b.campaign);
    // the jobs it names: all when it is sound, else those with a usable id (each gets the fault)
    const ids = new Set<string>();
    const jobs = (Array.isArray(b.jobs) ? b.jobs.slice(0, MAX_BATCH_JOBS) : []).flatMap((j: Partial<BatchMessage['jobs'][number]> | null) => {
      if (typeof j?.id !== 'string' || !j.id || j.id.length > 200 || ids.has(j.id)) return [];
      ids.add(j.id);
      const hash = typeof j.hash === 'string' && j.hash && j.hash.length <= 200 ? j.hash : 'none';
      return [{ id: j.id, hash, case: j.case, ...(envelope.length ? {} : { check: j.check }), problems: [] as string[] }];
    });
    if (jobs.length) {
      return work({ m, v: 2, campaign, key: batchKey(campaign, jobs), chunk: envelope.length ? jobs.length : b.chunk!, envelope,
        ...(envelope.length ? {} : { timeoutMs: b.timeoutMs, maxDeliver: b.maxDeliver, ackWaitMs: b.ackWaitMs }) }, jobs);
    }
    const id = header('Ptefarm-Job') ?? `seq-${m.seq}`;
    return work({ m, v: 1, campaign, key: '', chunk: 1, envelope }, [{ id: id.slice(0, 200), hash: 'none', case: undefined, problems: [] }]);
  }
  const j = (raw ?? {}) as Partial<JobMessage>;
  const envelope = notJson !== undefined ? [notJson] : envelopeProblems(j, target);
  const ok = !envelope.length;
  const id = typeof j.id === 'string' && j.id && j.id.length <= 200 ? j.id : (header('Ptefarm-Job') ?? `seq-${m.seq}`).slice(0, 200);
  // the hash names the result (Nats-Msg-Id): only a well-formed one is echoed
  const hash = typeof j.hash === 'string' && j.hash.length <= 200 ? j.hash : 'none';
  return work({ m, v: 1, campaign: campaignOf(j.campaign), key: '', chunk: 1, envelope, ...(ok ? { timeoutMs: j.timeoutMs, maxDeliver: j.maxDeliver, ackWaitMs: j.ackWaitMs } : {}) },
    [{ id, hash, case: j.case, ...(ok && j.check ? { check: j.check } : {}), problems: [] }]);
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
  let current: { stop(): void } | undefined;

  const beat = (): WorkerBeat => ({ id, host: hostname(), pid: process.pid, target: o.target, threads, caps, busy, done: stats.done, refused: stats.refused, started, intervalMs: heartbeatMs, batch: Math.min(MAX_BATCH_JOBS, 2 * threads), protocol: JOB_PROTOCOL });
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

  /** publish one result message under `msgID`; a message the server will not take (too large)
   *  goes again with each of its results replaced by a small fault, so no job is left unanswered */
  const publishResults = async (campaign: string, msg: ResultMessage | ResultBatchMessage, msgID: string) => {
    try {
      const ack = await retrying(() => js.publish(resultSubject(campaign), JSON.stringify(msg), { msgID }), () => false, () => { stats.publishRetries++; });
      if (ack.duplicate) stats.duplicatesDropped++;
    } catch (e) {
      const small = (r: CaseResult): CaseResult => ({ id: r.id, fault: `worker: result not publishable: ${clip((e as Error).message)}`, worker: id });
      const fallback = msg.v === 2 ? { ...msg, results: msg.results.map((x) => ({ ...x, result: small(x.result) })) } : { ...msg, result: small(msg.result) };
      await retrying(() => js.publish(resultSubject(campaign), JSON.stringify(fallback), { msgID }), () => false);
    }
  };

  /** ack without waiting for the server's confirmation (no round trip per message): an ack lost in
   *  a server outage costs nothing, because the coordinator removes the message from the queue once
   *  it sees all its results (src/transport/nats.ts), and a redelivery's results are dropped duplicates */
  const ack = (m: JsMsg) => {
    try { m.ack(); } catch { stats.ackFailures++; }
  };

  /** jobs of held messages waiting for a thread */
  const queued: Job[] = [];
  const works = new Set<Work>();
  let idle: (() => void) | undefined;
  /** jobs per message lately: how many messages one pull asks for */
  let perMessage = 1;

  /** a pulled message, parsed and kept ours (in progress) from the moment it arrives: ack_wait only
   *  has to cover a dead worker, not a long case nor the wait in this worker's queue */
  const hold = (m: JsMsg): Work => {
    const w = parseWork(m, o.target);
    const ackWaitMs = !w.envelope.length && w.ackWaitMs ? w.ackWaitMs : Number(cinfo.config.ack_wait ?? 30e9) / 1e6;
    w.keep = setInterval(() => { try { m.working(); } catch { /* reconnecting */ } }, Math.max(100, ackWaitMs / WORKING_FRACTION));
    works.add(w);
    perMessage = 0.75 * perMessage + 0.25 * w.jobs.length;
    if (w.envelope.length) {
      // nothing of it runs: every job it names gets the fault naming the problem
      const shown = someProblems(w.envelope, 8).join('; ');
      log(`worker ${id}: refused ${w.v === 2 ? `a batch of ${w.jobs.length} job(s)` : `job ${w.jobs[0]!.id}`} of campaign ${w.campaign}: ${shown}`);
      for (const j of w.jobs) j.problems = w.envelope;
    } else if (w.maxDeliver !== undefined && m.info.deliveryCount > w.maxDeliver) {
      // the last delivery the consumer makes: every earlier one died or hung without a result
      w.started = true;
      track(deadLetter(w));
      return w;
    }
    queued.push(...w.jobs);
    return w;
  };

  const deadLetter = async (w: Work) => {
    const attempts = w.m.info.deliveryCount - 1;
    const h = headers();
    h.set('Ptefarm-Deliveries', String(attempts));
    await retrying(() => js.publish(deadSubject(w.campaign), w.m.data, { headers: h, msgID: w.v === 2 ? deadBatchMsgId(w.campaign, w.key) : `dead/${w.campaign}/${w.jobs[0]!.id}/${w.jobs[0]!.hash}` }), () => false);
    // a chunk an earlier delivery stored keeps its results: same Nats-Msg-Id, dropped by the server
    const fault = deadLetterFault(attempts, o.target, w.campaign);
    for (const j of w.jobs) { j.dead = true; w.results[j.pos] = { id: j.id, fault, worker: id }; }
    await Promise.all(w.chunks.map((_, k) => publishChunk(w, k)));
    stats.deadLettered += w.jobs.length;
    log(`worker ${id}: dead-lettered ${w.v === 2 ? `a batch of ${w.jobs.length} job(s)` : `job ${w.jobs[0]!.id}`} of campaign ${w.campaign} after ${attempts} deliveries without a result`);
  };

  /** store the results of chunk k of `w`; the message is acked once all its chunks are stored */
  const publishChunk = async (w: Work, k: number) => {
    const [a, b] = w.chunks[k]!;
    const delivery = w.m.info.deliveryCount;
    if (w.v === 1) {
      const j = w.jobs[0]!;
      await publishResults(w.campaign, { v: 1, campaign: w.campaign, id: j.id, hash: j.hash, origin, result: w.results[0]!, delivery, ...(j.dead ? { dead: true } : {}) }, resultMsgId(w.campaign, j.id, j.hash));
    } else {
      const results = w.jobs.slice(a, b).map((j) => ({ id: j.id, hash: j.hash, result: w.results[j.pos]!, ...(j.dead ? { dead: true } : {}) }));
      await publishResults(w.campaign, { v: 2, campaign: w.campaign, origin, delivery, results }, resultChunkMsgId(w.campaign, w.key, k));
    }
    if (--w.chunksLeft === 0) {
      // only now: every result of the message is on the server's disk
      ack(w.m);
      clearInterval(w.keep);
      works.delete(w);
      const wake = idle; idle = undefined; wake?.();
    }
  };

  const inHand = new Set<Promise<unknown>>();
  const track = (p: Promise<unknown>) => {
    const q = p.catch((e) => log(`worker ${id}: job failed: ${(e as Error).message}`)).finally(() => inHand.delete(q));
    inHand.add(q);
  };

  /** job `j` has its result: its chunk goes out once every job of the chunk has one */
  const answered = (j: Job, result: CaseResult) => {
    const w = j.work;
    w.results[j.pos] = result;
    stats.done++;
    const k = Math.floor(j.pos / w.chunk);
    const [a, b] = w.chunks[k]!;
    for (let i = a; i < b; i++) if (w.results[i] === undefined) return;
    track(publishChunk(w, k));
  };

  const runJob = async (j: Job): Promise<CaseResult> => {
    const w = j.work;
    const timeoutMs = Math.min(w.timeoutMs ?? maxCaseMs, maxCaseMs);
    const task: CaseJob = { id: j.id, target: o.target, case: j.case as Case };
    // the check is made here, in the pool thread that ran the case (workers/task.ts)
    if (j.check) task.check = { ...(j.check.profile ? { profile: j.check.profile } : {}), ...(j.check.traces ? { traces: j.check.traces } : {}) };
    let result: CaseResult;
    // whatever goes wrong in running it, the job gets a result (a message left unanswered would be
    // redelivered until it is dead-lettered)
    try { result = await pool.run(task, { timeoutMs }); } catch (e) { result = { id: j.id, fault: `worker: ${clip((e as Error).message ?? String(e))}`, ms: 0 }; }
    return { ...result, id: j.id, worker: `${id}/${result.worker ?? ''}` };
  };

  /** jobs the pool runs at once. A target the thread awaits (the live executor, a guest): as many
   *  as its threads hold (TASKS_PER_THREAD), so that a thread checking and posting one case's
   *  result already has the next and the executor does not idle through that, nor through this
   *  thread's dispatch. A model target computes on the thread itself: one job per thread (a second
   *  would only wait, and could hold back the first one's result) */
  const slots = threads * (o.target.startsWith('model:') ? 1 : TASKS_PER_THREAD);
  /** start queued jobs on free pool slots; a refused job needs no slot */
  const dispatch = () => {
    while (queued.length && (busy < slots || queued[0]!.problems.length)) {
      const j = queued.shift()!;
      j.work.started = true;
      if (!j.problems.length) {
        const caseProblems = validateCase(j.case, limits);
        if (caseProblems.length) j.problems = caseProblems.map((p) => `case ${p}`);
      }
      if (j.problems.length) {
        stats.refused++;
        const shown = someProblems(j.problems, 8).join('; ');
        if (j.problems !== j.work.envelope) log(`worker ${id}: refused job ${j.id} of campaign ${j.work.campaign}: ${shown}`);
        answered(j, { id: j.id, fault: `refused by worker ${id}: invalid job (not executed): ${shown}`, worker: id, ms: 0 });
        continue;
      }
      busy++;
      track(runJob(j).then((r) => {
        busy--;
        // the thread takes the next job while this result waits for its chunk and is stored
        dispatch();
        const wake = slotFreed; slotFreed = undefined; wake?.();
        answered(j, r);
      }, (e) => { busy--; dispatch(); throw e; }));
    }
  };

  const loop = async () => {
    let consumer: Consumer | undefined;
    while (!stopping) {
      // at most `threads` jobs beyond the running ones: little hoarding, a crash strands little
      const free = slots + threads - busy - queued.length;
      if (free <= 0) { await new Promise<void>((r) => { slotFreed = r; }); continue; }
      try {
        consumer ??= await js.consumers.get(JOBS_STREAM, consumerName(o.target));
        // a short expiry bounds how long a pull lost in a server restart keeps this worker idle
        const batch = await consumer.fetch({ max_messages: Math.max(1, Math.floor(free / Math.max(1, perMessage))), expires: 2000 });
        current = batch;
        for await (const m of batch) {
          hold(m);
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
    // messages pulled and not started go back to the queue now, not after ack_wait; a started
    // batch is finished (its jobs are at most a batch)
    for (const w of [...works]) {
      if (w.started) continue;
      clearInterval(w.keep);
      works.delete(w);
      try { w.m.nak(); } catch { /* closed: redelivered after ack_wait */ }
    }
    for (let i = queued.length - 1; i >= 0; i--) if (!works.has(queued[i]!.work)) queued.splice(i, 1);
    dispatch();
    while (works.size) await new Promise<void>((r) => { idle = r; });
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
