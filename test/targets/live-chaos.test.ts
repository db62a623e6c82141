// Live chaos (issue 18, "chaos suite", live part): a real campaign on the live target while the
// test SIGKILLs and SIGSTOPs the executor, SIGKILLs/SIGTERMs/SIGSTOPs case processes, kills or
// stops case supervisors and kills their zygotes (which fork each case's process 0). What the README
// promises: every such event is a fault, never a violation (no step ever has a signal rc other
// than SIGSEGV/SIGBUS, and every violation the campaign reports reproduces without chaos); the
// campaign keeps running cases after the last event; and nothing is leaked (no process of the
// executor binary is left, stopped or running, once the transport is closed). The executor runs
// from a private copy so that its processes (supervisors, zygotes and case processes keep its
// command line) are told apart from other users' executors.
import { afterAll, describe, expect, it } from 'vitest';
import type { Case } from '../../src/ops/schema.ts';
import type { CaseJob, CaseResult, Transport } from '../../src/transport/transport.ts';
import { InProcessTransport } from '../../src/campaign/inprocess.ts';
import { runCampaign } from '../../src/campaign/campaign.ts';
import { referenceChecker } from '../../src/campaign/checker.ts';
import { LiveTarget } from '../../src/targets/live.ts';
import { childrenOf, executorMissing, privateExecutorCopy, processesOf, procStat, zygoteOf } from '../helpers/executor.ts';

const missing = executorMissing();
if (missing) console.warn(`skipping the live chaos test: ${missing}`);

const LIMIT_MS = 2000; // per-case limit: a stopped executor is declared hung after 3 s
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** the live processes under one executor, by role (polled: a few small /proc reads, so that the
 *  chaos loop does not starve the campaign running on the same thread) */
function roles(exec: number | undefined): { execs: number[]; supervisors: number[]; zygotes: number[]; cases: number[] } {
  const alive = (pid: number) => { const st = procStat(pid); return st !== undefined && st.state !== 'Z'; };
  const execs = exec !== undefined && alive(exec) ? [exec] : [];
  const supervisors = execs.flatMap(childrenOf).filter(alive);
  // each supervisor's other long-lived child, which forks the case processes (ptefarm-mm.h zygote_main)
  const zygotes = supervisors.map(zygoteOf).filter((z): z is number => z !== undefined && alive(z));
  const cases = supervisors.flatMap(childrenOf).filter((pid) => alive(pid) && !zygotes.includes(pid));
  return { execs, supervisors, zygotes, cases };
}

interface Action { what: string; role: 'execs' | 'supervisors' | 'zygotes' | 'cases'; sig: NodeJS.Signals }
const SCHEDULE: Action[] = [
  { what: 'case process SIGKILL', role: 'cases', sig: 'SIGKILL' },
  { what: 'executor SIGKILL', role: 'execs', sig: 'SIGKILL' },
  { what: 'case process SIGKILL', role: 'cases', sig: 'SIGKILL' },
  { what: 'executor SIGSTOP', role: 'execs', sig: 'SIGSTOP' },
  { what: 'case process SIGTERM', role: 'cases', sig: 'SIGTERM' },
  { what: 'supervisor SIGKILL', role: 'supervisors', sig: 'SIGKILL' },
  { what: 'case process SIGSTOP', role: 'cases', sig: 'SIGSTOP' },
  { what: 'case process SIGKILL', role: 'cases', sig: 'SIGKILL' },
  { what: 'executor SIGKILL', role: 'execs', sig: 'SIGKILL' },
  { what: 'supervisor SIGSTOP', role: 'supervisors', sig: 'SIGSTOP' },
  { what: 'case process SIGKILL', role: 'cases', sig: 'SIGKILL' },
  { what: 'zygote SIGKILL', role: 'zygotes', sig: 'SIGKILL' },
  { what: 'executor SIGSTOP', role: 'execs', sig: 'SIGSTOP' },
];

