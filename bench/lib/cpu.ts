// CPU time of threads and processes from /proc (Linux), for the transport benchmark: how much CPU a
// case costs the coordinator's thread, the pool's threads, a NATS worker process and nats-server.
// On a shared 2-core host wall-clock ratios move with other load; these costs do not, and they
// bound what two workers can give (twoWorkersBound).
import { readdirSync, readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';

let tick: number | undefined;
/** ms per clock tick (getconf CLK_TCK; 100 Hz when it cannot be asked) */
function msPerTick(): number {
  if (tick === undefined) {
    try { tick = 1000 / Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()); } catch { tick = 10; }
    if (!Number.isFinite(tick) || tick <= 0) tick = 10;
  }
  return tick;
}

/** user + system ms of /proc/<path>/stat (a process: all its threads; a task: that thread), or NaN */
function statMs(path: string): number {
  try {
    const s = readFileSync(`/proc/${path}/stat`, 'utf8');
    // fields after the command name (which may hold spaces), 1-based: utime is 14, stime 15
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) * msPerTick();
  } catch { return Number.NaN; }
}

/** CPU ms of this process's main (JavaScript) thread */
export const mainThreadCpuMs = (): number => statMs(`${process.pid}/task/${process.pid}`);
/** CPU ms of each thread of this process, by thread id (the main thread's id is the pid) */
export function threadCpuMs(): Map<string, number> {
  const m = new Map<string, number>();
  let tids: string[] = [];
  try { tids = readdirSync(`/proc/${process.pid}/task`); } catch { /* not Linux */ }
  for (const t of tids) { const v = statMs(`${process.pid}/task/${t}`); if (!Number.isNaN(v)) m.set(t, v); }
  return m;
}
/** CPU ms of a whole process (every thread), e.g. a child */
export const processCpuMs = (pid: number | undefined): number => (pid === undefined ? Number.NaN : statMs(String(pid)));

/** The best pool-of-2 over pool-of-1 throughput ratio on `cores` cores, from what one run measured:
 *  two workers can at most double one worker's rate `rate1` (cases per ms), and can go no faster
 *  than the cores allow at `cpu2`, the process's CPU ms per case with two workers (the coordinator,
 *  both pool threads, and V8's helper threads that compile and collect garbage beside them). The
 *  earlier form took one worker's rate as 1 / (its threads' CPU per case), which holds only if a
 *  worker used one core: with V8's helpers one worker alone keeps about 1.4 of this host's 2 cores
 *  busy (`one_worker_cores`), and the second worker gets what is left. */
export function twoWorkersBound(rate1: number, cpu2: number, cores = 2): number {
  return Math.min(2, cores / (cpu2 * rate1));
}
