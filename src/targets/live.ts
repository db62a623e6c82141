// The `live` target: the host kernel, through the native executor (workers/executor). The case is
// planned here (region addresses from the static plan, src/ops/plan.ts, as validation places them) and
// sent as numeric lines; the executor answers with compact step lines that are turned into a
// Trace. Protocol: workers/executor/README.md.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { threadId } from 'node:worker_threads';
import { atLeastV2, type Case, type Feature, type Op } from '../ops/schema.ts';
import { hugetlbSkipReason } from './hugetlb-host.ts';
import { CasePlan } from '../ops/plan.ts';
import { DEFAULT_LIMITS, GEOMETRY_4K, limitsFor, type PageGeometry } from '../ops/layout.ts';
import { pageLetters, SCAN_LETTERS, type Outcome, type Step, type Trace, type TargetInfo, type UffdEvent } from '../ops/trace.ts';
import { targetHangGraceMs, type ExecuteOptions, type Target } from './target.ts';
import { dict, own } from '../ops/records.ts';
import { capabilitiesOf, geometryOfProbe, hostSettingsOf, DEFAULT_EXECUTOR, parseProbeLine, probeFromFacts, type ProbeResult } from './probe.ts';
import { assessHost, formatRefusal, HostRefusedError, thpCaseSkipReason } from './host-policy.ts';

export const OP_CODES: Record<Op['op'] | 'skip', number> = {
  skip: 0, mmap: 1, munmap: 2, mremap: 3, mprotect: 4, read: 5, write: 6, fork: 7, exit: 8, clear_refs: 9,
  pageout: 10, dontneed: 11, collapse: 12, split: 13, uffd_register: 14, uffd_unregister: 15, wp: 16, scan: 17,
  populate: 18, close_uffd: 19, guard: 20, unguard: 21,
};
/** C_SCAN's extension bits and the packed category masks (workers/executor/ptefarm-uapi.h SCAN_*) */
export const SCAN_EXPLICIT = 1, SCAN_CHECK_WPASYNC = 2, SCAN_NO_VEC = 4, SCAN_DEFAULT_RETURN = 8;
const ALL_CATEGORIES = 0x1ff;
function categoryBits(letters: string | undefined, dflt: number): number {
  if (letters === undefined) return dflt;
  let m = 0;
  for (const ch of letters) m |= 1 << SCAN_LETTERS.indexOf(ch as (typeof SCAN_LETTERS)[number]);
  return m;
}
/** the scan op's extra numbers: wp_matching max_pages bits masks. A /1 case's scan keeps the /1
 *  meaning (bits 0: the executor picks the masks and reports no walk_end). */
function scanExtra(op: Extract<Op, { op: 'scan' }>, v2: boolean): string {
  const wp = op.wp_matching ? 1 : 0;
  if (!v2) return ` ${wp} ${op.max_pages ?? 0}`; // the /1 line, which executors built before /2 read too
  const bits = SCAN_EXPLICIT | ((op.check_wpasync ?? !!op.wp_matching) ? SCAN_CHECK_WPASYNC : 0) | (op.no_vec ? SCAN_NO_VEC : 0) |
    // no return_mask: every category the kernel knows (GUARD only from 6.15: ptefarm-mm.h scan_return_mask)
    (op.return_mask === undefined ? SCAN_DEFAULT_RETURN : 0);
  const masks = categoryBits(op.category_mask, op.wp_matching ? 2 : 0) + categoryBits(op.category_inverted, 0) * 2 ** 9 +
    categoryBits(op.category_anyof_mask, 0) * 2 ** 18 + categoryBits(op.return_mask, ALL_CATEGORIES) * 2 ** 27;
  return ` ${wp} ${op.max_pages ?? 0} ${bits} ${masks}`;
}
const OP_NAMES: Record<number, string> = Object.fromEntries(Object.entries(OP_CODES).map(([k, v]) => [v, k]));
const KIND_CODES = { anon: 0, 'shared-anon': 1, 'memfd-shared': 2, 'memfd-private': 3, hugetlb: 4, 'hugetlb-shared': 5 } as const;
const PROT_CODES = { none: 0, r: 1, rw: 3 } as const;
export const FEATURE_BITS: Record<Feature, number> = {
  event_fork: 1 << 1, event_remap: 1 << 2, event_unmap: 1 << 6, wp_unpopulated: 1 << 13, wp_async: 1 << 15,
};
/** 6-bit pagemap codes (P S F E W D = bits 0..5) travel as one character of this alphabet */
export const CODE_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz!#$%&()*+,-./';
const PAGE_LETTERS = 'PSFEWD';

