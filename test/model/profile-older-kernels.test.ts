// Two version differences a soft-dirty campaign on the QEMU guests found (seed 102 on
// qemu:debian-6.1-amd64, 2026-12-07; each 5/5, and the second also on debian-6.12-amd64):
//
// 1. mprotect of an unfaulted anonymous VMA to read-only (knob mprotectUnaccountsUnfaulted). Since
//    6.7 ("mm/mprotect: allow unfaulted VMAs to be unaccounted on mprotect()") mprotect_fixup drops
//    VM_ACCOUNT from a private anon VMA without anon_vma that loses VM_WRITE, so it no longer
//    merges with a faulted read-only neighbour, which keeps the flag. 6.1 keeps it: the VMAs merge,
//    and the merged VMA takes the flags of the one mprotect changed (R-MERGE-2), VM_SOFTDIRTY
//    included, so a page of the neighbour that clear_refs had cleaned reads soft-dirty again.
// 2. A moving mremap that shrinks a range whose first VMA is shorter than the new length (knob
//    mremapCheckBeforeShrink). 6.12 mremap_to (mm/mremap.c) unmaps [addr + new_len, addr + old_len)
//    first and only then vma_to_resize fails with EFAULT, the tail gone: a fork child's mremap
//    leaves its parent the only mapper of a page it shared (pagemap exclusive bit). 6.18.44 checks
//    the VMA first (check_prep_vma before shrink_vma) and unmaps nothing.
import { describe, expect, it } from 'vitest';
import { predict } from '../../src/model/model.ts';
import { parseTextCase } from '../../src/ops/text.ts';

const run = (body: string, profile: string) =>
  predict(parseTextCase(`ptefarm-case/1\n${body.trim().split('\n').map((l) => l.trim()).join('\n')}\n`), undefined, { profile });

describe('mprotect of an unfaulted anon VMA to read-only: VM_ACCOUNT kept before 6.7 (6.1)', () => {
  // the campaign's minimized case: d written and made read-only (it keeps VM_ACCOUNT), soft-dirty
  // cleared, e mapped right after it and made read-only
  const CASE = `mmap d pages=1 kind=anon
    write d
    mprotect d prot=r
    clear_refs value=4
    mmap e pages=1 kind=anon after=d
    mprotect e prot=r`;

  it('6.1: e keeps VM_ACCOUNT and merges into d, which takes its VM_SOFTDIRTY: d[0] reads soft-dirty', () => {
    const p = run(CASE, '6.1');
    expect(p.steps[4].pages['0'].d).toEqual(['P..E..']);
    expect(p.steps[5].pages['0'].d).toEqual(['P..E.D']);
    expect(p.steps[5].rules).toContain('R-MERGE-2');
  });

  it('6.12 and 6.18: e drops VM_ACCOUNT and stays a VMA of its own: d[0] stays clean', () => {
    for (const profile of ['6.12', '6.18']) expect(run(CASE, profile).steps[5].pages['0'].d).toEqual(['P..E..']);
  });
});

describe('a shrinking mremap whose first VMA is too short: the tail unmapped before the EFAULT until 6.16', () => {
  const CASE = `mmap b pages=7 kind=anon
    munmap b[1]
    populate b[6] write
    fork
    p1 mremap b pages=2`;

  for (const profile of ['6.1', '6.12']) {
    it(`${profile}: EFAULT after unmapping the child's b[2..7): the parent's b[6] is exclusive again`, () => {
      const p = run(CASE, profile);
      expect(p.steps[3].pages['0'].b[6]).toMatch(/^P\.\.\./);
      expect(p.steps[4].rc).toBe('EFAULT');
      expect(p.steps[4].pages['0'].b[6]).toMatch(/^P\.\.E/);
    });
  }

  it('6.18: EFAULT with nothing unmapped: the page stays shared', () => {
    const p = run(CASE, '6.18');
    expect(p.steps[4].rc).toBe('EFAULT');
    expect(p.steps[4].pages['0'].b[6]).toMatch(/^P\.\.\./);
  });
});

