// A hung executor (here: SIGSTOPped, so it never answers) is reported as a hang and killed, never
// leaked (issue 18, item 4): the live target's watchdog must fire before the transport gives up on
// the task (the embedded pool's abort or the in-process timeout), kill the executor's process group,
// and the next case must run on a new executor. Leaks are looked for in /proc: any ptefarm-exec
// process whose parent is this process, or the stopped executor itself.
import { afterAll, describe, expect, it } from 'vitest';
import type { Case } from '../../src/ops/schema.ts';
import type { Transport } from '../../src/transport/transport.ts';
import { EmbeddedTransport } from '../../src/transport/embedded.ts';
import { InProcessTransport } from '../../src/campaign/inprocess.ts';
import { DEFAULT_EXECUTOR } from '../../src/targets/probe.ts';
import { LiveTarget } from '../../src/targets/live.ts';
import { executorMissing, processesOf, procStat, waitFor } from '../helpers/executor.ts';

const missing = executorMissing(DEFAULT_EXECUTOR);
if (missing) console.warn(`skipping live hang tests: ${missing}`);

const small: Case = { format: 'ptefarm-case/1', ops: [{ op: 'mmap', region: 'a', pages: 1, kind: 'anon' }, { op: 'write', region: 'a' }] };
const LIMIT_MS = 2000;

/** executors this process started (the pool's threads and the in-process target spawn them) */
const ours = () => processesOf(DEFAULT_EXECUTOR).filter((p) => p.ppid === process.pid);

