// The live dashboard of a NATS campaign, with a real nats-server and a real `ptefarm worker`
// process: the coordinator's /api/state lists the worker (its target, host, host facts from its
// heartbeats, a heartbeat age within a few beats) and /metrics carries its per-worker series; a
// coordinator restarted with --resume serves the stored campaign (same id, the stored options, not
// this command line's), marked resumed. Also the token: a dashboard given --ui-token refuses
// requests without it.
import { afterEach, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BIN, natsServerMissing, spawnWorker, startNatsServer, stopWorker } from '../helpers/nats-server.ts';
import { isLoopback, parseUiAddress } from '../../src/ui/server.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const cleanup: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => { while (cleanup.length) await cleanup.pop()!(); });

interface Running { proc: ChildProcess; url: string; stderr: () => string; exited: Promise<number | null> }

async function coordinator(args: string[]): Promise<Running> {
  const proc = spawn(process.execPath, [BIN, 'coordinator', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  proc.stderr!.setEncoding('utf8').on('data', (d: string) => { err += d; });
  const exited = new Promise<number | null>((r) => proc.once('exit', (c) => r(c)));
  cleanup.push(async () => { if (proc.exitCode === null) { proc.kill('SIGKILL'); await exited; } });
  for (let i = 0; i < 300; i++) {
    const url = /dashboard at (http:\/\/\S+)/.exec(err)?.[1];
    if (url) return { proc, url, stderr: () => err, exited };
    if (proc.exitCode !== null) break;
    await sleep(100);
  }
  throw new Error(`coordinator printed no dashboard URL: ${err}`);
}

interface State {
  campaign?: string; resumed: boolean; target: string; seed: number; worker_kind: string; notes: string[];
  options: Record<string, unknown>; totals: { completed: number };
  workers: { id: string; host: string; target: string; threads: number; heartbeat_age_s: number | null; facts: Record<string, string> }[];
}
const state = async (r: Running): Promise<State> => (await fetch(new URL('api/state', r.url))).json() as Promise<State>;

describe('--ui address and token', () => {
  it('parses HOST:PORT, [V6]:PORT and PORT, and knows loopback addresses', () => {
    expect(parseUiAddress('8080')).toEqual({ host: '127.0.0.1', port: 8080 });
    expect(parseUiAddress('0.0.0.0:0')).toEqual({ host: '0.0.0.0', port: 0 });
    expect(parseUiAddress('[::1]:9000')).toEqual({ host: '::1', port: 9000 });
    for (const bad of ['', 'host', ':x', '1.2.3.4:70000', 'a:b:c']) expect(() => parseUiAddress(bad), bad).toThrow(/--ui/);
    expect(['127.0.0.1', '127.1.2.3', 'localhost', '::1'].every(isLoopback)).toBe(true);
    expect(['0.0.0.0', '::', '10.0.0.1', '192.168.1.2', 'example.org'].some(isLoopback)).toBe(false);
  });
});

describe.skipIf(natsServerMissing())('live dashboard of a NATS campaign', () => {
  it('shows the farm\'s worker with host facts and heartbeat age; a resumed coordinator serves the stored campaign', async () => {
    const server = await startNatsServer();
    cleanup.push(() => server.dispose());
    const w = await spawnWorker(server.url, 'model:x86+B-3');
    cleanup.push(() => stopWorker(w));
    const workdir = mkdtempSync(join(tmpdir(), 'ptefarm-ui-farm-'));
    cleanup.push(() => rmSync(workdir, { recursive: true, force: true }));

    const token = 'a-test-token-0123456789';
    const first = await coordinator(['--nats', server.url, '--target', 'model:x86+B-3', '--duration', '5m', '--seed', '7', '--window', '4', '--campaign', 'uitest',
      '--workdir', workdir, '--ui', '127.0.0.1:0', '--ui-token', token]);
    expect(first.url).toContain(`?token=${token}`);
    const bare = new URL(first.url);
    bare.search = '';
    expect((await fetch(new URL('api/state', bare))).status).toBe(401);
    expect((await fetch(new URL('metrics', bare), { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
    const withToken = (path: string) => { const u = new URL(path, bare); u.searchParams.set('token', token); return u; };

    let s: State | undefined;
    for (let i = 0; i < 100; i++) {
      s = await (await fetch(withToken('api/state'))).json() as State;
      if (s.workers.length && s.totals.completed > 0) break;
      await sleep(200);
    }
    expect(s!.campaign).toBe('uitest');
    expect(s!.worker_kind).toBe('nats');
    expect(s!.workers).toHaveLength(1);
    const wk = s!.workers[0]!;
    expect(wk.id).toBe(w.id);
    expect(wk.target).toBe('model:x86+B-3');
    expect(wk.threads).toBe(2);
    expect(wk.heartbeat_age_s).not.toBeNull();
    expect(wk.heartbeat_age_s!).toBeLessThan(5); // the helper's workers beat every 500 ms
    expect(wk.facts.arch).toBe('x86_64');
    expect(Object.keys(wk.facts).length).toBeGreaterThan(3);
    const metrics = await (await fetch(withToken('metrics'))).text();
    expect(metrics).toMatch(new RegExp(`^ptefarm_worker_heartbeat_age_seconds\\{worker="${w.id.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}",[^}]*\\} [0-9.]+$`, 'm'));
    const elapsedBefore = ((await (await fetch(withToken('api/state'))).json()) as { elapsed_s: number }).elapsed_s;
    await sleep(1200); // one more progress snapshot stored

    // stop it (Ctrl-C) and resume on another port, without a token (loopback)
    first.proc.kill('SIGINT');
    await first.exited;
    // the work directory is this command line's on --resume too (a stored record never chooses paths)
    const second = await coordinator(['--nats', server.url, '--resume', '--ui', '127.0.0.1:0', '--workdir', workdir]);
    for (let i = 0; i < 100; i++) {
      s = await state(second);
      if (s.campaign && s.totals.completed > 0) break;
      await sleep(200);
    }
    expect(s!.campaign).toBe('uitest');
    expect(s!.resumed).toBe(true);
    expect(s!.target).toBe('model:x86+B-3');
    expect(s!.seed).toBe(7);
    expect(s!.options).toMatchObject({ campaign: 'uitest', seed: 7, window: 4, duration_ms: 300_000, workdir });
    expect(s!.notes.join('\n')).toMatch(/resumed campaign uitest/);
    // elapsed time goes on from the first coordinator's last progress snapshot (written every second)
    expect((s as State & { elapsed_s: number }).elapsed_s).toBeGreaterThanOrEqual(elapsedBefore - 1.5);
    expect(s!.totals.completed).toBeGreaterThan(0);
    second.proc.kill('SIGINT');
    await second.exited;
  }, 120_000);
});
