// What the live dashboard knows about a running campaign, built only from what the campaign reports:
// its events (CampaignEvent: progress, violations, faults, buckets with their case and trace), the
// NATS farm's events (workers, dead letters, replay) and read-only views of the transport (pool
// statistics, worker heartbeats). It never drives the campaign. `snapshot()` is what /api/state
// serves and what the page and /metrics (src/ui/metrics.ts) are rendered from. Used by
// src/ui/server.ts; fed by src/ui/attach.ts from `fuzz`, `coordinator` and `gate`.
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { Case } from '../ops/schema.ts';
import type { TargetInfo, Trace } from '../ops/trace.ts';
import type { CampaignEvent } from '../campaign/campaign.ts';
import { findingId, loadFinding } from '../campaign/findings.ts';
import { findingsDir } from '../campaign/config.ts';
import { stepTable, type StepRow } from '../report/steps.ts';
import { pageRange } from '../findings/title.ts';

export const DASHBOARD_FORMAT = 'ptefarm-dashboard/1';

/** one worker process of a NATS farm, or the embedded pool of this process */
export interface WorkerView {
  id: string;
  kind: 'nats' | 'pool';
  host: string;
  target: string;
  threads: number;
  busy: number;
  /** cases this worker finished (as it reports them) */
  done: number;
  cases_per_s: number;
  /** seconds since its last heartbeat (null for the embedded pool, which has none) */
  heartbeat_age_s: number | null;
  facts: Record<string, string>;
}

/** What a transport lets the dashboard see of its workers. */
export type WorkerSource = () => {
  kind: 'nats' | 'pool';
  /** busy/done null: the transport does not count them (in-thread): the campaign's figures are used */
  workers: (Omit<WorkerView, 'cases_per_s' | 'busy' | 'done'> & { busy: number | null; done: number | null })[];
};

export interface BucketView {
  /** position in order of appearance (the page's and /api/bucket/N's key) */
  n: number;
  signature: string;
  /** the finding's title (a bucket event's, else the stored finding's, else the signature) */
  title: string;
  hits: number;
  first_seen: string;
  last_seen: string;
  first_case: number;
  minimized: boolean;
  ops: number;
  file?: string;
  /** one violation in words (the checker's, else the step table's first mismatch) */
  example: string;
  /** bumped whenever the case or its step table change (the page re-fetches the section) */
  version: number;
  rows: StepRow[];
  error?: string;
}

export interface TimelinePoint { t: number; completed: number; cases_per_s: number; rules_hit: number; buckets: number; violations: number; faults: number }

export interface DashboardSnapshot {
  format: typeof DASHBOARD_FORMAT;
  command: string;
  campaign?: string;
  resumed: boolean;
  status: 'starting' | 'running' | 'stopped';
  stopped_reason?: string;
  target: string;
  seed?: number;
  started: string;
  updated: string;
  elapsed_s: number;
  totals: {
    generated: number; completed: number; violations: number; faults: number; skipped: number; inflight: number;
    buckets: number; rules_hit: number; rules_total: number; cases_per_s: number; cases_per_s_avg: number;
    dead_lettered: number; replayed: number;
  };
  options: Record<string, unknown>;
  timeline: TimelinePoint[];
  buckets: BucketView[];
  workers: WorkerView[];
  worker_kind: 'nats' | 'pool' | 'none';
  dead_letters: { id: string; deliveries: number; target: string; at: string }[];
  faults: { index: number; fault: string; at: string }[];
  notes: string[];
}

const MAX_POINTS = 1200;
const RATE_WINDOW_MS = 5000;

const round = (x: number, d = 2) => Math.round(x * 10 ** d) / 10 ** d;

