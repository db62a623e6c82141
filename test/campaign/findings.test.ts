// The work directory's findings store (src/campaign/findings.ts): one directory per (target,
// signature) with case.json (a valid case) and finding.json (provenance); a re-hit adds hits and
// moves last_seen, replacing the case only with a smaller one; writes are atomic (no temporary
// files left, concurrent sightings keep the smallest case and count every hit).
import { mkdtempSync, readdirSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Case } from '../../src/ops/schema.ts';
import type { TargetInfo } from '../../src/ops/trace.ts';
import { validateCase } from '../../src/ops/validate.ts';
import { addHits, findingId, listFindings, locateFinding, recordFinding, toolVersion } from '../../src/campaign/findings.ts';

const mk = (n: number): Case => ({
  format: 'ptefarm-case/1',
  ops: [{ op: 'mmap', region: 'a', pages: 2, kind: 'anon' }, ...Array.from({ length: n - 1 }, () => ({ op: 'write' as const, region: 'a' }))],
});
const SIG = 'bit.D.lost.R-CR-2.write.pte';
const INFO: TargetInfo = { name: 'live', arch: 'x86_64', kernel: '6.18.44', capabilities: { soft_dirty: false, uffd_wp: true, wp_async: true, pagemap_scan: true, swap: true, thp: true } };
const read = (p: string) => JSON.parse(readFileSync(p, 'utf8'));
const noTmp = (dir: string) => readdirSync(dir, { recursive: true }).map(String).filter((n) => n.endsWith('.tmp'));

