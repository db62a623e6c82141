// The farm's campaign driver: a campaign through the NATS farm, as `ptefarm coordinator` and
// `ptefarm fuzz --nats` run it: the campaign loop (generation, buckets, minimization) stays in this
// process; cases travel through NatsTransport and are checked by the workers that run them. The campaign's definition (seed, target, budget, generator options, window)
// is stored in PTEFARM_STATE before the first case, progress snapshots (next case index, counts,
// buckets) while it runs, and the summary at the end.
//
// Resume: the case sequence is a pure function of the definition and of the results (feedback in
// index order), and every result is in PTEFARM_RESULTS. A resumed coordinator reads the definition,
// regenerates the same cases, and gets the recorded results back from the transport without
// executing or counting anything twice; only cases without a recorded result go out to workers.
//
// The stored records (definition, progress, summary, last campaign) are input like any other:
// anyone who can publish to the state stream can write them, so they are parsed with zod schemas and
// bounded before use, and none of them names a path: where reproducers are saved comes from this
// process's options (the command line), never from the record. They are written as
// `ptefarm-campaign/2` records (snake_case keys); the camelCase records of earlier versions are
// still read (src/campaign/campaign-record.ts), so their campaigns resume.
//
// Target-fitted generation (src/campaign/target-fit.ts generateOptionsFor, as `fuzz` and `gate`
// do): the coordinator cannot open the target, so before the first case it waits for a worker of
// the target and fits the generator to what the workers live then announce in their heartbeats:
// page geometry (page_size, pmd_size; docs/page-size.md), soft_dirty, hugetlb. Several workers:
// the cases fit all of them (commonInfo: a capability any of them lacks is left out; workers of
// one target with different page geometries are an error); a worker that announces nothing keeps
// the generator's defaults. The fitted options are stored in the definition (`generate`, with
// `fitted`) before any case is generated, so a resume regenerates the same cases and never fits
// again. A worker that joins later is not consulted: a case it cannot show is a SKIP there (never
// a verdict); one of another page geometry is not detected then.
// The wait ends when the signal aborts (the coordinator's --no-worker-grace): the campaign then
// stops with no case run.
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { FEATURES, type Case } from '../ops/schema.ts';
import { runCampaign, type CampaignEvent, type CampaignOptions, type Summary } from './campaign.ts';
import { referenceChecker, type Checker } from './checker.ts';
import { NatsTransport, type FarmEvent, type FarmStats } from '../transport/nats.ts';
import type { JetStreamManager } from '@nats-io/jetstream';
import { decodeRecord, encodeRecord, RecordError } from './campaign-record.ts';
import { infoFromBeat } from '../transport/worker-info.ts';
import { geometryOfHost, type TargetInfo } from '../ops/trace.ts';
import { geometryOf } from '../ops/layout.ts';
import { commonInfo, generateOptionsFor } from './target-fit.ts';
import { LAST_CAMPAIGN_SUBJECT, STATE_STREAM, checkCampaignId, connectNats, ensureTopology, isNotFound, retrying, stateSubject, type NatsAuth } from '../transport/nats-common.ts';

/** Everything that decides the case sequence and the campaign's end: stored, and reused on resume.
 *  No path: the corpus directory is the running coordinator's own option. */
export type CampaignDefinition = Pick<CampaignOptions,
  'target' | 'seed' | 'cases' | 'durationMs' | 'timeoutMs' | 'stopAfterBuckets' | 'minimize' | 'reliabilityRuns' |
  'maxMinimizeRuns' | 'generate' | 'lag' | 'profile'> & {
  campaign: string;
  concurrency: number;
  started: string;
  /** `generate` was fitted to the target's workers (stored before the first case): a resume
   *  does not fit again (absent in the records of earlier versions) */
  fitted?: boolean;
};

const int = (min: number, max: number) => z.number().int().min(min).max(max);
const campaignId = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'expected a campaign id (1-64 of A-Z a-z 0-9 _ -)');
const DAY_MS = 86_400_000;

