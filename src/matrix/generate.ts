// The generated part of the matrix suite: case i of a cell is drawn from its own seeded Rng (seed,
// cell id, i), so every target gets the same cases whatever the order, threads or other cells.
// A case of cell (family F, backing B, mechanism M), by construction:
//   - every mapping has kind B (a thp family case maps one THP region of kind B: one PMD of the
//     target's pages, 512 with 4 KiB pages, 2048 with 16 KiB pages);
//   - M decides the tracking set-up: soft-dirty = no userfaultfd, `clear_refs 4` arms it;
//     uffd-wp sync = userfaultfd without WP_ASYNC, register + WRITEPROTECT arm it; async = with
//     WP_ASYNC; scan = WP_ASYNC plus PAGEMAP_SCAN WP_MATCHING scans (re-arm and read back);
//   - F's op (cells.ts FAMILY_OPS) appears at least once, between the arming and later writes;
//   - the other ops are only reads, writes and M's own ops (clear_refs / WRITEPROTECT / scans):
//     no op of another family, so a divergence points at F under M on B.
// Reuses the campaign's OpGen (src/campaign/generate.ts) for ranges and per-op validity.
import { isHugetlbKind, type Case, type Feature, type Op } from '../ops/schema.ts';
import type { RegionState } from '../campaign/builder.ts';
import { GEOMETRY_4K, limitsFor, type PageGeometry } from '../ops/layout.ts';
import { CaseBuilder, isLive } from '../campaign/builder.ts';
import { OpGen } from '../campaign/generate.ts';
import { Rng } from '../campaign/rng.ts';
import { cellId, FAMILY_OPS, unsupportedByDesign, type Backing, type Cell } from './cells.ts';

type Range = { first?: number; count?: number };

/** 32-bit FNV-1a of a string: the per-case seed */
function hash32(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) { h ^= s.charCodeAt(i); h = Math.imul(h, 0x01000193) >>> 0; }
  return h >>> 0;
}

export function cellCaseSeed(seed: number, cell: Cell, index: number): number {
  return hash32(`${seed >>> 0}/${cellId(cell)}/${index}`);
}

/** OpGen whose every new mapping has the cell's backing; on a hugetlb region its ranges are whole
 *  huge pages mostly (DONTNEED/mprotect/munmap of part of one is EINVAL: the rarer path) */
class CellOpGen extends OpGen {
  constructor(rng: Rng, b: CaseBuilder, maxOps: number, readonly backing: Backing) { super(rng, b, maxOps); }
  override pickKind(): Backing { return this.backing; }
  override pickRange(r: RegionState): Range {
    if (!isHugetlbKind(this.backing) || this.rng.chance(0.25)) return super.pickRange(r);
    const n = r.pages / this.hp;
    if (n < 1 || this.rng.chance(0.4)) return {};
    const f = this.rng.int(n);
    return { first: f * this.hp, count: (1 + this.rng.int(n - f)) * this.hp };
  }
}

const MAX_OPS = 24;

function uffdFor(cell: Cell, rng: Rng): { features: Feature[] } | undefined {
  if (cell.mechanism === 'soft-dirty') return undefined;
  const fs: Feature[] = [];
  if (cell.mechanism !== 'uffd-wp-sync') fs.push('wp_async');
  // the optional features vary the paths (markers, events) without leaving the cell
  if (rng.chance(0.4)) fs.push('wp_unpopulated');
  if (rng.chance(0.3)) fs.push('event_fork');
  if (rng.chance(0.3)) fs.push('event_remap');
  if (rng.chance(0.2)) fs.push('event_unmap');
  return { features: fs };
}

/** Case `index` of a cell for `seed`: valid by construction (the builder rejects anything else).
 *  Targets with the same page geometry get the same case (a THP region is one of its PMDs). */
