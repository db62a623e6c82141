// PAGEMAP_SCAN model: every rule pinned by a scenario stating what the kernel does (x86-semantics.md
// §3, §9.2 selftests, §15 live 6.18.44 probe, fs/proc/task_mmu.c). Letters: a w f p s z h d g =
// WPALLOWED WRITTEN FILE PRESENT SWAPPED PFNZERO HUGE SOFT_DIRTY GUARD.
import { describe, expect, it } from 'vitest';
import { SCAN_LETTERS } from '../../src/ops/trace.ts';
import {
  NOT_REPORTED, PAGE_IS_HUGE, PAGE_IS_PRESENT, PAGE_IS_WRITTEN, SCAN_CATEGORY_LETTERS, SCAN_RULES,
  categoryString, defaultSplitEntry, pagemapScan, parseCategoryString,
  type HugeEntry, type ScanAction, type ScanEntry, type ScanKnobs, type ScanPage, type ScanQuery, type ScanResult,
  type ScanVma,
} from '../../src/model/scan.ts';

// ---------------------------------------------------------------------------------------------
// scenario vocabulary

/** the live 6.18.44 kernel as measured in §15 (fixes on), but with soft-dirty built in so `d` is visible */
const K618: ScanKnobs = {
  scanNoneWritten: true, scanHoleWritten: true, scanWrittenUffdOnly: false, pfnZeroHuge: true, guard: true, memSoftDirty: true,
};
/** a kernel before the July-2026 fixes (B-27, B-28) */
const PREFIX: ScanKnobs = { ...K618, scanNoneWritten: false, scanHoleWritten: false };

/** anon private VMA registered for WP with an async ctx (the selftests' wp_init) */
const armed = (id: number, o: Partial<ScanVma> = {}): ScanVma => ({ id, uffdWp: true, wpAsync: true, softDirty: false, anon: true, ...o });
/** VMA never registered with userfaultfd */
const plainVma = (id: number, o: Partial<ScanVma> = {}): ScanVma => ({ id, uffdWp: false, wpAsync: false, softDirty: false, anon: true, ...o });

/** page written through an async uffd-wp ctx: present, wp cleared, sd set by pte_mkdirty */
const written = (o: Partial<Extract<ScanEntry, { kind: 'present' }>> = {}): ScanEntry => ({ kind: 'present', wp: false, sd: true, file: false, zero: false, ...o });
/** a present page after WP (UFFDIO_WRITEPROTECT or a WP_MATCHING scan) */
const protectedPage: ScanEntry = { kind: 'present', wp: true, sd: true, file: false, zero: false };
const marker: ScanEntry = { kind: 'marker', sd: false };
const none: ScanEntry = { kind: 'none' };
const hole: ScanEntry = { kind: 'hole' };
const gap: ScanEntry = { kind: 'gap' };
const thp = (o: Partial<HugeEntry> = {}): HugeEntry => ({ kind: 'huge', wp: false, sd: true, file: false, hugeZero: false, ...o });

const pagesOf = (vma: ScanVma | null, entries: ScanEntry[]): ScanPage[] => entries.map((entry) => ({ vma, entry }));
const times = <T>(k: number, x: T | ((i: number) => T)): T[] =>
  Array.from({ length: k }, (_, i) => (typeof x === 'function' ? (x as (i: number) => T)(i) : x));

const PLAIN: ScanQuery = { wpMatching: false };
const WP: ScanQuery = { wpMatching: true };

function scan(pages: ScanPage[], query: ScanQuery, knobs: ScanKnobs = K618, firstPage = 0): ScanResult {
  return pagemapScan({ firstPage, pages, query, knobs });
}

/** The state after a scan, as the lead's model would apply the actions (enough for follow-up scans). */
function apply(pages: ScanPage[], actions: ScanAction[], knobs: ScanKnobs = K618, firstPage = 0): ScanPage[] {
  const out = pages.map((p) => ({ ...p }));
  const inBlock = (i: number, b: number) => Math.floor((firstPage + i) / 512) === b;
  for (const a of actions) {
    switch (a.kind) {
      case 'wp-pte': {
        const e = out[a.page].entry;
        if (e.kind !== 'present' && e.kind !== 'swap' && e.kind !== 'guard') throw new Error(`wp-pte on ${e.kind}`);
        out[a.page] = { ...out[a.page], entry: { ...e, wp: true } };
        break;
      }
      case 'marker': {
        const e = out[a.page].entry;
        if (e.kind !== 'none') throw new Error(`marker on ${e.kind} (pgtable must come first)`);
        out[a.page] = { ...out[a.page], entry: marker };
        break;
      }
      case 'pgtable':
        out.forEach((p, i) => { if (inBlock(i, a.block) && p.entry.kind === 'hole') out[i] = { ...p, entry: none }; });
        break;
      case 'wp-pmd':
        out.forEach((p, i) => { if (inBlock(i, a.block) && p.entry.kind === 'huge') out[i] = { ...p, entry: { ...p.entry, wp: true } }; });
        break;
      case 'split-pmd':
        out.forEach((p, i) => {
          if (inBlock(i, a.block) && p.entry.kind === 'huge') out[i] = { ...p, entry: defaultSplitEntry(p.entry, p.vma!, knobs) };
        });
        break;
    }
  }
  return out;
}

