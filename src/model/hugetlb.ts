// hugetlb in the reference model (ptefarm-case/3 kinds `hugetlb`, `hugetlb-shared`): mappings backed
// by 2 MiB hugetlb pages (one huge page = one PMD block of the model's geometry). The machine
// (src/model/machine.ts) hands every op on a hugetlb region, and the hugetlb VMAs of fork,
// write-protect, unregister, close and munmap, to the functions here; the driver (model.ts) asks
// here for the pagemap bits and PAGEMAP_SCAN entry of a page of a hugetlb VMA.
//
// State: per process, `htlb` maps a huge page (block number) to its huge PTE: present (a folio: a
// private anon folio, or the page-cache folio of the shared mapping's hugetlbfs object) or a uffd-wp
// marker; no key = pte_none. `htlbPud` holds the PUDs (of the hugetlb arena: one region each,
// src/ops/layout.ts hugetlbSlotStartPage) whose PMD table exists: a block of a PUD without one is a
// hole (huge_pte_offset returns NULL), which PAGEMAP_SCAN reports differently from pte_none.
// Each rule cites the kernel function it mirrors; test/model/hugetlb.test.ts pins them.
import type { Op, OpOf } from '../ops/schema.ts';
import type { UffdEvent } from '../ops/trace.ts';
import { blockOf, blockStart, HPAGE_PAGES, modelGeometry, withRule, type Page, type Proc, type Vma, type Why } from './state.ts';

export type HEntry =
  | { t: 'present'; page: Page; wp: boolean; sd: boolean; why: Why }
  | { t: 'marker'; why: Why };

export const HUGETLB_RULES = [
  { id: 'R-HTLB-1', text: 'a hugetlb op range must start (and, except MADV_DONTNEED, end) on a huge page boundary: munmap/mprotect (split), uffd register and writeprotect, unregister (its start; its end only where a registered VMA must be split there, after unprotecting the range) and MADV_DONTNEED (start) are EINVAL otherwise; MADV_DONTNEED rounds the end down', source: 'mm/hugetlb.c hugetlb_vm_op_split; fs/userfaultfd.c userfaultfd_register; mm/userfaultfd.c mwriteprotect_range; mm/madvise.c madvise_dontneed_free_valid_vma' },
  { id: 'R-HTLB-2', text: 'MADV_PAGEOUT, MADV_COLLAPSE and guard installation/removal are EINVAL on hugetlb', source: 'mm/madvise.c can_madv_lru_vma, madvise_collapse, is_valid_guard_vma' },
  { id: 'R-HTLB-3', text: 'a fault on pte_none or a uffd-wp marker maps a whole huge page (a fresh zeroed anon folio for a private mapping, the page-cache folio for a shared one), keeping the marker\'s uffd-wp bit', source: 'mm/hugetlb.c hugetlb_no_page' },
  { id: 'R-HTLB-4', text: 'a write to a uffd-wp huge PTE: sync mode delivers a fault (address: the huge page start) and waits for the wp to be cleared; async mode clears the bit of the whole huge page; then the write is resolved', source: 'mm/hugetlb.c hugetlb_fault; fs/userfaultfd.c userfault_msg' },
  { id: 'R-HTLB-5', text: 'a write to a read-only private huge PTE reuses an exclusive anon folio (mapcount 1) and copies any other', source: 'mm/hugetlb.c hugetlb_wp' },
  { id: 'R-HTLB-6', text: 'uffd-wp on a hugetlb range sets the bit on present huge PTEs and installs a marker in every empty one (allocating the PMD table), whatever WP_UNPOPULATED says; un-protecting clears the bit and drops markers', source: 'mm/hugetlb.c hugetlb_change_protection' },
  { id: 'R-HTLB-7', text: 'fork copies hugetlb entries when the child VMA is uffd-wp or has an anon_vma (private, faulted); the uffd-wp bit and markers only into a uffd-wp child', source: 'mm/hugetlb.c copy_hugetlb_page_range; mm/memory.c vma_needs_copy, copy_pte_marker' },
  { id: 'R-HTLB-8', text: 'MADV_DONTNEED zaps huge PTEs and leaves a uffd-wp marker where the entry was write-protected (marker or present)', source: 'mm/hugetlb.c __unmap_hugepage_range' },
  { id: 'R-HTLB-9', text: 'pagemap of a hugetlb page: present, FILE when the folio is not anon, exclusive when not mapped shared, uffd-wp from the huge PTE; a marker reads uffd-wp only (no swap bit); soft-dirty only from VM_SOFTDIRTY', source: 'fs/proc/task_mmu.c pagemap_hugetlb_range' },
  { id: 'R-HTLB-10', text: 'PAGEMAP_SCAN of a hugetlb entry: HUGE, plus PRESENT/WRITTEN/FILE for a present one, SWAPPED for a marker; under WP_MATCHING a WRITTEN entry reported whole is write-protected in place, one reported in part is backed out with walk_end at its start; a hole is not WRITTEN and is armed with markers when reported', source: 'fs/proc/task_mmu.c pagemap_hugetlb_category, pagemap_scan_hugetlb_entry, pagemap_scan_pte_hole, pagemap_scan_hugetlb_hole_wp' },
  { id: 'R-HTLB-11', text: 'clear_refs skips hugetlb entries (its walk has no hugetlb_entry); only VM_SOFTDIRTY is cleared', source: 'fs/proc/task_mmu.c clear_refs_write' },
] as const;

