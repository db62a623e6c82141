// The guided generator reaches the scenarios of the mutants a uniform generator used to find first
// (bench "finding bugs"): each test names the kernel behaviour the scenario exercises.
import { describe, expect, it } from 'vitest';
import type { Case, Op } from '../../src/ops/schema.ts';
import { validateCase } from '../../src/ops/validate.ts';
import { DEFAULT_MAX_COST, freshCase, GuidedGenerator, mutateCase, OpGen } from '../../src/campaign/generate.ts';
import { CaseBuilder } from '../../src/campaign/builder.ts';
import { Rng } from '../../src/campaign/rng.ts';
import { uniformCase } from '../../src/campaign/uniform.ts';
import { hugetlbCase } from '../../src/campaign/hugetlb-gen.ts';
import { assertedKinds } from '../../src/check/check.ts';

function fresh(n: number, seed = 21): Case[] {
  const rng = new Rng(seed);
  return Array.from({ length: n }, () => freshCase(rng));
}

const regionOf = (o: Op) => ('region' in o ? `${o.proc ?? 0}/${o.region}` : '');

describe('guided generation reaches', () => {
  it('uffd registration of a range starting inside a VMA, then WRITEPROTECT of the whole region (fs/userfaultfd.c userfaultfd_register splits the VMA; wp of the unregistered head)', () => {
    const hit = fresh(600).filter((c) => c.ops.some((o, i) => o.op === 'uffd_register' && (o.first ?? 0) > 0 &&
      c.ops.slice(i + 1).some((w) => w.op === 'wp' && regionOf(w) === regionOf(o) && w.first === undefined)));
    expect(hit.length).toBeGreaterThan(6);
  });

  it('mremap growing a region in place after clear_refs (mm/mremap.c vma_merge_extend keeps the VMA flags; fs/proc/task_mmu.c clear_refs_write cleared VM_SOFTDIRTY)', () => {
    const hit = fresh(600).filter((c) => c.ops.some((o, i) => o.op === 'mremap' && o.move === false && o.pages !== undefined &&
      c.ops.slice(0, i).some((x) => x.op === 'clear_refs')));
    expect(hit.length).toBeGreaterThan(6);
  });

  it('fork after WRITEPROTECT of unpopulated anon memory by a context without EVENT_FORK (mm/memory.c copy_pte_range: markers dropped for a child without VM_UFFD_WP)', () => {
    const hit = fresh(1500).filter((c) => {
      const fs = c.uffd?.features ?? [];
      if (!c.uffd || fs.includes('event_fork') || !(fs.includes('wp_unpopulated') || fs.includes('wp_async'))) return false;
      return c.ops.some((o, i) => o.op === 'wp' && o.on && c.ops.slice(i + 1).some((f) => f.op === 'fork' && (f.proc ?? 0) === (o.proc ?? 0)));
    });
    expect(hit.length).toBeGreaterThan(6);
  });

  it('PAGEMAP_SCAN of a registered region never write-protected under WP_ASYNC: PMD holes and pte_none (fs/proc/task_mmu.c pagemap_scan_pte_hole: reported written, armed)', () => {
    const hit = fresh(600).filter((c) => c.uffd?.features?.includes('wp_async') && c.ops.some((o, i) => {
      if (o.op !== 'uffd_register' || o.first !== undefined) return false;
      const j = c.ops.findIndex((s, k) => k > i && s.op === 'scan' && regionOf(s) === regionOf(o));
      return j > i && !c.ops.slice(i + 1, j).some((w) => w.op === 'wp' && regionOf(w) === regionOf(o));
    }));
    expect(hit.length).toBeGreaterThan(6);
  });

  it('a hole inside a region (munmap of an inner range: addresses between VMAs, fs/proc/task_mmu.c pagemap_pte_hole)', () => {
    const hit = fresh(300).filter((c) => c.ops.some((o) => o.op === 'munmap' && (o.first ?? 0) > 0 && o.count !== undefined));
    expect(hit.length).toBeGreaterThan(30);
  });

  it('a read fault on a THP region (the huge zero page) followed by PAGEMAP_SCAN of it (fs/proc/task_mmu.c pagemap_scan_thp_entry: PFNZERO)', () => {
    const hit = fresh(1500).filter((c) => c.ops.some((o, i) => o.op === 'read' && c.ops.some((m) => m.op === 'mmap' && m.thp && regionOf(m) === regionOf(o)) &&
      c.ops.slice(i + 1).some((s) => s.op === 'scan' && regionOf(s) === regionOf(o))));
    expect(hit.length).toBeGreaterThan(6);
  });

  it('a THP faulted by MADV_POPULATE_WRITE (no data stored), then MADV_PAGEOUT of part of it (mm/madvise.c madvise_populate faults without storing; madvise_cold_or_pageout_pte_range splits the folio; mm/migrate.c try_to_map_unused_to_zeropage maps its zero-filled subpages to the zero page)', () => {
    const hit = fresh(1500).filter((c) => c.ops.some((m) => m.op === 'mmap' && m.thp && c.ops.some((o, i) => o.op === 'populate' && o.write && regionOf(o) === regionOf(m) && !c.ops.slice(0, i).some((w) => w.op === 'write' && regionOf(w) === regionOf(o)) &&
      c.ops.slice(i + 1).some((x) => x.op === 'pageout' && regionOf(x) === regionOf(o) && x.count !== undefined && x.count < m.pages))));
    expect(hit.length).toBeGreaterThan(6);
  });

  it('a THP written at one page, its PMD split (a PTE-mapped large folio), then MADV_PAGEOUT of part of it (mm/madvise.c madvise_cold_or_pageout_pte_range: split_folio of a partly covered large folio; zero-filled subpages to the zero page)', () => {
    const hit = fresh(1500).filter((c) => c.ops.some((m) => m.op === 'mmap' && m.thp && c.ops.some((w, i) => w.op === 'write' && w.count === 1 && regionOf(w) === regionOf(m) &&
      c.ops.some((s, j) => j > i && s.op === 'split' && regionOf(s) === regionOf(w) &&
        c.ops.slice(j + 1).some((x) => x.op === 'pageout' && regionOf(x) === regionOf(w) && x.count !== undefined && x.count < m.pages)))));
    expect(hit.length).toBeGreaterThan(6);
  });

  it('an anonymous THP, its PMD split and the region write-protected, then MADV_PAGEOUT of part of it (mm/madvise.c madvise_cold_or_pageout_pte_range: split_folio; mm/migrate.c try_to_map_unused_to_zeropage maps zero-filled anon subpages to the zero page keeping their uffd-wp bit)', () => {
    // the pageout comes last in its line, after clear_refs, the touch, the split and the
    // protection: it must not be the op the cost budget drops, and a page-cache THP has no zero-page remap
    const hit = fresh(1500).filter((c) => c.ops.some((m) => m.op === 'mmap' && m.thp && m.kind === 'anon' &&
      c.ops.some((s, j) => s.op === 'split' && regionOf(s) === regionOf(m) &&
        c.ops.some((w, k) => w.op === 'wp' && w.on && regionOf(w) === regionOf(m) &&
          c.ops.some((x, l) => l > j && l > k && x.op === 'pageout' && regionOf(x) === regionOf(m) && x.count !== undefined && x.count < m.pages)))));
    expect(hit.length).toBeGreaterThan(9);
  });

  it('MADV_COLLAPSE of an anonymous THP region holding a write-protected PTE (mm/khugepaged.c hpage_collapse_scan_pmd: pte_uffd_wp -> SCAN_PTE_UFFD_WP, the collapse refused)', () => {
    const hit = fresh(1500).filter((c) => c.ops.some((m) => m.op === 'mmap' && m.thp && m.kind === 'anon' &&
      c.ops.some((w, k) => w.op === 'wp' && w.on && regionOf(w) === regionOf(m) && c.ops.slice(k + 1).some((x) => x.op === 'collapse' && regionOf(x) === regionOf(m)))));
    expect(hit.length).toBeGreaterThan(14);
  });

  it('a shared region written, write-protected, mprotect RO then RW, written again (mm/mmap.c vma_wants_writenotify: uffd-wp needs write notification; mm/mprotect.c can_change_pte_writable keeps wp PTEs read-only)', () => {
    const shared = (k: string) => k === 'shared-anon' || k === 'memfd-shared';
    const hit = fresh(1500).filter((c) => c.ops.some((m) => m.op === 'mmap' && shared(m.kind) &&
      c.ops.some((w, k) => w.op === 'wp' && w.on && regionOf(w) === regionOf(m) && c.ops.slice(0, k).some((x) => x.op === 'write' && regionOf(x) === regionOf(m)) &&
        c.ops.some((p, l) => l > k && p.op === 'mprotect' && p.prot === 'rw' && regionOf(p) === regionOf(m) && c.ops[l - 1]?.op === 'mprotect' &&
          c.ops.slice(l + 1).some((y) => y.op === 'write' && regionOf(y) === regionOf(m))))));
    expect(hit.length).toBeGreaterThan(6);
  });

  it('guard markers in a shared or file region of a case with a userfaultfd, then fork (mm/memory.c vma_needs_copy: a VM_MAYBE_GUARD VMA has its page tables copied, copy_pte_marker)', () => {
    const hit = fresh(1500).filter((c) => {
      if (!c.uffd) return false;
      const kind = new Map<string, string>();
      return c.ops.some((o, i) => {
        if (o.op === 'mmap') kind.set(o.region, o.kind);
        return o.op === 'guard' && kind.get(o.region) !== 'anon' && c.ops.slice(i + 1).some((f) => f.op === 'fork' && (f.proc ?? 0) === (o.proc ?? 0));
      });
    });
    expect(hit.length).toBeGreaterThan(6);
  });

  it('MADV_POPULATE past the end of a shared region grown in place by mremap (mm/gup.c faultin_page: VM_FAULT_SIGBUS -> -EFAULT; mm/shmem.c shmem_fault past i_size)', () => {
    const hit = fresh(1500).filter((c) => {
      const made = new Map<string, Op & { op: 'mmap' }>();
      return c.ops.some((o, i) => {
        if (o.op === 'mmap') made.set(o.region, o);
        const m = o.op === 'mremap' ? made.get(o.region) : undefined;
        return o.op === 'mremap' && o.move === false && m !== undefined && m.kind !== 'anon' && (o.pages ?? 0) > m.pages &&
          c.ops.slice(i + 1).some((p) => p.op === 'populate' && regionOf(p) === regionOf(o) && (p.first ?? 0) + (p.count ?? 1) > m.pages);
      });
    });
    expect(hit.length).toBeGreaterThan(3);
  });

  it('PAGEMAP_SCAN, in a case without a userfaultfd, of a region written in part: a page table holding pte_none entries (fs/proc/task_mmu.c pagemap_scan_pmd_entry, pagemap_page_category)', () => {
    const hit = fresh(1000).filter((c) => {
      if (c.uffd) return false;
      const pages = new Map<string, number>();
      return c.ops.some((o, i) => {
        if (o.op === 'mmap') pages.set(regionOf(o), o.pages);
        return o.op === 'write' && o.count !== undefined && o.count < (pages.get(regionOf(o)) ?? 0) &&
          c.ops.slice(i + 1).some((s) => s.op === 'scan' && regionOf(s) === regionOf(o));
      });
    });
    expect(hit.length).toBeGreaterThan(20);
  });

  // the THP lines of the bench's slowest mutants (B-22, B-32, M-7: 1,373, 2,326 and 480 guided
  // cases per find on seeds 1-48): counts over fixed seeds, each about twice or more what it was
  const feats = (c: Case) => c.uffd?.features ?? [];
  const thpRegions = (c: Case) => c.ops.filter((m): m is Op & { op: 'mmap' } => m.op === 'mmap' && !!m.thp);

  it('a THP split into a page table, write-protected in a context without EVENT_REMAP, then moved whole by mremap (mm/mremap.c move_pgt_entry: no whole-table relink under uffd-wp without EVENT_REMAP, the PTEs moved one by one lose their wp bit)', () => {
    const hit = fresh(3000).filter((c) => c.uffd && !feats(c).includes('event_remap') && thpRegions(c).some((m) =>
      c.ops.some((s, j) => s.op === 'split' && regionOf(s) === regionOf(m) && c.ops.some((w, k) => k > j && w.op === 'wp' && w.on && regionOf(w) === regionOf(m) &&
        c.ops.slice(k + 1).some((x) => x.op === 'mremap' && regionOf(x) === regionOf(m) && x.pages === undefined && x.move === undefined)))));
    expect(hit.length).toBeGreaterThan(4); // 1 before the pt-move line took the protection and the move past the cost budget
  });

  it('PAGEMAP_SCAN with WP_MATCHING and no output vector over part of a THP, under WP_ASYNC (fs/proc/task_mmu.c pagemap_scan_thp_entry: split and redone, pagemap_scan_backout_range with no vector)', () => {
    const hit = fresh(1500).filter((c) => feats(c).includes('wp_async') && thpRegions(c).some((m) =>
      c.ops.some((s) => s.op === 'scan' && s.wp_matching && s.no_vec && regionOf(s) === regionOf(m) && s.count !== undefined && s.count < m.pages)));
    expect(hit.length).toBeGreaterThan(10); // 7 when the scan-split line also ran without WP_ASYNC
  });

  it('under WP_ASYNC, a THP written, write-protected whole, then written at one page (mm/memory.c wp_huge_pmd: the PMD split, only that page un-protected)', () => {
    // 6,000 cases, was 1,500 (15 hits > 10 before the draws of the slow mutants' lines moved the
    // seed's cases: 10; in 6,000: 37 before, 28 after, the line now mostly over anonymous THPs)
    const hit = fresh(6000).filter((c) => feats(c).includes('wp_async') && thpRegions(c).some((m) =>
      c.ops.some((w, k) => w.op === 'wp' && w.on && w.first === undefined && regionOf(w) === regionOf(m) && c.ops.slice(0, k).some((x) => x.op === 'write' && regionOf(x) === regionOf(m)) &&
        c.ops.slice(k + 1).some((x) => x.op === 'write' && x.count === 1 && regionOf(x) === regionOf(m)))));
    expect(hit.length).toBeGreaterThan(22); // 5 in 1,500 when the async-write line also ran in sync contexts
  });
});

