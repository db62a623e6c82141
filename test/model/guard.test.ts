// Guard regions (MADV_GUARD_INSTALL / MADV_GUARD_REMOVE, ptefarm-case/2) and PAGEMAP_SCAN's full
// argument space, each rule pinned by a scenario. Expected bits are stated from the kernel (the
// function named in each test) and were checked on the live 6.18 kernel of this host; page strings
// of a /2 case have seven letters: P S F E W D G (G = pagemap bit 58, PM_GUARD_REGION).
import { describe, expect, it } from 'vitest';
import { predict } from '../../src/model/model.ts';
import { parseTextCase } from '../../src/ops/text.ts';
import type { Prediction } from '../../src/model/api.ts';

function run(body: string, uffd?: string, profile?: string): Prediction {
  const text = `ptefarm-case/2\n${uffd !== undefined ? `uffd features=${uffd}\n` : ''}${body.trim().split('\n').map((l) => l.trim()).join('\n')}\n`;
  return predict(parseTextCase(text), undefined, profile ? { profile } : {});
}
const all = (p: Prediction, step: number, region: string, proc = 0) => p.steps[step].pages[String(proc)]?.[region];
const scan = (p: Prediction, step: number, region: string, proc = 0) => p.steps[step].scan?.[String(proc)]?.[region];