describe('findings store', () => {
  it('records a new finding with its provenance, as a valid case plus finding.json', async () => {
    const wd = mkdtempSync(join(tmpdir(), 'ptefarm-work-'));
    const at = new Date('2026-12-01T10:00:00Z');
    const r = await recordFinding(wd, { target: 'live', signature: SIG, case: mk(4), hits: 3, minimized: true, source: 'fuzz', info: INFO, seed: 7, caseIndex: 123, reliability: '5/5', example: 'step 3 ...' }, at);
    expect(r).toMatchObject({ written: true, reason: 'new' });
    expect(r.dir).toBe(join(wd, 'findings', findingId('live', SIG)));
    expect(readdirSync(r.dir).sort()).toEqual(['case.json', 'finding.json']);
    const c = read(r.caseFile);
    expect(validateCase(c)).toEqual([]);
    expect(c.ops).toHaveLength(4);
    expect(c.name).toBe(SIG);
    expect(read(join(r.dir, 'finding.json'))).toEqual({
      format: 'ptefarm-finding/1', id: findingId('live', SIG), title: SIG, signature: SIG, signature_version: 4, target: 'live',
      target_name: 'live', arch: 'x86_64', kernel: '6.18.44', probe: INFO.capabilities, kernels_seen: ['6.18.44'],
      seed: 7, case_index: 123, source: 'fuzz', tool_version: toolVersion(), first_seen: at.toISOString(), last_seen: at.toISOString(),
      hits: 3, ops: 4, minimized: true, reliability: '5/5', example: 'step 3 ...',
    });
    expect(toolVersion()).toBe(read(new URL('../../package.json', import.meta.url).pathname).version);
    expect(noTmp(wd)).toEqual([]);
  });

  it('a re-hit adds hits and moves last_seen; the case changes only for a smaller one', async () => {
    const wd = mkdtempSync(join(tmpdir(), 'ptefarm-work-'));
    const t = (h: number) => new Date(Date.UTC(2026, 11, 1, h));
    const base = { target: 'live', signature: SIG, minimized: true, source: 'fuzz', info: INFO };
    const r1 = await recordFinding(wd, { ...base, case: mk(4), hits: 2, seed: 1, caseIndex: 10 }, t(1));
    const caseText = readFileSync(r1.caseFile, 'utf8');
    const r2 = await recordFinding(wd, { ...base, case: mk(6), hits: 5, seed: 2, caseIndex: 20, info: { ...INFO, kernel: '6.19.0' } }, t(2));
    expect(r2).toMatchObject({ written: false, reason: 'kept-existing' });
    expect(readFileSync(r1.caseFile, 'utf8')).toBe(caseText);
    let f = read(join(r1.dir, 'finding.json'));
    // provenance stays the stored reproducer's (seed 1, case 10, 6.18.44); the new kernel is noted
    expect(f).toMatchObject({ hits: 7, first_seen: t(1).toISOString(), last_seen: t(2).toISOString(), seed: 1, case_index: 10, kernel: '6.18.44', ops: 4 });
    expect(f.kernels_seen).toEqual(['6.18.44', '6.19.0']);
    const r3 = await recordFinding(wd, { ...base, case: mk(2), hits: 1, seed: 3, caseIndex: 30 }, t(3));
    expect(r3).toMatchObject({ written: true, reason: 'smaller' });
    expect(read(r1.caseFile).ops).toHaveLength(2);
    f = read(join(r1.dir, 'finding.json'));
    expect(f).toMatchObject({ hits: 8, last_seen: t(3).toISOString(), seed: 3, case_index: 30, ops: 2, first_seen: t(1).toISOString() });
    // hits alone
    expect(await addHits(wd, 'live', SIG, 4, t(4))).toMatchObject({ hits: 12, last_seen: t(4).toISOString() });
    expect(read(r1.caseFile).ops).toHaveLength(2);
    expect(await addHits(wd, 'live', 'other', 1)).toBeUndefined();
    expect(noTmp(wd)).toEqual([]);
  });

  it('one finding per target: the same signature on two targets is two findings', async () => {
    const wd = mkdtempSync(join(tmpdir(), 'ptefarm-work-'));
    await recordFinding(wd, { target: 'live', signature: SIG, case: mk(3), hits: 1, minimized: false, source: 'fuzz' });
    await recordFinding(wd, { target: 'model:x86+B-5', signature: SIG, case: mk(3), hits: 1, minimized: false, source: 'fuzz' });
    expect(readdirSync(join(wd, 'findings'))).toHaveLength(2);
    expect((await listFindings(wd)).map((f) => f.finding?.target).sort()).toEqual(['live', 'model:x86+B-5']);
  });

  it('concurrent sightings keep the smallest case and count every hit', async () => {
    const wd = mkdtempSync(join(tmpdir(), 'ptefarm-work-'));
    await Promise.all([7, 3, 5, 9, 4].map((n) => recordFinding(wd, { target: 'live', signature: SIG, case: mk(n), hits: 1, minimized: true, source: 'fuzz' })));
    const [f] = await listFindings(wd);
    expect(f!.case!.ops).toHaveLength(3);
    expect(f!.finding).toMatchObject({ hits: 5, ops: 3 });
    expect(noTmp(wd)).toEqual([]);
  });

  it('refuses an invalid case; lists broken entries with the reason; locates findings by dir, file or id', async () => {
    const wd = mkdtempSync(join(tmpdir(), 'ptefarm-work-'));
    await expect(recordFinding(wd, { target: 'live', signature: SIG, case: { format: 'ptefarm-case/1', ops: [{ op: 'write', region: 'zz' }] } as Case, hits: 1, minimized: false, source: 'fuzz' }))
      .rejects.toThrow(/invalid reproducer/);
    const ok = await recordFinding(wd, { target: 'live', signature: SIG, case: mk(2), hits: 1, minimized: false, source: 'fuzz' });
    mkdirSync(join(wd, 'findings', 'broken'));
    writeFileSync(join(wd, 'findings', 'broken', 'finding.json'), '{ nope');
    const all = await listFindings(wd);
    expect(all).toHaveLength(2);
    expect(all.find((f) => f.dir.endsWith('broken'))!.error).toMatch(/not a ptefarm-finding\/1 file/);
    expect(await locateFinding(ok.dir, wd)).toBe(ok.dir);
    expect(await locateFinding(ok.caseFile, wd)).toBe(ok.dir);
    expect(await locateFinding(findingId('live', SIG), wd)).toBe(ok.dir);
    await expect(locateFinding('nope', wd)).rejects.toThrow(/no finding "nope"/);
    expect(await listFindings(join(wd, 'missing'))).toEqual([]);
  });
});
