// The coordinator side of the NATS JetStream farm: a Transport whose run() publishes the job to the
// work queue subject of its target and resolves when the job's result appears in the campaign's
// results stream (see nats-common.ts for the layout).
//
// Batches: the jobs run() is given in one turn of the event loop (the campaign submits several at
// once when a chunk of results comes back) go out together, as one v 2 batch message per share of
// the target's live workers, at most the jobs a worker advertises it takes (`batch` in its
// heartbeat), and answered in chunks of the smallest worker's thread count; a job alone, or one
// for a target with no announced batching worker, goes out as the v 1 single-job message. While the
// target's workers already have what they keep in hand (2 x threads each) published and unanswered,
// new jobs wait (until the next result, at most HOLD_MS) to fill a whole batch: a deep window (the
// farm's default concurrency) then travels in full batches. A batch is one message in the work
// queue: it leaves the queue when all its jobs are answered.
//
// Versions: a worker announces the job message version it reads (`protocol`; inferred for older
// workers: nats-common.ts workerProtocol). While a pre-batch (v 1) worker of a target is live, that
// target's jobs travel one per message, and the mismatch is reported once per worker (event
// 'version-mismatch', naming both versions). A batch such a worker took before its announcement
// was seen (it refuses it under the id seq-<stream sequence> and acks it away) is not lost: its
// unanswered jobs go back to be published again, for any worker, at most MAX_REQUEUES times each.
//
// Ack flow: a worker publishes the result to PTEFARM_RESULTS and waits for the PubAck (the result is
// then stored on the server's disk — the coordinator's durable record), and only then acks the job.
// A worker that dies before the PubAck leaves the job un-acked: it is redelivered after ack_wait.
// A worker that dies between PubAck and ack produces a second result on redelivery: the server
// drops it (same Nats-Msg-Id inside the duplicate window) and the coordinator drops any that still
// arrive (one result per job id, counted in stats.duplicates).
//
// Finished jobs leave the work queue even when a worker's ack is lost (worker killed between PubAck
// and ack, server killed before the ack reached its disk): the coordinator deletes a job's message
// (by the stream sequence of its PubAck) once the job's result is recorded — in batches, every
// REMOVAL_BATCH_MS, and only messages at or past the stream's first sequence (one stream info per
// batch: normally the worker's ack removed them all, and a delete request per case was a third of
// the coordinator's CPU per case in `npm run bench`) — and sweeps the queue of
// its campaign's finished jobs after a reconnect, on resume and at the end (sweep()). A finished job
// is therefore not left queued, nor redelivered to be run a second time.
//
// Results carry their producer's identity (origin: worker id and target). The coordinator accepts a
// result only for a job of this campaign it issued, not yet answered, with the job's case hash, from
// a producer of the job's target (and, when that worker announced itself, announced with that
// target); anything else is counted and reported as rejected, never recorded. A fresh campaign
// rejects results for job ids it has not issued at once; a resumed one holds them until its
// regenerated job with that id is issued (the crashed coordinator's workers may still answer),
// then applies the same checks. This is consistency, not authentication: who may publish to the
// results subject is for NATS users/permissions and TLS to decide.
//
// The coordinator reads its results with an ordered consumer from the beginning of its subject, so a
// restarted coordinator first replays what was recorded: run() of a job whose result is already
// recorded (same id AND same case hash) returns it without publishing again — the campaign, which
// regenerates the same cases from the same seed, continues without re-running or re-counting them.
import { hostname } from 'node:os';
import { headers, type NatsConnection, type Subscription } from '@nats-io/transport-node';
import { jetstream, type JetStreamClient, type JetStreamManager, type ConsumerMessages } from '@nats-io/jetstream';
import type { CaseJob, CaseResult, Transport } from './transport.ts';
import { verdictProblems } from './verdict.ts';
import {
  BYE_SUBJECT, DEAD_STREAM, HEARTBEAT_SUBJECT, PING_SUBJECT, JOBS_STREAM, MAX_DELIVERIES_ADVISORY, RESULTS_STREAM, MAX_BATCH_BYTES, MAX_BATCH_JOBS,
  DEFAULT_ACK_WAIT_MS, DEFAULT_MAX_DELIVER, JS_TIMEOUT_MS, batchChunks, batchKey, batchMsgId, checkCampaignId, connectNats, deadBatchMsgId, deadLetterFault, deadSubject, ensureTargetConsumer, ensureTopology, isNotFound, jobHash, jobMsgId, jobSubject,
  JOB_PROTOCOL, parseResults, resultChunkMsgId, workerProtocol, resultMsgId, resultSubject, retrying, type BatchJob, type BatchMessage, type ConsumerTuning, type JobMessage, type NatsAuth, type ResultBatchMessage, type ResultMessage, type WorkerBeat,
} from './nats-common.ts';

