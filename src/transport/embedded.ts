// The embedded default transport: a piscina pool in this process whose task module
// (workers/task.ts) opens the job's target once per thread and executes the case with the job's
// limit. The target enforces that limit itself (the live executor kills an overrunning case; its
// watchdog kills a hung executor); only later (transportAbortMs) does the pool give up on the task
// and end the thread that runs it (piscina replaces the thread; src/transport/pool-thread.ts tells
// which one). A job whose thread was ended or crashed under it for the other job's sake runs
// again (a crash: each of the thread's jobs once alone, and the one that crashes its thread again
// gets the fault). Every failure becomes a `fault` result. The first qemu: job starts
// the QEMU launcher (src/targets/qemu/launcher.ts), the child of this thread that spawns and reaps
// the threads' guests, so that a replaced thread leaves no QEMU behind, running or as a zombie.
import { availableParallelism } from 'node:os';
import { Piscina } from 'piscina';
import type { CaseJob, CaseResult, Transport } from './transport.ts';
import type { PoolTask } from './pool-thread.ts';
import { transportAbortMs } from '../targets/target.ts';
import { startupBudgetMs } from '../targets/registry.ts';
import { startQemuLauncher, type QemuLauncher } from '../targets/qemu/launcher.ts';

export interface EmbeddedOptions {
  /** worker threads (default: available parallelism) */
  threads?: number;
  /** task module (default workers/task.ts, or task.js next to compiled code) */
  filename?: string | URL;
  /** default per-case limit when run() is given none (default 30 s) */
  timeoutMs?: number;
}

const fromSource = import.meta.url.endsWith('.ts');
/** how often a job whose thread was ended under it for another job's overrun runs again */
const MAX_RERUNS = 8;
/** tasks a pool thread holds at once (see the pool's options) */
export const TASKS_PER_THREAD = 8;
/** how many times a job's limit is put off while it has not started: waiting in the pool's queue,
 *  or on its thread behind the cases its target runs first (each of those has a limit of its own) */
const MAX_WAITS = TASKS_PER_THREAD + 1;

export class EmbeddedTransport implements Transport {
  readonly concurrency: number;
  /** jobs the pool holds at once (its threads' tasks) */
  readonly slots: number;
  private readonly pool: Piscina;
  private readonly defaultTimeout: number;
  private closed = false;
  private readonly taskModule: string;

  constructor(opts: EmbeddedOptions = {}) {
    this.concurrency = Math.max(1, opts.threads ?? availableParallelism());
    this.slots = this.concurrency * TASKS_PER_THREAD;
    this.defaultTimeout = opts.timeoutMs ?? 30_000;
    const file = opts.filename ?? new URL(fromSource ? '../../workers/task.ts' : '../../workers/task.js', import.meta.url);
    const href = typeof file === 'string' ? (file.startsWith('file:') ? file : new URL(file, `file://${process.cwd()}/`).href) : file.href;
    this.taskModule = href;
    // every thread runs pool-thread (which thread took a task) around the task module
    const entry = new URL(fromSource ? './pool-thread.ts' : './pool-thread.js', import.meta.url).href;
    const needsTsx = href.endsWith('.ts') || entry.endsWith('.ts');
    this.pool = new Piscina({
      filename: entry,
      minThreads: this.concurrency,
      maxThreads: this.concurrency,
      idleTimeout: 60_000,
      // several tasks per thread: while one case's target runs (the live executor, a guest: the
      // thread only awaits it), the thread checks the previous case and posts its result, and the
      // next case is already there to be sent the moment the target is free, instead of the target
      // idling through that. A target runs one case at a time anyway (LiveTarget serial; a job's
      // limit counts from when its turn begins, CaseClock in pool-thread.ts). Several more than
      // two: the live target writes every case it holds to the executor ahead of its turn, and the
      // executor runs dry whenever the thread (checking) and the coordinator (generating) are late
      // together; with 3 that was 1 reply in 5 under load, with 8 about 1 in 20.
      // (piscina runs a task given an AbortSignal alone on its thread: the limit is enforced by
      // abandon() below instead.)
      concurrentTasksPerWorker: TASKS_PER_THREAD,
      // tsx resolved from here, not from the current directory: `ptefarm fuzz` runs from any directory
      execArgv: needsTsx && !process.execArgv.some((a) => a.includes('tsx')) ? [...process.execArgv, '--import', import.meta.resolve('tsx')] : process.execArgv,
    });
  }

