// The HTML report in a real headless browser (Debian chromium driven by playwright-core): it
// renders, opens on the root causes and their step tables, has its four inline-SVG plots with data
// (coverage counted as the campaign counts it), the bucket's step table marks the differing
// bits, it loads nothing from outside, and a screenshot is saved in the run directory.
import { describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL, fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { ModelTarget } from '../../src/targets/model.ts';
import type { CaseJob, CaseResult, Transport } from '../../src/transport/transport.ts';
import { referenceChecker } from '../../src/campaign/checker.ts';
import { runGate } from '../../src/gate/gate.ts';
import { saveRun, writeReports } from '../../src/report/rundir.ts';

const CHROMIUM = '/usr/bin/chromium';
const root = fileURLToPath(new URL('../..', import.meta.url));

class ModelTransport implements Transport {
  readonly concurrency = 1;
  private readonly t: ModelTarget;
  constructor(spec: string) { this.t = new ModelTarget(spec); }
  async run(job: CaseJob): Promise<CaseResult> { return { id: job.id, trace: await this.t.execute(job.case) }; }
  async close() {}
}

describe.skipIf(!existsSync(CHROMIUM))('HTML report in chromium', () => {
  it('renders with plots and step tables; screenshot saved under the run directory', async () => {
    const out = process.env.PTEFARM_HTML_RUN_DIR ?? mkdtempSync(join(tmpdir(), 'ptefarm-html-'));
    const run = await runGate({
      target: 'model:x86+B-3', transport: new ModelTransport('model:x86+B-3'), checker: await referenceChecker(),
      corpusDirs: [join(root, 'corpus/mutants/B-3.json')], seed: 3, cases: 150, outDir: out,
    });
    expect(run.exit_code).toBe(1);
    await saveRun(out, run);
    await writeReports(out);

    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    });
    try {
      const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
      const outside: string[] = [];
      page.on('request', (r) => { if (!r.url().startsWith('file:') && !r.url().startsWith('data:')) outside.push(r.url()); });
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      await page.goto(pathToFileURL(join(out, 'report.html')).href);
      expect(await page.textContent('#verdict')).toBe('FAIL');
      for (const id of ['plot-rate', 'plot-cases', 'plot-coverage', 'plot-buckets']) {
        const svg = page.locator(`svg#${id}`);
        expect(await svg.count(), id).toBe(1);
        const box = await svg.boundingBox();
        expect(box!.width, id).toBeGreaterThan(200);
        // the bucket plot has one row per bucket (root-cause buckets: few), the others a fixed height
        expect(box!.height, id).toBeGreaterThan(id === 'plot-buckets' ? 40 : 100);
      }
      expect(await page.locator('svg#plot-rate path.line').count()).toBe(1);
      expect(await page.locator('svg#plot-coverage rect.bar').count()).toBeGreaterThan(5);
      expect(await page.locator('svg#plot-buckets rect.bar.new').count()).toBe(run.buckets.length);
      // every bucket has a step table, and its differing soft-dirty letters are marked
      expect(await page.locator('section.bucket').count()).toBe(run.buckets.length);
      expect(await page.locator('section.bucket table.steps').count()).toBe(run.buckets.length);
      expect(await page.locator('section.bucket table.steps .x').count()).toBeGreaterThan(0);
      // it opens on the root causes: the first heading, and every step table above the plots
      expect(await page.locator('h2').first().textContent()).toBe(`Root causes (${run.buckets.length})`);
      const lastTable = await page.locator('section.bucket table.steps').last().boundingBox();
      expect(lastTable!.y).toBeLessThan((await page.locator('svg#plot-rate').boundingBox())!.y);
      // the coverage plot counts as the campaign does
      const c = run.campaign!.coverage;
      expect(await page.locator('svg#plot-coverage text.title').textContent()).toBe(`rule coverage by family (${c.rules_hit}/${c.rules_total} rules)`);
      expect(outside).toEqual([]);
      expect(errors).toEqual([]);
      const png = join(out, 'report.png');
      await page.screenshot({ path: png, fullPage: true });
      expect(statSync(png).size).toBeGreaterThan(10_000);
      console.log(`screenshot: ${png}`);
    } finally {
      await browser.close();
    }
  }, 120_000);
});
