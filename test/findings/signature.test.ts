// Root-cause signatures and titles: a case's signature is its first divergence's, whatever
// happens later; later violations are consequences; titles cite the rule and kernel function;
// page runs are one line.
import { describe, expect, it } from 'vitest';
import type { Case, Op } from '../../src/ops/schema.ts';
import type { Violation } from '../../src/check/types.ts';
import { checkTrace } from '../../src/check/check.ts';
import { SIGNATURE_VERSION, caseSignature, currentSignature, direction, entryKind, firstDivergence, ruleId, shownBit, shownKind, signature } from '../../src/findings/signature.ts';
import { caseTitle, describeViolations, groupViolations, regionKind, rootInfo, setupRule, titleOf } from '../../src/findings/title.ts';
import { ModelTarget } from '../../src/targets/model.ts';
import { parseTextCase } from '../../src/ops/text.ts';
import { BUGS, buggyTrace } from '../fixtures/single-bug-target.ts';

const v = (o: Partial<Violation>): Violation => ({
  kind: 'bit', step: 0, op: 'write', bit: 'D', expected: '1', actual: '0', rules: ['R-PM-1', 'R-FLT-6'], rule: 'R-FLT-6', severity: 'lost', message: '', ...o,
});

const wpCase = (extra: Op[], pages = 2): Case => ({
  format: 'ptefarm-case/1', uffd: { features: ['wp_async'] },
  ops: [{ op: 'mmap', region: 'a', pages, kind: 'anon' }, { op: 'uffd_register', region: 'a' }, { op: 'write', region: 'a' },
    { op: 'wp', region: 'a', on: true }, { op: 'pageout', region: 'a' }, ...extra],
});

describe('first divergence', () => {
  it('the earliest step wins; at it, a fixed order (kind, then uffd-wp and soft-dirty before other bits, then proc/region/page)', () => {
    const vs = [v({ step: 5, bit: 'W', severity: 'wp-lost', page: 0 }), v({ step: 3, bit: 'E', severity: 'mismatch', page: 0 }),
      v({ step: 3, bit: 'D', page: 4 }), v({ step: 3, bit: 'D', page: 1 }), v({ step: 7, kind: 'rc', bit: 'rc', severity: 'mismatch' })];
    const f = firstDivergence(vs)!;
    expect(f.step).toBe(3);
    expect([f.root.bit, f.root.page]).toEqual(['D', 1]);
    expect(f.atStep.map((x) => `${x.bit}${x.page}`)).toEqual(['D1', 'D4', 'E0']);
    expect(f.consequences.map((x) => x.step)).toEqual([5, 7]);
    expect(firstDivergence([])).toBeUndefined();
    // pages of several entry classes diverging alike: the ordinary PTE is the root, whatever its page number
    const wp = { bit: 'W', severity: 'wp-lost' as const };
    const mixed = firstDivergence([v({ step: 2, page: 0, entry: 'swap', ...wp }), v({ step: 2, page: 3, entry: 'pte', ...wp }), v({ step: 2, page: 1, entry: 'none', ...wp })])!;
    expect([mixed.root.page, mixed.root.entry]).toEqual([3, 'pte']);
    // but soft-dirty on pte_none comes from VM_SOFTDIRTY alone (fs/proc/task_mmu.c
    // pte_to_pagemap_entry, pagemap_pte_hole): the same divergence on the VMA's other pages is the flag's
    const sd = firstDivergence([v({ step: 2, page: 0, entry: 'swap' }), v({ step: 2, page: 3, entry: 'pte' }), v({ step: 2, page: 1, entry: 'none' })])!;
    expect([sd.root.page, sd.root.entry]).toEqual([1, 'none']);
  });

  it('a stale bit observed at later ops adds no signature: the swap-out that dropped uffd-wp is the bucket however the case goes on', () => {
    const bug = BUGS['pageout-drops-wp']!;
    const short = wpCase([]);
    const long = wpCase([{ op: 'mprotect', region: 'a', prot: 'r' }, { op: 'fork' }, { op: 'scan', region: 'a' }, { op: 'mprotect', region: 'a', prot: 'rw' }]);
    const a = checkTrace(short, buggyTrace(short, bug)).violations;
    const b = checkTrace(long, buggyTrace(long, bug)).violations;
    expect(caseSignature(a)).toBe('bit.W.wp-lost.R-PO-1.page');
    expect(caseSignature(b)).toBe(caseSignature(a));
    // the later observations are there, as consequences
    const f = firstDivergence(b)!;
    expect(f.consequences.length).toBeGreaterThan(0);
    expect(new Set(f.consequences.map((x) => long.ops[x.step]!.op))).toContain('mprotect');
  });

  it('direction: severity for the tracked bits, set/cleared for the others, reported/unreported for scan categories', () => {
    expect(direction(v({}))).toBe('lost');
    expect(direction(v({ bit: 'E', severity: 'mismatch', expected: '0', actual: '1' }))).toBe('set');
    expect(direction(v({ bit: 'P', severity: 'mismatch', expected: '1', actual: '0' }))).toBe('cleared');
    expect(direction(v({ kind: 'scan', bit: 'p', severity: 'mismatch', expected: '-', actual: '1' }))).toBe('reported');
    expect(signature(v({ step: 2, op: 'write', entry: 'pte' }))).toBe('bit.D.lost.R-FLT-6.page');
    expect(signature(v({ kind: 'rc', bit: 'rc', severity: 'mismatch', rule: 'R-WP-0', entry: undefined }))).toBe('rc.rc.mismatch.R-WP-0.na');
  });
});