export function cellCase(seed: number, cell: Cell, index: number, geometry: PageGeometry = GEOMETRY_4K): Case {
  const none = unsupportedByDesign(cell);
  if (none !== undefined) throw new Error(`matrix: cell ${cellId(cell)} has no cases (${none})`);
  const rng = new Rng(cellCaseSeed(seed, cell, index));
  const b = new CaseBuilder(uffdFor(cell, rng), limitsFor(geometry), geometry);
  const g = new CellOpGen(rng, b, MAX_OPS, cell.backing);
  // an mthp case maps one PMD-sized MADV_HUGEPAGE region too: its faults may map large folios
  const thp = cell.family === 'thp' || cell.family === 'mthp';
  const huge = isHugetlbKind(cell.backing);
  g.allowThp = thp;
  const pages = thp ? geometry.pmdPages : huge ? geometry.pmdPages * (rng.chance(0.8) ? 1 : 2) : rng.range(2, 6);
  const r = g.mmap(0, { kind: cell.backing, thp, pages });
  if (r === undefined) throw new Error(`matrix: cannot map the first region of ${cellId(cell)}`);
  // a second region: next to the first (VMA merging), or in a slot of its own (hugetlb: always)
  if (!thp && rng.chance(huge ? 0.15 : 0.3)) g.mmap(0, { kind: cell.backing, thp: false, ...(huge ? { pages: geometry.pmdPages } : { after: rng.chance(0.5) ? r : undefined }) });

  const regionOf = (proc: number) => {
    const live = b.liveRegions(proc).filter((n) => isLive(b.region(proc, n)!));
    return live.includes(r) ? (rng.chance(0.75) ? r : rng.pick(live)) : live.length ? rng.pick(live) : undefined;
  };
  const sub = (proc: number, name: string) => g.pickRange(b.region(proc, name)!);
  const touch = (proc: number, name: string) => (rng.chance(0.7) ? g.write(proc, name, sub(proc, name)) : g.read(proc, name, sub(proc, name)));

  // arm the mechanism
  // (`first`: the case's own arming, past the op budget a PMD-sized first write may have spent)
  const arm = (proc: number, first = false) => {
    const name = regionOf(proc);
    if (name === undefined || (g.room <= 0 && !first)) return;
    if (cell.mechanism === 'soft-dirty') { b.emit(g.withProc({ op: 'clear_refs', value: 4 }, proc)); return; }
    if (g.room <= 0) {
      if (!b.region(proc, name)!.registered) b.emit(g.withProc({ op: 'uffd_register', region: name }, proc));
      b.emit(g.withProc({ op: 'wp', region: name, on: true }, proc));
      return;
    }
    g.register(proc, name, {});
    // a PMD-sized region (thp, hugetlb) may have spent the op budget: the arming is the mechanism's
    // own and goes in past it (else the case would only assert what soft-dirty shows)
    if (g.wp(proc, name, true, rng.chance(0.7) ? {} : sub(proc, name)) === undefined && b.region(proc, name)?.registered) b.emit(g.withProc({ op: 'wp', region: name, on: true }, proc));
  };
  if (cell.family === 'mthp') { mthpCase(g, b, rng, r, cell); return finish(g, b, cell, regionOf, index); }
  if (rng.chance(0.6)) g.write(0, r, thp && rng.chance(0.5) ? {} : undefined);
  arm(0, true);

  // the family's op, then whatever writes/reads/re-arming follow; the family op at least once
  const rounds = rng.range(1, thp || huge ? 2 : 4);
  for (let k = 0; k < rounds && g.room > 0; k++) {
    familyOp(g, b, rng, cell, k === 0 ? r : regionOf(0) ?? r);
    const y = rng.float();
    const proc = g.pickProc();
    const name = regionOf(proc);
    if (name === undefined) continue;
    if (y < 0.5) touch(proc, name);
    else if (y < 0.7) arm(proc);
    else if (y < 0.85 && cell.mechanism === 'scan') g.ranged('scan', proc, name, {}, { wp_matching: true });
  }
  if (!b.ops.some((o) => FAMILY_OPS[cell.family].includes(o.op))) familyOp(g, b, rng, cell, r, true);
  return finish(g, b, cell, regionOf, index);
}

/** observe: a last write (and, for the scan mechanism, a WP_MATCHING scan reading it back)
 *  (emitted past the op and cost budget: a THP case may have spent it, and the scan mechanism's
 *  cases must end in a WP_MATCHING scan) */
