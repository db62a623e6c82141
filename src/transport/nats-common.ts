// What the coordinator (src/transport/nats.ts) and the worker (workers/worker.ts) share: connection
// options (auth, TLS) with an error that names the URL, the subject/stream layout, the wire formats
// and the idempotent creation of streams and consumers. Only JetStream features of nats-server 2.9.
//
// Layout (all file storage, so a server restart with the same store dir loses nothing):
//   PTEFARM_JOBS     work-queue   ptefarm.job.<target-token>     one job (v 1) or a batch of jobs (v 2) per message
//     durable consumer job_<target-token> per target, filter ptefarm.job.<target-token>; every worker
//     of that target pulls from it, so a case only ever reaches a worker that runs its target
//   PTEFARM_RESULTS  limits       ptefarm.result.<campaign>      the coordinator's durable record
//   PTEFARM_DEAD     limits       ptefarm.dead.<campaign>        jobs no worker could finish in maxDeliver attempts
//   PTEFARM_STATE    limits, 1 per subject   ptefarm.state.<campaign>.{meta,progress,summary}, ptefarm.state.last
//   core NATS        ptefarm.worker.hb (announce + heartbeat), ptefarm.worker.bye, ptefarm.worker.ping
import { createHash, hash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { connect, type ConnectionOptions, type NatsConnection } from '@nats-io/transport-node';
import { AckPolicy, DeliverPolicy, RetentionPolicy, StorageType, jetstreamManager, type JetStreamManager, type ConsumerInfo } from '@nats-io/jetstream';
import { z } from 'zod';
import { canonicalJson } from '../ops/canon.ts';
import type { Case } from '../ops/schema.ts';
import type { CaseResult, CheckRequest } from './transport.ts';
import { verdictSchema } from './verdict.ts';

export const JOBS_STREAM = 'PTEFARM_JOBS';
export const RESULTS_STREAM = 'PTEFARM_RESULTS';
export const DEAD_STREAM = 'PTEFARM_DEAD';
export const STATE_STREAM = 'PTEFARM_STATE';
export const HEARTBEAT_SUBJECT = 'ptefarm.worker.hb';
export const BYE_SUBJECT = 'ptefarm.worker.bye';
/** a coordinator that just started asks every worker to announce itself now, not at its next beat */
export const PING_SUBJECT = 'ptefarm.worker.ping';
export const MAX_DELIVERIES_ADVISORY = `$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.${JOBS_STREAM}.*`;

/** ack_wait of a target consumer: how long a dead or stopped worker keeps a case before it is
 *  redelivered. Short, because the campaign's generation waits for a lost case's feedback `lag`
 *  cases later (the case sequence must not depend on timing, campaign.ts); a live worker keeps a
 *  long case with working() every ack_wait / WORKING_FRACTION, so only a silent worker loses jobs. */
export const DEFAULT_ACK_WAIT_MS = 3000;
/** a worker sends an in-progress ack every ack_wait / WORKING_FRACTION while a case runs */
export const WORKING_FRACTION = 4;
/** deliveries of one case that may execute it; the consumer's max_deliver is one more: the worker
 *  that receives that last delivery dead-letters the job instead of running it (durable, needs no
 *  coordinator online); the MAX_DELIVERIES advisory is the coordinator's backup for that delivery */
export const DEFAULT_MAX_DELIVER = 5;
/** JetStream de-duplication window (Nats-Msg-Id): a re-published job or result inside it is dropped */
export const DUPLICATE_WINDOW_MS = 15 * 60_000;

/** timeout of JetStream publishes and acks: a request lost with a dying connection is retried
 *  (same Nats-Msg-Id, so idempotent) after this, instead of holding its case for the default 10 s */
export const JS_TIMEOUT_MS = 3000;

const ns = (ms: number) => ms * 1_000_000;

/** Auth and TLS, the same flags on both sides. */
export interface NatsAuth {
  user?: string;
  pass?: string;
  token?: string;
  tlsCa?: string;
  tlsCert?: string;
  tlsKey?: string;
}

export class NatsConnectError extends Error {}

/** Subject-safe token for a target spec (`.`, `*`, `>`, `:`, `+`, `@`... escaped as _XX), reversible. */
export function targetToken(spec: string): string {
  return spec.replace(/[^A-Za-z0-9-]/g, (ch) => `_${ch.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

const jobSubjects = new Map<string, string>();
/** (memoized: a regular expression per job was a percent of the coordinator's CPU) */
export const jobSubject = (target: string) => {
  let s = jobSubjects.get(target);
  if (s === undefined) { s = `ptefarm.job.${targetToken(target)}`; if (jobSubjects.size < 1000) jobSubjects.set(target, s); }
  return s;
};
export const consumerName = (target: string) => `job_${targetToken(target)}`;
export const resultSubject = (campaign: string) => `ptefarm.result.${campaign}`;
export const deadSubject = (campaign: string) => `ptefarm.dead.${campaign}`;
export const stateSubject = (campaign: string, what: 'meta' | 'progress' | 'summary') => `ptefarm.state.${campaign}.${what}`;
export const LAST_CAMPAIGN_SUBJECT = 'ptefarm.state.last';

/** campaign ids become subject tokens */
export function checkCampaignId(id: string): string {
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(id)) throw new Error(`bad campaign id "${id}": use 1-64 of A-Z a-z 0-9 _ -`);
  return id;
}

/** A job as it travels: the campaign's CaseJob plus what the worker needs to answer it. */
export interface JobMessage {
  v: 1;
  campaign: string;
  id: string;
  target: string;
  /** unvalidated on the wire: the worker validates before executing */
  case: Case;
  /** per-case timeout the campaign asked for */
  timeoutMs: number;
  /** hash of (target, canonical case): a result is only accepted for the exact case it answers */
  hash: string;
  /** the check to make where the case runs (CheckRequest): the result carries the verdict */
  check?: CheckRequest;
  /** deliveries that may execute the job; a later delivery is dead-lettered by the worker */
  maxDeliver?: number;
  /** the consumer's ack_wait as the coordinator set it: the worker calls working() well within it */
  ackWaitMs?: number;
}

/** One job of a batch message. */
export interface BatchJob {
  id: string;
  /** hash of (target, canonical case), as in JobMessage */
  hash: string;
  /** unvalidated on the wire: the worker validates before executing */
  case: Case;
  check?: CheckRequest;
}

/**
 * Several jobs of one campaign and target in one message (v 2; a single job still travels as the
 * v 1 JobMessage, which every worker reads). The work queue holds the batch as one message: it is
 * acked once every job's result is stored, and redelivered whole when its worker dies or stalls.
 * So that a redelivery neither loses nor doubles a result already stored, results go back in fixed
 * chunks by position (chunk k = jobs[k*chunk .. (k+1)*chunk), batchChunks) with a Nats-Msg-Id of
 * (batch, k) (resultChunkMsgId): a redelivery's chunk that was stored before is dropped by the
 * server, and the coordinator keeps the first result per job anyway.
 */
export interface BatchMessage {
  v: 2;
  campaign: string;
  target: string;
  /** per-case timeout the campaign asked for */
  timeoutMs: number;
  maxDeliver?: number;
  ackWaitMs?: number;
  /** results go back in chunks of this many jobs, by position */
  chunk: number;
  jobs: BatchJob[];
}

/** One job's answer in a result batch. */
export interface BatchResult {
  id: string;
  hash: string;
  result: CaseResult;
  dead?: boolean;
}

/** The results of one chunk of a batch (v 2), from one producer and one delivery of the batch. */
export interface ResultBatchMessage {
  v: 2;
  campaign: string;
  origin: ResultOrigin;
  delivery?: number;
  results: BatchResult[];
}

/** jobs per batch message: the most a worker takes in one (it refuses a larger batch) */
export const MAX_BATCH_JOBS = 64;
/** bytes of a batch message a worker takes (the coordinator stays under it and the server's max_payload) */
export const MAX_BATCH_BYTES = 1 << 20;

/** The identity of a batch: of its campaign, job ids and hashes (16 hex). Workers compute it from
 *  the message, so a forged batch can only collide with a batch of the same jobs. */
export function batchKey(campaign: string, jobs: readonly { id: string; hash: string }[]): string {
  const h = createHash('sha256').update(campaign);
  for (const j of jobs) h.update('\0').update(j.id).update('\0').update(j.hash);
  return h.digest('hex').slice(0, 16);
}

/** [start, end) of each result chunk of a batch of `n` jobs answered `chunk` at a time */
export function batchChunks(n: number, chunk: number): [number, number][] {
  const c = Math.max(1, Math.floor(chunk));
  const out: [number, number][] = [];
  for (let i = 0; i < n; i += c) out.push([i, Math.min(n, i + c)]);
  return out;
}

export const batchMsgId = (campaign: string, key: string) => `jobs/${campaign}/${key}`;
export const resultChunkMsgId = (campaign: string, key: string, k: number) => `res/${campaign}/${key}/${k}`;
export const deadBatchMsgId = (campaign: string, key: string) => `dead/${campaign}/${key}`;

/** Who produced a result, as the result says. Unauthenticated: who may publish results at all is
 *  decided by the NATS server's users/permissions and TLS (README, Distributed campaigns). */
export interface ResultOrigin {
  /** worker id as in its heartbeats, or `coordinator:...` for a dead-letter verdict */
  id: string;
  /** the target the producer serves: must be the job's target */
  target: string;
}

export interface ResultMessage {
  v: 1;
  campaign: string;
  id: string;
  hash: string;
  /** a result without it is rejected by the coordinator */
  origin: ResultOrigin;
  result: CaseResult;
  /** delivery count of the job when this result was produced (> 1: a redelivery) */
  delivery?: number;
  /** set when the job was dead-lettered (no worker finished it in maxDeliver attempts) */
  dead?: boolean;
}

export interface WorkerBeat {
  id: string;
  host: string;
  pid: number;
  target: string;
  threads: number;
  /** probe facts and target info (arch, kernel, capabilities) */
  caps: Record<string, unknown>;
  busy: number;
  done: number;
  refused: number;
  started: number;
  /** the worker's heartbeat period; the coordinator declares it dead after 3 missed beats */
  intervalMs: number;
  /** the most jobs it takes in one batch message (absent: an older worker, sent single jobs) */
  batch?: number;
  /** the highest job message version it reads (JOB_PROTOCOL); absent: 2 when it announces `batch`,
   *  else 1 (a pre-batch worker, which refuses a v 2 batch: workerProtocol) */
  protocol?: number;
}

/** the highest job message version this code writes and reads (1: single job, 2: batch) */
export const JOB_PROTOCOL = 2;

/** The job message version a worker reads, from its heartbeat: announced, or inferred for a worker
 *  older than the announcement (one that announces `batch` reads batches). */
export function workerProtocol(b: WorkerBeat): number {
  if (Number.isInteger(b.protocol) && b.protocol! >= 1) return Math.min(b.protocol!, 1000);
  return Number.isInteger(b.batch) && b.batch! >= 1 ? 2 : 1;
}

const boundedString = (max: number) => z.string().min(1).max(max);

/** A result message as read from the stream: anyone with publish rights may have put anything there. */
const resultMessageSchema = z.object({
  v: z.literal(1),
  campaign: boundedString(64),
  id: boundedString(200),
  hash: boundedString(64),
  origin: z.object({ id: boundedString(200), target: boundedString(1024) }),
  result: z.object({
    trace: z.unknown().optional(),
    fault: z.string().optional(),
    worker: z.string().max(400).optional(),
    ms: z.number().optional(),
    verdict: verdictSchema.optional(),
  }).passthrough(),
  delivery: z.number().int().min(1).optional(),
  dead: z.boolean().optional(),
});

const firstIssue = (e: z.ZodError, prefix = '') => {
  const i = e.issues[0];
  return `${prefix}${i.path.length ? i.path.join('.') : prefix ? '' : 'message'}: ${i.message}`.replace(/\.: /, ': ').slice(0, 200);
};

/** The result message, or a short reason naming the first bad field. */
export function parseResultMessage(raw: unknown): { ok: ResultMessage } | { bad: string } {
  const r = resultMessageSchema.safeParse(raw);
  // result.id is not trusted: the coordinator sets it from the message id it accepted
  if (r.success) return { ok: r.data as unknown as ResultMessage };
  return { bad: firstIssue(r.error) };
}

const resultBatchSchema = z.object({
  v: z.literal(2),
  campaign: boundedString(64),
  origin: z.object({ id: boundedString(200), target: boundedString(1024) }),
  delivery: z.number().int().min(1).optional(),
  results: z.array(z.unknown()).min(1).max(MAX_BATCH_JOBS),
});
const batchResultSchema = resultMessageSchema.pick({ id: true, hash: true, result: true, dead: true });

/**
 * The results of a message of either version, each as a v 1 ResultMessage (campaign, origin and
 * delivery from the batch), plus the entries that are not results, each with its id (when it has
 * one) and a short reason. A malformed envelope is one `bad` entry for the whole message.
 */
export function parseResults(raw: unknown): { ok: ResultMessage[]; bad: { id: unknown; why: string }[] } {
  if ((raw as { v?: unknown } | null)?.v !== 2) {
    const one = parseResultMessage(raw);
    return 'ok' in one ? { ok: [one.ok], bad: [] } : { ok: [], bad: [{ id: (raw as { id?: unknown } | null)?.id, why: one.bad }] };
  }
  const env = resultBatchSchema.safeParse(raw);
  if (!env.success) return { ok: [], bad: [{ id: undefined, why: firstIssue(env.error) }] };
  const { campaign, origin, delivery } = env.data;
  const out: { ok: ResultMessage[]; bad: { id: unknown; why: string }[] } = { ok: [], bad: [] };
  env.data.results.forEach((x, i) => {
    const r = batchResultSchema.safeParse(x);
    if (r.success) out.ok.push({ v: 1, campaign, origin, ...(delivery !== undefined ? { delivery } : {}), ...(r.data as unknown as BatchResult) });
    else out.bad.push({ id: (x as { id?: unknown } | null)?.id, why: firstIssue(r.error, `results.${i}.`) });
  });
  return out;
}

export function jobHash(target: string, c: unknown): string {
  // one-shot crypto.hash: the same digest as createHash().update()..., without a Hash object per job
  return hash('sha256', `${target}\0${canonicalJson(c as Case)}`, 'hex').slice(0, 16);
}

/** Nats-Msg-Id of a job and of its result: a republished job / a second result is dropped by the server. */
export const jobMsgId = (campaign: string, id: string, hash: string) => `job/${campaign}/${id}/${hash}`;
export const resultMsgId = (campaign: string, id: string, hash: string) => `res/${campaign}/${id}/${hash}`;

/** Connect with endless reconnects (a restarted server is waited for); a dead server at start is a NatsConnectError naming the URL. */
export async function connectNats(url: string, auth: NatsAuth = {}, name = 'ptefarm'): Promise<NatsConnection> {
  const opts: ConnectionOptions = {
    servers: url.split(',').map((s) => s.trim()).filter(Boolean),
    name,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 250,
    timeout: 5000,
    pingInterval: 10_000,
  };
  if (auth.token) opts.token = auth.token;
  if (auth.user !== undefined) { opts.user = auth.user; opts.pass = auth.pass ?? ''; }
  if (auth.tlsCa || auth.tlsCert || auth.tlsKey) {
    if ((auth.tlsCert === undefined) !== (auth.tlsKey === undefined)) throw new NatsConnectError('--tls-cert and --tls-key go together');
    const read = (p: string, what: string) => {
      try { return readFileSync(p, 'utf8'); } catch (e) { throw new NatsConnectError(`${what} ${p}: cannot read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`); }
    };
    opts.tls = {
      ...(auth.tlsCa ? { ca: read(auth.tlsCa, '--tls-ca') } : {}),
      ...(auth.tlsCert ? { cert: read(auth.tlsCert, '--tls-cert') } : {}),
      ...(auth.tlsKey ? { key: read(auth.tlsKey, '--tls-key') } : {}),
    };
  }
  try {
    return await connect(opts);
  } catch (e) {
    const err = e as Error & { code?: string };
    const why = err.code === 'ECONNREFUSED' || /ECONNREFUSED/.test(err.message) ? 'connection refused (is nats-server running there?)' : err.message;
    throw new NatsConnectError(`cannot connect to NATS at ${url}: ${why}`);
  }
}

/** Create a stream unless it exists. A concurrent creator (workers and a coordinator starting
 *  together) is fine: losing the race, nats-server answers "stream name already in use" or, when it
 *  checks the subjects first, "subjects overlap with an existing stream" (JSStreamSubjectOverlapErr);
 *  either way the stream is looked up again and only an add that failed with no such stream there
 *  is an error. */
async function ensureStream(jsm: JetStreamManager, cfg: Parameters<JetStreamManager['streams']['add']>[0]): Promise<void> {
  try { await jsm.streams.info(cfg.name!); return; } catch (e) { if (!isNotFound(e)) throw e; }
  try { await jsm.streams.add(cfg); } catch (e) {
    if (!/already in use|subjects overlap/i.test((e as Error).message)) throw e;
    // the subjects may overlap another stream of another name: then this one still does not exist
    await jsm.streams.info(cfg.name!);
  }
}

export function isNotFound(e: unknown): boolean {
  const err = e as { message?: string; code?: string | number; api_error?: { code?: number } };
  return /not found/i.test(err.message ?? '') || err.code === 404 || err.code === '404' || err.api_error?.code === 404;
}

export async function ensureTopology(nc: NatsConnection): Promise<JetStreamManager> {
  const jsm = await jetstreamManager(nc, { timeout: 10_000 });
  const common = { storage: StorageType.File, num_replicas: 1, duplicate_window: ns(DUPLICATE_WINDOW_MS) };
  await ensureStream(jsm, { name: JOBS_STREAM, subjects: ['ptefarm.job.>'], retention: RetentionPolicy.Workqueue, ...common });
  await ensureStream(jsm, { name: RESULTS_STREAM, subjects: ['ptefarm.result.>'], retention: RetentionPolicy.Limits, ...common });
  await ensureStream(jsm, { name: DEAD_STREAM, subjects: ['ptefarm.dead.>'], retention: RetentionPolicy.Limits, ...common });
  await ensureStream(jsm, { name: STATE_STREAM, subjects: ['ptefarm.state.>'], retention: RetentionPolicy.Limits, max_msgs_per_subject: 1, ...common });
  return jsm;
}

export interface ConsumerTuning { ackWaitMs?: number; maxDeliver?: number }

/**
 * The durable consumer all workers of `target` share. A worker creates it with defaults when it is
 * missing and otherwise takes it as it is; the coordinator (which knows the campaign's case times)
 * passes tuning and updates ack_wait / max_deliver of an existing one.
 */
export async function ensureTargetConsumer(jsm: JetStreamManager, target: string, tuning?: ConsumerTuning): Promise<ConsumerInfo> {
  const name = consumerName(target);
  const ackWait = ns(tuning?.ackWaitMs ?? DEFAULT_ACK_WAIT_MS);
  const maxDeliver = (tuning?.maxDeliver ?? DEFAULT_MAX_DELIVER) + 1;
  let info: ConsumerInfo | undefined;
  try { info = await jsm.consumers.info(JOBS_STREAM, name); } catch (e) { if (!isNotFound(e)) throw e; }
  if (!info) {
    try {
      return await jsm.consumers.add(JOBS_STREAM, {
        durable_name: name,
        filter_subject: jobSubject(target),
        ack_policy: AckPolicy.Explicit,
        deliver_policy: DeliverPolicy.All,
        ack_wait: ackWait,
        max_deliver: maxDeliver,
        max_ack_pending: 10_000,
        max_waiting: 512,
      });
    } catch (e) {
      // another process created it in between
      info = await jsm.consumers.info(JOBS_STREAM, name).catch(() => { throw e; });
    }
  }
  if (tuning && (info.config.ack_wait !== ackWait || info.config.max_deliver !== maxDeliver)) {
    info = await jsm.consumers.update(JOBS_STREAM, name, { ack_wait: ackWait, max_deliver: maxDeliver });
  }
  return info;
}

/** Retry an operation that fails while the server is away (publish during a restart); gives up when `stop()` says so. */
export async function retrying<T>(op: () => Promise<T>, stop: () => boolean, onRetry?: (e: Error, attempt: number) => void): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try { return await op(); } catch (e) {
      if (stop()) throw e;
      if (isPermanent(e)) throw e;
      onRetry?.(e as Error, attempt);
      await new Promise((r) => setTimeout(r, Math.min(2000, 100 * attempt)));
    }
  }
}

/** errors a retry cannot fix */
function isPermanent(e: unknown): boolean {
  const m = (e as Error).message ?? '';
  return /MAX_PAYLOAD|payload.*exceed|maximum payload|Authorization|permissions violation/i.test(m);
}


export function deadLetterFault(attempts: number, target: string, campaign: string): string {
  return `infrastructure: case delivered ${attempts} times without a result (workers of ${target} died or hung); dead-lettered to ${deadSubject(campaign)}`;
}
