// Anonymous multi-size THP (mTHP) in the reference model: each rule pinned by a scenario whose
// expected bits are written by hand from the kernel's behaviour (the function named in each test),
// with the `folio` outcome a host with that mTHP size records (workers/executor/ptefarm-folio.h).
// The live kernel showed each scenario the same way with hugepages-16kB/64kB `always`
// (test/check/mthp-host.test.ts replays the recorded traces).
import { describe, expect, it } from 'vitest';
import { predict } from '../../src/model/model.ts';
import { parseTextCase } from '../../src/ops/text.ts';
import type { Outcome } from '../../src/ops/trace.ts';
import type { Prediction } from '../../src/model/api.ts';

/** predict a text case with the given outcome per op (each op: no huge PMD, nothing swapped, no zero page) */
function run(body: string, outcomes: Record<number, Partial<Outcome>>, uffd?: string): Prediction {
  const c = parseTextCase(`ptefarm-case/1\n${uffd ? `uffd features=${uffd}\n` : ''}${body.trim().split('\n').map((l) => l.trim()).join('\n')}\n`);
  return predict(c, c.ops.map((op, i) => ({ outcome: { huge: {}, swapped_out: {}, ...(op.op === 'read' ? { zero: { [op.region]: [] } } : {}), ...outcomes[i] } })));
}
const all = (p: Prediction, step: number, region: string, proc = 0) => p.steps[step].pages[String(proc)]?.[region];
const range = (p: Prediction, step: number, region: string, from: number, to: number, proc = 0) => all(p, step, region, proc)!.slice(from, to);

// a THP region whose first 32 pages were zapped (the PMD is split, the page table stays): faults
// there can no longer map a PMD, and an mTHP size decides what they map
const ZAPPED = `mmap a pages=512 kind=anon thp
  write a[0]
  dontneed a[0..32)`;

