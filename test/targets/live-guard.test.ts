// Guard regions and PAGEMAP_SCAN's ptefarm-case/2 arguments on the real kernel (6.13+ for guards,
// 6.15+ for pagemap bit 58 and PAGE_IS_GUARD; skipped below that). Expected values are the
// kernel's behaviour as its source states it (function named per test), written by hand; each
// trace is also checked against the reference model (no violation).
import { describe, expect, it } from 'vitest';
import { liveTextRunner } from '../helpers/live-text.ts';
import { release } from 'node:os';
import { type Trace } from '../../src/ops/trace.ts';

const [maj, min] = release().split('.').map(Number);
const hasGuardBit = maj > 6 || (maj === 6 && min >= 15);

const runText = liveTextRunner('ptefarm-case/2');
const run = async (body: string, uffd?: string): Promise<Trace> => (await runText(body, uffd)).tr;
/** P S F E W and G of each page of a region (soft-dirty, compiled out on the CI host, dropped) */
const pg = (tr: Trace, i: number, region = 'a', proc = 0) => tr.steps[i].pages?.[String(proc)]?.[region]?.map((s) => s.slice(0, 5) + s[6]);
/** PAGEMAP_SCAN letters without SOFT_DIRTY */
const sc = (tr: Trace, i: number, region = 'a') => tr.steps[i].scan?.['0']?.[region]?.map((s) => s.slice(0, 7) + s[8]);

describe.skipIf(!hasGuardBit)('live: guard regions', () => {
  it('install zaps and marks (madvise_guard_install), DONTNEED keeps (zap_nonpresent_ptes), fork copies (copy_pte_marker), remove clears', async () => {
    const tr = await run('mmap a pages=4 kind=anon\nwrite a\nguard a[1..3)\ndontneed a\nfork\nunguard a[1]');
    expect(pg(tr, 2)).toEqual(['P..E..', '.S...G', '.S...G', 'P..E..']);
    expect(pg(tr, 3)).toEqual(['......', '.S...G', '.S...G', '......']);
    expect(pg(tr, 4, 'a', 1)).toEqual(['......', '.S...G', '.S...G', '......']);
    expect(pg(tr, 5)).toEqual(['......', '......', '.S...G', '......']);
  });
  it('a read of a guard page is SIGSEGV (handle_pte_marker); populate there is EFAULT', async () => {
    const tr = await run('mmap a pages=2 kind=anon\nguard a[1]\npopulate a\nread a');
    expect(tr.steps.map((s) => s.rc)).toEqual([0, 0, 'EFAULT', 'SIGSEGV']);
  });
  it('WRITEPROTECT skips a guard marker; PAGEMAP_SCAN arming sets its uffd-wp bit, which wp off does not clear (change_pte_range, make_uffd_wp_pte)', async () => {
    const tr = await run('mmap a pages=2 kind=anon\nguard a[1]\nuffd_register a\nwp a on\nscan a wp_matching\nwp a off', 'wp_async');
    expect(pg(tr, 3)).toEqual(['.S..W.', '.S...G']);
    expect(sc(tr, 4)).toEqual(['--------', 'aw..s..g']); // page 0 holds a uffd-wp marker: not written
    expect(pg(tr, 5)).toEqual(['......', '.S..WG']);
  });
  it('MADV_COLLAPSE of a block holding a guard marker fails with EINVAL and leaves the marker (hpage_collapse_scan_pmd)', async () => {
    const tr = await run('mmap a pages=512 kind=anon thp\nwrite a\nsplit a page=1\nguard a[5]\ncollapse a');
    expect(tr.steps[4].rc).toBe('EINVAL');
    expect(pg(tr, 4)?.[5]).toBe('.S...G');
  });
  it('the collapse scan passes a guard marker as a swap PTE: a none PTE after it in a uffd-armed VMA gives EBUSY (hpage_collapse_scan_pmd; seed 73)', async () => {
    const tr = await run('mmap a pages=1024 kind=anon thp\nguard a[512]\nuffd_register a[512..1024)\ncollapse a[776]', '');
    expect(tr.steps[3].rc).toBe('EBUSY');
  });
  it('the collapse fails on swapping the guard marker in, and the swap entries before it stay read in, those after it swapped (__collapse_huge_page_swapin; seed 74)', async (ctx) => {
    const tr = await run('mmap a pages=512 kind=anon thp\nwrite a[80]\npageout a\nguard a[1]\ncollapse a');
    if (!(tr.steps[2].outcome?.swapped_out?.a ?? []).includes(0)) { ctx.skip('a[0] was not swapped out (no swap on this host?)'); return; }
    expect(tr.steps[4].rc).toBe('EINVAL');
    expect(pg(tr, 4)?.[0]).toBe('P..E..');
    expect(pg(tr, 4)?.[1]).toBe('.S...G');
    expect(pg(tr, 4)?.[2]).toBe('.S....');
  });
  it('VM_MAYBE_GUARD makes fork copy a shared mapping\'s page tables, also of the range MREMAP_DONTUNMAP leaves behind (vma_needs_copy)', async () => {
    const tr = await run('mmap c pages=1 kind=memfd-shared\nguard c\nmremap c dontunmap old=d\nwrite d[0]\nfork');
    expect(pg(tr, 4, 'd', 1)).toEqual(['P.F...']);
    expect(pg(tr, 4, 'c', 1)).toEqual(['.S...G']);
  });
  it('mremap moves the markers; munmap drops them', async () => {
    const tr = await run('mmap a pages=3 kind=anon\nguard a[1]\nmremap a\nmunmap a[1]');
    expect(pg(tr, 2)).toEqual(['......', '.S...G', '......']);
    expect(pg(tr, 3)).toEqual(['......', '......', '......']);
  });
});

describe('live: PAGEMAP_SCAN ptefarm-case/2 arguments', () => {
  it('no output vector: WP_MATCHING arms everything (exclusive-WP fast path), walk_end is the range end', async () => {
    const tr = await run('mmap a pages=3 kind=anon\nwrite a[0]\nuffd_register a\nscan a wp_matching no_vec category_mask=s max_pages=1', 'wp_async');
    expect(tr.steps[3].scan).toBeUndefined();
    expect(tr.steps[3].outcome?.walk_end).toEqual({ a: 3 });
    expect(pg(tr, 3)?.map((s) => s.slice(0, 5))).toEqual(['P..EW', '.S..W', '.S..W']);
  });
  it('max_pages truncates and walk_end says where (pagemap_scan_output); return_mask masks the categories', async () => {
    const tr = await run('mmap a pages=4 kind=anon\nwrite a\nscan a max_pages=2 return_mask=p');
    expect(tr.steps[2].outcome?.walk_end).toEqual({ a: 2 });
    expect(tr.steps[2].scan?.['0']?.a).toEqual(['...p.....', '...p.....', '---------', '---------']);
  });
  it('the WRITTEN fast path reports only entries not write-protected, as WRITTEN alone', async () => {
    const tr = await run('mmap a pages=3 kind=anon\nwrite a[0..2)\nuffd_register a\nwp a[1..3) on\nscan a category_mask=w return_mask=w', 'wp_async');
    expect(tr.steps[4].scan?.['0']?.a).toEqual(['.w.......', '---------', '---------']);
  });
});
