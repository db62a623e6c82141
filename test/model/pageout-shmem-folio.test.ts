// MADV_PAGEOUT of part of a large page-cache (shmem) folio mapped by PTEs (R-PO-4): the kernel
// splits the folio, and a file folio's split unmaps every PTE mapping it without remapping any, so
// the pages next to the paged-out one lose their PTEs too, and none of them is reclaimed.
//
// The kernel (mm/madvise.c madvise_cold_or_pageout_pte_range, 6.12 source, same shape on the 6.18.44
// host): a PTE batch of a large folio shorter than the folio (madvise_folio_pte_batch) is split with
// split_folio unless folio_maybe_mapped_shared; mm/huge_memory.c unmap_folio unmaps a file folio
// with try_to_unmap (try_to_unmap_one leaves a uffd-wp marker where the PTE was wp in a uffd-wp
// VMA), and remap_page returns at once for a non-anon folio ("file pages can simply be left
// unmapped, then faulted back on demand"). The walk then re-reads the now-empty PTE and moves on:
// nothing is reclaimed. Measured on the live 6.18.44 kernel (shared-anon, memfd-shared and a
// memfd-private mapping's page-cache pages alike, 5/5): the README campaign's minimized case
// below; a read of a[300] afterwards fault-arounds a[288..302) back from the page cache, a[301]
// included (a swapped-out page would be skipped); a fork child mapping any page of the folio
// leaves everything as it was; a page-cache THP still mapped by PMD behaves as before (R-PO-3).
import { describe, expect, it } from 'vitest';
import { predict } from '../../src/model/model.ts';
import { parseTextCase } from '../../src/ops/text.ts';
import type { Prediction } from '../../src/model/api.ts';
import { pageRuns } from '../helpers/page-runs.ts';
import { pteMappedPagedOut } from '../helpers/shmem-thp-cases.ts';

function run(body: string, uffd?: string): Prediction {
  const text = `ptefarm-case/1\n${uffd !== undefined ? `uffd features=${uffd}\n` : ''}${body.trim().split('\n').map((l) => l.trim()).join('\n')}\n`;
  return predict(parseTextCase(text));
}
const pages = (p: Prediction, step: number, proc = 0) => p.steps[step].pages[String(proc)].a;
const runs = pageRuns;

// the README campaign's finding (minimized): a collapsed shmem THP whose mapping mremap shrank to
// 302 pages (the PMD goes, R-SPLIT-3), two pages written back in by PTE, pageout of one of them
const SHRUNK = (kind: string) => `mmap a pages=512 kind=${kind} thp
  read a[35]
  collapse a
  mremap a pages=302
  write a[300..302)`;