/** What the hugetlb rules need of the machine (implemented by Machine). */
export interface HugetlbHost {
  readonly procs: Proc[];
  events: UffdEvent[];
  readonly mutant?: string;
  /** the kernel profile's knobs the hugetlb paths read */
  readonly k: { readonly wpMultiVma: boolean };
  rule(id: string): string;
  newPage(anon: boolean, nonzero: boolean): Page;
  vmaAt(p: Proc, page: number): Vma | undefined;
  /** the first page of [start, end) no VMA of p covers, or `end` */
  firstGap(p: Proc, start: number, end: number): number;
  /** the region name of the current op (for event pages) */
  regionStart(p: Proc): number;
  regionName(): string;
}

export type Rc = 0 | string;

export function isHugetlbVma(v: Vma | undefined): boolean {
  return !!v && (v.kind === 'hugetlb' || v.kind === 'hugetlb-shared');
}

const pudPages = () => { const g = modelGeometry(); return g.pmdPages * (g.pageSize / 8); };
export const pudOf = (page: number) => Math.floor(page / pudPages());

export function entries(p: Proc): Map<number, HEntry> {
  if (!p.htlb) p.htlb = new Map();
  return p.htlb;
}
function allocTable(p: Proc, page: number) {
  if (!p.htlbPud) p.htlbPud = new Set();
  p.htlbPud.add(pudOf(page));
}
/** is the block of `page` a hole (no PMD table: huge_pte_offset is NULL)? */
export function isHole(p: Proc, page: number): boolean {
  return !p.htlbPud?.has(pudOf(page));
}

/** mapcount of a hugetlb folio: the huge PTEs of live processes mapping it */
export function mapcount(h: HugetlbHost, page: Page): number {
  let n = 0;
  for (const q of h.procs) {
    if (!q.alive || !q.htlb) continue;
    for (const e of q.htlb.values()) if (e.t === 'present' && e.page.id === page.id) n++;
  }
  return n;
}

const aligned = (page: number) => page % HPAGE_PAGES === 0;

/** The mm a userfaultfd ioctl acts on: its context's (ctx->mm; a child using the descriptor it
 *  inherited acts on its parent's VMAs), or undefined once that process is gone. The ioctl then
 *  fails before any range test (fs/userfaultfd.c userfaultfd_register / userfaultfd_unregister:
 *  mmget_not_zero, ENOMEM; userfaultfd_writeprotect: ESRCH), which is the machine's path (measured
 *  on 6.18.44: the parent died of a write to its read-only hugetlb region, then the child's
 *  register of one 4 KiB page of it -> ENOMEM, not the misaligned range's EINVAL) */
function uffdMm(h: HugetlbHost, p: Proc): Proc | undefined {
  const q = (p.ctx && h.procs[p.ctx.mm]) || p;
  return q.alive ? q : undefined;
}

/** Would a split of the hugetlb VMAs of p at [start, end) cut a huge page (R-HTLB-1)? */
export function cutsHugePage(h: HugetlbHost, p: Proc, start: number, end: number): boolean {
  for (const at of [start, end]) {
    const v = h.vmaAt(p, at);
    if (isHugetlbVma(v) && v!.start < at && !aligned(at)) return true;
  }
  return false;
}

/** The ops of a hugetlb region the machine does not run itself: undefined = the machine's own
 *  path applies (after the alignment checks done here). */
