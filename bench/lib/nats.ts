// nats-server (127.0.0.1, random port, JetStream in a temporary store) and `ptefarm worker` child
// processes for the transport benchmark. Both are children of this process and stopped by pid.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const NATS_BIN = process.env.NATS_SERVER_BIN ?? 'nats-server';
const PTEFARM_BIN = fileURLToPath(new URL('../../bin/ptefarm.mjs', import.meta.url));

export function natsMissing(): string | undefined {
  const r = spawnSync(NATS_BIN, ['--version'], { encoding: 'utf8' });
  if (r.error) return `nats-server not found (${NATS_BIN}); apt-get install -y nats-server`;
  return undefined;
}

export interface Child { proc: ChildProcess; stop(): Promise<void> }

function stopper(proc: ChildProcess, after?: () => void): () => Promise<void> {
  return () => new Promise<void>((resolve) => {
    if (proc.exitCode !== null || proc.signalCode !== null) { after?.(); resolve(); return; }
    const t = setTimeout(() => proc.kill('SIGKILL'), 10_000);
    proc.once('exit', () => { clearTimeout(t); after?.(); resolve(); });
    proc.kill('SIGTERM');
  });
}

export async function startNats(): Promise<Child & { url: string }> {
  const sd = mkdtempSync(join(tmpdir(), 'ptefarm-bench-nats-'));
  const proc = spawn(NATS_BIN, ['-a', '127.0.0.1', '-p', '-1', '-js', '-sd', sd], { stdio: ['ignore', 'ignore', 'pipe'] });
  const url = await new Promise<string>((resolve, reject) => {
    let log = '';
    let done = false;
    const to = setTimeout(() => { proc.kill('SIGKILL'); reject(new Error(`nats-server did not start: ${log}`)); }, 15_000);
    proc.once('error', (e) => { clearTimeout(to); reject(e); });
    proc.once('exit', (c) => { clearTimeout(to); reject(new Error(`nats-server exited ${c}: ${log}`)); });
    proc.stderr!.setEncoding('utf8').on('data', (d: string) => {
      if (done) return;
      log += d;
      const m = /Listening for client connections on ([\d.]+:\d+)/.exec(log);
      if (m && /Server is ready/.test(log)) { done = true; clearTimeout(to); proc.removeAllListeners('exit'); resolve(`nats://${m[1]}`); }
    });
  });
  return { url, proc, stop: stopper(proc, () => rmSync(sd, { recursive: true, force: true })) };
}

/** `ptefarm worker --nats URL --target T --threads K`, resolved once it serves */
export async function startWorker(url: string, target: string, threads: number): Promise<Child> {
  // PTEFARM_BENCH_WORKER_NODE_ARGS: extra node options for the worker (e.g. `--cpu-prof
  // --cpu-prof-dir DIR`: node refuses --cpu-prof in NODE_OPTIONS)
  const nodeArgs = (process.env.PTEFARM_BENCH_WORKER_NODE_ARGS ?? '').split(/\s+/).filter(Boolean);
  const proc = spawn(process.execPath, [...nodeArgs, PTEFARM_BIN, 'worker', '--nats', url, '--target', target, '--threads', String(threads), '--heartbeat', '1s'], { stdio: ['ignore', 'ignore', 'pipe'] });
  await new Promise<void>((resolve, reject) => {
    let log = '';
    let done = false;
    const to = setTimeout(() => reject(new Error(`worker did not start: ${log}`)), 60_000);
    proc.once('exit', (c) => { clearTimeout(to); reject(new Error(`worker exited ${c}: ${log}`)); });
    proc.stderr!.setEncoding('utf8').on('data', (d: string) => {
      if (done) return;
      log += d;
      if (/worker \S+: serving/.test(log)) { done = true; clearTimeout(to); proc.removeAllListeners('exit'); resolve(); }
    });
  });
  return { proc, stop: stopper(proc) };
}
