// hugetlb in the model (ptefarm-case/3 kinds hugetlb / hugetlb-shared, src/model/hugetlb.ts): each
// rule pinned by a scenario with the kernel behaviour it mirrors (file + function in the test name).
// Expectations are stated from the kernel sources (linux-source-6.12 and torvalds/linux) and were
// run on this host's 6.18 kernel with 2 MiB pages reserved (scripts/hugetlb-live.ts). Page strings
// of a /3 case have seven letters P S F E W D G; one huge page is 512 pages. D reads VM_SOFTDIRTY
// (set by mmap, cleared by clear_refs): pagemap_hugetlb_range reports no per-entry soft-dirty.
import { describe, expect, it } from 'vitest';
import { predict } from '../../src/model/model.ts';
import { parseTextCase } from '../../src/ops/text.ts';
import { validateCase } from '../../src/ops/validate.ts';
import { formatFor } from '../../src/ops/schema.ts';
import type { Prediction } from '../../src/model/api.ts';

function run(body: string, uffd?: string): Prediction {
  const text = `ptefarm-case/3\n${uffd !== undefined ? `uffd features=${uffd}\n` : ''}${body.trim().split('\n').map((l) => l.trim()).join('\n')}\n`;
  return predict(parseTextCase(text));
}
const pg = (p: Prediction, step: number, region: string, k: number, proc = 0) => p.steps[step].pages[String(proc)]?.[region]?.[k];
const scan = (p: Prediction, step: number, region: string, proc = 0) => p.steps[step].scan?.[String(proc)]?.[region];

describe('hugetlb case format (ptefarm-case/3)', () => {
  it('a hugetlb kind needs /3; tools write /3 only for cases that map hugetlb', () => {
    const c = { format: 'ptefarm-case/2', ops: [{ op: 'mmap', region: 'a', pages: 512, kind: 'hugetlb' }] };
    expect(validateCase(c)).toEqual(['ops[0].kind: hugetlb needs "format": "ptefarm-case/3"']);
    expect(formatFor(c.ops)).toBe('ptefarm-case/3');
    expect(formatFor([{ op: 'mmap', region: 'a', pages: 1, kind: 'anon' }])).toBe('ptefarm-case/1');
  });
  it('a hugetlb region is sized in whole huge pages (hugetlbfs_file_mmap), never placed after another region, never mremapped or split by a case', () => {
    const bad = (ops: unknown[]) => validateCase({ format: 'ptefarm-case/3', ops });
    expect(bad([{ op: 'mmap', region: 'a', pages: 100, kind: 'hugetlb' }])[0]).toMatch(/whole huge pages \(multiples of 512 pages\)/);
    expect(bad([{ op: 'mmap', region: 'a', pages: 1, kind: 'anon' }, { op: 'mmap', region: 'b', pages: 512, kind: 'hugetlb', after: 'a' }])[0]).toMatch(/own slot/);
    expect(bad([{ op: 'mmap', region: 'a', pages: 512, kind: 'hugetlb' }, { op: 'mremap', region: 'a' }])[0]).toMatch(/mremap of hugetlb region/);
    expect(bad([{ op: 'mmap', region: 'a', pages: 512, kind: 'hugetlb' }, { op: 'split', region: 'a', page: 3 }])[0]).toMatch(/split of hugetlb region/);
    expect(bad([{ op: 'mmap', region: 'a', pages: 1024, kind: 'hugetlb-shared' }])).toEqual([]);
  });
});

