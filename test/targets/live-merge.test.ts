// Live: VMA merges and the anon_vma chain a fork clones (mm/vma.c is_mergeable_anon_vma,
// vma_had_uncowed_parents). A new anon mmap placed right after a VMA with an anon_vma merges into it
// in a process that made that anon_vma itself, and not in a fork child, whose VMA's chain also links
// its parent's anon_vma. Seen through fork (mm/memory.c vma_needs_copy): the new VMA's zero page
// (a read fault, no anon_vma of its own) is copied to the next child only as part of the merged
// VMA. The README campaign (seed 4) found the child case with a guard-installed VMA. Each run is
// checked against the reference model (no violation, the helper); the assertions need the zero
// page on a read fault, and are skipped with the reason on a host without it. Also what does not
// split: MREMAP_DONTUNMAP of part of a merged VMA leaves it whole (mm/mremap.c move_vma,
// dontunmap_complete), anon_vma and all (live campaign seed 51).
import { describe, expect, it } from 'vitest';
import { liveTextRunner } from '../helpers/live-text.ts';
import type { Trace } from '../../src/ops/trace.ts';

const run = liveTextRunner('ptefarm-case/1');
const zeroRead = (tr: Trace, step: number, region = 'b') => (tr.steps[step].outcome?.zero?.[region] ?? []).includes(0);
const NO_ZERO = 'this host maps no zero page on a read fault (the new VMA gets an anon_vma of its own)';

describe('live: merging into a VMA whose anon_vma chain a fork cloned', () => {
  it('in a fork child the new VMA stays apart: the child\'s fork does not copy its zero page', async (ctx) => {
    const { tr } = await run('mmap a pages=1 kind=anon\nwrite a\nfork\np1 mmap b pages=1 kind=anon after=a\np1 read b\np1 fork');
    if (!zeroRead(tr, 4)) { ctx.skip(NO_ZERO); return; }
    expect(tr.steps[5].pages!['2'].b[0][0]).toBe('.');
  });
  it('in the process that made the anon_vma it merges: fork copies the zero page with the rest', async (ctx) => {
    const { tr } = await run('mmap a pages=1 kind=anon\nwrite a\nmmap b pages=1 kind=anon after=a\nread b\nfork');
    if (!zeroRead(tr, 3)) { ctx.skip(NO_ZERO); return; }
    expect(tr.steps[4].pages!['1'].b[0][0]).toBe('P');
  });
});

describe('live: MREMAP_DONTUNMAP of part of a VMA', () => {
  // e and f merge into one VMA; e moves and the range left behind, g, stays part of it
  const body = 'mmap e pages=1 kind=anon\nmmap f pages=1 kind=anon after=e\nmremap e dontunmap old=g\nread f';
  it('leaves the VMA whole: a write to the old range gives it an anon_vma and fork copies the zero page of the rest', async (ctx) => {
    const { tr } = await run(`${body}\nwrite g\nfork`);
    if (!zeroRead(tr, 3, 'f')) { ctx.skip(NO_ZERO); return; }
    expect(tr.steps[5].pages!['1'].f[0][0]).toBe('P');
  });
  it('without the write the VMA has no anon_vma: fork copies nothing', async (ctx) => {
    const { tr } = await run(`${body}\nfork`);
    if (!zeroRead(tr, 3, 'f')) { ctx.skip(NO_ZERO); return; }
    expect(tr.steps[4].pages!['1'].f[0][0]).toBe('.');
  });
});