/** the async write of the selftests (`mem[i]++`): the page becomes present, wp cleared, sd set */
const write = (pages: ScanPage[], idx: number[]): ScanPage[] =>
  pages.map((p, i) => (idx.includes(i) ? { ...p, entry: written() } : p));

/** number of page_region entries the ioctl would return: maximal runs of adjacent pages with equal categories */
function regions(cats: string[]): number {
  let n = 0;
  for (let i = 0; i < cats.length; i++) if (cats[i] !== NOT_REPORTED && (i === 0 || cats[i - 1] !== cats[i])) n++;
  return n;
}
const reported = (cats: string[]) => cats.filter((c) => c !== NOT_REPORTED).length;
const writtenCount = (cats: string[]) => cats.filter((c) => c[1] === 'w').length;
const kinds = (r: ScanResult) => r.actions.map((a) => a.kind);

const seenRules = new Set<string>();
function track(r: ScanResult): ScanResult { r.rules.forEach((x) => seenRules.add(x)); return r; }

// ---------------------------------------------------------------------------------------------

describe('category letters', () => {
  it('are the trace format\'s nine letters in uapi bit order (PAGE_IS_WPALLOWED = bit 0 ... GUARD = bit 8)', () => {
    expect([...SCAN_CATEGORY_LETTERS]).toEqual([...SCAN_LETTERS]);
    expect(categoryString(PAGE_IS_PRESENT | PAGE_IS_WRITTEN | PAGE_IS_HUGE)).toBe('.w.p..h..');
    expect(categoryString(0x1ff)).toBe('awfpszhdg');
    expect(parseCategoryString('aw.p..h..')).toBe(1 | 2 | 8 | 64);
    expect(parseCategoryString(NOT_REPORTED)).toBeNull();
    expect(() => parseCategoryString('wa.......')).toThrow(/position 1/);
  });
});

