// A real nats-server (Debian's 2.9) for tests: 127.0.0.1, a random port, JetStream in a temporary
// store dir. restart() brings it back on the same port with the same store (what a server restart
// in production looks like to clients). The process is our child, so it is reaped when it exits.
// Also: `ptefarm worker` child processes, a reader of what a campaign recorded in JetStream, and a
// checker that counts the verdicts a coordinator computes.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { NatsConnection } from '@nats-io/transport-node';
import { jetstream } from '@nats-io/jetstream';
import { connectNats, ensureTopology, RESULTS_STREAM, resultSubject, STATE_STREAM, stateSubject, type ResultBatchMessage, type ResultMessage } from '../../src/transport/nats-common.ts';
import { referenceChecker, type Checker } from '../../src/campaign/checker.ts';

export const NATS_SERVER_BIN = process.env.NATS_SERVER_BIN ?? 'nats-server';

/** why the NATS tests must be skipped, or undefined when a nats-server binary is runnable */
export function natsServerMissing(): string | undefined {
  const r = spawnSync(NATS_SERVER_BIN, ['--version'], { encoding: 'utf8' });
  if (r.error) return `nats-server binary not found (${NATS_SERVER_BIN}: ${(r.error as NodeJS.ErrnoException).code}); install it with \`apt-get install -y nats-server\``;
  return undefined;
}

export interface NatsServer {
  url: string;
  port: number;
  storeDir: string;
  proc: ChildProcess;
  /** SIGTERM (clean shutdown flushes the store) or SIGKILL; resolves when the process exited */
  stop(signal?: NodeJS.Signals): Promise<void>;
  /** stop and start again: same port, same store */
  restart(signal?: NodeJS.Signals): Promise<void>;
  /** stop and delete the store */
  dispose(): Promise<void>;
  log(): string;
}

