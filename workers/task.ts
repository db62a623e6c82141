// The piscina task module of the embedded transport (and so of every NATS worker): run one CaseJob
// on the target it names and, when the job asks (`check`), check the trace here, where it ran (one
// prediction: src/transport/verdict.ts), so the coordinator's thread only schedules, dedups and
// stores. Each worker thread caches one open target (re-opened only when a job names another spec).
// Never throws to the pool: infrastructure failures become `fault` results. The pool's limit on a job
// (src/transport/embedded.ts) counts from when the target begins the case: a target that runs its
// cases one after another tells each one's turn (reportsCaseStart); any other target is given at most
// SHARED_TARGET_JOBS jobs of this thread at once, the others waiting here with their clocks stopped.
import { threadId } from 'node:worker_threads';
import type { CaseJob, CaseResult } from '../src/transport/transport.ts';
import type { Target } from '../src/targets/target.ts';
import { openTarget } from '../src/targets/registry.ts';
import { withVerdict } from '../src/transport/verdict.ts';
import { useQemuLauncher } from '../src/targets/qemu/vm.ts';
import type { CaseClock } from '../src/transport/pool-thread.ts';

/** jobs of this thread a target that does not tell when each one's turn begins runs at once */
const SHARED_TARGET_JOBS = 2;
let sharedRunning = 0;
const sharedWaiting: Array<() => void> = [];

/** run `f` once fewer than SHARED_TARGET_JOBS jobs of this thread are in such a target */
async function inSharedTarget<T>(clock: CaseClock | undefined, f: () => Promise<T>): Promise<T> {
  if (sharedRunning >= SHARED_TARGET_JOBS) {
    clock?.wait();
    await new Promise<void>((r) => sharedWaiting.push(r));
    clock?.start();
  } else sharedRunning++;
  try { return await f(); } finally {
    const next = sharedWaiting.shift();
    if (next) next(); else sharedRunning--;
  }
}

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

export default async function runJob(job: CaseJob & { timeoutMs?: number; qemuLauncher?: string }, clock?: CaseClock): Promise<CaseResult> {
  const t0 = performance.now();
  // a qemu: guest is started through the pool's launcher, which reaps it when this thread is gone
  if (job.qemuLauncher !== undefined) useQemuLauncher(job.qemuLauncher);
  const worker = `embedded:${process.pid}:${threadId}`;
  try {
    const target = await targetFor(job.target);
    let trace;
    if (target.reportsCaseStart) {
      clock?.wait();
      trace = await target.execute(job.case, { timeoutMs: job.timeoutMs, onStart: clock?.start });
    } else trace = await inSharedTarget(clock, () => target.execute(job.case, { timeoutMs: job.timeoutMs }));
    return withVerdict(job, { id: job.id, trace, worker, ms: performance.now() - t0 });
  } catch (e) {
    const fault = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
    return { id: job.id, fault, worker, ms: performance.now() - t0 };
  }
}