describe('R-PMS-1 per-VMA gate (pagemap_scan_test_walk)', () => {
  it('§15: CHECK_WPASYNC on an unregistered VMA fails with EPERM; nothing reported, nothing protected', () => {
    const r = track(scan(pagesOf(plainVma(1), times(4, () => written())), WP));
    expect(r.rc).toBe('EPERM');
    expect(r.cats).toEqual(times(4, NOT_REPORTED));
    expect(r.actions).toEqual([]);
    expect(r.rules).toContain('R-PMS-1.eperm');
  });

  it('§3.2: EPERM at a later VMA leaves the earlier VMA write-protected (the error is returned, no categories)', () => {
    const pages = [
      ...pagesOf(armed(1), times(3, () => written())),
      ...pagesOf(null, [gap]),
      ...pagesOf(plainVma(2), times(2, () => written())),
    ];
    const r = track(scan(pages, WP));
    expect(r.rc).toBe('EPERM');
    expect(r.cats).toEqual(times(6, NOT_REPORTED));
    expect(r.actions).toEqual([0, 1, 2].map((page) => ({ kind: 'wp-pte', page })));
  });

  it('§3.2: wp_allowed needs the WP_ASYNC ctx — a sync-ctx uffd-wp VMA is not wp_allowed (EPERM; plain scan shows no `a`)', () => {
    const sync = armed(1, { wpAsync: false });
    expect(track(scan(pagesOf(sync, [written()]), WP)).rc).toBe('EPERM');
    expect(track(scan(pagesOf(sync, [written()]), PLAIN)).cats).toEqual(['.w.p...d.']);
  });

  it('§3.2: the plain query walks unregistered VMAs (no WPALLOWED) and WPALLOWED marks every page of a wp_allowed VMA', () => {
    const r = track(scan([...pagesOf(plainVma(1), [written()]), ...pagesOf(armed(2), [written(), marker])], PLAIN));
    expect(r.rc).toBe(0);
    expect(r.cats).toEqual(['.w.p...d.', 'aw.p...d.', 'a...s....']);
  });

  it('R-PM-1 analogue: VM_SOFTDIRTY puts SOFT_DIRTY on every page of the VMA, whatever the entry (none, hole, marker, clean PTE)', () => {
    const v = armed(1, { softDirty: true });
    const r = track(scan(pagesOf(v, [none, marker, { kind: 'present', wp: true, sd: false, file: false, zero: false }]), PLAIN));
    expect(r.cats).toEqual(['aw.....d.', 'a...s..d.', 'a..p...d.']);
    const h = track(scan(pagesOf(v, [hole, hole]), PLAIN, K618, 100));
    expect(h.cats).toEqual(['aw.....d.', 'aw.....d.']);
  });

  it('§0.3/§15: on a kernel without CONFIG_MEM_SOFT_DIRTY no page is ever SOFT_DIRTY', () => {
    const r = track(scan(pagesOf(armed(1, { softDirty: true }), [written(), none]), PLAIN, { ...K618, memSoftDirty: false }));
    expect(r.cats).toEqual(['aw.p.....', 'aw.......']);
  });

  it('§3.2 / S-PMS-UNMAPPED: gaps between VMAs are never reported and do not count against max_pages', () => {
    const pages = [...pagesOf(armed(1), [written()]), ...pagesOf(null, [gap, gap]), ...pagesOf(armed(2), [written()])];
    const r = track(scan(pages, { wpMatching: false, maxPages: 2 }));
    expect(r.cats).toEqual(['aw.p...d.', NOT_REPORTED, NOT_REPORTED, 'aw.p...d.']);
    const unmapped = track(scan(pagesOf(null, times(8, gap)), WP));
    expect(unmapped).toMatchObject({ rc: 0, actions: [], cats: times(8, NOT_REPORTED) });
  });

  it('§3.4+§3.2 (code-derived, §14.6): max_pages reached exactly does not stop the walk, so a following unregistered VMA still fails with EPERM; one more written page stops it first', () => {
    const mk = (k: number) => [...pagesOf(armed(1), times(k, () => written())), ...pagesOf(null, [gap]), ...pagesOf(plainVma(2), [written()])];
    const exact = track(scan(mk(2), { wpMatching: true, maxPages: 2 }));
    expect(exact.rc).toBe('EPERM');
    expect(exact.actions).toHaveLength(2); // both pages of the first VMA stay protected
    const more = track(scan(mk(3), { wpMatching: true, maxPages: 2 }));
    expect(more.rc).toBe(0);
    expect(more.cats).toEqual(['aw.p...d.', 'aw.p...d.', NOT_REPORTED, NOT_REPORTED, NOT_REPORTED]);
    expect(more.walkEnd).toBe(2);
  });
});

