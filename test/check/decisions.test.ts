// Hidden per-VMA decisions (src/check/decisions.ts): a wrong registration extent, fork gate or
// WP-allowed decision surfaces on whatever op looks next, and every such manifestation is bucketed
// by the decision. Each scenario states the kernel behaviour the reference follows; the "kernel"
// that got the decision wrong is a model mutant (its trace is the observed one, as from any target).
import { describe, expect, it } from 'vitest';
import type { Case } from '../../src/ops/schema.ts';
import { parseTextCase } from '../../src/ops/text.ts';
import { checkTrace } from '../../src/check/check.ts';
import { caseSignature, firstDivergence } from '../../src/findings/signature.ts';
import { caseTitle } from '../../src/findings/title.ts';
import { ModelTarget } from '../../src/targets/model.ts';

async function verdictOn(spec: string, text: string) {
  const c: Case = parseTextCase(text);
  const t = new ModelTarget(spec);
  const trace = await t.execute(c);
  const v = checkTrace(c, trace);
  return { c, v, sig: caseSignature(v.violations), title: caseTitle(v.violations, c), root: firstDivergence(v.violations)?.root };
}

describe('a hidden per-VMA decision is the bucket, whatever op shows it', () => {
  it('registration extent (R-REG-1): UFFDIO_REGISTER of a[1..3) splits the VMA and registers only that part (fs/userfaultfd.c userfaultfd_register); a kernel registering all of it is one bucket on UFFDIO_WRITEPROTECT and on PAGEMAP_SCAN alike', async () => {
    // mwriteprotect_range: -ENOENT on the unregistered a[0] (mm/userfaultfd.c)
    const wp = await verdictOn('model:x86+B-20', 'ptefarm-case/1\nuffd features=wp_async\nmmap a pages=3 kind=anon\nuffd_register a[1..3)\nwp a[0] on\n');
    expect(wp.root?.kind).toBe('rc');
    expect(wp.root?.decision).toBe('R-REG-1');
    expect(wp.sig).toBe('vma.registration.R-REG-1');
    expect(wp.title).toBe("contrary to the VMA's uffd-wp registration (R-REG-1, fs/userfaultfd.c userfaultfd_register): return code differs on UFFDIO_WRITEPROTECT");
    // pagemap_scan_test_walk: the unregistered part is not WPALLOWED
    const scan = await verdictOn('model:x86+B-20', 'ptefarm-case/1\nuffd features=wp_async\nmmap a pages=4 kind=anon\nuffd_register a[2..4)\nwrite a\nscan a\n');
    expect(scan.root?.kind).toBe('scan');
    expect(scan.sig).toBe('vma.registration.R-REG-1');
  });

  it('fork gate (R-FORK-1): without EVENT_FORK the child keeps neither the registration nor wp bits nor markers (fs/userfaultfd.c dup_userfaultfd); a kernel keeping them is one bucket for present PTEs and markers alike', async () => {
    const present = await verdictOn('model:x86+M-4', 'ptefarm-case/1\nuffd features=wp_async\nmmap a pages=2 kind=anon\nuffd_register a\nwrite a[0]\nwp a on\nfork\n');
    const marker = await verdictOn('model:x86+M-4', 'ptefarm-case/1\nuffd features=wp_async\nmmap a pages=2 kind=memfd-shared\nuffd_register a\nwp a on\nfork\n');
    expect(present.root?.entry).not.toBe(marker.root?.entry);
    expect(present.sig).toBe('vma.registration.R-FORK-1');
    expect(marker.sig).toBe(present.sig);
    expect(present.title).toMatch(/^contrary to the VMA's uffd-wp registration \(R-FORK-1, fs\/userfaultfd\.c dup_userfaultfd\): uffd-wp left set on fork/);
  });

  it('unregister (R-UNREG-1) and close (R-CLOSE-1) are the decision behind a wp bit they leave, also where the VMA they unregister merges with a neighbour a partial register had left unregistered (userfaultfd_clear_vma -> vma_modify_flags_uffd)', async () => {
    // B-18 leaves the wp bit of b[2]: the same bucket whether b was registered whole or in part
    // (before, the merged VMA's last decision was the neighbour's R-REG-1: two buckets of one root)
    const shape = (reg: string, end: string) => `ptefarm-case/1\nuffd\nmmap b pages=3 kind=shared-anon\nuffd_register ${reg}\nwrite b\nwp b[2] on\n${end}\n`;
    const whole = await verdictOn('model:x86+B-18', shape('b', 'uffd_unregister b'));
    const part = await verdictOn('model:x86+B-18', shape('b[2]', 'uffd_unregister b'));
    expect(whole.sig).toBe('vma.registration.R-UNREG-1');
    expect(part.sig).toBe(whole.sig);
    const closed = await verdictOn('model:x86+B-19', shape('b[2]', 'close_uffd'));
    expect(closed.sig).toBe('vma.registration.R-CLOSE-1');
    // a kernel getting the partial register's extent wrong (B-20) stays the register's
    const extent = await verdictOn('model:x86+B-20', shape('b[2]', 'uffd_unregister b').replace('wp b[2] on', 'wp b on'));
    expect(extent.sig).toBe('vma.registration.R-REG-1');
  });

  it('registration extent (R-REG-1) beyond the uffd ioctls: the VMA split UFFDIO_REGISTER makes (it zaps a shmem PMD mapping, __split_huge_pmd) and mremap\'s uffd-armed gate are the decision\'s too', async () => {
    // userfaultfd_register splits the VMA at the range start: a PMD-mapped shmem THP across it is
    // unmapped (R-REG-1's own effect); a kernel registering the whole VMA leaves it mapped
    const split = await verdictOn('model:x86+B-20', 'ptefarm-case/1\nuffd\nmmap a pages=512 kind=shared-anon thp\nwrite a\ncollapse a\nuffd_register a[300..512)\n');
    expect(split.root?.bit).toBe('P');
    expect(split.sig).toBe('vma.registration.R-REG-1');
    // mm/mremap.c: a uffd-armed VMA is moved only alone, covering the whole range (R-MRM-10,
    // measured on 6.18): the reference moves the unregistered a[0..2) and stops at a[2..4) with
    // EFAULT; a kernel that registered all of a refuses at once
    const gate = await verdictOn('model:x86+B-20', 'ptefarm-case/1\nuffd\nmmap a pages=4 kind=anon\nuffd_register a[2..4)\nmremap a dontunmap old=b\n');
    expect(gate.root?.op).toBe('mremap');
    expect(gate.sig).toBe('vma.registration.R-REG-1');
    // remap_move walks the VMAs in address order and stops at the first uffd-armed one: after
    // registering a[1..3) and unregistering it again the reference merges a back into a[0..2) (its
    // part a[0..1) only ever split off by the register) and a[2..4) (last unregistered); a kernel
    // that registered all of a[0..2) refuses at a[0..1), so the decision is the register's, not the
    // unregister's of the VMA after it
    const later = await verdictOn('model:x86+B-20', 'ptefarm-case/1\nuffd\nmmap a pages=4 kind=anon\nmprotect a[2..4) prot=r\nuffd_register a[1..3)\nuffd_unregister a[1..3)\nmremap a\n');
    expect(later.root?.kind).toBe('rc');
    expect(later.sig).toBe('vma.registration.R-REG-1');
    // with EVENT_FORK the child keeps a[1]'s registration (dup_userfaultfd: R-FORK-1 its last
    // decision) and the reference child's mremap moves a[0] and stops at a[1]; a kernel that
    // registered a[0] too stops at a[0] (both EFAULT): the walks differ first at a[0], whose VMA
    // the register left unregistered — its decision, not the fork's copy of a[1]'s
    const forked = await verdictOn('model:x86+B-20', 'ptefarm-case/1\nuffd features=event_fork\nmmap a pages=4 kind=anon\nuffd_register a[1]\nfork\np1 mremap a dontunmap old=b\n');
    expect(forked.root?.op).toBe('mremap');
    expect(forked.root?.kind).toBe('bit');
    expect(forked.sig).toBe('vma.registration.R-REG-1');
  });

  it('registration extent (R-REG-1) on a huge zero PMD: the VMA split UFFDIO_REGISTER makes splits a huge PMD across the new boundary; a kernel that left it whole made no boundary there', async () => {
    // __split_vma -> vma_adjust_trans_huge -> split_huge_pmd_if_needed (mm/huge_memory.c): the
    // reference splits a's huge zero PMD at 495 into zero-page PTEs, which pagemap does not report
    // PM_FILE (vm_normal_page is NULL for the zero page), while the huge zero folio is not anon
    // (pagemap_pmd_range: PM_FILE); B-20 registers all of a[0..1003), no boundary at 495
    const text = 'ptefarm-case/1\nuffd features=wp_unpopulated\nmmap a pages=1024 kind=anon thp\nread a[63..65)\nuffd_register a[495..1003)\n';
    const kept = await verdictOn('model:x86+B-20', text);
    expect(kept.root?.op).toBe('uffd_register');
    expect(kept.root?.bit).toBe('F');
    expect(kept.sig).toBe('vma.registration.R-REG-1');
    // a kernel that did split there but got the split wrong (its PTEs exclusive: not as before the
    // op, nor as the reference) is the split's business, not the decision's
    const c = parseTextCase(text);
    const trace = await new ModelTarget('model:x86').execute(c);
    const step = trace.steps.find((s) => s.op === 2)!;
    step.pages!['0']!['a'] = step.pages!['0']!['a']!.map((s, k) => (k < 512 ? `${s.slice(0, 3)}E${s.slice(4)}` : s));
    const v = checkTrace(c, trace);
    expect(firstDivergence(v.violations)?.root.decision).toBeUndefined();
    expect(caseSignature(v.violations)).toBe('bit.entry.mismatch.R-SPLIT-2.page');
    // nor is a split that hands the PTEs a wrong soft-dirty bit, though it shows as before the op:
    // __split_huge_pmd_locked gives each PTE soft-dirty from the PMD's dirty bit too (R-SPLIT-1);
    // B-30 takes the PMD soft-dirty bit alone, which clear_refs cleared
    const b30 = await verdictOn('model:x86+B-30', 'ptefarm-case/1\nuffd\nmmap a pages=512 kind=anon thp\nwrite a[258]\nclear_refs\nuffd_register a[0..256)\n');
    expect(b30.root?.op).toBe('uffd_register');
    expect(b30.root?.decision).toBeUndefined();
    expect(b30.sig).toBe('bit.D.lost.R-SPLIT-1.page');
  });

  it('registration extent (R-REG-1) on a failing un-protect: UFFDIO_WRITEPROTECT(off) stops at the first VMA not registered, so a protected page past it that a kernel un-protected is that VMA\'s decision', async () => {
    // mwriteprotect_range returns -ENOENT at the unregistered a[0] before reaching a[1..3)
    // (mm/userfaultfd.c); B-20 registered a[0..3) too, un-protects a[1..3) and fails at a[3]: both -ENOENT
    const off = await verdictOn('model:x86+B-20', 'ptefarm-case/1\nuffd\nmmap a pages=4 kind=anon\nuffd_register a[1..3)\nwrite a\nwp a[1..3) on\nwp a[0..4) off\n');
    expect(off.root?.op).toBe('wp');
    expect(off.root?.bit).toBe('W');
    expect(off.sig).toBe('vma.registration.R-REG-1');
  });

  it('a uffd-wp bit the reference keeps on an unregistered VMA is not the registration\'s: a guard marker a scan armed outlives UFFDIO_UNREGISTER (R-GRD-6), and MADV_DONTNEED dropping it (M-18) is the guard rule\'s bucket', async () => {
    // change_pte_range skips guard markers when un-protecting (measured on 6.18), so d[0] keeps the
    // swp uffd-wp bit the scan gave it (make_uffd_wp_pte); zap_nonpresent_ptes keeps guard markers
    // under an ordinary zap (MADV_DONTNEED)
    const kept = await verdictOn('model:x86+M-18', 'ptefarm-case/2\nuffd features=wp_async\nmmap d pages=1 kind=anon\nwrite d\nuffd_register d\nguard d[0]\nscan d wp_matching\nuffd_unregister d\ndontneed d\n');
    expect(kept.root?.op).toBe('dontneed');
    expect(kept.root?.decision).toBeUndefined();
    const plain = await verdictOn('model:x86+M-18', 'ptefarm-case/2\nmmap d pages=1 kind=anon\nguard d[0]\ndontneed d\n');
    expect(kept.sig).toBe(plain.sig);
    expect(kept.sig).toBe('bit.G.cleared.R-GRD-4.empty');
  });

  it('registration extent (R-REG-1) on a failing UFFDIO_WRITEPROTECT: the decision is the one of the VMA the ioctl failed on, and a page past it that a kernel protected is that decision\'s', async () => {
    // mwriteprotect_range stops with -ENOENT at the first VMA that is not registered (mm/userfaultfd.c);
    // the reference stops at b[0] and never reaches the written, registered b[1]
    const past = await verdictOn('model:x86+B-20', 'ptefarm-case/1\nuffd\nmmap b pages=3 kind=anon\nuffd_register b[1..2)\nwrite b[1..3)\nwp b on\n');
    expect(past.root?.bit).toBe('W');
    expect(past.sig).toBe('vma.registration.R-REG-1');
    // p1's fd is p0's context (fork without EVENT_FORK): the ioctl acts on p0's mm, whose a[0..2)
    // UFFDIO_REGISTER left unregistered — not on p1's own VMAs, which fork unregistered (R-FORK-1)
    const viaFd = await verdictOn('model:x86+B-20', 'ptefarm-case/1\nuffd\nmmap a pages=4 kind=anon\nuffd_register a[2..4)\nfork\np1 wp a[0..4) off\n');
    expect(viaFd.root?.kind).toBe('rc');
    expect(viaFd.sig).toBe('vma.registration.R-REG-1');
  });

  it('an mremap bug on the pages the reference moved before its uffd-armed gate stays apart from the registration: a move that forgets soft-dirty (M-8) on pages that moved in both', async () => {
    // move_ptes sets soft-dirty on every moved entry (R-MRM-1); the reference moves a[0..2) and
    // stops with EFAULT at the armed a[2..4), as the buggy kernel does
    const m8 = await verdictOn('model:x86+M-8', 'ptefarm-case/1\nuffd\nmmap a pages=4 kind=anon\nwrite a\nclear_refs\nuffd_register a[2..4)\nmremap a\n');
    expect(m8.root?.decision).toBeUndefined();
    expect(m8.sig).toBe('bit.D.lost.R-MRM-1.any');
  });

  it('an address outside any VMA after a gated mremap is pagemap\'s read-out, not the registration: soft-dirty shown there (M-2) stays the read-out\'s bucket', async () => {
    // pagemap_pte_hole reports nothing for an address without a VMA (R-PM-1); the reference's
    // mremap moves a[0..2) and stops at the armed a[2..4), leaving a[2..4) of the new place unmapped
    const m2 = await verdictOn('model:x86+M-2', 'ptefarm-case/1\nuffd\nmmap a pages=4 kind=anon\nuffd_register a[2..4)\nmremap a dontunmap old=b\n');
    expect(m2.root?.decision).toBeUndefined();
    expect(m2.sig).toBe('bit.D.spurious.R-PM-1.empty');
  });

  it('fork gate (R-FORK-1) on mremap: a child that kept the registration cannot move the armed VMA with its neighbour (EFAULT), the reference child can', async () => {
    const m4 = await verdictOn('model:x86+M-4', 'ptefarm-case/1\nuffd\nmmap a pages=2 kind=anon\nuffd_register a[1..2)\nfork\np1 mremap a\n');
    expect(m4.root?.kind).toBe('rc');
    expect(m4.sig).toBe('vma.registration.R-FORK-1');
  });

  it('WP-allowed (R-PMS-1): a VMA of a sync context is not WP-allowed (fs/proc/task_mmu.c pagemap_scan_test_walk); a kernel finding it allowed is one bucket for the WPALLOWED category and for CHECK_WPASYNC\'s EPERM', async () => {
    const cat = await verdictOn('model:x86+M-13', 'ptefarm-case/1\nuffd\nmmap a pages=1 kind=anon\nuffd_register a\nwrite a\nscan a\n');
    expect(cat.root?.bit).toBe('a');
    expect(cat.sig).toBe('vma.wp-allowed.R-PMS-1');
    const rc = await verdictOn('model:x86+M-13', 'ptefarm-case/1\nuffd\nmmap a pages=1 kind=anon\nuffd_register a\nwrite a\nscan a wp_matching\n');
    expect(rc.root?.kind).toBe('rc');
    expect(rc.sig).toBe(cat.sig);
  });

  it('a scan bug on a WP-allowed VMA is not the WP-allowed decision: the flipped decision would also skip the written page the kernel reports as the reference does', async () => {
    // B-27: the generic path leaves pte_none unreported and unarmed (fs/proc/task_mmu.c
    // pagemap_scan_pmd_entry / pagemap_page_category); a[0], present and written, is reported and
    // armed as the reference says, which a VMA found not WP-allowed would not be
    // (pagemap_scan_test_walk skips it under WP_MATCHING)
    const text = 'ptefarm-case/1\nuffd features=wp_async\nmmap a pages=2 kind=anon\nwrite a[0]\nuffd_register a\nscan a wp_matching\n';
    const b27 = await verdictOn('model:x86+B-27', text);
    expect(b27.root?.decision).toBeUndefined();
    expect(b27.sig).not.toBe('vma.wp-allowed.R-PMS-1');
    // the page left out is the scan's category rule for pte_none: WRITTEN missing (not reported)
    expect(b27.sig).toBe('scan.w.lost.R-PMS-2.none.empty');
    // while a kernel that gets the decision wrong on the same case still is
    const m13 = await verdictOn('model:x86+M-13', text.replace('uffd features=wp_async', 'uffd'));
    expect(m13.sig).toBe('vma.wp-allowed.R-PMS-1');
  });

  it('a scan\'s EPERM that a page bug explains is not pinned on a registration: a kernel not counting PMD holes (B-28) walks past max_pages into the unregistered VMA the reference never reaches', async () => {
    // pagemap_scan_pmd_entry / pagemap_scan_pte_hole: the reference reports the written holes and
    // stops after max_pages; a kernel that does not count them reaches a[312..), which is not
    // WP-allowed, and fails there (pagemap_scan_test_walk)
    const b28 = await verdictOn('model:x86+B-28', 'ptefarm-case/1\nuffd features=wp_async,event_fork\nmmap a pages=512 kind=memfd-private thp\nuffd_register a[134..312)\nfork\np1 scan a[149..410) wp_matching max_pages=149\n');
    expect(b28.root?.kind).toBe('rc');
    expect(b28.root?.decision).toBeUndefined();
    expect(b28.sig).not.toMatch(/^vma\./);
  });

  it('an entry-level bug keeps its entry-level signature: no decision explains it', async () => {
    // B-3: mprotect makes the PTE writable, the write takes no fault (soft-dirty lost)
    const b3 = await verdictOn('model:x86+B-3', 'ptefarm-case/1\nmmap a pages=1 kind=anon\nwrite a\nmprotect a prot=r\nclear_refs\nmprotect a prot=rw\nwrite a\n');
    expect(b3.root?.decision).toBeUndefined();
    expect(b3.sig).toMatch(/^bit\.D\.lost\./);
    // M-10: clear_refs also clears uffd-wp; a W divergence in a VMA the reference keeps registered is the entry's business
    const cr = await verdictOn('model:x86+M-10', 'ptefarm-case/1\nuffd features=wp_async\nmmap a pages=1 kind=anon\nuffd_register a\nwrite a\nwp a on\nclear_refs\n');
    expect(cr.root?.decision).toBeUndefined();
    expect(cr.sig).toMatch(/^bit\.W\.wp-lost\./);
  });
});
