// `ptefarm coordinator` end to end with a real nats-server and a real worker process: a dead server
// is a clear exit 2; a coordinator SIGKILLed midway is resumed with --resume and finishes the same
// campaign without re-running or re-counting the cases whose results were recorded.
import { afterEach, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jetstream } from '@nats-io/jetstream';
import { connectNats, ensureTopology, LAST_CAMPAIGN_SUBJECT, STATE_STREAM, stateSubject } from '../../src/transport/nats-common.ts';
import { notSnake } from '../helpers/json-keys.ts';
import { BIN, natsServerMissing, recordedResults, spawnWorker, startNatsServer, stopWorker } from '../helpers/nats-server.ts';

const missing = natsServerMissing();
if (missing) console.warn(`skipping coordinator CLI tests: ${missing}`);

const cleanup: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => { for (const f of cleanup.splice(0).reverse()) await f(); });

interface Run { code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }

/** run the CLI; `until(stderr)` true => SIGKILL it (a crash, not a shutdown) */
function cli(args: string[], until?: (stderr: string) => boolean): Promise<Run> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
    p.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; if (until?.(stderr)) p.kill('SIGKILL'); });
    p.on('exit', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

/** a port nothing listens on: a server started and stopped */
async function deadUrl(): Promise<string> {
  const s = await startNatsServer();
  await s.dispose();
  return s.url;
}

describe.skipIf(!!missing)('ptefarm coordinator', () => {
  it('exits 2 naming the URL when no NATS server answers', async () => {
    const url = await deadUrl();
    const r = await cli(['coordinator', '--nats', url, '--target', 'model:x86', '--cases', '5']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`cannot connect to NATS at ${url}`);
  }, 30_000);

  it('--resume continues a SIGKILLed coordinator\'s campaign without re-running recorded cases', async () => {
    const server = await startNatsServer();
    cleanup.push(() => server.dispose());
    const w = await spawnWorker(server.url, 'model:x86');
    cleanup.push(() => stopWorker(w));
    const workdir = mkdtempSync(join(tmpdir(), 'ptefarm-work-'));
    cleanup.push(() => rmSync(workdir, { recursive: true, force: true }));
    // enough cases that the coordinator's first progress line (every 2 s) comes well before the
    // end on a fast host: 600 ran in 1.8 s on the model of 2026-12-07, before any line, never killed
    const N = 4000;
    let killedAt = 0;
    const first = await cli(['coordinator', '--nats', server.url, '--target', 'model:x86', '--cases', String(N), '--seed', '5',
      '--max-ops', '8', '--window', '8', '--campaign', 'crashy', '--workdir', workdir, '--json'], (err) => {
      const m = [...err.matchAll(/\] (\d+)\/\d+ cases/g)].pop();
      if (m && Number(m[1]) >= 150 && !killedAt) { killedAt = Number(m[1]); return true; }
      return false;
    });
    expect(first.signal).toBe('SIGKILL');
    expect(killedAt).toBeGreaterThanOrEqual(150);
    expect(first.stdout).toBe(''); // it never got to its summary

    const second = await cli(['coordinator', '--nats', server.url, '--resume', '--workdir', workdir, '--json']);
    expect(second.code).toBe(0);
    const s = JSON.parse(second.stdout.trim().split('\n').pop()!);
    expect(s.campaign).toBe('crashy');
    expect(s.resumed).toBe(true);
    expect(s.seed).toBe(5);
    expect(s.cases).toBe(N);
    expect(s.faults).toBe(0);
    // at least what the first coordinator had counted came back from the record, not from workers
    expect(s.farm.replayed).toBeGreaterThanOrEqual(killedAt);
    expect(s.farm.replayed + s.farm.published).toBe(N);
    expect(second.stderr).toMatch(/resumed: \d+ recorded result\(s\) replayed/);

    const nc = await connectNats(server.url);
    try {
      const rec = await recordedResults(nc, 'crashy');
      const ids = new Set(rec.map((r) => r.id));
      expect(ids.size).toBe(N);
      // the stored campaign record is ptefarm-campaign/2, snake_case like all JSON ptefarm writes
      const jsm = await ensureTopology(nc);
      for (const what of ['meta', 'progress', 'summary'] as const) {
        const stored = (await jsm.streams.getMessage(STATE_STREAM, { last_by_subj: stateSubject('crashy', what) }))!.json<Record<string, unknown>>();
        expect(stored.format, what).toBe('ptefarm-campaign/2');
        expect(notSnake(stored), what).toEqual([]);
      }
      expect((await jsm.streams.getMessage(STATE_STREAM, { last_by_subj: stateSubject('crashy', 'meta') }))!.json()).toMatchObject({ seed: 5, generate: { max_ops: 8 } });
    } finally { await nc.close(); }

    // resuming a finished campaign only reports it
    const third = await cli(['coordinator', '--nats', server.url, '--resume', '--campaign', 'crashy', '--json']);
    expect(third.code).toBe(0);
    expect(JSON.parse(third.stdout.trim()).cases).toBe(N);
  }, 240_000);

  it('--resume parses the stored campaign like any input; a forged record cannot choose where files are written', async () => {
    const server = await startNatsServer();
    cleanup.push(() => server.dispose());
    const dir = mkdtempSync(join(tmpdir(), 'ptefarm-forged-'));
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    const elsewhere = join(dir, 'chosen-by-the-record', 'deep');
    const workdir = join(dir, 'work');
    const nc = await connectNats(server.url);
    cleanup.push(() => nc.close());
    await ensureTopology(nc);
    const js = jetstream(nc);
    // what an earlier version stored, plus a corpusDir anyone with publish rights on the state stream could set
    const forged = { campaign: 'forged', target: 'model:x86+B-3', seed: 1, cases: 500, stopAfterBuckets: 1, maxMinimizeRuns: 200, corpusDir: elsewhere, concurrency: 4, started: new Date().toISOString() };
    const store = async (id: string, record: unknown) => { await js.publish(stateSubject(id, 'meta'), typeof record === 'string' ? record : JSON.stringify(record)); };

    // malformed records: exit 2 naming the record and the field, nothing run
    const bad: [string, unknown, string][] = [
      ['neg', { ...forged, campaign: 'neg', cases: -5 }, 'cases'],
      ['wide', { ...forged, campaign: 'wide', concurrency: 1e9 }, 'concurrency'],
      ['tgt', { ...forged, campaign: 'tgt', target: 42 }, 'target'],
      ['ops', { ...forged, campaign: 'ops', generate: { maxOps: 1e6 } }, 'generate.maxOps'],
      ['other', { ...forged, campaign: '../other' }, 'campaign'],
      ['text', 'not { json', 'not valid JSON'],
    ];
    for (const [id, record, field] of bad) {
      await store(id, record);
      const r = await cli(['coordinator', '--nats', server.url, '--resume', '--campaign', id, '--workdir', workdir]);
      expect(r.code, `${id}: ${r.stderr}`).toBe(2);
      expect(r.stderr).toContain(`stored record ${stateSubject(id, 'meta')} `);
      expect(r.stderr).toContain(field);
    }
    await js.publish(LAST_CAMPAIGN_SUBJECT, JSON.stringify({ campaign: '../../etc' }));
    const last = await cli(['coordinator', '--nats', server.url, '--resume', '--workdir', workdir]);
    expect(last.code).toBe(2);
    expect(last.stderr).toMatch(/stored record ptefarm\.state\.last is invalid: campaign/);

    // a well-formed record runs, but the finding goes where this command line says; it is
    // camelCase without a format (what earlier versions stored), with an old progress snapshot
    await store('forged', forged);
    await js.publish(stateSubject('forged', 'progress'), JSON.stringify({ campaign: 'forged', nextCase: 0, completed: 0, violations: 0, faults: 0, buckets: [], elapsedMs: 1234, updated: new Date().toISOString() }));
    const w = await spawnWorker(server.url, 'model:x86+B-3');
    cleanup.push(() => stopWorker(w));
    const r = await cli(['coordinator', '--nats', server.url, '--resume', '--campaign', 'forged', '--workdir', workdir, '--json']);
    expect(r.code, r.stderr).toBe(1); // the B-3 finding
    const s = JSON.parse(r.stdout.trim().split('\n').pop()!);
    expect(s.buckets[0].file.startsWith(join(workdir, 'findings'))).toBe(true);
    expect(readdirSync(join(workdir, 'findings')).length).toBeGreaterThanOrEqual(1);
    expect(existsSync(join(dir, 'chosen-by-the-record'))).toBe(false);
  }, 120_000);

  it('refuses to resume what does not exist', async () => {
    const server = await startNatsServer();
    cleanup.push(() => server.dispose());
    const r = await cli(['coordinator', '--nats', server.url, '--resume']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`no campaign to resume on ${server.url}`);
    const r2 = await cli(['coordinator', '--nats', server.url, '--resume', '--campaign', 'nope']);
    expect(r2.code).toBe(2);
    expect(r2.stderr).toContain('no campaign "nope" to resume');
  }, 30_000);

  it('`fuzz --nats` runs the same campaign through the farm: a B-3 finding is minimized remotely and recorded', async () => {
    const server = await startNatsServer();
    cleanup.push(() => server.dispose());
    const w = await spawnWorker(server.url, 'model:x86+B-3');
    cleanup.push(() => stopWorker(w));
    const workdir = mkdtempSync(join(tmpdir(), 'ptefarm-work-'));
    cleanup.push(() => rmSync(workdir, { recursive: true, force: true }));
    const r = await cli(['fuzz', '--nats', server.url, '--target', 'model:x86+B-3', '--cases', '500', '--seed', '1', '--stop-after', '1', '--workdir', workdir, '--json']);
    expect(r.code).toBe(1); // a finding
    const s = JSON.parse(r.stdout.trim().split('\n').pop()!);
    expect(s.buckets[0].minimized).toBe(true);
    expect(s.buckets[0].file.startsWith(join(workdir, 'findings'))).toBe(true);
    const [id] = readdirSync(join(workdir, 'findings'));
    const f = JSON.parse(readFileSync(join(workdir, 'findings', id!, 'finding.json'), 'utf8'));
    expect(f).toMatchObject({ target: 'model:x86+B-3', source: 'coordinator', seed: 1, minimized: true });
    expect(s.farm.published).toBeGreaterThan(s.cases);
  }, 90_000);
});