describe('R-PMS-2 categories (pagemap_page_category, pagemap_thp_category, pagemap_scan_pte_hole)', () => {
  it('S-PMS-UNPOP-4K: 16 written pages zapped by MADV_DONTNEED are WRITTEN in the generic path with V_SCAN_NONE_WRITTEN, and WP_MATCHING arms them with markers', () => {
    const pages = pagesOf(armed(1), times(16, none));
    const plain = track(scan(pages, PLAIN));
    expect(writtenCount(plain.cats)).toBe(16);
    expect(plain.cats[0]).toBe('aw.......');
    const wp = track(scan(pages, WP));
    expect(reported(wp.cats)).toBe(16);
    expect(wp.actions).toEqual(times(16, (page) => ({ kind: 'marker', page })));
    const again = track(scan(apply(pages, wp.actions), WP));
    expect(reported(again.cats)).toBe(0);
  });

  it('S-PMS-UNPOP-4K before the fix (B-27): the generic path reports the zapped pages not written and arms nothing', () => {
    const pages = pagesOf(armed(1), times(16, none));
    expect(writtenCount(track(scan(pages, PLAIN, PREFIX)).cats)).toBe(0);
    const wp = track(scan(pages, WP, PREFIX));
    expect(reported(wp.cats)).toBe(0);
    expect(wp.actions).toEqual([]);
  });

  it('§15: pte_none in a VMA never registered with uffd is WRITTEN too (no VMA test); V_SCAN_WRITTEN_UFFD_ONLY (7.3) withholds it', () => {
    const pages = pagesOf(plainVma(1), [none, written()]);
    expect(track(scan(pages, PLAIN)).cats).toEqual(['.w.......', '.w.p...d.']);
    expect(track(scan(pages, PLAIN, { ...K618, scanWrittenUffdOnly: true })).cats).toEqual(['.........', '...p...d.']);
  });

  it('S-PMS-UNPOP-THP: a THP dropped whole by MADV_DONTNEED leaves a PMD hole: 512 pages WRITTEN; WP_MATCHING allocates the table and installs 512 markers', () => {
    const pages = pagesOf(armed(1), times(512, hole));
    const plain = track(scan(pages, PLAIN, K618, 1024));
    expect(writtenCount(plain.cats)).toBe(512);
    expect(plain.cats[0]).toBe('aw.......');
    const wp = track(scan(pages, WP, K618, 1024));
    expect(reported(wp.cats)).toBe(512);
    expect(wp.actions[0]).toEqual({ kind: 'pgtable', block: 2 });
    expect(wp.actions.slice(1)).toEqual(times(512, (page) => ({ kind: 'marker', page })));
    expect(wp.rules).toContain('R-PMS-6');
  });

  it('S-PMS-UNPOP-THP before the fix (B-28): the hole is neither WRITTEN nor armed', () => {
    const pages = pagesOf(armed(1), times(512, hole));
    expect(writtenCount(track(scan(pages, PLAIN, PREFIX)).cats)).toBe(0);
    expect(track(scan(pages, WP, PREFIX)).actions).toEqual([]);
  });

  it('§3.3: a hole in a VMA that is not VM_UFFD_WP is not WRITTEN (only the VMA categories)', () => {
    expect(track(scan(pagesOf(plainVma(1), [hole, hole]), PLAIN)).cats).toEqual(['.........', '.........']);
  });

  it('§3.9 / S-PMS-BASE(1): right after wp_init every page is a marker: SWAPPED, not WRITTEN, so WP_MATCHING reports and arms nothing', () => {
    const pages = pagesOf(armed(1), times(10, marker));
    expect(track(scan(pages, PLAIN)).cats).toEqual(times(10, 'a...s....'));
    const wp = track(scan(pages, WP));
    expect(reported(wp.cats)).toBe(0);
    expect(wp.actions).toEqual([]);
  });

  it('§3.9: already write-protected present pages are not WRITTEN and are never re-armed', () => {
    const wp = track(scan(pagesOf(armed(1), [protectedPage, written(), protectedPage]), WP));
    expect(wp.cats).toEqual([NOT_REPORTED, 'aw.p...d.', NOT_REPORTED]);
    expect(wp.actions).toEqual([{ kind: 'wp-pte', page: 1 }]);
  });

  it('S-PMS-ZEROPFN: pages read in a PROT_READ anon mapping map the 4K zero page: PRESENT|PFNZERO, not FILE', () => {
    const zero: ScanEntry = { kind: 'present', wp: false, sd: false, file: true, zero: true };
    expect(track(scan(pagesOf(plainVma(1), times(10, zero)), PLAIN)).cats).toEqual(times(10, '.w.p.z...'));
  });

  it('§3.9: reading a marker maps the zero page keeping wp: PFNZERO and not WRITTEN', () => {
    const zeroWp: ScanEntry = { kind: 'present', wp: true, sd: false, file: false, zero: true };
    expect(track(scan(pagesOf(armed(1), [zeroWp]), PLAIN)).cats).toEqual(['a..p.z...']);
  });

  it('S-PMS-ZEROPFN(huge) / §15: a huge-zero PMD is HUGE|PRESENT|PFNZERO for all 512 pages and not FILE (although pagemap bit 61 reads 1)', () => {
    const hz = thp({ hugeZero: true, file: true, sd: false });
    const r = track(scan(pagesOf(plainVma(1), times(512, hz)), PLAIN, K618, 512));
    expect(r.cats).toEqual(times(512, '.w.p.zh..'));
    const before = track(scan(pagesOf(plainVma(1), times(512, hz)), PLAIN, { ...K618, pfnZeroHuge: false }, 512));
    expect(before.cats[0]).toBe('.w.p..h..'); // B-25: PFNZERO never set for the huge zero folio
  });

  it('§3.3: a shmem/page-cache page is FILE; a present THP of page cache is FILE|HUGE', () => {
    const shm = armed(1, { anon: false });
    expect(track(scan(pagesOf(shm, [written({ file: true })]), PLAIN)).cats).toEqual(['awfp...d.']);
    const r = track(scan(pagesOf(plainVma(2, { anon: false }), times(512, thp({ file: true, sd: false }))), PLAIN));
    expect(r.cats[0]).toBe('.wfp..h..');
  });

  it('R-PO-1 + §3.3: a swapped-out anon page is SWAPPED, WRITTEN iff its swp wp bit is clear; WP_MATCHING sets the swp wp bit on the written one only', () => {
    const pages = pagesOf(armed(1), [{ kind: 'swap', wp: true, sd: true }, { kind: 'swap', wp: false, sd: true }]);
    expect(track(scan(pages, PLAIN)).cats).toEqual(['a...s..d.', 'aw..s..d.']);
    const wp = track(scan(pages, WP));
    expect(wp.actions).toEqual([{ kind: 'wp-pte', page: 1 }]);
    expect(track(scan(apply(pages, wp.actions), PLAIN)).cats).toEqual(['a...s..d.', 'a...s..d.']);
  });

  it('§15 / R-PMS-9: a guard marker is GUARD|SWAPPED|WRITTEN; arming sets its swp wp bit, after which it reads GUARD|SWAPPED only', () => {
    const pages = pagesOf(armed(1), [{ kind: 'guard', wp: false }]);
    expect(track(scan(pages, PLAIN)).cats).toEqual(['aw..s...g']);
    const wp = track(scan(pages, WP));
    expect(wp.actions).toEqual([{ kind: 'wp-pte', page: 0 }]);
    expect(wp.rules).toContain('R-PMS-9');
    expect(track(scan(apply(pages, wp.actions), PLAIN)).cats).toEqual(['a...s...g']);
    expect(() => scan(pages, PLAIN, { ...K618, guard: false })).toThrow(/guard/);
  });

  it('R-PMS-11: before 6.15 (no guard regions) a GUARD bit in any mask is EINVAL before the walk; without a return_mask the kernel\'s own categories are returned', () => {
    const pages = pagesOf(armed(1), [{ kind: 'none' }]);
    const old = { ...K618, guard: false };
    for (const q of [{ mask: 1 << 8 }, { inverted: 1 << 8 }, { anyof: 1 << 8 }, { ret: 1 << 8 }]) {
      const r = track(scan(pages, { ...PLAIN, ...q }, old));
      expect(r.rc, JSON.stringify(q)).toBe('EINVAL');
      expect(r.rules).toContain('R-PMS-11');
      expect(r.actions).toEqual([]);
      expect(scan(pages, { ...PLAIN, ...q }).rc, JSON.stringify(q)).toBe(0); // 6.15+ knows GUARD
    }
    const r = scan(pages, PLAIN, old);
    expect(r.rc).toBe(0);
    expect(r.rules).not.toContain('R-PMS-11');
    expect(r.rules).not.toContain('R-PMS-3.masks'); // the default return mask is not a custom one
  });
});

