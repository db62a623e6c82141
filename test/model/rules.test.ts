// Each rule of the reference model pinned by a scenario. Expected bits are stated from the kernel's
// behaviour (x86-semantics.md rule text, the selftests, and the live 6.18.44 observations of §15),
// written here by hand as `PSFEWD` strings: P present, S swapped, F file, E exclusive, W uffd-wp,
// D soft-dirty; `.` is 0.
import { describe, expect, it } from 'vitest';
import { predict } from '../../src/model/model.ts';
import { parseTextCase } from '../../src/ops/text.ts';
import type { Prediction } from '../../src/model/api.ts';

function run(body: string, uffd?: string): Prediction {
  const text = `ptefarm-case/1\n${uffd !== undefined ? `uffd features=${uffd}\n` : ''}${body.trim().split('\n').map((l) => l.trim()).join('\n')}\n`;
  return predict(parseTextCase(text));
}
/** bits of one page after step `step` */
const bits = (p: Prediction, step: number, region: string, page: number, proc = 0) => p.steps[step].pages[String(proc)]?.[region]?.[page];
const all = (p: Prediction, step: number, region: string, proc = 0) => p.steps[step].pages[String(proc)]?.[region];

describe('pagemap observation (R-PM-*)', () => {
  it('R-PM-1/R-MMAP-1: untouched pages of a new VMA read soft-dirty from VM_SOFTDIRTY, nothing else', () => {
    const p = run('mmap a pages=2 kind=anon');
    expect(all(p, 0, 'a')).toEqual(['.....D', '.....D']);
  });
  it('R-PM-1/R-MUNMAP-1: an unmapped page inside a region is a gap: all zero', () => {
    const p = run('mmap a pages=2 kind=anon\nmunmap a[1]');
    expect(all(p, 1, 'a')).toEqual(['.....D', '......']);
  });
  it('R-PM-3/R-WP-3: WRITEPROTECT of an unpopulated anon page (WP_ASYNC) reads present=0 swap=1 wp=1 (§15)', () => {
    const p = run('mmap a pages=1 kind=anon\nclear_refs value=4\nuffd_register a\nwp a on', 'wp_async');
    expect(bits(p, 2, 'a', 0)).toBe('......'); // registration touches nothing (R-REG-1)
    expect(bits(p, 3, 'a', 0)).toBe('.S..W.');
  });
  it('R-PM-4/R-FORK-7: after fork both copies read exclusive=0; after the parent\'s CoW both read 1 again (§15)', () => {
    const p = run('mmap a pages=1 kind=anon\nwrite a\nfork\nwrite a');
    expect(bits(p, 2, 'a', 0, 0)).toBe('P....D');
    expect(bits(p, 2, 'a', 0, 1)).toBe('P....D');
    expect(bits(p, 3, 'a', 0, 0)).toBe('P..E.D');
    expect(bits(p, 3, 'a', 0, 1)).toBe('P..E.D');
  });
  it('R-PM-5: shmem pages are file pages; a CoW copy in a private memfd mapping is anon', () => {
    const p = run('mmap a pages=1 kind=memfd-private\nread a\nwrite a');
    expect(bits(p, 1, 'a', 0)).toBe('P.FE.D');
    expect(bits(p, 2, 'a', 0)).toBe('P..E.D');
  });
});