describe('R-MTHP-1: a fault maps the large folio the kernel allocated (mm/memory.c do_anonymous_page, alloc_anon_folio)', () => {
  it('a write fault at page 17 that got the 16-page folio [16, 32) maps all 16 pages: present, exclusive, dirty (soft-dirty) writable PTEs', () => {
    const p = run(`${ZAPPED}\nclear_refs value=4\nwrite a[17]`, { 4: { folio: { a: [[16, 16]] } } });
    expect(range(p, 4, 'a', 16, 32)).toEqual(Array(16).fill('P..E.D'));
    expect(range(p, 4, 'a', 0, 16)).toEqual(Array(16).fill('......'));
    expect(p.steps[4].rules).toContain('R-MTHP-1');
    // without the outcome (every fault mapped one page) only page 17 is present
    const one = run(`${ZAPPED}\nclear_refs value=4\nwrite a[17]`, {});
    expect(range(one, 4, 'a', 16, 19)).toEqual(['......', 'P..E.D', '......']);
  });

  it('a read fault where the host maps no zero page gets the folio too; in a read-only VMA its PTEs are clean (pte_mkdirty only with VM_WRITE)', () => {
    const p = run(`${ZAPPED}\nmprotect a[0..32) prot=r\nclear_refs value=4\nread a[5]`, { 5: { folio: { a: [[4, 4]] } } });
    expect(range(p, 5, 'a', 3, 9)).toEqual(['......', 'P..E..', 'P..E..', 'P..E..', 'P..E..', '......']);
  });

  it('partial MADV_PAGEOUT splits the folio: its never-written pages become the shared zero page (present, not exclusive), the written one is swapped (madvise_cold_or_pageout_pte_range: split_folio; mm/migrate.c try_to_map_unused_to_zeropage)', () => {
    const p = run(`${ZAPPED}\nwrite a[17]\npageout a[16..18)`, { 3: { folio: { a: [[16, 16]] } }, 4: { swapped_out: { a: [17] } } });
    expect(range(p, 4, 'a', 16, 20)).toEqual(['P....D', '.S...D', 'P....D', 'P....D']);
    expect(range(p, 4, 'a', 20, 32)).toEqual(Array(12).fill('P....D'));
    expect(p.steps[4].rules).toEqual(expect.arrayContaining(['R-PO-3', 'R-SPLIT-5']));
  });

  it('the zero page a split remaps keeps the uffd-wp bit of the PTE it replaces (the 2025 fix "mm/rmap: fix soft-dirty and uffd-wp bit loss when remapping zero-filled mTHP subpage to shared zeropage")', () => {
    const body = `${ZAPPED}\nwrite a[17]\nuffd_register a\nwp a on\npageout a[16..18)`;
    const o = { 3: { folio: { a: [[16, 16]] as [number, number][] } }, 6: { swapped_out: { a: [17] } } };
    expect(range(run(body, o, 'wp_async'), 6, 'a', 16, 19)).toEqual(['P...WD', '.S..WD', 'P...WD']);
    // B-26 is that bug: the zero page is mapped without the bit
    const c = parseTextCase(`ptefarm-case/1\nuffd features=wp_async\n${body.split('\n').map((l) => l.trim()).join('\n')}\n`);
    const bug = predict(c, c.ops.map((_, i) => ({ outcome: { huge: {}, swapped_out: {}, ...(o as Record<number, Partial<Outcome>>)[i] } })), { mutant: 'B-26' });
    expect(bug.steps[6].pages['0'].a.slice(16, 19)).toEqual(['P....D', '.S..WD', 'P....D']);
  });

  it('fork shares every page of the folio (not exclusive in either); a CoW write copies one page, which both then map alone (copy_present_ptes, do_wp_page)', () => {
    const p = run(`${ZAPPED}\nwrite a[17]\nfork\nwrite a[18]`, { 3: { folio: { a: [[16, 16]] } } });
    expect(range(p, 4, 'a', 16, 20, 1)).toEqual(Array(4).fill('P....D'));
    expect(range(p, 5, 'a', 17, 20, 0)).toEqual(['P....D', 'P..E.D', 'P....D']);
    expect(range(p, 5, 'a', 17, 20, 1)).toEqual(['P....D', 'P..E.D', 'P....D']);
  });

  it('the kernel cannot make a folio that is unaligned, crosses the VMA, covers a present page, or lies in a uffd-armed VMA: such an outcome is not followed (one page is mapped, and the observation then disagrees)', () => {
    const one = ['......', 'P..E.D', '......', '......'];
    // unaligned
    expect(range(run(`${ZAPPED}\nclear_refs value=4\nwrite a[17]`, { 4: { folio: { a: [[17, 4]] } } }), 4, 'a', 16, 20)).toEqual(one);
    // not a power of two
    expect(range(run(`${ZAPPED}\nclear_refs value=4\nwrite a[17]`, { 4: { folio: { a: [[16, 3]] } } }), 4, 'a', 16, 20)).toEqual(one);
    // covers page 18, present already (pte_range_none fails)
    const present = run(`${ZAPPED}\nwrite a[18]\nclear_refs value=4\nwrite a[17]`, { 5: { folio: { a: [[16, 4]] } } });
    expect(range(present, 5, 'a', 16, 20)).toEqual(['......', 'P..E.D', 'P..E..', '......']);
    // a uffd-wp registered VMA: alloc_anon_folio returns order 0 when userfaultfd_armed
    const armed = run(`${ZAPPED}\nuffd_register a\nclear_refs value=4\nwrite a[17]`, { 5: { folio: { a: [[16, 4]] } } }, 'wp_async');
    expect(range(armed, 5, 'a', 16, 20)).toEqual(one);
    // a region without MADV_HUGEPAGE (the executor gives it MADV_NOHUGEPAGE)
    const plain = run('mmap a pages=8 kind=anon\nwrite a[1]', { 1: { folio: { a: [[0, 4]] } } });
    expect(all(plain, 1, 'a')!.slice(0, 4)).toEqual(['.....D', 'P..E.D', '.....D', '.....D']);
  });
});

