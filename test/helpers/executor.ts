// Test helpers for the native executor (workers/executor/ptefarm-exec): a raw protocol session
// (spawn the binary, write request lines, read reply lines as they come) and /proc inspection (the
// processes a given executor binary left behind, a process's state and capability sets).
// Used by test/targets/executor-*.test.ts and test/targets/live-chaos.test.ts.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_EXECUTOR } from '../../src/targets/probe.ts';

/** the executor under test: the built one, or PTEFARM_TEST_EXECUTOR (e.g. an older build, to
 *  show that a test fails without a fix) */
export const TEST_EXECUTOR = process.env.PTEFARM_TEST_EXECUTOR ?? DEFAULT_EXECUTOR;

/** why executor tests must be skipped, or undefined when the binary is built */
export function executorMissing(path = TEST_EXECUTOR): string | undefined {
  return existsSync(path) ? undefined : `native executor not built (${path}): run \`make -C workers/executor\``;
}

/** A copy of the executor at a path of its own, so that every process it forks (supervisors and
 *  case processes keep its command line) can be told apart from other users' executors. */
export function privateExecutorCopy(): { path: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'ptefarm-exec-test-'));
  const path = join(dir, 'ptefarm-exec');
  copyFileSync(TEST_EXECUTOR, path);
  return { path, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

export interface ProcInfo { pid: number; ppid: number; state: string; cmdline: string }

/** every process whose argv[0] is `path` (the executor, its supervisors, its case processes) */
export function processesOf(path: string): ProcInfo[] {
  const out: ProcInfo[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const cmdline = readFileSync(`/proc/${d}/cmdline`, 'utf8');
      if (cmdline.split('\0')[0] !== path) continue;
      const st = procStat(Number(d));
      if (st) out.push({ pid: Number(d), ppid: st.ppid, state: st.state, cmdline: cmdline.replaceAll('\0', ' ').trim() });
    } catch { /* gone meanwhile */ }
  }
  return out;
}

/** the children of a single-threaded process (/proc/PID/task/PID/children): cheap enough to poll */
export function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch { return []; }
}

/** the zygote of a supervisor (workers/executor/ptefarm-mm.h zygote_main: the child that forks each
 *  case's process 0, named ptefarm-zygote), or undefined */
export function zygoteOf(sup: number): number | undefined {
  return childrenOf(sup).find((pid) => {
    try { return readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'ptefarm-zygote'; } catch { return false; }
  });
}

/** state letter (R, S, T, Z...) and parent of a process, or undefined when it is gone */
export function procStat(pid: number): { state: string; ppid: number } | undefined {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const rest = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return { state: rest[0], ppid: Number(rest[1]) };
  } catch { return undefined; }
}

/** the capability sets of a process (/proc/PID/status CapInh CapPrm CapEff CapBnd CapAmb) as bigints */
export function capsOf(pid: number): Record<'CapInh' | 'CapPrm' | 'CapEff' | 'CapBnd' | 'CapAmb', bigint> {
  const st = readFileSync(`/proc/${pid}/status`, 'utf8');
  const get = (k: string) => {
    const m = new RegExp(`^${k}:\\s*([0-9a-f]+)$`, 'm').exec(st);
    if (!m) throw new Error(`no ${k} in /proc/${pid}/status`);
    return BigInt(`0x${m[1]}`);
  };
  return { CapInh: get('CapInh'), CapPrm: get('CapPrm'), CapEff: get('CapEff'), CapBnd: get('CapBnd'), CapAmb: get('CapAmb') };
}

/** wait (polling) until `f` returns something other than undefined, or throw after `ms` */
export async function waitFor<T>(what: string, f: () => T | undefined, ms = 10_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = f();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A raw protocol session with one executor process. */
export class RawExecutor {
  readonly child: ChildProcessWithoutNullStreams;
  private buf = '';
  private lines: string[] = [];
  private wake?: () => void;
  exited = false;

  constructor(path = TEST_EXECUTOR) {
    this.child = spawn(path, [], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.child.stdout.setEncoding('utf8');
    this.child.stdout.on('data', (d: string) => {
      this.buf += d;
      let i;
      while ((i = this.buf.indexOf('\n')) >= 0) { this.lines.push(this.buf.slice(0, i)); this.buf = this.buf.slice(i + 1); }
      this.wake?.();
    });
    this.child.stdin.on('error', () => undefined);
    this.child.on('exit', () => { this.exited = true; this.wake?.(); });
  }

  send(text: string): void { this.child.stdin.write(text); }

  /** the next line that satisfies `pred` (earlier lines are dropped), or throw after `ms` */
  async until(pred: (l: string) => boolean, ms = 20_000): Promise<string> {
    const end = Date.now() + ms;
    for (;;) {
      while (this.lines.length) { const l = this.lines.shift()!; if (pred(l)) return l; }
      if (this.exited) throw new Error('executor exited');
      if (Date.now() > end) throw new Error('timed out waiting for an executor line');
      await new Promise<void>((r) => { const t = setTimeout(r, Math.max(1, end - Date.now())); this.wake = () => { clearTimeout(t); r(); }; });
      this.wake = undefined;
    }
  }

  /** every line of case `id`'s reply between `begin id` and `end id` (lines before `begin` dropped) */
  async reply(id: string, ms = 20_000): Promise<string[]> {
    await this.until((l) => l === `begin ${id}`, ms);
    const out: string[] = [];
    for (;;) {
      const l = await this.until(() => true, ms);
      if (l === `end ${id}`) return out;
      out.push(l);
    }
  }

  /** send a case (header + op lines) and return its reply */
  async runCase(id: string, ops: string[], opts: { uffd?: number; timeoutMs?: number; inject?: [number, number] } = {}): Promise<string[]> {
    const inj = opts.inject ? ` ${opts.inject[0]} ${opts.inject[1]}` : '';
    this.send(`case ${id} ${ops.length} ${opts.uffd ?? -1} ${opts.timeoutMs ?? 10_000}${inj}\n${ops.map((o) => `${o}\n`).join('')}`);
    return this.reply(id);
  }

  async close(): Promise<void> {
    if (this.exited) return;
    this.send('quit\n');
    this.child.stdin.end();
    await new Promise<void>((r) => {
      const t = setTimeout(() => { this.child.kill('SIGKILL'); r(); }, 3000);
      this.child.once('exit', () => { clearTimeout(t); r(); });
      if (this.exited) { clearTimeout(t); r(); }
    });
  }
}

/** the arena's first page (src/ops/layout.ts ARENA_BASE_PAGE), where raw cases put regions */
export { ARENA_BASE_PAGE } from '../../src/ops/layout.ts';

/** A started executor and whether its probe says event_fork cases can run (CAP_SYS_PTRACE) */
export async function probedExecutor(): Promise<{ ex: RawExecutor; eventFork: boolean }> {
  const ex = new RawExecutor();
  await ex.until((l) => l.startsWith('ready '));
  ex.send('probe\n');
  return { ex, eventFork: / event_fork=1/.test(await ex.until((l) => l.startsWith('probe '))) };
}
