// Which PAGEMAP_SCAN rule a divergence at a scan step is about, page by page, from the scan's own
// provenance (src/model/scan.ts ScanPageWhy, carried in PredictedStep.wpAllowed.why by the
// attribution pass only, so the fast path pays nothing). Without it every scan divergence named
// the first rule of the op's family, R-PMS-1 (pagemap_scan_test_walk), whatever went wrong, and
// two bugs (a pte_none and a PMD hole not reported WRITTEN) shared one bucket (issue 12).
//   - a category letter that differs names the rule that decided that letter for the page: its
//     entry's category rule (pagemap_page_category's branch, pagemap_thp_category,
//     pagemap_scan_pte_hole: R-PMS-2.*), the VMA's (R-PMS-1.vmacat), the WRITTEN fast path's
//     (R-PMS-3.fast, which tests write-protection alone);
//   - a page one side reports and the other does not names the rule that decided its reporting:
//     for the mask test (pagemap_scan_is_interesting_page) the category letter it turned on, with
//     that letter's rule, recorded as Violation.decidedBy (the signature keys on the letter: a
//     pte_none left out for lacking WRITTEN is the bug of a pte_none reported without it); else
//     max_pages (R-PMS-7), the VMA gate (R-PMS-1.*), a backed-out hugetlb page (R-HTLB-10);
//   - a uffd-wp bit the scan armed or did not arm names the rule that decided the arming: the
//     exclusive-WP fast path (R-PMS-4), the reported-WRITTEN paths (R-PMS-3.*), a hole (R-PMS-6),
//     a huge PMD (R-PMS-5.*), a guard marker's own arming (R-PMS-9). A guard marker the fast path
//     arms though the masks exclude it is either's: it is R-PMS-4's when the trace bears that out
//     (every page the fast path arms past the masks is left unarmed, as a fast path honouring
//     the masks would leave them), else R-PMS-9's (make_uffd_wp_pte on the marker).
// Called by the check (src/check/check.ts) for a diverging trace, before the hidden decisions.
import type { PredictedStep } from '../model/api.ts';
import { scanLetterIndex as letterIndex, type ScanPageWhy } from '../model/scan.ts';
import type { Case } from '../ops/schema.ts';
import { scanProc } from './decisions.ts';
import type { Violation } from './types.ts';

/**
 * A hole's (or a hugetlb entry's, below) arming in a WP_MATCHING scan that shows no categories — one without an output vector,
 * or one that failed (EPERM at a later VMA: do_pagemap_scan copies nothing out, the arming done
 * stays) — as the page's reporting: pagemap_scan_pte_hole arms exactly the hole pages the mask
 * test finds interesting (pagemap_scan_output returns at once without a vector, uffd_wp_range follows):
 * a hole one side arms and the other does not is the divergence a scan with a vector shows as the
 * page reported by one side only — named by the category letter the mask test turned on and that
 * letter's rule (R-PMS-2.hole), as there. Undefined unless the reference's arming of the page is
 * the hole's (R-PMS-6 where it armed it, the deciding letter's rule where it did not) and agrees
 * with the trace's direction.
 */
function holeArmedByMasks(w: ScanPageWhy, v: Violation, c: Case, rc: PredictedStep['rc']): { rule: string; by: { letter: string; value: '0' | '1' } } | undefined {
  const op = c.ops[v.step];
  if (op?.op !== 'scan' || !op.wp_matching) return undefined;
  const by = op.no_vec && rc === 0 ? w.by : rc !== 0 ? w.armedBy : undefined;
  if (!by) return undefined;
  const rule = w.cats[letterIndex(by.letter)];
  // an entry whose category rule is its arming rule too is reported and armed by one function, as a
  // hugetlb entry is (fs/proc/task_mmu.c pagemap_scan_hugetlb_entry, R-HTLB-10: it tests the masks,
  // then write-protects what it reports): an entry of it left unarmed that the reference reported
  // for the letter and armed is that entry not reported, as a scan with a vector shows it
  if (rule && rule === w.arm && !rule.startsWith('R-PMS-2.hole')) {
    return by.value && v.expected === '1' && v.actual === '0' ? { rule, by: { letter: by.letter, value: '1' } } : undefined;
  }
  if (!rule?.startsWith('R-PMS-2.hole')) return undefined;
  const armed = w.arm === 'R-PMS-6';
  if (!(armed ? v.expected === '1' : w.arm === rule && v.expected === '0')) return undefined;
  return { rule, by: { letter: by.letter, value: by.value ? '1' : '0' } };
}

/** Give every violation on a scanned page at a scan step the scan rule behind it (in place). */
export function assignScanRules(vs: readonly Violation[], steps: readonly PredictedStep[], c: Case): void {
  // per scan step, the pages (region page numbers) whose uffd-wp bit the scan should have set and did not
  const unarmed = new Map<number, Set<number>>();
  for (const v of vs) {
    if (v.op !== 'scan' || v.kind !== 'bit' || v.bit !== 'W' || v.expected !== '1' || v.page === undefined) continue;
    if (v.region !== steps[v.step]?.wpAllowed?.region || v.proc !== scanProc(c, v.step)) continue;
    let s = unarmed.get(v.step);
    if (!s) unarmed.set(v.step, s = new Set());
    s.add(v.page);
  }
  const pastMasksHolds = (step: number) => {
    const why = steps[step]!.wpAllowed!.why!;
    return why.pages.every((w, k) => !w.pastMasks || !!unarmed.get(step)?.has(k + why.offset));
  };
  for (const v of vs) {
    if (v.op !== 'scan' || v.page === undefined) continue;
    const wpa = steps[v.step]?.wpAllowed;
    if (!wpa?.why || v.region !== wpa.region || v.proc !== scanProc(c, v.step)) continue;
    const w = wpa.why.pages[v.page - wpa.why.offset];
    if (!w) continue;
    if (v.kind === 'scan') {
      const k = letterIndex(v.bit);
      if (k < 0) continue; // walk_end: the scan's, not a page's
      if (v.expected === '-' || v.actual === '-') {
        if (w.by) {
          v.rule = w.cats[letterIndex(w.by.letter)] || w.report;
          v.decidedBy = { letter: w.by.letter, value: w.by.value ? '1' : '0' };
        } else v.rule = w.report;
      } else if (w.cats[k]) v.rule = w.cats[k];
    } else if (v.kind === 'bit' && v.bit === 'W' && w.arm) {
      const hole = holeArmedByMasks(w, v, c, steps[v.step]!.rc);
      if (hole) { v.rule = hole.rule; v.decidedBy = hole.by; continue; }
      v.rule = w.pastMasks && v.entry === 'guard' && !pastMasksHolds(v.step) ? 'R-PMS-9' : w.arm;
    }
  }
}