describe('faults and clear_refs', () => {
  it('R-FLT-1: anon read maps the zero page: present, not exclusive, clean PTE', () => {
    const p = run('mmap a pages=1 kind=anon\nclear_refs value=4\nread a');
    expect(bits(p, 2, 'a', 0)).toBe('P.....');
  });
  // A host whose kernel maps no zero page on read faults (a boot option; sysfs use_zero_page still
  // reads 1) records it per read as the `zero` outcome; the model follows it.
  const noZero = (body: string, reads: Record<number, Record<string, number[]>>, huge: Record<number, Record<string, number[]>> = {}) => {
    const c = parseTextCase(`ptefarm-case/1\n${body.trim().split('\n').map((l) => l.trim()).join('\n')}\n`);
    return predict(c, c.ops.map((_, i) => ({ outcome: { huge: huge[i] ?? {}, swapped_out: {}, ...(reads[i] ? { zero: reads[i] } : {}) } })));
  };
  it('R-FLT-1A: with no zero page, an anon read fault maps a fresh exclusive page, dirty (soft-dirty) when the VMA is writable', () => {
    const p = noZero('mmap a pages=2 kind=anon\nclear_refs value=4\nread a\nfork', { 2: { a: [] } });
    expect(all(p, 2, 'a')).toEqual(['P..E.D', 'P..E.D']);
    // the page is anon memory now: fork shares it (not exclusive in either process)
    expect(all(p, 3, 'a', 1)).toEqual(['P....D', 'P....D']);
    // the same case where the kernel maps the zero page (R-FLT-1): not exclusive, clean
    const z = noZero('mmap a pages=2 kind=anon\nclear_refs value=4\nread a', { 2: { a: [0, 1] } });
    expect(all(z, 2, 'a')).toEqual(['P.....', 'P.....']);
  });
  it('R-FLT-1A: in a read-only VMA the fresh page is neither writable nor dirty (pte_mkdirty only with VM_WRITE)', () => {
    const p = noZero('mmap a pages=1 kind=anon\nmprotect a prot=r\nclear_refs value=4\nread a', { 3: { a: [] } });
    expect(bits(p, 3, 'a', 0)).toBe('P..E..');
  });
  it('R-FLT-2A: with no huge zero page, a THP read fault maps a THP whose PMD is dirty: all 512 pages exclusive and soft-dirty', () => {
    const p = noZero('mmap a pages=512 kind=anon thp\nclear_refs value=4\nread a[0]', { 2: { a: [] } }, { 2: { a: [0] } });
    expect(new Set(all(p, 2, 'a'))).toEqual(new Set(['P..E.D']));
    expect(p.steps[2].rules).toContain('R-FLT-2A');
  });
  it('a read without a recorded `zero` outcome: the zero page is inferred from the observed exclusive bit, and said', () => {
    const c = parseTextCase('ptefarm-case/1\nmmap a pages=2 kind=anon\nread a\n');
    const p = predict(c, [{ outcome: {} }, { outcome: {}, pages: { 0: { a: ['P..E.?', 'P....?'] } } }]);
    expect(all(p, 1, 'a')).toEqual(['P..E.D', 'P....D']);
    expect(p.assumptions.join(' ')).toMatch(/inferred .* step 1/);
  });
  it('R-PO-0: MADV_PAGEOUT leaves a shmem THP alone while another process maps it too (folio_maybe_mapped_shared; found by the live host matrix)', () => {
    // after fork, p0 collapses the page cache into a THP and maps it by PMD; p1's table is retracted
    // and its write maps the same THP by PMD: two mappings, so p0's pageout skips the folio
    const p = run('mmap b pages=512 kind=shared-anon thp\nwrite b\nfork\ncollapse b\np1 write b\npageout b');
    expect(new Set(all(p, 5, 'b'))).toEqual(new Set(['P.F..D']));
    expect(p.steps[5].rules).toContain('R-PO-0');
  });
  it('R-FLT-6/R-CR-2 (S-SD-SIMPLE): write sets soft-dirty, clear resets it, the next write sets it again', () => {
    const p = run('mmap a pages=1 kind=anon\nwrite a\nclear_refs value=4\nwrite a\nclear_refs value=4');
    expect(bits(p, 1, 'a', 0)).toBe('P..E.D');
    expect(bits(p, 2, 'a', 0)).toBe('P..E..');
    expect(bits(p, 3, 'a', 0)).toBe('P..E.D');
    expect(bits(p, 4, 'a', 0)).toBe('P..E..');
  });
  it('R-CR-0: clear_refs 1, 2, 3 and 5 change nothing pagemap shows', () => {
    const p = run('mmap a pages=1 kind=anon\nwrite a\nclear_refs value=1\nclear_refs value=2\nclear_refs value=3\nclear_refs value=5');
    for (const s of [2, 3, 4, 5]) expect(bits(p, s, 'a', 0)).toBe('P..E.D');
  });
  it('R-FLT-3: a shmem read maps a page-cache page (file, exclusive) with a clean PTE', () => {
    const p = run('mmap a pages=1 kind=memfd-shared\nclear_refs value=4\nread a');
    expect(bits(p, 2, 'a', 0)).toBe('P.FE..');
  });
  it('R-FLT-14: a write to a read-only page kills the process with SIGSEGV', () => {
    const p = run('mmap a pages=1 kind=anon\nmprotect a prot=r\nwrite a');
    expect(p.steps[2].rc).toBe('SIGSEGV');
    expect(p.steps[2].pages['0']).toBeUndefined();
  });
  it('R-MPROT-2: PROT_NONE pages stay present (§15)', () => {
    const p = run('mmap a pages=1 kind=anon\nwrite a\nmprotect a prot=none');
    expect(bits(p, 2, 'a', 0)).toBe('P..E.D');
  });
});

