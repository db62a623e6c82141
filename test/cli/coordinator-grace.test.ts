// A coordinator whose target no live worker serves (issue 12 item 8), with a real nats-server and
// real `ptefarm worker` processes: it warns at once naming the target and the grace, and exits 2
// when the grace (--no-worker-grace, a duration) ends without one, keeping the campaign for
// --resume; a worker that joins within the grace lets it finish; a worker of another target does
// not count.
import { afterEach, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { notSnake } from '../helpers/json-keys.ts';
import { BIN, natsServerMissing, spawnWorker, startNatsServer, stopWorker, type WorkerProc } from '../helpers/nats-server.ts';

const missing = natsServerMissing();
if (missing) console.warn(`skipping coordinator grace tests: ${missing}`);

const cleanup: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => { for (const f of cleanup.splice(0).reverse()) await f(); });

interface Line { at: number; text: string }
interface Run { code: number | null; stdout: string; stderr: string; lines: Line[] }

/** run the CLI, timing every stderr line; `on(line)` sees each as it arrives */
function cli(args: string[], on?: (l: Line) => void): Promise<Run> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let part = '';
    const lines: Line[] = [];
    p.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
    p.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
      const all = (part + d).split('\n');
      part = all.pop()!;
      for (const text of all) { const l = { at: Date.now(), text }; lines.push(l); on?.(l); }
    });
    p.on('exit', (code) => resolve({ code, stdout, stderr, lines }));
  });
}

const at = (r: Run, re: RegExp) => r.lines.find((l) => re.test(l.text))?.at;

describe.skipIf(!!missing)('coordinator with no live worker for its target', () => {
  it('warns at once, names the target and the grace, and exits 2 when it ends; a worker of another target does not count', async () => {
    const server = await startNatsServer();
    cleanup.push(() => server.dispose());
    const other = await spawnWorker(server.url, 'model:x86+B-3');
    cleanup.push(() => stopWorker(other));
    const workdir = mkdtempSync(join(tmpdir(), 'ptefarm-work-'));
    cleanup.push(() => rmSync(workdir, { recursive: true, force: true }));
    const r = await cli(['coordinator', '--nats', server.url, '--target', 'model:x86', '--cases', '20', '--campaign', 'starved', '--no-worker-grace', '3s', '--workdir', workdir, '--json']);
    expect(r.code, r.stderr).toBe(2);
    const connected = at(r, /^campaign starved on /)!;
    const warned = at(r, /^warning: no live worker serves model:x86 on .*Stopping with exit 2 in 3s \(--no-worker-grace\)/)!;
    expect(connected, r.stderr).toBeDefined();
    expect(warned, r.stderr).toBeDefined();
    expect(warned).toBeGreaterThanOrEqual(connected);
    const gaveUp = at(r, /^ptefarm: no live worker served model:x86 for 3s \(--no-worker-grace\): campaign starved stopped; .*--resume --campaign starved/)!;
    expect(gaveUp, r.stderr).toBeDefined();
    // at once: the warning opens the grace (it comes a whole grace before the exit), not at its end
    expect(gaveUp - warned).toBeGreaterThanOrEqual(3000);
    // nothing obtained is lost: the summary is still printed, and says the campaign was interrupted
    const s = JSON.parse(r.stdout.trim().split('\n').pop()!);
    // the stored campaign took the shared defaults (seed 1, src/campaign/config.ts); JSON keys are snake_case
    expect(s).toMatchObject({ campaign: 'starved', target: 'model:x86', stopped: 'interrupted', cases: 0, seed: 1 });
    expect(notSnake(s)).toEqual([]);
  }, 90_000);

  it('a worker that joins within the grace: the campaign goes on and finishes', async () => {
    const server = await startNatsServer();
    cleanup.push(() => server.dispose());
    const workdir = mkdtempSync(join(tmpdir(), 'ptefarm-work-'));
    cleanup.push(() => rmSync(workdir, { recursive: true, force: true }));
    let w: Promise<WorkerProc> | undefined;
    const r = await cli(['coordinator', '--nats', server.url, '--target', 'model:x86', '--cases', '30', '--no-worker-grace', '60s', '--workdir', workdir, '--json'], (l) => {
      if (!w && /^warning: no live worker serves model:x86/.test(l.text)) { w = spawnWorker(server.url, 'model:x86'); cleanup.push(async () => stopWorker(await w!)); }
    });
    expect(w, r.stderr).toBeDefined();
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/a worker for model:x86 is live: continuing/);
    expect(JSON.parse(r.stdout.trim().split('\n').pop()!)).toMatchObject({ cases: 30, faults: 0 });
  }, 120_000);

  it('a grace without a unit is refused before connecting (exit 2)', async () => {
    const r = await cli(['coordinator', '--nats', 'nats://127.0.0.1:1', '--target', 'model:x86', '--no-worker-grace', '30']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--no-worker-grace: "30" has no unit: write e.g. 500ms, 30s, 5m or 2h');
  }, 30_000);
});
