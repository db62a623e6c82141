// hugetlb (ptefarm-case/3) on the real kernel, where 2 MiB hugetlb pages are free (`ptefarm setup
// --hugetlb N` as root; skipped otherwise, and a case run anyway is skipped by the target with the
// reason). Expected values are the kernel's behaviour as its source states it (function named per
// test), written by hand; each trace is also checked against the reference model (no violation).
import { describe, expect, it } from 'vitest';
import { liveTextRunner } from '../helpers/live-text.ts';
import { type Trace } from '../../src/ops/trace.ts';
import { hugetlbFreePages } from '../../src/targets/hugetlb-host.ts';

const free = hugetlbFreePages();

const runText = liveTextRunner('ptefarm-case/3', { noSkip: true });
const run = async (body: string, uffd?: string): Promise<Trace> => (await runText(body, uffd)).tr;
/** P S F E W and G of page k (soft-dirty, compiled out on the CI host, dropped) */
const pg = (tr: Trace, i: number, k: number, region = 'a', proc = 0) => { const s = tr.steps[i].pages?.[String(proc)]?.[region]?.[k]; return s && s.slice(0, 5) + s[6]; };

describe.skipIf(free < 8)(`live: hugetlb (${free} free 2 MiB pages)`, () => {
  it('a fault maps the whole huge page (hugetlb_no_page); a marker reads uffd-wp without the swap bit (pagemap_hugetlb_range); DONTNEED of a protected page leaves one (__unmap_hugepage_range)', async () => {
    const tr = await run('mmap a pages=1024 kind=hugetlb\nuffd_register a\nread a[3]\nwp a on\ndontneed a[0..512)', 'wp_async');
    expect(pg(tr, 2, 511)).toBe('P..E..');
    expect(pg(tr, 3, 600)).toBe('....W.');
    expect(pg(tr, 4, 0)).toBe('....W.');
  });
  it('a sync uffd-wp fault names the huge page start (userfault_msg) and is resolved for the whole huge page', async () => {
    const tr = await run('mmap a pages=1024 kind=hugetlb-shared\nuffd_register a\nwrite a\nwp a on\nwrite a[700]', '');
    expect(tr.steps[4].events).toEqual([{ kind: 'wp_fault', proc: 0, region: 'a', page: 512 }]);
    expect(pg(tr, 4, 512)).toBe('P.FE..');
    expect(pg(tr, 4, 0)).toBe('P.FEW.');
  });
  it('PAGEMAP_SCAN WP_MATCHING protects a whole written huge page and backs out a partial one (pagemap_scan_hugetlb_entry)', async () => {
    const tr = await run('mmap a pages=1024 kind=hugetlb\nuffd_register a\nwrite a\nscan a[0..512) wp_matching\nscan a[512..600) wp_matching return_mask=awfpszhdg', 'wp_async');
    expect(pg(tr, 3, 0)).toBe('P..EW.');
    expect(pg(tr, 4, 512)).toBe('P..E..');
    expect(tr.steps[4].outcome?.walk_end?.a).toBe(512);
  });
  it('unaligned munmap, register and DONTNEED are EINVAL (hugetlb_vm_op_split, userfaultfd_register, madvise_dontneed_free_valid_vma); pageout and collapse too', async () => {
    const tr = await run('mmap a pages=1024 kind=hugetlb\nwrite a\nmunmap a[0..100)\nuffd_register a[0..100)\ndontneed a[1..]\npageout a\ncollapse a', 'wp_async');
    expect(tr.steps.slice(2).map((s) => s.rc)).toEqual(['EINVAL', 'EINVAL', 'EINVAL', 'EINVAL', 'EINVAL']);
  });
  it('writeprotect goes VMA by VMA, registration then alignment (mwriteprotect_range): EINVAL at a registered first VMA, ENOENT at an unregistered one after protecting the first', async () => {
    const tr = await run('mmap a pages=1024 kind=hugetlb\nuffd_register a[0..512)\nwp a[511..513) off\nwrite a[0]\nwp a on', '');
    expect(tr.steps.slice(2).map((s) => s.rc)).toEqual(['EINVAL', 0, 'ENOENT']);
    expect(pg(tr, 4, 0)).toBe('P..EW.');
  });
  it('unregister tests only its start; a misaligned end fails only where a registered VMA must be split, after unprotecting (userfaultfd_unregister, userfaultfd_clear_vma)', async () => {
    const tr = await run('mmap a pages=1024 kind=hugetlb\nuffd_unregister a[..1)\nuffd_unregister a[1..2)\nuffd_register a\nwrite a\nwp a on\nuffd_unregister a[..1)', 'wp_async');
    expect(tr.steps.slice(1).map((s) => s.rc)).toEqual([0, 'EINVAL', 0, 0, 0, 'EINVAL']);
    expect(pg(tr, 6, 0)).toBe('P..E..');
    expect(pg(tr, 6, 600)).toBe('P..EW.');
  });
  it('once the mm of the descriptor is gone, a child\'s register and unregister are ENOMEM, its writeprotect ESRCH, whatever the alignment (mmget_not_zero comes first)', async () => {
    const head = 'mmap a pages=512 kind=hugetlb\nuffd_register a\nmprotect a prot=r\nfork\nwrite a[0]\n';
    for (const [last, rc] of [['p1 uffd_register a[387]', 'ENOMEM'], ['p1 uffd_unregister a[387]', 'ENOMEM'], ['p1 wp a[387] on', 'ESRCH']] as const) {
      const tr = await run(head + last, '');
      expect(tr.steps.map((s) => s.rc)).toEqual([0, 0, 0, 0, 'SIGSEGV', rc]);
    }
  });
  it('fork shares a private huge page (copy_hugetlb_page_range) and a write copies it (hugetlb_wp)', async () => {
    const tr = await run('mmap a pages=512 kind=hugetlb\nwrite a\nfork\np1 write a');
    expect(pg(tr, 2, 0, 'a', 1)).toBe('P.....');
    expect(pg(tr, 3, 0, 'a', 0)).toBe('P..E..');
    expect(pg(tr, 3, 0, 'a', 1)).toBe('P..E..');
  });
});