export function hugetlbOp(h: HugetlbHost, p: Proc, op: Op, start: number, end: number): Rc | undefined {
  switch (op.op) {
    case 'munmap':
      if (cutsHugePage(h, p, start, end)) { h.rule('R-HTLB-1'); return 'EINVAL'; }
      return undefined;
    case 'mprotect': {
      // mprotect_fixup splits (and so can fail) only a VMA whose protection changes. The walk
      // (mm/mprotect.c do_mprotect_pkey) meets a hole first: a start no VMA covers, or a gap before
      // the last VMA, is ENOMEM before that VMA's split is tried (the machine's path; measured on
      // 6.18: mprotect [511, 513) of a hugetlb region whose first huge page was unmapped is ENOMEM)
      const changes = (at: number) => h.vmaAt(p, at)?.prot !== op.prot;
      const cut = (at: number) => { const v = h.vmaAt(p, at); return isHugetlbVma(v) && v!.start < at && !aligned(at); };
      if ((cut(start) && changes(start)) || (cut(end) && changes(end - 1) && h.firstGap(p, start, end) === end)) { h.rule('R-HTLB-1'); return 'EINVAL'; }
      return undefined;
    }
    case 'wp': {
      // mwriteprotect_range on the context's mm (a child using its parent's descriptor acts on
      // the parent's VMAs)
      const q = uffdMm(h, p);
      if (!q) return undefined;
      if (!h.k.wpMultiVma) {
        // before 6.4 (find_dst_vma: one VMA holds the range): a VMA without VM_UFFD_WP is ENOENT
        // before the alignment test
        let any = false;
        for (let i = start; i < end; i++) { const v = h.vmaAt(q, i); if (v && !v.uffd) return undefined; any ||= !!v; }
        if (!any) return undefined; // no VMA: ENOENT
        if (!aligned(start) || !aligned(end)) { h.rule('R-HTLB-1'); return 'EINVAL'; }
        return undefined;
      }
      // 6.4+: VMA by VMA in address order (for_each_vma_range), each first tested for VM_UFFD_WP
      // (ENOENT: the machine's path, which write-protects the VMAs before it), then, a hugetlb one,
      // for the op's start and length on huge page boundaries (EINVAL) before it is
      // write-protected: a misaligned range is EINVAL at its first registered hugetlb VMA even when
      // a later VMA of the range is not registered (measured on 6.18.44: register a[0..512) of a
      // 1024-page hugetlb region, wp a[511..513) off -> EINVAL)
      for (let i = start; i < end; i++) {
        const v = h.vmaAt(q, i);
        if (!v) continue;
        if (!v.uffd) return undefined;
        if (isHugetlbVma(v) && (!aligned(start) || !aligned(end))) { h.rule('R-HTLB-1'); return 'EINVAL'; }
        i = v.end - 1;
      }
      return undefined;
    }
    case 'uffd_register':
      if (!uffdMm(h, p)) return undefined;
      if (!aligned(start) || !aligned(end)) { h.rule('R-HTLB-1'); return 'EINVAL'; }
      return undefined;
    case 'uffd_unregister': {
      // fs/userfaultfd.c userfaultfd_unregister tests only the start, against the first VMA of the
      // range; the end matters only where a registered hugetlb VMA must be split there:
      // userfaultfd_clear_vma unprotects the range first (uffd_wp_range: every huge page it
      // touches), then vma_modify_flags_uffd's split fails (hugetlb_vm_op_split): EINVAL. An
      // unregistered VMA is skipped, so a misaligned end over one is 0 (measured on 6.18.44:
      // unregister a[0..1) of an unregistered hugetlb region -> 0; registered and protected ->
      // EINVAL with the first huge page unprotected). (VMAs of the range before that one, which
      // the kernel unregisters before failing, are left as they were.)
      const q = uffdMm(h, p);
      if (!q) return undefined;
      let first: Vma | undefined;
      for (let i = start; i < end && !first; i++) first = h.vmaAt(q, i);
      if (!first) return undefined;
      if (isHugetlbVma(first) && !aligned(start)) { h.rule('R-HTLB-1'); return 'EINVAL'; }
      const last = h.vmaAt(q, end - 1);
      if (last && isHugetlbVma(last) && last.uffd && !aligned(end) && last.end > end) {
        protect(h, q, last, Math.max(start, last.start), end, false, h.rule('R-HTLB-1'));
        return 'EINVAL';
      }
      return undefined;
    }
    case 'pageout': case 'collapse': case 'guard': case 'unguard': {
      for (let i = start; i < end; i++) if (isHugetlbVma(h.vmaAt(p, i))) { h.rule('R-HTLB-2'); return 'EINVAL'; }
      return 'ENOMEM';
    }
    case 'dontneed': return dontneed(h, p, start, end);
    case 'read': case 'write': return access(h, p, start, end, op.op === 'write');
    case 'populate': return populate(h, p, op, start, end);
    default: return undefined;
  }
}