// Two more from the same campaign after the VM_ACCOUNT knob (seed 103 on qemu:debian-6.1-amd64):
// with VM_ACCOUNT equal, a faulted VMA next to an unfaulted one still does not merge into it before
// 6.16: is_mergeable_anon_vma(src anon_vma, prev->anon_vma, prev) sees prev's empty anon_vma_chain as
// not singular (mm/vma.c can_vma_merge_after, the same in 6.1 and 6.12), as for next (knob
// anonMergeIntoUnfaultedNext); and mremap growth in place merges the new range into the VMA and
// maybe its next, never the VMA into its own prev (mm/vma.c vma_merge_extend ->
// vma_merge_new_range; 6.1 vma_adjust merges nothing): measured on 6.1 and 6.12.118.
describe('merges beside an unfaulted VMA before 6.16', () => {
  it('6.1: a faulted page mprotect-ed to match its unfaulted read-only prev stays apart: prev stays clean', () => {
    const CASE = `mmap c pages=1 kind=anon
      mprotect c prot=r
      clear_refs value=4
      mmap d pages=2 kind=anon after=c
      write d[1]
      mprotect d[..1) prot=r`;
    expect(run(CASE, '6.1').steps[5].pages['0'].c).toEqual(['......']);
  });

  for (const profile of ['6.1', '6.12']) {
    it(`${profile}: an unfaulted VMA grown in place beside a faulted prev it did not merge with keeps its VM_SOFTDIRTY`, () => {
      const p = run(`mmap c pages=1 kind=anon
        write c
        mprotect c prot=r
        clear_refs value=4
        mmap d pages=1 kind=anon after=c
        mprotect c prot=rw
        mremap d pages=2 move=false`, profile);
      expect(p.steps[5].pages['0'].d).toEqual(['.....D']);
      expect(p.steps[6].pages['0'].d).toEqual(['.....D', '.....D']);
    });
  }
});

// Gap F of the same campaigns (seed 105 on qemu:debian-6.1-amd64, 5/5): a VMA that unregistering or
// closing a userfaultfd merged into its prev took, before 6.11, the flags of the VMA it unregistered
// (fs/userfaultfd.c userfaultfd_release / userfaultfd_unregister: userfaultfd_set_vm_flags(vma,
// new_flags) on what vma_merge returned), VM_SOFTDIRTY included; since "userfaultfd: move core VMA
// manipulation logic to mm/userfaultfd.c" (6.11) userfaultfd_set_ctx clears only __VM_UFFD_FLAGS of
// the merge target (knob uffdMergeKeepsTargetFlags). The unregister and register variants below
// also diverge from the old model on the 6.1 guest (2026-12-07) and agree with this one.
describe('a VMA merged by unregistering a userfaultfd: the unregistered VMA\'s flags before 6.11', () => {
  // c faulted, cleaned; d unfaulted (VM_SOFTDIRTY) after it does not merge into d's side before 6.16
  // (anonMergeIntoUnfaultedNext), registered, then unregistered: d merges into c
  const SETUP = `mmap c pages=1 kind=anon
    write c
    mprotect c prot=r
    clear_refs value=4
    mmap d pages=1 kind=anon after=c
    mprotect c prot=rw
    uffd_register d`;

  for (const last of ['close_uffd', 'uffd_unregister d']) {
    it(`6.1 (${last}): the merged VMA takes d's VM_SOFTDIRTY: c[0] and d[0] read soft-dirty`, () => {
      const p = run(`uffd\n${SETUP}\n${last}`, '6.1');
      expect(p.steps[6].pages['0'].c).toEqual(['P..E..']);
      expect(p.steps[7].pages['0'].c).toEqual(['P..E.D']);
      expect(p.steps[7].pages['0'].d).toEqual(['.....D']);
      expect(p.steps[7].rules).toContain('R-MERGE-2');
    });

    it(`6.12 (${last}): the merged VMA keeps c's flags: d[0] reads clean`, () => {
      for (const profile of ['6.12']) {
        const p = run(`uffd\n${SETUP}\n${last}`, profile);
        expect(p.steps[7].pages['0'].c).toEqual(['P..E..']);
        expect(p.steps[7].pages['0'].d).toEqual(['......']);
      }
    });
  }

  it('6.1 (uffd_register): registering d merges it into c, registered before it, with d\'s VM_SOFTDIRTY: c[0] reads soft-dirty; 6.12 keeps c\'s', () => {
    const CASE = `uffd
      mmap c pages=1 kind=anon
      write c
      mprotect c prot=r
      clear_refs value=4
      mmap d pages=1 kind=anon after=c
      uffd_register c
      mprotect c prot=rw
      uffd_register d`;
    expect(run(CASE, '6.1').steps[7].pages['0'].c).toEqual(['P..E.D']);
    expect(run(CASE, '6.12').steps[7].pages['0'].c).toEqual(['P..E..']);
  });
});

