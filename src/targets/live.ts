// The `live` target: the host kernel, through the native executor (workers/executor). The case is
// planned here (region addresses from the static plan, src/ops/plan.ts, as validation places them) and
// sent as numeric lines; the executor answers with compact step lines that are turned into a
// Trace. Protocol: src/targets/executor/protocol.ts (and workers/executor/README.md).
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { threadId } from 'node:worker_threads';
import type { Case, Op } from '../ops/schema.ts';
import type { Trace, TargetInfo } from '../ops/trace.ts';
import { targetHangGraceMs, type ExecuteOptions, type Target } from './target.ts';
import { capabilitiesOf, geometryOfProbe, hostSettingsOf, DEFAULT_EXECUTOR, parseProbeLine, probeFromFacts, type ProbeResult } from './probe.ts';
import { assessHost, formatRefusal, HostRefusedError, thpCaseSkipReason } from './host-policy.ts';
import { hugetlbSkipReason, usesHugetlb } from './hugetlb-host.ts';

// the executor protocol (op codes, request encoding, reply decoding): src/targets/executor/protocol.ts
import { decodeReply, encodeCase, type EncodedCase } from './executor/protocol.ts';

/** One running executor process. Its output is kept as one string: read a line at a time (the
 *  ready and probe lines) or a case's whole reply at once (block(): one split when its end line is
 *  in, not a string and a promise per line). It leads its own process group, so that a kill
 *  reaches whatever of it is still in that group; its case supervisors (own groups) and case
 *  processes die with it (PR_SET_PDEATHSIG, workers/executor/README.md). */
class ExecutorProcess {
  readonly child: ChildProcessWithoutNullStreams;
  private buf = '';
  /** where the search for the awaited end line goes on (what is before was searched) */
  private scanned = 0;
  /** the reader waiting: for a line (`end` undefined) or for the text up to and including `end` */
  private waiter?: { end?: string; resolve: (text: string | null) => void };
  exited: string | null = null;
  stderr = '';

  constructor(path: string, args: string[]) {
    this.child = spawn(path, args, { stdio: ['pipe', 'pipe', 'pipe'], detached: true });
    this.child.stdout.setEncoding('utf8');
    this.child.stdout.on('data', (d: string) => {
      this.buf += d;
      if (this.waiter) this.serve();
    });
    this.child.stderr.on('data', (d: Buffer) => { this.stderr = (this.stderr + d.toString()).slice(-2000); });
    this.child.stdin.on('error', () => { /* reported through exit */ });
    const onExit = (code: number | null, sig: NodeJS.Signals | null) => {
      this.exited ??= sig ? `killed by ${sig}` : `exited with code ${code}`;
      this.fail();
    };
    this.child.on('exit', onExit);
    this.child.on('error', (e) => { this.exited ??= `could not run: ${e.message}`; onExit(null, null); });
  }

  /** what the waiter asked for, taken from the buffer, or undefined when not in yet */
  private take(end: string | undefined): string | undefined {
    if (end === undefined) {
      const i = this.buf.indexOf('\n');
      if (i < 0) return undefined;
      const line = this.buf.slice(0, i);
      this.buf = this.buf.slice(i + 1);
      this.scanned = 0;
      return line;
    }
    let stop: number;
    if (this.buf.startsWith(`${end}\n`)) stop = end.length + 1;
    else {
      const key = `\n${end}\n`;
      const i = this.buf.indexOf(key, Math.max(0, this.scanned - key.length));
      if (i < 0) { this.scanned = this.buf.length; return undefined; }
      stop = i + key.length;
    }
    const text = this.buf.slice(0, stop - 1);
    this.buf = this.buf.slice(stop);
    this.scanned = 0;
    return text;
  }

  private serve(): void {
    const w = this.waiter;
    if (!w) return;
    const got = this.take(w.end);
    if (got === undefined) return;
    this.waiter = undefined;
    w.resolve(got);
  }

  /** the waiter gets null: the process is gone */
  private fail(): void {
    if (this.waiter) { const w = this.waiter; this.waiter = undefined; w.resolve(null); }
  }