function finish(g: OpGen, b: CaseBuilder, cell: Cell, regionOf: (proc: number) => string | undefined, index: number): Case {
  const last = regionOf(0);
  if (last !== undefined) {
    // a region the family op left read-only (mprotect, mthp) is made writable first: the last write
    // would kill the process (SIGSEGV) and the scan mechanism's read-back would not run
    if (b.ops.some((o) => o.op === 'mprotect' && o.region === last && o.prot !== 'rw')) b.emit({ op: 'mprotect', region: last, prot: 'rw' });
    const rs = b.region(0, last)!;
    // a range over a munmapped hole (the mthp family's partial munmap) would fault: then one mapped page
    const rg = g.pickRange(rs);
    const [f, n] = [rg.first ?? 0, rg.count ?? rs.pages - (rg.first ?? 0)];
    const mapped = !rs.unmapped.subarray(f, f + n).includes(1);
    b.emit({ op: 'write', region: last, ...(mapped ? rg : { first: rs.unmapped.indexOf(0), count: 1 }) });
    if (cell.mechanism === 'scan') b.emit({ op: 'scan', region: last, wp_matching: true });
  }
  return b.toCase(`matrix ${cellId(cell)} #${index}`);
}

/** The mthp family's case on the PMD-sized MADV_HUGEPAGE anon region `r` (as the campaign's
 *  motifMthp, src/campaign/generate.ts): one page written (a PMD THP where THP is on), the
 *  mechanism armed, a block of 4..64 pages zapped (DONTNEED, or PAGEOUT) so that a later fault
 *  there finds empty PTEs and may map an mTHP folio of an enabled size (mm/memory.c
 *  alloc_anon_folio, R-MTHP-1; the executor's `folio` outcome says which it got), then one of the
 *  paths that split or copy it: part of it paged out, DONTNEEDed, munmapped or mprotected, a fork
 *  with a CoW write, or the whole block swapped out and faulted back (alloc_swap_folio). */
function mthpCase(g: OpGen, b: CaseBuilder, rng: Rng, r: string, cell: Cell): void {
  const hp = g.hp;
  const blk = rng.pick([4, 8, 16, 32, 64].filter((n) => n < hp));
  const base = blk * rng.int(Math.floor(hp / blk) / 2);
  const zapCount = blk * rng.pick([1, 2, 2, 4]);
  const zap: Range = { first: base, count: zapCount };
  const inZap = (n = 1): Range => ({ first: base + rng.int(zapCount - Math.min(n, zapCount) + 1), count: Math.min(n, zapCount) });
  const part = (): Range => inZap(rng.pick([1, 2, Math.max(1, blk / 2)]));
  // these ops are the case itself: emitted whatever the budget (one PMD region costs much); one
  // the case cannot hold (a write into the part just munmapped) is left out
  const at = (op: Op) => { try { b.emit(op); } catch { /* not valid here */ } };
  let armed = false;
  const arm = () => {
    armed = true;
    if (cell.mechanism === 'soft-dirty') { at({ op: 'clear_refs', value: 4 }); return; }
    if (!b.region(0, r)!.registered) at({ op: 'uffd_register', region: r });
    at({ op: 'wp', region: r, on: true, ...(rng.chance(0.7) ? {} : zap) });
  };
  at({ op: 'write', region: r, first: rng.int(hp), count: 1 });
  if (rng.chance(0.5)) arm();
  at({ op: rng.chance(0.8) ? 'dontneed' : 'pageout', region: r, ...zap });
  const fault = () => {
    const x = rng.float();
    if (x < 0.5) at({ op: 'write', region: r, ...inZap(rng.chance(0.8) ? 1 : 2) });
    else if (x < 0.75) at({ op: 'read', region: r, ...inZap() });
    else at({ op: 'populate', region: r, ...inZap(rng.pick([1, 2, blk])), ...(rng.chance(0.5) ? { write: true } : {}) });
  };
  fault();
  if (rng.chance(0.4)) fault();
  if (!armed) arm();
  const y = rng.float();
  if (y < 0.2) at({ op: 'pageout', region: r, ...part() });
  else if (y < 0.4) {
    at({ op: 'fork' });
    const child = b.procs.length - 1;
    at({ op: 'write', region: r, ...inZap(), ...(rng.chance(0.5) ? { proc: child } : {}) });
    if (rng.chance(0.4)) at({ op: 'pageout', region: r, ...part() });
  } else if (y < 0.55) at({ op: 'dontneed', region: r, ...part() });
  else if (y < 0.7) at({ op: 'munmap', region: r, ...part() });
  else if (y < 0.85) { const p = part(); at({ op: 'mprotect', region: r, ...p, prot: rng.pick(['r', 'none'] as const) }); if (rng.chance(0.6)) at({ op: 'mprotect', region: r, ...p, prot: 'rw' }); }
  else { at({ op: 'pageout', region: r, ...zap }); at({ op: rng.chance(0.5) ? 'read' : 'write', region: r, ...inZap() }); }
  if (rng.chance(0.6)) at({ op: 'write', region: r, ...inZap() });
}

