import { describe, expect, it } from 'vitest';
import { OP_NAMES, type Case } from '../../src/ops/schema.ts';
import { validateCase } from '../../src/ops/validate.ts';
import { canonicalJson } from '../../src/ops/canon.ts';
import { runCampaign } from '../../src/campaign/campaign.ts';
import { GuidedGenerator } from '../../src/campaign/generate.ts';
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { listFindings } from '../../src/campaign/findings.ts';
import { FakeTransport, fakeChecker } from './fakes.ts';

async function casesOf(seed: number, transport: FakeTransport, n = 300): Promise<string[]> {
  const seen: string[] = [];
  await runCampaign({ target: 'fake', transport, checker: fakeChecker(), seed, cases: n, minimize: false, onCase: (i, c) => { seen[i] = canonicalJson(c); } });
  return seen;
}

describe('campaign', () => {
  it('same seed => same cases, independent of concurrency and completion order', async () => {
    const a = await casesOf(11, new FakeTransport(1));
    const b = await casesOf(11, new FakeTransport(4, 99));
    const c = await casesOf(11, new FakeTransport(8, 5));
    expect(a).toHaveLength(300);
    expect(b).toEqual(a);
    expect(c).toEqual(a);
    const d = await casesOf(12, new FakeTransport(1));
    expect(d).not.toEqual(a);
  });

  it('the generator reaches every op of the case format (and both populate modes)', () => {
    const g = new GuidedGenerator(5, { unguided: true });
    const ops = new Set<string>();
    for (let i = 0; i < 1500; i++) {
      for (const o of g.next().ops) ops.add(o.op === 'populate' ? `populate${o.write ? '-write' : '-read'}` : o.op);
    }
    const want = OP_NAMES.flatMap((n) => (n === 'populate' ? ['populate-read', 'populate-write'] : [n]));
    expect([...ops].sort()).toEqual(want.sort());
  });

  it('the guided generator produces only valid cases and uses its pool', () => {
    const g = new GuidedGenerator(3);
    const checker = fakeChecker();
    const bad: string[] = [];
    for (let i = 0; i < 3000; i++) {
      const c: Case = g.next();
      const p = validateCase(c);
      if (p.length) bad.push(`${JSON.stringify(c)}: ${p.join('; ')}`);
      g.feedback(c, checker.check(c, undefined as never).stepRules);
    }
    expect(bad).toEqual([]);
    expect(g.poolSize).toBeGreaterThan(0);
  });

  it('does not block on one slow case', async () => {
    // case 2 completes only after 100 other cases did; a campaign waiting on it would deadlock
    let release: () => void = () => {};
    const slow = new Promise<void>((r) => { release = r; });
    const order: string[] = [];
    const t = new FakeTransport(2, 1, (job, done) => {
      order.push(job.id);
      if (job.id.endsWith('-c2')) return slow;
      if (done >= 100) release();
      return undefined;
    });
    const s = await runCampaign({ target: 'fake', transport: t, checker: fakeChecker(), seed: 1, cases: 200, lag: 150, minimize: false });
    expect(s.cases).toBe(200);
  });

  it('finds, minimizes, buckets and stops at the first bucket', async () => {
    const s = await runCampaign({ target: 'fake', transport: new FakeTransport(2, 3), checker: fakeChecker(true), seed: 2, cases: 5000, stopAfterBuckets: 1 });
    expect(s.buckets.length).toBeGreaterThanOrEqual(1);
    expect(s.cases).toBeLessThan(5000);
    const b = s.buckets.find((x) => x.signature === 'D:lost:R-CR-2:write')!;
    expect(b.minimized).toBe(true);
    // 1-minimal: the write, the clear_refs before it and the mmap of its region (or an mmap plus
    // the mremap that named it); clear_refs may come before or after the mmap
    const kinds = b.case.ops.map((o) => o.op);
    expect(kinds[kinds.length - 1]).toBe('write');
    expect(kinds.filter((k) => k === 'clear_refs')).toHaveLength(1);
    expect(kinds).toContain('mmap');
    expect(kinds.length).toBeLessThanOrEqual(4);
    expect(s.violations).toBeGreaterThan(0);
    expect(s.coverage.rules_hit).toBeGreaterThan(0);
  });

  it('stops cleanly on abort and reports what it found', async () => {
    const ctl = new AbortController();
    const s = await runCampaign({
      target: 'fake', transport: new FakeTransport(2, 4), checker: fakeChecker(true), seed: 5, durationMs: 60_000,
      signal: ctl.signal, onEvent: (e) => { if (e.type === 'bucket') ctl.abort(); },
    });
    expect(s.stopped).toBe('interrupted');
    expect(s.buckets.length).toBeGreaterThan(0);
  });

  it('records every bucket once in the work directory: minimized, with all its hits, and an interrupted one too', async () => {
    const workdir = mkdtempSync(join(tmpdir(), 'ptefarm-work-'));
    const saved: string[] = [];
    const s = await runCampaign({
      target: 'fake', transport: new FakeTransport(2, 3), checker: fakeChecker(true), seed: 2, cases: 600, workdir,
      onEvent: (e) => { if (e.type === 'saved') saved.push(e.signature); },
    });
    expect(s.buckets.length).toBeGreaterThanOrEqual(1);
    // one case write per bucket, never an unminimized one first
    expect(saved.sort()).toEqual(s.buckets.map((b) => b.signature).sort());
    const found = await listFindings(workdir);
    expect(found).toHaveLength(s.buckets.length);
    for (const b of s.buckets) {
      const f = found.find((x) => x.finding?.signature === b.signature)!;
      expect(f.finding).toMatchObject({ target: 'fake', seed: 2, case_index: b.first_case, hits: b.hits, ops: b.ops, minimized: b.minimized, source: 'fuzz' });
      expect(f.case!.ops).toEqual(b.case.ops);
      expect(b.file).toBe(join(f.dir, 'case.json'));
    }

    // interrupted at the first bucket, before minimization could finish: recorded all the same
    const wd2 = mkdtempSync(join(tmpdir(), 'ptefarm-work-'));
    const ctl = new AbortController();
    const s2 = await runCampaign({
      target: 'fake', transport: new FakeTransport(2, 4), checker: fakeChecker(true), seed: 5, durationMs: 60_000, workdir: wd2,
      signal: ctl.signal, onEvent: (e) => { if (e.type === 'bucket') ctl.abort(); },
    });
    expect(s2.stopped).toBe('interrupted');
    expect((await listFindings(wd2)).map((f) => f.finding?.signature).sort()).toEqual(s2.buckets.map((b) => b.signature).sort());
  });

  it('records nothing without a work directory', async () => {
    const cwd = process.cwd();
    const before = readdirSync(cwd).sort();
    const s = await runCampaign({ target: 'fake', transport: new FakeTransport(2, 3), checker: fakeChecker(true), seed: 2, cases: 300, minimize: false });
    expect(s.buckets.length).toBeGreaterThan(0);
    expect(s.buckets.every((b) => b.file === undefined)).toBe(true);
    expect(readdirSync(cwd).sort()).toEqual(before);
  });
});