/** The stored definition, parsed like any input (bounds: what a real campaign can ask for), in its
 *  camelCase TypeScript form (a /2 record's snake_case keys are converted first: decodeRecord).
 *  Unknown keys are dropped, among them `corpusDir` written by earlier versions. */
export const definitionSchema = z.object({
  campaign: campaignId,
  target: z.string().min(1).max(1024).refine((t) => /^(model:|exec:|qemu:)/.test(t) || t === 'live', 'expected a target spec (model:..., live, exec:..., qemu:...)'),
  seed: int(0, 2 ** 32),
  cases: int(1, 1e9).optional(),
  durationMs: int(1, 365 * DAY_MS).optional(),
  timeoutMs: int(1, DAY_MS).optional(),
  stopAfterBuckets: int(1, 1e6).optional(),
  minimize: z.boolean().optional(),
  reliabilityRuns: int(0, 1000).optional(),
  maxMinimizeRuns: int(1, 1e7).optional(),
  generate: z.object({
    maxOps: int(1, 256).optional(),
    freshRatio: z.number().min(0).max(1).optional(),
    poolSize: int(1, 65_536).optional(),
    rareThreshold: int(0, 1e6).optional(),
    unguided: z.boolean().optional(),
    // fitted to the target's workers (generateOptionsFor): 0 where they cannot map hugetlb pages,
    // false where one of them does not show soft-dirty
    hugetlbRatio: z.number().min(0).max(1).optional(),
    softDirty: z.boolean().optional(),
    // false where one of them lacks PAGEMAP_SCAN (no THP cases); the features all of them have
    thp: z.boolean().optional(),
    uffdFeatures: z.array(z.enum(FEATURES)).max(FEATURES.length).optional(),
    // the target's page geometry, from its worker's heartbeat (absent: 4 KiB pages)
    geometry: z.object({ pageSize: int(4096, 65536), pmdPages: int(2, 1 << 16) }).strict()
      .refine((g) => { try { geometryOf(g.pageSize, g.pageSize * g.pmdPages); return true; } catch { return false; } }, 'expected a page geometry (power-of-two page size and PMD)')
      .optional(),
  }).strict().optional(),
  lag: int(0, 1e6).optional(),
  profile: z.string().regex(/^[0-9][0-9A-Za-z.-]{0,31}$/, 'expected a kernel profile name such as 6.18').optional(),
  concurrency: int(1, 4096),
  started: z.string().max(64),
  fitted: z.boolean().optional(),
});
// the schema and the type are one list: a field added to one and not the other fails to compile
const _definitionMatches: z.infer<typeof definitionSchema> extends CampaignDefinition ? (CampaignDefinition extends z.infer<typeof definitionSchema> ? true : never) : never = true;
void _definitionMatches;

export const progressSchema = z.object({
  campaign: campaignId,
  nextCase: int(0, 1e12),
  completed: int(0, 1e12),
  violations: int(0, 1e12),
  faults: int(0, 1e12),
  buckets: z.array(z.string().max(1000)).max(100_000),
  elapsedMs: z.number().min(0).max(1e13),
  updated: z.string().max(64),
});

const lastSchema = z.object({ campaign: campaignId });

/** a finished campaign's summary is only printed; what the CLI reads of it must have its type */
export const summarySchema = z.object({
  campaign: campaignId,
  target: z.string().max(1024),
  seed: z.number(),
  cases: z.number(),
  violations: z.number(),
  faults: z.number(),
  skipped: z.number(),
  elapsed_s: z.number(),
  cases_per_s: z.number(),
  stopped: z.string().max(1000),
  buckets: z.array(z.object({ signature: z.string().max(1000), hits: z.number(), ops: z.number(), minimized: z.boolean(), file: z.string().max(4096).optional() }).passthrough()).max(100_000),
  farm: z.object({ published: z.number(), replayed: z.number(), duplicates: z.number(), deadLettered: z.array(z.string()), workersLost: z.number() }).passthrough(),
  infrastructure_faults: z.array(z.object({ id: z.string(), fault: z.string() })),
}).passthrough();

