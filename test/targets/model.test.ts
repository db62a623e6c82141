// The model targets' specs and the 16 KiB-page model (`model:x86-16k`): it announces its geometry in
// the trace (target.host page_size 16384, pmd_size 32 MiB) like a 16 KiB kernel, and predicts in it.
// The scenario that shows the geometry: a 512-page MADV_HUGEPAGE region written once is one PMD THP
// with 4 KiB pages, and holds no PMD at all with 16 KiB pages (a PMD is 2048 pages there), since the
// kernel maps a PMD THP only where the VMA covers a whole aligned PMD block
// (mm/huge_memory.c thp_vma_suitable_order, via do_huge_pmd_anonymous_page's caller __handle_mm_fault).
import { describe, expect, it } from 'vitest';
import { ModelTarget, parseModelSpec } from '../../src/targets/model.ts';
import { GEOMETRY_4K, geometryOf } from '../../src/ops/layout.ts';
import type { Case } from '../../src/ops/schema.ts';
import { checkTrace } from '../../src/check/check.ts';
import { parseTextCase } from '../../src/ops/text.ts';

const thp512: Case = { format: 'ptefarm-case/1', ops: [{ op: 'mmap', region: 'a', pages: 512, kind: 'anon', thp: true }, { op: 'write', region: 'a', first: 0, count: 1 }] };

describe('model targets', () => {
  it('parses the page size with the profile and the mutant; rejects other suffixes', () => {
    expect(parseModelSpec('model:x86')).toEqual({ profile: expect.any(String), mutant: undefined, geometry: GEOMETRY_4K });
    expect(parseModelSpec('model:x86-16k@6.12+B-3')).toEqual({ profile: '6.12', mutant: 'B-3', geometry: geometryOf(16384) });
    expect(() => parseModelSpec('model:x86-64k')).toThrow(/expected model:x86\[-16k\]/);
  });

  it('model:x86-16k announces 16 KiB pages and maps no THP in a 512-page region; model:x86 maps one', () => {
    const t16 = new ModelTarget('model:x86-16k').executeSync(thp512);
    expect(t16.target.host).toEqual({ page_size: 16384, pmd_size: 32 * 1024 * 1024 });
    expect(t16.steps[1]!.outcome?.huge).toBeUndefined();
    const t4 = new ModelTarget('model:x86').executeSync(thp512);
    expect(t4.target.host).toBeUndefined();
    expect(t4.steps[1]!.outcome?.huge).toEqual({ a: [0] });
    // each trace agrees with the reference checked in its own geometry
    expect(checkTrace(thp512, t16).violations).toEqual([]);
    expect(checkTrace(thp512, t4).violations).toEqual([]);
  });

  // mm/madvise.c madvise_guard_install: a uffd-wp marker that the install's zap keeps (a shmem VMA,
  // R-DN-2) makes the call restart forever (measured on 6.18). A simulated kernel cannot report an
  // rc for that step: the trace is a fault after the completed steps, as a live hang is, never a
  // verdict and never an exception that loses the steps before it.
  it('a step the simulated kernel would never return from is a fault after the completed steps', () => {
    const c = parseTextCase('ptefarm-case/2\nuffd features=wp_async\nmmap a pages=2 kind=shared-anon\nwrite a\nuffd_register a\nwp a on\ndontneed a[0]\nguard a\nwrite a[1]\n');
    const t = new ModelTarget('model:x86').executeSync(c);
    expect(t.steps).toHaveLength(5);
    expect(t.fault).toMatch(/would not return from step 5 \(guard\)/);
    const r = checkTrace(c, t);
    expect(r.ok).toBe(false);
    expect(r.fault).toBe(t.fault);
    expect(r.violations).toEqual([]);
  });
});
