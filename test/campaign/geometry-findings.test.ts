// Findings and corpus cases of a 16 KiB-page target (docs/page-size.md): a region may hold 4096 of
// its pages, over the 1024-page limit of 4 KiB pages. A campaign generating for 16 KiB pages records
// a finding whose case has such a region together with its geometry (finding.json page_size,
// pmd_size); `ptefarm corpus add` promotes it with the geometry sidecar; the corpus loader validates
// it within the 16 KiB limits and `ptefarm replay` runs it on `model:x86-16k`. Without a geometry (older findings, corpus files without a sidecar) a
// case is 4 KiB and one over 1024 pages is refused with the limit named.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCampaign } from '../../src/campaign/campaign.ts';
import { listFindings, loadFinding } from '../../src/campaign/findings.ts';
import { loadCorpus, saveReproducer } from '../../src/campaign/corpus.ts';
import { geometryOf, GEOMETRY_4K } from '../../src/ops/layout.ts';
import type { Case } from '../../src/ops/schema.ts';
import type { Checker } from '../../src/campaign/checker.ts';
import { FakeTransport } from './fakes.ts';

const BIN = new URL('../../bin/ptefarm.mjs', import.meta.url).pathname;
const run = (args: string[], cwd?: string) => spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 120_000, cwd });
const G16 = geometryOf(16384);
const bigPages = (c: Case) => Math.max(0, ...c.ops.map((o) => (o.op === 'mmap' ? o.pages : 0)));

/** a synthetic bug that shows only in cases with a region over 1024 pages */
const bigRegionChecker: Checker = {
  rulesTotal: 1,
  signature: () => 'synthetic:big-region',
  check(c) {
    const i = c.ops.findIndex((o) => o.op === 'mmap' && o.pages > 1024);
    return {
      violations: i < 0 ? [] : [{ kind: 'bit', step: i, op: 'mmap', bit: 'D', expected: '1', actual: '0', rules: ['R-X'], severity: 'lost', message: 'synthetic' }],
      stepRules: c.ops.map(() => []),
    };
  },
};

const bigCase = (pages: number): Case => ({ format: 'ptefarm-case/1', ops: [{ op: 'mmap', region: 'a', pages, kind: 'anon' }, { op: 'write', region: 'a', first: pages - 1, count: 1 }] });