export interface Progress {
  campaign: string;
  /** next case index to generate */
  nextCase: number;
  completed: number;
  violations: number;
  faults: number;
  buckets: string[];
  elapsedMs: number;
  updated: string;
}

export interface FarmCampaignOptions {
  url: string;
  auth?: NatsAuth;
  /** campaign id (default: generated); with resume, the campaign to continue (default: the last one started) */
  campaign?: string;
  resume?: boolean;
  /** required unless resuming */
  definition?: Omit<CampaignDefinition, 'campaign' | 'started' | 'concurrency' | 'fitted'> & { concurrency?: number };
  /** the work directory findings are recorded in (undefined: not recorded); this process's choice,
   *  also on resume: a stored record never decides where files go */
  workdir?: string;
  ackWaitMs?: number;
  maxDeliver?: number;
  checker?: Checker;
  signal?: AbortSignal;
  onEvent?: (e: CampaignEvent) => void;
  onFarmEvent?: (e: FarmEvent) => void;
  onCase?: (index: number, c: Case) => void;
  /** called once the campaign's definition is known (stored one on resume) with its last progress snapshot */
  onDefinition?: (def: CampaignDefinition, prev: Progress | undefined) => void;
  /** called once the transport is open (tests inspect it; the CLI shows live workers) */
  onTransport?: (t: NatsTransport) => void;
}

export interface FarmSummary extends Summary {
  campaign: string;
  resumed: boolean;
  farm: FarmStats & { workers: { id: string; target: string; threads: number; done: number }[] };
  /** jobs that could not be run by any worker (dead-lettered): infrastructure faults, not findings */
  infrastructure_faults: { id: string; fault: string }[];
}

export class CampaignStateError extends Error {}

/** The last record on a state subject, parsed by `schema` (either record format: decodeRecord); a
 *  record that does not parse is a CampaignStateError naming the subject and the first bad field
 *  (never used half-read). */
async function readState<T>(jsm: JetStreamManager, subject: string, schema: z.ZodType<T>): Promise<T | undefined> {
  let raw: unknown;
  try {
    const m = await jsm.streams.getMessage(STATE_STREAM, { last_by_subj: subject });
    if (!m) return undefined;
    try { raw = m.json<unknown>(); } catch { throw new CampaignStateError(`stored record ${subject} is not valid JSON`); }
  } catch (e) {
    if (isNotFound(e)) return undefined;
    throw e;
  }
  try { return decodeRecord(raw, schema, `stored record ${subject}`); } catch (e) {
    throw e instanceof RecordError ? new CampaignStateError(e.message) : e;
  }
}

/** Store `v` (camelCase) as a ptefarm-campaign/2 record. */
async function writeState(t: NatsTransport, subject: string, v: object, stop = () => false): Promise<void> {
  await retrying(() => t.client.publish(subject, JSON.stringify(encodeRecord(v))), stop);
}

/** after connecting, how long the workers have to answer the transport's ping before their
 *  capabilities are read (they answer within a round trip; opening the transport takes several) */
const PING_ANSWER_MS = 300;

/** What the workers of `target` can run and show, once one is live (undefined when `signal` aborts
 *  first), from the heartbeats of all the workers live then (commonInfo; a capability one of them
 *  does not announce is not narrowed: infoFromBeat's `unannounced`). A heartbeat whose
 *  page_size/pmd_size are not a geometry, or workers that announce different geometries, are an
 *  error naming the worker, never a guess. `notBefore`: the time the workers' answers to the
 *  transport's ping are in. */
