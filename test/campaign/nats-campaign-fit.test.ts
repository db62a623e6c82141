// A NATS campaign generates for what its target's workers can run and show, as `fuzz` and `gate`
// do for a target they open (src/campaign/target-fit.ts generateOptionsFor), against a real
// nats-server and real `ptefarm worker` processes. A worker of a kernel without soft-dirty (the
// exec fixture test/fixtures/no-soft-dirty-target.ts: a model that reports soft_dirty false and
// bit 55 as not shown) gets no case that asserts soft-dirty alone, so none of its answers is a
// SKIP (before: 47 of these 150 cases). With several workers of one target the cases fit
// all of them (one that announces soft_dirty false removes those cases), and a worker that
// announces no capability keeps the defaults. The fitted options are stored in the definition.
// Workers of one target with different page geometries are an error before any case is generated.
import { afterEach, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runFarmCampaign } from '../../src/campaign/nats-campaign.ts';
import { referenceChecker } from '../../src/campaign/checker.ts';
import { assertedKinds } from '../../src/check/check.ts';
import { BYE_SUBJECT, connectNats, HEARTBEAT_SUBJECT, JOB_PROTOCOL, PING_SUBJECT, type WorkerBeat } from '../../src/transport/nats-common.ts';
import type { Case } from '../../src/ops/schema.ts';
import { natsServerMissing, spawnWorker, startNatsServer, stopWorker, storedDefinition, type NatsServer } from '../helpers/nats-server.ts';

const missing = natsServerMissing();
if (missing) console.warn(`skipping NATS target-fit tests: ${missing}`);

const cleanup: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => { for (const f of cleanup.splice(0).reverse()) await f(); });

const root = fileURLToPath(new URL('../../', import.meta.url));

/** a heartbeat of a worker of `target` announcing `caps`, that takes no job (another host's worker
 *  of the same target, as far as the coordinator can tell); it answers pings like a worker */
async function announcingWorker(server: NatsServer, target: string, caps: Record<string, unknown>): Promise<void> {
  const nc = await connectNats(server.url);
  const beat: WorkerBeat = { id: `fake:${Object.keys(caps).join('-') || 'silent'}`, host: 'elsewhere', pid: 1, target, threads: 2, caps, busy: 0, done: 0, refused: 0, started: Date.now(), intervalMs: 500, batch: 4, protocol: JOB_PROTOCOL };
  const announce = () => nc.publish(HEARTBEAT_SUBJECT, JSON.stringify(beat));
  const sub = nc.subscribe(PING_SUBJECT, { callback: announce });
  announce();
  const timer = setInterval(announce, 500);
  await nc.flush();
  cleanup.push(async () => { clearInterval(timer); sub.unsubscribe(); nc.publish(BYE_SUBJECT, JSON.stringify(beat)); await nc.close(); });
}

async function campaign(server: NatsServer, target: string, cases: number, seed: number) {
  const generated: Case[] = [];
  const s = await runFarmCampaign({
    url: server.url,
    definition: { target, seed, cases, generate: { maxOps: 10 }, minimize: false, reliabilityRuns: 0, concurrency: 8 },
    checker: await referenceChecker(),
    onCase: (_, c) => generated.push(c),
  });
  const def = await storedDefinition(server, s.campaign);
  return { s, def, generated, sdOnly: generated.filter((c) => { const k = assertedKinds(c); return k.size === 1 && k.has('soft-dirty'); }).length };
}

describe.skipIf(!!missing)('NATS campaign fitted to its workers', () => {
  it('a worker of a kernel without soft-dirty: no case asserts soft-dirty alone, none is a SKIP; the fit is stored', async () => {
    const server = await startNatsServer();
    cleanup.push(() => server.dispose());
    const target = `exec:${process.execPath} --import tsx ${join(root, 'test/fixtures/no-soft-dirty-target.ts')} model:x86`;
    const w = await spawnWorker(server.url, target);
    cleanup.push(() => stopWorker(w));
    const r = await campaign(server, target, 150, 3);
    expect(r.s.cases).toBe(150);
    expect(r.s.faults).toBe(0);
    expect(r.s.infrastructure_faults).toEqual([]);
    expect(r.sdOnly).toBe(0);
    expect(r.s.skipped).toBe(0);
    // an exec: target gets no hugetlb cases (generateOptionsFor); snake_case: a ptefarm-campaign/2 record
    expect(r.def.generate).toEqual({ max_ops: 10, soft_dirty: false, hugetlb_ratio: 0 });
    expect(r.def.fitted).toBe(true);
  }, 180_000);

  it('several workers of one target: one without soft-dirty removes those cases; one that announces nothing keeps the defaults', async () => {
    const server = await startNatsServer();
    cleanup.push(() => server.dispose());
    const w = await spawnWorker(server.url, 'model:x86');
    cleanup.push(() => stopWorker(w));

    // the real worker and one that announces no capability: the defaults, soft-dirty-only cases among them
    await announcingWorker(server, 'model:x86', {});
    const plain = await campaign(server, 'model:x86', 150, 5);
    expect(plain.def.generate).toEqual({ max_ops: 10 });
    expect(plain.def.fitted).toBe(true);
    expect(plain.sdOnly).toBeGreaterThan(0);
    expect(plain.s.faults).toBe(0);

    // and one more that announces soft_dirty false: the same seed draws none
    await announcingWorker(server, 'model:x86', { arch: 'x86_64', kernel: '6.18.0', soft_dirty: false, uffd_wp: true, hugetlb: false });
    const fitted = await campaign(server, 'model:x86', 150, 5);
    // a model target keeps its hugetlb cases (the model maps them); soft-dirty-only ones are gone
    expect(fitted.def.generate).toEqual({ max_ops: 10, soft_dirty: false });
    expect(fitted.sdOnly).toBe(0);
    expect(fitted.s.cases).toBe(150);
    expect(fitted.s.faults).toBe(0);
    expect(fitted.s.skipped).toBe(0);
  }, 180_000);

  it('workers of one target that announce different page geometries: an error naming both, no case generated', async () => {
    const server = await startNatsServer();
    cleanup.push(() => server.dispose());
    await announcingWorker(server, 'live', { arch: 'aarch64' });
    await announcingWorker(server, 'live', { page_size: 16384, pmd_size: 32 * 1024 * 1024 });
    const generated: Case[] = [];
    await expect(runFarmCampaign({
      url: server.url, definition: { target: 'live', seed: 1, cases: 10 }, checker: await referenceChecker(), onCase: (_, c) => generated.push(c),
    })).rejects.toThrow(/workers of live announce different page geometries \(fake:\S+: (4 KiB pages, 512|16 KiB pages, 2048)-page PMDs; fake:\S+: (16 KiB pages, 2048|4 KiB pages, 512)-page PMDs\): a campaign generates for one/);
    expect(generated).toEqual([]);
  }, 60_000);
});
