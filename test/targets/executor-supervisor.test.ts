// The executor's supervisor lives across cases (workers/executor/README.md "Process structure"):
// one capability-free supervisor serves case after case, forking only each case's process 0; it
// leaves nothing of a case behind (no process, no descriptor); a supervisor that died, during a
// case or between two, is replaced for the next case without losing it; cases that need
// CAP_SYS_PTRACE (event_fork) run on a long-lived supervisor of their own. The executor is spoken to
// directly; the test-only inject kind 3 makes the supervisor announce its pid and the case
// processes' pids before an op and wait for SIGUSR1.
import { readdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ARENA_BASE_PAGE, childrenOf, executorMissing, procStat, RawExecutor, waitFor, probedExecutor, zygoteOf } from '../helpers/executor.ts';

const missing = executorMissing();
if (missing) console.warn(`skipping executor supervisor tests: ${missing}`);

const B = ARENA_BASE_PAGE;
const WP_ASYNC = 1 << 15, EVENT_FORK = 1 << 1; // UFFD_FEATURE_* (include/uapi/linux/userfaultfd.h)
const PAUSE = 3;
/** mmap a (4 pages), fork p1, then writes by p1 and p0 */
const FORKED = [`1 0 0 ${B} 4 0 0`, '7 0', '6 1 0 0 4', '6 0 0 0 4'];

describe.skipIf(missing)('executor: the long-lived supervisor', () => {
  let ex: RawExecutor;
  let seq = 0;
  let eventFork = false;
  beforeAll(async () => { ({ ex, eventFork } = await probedExecutor()); });
  afterAll(async () => { await ex?.close(); });

  /** run FORKED pausing before op 2: returns the supervisor's pid and the reply's lines; `act`
   *  runs while the case is paused */
  async function pidOfCase(uffd = -1, act?: (sup: number, procs: number[]) => void): Promise<{ sup: number; lines: string[] }> {
    const id = `s${seq++}`;
    ex.send(`case ${id} ${FORKED.length} ${uffd} 20000 ${PAUSE} 2\n${FORKED.join('\n')}\n`);
    await ex.until((l) => l === `begin ${id}`);
    const lines: string[] = [];
    let sup = 0;
    for (;;) {
      const l = await ex.until(() => true);
      const m = /^i paused before op \d+: supervisor (\d+) processes((?: \d+)+)$/.exec(l);
      if (m) {
        sup = Number(m[1]);
        act?.(sup, m[2]!.trim().split(' ').map(Number));
        if (procStat(sup)) process.kill(sup, 'SIGUSR1');
        continue;
      }
      if (l === `end ${id}`) return { sup, lines };
      lines.push(l);
    }
  }

  const plain = async () => {
    const r = await ex.runCase(`n${seq++}`, [`1 0 0 ${B} 2 0 0`, '6 0 0 0 2'], { timeoutMs: 10_000 });
    expect(r).toContain('x');
    expect(r).toContain('p 0 0 J2');
  };
  const fds = (pid: number) => readdirSync(`/proc/${pid}/fd`).length;
  /** the supervisor between cases: its case processes reaped (it reaps them right after `x`); its
   *  one other child is its zygote, which lives as long as it does */
  const idle = async (sup: number) => {
    const zygote = zygoteOf(sup);
    expect(zygote).toBeDefined();
    await waitFor('the case processes to be reaped', () => (childrenOf(sup).filter((c) => c !== zygote).length === 0 ? true : undefined));
    expect(childrenOf(sup)).toEqual([zygote]);
  };

  it('serves case after case, with and without userfaultfd, and leaves no process or descriptor behind', async () => {
    const first = await pidOfCase(WP_ASYNC);
    expect(first.lines).toContain('x');
    await idle(first.sup);
    const fdsAfterFirst = fds(first.sup);
    for (let i = 0; i < 10; i++) await plain();
    const again = await pidOfCase(WP_ASYNC);
    expect(again.sup).toBe(first.sup);
    expect(again.lines).toEqual(first.lines); // same case, same reply: nothing carried over
    await idle(first.sup);
    expect(fds(first.sup)).toBe(fdsAfterFirst);
  });

  it('cases that need CAP_SYS_PTRACE (event_fork) run on a long-lived supervisor of their own; the capability-free one goes on', async () => {
    if (!eventFork) { console.warn('event_fork is not usable here (not root?): nothing to check'); return; }
    const before = await pidOfCase();
    const ef = await pidOfCase(WP_ASYNC | EVENT_FORK);
    expect(ef.lines).toContain('x');
    expect(ef.sup).not.toBe(before.sup);
    await idle(ef.sup);
    const fdsAfterFirst = fds(ef.sup);
    expect((await pidOfCase()).sup).toBe(before.sup);
    const again = await pidOfCase(WP_ASYNC | EVENT_FORK);
    expect(again.sup).toBe(ef.sup);
    expect(again.lines).toEqual(ef.lines); // same case, same reply: nothing carried over
    await idle(ef.sup);
    expect(fds(ef.sup)).toBe(fdsAfterFirst);
    expect((await pidOfCase()).sup).toBe(before.sup);
  });

  it('a fault of a case ends its supervisor; the next case runs on a new one', async () => {
    const killed = await pidOfCase(-1, (_, procs) => { process.kill(procs[1]!, 'SIGKILL'); });
    expect(killed.lines.filter((l) => l.startsWith('f '))).toEqual(['f case process 1 killed by SIGKILL from outside the case']);
    await waitFor('the supervisor to be gone', () => (procStat(killed.sup) === undefined ? true : undefined));
    const next = await pidOfCase();
    expect(next.lines).toContain('x');
    expect(next.sup).not.toBe(killed.sup);
  });

  it('a zygote killed between two cases is replaced by its supervisor, and the next case is no fault', async () => {
    const { sup } = await pidOfCase();
    await idle(sup);
    const zygote = zygoteOf(sup)!;
    process.kill(zygote, 'SIGKILL');
    await waitFor('the zygote to die', () => (procStat(zygote)?.state === 'Z' || procStat(zygote) === undefined ? true : undefined));
    const next = await pidOfCase();
    expect(next.lines.filter((l) => l.startsWith('f '))).toEqual([]);
    expect(next.lines).toContain('x');
    expect(next.sup).toBe(sup);
    await idle(sup);
    expect(zygoteOf(sup)).not.toBe(zygote);
    expect(procStat(zygote), 'the dead zygote is reaped').toBeUndefined();
  });

  it('a supervisor killed between two cases is replaced, and the next case is no fault', async () => {
    const { sup } = await pidOfCase();
    await idle(sup);
    process.kill(sup, 'SIGKILL');
    await waitFor('the supervisor to die', () => (procStat(sup)?.state === 'Z' || procStat(sup) === undefined ? true : undefined));
    const next = await pidOfCase();
    expect(next.lines.filter((l) => l.startsWith('f '))).toEqual([]);
    expect(next.lines).toContain('x');
    expect(next.sup).not.toBe(sup);
  });
});