/** the family's op in one form that is valid on any live region (fork: only while procs remain) */
const FORCED: Record<Cell['family'], (r: string, pages: number, rng: Rng) => Op | undefined> = {
  fault: (r) => ({ op: 'dontneed', region: r }),
  fork: () => ({ op: 'fork' }),
  mremap: (r) => ({ op: 'mremap', region: r }),
  mprotect: (r) => ({ op: 'mprotect', region: r, prot: 'r' }),
  clear_refs: () => ({ op: 'clear_refs', value: 4 }),
  swap: (r) => ({ op: 'pageout', region: r }),
  thp: (r, pages, rng) => ({ op: 'split', region: r, page: rng.int(pages) }),
  mthp: (r) => ({ op: 'dontneed', region: r, first: 0, count: 16 }),
  uffd: (r) => ({ op: 'uffd_unregister', region: r }),
  scan: (r) => ({ op: 'scan', region: r }),
};

/** One use of the family's op on region `r` of proc 0 (or a child), with the touch that shows its
 *  effect. `force`: the required op in its simplest form, past the op and cost budget. */
function familyOp(g: OpGen, b: CaseBuilder, rng: Rng, cell: Cell, r: string, force = false): void {
  const rs = b.region(0, r);
  if (!rs || !isLive(rs)) return;
  if (force) {
    // the required op, past the budget (one op): its simplest form
    const op = FORCED[cell.family](r, rs.pages, rng);
    if (op) b.emit(op);
    return;
  }
  const range = () => g.pickRange(b.region(0, r)!);
  switch (cell.family) {
    case 'fault': {
      const rg = range();
      g.ranged('dontneed', 0, r, rg);
      if (rng.chance(0.7)) (rng.chance(0.5) ? g.write(0, r, rg) : g.read(0, r, rg));
      return;
    }
    case 'fork': {
      const c = g.fork(0);
      if (c !== undefined && rng.chance(0.7)) (rng.chance(0.7) ? g.write(c, r, range()) : g.read(c, r, range()));
      if (rng.chance(0.5)) g.write(0, r, range());
      return;
    }
    case 'mremap': g.mremap(0, r); return;
    case 'mprotect': {
      const rg = range();
      if (rng.chance(0.8)) { g.mprotect(0, r, rng.chance(0.8) ? 'r' : 'none', rg); g.mprotect(0, r, 'rw', rg); }
      else g.mprotect(0, r, 'r', rg);
      return;
    }
    case 'clear_refs': b.emit({ op: 'clear_refs', value: rng.chance(0.75) ? 4 : rng.range(1, 5) }); return;
    case 'swap': {
      const rg = range();
      g.ranged('pageout', 0, r, rg);
      if (rng.chance(0.6)) (rng.chance(0.5) ? g.write(0, r, rg) : g.read(0, r, rg));
      return;
    }
    case 'thp': {
      // a split (a PMD-mapped THP is split by the executor at `page`) and/or MADV_COLLAPSE
      const x = rng.float();
      if (x < 0.45) g.split(0, r, rng.int(b.region(0, r)!.pages));
      if (x >= 0.3) g.ranged('collapse', 0, r, {});
      return;
    }
    case 'mthp': return; // mthpCase builds the whole case
    case 'uffd': {
      g.ranged('uffd_unregister', 0, r, rng.chance(0.6) ? {} : range());
      if (rng.chance(0.5)) { g.register(0, r, {}); g.wp(0, r, rng.chance(0.8), {}); }
      return;
    }
    case 'scan': {
      const extra: Record<string, unknown> = {};
      // WP_MATCHING (get-and-clear) is the scan mechanism's; elsewhere the scan only reads
      if (cell.mechanism === 'scan' && rng.chance(0.8)) extra.wp_matching = true;
      if (rng.chance(0.15)) extra.max_pages = rng.range(1, 4);
      g.ranged('scan', 0, r, rng.chance(0.6) ? {} : range(), extra);
      return;
    }
  }
}