  /** the text up to and including the line `end` (or the next line when `end` is undefined); null
   *  when the process is gone or `ms` passed first (`timedOut` tells which) */
  private wait(end: string | undefined, ms: number): Promise<{ text: string | null; timedOut: boolean }> {
    const got = this.take(end);
    if (got !== undefined) return Promise.resolve({ text: got, timedOut: false });
    if (this.exited) return Promise.resolve({ text: null, timedOut: false });
    return new Promise((resolve) => {
      const timer = setTimeout(() => { this.waiter = undefined; resolve({ text: null, timedOut: true }); }, ms);
      this.waiter = { end, resolve: (text) => { clearTimeout(timer); resolve({ text, timedOut: false }); } };
    });
  }

  /** next line, or null when the process is gone or `ms` passed */
  async next(ms: number): Promise<string | null | 'timeout'> {
    const r = await this.wait(undefined, ms);
    return r.timedOut ? 'timeout' : r.text;
  }

  /** Every line up to the line `end` (not included), or, when the process is gone or `ms` passed
   *  first (`lost`), the lines it wrote so far (left in the buffer: the process is not used again). */
  async block(end: string, ms: number): Promise<{ lines: string[]; lost?: 'timeout' | 'gone' }> {
    const r = await this.wait(end, ms);
    if (r.text !== null) {
      const lines = r.text.split('\n');
      lines.pop();
      return { lines };
    }
    const lines = this.buf.split('\n');
    lines.pop(); // an unfinished line
    return { lines, lost: r.timedOut ? 'timeout' : 'gone' };
  }

  send(text: string): void { this.child.stdin.write(text); }
  /** SIGKILL the executor's process group (a stopped executor dies too). It counts as gone at
   *  once: its exit may be reported later (a worker thread's loop reaps children lazily), and the
   *  next case must not be sent to it meanwhile. */
  kill(): void {
    if (this.exited) return;
    const pid = this.child.pid;
    try {
      if (pid === undefined) throw new Error('no pid');
      process.kill(-pid, 'SIGKILL');
    } catch { this.child.kill('SIGKILL'); }
    this.exited = 'killed by the live target';
    this.fail();
  }
}

export interface LiveOptions {
  /** executor binary (default workers/executor/ptefarm-exec) */
  executor?: string;
  /** CPU the case processes are pinned to (default: the executor's first allowed CPU) */
  cpu?: number;
  /** wall-clock limit per case, enforced by the executor (default 10 s; a job's own limit,
   *  `execute(c, { timeoutMs })`, wins) */
  caseTimeoutMs?: number;
  /** test only: make the executor's supervisor hang or crash at this op */
  inject?: { kind: 'hang' | 'crash'; op: number };
  /** re-runs of a case the host interfered with (an `environment:` fault) before reporting it (default 2) */
  environmentRetries?: number;
}

/** The CPU for the executor of this thread: worker threads round-robin over the CPUs this
 *  process may run on (Cpus_allowed_list; a cpuset need not start at 0). */
function defaultCpu(): number | undefined {
  let cpus: number[] = [];
  try {
    const m = /^Cpus_allowed_list:\s*(.+)$/m.exec(readFileSync('/proc/self/status', 'utf8'));
    for (const part of (m?.[1] ?? '').split(',')) {
      const [a, b] = part.split('-').map(Number);
      if (Number.isInteger(a)) for (let c = a; c <= (Number.isInteger(b) ? b : a); c++) cpus.push(c);
    }
  } catch { cpus = []; }
  return cpus.length > 1 ? cpus[threadId % cpus.length] : undefined;
}

/** What every case of one probe reading shares: the trace's target record, the host refusals, the
 *  page geometry (worked out once per reading, not per case). */
interface ProbeDerived { probe: ProbeResult; target: TargetInfo; refusals: ReturnType<typeof assessHost>['refusals']; geometry: ReturnType<typeof geometryOfProbe> }

/** the fault of a case that would need an executor after close() */
const CLOSED = 'live target: closed (no executor is started after close)';

export class LiveTarget implements Target {
  private proc?: ExecutorProcess;
  private probe?: ProbeResult;
  private derived?: ProbeDerived;
  private execFacts: Record<string, string> | null = null;
  private filesReadAt = 0;
  private chain: Promise<unknown> = Promise.resolve();
  /** cases whose exchange waits for the one before (serial) */
  private waitingCases = 0;
  /** Write-ahead: the executor reads its requests in order, so a case is written to it when it
   *  queues, not when its turn comes, and the executor starts it the moment the one before ends
   *  instead of idling until this thread (busy checking the previous case) answers a reply. Safe
   *  only while the sends stay in turn order: `aheadTo` is the process the last queued case was
   *  written to (undefined: it will be sent at its turn, so later ones must wait for theirs too). */
  private aheadTo?: ExecutorProcess;
  private queuedCases = 0;
  /** set by close(): no executor is started after it (a case still queued then, or a late
   *  execute, gets a fault instead of a process nobody will close) */
  private closed = false;
  private seq = 0;
  /** how many times an executor process was started (restarts after a death count too) */
  starts = 0;
  readonly path: string;
  /** cases wait for each other on the one executor; ExecuteOptions.onStart tells each one's turn */
  readonly reportsCaseStart = true;