describe('userfaultfd write-protect', () => {
  it('R-FLT-12: reading a marker maps the zero page keeping wp=1 (§15)', () => {
    const p = run('mmap a pages=1 kind=anon\nuffd_register a\nwp a on\nread a', 'wp_async');
    expect(bits(p, 3, 'a', 0)).toBe('P...WD');
  });
  it('R-ASYNC-1: an async write to a marker clears wp and leaves an exclusive dirty page (§15)', () => {
    const p = run('mmap a pages=1 kind=anon\nuffd_register a\nwp a on\nwrite a', 'wp_async');
    expect(bits(p, 3, 'a', 0)).toBe('P..E.D');
    expect(p.steps[3].events).toEqual([]);
  });
  it('R-SYNC-1: a sync write to a wp page raises one wp fault event and completes (W=0 after)', () => {
    const p = run('mmap a pages=2 kind=anon\nuffd_register a\nwrite a\nwp a on\nwrite a[1]', '');
    expect(p.steps[4].events).toEqual([{ kind: 'wp_fault', proc: 0, region: 'a', page: 1 }]);
    expect(all(p, 4, 'a')).toEqual(['P..EWD', 'P..E.D']);
  });
  it('R-WP-3: without WP_UNPOPULATED, write-protect of anon none installs nothing', () => {
    const p = run('mmap a pages=1 kind=anon\nuffd_register a\nwp a on', '');
    expect(bits(p, 2, 'a', 0)).toBe('.....D');
  });
  it('R-WP-3: shmem none always gets a marker, even without WP_UNPOPULATED', () => {
    const p = run('mmap a pages=1 kind=memfd-shared\nuffd_register a\nwp a on', '');
    expect(bits(p, 2, 'a', 0)).toBe('.S..WD');
  });
  it('R-WP-0 (B-20): write-protect of a page outside the registered part fails with ENOENT', () => {
    const p = run('mmap a pages=3 kind=anon\nuffd_register a[1..3)\nwp a[0] on\nwp a[1..3) on', 'wp_async');
    expect(p.steps[2].rc).toBe('ENOENT');
    expect(p.steps[3].rc).toBe(0);
    expect(all(p, 3, 'a')).toEqual(['.....D', '.S..WD', '.S..WD']);
  });
  it('R-DN-1: MADV_DONTNEED of an anon marker drops it (§15, S-UFFD-WPUNPOP)', () => {
    const p = run('mmap a pages=1 kind=anon\nuffd_register a\nwp a on\ndontneed a', 'wp_async');
    expect(bits(p, 3, 'a', 0)).toBe('.....D');
  });
  it('R-DN-2/R-FLT-12: MADV_DONTNEED of a wp memfd page leaves a marker; the refault keeps wp (§15)', () => {
    const p = run('mmap a pages=1 kind=memfd-shared\nuffd_register a\nwrite a\nwp a on\ndontneed a\nread a', 'wp_async');
    expect(bits(p, 4, 'a', 0)).toBe('.S..WD');
    expect(bits(p, 5, 'a', 0)).toBe('P.FEWD');
  });
  it('R-PO-2: shmem pageout leaves a marker for a wp page and plain none otherwise (§15)', () => {
    const p = run('mmap a pages=2 kind=memfd-shared\nwrite a\nuffd_register a\nwp a[0] on\npageout a', 'wp_async');
    expect(all(p, 4, 'a')).toEqual(['.S..WD', '.....D']);
  });
  it('R-PO-1/R-SWIN-1: anon swap-out keeps wp and soft-dirty; swap-in restores them', () => {
    const p = run('mmap a pages=1 kind=anon\nclear_refs value=4\nwrite a\nuffd_register a\nwp a on\npageout a\nread a', 'wp_async');
    expect(bits(p, 5, 'a', 0)).toBe('.S..WD');
    expect(bits(p, 6, 'a', 0)).toBe('P..EWD');
  });
  it('R-UNREG-1: unregister clears wp bits and removes markers (§15 close() observation, same path)', () => {
    const p = run('mmap a pages=2 kind=anon\nuffd_register a\nwrite a[0]\nwp a on\nuffd_unregister a', 'wp_async');
    expect(all(p, 4, 'a')).toEqual(['P..E.D', '.....D']);
  });
  it('R-FORK-1/3/5: fork without EVENT_FORK: child present wp 0, marker gone, swap wp 0 (§15)', () => {
    const p = run('mmap a pages=3 kind=anon\nuffd_register a\nwrite a[0..2)\nwp a on\npageout a[1]\nfork', 'wp_async');
    expect(all(p, 5, 'a', 0)).toEqual(['P...WD', '.S..WD', '.S..WD']);
    expect(all(p, 5, 'a', 1)).toEqual(['P....D', '.S...D', '.....D']);
  });
  it('R-FORK-1: with EVENT_FORK the child keeps wp bits and markers, and a fork event is delivered', () => {
    const p = run('mmap a pages=2 kind=anon\nuffd_register a\nwrite a[0]\nwp a on\nfork', 'wp_async,event_fork');
    expect(all(p, 4, 'a', 1)).toEqual(['P...WD', '.S..WD']);
    expect(p.steps[4].events).toEqual([{ kind: 'fork', proc: 0, child: 1 }]);
  });
  it('R-FORK-2: shared anon and zero-page-only anon VMAs are not copied at fork (§15)', () => {
    const p = run('mmap a pages=1 kind=shared-anon\nwrite a\nmmap b pages=1 kind=anon\nread b\nfork');
    expect(bits(p, 4, 'a', 0, 1)).toBe('.....D');
    expect(bits(p, 4, 'b', 0, 1)).toBe('.....D');
    expect(bits(p, 4, 'a', 0, 0)).toBe('P.FE.D');
  });
  it('R-MRM-6: mremap without EVENT_REMAP: present wp -> 0, swap wp -> 0, marker -> none (§15, uffd-wp-mremap)', () => {
    const p = run('mmap a pages=3 kind=anon\nuffd_register a\nwrite a[0..2)\nwp a on\npageout a[1]\nmremap a', 'wp_async');
    expect(all(p, 5, 'a')).toEqual(['P..E.D', '.S...D', '.....D']);
  });
  it('R-MRM-6E/R-MRM-1: with EVENT_REMAP the marker moves, keeps wp, and gains the soft-dirty bit', () => {
    const p = run('mmap a pages=1 kind=anon\nclear_refs value=4\nuffd_register a\nwp a on\nmremap a', 'wp_async,event_remap');
    expect(bits(p, 4, 'a', 0)).toBe('.S..WD');
    expect(p.steps[4].events).toEqual([{ kind: 'remap', proc: 0, region: 'a', page: 0 }]);
  });
  it('R-MRM-9: MREMAP_DONTUNMAP leaves the old range mapped and empty', () => {
    const p = run('mmap a pages=1 kind=anon\nwrite a\nmremap a dontunmap old=o');
    expect(bits(p, 2, 'a', 0)).toBe('P..E.D');
    expect(bits(p, 2, 'o', 0)).toBe('.....D');
  });
  it('R-MRM-9 (mm/mremap.c move_vma, dontunmap_complete): MREMAP_DONTUNMAP of part of a VMA splits nothing, so the range left behind and the rest stay one VMA: a write to the old range gives that VMA an anon_vma, and fork copies the zero-page PTE of the rest (vma_needs_copy); measured on 6.18.44 (live campaign seed 51)', () => {
    // e and f merge into one VMA; e moves, the VMA [g f] stays
    const body = 'mmap e pages=1 kind=anon\nmmap f pages=1 kind=anon after=e\nmremap e dontunmap old=g\nread f';
    const p = run(`${body}\nwrite g\nfork`);
    expect(bits(p, 5, 'f', 0, 1)).toBe('P....D');
    expect(bits(p, 5, 'g', 0, 1)).toBe('P....D');
    // no write to the old range: the VMA has no anon_vma and fork copies nothing (R-FORK-2)
    expect(bits(run(`${body}\nfork`), 4, 'f', 0, 1)).toBe('.....D');
  });
  it('R-MRM-7: mremap growth in place does not set VM_SOFTDIRTY', () => {
    const p = run('mmap a pages=1 kind=anon\nclear_refs value=4\nmremap a pages=2 move=false');
    expect(all(p, 2, 'a')).toEqual(['......', '......']);
  });
  it('R-MRM-10: growing in place into a neighbour fails with ENOMEM and the region keeps its size', () => {
    const p = run('mmap a pages=1 kind=anon\nmmap b pages=1 kind=anon thp after=a\nmremap a pages=2 move=false');
    expect(p.steps[2].rc).toBe('ENOMEM');
    expect(all(p, 2, 'a')).toEqual(['.....D']);
  });
});