  private readonly inflight = new Set<Promise<unknown>>();
  private launcher?: Promise<QemuLauncher>;

  /** the launcher's socket for a qemu: job (started by the first one), else undefined */
  private async qemuLauncher(target: string): Promise<string | undefined> {
    if (!target.startsWith('qemu:')) return undefined;
    this.launcher ??= startQemuLauncher();
    return (await this.launcher).path;
  }

  /** `alone`: run the task by itself on an idle thread (a rerun after its thread crashed under it,
   *  to tell the job that crashed it from the one merely sharing it) */
  async run(job: CaseJob, opts: { timeoutMs?: number } = {}, reruns = 0, alone = false): Promise<CaseResult> {
    if (this.closed) return { id: job.id, fault: 'transport closed' };
    const timeoutMs = opts.timeoutMs ?? this.defaultTimeout;
    const t0 = performance.now();
    // a timer takes a whole number of ms up to 2^31-1: anything else is a fault result, not a throw
    if (!Number.isInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > 2_147_483_647) {
      return { id: job.id, fault: `bad per-case timeout ${String(timeoutMs).slice(0, 40)} ms: expected a whole number 1..2147483647`, worker: 'embedded', ms: 0 };
    }
    const abortMs = transportAbortMs(timeoutMs) + startupBudgetMs(job.target);
    let qemuLauncher: string | undefined;
    // awaited only for a qemu: job (an await per job is a turn of the loop before the job is posted)
    if (job.target.startsWith('qemu:')) {
      try { qemuLauncher = await this.qemuLauncher(job.target); } catch (e) {
        return { id: job.id, fault: `worker: ${(e as Error).message}`, worker: 'embedded', ms: performance.now() - t0 };
      }
    }
    // the thread that took the task writes its threadId here (-1: abandoned before it started), and
    // when the job's clock started (0: it waits on its thread behind the cases its target runs first)
    const shared = new SharedArrayBuffer(16);
    const startedOn = new Int32Array(shared, 0, 1);
    const startedAt = new BigInt64Array(shared, 8, 1);
    const poolTask: PoolTask = { startedOn, startedAt, module: this.taskModule, job: { ...job, timeoutMs, ...(qemuLauncher ? { qemuLauncher } : {}) } };
    // piscina runs a task that has an AbortSignal alone on an idle thread (never aborted here)
    const task = this.pool.run(poolTask, alone ? { signal: new AbortController().signal } : {});
    this.inflight.add(task);
    let timer: NodeJS.Timeout | undefined;
    let timedOut = false;
    // a job that has not started at its limit is not overrunning: still in the pool's queue (the
    // campaign keeps one queued beyond what the threads hold), or on its thread waiting for its
    // target behind the cases ahead of it, which have limits of their own. It waits on, a bounded
    // number of times (a pool whose threads cannot be replaced must not hold it forever), then is
    // abandoned. A started job's limit counts from its start.
    let waits = 0;
    const limit = new Promise<never>((_, reject) => {
      const arm = (ms: number) => {
        timer = setTimeout(() => {
          if (!this.closed) {
            const tid = Atomics.load(startedOn, 0);
            const at = Number(Atomics.load(startedAt, 0));
            if ((tid === 0 || (tid > 0 && at === 0)) && waits++ < MAX_WAITS) { arm(abortMs); return; }
            const left = at + abortMs - Date.now();
            if (tid > 0 && at > 0 && left > 0) { arm(left); return; }
          }
          timedOut = true;
          void this.abandon(startedOn).finally(() => reject(new Error('timeout')));
        }, ms);
      };
      arm(abortMs);
    });
    try {
      const res = (await Promise.race([task, limit])) as CaseResult;
      return res;
    } catch (e) {
      const err = e as Error;
      // its thread was ended for another task's overrun, or ended before this task started on it:
      // this case did not fail, it runs again — more than once if the next thread it waits on is
      // ended too (several overrunning jobs at once), up to MAX_RERUNS so that a pool whose
      // threads die for another reason cannot loop
      const tid = Atomics.load(startedOn, 0);
      const innocent = !timedOut && (tid === 0 || this.ended.has(tid));
      if (innocent && reruns < MAX_RERUNS) return this.run(job, opts, reruns + 1, alone);
      // its thread died under it (process.exit, an uncaught error, native code, the thread's heap
      // limit) and not by abandon(): piscina fails every task the thread held, and the thread is
      // gone from the pool (a task that merely threw leaves its thread running). Either task may
      // have killed it, so each runs again once, alone on a thread: the one that kills its
      // thread again alone is the culprit and gets the fault; the other gets its result
      const crashed = !timedOut && !innocent && tid > 0 && !this.pool.threads.some((w) => w.threadId === tid);
      if (crashed && !alone && reruns < MAX_RERUNS) return this.run(job, opts, reruns + 1, true);
      const why = err.message ?? String(e);
      return {
        id: job.id,
        fault: timedOut ? `timeout: no result within ${abortMs} ms (case limit ${timeoutMs} ms); the worker thread was replaced`
          : innocent ? `worker: its pool thread was ended ${reruns + 1} times before the case could run (${why})`
          : crashed && alone ? `worker: case ${JSON.stringify(job.id.slice(0, 80))} crashed its pool thread, also when run alone on one (${why})`
          : crashed ? `worker: its pool thread crashed ${reruns + 1} times under it (${why})`
          : `worker: ${why}`,
        worker: 'embedded',
        ms: performance.now() - t0,
      };
    } finally {
      clearTimeout(timer);
      this.inflight.delete(task);
      task.catch(() => undefined); // an abandoned task's late end
    }
  }

