// A NATS campaign for a 16 KiB-page target (docs/page-size.md), against a real nats-server and real
// `ptefarm worker` processes serving `model:x86-16k` (the reference model counting 16 KiB pages: its
// heartbeat announces page_size 16384 / pmd_size 32 MiB as a 16 KiB kernel's does). The coordinator
// starts before any worker, waits for one, stores the geometry in the campaign definition and
// generates for it: 2048-page THP regions, regions over the 4 KiB limit of 1024 pages, all accepted
// by the worker (validated within the 16 KiB limits) and agreeing with the model in that geometry; a
// mutant's findings record the geometry. A 4 KiB worker's campaign stores none and stays within 1024.
import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runFarmCampaign } from '../../src/campaign/nats-campaign.ts';
import { referenceChecker } from '../../src/campaign/checker.ts';
import { listFindings } from '../../src/campaign/findings.ts';
import type { Case } from '../../src/ops/schema.ts';
import { natsServerMissing, spawnWorker, startNatsServer, stopWorker, storedDefinition, type NatsServer, type WorkerProc } from '../helpers/nats-server.ts';

const missing = natsServerMissing();
if (missing) console.warn(`skipping NATS geometry tests: ${missing}`);

const cleanup: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => { for (const f of cleanup.splice(0).reverse()) await f(); });

const maxPages = (cs: Case[]) => Math.max(...cs.flatMap((c) => c.ops.map((o) => (o.op === 'mmap' ? o.pages : 0))));

/** a campaign on `target` whose worker is started only once the coordinator is waiting */
async function campaignWithLateWorker(server: NatsServer, target: string, extra: { workdir?: string; cases: number }) {
  const cases: Case[] = [];
  let worker: Promise<WorkerProc> | undefined;
  const s = await runFarmCampaign({
    url: server.url,
    definition: { target, seed: 11, cases: extra.cases, generate: { maxOps: 10 }, minimize: false, reliabilityRuns: 0, concurrency: 8 },
    workdir: extra.workdir,
    checker: await referenceChecker(),
    onCase: (_, c) => cases.push(c),
    onDefinition: () => {
      worker = spawnWorker(server.url, target);
      cleanup.push(async () => stopWorker(await worker!));
    },
  });
  return { s, cases, def: await storedDefinition(server, s.campaign) };
}

describe.skipIf(!!missing)('NATS campaign on a 16 KiB-page target', () => {
  it('waits for the worker, stores its geometry and generates 16 KiB cases that the worker runs and the model agrees with', async () => {
    const server = await startNatsServer();
    cleanup.push(() => server.dispose());
    const { s, cases, def } = await campaignWithLateWorker(server, 'model:x86-16k', { cases: 150 });
    expect((def.generate as Record<string, unknown>).geometry).toEqual({ page_size: 16384, pmd_pages: 2048 }) // stored as a ptefarm-campaign/2 record: snake_case;
    expect(s.cases).toBe(150);
    expect(s.faults).toBe(0);
    expect(s.skipped).toBe(0);
    expect(s.infrastructure_faults).toEqual([]);
    expect(s.farm.rejected).toBe(0);
    expect(s.violations).toBe(0);
    // THP regions are one or two 16 KiB-page PMDs (2048 pages): over the 4 KiB limit
    expect(cases.some((c) => c.ops.some((o) => o.op === 'mmap' && o.thp && o.pages % 2048 === 0))).toBe(true);
    expect(maxPages(cases)).toBeGreaterThan(1024);
    expect(maxPages(cases)).toBeLessThanOrEqual(4096);
  }, 180_000);

  it('a mutant on 16 KiB pages: its findings are recorded with the geometry; a 4 KiB worker\'s campaign stores none', async () => {
    const server = await startNatsServer();
    cleanup.push(() => server.dispose());
    const workdir = mkdtempSync(join(tmpdir(), 'ptefarm-nats-geom-'));
    const m = await campaignWithLateWorker(server, 'model:x86-16k+B-5', { cases: 150, workdir });
    expect(m.s.violations).toBeGreaterThan(0);
    const found = await listFindings(workdir);
    expect(found.length).toBeGreaterThan(0);
    for (const f of found) {
      expect(f.error).toBeUndefined();
      expect(f.finding).toMatchObject({ page_size: 16384, pmd_size: 32 * 1024 * 1024, source: 'coordinator' });
    }

    const plain = await campaignWithLateWorker(server, 'model:x86', { cases: 60 });
    expect(plain.def.generate).toEqual({ max_ops: 10 });
    expect(plain.s.faults).toBe(0);
    expect(maxPages(plain.cases)).toBeLessThanOrEqual(1024);
  }, 240_000);
});
