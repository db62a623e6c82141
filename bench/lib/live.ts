// The live side of the benchmarks without ptefarm's TypeScript target in the way: a raw driver of
// the native executor (spawn, feed encoded cases, wait for `end`), and the C floor (bench/floor.c)
// compiled with the system cc and fed the same encoded cases plus the ranges the executor observes.
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Case } from '../../src/ops/schema.ts';
import { CaseBuilder } from '../../src/campaign/builder.ts';
import { LiveTarget } from '../../src/targets/live.ts';
import { encodeCase, type EncodedCase } from '../../src/targets/executor/protocol.ts';
import { DEFAULT_EXECUTOR, parseProbeLine, probeFromFacts, type ProbeResult } from '../../src/targets/probe.ts';

/** USER_HZ of /proc/<pid>/stat times (100 on every Linux architecture ptefarm runs on) */
const CLOCK_TICKS = 100;

export const OUT_DIR = fileURLToPath(new URL('../.out/', import.meta.url));
const FLOOR_SRC = fileURLToPath(new URL('../floor.c', import.meta.url));

/** why the live benchmarks cannot run here, or undefined */
export function liveMissing(): string | undefined {
  if (!existsSync(DEFAULT_EXECUTOR)) return `native executor not built (${DEFAULT_EXECUTOR}; run \`make -C workers/executor\`)`;
  if (spawnSync('cc', ['--version']).error) return 'no C compiler (cc) for bench/floor.c';
  return undefined;
}

/** Compile bench/floor.c (when the binary is older than the source); returns the binary's path. */
export function compileFloor(): string {
  mkdirSync(OUT_DIR, { recursive: true });
  const bin = `${OUT_DIR}floor`;
  if (existsSync(bin) && statSync(bin).mtimeMs >= statSync(FLOOR_SRC).mtimeMs) return bin;
  const r = spawnSync('cc', ['-O2', '-g', '-Wall', '-std=gnu11', '-o', bin, FLOOR_SRC], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`cc bench/floor.c failed: ${r.stderr || r.error?.message}`);
  return bin;
}

export interface Encoded { c: Case; enc: EncodedCase }

/** Encode cases the way the live target would on this host; cases it would skip whole are dropped. */
export function encodeForHost(cases: Case[], probe: ProbeResult): Encoded[] {
  const t = Object.create(LiveTarget.prototype) as LiveTarget; // only the pure skip-reason methods are used
  const out: Encoded[] = [];
  for (const c of cases) {
    if (t.caseSkipReason(c, probe)) continue;
    out.push({ c, enc: encodeCase(c, (op) => t.opSkipReason(op, probe)) });
  }
  return out;
}

/** The floor's input: the executor lines plus, after each op, the ranges the executor reads. */
export function floorInput(items: Encoded[]): string {
  const parts: string[] = [];
  for (const { c, enc } of items) {
    parts.push(`case ${enc.lines.length} ${enc.uffdFeatures}`);
    const b = new CaseBuilder(c.uffd);
    c.ops.forEach((op, i) => {
      b.emit(structuredClone(op));
      const ranges: number[] = [];
      for (const p of b.procs) if (p.alive) for (const r of p.regions.values()) ranges.push(r.start, r.pages);
      parts.push(enc.lines[i]!, `o ${ranges.length / 2} ${ranges.join(' ')}`);
    });
  }
  return parts.join('\n') + '\n';
}

export interface FloorRun { cases: number; ops: number; ms: number; cpuMs?: number }

export function runFloor(bin: string, items: Encoded[], name = 'floor-cases.txt'): FloorRun {
  const file = `${OUT_DIR}${name}`;
  writeFileSync(file, floorInput(items));
  const r = spawnSync(bin, [file], { encoding: 'utf8', timeout: 300_000 });
  const m = /floor cases=(\d+) ops=(\d+) ms=([\d.]+)(?: cpu_ms=([\d.]+))?/.exec(r.stdout ?? '');
  if (!m) throw new Error(`floor failed: ${r.stderr || r.error?.message || r.stdout}`);
  return { cases: Number(m[1]), ops: Number(m[2]), ms: Number(m[3]), ...(m[4] ? { cpuMs: Number(m[4]) } : {}) };
}

