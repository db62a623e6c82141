// Live: a shmem THP that reclaim wrote to swap comes back on a fault whole or page by page (R-SWIN-2,
// src/model/machine.ts shmemSwapInWhole), and the fault maps what mm/memory.c finish_fault maps. The
// README campaign's seed-12 false violation, made deterministic: the THP mapped by PTEs (the mprotect
// splits the VMA, so no read can map a PMD; mprotect back merges it), paged out whole, then read — a
// page table is left at the PMD, so the folio that came back whole is mapped by 512 PTEs. Each run
// requires no violation against the reference model (the helper); the kernel's own answer is
// asserted by the `resident` outcome it recorded (whole: every page mapped; page by page, as a host
// without CONFIG_THP_SWAP or a free swap cluster does: the faulting page alone). Skipped with the
// reason where the collapse gave no THP or the pageout reclaimed nothing (no swap).
import { describe, expect, it } from 'vitest';
import { liveTextRunner } from '../helpers/live-text.ts';
import type { Trace } from '../../src/ops/trace.ts';
import { pteMappedPagedOut } from '../helpers/shmem-thp-cases.ts';

const run = liveTextRunner('ptefarm-case/1');
const present = (tr: Trace, step: number, from: number, to: number) => tr.steps[step].pages!['0'].a.slice(from, to).map((s) => s[0]).join('');
/** the step's `resident` runs of region a (the executor writes runs, never the older block form) */
const res = (tr: Trace, step: number) => (tr.steps[step].outcome?.resident?.a ?? []).map((e) => (typeof e === 'number' ? [e, 0] : e));
const whole = (tr: Trace, step: number) => res(tr, step).some(([f, n]) => f === 0 && n >= 512);
const NOT_HERE = 'the collapse gave no shmem THP, or the pageout reclaimed it not (no swap), on this host just now';
const ready = (tr: Trace, collapse: number, pageout: number) =>
  (tr.steps[collapse].outcome?.huge?.a ?? []).includes(0) && (tr.steps[pageout].outcome?.swapped_out?.a ?? []).length === 512;

describe('live: a shmem THP swapped out whole comes back whole or page by page (R-SWIN-2)', () => {
  for (const kind of ['memfd-private', 'memfd-shared']) {
    it(`${kind}: a page table at the PMD: whole, the read maps all 512 pages by PTEs; page by page, one`, async (ctx) => {
      const { tr } = await run(`${pteMappedPagedOut(kind)}
        read a[154]`);
      if (!ready(tr, 2, 7)) { ctx.skip(NOT_HERE); return; }
      expect(tr.steps[8].outcome?.huge?.a ?? []).toEqual([]);
      if (whole(tr, 8)) expect(present(tr, 8, 0, 512)).toBe('P'.repeat(512));
      else expect(present(tr, 8, 150, 158)).toBe('....P...');
    });
  }

  it('no VMA covering the block: the fault maps its page alone either way; whole, the next read fault-arounds its window from the page cache', async (ctx) => {
    const { tr } = await run(`mmap a pages=512 kind=memfd-private thp
      read a[472]
      collapse a
      pageout a
      mprotect a[511] prot=r
      read a[0]
      read a[20]`);
    if (!ready(tr, 2, 3)) { ctx.skip(NOT_HERE); return; }
    expect(present(tr, 5, 0, 32)).toBe('P' + '.'.repeat(31));
    if (whole(tr, 5)) expect(present(tr, 6, 0, 33)).toBe('P' + '.'.repeat(15) + 'P'.repeat(16) + '.');
    else expect(present(tr, 6, 0, 33)).toBe('P' + '.'.repeat(19) + 'P' + '.'.repeat(12));
  });

  // R-SWIN-3: a swap-in in a uffd-armed VMA goes page by page (6.18 shmem_swapin_folio: order 0 for
  // a userfaultfd_armed VMA) and splits the large swap entry (shmem_split_large_entry); a later fault
  // outside uffd reads a whole piece of it back (64 pages on 6.18.44), and finish_fault maps it all
  for (const [kind, access] of [['memfd-private', 'read'], ['memfd-shared', 'read'], ['shared-anon', 'read'], ['memfd-shared', 'write'], ['memfd-private', 'write']]) {
    it(`${kind}: a page-by-page swap-in under uffd splits the entry; a later ${access} brings back its piece and maps ${access === 'write' && kind === 'memfd-private' ? 'the copied page alone (do_cow_fault)' : 'it (finish_fault)'}`, async (ctx) => {
      const { tr } = await run(`${pteMappedPagedOut(kind)}
        uffd_register a
        read a[5]
        uffd_unregister a
        ${access} a[160]`, '');
      if (!ready(tr, 2, 7)) { ctx.skip(NOT_HERE); return; }
      expect(res(tr, 9)).toEqual([[5, 1]]);
      const piece = res(tr, 11).find(([f, n]) => f <= 160 && 160 < f + n) ?? [160, 1];
      const [f, n] = piece;
      expect(f % n).toBe(0); // an aligned piece (or the page alone)
      if (access === 'write' && kind === 'memfd-private') { expect(present(tr, 11, 6, 512)).toBe('.'.repeat(154) + 'P' + '.'.repeat(351)); return; }
      expect(present(tr, 11, f, f + n)).toBe('P'.repeat(n));
      expect(present(tr, 11, 6, f) + present(tr, 11, f + n, 512)).toBe('.'.repeat(512 - 6 - n));
    });
  }
});