export interface EncodedCase {
  /** op lines, one per case op, numeric */
  lines: string[];
  /** region id -> name */
  regionNames: string[];
  uffdFeatures: number; // -1: no userfaultfd
  /** op index -> reason, for ops the host cannot run (not executed; their step is still observed) */
  skipped: Map<number, string>;
  /** letters per page string: 7 (with G) for a ptefarm-case/2 case (src/ops/trace.ts pageLetters) */
  letters?: 6 | 7;
}

/** a code from one of the tables above: own keys only (`constructor` is no kind) */
function table(t: Readonly<Record<string, number>>, key: string, i: number, what: string): number {
  const v = own(t, key);
  if (v === undefined) throw new Error(`ops[${i}]: unknown ${what} ${JSON.stringify(String(key).slice(0, 40))} (validate the case first)`);
  return v;
}

/** Plan a validated case into executor lines: region addresses come from the case's static plan
 *  (src/ops/plan.ts, as validation computes it). `skip(op)` returns a reason to not execute an op;
 *  the plan still follows a skipped op (it is static, whatever the host does). Page numbers count
 *  the target's pages: `geometry` is what its executor measured (src/targets/probe.ts
 *  geometryOfProbe), which places the arena slots and bounds the region size. */
export function encodeCase(c: Case, skip: (op: Op) => string | undefined = () => undefined, geometry: PageGeometry = GEOMETRY_4K): EncodedCase {
  const ids = new Map<string, number>();
  const regionNames: string[] = [];
  const id = (name: string) => {
    let i = ids.get(name);
    if (i === undefined) { i = regionNames.length; ids.set(name, i); regionNames.push(name); }
    return i;
  };
  // the executor is compiled for the limits table: a case validated with larger limits is refused
  // here with the problem, instead of faulting in the executor
  const limits = limitsFor(geometry);
  const plan = new CasePlan({ uffd: c.uffd !== undefined, limits, geometry });
  if (c.ops.length > limits.maxOps) throw new Error(`ops: ${c.ops.length} ops exceed the executor's limit of ${limits.maxOps}`);
  const lines: string[] = [];
  const skipped = new Map<number, string>();
  c.ops.forEach((op, i) => {
    const p = op.proc ?? 0;
    const before = op.op === 'mremap' ? plan.regionOf(p, op.region) : undefined;
    const problems = plan.step(op, i);
    if (problems.length) throw new Error(`${problems[0]} (the case does not fit the executor's limits or was not validated)`);
    const reason = skip(op);
    if (reason !== undefined) {
      skipped.set(i, reason);
      lines.push(`${OP_CODES.skip} ${p}`);
      return;
    }
    const reg = (name: string) => plan.regionOf(p, name)!;
    const code = own(OP_CODES, op.op);
    if (code === undefined) throw new Error(`ops[${i}].op: unknown op (validate the case first)`);
    switch (op.op) {
      case 'mmap': {
        const start = reg(op.region).start;
        lines.push(`${code} ${p} ${id(op.region)} ${start} ${op.pages} ${table(KIND_CODES, op.kind, i, 'kind')} ${op.thp ? 1 : 0}`);
        return;
      }
      case 'mremap': {
        const pages = op.pages ?? before!.pages;
        const move = op.move ?? true;
        const oldId = op.dontunmap && op.old !== undefined ? id(op.old) : -1;
        const after = reg(op.region);
        // in place, the plan keeps the old size when the growth is blocked (ENOMEM)
        const apply = move || after.pages === pages ? 1 : 0;
        const newStart = move ? after.start : 0;
        lines.push(`${code} ${p} ${id(op.region)} ${pages} ${move ? 1 : 0} ${op.dontunmap ? 1 : 0} ${oldId} ${newStart} ${apply}`);
        return;
      }
      case 'fork': case 'exit': lines.push(`${code} ${p}`); return;
      case 'clear_refs': lines.push(`${code} ${p} ${op.value ?? 4}`); return;
      case 'close_uffd': lines.push(`${code} ${p} -1`); return; // region id -1: none
      case 'split': lines.push(`${code} ${p} ${id(op.region)} ${op.page}`); return;
      default: {
        // ranges of the region's size before the op (munmap does not change the size)
        const r = reg(op.region);
        const first = op.first ?? 0;
        const count = op.count ?? r.pages - first;
        let extra = '';
        if (op.op === 'mprotect') extra = ` ${table(PROT_CODES, op.prot, i, 'prot')}`;
        if (op.op === 'wp') extra = ` ${op.on ? 1 : 0}`;
        if (op.op === 'scan') extra = scanExtra(op, atLeastV2(c.format));
        if (op.op === 'populate') extra = ` ${op.write ? 1 : 0}`;
        lines.push(`${code} ${p} ${id(op.region)} ${first} ${count}${extra}`);
      }
    }
  });
  const uffdFeatures = c.uffd ? (c.uffd.features ?? []).reduce((m, f, k) => m | table(FEATURE_BITS, f, k, 'feature'), 0) : -1;
  return { lines, regionNames, uffdFeatures, skipped, letters: pageLetters(c) };
}