/** The native executor alone: one process, one case at a time (as the live target drives it). */
export class RawExecutor {
  private child: ChildProcessWithoutNullStreams;
  private buf = '';
  private want?: { marker: string; resolve: (text: string) => void; reject: (e: Error) => void };
  private exited?: string;
  private seq = 0;
  probe!: ProbeResult;

  /** CPU time (user + system, ms) of the executor, its live children (a long-lived supervisor,
   *  with the case processes it reaped) and the children it reaped */
  cpuMs(): number {
    const ticks = (pid: number | string): number => {
      try {
        const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
        const v = f.slice(f.lastIndexOf(')') + 2).split(' ').map(Number);
        // fields 14..17 of proc(5) (utime stime cutime cstime), here from field 3 on
        return v[11]! + v[12]! + v[13]! + v[14]!;
      } catch { return 0; }
    };
    const pid = this.child.pid!;
    let t = ticks(pid);
    try { for (const c of readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').split(' ').filter(Boolean)) t += ticks(c); } catch { /* gone */ }
    return (t * 1000) / CLOCK_TICKS;
  }

  private constructor(path: string) {
    this.child = spawn(path, [], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.child.stdout.setEncoding('utf8');
    this.child.stdout.on('data', (d: string) => {
      this.buf += d;
      const w = this.want;
      if (w) {
        const i = this.buf.indexOf(w.marker);
        if (i >= 0) {
          const text = this.buf.slice(0, i + w.marker.length);
          this.buf = this.buf.slice(i + w.marker.length);
          this.want = undefined;
          w.resolve(text);
        }
      }
    });
    this.child.stderr.resume();
    this.child.on('exit', (c, sig) => {
      this.exited = `executor exited (${sig ?? c})`;
      const w = this.want;
      this.want = undefined;
      w?.reject(new Error(this.exited));
    });
  }

  private until(marker: string, ms = 60_000): Promise<string> {
    return new Promise((resolve, reject) => {
      const i = this.buf.indexOf(marker);
      if (i >= 0) { const t = this.buf.slice(0, i + marker.length); this.buf = this.buf.slice(i + marker.length); resolve(t); return; }
      if (this.exited) { reject(new Error(this.exited)); return; }
      const timer = setTimeout(() => { this.want = undefined; reject(new Error(`executor: no "${marker.trim()}" in ${ms} ms`)); }, ms);
      this.want = { marker, resolve: (t) => { clearTimeout(timer); resolve(t); }, reject: (e) => { clearTimeout(timer); reject(e); } };
    });
  }

  static async start(path = DEFAULT_EXECUTOR): Promise<RawExecutor> {
    const x = new RawExecutor(path);
    await x.until('\n', 10_000);
    x.child.stdin.write('probe\n');
    const text = await x.until('end probe\n', 10_000);
    const line = text.split('\n').find((l) => l.startsWith('probe ')) ?? '';
    x.probe = probeFromFacts(parseProbeLine(line), path);
    return x;
  }

  /** run one encoded case; resolves with the reply text */
  run(enc: EncodedCase, timeoutMs = 10_000): Promise<string> {
    const id = `b${++this.seq}`;
    const p = this.until(`end ${id}\n`, timeoutMs + 5000);
    this.child.stdin.write(`case ${id} ${enc.lines.length} ${enc.uffdFeatures} ${timeoutMs}\n${enc.lines.join('\n')}\n`);
    return p;
  }

  async close(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise<void>((r) => this.child.once('exit', () => r()));
    this.child.stdin.end('quit\n');
    const t = setTimeout(() => this.child.kill('SIGKILL'), 3000);
    await exited;
    clearTimeout(t);
  }
}
