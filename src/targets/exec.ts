// `exec:<command line>`: any program that reads one ptefarm-case/1 JSON document per line on stdin
// and answers each with one ptefarm-trace/1 JSON document per line on stdout (`ptefarm serve`
// speaks this protocol for every target). Answers are validated with the trace schema; a program
// that dies, hangs or answers garbage yields a trace with `fault`, and is restarted for the next
// case.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import type { Case } from '../ops/schema.ts';
import { traceSchema, type TargetInfo, type Trace } from '../ops/trace.ts';
import type { Target } from './target.ts';

export interface ExecOptions {
  /** how long one case may take before the program is killed (default 60 s) */
  caseTimeoutMs?: number;
}

export class ExecTarget implements Target {
  private child?: ChildProcessWithoutNullStreams;
  private exited: string | null = null;
  private buf = '';
  private lines: string[] = [];
  private waiter?: () => void;
  private stderr = '';
  private chain: Promise<unknown> = Promise.resolve();
  private lastInfo?: TargetInfo;
  starts = 0;

  constructor(readonly command: string, readonly opts: ExecOptions = {}) {
    if (!command.trim()) throw new Error('exec target: empty command (expected exec:<command line>)');
  }

  private ensure(): ChildProcessWithoutNullStreams {
    if (this.child && !this.exited) return this.child;
    this.exited = null; this.buf = ''; this.lines = []; this.stderr = '';
    const child = spawn('/bin/sh', ['-c', this.command], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.starts++;
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (d: string) => {
      this.buf += d;
      let i;
      while ((i = this.buf.indexOf('\n')) >= 0) { this.lines.push(this.buf.slice(0, i)); this.buf = this.buf.slice(i + 1); }
      this.waiter?.();
    });
    child.stderr.on('data', (d: Buffer) => { this.stderr = (this.stderr + d.toString()).slice(-2000); });
    child.stdin.on('error', () => { /* reported through exit */ });
    child.on('exit', (code, sig) => { if (this.child === child) { this.exited = sig ? `killed by ${sig}` : `exited with code ${code}`; this.waiter?.(); } });
    child.on('error', (e) => { if (this.child === child) { this.exited = `could not start: ${e.message}`; this.waiter?.(); } });
    this.child = child;
    return child;
  }

  private nextLine(ms: number): Promise<string | null> {
    return new Promise((resolve) => {
      const check = () => {
        const l = this.lines.shift();
        if (l !== undefined) { clearTimeout(timer); this.waiter = undefined; resolve(l); return true; }
        if (this.exited) { clearTimeout(timer); this.waiter = undefined; resolve(null); return true; }
        return false;
      };
      const timer = setTimeout(() => { this.waiter = undefined; resolve(null); }, ms);
      if (!check()) this.waiter = () => { check(); };
    });
  }

  private placeholderInfo(): TargetInfo {
    return this.lastInfo ?? { name: `exec:${this.command}`, arch: 'unknown', kernel: 'unknown',
      capabilities: { soft_dirty: false, uffd_wp: false, wp_async: false, pagemap_scan: false, swap: false, thp: false } };
  }

  private kill(): void {
    if (this.child && !this.exited) { this.child.kill('SIGKILL'); this.exited = 'killed'; }
  }

  /** What the program reports about itself in its traces; learned from a one-op case if needed. */
  async info(): Promise<TargetInfo> {
    if (this.lastInfo) return this.lastInfo;
    const t = await this.execute({ format: 'ptefarm-case/1', name: 'exec target info', ops: [{ op: 'mmap', region: 'a', pages: 1, kind: 'anon' }] });
    if (t.fault && !this.lastInfo) throw new Error(`exec target "${this.command}": ${t.fault}`);
    return this.placeholderInfo();
  }

  execute(c: Case): Promise<Trace> {
    const run = async (): Promise<Trace> => {
      const timeout = this.opts.caseTimeoutMs ?? 60_000;
      const child = this.ensure();
      child.stdin.write(JSON.stringify(c) + '\n');
      const line = await this.nextLine(timeout);
      const fault = (why: string): Trace => ({ format: 'ptefarm-trace/1', target: this.placeholderInfo(), steps: [], fault: why });
      if (line === null) {
        const why = this.exited
          ? `exec target "${this.command}" ${this.exited}${this.stderr.trim() ? ': ' + this.stderr.trim().slice(-300) : ''}`
          : `exec target "${this.command}" gave no answer within ${timeout} ms; killed`;
        this.kill();
        return fault(why);
      }
      let json: unknown;
      try { json = JSON.parse(line); } catch (e) {
        this.kill();
        return fault(`exec target answered a line that is not JSON (${(e as Error).message}): ${line.slice(0, 120)}`);
      }
      const r = traceSchema.safeParse(json);
      if (!r.success) {
        this.kill();
        const issue = r.error.issues[0];
        return fault(`exec target answered an invalid trace: ${issue.path.join('.') || '(trace)'}: ${issue.message}`);
      }
      const trace = r.data as Trace;
      this.lastInfo = trace.target;
      return trace;
    };
    const p = this.chain.then(run, run);
    this.chain = p.catch(() => undefined);
    return p;
  }

  async close(): Promise<void> {
    const child = this.child;
    if (!child || this.exited) return;
    child.stdin.end();
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => { child.kill('SIGKILL'); resolve(); }, 2000);
      child.once('exit', () => { clearTimeout(t); resolve(); });
    });
  }
}
