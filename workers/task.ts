// The piscina task module of the embedded transport (and so of every NATS worker): run one CaseJob
// on the target it names and, when the job asks (`check`), check the trace here, where it ran (one
// prediction: src/transport/verdict.ts), so the coordinator's thread only schedules, dedups and
// stores. Each worker thread caches one open target (re-opened only when a job names another spec).
// Never throws to the pool: infrastructure failures become `fault` results.
import { threadId } from 'node:worker_threads';
import type { CaseJob, CaseResult } from '../src/transport/transport.ts';
import type { Target } from '../src/targets/target.ts';
import { openTarget } from '../src/targets/registry.ts';
import { withVerdict } from '../src/transport/verdict.ts';
import { useQemuLauncher } from '../src/targets/qemu/vm.ts';

let cached: { spec: string; target: Promise<Target> } | undefined;

async function targetFor(spec: string): Promise<Target> {
  if (cached && cached.spec === spec) return cached.target;
  const old = cached;
  cached = { spec, target: openTarget(spec) };
  if (old) old.target.then((t) => t.close()).catch(() => undefined);
  try {
    return await cached.target;
  } catch (e) {
    cached = undefined; // do not cache a failed open
    throw e;
  }
}

export default async function runJob(job: CaseJob & { timeoutMs?: number; qemuLauncher?: string }): Promise<CaseResult> {
  const t0 = performance.now();
  // a qemu: guest is started through the pool's launcher, which reaps it when this thread is gone
  if (job.qemuLauncher !== undefined) useQemuLauncher(job.qemuLauncher);
  const worker = `embedded:${process.pid}:${threadId}`;
  try {
    const target = await targetFor(job.target);
    const trace = await target.execute(job.case, { timeoutMs: job.timeoutMs });
    return withVerdict(job, { id: job.id, trace, worker, ms: performance.now() - t0 });
  } catch (e) {
    const fault = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
    return { id: job.id, fault, worker, ms: performance.now() - t0 };
  }
}
