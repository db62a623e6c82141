// The model on 16 KiB pages (arm64 CONFIG_ARM64_16K_PAGES): page numbers count 16 KiB pages and a
// PMD maps one page table of them, PTRS_PER_PTE = PAGE_SIZE / 8 = 2048 pages = 32 MiB
// (arch/arm64/include/asm/pgtable-hwdef.h PTRS_PER_PTE; include/linux/huge_mm.h HPAGE_PMD_NR =
// 1 << HPAGE_PMD_ORDER = PTRS_PER_PTE). The same case text on 4 KiB pages is the x86 reference
// (test/model/rules.test.ts); these scenarios state what changes with the PMD size, by hand.
import { describe, expect, it } from 'vitest';
import { predict } from '../../src/model/model.ts';
import { parseTextCase } from '../../src/ops/text.ts';
import { geometryOf, limitsFor, slotStartPage, GEOMETRY_4K } from '../../src/ops/layout.ts';
import { CasePlan } from '../../src/ops/plan.ts';
import { encodeCase } from '../../src/targets/executor/protocol.ts';
import type { Prediction } from '../../src/model/api.ts';

const G16 = geometryOf(16384);

function run(body: string, uffd?: string, geometry = G16): Prediction {
  const text = `ptefarm-case/1\n${uffd !== undefined ? `uffd features=${uffd}\n` : ''}${body.trim().split('\n').map((l) => l.trim()).join('\n')}\n`;
  return predict(parseTextCase(text, undefined, limitsFor(geometry)), undefined, { geometry });
}
const all = (p: Prediction, step: number, region: string, proc = 0) => p.steps[step].pages[String(proc)]![region]!;
const entries = (p: Prediction, step: number, region: string) => new Set(p.steps[step].entry['0']![region]);

describe('page geometry', () => {
  it('16 KiB pages: a PMD is 2048 pages (32 MiB); regions may hold two of them', () => {
    expect(G16).toEqual({ pageSize: 16384, pmdPages: 2048 });
    expect(geometryOf(16384, 32 * 1024 * 1024)).toEqual(G16);
    expect(geometryOf(4096)).toBe(GEOMETRY_4K);
    expect(limitsFor(G16).maxPagesPerRegion).toBe(4096);
    expect(() => geometryOf(16384, 2 * 1024 * 1024 + 16384)).toThrow(/PMD size/);
  });

  it('arena slots start at 32 TiB and hold 32 PMDs on every page size, so slot starts are PMD aligned', () => {
    expect(slotStartPage(0, G16) * 16384).toBe(0x2000_0000_0000);
    expect(slotStartPage(1, G16) - slotStartPage(0, G16)).toBe(32 * 2048); // 1 GiB
    expect(slotStartPage(3, G16) % 2048).toBe(0);
    // 4 KiB: unchanged (64 MiB slots)
    expect(slotStartPage(1) - slotStartPage(0)).toBe(16384);
    const plan = new CasePlan({ uffd: false, geometry: G16, limits: limitsFor(G16) });
    expect(plan.step({ op: 'mmap', region: 'a', pages: 4096, kind: 'anon', thp: true }, 0)).toEqual([]);
    expect(plan.regionOf(0, 'a')!.start).toBe(slotStartPage(0, G16));
  });

  it('the executor plan counts 16 KiB pages: region starts in 16 KiB pages, a 2048-page THP region fits', () => {
    const c = parseTextCase('ptefarm-case/1\nmmap a pages=2048 kind=anon thp\nmmap b pages=4 kind=anon\n', undefined, limitsFor(G16));
    const enc = encodeCase(c, undefined, G16);
    expect(enc.lines[0]).toBe(`1 0 0 ${0x2000_0000_0000 / 16384} 2048 0 1`);
    expect(enc.lines[1]).toBe(`1 0 1 ${0x2000_0000_0000 / 16384 + 32 * 2048} 4 0 0`);
    // the same case on a 4 KiB target is past its region limit (1024 pages): refused, never run
    expect(() => encodeCase(c)).toThrow(/exceeds the limit of 1024 pages/);
  });
});