export function decodePages(rle: string, softDirty: boolean, letters: 6 | 7 = 6): string[] {
  const out: string[] = [];
  let i = 0;
  while (i < rle.length) {
    const v = CODE_ALPHABET.indexOf(rle[i]);
    if (v < 0) throw new Error(`bad page code ${JSON.stringify(rle[i])} in executor output`);
    i++;
    let j = i;
    while (j < rle.length && rle[j] >= '0' && rle[j] <= '9') j++;
    const n = j > i ? Number(rle.slice(i, j)) : 1;
    i = j;
    let s = '';
    for (let b = 0; b < 6; b++) s += b === 5 && !softDirty ? '?' : (v >> b) & 1 ? PAGE_LETTERS[b] : '.';
    if (letters === 7) s += '.'; // a `g` line after the `p` line sets G
    for (let k = 0; k < n; k++) out.push(s);
  }
  return out;
}

function scanLetters(cats: number): string {
  let s = '';
  for (let b = 0; b < SCAN_LETTERS.length; b++) s += (cats >> b) & 1 ? SCAN_LETTERS[b] : '.';
  return s;
}

/** The only signals an op can raise by itself, i.e. the only signal rcs a trace may carry (R-FLT-14,
 *  R-FLT-15). The executor reports any other signal as a fault; an executor that does not (an older
 *  build, e.g. inside a QEMU image) must not turn a kill from outside into a compared rc. */
const OP_SIGNALS: ReadonlySet<string> = new Set(['SIGSEGV', 'SIGBUS']);

/** Build the steps of a trace from the executor's reply lines (between `begin` and `end`). */
/** `pagemapScan`: the host has PAGEMAP_SCAN. Without it the `zero` outcome cannot be known (the
 *  executor's supervisor prints it anyway), so it is dropped and the check infers it instead. */