/** The first differing row of a step table, in words (the bucket's one-line example). */
function firstMismatch(rows: StepRow[]): string {
  for (const r of rows) {
    if (r.rc.diff) return `step ${r.step} (${r.op}): rc ${r.rc.actual}, expected ${r.rc.expected}`;
    for (const g of r.regions) for (const run of g.runs) {
      if (run.diff.length) return `step ${r.step} (${r.op}): p${g.proc} ${pageRange(g.region, run.first, run.last)} ${run.actual}, expected ${run.expected}`;
    }
    if (r.events?.diff) return `step ${r.step} (${r.op}): uffd events ${r.events.actual}, expected ${r.events.expected}`;
  }
  return rows.length ? 'no mismatch in the stored trace' : '';
}

export function targetFacts(info: TargetInfo | undefined): Record<string, string> {
  if (!info) return {};
  const out: Record<string, string> = Object.create(null);
  out.arch = info.arch;
  out.kernel = info.kernel;
  for (const [k, v] of Object.entries(info.capabilities ?? {})) if (v !== undefined) out[k] = v ? 'yes' : 'no';
  return out;
}

export class DashboardState {
  private readonly t0 = Date.now();
  private readonly started = new Date().toISOString();
  private status: DashboardSnapshot['status'] = 'starting';
  private stoppedReason?: string;
  private target: string;
  private seed?: number;
  private campaign?: string;
  private resumed = false;
  /** elapsed time of the previous runs of this campaign (resume), added to this one's (its cases
   *  are not: a resumed campaign completes them again, from the record) */
  private beforeMs = 0;
  private stats = { cases: 0, completed: 0, violations: 0, faults: 0, skipped: 0, inflight: 0, rulesHit: 0, rulesTotal: 0, buckets: 0, elapsedMs: 0 };
  private readonly timeline: TimelinePoint[] = [];
  private readonly samples: { at: number; completed: number }[] = [];
  private readonly buckets = new Map<string, BucketView & { case?: Case }>();
  private readonly deadLetters: DashboardSnapshot['dead_letters'] = [];
  private readonly faults: DashboardSnapshot['faults'] = [];
  private readonly notes: string[] = [];
  private options: Record<string, unknown> = Object.create(null);
  private workerSource?: WorkerSource;
  private readonly workerHistory = new Map<string, { at: number; done: number }[]>();
  private replayed = 0;
  private listeners = new Set<() => void>();
  private targetInfo?: TargetInfo;

  constructor(readonly command: string, o: { target?: string; seed?: number; profile?: string; workdir?: string; options?: Record<string, unknown> } = {}) {
    this.target = o.target ?? '?';
    this.seed = o.seed;
    this.profile = o.profile;
    this.workdir = o.workdir;
    if (o.options) this.setOptions(o.options);
  }

  private profile?: string;
  private workdir?: string;

  /** called (at most a few times a second by the server) when something changed */
  onChange(f: () => void): () => void { this.listeners.add(f); return () => this.listeners.delete(f); }
  private changed() { for (const f of this.listeners) { try { f(); } catch { /* a listener must not break the campaign */ } } }

  setOptions(o: Record<string, unknown>) {
    const out: Record<string, unknown> = Object.create(null);
    for (const [k, v] of Object.entries(o)) if (v !== undefined) out[k] = v;
    this.options = out;
    this.changed();
  }

  setWorkers(src: WorkerSource) { this.workerSource = src; }
  setTargetInfo(info: TargetInfo | undefined) { this.targetInfo = info; }
  note(line: string) { this.notes.push(line); this.changed(); }

  /** NATS: the campaign (a stored definition when resumed) and where its previous run stopped */
  setCampaign(c: { id: string; resumed: boolean; target: string; seed: number; profile?: string; workdir?: string; elapsedMsBefore?: number; completedBefore?: number }) {
    this.campaign = c.id;
    this.resumed = c.resumed;
    this.target = c.target;
    this.seed = c.seed;
    this.profile = c.profile;
    this.workdir = c.workdir;
    this.beforeMs = c.elapsedMsBefore ?? 0;
    if (c.resumed) this.note(`resumed campaign ${c.id}${c.completedBefore !== undefined ? `: ${c.completedBefore} case(s) completed before the restart` : ''}; recorded results are replayed, not run again`);
    this.changed();
  }

