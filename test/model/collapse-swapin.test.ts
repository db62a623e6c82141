// MADV_COLLAPSE of an anonymous block holding swapped-out pages: the kernel reads them back in
// before the steps of the collapse that can still fail, and a failure does not swap them out again.
// The model reads from the trace which pages that happened to (src/model/machine.ts
// swapInBeforeFailedCollapse, src/model/model.ts presentPages), instead of keeping them swapped.
//
// The kernel (mm/khugepaged.c collapse_huge_page, checked on the current source): after
// hpage_collapse_scan_pmd lets the block through (swap entries allowed for MADV_COLLAPSE, none
// with uffd-wp), collapse_huge_page allocates and charges the THP (alloc_charge_folio), then, when
// the scan counted swap entries, __collapse_huge_page_swapin runs a read fault (do_swap_page, no
// FAULT_FLAG_WRITE) on each of them; only then it takes the mmap lock for writing and calls
// __collapse_huge_page_isolate (folio lock, refcount, LRU isolation) and the copy, each of which
// can fail, leaving the block PTE-mapped with the pages swapped in. A swap-in may also fail part
// way (VM_FAULT_RETRY/ERROR), leaving the first ones in. do_swap_page gives a read swap-in the
// entry's soft-dirty and uffd-wp bits, RMAP_EXCLUSIVE when the entry was exclusive, and write
// permission only if no fault is needed (R-SWIN-1).
//
// The failures after the swap-in need a race or an outside reference (another thread locking the
// folio, a per-CPU LRU batch holding it), so the traces here are recorded shapes written by hand:
// the live host's swap-in bits are those of any read swap-in.
import { describe, expect, it } from 'vitest';
import { predict } from '../../src/model/model.ts';
import { checkTrace } from '../../src/check/check.ts';
import { parseTextCase } from '../../src/ops/text.ts';
import { ModelTarget } from '../../src/targets/model.ts';
import type { Case } from '../../src/ops/schema.ts';
import type { Trace } from '../../src/ops/trace.ts';

const caseOf = (body: string): Case =>
  parseTextCase(`ptefarm-case/1\n${body.trim().split('\n').map((l) => l.trim()).join('\n')}\n`);

// a THP written whole, its first four pages split off and swapped out, then collapsed again
const SHAPE = `mmap a pages=512 kind=anon thp
  write a
  pageout a[0..4)
  collapse a`;

// what a read swap-in of an exclusive, soft-dirty entry in a writable VMA observes: present,
// exclusive, soft-dirty, no uffd-wp (do_swap_page)
const SWAPPED_IN = 'P..E.D';
const SWAPPED = '.S...D';

/** The trace a kernel gives when the collapse at `step` failed after swapping in `inPages` of the
 *  block: the steps before as the model target traced them; that step not huge, observed as the
 *  step before with those pages shown as `shown`. */
function failedCollapse(c: Case, step: number, inPages: number[], shown = SWAPPED_IN): Trace {
  const t = new ModelTarget('model:x86').executeSync(c);
  const pages = structuredClone(t.steps[step - 1].pages!);
  for (const k of inPages) pages['0'].a[k] = shown;
  t.steps[step] = { ...t.steps[step], rc: 'EAGAIN', outcome: { huge: {} }, pages };
  return t;
}

describe('R-COL-1: MADV_COLLAPSE swaps pages in before it may fail; the model reads the swap-ins from the trace', () => {
  it('the shapes the test builds on: before the collapse pages 0-3 are swap entries; neutral, the collapse makes the block huge', () => {
    const n = predict(caseOf(SHAPE));
    expect(n.steps[2].pages['0'].a.slice(0, 5)).toEqual([SWAPPED, SWAPPED, SWAPPED, SWAPPED, SWAPPED_IN]);
    expect(new Set(n.steps[3].entry['0'].a)).toEqual(new Set(['huge']));
  });

  it('a collapse that failed after swapping in all four pages: no violation, the pages present with the bits of a read swap-in', () => {
    const c = caseOf(SHAPE);
    const t = failedCollapse(c, 3, [0, 1, 2, 3]);
    const v = checkTrace(c, t);
    expect(v.violations).toEqual([]);
    expect(v.ok).toBe(true);
    const p = predict(c, c.ops.map((_, i) => t.steps[i]));
    expect(p.steps[3].pages['0'].a.slice(0, 4)).toEqual([SWAPPED_IN, SWAPPED_IN, SWAPPED_IN, SWAPPED_IN]);
    expect(p.steps[3].rules).toEqual(expect.arrayContaining(['R-COL-1', 'R-SWIN-1']));
    expect(new Set(p.steps[3].entry['0'].a)).not.toContain('huge');
  });

  it('a swap-in that stopped part way (pages 0-1 in, 2-3 still swapped): no violation', () => {
    const c = caseOf(SHAPE);
    const t = failedCollapse(c, 3, [0, 1]);
    expect(checkTrace(c, t).violations).toEqual([]);
    const p = predict(c, c.ops.map((_, i) => t.steps[i]));
    expect(p.steps[3].pages['0'].a.slice(0, 4)).toEqual([SWAPPED_IN, SWAPPED_IN, SWAPPED, SWAPPED]);
  });

  it('a collapse that failed before any swap-in (e.g. alloc_charge_folio): the pages stay swapped, no violation', () => {
    const c = caseOf(SHAPE);
    expect(checkTrace(c, failedCollapse(c, 3, [])).violations).toEqual([]);
  });

  it('a swapped-in page with a bit no swap-in gives (uffd-wp on an entry without it) is still a violation', () => {
    const c = caseOf(SHAPE);
    const t = failedCollapse(c, 3, [0, 1, 2, 3]);
    t.steps[3].pages!['0'].a[2] = 'P..EWD';
    const v = checkTrace(c, t);
    expect(v.ok).toBe(false);
    expect(v.violations.length).toBeGreaterThan(0);
  });

  it('a page the failed collapse cannot have swapped in (the scan refused its block: a uffd-wp swap entry) shown present is still a violation', () => {
    // the wp swap entry makes hpage_collapse_scan_pmd give SCAN_PTE_UFFD_WP before collapse_huge_page
    const c = parseTextCase(`ptefarm-case/1
uffd features=
mmap a pages=512 kind=anon thp
write a
uffd_register a
wp a[0..4) on
pageout a[0..4)
collapse a
`);
    const t = new ModelTarget('model:x86').executeSync(c);
    const before = t.steps[4].pages!['0'].a.slice(0, 4);
    expect(before.every((s) => s[1] === 'S' && s[4] === 'W')).toBe(true);
    const pages = structuredClone(t.steps[4].pages!);
    pages['0'].a[0] = 'P..EWD';
    t.steps[5] = { ...t.steps[5], outcome: { huge: {} }, pages };
    expect(checkTrace(c, t).ok).toBe(false);
  });
});