describe('hugetlb rules (R-HTLB-*)', () => {
  it('R-HTLB-1 (mm/hugetlb.c hugetlb_vm_op_split): munmap or mprotect cutting a huge page is EINVAL and changes nothing; one that changes no protection splits nothing and succeeds', () => {
    const p = run('mmap a pages=1024 kind=hugetlb\nwrite a\nmunmap a[0..100)\nmprotect a[512..600) prot=r\nmprotect a[10..20) prot=rw\nmunmap a[512..]');
    expect(p.steps[2].rc).toBe('EINVAL');
    expect(p.steps[3].rc).toBe('EINVAL');
    expect(p.steps[4].rc).toBe(0);
    expect(p.steps[5].rc).toBe(0);
    expect(pg(p, 5, 'a', 0)).toBe('P..E.D.');
    expect(pg(p, 5, 'a', 600)).toBe('.......');
  });
  it('R-HTLB-1 (fs/userfaultfd.c userfaultfd_register, mm/userfaultfd.c mwriteprotect_range): register and writeprotect of a range not aligned to the huge page are EINVAL', () => {
    const p = run('mmap a pages=1024 kind=hugetlb\nuffd_register a[0..100)\nuffd_register a\nwp a[0..513) on\nwp a[512..] on', 'wp_async');
    expect(p.steps.slice(1).map((s) => s.rc)).toEqual(['EINVAL', 0, 'EINVAL', 0]);
  });
  it('R-HTLB-1 (mm/mprotect.c do_mprotect_pkey): mprotect meets a hole before it tries a split: a start no VMA covers is ENOMEM, not EINVAL, even where the range ends inside a huge page', () => {
    // measured on 6.18 (a README campaign of 2026-12-07): the first huge page unmapped, mprotect
    // [511, 513) is ENOMEM; from 512 the same end cuts the second huge page: EINVAL
    const p = run('mmap a pages=1024 kind=hugetlb\nmunmap a[0..512)\nmprotect a[511..513) prot=r\nmprotect a[512..513) prot=r');
    expect(p.steps[2].rc).toBe('ENOMEM');
    expect(p.steps[3].rc).toBe('EINVAL');
  });
  it('R-HTLB-1: writeprotect of a range with no VMA is ENOENT before any alignment test (mwriteprotect_range)', () => {
    const p = run('mmap a pages=1024 kind=hugetlb\nuffd_register a\nmunmap a[512..]\nwp a[600..700) on', 'wp_async');
    expect(p.steps[3].rc).toBe('ENOENT');
  });
  it('R-HTLB-1 (mm/userfaultfd.c mwriteprotect_range, 6.4+): VMA by VMA, registration then alignment: a misaligned range is EINVAL at its first registered hugetlb VMA even if a later one is not registered', () => {
    // measured on 6.18.44 (README campaign, seed 1): register the first huge page only, wp [511, 513)
    // off -> EINVAL; the registered VMA first, an aligned range -> it is protected, then ENOENT at the
    // unregistered one; an unregistered first VMA -> ENOENT
    const p = run('mmap a pages=1024 kind=hugetlb\nuffd_register a[0..512)\nwp a[511..513) off\nwrite a[0]\nwp a on\nwp a[..513) on', '');
    expect(p.steps.slice(2).map((s) => s.rc)).toEqual(['EINVAL', 0, 'ENOENT', 'EINVAL']);
    expect(pg(p, 4, 'a', 0)).toBe('P..EWD.');
    const q = run('mmap a pages=1024 kind=hugetlb\nuffd_register a[512..]\nwp a[511..513) on', '');
    expect(q.steps[2].rc).toBe('ENOENT');
    // before 6.4 one VMA had to hold the range (find_dst_vma): ENOENT
    const old = predict(parseTextCase('ptefarm-case/3\nuffd\nmmap a pages=1024 kind=hugetlb\nuffd_register a[0..512)\nwp a[511..513) off\n'), undefined, { profile: '6.1' });
    expect(old.steps[2].rc).toBe('ENOENT');
  });
  it('R-HTLB-1 (fs/userfaultfd.c userfaultfd_unregister, userfaultfd_clear_vma): unregister tests the start only; a misaligned end fails only where a registered VMA must be split, after unprotecting the range', () => {
    // measured on 6.18.44 (README campaign, seed 9, and by hand)
    const p = run('mmap a pages=1024 kind=hugetlb\nuffd_unregister a[..1)\nuffd_unregister a[1..2)\nuffd_register a[..512)\nuffd_unregister a[512..513)', '');
    expect(p.steps.slice(1).map((s) => s.rc)).toEqual([0, 'EINVAL', 0, 0]);
    const q = run('mmap a pages=1024 kind=hugetlb\nuffd_register a\nwrite a\nwp a on\nuffd_unregister a[..1)', 'wp_async');
    expect(q.steps[4].rc).toBe('EINVAL');
    expect(pg(q, 4, 'a', 0)).toBe('P..E.D.');
    expect(pg(q, 4, 'a', 600)).toBe('P..EWD.');
  });
  it('R-HTLB-1 / R-UFFD-MM (fs/userfaultfd.c mmget_not_zero): once the mm of the descriptor is gone, a child\'s register and unregister are ENOMEM and its writeprotect ESRCH before any alignment test', () => {
    // measured on 6.18.44 (README campaign, seed 11): p0 dies of a write to its read-only hugetlb
    // region, then p1 uses the descriptor it inherited (its context's mm is p0's) on one 4 KiB page
    const head = 'mmap a pages=512 kind=hugetlb\nuffd_register a\nmprotect a prot=r\nfork\nwrite a[0]\n';
    for (const [last, rc] of [['p1 uffd_register a[387]', 'ENOMEM'], ['p1 uffd_unregister a[387]', 'ENOMEM'], ['p1 wp a[387] on', 'ESRCH']] as const) {
      const p = run(head + last, '');
      expect(p.steps.map((s) => s.rc)).toEqual([0, 0, 0, 0, 'SIGSEGV', rc]);
    }
    // with the parent alive the same register is the misaligned range's EINVAL
    expect(run('mmap a pages=512 kind=hugetlb\nuffd_register a\nfork\np1 uffd_register a[387]', '').steps[3].rc).toBe('EINVAL');
  });

  it('R-HTLB-1 (mm/madvise.c madvise_dontneed_free_valid_vma): MADV_DONTNEED needs an aligned start and rounds the end down', () => {
    const p = run('mmap a pages=1024 kind=hugetlb\nwrite a\ndontneed a[1..]\ndontneed a[0..1000)');
    expect(p.steps[2].rc).toBe('EINVAL');
    expect(p.steps[3].rc).toBe(0);
    expect(pg(p, 3, 'a', 0)).toBe('.....D.');
    expect(pg(p, 3, 'a', 512)).toBe('P..E.D.'); // 1000 rounded down to 512: the second page stays
  });
  it('R-HTLB-2 (mm/madvise.c can_madv_lru_vma, madvise_collapse): MADV_PAGEOUT and MADV_COLLAPSE are EINVAL on hugetlb', () => {
    const p = run('mmap a pages=512 kind=hugetlb\nwrite a\npageout a\ncollapse a');
    expect(p.steps[2].rc).toBe('EINVAL');
    expect(p.steps[3].rc).toBe('EINVAL');
    expect(pg(p, 3, 'a', 7)).toBe('P..E.D.');
  });
  it('R-HTLB-3 (mm/hugetlb.c hugetlb_no_page): one read fault maps the whole huge page, exclusive anon for a private mapping, FILE for a shared one', () => {
    const p = run('mmap a pages=1024 kind=hugetlb\nmmap b pages=512 kind=hugetlb-shared\nread a[3]\nread b[3]');
    expect(pg(p, 2, 'a', 0)).toBe('P..E.D.');
    expect(pg(p, 2, 'a', 511)).toBe('P..E.D.');
    expect(pg(p, 2, 'a', 512)).toBe('.....D.');
    expect(pg(p, 3, 'b', 100)).toBe('P.FE.D.');
  });
  it('R-HTLB-9 (fs/proc/task_mmu.c pagemap_hugetlb_range): a uffd-wp marker reads uffd-wp only, without the swap bit', () => {
    const p = run('mmap a pages=512 kind=hugetlb\nuffd_register a\nwp a on', 'wp_async');
    expect(pg(p, 2, 'a', 0)).toBe('....WD.');
  });
  it('R-HTLB-6 (mm/hugetlb.c hugetlb_change_protection): wp installs markers in empty huge PTEs even without WP_UNPOPULATED; a fault keeps the marker\'s bit (hugetlb_no_page)', () => {
    const p = run('mmap a pages=1024 kind=hugetlb\nuffd_register a\nwp a on\nread a[0]\nwp a off', 'event_fork');
    expect(pg(p, 2, 'a', 600)).toBe('....WD.');
    expect(pg(p, 3, 'a', 0)).toBe('P..EWD.');
    expect(pg(p, 4, 'a', 0)).toBe('P..E.D.');
    expect(pg(p, 4, 'a', 600)).toBe('.....D.'); // un-protecting drops the marker
  });
  it('R-HTLB-4 (mm/hugetlb.c hugetlb_fault; fs/userfaultfd.c userfault_msg): a sync wp fault names the huge page\'s start; async clears the bit of the whole huge page', () => {
    const s = run('mmap a pages=1024 kind=hugetlb\nuffd_register a\nwrite a[512]\nwp a on\nwrite a[700]', '');
    expect(s.steps[4].events).toEqual([{ kind: 'wp_fault', proc: 0, region: 'a', page: 512 }]);
    expect(pg(s, 4, 'a', 512)).toBe('P..E.D.');
    const a = run('mmap a pages=512 kind=hugetlb\nuffd_register a\nwrite a\nwp a on\nwrite a[5]', 'wp_async');
    expect(a.steps[4].events).toEqual([]);
    expect(pg(a, 4, 'a', 400)).toBe('P..E.D.');
  });
  it('R-HTLB-4: MADV_POPULATE_WRITE on a sync-protected huge page is EFAULT (GUP fault on a UFFD_USER_MODE_ONLY context)', () => {
    const p = run('mmap a pages=512 kind=hugetlb\nuffd_register a\nwrite a\nwp a on\npopulate a write', '');
    expect(p.steps[4].rc).toBe('EFAULT');
    expect(pg(p, 4, 'a', 0)).toBe('P..EWD.');
  });
  it('R-HTLB-7/R-HTLB-5 (mm/hugetlb.c copy_hugetlb_page_range, hugetlb_wp): fork shares a faulted private page (not exclusive), a write copies it and both become exclusive again', () => {
    const p = run('mmap a pages=512 kind=hugetlb\nwrite a\nfork\np1 write a');
    expect(pg(p, 2, 'a', 0, 0)).toBe('P....D.');
    expect(pg(p, 2, 'a', 0, 1)).toBe('P....D.');
    expect(pg(p, 3, 'a', 0, 0)).toBe('P..E.D.');
    expect(pg(p, 3, 'a', 0, 1)).toBe('P..E.D.');
  });
  it('R-HTLB-7 (copy_hugetlb_page_range, vma_needs_copy): the wp bit and markers reach only a uffd-wp child (EVENT_FORK); a shared mapping without it is not copied', () => {
    const keep = run('mmap a pages=1024 kind=hugetlb\nuffd_register a\nwrite a[0]\nwp a on\nfork', 'event_fork,wp_async');
    expect(pg(keep, 4, 'a', 0, 1)).toBe('P...WD.');
    expect(pg(keep, 4, 'a', 512, 1)).toBe('....WD.');
    const drop = run('mmap a pages=1024 kind=hugetlb\nuffd_register a\nwrite a[0]\nwp a on\nfork', 'wp_async');
    expect(pg(drop, 4, 'a', 0, 1)).toBe('P....D.');
    expect(pg(drop, 4, 'a', 512, 1)).toBe('.....D.');
    const shared = run('mmap a pages=512 kind=hugetlb-shared\nwrite a\nfork');
    expect(pg(shared, 2, 'a', 0, 0)).toBe('P.FE.D.');
    expect(pg(shared, 2, 'a', 0, 1)).toBe('.....D.');
  });
  it('R-HTLB-8 (mm/hugetlb.c __unmap_hugepage_range): MADV_DONTNEED of a write-protected huge page leaves a marker; of an unprotected one, nothing', () => {
    const p = run('mmap a pages=1024 kind=hugetlb\nuffd_register a\nwrite a\nwp a[0..512) on\ndontneed a', 'wp_async');
    expect(pg(p, 4, 'a', 0)).toBe('....WD.');
    expect(pg(p, 4, 'a', 512)).toBe('.....D.');
  });
  it('R-HTLB-11 (fs/proc/task_mmu.c clear_refs_write): clear_refs leaves hugetlb entries alone (wp kept); only VM_SOFTDIRTY is cleared', () => {
    const p = run('mmap a pages=512 kind=hugetlb\nuffd_register a\nwrite a\nwp a on\nclear_refs', 'wp_async');
    expect(pg(p, 4, 'a', 0)).toBe('P..EW..');
  });
  it('R-HTLB-10 (fs/proc/task_mmu.c pagemap_scan_hugetlb_entry): WP_MATCHING write-protects a whole written huge page and reports it HUGE|PRESENT|WRITTEN|WPALLOWED', () => {
    const p = run('mmap a pages=512 kind=hugetlb\nuffd_register a\nwrite a\nscan a wp_matching\nscan a', 'wp_async');
    expect(scan(p, 3, 'a')![0]).toBe('aw.p..hd.');
    expect(pg(p, 3, 'a', 0)).toBe('P..EWD.');
    expect(scan(p, 4, 'a')![0]).toBe('a..p..hd.');
  });
  it('R-HTLB-10: a written huge page reported only in part is backed out: not reported, not protected, walk_end at its start', () => {
    const p = run('mmap a pages=512 kind=hugetlb\nuffd_register a\nwrite a\nscan a[0..100) wp_matching return_mask=awfpszhdg', 'wp_async');
    expect(scan(p, 3, 'a')![0]).toBe('---------');
    expect(pg(p, 3, 'a', 0)).toBe('P..E.D.');
    expect(p.steps[3].walkEnd).toBe(0);
  });
  it('R-HTLB-10 (pagemap_hugetlb_category, pagemap_scan_pte_hole): pte_none reads HUGE only, a marker SWAPPED|HUGE, a hole (no PMD table yet) nothing: none is WRITTEN', () => {
    const p = run('mmap a pages=1024 kind=hugetlb\nscan a\nwrite a[0]\nscan a\nuffd_register a\nwp a[512..] on\nscan a', 'wp_async');
    expect(scan(p, 1, 'a')![600]).toBe('.......d.');
    expect(scan(p, 3, 'a')![600]).toBe('......hd.');
    expect(scan(p, 6, 'a')![600]).toBe('a...s.hd.');
  });
});