async function workersInfo(t: NatsTransport, target: string, notBefore: number, signal?: AbortSignal): Promise<TargetInfo | undefined> {
  for (;;) {
    const ws = t.workers(target);
    if (ws.length && Date.now() >= notBefore) {
      const name = (w: { id: unknown }) => String(w.id).slice(0, 80);
      const infos = ws.map((w) => {
        const info = infoFromBeat(target, w, true);
        try { return { w, info, g: geometryOfHost(info.host) }; }
        catch (e) { throw new CampaignStateError(`worker ${name(w)} of ${target} announces a bad page geometry: ${(e as Error).message}`.slice(0, 300)); }
      });
      const other = infos.find((x) => x.g !== infos[0]!.g);
      if (other) {
        const says = (x: typeof other) => `${x.g.pageSize / 1024} KiB pages, ${x.g.pmdPages}-page PMDs`;
        throw new CampaignStateError(`workers of ${target} announce different page geometries (${name(infos[0]!.w)}: ${says(infos[0]!)}; ${name(other.w)}: ${says(other)}): a campaign generates for one; serve each geometry under its own target`.slice(0, 400));
      }
      return commonInfo(infos.map((x) => x.info));
    }
    if (signal?.aborted) return undefined;
    await new Promise<void>((res) => {
      const done = () => { clearTimeout(tm); signal?.removeEventListener('abort', done); res(); };
      const tm = setTimeout(done, ws.length ? Math.max(1, notBefore - Date.now()) : 100);
      signal?.addEventListener('abort', done, { once: true });
    });
  }
}

