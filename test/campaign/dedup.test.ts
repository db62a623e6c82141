import { describe, expect, it } from 'vitest';
import type { Case } from '../../src/ops/schema.ts';
import { Dedup, smaller, type RootInfo } from '../../src/campaign/dedup.ts';

const mk = (n: number, pages = 1): Case => ({
  format: 'ptefarm-case/1',
  ops: [{ op: 'mmap', region: 'a', pages, kind: 'anon' }, ...Array.from({ length: n - 1 }, () => ({ op: 'write' as const, region: 'a' }))],
});
const info = (step: number): RootInfo => ({
  root: { kind: 'bit', step, op: 'write', bit: 'D', expected: '1', actual: '0', rules: ['R-1'], severity: 'lost', message: `step ${step}` },
  title: 'soft-dirty lost', line: `step ${step}`, consequences: 0,
});
const SIG = 'bit.D.lost.R-1.write.pte';

describe('dedup', () => {
  it('one bucket per signature, one hit per case, keeps the smallest reproducer with its own root step', () => {
    const d = new Dedup();
    expect(d.record(mk(5), SIG, info(4), { index: 0, ms: 1 })).toBe('new');
    expect(d.record(mk(3), SIG, info(2), { index: 1, ms: 2 })).toBe('smaller');
    expect(d.record(mk(9), SIG, info(8), { index: 2, ms: 3 })).toBe('hit');
    expect(d.record(mk(2), 'bit.W.wp-lost.R-2.write.pte', info(1), { index: 3, ms: 4 })).toBe('new');
    const b = d.get(SIG)!;
    expect(b.hits).toBe(3);
    expect(b.case.ops.length).toBe(3);
    // the example and its step belong to the case the bucket keeps, not to the first hit
    expect(b.info.root.step).toBe(2);
    expect(b.firstIndex).toBe(0);
    expect(d.size).toBe(2);
  });

  it('a minimized reproducer replaces an unminimized one; later only smaller ones replace it', () => {
    const d = new Dedup();
    d.record(mk(2), SIG, info(1), { index: 0, ms: 0 });
    expect(d.offer(SIG, mk(4), true, info(3))).toBe(true);
    expect(d.get(SIG)!.minimized).toBe(true);
    expect(d.get(SIG)!.info.root.step).toBe(3);
    expect(d.offer(SIG, mk(5), true, info(4))).toBe(false);
    expect(d.offer(SIG, mk(3), false, info(2))).toBe(false);
    d.record(mk(2), SIG, info(1), { index: 1, ms: 0 });
    expect(d.get(SIG)!.case.ops.length).toBe(4);
    expect(d.get(SIG)!.info.root.step).toBe(3);
    expect(d.offer(SIG, mk(3), true, info(2))).toBe(true);
    expect(d.get(SIG)!.info.root.step).toBe(2);
  });

  it('orders by ops, then pages, then JSON length', () => {
    expect(smaller(mk(2, 8), mk(3, 1))).toBe(true);
    expect(smaller(mk(2, 1), mk(2, 8))).toBe(true);
    expect(smaller(mk(2, 8), mk(2, 8))).toBe(false);
  });
});
