// PAGEMAP_SCAN per-page provenance (src/model/scan.ts ScanPageWhy, `pagemapScan(input, true)`):
// which rule decided each page's categories, whether it is reported and whether it is armed, as
// fs/proc/task_mmu.c decides them. The check names a scan divergence by it (src/check/scan-rules.ts).
// Letters: a w f p s z h d g = WPALLOWED WRITTEN FILE PRESENT SWAPPED PFNZERO HUGE SOFT_DIRTY GUARD.
import { describe, expect, it } from 'vitest';
import {
  PAGE_IS_PRESENT, PAGE_IS_WRITTEN, pagemapScan, SCAN_CATEGORY_LETTERS,
  type ScanEntry, type ScanKnobs, type ScanPage, type ScanQuery, type ScanVma,
} from '../../src/model/scan.ts';

const K618: ScanKnobs = { scanNoneWritten: true, scanHoleWritten: true, scanWrittenUffdOnly: false, pfnZeroHuge: true, guard: true, memSoftDirty: true };
/** before the July-2026 fixes: pte_none and PMD holes are not WRITTEN */
const PREFIX: ScanKnobs = { ...K618, scanNoneWritten: false, scanHoleWritten: false };
const vma: ScanVma = { id: 1, uffdWp: true, wpAsync: true, softDirty: false, anon: true };
const written: ScanEntry = { kind: 'present', wp: false, sd: true, file: false, zero: false };
const swapWp: ScanEntry = { kind: 'swap', wp: true, sd: false };
const none: ScanEntry = { kind: 'none' };
const guard: ScanEntry = { kind: 'guard', wp: false };
const at = (entries: ScanEntry[]): ScanPage[] => entries.map((entry) => ({ vma, entry }));
const W = SCAN_CATEGORY_LETTERS.indexOf('w');

const run = (entries: ScanEntry[], query: ScanQuery, knobs = K618) => pagemapScan({ firstPage: 0, pages: at(entries), query, knobs }, true);

describe('PAGEMAP_SCAN provenance', () => {
  it('explaining changes nothing the scan does: categories, actions, rules and walk_end are those of the plain walk', () => {
    const cases: [ScanEntry[], ScanQuery, ScanKnobs][] = [
      [[written, none, guard, swapWp], { wpMatching: true }, K618],
      [[written, none, guard, swapWp], { wpMatching: true, vec: false, mask: PAGE_IS_PRESENT }, K618],
      [[written, none, guard], { wpMatching: true, mask: PAGE_IS_WRITTEN, ret: PAGE_IS_WRITTEN, maxPages: 1 }, PREFIX],
      [Array(512).fill({ kind: 'hole' }), { wpMatching: true, maxPages: 3 }, K618],
    ];
    for (const [entries, query, knobs] of cases) {
      const input = { firstPage: 0, pages: at(entries), query, knobs };
      const { why, ...explained } = pagemapScan(input, true);
      expect(explained).toEqual(pagemapScan(input));
      expect(why).toHaveLength(entries.length);
    }
  });

  it('pte_none on the generic path: its WRITTEN is pagemap_page_category\'s (R-PMS-2.none), which also decides its reporting and arming', () => {
    // pagemap_page_category: pte_none is WRITTEN (no marker, not protected) since the July-2026
    // fixes; before them it had no category, so category_mask WRITTEN left it out and unarmed
    const query: ScanQuery = { wpMatching: true, ret: PAGE_IS_WRITTEN | PAGE_IS_PRESENT };
    const fixed = run([none], query).why![0]!;
    expect([fixed.cats[W], fixed.report, fixed.by, fixed.arm]).toEqual(['R-PMS-2.none', 'R-PMS-3.masks', { letter: 'w', value: true }, 'R-PMS-3.generic']);
    const before = run([none], query, PREFIX);
    expect(before.cats[0]).toBe('---------');
    expect([before.why![0]!.by, before.why![0]!.arm]).toEqual([{ letter: 'w', value: false }, 'R-PMS-2.none']);
  });

  it('a PMD hole in a VM_UFFD_WP VMA: its WRITTEN is pagemap_scan_pte_hole\'s (R-PMS-2.hole), its arming uffd_wp_range\'s (R-PMS-6)', () => {
    const r = pagemapScan({ firstPage: 0, pages: at(Array(4).fill({ kind: 'hole' })), query: { wpMatching: true }, knobs: K618 }, true);
    expect(r.why!.map((w) => [w.cats[W], w.arm])).toEqual(Array(4).fill(['R-PMS-2.hole', 'R-PMS-6']));
  });

  it('max_pages cuts the walk: the pages after it are not reported nor armed by R-PMS-7 (pagemap_scan_output)', () => {
    const r = run([written, written, written], { wpMatching: true, maxPages: 1 });
    expect(r.why!.map((w) => [w.report, w.arm])).toEqual([['R-PMS-3.masks', 'R-PMS-3.generic'], ['R-PMS-7', 'R-PMS-7'], ['R-PMS-7', 'R-PMS-7']]);
  });

  it('the WRITTEN fast path decides WRITTEN by write-protection alone (R-PMS-3.fast): a protected swap entry is left out for it', () => {
    // pagemap_scan_pmd_entry: with category_mask = return_mask = WRITTEN it tests
    // pte_swp_uffd_wp_any / pte_uffd_wp and reports the rest WRITTEN, computing no other category
    const r = run([swapWp, written], { wpMatching: false, mask: PAGE_IS_WRITTEN, ret: PAGE_IS_WRITTEN });
    expect(r.why!.map((w) => [w.cats[W], w.report, w.by])).toEqual([
      ['R-PMS-3.fast', 'R-PMS-3.fast', { letter: 'w', value: false }], ['R-PMS-3.fast', 'R-PMS-3.fast', { letter: 'w', value: true }]]);
  });

  it('the exclusive-WP fast path arms past the masks by R-PMS-4 alone; a guard marker the masks would arm too is armed by R-PMS-9', () => {
    // pagemap_scan_pmd_entry without an output vector arms every entry not already protected,
    // whatever the category masks; make_uffd_wp_pte sets the swp uffd-wp bit of a guard marker
    const masked = run([none, guard, written], { wpMatching: true, vec: false, mask: PAGE_IS_PRESENT });
    expect(masked.why!.map((w) => [w.arm, !!w.pastMasks])).toEqual([['R-PMS-4', true], ['R-PMS-4', true], ['R-PMS-4', false]]);
    const plain = run([none, guard, written], { wpMatching: true, vec: false });
    expect(plain.why!.map((w) => [w.arm, !!w.pastMasks])).toEqual([['R-PMS-4', false], ['R-PMS-9', false], ['R-PMS-4', false]]);
    // an entry already protected is not armed: R-PMS-4's test, not a mask's
    expect(run([swapWp], { wpMatching: true, vec: false, mask: PAGE_IS_PRESENT }).why![0]!.pastMasks).toBeUndefined();
  });

  it('a VMA the walk skips (not WP-allowed under WP_MATCHING) decides its pages by R-PMS-1.skip (pagemap_scan_test_walk)', () => {
    const r = pagemapScan({ firstPage: 0, pages: [{ vma: { ...vma, wpAsync: false }, entry: written }], query: { wpMatching: true, checkWpasync: false }, knobs: K618 }, true);
    expect([r.why![0]!.report, r.why![0]!.arm]).toEqual(['R-PMS-1.skip', 'R-PMS-1.skip']);
  });
});
