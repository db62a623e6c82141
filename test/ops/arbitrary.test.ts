import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { caseArb } from '../../src/ops/arbitrary.ts';
import { validateCase } from '../../src/ops/validate.ts';
import { DEFAULT_LIMITS } from '../../src/ops/layout.ts';
import { FEATURES, KINDS, OP_NAMES, type Case } from '../../src/ops/schema.ts';

describe('caseArb', () => {
  it('2,000 samples all pass validateCase', () => {
    const samples = fc.sample(caseArb(), { numRuns: 2000, seed: 42 });
    const bad = samples.map((c) => ({ c, problems: validateCase(c) })).filter((x) => x.problems.length);
    expect(bad.slice(0, 3)).toEqual([]);
  });

  it('stays valid under tighter limits and options', () => {
    const limits = { maxRegions: 3, maxPagesPerRegion: 64, maxProcs: 2, maxOps: 40 };
    fc.assert(fc.property(caseArb({ limits, maxOps: 60 }), (c) => {
      expect(validateCase(c, limits)).toEqual([]);
      expect(c.ops.length).toBeLessThanOrEqual(40);
    }), { numRuns: 500, seed: 7 });
    fc.assert(fc.property(caseArb({ maxPages: 16, features: ['wp_async'] }), (c) => {
      expect(validateCase(c)).toEqual([]);
      expect(c.uffd).toEqual({ features: ['wp_async'] });
      for (const op of c.ops) if (op.op === 'mmap') expect(op.pages).toBeLessThanOrEqual(16);
    }), { numRuns: 300, seed: 8 });
    fc.assert(fc.property(caseArb({ features: 'none' }), (c) => {
      expect(c.uffd).toBeUndefined();
      expect(c.ops.some((o) => o.op === 'wp' || o.op === 'uffd_register' || o.op === 'uffd_unregister')).toBe(false);
      expect(validateCase(c)).toEqual([]);
    }), { numRuns: 300, seed: 9 });
  });

  it('covers every op, every kind, thp, procs and uffd feature sets', () => {
    const samples: Case[] = fc.sample(caseArb({ maxOps: 40 }), { numRuns: 2000, seed: 1 });
    const ops = new Set(samples.flatMap((c) => c.ops.map((o) => o.op)));
    expect([...ops].sort()).toEqual([...OP_NAMES].sort());
    const kinds = new Set(samples.flatMap((c) => c.ops.flatMap((o) => (o.op === 'mmap' ? [o.kind] : []))));
    expect([...kinds].sort()).toEqual([...KINDS].sort());
    expect(samples.some((c) => c.ops.some((o) => o.op === 'mmap' && o.thp === true && o.pages >= 512))).toBe(true);
    expect(samples.some((c) => c.ops.some((o) => o.op === 'mmap' && o.after !== undefined))).toBe(true);
    expect(samples.some((c) => c.ops.some((o) => (o.proc ?? 0) > 0))).toBe(true);
    expect(samples.some((c) => c.uffd === undefined)).toBe(true);
    for (const f of FEATURES) expect(samples.some((c) => c.uffd?.features?.includes(f))).toBe(true);
    expect(samples.some((c) => c.ops.some((o) => o.op === 'mremap' && o.dontunmap && o.old !== undefined))).toBe(true);
    expect(samples.some((c) => c.ops.length > 20)).toBe(true);
    expect(Math.max(...samples.flatMap((c) => c.ops.flatMap((o) => (o.op === 'mmap' ? [o.pages] : []))))).toBeLessThanOrEqual(DEFAULT_LIMITS.maxPagesPerRegion);
  });
});
