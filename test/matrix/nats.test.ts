// `ptefarm matrix --nats URL` (src/matrix/farm.ts): the targets' cases run on `ptefarm worker`
// processes behind a real nats-server; the matrix is the one the same suite gives in-process, every
// case's result is recorded in JetStream under the matrix's campaign, a target no worker serves has
// no verdict (exit 2), and a worker's announced page geometry is the one its cases are generated in.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { connect } from '@nats-io/transport-node';
import { BIN, natsServerMissing, recordedResults, spawnWorker, startNatsServer, stopWorker, type NatsServer, type WorkerProc } from '../helpers/nats-server.ts';
import { validateMatrix, type MatrixDoc } from '../../src/matrix/schema.ts';
import { runMatrix } from '../../src/matrix/run.ts';
import { infoFromBeat } from '../../src/transport/worker-info.ts';
import { geometryOfHost } from '../../src/ops/trace.ts';
import type { WorkerBeat } from '../../src/transport/nats-common.ts';

const missing = natsServerMissing();
if (missing) process.stderr.write(`matrix --nats tests skipped: ${missing}\n`);

function matrix(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((res) => {
    const p = spawn(process.execPath, [BIN, 'matrix', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '', stderr = '';
    p.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
    p.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
    p.once('exit', (code) => res({ code, stdout, stderr }));
  });
}
const readDoc = (dir: string): MatrixDoc => {
  const v = validateMatrix(JSON.parse(readFileSync(join(dir, 'matrix.json'), 'utf8')));
  if (!v.ok) throw new Error(v.problems.join('\n'));
  return v.doc;
};
const SLICE = ['-n', '2', '--no-corpus', '--family', 'fork', '--family', 'mprotect'];
const strip = (d: MatrixDoc) => d.cells.map((c) => c.results.map((r) => ({ ...r, buckets: r.buckets.map((b) => ({ ...b, case_file: undefined })) })));

describe.skipIf(!!missing)('ptefarm matrix --nats', () => {
  let server: NatsServer;
  let worker: WorkerProc;
  beforeAll(async () => {
    server = await startNatsServer();
    worker = await spawnWorker(server.url, 'model:x86+B-11');
  }, 60_000);
  afterAll(async () => {
    if (worker) await stopWorker(worker);
    await server?.dispose();
  });

  it('runs the cases on the farm: the matrix of the same suite in-process, every result recorded under its campaign', async () => {
    const out = mkdtempSync(join(tmpdir(), 'ptefarm-matrix-nats-'));
    const r = await matrix(['--nats', server.url, '-t', 'model:x86+B-11', ...SLICE, '--out', out]);
    expect(r.code, r.stderr).toBe(1);
    const campaign = /campaign (matrix-[\w-]+)/.exec(r.stderr)?.[1];
    expect(campaign, r.stderr).toBeDefined();
    const doc = readDoc(out);
    expect(doc.targets[0]!.refused).toBeUndefined();
    expect(doc.cells.find((c) => c.id === 'fork/anon/uffd-wp-async')!.results[0]!.status).toBe('diverges');
    // the same verdicts, counts and buckets as the suite run in this process
    const local = await runMatrix({ targets: ['model:x86+B-11'], seed: 1, casesPerCell: 2, threads: 0, corpusDirs: [], cellFilter: (c) => c.family === 'fork' || c.family === 'mprotect' });
    const a = strip(doc), b = strip(local.doc);
    const differ = doc.cells.map((c, i) => ({ id: c.id, farm: a[i], here: b[i] })).filter((x) => !isDeepStrictEqual(x.farm, x.here));
    expect(differ, JSON.stringify(differ.slice(0, 2), null, 1)).toEqual([]);
    // every case went through JetStream, answered by the worker
    const nc = await connect({ servers: server.url });
    try {
      const recorded = await recordedResults(nc, campaign!);
      const t = doc.targets[0]!.totals;
      expect(recorded.length).toBe(t.cases + t.skipped + t.faults);
      expect(new Set(recorded.map((m) => m.origin.id))).toEqual(new Set([worker.id]));
    } finally { await nc.close(); }
  }, 120_000);

  it('a target no worker serves has no verdict: its cells faulted with the reason, exit 2; the other column is written', async () => {
    const out = mkdtempSync(join(tmpdir(), 'ptefarm-matrix-nats-'));
    const r = await matrix(['--nats', server.url, '-t', 'model:x86+B-11', '-t', 'model:x86+B-3', ...SLICE, '--no-worker-grace', '2s', '--out', out, '-q']);
    expect(r.code, r.stderr).toBe(2);
    const doc = readDoc(out);
    expect(doc.targets[1]!.refused).toMatch(/no worker for model:x86\+B-3 announced itself .* within 2 s/);
    for (const c of doc.cells) {
      expect(c.results[1]!.status, c.id).toBe('faulted');
      expect(['agrees', 'diverges'], c.id).toContain(c.results[0]!.status);
    }
  }, 120_000);

  it('a dead server is an error naming the URL, exit 2', async () => {
    const r = await matrix(['--nats', 'nats://127.0.0.1:1', '-t', 'model:x86', ...SLICE, '-q']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/127\.0\.0\.1:1/);
  }, 60_000);
});

describe('a farm target\'s info from its worker\'s heartbeat', () => {
  it('takes arch, kernel, the capability booleans and the page geometry; what is not announced is false', () => {
    const beat = { caps: { arch: 'aarch64', kernel: '6.12.1-arm64-16k', uffd_wp: true, wp_async: true, pagemap_scan: true, thp: true, page_size: 16384, pmd_size: 32 << 20, probe: { x: 1 } } } as unknown as WorkerBeat;
    const info = infoFromBeat('qemu:debian-6.12-arm64-16k', beat);
    expect(info).toMatchObject({ name: 'qemu:debian-6.12-arm64-16k', arch: 'aarch64', kernel: '6.12.1-arm64-16k' });
    expect(info.capabilities).toMatchObject({ soft_dirty: false, swap: false, uffd_wp: true, thp: true });
    expect(geometryOfHost(info.host)).toMatchObject({ pageSize: 16384, pmdPages: 2048 });
    expect(geometryOfHost(infoFromBeat('live', { caps: { arch: 'x86_64' } } as unknown as WorkerBeat).host)).toMatchObject({ pageSize: 4096, pmdPages: 512 });
  });
});