export function decodeReply(lines: string[], enc: EncodedCase, softDirty: boolean, pagemapScan = true): { steps: Step[]; fault?: string } {
  const steps: Step[] = [];
  let fault: string | undefined;
  let step: Step | undefined;
  const name = (rid: string) => {
    const n = enc.regionNames[Number(rid)];
    if (n === undefined) throw new Error(`executor named unknown region id ${rid}`);
    return n;
  };
  for (const line of lines) {
    const t = line.split(' ');
    switch (t[0]) {
      case 's': {
        const op = Number(t[1]);
        // region-keyed records are prototype-free: a region may be called `__proto__`
        step = { op, rc: t[2] === '0' ? 0 : t[2], outcome: { huge: dict(), swapped_out: dict() }, events: [], pages: dict() };
        if (/^SIG/.test(t[2] ?? '') && !OP_SIGNALS.has(t[2])) fault ??= `step ${op}: the executor reported ${t[2]}, which no op raises (a signal from outside the case); not compared`;
        const why = enc.skipped.get(op);
        if (why !== undefined) step.skipped = why;
        steps.push(step);
        break;
      }
      case 'h': case 'o': case 'z': {
        if (!step) throw new Error(`executor line before any step: ${line}`);
        if (t[0] === 'z' && !pagemapScan) break;
        const key: keyof Outcome = t[0] === 'h' ? 'huge' : t[0] === 'o' ? 'swapped_out' : 'zero';
        step.outcome![key] ??= dict();
        step.outcome![key]![name(t[1])] = t.slice(2).map(Number);
        break;
      }
      case 'e': {
        if (!step) throw new Error(`executor line before any step: ${line}`);
        const ev: UffdEvent = { kind: t[1] as UffdEvent['kind'], proc: Number(t[2]) };
        if (t[3] !== '-') { ev.region = name(t[3]); ev.page = Number(t[4]); }
        if (t[5] !== '-') ev.child = Number(t[5]);
        step.events!.push(ev);
        break;
      }
      case 'p': {
        if (!step) throw new Error(`executor line before any step: ${line}`);
        const procPages = own(step.pages, t[1]) ?? (step.pages![t[1]] = dict());
        procPages[name(t[2])] = decodePages(t[3] ?? '', softDirty, enc.letters ?? 6);
        break;
      }
      case 'g': {
        // guard pages (pagemap bit 58) of a region observed by the `p` line before: runs `first count`
        if (!step) throw new Error(`executor line before any step: ${line}`);
        const strs = own(own(step.pages, t[1]), name(t[2]));
        if (!strs) throw new Error(`executor guard line for a region it did not observe: ${line.slice(0, 80)}`);
        if (enc.letters !== 7) break; // a /1 case's trace has no G letter
        for (let k = 3; k + 1 < t.length; k += 2) {
          for (let q = Number(t[k]); q < Number(t[k]) + Number(t[k + 1]) && q < strs.length; q++) strs[q] = strs[q].slice(0, 6) + 'G';
        }
        break;
      }
      case 'w': {
        if (!step) throw new Error(`executor line before any step: ${line}`);
        step.outcome!.walk_end ??= dict();
        step.outcome!.walk_end![name(t[1])] = Number(t[2]);
        break;
      }
      case 'n': {
        if (!step) throw new Error(`executor line before any step: ${line}`);
        const proc = t[1], region = name(t[2]);
        const pages = own(own(step.pages, proc), region)?.length ?? Number(t[3]) + Number(t[4]);
        const strs = new Array<string>(pages).fill('-'.repeat(9));
        for (let k = 5; k + 2 < t.length; k += 3) {
          const s = Number(t[k]), e = Number(t[k + 1]), cats = scanLetters(Number(t[k + 2]));
          for (let q = Math.max(0, s); q < Math.min(e, pages); q++) strs[q] = cats;
        }
        step.scan = dict();
        step.scan[proc] = dict();
        step.scan[proc][region] = strs;
        break;
      }
      case 'u': {
        // the host changed this step behind the case (workers/executor/ptefarm-env.h): the step is
        // not the case's, and the case is an environment fault, never a violation
        if (!step) throw new Error(`executor line before any step: ${line}`);
        const [kind, proc, rid, page] = t.slice(1);
        const op = `op ${step.op} (${OP_NAMES[Number(enc.lines[step.op]?.split(' ')[0])] ?? '?'})`;
        fault = kind === 'khugepaged'
          ? `environment: khugepaged collapsed p${proc} ${name(rid)} (the 2 MiB block at page ${page}) into a huge page during ${op}, which cannot map one there; throttle it with \`ptefarm setup --khugepaged\` (root)`
          : `environment: unrequested swap-out of p${proc} ${name(rid)}[${page}] during ${op}: reclaim or migration took it, no pageout asked for it`;
        steps.pop();
        step = undefined;
        break;
      }
      case 'k': if (step) step.skipped = line.slice(2); break;
      case 'f': fault = line.slice(2); break;
      case 'x': break;
      default: throw new Error(`unexpected executor line: ${line.slice(0, 80)}`);
    }
  }
  return { steps, fault };
}