/** how long finished jobs' message deletions are collected before one batch removes them */
const REMOVAL_BATCH_MS = 500;
/** the longest jobs wait to fill a batch while the workers have enough to do */
const HOLD_MS = 20;
/** how often a job refused in a batch by a worker that reads no batches is published again */
const MAX_REQUEUES = 3;

export interface FarmStats {
  /** jobs published (a retried publish counts once) */
  published: number;
  /** job messages published: single jobs and batches */
  messages: number;
  /** jobs not published because a message the resumed coordinator left in the queue holds them
   *  (found by the sweep on resume): their results come from that message */
  adopted: number;
  /** result messages read from the results stream (including replayed and duplicate ones) */
  received: number;
  /** run() calls answered from results recorded before this coordinator started (resume) */
  replayed: number;
  /** results for a job id that already had one: discarded */
  duplicates: number;
  /** results not accepted: malformed, for a job not issued, for another case, from a producer of another target */
  rejected: number;
  /** jobs no worker finished in maxDeliver attempts, dead-lettered (reported as faults) */
  deadLettered: string[];
  /** publish attempts that failed and were retried (server away) */
  publishRetries: number;
  /** jobs found still queued after their result was recorded (ack lost) and removed by a sweep */
  sweptJobs: number;
  workersLost: number;
  /** jobs published again because a worker that reads only single jobs (v 1) refused their batch */
  requeued: number;
}

export type FarmEvent =
  | { type: 'worker-joined'; worker: WorkerBeat }
  | { type: 'worker-lost'; worker: WorkerBeat; silentMs: number }
  | { type: 'worker-left'; worker: WorkerBeat }
  | { type: 'dead-letter'; id: string; deliveries: number; target: string }
  | { type: 'duplicate'; id: string }
  | { type: 'rejected'; id: string; reason: string }
  | { type: 'connection'; status: string; detail?: string }
  | { type: 'replayed'; results: number }
  /** a worker speaks an older job protocol than this coordinator: reported once per worker */
  | { type: 'version-mismatch'; worker: WorkerBeat; workerVersion: number; coordinatorVersion: number; message: string };

export interface NatsTransportOptions extends ConsumerTuning {
  campaign: string;
  /** jobs usefully in flight (the campaign keeps 2x this many queued); fixed, because the campaign's
   *  case sequence depends on it (feedback lag), so a resumed campaign must use the same value */
  concurrency?: number;
  onEvent?: (e: FarmEvent) => void;
  /** how often to look for silent workers (default 1 s) */
  livenessCheckMs?: number;
  /** continuing a campaign another coordinator started: results for jobs not issued yet are held
   *  (its workers may still answer its jobs) instead of rejected */
  resumed?: boolean;
}

/** a job message in the work queue (one job or a batch): deleted once all its jobs are answered */
interface QueuedMessage { seq?: number; open: number; batch?: Pending[] }
interface Waiter { hash: string; target: string; case: CaseJob['case']; resolve: (r: CaseResult) => void; msg?: QueuedMessage; published?: boolean }
/** a job of this run whose result is recorded; `msg` is its message in the work queue, when known */
interface Settled { hash: string; target: string; msg?: QueuedMessage }
interface Pending { job: CaseJob; hash: string; timeoutMs: number; requeues?: number }
interface LiveWorker { beat: WorkerBeat; lastSeen: number }

export class NatsTransport implements Transport {
  readonly concurrency: number;
  readonly campaign: string;
  readonly stats: FarmStats = { published: 0, messages: 0, adopted: 0, received: 0, replayed: 0, duplicates: 0, rejected: 0, deadLettered: [], publishRetries: 0, sweptJobs: 0, workersLost: 0, requeued: 0 };
  private readonly js: JetStreamClient;
  private readonly waiting = new Map<string, Waiter>();
  /** results that arrived before their run() (resume: replayed, or late answers to the previous
   *  coordinator's jobs), checked when the job is issued: id -> candidates in stream order */
  private readonly recorded = new Map<string, ResultMessage[]>();
  /** target each worker announced in its heartbeats (kept after it is lost) */
  private readonly announced = new Map<string, string>();
  /** jobs answered in this run, by id */
  private readonly settled = new Map<string, Settled>();
  private readonly consumers = new Map<string, Promise<unknown>>();
  /** jobs given to run() in this turn of the event loop, by target and timeout: published together */
  private readonly pending = new Map<string, Pending[]>();
  private flushScheduled = false;
  private holdTimer?: NodeJS.Timeout;
  /** jobs published (or being published) and not answered, by target */
  private readonly outstanding = new Map<string, number>();
  /** resumed: unanswered jobs of this campaign found queued by the sweep, by id */
  private readonly adoptable = new Map<string, { hash: string; target: string; msg: QueuedMessage }>();
  private readonly live = new Map<string, LiveWorker>();
  /** workers whose older job protocol was reported (once each) */
  private readonly mismatched = new Set<string>();
  /** batch messages published and not yet answered in full, by stream sequence: a worker that
   *  cannot read batches refuses one under the id seq-<sequence> (requeueRefusedBatch) */
  private readonly sentBatches = new Map<number, Pending[]>();
  /** such refusals that came before the PubAck of the batch they refuse, by stream sequence */
  private readonly earlyRefusals = new Map<number, ResultMessage>();
  private readonly subs: Subscription[] = [];
  private results?: ConsumerMessages;
  private timer?: NodeJS.Timeout;
  private closed = false;
  /** stream sequences of finished jobs' messages, removed in the next batch (removeFinished) */
  private toRemove: number[] = [];
  private removalTimer?: NodeJS.Timeout;
  private removing?: Promise<void>;
  private replayDone = false;
  private sweeping?: Promise<number>;
  private sweepAgain = false;
  private lastLivenessCheck = Date.now();