describe('guard regions (R-GRD-*)', () => {
  it('R-GRD-1 (mm/madvise.c madvise_guard_install): installing zaps the written pages of the range and leaves a guard marker in every slot: swapped + guard', () => {
    const p = run('mmap a pages=4 kind=anon\nwrite a\nguard a[1..3)');
    expect(all(p, 2, 'a')).toEqual(['P..E.D.', '.S...DG', '.S...DG', 'P..E.D.']);
    expect(p.steps[2].rc).toBe(0);
  });
  it('R-GRD-1: a /1 case keeps six letters (no op of /1 makes a guard)', () => {
    const p = predict(parseTextCase('ptefarm-case/1\nmmap a pages=1 kind=anon\nwrite a\n'));
    expect(all(p, 1, 'a')).toEqual(['P..E.D']);
  });
  it('R-GRD-1: kernels before 6.13 do not know the advice (madvise_behavior_valid): EINVAL, nothing changes', () => {
    const p = run('mmap a pages=2 kind=anon\nwrite a\nguard a', undefined, '6.12');
    expect(p.steps[2].rc).toBe('EINVAL');
    expect(all(p, 2, 'a')).toEqual(['P..E.D.', 'P..E.D.']);
  });
  it('R-GRD-1/R-MADV-1: a hole in the range is ENOMEM after the VMAs around it got their markers (madvise_walk_vmas)', () => {
    const p = run('mmap a pages=3 kind=anon\nmunmap a[1]\nguard a');
    expect(p.steps[2].rc).toBe('ENOMEM');
    expect(all(p, 2, 'a')).toEqual(['.S...DG', '.......', '.S...DG']);
  });
  it('R-GRD-1: a huge PMD under part of the range is split and its covered pages zapped (guard_install_pmd_entry -> zap)', () => {
    const p = run('mmap a pages=512 kind=anon thp\nwrite a[0]\nguard a[10]');
    const a = all(p, 2, 'a')!;
    expect(a[10]).toBe('.S...DG');
    expect(a[9]).toBe('P..E.D.');
    expect(p.steps[2].entry['0'].a[9]).toBe('pte-thp');
  });
  it('R-GRD-2 (madvise_guard_remove): removing clears the markers only; pages elsewhere stay', () => {
    const p = run('mmap a pages=3 kind=anon\nwrite a\nguard a[1]\nunguard a');
    expect(all(p, 3, 'a')).toEqual(['P..E.D.', '.....D.', 'P..E.D.']);
  });
  it('R-GRD-3 (mm/memory.c handle_pte_marker): a read or write of a guard page is SIGSEGV, the process dies', () => {
    const p = run('mmap a pages=2 kind=anon\nguard a[1]\nread a');
    expect(p.steps[2].rc).toBe('SIGSEGV');
    expect(p.steps[2].pages['0']).toBeUndefined();
  });
  it('R-GRD-3: MADV_POPULATE_READ/WRITE meeting a guard returns EFAULT; pages before it stay populated (measured on 6.18)', () => {
    const p = run('mmap a pages=3 kind=anon\nguard a[1]\npopulate a write');
    expect(p.steps[2].rc).toBe('EFAULT');
    expect(all(p, 2, 'a')).toEqual(['P..E.D.', '.S...DG', '.....D.']);
  });
  it('R-GRD-4 (zap_nonpresent_ptes): MADV_DONTNEED keeps the markers; munmap drops them', () => {
    const p = run('mmap a pages=2 kind=anon\nwrite a\nguard a[1]\ndontneed a\nmunmap a[1]');
    expect(all(p, 3, 'a')).toEqual(['.....D.', '.S...DG']);
    expect(all(p, 4, 'a')).toEqual(['.....D.', '.......']);
  });
  it('R-GRD-5 (copy_nonpresent_pte, copy_pte_marker): fork copies guard markers, also of a shared mapping', () => {
    const p = run('mmap a pages=2 kind=anon\nguard a[0]\nmmap b pages=2 kind=shared-anon\nguard b[1]\nfork');
    expect(all(p, 4, 'a', 1)).toEqual(['.S...DG', '.....D.']);
    expect(all(p, 4, 'b', 1)).toEqual(['.....D.', '.S...DG']);
  });
  it('R-GRD-5/R-MRM-1: mremap moves guard markers with the range (move_ptes)', () => {
    const p = run('mmap a pages=3 kind=anon\nwrite a\nguard a[2]\nmremap a');
    expect(all(p, 3, 'a')).toEqual(['P..E.D.', 'P..E.D.', '.S...DG']);
  });
  it('R-GRD-6 (change_pte_range): WRITEPROTECT skips guard markers; a swp uffd-wp bit PAGEMAP_SCAN set on one survives wp off and unregister (measured on 6.18)', () => {
    const p = run('mmap a pages=2 kind=anon\nguard a[1]\nuffd_register a\nwp a on\nwp a off\nscan a wp_matching\nwp a off\nuffd_unregister a', 'wp_async');
    expect(all(p, 3, 'a')).toEqual(['.S..WD.', '.S...DG']);
    expect(all(p, 4, 'a')).toEqual(['.....D.', '.S...DG']);
    expect(scan(p, 5, 'a')).toEqual(['aw.....d.', 'aw..s..dg']);
    expect(all(p, 5, 'a')).toEqual(['.S..WD.', '.S..WDG']);
    expect(all(p, 7, 'a')).toEqual(['.....D.', '.S..WDG']);
  });
  it('R-GRD-7 (hpage_collapse_scan_pmd): MADV_COLLAPSE of a block holding a guard fails with EINVAL (measured on 6.18)', () => {
    const p = run('mmap a pages=512 kind=anon thp\nmprotect a prot=r\nmprotect a prot=rw\nwrite a[0]\nsplit a page=1\nguard a[5]\ncollapse a');
    expect(p.steps[6].rc).toBe('EINVAL');
  });
  it('R-GRD-7 (hpage_collapse_scan_pmd, __collapse_huge_page_swapin): the scan passes a guard marker as a swap PTE, so a later refusal comes first: a none PTE after it in a uffd-armed VMA gives EBUSY (measured on 6.18.44, live campaign seed 73)', () => {
    const p = run('mmap a pages=1024 kind=anon thp\nguard a[512]\nuffd_register a[512..1024)\ncollapse a[776]', '');
    expect(p.steps[3].rc).toBe('EBUSY');
  });
  it('R-GRD-7 (madvise_collapse): the failed swap-in of the guard marker (SCAN_FAIL) ends the walk: a later block is not collapsed (measured on 6.18.44: with the guard in the second block the first collapses)', () => {
    const p = run('mmap a pages=1024 kind=anon thp\nwrite a\nsplit a page=1\nsplit a page=513\nguard a[5]\ncollapse a');
    expect(p.steps[5].rc).toBe('EINVAL');
    expect(p.steps[5].entry['0'].a[512]).toBe('pte-thp');
  });
  it('R-GRD-7 (__collapse_huge_page_swapin): with no trace to read, the swap entries before the marker are read in, in address order, and those after it stay swapped (measured on 6.18.44, live campaign seed 74: a[0] present after the failed collapse)', () => {
    const p = run('mmap a pages=512 kind=anon thp\nwrite a[80]\npageout a\nguard a[1]\ncollapse a[19]');
    expect(p.steps[4].rc).toBe('EINVAL');
    expect(all(p, 4, 'a')[0]).toMatch(/^P/);
    expect(all(p, 4, 'a')[2]).toMatch(/^\.S/);
  });
  it('R-GRD-1: a uffd-wp marker in a shmem VMA that the install zap keeps makes the kernel retry forever: no rc to compare (measured on 6.18)', () => {
    const p = run('mmap a pages=2 kind=shared-anon\nwrite a\nuffd_register a\nwp a on\ndontneed a[0]\nguard a', 'wp_async');
    expect(p.steps[5].rc).toBe('*');
  });
});