/** One running executor process, read line by line. It leads its own process group, so that a
 *  kill reaches whatever of it is still in that group; its case supervisors (own groups) and case
 *  processes die with it (PR_SET_PDEATHSIG, workers/executor/README.md). */
class ExecutorProcess {
  readonly child: ChildProcessWithoutNullStreams;
  private buf = '';
  private queue: string[] = [];
  private waiter?: (line: string | null) => void;
  exited: string | null = null;
  stderr = '';

  constructor(path: string, args: string[]) {
    this.child = spawn(path, args, { stdio: ['pipe', 'pipe', 'pipe'], detached: true });
    this.child.stdout.setEncoding('utf8');
    this.child.stdout.on('data', (d: string) => {
      this.buf += d;
      let i;
      while ((i = this.buf.indexOf('\n')) >= 0) {
        const line = this.buf.slice(0, i);
        this.buf = this.buf.slice(i + 1);
        if (this.waiter) { const w = this.waiter; this.waiter = undefined; w(line); } else this.queue.push(line);
      }
    });
    this.child.stderr.on('data', (d: Buffer) => { this.stderr = (this.stderr + d.toString()).slice(-2000); });
    this.child.stdin.on('error', () => { /* reported through exit */ });
    const onExit = (code: number | null, sig: NodeJS.Signals | null) => {
      this.exited ??= sig ? `killed by ${sig}` : `exited with code ${code}`;
      if (this.waiter) { const w = this.waiter; this.waiter = undefined; w(null); }
    };
    this.child.on('exit', onExit);
    this.child.on('error', (e) => { this.exited ??= `could not run: ${e.message}`; onExit(null, null); });
  }