function dontneed(h: HugetlbHost, p: Proc, start: number, end: number): Rc {
  let gap = false;
  for (let i = start; i < end;) {
    const v = h.vmaAt(p, i);
    if (!v) { gap = true; i++; continue; }
    const s = i;
    const e = Math.min(end, v.end);
    // R-HTLB-1: madvise_dontneed_free_valid_vma: start aligned, end rounded down
    if (!aligned(s)) { h.rule('R-HTLB-1'); return 'EINVAL'; }
    const e2 = Math.floor(e / HPAGE_PAGES) * HPAGE_PAGES;
    for (let b = blockOf(s); b < blockOf(e2); b++) zap(h, p, b);
    i = e;
  }
  return gap ? 'ENOMEM' : 0;
}

/** __unmap_hugepage_range on one huge page, keeping uffd-wp as a marker (R-HTLB-8) */
function zap(h: HugetlbHost, p: Proc, b: number) {
  const m = entries(p);
  const e = m.get(b);
  if (!e) return;
  const id = h.rule('R-HTLB-8');
  const keep = e.t === 'marker' || e.wp;
  if (keep && h.mutant !== 'M-21') m.set(b, { t: 'marker', why: withRule(e.why, id) });
  else m.delete(b);
}

/** hugetlb_no_page (R-HTLB-3): the folio a fault maps at block b of VMA v */
function noPage(h: HugetlbHost, p: Proc, v: Vma, b: number): HEntry & { t: 'present' } {
  const m = entries(p);
  const old = m.get(b);
  let page: Page;
  if (v.kind === 'hugetlb-shared') {
    const idx = v.pgoff + (blockStart(b) - v.start);
    page = v.obj!.pages.get(idx) ?? (() => { const pg = h.newPage(false, false); v.obj!.pages.set(idx, pg); return pg; })();
  } else {
    page = h.newPage(true, false);
    if (!v.anonVma) v.anonVma = page.id; // vmf_anon_prepare
  }
  const e: HEntry & { t: 'present' } = { t: 'present', page, wp: old?.t === 'marker', sd: false, why: withRule(old?.why ?? [], h.rule('R-HTLB-3')) };
  allocTable(p, blockStart(b));
  m.set(b, e);
  return e;
}

/** A write fault on block b (hugetlb_fault). Returns 'GUP' when a populate cannot complete it. */
function writeFault(h: HugetlbHost, p: Proc, v: Vma, b: number, gup: boolean): 0 | 'GUP' {
  const cur = entries(p).get(b);
  const e = !cur || cur.t === 'marker' ? noPage(h, p, v, b) : cur;
  if (e.wp && v.uffd) {
    // R-HTLB-4: sync -> handle_userfault (the monitor clears wp of the huge page); async -> cleared
    const id = h.rule('R-HTLB-4');
    if (!v.uffd.features.has('wp_async')) {
      if (gup) return 'GUP'; // UFFD_USER_MODE_ONLY: a GUP fault is VM_FAULT_SIGBUS
      h.events.push({ kind: 'wp_fault', proc: p.id, region: h.regionName(), page: blockStart(b) - h.regionStart(p) });
    }
    e.wp = false;
    e.why = withRule(e.why, id);
  }
  if (v.kind === 'hugetlb' && (!e.page.anon || mapcount(h, e.page) > 1)) {
    // R-HTLB-5: hugetlb_wp copies a folio it does not own alone
    const id = h.rule('R-HTLB-5');
    e.page = h.newPage(true, true);
    e.why = withRule(e.why, id);
  }
  e.sd = true; // huge_pte_mkdirty sets the soft-dirty bit on x86 (SOFT_DIRTY category only)
  e.page.nonzero = true;
  return 0;
}

function access(h: HugetlbHost, p: Proc, start: number, end: number, write: boolean): Rc {
  let last = -1;
  for (let i = start; i < end; i++) {
    const v = h.vmaAt(p, i);
    if (!v || v.prot === 'none' || (write && v.prot !== 'rw')) { h.rule('R-FLT-14'); p.alive = false; return 'SIGSEGV'; }
    const b = blockOf(i);
    if (b === last) continue; // one fault maps the whole huge page
    last = b;
    const e = entries(p).get(b);
    if (!write) { if (!e || e.t === 'marker') noPage(h, p, v, b); continue; }
    writeFault(h, p, v, b, false);
  }
  return 0;
}

