// The live dashboard end to end: `ptefarm fuzz --target model:x86+B-3 --ui 127.0.0.1:0` runs as a
// real process; headless Chromium (Debian's, driven by playwright-core) opens the URL it prints and
// watches the figures move while cases run: the cases/s figure takes several values, the bucket
// count grows, and the mutant's bucket appears (B-3 skips the soft-dirty fault of an mprotect RO->RW,
// `ptefarm mutants`: the first divergence is the soft-dirty bit lost at the write that follows)
// with its title and a step table whose differing bits are marked. /metrics is checked against
// the Prometheus text format (a strict parser written here from the format's description, and
// promtool when it is installed), /api/state against what the page shows, and the server's
// refusals (wrong Host, writes). Screenshots go to a temporary directory (PTEFARM_UI_SHOTS to keep
// them elsewhere; docs/dashboard.png is one of them).
import { afterAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, statSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const CHROMIUM = '/usr/bin/chromium';
const BIN = new URL('../../bin/ptefarm.mjs', import.meta.url).pathname;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ---- Prometheus text exposition format 0.0.4, strictly ---------------------------------------------
interface Sample { name: string; labels: Record<string, string>; value: number }
interface Family { name: string; type?: string; help?: string; samples: Sample[] }

/** Parse the text format; throws naming the line on anything the format does not allow. */
function parsePrometheus(text: string): Map<string, Family> {
  const fams = new Map<string, Family>();
  const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
  const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
  if (!text.endsWith('\n')) throw new Error('the exposition must end with a newline');
  const lines = text.slice(0, -1).split('\n');
  let current: Family | undefined;
  const family = (name: string) => {
    let f = fams.get(name);
    if (!f) { f = { name, samples: [] }; fams.set(name, f); }
    return f;
  };
  lines.forEach((line, i) => {
    const where = `line ${i + 1} ${JSON.stringify(line)}`;
    if (line === '') throw new Error(`${where}: empty line`);
    if (line.startsWith('#')) {
      const m = /^# (HELP|TYPE) (\S+) (.*)$/.exec(line);
      if (!m) return; // a comment
      const [, kind, name, rest] = m;
      if (!NAME.test(name!)) throw new Error(`${where}: bad metric name`);
      const f = family(name!);
      if (f.samples.length) throw new Error(`${where}: ${kind} after the family's samples`);
      if (kind === 'TYPE') {
        if (f.type) throw new Error(`${where}: second TYPE`);
        if (!['counter', 'gauge', 'histogram', 'summary', 'untyped'].includes(rest!)) throw new Error(`${where}: unknown type`);
        f.type = rest;
      } else {
        if (f.help !== undefined) throw new Error(`${where}: second HELP`);
        if (/\\[^\\n]/.test(rest!.replace(/\\\\/g, ''))) throw new Error(`${where}: bad escape in HELP`);
        f.help = rest;
      }
      current = f;
      return;
    }
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})? (\S+)( -?\d+)?$/.exec(line);
    if (!m) throw new Error(`${where}: not a sample line`);
    const [, name, body, raw] = m;
    const labels: Record<string, string> = Object.create(null);
    if (body) {
      // name="value" pairs; values escape only \\, \" and \n
      let rest = body.slice(1, -1);
      while (rest.length) {
        const lm = /^([^=]+)="((?:[^"\\\n]|\\[\\"n])*)"(,|$)/.exec(rest);
        if (!lm || !LABEL.test(lm[1]!)) throw new Error(`${where}: bad label pair at ${JSON.stringify(rest)}`);
        if (lm[1]! in labels) throw new Error(`${where}: label ${lm[1]} twice`);
        labels[lm[1]!] = lm[2]!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
        rest = rest.slice(lm[0].length);
        if (lm[3] === ',' && !rest.length) break; // a trailing comma is allowed
      }
    }
    if (!/^(?:[+-]?(?:\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)|[+-]Inf|NaN)$/.test(raw!)) throw new Error(`${where}: bad value`);
    const f = fams.get(name!);
    if (!f || f !== current) throw new Error(`${where}: sample outside its family's block (no TYPE/HELP just before)`);
    if (f.type === 'counter' && !name!.endsWith('_total')) throw new Error(`${where}: counter without _total`);
    const key = JSON.stringify(Object.entries(labels).sort());
    if (f.samples.some((s) => s.name === name && JSON.stringify(Object.entries(s.labels).sort()) === key)) throw new Error(`${where}: duplicate series`);
    f.samples.push({ name: name!, labels, value: raw === '+Inf' ? Infinity : raw === '-Inf' ? -Infinity : Number(raw) });
  });
  return fams;
}