  private constructor(
    private readonly nc: NatsConnection,
    private readonly jsm: JetStreamManager,
    private readonly opts: NatsTransportOptions,
    private readonly ownsConnection: boolean,
  ) {
    this.campaign = checkCampaignId(opts.campaign);
    this.concurrency = Math.max(1, opts.concurrency ?? 32);
    this.js = jetstream(nc, { timeout: JS_TIMEOUT_MS });
  }

  /** Connect (a dead server is an error naming the URL) and open the transport on its own connection. */
  static async connect(url: string, auth: NatsAuth, opts: NatsTransportOptions): Promise<NatsTransport> {
    const nc = await connectNats(url, auth, `ptefarm-coordinator:${hostname()}:${process.pid}`);
    try { return await NatsTransport.open(nc, opts, true); } catch (e) { await nc.close().catch(() => undefined); throw e; }
  }

  /** Open on an existing connection: create streams, subscribe, replay the recorded results. */
  static async open(nc: NatsConnection, opts: NatsTransportOptions, ownsConnection = false): Promise<NatsTransport> {
    const jsm = await ensureTopology(nc);
    const t = new NatsTransport(nc, jsm, opts, ownsConnection);
    await t.start();
    return t;
  }

  /** the identity of dead-letter verdicts this coordinator records */
  private readonly originId = `coordinator:${hostname()}:${process.pid}`;

  private emit(e: FarmEvent) { try { this.opts.onEvent?.(e); } catch { /* a listener must not break the farm */ } }

  private async start(): Promise<void> {
    void (async () => {
      for await (const s of this.nc.status()) {
        if (s.type === 'disconnect' || s.type === 'reconnect' || s.type === 'close') this.emit({ type: 'connection', status: s.type, detail: 'server' in s ? String(s.server) : undefined });
        // a server that went away may have lost acks (and our deletes) it had not yet written:
        // remove the finished jobs it brought back before their ack_wait redelivers them
        if (s.type === 'reconnect') void this.sweep().catch(() => undefined);
      }
    })().catch(() => undefined);

    this.subs.push(this.nc.subscribe(HEARTBEAT_SUBJECT, { callback: (err, m) => { if (!err) this.onBeat(m.json<WorkerBeat>(), false); } }));
    this.subs.push(this.nc.subscribe(BYE_SUBJECT, { callback: (err, m) => { if (!err) this.onBeat(m.json<WorkerBeat>(), true); } }));
    this.subs.push(this.nc.subscribe(MAX_DELIVERIES_ADVISORY, { callback: (err, m) => { if (!err) void this.onMaxDeliveries(m.json()).catch(() => undefined); } }));
    try { this.nc.publish(PING_SUBJECT); } catch { /* reconnecting */ }
    const every = this.opts.livenessCheckMs ?? 1000;
    this.timer = setInterval(() => this.checkLiveness(), every);
    this.timer.unref();

    // replay: how many results are recorded already (stream info with a subject filter, 2.9 has it)
    const subj = resultSubject(this.campaign);
    const si = await this.jsm.streams.info(RESULTS_STREAM, { subjects_filter: subj });
    const recordedCount = si.state.subjects?.[subj] ?? 0;
    let replayed!: () => void;
    const replayPromise = new Promise<void>((r) => { replayed = r; });
    if (recordedCount === 0) { this.replayDone = true; replayed(); }
    const consumer = await this.js.consumers.get(RESULTS_STREAM, { filter_subjects: subj });
    // a short expiry makes the ordered consumer notice a restarted server (missed heartbeats) quickly
    this.results = await consumer.consume({ max_messages: 256, expires: 2000 });
    let seen = 0;
    void (async () => {
      for await (const m of this.results!) {
        seen++;
        let raw: unknown;
        try { raw = m.json<unknown>(); } catch { raw = undefined; }
        this.onResult(raw);
        if (!this.replayDone && (m.info.pending === 0 || seen >= recordedCount)) {
          this.replayDone = true;
          this.emit({ type: 'replayed', results: seen });
          replayed();
        }
      }
    })().catch(() => undefined);
    await replayPromise;
  }