describe('the model on 16 KiB pages (THP = one 2048-page PMD)', () => {
  it('R-FLT-6: a write fault in a MADV_HUGEPAGE region covering an aligned 32 MiB block maps one THP: all 2048 pages dirty', () => {
    // mm/memory.c __handle_mm_fault -> create_huge_pmd -> do_huge_pmd_anonymous_page, which needs
    // thp_vma_suitable_order for HPAGE_PMD_ORDER (the whole 32 MiB block inside the VMA)
    const p = run('mmap a pages=2048 kind=anon thp\nclear_refs value=4\nwrite a[5]');
    expect(new Set(all(p, 2, 'a'))).toEqual(new Set(['P..E.D']));
    expect(entries(p, 2, 'a')).toEqual(new Set(['huge']));
    expect(p.steps[2].outcome.huge).toEqual({ a: [0] });
  });

  it('a 512-page MADV_HUGEPAGE region (8 MiB) holds no 32 MiB PMD: a write faults in one page (a THP on 4 KiB pages)', () => {
    const p16 = run('mmap a pages=512 kind=anon thp\nwrite a[5]');
    expect(all(p16, 1, 'a').filter((s) => s[0] === 'P')).toHaveLength(1);
    expect(entries(p16, 1, 'a')).toEqual(new Set(['none', 'pte']));
    const p4 = run('mmap a pages=512 kind=anon thp\nwrite a[5]', undefined, GEOMETRY_4K);
    expect(entries(p4, 1, 'a')).toEqual(new Set(['huge']));
  });

  it('R-FLT-2/R-SPLIT-2: a read maps the huge zero page over 2048 pages; splitting it gives 2048 zero PTEs', () => {
    // mm/huge_memory.c do_huge_pmd_anonymous_page (huge zero folio), __split_huge_zero_page_pmd
    const p = run('mmap a pages=2048 kind=anon thp\nclear_refs value=4\nread a\nsplit a page=7');
    expect(entries(p, 2, 'a')).toEqual(new Set(['huge-zero']));
    // bit 61 for huge-zero PMD pages on 6.18 (R-PM-5: pagemap_pmd_range_thp reads pmd_page)
    expect(new Set(all(p, 2, 'a'))).toEqual(new Set(['P.F...']));
    expect(entries(p, 3, 'a')).toEqual(new Set(['zero']));
    expect(new Set(all(p, 3, 'a'))).toEqual(new Set(['P.....']));
  });

  it('R-WP-5/R-ASYNC-2: a wp THP stays huge; an async write splits it and un-protects only that page (2047 stay wp)', () => {
    // mm/memory.c wp_huge_pmd: userfaultfd_huge_pmd_wp with WP_ASYNC -> __split_huge_pmd, then the PTE fault
    const p = run('mmap a pages=2048 kind=anon thp\nwrite a\nuffd_register a\nwp a on\nwrite a[1500]', 'wp_async');
    expect(new Set(all(p, 3, 'a'))).toEqual(new Set(['P..EWD']));
    const after = all(p, 4, 'a');
    expect(after[1500]).toBe('P..E.D');
    expect(after.filter((s) => s === 'P..EWD')).toHaveLength(2047);
  });

  it('R-PMS-5.whole/split: PAGEMAP_SCAN WP_MATCHING protects a whole reported 32 MiB PMD in place, splits one reported in part', () => {
    // fs/proc/task_mmu.c pagemap_scan_thp_entry: whole PMD (end - start == HPAGE_SIZE) -> make_uffd_wp_pmd;
    // otherwise split_huge_pmd and redo at PTE level
    const whole = run('mmap a pages=2048 kind=anon thp\nuffd_register a\nwrite a\nscan a wp_matching', 'wp_async');
    expect(entries(whole, 3, 'a')).toEqual(new Set(['huge']));
    expect(new Set(all(whole, 3, 'a'))).toEqual(new Set(['P..EWD']));
    const part = run('mmap a pages=2048 kind=anon thp\nuffd_register a\nwrite a\nscan a[0..1024) wp_matching', 'wp_async');
    expect(entries(part, 3, 'a')).toEqual(new Set(['pte-thp'])); // PTEs of the still-large folio
    const after = all(part, 3, 'a');
    expect(after.slice(0, 1024).every((s) => s === 'P..EWD')).toBe(true);
    expect(after.slice(1024).every((s) => s === 'P..E.D')).toBe(true);
  });

  it('R-FLT-3A: fault-around maps 64 KiB of cached neighbours: 4 pages of 16 KiB, not 16 (found on qemu:debian-6.12-arm64-16k)', () => {
    // mm/memory.c do_fault_around: fault_around_pages = 65536 >> PAGE_SHIFT; the window is aligned
    // to it. The child's read of a[2] maps the cached pages of [0, 4) only: a[4] (written by the
    // parent, in the page cache) stays unmapped in the child; with 4 KiB pages the window [0, 16)
    // maps it. (Shared anon PTEs are not copied at fork: the child starts with none.)
    const body = 'mmap a pages=5 kind=shared-anon\nwrite a[4]\nfork\np1 read a[2]';
    const p16 = run(body);
    expect(all(p16, 3, 'a', 1).map((s) => s[0])).toEqual(['.', '.', 'P', '.', '.']);
    const p4 = run(body, undefined, GEOMETRY_4K);
    expect(all(p4, 3, 'a', 1).map((s) => s[0])).toEqual(['.', '.', 'P', '.', 'P']);
  });

  it('a 16 KiB prediction leaves the model in 4 KiB geometry for the next one', () => {
    run('mmap a pages=2048 kind=anon thp\nwrite a');
    const p4 = run('mmap a pages=512 kind=anon thp\nwrite a', undefined, GEOMETRY_4K);
    expect(entries(p4, 1, 'a')).toEqual(new Set(['huge']));
    expect(p4.steps[1].pages['0']!.a).toHaveLength(512);
  });
});
