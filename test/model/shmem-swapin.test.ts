// R-SWIN-2 in the reference model: a shmem THP that reclaim wrote to swap comes back whole or page
// by page on a fault, as the `resident` outcome records (workers/executor/ptefarm-observe.h
// resident_pages: mincore of the region before and after the op), and the fault then maps what the
// kernel's finish_fault maps. The expected bits are written by hand from the kernel (6.18.44 live,
// zram swap: mm/shmem.c shmem_swapin_folio -> shmem_swap_alloc_folio reads the order-9 swap entry
// as one folio; mm/memory.c finish_fault maps a large shmem folio by PTEs when do_set_pmd cannot map
// it by PMD). Both kinds of host are stated: with the outcome (whole) and without it (page by page:
// no THP_SWAP, no free swap cluster, an allocation failure, a uffd-armed VMA). The live kernel showed
// each `whole` scenario (test/targets/live-shmem-swapin.test.ts).
import { describe, expect, it } from 'vitest';
import { predict } from '../../src/model/model.ts';
import { parseTextCase } from '../../src/ops/text.ts';
import type { Outcome } from '../../src/ops/trace.ts';
import type { Prediction } from '../../src/model/api.ts';
import { pageRuns } from '../helpers/page-runs.ts';
import { pteMappedPagedOut } from '../helpers/shmem-thp-cases.ts';

/** predict a text case with the given outcome per op (default: no huge PMD, nothing swapped, no zero page) */
function run(body: string, outcomes: Record<number, Partial<Outcome>>): Prediction {
  const c = parseTextCase(`ptefarm-case/1\n${body.trim().split('\n').map((l) => l.trim()).join('\n')}\n`);
  return predict(c, c.ops.map((op, i) => ({ outcome: { huge: {}, swapped_out: {}, ...(op.op === 'read' ? { zero: { [op.region]: [] } } : {}), ...outcomes[i] } })));
}
const runs = (p: Prediction, step: number, proc = 0) => pageRuns(p.steps[step].pages[String(proc)].a);
const ALL = Array.from({ length: 512 }, (_, i) => i);
const WHOLE = { resident: { a: [0] } };

const PTE_MAPPED = pteMappedPagedOut;
const base = { 2: { huge: { a: [0] } }, 7: { swapped_out: { a: ALL } } };

describe('R-SWIN-2: a shmem folio swapped out whole comes back whole or page by page, as `resident` records', () => {
  it('whole, with a page table at the PMD: the read maps every page of the folio by PTEs (finish_fault), read-only in a private mapping', () => {
    const p = run(`${PTE_MAPPED('memfd-private')}\nread a[154]`, { ...base, 8: WHOLE });
    expect(runs(p, 8)).toBe('0-511:P.FE.D');
    expect(p.steps[8].rules).toContain('R-SWIN-2');
    // the folio is in the page cache again: a private write copies one page, the others stay
    const w = run(`${PTE_MAPPED('memfd-private')}\nread a[154]\nwrite a[3]`, { ...base, 8: WHOLE });
    expect(runs(w, 9)).toBe('0-2:P.FE.D 3:P..E.D 4-511:P.FE.D');
  });

  it('page by page (no outcome): the read maps the one page, fault-around finds only swap', () => {
    const p = run(`${PTE_MAPPED('memfd-private')}\nread a[154]`, base);
    expect(runs(p, 8)).toBe('0-153:.....D 154:P.FE.D 155-511:.....D');
    expect(p.steps[8].rules).not.toContain('R-SWIN-2');
  });

  it('a write fault on a shared mapping maps the whole folio writable and dirty (R-FLT-10L) when it came back whole, one page otherwise', () => {
    const whole = run(`${PTE_MAPPED('memfd-shared')}\nwrite a[154]`, { ...base, 8: WHOLE });
    expect(runs(whole, 8)).toBe('0-511:P.FE.D');
    expect(whole.steps[8].rules).toEqual(expect.arrayContaining(['R-SWIN-2', 'R-FLT-10L']));
    const one = run(`${PTE_MAPPED('memfd-shared')}\nwrite a[154]`, base);
    expect(runs(one, 8)).toBe('0-153:.....D 154:P.FE.D 155-511:.....D');
  });

  it('whole, with no VMA covering the block (no PMD, the folio crosses the VMA end): the fault maps its page alone, no fault-around; the folio is cached, so the next read fault-arounds its window', () => {
    const body = `mmap a pages=512 kind=memfd-private thp
      read a[472]
      collapse a
      pageout a
      mprotect a[511] prot=r
      read a[0]
      read a[20]`;
    const o = { 2: { huge: { a: [0] } }, 3: { swapped_out: { a: ALL } } };
    const whole = run(body, { ...o, 5: WHOLE });
    expect(runs(whole, 5)).toBe('0:P.FE.D 1-511:.....D');
    expect(runs(whole, 6)).toBe('0:P.FE.D 1-15:.....D 16-31:P.FE.D 32-511:.....D');
    const one = run(body, o);
    expect(runs(one, 6)).toBe('0:P.FE.D 1-19:.....D 20:P.FE.D 21-511:.....D');
  });

  it('whole, with the PMD free: mapped by PMD where `huge` says so (do_set_pmd)', () => {
    const p = run(`mmap a pages=512 kind=memfd-private thp
      read a[472]
      collapse a
      pageout a
      read a[154]`, { 2: { huge: { a: [0] } }, 3: { swapped_out: { a: ALL } }, 4: { huge: { a: [0] }, ...WHOLE } });
    expect(runs(p, 4)).toBe('0-511:P.FE.D');
    expect(p.steps[4].rules).toContain('R-SWIN-2');
  });

  it('a `resident` block the model holds no swapped folio for changes nothing', () => {
    const p = run(`mmap a pages=512 kind=memfd-shared thp
      read a[5]`, { 1: WHOLE });
    expect(runs(p, 1)).toBe('0-4:.....D 5:P.FE.D 6-511:.....D');
    expect(p.steps[1].rules).not.toContain('R-SWIN-2');
  });
});

