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

const run = liveTextRunner('ptefarm-case/1');
const present = (tr: Trace, step: number, from: number, to: number) => tr.steps[step].pages!['0'].a.slice(from, to).map((s) => s[0]).join('');
const whole = (tr: Trace, step: number) => (tr.steps[step].outcome?.resident?.a ?? []).includes(0);
const NOT_HERE = 'the collapse gave no shmem THP, or the pageout reclaimed it not (no swap), on this host just now';
const ready = (tr: Trace, collapse: number, pageout: number) =>
  (tr.steps[collapse].outcome?.huge?.a ?? []).includes(0) && (tr.steps[pageout].outcome?.swapped_out?.a ?? []).length === 512;

describe('live: a shmem THP swapped out whole comes back whole or page by page (R-SWIN-2)', () => {
  for (const kind of ['memfd-private', 'memfd-shared']) {
    it(`${kind}: a page table at the PMD: whole, the read maps all 512 pages by PTEs; page by page, one`, async (ctx) => {
      const { tr } = await run(`mmap a pages=512 kind=${kind} thp
        read a[472]
        collapse a
        mprotect a[511] prot=r
        read a[0]
        mprotect a[511] prot=rw
        read a[100]
        pageout a
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
});