// the bench's slow bounded mutants' scenario lines (B-16, M-17, B-1, M-12, B-30: 400-640 guided
// cases per find on seeds 1-48): counts over 8,000 fresh cases of seed 5, each well above the
// count of the generator before the line (in the comment)
describe('guided generation reaches, over many cases', () => {
  let many: Case[] | undefined;
  const cases = () => (many ??= fresh(8000, 5));
  const feats = (c: Case) => c.uffd?.features ?? [];
  const procOf = (o: Op) => o.proc ?? 0;

  it('a shared region mapped and written, write-protected before any clear_refs, mprotect RO then RW, written again (mm/mmap.c vma_wants_writenotify: userfaultfd_wp, with VM_SOFTDIRTY still set; mm/mprotect.c can_change_pte_writable)', () => {
    const shared = (k: string) => k === 'shared-anon' || k === 'memfd-shared';
    const hit = cases().filter((c) => c.ops.some((m, i) => m.op === 'mmap' && shared(m.kind) && c.ops.some((w, k) => k > i && w.op === 'wp' && w.on && regionOf(w) === regionOf(m) &&
      c.ops.slice(i, k).some((x) => x.op === 'write' && regionOf(x) === regionOf(m)) &&
      c.ops.some((p, l) => l > k && p.op === 'mprotect' && p.prot === 'rw' && regionOf(p) === regionOf(m) && c.ops[l - 1]?.op === 'mprotect' &&
        !c.ops.slice(i, l).some((x) => x.op === 'clear_refs' && procOf(x) === procOf(m) && x.value === 4) &&
        c.ops.slice(l + 1).some((y) => y.op === 'write' && regionOf(y) === regionOf(m))))));
    expect(hit.length).toBeGreaterThan(70); // 39 before motifWriteNotify
  });

  it('MADV_POPULATE_WRITE of a region write-protected before, in a sync context (mm/gup.c: a kernel fault; fs/userfaultfd.c handle_userfault: SIGBUS for UFFD_USER_MODE_ONLY)', () => {
    const hit = cases().filter((c) => !!c.uffd && !feats(c).includes('wp_async') && c.ops.some((w, k) => w.op === 'wp' && w.on &&
      c.ops.slice(k + 1).some((p) => p.op === 'populate' && p.write && regionOf(p) === regionOf(w))));
    expect(hit.length).toBeGreaterThan(65); // 52 before the populate action of motifWpAct
  });

  it('an anonymous region mapped next to another after clear_refs, then an mprotect of one of them (mm/vma.c: the merge ORs VM_SOFTDIRTY, VMA_STICKY_FLAGS)', () => {
    const hit = cases().filter((c) => c.ops.some((b, j) => b.op === 'mmap' && b.after !== undefined && b.kind === 'anon' &&
      c.ops.some((a, i) => i < j && a.op === 'mmap' && a.region === b.after && procOf(a) === procOf(b) && a.kind === 'anon' &&
        c.ops.slice(i, j).some((x) => x.op === 'clear_refs' && procOf(x) === procOf(a)) &&
        c.ops.slice(j + 1).some((p) => p.op === 'mprotect' && procOf(p) === procOf(a) && (p.region === a.region || p.region === b.region)))));
    expect(hit.length).toBeGreaterThan(200); // 148 before motifMerge drew anonymous regions
  });

  it('under WP_ASYNC, PAGEMAP_SCAN with WP_MATCHING, no output vector and a category mask over a registered region written before (fs/proc/task_mmu.c pagemap_scan_pmd_entry: the exclusive-WP fast path arms past the masks)', () => {
    const hit = cases().filter((c) => feats(c).includes('wp_async') && c.ops.some((s, k) => s.op === 'scan' && s.wp_matching && s.no_vec && s.category_mask !== undefined &&
      c.ops.slice(0, k).some((r) => r.op === 'uffd_register' && regionOf(r) === regionOf(s)) && c.ops.slice(0, k).some((w) => w.op === 'write' && regionOf(w) === regionOf(s))));
    expect(hit.length).toBeGreaterThan(65); // 46 before arming scans got more draws
  });

  it('an anonymous THP written whole, clear_refs, then its PMD split (mm/huge_memory.c __split_huge_pmd_locked: PTE soft-dirty from the PMD dirty bit, x86 pte_mkdirty)', () => {
    const hit = cases().filter((c) => c.ops.some((m, i) => m.op === 'mmap' && m.thp && m.kind === 'anon' && c.ops.some((w, k) => k > i && w.op === 'write' && regionOf(w) === regionOf(m) && w.first === undefined &&
      c.ops.some((x, l) => l > k && x.op === 'clear_refs' && procOf(x) === procOf(m) && c.ops.slice(l + 1).some((s) => s.op === 'split' && regionOf(s) === regionOf(m))))));
    expect(hit.length).toBeGreaterThan(45); // 26 before the dirty-split line's weight 5 and clear_refs in 85%
  });
});

