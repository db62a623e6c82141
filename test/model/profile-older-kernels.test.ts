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