  private onBeat(b: WorkerBeat, bye: boolean) {
    if (!b || typeof b.id !== 'string') return;
    const known = this.live.get(b.id);
    if (bye) {
      if (known) { this.live.delete(b.id); this.emit({ type: 'worker-left', worker: b }); }
      return;
    }
    this.live.set(b.id, { beat: b, lastSeen: Date.now() });
    if (typeof b.target === 'string' && (this.announced.has(b.id) || this.announced.size < 100_000)) this.announced.set(b.id, b.target);
    if (!known) this.emit({ type: 'worker-joined', worker: b });
    const v = workerProtocol(b);
    if (v < JOB_PROTOCOL && !this.mismatched.has(b.id) && this.mismatched.size < 10_000) {
      this.mismatched.add(b.id);
      this.emit({ type: 'version-mismatch', worker: b, workerVersion: v, coordinatorVersion: JOB_PROTOCOL,
        message: `worker ${b.id.slice(0, 200)} (${String(b.target).slice(0, 100)}) reads job messages v${v}, this coordinator writes v${JOB_PROTOCOL}: `
          + `its target's jobs go one per message (v1) while it is live; a v${JOB_PROTOCOL} batch it refuses goes back to the queue` });
    }
  }

  /**
   * A result refusing a batch message because it is not v 1: the answer of a pre-batch worker,
   * which names the message seq-<stream sequence> (it finds no job id in a batch) and acks it away.
   * The batch's unanswered jobs are published again (as what the live workers read: single jobs
   * while that worker is live), each at most MAX_REQUEUES times; then the job gets a fault naming
   * the mismatch. True when `r` was such a refusal of a batch of this run.
   */
  private requeueRefusedBatch(r: ResultMessage): boolean {
    const m = /^seq-(\d{1,15})$/.exec(r.id);
    const v = /\bv: expected (\d{1,6}), got (\d{1,6})/.exec(r.result.fault ?? '');
    if (!m || !v) return false;
    const seq = Number(m[1]);
    const group = this.sentBatches.get(seq);
    if (!group) {
      // refused before our PubAck told us the batch's sequence: settled when it does (publish)
      if (this.campaign === r.campaign && this.earlyRefusals.size < 1000) { this.earlyRefusals.set(seq, r); return true; }
      return false;
    }
    this.sentBatches.delete(seq);
    const why = `worker ${r.origin.id.slice(0, 200)} reads job messages v${v[1]}, the batch holding this job was v${v[2]}`;
    let again = false;
    for (const p of group) {
      const w = this.waiting.get(p.job.id);
      if (!w || w.hash !== p.hash || !w.published) continue;
      this.outstanding.set(w.target, (this.outstanding.get(w.target) ?? 1) - 1);
      if ((p.requeues ?? 0) >= MAX_REQUEUES) {
        this.waiting.delete(p.job.id);
        w.resolve({ id: p.job.id, fault: `infrastructure: job protocol mismatch: ${why}; refused ${MAX_REQUEUES + 1} times, not run`, worker: 'coordinator' });
        continue;
      }
      w.published = false;
      w.msg = undefined;
      this.stats.requeued++;
      const key = `${p.job.target}\0${p.timeoutMs}`;
      let list = this.pending.get(key);
      if (!list) this.pending.set(key, (list = []));
      list.push({ ...p, requeues: (p.requeues ?? 0) + 1 });
      again = true;
    }
    if (again && !this.flushScheduled) { this.flushScheduled = true; setImmediate(() => this.flush(true)); }
    return true;
  }

  private checkLiveness() {
    const now = Date.now();
    const every = this.opts.livenessCheckMs ?? 1000;
    const stalled = now - this.lastLivenessCheck - every;
    this.lastLivenessCheck = now;
    if (stalled > every) {
      // this process was busy (module loading, a long replay): the beats of that time are still
      // unread, so the silence is ours, not the workers'
      for (const w of this.live.values()) w.lastSeen += stalled;
      return;
    }
    for (const [id, w] of this.live) {
      const limit = 3 * Math.max(200, w.beat.intervalMs || 2000);
      if (now - w.lastSeen > limit) {
        this.live.delete(id);
        this.stats.workersLost++;
        this.emit({ type: 'worker-lost', worker: w.beat, silentMs: now - w.lastSeen });
      }
    }
  }

  /** workers whose heartbeat is current, optionally only those serving `target` */
  workers(target?: string): WorkerBeat[] {
    return [...this.live.values()].map((w) => w.beat).filter((b) => target === undefined || b.target === target);
  }

  /** live workers with the time their last heartbeat arrived (Date.now() ms), for the dashboard */
  heartbeats(): { beat: WorkerBeat; lastSeen: number }[] {
    return [...this.live.values()].map((w) => ({ beat: w.beat, lastSeen: w.lastSeen }));
  }

  private reject(id: unknown, reason: string) {
    this.stats.rejected++;
    this.emit({ type: 'rejected', id: typeof id === 'string' ? id.slice(0, 200) : '?', reason });
  }