describe('hugetlb cases reach', () => {
  const cases = () => { const rng = new Rng(5); return Array.from({ length: 1000 }, () => hugetlbCase(rng)); };
  const before = (c: Case, k: number, op: string, at: Op) => c.ops.slice(0, k).some((x) => x.op === op && regionOf(x) === regionOf(at));

  it('MADV_DONTNEED of a written, registered hugetlb page after WRITEPROTECT (mm/hugetlb.c __unmap_hugepage_range: a uffd-wp marker stays)', () => {
    const hit = cases().filter((c) => c.ops.some((w, k) => w.op === 'wp' && w.on && before(c, k, 'uffd_register', w) && before(c, k, 'write', w) &&
      c.ops.slice(k + 1).some((x) => x.op === 'dontneed' && regionOf(x) === regionOf(w))));
    expect(hit.length).toBeGreaterThan(30); // 7 before half the uffd cases started registered and written
  });

  it('PAGEMAP_SCAN with WP_MATCHING under WP_ASYNC of a registered hugetlb region written since (fs/proc/task_mmu.c pagemap_scan_hugetlb_entry: a whole written page write-protected in place)', () => {
    const hit = cases().filter((c) => (c.uffd?.features ?? []).includes('wp_async') && c.ops.some((s, k) => s.op === 'scan' && s.wp_matching &&
      before(c, k, 'uffd_register', s) && before(c, k, 'write', s)));
    expect(hit.length).toBeGreaterThan(50); // 19 before
  });
});