describe('PAGEMAP_SCAN argument space (ptefarm-case/2)', () => {
  it('R-PMS-3.masks (pagemap_scan_is_interesting_page): category_mask filters, return_mask masks what is reported', () => {
    const p = run('mmap a pages=3 kind=anon\nwrite a[0]\nguard a[2]\nscan a category_mask=p return_mask=wp\nscan a category_anyof_mask=sg return_mask=g\nscan a category_mask=p category_inverted=p');
    expect(scan(p, 3, 'a')).toEqual(['.w.p.....', '---------', '---------']);
    expect(scan(p, 4, 'a')).toEqual(['---------', '---------', '........g']);
    expect(scan(p, 5, 'a')).toEqual(['---------', 'aw.....d.'.replace('a', '.'), '.w..s..dg']);
  });
  it('R-PMS-4 (pagemap_scan_pmd_entry exclusive-WP fast path): WP_MATCHING without an output vector arms every entry, whatever the masks, and reports nothing', () => {
    const p = run('mmap a pages=3 kind=anon\nwrite a[0]\nuffd_register a\nscan a wp_matching no_vec category_mask=s', 'wp_async');
    expect(p.steps[3].scan).toBeUndefined();
    expect(all(p, 3, 'a')).toEqual(['P..EWD.', '.S..WD.', '.S..WD.']);
    expect(p.steps[3].walkEnd).toBe(3);
  });
  it('R-PMS-7/R-PMS-10 (pagemap_scan_output): walk_end is the max_pages truncation point; without an output vector max_pages never binds', () => {
    const p = run('mmap a pages=4 kind=anon\nwrite a\nscan a max_pages=2 return_mask=p\nscan a max_pages=2 no_vec');
    expect(scan(p, 2, 'a')).toEqual(['...p.....', '...p.....', '---------', '---------']);
    expect(p.steps[2].walkEnd).toBe(2);
    expect(p.steps[3].walkEnd).toBe(4);
    expect(p.steps[2].outcome.walk_end).toEqual({ a: 2 });
  });
  it('R-PMS-3.fast: category_mask = return_mask = WRITTEN reports every entry not write-protected as WRITTEN only', () => {
    const p = run('mmap a pages=3 kind=anon\nwrite a[0..2)\nuffd_register a\nwp a[1..3) on\nscan a category_mask=w return_mask=w', 'wp_async');
    expect(scan(p, 4, 'a')).toEqual(['.w.......', '---------', '---------']);
  });
  it('R-PMS-1.skip (pagemap_scan_test_walk): WP_MATCHING without CHECK_WPASYNC skips an unregistered VMA instead of failing', () => {
    const p = run('mmap a pages=2 kind=anon\nwrite a\nscan a wp_matching check_wpasync=false\nscan a wp_matching', 'wp_async');
    expect(p.steps[2].rc).toBe(0);
    expect(scan(p, 2, 'a')).toEqual(['---------', '---------']);
    expect(p.steps[3].rc).toBe('EPERM');
  });
});

describe('kernel releases', () => {
  it('a 6.15-6.17 kernel (6.12 profile) has guard regions and bit 58; 6.14 and older are left to the profile', async () => {
    const { releaseKnobs } = await import('../../src/model/profile.ts');
    expect(releaseKnobs('6.16.3')).toEqual({ guardRegions: true });
    expect(releaseKnobs('6.14.0')).toEqual({});
    const c = parseTextCase('ptefarm-case/2\nmmap a pages=1 kind=anon\nguard a\n');
    expect(predict(c, undefined, { profile: '6.12', knobs: releaseKnobs('6.16.3') }).steps[1].pages['0'].a).toEqual(['.S...DG']);
  });
});

describe('hosts without soft-dirty', () => {
  it('PAGEMAP_SCAN\'s masks never see SOFT_DIRTY where CONFIG_MEM_SOFT_DIRTY is off (found by the live differential on a host without it)', () => {
    const c = parseTextCase('ptefarm-case/2\nmmap a pages=1 kind=anon\nscan a category_anyof_mask=fpd\n');
    expect(predict(c).steps[1].scan?.['0']?.a).toEqual(['.......d.']); // a hole of an unregistered VMA: VM_SOFTDIRTY only
    expect(predict(c, undefined, { knobs: { memSoftDirty: false } }).steps[1].scan?.['0']?.a).toEqual(['---------']);
  });
});

describe('VM_MAYBE_GUARD (R-GRD-1, R-GRD-5)', () => {
  it('the flag outlives the markers: the range MREMAP_DONTUNMAP leaves behind is still copied by fork (vma_needs_copy; found by the live differential, smaps shows `gu`)', () => {
    const p = run('mmap c pages=1 kind=memfd-shared\nguard c\nmremap c dontunmap old=d\nwrite d[0]\nfork');
    expect(all(p, 4, 'd', 1)).toEqual(['P.F..D.']);
    // a kernel without the flag gave the shared VMA an anon_vma, which the dontunmap unlinked
    const old = predict(parseTextCase('ptefarm-case/2\nmmap c pages=1 kind=memfd-shared\nguard c\nmremap c dontunmap old=d\nwrite d[0]\nfork\n'), undefined, { knobs: { maybeGuardFlag: false } });
    expect(all(old, 4, 'd', 1)).toEqual(['.....D.']);
  });
});