  /** why result `r` does not answer the job (hash, target, case) this coordinator issued, if it
   *  does not; a verdict it carries is taken only from a result that answers the job, and only
   *  when consistent with it (src/transport/verdict.ts verdictProblems) */
  private originProblem(r: ResultMessage, hash: string, target: string, c: CaseJob['case']): string | undefined {
    if (r.hash !== hash) return `answers another case (hash ${r.hash}, the job's is ${hash})`;
    if (r.origin.target !== target) return `produced by ${r.origin.id} for ${r.origin.target.slice(0, 100)}, the job is for ${target}`;
    const announced = this.announced.get(r.origin.id);
    if (announced !== undefined && announced !== target) return `worker ${r.origin.id} serves ${announced}, the job is for ${target}`;
    return verdictProblems(c, r.result);
  }

  /** r is the accepted answer to job id */
  private accepted(r: ResultMessage, target: string): CaseResult {
    if (r.dead && !this.stats.deadLettered.includes(r.id)) {
      this.stats.deadLettered.push(r.id);
      this.emit({ type: 'dead-letter', id: r.id, deliveries: r.delivery ?? 0, target });
    }
    return { ...r.result, id: r.id };
  }

  private onResult(raw: unknown) {
    this.stats.received++;
    const { ok, bad } = parseResults(raw);
    for (const b of bad) this.reject(b.id, `malformed result: ${b.why}`);
    for (const r of ok) this.onOneResult(r);
  }

  private onOneResult(r: ResultMessage) {
    if (r.campaign !== this.campaign) { this.reject(r.id, `for campaign ${r.campaign}`); return; }
    if (this.settled.has(r.id)) {
      this.stats.duplicates++;
      this.emit({ type: 'duplicate', id: r.id });
      return;
    }
    const w = this.waiting.get(r.id);
    if (w) {
      const why = this.originProblem(r, w.hash, w.target, w.case);
      if (why) { this.reject(r.id, why); return; } // the real answer may still come
      this.waiting.delete(r.id);
      this.settle(r.id, { hash: w.hash, target: w.target, msg: w.msg });
      if (w.published) {
        this.outstanding.set(w.target, (this.outstanding.get(w.target) ?? 1) - 1);
        // jobs held to fill a batch go once the workers have room
        if (this.pending.size && !this.flushScheduled) { this.flushScheduled = true; setImmediate(() => this.flush()); }
      }
      w.resolve(this.accepted(r, w.target));
      return;
    }
    if (this.requeueRefusedBatch(r)) return;
    // a result for a job this coordinator has not issued: only a resumed campaign expects any
    if (!this.opts.resumed) { this.reject(r.id, 'no such job issued by this coordinator'); return; }
    let held = this.recorded.get(r.id);
    if (!held) this.recorded.set(r.id, (held = []));
    if (held.length >= 8) { this.reject(r.id, 'too many results held for one job'); return; }
    held.push(r);
  }

  private async onMaxDeliveries(adv: { stream?: string; consumer?: string; stream_seq?: number; deliveries?: number }) {
    if (adv.stream !== JOBS_STREAM || typeof adv.stream_seq !== 'number') return;
    const sm = await this.jsm.streams.getMessage(JOBS_STREAM, { seq: adv.stream_seq }).catch(() => null);
    if (!sm) return; // already handled (by us or another coordinator)
    let job: JobMessage | BatchMessage;
    try { job = sm.json<JobMessage | BatchMessage>(); } catch { return; }
    if (job?.campaign !== this.campaign) return; // another campaign's coordinator handles its own
    const deliveries = adv.deliveries ?? 0;
    const h = headers();
    h.set('Ptefarm-Deliveries', String(deliveries));
    const stop = () => this.closed;
    if (job.v === 2) {
      if (!Array.isArray(job.jobs)) return;
      const key = batchKey(this.campaign, job.jobs);
      await retrying(() => this.js.publish(deadSubject(this.campaign), sm.data, { headers: h, msgID: deadBatchMsgId(this.campaign, key) }), stop);
      // the chunks a worker stored before keep their results: these have the same Nats-Msg-Ids
      const fault = deadLetterFault(deliveries, job.target, this.campaign);
      for (const [k, [a, b]] of batchChunks(job.jobs.length, job.chunk).entries()) {
        const res: ResultBatchMessage = {
          v: 2, campaign: this.campaign, delivery: deliveries, origin: { id: this.originId, target: job.target },
          results: job.jobs.slice(a, b).map((j) => ({ id: j.id, hash: j.hash, dead: true, result: { id: j.id, fault, worker: 'coordinator' } })),
        };
        await retrying(() => this.js.publish(resultSubject(this.campaign), JSON.stringify(res), { msgID: resultChunkMsgId(this.campaign, key, k) }), stop);
      }
      await this.jsm.streams.deleteMessage(JOBS_STREAM, adv.stream_seq).catch(() => undefined);
      return;
    }
    await retrying(() => this.js.publish(deadSubject(this.campaign), sm.data, { headers: h, msgID: `dead/${this.campaign}/${job.id}/${job.hash}` }), stop);
    const res: ResultMessage = {
      v: 1, campaign: this.campaign, id: job.id, hash: job.hash, dead: true, delivery: deliveries, origin: { id: this.originId, target: job.target },
      result: { id: job.id, fault: deadLetterFault(deliveries, job.target, this.campaign), worker: 'coordinator' },
    };
    // through the results stream like any result: recorded durably, first one per job wins
    await retrying(() => this.js.publish(resultSubject(this.campaign), JSON.stringify(res), { msgID: resultMsgId(this.campaign, job.id, job.hash) }), stop);
    await this.jsm.streams.deleteMessage(JOBS_STREAM, adv.stream_seq).catch(() => undefined);
  }