  /** next line, or null when the process is gone or `ms` passed */
  next(ms: number): Promise<string | null | 'timeout'> {
    const q = this.queue.shift();
    if (q !== undefined) return Promise.resolve(q);
    if (this.exited) return Promise.resolve(null);
    return new Promise((resolve) => {
      const timer = setTimeout(() => { this.waiter = undefined; resolve('timeout'); }, ms);
      this.waiter = (l) => { clearTimeout(timer); resolve(l); };
    });
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
    if (this.waiter) { const w = this.waiter; this.waiter = undefined; w(null); }
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

export class LiveTarget implements Target {
  private proc?: ExecutorProcess;
  private probe?: ProbeResult;
  private execFacts: Record<string, string> | null = null;
  private filesReadAt = 0;
  private chain: Promise<unknown> = Promise.resolve();
  private seq = 0;
  /** how many times an executor process was started (restarts after a death count too) */
  starts = 0;
  readonly path: string;

  constructor(readonly opts: LiveOptions = {}) {
    this.path = opts.executor ?? DEFAULT_EXECUTOR;
    if (!existsSync(this.path)) throw new Error(`live target: native executor ${this.path} is not built; run \`make -C workers/executor\``);
  }

  /** pid of the running executor (for tests that kill it) */
  get pid(): number | undefined { return this.proc?.exited ? undefined : this.proc?.child.pid; }

  private async ensure(): Promise<ExecutorProcess> {
    if (this.proc && !this.proc.exited) return this.proc;
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

  /** why a whole case cannot run here, or undefined */
  caseSkipReason(c: Case, probe: ProbeResult): string | undefined {
    const thp = thpCaseSkipReason(c, probe);
    if (thp) return thp;
    const huge = hugetlbSkipReason(c, geometryOfProbe(probe), undefined, probe.userfaultfd ? Number(probe.uffd_features) : undefined);
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
    const target = { name: 'live', arch: probe.arch, kernel: probe.kernel, capabilities: capabilitiesOf(probe), host: hostSettingsOf(probe) };
    // checked before every case: a setting changed since the target started is the environment's
    // doing (the CLI refuses a host that starts that way, src/targets/registry.ts openCheckedTarget)
    const refusals = assessHost(probe).refusals;
    if (refusals.length) return { format: 'ptefarm-trace/1', target, steps: [], fault: `environment: a host setting changed while the live target ran: ${formatRefusal('live target', refusals)}` };
    const caseSkip = this.caseSkipReason(c, probe);
    if (caseSkip) return { format: 'ptefarm-trace/1', target, steps: [], skipped: caseSkip };
    const enc = encodeCase(c, (op) => this.opSkipReason(op, probe), geometryOfProbe(probe));
    const asked = opts.timeoutMs ?? this.opts.caseTimeoutMs ?? 10_000;
    // the executor takes a whole number of ms in 1..3,600,000 (workers/executor/README.md)
    const timeout = Number.isFinite(asked) ? Math.min(3_600_000, Math.max(1, Math.ceil(asked))) : 10_000;
    // khugepaged or reclaim interfering with a case is rare and passes: run it again (fresh
    // processes, fresh memory) before reporting the environment fault
    const attempts = 1 + (this.opts.environmentRetries ?? 2);
    for (let attempt = 1; ; attempt++) {
      const tr = await this.serial(() => this.run(enc, target, timeout));
      if (!tr.fault?.startsWith('environment:') || attempt >= attempts) {
        if (tr.fault?.startsWith('environment:') && attempts > 1) tr.fault += ` (in each of ${attempts} runs)`;
        return tr;
      }
    }
  }

  private async run(enc: EncodedCase, target: TargetInfo, timeout: number): Promise<Trace> {
    const id = `c${++this.seq}`;
    let p: ExecutorProcess;
    try { p = await this.ensure(); } catch (e) {
      return { format: 'ptefarm-trace/1', target, steps: [], fault: (e as Error).message };
    }
    const inject = this.opts.inject ? ` ${this.opts.inject.kind === 'hang' ? 1 : 2} ${this.opts.inject.op}` : '';
    p.send(`case ${id} ${enc.lines.length} ${enc.uffdFeatures} ${timeout}${inject}\n${enc.lines.join('\n')}\n`);
    const lines: string[] = [];
    let began = false;
    let lost: string | undefined;
    // The executor enforces `timeout`; this watchdog only catches an executor that stopped
    // answering (stopped, wedged): it is killed, and the next case starts a new one.
    const hangMs = timeout + targetHangGraceMs(timeout);
    const deadline = Date.now() + hangMs;
    for (;;) {
      const l = await p.next(Math.max(1, deadline - Date.now()));
      if (l === 'timeout') { p.kill(); lost = `executor hung: no reply within ${hangMs} ms (killed; it will be restarted)`; break; }
      if (l === null) { lost = `executor ${p.exited ?? 'died'} during the case; it will be restarted${p.stderr ? ': ' + p.stderr.trim().slice(-300) : ''}`; break; }
      if (!began) { if (l === `begin ${id}`) began = true; continue; }
      if (l === `end ${id}`) break;
      lines.push(l);
    }
    const trace: Trace = { format: 'ptefarm-trace/1', target, steps: [] };
    try {
      const { steps, fault } = decodeReply(lines, enc, target.capabilities.soft_dirty, target.capabilities.pagemap_scan);
      trace.steps = steps;
      if (fault) trace.fault = fault;
    } catch (e) {
      trace.fault = `bad executor output: ${(e as Error).message}`;
    }
    if (lost) trace.fault = lost;
    return trace;
  }

  async close(): Promise<void> {
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