describe.skipIf(missing)('live chaos: faults, never violations, nothing leaked', () => {
  const copy = missing ? undefined : privateExecutorCopy();
  afterAll(() => {
    // whatever happened, leave nothing of ours behind
    if (!copy) return;
    for (const p of processesOf(copy.path)) { try { process.kill(p.pid, 'SIGKILL'); } catch { /* gone */ } }
    copy.remove();
  });

  it('executor SIGKILL/SIGSTOP, supervisor SIGKILL/SIGSTOP, case-process SIGKILL/SIGTERM/SIGSTOP mid-campaign', async () => {
    const path = copy!.path;
    const results: { c: Case; r: CaseResult; at: number }[] = [];
    let live: LiveTarget | undefined;
    const inner = new InProcessTransport(async () => (live = new LiveTarget({ executor: path })));
    const recording: Transport = {
      concurrency: inner.concurrency,
      async run(job: CaseJob, opts) {
        const r = await inner.run(job, opts);
        results.push({ c: job.case, r, at: Date.now() });
        return r;
      },
      close: () => inner.close(),
    };
    const ac = new AbortController();
    const checker = await referenceChecker();
    const campaign = runCampaign({
      target: 'live', transport: recording, checker, seed: 18, cases: 1_000_000, timeoutMs: LIMIT_MS,
      minimize: false, reliabilityRuns: 0, signal: ac.signal,
    });

    // the executor is started and probed by the first case; the chaos is for running cases
    while (results.length < 3) await sleep(50);
    // the chaos: one action about every 400 ms of running cases, each on a process present then
    const seen = new Map<number, string>();
    const hits: { what: string; pid: number; at: number }[] = [];
    for (const a of SCHEDULE) {
      await sleep(400);
      const end = Date.now() + 3000;
      for (;;) {
        const r = roles(live?.pid);
        for (const k of ['execs', 'supervisors', 'zygotes', 'cases'] as const) for (const pid of r[k]) seen.set(pid, k);
        const victim = r[a.role][Math.floor(Math.random() * r[a.role].length)];
        if (victim) {
          try { process.kill(victim, a.sig); hits.push({ what: a.what, pid: victim, at: Date.now() }); } catch { /* just ended */ }
          break;
        }
        if (Date.now() > end) break;
        await sleep(1);
      }
    }
    const lastHit = Math.max(...hits.map((h) => h.at));
    // the next cases still run: wait for a stretch of clean cases after the last event
    const cleanAfter = () => results.filter((x) => x.at > lastHit + 2 * LIMIT_MS && !x.r.fault && !x.r.trace?.fault).length;
    const deadline = Date.now() + 20_000;
    while (cleanAfter() < 20 && Date.now() < deadline) await sleep(100);
    ac.abort();
    const summary = await campaign;
    await recording.close();

    // faults, never violations
    const faultOf = (x: { r: CaseResult }) => x.r.fault ?? x.r.trace?.fault;
    const faults = results.map(faultOf).filter((f): f is string => f !== undefined);
    const signalRcs = results.flatMap((x) => (x.r.trace?.steps ?? []).map((s) => s.rc)).filter((rc) => typeof rc === 'string' && /^SIG/.test(rc) && rc !== 'SIGSEGV' && rc !== 'SIGBUS');
    expect(signalRcs, 'a signal from outside became an op rc').toEqual([]);
    const violating = results.filter((x) => !faultOf(x) && x.r.trace && checker.check(x.c, x.r.trace).violations.length);
    // a violation must be the kernel's or the model's, not the chaos': it reproduces on a quiet executor
    const quiet = new LiveTarget({ executor: path });
    let rerun = 0;
    try {
      for (const x of violating.slice(0, 10)) {
        const sigs = (tr: NonNullable<CaseResult['trace']>) => [...new Set(checker.check(x.c, tr).violations.map((v) => checker.signature(v)))].sort();
        const again = await quiet.execute(x.c, { timeoutMs: 10_000 });
        expect(again.fault).toBeUndefined();
        const before = sigs(x.r.trace!);
        expect(sigs(again).filter((s) => before.includes(s)), `violation gone without chaos: ${JSON.stringify(x.c)} ${before.join(' ')}`).not.toEqual([]);
        rerun++;
      }
    } finally { await quiet.close(); }

    // the faults say what happened
    const count = (re: RegExp) => faults.filter((f) => re.test(f)).length;
    const figures = {
      cases: results.length, faults: faults.length, actions: hits.length,
      violations: violating.length, violations_rerun_quietly_and_reproduced: rerun,
      case_process_killed: count(/^case process \d+ killed by SIG\w+ from outside the case/),
      case_process_stopped: count(/^case process \d+ stopped by SIGSTOP from outside the case/),
      supervisor_killed_or_stopped: count(/^supervisor (killed|stopped) by SIG\w+ from outside the case/),
      executor_killed: count(/^executor killed by SIGKILL during the case/),
      executor_hung: count(/^executor hung: no reply within 3000 ms \(killed/),
      other: faults.filter((f) => !/from outside the case|^executor (killed by SIGKILL during|hung: no reply)|^process \d+ died/.test(f)),
      clean_after_last_action: cleanAfter(),
      campaign: { cases: summary.cases, faults: summary.faults, violations: summary.violations, stopped: summary.stopped },
    };
    console.log(`live chaos figures: ${JSON.stringify(figures)}`);
    expect(figures.other, 'faults nobody caused').toEqual([]);
    const stops = hits.filter((h) => h.what === 'executor SIGSTOP').length;
    expect(figures.executor_hung, 'a SIGSTOP of the executor is a hang, killed').toBeGreaterThanOrEqual(Math.min(1, stops));
    expect(figures.executor_hung).toBeLessThanOrEqual(stops);
    expect(figures.case_process_killed + figures.case_process_stopped, 'case-process signals seen as faults').toBeGreaterThan(0);
    expect(figures.clean_after_last_action, 'cases run after the last action').toBeGreaterThanOrEqual(20);

    // nothing leaked: every process of ours is gone (or a zombie about to be reaped), none stopped
    // (a killed process may take a moment to be reaped on a loaded host; a leaked one stays)
    for (const end = Date.now() + 5000; processesOf(path).length && Date.now() < end;) await sleep(100);
    expect(processesOf(path), 'processes of the executor left after close').toEqual([]);
    const left = [...seen.keys()].map((pid) => ({ pid, role: seen.get(pid), st: procStat(pid) })).filter((p) => p.st && p.st.state !== 'Z');
    expect(left).toEqual([]);
  }, 90_000);
});