describe('soft-dirty through mprotect, merges and mremap', () => {
  it('R-MPROT-3 (S-SD-MPROT-anon): write 1, clear 0, mprotect RO 0, RW 0, write 1', () => {
    const p = run('mmap a pages=1 kind=anon\nwrite a\nclear_refs value=4\nmprotect a prot=r\nmprotect a prot=rw\nwrite a');
    expect([1, 2, 3, 4, 5].map((s) => bits(p, s, 'a', 0)[5])).toEqual(['D', '.', '.', '.', 'D']);
  });
  it('R-MERGE-1 (sticky, 6.18): a cleared VMA merging with a flagged one makes both soft-dirty', () => {
    const p = run('mmap a pages=2 kind=anon\nmprotect a[1] prot=r\nclear_refs value=4\nmmap b pages=1 kind=anon after=a\nmprotect a[1] prot=rw');
    expect(all(p, 3, 'a')).toEqual(['......', '......']);
    expect(all(p, 4, 'a')).toEqual(['.....D', '.....D']);
    expect(all(p, 4, 'b')).toEqual(['.....D']);
  });
  it('R-MERGE-3 (mm/mprotect.c mprotect_fixup, vma_modify_flags): an mprotect over an unchanged VMA and a changed one merges the changed one with its prev AND its next (measured on 6.18: fault-around then maps the page cache across all three)', () => {
    // a[1] PROT_NONE splits a in three; mprotect a[..2) rw leaves a[0] alone (flags unchanged) and
    // merges a[1] back with a[0] and a[2]: a read fault at a[0] in the child maps, by fault-around,
    // the page-cache page a[2] that the parent's private write created (do_cow_fault -> shmem_fault)
    const p = run('mmap a pages=3 kind=memfd-private\nmprotect a[1] prot=none\nmprotect a[..2) prot=rw\nfork\nwrite a[2]\np1 read a[0]');
    expect(bits(p, 5, 'a', 2, 1)?.[0]).toBe('P');
    // a range of two changed VMAs merges with the VMA after them too: one VMA again, so a resizing
    // mremap (whose old range must lie in one VMA, vma_to_resize / check_prep_vma) succeeds
    const q = run('mmap a pages=4 kind=anon\nmprotect a[1] prot=r\nmprotect a[2] prot=none\nmprotect a[1..3) prot=rw\nmremap a pages=5');
    expect(q.steps[4].rc).toBe(0);
  });
  it('R-MERGE-3 with vm_pgoff (mm/vma.c copy_vma, can_vma_merge_after): an anonymous VMA moved by mremap after its first fault keeps its pgoff and no longer merges with a moved unfaulted neighbour; unfaulted, both take their new address and merge (measured on 6.18: the resizing mremap after the move returns EFAULT only in the first case)', () => {
    // a split in two by a register of a[0]; the child (no EVENT_FORK) loses the registration, so
    // the two VMAs differ only by the split. Moved together (same-size MREMAP_FIXED, remap_move),
    // they merge at the destination when their pgoffs continue; a resize needs one VMA
    const split = 'mmap a pages=2 kind=anon\nuffd_register a[0]\nfork';
    const oneFaulted = run(`${split}\np1 write a[0]\np1 mremap a\np1 mremap a pages=3 move=false`, '');
    expect(oneFaulted.steps[5].rc).toBe('EFAULT');
    const noneFaulted = run(`${split}\np1 mremap a\np1 mremap a pages=3 move=false`, '');
    expect(noneFaulted.steps[4].rc).toBe(0);
    // both faulted: a[1]'s first fault reuses a[0]'s anon_vma (find_mergeable_anon_vma) and both
    // keep pgoffs that continue
    const bothFaulted = run(`${split}\np1 write a[0..2)\np1 mremap a\np1 mremap a pages=3 move=false`, '');
    expect(bothFaulted.steps[5].rc).toBe(0);
  });
  it('R-MERGE-3 with anon_vma (mm/vma.c is_mergeable_anon_vma, vma_had_uncowed_parents): a VMA whose anon_vma chain a fork cloned takes no VMA without an anon_vma; in the parent the same mmap merges (measured on 6.18.44: the next fork copies the new page only from the parent)', () => {
    // the new VMA's zero page is copied by fork only as part of a VMA with an anon_vma (vma_needs_copy)
    const child = run('mmap a pages=1 kind=anon\nwrite a\nfork\np1 mmap b pages=1 kind=anon after=a\np1 read b\np1 fork');
    expect(bits(child, 5, 'b', 0, 2)).toBe('.....D');
    const parent = run('mmap a pages=1 kind=anon\nwrite a\nmmap b pages=1 kind=anon after=a\nread b\nfork');
    expect(bits(parent, 4, 'b', 0, 1)).toBe('P....D');
    // the campaign's shape (README campaign, seed 4): the anon_vma came from a guard install
    const guarded = predict(parseTextCase('ptefarm-case/2\nmmap a pages=1 kind=anon\nguard a\nfork\np1 mmap b pages=1 kind=anon after=a\np1 read b\np1 fork\n'));
    expect(bits(guarded, 5, 'b', 0, 2)).toBe('.....D.');
  });
  it('R-MERGE-3 on (un)register (fs/userfaultfd.c userfaultfd_unregister/_register skip VMAs whose registration does not change; vma_modify_flags_uffd merges a changed one with its prev and next at once): an unregister over an unregistered VMA and a registered one merges all three (measured on 6.18: the resize after it succeeds)', () => {
    // a[1..3) registered, a[2] unregistered again: three VMAs, the middle one registered. Unregistering
    // a[0..2) changes only a[1], which merges with a[0] and a[2]: one VMA, so a resize succeeds
    const p = run('mmap a pages=3 kind=memfd-shared\nuffd_register a[1..3)\nuffd_unregister a[2]\nuffd_unregister a[..2)\nmremap a pages=4 move=false', '');
    expect(p.steps[4].rc).toBe(0);
    // the same for a register over a registered VMA and an unregistered one between two registered
    const q = run('mmap a pages=3 kind=memfd-shared\nuffd_register a\nuffd_unregister a[1]\nuffd_register a[..2)\nmremap a pages=4 move=false', '');
    expect(q.steps[4].rc).toBe(0);
  });
  it('R-MMAP-1: an mmap merging into a cleared neighbour flags the whole merged VMA', () => {
    const p = run('mmap a pages=1 kind=anon\nwrite a\nclear_refs value=4\nmmap b pages=1 kind=anon after=a');
    expect(bits(p, 3, 'a', 0)).toBe('P..E.D');
  });
  it('R-MRM-1: a per-entry mremap move makes the moved PTE soft-dirty', () => {
    const p = run('mmap a pages=1 kind=anon\nwrite a\nclear_refs value=4\nmremap a');
    expect(bits(p, 3, 'a', 0)).toBe('P..E.D');
  });
  it('R-MRM-3 (§14.1): relinking a whole 2 MiB page table keeps PTEs clean', () => {
    const p = run('mmap a pages=512 kind=anon\nwrite a\nclear_refs value=4\nmremap a');
    expect(new Set(all(p, 3, 'a'))).toEqual(new Set(['P..E..']));
  });
});