  private settle(id: string, s: Settled) {
    this.settled.set(id, s);
    if (s.msg && --s.msg.open === 0 && s.msg.seq !== undefined) {
      if (s.msg.batch) this.sentBatches.delete(s.msg.seq);
      this.removeJobMessage(s.msg.seq);
    }
  }

  /** delete a finished job's message (in the next batch); normally the worker's ack removed it already */
  private removeJobMessage(seq: number) {
    this.toRemove.push(seq);
    if (this.removalTimer || this.closed) return;
    this.removalTimer = setTimeout(() => { this.removalTimer = undefined; void this.removeFinished(); }, REMOVAL_BATCH_MS);
    this.removalTimer.unref();
  }

  /** delete the batch's messages still stored: those before the stream's first sequence are gone
   *  (acked); a failed stream info deletes them all, as before batching */
  private removeFinished(): Promise<void> {
    const run = async () => {
      while (this.toRemove.length) {
        const batch = this.toRemove;
        this.toRemove = [];
        const first = await this.jsm.streams.info(JOBS_STREAM).then((i) => i.state.first_seq, () => 0);
        await Promise.all(batch.filter((seq) => seq >= first).map((seq) => this.jsm.streams.deleteMessage(JOBS_STREAM, seq, false).catch(() => undefined)));
      }
    };
    this.removing ??= run().finally(() => { this.removing = undefined; });
    return this.removing;
  }

  /**
   * Remove from the work queue every message of this campaign whose job already has a recorded
   * result (here, or in the replayed record), for the given targets (default: those of this run's
   * jobs). Returns how many were removed. Concurrent calls share one pass (plus one more after it).
   */
  sweep(targets?: Iterable<string>): Promise<number> {
    if (this.sweeping) { this.sweepAgain = true; return this.sweeping; }
    const run = async (): Promise<number> => {
      let removed = 0;
      do {
        this.sweepAgain = false;
        const ts = new Set(targets ?? [...this.settled.values()].map((x) => x.target));
        for (const t of ts) removed += await this.sweepTarget(t);
      } while (this.sweepAgain && !this.closed);
      return removed;
    };
    this.sweeping = run().finally(() => { this.sweeping = undefined; });
    return this.sweeping;
  }

  /** the jobs of a queued message of this campaign (one, or a batch's), or [] */
  private jobsOf(j: Partial<JobMessage> | Partial<BatchMessage> | null): { id: string; hash: string; target: string }[] {
    if (!j || j.campaign !== this.campaign || typeof j.target !== 'string') return [];
    const list: unknown[] = j.v === 2 ? (Array.isArray(j.jobs) ? j.jobs : []) : [j];
    return list.filter((x): x is BatchJob => typeof (x as BatchJob | null)?.id === 'string' && typeof (x as BatchJob).hash === 'string')
      .map((x) => ({ id: x.id, hash: x.hash, target: j.target! }));
  }

  private finished(j: { id: string; hash: string; target: string }): boolean {
    const s = this.settled.get(j.id);
    if (s) return s.hash === j.hash;
    return this.recorded.get(j.id)?.some((r) => r.hash === j.hash && r.origin.target === j.target) ?? false;
  }

  private async sweepTarget(target: string): Promise<number> {
    const subj = jobSubject(target);
    let removed = 0;
    // walk the stored messages of that subject (direct get, next_by_subj: 2.9), without consuming
    for (let seq = 0; !this.closed;) {
      let m;
      try {
        m = await this.jsm.streams.getMessage(JOBS_STREAM, { seq: seq + 1, next_by_subj: subj } as unknown as { seq: number });
      } catch (e) {
        if (isNotFound(e)) break;
        throw e;
      }
      if (!m) break;
      seq = m.seq;
      let jobs: { id: string; hash: string; target: string }[];
      try { jobs = this.jobsOf(m.json<JobMessage | BatchMessage>()); } catch { continue; }
      if (!jobs.length) continue;
      const open = jobs.filter((j) => !this.finished(j));
      if (open.length) {
        // a resumed campaign waits for these jobs' results instead of publishing them again
        // (a second message would run them twice); a new one issued them itself
        if (this.opts.resumed && open.every((j) => !this.waiting.has(j.id) && !this.settled.has(j.id) && !this.adoptable.has(j.id))) {
          const msg: QueuedMessage = { seq: m.seq, open: open.length };
          for (const j of open) this.adoptable.set(j.id, { hash: j.hash, target: j.target, msg });
        }
        continue;
      }
      if (await this.jsm.streams.deleteMessage(JOBS_STREAM, m.seq, false).catch(() => false)) {
        removed++;
        this.stats.sweptJobs++;
      }
    }
    return removed;
  }

