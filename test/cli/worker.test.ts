// `ptefarm worker` end to end: clear exit 2 for a dead server or a bad target; token and
// user/password auth and mutual TLS work on both sides (and their absence is refused by the server).
import { afterEach, describe, expect, it } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BIN, natsServerMissing, spawnWorker, startNatsServer, stopWorker } from '../helpers/nats-server.ts';

const missing = natsServerMissing();
if (missing) console.warn(`skipping worker CLI tests: ${missing}`);
const noOpenssl = spawnSync('openssl', ['version']).error ? 'openssl not found (needed to make test certificates)' : undefined;
if (!missing && noOpenssl) console.warn(`skipping the TLS test: ${noOpenssl}`);

const cleanup: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => { for (const f of cleanup.splice(0).reverse()) await f(); });

interface Run { code: number | null; stdout: string; stderr: string }
function cli(args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
    p.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
    p.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

/** a small campaign through the farm with these connection flags; returns the parsed summary */
async function smallCampaign(url: string, flags: string[]): Promise<{ cases: number; faults: number }> {
  const r = await cli(['coordinator', '--nats', url, ...flags, '--target', 'model:x86', '--cases', '40', '--max-ops', '6', '--seed', '3', '--json', '--no-minimize', '--no-save']);
  expect(r.stderr).not.toMatch(/cannot connect/);
  expect(r.code).toBe(0);
  return JSON.parse(r.stdout.trim());
}

describe.skipIf(!!missing)('ptefarm worker', () => {
  it('exits 2 naming the URL when no NATS server answers, and 2 on a bad target', async () => {
    const s = await startNatsServer();
    const url = s.url;
    await s.dispose();
    const r = await cli(['worker', '--nats', url, '--target', 'model:x86']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`cannot connect to NATS at ${url}`);
    const r2 = await cli(['worker', '--nats', url, '--target', 'model:arm64']);
    expect(r2.code).toBe(2);
    expect(r2.stderr).toMatch(/bad model target "model:arm64"/);
  }, 30_000);

  it('token auth: refused without the token, serves a campaign with it', async () => {
    const server = await startNatsServer(['--auth', 's3cret-token']);
    cleanup.push(() => server.dispose());
    const bad = await cli(['worker', '--nats', server.url, '--target', 'model:x86']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(new RegExp(`cannot connect to NATS at ${server.url}: .*(auth|Authorization)`, 'i'));
    const w = await spawnWorker(server.url, 'model:x86', ['--nats-token', 's3cret-token']);
    cleanup.push(() => stopWorker(w));
    const s = await smallCampaign(server.url, ['--nats-token', 's3cret-token']);
    expect(s.cases).toBe(40);
    expect(s.faults).toBe(0);
  }, 60_000);

  it('user/password auth on both sides', async () => {
    const server = await startNatsServer(['--user', 'farm', '--pass', 'pw-1']);
    cleanup.push(() => server.dispose());
    const bad = await cli(['worker', '--nats', server.url, '--target', 'model:x86', '--nats-user', 'farm', '--nats-pass', 'wrong']);
    expect(bad.code).toBe(2);
    const w = await spawnWorker(server.url, 'model:x86', ['--nats-user', 'farm', '--nats-pass', 'pw-1']);
    cleanup.push(() => stopWorker(w));
    const s = await smallCampaign(server.url, ['--nats-user', 'farm', '--nats-pass', 'pw-1']);
    expect(s.cases).toBe(40);
  }, 60_000);

  it.skipIf(!!noOpenssl)('mutual TLS: --tls-ca/--tls-cert/--tls-key on both sides; no client certificate is refused', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ptefarm-tls-'));
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    const ssl = (...a: string[]) => {
      const r = spawnSync('openssl', a, { cwd: dir, encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`openssl ${a.join(' ')}: ${r.stderr}`);
    };
    ssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', '/CN=ptefarm test CA', '-keyout', 'ca.key', '-out', 'ca.pem');
    for (const [name, ext] of [['server', 'subjectAltName=IP:127.0.0.1,DNS:localhost\n'], ['client', 'extendedKeyUsage=clientAuth\n']]) {
      writeFileSync(join(dir, `${name}.ext`), ext);
      ssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-subj', `/CN=${name}`, '-keyout', `${name}.key`, '-out', `${name}.csr`);
      ssl('x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '1', '-out', `${name}.pem`, '-extfile', `${name}.ext`);
    }
    const server = await startNatsServer(['--tlsverify', '--tlscert', join(dir, 'server.pem'), '--tlskey', join(dir, 'server.key'), '--tlscacert', join(dir, 'ca.pem')]);
    cleanup.push(() => server.dispose());
    const tls = ['--tls-ca', join(dir, 'ca.pem'), '--tls-cert', join(dir, 'client.pem'), '--tls-key', join(dir, 'client.key')];
    const bad = await cli(['worker', '--nats', server.url, '--target', 'model:x86', '--tls-ca', join(dir, 'ca.pem')]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain(`cannot connect to NATS at ${server.url}`);
    const w = await spawnWorker(server.url, 'model:x86', tls);
    cleanup.push(() => stopWorker(w));
    const s = await smallCampaign(server.url, tls);
    expect(s.cases).toBe(40);
  }, 90_000);
});