describe('R-PMS-5 THP under WP_MATCHING (pagemap_scan_thp_entry)', () => {
  const twoThps = () => pagesOf(armed(1), times(1024, () => thp()));

  it('S-PMS-THP(3): THPs written all over, scan+WP over whole blocks: reported WRITTEN|HUGE, PMDs write-protected in place (still huge)', () => {
    const r = track(scan(twoThps(), WP));
    expect(r.cats).toEqual(times(1024, 'aw.p..hd.'));
    expect(r.actions).toEqual([{ kind: 'wp-pmd', block: 0 }, { kind: 'wp-pmd', block: 1 }]);
    expect(r.rules).toContain('R-PMS-5.whole');
    // S-PMS-THP(1)/(2): a scan right after reports nothing
    const after = apply(twoThps(), r.actions);
    expect(after.every((p) => p.entry.kind === 'huge' && p.entry.wp)).toBe(true);
    expect(reported(track(scan(after, WP)).cats)).toBe(0);
  });

  it('§3.6: a range covering only part of a written THP splits it and redoes the range at PTE level (no HUGE, spurious sd from the dirty PMD)', () => {
    // pages 256..767: the second half of block 0 and the first half of block 1
    const pages = pagesOf(armed(1), times(512, () => thp({ sd: false })));
    const r = track(scan(pages, WP, K618, 256));
    expect(kinds(r)).toEqual(['split-pmd', ...times(256, 'wp-pte'), 'split-pmd', ...times(256, 'wp-pte')]);
    expect(r.actions[0]).toEqual({ kind: 'split-pmd', block: 0 });
    expect(r.actions[257]).toEqual({ kind: 'split-pmd', block: 1 });
    expect(r.cats).toEqual(times(512, 'aw.p...d.'));
    expect(r.rules).toContain('R-PMS-5.split');
  });

  it('S-PMS-THP(8): scan+WP with max_pages=256 over written THPs splits the first, protects 256 pages; the next scan finds the remaining total−256', () => {
    const r = track(scan(twoThps(), { wpMatching: true, maxPages: 256 }));
    expect(kinds(r)).toEqual(['split-pmd', ...times(256, 'wp-pte')]);
    expect(regions(r.cats)).toBe(1);
    expect(reported(r.cats)).toBe(256);
    expect(r.cats[255]).toBe('aw.p...d.');
    expect(r.cats[256]).toBe(NOT_REPORTED);
    expect(r.walkEnd).toBe(256);
    const next = track(scan(apply(twoThps(), r.actions), WP));
    expect(reported(next.cats)).toBe(1024 - 256);
    expect(next.actions.filter((a) => a.kind === 'wp-pmd')).toEqual([{ kind: 'wp-pmd', block: 1 }]);
  });

  it('§3.6: max_pages exhausted exactly at a THP start: nothing reported from it, no split, walk stops', () => {
    const r = track(scan(twoThps(), { wpMatching: true, maxPages: 512 }));
    expect(r.actions).toEqual([{ kind: 'wp-pmd', block: 0 }]);
    expect(r.cats[512]).toBe(NOT_REPORTED);
    expect(r.walkEnd).toBe(512);
  });

  it('§3.4: without WP_MATCHING max_pages truncates inside a THP without splitting it', () => {
    const r = track(scan(twoThps(), { wpMatching: false, maxPages: 100 }));
    expect(r.actions).toEqual([]);
    expect(reported(r.cats)).toBe(100);
    expect(r.cats[0]).toBe('aw.p..hd.');
  });

  it('§3.6: a write-protected THP is not WRITTEN: a partial WP_MATCHING range neither reports nor splits it', () => {
    const r = track(scan(pagesOf(armed(1), times(10, () => thp({ wp: true }))), WP, K618, 100));
    expect(r.actions).toEqual([]);
    expect(reported(r.cats)).toBe(0);
  });

  it('R-SPLIT-2: a partially scanned huge-zero PMD splits into zero-page PTEs that keep PFNZERO, lose HUGE, and are armed one by one', () => {
    const r = track(scan(pagesOf(armed(1), times(4, () => thp({ hugeZero: true, sd: false }))), WP, K618, 510));
    expect(kinds(r)).toEqual(['split-pmd', 'wp-pte', 'wp-pte', 'split-pmd', 'wp-pte', 'wp-pte']);
    expect(r.cats).toEqual(times(4, 'aw.p.z...'));
  });

  it('R-SPLIT-3: splitting a shmem PMD clears it; the redo finds a hole (WRITTEN in a uffd-wp VMA) and arms it with markers', () => {
    const shm = armed(1, { anon: false });
    const r = track(scan(pagesOf(shm, times(3, () => thp({ file: true, sd: false }))), WP, K618, 10));
    expect(r.actions).toEqual([
      { kind: 'split-pmd', block: 0 }, { kind: 'pgtable', block: 0 },
      { kind: 'marker', page: 0 }, { kind: 'marker', page: 1 }, { kind: 'marker', page: 2 },
    ]);
    expect(r.cats).toEqual(times(3, 'aw.......'));
    // before V_SCAN_HOLE_WRITTEN the zapped range is not reported and stays unprotected
    const pre = track(scan(pagesOf(shm, times(3, () => thp({ file: true, sd: false }))), WP, PREFIX, 10));
    expect(pre.actions).toEqual([{ kind: 'split-pmd', block: 0 }]);
    expect(reported(pre.cats)).toBe(0);
  });
});