  /** a NATS farm event (src/transport/nats.ts FarmEvent), by its fields */
  onFarmEvent(e: { type: string; id?: string; deliveries?: number; target?: string; results?: number }) {
    if (e.type === 'dead-letter' && e.id) this.deadLetters.push({ id: e.id, deliveries: e.deliveries ?? 0, target: e.target ?? '?', at: new Date().toISOString() });
    else if (e.type === 'replayed') { this.replayed = e.results ?? 0; this.note(`${this.replayed} recorded result(s) replayed from JetStream`); }
    else return;
    this.changed();
  }

  onEvent(e: CampaignEvent) {
    const now = new Date().toISOString();
    switch (e.type) {
      case 'start':
        this.status = 'running'; this.target = e.target; this.seed = e.seed;
        break;
      case 'progress': {
        this.status = this.status === 'stopped' ? 'stopped' : 'running';
        this.stats = { ...e.stats };
        const at = Date.now();
        this.samples.push({ at, completed: e.stats.completed });
        while (this.samples.length > 2 && at - this.samples[1]!.at >= RATE_WINDOW_MS) this.samples.shift();
        const last = this.timeline[this.timeline.length - 1];
        const t = round((this.beforeMs + e.stats.elapsedMs) / 1000, 1);
        if (!last || t - last.t >= 1) {
          this.timeline.push({ t, completed: e.stats.completed, cases_per_s: this.rate(), rules_hit: e.stats.rulesHit, buckets: e.stats.buckets, violations: e.stats.violations, faults: e.stats.faults });
          if (this.timeline.length > MAX_POINTS) this.thin();
        }
        break;
      }
      case 'violation': {
        const b = this.buckets.get(e.signature);
        if (b) { b.hits++; b.last_seen = now; }
        break;
      }
      case 'fault':
        this.faults.push({ index: e.index, fault: e.fault, at: now });
        if (this.faults.length > 50) this.faults.shift();
        break;
      case 'bucket': {
        const title = 'title' in e && typeof (e as { title?: unknown }).title === 'string' ? (e as unknown as { title: string }).title : e.signature;
        const b: BucketView & { case?: Case } = {
          n: this.buckets.size + 1, signature: e.signature, title, hits: 1, first_seen: now, last_seen: now, first_case: e.index,
          minimized: false, ops: e.case?.ops.length ?? 0, example: '', version: 1, rows: [],
        };
        this.buckets.set(e.signature, b);
        this.setCase(b, e.case, e.trace);
        if (e.example) b.example = e.example; // the checker's words, as in the reports
        void this.readStoredFinding(b);
        break;
      }
      case 'minimized': {
        const b = this.buckets.get(e.signature);
        if (b) {
          b.minimized = true;
          // the opening case's example would name steps the minimized case does not have
          if (e.case) { b.version++; b.example = ''; this.setCase(b, e.case, e.trace); }
        }
        break;
      }
      case 'saved': {
        const b = this.buckets.get(e.signature);
        if (b) { b.file = e.path; void this.readStoredFinding(b); }
        break;
      }
      case 'stopped':
        this.status = 'stopped'; this.stoppedReason = e.reason;
        break;
    }
    this.changed();
  }

  /** the campaign returned (also when it threw) */
  finished(reason?: string) {
    this.status = 'stopped';
    this.stoppedReason ??= reason;
    this.changed();
  }

  private setCase(b: BucketView & { case?: Case }, c: Case | undefined, trace: Trace | undefined) {
    if (!c) return;
    b.case = c;
    b.ops = c.ops.length;
    if (!trace) { b.rows = []; b.error = 'no trace of this case was reported'; return; }
    try {
      b.rows = stepTable(c, trace, this.profile ? { profile: this.profile } : {});
      b.example ||= firstMismatch(b.rows);
      delete b.error;
    } catch (e) { b.rows = []; b.error = `step table: ${(e as Error).message}`; }
  }