  /** threads ended by abandon() */
  private readonly ended = new Set<number>();

  /** The last resort for a task over its limit: a task not started yet is marked so that it
   *  never runs; a started one has its thread terminated (piscina fails that thread's tasks and
   *  starts a replacement), so a wedged thread does not keep the pool. */
  private async abandon(startedOn: Int32Array): Promise<void> {
    const tid = Atomics.compareExchange(startedOn, 0, 0, -1);
    if (tid <= 0) return;
    this.ended.add(tid);
    const w = this.pool.threads.find((x) => x.threadId === tid);
    // ended before the timeout fault is reported, so that no next job is handed to it meanwhile
    if (w) await Promise.race([w.terminate().catch(() => undefined), new Promise((r) => setTimeout(r, 2000))]);
  }

  /** The pool as the live dashboard shows it (read-only). */
  poolStats(): { threads: number; running: number; queued: number; completed: number; utilization: number } {
    const queued = this.pool.queueSize;
    return { threads: this.pool.threads.length, running: Math.max(0, this.inflight.size - queued), queued, completed: this.pool.completed, utilization: this.pool.utilization };
  }

  /** Stop accepting jobs, let in-flight ones finish (up to `drainMs`, default 5 s), then destroy
   *  the pool. (Destroying piscina while a task's result is in transit makes it throw
   *  asynchronously, so the drain is not optional.) */
  async close(drainMs = 5000): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.inflight.size) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        Promise.allSettled([...this.inflight]),
        new Promise<void>((r) => { timer = setTimeout(r, drainMs); }),
      ]);
      clearTimeout(timer);
    }
    await this.pool.destroy();
    // the destroyed threads' guests: killed (their connections closed) and reaped by the launcher
    if (this.launcher) await (await this.launcher.catch(() => undefined))?.stop();
  }
}
