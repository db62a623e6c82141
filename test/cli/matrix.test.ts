// `ptefarm matrix` end to end: the files it writes (and where by default), its exit codes, a live
// run on this host next to the model (soft-dirty cells unsupported where the kernel has no
// soft-dirty, never "agrees"), and the HTML in a real headless chromium.
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';
import { validateMatrix, type MatrixDoc } from '../../src/matrix/schema.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));
const cli = (...args: string[]) => spawnSync(process.execPath, [join(root, 'bin/ptefarm.mjs'), 'matrix', ...args], { encoding: 'utf8', cwd: root });
const CHROMIUM = '/usr/bin/chromium';
const EXECUTOR = join(root, 'workers/executor/ptefarm-exec');

function readDoc(dir: string): MatrixDoc {
  const v = validateMatrix(JSON.parse(readFileSync(join(dir, 'matrix.json'), 'utf8')));
  if (!v.ok) throw new Error(v.problems.join('\n'));
  return v.doc;
}

describe('ptefarm matrix', () => {
  it('writes matrix.json, matrix.md and matrix.html into <workdir>/matrix by default; exit 0 when nothing diverges', () => {
    const work = mkdtempSync(join(tmpdir(), 'ptefarm-matrix-'));
    const r = cli('--target', 'model:x86', '-n', '1', '-j', '0', '--no-corpus', '--family', 'fork', '--family', 'clear_refs', '--workdir', work);
    expect(r.status, r.stdout + r.stderr).toBe(0);
    const dir = join(work, 'matrix');
    for (const f of ['matrix.json', 'matrix.md', 'matrix.html']) expect(existsSync(join(dir, f)), f).toBe(true);
    const doc = readDoc(dir);
    // 2 families x 6 backings (anon, shared-anon, memfd-shared, memfd-private, hugetlb, hugetlb-shared) x 4 mechanisms
    expect(doc.cells).toHaveLength(2 * 6 * 4);
    expect(doc.cells.every((c) => c.results[0]!.status === 'agrees')).toBe(true);
    expect(r.stdout).toContain('| fork | anon | agrees (1) | agrees (1) | agrees (1) | agrees (1) |');
  }, 60_000);

  it('a diverging run (bucket cases written) leaves the repository untouched', () => {
    const git = (...a: string[]) => spawnSync('git', a, { cwd: root, encoding: 'utf8' }).stdout;
    const before = git('status', '--porcelain', '--untracked-files=all') + git('diff', 'HEAD');
    const work = mkdtempSync(join(tmpdir(), 'ptefarm-matrix-'));
    const r = cli('-t', 'model:x86+B-11', '-n', '2', '-j', '0', '--family', 'fork', '--mechanism', 'uffd-wp-async', '--workdir', work, '-q');
    expect(r.status, r.stderr).toBe(1);
    expect(readDoc(join(work, 'matrix')).cells.some((c) => c.results[0]!.buckets.length > 0)).toBe(true);
    expect(git('status', '--porcelain', '--untracked-files=all') + git('diff', 'HEAD')).toBe(before);
  }, 60_000);

  it('bad input exits 2 naming the problem', () => {
    const none = cli('-n', '1');
    expect(none.status).toBe(2);
    expect(none.stderr).toMatch(/--target: give at least one target/);
    const fam = cli('-t', 'model:x86', '--family', 'nope');
    expect(fam.status).toBe(2);
    expect(fam.stderr).toMatch(/--family: unknown family "nope" \(known: fault, fork/);
    const badOut = mkdtempSync(join(tmpdir(), 'ptefarm-matrix-'));
    const bad = cli('-t', 'model:x86+Z-9', '-t', 'model:x86', '-n', '0', '--no-corpus', '--family', 'fork', '--out', badOut);
    // a target that cannot start: exit 2, and a matrix whose column for it has no verdict (faulted)
    expect(bad.status, bad.stderr).toBe(2);
    expect(bad.stderr).toMatch(/model:x86\+Z-9: no verdict \(did not start\): .*Z-9/);
    const doc = readDoc(badOut);
    expect(doc.targets[0]!.refused).toMatch(/Z-9/);
    for (const c of doc.cells) {
      expect(c.results[0]!.status, c.id).toBe('faulted');
      expect(c.results[0]!.reason).toMatch(/could not start/);
    }
  }, 60_000);

  it.skipIf(!existsSync(EXECUTOR))('live next to the model: same cases; soft-dirty cells follow the host capability (unsupported where it is compiled out, as on the CI host)', () => {
    const out = mkdtempSync(join(tmpdir(), 'ptefarm-matrix-live-'));
    const r = cli('-t', 'live', '-t', 'model:x86', '-n', '1', '-j', '0', '--no-corpus', '--family', 'fault', '--family', 'fork', '--family', 'mprotect', '--backing', 'anon', '--backing', 'memfd-shared', '--out', out, '-q');
    expect([0, 1], r.stdout + r.stderr).toContain(r.status);
    const doc = readDoc(out);
    const [live] = doc.targets;
    expect(live!.spec).toBe('live');
    expect(live!.refused, live!.refused).toBeUndefined();
    const sd = live!.capabilities!.soft_dirty;
    for (const c of doc.cells) {
      const [l, m] = c.results;
      if (c.mechanism === 'soft-dirty' && !sd) {
        expect(l!.status, c.id).toBe('unsupported');
        expect(l!.reason).toMatch(/soft-dirty is compiled out/);
        expect(m!.status, c.id).toBe('agrees');
      } else {
        // the host gives a verdict (agrees or diverges: a divergence is a finding, not a test failure)
        expect(['agrees', 'diverges'], `${c.id}: ${l!.reason ?? ''}`).toContain(l!.status);
        expect(l!.cases, c.id).toBe(m!.cases);
      }
    }
  }, 60_000);

  it.skipIf(!existsSync(CHROMIUM))('the HTML renders in chromium: one table per target, diverging cells marked, no outside request', async () => {
    const out = process.env.PTEFARM_MATRIX_HTML_DIR ?? mkdtempSync(join(tmpdir(), 'ptefarm-matrix-html-'));
    const r = cli('-t', 'model:x86', '-t', 'model:x86+B-11', '-n', '2', '-j', '0', '--no-corpus', '--family', 'fork', '--family', 'mprotect', '--family', 'uffd', '--out', out, '-q');
    expect(r.status, r.stdout + r.stderr).toBe(1);
    const doc = readDoc(out);
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    });
    try {
      const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
      const outside: string[] = [];
      page.on('request', (q) => { if (!q.url().startsWith('file:') && !q.url().startsWith('data:')) outside.push(q.url()); });
      await page.goto(pathToFileURL(join(out, 'matrix.html')).href);
      expect(await page.locator('table.matrix').count()).toBe(2);
      const diverging = doc.cells.filter((c) => c.results[1]!.status === 'diverges').length;
      expect(diverging).toBeGreaterThan(0);
      expect(await page.locator('table.matrix').nth(1).locator('td.diverges').count()).toBe(diverging);
      expect(await page.locator('table.matrix').nth(0).locator('td.diverges').count()).toBe(0);
      expect(await page.locator('table.matrix').nth(0).locator('td.agrees').count()).toBe(doc.cells.filter((c) => c.results[0]!.status === 'agrees').length);
      const box = await page.locator('table.matrix').first().boundingBox();
      expect(box!.width).toBeGreaterThan(400);
      await page.screenshot({ path: join(out, 'matrix.png'), fullPage: true });
      expect(outside).toEqual([]);
    } finally {
      await browser.close();
    }
  }, 90_000);
});