describe('R-PMS-7 max_pages (pagemap_scan_output, do_pagemap_scan)', () => {
  // the selftests' `mem` of 16 pages after wp_init + a first scan+WP: every page a marker
  const fresh = () => pagesOf(armed(1), times(16, marker));
  const evens = times(8, (i) => 2 * i);

  it('S-PMS-PATTERN: writing every other page gives 8 one-page WRITTEN regions', () => {
    const r = track(scan(write(fresh(), evens), WP));
    expect(regions(r.cats)).toBe(8);
  });

  it('S-PMS-PARTS: scan+WP max_pages=N/2−2 takes the first 6 written pages; a plain scan then sees exactly 2 written; scan+WP takes those 2', () => {
    const mem = write(fresh(), evens);
    const first = track(scan(mem, { wpMatching: true, maxPages: 16 / 2 - 2 }));
    expect(regions(first.cats)).toBe(6);
    expect(first.walkEnd).toBe(12); // the 7th written page (page 12) is where output stopped
    const mem2 = apply(mem, first.actions);
    expect(writtenCount(track(scan(mem2, PLAIN)).cats)).toBe(2);
    const third = track(scan(mem2, WP));
    expect(regions(first.cats) + regions(third.cats)).toBe(16 / 2);
  });

  it('S-PMS-MAXPAGES: every other page and the last written; scan+WP max_pages=N/2 returns N/2 regions; the next scan+WP returns 1 (the last page)', () => {
    const mem = write(fresh(), [...evens, 15]);
    const first = track(scan(mem, { wpMatching: true, maxPages: 8 }));
    expect(regions(first.cats)).toBe(8);
    expect(first.cats[15]).toBe(NOT_REPORTED);
    expect(first.actions).toHaveLength(8);
    const second = track(scan(apply(mem, first.actions), WP));
    expect(regions(second.cats)).toBe(1);
    expect(second.cats[15]).toBe('aw.p...d.');
  });

  it('S-PMS-2PAGES: all written; scan+WP of pages [1,3) max 2 reports them as one region; a full scan then shows page 0 and pages 3..end', () => {
    const mem = write(fresh(), times(16, (i) => i));
    const part = track(scan(mem.slice(1, 3), { wpMatching: true, maxPages: 2 }, K618, 1));
    expect(regions(part.cats)).toBe(1);
    expect(part.actions).toEqual([{ kind: 'wp-pte', page: 0 }, { kind: 'wp-pte', page: 1 }]); // indices within the scanned range
    const mem2 = [mem[0], ...apply(mem.slice(1, 3), part.actions, K618, 1), ...mem.slice(3)];
    const all = track(scan(mem2, WP));
    expect(regions(all.cats)).toBe(2);
    expect(all.cats[0]).not.toBe(NOT_REPORTED);
    expect(all.cats.slice(1, 3)).toEqual([NOT_REPORTED, NOT_REPORTED]);
    expect(reported(all.cats)).toBe(14);
  });

  it('§3.7: max_pages truncating a hole arms only the reported slots; the rest of the block now has a table (pte_none), still WRITTEN', () => {
    const pages = pagesOf(armed(1), times(512, hole));
    const r = track(scan(pages, { wpMatching: true, maxPages: 100 }));
    expect(r.actions).toHaveLength(1 + 100);
    expect(reported(r.cats)).toBe(100);
    expect(r.walkEnd).toBe(100);
    const after = apply(pages, r.actions);
    expect(after[100].entry.kind).toBe('none');
    const next = track(scan(after, WP));
    expect(reported(next.cats)).toBe(412);
    expect(next.actions.every((a) => a.kind === 'marker')).toBe(true);
  });

  it('§3.4: the plain query with max_pages reports the first max_pages pages of the VMAs in range', () => {
    const r = track(scan(pagesOf(armed(1), [marker, written(), none, none]), { wpMatching: false, maxPages: 3 }));
    expect(r.cats).toEqual(['a...s....', 'aw.p...d.', 'aw.......', NOT_REPORTED]);
    expect(r.walkEnd).toBe(3);
  });
});

