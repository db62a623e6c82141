// Root-cause signatures and titles: a case's signature is its first divergence's, whatever
// happens later; later violations are consequences; titles cite the rule and kernel function;
// page runs are one line.
import { describe, expect, it } from 'vitest';
import type { Case, Op } from '../../src/ops/schema.ts';
import type { Violation } from '../../src/check/types.ts';
import { checkTrace } from '../../src/check/check.ts';
import { caseSignature, direction, firstDivergence, signature } from '../../src/findings/signature.ts';
import { describeViolations, groupViolations, regionKind, rootInfo, titleOf } from '../../src/findings/title.ts';
import { BUGS, buggyTrace } from '../fixtures/single-bug-target.ts';

const v = (o: Partial<Violation>): Violation => ({
  kind: 'bit', step: 0, op: 'write', bit: 'D', expected: '1', actual: '0', rules: ['R-PM-1', 'R-FLT-6'], rule: 'R-FLT-6', severity: 'lost', message: '', ...o,
});

const wpCase = (extra: Op[], pages = 2): Case => ({
  format: 'ptefarm-case/1', uffd: { features: ['wp_async'] },
  ops: [{ op: 'mmap', region: 'a', pages, kind: 'anon' }, { op: 'uffd_register', region: 'a' }, { op: 'write', region: 'a' },
    { op: 'wp', region: 'a', on: true }, { op: 'pageout', region: 'a' }, ...extra],
});

describe('first divergence', () => {
  it('the earliest step wins; at it, a fixed order (kind, then uffd-wp and soft-dirty before other bits, then proc/region/page)', () => {
    const vs = [v({ step: 5, bit: 'W', severity: 'wp-lost', page: 0 }), v({ step: 3, bit: 'E', severity: 'mismatch', page: 0 }),
      v({ step: 3, bit: 'D', page: 4 }), v({ step: 3, bit: 'D', page: 1 }), v({ step: 7, kind: 'rc', bit: 'rc', severity: 'mismatch' })];
    const f = firstDivergence(vs)!;
    expect(f.step).toBe(3);
    expect([f.root.bit, f.root.page]).toEqual(['D', 1]);
    expect(f.atStep.map((x) => `${x.bit}${x.page}`)).toEqual(['D1', 'D4', 'E0']);
    expect(f.consequences.map((x) => x.step)).toEqual([5, 7]);
    expect(firstDivergence([])).toBeUndefined();
    // pages of several entry classes diverging alike: the ordinary PTE is the root, whatever its page number
    const mixed = firstDivergence([v({ step: 2, page: 0, entry: 'swap' }), v({ step: 2, page: 3, entry: 'pte' }), v({ step: 2, page: 1, entry: 'none' })])!;
    expect([mixed.root.page, mixed.root.entry]).toEqual([3, 'pte']);
  });

  it('a stale bit observed at later ops adds no signature: the swap-out that dropped uffd-wp is the bucket however the case goes on', () => {
    const bug = BUGS['pageout-drops-wp']!;
    const short = wpCase([]);
    const long = wpCase([{ op: 'mprotect', region: 'a', prot: 'r' }, { op: 'fork' }, { op: 'scan', region: 'a' }, { op: 'mprotect', region: 'a', prot: 'rw' }]);
    const a = checkTrace(short, buggyTrace(short, bug)).violations;
    const b = checkTrace(long, buggyTrace(long, bug)).violations;
    expect(caseSignature(a)).toBe('bit.W.wp-lost.R-PO-1.pageout.swap');
    expect(caseSignature(b)).toBe(caseSignature(a));
    // the later observations are there, as consequences
    const f = firstDivergence(b)!;
    expect(f.consequences.length).toBeGreaterThan(0);
    expect(new Set(f.consequences.map((x) => long.ops[x.step]!.op))).toContain('mprotect');
  });

  it('direction: severity for the tracked bits, set/cleared for the others, reported/unreported for scan categories', () => {
    expect(direction(v({}))).toBe('lost');
    expect(direction(v({ bit: 'E', severity: 'mismatch', expected: '0', actual: '1' }))).toBe('set');
    expect(direction(v({ bit: 'P', severity: 'mismatch', expected: '1', actual: '0' }))).toBe('cleared');
    expect(direction(v({ kind: 'scan', bit: 'p', severity: 'mismatch', expected: '-', actual: '1' }))).toBe('reported');
    expect(signature(v({ step: 2, op: 'write', entry: 'pte' }))).toBe('bit.D.lost.R-FLT-6.write.pte');
  });
});

describe('titles and page runs', () => {
  it('a title names bit, direction, op, memory kind, entry class, rule and kernel function', () => {
    const c = wpCase([]);
    const info = rootInfo(checkTrace(c, buggyTrace(c, BUGS['pageout-drops-wp']!)).violations, c)!;
    expect(info.title).toBe('uffd-wp lost on swap-out of anon swap entry (R-PO-1, mm/rmap.c try_to_unmap_one)');
    expect(info.line).toBe('step 4 (pageout a): p0 a[0..2) uffd-wp is 0, x86 has 1 (wp-lost; R-PO-1; swap)');
    // a read fault that swaps the page back in is a swap-in
    expect(titleOf(v({ op: 'read', rule: 'R-SWIN-1', entry: 'pte', region: 'a', step: 5 }), c)).toBe('soft-dirty lost on swap-in of anon PTE (R-SWIN-1, mm/memory.c do_swap_page)');
    expect(titleOf(v({ kind: 'rc', bit: 'rc', op: 'mremap', rule: 'R-MRM-10', severity: 'mismatch', expected: '0', actual: 'EFAULT' })))
      .toBe('return code differs on mremap (R-MRM-10, mm/mremap.c vma_to_resize)');
  });

  it('the region kind follows mremap\'s `old` name (dontunmap leaves the range behind under that name)', () => {
    const c: Case = { format: 'ptefarm-case/1', ops: [{ op: 'mmap', region: 'a', pages: 1, kind: 'memfd-shared' }, { op: 'mremap', region: 'a', dontunmap: true, old: 'b' }] };
    expect(regionKind(c, 'b', 1)).toBe('memfd-shared');
    expect(regionKind(c, 'b', 0)).toBeUndefined();
  });

  it('512 pages losing the same bit are one line (`p0 a[0..512)`), not 512', () => {
    const c = wpCase([], 512);
    const vs = checkTrace(c, buggyTrace(c, BUGS['pageout-drops-wp']!)).violations;
    expect(vs.filter((x) => x.step === 4)).toHaveLength(512);
    const d = describeViolations(vs, c);
    expect(d.first).toEqual(['step 4 (pageout a): p0 a[0..512) uffd-wp is 0, x86 has 1 (wp-lost; R-PO-1; swap)']);
    // a gap splits a run
    const gs = groupViolations([v({ page: 0 }), v({ page: 1 }), v({ page: 3 })]);
    expect(gs.map((g) => [g.firstPage, g.lastPage])).toEqual([[0, 1], [3, 3]]);
  });
});