  constructor(readonly opts: LiveOptions = {}) {
    this.path = opts.executor ?? DEFAULT_EXECUTOR;
    if (!existsSync(this.path)) throw new Error(`live target: native executor ${this.path} is not built; run \`make -C workers/executor\``);
  }

  /** pid of the running executor (for tests that kill it) */
  get pid(): number | undefined { return this.running?.child.pid; }

  /** the executor process, while it runs */
  private get running(): ExecutorProcess | undefined { return this.proc && !this.proc.exited ? this.proc : undefined; }

  private async ensure(): Promise<ExecutorProcess> {
    const running = this.running;
    if (running) return running;
    if (this.closed) throw new Error(CLOSED);
    // each executor pins its cases to one CPU (MADV_PAGEOUT reclaims only pages faulted on the
    // local CPU); spread the executors of a pool over the CPUs we may use
    const cpu = this.opts.cpu ?? defaultCpu();
    const args = cpu !== undefined ? ['--cpu', String(cpu)] : [];
    const p = new ExecutorProcess(this.path, args);
    this.starts++;
    const ready = await p.next(10_000);
    if (typeof ready !== 'string' || ready === 'timeout' || !ready.startsWith('ready ')) {
      p.kill();
      throw new Error(`live target: executor did not start (${ready === 'timeout' ? 'no ready line in 10 s' : p.exited ?? ready}) ${p.stderr.trim()}`);
    }
    // closed while this one started: close() did not see it, so it is not kept
    if (this.closed) { p.kill(); throw new Error(CLOSED); }
    this.proc = p;
    return p;
  }

  private serial<T>(f: () => Promise<T>): Promise<T> {
    const r = this.chain.then(f, f);
    this.chain = r.catch(() => undefined);
    return r;
  }

  async info(): Promise<TargetInfo> {
    const probe = await this.ready();
    // host: the settings and the page geometry traces carry (generators size THP regions by it)
    return { name: 'live', arch: probe.arch, kernel: probe.kernel, capabilities: capabilitiesOf(probe), host: hostSettingsOf(probe) };
  }

  /** what the executor and this machine report, whether or not the target refuses this host */
  probeResult(): Promise<ProbeResult> { return this.getProbe(); }

  /** Throws HostRefusedError when this host has a setting the model does not cover
   *  (src/targets/host-policy.ts); otherwise the warnings worth printing (khugepaged not throttled). */
  async hostCheck(): Promise<string[]> {
    const a = assessHost(await this.getProbe());
    if (a.refusals.length) throw new HostRefusedError('live target', a.refusals);
    return a.warnings;
  }

  /** the probe, once the host is known to be covered */
  private async ready(): Promise<ProbeResult> {
    await this.hostCheck();
    return this.getProbe();
  }

  /** The probe with this machine's files read again when the last reading is older than 250 ms:
   *  swap and THP settings can change while a campaign runs (the executor's behaviour facts stay). */
  private getProbe(): Promise<ProbeResult> {
    if (this.probe) {
      if (Date.now() - this.filesReadAt > 250) {
        this.probe = probeFromFacts(this.execFacts, this.path);
        this.filesReadAt = Date.now();
      }
      return Promise.resolve(this.probe);
    }
    return this.serial(async () => {
      if (this.probe) return this.probe;
      const p = await this.ensure();
      p.send('probe\n');
      let facts: Record<string, string> | null = null;
      for (;;) {
        const l = await p.next(10_000);
        if (l === null || l === 'timeout') {
          p.kill(); // a hung executor is not kept for the next attempt
          throw new Error(`live target: executor probe failed (${l === 'timeout' ? 'executor hung: no reply within 10000 ms (killed)' : p.exited})`);
        }
        if (l.startsWith('probe ')) facts = parseProbeLine(l);
        if (l === 'end probe') break;
      }
      this.execFacts = facts;
      this.probe = probeFromFacts(facts, this.path);
      this.filesReadAt = Date.now();
      return this.probe;
    });
  }