describe('the guided generator', () => {
  it('never installs a guard in a non-anon region registered for uffd-wp before, in that process or the one it was forked from (a kept uffd-wp marker makes MADV_GUARD_INSTALL retry forever, mm/madvise.c madvise_guard_install)', () => {
    // every case enters the pool (a feature of its own), so mutations and extensions are checked too
    const g = new GuidedGenerator(3, { hugetlbRatio: 0 });
    let guardsInShared = 0;
    for (let n = 0; n < 1500; n++) {
      const c = g.next();
      const procs: Array<Map<string, { kind: string; reg: boolean }>> = [new Map()];
      for (const o of c.ops) {
        const p = procs[o.proc ?? 0]!;
        if (o.op === 'fork') procs.push(new Map([...p].map(([k, v]) => [k, { ...v }])));
        if (o.op === 'mmap') p.set(o.region, { kind: o.kind, reg: false });
        if (o.op === 'mremap' && o.dontunmap && o.old !== undefined && p.has(o.region)) p.set(o.old, { ...p.get(o.region)! });
        if (o.op === 'uffd_register' && p.has(o.region)) p.get(o.region)!.reg = true;
        if (o.op === 'guard' && c.uffd && p.get(o.region)?.kind !== 'anon') {
          expect(p.get(o.region)?.reg, `case ${n}: ${JSON.stringify(c)}`).toBe(false);
          guardsInShared++;
        }
      }
      g.feedback(c, c.ops.map(() => [`case-${n}`]));
    }
    expect(guardsInShared).toBeGreaterThan(20);
  });

  it('with uniformRatio 1 draws every case from the uniform generator (one draw decides, then the same stream)', () => {
    const g = new GuidedGenerator(9, { uniformRatio: 1, hugetlbRatio: 0 });
    const rng = new Rng(9);
    for (let i = 0; i < 50; i++) {
      rng.float(); // the draw that chose the uniform generator
      const want = uniformCase(rng, 40, DEFAULT_MAX_COST);
      const c = g.next();
      expect(validateCase(c)).toEqual([]);
      expect(c).toEqual(want);
    }
  });

  it('hugetlb cases come from a stream of their own: the other cases of a seed are those of a generator without them, in order', () => {
    const isH = (c: { ops: Array<{ op: string; kind?: string }> }) => c.ops.some((o) => o.op === 'mmap' && (o.kind === 'hugetlb' || o.kind === 'hugetlb-shared'));
    const g = new GuidedGenerator(5, { hugetlbRatio: 0.3, unguided: false, freshRatio: 1 });
    const plain = new GuidedGenerator(5, { hugetlbRatio: 0, freshRatio: 1 });
    let hugetlb = 0;
    for (let i = 0; i < 200; i++) {
      const c = g.next();
      expect(validateCase(c)).toEqual([]);
      if (isH(c)) { hugetlb++; expect(c.format).toBe('ptefarm-case/3'); continue; }
      expect(c).toEqual(plain.next());
    }
    expect(hugetlb).toBeGreaterThan(30);
    expect(hugetlb).toBeLessThan(100);
  });

  it('once the pool holds cases, draws most cases fresh and about an eighth from the uniform generator (FRESH_RATIO, UNIFORM_RATIO: fresh weighted cases found the slow mutants in fewer cases than mutations of pool cases)', () => {
    const g = new GuidedGenerator(2, { hugetlbRatio: 0 });
    const n: Record<string, number> = { fresh: 0, mutated: 0, uniform: 0 };
    for (let i = 0; i < 800; i++) {
      const c = g.next();
      n[g.origin] = (n[g.origin] ?? 0) + 1;
      // a feature of its own: every case enters the pool, which is never empty after the first
      g.feedback(c, c.ops.map(() => [`case-${i}`]));
    }
    expect(n.fresh + n.mutated + n.uniform).toBe(800);
    expect(n.uniform).toBeGreaterThan(60); // 0.12 x 800 = 96 expected (0.25 before: 200)
    expect(n.uniform).toBeLessThan(140);
    expect(n.fresh).toBeGreaterThan(1.8 * n.mutated); // 0.7 : 0.3 (0.4 : 0.6 before)
  });

  it('with the default ratio mixes uniform cases in, and only valid cases', () => {
    const g = new GuidedGenerator(4);
    const cases = Array.from({ length: 1000 }, () => g.next());
    expect(cases.flatMap((c) => validateCase(c))).toEqual([]);
    // the uniform generator maps 1-16 pages uniformly; the guided generator's own mmaps never map
    // 9-15 pages, so a case mapping such a region came from the uniform share
    const uniformish = cases.filter((c) => c.ops.some((o) => o.op === 'mmap' && o.pages >= 9 && o.pages <= 15));
    expect(uniformish.length).toBeGreaterThan(12);
  });

  it('for a target without soft-dirty (softDirty false) draws no case that asserts soft-dirty alone, which such a target checks as a SKIP (src/check/check.ts maskedSkip); clear_refs 4 stays where the case asserts uffd-wp too', () => {
    const onlySd = (c: Case) => { const k = assertedKinds(c); return k.size === 1 && k.has('soft-dirty'); };
    const clears = (c: Case) => c.ops.some((o) => o.op === 'clear_refs' && (o.value ?? 4) === 4);
    const plain = new GuidedGenerator(6);
    const without = new GuidedGenerator(6, { softDirty: false });
    const a = Array.from({ length: 300 }, () => plain.next());
    const b = Array.from({ length: 300 }, () => without.next());
    expect(a.filter(onlySd).length).toBeGreaterThan(20);
    expect(b.filter(onlySd)).toEqual([]);
    expect(b.flatMap((c) => validateCase(c))).toEqual([]);
    expect(b.filter((c) => clears(c) && assertedKinds(c).has('uffd-wp')).length).toBeGreaterThan(5);
  });
});