describe('R-MTHP-1: the executor groups blindly, the model by what the kernel can do', () => {
  it('a read across VMAs (a one-page registration splits the region) reported as one 8-page block: only the aligned 4 pages past the range inside one unregistered VMA are a folio (found live with every size `always`)', () => {
    // [976, 977) is MADV_HUGEPAGE anon, 977 is registered (uffd-armed: order 0), [978, 984) is
    // again MADV_HUGEPAGE: the kernel faulted 976..979 one page each and gave 980 the folio
    // [980, 984); the executor saw 976..983 become present and reported [976, 8)
    const p = run('mmap a pages=984 kind=anon thp\nuffd_register a[977]\nread a[976..981)', { 2: { folio: { a: [[976, 8]] } } }, 'wp_async');
    expect(range(p, 2, 'a', 975, 984)).toEqual(['.....D', ...Array(8).fill('P..E.D')]);
    // inside the range the grouping is not taken: 978 and 979 are single pages (a pageout of 978
    // alone swaps it; had [978, 980) been a folio, the split would map both to the zero page)
    const later = run('mmap a pages=984 kind=anon thp\nuffd_register a[977]\nread a[976..981)\npageout a[978]', { 2: { folio: { a: [[976, 8]] } }, 3: { swapped_out: { a: [978] } } }, 'wp_async');
    expect(range(later, 3, 'a', 978, 981)).toEqual(['.S...D', 'P..E.D', 'P..E.D']);
    // a block inside one VMA that allows large folios is not cut: covering a page present before
    // the op, it is not followed at all
    const present = run(`${ZAPPED}\nwrite a[18]\nclear_refs value=4\nwrite a[17]`, { 5: { folio: { a: [[16, 4]] } } });
    expect(range(present, 5, 'a', 16, 20)).toEqual(['......', 'P..E.D', 'P..E..', '......']);
  });
});

describe('R-MTHP-2: a swap-in may bring a large folio back (mm/memory.c do_swap_page, alloc_swap_folio)', () => {
  it('a read of one swapped page of a folio swapped out whole maps the whole block, every page keeping its swap entry\'s bits', () => {
    const body = `${ZAPPED}\nwrite a[16..20)\npageout a[16..20)\nclear_refs value=4\nread a[17]`;
    const o: Record<number, Partial<Outcome>> = { 3: { folio: { a: [[16, 4]] } }, 4: { swapped_out: { a: [16, 17, 18, 19] } } };
    const one = run(body, o);
    expect(range(one, 6, 'a', 16, 20)).toEqual(['.S....', 'P..E..', '.S....', '.S....']);
    const p = run(body, { ...o, 6: { folio: { a: [[16, 4]] } } });
    expect(range(p, 6, 'a', 16, 20)).toEqual(Array(4).fill('P..E..'));
    expect(p.steps[6].rules).toContain('R-MTHP-2');
    // a write fault after clear_refs: the folio comes back clean and write-protected for
    // soft-dirty tracking (pte_needs_soft_dirty_wp), and only the written page takes the
    // soft-dirty fault (do_wp_page reuses it)
    const w = run(`${ZAPPED}\nwrite a[16..20)\npageout a[16..20)\nclear_refs value=4\nwrite a[17]`, { ...o, 6: { folio: { a: [[16, 4]] } } });
    expect(range(w, 6, 'a', 16, 20)).toEqual(['P..E..', 'P..E.D', 'P..E..', 'P..E..']);
    // not over swap entries another process shares (the slot's swap count is 2: no large swap-in;
    // the one page swapped in is mapped once, so exclusive in pagemap's mapcount sense)
    const shared = run(`${ZAPPED}\nwrite a[16..20)\npageout a[16..20)\nfork\nread a[17]`, { ...o, 6: { folio: { a: [[16, 4]] } } });
    expect(range(shared, 6, 'a', 16, 20)).toEqual(['.S...D', 'P..E.D', '.S...D', '.S...D']);
  });
});

describe('R-SWIN-2: a shmem THP swapped out whole may come back whole (mm/shmem.c shmem_swapin_folio; found by the every-size live run, and shown with mTHP off too)', () => {
  const body = 'mmap a pages=512 kind=memfd-shared thp\nwrite a[0]\ncollapse a\npageout a\nwrite a[48]';
  const out: Record<number, Partial<Outcome>> = { 2: { huge: { a: [0] } }, 3: { swapped_out: { a: Array.from({ length: 512 }, (_, i) => i) } } };
  it('the write fault maps the whole folio by PMD when the huge outcome says so', () => {
    const p = run(body, { ...out, 4: { huge: { a: [0] } } });
    expect(new Set(all(p, 4, 'a'))).toEqual(new Set(['P.FE.D']));
    expect(p.steps[4].rules).toContain('R-SWIN-2');
  });
  it('and one page when it does not (the folio was split on its way to swap)', () => {
    const p = run(body, out);
    expect(range(p, 4, 'a', 47, 50)).toEqual(['.....D', 'P.FE.D', '.....D']);
  });
});