  /** the stored finding's title and, for a resumed campaign, its first sighting */
  private async readStoredFinding(b: BucketView) {
    if (!this.workdir) return;
    const f = (await loadFinding(join(findingsDir(this.workdir), findingId(this.target, b.signature))).catch(() => undefined))?.finding;
    if (!f) return;
    if (f.title && b.title === b.signature) b.title = f.title;
    if (f.first_seen && f.first_seen < b.first_seen) b.first_seen = f.first_seen;
    this.changed();
  }

  private thin() {
    // keep the first point and every other one after it: the plot keeps its shape over hours
    const kept = this.timeline.filter((_, i) => i === 0 || i % 2 === 1 || i === this.timeline.length - 1);
    this.timeline.splice(0, this.timeline.length, ...kept);
  }

  /** cases/s over the last few seconds */
  private rate(): number {
    const a = this.samples[0], b = this.samples[this.samples.length - 1];
    if (!a || !b || b.at <= a.at) return 0;
    return round((b.completed - a.completed) / ((b.at - a.at) / 1000), 1);
  }

  private workers(): { kind: DashboardSnapshot['worker_kind']; list: WorkerView[] } {
    if (!this.workerSource) return { kind: 'none', list: [] };
    let src: ReturnType<WorkerSource>;
    try { src = this.workerSource(); } catch { return { kind: 'none', list: [] }; }
    const now = Date.now();
    const list = src.workers.map((x) => {
      const w = { ...x, busy: x.busy ?? this.stats.inflight, done: x.done ?? this.stats.completed };
      const h = this.workerHistory.get(w.id) ?? [];
      if (!h.length || h[h.length - 1]!.done !== w.done || now - h[h.length - 1]!.at > 1000) h.push({ at: now, done: w.done });
      while (h.length > 2 && now - h[1]!.at >= 10_000) h.shift();
      this.workerHistory.set(w.id, h);
      const a = h[0]!, b = h[h.length - 1]!;
      const rate = src.kind === 'pool' ? this.rate() : b.at > a.at ? round((b.done - a.done) / ((b.at - a.at) / 1000), 1) : 0;
      return { ...w, facts: Object.keys(w.facts).length ? w.facts : targetFacts(this.targetInfo), cases_per_s: rate };
    });
    return { kind: src.kind, list };
  }

  snapshot(o: { rows?: boolean } = {}): DashboardSnapshot {
    const elapsedS = (this.beforeMs + this.stats.elapsedMs) / 1000;
    const completed = this.stats.completed;
    const w = this.workers();
    return {
      format: DASHBOARD_FORMAT,
      command: this.command,
      ...(this.campaign ? { campaign: this.campaign } : {}),
      resumed: this.resumed,
      status: this.status,
      ...(this.stoppedReason ? { stopped_reason: this.stoppedReason } : {}),
      target: this.target,
      ...(this.seed !== undefined ? { seed: this.seed } : {}),
      started: this.started,
      updated: new Date().toISOString(),
      elapsed_s: round(elapsedS, 1),
      totals: {
        generated: this.stats.cases, completed, violations: this.stats.violations, faults: this.stats.faults, skipped: this.stats.skipped,
        inflight: this.stats.inflight, buckets: this.buckets.size, rules_hit: this.stats.rulesHit, rules_total: this.stats.rulesTotal,
        cases_per_s: this.status === 'stopped' ? 0 : this.rate(), cases_per_s_avg: round(this.stats.completed / Math.max(this.stats.elapsedMs / 1000, 1e-3), 1),
        dead_lettered: this.deadLetters.length, replayed: this.replayed,
      },
      options: this.options,
      timeline: this.timeline,
      buckets: [...this.buckets.values()].map(({ case: _c, rows, ...b }) => ({ ...b, rows: o.rows === false ? [] : rows })),
      workers: w.list,
      worker_kind: w.kind,
      dead_letters: this.deadLetters,
      faults: this.faults,
      notes: this.notes,
    };
  }

  /** one bucket, by its position (1-based) */
  bucket(n: number): (BucketView & { case?: Case }) | undefined {
    return [...this.buckets.values()][n - 1];
  }

  /** for the embedded pool's facts */
  get host(): string { return hostname(); }

  get uptimeMs(): number { return Date.now() - this.t0; }
}
