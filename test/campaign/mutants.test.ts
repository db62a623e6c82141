// The issue's acceptance, in-process: for EVERY mutant, a campaign with seed 1 (at most 20000
// cases, stopped at its first bucket) finds it, with a minimized reproducer no longer than the
// exposing sequence of x86-semantics.md §11 plus two ops. The in-process transport generates the
// same case sequence as `ptefarm fuzz --seed 1` on the pool (generation is timing-independent).
import { describe, expect, it } from 'vitest';
import { MUTANTS } from '../../src/model/mutants.ts';
import { runCampaign, type Summary } from '../../src/campaign/campaign.ts';
import { referenceChecker } from '../../src/campaign/checker.ts';
import { InProcessTransport } from '../../src/campaign/inprocess.ts';
import { validateCase } from '../../src/ops/validate.ts';

/** ops (mmap included) of the exposing sequence given in §11 for each mutant */
export const EXPOSING: Record<string, number> = {
  'B-1': 5, // mmap A, mprotect A r, clear, mmap B after A, mprotect A rw
  'B-2': 4, // mmap A, write, clear, mmap B adjacent
  'B-3': 6, // mmap, write, clear, mprotect r, mprotect rw, write
  'B-4': 6, // mmap memfd-shared, write, clear, dontneed, read, write
  'B-5': 4, // mmap, write, clear, write
  'B-10': 6, // mmap, register, write, wp, pageout, fork
  'B-11': 5, // mmap, register, write, wp, fork
  'B-12': 5, // mmap memfd-private, register, write one, wp all, fork
  'B-13': 5, // mmap thp, read, register, wp, mprotect one page
  'B-15': 5, // mmap thp, write all, register, wp one page, collapse
  'B-16': 7, // mmap memfd-shared, register, write, wp, mprotect r, mprotect rw, write
  'B-18': 5, // mmap, register, write, wp, unregister
  'B-19': 5, // mmap, register, write, wp, close_uffd
  'B-20': 4, // mmap 3 pages, register [1,3), wp, unregister
  'B-21': 5, // mmap, register, write, wp, mremap
  'B-22': 5, // mmap 2 MiB, register, write, wp, mremap
  'B-25': 3, // mmap thp, read, scan
  'B-26': 5, // mmap thp, write page 0, register, wp, partial split
  'B-40': 10, // mmap memfd thp, write, collapse, split, register, wp one (marker: a page table), write 2+, wp, pageout
  'B-27': 4, // mmap, register, wp, scan
  'B-28': 4, // mmap thp, register, wp, scan
  'B-30': 4, // mmap thp, write, clear, mprotect one page
  'M-1': 2, // mmap, clear (VMA flag only)
  'M-2': 2, // mmap, munmap part
  'M-3': 3, // mmap shared, register, wp
  'M-4': 5, // mmap, register, write, wp, fork
  'M-5': 5, // mmap shared, register, write, wp, dontneed
  'M-6': 5, // mmap, register, write, wp, dontneed
  'M-7': 5, // mmap thp, write, register, wp, write one page
  'M-8': 4, // mmap, write, clear, mremap
  'M-9': 3, // mmap, write, pageout
  'M-10': 5, // mmap, register, write, wp, clear
  'M-11': 3, // mmap, register, wp
  'M-13': 3, // mmap, register, scan
  'M-14': 3, // mmap, clear, mremap grow in place
  'M-15': 3, // mmap shared, mremap grow in place, populate
  'M-16': 3, // mmap thp, populate write, pageout part
  'M-17': 5, // mmap, register, write, wp (sync), populate write
  'B-23': 6, // mmap, register, write, wp, pageout, scan (WRITTEN fast path)
  'B-32': 4, // mmap thp, write, register, scan wp_matching no_vec over part
  'M-12': 4, // mmap, register, write, scan wp_matching no_vec category_mask
  'M-18': 4, // mmap, write, guard, dontneed
  'M-19': 3, // mmap shared, guard, fork
  'M-30': 4, // mmap thp, write, split, pageout part
  'M-20': 4, // mmap, guard, register, scan wp_matching
  'D-1': 4, // mmap memfd-shared, write, pageout, read
  'D-2': 4, // mmap, write, pageout, read
  'B-33': 4, // mmap hugetlb, register, write, scan wp_matching
  'M-21': 5, // mmap hugetlb, register, write, wp, dontneed
};

const results: Array<{ id: string; found: boolean; ops?: number; firstCase?: number; ms?: number }> = [];

describe('every mutant is found by `fuzz --seed 1` and minimized', async () => {
  const checker = await referenceChecker();
  for (const m of MUTANTS) {
    it(`${m.id}: ${m.text}`, async () => {
      const transport = new InProcessTransport();
      let s: Summary;
      try {
        s = await runCampaign({ target: `model:x86+${m.id}`, transport, checker, seed: 1, cases: 20000, stopAfterBuckets: 1, maxMinimizeRuns: 2000 });
      } finally { await transport.close(); }
      const best = [...s.buckets].filter((b) => b.minimized).sort((a, b) => a.ops - b.ops)[0];
      results.push({ id: m.id, found: !!best, ops: best?.ops, firstCase: best?.first_case, ms: best?.minimized_ms });
      expect(best, `${m.id} not found in ${s.cases} cases`).toBeDefined();
      expect(validateCase(best!.case)).toEqual([]);
      const limit = (EXPOSING[m.id] ?? 6) + 2;
      expect(best!.ops, JSON.stringify(best!.case)).toBeLessThanOrEqual(limit);
    }, 900_000); // a budget of cases, not of time: the machine may be shared
  }
  it('summary', () => { console.log(results.map((r) => `${r.id}: ${r.found ? `case #${r.firstCase}, ${r.ops} ops, ${Math.round(r.ms ?? 0)} ms` : 'NOT FOUND'}`).join('\n')); });
});