describe('R-PMS-8 the scan never touches soft-dirty', () => {
  it('§3.8: after scan+WP every page keeps its SOFT_DIRTY letter; only WRITTEN flips', () => {
    const pages = pagesOf(armed(1), [written(), written({ sd: false }), { kind: 'swap', wp: false, sd: true }, none, marker]);
    const before = track(scan(pages, PLAIN)).cats;
    const wp = track(scan(pages, WP));
    expect(wp.rules).toContain('R-PMS-8');
    const after = track(scan(apply(pages, wp.actions), PLAIN)).cats;
    expect(after.map((c) => c[7])).toEqual(before.map((c) => c[7]));
    expect(after.map((c) => c[1])).toEqual(times(5, '.'));
  });
});

// ptefarm-case/2: the rest of pm_scan_arg (fs/proc/task_mmu.c pagemap_scan_pmd_entry's three PTE
// paths, pagemap_scan_is_interesting_page / _vma, pagemap_scan_output without a vector)
describe('full argument space', () => {
  const swapWp: ScanEntry = { kind: 'swap', wp: true, sd: false };
  it('R-PMS-3.masks: category_mask and category_inverted select, anyof needs one bit, return_mask masks the report', () => {
    const pages = pagesOf(plainVma(1), [written(), none, swapWp]);
    expect(track(scan(pages, { wpMatching: false, mask: PAGE_IS_PRESENT, ret: PAGE_IS_PRESENT | PAGE_IS_WRITTEN })).cats)
      .toEqual(['.w.p.....', NOT_REPORTED, NOT_REPORTED]);
    expect(track(scan(pages, { wpMatching: false, mask: PAGE_IS_PRESENT, inverted: PAGE_IS_PRESENT, ret: 0 })).cats)
      .toEqual([NOT_REPORTED, '.........', '.........']);
    expect(track(scan(pages, { wpMatching: false, anyof: 1 << 4 })).cats).toEqual([NOT_REPORTED, NOT_REPORTED, '....s....']);
  });
  it('R-PMS-1.skip: WP_MATCHING without CHECK_WPASYNC skips a VMA that is not wp_allowed; a WPALLOWED mask skips it too', () => {
    const pages = [...pagesOf(plainVma(1), [written()]), ...pagesOf(armed(2), [written()])];
    const r = track(scan(pages, { wpMatching: true, checkWpasync: false }));
    expect(r.rc).toBe(0);
    expect(r.cats).toEqual([NOT_REPORTED, 'aw.p...d.']);
    expect(track(scan(pages, { wpMatching: false, mask: 1 })).cats).toEqual([NOT_REPORTED, 'aw.p...d.']);
  });
  it('R-PMS-4: WP_MATCHING without an output vector arms every entry not yet protected, whatever the masks; nothing reported, walk_end = end', () => {
    const r = track(scan(pagesOf(armed(1), [written(), none, protectedPage, swapWp]), { wpMatching: true, vec: false, mask: 1 << 4, maxPages: 1 }));
    expect(r.cats).toEqual(times(4, NOT_REPORTED));
    expect(r.actions).toEqual([{ kind: 'wp-pte', page: 0 }, { kind: 'marker', page: 1 }]);
    expect(r.walkEnd).toBe(4);
    expect(r.vec).toBe(false);
  });
  it('R-PMS-3.fast: category_mask = return_mask = WRITTEN reports what is not write-protected as WRITTEN alone (a swap entry\'s wp bit read with the swap helper)', () => {
    const q: ScanQuery = { wpMatching: false, mask: PAGE_IS_WRITTEN, ret: PAGE_IS_WRITTEN };
    expect(track(scan(pagesOf(armed(1), [written(), protectedPage, swapWp, marker, none]), q)).cats)
      .toEqual(['.w.......', NOT_REPORTED, NOT_REPORTED, NOT_REPORTED, '.w.......']);
    // B-23: the pre-6.9 fast path read the swap entry's wp bit with the present helper
    expect(scan(pagesOf(armed(1), [swapWp]), { ...q, fastPathSwapConfusion: true }).cats).toEqual(['.w.......']);
  });
  it('R-PMS-10: walk_end is the max_pages truncation point', () => {
    const r = track(scan(pagesOf(armed(1), times(4, () => written())), { wpMatching: false, maxPages: 3 }));
    expect(r.walkEnd).toBe(3);
  });
});