  private consumerFor(target: string): Promise<unknown> {
    let p = this.consumers.get(target);
    if (!p) {
      p = ensureTargetConsumer(this.jsm, target, { ackWaitMs: this.opts.ackWaitMs, maxDeliver: this.opts.maxDeliver });
      p.catch(() => this.consumers.delete(target));
      this.consumers.set(target, p);
    }
    return p;
  }

  run(job: CaseJob, opts: { timeoutMs?: number } = {}): Promise<CaseResult> {
    if (this.closed) return Promise.resolve({ id: job.id, fault: 'transport closed' });
    const hash = jobHash(job.target, job.case);
    const held = this.recorded.get(job.id);
    if (held) {
      // results that came before the job was issued (resume): the first that answers it is the one
      this.recorded.delete(job.id);
      let hit: ResultMessage | undefined;
      for (const r of held) {
        const why = this.originProblem(r, hash, job.target, job.case);
        if (why) this.reject(job.id, why);
        else if (hit) { this.stats.duplicates++; this.emit({ type: 'duplicate', id: job.id }); }
        else hit = r;
      }
      if (hit) {
        this.settle(job.id, { hash, target: job.target });
        this.stats.replayed++;
        return Promise.resolve(this.accepted(hit, job.target));
      }
    }
    if (this.waiting.has(job.id) || this.settled.has(job.id)) return Promise.resolve({ id: job.id, fault: `transport: job id ${job.id} used twice` });
    const queued = this.adoptable.get(job.id);
    if (queued) {
      this.adoptable.delete(job.id);
      if (queued.hash === hash && queued.target === job.target) {
        // the resumed coordinator's message still holds this job: its result will come from there
        this.stats.adopted++;
        return new Promise<CaseResult>((resolve) => { this.waiting.set(job.id, { hash, target: job.target, case: job.case, resolve, msg: queued.msg }); });
      }
    }
    return new Promise<CaseResult>((resolve) => {
      this.waiting.set(job.id, { hash, target: job.target, case: job.case, resolve });
      const timeoutMs = opts.timeoutMs ?? 10_000;
      const key = `${job.target}\0${timeoutMs}`;
      let list = this.pending.get(key);
      if (!list) this.pending.set(key, (list = []));
      list.push({ job, hash, timeoutMs });
      if (!this.flushScheduled) { this.flushScheduled = true; setImmediate(() => this.flush()); }
    });
  }

  /** publish the jobs of this turn: per target, in batches sized by its live workers; `force`:
   *  also those held to fill a batch */
  private flush(force = false) {
    this.flushScheduled = false;
    let held = false;
    // a snapshot: jobs held again are put back for a later flush, not visited twice in this one
    const all = [...this.pending];
    this.pending.clear();
    for (const [key, list] of all) {
      const live = list.filter((p) => this.waiting.has(p.job.id));
      if (!live.length) continue;
      const target = live[0]!.job.target;
      const ws = this.workers(target);
      const threadsOf = (b: WorkerBeat) => (Number.isInteger(b.threads) && b.threads >= 1 ? Math.min(b.threads, 4096) : 1);
      // what every live worker of the target takes (one that announced no batching: single jobs)
      const most = ws.length ? Math.min(MAX_BATCH_JOBS, ...ws.map((b) => (workerProtocol(b) >= 2 && Number.isInteger(b.batch) && b.batch! >= 1 ? b.batch! : 1))) : 1;
      const chunk = ws.length ? Math.min(...ws.map(threadsOf)) : 1;
      const inHand = ws.reduce((n, b) => n + 2 * threadsOf(b), 0);
      if (!force && !this.closed && most > 1 && live.length < most && (this.outstanding.get(target) ?? 0) >= inHand) {
        this.pending.set(key, live);
        held = true;
        continue;
      }
      // a share per worker, so that every worker gets some of what is there now
      const per = Math.max(1, Math.min(most, Math.ceil(live.length / Math.max(1, ws.length))));
      const budget = Math.min(MAX_BATCH_BYTES, this.nc.info?.max_payload ?? MAX_BATCH_BYTES) - 4096;
      let group: { p: Pending; json: string }[] = [];
      let bytes = 0;
      for (const p of live) {
        const entry: BatchJob = { id: p.job.id, hash: p.hash, case: p.job.case, ...(p.job.check ? { check: p.job.check } : {}) };
        const json = per > 1 ? JSON.stringify(entry) : '';
        if (group.length && (group.length >= per || bytes + json.length > budget)) { this.publish(group, chunk); group = []; bytes = 0; }
        group.push({ p, json });
        bytes += json.length + 1;
      }
      if (group.length) this.publish(group, chunk);
    }
    if (held && !this.holdTimer) {
      this.holdTimer = setTimeout(() => { this.holdTimer = undefined; this.flush(true); }, HOLD_MS);
      this.holdTimer.unref();
    }
  }