export async function runFarmCampaign(o: FarmCampaignOptions): Promise<FarmSummary> {
  // open the transport on a bootstrap campaign id first when resuming "the last one": the id comes from the state stream
  let campaign = o.campaign ? checkCampaignId(o.campaign) : undefined;
  let def: CampaignDefinition | undefined;
  let concurrency = o.definition?.concurrency ?? 32;
  if (o.resume) {
    // the stored definition decides the window, which must be known before the transport opens
    const nc = await connectNats(o.url, o.auth ?? {}, 'ptefarm-coordinator');
    try {
      const jsm = await ensureTopology(nc);
      if (!campaign) {
        const last = await readState(jsm, LAST_CAMPAIGN_SUBJECT, lastSchema);
        if (!last) throw new CampaignStateError(`no campaign to resume on ${o.url} (none was started there)`);
        campaign = last.campaign;
      }
      def = await readState(jsm, stateSubject(campaign, 'meta'), definitionSchema);
      if (!def) throw new CampaignStateError(`no campaign "${campaign}" to resume on ${o.url}`);
      if (def.campaign !== campaign) throw new CampaignStateError(`stored record ${stateSubject(campaign, 'meta')} is invalid: campaign: it names "${def.campaign}"`);
      const done = await readState(jsm, stateSubject(campaign, 'summary'), summarySchema);
      if (done) return { ...(done as unknown as FarmSummary), resumed: true };
      concurrency = def.concurrency;
    } finally { await nc.close(); }
  }
  campaign ??= `c${Date.now().toString(36)}-${randomBytes(2).toString('hex')}`;

  const farmEvents: FarmEvent[] = [];
  const onFarm = (e: FarmEvent) => { if (e.type === 'dead-letter') farmEvents.push(e); o.onFarmEvent?.(e); };

  const pinged = Date.now();
  const t = await NatsTransport.connect(o.url, o.auth ?? {}, { campaign, concurrency, ackWaitMs: o.ackWaitMs, maxDeliver: o.maxDeliver, resumed: !!o.resume, onEvent: onFarm });
  try {
    o.onTransport?.(t);
    if (!def) {
      if (!o.definition) throw new CampaignStateError('a new campaign needs a target and options');
      const existing = await readState(t.manager, stateSubject(campaign, 'meta'), z.unknown()).catch((e) => { if (e instanceof CampaignStateError) return true; throw e; });
      if (existing) throw new CampaignStateError(`campaign "${campaign}" already exists on ${o.url}: use --resume to continue it or pick another --campaign`);
      def = { ...o.definition, campaign, concurrency, started: new Date().toISOString() };
      await writeState(t, stateSubject(campaign, 'meta'), def);
      await writeState(t, LAST_CAMPAIGN_SUBJECT, { campaign });
    }
    const prev = o.resume ? await readState(t.manager, stateSubject(campaign, 'progress'), progressSchema) : undefined;
    // jobs the crashed coordinator's workers finished but whose ack was lost: out of the queue before
    // a worker runs them again (their results are in the record just replayed)
    if (o.resume) await t.sweep([def.target]).catch(() => undefined);
    o.onDefinition?.(def, prev);
    // not fitted yet and no case generated yet (an earlier version's record: no geometry stored
    // either): the generator fits what the target's workers can run and show; options the
    // definition states itself stay
    if (!def.fitted && !def.generate?.geometry && !(prev && prev.nextCase > 0)) {
      const info = await workersInfo(t, def.target, pinged + PING_ANSWER_MS, o.signal);
      if (info) {
        // a live worker announces `hugetlb` from its own host's free 2 MiB pages (its probe)
        const { geometry, ...fit } = generateOptionsFor(info, () => info.capabilities.hugetlb !== false);
        def = { ...def, fitted: true, generate: { ...fit, ...(geometry ? { geometry: { pageSize: geometry.pageSize, pmdPages: geometry.pmdPages } } : {}), ...def.generate } };
        await writeState(t, stateSubject(campaign, 'meta'), def);
      }
    }
    const checker = o.checker ?? await referenceChecker(def.profile ? { profile: def.profile } : {});

    const buckets: string[] = [];
    let last = 0;
    const elapsedBefore = prev?.elapsedMs ?? 0;
    const onEvent = (e: CampaignEvent) => {
      if (e.type === 'bucket') buckets.push(e.signature);
      if (e.type === 'progress' && Date.now() - last >= 1000) {
        last = Date.now();
        const p: Progress = {
          campaign: campaign!, nextCase: e.stats.cases, completed: e.stats.completed, violations: e.stats.violations,
          faults: e.stats.faults, buckets: [...buckets], elapsedMs: elapsedBefore + e.stats.elapsedMs, updated: new Date().toISOString(),
        };
        // a snapshot for humans and for the duration budget of a resume; losing one is harmless
        void t.client.publish(stateSubject(campaign!, 'progress'), JSON.stringify(encodeRecord(p))).catch(() => undefined);
      }
      o.onEvent?.(e);
    };

    const summary = await runCampaign({
      target: def.target,
      transport: t,
      checker,
      seed: def.seed,
      cases: def.cases,
      durationMs: def.durationMs === undefined ? undefined : Math.max(0, def.durationMs - elapsedBefore),
      timeoutMs: def.timeoutMs,
      stopAfterBuckets: def.stopAfterBuckets,
      minimize: def.minimize,
      reliabilityRuns: def.reliabilityRuns,
      maxMinimizeRuns: def.maxMinimizeRuns,
      workdir: o.workdir,
      source: 'coordinator',
      generate: def.generate?.geometry ? { ...def.generate, geometry: geometryOf(def.generate.geometry.pageSize, def.generate.geometry.pageSize * def.generate.geometry.pmdPages) } : def.generate,
      profile: def.profile,
      lag: def.lag,
      signal: o.signal,
      onEvent,
      onCase: o.onCase,
    });
    // no finished job stays queued: acks lost with a killed worker or server are made up for here
    await t.sweep().catch(() => undefined);
    const dead = new Set(t.stats.deadLettered);
    const out: FarmSummary = {
      ...summary,
      campaign,
      resumed: !!o.resume,
      farm: { ...t.stats, deadLettered: [...t.stats.deadLettered], workers: t.workers().map((w) => ({ id: w.id, target: w.target, threads: w.threads, done: w.done })) },
      infrastructure_faults: [...dead].map((id) => ({ id, fault: `dead-lettered after ${(farmEvents.find((e) => e.type === 'dead-letter' && e.id === id) as { deliveries?: number } | undefined)?.deliveries ?? '?'} deliveries` })),
    };
    if (!o.signal?.aborted) {
      // the summary marks the campaign finished; a server that stays away for a minute only costs
      // a later --resume that replays everything and writes it then
      const until = Date.now() + 60_000;
      await writeState(t, stateSubject(campaign, 'summary'), out, () => Date.now() > until).catch(() => undefined);
    }
    return out;
  } finally {
    await t.close();
  }
}