describe('THP', () => {
  it('R-FLT-2: a read in a THP region maps the huge zero page: present, file=1 on 6.18, not exclusive (§15)', () => {
    const p = run('mmap a pages=512 kind=anon thp\nclear_refs value=4\nread a[7]');
    expect(new Set(all(p, 2, 'a'))).toEqual(new Set(['P.F...']));
    expect(p.steps[2].outcome.huge).toEqual({ a: [0] });
  });
  it('R-FLT-7 (6.18): writing the huge zero page allocates a THP: all 512 pages exclusive and soft-dirty (§15)', () => {
    const p = run('mmap a pages=512 kind=anon thp\nread a[0]\nclear_refs value=4\nwrite a[9]');
    expect(new Set(all(p, 3, 'a'))).toEqual(new Set(['P..E.D']));
  });
  it('R-FLT-9 (S-SD-THP): after clear, a 1-byte write to a THP makes all 512 pages soft-dirty', () => {
    const p = run('mmap a pages=512 kind=anon thp\nwrite a\nclear_refs value=4\nwrite a[0]');
    expect(new Set(all(p, 2, 'a'))).toEqual(new Set(['P..E..']));
    expect(new Set(all(p, 3, 'a'))).toEqual(new Set(['P..E.D']));
  });
  it('R-WP-5/R-ASYNC-2: a wp THP stays huge; an async write splits it and un-protects only that page (§15)', () => {
    const p = run('mmap a pages=512 kind=anon thp\nwrite a\nuffd_register a\nwp a on\nwrite a[3]\nscan a[0..2)', 'wp_async');
    expect(new Set(all(p, 3, 'a'))).toEqual(new Set(['P..EWD']));
    const after = all(p, 4, 'a');
    expect(after[3]).toBe('P..E.D');
    expect(after.filter((s) => s === 'P..EWD')).toHaveLength(511);
    expect(p.steps[5].scan!['0'].a[0]).not.toContain('h'); // no longer HUGE
  });
  it('R-WP-5: a partial write-protect splits the THP and protects only the range (§15)', () => {
    const p = run('mmap a pages=512 kind=anon thp\nwrite a\nuffd_register a\nwp a[10] on', 'wp_async');
    const after = all(p, 3, 'a');
    expect(after[10]).toBe('P..EWD');
    expect(after.filter((s) => s === 'P..E.D')).toHaveLength(511);
  });
  it('R-COL-1: MADV_COLLAPSE with a wp PTE fails with EINVAL and changes nothing (§15)', () => {
    const p = run('mmap a pages=512 kind=anon thp\nwrite a\nsplit a page=0\nuffd_register a\nwp a[1] on\ncollapse a\nwp a[1] off\ncollapse a', 'wp_async');
    expect(p.steps[5].rc).toBe('EINVAL');
    expect(bits(p, 5, 'a', 1)).toBe('P..EWD');
    expect(p.steps[7].rc).toBe(0);
    expect(p.steps[7].outcome.huge).toEqual({ a: [0] });
  });
  it('R-SPLIT-5: pageout of half a THP with one written byte: folio split, zero subpages become the zero page (§15)', () => {
    const p = run('mmap a pages=512 kind=anon thp\nwrite a[0]\npageout a[0..256)');
    const after = all(p, 2, 'a');
    expect(after[0]).toBe('.S...D'); // the written page is swapped out
    expect(new Set(after.slice(1))).toEqual(new Set(['P....D'])); // zero page: present, not exclusive
    expect(p.steps[2].outcome.swapped_out).toEqual({ a: [0] });
  });
});

describe('PAGEMAP_SCAN through the model', () => {
  it('plain scan of a written page in an async-registered VMA: WPALLOWED WRITTEN PRESENT SOFT_DIRTY', () => {
    const p = run('mmap a pages=2 kind=anon\nuffd_register a\nwrite a[0]\nscan a', 'wp_async');
    expect(p.steps[3].scan).toEqual({ 0: { a: ['aw.p...d.', 'aw.....d.'] } });
  });
  it('R-PMS-1: CHECK_WPASYNC on an unregistered VMA fails with EPERM (§15)', () => {
    const p = run('mmap a pages=1 kind=anon\nwrite a\nscan a wp_matching');
    expect(p.steps[2].rc).toBe('EPERM');
  });
  it('wp_matching re-arms written pages: W=1 afterwards and a second scan finds nothing (S-PMS-ITER)', () => {
    const p = run('mmap a pages=1 kind=anon\nuffd_register a\nwrite a\nscan a wp_matching\nscan a wp_matching', 'wp_async');
    expect(p.steps[3].scan!['0'].a[0][1]).toBe('w');
    expect(bits(p, 3, 'a', 0)).toBe('P..EWD');
    expect(p.steps[4].scan!['0'].a[0]).toBe('---------');
  });
});