describe('findings of a 16 KiB-page target', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'ptefarm-geom-findings-'));
  const workdir = join(tmp, 'work');
  const checkout = join(tmp, 'checkout');
  mkdirSync(checkout);

  it('a campaign stores a case over 1024 pages with its geometry; corpus add promotes it; the corpus loads it', async () => {
    const s = await runCampaign({
      target: 'model:x86', transport: new FakeTransport(2), checker: bigRegionChecker, seed: 1, cases: 120,
      minimize: false, reliabilityRuns: 0, workdir, generate: { geometry: G16 },
    });
    expect(s.buckets.map((b) => b.signature)).toEqual(['synthetic:big-region']);
    const [f] = await listFindings(workdir);
    expect(f!.error).toBeUndefined();
    expect(f!.finding).toMatchObject({ page_size: 16384, pmd_size: 32 * 1024 * 1024 });
    expect(f!.geometry).toEqual(G16);
    expect(bigPages(f!.case!)).toBeGreaterThan(1024);
    expect(bigPages(f!.case!)).toBeLessThanOrEqual(4096);

    const a = run(['corpus', 'add', f!.finding!.id, '--workdir', workdir], checkout);
    expect(a.status, a.stderr).toBe(0);
    const dir = join(checkout, 'corpus', 'regressions');
    const files = readdirSync(dir).sort();
    expect(files.filter((x) => x.endsWith('.json'))).toHaveLength(1);
    const side = files.find((x) => x.endsWith('.geometry'))!;
    expect(JSON.parse(readFileSync(join(dir, side), 'utf8'))).toEqual({ page_size: 16384, pmd_size: 32 * 1024 * 1024 });

    const [e] = await loadCorpus([dir]);
    expect(e!.error).toBeUndefined();
    expect(e!.geometry).toEqual(G16);
    expect(e!.case!.ops).toEqual(f!.case!.ops);
    // replayed from the corpus on a 16 KiB target: valid there and agreeing with the model
    const r = run(['replay', '--target', 'model:x86-16k', '--json', dir]);
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(JSON.parse(r.stdout.trim().split('\n').pop()!)).toMatchObject({ cases: 1, ok: 1, errors: 0 });
    // on a 4 KiB target it is skipped, naming both geometries (its pages would mean other sizes)
    const r4 = run(['replay', '--target', 'model:x86', '--json', dir]);
    expect(r4.status, r4.stdout + r4.stderr).toBe(0);
    const lines = r4.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(lines[0]).toMatchObject({ status: 'skipped', reason: 'written for 16 KiB pages, 32 MiB PMD; model:x86 has 4 KiB pages, 2 MiB PMD' });
    expect(lines.pop()).toMatchObject({ cases: 1, ok: 0, skipped: 1 });
  });

  it('a finding without a geometry is 4 KiB: its case over 1024 pages is refused by corpus add, naming the limit', () => {
    const fdir = join(workdir, 'findings', 'old-4k');
    mkdirSync(fdir, { recursive: true });
    const at = new Date().toISOString();
    writeFileSync(join(fdir, 'finding.json'), JSON.stringify({
      format: 'ptefarm-finding/1', id: 'old-4k', title: 't', signature: 'sig-old', target: 'live', kernels_seen: [], source: 'fuzz',
      tool_version: '0', first_seen: at, last_seen: at, hits: 1, ops: 2, minimized: false,
    }));
    writeFileSync(join(fdir, 'case.json'), JSON.stringify(bigCase(2048)));
    const a = run(['corpus', 'add', fdir, '--workdir', workdir], checkout);
    expect(a.status).toBe(2);
    expect(a.stderr).toMatch(/not a valid case within the limits of 4 KiB pages, 2 MiB PMD/);
    expect(a.stderr).toMatch(/1024/);
  });

  it('the same case is valid in a 16 KiB finding, and 4097 pages are over even its limit', async () => {
    const fdir = join(workdir, 'findings', 'new-16k');
    mkdirSync(fdir, { recursive: true });
    const at = new Date().toISOString();
    const finding = { format: 'ptefarm-finding/1', id: 'new-16k', title: 't', signature: 'sig-16k', target: 'qemu:debian-6.12-arm64-16k', kernels_seen: [], source: 'fuzz',
      tool_version: '0', first_seen: at, last_seen: at, hits: 1, ops: 2, minimized: false, page_size: 16384, pmd_size: 32 * 1024 * 1024 };
    writeFileSync(join(fdir, 'finding.json'), JSON.stringify(finding));
    writeFileSync(join(fdir, 'case.json'), JSON.stringify(bigCase(2048)));
    expect((await loadFinding(fdir)).case).toBeDefined();
    writeFileSync(join(fdir, 'case.json'), JSON.stringify(bigCase(4097)));
    expect((await loadFinding(fdir)).error).toMatch(/limits of 16 KiB pages, 32 MiB PMD.*4096/);
  });

  it('a corpus case over 1024 pages without a sidecar is refused by the loader; saveReproducer refuses it as 4 KiB', async () => {
    const dir = join(tmp, 'plain');
    mkdirSync(dir);
    writeFileSync(join(dir, 'x.json'), JSON.stringify(bigCase(2048)));
    const [e] = await loadCorpus([dir]);
    expect(e!.case).toBeUndefined();
    expect(e!.error).toMatch(/x\.json: invalid case/);
    expect(e!.error).toMatch(/1024/);
    await expect(saveReproducer(dir, 'sig', bigCase(2048))).rejects.toThrow(/refusing to save an invalid reproducer.*1024/);
    // given its geometry it is saved with a sidecar, next to (never over) the bucket's 4 KiB reproducer
    const r = await saveReproducer(dir, 'sig', bigCase(2048), undefined, undefined, G16);
    expect(r.written).toBe(true);
    expect(r.path).toMatch(/-16k\.json$/);
    expect(readdirSync(dir).filter((x) => x.endsWith('.geometry'))).toHaveLength(1);
    const r4 = await saveReproducer(dir, 'sig', bigCase(8), undefined, undefined, GEOMETRY_4K);
    expect(r4.written).toBe(true);
    expect(r4.path).not.toBe(r.path);
    const all = await loadCorpus([dir]);
    expect(all.find((x) => x.path === r.path)).toMatchObject({ case: { ops: bigCase(2048).ops }, geometry: G16 });
    expect(all.find((x) => x.path === r4.path)).toMatchObject({ case: { ops: bigCase(8).ops } });
    expect(all.find((x) => x.path === r4.path)!.geometry).toBeUndefined();
    // a sidecar that is not a geometry makes its case an error naming the sidecar
    writeFileSync(r.path.replace(/\.json$/, '.geometry'), '{"page_size":12345}');
    expect((await loadCorpus([dir])).find((x) => x.path === r.path)!.error).toMatch(/-16k\.geometry: bad page geometry: page size 12345/);
  });
});
