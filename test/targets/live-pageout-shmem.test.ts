// Live: MADV_PAGEOUT of part of a large shmem folio mapped by PTEs (R-PO-4, src/model/machine.ts
// pageoutCacheFolio). The kernel splits the folio first (mm/madvise.c
// madvise_cold_or_pageout_pte_range -> split_folio); a file folio's split unmaps every PTE mapping it
// and remaps none (mm/huge_memory.c unmap_folio, remap_page), and the walk then finds the paged-out
// PTE empty, so nothing is reclaimed. The README campaign's minimized finding: a collapsed shmem THP
// whose mapping mremap shrank to 302 pages (no PMD any more), two pages written back in by PTE,
// pageout of one of them. Each run requires no violation against the reference model (the helper);
// the kernel's own answer is asserted where the collapse gave a THP (`huge` outcome) and skipped
// with the reason otherwise (THP off, shmem_enabled=deny, memory too fragmented just now).
import { describe, expect, it } from 'vitest';
import { liveTextRunner } from '../helpers/live-text.ts';
import type { Trace } from '../../src/ops/trace.ts';

const run = liveTextRunner('ptefarm-case/1');
const SHRUNK = (kind: string) => `mmap a pages=512 kind=${kind} thp
  read a[35]
  collapse a
  mremap a pages=302
  write a[300..302)`;
/** present bit (P) of pages [from, to) of region a after step `step` */
const present = (tr: Trace, step: number, from: number, to: number, proc = 0) =>
  tr.steps[step].pages![String(proc)].a.slice(from, to).map((s) => s[0]).join('');
const collapsed = (tr: Trace) => (tr.steps[2].outcome?.huge?.a ?? []).includes(0);
const NO_THP = 'the collapse gave no shmem THP on this host just now (THP off, shmem_enabled=deny, or fragmented memory)';

describe('live: partial MADV_PAGEOUT of a PTE-mapped shmem THP', () => {
  for (const kind of ['shared-anon', 'memfd-shared']) {
    it(`${kind}: pageout of a[301] unmaps a[300] too; both stay in the page cache (a read fault-arounds a[301] back)`, async (ctx) => {
      const { tr } = await run(`${SHRUNK(kind)}
        pageout a[301]
        read a[300]`);
      if (!collapsed(tr)) { ctx.skip(NO_THP); return; }
      expect(present(tr, 4, 300, 302)).toBe('PP');
      expect(present(tr, 5, 0, 302)).toBe('.'.repeat(302));
      expect(present(tr, 6, 288, 302)).toBe('P'.repeat(14));
    });
  }

  it('a wp PTE of a uffd-wp VMA leaves a marker (swapped + uffd-wp in pagemap), the other none', async (ctx) => {
    const { tr } = await run(`${SHRUNK('memfd-shared')}
      uffd_register a
      wp a[300] on
      pageout a[301]`, 'wp_async');
    if (!collapsed(tr)) { ctx.skip(NO_THP); return; }
    const after = tr.steps[7].pages!['0'].a;
    expect(after[300].slice(0, 5)).toBe('.S..W');
    expect(after[301].slice(0, 5)).toBe('.....');
  });

  it('a PMD-mapped shmem THP wholly in range is reclaimed (every page to swap: fault-around skips them); part of it is only split (fault-around maps the window)', async (ctx) => {
    const body = (range: string) => `mmap a pages=512 kind=memfd-shared thp
      write a[56]
      collapse a
      pageout a${range}
      mprotect a[164] prot=r
      read a[0]`;
    const whole = (await run(body(''))).tr;
    const part = (await run(body('[301]'))).tr;
    if (!collapsed(whole) || !collapsed(part)) { ctx.skip(NO_THP); return; }
    expect(present(whole, 5, 0, 16)).toBe('P' + '.'.repeat(15));
    expect(present(part, 5, 0, 16)).toBe('P'.repeat(16));
  });

  it('a clean page (read, never written) is dropped, not swapped: a collapse of its otherwise empty block is EINVAL and collapses nothing', async (ctx) => {
    const body = (touch: string) => `mmap a pages=512 kind=memfd-shared thp
      ${touch} a[293]
      pageout a[293]
      collapse a
      read a[375]`;
    const clean = (await run(body('read'))).tr;
    expect(clean.steps[3].rc).toBe('EINVAL');
    expect(present(clean, 4, 0, 512)).toBe('.'.repeat(375) + 'P' + '.'.repeat(136));
    const dirty = (await run(body('write'))).tr;
    if (!(dirty.steps[3].outcome?.huge?.a ?? []).includes(0)) { ctx.skip(NO_THP); return; }
    expect(dirty.steps[3].rc).toBe(0);
  });

  it('a folio a fork child maps a page of is left alone (folio_maybe_mapped_shared)', async (ctx) => {
    const { tr } = await run(`${SHRUNK('shared-anon')}
      fork
      p1 read a[100]
      pageout a[301]`);
    if (!collapsed(tr)) { ctx.skip(NO_THP); return; }
    expect(present(tr, 7, 300, 302)).toBe('PP');
  });
});