// MADV_POPULATE_READ / MADV_POPULATE_WRITE (mm/madvise.c madvise_populate -> mm/gup.c
// faultin_page_range -> __get_user_pages with FOLL_MADV_POPULATE). Each expectation below was also
// observed on the live 6.18 kernel (test/targets/live.test.ts states the same scenarios there).
describe('MADV_POPULATE (R-POP-*)', () => {
  it('R-POP-1 (madv_populate.c test_softdirty): populate read maps the zero page clean; populate write faults every page dirty', () => {
    const p = run('mmap a pages=2 kind=anon\nclear_refs value=4\npopulate a\npopulate a write');
    expect(p.steps.map((s) => s.rc)).toEqual([0, 0, 0, 0]);
    expect(all(p, 2, 'a')).toEqual(['P.....', 'P.....']); // R-FLT-1: zero page, not exclusive
    expect(all(p, 3, 'a')).toEqual(['P..E.D', 'P..E.D']); // R-FLT-7: write fault copies the zero page
    expect(p.steps[3].events).toEqual([]);
  });
  it('R-POP-1: populate read follows the recorded `zero` outcome like a read (a host without the zero page)', () => {
    const c = parseTextCase('ptefarm-case/1\nmmap a pages=2 kind=anon\nclear_refs value=4\npopulate a\n');
    const p = predict(c, [undefined, undefined, { outcome: { zero: { a: [] } } }]);
    expect(all(p, 2, 'a')).toEqual(['P..E.D', 'P..E.D']); // R-FLT-1A: fresh exclusive dirty pages
  });
  it('R-POP-2 (madv_populate.c test_holes): a page without a VMA stops the walk with ENOMEM; the pages before it are populated', () => {
    const p = run('mmap a pages=4 kind=anon\nmunmap a[2]\npopulate a write\npopulate a[3]');
    expect(p.steps[2].rc).toBe('ENOMEM');
    expect(all(p, 2, 'a')).toEqual(['P..E.D', 'P..E.D', '......', '.....D']);
    expect(p.steps[3].rc).toBe(0);
  });
  it('R-POP-2 (madv_populate.c test_prot_read): write needs VM_WRITE and read VM_READ, else EINVAL (never SIGSEGV)', () => {
    const p = run('mmap a pages=4 kind=anon\nmprotect a[2..4) prot=r\npopulate a write\nmprotect a[0] prot=none\npopulate a\npopulate a[2..4)');
    expect(p.steps[2].rc).toBe('EINVAL');
    expect(all(p, 2, 'a')!.map((s) => s.slice(0, 5))).toEqual(['P..E.', 'P..E.', '.....', '.....']);
    expect(p.steps[4].rc).toBe('EINVAL'); // page 0 is PROT_NONE: nothing populated
    expect(p.steps[5].rc).toBe(0);
    expect(all(p, 5, 'a')!.map((s) => s.slice(0, 5))).toEqual(['P..E.', 'P..E.', 'P....', 'P....']);
  });
  it('R-POP-2: past the end of a shared anon object the fault fails: EFAULT, and the process lives on', () => {
    const p = run('mmap a pages=2 kind=shared-anon\nmremap a pages=4 move=false\npopulate a\nwrite a[0]');
    expect(p.steps[2].rc).toBe('EFAULT');
    expect(all(p, 2, 'a')!.map((s) => s.slice(0, 5))).toEqual(['P.FE.', 'P.FE.', '.....', '.....']);
    expect(p.steps[3].rc).toBe(0);
  });
  it('R-POP-2/R-FLT-3A (mm/memory.c do_read_fault: do_fault_around before ->fault): a populate read past the end of a shared anon object maps its cached neighbours before shmem_fault fails with SIGBUS, so the call is EFAULT and the neighbours are mapped', () => {
    // the scenario the live kernel showed (6.18, a README campaign of 2026-12-07): the child's
    // MADV_POPULATE_READ of a[2], past the 2-page object, maps a[1] that the parent wrote
    const p = run('mmap a pages=2 kind=shared-anon\nmremap a pages=3 move=false\nfork\nwrite a[1]\np1 populate a[2]');
    expect(p.steps[4].rc).toBe('EFAULT');
    expect(all(p, 4, 'a', 1)!.map((s) => s.slice(0, 5))).toEqual(['.....', 'P.F..', '.....']);
    // the page is mapped twice now: the parent's entry, exclusive after its write, is no longer
    expect(bits(p, 3, 'a', 1)!.slice(0, 5)).toBe('P.FE.');
    expect(all(p, 4, 'a')!.map((s) => s.slice(0, 5))).toEqual(['.....', 'P.F..', '.....']);
  });
  it('R-POP-3: a populate write on a sync wp page fails with EFAULT, raises no event and keeps wp', () => {
    const p = run('mmap a pages=2 kind=anon\nwrite a\nuffd_register a\nwp a on\npopulate a write', '');
    expect(p.steps[4].rc).toBe('EFAULT');
    expect(p.steps[4].events).toEqual([]);
    expect(all(p, 4, 'a')!.map((s) => s.slice(0, 5))).toEqual(['P..EW', 'P..EW']);
  });
  it('R-POP-3/R-FLT-12: a sync marker is populated (present, wp) before the populate write fails', () => {
    const p = run('mmap a pages=3 kind=anon\nuffd_register a\nwp a on\npopulate a[1..3) write', 'wp_unpopulated');
    expect(p.steps[3].rc).toBe('EFAULT');
    expect(all(p, 3, 'a')!.map((s) => s.slice(0, 5))).toEqual(['.S..W', 'P..EW', '.S..W']);
  });
  it('R-POP-1/R-ASYNC-1: with WP_ASYNC a populate write un-protects in place like a write', () => {
    const p = run('mmap a pages=3 kind=anon\nuffd_register a\nwp a on\npopulate a[1..3) write', 'wp_async');
    expect(p.steps[3].rc).toBe(0);
    expect(all(p, 3, 'a')!.map((s) => s.slice(0, 5))).toEqual(['.S..W', 'P..E.', 'P..E.']);
  });
  it('R-POP-1/R-SPLIT-5: a populate write stores nothing: a THP it faulted stays zero-filled and a folio split maps the zero page', () => {
    const pop = run('mmap a pages=512 kind=anon thp\npopulate a write\npageout a[0..4)');
    const wr = run('mmap a pages=512 kind=anon thp\nwrite a[0]\npageout a[0..4)');
    // a write stores data in page 0 only; a populate write stores none
    expect(all(pop, 2, 'a')!.every((s) => s.startsWith('P..') && s[3] === '.')).toBe(true);
    expect(bits(wr, 2, 'a', 0)!.slice(0, 4)).not.toBe('P...');
    expect(bits(wr, 2, 'a', 1)!.slice(0, 4)).toBe('P...');
  });
  it('R-POP-4: a populate write through a writable PTE changes nothing; through a writable PMD it dirties it', () => {
    const p = run('mmap a pages=2 kind=anon\nwrite a\npopulate a write');
    expect(all(p, 2, 'a')).toEqual(all(p, 1, 'a'));
    expect(p.steps[2].rules).toContain('R-POP-4');
    const h = run('mmap a pages=512 kind=anon thp\nwrite a\npopulate a[3] write');
    expect(all(h, 2, 'a')).toEqual(all(h, 1, 'a')); // the PMD stays whole and writable
    expect(h.steps[2].rules).toContain('R-POP-4');
  });
});

