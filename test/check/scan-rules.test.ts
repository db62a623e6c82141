// Scan divergences named by the page's own rule (src/check/scan-rules.ts, from the scan's
// provenance): one bucket per PAGEMAP_SCAN bug, whichever way the case shows it, and two bugs that
// look alike on one scan (WRITTEN missing on an empty entry) in two buckets. Each scenario states
// the kernel behaviour the reference follows; the "kernel" that gets it wrong is a model mutant.
import { describe, expect, it } from 'vitest';
import type { Case } from '../../src/ops/schema.ts';
import { parseTextCase } from '../../src/ops/text.ts';
import { checkTrace } from '../../src/check/check.ts';
import { entryHoldsPage } from '../../src/check/decisions.ts';
import { caseSignature, entryKind } from '../../src/findings/signature.ts';
import { caseTitle } from '../../src/findings/title.ts';
import { ModelTarget } from '../../src/targets/model.ts';

async function verdictOn(mutant: string, text: string) {
  const c: Case = parseTextCase(`ptefarm-case/2\nuffd features=wp_async\n${text}`);
  const v = checkTrace(c, await new ModelTarget(`model:x86+${mutant}`).execute(c));
  return { sig: caseSignature(v.violations), title: caseTitle(v.violations, c) };
}

describe('a PAGEMAP_SCAN divergence names the rule that decided the page', () => {
  it('WRITTEN missing on pte_none (B-27) and on a PMD hole (B-28) are two buckets, each naming its category rule', async () => {
    // fs/proc/task_mmu.c pagemap_page_category: a pte_none in a PTE table is WRITTEN (a[1], a[2]:
    // a[0]'s fault allocated the table); pagemap_scan_pte_hole: a range without a PTE table in a
    // VM_UFFD_WP VMA is WRITTEN (b has no table at all)
    const none = await verdictOn('B-27', 'mmap a pages=3 kind=anon\nwrite a[0]\nuffd_register a\nscan a\n');
    const hole = await verdictOn('B-28', 'mmap b pages=3 kind=anon\nuffd_register b\nscan b\n');
    expect(none.sig).toBe('scan.w.lost.R-PMS-2.none.empty');
    expect(none.title).toContain('pagemap_page_category');
    expect(hole.sig).toBe('scan.w.lost.R-PMS-2.hole.empty');
    expect(hole.title).toContain('pagemap_scan_pte_hole');
  });

  it('a page left out for lacking WRITTEN is the same bucket as a page reported without it; its arming follows its categories', async () => {
    // pagemap_scan_is_interesting_page: with category_mask WRITTEN a page without WRITTEN is not
    // reported, and under WP_MATCHING only what is reported WRITTEN is armed (pagemap_scan_pmd_entry)
    const reported = await verdictOn('B-27', 'mmap a pages=3 kind=anon\nwrite a[0]\nuffd_register a\nscan a\n');
    const leftOut = await verdictOn('B-27', 'mmap a pages=3 kind=anon\nwrite a[0]\nuffd_register a\nscan a category_mask=w\n');
    const unarmed = await verdictOn('B-27', 'mmap a pages=3 kind=anon\nwrite a[0]\nuffd_register a\nscan a wp_matching\n');
    expect(leftOut.sig).toBe(reported.sig);
    expect(leftOut.title).toContain('(page not reported)');
    expect(unarmed.sig).toBe(reported.sig);
  });

  it('a PMD hole not reported WRITTEN (B-28) is one bucket in a WP_MATCHING scan that shows no categories: one without an output vector, one that fails after arming', async () => {
    // pagemap_scan_pte_hole arms exactly the hole pages pagemap_scan_is_interesting_page lets
    // through (pagemap_scan_output returns at once without a vector; uffd_wp_range follows), so an
    // unarmed hole is the hole left out by its categories, as a scan with a vector shows it
    const shown = await verdictOn('B-28', 'mmap b pages=3 kind=anon\nuffd_register b\nscan b wp_matching\n');
    expect(shown.sig).toBe('scan.w.lost.R-PMS-2.hole.empty');
    const noVec = await verdictOn('B-28', 'mmap b pages=3 kind=anon\nuffd_register b\nscan b wp_matching no_vec\n');
    expect(noVec.sig).toBe(shown.sig);
    // CHECK_WPASYNC fails with EPERM at the unregistered b[2..4) (pagemap_scan_test_walk) after
    // arming b[0..2); do_pagemap_scan then copies nothing out: only the arming shows, in both
    const failed = await verdictOn('B-28', 'mmap b pages=4 kind=anon\nuffd_register b[0..2)\nscan b wp_matching check_wpasync\n');
    expect(failed.sig).toBe(shown.sig);
  });

  it('a hugetlb page a WP_MATCHING scan backs out (B-33) is one bucket whether the scan shows it (not reported) or only its arming does (no output vector, or a scan failing after it)', async () => {
    // fs/proc/task_mmu.c pagemap_scan_hugetlb_entry tests the masks and write-protects what it
    // reports in one place (R-HTLB-10): a page it leaves unarmed is the page it did not report
    const v3 = async (text: string) => {
      const c: Case = parseTextCase(`ptefarm-case/3\nuffd features=wp_async\n${text}`);
      return caseSignature(checkTrace(c, await new ModelTarget('model:x86+B-33').execute(c)).violations);
    };
    const shown = await v3('mmap a pages=1024 kind=hugetlb\nuffd_register a\nwrite a\nscan a wp_matching\n');
    expect(shown).toBe('scan.w.lost.R-HTLB-10.page');
    // EPERM at the unregistered a[512..1024) (pagemap_scan_test_walk) after the first huge page: nothing copied out
    expect(await v3('mmap a pages=1024 kind=hugetlb\nuffd_register a[0..512)\nwrite a\nscan a wp_matching\n')).toBe(shown);
    expect(await v3('mmap a pages=1024 kind=hugetlb\nuffd_register a\nwrite a\nscan a wp_matching no_vec\n')).toBe(shown);
  });

  it('the exclusive-WP fast path arming past the masks (M-12) is R-PMS-4 on every entry; a guard marker the arming leaves unprotected (M-20) is R-PMS-9 wherever the trace tells them apart', async () => {
    // pagemap_scan_pmd_entry without an output vector arms every entry not already protected,
    // whatever the masks (category_mask "wp" excludes a[0], a guard marker, and a[1], pte_none);
    // make_uffd_wp_pte sets a guard marker's swp uffd-wp bit
    // (R-PMS-4 arms every entry kind through make_uffd_wp_pte: the signature keys no entry kind, `any`)
    const past = 'mmap a pages=3 kind=anon\nwrite a[2]\nuffd_register a\nguard a[0]\nscan a wp_matching no_vec category_mask=wp\n';
    expect((await verdictOn('M-12', past)).sig).toBe('bit.W.wp-lost.R-PMS-4.any');
    // the kernel armed a[1] past the masks: it did not honour them, so the unprotected guard is R-PMS-9's
    expect((await verdictOn('M-20', past)).sig).toBe('bit.W.wp-lost.R-PMS-9.empty');
    expect((await verdictOn('M-20', past.replace(' category_mask=wp', ''))).sig).toBe('bit.W.wp-lost.R-PMS-9.empty');
    // with only the guard marker past the masks the trace cannot tell them apart: the fast path's rule
    const guardOnly = 'mmap a pages=2 kind=anon\nwrite a\nuffd_register a\nwp a on\nguard a[0]\nscan a wp_matching no_vec category_mask=wp\n';
    expect((await verdictOn('M-12', guardOnly)).sig).toBe('bit.W.wp-lost.R-PMS-4.any');
  });

  it('a guard marker holds no page, for the signature as for the decisions (both PTE markers: is_pte_marker)', () => {
    for (const e of ['guard', 'marker', 'none', 'gap', 'pte', 'swap', 'zero', 'huge', 'huge-zero', 'pte-thp']) {
      expect(entryKind(e)).toBe(entryHoldsPage(e) ? 'page' : 'empty');
    }
    expect(entryKind('guard')).toBe('empty');
  });
});