  /** the per-reading values of `probe` (a new reading every 250 ms at most, getProbe) */
  private derivedOf(probe: ProbeResult): ProbeDerived {
    if (this.derived?.probe === probe) return this.derived;
    const target = { name: 'live', arch: probe.arch, kernel: probe.kernel, capabilities: capabilitiesOf(probe), host: hostSettingsOf(probe) };
    this.derived = { probe, target, refusals: assessHost(probe).refusals, geometry: geometryOfProbe(probe) };
    return this.derived;
  }

  /** why a whole case cannot run here, or undefined */
  caseSkipReason(c: Case, probe: ProbeResult, geometry = geometryOfProbe(probe)): string | undefined {
    const thp = thpCaseSkipReason(c, probe);
    if (thp) return thp;
    // the free hugetlb pages are read now (hugetlbSkipReason's default), only for a case that uses them
    const huge = usesHugetlb(c) ? hugetlbSkipReason(c, geometry, undefined, probe.userfaultfd ? Number(probe.uffd_features) : undefined) : undefined;
    if (huge) return huge;
    if (!c.uffd) return undefined;
    if (!probe.userfaultfd) return 'userfaultfd is not available on this host';
    if (!probe.uffd_wp) return 'userfaultfd write-protect (UFFDIO_REGISTER_MODE_WP) is not available on this host';
    for (const f of c.uffd.features ?? []) {
      if (!probe[f]) {
        return f === 'event_fork'
          ? 'UFFD_FEATURE_EVENT_FORK is not usable here (needs CAP_SYS_PTRACE for the case processes)'
          : `userfaultfd feature ${f} is not supported by this kernel`;
      }
    }
    return undefined;
  }

  opSkipReason(op: Op, probe: ProbeResult): string | undefined {
    if (op.op === 'pageout' && !probe.swap) return 'no active swap: MADV_PAGEOUT cannot reclaim (run `ptefarm setup --swap` as root)';
    if (op.op === 'scan' && !probe.pagemap_scan) return 'PAGEMAP_SCAN is not supported by this kernel';
    // guard regions are observed through pagemap bit 58, which came with PAGE_IS_GUARD (6.15)
    if ((op.op === 'guard' || op.op === 'unguard') && !probe.scan_guard) return 'this kernel has no PAGE_IS_GUARD (6.15+): guard regions cannot be observed';
    return undefined;
  }

  async execute(c: Case, opts: ExecuteOptions = {}): Promise<Trace> {
    const probe = await this.getProbe();
    const { refusals, geometry, target: shared } = this.derivedOf(probe);
    // each trace its own target record (a caller may change its trace)
    const target: TargetInfo = { ...shared, capabilities: { ...shared.capabilities }, ...(shared.host ? { host: { ...shared.host } } : {}) };
    // checked before every case: a setting changed since the target started is the environment's
    // doing (the CLI refuses a host that starts that way, src/targets/registry.ts openCheckedTarget)
    if (refusals.length) return { format: 'ptefarm-trace/1', target, steps: [], fault: `environment: a host setting changed while the live target ran: ${formatRefusal('live target', refusals)}` };
    const caseSkip = this.caseSkipReason(c, probe, geometry);
    if (caseSkip) return { format: 'ptefarm-trace/1', target, steps: [], skipped: caseSkip };
    const enc = encodeCase(c, (op) => this.opSkipReason(op, probe), geometry);
    const asked = opts.timeoutMs ?? this.opts.caseTimeoutMs ?? 10_000;
    // the executor takes a whole number of ms in 1..3,600,000 (workers/executor/README.md)
    const timeout = Number.isFinite(asked) ? Math.min(3_600_000, Math.max(1, Math.ceil(asked))) : 10_000;
    // khugepaged or reclaim interfering with a case is rare and passes: run it again (fresh
    // processes, fresh memory) before reporting the environment fault
    const attempts = 1 + (this.opts.environmentRetries ?? 2);
    for (let attempt = 1; ; attempt++) {
      // only the exchange with the executor is serial: the reply is decoded once the executor has
      // the next case (a pool thread running several jobs at once sends it meanwhile)
      this.waitingCases++;
      const sent = this.writeAhead(enc, timeout);
      const reply = await this.serial(() => {
        this.waitingCases--;
        if (attempt === 1) opts.onStart?.();
        return this.exchange(enc, timeout, sent);
      }).finally(() => { if (--this.queuedCases === 0) this.aheadTo = undefined; });
      // A case waiting for the executor is sent in the microtasks that follow this reply (serial's
      // chain), but this continuation (the reply's decoding below) would run first, the executor
      // idle meanwhile: yield a turn first, so that it decodes while the executor runs the next.
      if (this.waitingCases > 0) await new Promise<void>((r) => setImmediate(r));
      const tr = this.traceOf(reply, enc, target);
      if (!tr.fault?.startsWith('environment:') || attempt >= attempts) {
        if (tr.fault?.startsWith('environment:') && attempts > 1) tr.fault += ` (in each of ${attempts} runs)`;
        return tr;
      }
    }
  }