  /** publish one job message: a single job (v 1) or a batch (v 2) */
  private publish(group: { p: Pending; json: string }[], chunk: number) {
    const first = group[0]!.p;
    const target = first.job.target;
    const maxDeliver = this.opts.maxDeliver ?? DEFAULT_MAX_DELIVER;
    const ackWaitMs = this.opts.ackWaitMs ?? DEFAULT_ACK_WAIT_MS;
    const h = headers();
    h.set('Ptefarm-Campaign', this.campaign);
    let data: string;
    let msgID: string;
    if (group.length === 1) {
      const { job, hash, timeoutMs } = first;
      const msg: JobMessage = { v: 1, campaign: this.campaign, id: job.id, target, case: job.case, timeoutMs, hash, maxDeliver, ackWaitMs };
      if (job.check) msg.check = job.check;
      h.set('Ptefarm-Job', job.id);
      data = JSON.stringify(msg);
      msgID = jobMsgId(this.campaign, job.id, hash);
      // published again after a refused batch: a new id, or the server drops it as a duplicate
      if (first.requeues) msgID += `/r${first.requeues}`;
    } else {
      const head: Omit<BatchMessage, 'jobs'> = { v: 2, campaign: this.campaign, target, timeoutMs: first.timeoutMs, maxDeliver, ackWaitMs, chunk: Math.min(chunk, group.length) };
      // the entries were serialized once to size the batch
      data = `${JSON.stringify(head).slice(0, -1)},"jobs":[${group.map((g) => g.json).join(',')}]}`;
      msgID = batchMsgId(this.campaign, batchKey(this.campaign, group.map((g) => ({ id: g.p.job.id, hash: g.p.hash }))));
      const requeues = Math.max(...group.map((g) => g.p.requeues ?? 0));
      if (requeues) msgID += `/r${requeues}`;
    }
    const msg: QueuedMessage = { open: group.length };
    for (const { p } of group) { const w = this.waiting.get(p.job.id)!; w.msg = msg; w.published = true; }
    this.outstanding.set(target, (this.outstanding.get(target) ?? 0) + group.length);
    const stop = () => this.closed || group.every(({ p }) => !this.waiting.has(p.job.id));
    void (async () => {
      await retrying(() => this.consumerFor(target), stop, () => { this.stats.publishRetries++; });
      // same msgID on every attempt: a publish whose PubAck was lost is not stored twice
      const pa = await retrying(() => this.js.publish(jobSubject(target), data, { msgID, headers: h }), stop, () => { this.stats.publishRetries++; });
      this.stats.published += group.length;
      this.stats.messages++;
      msg.seq = pa.seq;
      if (group.length > 1 && msg.open > 0) {
        msg.batch = group.map((g) => g.p);
        this.sentBatches.set(pa.seq, msg.batch);
        const early = this.earlyRefusals.get(pa.seq);
        if (early) { this.earlyRefusals.delete(pa.seq); this.requeueRefusedBatch(early); }
      }
      // all answered before our PubAck came back (a retried publish): the message is still ours to remove
      if (msg.open === 0) this.removeJobMessage(pa.seq);
    })().catch((e) => {
      for (const { p } of group) {
        const w = this.waiting.get(p.job.id);
        if (!w) continue;
        this.waiting.delete(p.job.id);
        this.outstanding.set(target, (this.outstanding.get(target) ?? 1) - 1);
        w.resolve({ id: p.job.id, fault: `infrastructure: cannot publish the job: ${(e as Error).message}`, worker: 'coordinator' });
      }
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    if (this.removalTimer) clearTimeout(this.removalTimer);
    if (this.holdTimer) clearTimeout(this.holdTimer);
    // the last batch is sent, not awaited (as single deletes were before batching): the campaign's
    // final sweep removes what is left, and a request made while the server was away must not hold
    // the close for its timeout (a nats-server restart cost 4-6 s here: farm-chaos)
    void this.removeFinished().catch(() => undefined);
    for (const [id, w] of this.waiting) w.resolve({ id, fault: 'transport closed' });
    this.waiting.clear();
    for (const s of this.subs) s.unsubscribe();
    await this.results?.close()?.catch(() => undefined);
    if (this.ownsConnection) await this.nc.drain().catch(() => this.nc.close());
  }

  /** the connection, for the campaign driver's state records */
  get connection(): NatsConnection { return this.nc; }
  get manager(): JetStreamManager { return this.jsm; }
  get client(): JetStreamClient { return this.js; }
}

export { DEAD_STREAM };