describe('R-PO-4: partial MADV_PAGEOUT of a PTE-mapped shmem THP splits it, unmapping all of it', () => {
  for (const kind of ['shared-anon', 'memfd-shared']) {
    it(`${kind}: pageout of a[301] unmaps a[300] too and reclaims neither`, () => {
      const p = run(`${SHRUNK(kind)}
        pageout a[301]
        read a[300]`);
      expect(runs(pages(p, 4))).toBe('0-299:.....D 300-301:P.FE.D');
      expect(runs(pages(p, 5))).toBe('0-301:.....D');
      expect(p.steps[5].rules).toContain('R-PO-4');
      // the pages stayed in the page cache: fault-around maps a[301] with the rest of its window
      expect(runs(pages(p, 6))).toBe('0-287:.....D 288-301:P.FE.D');
    });
  }

  it('a range covering every mapped page of the folio but not the folio splits it all the same', () => {
    const p = run(`${SHRUNK('shared-anon')}
      read a[0..4)
      pageout a[0..2)`);
    expect(runs(pages(p, 5))).toBe('0-15:P.FE.D 16-299:.....D 300-301:P.FE.D');
    expect(runs(pages(p, 6))).toBe('0-301:.....D');
  });

  it('a wp PTE of a uffd-wp VMA leaves a marker, the others none', () => {
    const p = run(`${SHRUNK('memfd-shared')}
      uffd_register a
      wp a[300] on
      pageout a[301]`, 'wp_async');
    expect(runs(pages(p, 7))).toBe('0-299:.....D 300:.S..WD 301:.....D');
    expect(p.steps[7].rules).toEqual(expect.arrayContaining(['R-PO-4', 'R-PO-2']));
  });

  it('a folio another process maps (any page of it) is left alone (folio_maybe_mapped_shared, R-PO-0)', () => {
    const p = run(`${SHRUNK('shared-anon')}
      fork
      p1 read a[100]
      pageout a[301]`);
    expect(runs(pages(p, 7))).toBe('0-299:.....D 300-301:P.FE.D');
    expect(runs(pages(p, 7, 1))).toBe('0-95:.....D 96-111:P.FE.D 112-301:.....D');
    expect(p.steps[7].rules).toContain('R-PO-0');
    expect(p.steps[7].rules).not.toContain('R-PO-4');
  });

  it('R-PO-2: a PMD-mapped shmem THP wholly in range is reclaimed: every page goes to swap, so fault-around skips them', () => {
    // the README campaign's finding (seed 3, minimized): the mprotect leaves no VMA covering the
    // block, so the read faults one page in and fault-around finds the rest swap entries
    const p = run(`mmap a pages=512 kind=memfd-shared thp
      write a[56]
      collapse a[149]
      pageout a
      mprotect a[164] prot=r
      read a[0]`);
    expect(runs(pages(p, 3))).toBe('0-511:.....D');
    expect(runs(pages(p, 5))).toBe('0:P.FE.D 1-511:.....D');
    // part of it is only split (R-PO-4, nothing reclaimed): fault-around maps the window
    const q = run(`mmap a pages=512 kind=memfd-shared thp
      write a[56]
      collapse a
      pageout a[301]
      mprotect a[164] prot=r
      read a[0]`);
    expect(runs(pages(q, 5))).toBe('0-15:P.FE.D 16-511:.....D');
  });

  it('R-PO-2: a clean shmem page (read-faulted, never written) is dropped from the page cache, not swapped: a collapse of its otherwise empty block then finds nothing (EINVAL)', () => {
    // the README campaign's finding (seed 5, minimized; memfd-private and memfd-shared alike)
    const run5 = (touch: string) => run(`mmap a pages=512 kind=memfd-private thp
      ${touch} a[293]
      pageout a[293]
      collapse a
      read a[375]`);
    const clean = run5('read');
    expect(clean.steps[3].rc).toBe('EINVAL');
    expect(runs(pages(clean, 4))).toBe('0-374:.....D 375:P.FE.D 376-511:.....D');
    // a shared mapping's written page goes to swap instead, and the collapse swaps it in
    const dirty = run(`mmap a pages=512 kind=memfd-shared thp
      write a[293]
      pageout a[293]
      collapse a
      read a[375]`);
    expect(dirty.steps[3].rc).toBe(0);
  });

  it('R-PO-2: a range covering a whole PTE-mapped shmem THP reclaims it as one batch: every page goes to swap, none is split off into the page cache', () => {
    // madvise_cold_or_pageout_pte_range: the batch from the folio's first PTE is the whole folio
    // (nr == folio_nr_pages), isolated whole and the walk skips its other PTEs. The model used to
    // reclaim the first page and then meet the rest as a partial batch (R-PO-4: split, unmapped,
    // left in the page cache), so a read fault-arounded a[144..160) back. Measured on 6.18.44: the
    // README campaign's seed-12 shape with the THP mapped by PTEs first (mprotect splits the VMA,
    // so the reads map it by PTEs; mprotect back merges it)
    const p = run(`${pteMappedPagedOut('memfd-private')}\nread a[154]`);
    expect(runs(pages(p, 6))).toBe('0-511:P.FE.D');
    expect(runs(pages(p, 7))).toBe('0-511:.....D');
    expect(p.steps[7].rules).not.toContain('R-PO-4');
    // page by page (no `resident` outcome): the one page comes back, fault-around finds only swap
    expect(runs(pages(p, 8))).toBe('0-153:.....D 154:P.FE.D 155-511:.....D');
  });

  it('an anon THP in the same shape is split with migration entries: only the paged-out page goes (R-PO-3)', () => {
    const p = run(`${SHRUNK('anon')}
      pageout a[301]`);
    expect(pages(p, 5)[300]).toBe('P..E.D');
    expect(pages(p, 5)[301]).toBe('.S...D');
    expect(p.steps[5].rules).not.toContain('R-PO-4');
  });
});