function populate(h: HugetlbHost, p: Proc, op: OpOf<'populate'>, start: number, end: number): Rc {
  const write = !!op.write;
  h.rule('R-POP-1');
  for (let i = start; i < end; i++) {
    const v = h.vmaAt(p, i);
    if (!v) { h.rule('R-POP-2'); return 'ENOMEM'; }
    if (v.prot === 'none' || (write && v.prot !== 'rw')) { h.rule('R-POP-2'); return 'EINVAL'; }
    const b = blockOf(i);
    const e = entries(p).get(b);
    if (!write) { if (!e || e.t === 'marker') noPage(h, p, v, b); continue; }
    // FOLL_WRITE follows a writable entry without a fault: a present, not write-protected entry
    // that is writable (shared, or a private exclusive anon folio)
    if (e?.t === 'present' && !e.wp && (v.kind === 'hugetlb-shared' || (e.page.anon && mapcount(h, e.page) === 1))) continue;
    if (writeFault(h, p, v, b, true) === 'GUP') { h.rule('R-POP-3'); return 'EFAULT'; }
  }
  return 0;
}

/** uffd_wp_range over [s, e) of hugetlb VMA v (R-HTLB-6: hugetlb_change_protection) */
export function protect(h: HugetlbHost, p: Proc, v: Vma, s: number, e: number, on: boolean, id?: string) {
  const m = entries(p);
  for (let b = blockOf(s); b <= blockOf(e - 1); b++) {
    const ent = m.get(b);
    if (on) {
      const rid = h.rule('R-HTLB-6');
      if (!ent) { allocTable(p, blockStart(b)); m.set(b, { t: 'marker', why: [rid] }); }
      else if (ent.t === 'present') { ent.wp = true; ent.why = withRule(ent.why, rid); }
    } else if (ent) {
      const rid = id ?? h.rule('R-HTLB-6');
      if (ent.t === 'marker') m.delete(b);
      else if (ent.wp) { ent.wp = false; ent.why = withRule(ent.why, rid); }
    }
  }
  void v;
}

/** munmap: the huge PTEs of [start, end) go */
export function unmap(p: Proc, start: number, end: number) {
  if (!p.htlb) return;
  for (let b = blockOf(start); b <= blockOf(end - 1); b++) p.htlb.delete(b);
}

/** copy_hugetlb_page_range into `child` for its VMA cv (parent VMA v) (R-HTLB-7) */
export function forkVma(h: HugetlbHost, p: Proc, child: Proc, v: Vma, cv: Vma) {
  h.rule('R-HTLB-7');
  const childWp = !!cv.uffd;
  if (!(childWp || v.anonVma)) return; // vma_needs_copy
  if (isHole(p, v.start)) return;
  allocTable(child, v.start); // huge_pte_alloc for every source slot
  const m = entries(p);
  const cm = entries(child);
  const keepWp = childWp;
  for (let b = blockOf(v.start); b <= blockOf(v.end - 1); b++) {
    const e = m.get(b);
    if (!e) continue;
    if (e.t === 'marker') { if (keepWp) cm.set(b, { t: 'marker', why: withRule(e.why, 'R-HTLB-7') }); continue; }
    cm.set(b, { ...e, wp: e.wp && keepWp, why: withRule(e.why, 'R-HTLB-7') });
  }
}

/** pagemap bits P S F E W D of a page of hugetlb VMA v (R-HTLB-9: pagemap_hugetlb_range) */
export function pagemapBits(h: HugetlbHost, p: Proc, v: Vma, page: number, b: number[]): 'huge' | 'marker' | 'none' {
  const e = p.htlb?.get(blockOf(page));
  b[5] = v.sd ? 1 : 0;
  if (e?.t === 'present') {
    b[0] = 1;
    b[2] = e.page.anon ? 0 : 1;
    b[3] = mapcount(h, e.page) === 1 ? 1 : 0;
    b[4] = e.wp ? 1 : 0;
    return 'huge';
  }
  if (e?.t === 'marker') { b[4] = 1; return 'marker'; }
  return 'none';
}

export function why(p: Proc, page: number): Why {
  return p.htlb?.get(blockOf(page))?.why ?? [];
}
