// A campaign through the NATS farm, as `ptefarm coordinator` and `ptefarm fuzz --nats` run it:
// the campaign loop (generation, checks, buckets, minimization) stays in this process; cases travel
// through NatsTransport. The campaign's definition (seed, target, budget, generator options, window)
// is stored in PTEFARM_STATE before the first case, progress snapshots (next case index, counts,
// buckets) while it runs, and the summary at the end.
//
// Resume: the case sequence is a pure function of the definition and of the results (feedback in
// index order), and every result is in PTEFARM_RESULTS. A resumed coordinator reads the definition,
// regenerates the same cases, and gets the recorded results back from the transport without
// executing or counting anything twice; only cases without a recorded result go out to workers.
import { randomBytes } from 'node:crypto';
import type { Case } from '../ops/schema.ts';
import { runCampaign, type CampaignEvent, type CampaignOptions, type Summary } from '../campaign/campaign.ts';
import { referenceChecker, type Checker } from '../campaign/checker.ts';
import { NatsTransport, type FarmEvent, type FarmStats } from './nats.ts';
import type { JetStreamManager } from '@nats-io/jetstream';
import { LAST_CAMPAIGN_SUBJECT, STATE_STREAM, checkCampaignId, connectNats, ensureTopology, isNotFound, retrying, stateSubject, type NatsAuth } from './nats-common.ts';

/** Everything that decides the case sequence and the campaign's end: stored, and reused on resume. */
export type CampaignDefinition = Pick<CampaignOptions,
  'target' | 'seed' | 'cases' | 'durationMs' | 'timeoutMs' | 'stopAfterBuckets' | 'minimize' | 'reliabilityRuns' |
  'maxMinimizeRuns' | 'workdir' | 'generate' | 'lag' | 'profile'> & {
  campaign: string;
  concurrency: number;
  started: string;
};

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
  definition?: Omit<CampaignDefinition, 'campaign' | 'started' | 'concurrency'> & { concurrency?: number };
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

async function readState<T>(jsm: JetStreamManager, subject: string): Promise<T | undefined> {
  try {
    const m = await jsm.streams.getMessage(STATE_STREAM, { last_by_subj: subject });
    return m ? m.json<T>() : undefined;
  } catch (e) {
    if (isNotFound(e)) return undefined;
    throw e;
  }
}

async function writeState(t: NatsTransport, subject: string, v: unknown, stop = () => false): Promise<void> {
  await retrying('state', () => t.client.publish(subject, JSON.stringify(v)), stop);
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
        const last = await readState<{ campaign: string }>(jsm, LAST_CAMPAIGN_SUBJECT);
        if (!last) throw new CampaignStateError(`no campaign to resume on ${o.url} (none was started there)`);
        campaign = last.campaign;
      }
      def = await readState<CampaignDefinition>(jsm, stateSubject(campaign, 'meta'));
      if (!def) throw new CampaignStateError(`no campaign "${campaign}" to resume on ${o.url}`);
      const done = await readState<FarmSummary>(jsm, stateSubject(campaign, 'summary'));
      if (done) return { ...done, resumed: true };
      concurrency = def.concurrency;
    } finally { await nc.close(); }
  }
  campaign ??= `c${Date.now().toString(36)}-${randomBytes(2).toString('hex')}`;

  const farmEvents: FarmEvent[] = [];
  const onFarm = (e: FarmEvent) => { if (e.type === 'dead-letter') farmEvents.push(e); o.onFarmEvent?.(e); };

  const t = await NatsTransport.connect(o.url, o.auth ?? {}, { campaign, concurrency, ackWaitMs: o.ackWaitMs, maxDeliver: o.maxDeliver, onEvent: onFarm });
  try {
    o.onTransport?.(t);
    if (!def) {
      if (!o.definition) throw new CampaignStateError('a new campaign needs a target and options');
      const existing = await readState<CampaignDefinition>(t.manager, stateSubject(campaign, 'meta'));
      if (existing) throw new CampaignStateError(`campaign "${campaign}" already exists on ${o.url}: use --resume to continue it or pick another --campaign`);
      def = { ...o.definition, campaign, concurrency, started: new Date().toISOString() };
      await writeState(t, stateSubject(campaign, 'meta'), def);
      await writeState(t, LAST_CAMPAIGN_SUBJECT, { campaign });
    }
    const prev = o.resume ? await readState<Progress>(t.manager, stateSubject(campaign, 'progress')) : undefined;
    o.onDefinition?.(def, prev);
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
        void t.client.publish(stateSubject(campaign!, 'progress'), JSON.stringify(p)).catch(() => undefined);
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
      workdir: def.workdir,
      source: 'coordinator',
      generate: def.generate,
      profile: def.profile,
      lag: def.lag,
      signal: o.signal,
      onEvent,
      onCase: o.onCase,
    });
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
