// The module every thread of the embedded pool runs (src/transport/embedded.ts, which calls it
// through piscina): it records which thread took a task, so that the pool can end that thread when
// the task overruns its limit, or skips a task the pool abandoned before it started; then it runs
// the pool's task module (workers/task.ts, or a test's) on the job. Task modules need not know.
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { threadId } from 'node:worker_threads';

/** `startedOn`: the thread that took the task (0: not yet, -1: abandoned before it started);
 *  `startedAt`: Date.now() when the job's clock started, 0 while the job waits on its thread */
export interface PoolTask { startedOn: Int32Array; startedAt: BigInt64Array; module: string; job: { id: string; [k: string]: unknown } }

/** The job's clock, the second argument of a task module's handler. It starts when the task starts
 *  on its thread; `wait()` stops it (the job waits behind others for its target), `start()`
 *  starts it again when the target begins the case. */
export interface CaseClock { wait(): void; start(): void }

type Handler = (job: unknown, clock: CaseClock) => unknown;
const handlers = new Map<string, Promise<Handler>>();
const requireHere = createRequire(import.meta.url);
// a native import(), which a CommonJS build of this module would turn into require()
// eslint-disable-next-line @typescript-eslint/no-implied-eval
const importNative = new Function('specifier', 'return import(specifier)') as (s: string) => Promise<{ default: Handler }>;

/** The task module's default export, loaded as piscina loads its own: require first (how a
 *  TypeScript module loads in a pool thread run through tsx), else import (compiled ESM). */
async function load(href: string): Promise<Handler> {
  try {
    const m = requireHere(fileURLToPath(href)) as { default?: Handler };
    if (typeof m.default === 'function') return m.default;
  } catch { /* not loadable by require: an ES module */ }
  return (await importNative(href)).default;
}

export default async function runPoolTask(t: PoolTask): Promise<unknown> {
  if (Atomics.compareExchange(t.startedOn, 0, 0, threadId) !== 0) return { id: t.job.id, fault: 'abandoned by the pool before it started' };
  Atomics.store(t.startedAt, 0, BigInt(Date.now()));
  const clock: CaseClock = {
    wait: () => { Atomics.store(t.startedAt, 0, 0n); },
    start: () => { Atomics.store(t.startedAt, 0, BigInt(Date.now())); },
  };
  let h = handlers.get(t.module);
  if (!h) {
    h = load(t.module);
    handlers.set(t.module, h);
  }
  return (await h)(t.job, clock);
}
