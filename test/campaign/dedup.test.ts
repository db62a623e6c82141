import { describe, expect, it } from 'vitest';
import type { Case } from '../../src/ops/schema.ts';
import type { Violation } from '../../src/check/types.ts';
import { Dedup, smaller } from '../../src/campaign/dedup.ts';

const mk = (n: number, pages = 1): Case => ({
  format: 'ptefarm-case/1',
  ops: [{ op: 'mmap', region: 'a', pages, kind: 'anon' }, ...Array.from({ length: n - 1 }, () => ({ op: 'write' as const, region: 'a' }))],
});
const v = (bit: string, rule: string): Violation => ({
  kind: 'bit', step: 1, op: 'write', bit, expected: '1', actual: '0', rules: [rule], severity: 'lost', message: `${bit} ${rule}`,
});
const sig = (x: Violation) => `${x.bit}:${x.severity}:${x.rules[0]}:${x.op}`;

describe('dedup', () => {
  it('buckets by signature, counts hits once per case, keeps the smallest reproducer', () => {
    const d = new Dedup();
    expect(d.record(mk(5), [v('D', 'R-1'), v('D', 'R-1'), v('W', 'R-2')], sig, { index: 0, ms: 1 })).toEqual(['D:lost:R-1:write', 'W:lost:R-2:write']);
    expect(d.record(mk(3), [v('D', 'R-1')], sig, { index: 1, ms: 2 })).toEqual([]);
    expect(d.record(mk(9), [v('D', 'R-1')], sig, { index: 2, ms: 3 })).toEqual([]);
    const b = d.get('D:lost:R-1:write')!;
    expect(b.hits).toBe(3);
    expect(b.case.ops.length).toBe(3);
    expect(b.firstIndex).toBe(0);
    expect(d.get('W:lost:R-2:write')!.hits).toBe(1);
    expect(d.size).toBe(2);
  });

  it('a minimized reproducer replaces an unminimized one; later only smaller ones replace it', () => {
    const d = new Dedup();
    d.record(mk(2), [v('D', 'R-1')], sig, { index: 0, ms: 0 });
    expect(d.offer('D:lost:R-1:write', mk(4), true)).toBe(true);
    expect(d.get('D:lost:R-1:write')!.minimized).toBe(true);
    expect(d.offer('D:lost:R-1:write', mk(5), true)).toBe(false);
    expect(d.offer('D:lost:R-1:write', mk(3), false)).toBe(false);
    d.record(mk(2), [v('D', 'R-1')], sig, { index: 1, ms: 0 });
    expect(d.get('D:lost:R-1:write')!.case.ops.length).toBe(4);
    expect(d.offer('D:lost:R-1:write', mk(3), true)).toBe(true);
  });

  it('orders by ops, then pages, then JSON length', () => {
    expect(smaller(mk(2, 8), mk(3, 1))).toBe(true);
    expect(smaller(mk(2, 1), mk(2, 8))).toBe(true);
    expect(smaller(mk(2, 8), mk(2, 8))).toBe(false);
  });
});
