// The farm's JetStream topology (src/transport/nats-common.ts ensureTopology) created by many
// processes at once against a real nats-server: workers and a coordinator start together, and the
// ones that lose the race to create a stream must go on with the stream the winner made. nats-server
// answers the losers either "stream name already in use" or "subjects overlap with an existing
// stream" (a CI run's worker exited 2 on the second one). Outcomes only, no timings.
import { afterEach, describe, expect, it } from 'vitest';
import type { NatsConnection } from '@nats-io/transport-node';
import { connectNats, DEAD_STREAM, ensureTopology, JOBS_STREAM, RESULTS_STREAM } from '../../src/transport/nats-common.ts';
import { natsServerMissing, startNatsServer, type NatsServer } from '../helpers/nats-server.ts';

const missing = natsServerMissing();
const cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => { for (const f of cleanup.splice(0).reverse()) await f(); });

describe.skipIf(!!missing)('JetStream topology (real nats-server)', () => {
  it('48 connections creating it at once on a fresh server all succeed, with one stream of each name', async () => {
    // several fresh servers: the race is only at creation
    for (let round = 0; round < 24; round++) {
      const server: NatsServer = await startNatsServer();
      cleanup.push(() => server.dispose());
      const ncs: NatsConnection[] = await Promise.all(Array.from({ length: 48 }, () => connectNats(server.url)));
      cleanup.push(() => Promise.all(ncs.map((nc) => nc.close())));
      const outcomes = await Promise.allSettled(ncs.map((nc) => ensureTopology(nc)));
      // a request timeout on a loaded host (a CI run saw one of 48) is not the race asserted here
      const failed = outcomes.flatMap((o) => (o.status === 'rejected' ? [String((o.reason as Error).message)] : [])).filter((m) => !/timeout/i.test(m));
      expect(failed).toEqual([]);
      const jsm = await ensureTopology(ncs[0]!);
      const names: string[] = [];
      for await (const si of jsm.streams.list()) names.push(si.config.name);
      for (const n of [JOBS_STREAM, RESULTS_STREAM, DEAD_STREAM]) expect(names.filter((x) => x === n)).toHaveLength(1);
    }
  }, 60_000);
});