  private request(id: string, enc: EncodedCase, timeout: number): string {
    const inject = this.opts.inject ? ` ${this.opts.inject.kind === 'hang' ? 1 : 2} ${this.opts.inject.op}` : '';
    return `case ${id} ${enc.lines.length} ${enc.uffdFeatures} ${timeout}${inject}\n${enc.lines.join('\n')}\n`;
  }

  /** Queue a case's turn: written to the running executor now when every case queued before it
   *  was written to that same process (or none is queued), else undefined (sent at its turn). */
  private writeAhead(enc: EncodedCase, timeout: number): { p: ExecutorProcess; id: string } | undefined {
    const p = this.running;
    const ok = p && (this.queuedCases === 0 || this.aheadTo === p);
    this.queuedCases++;
    if (!ok) { this.aheadTo = undefined; return undefined; }
    const id = `c${++this.seq}`;
    p.send(this.request(id, enc, timeout));
    this.aheadTo = p;
    return { p, id };
  }

  /** Send one case (unless it was written ahead to the process still running) and collect its
   *  reply's lines; `lost`: the executor died or hung meanwhile. */
  private async exchange(enc: EncodedCase, timeout: number, sent?: { p: ExecutorProcess; id: string }): Promise<{ lines: string[]; lost?: string }> {
    let p = this.running;
    let id: string;
    if (sent && sent.p === p) id = sent.id;
    else {
      // not written ahead (sent now, at its turn: no case queued after it was written ahead), or
      // written ahead to an executor that is gone: sent again to its successor, which has nothing
      // queued before it (every case written ahead after this one went to the dead process too)
      id = `c${++this.seq}`;
      if (!p) {
        try { p = await this.ensure(); } catch (e) { return { lines: [], lost: (e as Error).message }; }
      }
      p.send(this.request(id, enc, timeout));
    }
    // The executor enforces `timeout`; this watchdog only catches an executor that stopped
    // answering (stopped, wedged): it is killed, and the next case starts a new one.
    const hangMs = timeout + targetHangGraceMs(timeout);
    const r = await p.block(`end ${id}`, hangMs);
    // what came before this case's begin line is not its reply
    const from = r.lines.indexOf(`begin ${id}`);
    const lines = from < 0 ? [] : r.lines.slice(from + 1);
    if (r.lost === 'timeout') { p.kill(); return { lines, lost: `executor hung: no reply within ${hangMs} ms (killed; it will be restarted)` }; }
    if (r.lost) return { lines, lost: `executor ${p.exited ?? 'died'} during the case; it will be restarted${p.stderr ? ': ' + p.stderr.trim().slice(-300) : ''}` };
    return { lines };
  }

  private traceOf(reply: { lines: string[]; lost?: string }, enc: EncodedCase, target: TargetInfo): Trace {
    const trace: Trace = { format: 'ptefarm-trace/1', target, steps: [] };
    try {
      const { steps, fault } = decodeReply(reply.lines, enc, target.capabilities.soft_dirty, target.capabilities.pagemap_scan);
      trace.steps = steps;
      if (fault) trace.fault = fault;
    } catch (e) {
      trace.fault = `bad executor output: ${(e as Error).message}`;
    }
    if (reply.lost) trace.fault = reply.lost;
    return trace;
  }

  async close(): Promise<void> {
    this.closed = true;
    const p = this.proc;
    this.proc = undefined;
    if (!p || p.exited) return;
    p.send('quit\n');
    p.child.stdin.end();
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => { p.kill(); resolve(); }, 2000);
      p.child.once('exit', () => { clearTimeout(t); resolve(); });
      if (p.exited) { clearTimeout(t); resolve(); }
    });
  }
}
