// The live target's hugetlb skip (src/targets/hugetlb-host.ts): a case with hugetlb regions is
// skipped with the reason where too few 2 MiB pages are free, never run into an allocation failure
// the model would call a violation; other cases are untouched. And the generator's hugetlb cases
// (src/campaign/hugetlb-gen.ts) are valid /3 cases of at most four huge pages.
import { describe, expect, it } from 'vitest';
import { hugetlbPagesNeeded, hugetlbSkipReason, usesHugetlb } from '../../src/targets/hugetlb-host.ts';
import { hugetlbCase } from '../../src/campaign/hugetlb-gen.ts';
import { Rng } from '../../src/campaign/rng.ts';
import { GEOMETRY_4K, geometryOf } from '../../src/ops/layout.ts';
import { validateCase } from '../../src/ops/validate.ts';
import type { Case } from '../../src/ops/schema.ts';

const c3: Case = { format: 'ptefarm-case/3', ops: [
  { op: 'mmap', region: 'a', pages: 1024, kind: 'hugetlb' }, { op: 'mmap', region: 'b', pages: 512, kind: 'hugetlb-shared' }, { op: 'fork' },
] };

describe('hugetlb on the live host', () => {
  it('a case may hold every huge page of its hugetlb mmaps once per process (fork copies, CoW allocates)', () => {
    expect(hugetlbPagesNeeded(c3, GEOMETRY_4K)).toBe(6);
  });
  it('too few free pages: skipped with the reason and how to reserve them; enough: runs', () => {
    expect(hugetlbSkipReason(c3, GEOMETRY_4K, 0)).toBe('hugetlb: 0 free 2 MiB pages, the case may need 6 (reserve them: `ptefarm setup --hugetlb N` as root)');
    expect(hugetlbSkipReason(c3, GEOMETRY_4K, 5)).toMatch(/5 free 2 MiB pages/);
    expect(hugetlbSkipReason(c3, GEOMETRY_4K, 6)).toBeUndefined();
    expect(hugetlbSkipReason(c3, geometryOf(16384), 100)).toMatch(/4 KiB pages/);
  });
  it('a hugetlb case with a userfaultfd is skipped on a kernel without UFFD_FEATURE_WP_HUGETLBFS_SHMEM', () => {
    const u: Case = { ...c3, uffd: { features: [] } };
    expect(hugetlbSkipReason(u, GEOMETRY_4K, 100, 0xfff)).toMatch(/UFFD_FEATURE_WP_HUGETLBFS_SHMEM/);
    expect(hugetlbSkipReason(u, GEOMETRY_4K, 100, 0x1ffff)).toBeUndefined();
    expect(hugetlbSkipReason(c3, GEOMETRY_4K, 100, 0xfff)).toBeUndefined(); // no userfaultfd: not needed
  });
  it('a case without hugetlb regions is never skipped for them', () => {
    const c: Case = { format: 'ptefarm-case/1', ops: [{ op: 'mmap', region: 'a', pages: 4, kind: 'anon' }] };
    expect(usesHugetlb(c)).toBe(false);
    expect(hugetlbSkipReason(c, GEOMETRY_4K, 0)).toBeUndefined();
  });
  it('generated hugetlb cases are valid /3 cases of one or two regions, at most four huge pages in all', () => {
    const rng = new Rng(7);
    const kinds = new Set<string>();
    for (let i = 0; i < 300; i++) {
      const c = hugetlbCase(rng);
      expect(validateCase(c)).toEqual([]);
      expect(c.format).toBe('ptefarm-case/3');
      let huge = 0;
      for (const o of c.ops) if (o.op === 'mmap' && (o.kind === 'hugetlb' || o.kind === 'hugetlb-shared')) { huge += o.pages / 512; kinds.add(o.kind); }
      expect(huge).toBeGreaterThanOrEqual(1);
      expect(huge).toBeLessThanOrEqual(4);
    }
    expect([...kinds].sort()).toEqual(['hugetlb', 'hugetlb-shared']);
  });
});