// R-SWIN-3: the executor records runs of pages made resident ([first, pages]); a page-by-page
// swap-in (here in a uffd-armed VMA: 6.18 shmem_swapin_folio reads order 0 there) splits the large
// swap entry (shmem_split_large_entry: on 6.18.44 the pieces away from the page kept order 6), and a
// later fault outside uffd reads its piece back whole; finish_fault maps it by PTEs (inside the VMA
// and the page table, all none, not uffd-armed). 6.18.44 live: read a[160] -> [128, 64], read
// a[300] -> [256, 64] (test/targets/live-shmem-swapin.test.ts).
const SPLIT = (kind: string) => `uffd features=
  ${PTE_MAPPED(kind)}
  uffd_register a
  read a[5]
  uffd_unregister a
  read a[160]
  read a[300]`;
const ONE = { 9: { resident: { a: [[5, 1]] as [number, number][] } } };

describe('R-SWIN-3: a split large swap entry comes back piece by piece, as `resident` runs record', () => {
  it('whole as a run: the same as the older block form', () => {
    const runsForm = run(`${PTE_MAPPED('memfd-private')}\nread a[154]`, { ...base, 8: { resident: { a: [[0, 512]] } } });
    const blockForm = run(`${PTE_MAPPED('memfd-private')}\nread a[154]`, { ...base, 8: WHOLE });
    expect(runs(runsForm, 8)).toBe(runs(blockForm, 8));
    expect(runs(runsForm, 8)).toBe('0-511:P.FE.D');
  });

  for (const kind of ['memfd-private', 'memfd-shared']) {
    it(`${kind}: pieces (6.18): each later read maps its 64-page piece, and only it`, () => {
      const p = run(SPLIT(kind), { ...base, ...ONE, 11: { resident: { a: [[128, 64]] } }, 12: { resident: { a: [[256, 64]] } } });
      const m = 'P.FE.D';
      expect(runs(p, 9)).toBe(`0-4:.....D 5:${m} 6-511:.....D`);
      expect(runs(p, 11)).toBe(`0-4:.....D 5:${m} 6-127:.....D 128-191:${m} 192-511:.....D`);
      expect(runs(p, 12)).toBe(`0-4:.....D 5:${m} 6-127:.....D 128-191:${m} 192-255:.....D 256-319:${m} 320-511:.....D`);
      expect(p.steps[11].rules).toContain('R-SWIN-3');
    });

    it(`${kind}: page by page throughout (6.12: the entry split to single pages; or no outcome): each read maps its page alone`, () => {
      for (const o of [{ 11: { resident: { a: [[160, 1]] as [number, number][] } }, 12: { resident: { a: [[300, 1]] as [number, number][] } } }, {}] as Record<number, Partial<Outcome>>[]) {
        const p = run(SPLIT(kind), { ...base, ...ONE, ...o });
        expect(runs(p, 12).replace(/P\.F[E.]\.D/g, 'P')).toBe('0-4:.....D 5:P 6-159:.....D 160:P 161-299:.....D 300:P 301-511:.....D');
        expect(p.steps[11].rules).not.toContain('R-SWIN-3');
      }
    });
  }

  it('a piece that came back in a uffd-armed VMA (a host that reads it whole there; 6.18 reads order 0) maps the faulting page alone; the next fault outside uffd finds the rest in the page cache (fault-around)', () => {
    const body = `uffd features=
      ${PTE_MAPPED('memfd-private')}
      uffd_register a
      read a[5]
      read a[160]
      uffd_unregister a
      read a[170]`;
    const p = run(body, { ...base, ...ONE, 10: { resident: { a: [[128, 64]] } } });
    expect(runs(p, 10)).toBe('0-4:.....D 5:P.FE.D 6-159:.....D 160:P.FE.D 161-511:.....D');
    expect(runs(p, 12)).toBe('0-4:.....D 5:P.FE.D 6-159:.....D 160-175:P.FE.D 176-511:.....D');
  });

  it('a write fault on the piece: a shared mapping maps all of it writable and dirty (R-FLT-10L, finish_fault), a private one copies the faulting page alone (do_cow_fault)', () => {
    const o = { ...base, ...ONE, 11: { resident: { a: [[128, 64]] as [number, number][] } } };
    const body = (kind: string) => SPLIT(kind).replace('read a[160]', 'write a[160]').replace(/\n\s*read a\[300\]/, '');
    const shared = run(body('memfd-shared'), o);
    expect(runs(shared, 11)).toBe('0-4:.....D 5:P.FE.D 6-127:.....D 128-191:P.FE.D 192-511:.....D');
    expect(shared.steps[11].rules).toEqual(expect.arrayContaining(['R-SWIN-3', 'R-FLT-10L']));
    const priv = run(body('memfd-private'), o);
    expect(runs(priv, 11)).toBe('0-4:.....D 5:P.FE.D 6-159:.....D 160:P..E.D 161-511:.....D');
    // without the piece (page by page) the shared write maps its page alone
    expect(runs(run(body('memfd-shared'), { ...base, ...ONE }), 11)).toBe('0-4:.....D 5:P.FE.D 6-159:.....D 160:P.FE.D 161-511:.....D');
  });
});
