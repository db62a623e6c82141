// The content oracle on the real kernel: each process reads back the first 8 bytes of its present
// pages after every step (workers/executor/ptefarm-content.h: plain loads, /proc/self/mem where a
// page's VMA is not readable). Two things
// are pinned here: (1) reading back changes nothing the pagemap shows — a step that changes
// nothing (clear_refs 1, R-CR-0) observes exactly what the step before it observed, in every state
// the read could disturb (PROT_NONE, uffd-wp, THP, zero page, shared, swapped, guard); (2) the values
// are what the kernel keeps (expected values written by hand from the kernel functions named) and
// the reference model agrees (no violation, values compared).
import { describe, expect, it } from 'vitest';
import { liveTextRunner } from '../helpers/live-text.ts';
import { release } from 'node:os';
import { type Trace } from '../../src/ops/trace.ts';
import { writeValue } from '../../src/model/content.ts';

const [maj, min] = release().split('.').map(Number);
const hasGuards = maj > 6 || (maj === 6 && min >= 13);

const runText = liveTextRunner('ptefarm-case/2');
async function run(body: string, uffd?: string): Promise<{ tr: Trace; compared: number }> {
  const { tr, verdict } = await runText(body, uffd);
  return { tr, compared: verdict.bits.content?.compared ?? 0 };
}
const vals = (tr: Trace, i: number, region = 'a', proc = 0) => tr.steps[i].content?.[String(proc)]?.[region];
const W = writeValue;

describe('live: reading back the content leaves the pagemap unchanged', () => {
  // each body ends in a state; two no-op steps follow: the observation after the first no-op (its
  // read-back done) must equal the one after the second
  const states: Array<[string, string, string?]> = [
    ['anon written, then PROT_NONE', 'mmap a pages=4 kind=anon\nwrite a\nmprotect a prot=none'],
    // read back by plain loads where the VMA is readable, through /proc/self/mem from a page whose
    // load faulted (content_read): read-only pages, and a readable run after a PROT_NONE one
    ['anon written, then PROT_READ (plain loads)', 'mmap a pages=4 kind=anon\nwrite a\nmprotect a prot=r'],
    ['anon written, PROT_NONE in the middle of readable pages', 'mmap a pages=6 kind=anon\nwrite a\nmprotect a[1..3) prot=none\nmprotect a[4..5) prot=none'],
    ['shmem written, fault-around mapped, PROT_NONE', 'mmap a pages=4 kind=memfd-shared\nwrite a[0]\nwrite a[2]\nread a\nmprotect a prot=none'],
    ['private memfd read (page cache, read-only) and CoW', 'mmap a pages=4 kind=memfd-private\nread a\nwrite a[1]'],
    ['zero page from a read fault', 'mmap a pages=4 kind=anon\nread a'],
    ['uffd-wp protected pages (sync context)', 'mmap a pages=4 kind=anon\nwrite a\nuffd_register a\nwp a on', ''],
    ['uffd-wp protected pages (WP_ASYNC)', 'mmap a pages=4 kind=memfd-shared\nwrite a\nuffd_register a\nwp a on', 'wp_async'],
    ['a THP mapped by PMD', 'mmap a pages=512 kind=anon thp\nwrite a[3]'],
    ['shared with a forked child, then clear_refs 4 (write-protected, soft-dirty clear)', 'mmap a pages=4 kind=anon\nwrite a\nfork\nclear_refs'],
    ['swapped out (never read back)', 'mmap a pages=4 kind=anon\nwrite a\npageout a[1..3)'],
  ];
  if (hasGuards) states.push(['guard markers (never read back)', 'mmap a pages=4 kind=anon\nwrite a\nguard a[1..3)']);
  for (const [what, body, uffd] of states) {
    it(what, async () => {
      const { tr } = await run(`${body}\nclear_refs value=1\nclear_refs value=1`, uffd);
      const n = tr.steps.length;
      expect(tr.steps[n - 1].pages).toEqual(tr.steps[n - 2].pages);
      expect(tr.steps[n - 1].content).toEqual(tr.steps[n - 2].content);
    });
  }
});

describe('live: values through the kernel paths (each trace also agrees with the model)', () => {
  it('write stores, a forked child reads the parent\'s values, CoW separates them (copy_present_ptes, wp_page_copy)', async () => {
    const { tr, compared } = await run('mmap a pages=2 kind=anon\nwrite a\nfork\np1 write a[1]');
    expect(vals(tr, 1)).toEqual([W(1, 0), W(1, 1)]);
    expect(vals(tr, 2, 'a', 1)).toEqual([W(1, 0), W(1, 1)]);
    expect(vals(tr, 3, 'a', 0)).toEqual([W(1, 0), W(1, 1)]);
    expect(vals(tr, 3, 'a', 1)).toEqual([W(1, 0), W(3, 1)]);
    expect(compared).toBeGreaterThan(0);
  });
  it('swap-out hides the page (not read), swap-in brings the value back (do_swap_page)', async () => {
    const { tr } = await run('mmap a pages=2 kind=anon\nwrite a\npageout a\nread a');
    if (!tr.steps[2].outcome?.swapped_out?.a?.length) return; // the host swapped nothing out: nothing to see
    expect(vals(tr, 2)?.filter((x) => x === null).length).toBe(tr.steps[2].outcome.swapped_out.a.length);
    expect(vals(tr, 3)).toEqual([W(1, 0), W(1, 1)]);
  });
  it('MADV_DONTNEED: private anon zero-fills, shared keeps the page cache, a private memfd refaults the page cache (zap_pte_range)', async () => {
    const { tr } = await run('mmap a pages=1 kind=anon\nmmap b pages=1 kind=memfd-shared\nmmap c pages=1 kind=memfd-private\nwrite a\nwrite b\nwrite c\ndontneed a\ndontneed b\ndontneed c\nread a\nread b\nread c');
    expect(vals(tr, 11, 'a')).toEqual([0]);
    expect(vals(tr, 11, 'b')).toEqual([W(4, 0)]);
    expect(vals(tr, 11, 'c')).toEqual([0]);
  });
  it('PROT_NONE pages are read back (FOLL_FORCE) and keep their values; mremap moves them', async () => {
    const { tr } = await run('mmap a pages=2 kind=memfd-shared\nwrite a\nmprotect a prot=none\nmremap a');
    expect(vals(tr, 2)).toEqual([W(1, 0), W(1, 1)]);
    expect(vals(tr, 3)).toEqual([W(1, 0), W(1, 1)]);
  });
  it('MADV_COLLAPSE copies the small pages into the THP, none PTEs zero-filled (__collapse_huge_page_copy)', async () => {
    const { tr } = await run('mmap a pages=512 kind=anon thp\nsplit a page=0\nwrite a[0..2)\ndontneed a[1]\ncollapse a');
    const v = vals(tr, 4);
    if (tr.steps[4].rc !== 0) return; // the host could not allocate a THP
    expect(v?.slice(0, 3)).toEqual([W(2, 0), 0, 0]);
  });
  it('a sync uffd-wp fault is resolved and the write lands (handle_userfault, do_wp_page)', async () => {
    const { tr } = await run('mmap a pages=2 kind=anon\nwrite a\nuffd_register a\nwp a on\nwrite a[1]', '');
    expect(vals(tr, 4)).toEqual([W(1, 0), W(4, 1)]);
  });
});