function launch(args: string[]): Promise<{ proc: ChildProcess; port: number; log: () => string }> {
  const proc = spawn(NATS_SERVER_BIN, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  return new Promise((resolve, reject) => {
    const to = setTimeout(() => { proc.kill('SIGKILL'); reject(new Error(`nats-server did not start: ${log}`)); }, 15_000);
    proc.once('error', (e) => { clearTimeout(to); reject(e); });
    proc.once('exit', (c) => { clearTimeout(to); reject(new Error(`nats-server exited ${c}: ${log}`)); });
    proc.stderr!.setEncoding('utf8').on('data', (d: string) => {
      log += d;
      const m = /Listening for client connections on [\d.]+:(\d+)/.exec(log);
      if (m && /Server is ready/.test(log)) { clearTimeout(to); resolve({ proc, port: Number(m[1]), log: () => log }); }
    });
  });
}

/** extra: e.g. ['--user', 'u', '--pass', 'p'] or ['--auth', 'token'] */
export async function startNatsServer(extra: string[] = []): Promise<NatsServer> {
  const storeDir = mkdtempSync(join(tmpdir(), 'ptefarm-nats-'));
  const base = (port: number) => ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', storeDir, ...extra];
  let cur = await launch(base(-1));
  const port = cur.port;
  const s: NatsServer = {
    url: `nats://127.0.0.1:${port}`,
    port,
    storeDir,
    proc: cur.proc,
    log: () => cur.log(),
    stop: (signal = 'SIGTERM') => new Promise<void>((resolve) => {
      const p = cur.proc;
      if (p.exitCode !== null || p.signalCode !== null) return resolve();
      p.removeAllListeners('exit');
      p.once('exit', () => resolve());
      p.kill(signal);
    }),
    restart: async (signal = 'SIGTERM') => {
      await s.stop(signal);
      // the port was ours a moment ago; retry briefly in case the kernel still holds it
      for (let i = 0; ; i++) {
        try { cur = await launch(base(port)); break; } catch (e) { if (i >= 20) throw e; await new Promise((r) => setTimeout(r, 250)); }
      }
      s.proc = cur.proc;
    },
    dispose: async () => {
      await s.stop('SIGTERM');
      rmSync(storeDir, { recursive: true, force: true });
    },
  };
  return s;
}


export const BIN = fileURLToPath(new URL('../../bin/ptefarm.mjs', import.meta.url));

export interface WorkerProc { proc: ChildProcess; id: string; log: () => string; exited: Promise<number | null> }

/** `ptefarm worker` as a child process; resolves once it logged that it is serving. `launcher`:
 *  node's arguments before `worker` (default: the ptefarm launcher; a test's broken variant of the
 *  CLI, e.g. ['--import', 'tsx', FIXTURE]) */
export function spawnWorker(url: string, target: string, extra: string[] = [], launcher: string[] = [BIN]): Promise<WorkerProc> {
  const proc = spawn(process.execPath, [...launcher, 'worker', '--nats', url, '--target', target, '--threads', '2', '--heartbeat', '500ms', ...extra], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  const exited = new Promise<number | null>((r) => proc.once('exit', (c) => r(c)));
  return new Promise((resolve, reject) => {
    const to = setTimeout(() => reject(new Error(`worker did not start: ${log}`)), 30_000);
    proc.stderr!.setEncoding('utf8').on('data', (d: string) => {
      log += d;
      const m = /worker (\S+): serving/.exec(log);
      if (m) { clearTimeout(to); resolve({ proc, id: m[1], log: () => log, exited }); }
    });
    void exited.then((c) => { clearTimeout(to); reject(new Error(`worker exited ${c}: ${log}`)); });
  });
}

export async function stopWorker(w: WorkerProc): Promise<void> {
  if (w.proc.exitCode !== null || w.proc.signalCode !== null) return;
  w.proc.kill('SIGTERM');
  const t = setTimeout(() => w.proc.kill('SIGKILL'), 10_000);
  await w.exited;
  clearTimeout(t);
}

/** every result stored for a campaign, in stream order (a stored batch chunk: each of its results) */
export async function recordedResults(nc: NatsConnection, campaign: string): Promise<ResultMessage[]> {
  const js = jetstream(nc);
  const jsm = await js.jetstreamManager();
  const subj = resultSubject(campaign);
  const si = await jsm.streams.info(RESULTS_STREAM, { subjects_filter: subj });
  const n = si.state.subjects?.[subj] ?? 0;
  const out: ResultMessage[] = [];
  if (n === 0) return out;
  const c = await js.consumers.get(RESULTS_STREAM, { filter_subjects: subj });
  const it = await c.consume({ max_messages: 512 });
  for await (const m of it) {
    // a batch's chunk (v 2) stores several jobs' results in one message: one entry per job here
    const r = m.json<ResultMessage | ResultBatchMessage>();
    if (r.v === 2) out.push(...r.results.map((x) => ({ v: 1 as const, campaign: r.campaign, origin: r.origin, delivery: r.delivery, ...x })));
    else out.push(r);
    if (m.info.pending === 0) break;
  }
  await it.close();
  return out;
}

/** the reference checker, counting the checks the coordinator makes itself: none when every
 *  verdict comes from the worker that ran the case (the checker asks workers for it: `request`) */
export async function countingChecker(): Promise<{ checker: Checker; calls: () => number }> {
  const base = await referenceChecker();
  let n = 0;
  return { checker: { rulesTotal: base.rulesTotal, catalogue: base.catalogue, signature: base.signature, request: base.request, check: (c, t) => { n++; return base.check(c, t); } }, calls: () => n };
}

/** the campaign's last stored definition record (`meta`), as the server holds it */
export async function storedDefinition(server: NatsServer, campaign: string): Promise<Record<string, unknown>> {
  const nc = await connectNats(server.url);
  try {
    const jsm = await ensureTopology(nc);
    return (await jsm.streams.getMessage(STATE_STREAM, { last_by_subj: stateSubject(campaign, 'meta') }))!.json<Record<string, unknown>>();
  } finally { await nc.close(); }
}