describe('input validation', () => {
  it('rejects a block mixing a huge PMD with PTE entries, a gap inside a VMA, and disagreeing PMD pages', () => {
    expect(() => scan(pagesOf(armed(1), [thp(), none]), PLAIN)).toThrow(/mixes/);
    expect(() => scan(pagesOf(armed(1), [gap]), PLAIN)).toThrow(/gap/);
    expect(() => scan(pagesOf(armed(1), [thp(), thp({ wp: true })]), PLAIN)).toThrow(/disagree/);
  });
  it('treats two blocks of one VMA independently (a hole next to a PTE table)', () => {
    const r = scan(pagesOf(armed(1), [none, hole]), WP, K618, 511);
    expect(r.actions).toEqual([{ kind: 'marker', page: 0 }, { kind: 'pgtable', block: 1 }, { kind: 'marker', page: 1 }]);
  });
});

describe('rule catalogue', () => {
  it('has unique ids, each with a sentence and a kernel source, and covers every rule id the scenarios exercised', () => {
    const ids = SCAN_RULES.map((r) => r.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const r of SCAN_RULES) {
      expect(r.id).toMatch(/^R-PMS-\d+(\.[a-z]+)?$/);
      expect(r.text.length).toBeGreaterThan(20);
      expect(r.source).toMatch(/task_mmu\.c \w+/);
    }
    for (const id of seenRules) expect(ids).toContain(id);
    // every catalogued rule is exercised by some scenario above
    expect([...seenRules].sort()).toEqual([...ids].sort());
  });
});