describe.skipIf(missing)('live target: a hung executor is a fault, killed, and replaced', () => {
  const transports: Transport[] = [];
  afterAll(async () => { for (const t of transports) await t.close(); });

  for (const kind of ['embedded pool', 'in-process'] as const) {
    it(`${kind}: SIGSTOP of the executor -> "executor hung", no stopped executor left, next case runs`, async () => {
      const t: Transport = kind === 'embedded pool' ? new EmbeddedTransport({ threads: 1 }) : new InProcessTransport();
      transports.push(t);
      // thread start, tsx and the executor's probe are not part of a case: a generous limit here
      const warm = await t.run({ id: 'warm', target: 'live', case: small }, { timeoutMs: 60_000 });
      expect(warm.fault ?? warm.trace?.fault).toBeUndefined();
      const [exec] = await waitFor('the executor', () => { const o = ours(); return o.length === 1 ? o : undefined; });
      process.kill(exec.pid, 'SIGSTOP');
      await waitFor('the executor to stop', () => (procStat(exec.pid)?.state === 'T' ? true : undefined));

      const hung = await t.run({ id: 'hung', target: 'live', case: small }, { timeoutMs: LIMIT_MS });
      // the limit plus the watchdog's grace (half the limit, at least 1 s): src/targets/target.ts
      expect(hung.fault ?? hung.trace?.fault).toMatch(/^executor hung: no reply within 3000 ms \(killed/);
      expect(hung.trace?.steps ?? []).toEqual([]);
      // dead: gone, or a zombie its (worker thread's) event loop has not reaped yet
      const dead = (pid: number) => { const st = procStat(pid); return st === undefined || st.state === 'Z'; };
      await waitFor('the stopped executor to die', () => (dead(exec.pid) ? true : undefined));

      const next = await t.run({ id: 'next', target: 'live', case: small }, { timeoutMs: LIMIT_MS });
      expect(next.fault ?? next.trace?.fault).toBeUndefined();
      expect(next.trace?.steps[1].pages?.['0'].a.map((s) => s.slice(0, 5))).toEqual(['P..E.']);
      const now = ours();
      expect(now.map((p) => p.pid)).not.toContain(exec.pid);
      expect(now.every((p) => p.state !== 'T')).toBe(true);

      await t.close();
      await waitFor('no executor left after close', () => (ours().length === 0 ? true : undefined));
      expect(dead(exec.pid)).toBe(true);
      console.log(`${kind}: the hung executor ${exec.pid} after close: ${JSON.stringify(procStat(exec.pid) ?? "reaped")}`);
    }, 60_000);
  }

  it('a case still queued when the target closes starts no executor: it gets a fault, and nothing is left running', async () => {
    // a campaign that stops (abort, --duration) closes its targets while a case of a pool thread
    // may still be on its way; an executor started for it after close would be closed by nobody
    const t = new LiveTarget();
    const warm = await t.execute(small, { timeoutMs: 60_000 });
    expect(warm.fault).toBeUndefined();
    const [exec] = await waitFor('the executor', () => { const o = ours(); return o.length === 1 ? o : undefined; });
    // the executor dies between cases: the next case has to start a new one
    process.kill(exec.pid, 'SIGKILL');
    await waitFor('the executor to die', () => { const st = procStat(exec.pid); return st === undefined || st.state === 'Z' ? true : undefined; });
    await new Promise((r) => setTimeout(r, 100)); // its exit event reaches the target
    const late = t.execute(small, { timeoutMs: LIMIT_MS });
    await t.close();
    const r = await late;
    expect(r.fault).toMatch(/live target: closed/);
    expect(r.steps).toEqual([]);
    // and a case after close is refused the same way
    expect((await t.execute(small, { timeoutMs: LIMIT_MS })).fault).toMatch(/live target: closed/);
    await new Promise((r) => setTimeout(r, 500));
    expect(ours().filter((p) => p.state !== 'Z')).toEqual([]);
  }, 60_000);

  it('embedded pool: a stopped executor dies with the pool that started it (closed while it is stopped)', async () => {
    const t = new EmbeddedTransport({ threads: 1 });
    transports.push(t);
    const warm = await t.run({ id: 'warm', target: 'live', case: small }, { timeoutMs: 60_000 });
    expect(warm.fault ?? warm.trace?.fault).toBeUndefined();
    const [exec] = await waitFor('the executor', () => { const o = ours(); return o.length === 1 ? o : undefined; });
    process.kill(exec.pid, 'SIGSTOP');
    await waitFor('the executor to stop', () => (procStat(exec.pid)?.state === 'T' ? true : undefined));
    // closing destroys the pool's thread without a word to its target: the executor's parent-death
    // signal (the spawning thread is its parent) kills it, stopped as it is
    await t.close();
    const dead = (pid: number) => { const st = procStat(pid); return st === undefined || st.state === 'Z'; };
    await waitFor('the stopped executor to die with its thread', () => (dead(exec.pid) ? true : undefined));
    expect(ours()).toEqual([]);
  }, 60_000);
});

describe.skipIf(missing)('live target: a case waiting behind a hung one', () => {
  it('is told its turn (onStart) only when the hung case is given up, and then runs on a new executor', async () => {
    // the pool's limit on a job counts from onStart (src/transport/pool-thread.ts CaseClock): a
    // case given while another hangs must not be told its turn before that one is over
    const t = new LiveTarget();
    try {
      expect((await t.execute(small)).fault).toBeUndefined();
      const pid = t.pid!;
      process.kill(pid, 'SIGSTOP');
      await waitFor('the executor to stop', () => (procStat(pid)?.state === 'T' ? true : undefined));
      const started: Record<string, number> = {};
      const ended: Record<string, number> = {};
      const run = (id: string) => t.execute(small, { timeoutMs: 1000, onStart: () => { started[id] = performance.now(); } })
        .then((tr) => { ended[id] = performance.now(); return tr; });
      const [hung, next] = await Promise.all([run('hung'), run('next')]);
      // the limit plus the watchdog's grace (at least 1 s): src/targets/target.ts
      expect(hung.fault).toMatch(/^executor hung: no reply within 2000 ms/);
      expect(next.fault).toBeUndefined();
      expect(started.next! - started.hung!).toBeGreaterThanOrEqual(1900);
      expect(started.next!).toBeLessThanOrEqual(ended.next!);
      expect(t.starts).toBe(2);
    } finally {
      await t.close();
    }
  });
});
