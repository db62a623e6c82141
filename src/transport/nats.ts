// The coordinator side of the NATS JetStream farm: a Transport whose run() publishes the job to the
// work queue subject of its target and resolves when the job's result appears in the campaign's
// results stream (see nats-common.ts for the layout).
//
// Ack flow: a worker publishes the result to PTEFARM_RESULTS and waits for the PubAck (the result is
// then stored on the server's disk — the coordinator's durable record), and only then acks the job.
// A worker that dies before the PubAck leaves the job un-acked: it is redelivered after ack_wait.
// A worker that dies between PubAck and ack produces a second result on redelivery: the server
// drops it (same Nats-Msg-Id inside the duplicate window) and the coordinator drops any that still
// arrive (one result per job id, counted in stats.duplicates).
//
// The coordinator reads its results with an ordered consumer from the beginning of its subject, so a
// restarted coordinator first replays what was recorded: run() of a job whose result is already
// recorded (same id AND same case hash) returns it without publishing again — the campaign, which
// regenerates the same cases from the same seed, continues without re-running or re-counting them.
import { hostname } from 'node:os';
import { headers, type NatsConnection, type Subscription } from '@nats-io/transport-node';
import { jetstream, type JetStreamClient, type JetStreamManager, type ConsumerMessages } from '@nats-io/jetstream';
import type { CaseJob, CaseResult, Transport } from './transport.ts';
import type { CoverageRequest } from '../campaign/checker.ts';
import {
  BYE_SUBJECT, DEAD_STREAM, HEARTBEAT_SUBJECT, PING_SUBJECT, JOBS_STREAM, MAX_DELIVERIES_ADVISORY, RESULTS_STREAM,
  DEFAULT_ACK_WAIT_MS, DEFAULT_MAX_DELIVER, JS_TIMEOUT_MS, checkCampaignId, connectNats, deadLetterFault, deadSubject, ensureTargetConsumer, ensureTopology, jobHash, jobMsgId, jobSubject,
  resultMsgId, resultSubject, retrying, type ConsumerTuning, type JobMessage, type NatsAuth, type ResultMessage, type WorkerBeat,
} from './nats-common.ts';

export interface FarmStats {
  /** jobs published (a retried publish counts once) */
  published: number;
  /** result messages read from the results stream (including replayed and duplicate ones) */
  received: number;
  /** run() calls answered from results recorded before this coordinator started (resume) */
  replayed: number;
  /** results for a job id that already had one: discarded */
  duplicates: number;
  /** results whose case hash matches no job of this run (a previous coordinator's case): ignored */
  stale: number;
  /** jobs no worker finished in maxDeliver attempts, dead-lettered (reported as faults) */
  deadLettered: string[];
  /** publish attempts that failed and were retried (server away) */
  publishRetries: number;
  workersLost: number;
}

export type FarmEvent =
  | { type: 'worker-joined'; worker: WorkerBeat }
  | { type: 'worker-lost'; worker: WorkerBeat; silentMs: number }
  | { type: 'worker-left'; worker: WorkerBeat }
  | { type: 'dead-letter'; id: string; deliveries: number; target: string }
  | { type: 'duplicate'; id: string }
  | { type: 'connection'; status: string; detail?: string }
  | { type: 'replayed'; results: number };

export interface NatsTransportOptions extends ConsumerTuning {
  campaign: string;
  /** jobs usefully in flight (the campaign keeps 2x this many queued); fixed, because the campaign's
   *  case sequence depends on it (feedback lag), so a resumed campaign must use the same value */
  concurrency?: number;
  onEvent?: (e: FarmEvent) => void;
  /** how often to look for silent workers (default 1 s) */
  livenessCheckMs?: number;
}

interface Waiter { hash: string; target: string; resolve: (r: CaseResult) => void }
interface LiveWorker { beat: WorkerBeat; lastSeen: number }

export class NatsTransport implements Transport {
  readonly concurrency: number;
  readonly campaign: string;
  readonly stats: FarmStats = { published: 0, received: 0, replayed: 0, duplicates: 0, stale: 0, deadLettered: [], publishRetries: 0, workersLost: 0 };
  private readonly js: JetStreamClient;
  private readonly waiting = new Map<string, Waiter>();
  /** results that arrived before their run() (replay after a restart): id -> hash -> result */
  private readonly recorded = new Map<string, Map<string, CaseResult>>();
  /** job ids answered in this run */
  private readonly settled = new Set<string>();
  private readonly consumers = new Map<string, Promise<unknown>>();
  private readonly live = new Map<string, LiveWorker>();
  private readonly subs: Subscription[] = [];
  private results?: ConsumerMessages;
  private timer?: NodeJS.Timeout;
  private closed = false;
  private replayDone = false;

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

  private emit(e: FarmEvent) { try { this.opts.onEvent?.(e); } catch { /* a listener must not break the farm */ } }

