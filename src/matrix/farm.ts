// `ptefarm matrix --nats URL`: the matrix's targets run on a farm of `ptefarm worker` processes
// through the NATS transport (src/transport/nats.ts) instead of in this process. One transport (a
// campaign of its own, `matrix-...`) carries every target's jobs; each target's capabilities and
// page geometry come from the heartbeat of a worker that serves it (workers/worker.ts `caps`), the
// way a coordinator learns its workers, since the target may not exist on this machine. A target
// no worker announces within the grace period has no verdict (its cells faulted). Traces are checked
// here, as for local targets (src/matrix/run.ts). Called by src/cli/commands/matrix.ts.
import { randomBytes } from 'node:crypto';
import { NatsTransport } from '../transport/nats.ts';
import type { NatsAuth } from '../transport/nats-common.ts';
import type { WorkerBeat } from '../transport/nats-common.ts';
import type { Transport } from '../transport/transport.ts';
import type { TargetInfo } from '../ops/trace.ts';
import { infoFromBeat } from '../transport/worker-info.ts';

export interface FarmMatrix {
  /** the target's info from a worker's heartbeat; throws when none announced it in time */
  remoteInfo(spec: string): Promise<TargetInfo>;
  /** the farm for a target's jobs (closing it leaves the shared transport open) */
  transportFor(spec: string): Promise<Transport>;
  campaign: string;
  close(): Promise<void>;
}

// how a heartbeat becomes TargetInfo is the transport's (shared with the NATS campaign driver)

export async function openFarmMatrix(url: string, auth: NatsAuth, o: { graceMs: number; concurrency?: number }): Promise<FarmMatrix> {
  const campaign = `matrix-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
  const joined = new Map<string, WorkerBeat>();
  const wake = new Set<() => void>();
  const t = await NatsTransport.connect(url, auth, {
    campaign, concurrency: o.concurrency,
    onEvent: (e) => {
      if (e.type !== 'worker-joined' || typeof e.worker.target !== 'string') return;
      if (!joined.has(e.worker.target)) joined.set(e.worker.target, e.worker);
      for (const w of wake) w();
    },
  });
  return {
    campaign,
    async remoteInfo(spec) {
      const deadline = Date.now() + o.graceMs;
      while (!joined.has(spec)) {
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`no worker for ${spec} announced itself on ${url} within ${Math.round(o.graceMs / 1000)} s (start one: ptefarm worker --nats ${url} --target ${spec})`);
        await new Promise<void>((res) => { const w = () => { clearTimeout(tm); wake.delete(w); res(); }; const tm = setTimeout(w, left); wake.add(w); });
      }
      return infoFromBeat(spec, joined.get(spec)!);
    },
    async transportFor() {
      return { concurrency: t.concurrency, run: (job, opts) => t.run(job, opts), close: async () => undefined };
    },
    close: () => t.close(),
  };
}