describe('guard installs that would never return (R-GRD-1)', () => {
  it('a mutation never puts a uffd_register before a guard install in a non-anon region (insert of a random op: the guard was placed where no registration preceded it)', () => {
    const c: Case = { format: 'ptefarm-case/2', uffd: {}, ops: [
      { op: 'mmap', region: 'a', pages: 4, kind: 'memfd-private' }, { op: 'write', region: 'a' },
      { op: 'guard', region: 'a', first: 1, count: 1 }, { op: 'read', region: 'a' },
    ] };
    let hangs = 0;
    for (let k = 0; k < 400; k++) {
      const m = mutateCase(new Rng(k), c);
      const reg = new Set<string>();
      for (const o of m.ops) {
        if (o.op === 'uffd_register') reg.add(o.region);
        if (o.op === 'guard' && o.region === 'a' && reg.has('a')) hangs++;
      }
    }
    expect(hangs).toBe(0);
  });

  it("a child's uffd_register through the inherited descriptor counts for its parent's region: no guard install there afterwards", () => {
    // live 6.18 (the README campaign of 2026-12-07, case 23,577 of seed 1): p1 registered a
    // memfd-private region with the descriptor it inherited (no EVENT_FORK: the context acts on p0's
    // mm), wrote and write-protected it, then p0's MADV_GUARD_INSTALL of a[0] never returned
    const b = CaseBuilder.fromCase({ format: 'ptefarm-case/1', uffd: { features: ['wp_async'] }, ops: [
      { op: 'mmap', region: 'a', pages: 2, kind: 'memfd-private' }, { op: 'fork' },
      { op: 'uffd_register', region: 'a', proc: 1 }, { op: 'wp', region: 'a', on: true, proc: 1 },
    ] });
    const g = new OpGen(new Rng(1), b, 40);
    for (let i = 0; i < 20; i++) expect(g.guard(0, 'a')).toBeUndefined();
    expect(b.ops.some((o) => o.op === 'guard')).toBe(false);
  });
});