// close() of a userfaultfd (fs/userfaultfd.c userfaultfd_release -> mm/userfaultfd.c
// userfaultfd_release_all / userfaultfd_clear_vma); the same scenarios run live in
// test/targets/live.test.ts.
describe('close of the userfaultfd (R-CLOSE-1)', () => {
  it('R-CLOSE-1: closing resets wp bits and markers (6.9+) and unregisters; later ioctls fail with EBADF', () => {
    const p = run('mmap a pages=4 kind=anon\nuffd_register a\nwrite a[0..2)\nwp a on\nclose_uffd\nwp a on\nclose_uffd\nuffd_register a', 'wp_unpopulated');
    expect(all(p, 3, 'a')!.map((s) => s.slice(0, 5))).toEqual(['P..EW', 'P..EW', '.S..W', '.S..W']);
    expect(all(p, 4, 'a')!.map((s) => s.slice(0, 5))).toEqual(['P..E.', 'P..E.', '.....', '.....']);
    expect(p.steps.slice(4).map((s) => s.rc)).toEqual([0, 'EBADF', 'EBADF', 'EBADF']);
  });
  it('R-CLOSE-1: the VMA is no longer registered: a write after close takes no wp fault and a protected THP stays whole', () => {
    const p = run('mmap a pages=512 kind=anon thp\nwrite a\nuffd_register a\nwp a on\nclose_uffd\nwrite a[3]', '');
    expect(all(p, 4, 'a')!.every((s) => s.slice(0, 5) === 'P..E.')).toBe(true);
    expect(p.steps[5].events).toEqual([]);
    expect(p.steps[5].outcome.huge ?? {}).toEqual({});
  });
  it('R-CLOSE-1/R-UFFD-MM: a child using the inherited descriptor closes the parent\'s context; an EVENT_FORK child closes only its own', () => {
    const inherited = run('mmap a pages=2 kind=anon\nuffd_register a\nwrite a\nwp a on\nfork\np1 close_uffd\nwp a off', 'wp_async');
    expect(all(inherited, 5, 'a', 0)!.map((s) => s.slice(0, 5))).toEqual(['P....', 'P....']);
    expect(inherited.steps[6].rc).toBe('EBADF'); // process 0 used the same descriptor
    const own = run('mmap a pages=2 kind=anon\nuffd_register a\nwrite a\nwp a on\nfork\np1 close_uffd\np1 wp a on\nclose_uffd', 'event_fork,wp_async');
    expect(all(own, 5, 'a', 0)!.map((s) => s.slice(0, 5))).toEqual(['P...W', 'P...W']);
    expect(all(own, 5, 'a', 1)!.map((s) => s.slice(0, 5))).toEqual(['P....', 'P....']);
    expect(own.steps[6].rc).toBe('EBADF');
    expect(all(own, 7, 'a', 0)!.map((s) => s.slice(0, 5))).toEqual(['P....', 'P....']);
  });
  it('R-CLOSE-1: with the context\'s mm gone (process 0 exited) closing changes nothing and succeeds', () => {
    const p = run('mmap a pages=1 kind=anon\nuffd_register a\nwrite a\nwp a on\nfork\nexit\np1 close_uffd', 'wp_async');
    expect(p.steps[6].rc).toBe(0);
  });
  it('B-19: the mutant keeps wp bits and markers after close', () => {
    const c = parseTextCase('ptefarm-case/1\nuffd features=wp_async\nmmap a pages=2 kind=anon\nuffd_register a\nwrite a[0]\nwp a on\nclose_uffd\n');
    const m = predict(c, undefined, { mutant: 'B-19' });
    expect(all(m, 4, 'a')!.map((s) => s.slice(0, 5))).toEqual(['P..EW', '.S..W']);
  });
});