  private async start(): Promise<void> {
    void (async () => {
      for await (const s of this.nc.status()) {
        if (s.type === 'disconnect' || s.type === 'reconnect' || s.type === 'close') this.emit({ type: 'connection', status: s.type, detail: 'server' in s ? String(s.server) : undefined });
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
        try { this.onResult(m.json<ResultMessage>()); } catch { this.stats.stale++; }
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
    if (!known) this.emit({ type: 'worker-joined', worker: b });
  }

  private checkLiveness() {
    const now = Date.now();
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

  private onResult(r: ResultMessage) {
    this.stats.received++;
    if (!r || r.campaign !== this.campaign || typeof r.id !== 'string') { this.stats.stale++; return; }
    const result: CaseResult = { ...r.result, id: r.id };
    if (r.dead && !this.stats.deadLettered.includes(r.id)) {
      this.stats.deadLettered.push(r.id);
      this.emit({ type: 'dead-letter', id: r.id, deliveries: r.delivery ?? 0, target: this.waiting.get(r.id)?.target ?? 'its target' });
    }
    if (this.settled.has(r.id)) {
      this.stats.duplicates++;
      this.emit({ type: 'duplicate', id: r.id });
      return;
    }
    const w = this.waiting.get(r.id);
    if (w) {
      if (w.hash !== r.hash) { this.stats.stale++; return; }
      this.waiting.delete(r.id);
      this.settled.add(r.id);
      w.resolve(result);
      return;
    }
    // not asked for yet: a result recorded before this coordinator (re)started
    let byHash = this.recorded.get(r.id);
    if (!byHash) this.recorded.set(r.id, (byHash = new Map()));
    if (byHash.has(r.hash)) { this.stats.duplicates++; this.emit({ type: 'duplicate', id: r.id }); return; }
    byHash.set(r.hash, result);
  }

  private async onMaxDeliveries(adv: { stream?: string; consumer?: string; stream_seq?: number; deliveries?: number }) {
    if (adv.stream !== JOBS_STREAM || typeof adv.stream_seq !== 'number') return;
    const sm = await this.jsm.streams.getMessage(JOBS_STREAM, { seq: adv.stream_seq }).catch(() => null);
    if (!sm) return; // already handled (by us or another coordinator)
    let job: JobMessage;
    try { job = sm.json<JobMessage>(); } catch { return; }
    if (job.campaign !== this.campaign) return; // another campaign's coordinator handles its own
    const deliveries = adv.deliveries ?? 0;
    const h = headers();
    h.set('Ptefarm-Deliveries', String(deliveries));
    const stop = () => this.closed;
    await retrying('dead-letter', () => this.js.publish(deadSubject(this.campaign), sm.data, { headers: h, msgID: `dead/${this.campaign}/${job.id}/${job.hash}` }), stop);
    const res: ResultMessage = {
      v: 1, campaign: this.campaign, id: job.id, hash: job.hash, dead: true, delivery: deliveries,
      result: { id: job.id, fault: deadLetterFault(deliveries, job.target, this.campaign), worker: 'coordinator' },
    };
    // through the results stream like any result: recorded durably, first one per job wins
    await retrying('dead-letter result', () => this.js.publish(resultSubject(this.campaign), JSON.stringify(res), { msgID: resultMsgId(this.campaign, job.id, job.hash) }), stop);
    await this.jsm.streams.deleteMessage(JOBS_STREAM, adv.stream_seq).catch(() => undefined);
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
    const rec = this.recorded.get(job.id);
    const hit = rec?.get(hash);
    if (rec && hit) {
      this.recorded.delete(job.id);
      this.settled.add(job.id);
      this.stats.replayed++;
      return Promise.resolve(hit);
    }
    if (this.waiting.has(job.id) || this.settled.has(job.id)) return Promise.resolve({ id: job.id, fault: `transport: job id ${job.id} used twice` });
    return new Promise<CaseResult>((resolve) => {
      this.waiting.set(job.id, { hash, target: job.target, resolve });
      const msg: JobMessage = {
        v: 1, campaign: this.campaign, id: job.id, target: job.target, case: job.case, timeoutMs: opts.timeoutMs ?? 10_000, hash,
        maxDeliver: this.opts.maxDeliver ?? DEFAULT_MAX_DELIVER, ackWaitMs: this.opts.ackWaitMs ?? DEFAULT_ACK_WAIT_MS,
      };
      const coverage = (job as CaseJob & CoverageRequest).coverage;
      if (coverage) msg.coverage = coverage;
      const h = headers();
      h.set('Ptefarm-Campaign', this.campaign);
      h.set('Ptefarm-Job', job.id);
      const data = JSON.stringify(msg);
      const stop = () => this.closed || !this.waiting.has(job.id);
      void (async () => {
        await retrying('consumer', () => this.consumerFor(job.target), stop, () => { this.stats.publishRetries++; });
        // same msgID on every attempt: a publish whose PubAck was lost is not stored twice
        await retrying('publish', () => this.js.publish(jobSubject(job.target), data, { msgID: jobMsgId(this.campaign, job.id, hash), headers: h }), stop, () => { this.stats.publishRetries++; });
        this.stats.published++;
      })().catch((e) => {
        if (!this.waiting.has(job.id)) return;
        this.waiting.delete(job.id);
        resolve({ id: job.id, fault: `infrastructure: cannot publish the job: ${(e as Error).message}`, worker: 'coordinator' });
      });
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
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