describe('titles and page runs', () => {
  it('a title names bit, direction, op, memory kind, entry class, rule and kernel function', () => {
    const c = wpCase([]);
    const info = rootInfo(checkTrace(c, buggyTrace(c, BUGS['pageout-drops-wp']!)).violations, c)!;
    expect(info.title).toBe('uffd-wp lost on swap-out of anon swap entry (R-PO-1, mm/rmap.c try_to_unmap_one)');
    expect(info.line).toBe('step 4 (pageout a): p0 a[0..2) uffd-wp is 0, x86 has 1 (wp-lost; R-PO-1; swap)');
    // a read fault that swaps the page back in is a swap-in
    expect(titleOf(v({ op: 'read', rule: 'R-SWIN-1', entry: 'pte', region: 'a', step: 5 }), c)).toBe('soft-dirty lost on swap-in of anon PTE (R-SWIN-1, mm/memory.c do_swap_page)');
    expect(titleOf(v({ kind: 'rc', bit: 'rc', op: 'mremap', rule: 'R-MRM-10', severity: 'mismatch', expected: '0', actual: 'EFAULT' })))
      .toBe('return code differs on mremap (R-MRM-10, mm/mremap.c vma_to_resize)');
  });

  it('the region kind follows mremap\'s `old` name (dontunmap leaves the range behind under that name)', () => {
    const c: Case = { format: 'ptefarm-case/1', ops: [{ op: 'mmap', region: 'a', pages: 1, kind: 'memfd-shared' }, { op: 'mremap', region: 'a', dontunmap: true, old: 'b' }] };
    expect(regionKind(c, 'b', 1)).toBe('memfd-shared');
    expect(regionKind(c, 'b', 0)).toBeUndefined();
  });

  it('512 pages losing the same bit are one line (`p0 a[0..512)`), not 512', () => {
    const c = wpCase([], 512);
    const vs = checkTrace(c, buggyTrace(c, BUGS['pageout-drops-wp']!)).violations;
    expect(vs.filter((x) => x.step === 4)).toHaveLength(512);
    const d = describeViolations(vs, c);
    expect(d.first).toEqual(['step 4 (pageout a): p0 a[0..512) uffd-wp is 0, x86 has 1 (wp-lost; R-PO-1; swap)']);
    // a gap splits a run
    const gs = groupViolations([v({ page: 0 }), v({ page: 1 }), v({ page: 3 })]);
    expect(gs.map((g) => [g.firstPage, g.lastPage])).toEqual([[0, 1], [3, 3]]);
  });
});

/** the violations of case `c` run on a model mutant, checked against the reference */
const onMutant = (mutant: string, c: Case) => checkTrace(c, new ModelTarget(`model:x86+${mutant}`).executeSync(c)).violations;
const ops = (...o: Op[]): Case => ({ format: 'ptefarm-case/1', ops: o });
const thpZero = (extra: Op): Case => ({
  format: 'ptefarm-case/1', uffd: { features: ['wp_unpopulated'] },
  ops: [{ op: 'mmap', region: 'a', pages: 512, kind: 'anon', thp: true }, { op: 'read', region: 'a', first: 0, count: 1 },
    { op: 'uffd_register', region: 'a' }, { op: 'wp', region: 'a', on: true }, extra],
});

