// A WP_ASYNC write to a shmem THP that PAGEMAP_SCAN's arming write-protected whole, by PMD
// (R-ASYNC-2, src/model/machine.ts writeHuge): the kernel zaps the PMD and maps the page-cache THP
// by PMD again, writable and without uffd-wp, so every page of it loses uffd-wp, not only the
// written one; an anonymous THP is split and only the written page is un-protected.
//
// The kernel (mm/memory.c, 6.12 source, same behaviour on the live 6.18.44 host):
// pagemap_scan_thp_entry arms a whole PMD with make_uffd_wp_pmd, a shmem one too (UFFDIO_WRITEPROTECT
// would split it first: pgtable_split_needed). wp_huge_pmd tests userfaultfd_huge_pmd_wp for
// anonymous VMAs only; a shared file VMA whose vm_ops has no ->huge_fault (shmem) goes to `split:`,
// and __split_huge_pmd_locked clears a file PMD (no marker) and returns VM_FAULT_FALLBACK. The PTE
// level then finds the PMD none: do_shared_fault -> finish_fault -> do_set_pmd maps the PMD-sized
// folio by PMD again (pmd_mkdirty, maybe_pmd_mkwrite), uffd-wp clear. The README campaign found it
// (seed 16, 2026-12-07: 133 violations in three buckets, R-FLT-10, R-POP-1 and R-MUNMAP-1, the
// same root): the trace's `huge` outcome is empty for that write (the block was huge before and
// after), and the model, following it, had split the PMD and mapped the written page alone.
import { describe, expect, it } from 'vitest';
import { predict, type ObservedStep } from '../../src/model/model.ts';
import { parseTextCase } from '../../src/ops/text.ts';
import type { Case } from '../../src/ops/schema.ts';
import { pageRuns } from '../helpers/page-runs.ts';

const caseOf = (body: string): Case =>
  parseTextCase(`ptefarm-case/1\nuffd features=wp_async\n${body.trim().split('\n').map((l) => l.trim()).join('\n')}\n`);
const runs = pageRuns;
/** what the live trace records: the step `at` (the collapse, or the anon THP's first write) made
 *  block 0 huge, no other step mapped a huge block newly */
const outcomes = (c: Case, at = 2): ObservedStep[] =>
  c.ops.map((_, i) => ({ outcome: { huge: i === at ? { a: [0] } : ({} as Record<string, number[]>) } }));

const ARMED = (kind: string, touch = 'write') => `mmap a pages=512 kind=${kind} thp
  ${touch} a[89]
  collapse a[..1)
  uffd_register a
  scan a wp_matching`;

describe('R-ASYNC-2: a WP_ASYNC write to a wp shmem PMD un-protects the whole THP', () => {
  for (const kind of ['memfd-shared', 'shared-anon']) {
    it(`${kind}: the README campaign's case, with the live trace's outcomes: all 512 pages present, none wp; a later scan finds all WRITTEN`, () => {
      const c = caseOf(`${ARMED(kind)}
        write a[312]
        scan a`);
      const p = predict(c, outcomes(c));
      expect(runs(p.steps[4].pages['0'].a)).toBe('0-511:P.FEWD');
      expect(runs(p.steps[5].pages['0'].a)).toBe('0-511:P.FE.D');
      expect(new Set(p.steps[5].entry['0'].a)).toEqual(new Set(['huge']));
      expect(p.steps[5].rules).toContain('R-ASYNC-2');
      // PAGEMAP_SCAN's WRITTEN is !uffd-wp: the 511 pages never written are reported too
      expect(new Set(p.steps[6].scan!['0'].a.map((s) => s[1]))).toEqual(new Set(['w']));
    });
  }

  it('a populate write and a munmap after it see the PMD the refault mapped (the other two buckets of seed 16)', () => {
    const c = caseOf(`${ARMED('memfd-shared')}
      populate a write
      munmap a[117]`);
    const p = predict(c, outcomes(c));
    expect(runs(p.steps[5].pages['0'].a)).toBe('0-511:P.FE.D');
    // munmap of one page splits the VMA, and with it the file PMD, which is zapped (R-SPLIT-3)
    expect(runs(p.steps[6].pages['0'].a)).toBe('0-116:.....D 117:...... 118-511:.....D');
  });

  it('an anonymous THP is still split, only the written page un-protected (the kernel path M-7 mutates)', () => {
    const c = caseOf(`mmap a pages=512 kind=anon thp
      write a
      uffd_register a
      scan a wp_matching
      write a[3]`);
    const p = predict(c, outcomes(c, 1));
    expect(runs(p.steps[4].pages['0'].a)).toBe('0-2:P..EWD 3:P..E.D 4-511:P..EWD');
  });

  it('a memfd-private PMD (page-cache THP in a private mapping) is zapped and the write copies one page, the rest holes (unchanged)', () => {
    const c = caseOf(`${ARMED('memfd-private', 'read')}
      write a[312]`);
    const p = predict(c, outcomes(c));
    expect(runs(p.steps[5].pages['0'].a)).toBe('0-311:.....D 312:P..E.D 313-511:.....D');
  });
});