const value = (f: Map<string, Family>, name: string, labels: Record<string, string> = {}) =>
  f.get(name)?.samples.find((s) => Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;

function promtool(): string | undefined {
  const cands = [process.env.PTEFARM_PROMTOOL, 'promtool'].filter(Boolean) as string[];
  return cands.find((c) => spawnSync(c, ['--version'], { stdio: 'ignore' }).status === 0);
}

/** a raw request (fetch cannot set Host) */
function raw(url: string, o: { method?: string; host?: string }): Promise<number> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const req = request({ host: u.hostname, port: u.port, path: u.pathname + u.search, method: o.method ?? 'GET', headers: o.host ? { host: o.host } : {} }, (res) => { res.resume(); resolve(res.statusCode!); });
    req.on('error', reject);
    req.end();
  });
}

describe('parsePrometheus (the test\'s own checker)', () => {
  it('accepts the format and refuses what it forbids', () => {
    const ok = '# HELP a_total x\n# TYPE a_total counter\na_total{l="q\\"x\\\\y\\n"} 3\n# TYPE g gauge\ng 1.5e3\ng{k="v"} NaN\n';
    expect(value(parsePrometheus(ok), 'a_total', { l: 'q"x\\y\n' })).toBe(3);
    for (const bad of ['g 1', '# TYPE g gauge\ng 1\ng 1\n', '# TYPE c counter\nc 1\n', '# TYPE g gauge\ng{l="a"b"} 1\n', '# TYPE g gauge\ng one\n',
      '# TYPE g gauge\ng{0l="a"} 1\n', '# TYPE g gauge\n\ng 1\n', '# TYPE g gauge\ng 1\n# TYPE g gauge\n', '# TYPE h gauge\ng 1\n']) {
      expect(() => parsePrometheus(bad), JSON.stringify(bad)).toThrow();
    }
  });
});