describe('one root cause, one signature', () => {
  it('the op is not part of the signature: a huge zero PMD split losing uffd-wp (B-13) is one bucket whichever op splits it', () => {
    // __split_huge_zero_page_pmd (mm/huge_memory.c) runs under MADV_DONTNEED, mprotect, a write
    // fault and a forced split alike; the bug is in the split, not in the op
    const sigs = [
      { op: 'split', region: 'a', page: 260 }, { op: 'mprotect', region: 'a', first: 282, count: 1, prot: 'r' },
      { op: 'dontneed', region: 'a', first: 288, count: 1 }, { op: 'write', region: 'a', first: 317, count: 1 },
    ].map((o) => caseSignature(onMutant('B-13', thpZero(o as Op))));
    expect(sigs[0]).toBe('bit.W.wp-lost.R-SPLIT-2.page');
    expect(new Set(sigs)).toEqual(new Set([sigs[0]]));
    // the titles still say which op did it
    const c = thpZero({ op: 'dontneed', region: 'a', first: 288, count: 1 });
    expect(caseTitle(onMutant('B-13', c), c)).toBe('uffd-wp lost on MADV_DONTNEED of anon zero-page PTE (R-SPLIT-2, mm/huge_memory.c __split_huge_zero_page_pmd)');
  });

  it('a guard marker dropped is one bucket whether or not a scan had armed it (M-18): the guard bit is the entry, its swap and uffd-wp bits are read off it', async () => {
    // zap_nonpresent_ptes keeps guard markers under MADV_DONTNEED (R-GRD-4); pte_to_pagemap_entry
    // reports a guard marker as swapped, guard (bit 58) and, once PAGEMAP_SCAN armed it
    // (make_uffd_wp_pte, R-PMS-9), uffd-wp: a kernel dropping it loses all of them at once
    const on = async (text: string) => {
      const c: Case = parseTextCase(`ptefarm-case/2\nuffd features=wp_async\n${text}`);
      return caseSignature(checkTrace(c, await new ModelTarget('model:x86+M-18').execute(c)).violations);
    };
    const plain = await on('mmap a pages=2 kind=anon\nguard a[0]\ndontneed a\n');
    const armed = await on('mmap a pages=2 kind=anon\nuffd_register a\nguard a[0]\nscan a wp_matching no_vec\ndontneed a\n');
    expect(plain).toBe('bit.G.cleared.R-GRD-4.empty');
    expect(armed).toBe(plain);
  });

  it('at the diverging step the rule that explains most pages is the root, not the one of the first page', () => {
    // a forced split at page 0: page 0 also gets the writability rule R-MPROT-3, pages 1..511 only R-SPLIT-2
    const vs = onMutant('B-13', thpZero({ op: 'split', region: 'a', page: 0 }));
    const f = firstDivergence(vs)!;
    expect(f.atStep.filter((x) => x.rule === 'R-SPLIT-2').length).toBeGreaterThan(f.atStep.filter((x) => x.rule !== 'R-SPLIT-2').length);
    expect(f.root.rule).toBe('R-SPLIT-2');
    expect(f.atStep[0]).toBe(f.root);
    // page 0 comes first in page order but is not the root
    expect(f.atStep.find((x) => x.page === 0)?.rule).toBe('R-MPROT-3');
    expect(caseSignature(vs)).toBe('bit.W.wp-lost.R-SPLIT-2.page');
    // a lone violation is its own root
    expect(firstDivergence([v({ page: 0, rule: 'R-A' }), v({ page: 1, rule: 'R-B' }), v({ page: 2, rule: 'R-B' })])!.root.rule).toBe('R-B');
    expect(firstDivergence([v({ page: 0, rule: 'R-A' }), v({ page: 1, rule: 'R-B' })])!.root.rule).toBe('R-A');
  });

  it('entry kinds are coarse: a page-holding entry or an empty one', () => {
    expect(['pte', 'pte-thp', 'huge', 'zero', 'huge-zero', 'swap'].map((e) => entryKind(e))).toEqual(Array(6).fill('page'));
    expect(['none', 'marker', 'gap'].map((e) => entryKind(e))).toEqual(['empty', 'empty', 'empty']);
    expect(entryKind(undefined)).toBe('na');
  });

  it('bits the read-out alone decides name the read-out rule, whatever op made the range: a hole (M-2), a marker\'s swap bit (M-3)', () => {
    // pagemap_pte_hole (fs/proc/task_mmu.c) reports an address outside any VMA as 0: munmap and an
    // mremap shrink leave the same hole, and a pagemap that reports soft-dirty there is one bug
    const hole = onMutant('M-2', ops({ op: 'mmap', region: 'a', pages: 2, kind: 'anon' }, { op: 'munmap', region: 'a', first: 0, count: 1 }));
    expect(firstDivergence(hole)!.root).toMatchObject({ entry: 'gap', rule: 'R-MUNMAP-1' });
    expect(caseSignature(hole)).toBe('bit.D.spurious.R-PM-1.empty');
    // the same hole seen at a failed mremap (the check names the op's rule R-MRM-10; the M-2 campaign's case)
    const atMremap = v({ op: 'mremap', entry: 'gap', rule: 'R-MRM-10', rules: ['R-PM-1', 'R-MUNMAP-1'], severity: 'spurious', expected: '0', actual: '1' });
    expect(signature(atMremap)).toBe('bit.D.spurious.R-PM-1.empty');
    // pte_to_pagemap_entry sets PM_SWAP for a uffd-wp marker: the marker UFFDIO_WRITEPROTECT
    // installs (WP_UNPOPULATED) and the one swap-out leaves for a wp shmem page read the same
    const wpNone: Case = { format: 'ptefarm-case/1', uffd: { features: ['wp_unpopulated'] },
      ops: [{ op: 'mmap', region: 'a', pages: 1, kind: 'anon' }, { op: 'uffd_register', region: 'a' }, { op: 'wp', region: 'a', on: true }] };
    const shmemOut: Case = { format: 'ptefarm-case/1', uffd: {},
      ops: [{ op: 'mmap', region: 'a', pages: 1, kind: 'memfd-shared' }, { op: 'write', region: 'a' }, { op: 'uffd_register', region: 'a' }, { op: 'wp', region: 'a', on: true }, { op: 'pageout', region: 'a' }] };
    const m3 = [wpNone, shmemOut].map((c) => onMutant('M-3', c));
    expect(m3.map((x) => firstDivergence(x)!.root.bit)).toEqual(['S', 'S']);
    expect(m3.map((x) => caseSignature(x))).toEqual(['bit.entry.mismatch.R-PM-3.empty', 'bit.entry.mismatch.R-PM-3.empty']);
    expect(m3.map((x) => firstDivergence(x)!.root.entry)).toEqual(['marker', 'marker']);
    // a marker's uffd-wp bit is the ops' doing: a swap-out dropping it (M-9 keeps it; here the rule of the op)
    expect(signature(v({ bit: 'W', severity: 'wp-lost', entry: 'marker', rule: 'R-PO-2', rules: ['R-PM-2', 'R-WP-1', 'R-PO-2'] }))).toBe('bit.W.wp-lost.R-PO-2.empty');
  });

  it('fork without EVENT_FORK: a child keeping uffd-wp on a PTE (B-11), a swap entry (B-10), a marker (B-12) or with its registration (M-4) is the fork gate\'s one bucket', () => {
    // fs/userfaultfd.c dup_userfaultfd drops the child VMA's registration without EVENT_FORK, and
    // mm/memory.c __copy_present_ptes / copy_nonpresent_pte keep wp bits and markers only in a
    // uffd-wp child: that decision (R-FORK-1) decides every uffd-wp bit of the child. At the fork
    // step a kernel that got it wrong for one entry class and one that kept the whole registration
    // (M-4) show the same bits, so they share the decision's bucket, which is one bucket for M-4
    // whichever entries its case holds.
    const feat = { features: ['wp_async' as const] };
    const pte: Case = { format: 'ptefarm-case/1', uffd: feat, ops: [{ op: 'mmap', region: 'a', pages: 2, kind: 'anon' }, { op: 'uffd_register', region: 'a' },
      { op: 'write', region: 'a' }, { op: 'wp', region: 'a', on: true }, { op: 'fork' }] };
    const swap: Case = { ...pte, ops: [...pte.ops.slice(0, 4), { op: 'pageout', region: 'a' }, { op: 'fork' }] };
    const marker: Case = { format: 'ptefarm-case/1', uffd: {}, ops: [{ op: 'mmap', region: 'a', pages: 2, kind: 'memfd-private' }, { op: 'uffd_register', region: 'a' },
      { op: 'write', region: 'a', first: 0, count: 1 }, { op: 'wp', region: 'a', on: true }, { op: 'pageout', region: 'a', first: 0, count: 1 }, { op: 'fork' }] };
    const sigs = [caseSignature(onMutant('B-11', pte)), caseSignature(onMutant('B-10', swap)), caseSignature(onMutant('B-12', marker)),
      ...[pte, swap, marker].map((c) => caseSignature(onMutant('M-4', c)))];
    expect(new Set(sigs)).toEqual(new Set(['vma.registration.R-FORK-1']));
    // the entry class is still in the root violation (and in the title, after the decision)
    expect([firstDivergence(onMutant('B-11', pte))!.root.entry, firstDivergence(onMutant('B-10', swap))!.root.entry, firstDivergence(onMutant('B-12', marker))!.root.entry]).toEqual(['pte', 'swap', 'none']); // the reference's entries: the child's marker is dropped
    // and each case passes on the reference
    for (const c of [pte, swap, marker]) expect(checkTrace(c, new ModelTarget('model:x86').executeSync(c)).violations).toEqual([]);
  });

  it('a soft-dirty bit only VM_SOFTDIRTY sets names the VMA\'s rule, not what the op did to the entry: a merge dropping VM_SOFTDIRTY (B-1) is the merge\'s, on written pages as on empty ones', () => {
    // mm/vma.c vma_merge_existing_range ORs VM_SOFTDIRTY of the merged VMAs (R-MERGE-1); after
    // clear_refs the PTE is clean, so pagemap_pte_range shows bit 55 only from the VMA flag; the
    // mprotect that merges also makes the PTE writable (R-MPROT-3), which does not decide bit 55
    const ops = (written: boolean): Op[] => [
      { op: 'mmap', region: 'c', pages: 3, kind: 'anon' }, { op: 'write', region: 'c', ...(written ? {} : { first: 0, count: 1 }) },
      { op: 'mprotect', region: 'c', prot: 'r' }, { op: 'clear_refs', value: 4 },
      { op: 'mmap', region: 'd', pages: written ? 1 : 4, kind: 'anon', after: 'c' }, { op: 'mprotect', region: 'c', prot: 'rw' }];
    const allWritten = onMutant('B-1', { format: 'ptefarm-case/1', ops: ops(true) });
    const mostlyEmpty = onMutant('B-1', { format: 'ptefarm-case/1', ops: ops(false) });
    // the merged VMA's unfaulted page (d) shows the flag's loss alone, so both cases are one bucket
    expect(firstDivergence(allWritten)!.root.entry).toBe('none');
    expect(caseSignature(allWritten)).toBe('bit.D.lost.R-MERGE-1.empty');
    expect(caseSignature(mostlyEmpty)).toBe('bit.D.lost.R-MERGE-1.empty');
  });

  it('a VMA flag set wrongly is one bucket whatever pages the VMA has: mremap growing in place that sets VM_SOFTDIRTY (M-14), with a written page or with none', () => {
    // mm/vma.c vma_merge_extend keeps the VMA's flags (R-MRM-7); pagemap reads VM_SOFTDIRTY for every
    // page of the VMA (fs/proc/task_mmu.c pte_to_pagemap_entry), the grown pte_none ones alone by it
    const withPage = onMutant('M-14', ops({ op: 'mmap', region: 'a', pages: 1, kind: 'memfd-shared' }, { op: 'write', region: 'a' },
      { op: 'clear_refs', value: 4 }, { op: 'mremap', region: 'a', pages: 4, move: false }));
    const emptyOnly = onMutant('M-14', ops({ op: 'mmap', region: 'a', pages: 1, kind: 'anon' }, { op: 'clear_refs', value: 4 },
      { op: 'mremap', region: 'a', pages: 4, move: false }));
    expect(withPage.some((x) => x.entry === 'pte')).toBe(true);
    expect(caseSignature(withPage)).toBe('bit.D.spurious.R-MRM-7.empty');
    expect(caseSignature(emptyOnly)).toBe(caseSignature(withPage));
  });

  it('a merge dropping VM_SOFTDIRTY (B-1) is the flag\'s bucket even when every page of the merged VMA is faulted (no pte_none to show it on)', () => {
    // mm/vma.c vma_merge_existing_range ORs VM_SOFTDIRTY (R-MERGE-1); pagemap ORs the flag into bit
    // 55 of every page of the VMA (fs/proc/task_mmu.c pte_to_pagemap_entry), so on clean written
    // PTEs the loss shows as it does on pte_none: the same bug
    const allFaulted = ops({ op: 'mmap', region: 'b', pages: 2, kind: 'anon' }, { op: 'write', region: 'b', first: 0, count: 2 },
      { op: 'mprotect', region: 'b', prot: 'r' }, { op: 'clear_refs', value: 4 }, { op: 'mmap', region: 'c', pages: 1, kind: 'anon', after: 'b' },
      { op: 'write', region: 'c' }, { op: 'mprotect', region: 'b', prot: 'rw' });
    const withEmpty = ops({ op: 'mmap', region: 'b', pages: 2, kind: 'anon' }, { op: 'write', region: 'b', first: 0, count: 2 },
      { op: 'mprotect', region: 'b', prot: 'r' }, { op: 'clear_refs', value: 4 }, { op: 'mmap', region: 'c', pages: 1, kind: 'anon', after: 'b' },
      { op: 'mprotect', region: 'b', prot: 'rw' });
    const a = onMutant('B-1', allFaulted), b = onMutant('B-1', withEmpty);
    expect(firstDivergence(a)!.atStep.every((x) => x.entry === 'pte')).toBe(true);
    expect(firstDivergence(b)!.root.entry).toBe('none');
    expect(caseSignature(a)).toBe('bit.D.lost.R-MERGE-1.empty');
    expect(caseSignature(b)).toBe(caseSignature(a));
  });

  it('a rule whose kernel helper treats every entry kind in one place keys no entry kind: mremap\'s soft-dirty on a moved PTE or marker (M-8), the scan fast path arming a swap entry or pte_none (M-12)', () => {
    // mm/mremap.c move_soft_dirty_pte marks present and non-present entries (swap, markers) alike (R-MRM-1)
    const page = ops({ op: 'mmap', region: 'a', pages: 4, kind: 'anon' }, { op: 'write', region: 'a', first: 2, count: 2 },
      { op: 'clear_refs', value: 4 }, { op: 'mremap', region: 'a' });
    const guard = ops({ op: 'mmap', region: 'b', pages: 2, kind: 'memfd-private' }, { op: 'guard', region: 'b', first: 0, count: 1 },
      { op: 'clear_refs', value: 4 }, { op: 'mremap', region: 'b', pages: 1 });
    const [mp, mg] = [onMutant('M-8', page), onMutant('M-8', guard)];
    expect([firstDivergence(mp)!.root.entry, firstDivergence(mg)!.root.entry]).toEqual(['pte', 'guard']);
    expect(caseSignature(mp)).toBe('bit.D.lost.R-MRM-1.any');
    expect(caseSignature(mg)).toBe(caseSignature(mp));
    // fs/proc/task_mmu.c pagemap_scan_pmd_entry's exclusive-WP fast path arms every entry through
    // make_uffd_wp_pte, whatever the category masks (R-PMS-4)
    const uffd = { features: ['wp_async', 'wp_unpopulated'] } as Case['uffd'];
    const swap: Case = { format: 'ptefarm-case/1', uffd, ops: [{ op: 'mmap', region: 'a', pages: 2, kind: 'anon' }, { op: 'uffd_register', region: 'a' },
      { op: 'write', region: 'a' }, { op: 'wp', region: 'a', on: true }, { op: 'write', region: 'a', first: 1, count: 1 },
      { op: 'pageout', region: 'a', first: 1, count: 1 }, { op: 'scan', region: 'a', wp_matching: true, no_vec: true, max_pages: 2, category_mask: 'wp' }] };
    const hole: Case = { format: 'ptefarm-case/1', uffd, ops: [{ op: 'mmap', region: 'b', pages: 2, kind: 'anon' }, { op: 'write', region: 'b', first: 1, count: 1 },
      { op: 'uffd_register', region: 'b' }, { op: 'scan', region: 'b', wp_matching: true, no_vec: true, category_mask: 'wp' }] };
    const [ss, sh] = [onMutant('M-12', swap), onMutant('M-12', hole)];
    expect([entryKind(firstDivergence(ss)!.root.entry), entryKind(firstDivergence(sh)!.root.entry)]).toEqual(['page', 'empty']);
    expect(caseSignature(ss)).toBe('bit.W.wp-lost.R-PMS-4.any');
    expect(caseSignature(sh)).toBe(caseSignature(ss));
    // a rule with separate paths per entry kind keeps the coarse kind (R-PO-2: the marker try_to_unmap_one installs)
    expect(signature(v({ bit: 'W', severity: 'wp-lost', entry: 'marker', rule: 'R-PO-2', rules: ['R-PO-2'] }))).toBe('bit.W.wp-lost.R-PO-2.empty');
  });

  it('the bits read off the entry\'s type are one letter: a zero-filled subpage a folio split leaves swapped (present cleared) or mapped as an anon page (exclusive set) is one bucket (M-16, M-30)', () => {
    // mm/migrate.c try_to_map_unused_to_zeropage (R-SPLIT-5) maps a zero-filled subpage to the zero
    // page; when it is not reached, which entry the page keeps instead — a swap entry after reclaim,
    // the anon page itself — only decides which of pte_to_pagemap_entry's type bits differs
    const kept = ops({ op: 'mmap', region: 'a', pages: 512, kind: 'anon', thp: true }, { op: 'populate', region: 'a', first: 448, count: 61, write: true },
      { op: 'pageout', region: 'a', first: 139, count: 42 });
    const swapped = ops({ op: 'mmap', region: 'a', pages: 512, kind: 'anon', thp: true }, { op: 'write', region: 'a', first: 0, count: 1 },
      { op: 'split', region: 'a', page: 398 }, { op: 'pageout', region: 'a', first: 397, count: 1 });
    const [k16, s30] = [onMutant('M-16', kept), onMutant('M-30', swapped)];
    expect([firstDivergence(k16)!.root.bit, direction(firstDivergence(k16)!.root)]).toEqual(['E', 'set']);
    expect([firstDivergence(s30)!.root.bit, direction(firstDivergence(s30)!.root)]).toEqual(['P', 'cleared']);
    expect(caseSignature(k16)).toBe('bit.entry.mismatch.R-SPLIT-5.page');
    expect(caseSignature(s30)).toBe(caseSignature(k16));
    // the tracked bits keep their letter and direction: they are state an op sets, not the entry's type
    expect(signature(v({ bit: 'D', rule: 'R-SPLIT-5', entry: 'zero' }))).toBe('bit.D.lost.R-SPLIT-5.page');
    expect(signature(v({ bit: 'W', severity: 'wp-lost', rule: 'R-SPLIT-5', entry: 'zero' }))).toBe('bit.W.wp-lost.R-SPLIT-5.page');
  });

  it('a signature stored under scheme 1 (before the entry-type letter, `any` and the VM_SOFTDIRTY key) reads as today\'s signature of the same case', () => {
    // scheme 1 named the root violation kind.bit.direction.rule.coarse-entry-kind, whatever the rule
    const scheme1 = (x: Violation) => `${shownKind(x)}.${shownBit(x)}.${direction(x)}.${ruleId(x)}.${entryKind(x.entry)}`;
    const uffd = { features: ['wp_async', 'wp_unpopulated'] } as Case['uffd'];
    const cases: [string, Case][] = [
      // B-1: a merge dropping VM_SOFTDIRTY, every page faulted (scheme 1: `page`)
      ['B-1', ops({ op: 'mmap', region: 'b', pages: 2, kind: 'anon' }, { op: 'write', region: 'b', first: 0, count: 2 },
        { op: 'mprotect', region: 'b', prot: 'r' }, { op: 'clear_refs', value: 4 }, { op: 'mmap', region: 'c', pages: 1, kind: 'anon', after: 'b' },
        { op: 'write', region: 'c' }, { op: 'mprotect', region: 'b', prot: 'rw' })],
      // M-8: mremap's soft-dirty on a moved PTE, and on a moved guard marker (scheme 1: page / empty)
      ['M-8', ops({ op: 'mmap', region: 'a', pages: 4, kind: 'anon' }, { op: 'write', region: 'a', first: 2, count: 2 }, { op: 'clear_refs', value: 4 }, { op: 'mremap', region: 'a' })],
      ['M-8', ops({ op: 'mmap', region: 'b', pages: 2, kind: 'memfd-private' }, { op: 'guard', region: 'b', first: 0, count: 1 },
        { op: 'clear_refs', value: 4 }, { op: 'mremap', region: 'b', pages: 1 })],
      // M-12: the scan fast path arming a swap entry (scheme 1: page)
      ['M-12', { format: 'ptefarm-case/1', uffd, ops: [{ op: 'mmap', region: 'a', pages: 2, kind: 'anon' }, { op: 'uffd_register', region: 'a' },
        { op: 'write', region: 'a' }, { op: 'wp', region: 'a', on: true }, { op: 'write', region: 'a', first: 1, count: 1 },
        { op: 'pageout', region: 'a', first: 1, count: 1 }, { op: 'scan', region: 'a', wp_matching: true, no_vec: true, max_pages: 2, category_mask: 'wp' }] }],
      // M-16 / M-30: exclusive set, present cleared (scheme 1: bit.E.set, bit.P.cleared)
      ['M-16', ops({ op: 'mmap', region: 'a', pages: 512, kind: 'anon', thp: true }, { op: 'populate', region: 'a', first: 448, count: 61, write: true },
        { op: 'pageout', region: 'a', first: 139, count: 42 })],
      ['M-30', ops({ op: 'mmap', region: 'a', pages: 512, kind: 'anon', thp: true }, { op: 'write', region: 'a', first: 0, count: 1 },
        { op: 'split', region: 'a', page: 398 }, { op: 'pageout', region: 'a', first: 397, count: 1 })],
      // B-3: a signature the re-keying left alone
      ['B-3', ops({ op: 'mmap', region: 'a', pages: 1, kind: 'anon' }, { op: 'write', region: 'a' }, { op: 'clear_refs', value: 4 },
        { op: 'mprotect', region: 'a', prot: 'r' }, { op: 'mprotect', region: 'a', prot: 'rw' }, { op: 'write', region: 'a' })],
    ];
    const olds = cases.map(([m, c]) => { const vs = onMutant(m, c); return { old: scheme1(firstDivergence(vs)!.root), now: caseSignature(vs)! }; });
    expect(olds.map((o) => o.old)).toEqual(['bit.D.lost.R-MERGE-1.page', 'bit.D.lost.R-MRM-1.page', 'bit.D.lost.R-MRM-1.empty', 'bit.W.wp-lost.R-PMS-4.page',
      'bit.E.set.R-SPLIT-5.page', 'bit.P.cleared.R-SPLIT-5.page', 'bit.D.lost.R-FLT-8.page']);
    for (const o of olds) expect(currentSignature(o.old)).toBe(o.now);
    // today's signatures come back unchanged (so a signature of unknown scheme can be passed through)
    for (const o of olds) expect(currentSignature(o.now)).toBe(o.now);
    for (const s of ['vma.registration.R-REG-1', 'scan.w.lost.R-PMS-2.none.empty', 'rc.rc.mismatch.R-MRM-10.na', 'data.content.data-lost.R-DATA-4.page']) expect(currentSignature(s)).toBe(s);
    // baseline patterns keep their wildcards
    expect(currentSignature('bit.P.*')).toBe('bit.entry.*');
    expect(currentSignature('bit.S.cleared.*')).toBe('bit.entry.mismatch.*');
    expect(SIGNATURE_VERSION).toBe(4);
  });

  it('a divergence at a fault names the rule that set the entry up: soft-dirty lost on a write after mprotect RO->RW (B-3) cites can_change_pte_writable', () => {
    // pre 76aefad628aa, mprotect made the PTE writable although a soft-dirty fault was needed: the
    // write then takes no fault (do_wp_page never runs) and soft-dirty stays clear
    const c = ops({ op: 'mmap', region: 'a', pages: 1, kind: 'anon' }, { op: 'write', region: 'a' }, { op: 'clear_refs', value: 4 },
      { op: 'mprotect', region: 'a', prot: 'r' }, { op: 'mprotect', region: 'a', prot: 'rw' }, { op: 'write', region: 'a' });
    const vs = onMutant('B-3', c);
    expect(firstDivergence(vs)!.step).toBe(5);
    expect(caseSignature(vs)).toBe('bit.D.lost.R-FLT-8.page');
    expect(caseTitle(vs, c)).toBe('soft-dirty lost on write fault of anon PTE (R-FLT-8, mm/memory.c do_wp_page; set up by R-MPROT-3, mm/mprotect.c can_change_pte_writable)');
    // clear_refs forgetting to write-protect (B-5): same symptom, the title names clear_refs
    const d = ops({ op: 'mmap', region: 'a', pages: 1, kind: 'anon' }, { op: 'write', region: 'a' }, { op: 'clear_refs', value: 4 }, { op: 'write', region: 'a' });
    expect(caseTitle(onMutant('B-5', d), d)).toMatch(/; set up by R-CR-2, fs\/proc\/task_mmu\.c /);
    // not at other ops, not for a swap-in (it faults whatever set the entry up), not for side effects of a fault
    expect(setupRule(v({ op: 'mprotect', rule: 'R-MPROT-1', rules: ['R-PM-1', 'R-CR-2', 'R-MPROT-1'] }))).toBeUndefined();
    expect(setupRule(v({ op: 'read', rule: 'R-SWIN-1', rules: ['R-PM-1', 'R-PO-1', 'R-SWIN-1'] }))).toBeUndefined();
    expect(setupRule(v({ op: 'write', rule: 'R-SPLIT-2', rules: ['R-PM-2', 'R-WP-5', 'R-SPLIT-2'] }))).toBeUndefined();
    // earlier faults on the entry are skipped: the read fault that mapped it, the populate's own fault
    expect(setupRule(v({ op: 'populate', rule: 'R-POP-1', rules: ['R-PM-1', 'R-CR-1', 'R-FLT-3', 'R-FLT-8', 'R-POP-1'] }))).toBe('R-CR-1');
  });
});