describe('MADV_POPULATE across kernel lines', () => {
  it('R-POP-2 (6.1 profile): madvise_walk_vmas skips a hole, populates the VMA after it and returns ENOMEM at the end', () => {
    const c = parseTextCase('ptefarm-case/1\nmmap a pages=4 kind=anon\nmunmap a[1]\npopulate a write\n');
    const old = predict(c, undefined, { profile: '6.1' });
    expect(old.steps[2].rc).toBe('ENOMEM');
    expect(all(old, 2, 'a')!.map((s) => s[0])).toEqual(['P', '.', 'P', 'P']);
    const now = predict(c, undefined, { profile: '6.12' });
    expect(now.steps[2].rc).toBe('ENOMEM');
    expect(all(now, 2, 'a')!.map((s) => s[0])).toEqual(['P', '.', '.', '.']);
  });
});

// Both seen on Debian's 6.1.192 guest (qemu:debian-6.1-amd64, `ptefarm matrix`): the 6.1 line
// before the multi-VMA UFFDIO_WRITEPROTECT, and after the stable backport of the mremap fix.
describe('uffd-wp on the 6.1 line', () => {
  it('R-WP-7 (6.1 profile): WRITEPROTECT over two VMAs is ENOENT and protects nothing (mm/userfaultfd.c mwriteprotect_range: find_dst_vma needs one VMA before 6.4)', () => {
    const c = parseTextCase('ptefarm-case/1\nuffd\nmmap a pages=3 kind=anon\nwrite a\nuffd_register a\nmprotect a[2] prot=r\nwp a on\nwp a[0..2) on\n');
    const old = predict(c, undefined, { profile: '6.1' });
    expect(old.steps[4].rc).toBe('ENOENT');
    expect(all(old, 4, 'a')!.map((s) => s[4])).toEqual(['.', '.', '.']);
    // a range inside one VMA is protected as on every kernel
    expect(old.steps[5].rc).toBe(0);
    expect(all(old, 5, 'a')!.map((s) => s[4])).toEqual(['W', 'W', '.']);
    const now = predict(c, undefined, { profile: '6.12' });
    expect(now.steps[4].rc).toBe(0);
    expect(all(now, 4, 'a')!.map((s) => s[4])).toEqual(['W', 'W', 'W']);
  });
  it('R-MRM-6 (6.1 profile): mremap without EVENT_REMAP clears the moved wp bits, as the stable backport of "mm: clear uffd-wp PTE/PMD state on mremap()" does (mm/mremap.c move_ptes)', () => {
    const c = parseTextCase('ptefarm-case/1\nuffd\nmmap a pages=1 kind=anon\nwrite a\nuffd_register a\nwp a on\nmremap a\n');
    for (const profile of ['6.1', '6.12']) {
      const p = predict(c, undefined, { profile });
      expect(bits(p, 3, 'a', 0)![4], profile).toBe('W');
      expect(bits(p, 4, 'a', 0)![4], profile).toBe('.');
    }
  });
});

// Seen live on 6.18 while the host's shmem_enabled was `advise`: reading page 670 of a 1024-page
// memfd with MADV_HUGEPAGE mapped pages 512..1023 by one PMD (outcome huge [512]); with `never` it
// mapped only the pages read (plus fault-around). The model follows the recorded outcome.
describe('shmem THP at fault time (R-FLT-3H)', () => {
  const withHuge = (text: string, huge: Record<number, Record<string, number[]>>) => {
    const c = parseTextCase(`ptefarm-case/1\n${text}\n`);
    return predict(c, c.ops.map((_, i) => ({ outcome: { huge: huge[i] ?? {}, swapped_out: {} } })));
  };
  it('a read whose outcome names the block maps the whole 2 MiB page-cache THP by PMD', () => {
    const p = withHuge('mmap e pages=1024 kind=memfd-shared thp\nread e[670..1024)', { 1: { e: [512] } });
    expect(all(p, 1, 'e')!.slice(0, 512).every((s) => s[0] === '.')).toBe(true);
    expect(all(p, 1, 'e')!.slice(512).every((s) => s.slice(0, 4) === 'P.FE')).toBe(true);
    expect(p.steps[1].rules).toContain('R-FLT-3H');
  });
  it('without a huge outcome (shmem_enabled never) only the pages read are mapped', () => {
    const p = withHuge('mmap e pages=1024 kind=memfd-shared thp\nread e[670..1024)', {});
    expect(all(p, 1, 'e')!.slice(512, 670).every((s) => s[0] === '.')).toBe(true);
    expect(p.steps[1].rules).not.toContain('R-FLT-3H');
  });
  it('a populate write of shared anon memory maps both blocks huge when the outcome says so', () => {
    const p = withHuge('mmap x pages=1024 kind=shared-anon thp\npopulate x[3..1024) write', { 1: { x: [0, 512] } });
    expect(all(p, 1, 'x')!.every((s) => s.slice(0, 4) === 'P.FE')).toBe(true);
  });
});

describe('region sizes follow the case plan', () => {
  it('R-MRM-10: an in-place growth that fails with EFAULT and is also blocked by a neighbour keeps the region size (the targets\' region tables follow the plan)', () => {
    const p = run('mmap d pages=5 kind=anon\nmmap x pages=4 kind=anon after=d\nmunmap d[..2)\nmremap d pages=8 move=false\nread d[2..]');
    expect(p.steps[3].rc).toBe('EFAULT'); // the old range does not start in a VMA
    expect(all(p, 3, 'd')).toHaveLength(5);
    expect(all(p, 4, 'x')!.map((s) => s[0])).toEqual(['.', '.', '.', '.']); // the read stayed in d
    const free = run('mmap d pages=5 kind=anon\nmunmap d[..2)\nmremap d pages=8 move=false');
    expect(free.steps[2].rc).toBe('EFAULT');
    expect(all(free, 2, 'd')).toHaveLength(8); // not blocked: the plan gives the new size
  });
});