describe.skipIf(!existsSync(CHROMIUM))('live dashboard of a fuzz campaign in chromium', () => {
  let child: ChildProcess | undefined;
  afterAll(() => { if (child && child.exitCode === null) child.kill('SIGINT'); });

  it('shows the rate and the buckets moving, the mutant\'s bucket with its title and step table; /metrics is Prometheus text', async () => {
    const shots = process.env.PTEFARM_UI_SHOTS ?? mkdtempSync(join(tmpdir(), 'ptefarm-ui-'));
    const work = mkdtempSync(join(tmpdir(), 'ptefarm-ui-work-'));
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    });
    try {
      // --threads 0: cases run in the campaign's thread (a worktree without dist/ cannot start tsx in pool threads)
      child = spawn(process.execPath, [BIN, 'fuzz', '--target', 'model:x86+B-3', '--ui', '127.0.0.1:0', '--threads', '0', '--duration', '180s', '--seed', '1', '--workdir', work, '--json'],
        { stdio: ['ignore', 'pipe', 'pipe'] });
      let stderr = '';
      let stdout = '';
      child.stderr!.on('data', (d) => { stderr += d; });
      child.stdout!.on('data', (d) => { stdout += d; });
      const exited = new Promise<number | null>((r) => child!.on('exit', (c) => r(c)));
      let url: string | undefined;
      for (let i = 0; i < 300 && !url; i++) {
        url = /dashboard at (http:\/\/127\.0\.0\.1:\d+\/)/.exec(stderr)?.[1];
        if (!url) { if (child.exitCode !== null) throw new Error(`fuzz exited ${child.exitCode}: ${stderr}`); await sleep(100); }
      }
      expect(url, stderr).toBeDefined();

      const page = await browser.newPage({ viewport: { width: 1440, height: 1250 } });
      const errors: string[] = [];
      const outside: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
      page.on('request', (r) => { if (!r.url().startsWith(url!)) outside.push(r.url()); });
      await page.goto(url!);
      await page.locator('#live.on').waitFor(); // the first snapshot arrived over /events

      // the figures move while cases run
      const rates = new Set<string>();
      const bucketCounts: number[] = [];
      const deadline = Date.now() + 100_000; // seed 1 opens the B-3 bucket early (~7 s here), later on a loaded machine
      let mutantTitle: string | undefined;
      // the buckets move: a bucket opens while we watch, or (when B-3's opened before the first
      // snapshot: the check runs in the worker now, and seed 1 finds it within a few cases) its hits grow
      const hits: number[] = [];
      const moved = () => bucketCounts[bucketCounts.length - 1]! > bucketCounts[0]! || (hits.length > 1 && hits[hits.length - 1]! > hits[0]!);
      while (Date.now() < deadline) {
        rates.add((await page.textContent('#rate'))!.trim());
        bucketCounts.push(Number((await page.textContent('#buckets-count'))!.trim()));
        mutantTitle = await page.locator('#buckets-table td.title a', { hasText: 'soft-dirty lost' }).first().textContent({ timeout: 50 }).catch(() => undefined) ?? undefined;
        const h = await page.locator('#buckets-table tr', { hasText: 'soft-dirty lost' }).first().locator('td.num').first().textContent({ timeout: 50 }).catch(() => undefined);
        if (h !== undefined && h !== null) hits.push(Number(h.replace(/[^0-9]/g, '')));
        if (rates.size >= 3 && moved() && mutantTitle) break;
        await sleep(500);
      }
      expect(rates.size, `cases/s values seen: ${[...rates].join(', ')}`).toBeGreaterThanOrEqual(3);
      expect(moved(), `bucket counts seen: ${bucketCounts.join(' ')}; B-3 hits seen: ${hits.join(' ')}`).toBe(true);
      expect(mutantTitle, 'the B-3 bucket (soft-dirty lost) in the table, titled').toMatch(/^soft-dirty lost on .*\(R-[A-Z0-9-]+, mm\//);

      // its section: the title, and the step table rendered as in the HTML report, differing bits marked
      const section = page.locator('section.bucket', { has: page.locator('h3', { hasText: 'soft-dirty lost' }) }).first();
      await section.locator('table.steps').waitFor({ timeout: 10_000 });
      expect(await section.locator('h3').textContent()).toContain(mutantTitle!);
      expect(await section.locator('table.steps .x').count()).toBeGreaterThan(0);
      expect(await section.locator('table.steps th').allTextContents()).toEqual(['step', 'op', 'rc expected / actual', 'proc', 'region', 'pages', 'expected', 'actual']);

      // both charts were drawn by uPlot, with data
      for (const id of ['plot-rate', 'plot-coverage']) {
        const box = await page.locator(`#${id} canvas`).boundingBox();
        expect(box!.width, id).toBeGreaterThan(250);
        expect(box!.height, id).toBeGreaterThan(100);
      }
      // the worker row (the in-thread transport here) and the campaign's options
      expect(await page.locator('#workers-table tbody tr').count()).toBe(1);
      expect(await page.textContent('#workers-table tbody')).toContain('model:x86+B-3');
      expect(await page.textContent('#options-table')).toContain('180000');

      await page.screenshot({ path: join(shots, 'dashboard.png') });
      // the section is re-rendered when its bucket is minimized or saved: shoot the region it occupies
      for (let i = 0; i < 5; i++) {
        try {
          await section.scrollIntoViewIfNeeded({ timeout: 2000 });
          const box = await section.boundingBox({ timeout: 2000 });
          if (box) { await page.screenshot({ path: join(shots, 'dashboard-bucket.png'), clip: box }); break; }
        } catch { await sleep(200); }
      }
      expect(statSync(join(shots, 'dashboard.png')).size).toBeGreaterThan(20_000);
      console.log(`screenshots: ${shots}`);

      // /api/state says what the page says
      const state = await (await fetch(new URL('api/state', url))).json() as {
        format: string; target: string; totals: { completed: number; buckets: number; cases_per_s: number };
        buckets: { title: string; signature: string; hits: number; rows: unknown[] }[]; options: Record<string, unknown>;
      };
      expect(state.format).toBe('ptefarm-dashboard/1');
      expect(state.target).toBe('model:x86+B-3');
      expect(state.totals.buckets).toBeGreaterThanOrEqual(bucketCounts[bucketCounts.length - 1]!);
      const mb = state.buckets.find((b) => b.title === mutantTitle);
      expect(mb, 'the mutant bucket in /api/state').toBeDefined();
      expect(mb!.rows.length).toBeGreaterThan(0);
      expect(mb!.hits).toBeGreaterThanOrEqual(1);

      // /metrics: valid text format, and the same figures
      const res = await fetch(new URL('metrics', url));
      expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
      const text = await res.text();
      const fams = parsePrometheus(text);
      for (const n of ['ptefarm_cases_total', 'ptefarm_violations_total', 'ptefarm_faults_total', 'ptefarm_buckets', 'ptefarm_rules_hit', 'ptefarm_worker_cases_per_second']) {
        expect(fams.get(n)?.samples.length, n).toBeGreaterThan(0);
      }
      expect(value(fams, 'ptefarm_cases_total')!).toBeGreaterThanOrEqual(state.totals.completed);
      expect(value(fams, 'ptefarm_buckets')!).toBeGreaterThanOrEqual(state.totals.buckets);
      expect(value(fams, 'ptefarm_bucket_hits_total', { signature: mb!.signature })!).toBeGreaterThanOrEqual(1);
      expect(value(fams, 'ptefarm_rules_hit')!).toBeGreaterThan(0);
      const tool = promtool();
      if (tool) {
        const r = spawnSync(tool, ['check', 'metrics'], { input: text, encoding: 'utf8' });
        expect(r.status, `promtool check metrics: ${r.stdout}${r.stderr}`).toBe(0);
      } else console.log('promtool not installed: /metrics checked by the test\'s parser only');

      // read-only, and only for requests naming this server
      expect(await raw(new URL('api/state', url).href, { method: 'POST' })).toBe(405);
      expect(await raw(new URL('api/state', url).href, { host: 'attacker.example:80' })).toBe(421);
      expect(outside).toEqual([]);
      expect(errors).toEqual([]);
      await page.close();

      // Ctrl-C: the campaign stops cleanly with its summary; the dashboard goes away with it
      child.kill('SIGINT');
      expect(await exited).toBe(1);
      expect(stdout.trim().split('\n').pop()).toMatch(/"stopped":"interrupted"/);
    } finally {
      await browser.close();
    }
  }, 200_000);
});
