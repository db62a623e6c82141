// Case generation for campaigns: a valid-by-construction generator weighted toward the op patterns
// where dirty tracking has historically broken (writes after clear_refs / WRITEPROTECT, swap-out then
// fork, THP then split/collapse, mremap of protected ranges, VMA merges, unpopulated ranges under WP
// and PAGEMAP_SCAN; guard regions of every backing; a closing fork and PAGEMAP_SCAN behind any
// motif), plus state-coverage guidance: the reference model reports the rule ids each case
// exercised; cases that hit rarely-seen rules (or rule/op pairs) enter a pool and are mutated and
// extended (syzkaller style) alongside fresh random cases.
//
// Determinism: everything is drawn from one seeded Rng, and feedback must be delivered in a fixed
// order (campaign.ts applies it in case-index order with a fixed lag), so a seed fixes the cases.
import type { Case, Feature, Kind, Op, OpName } from '../ops/schema.ts';
import { copyOp, FEATURES, formatFor } from '../ops/schema.ts';
import { hugetlbCase, HUGETLB_CASES } from './hugetlb-gen.ts';
import { usesHugetlb } from '../targets/hugetlb-host.ts';
import { GEOMETRY_4K, HPAGE_PAGES, limitsFor, type PageGeometry } from '../ops/layout.ts';
import { generatedCaseProblems } from '../ops/validate.ts';
import { isSharedKind } from '../model/state.ts';
import { assertedKinds } from '../check/check.ts';
import { CaseBuilder, isLive, type RegionState } from './builder.ts';
import { Rng } from './rng.ts';
import { uniformCase } from './uniform.ts';

export interface GenerateOptions {
  /** upper bound on ops in a generated case (default 40; never above the limit) */
  maxOps?: number;
  /** probability of a fresh case when the pool is non-empty (default FRESH_RATIO) */
  freshRatio?: number;
  /** pool capacity (default 256) */
  poolSize?: number;
  /** a feature (rule id, or op:rule pair) seen at most this many times counts as rare (default 4) */
  rareThreshold?: number;
  /** disable guidance (pure weighted random), for comparison */
  unguided?: boolean;
  /** the target's page geometry (default 4 KiB pages): THP regions are one or two of its PMDs, and
   *  the observation budget grows with them (docs/page-size.md) */
  geometry?: PageGeometry;
  /** share of cases drawn from the uniform generator (uniform.ts; default UNIFORM_RATIO) */
  uniformRatio?: number;
  /** share of hugetlb cases (hugetlb-gen.ts; default HUGETLB_CASES; 0 for a target without free
   *  hugetlb pages), drawn from a stream of their own */
  hugetlbRatio?: number;
  /** the target shows soft-dirty (pagemap bit 55; default true). false (a kernel built without
   *  CONFIG_MEM_SOFT_DIRTY: its probe's capabilities.soft_dirty): a case whose only asserted bits
   *  are soft-dirty (clear_refs 4 without a wp op or an arming scan: src/check/check.ts
   *  assertedKinds) would be checked as a SKIP there (maskedSkip), so it is drawn again */
  softDirty?: boolean;
  /** the target can run THP cases (default true). false (a live or QEMU kernel without
   *  PAGEMAP_SCAN, before 6.7: the executor observes the huge outcome through it, so
   *  src/targets/host-policy.ts thpCaseSkipReason skips every case with a `thp` mmap or a
   *  `collapse`): such a case is drawn again */
  thp?: boolean;
  /** the userfaultfd features the target supports (default all of FEATURES); a case asking for
   *  another is skipped whole by the live and QEMU targets (caseSkipReason), so it is drawn again
   *  (a 6.1 kernel has no wp_async or wp_unpopulated, 6.7 and 6.8) */
  uffdFeatures?: Feature[];
}

/** The stream mix (measured in guided cases to the first find of the model's mutants, seeds 1-24,
 *  bench/tools/mutant-cases.ts; guided8). A fresh weighted case found the slow mutants more often
 *  than a mutation of a pool case: with a fresh ratio of 0.2 their cases per find rose 1.56x, with
 *  0.7 they fell to 0.78x of 0.4's. The uniform share pays for states no motif aims at; 0.12 keeps
 *  the mutants the uniform generator finds at least as fast as before (M-1, M-2, B-27, M-18, M-19,
 *  B-20 on seeds 1-48) and leaves more cases to the motifs (0.7 / 0.12: 0.60x on the slow twelve). */
export const FRESH_RATIO = 0.7;
export const UNIFORM_RATIO = 0.12;

/** draws of a case that asserts only what the target cannot show, before one is kept anyway */
const MASKED_REDRAWS = 8;
/** draws of a case the target cannot run (GenerateOptions thp, uffdFeatures), before one is kept
 *  anyway: for a kernel before 6.7 about two draws in three map a THP region or ask for wp_async or
 *  wp_unpopulated (seed 7: 3 draws per case kept), so 8 would leave 2-3% of them in, 40 none */
const UNRUNNABLE_REDRAWS = 40;

type Range = { first?: number; count?: number };

/** budget of observed page-steps per generated case (a 512-page THP region costs 512 per op);
 *  keeps model-target throughput high while still allowing ~10-op THP scenarios */
export const DEFAULT_MAX_COST = 2600;
/** the budget for a geometry: the same number of THP-region ops as with 4 KiB pages */
export function maxCostFor(g: PageGeometry): number { return DEFAULT_MAX_COST * (g.pmdPages / HPAGE_PAGES); }
/** fraction of fresh cases allowed to create THP regions (0.3: the THP mutants were the slowest to
 *  find, while half the uniform generator's mmaps are THP-sized) */
export const THP_CASES = 0.3;

/** does a (possibly stale) range still lie inside the region's current size? */
function fits(r: RegionState, rg: Range): boolean {
  const f = rg.first ?? 0;
  if (f >= r.pages) return false;
  return rg.count === undefined || f + rg.count <= r.pages;
}

/** One generation step's worth of random choices over a builder. */
export class OpGen {
  /** THP regions are expensive to observe (512 pages per op): only some cases may create them */
  allowThp: boolean;

  constructor(readonly rng: Rng, readonly b: CaseBuilder, readonly maxOps: number, readonly maxCost = maxCostFor(b.geometry)) {
    this.allowThp = false;
  }

  /** pages per PMD of the target (a THP region is one or two PMDs) */
  get hp(): number { return this.b.geometry.pmdPages; }

  /** ops that may still be added: bounded by maxOps and by the observation cost budget */
  get room(): number { return this.b.cost >= this.maxCost + this.extraCost ? 0 : this.maxOps - this.b.ops.length; }
  /** observation budget a long scenario may borrow for its own ops (motifShmemFolioReclaim) */
  private extraCost = 0;

  pickProc(): number {
    const alive = this.b.aliveProcs();
    // mostly the parent or the newest child
    if (alive.length === 1 || this.rng.chance(0.5)) return alive.includes(0) ? (this.rng.chance(0.75) ? 0 : alive[alive.length - 1]!) : alive[0]!;
    return this.rng.pick(alive);
  }

  pickKind(): Kind {
    return this.rng.weighted<Kind>([['anon', 5], ['shared-anon', 2], ['memfd-shared', 2], ['memfd-private', 2]]);
  }

  pickRange(r: RegionState): Range {
    const n = r.pages;
    const x = this.rng.float();
    if (x < 0.3 || n === 1) return {};
    if (x < 0.6) return { first: this.rng.int(n), count: 1 };
    if (r.thp && n >= this.hp && x < 0.75) {
      // a THP-sized or partial-THP range
      const half = this.hp / 2;
      return this.rng.chance(0.5) ? { first: 0, count: half } : { first: this.rng.int(n - 1), count: 1 };
    }
    const first = this.rng.int(n);
    const count = 1 + this.rng.int(Math.min(n - first, 8));
    return { first, count };
  }

  /** a range covering part of the region, never all of it (pickRange may return the whole) */
  partOf(r: RegionState): Range {
    for (let i = 0; i < 4; i++) {
      const rg = this.pickRange(r);
      if (rg.first !== undefined && rg.count !== undefined && rg.count < r.pages) return rg;
    }
    return { first: this.rng.int(r.pages), count: 1 };
  }

  /** a sub-range of a previous range (a later touch of some of the pages touched before) */
  subRange(r: RegionState, base: Range): Range {
    const f = base.first ?? 0;
    const c = base.count ?? r.pages - f;
    if (c <= 1 || this.rng.chance(0.5)) return this.rng.chance(0.5) ? { ...base } : { first: f, count: 1 };
    const first = f + this.rng.int(c);
    return { first, count: 1 + this.rng.int(f + c - first) };
  }

  withProc<T extends Op>(op: T, proc: number): T {
    if (proc !== 0) (op as { proc?: number }).proc = proc;
    return op;
  }

  mmap(proc: number, opts: { kind?: Kind; thp?: boolean; pages?: number; after?: string } = {}): string | undefined {
    if (this.room <= 0 || this.b.regionCount(proc) >= this.b.limits.maxRegions) return undefined;
    const thp = this.allowThp && (opts.thp ?? this.rng.chance(0.05));
    const pages = opts.pages ?? (thp ? (this.rng.chance(0.95) ? this.hp : 2 * this.hp) : this.rng.weighted([[1, 3], [2, 4], [3, 3], [4, 2], [8, 1], [16, 0.3]]));
    if (opts.after !== undefined && !this.b.canPlaceAfter(proc, opts.after, pages)) return undefined;
    const region = this.b.freshName();
    const op: Op = { op: 'mmap', region, pages, kind: opts.kind ?? this.pickKind() };
    if (thp) op.thp = true;
    if (opts.after !== undefined) op.after = opts.after;
    this.b.emit(this.withProc(op, proc));
    return region;
  }

  /** a live region in proc (creating one if none), optionally preferring a predicate */
  region(proc: number, prefer?: (r: RegionState) => boolean): string | undefined {
    const names = this.b.liveRegions(proc);
    if (prefer) {
      const good = names.filter((n) => prefer(this.b.region(proc, n)!));
      if (good.length && this.rng.chance(0.85)) return this.rng.pick(good);
    }
    if (names.length && (this.rng.chance(0.85) || this.room < 3)) return this.rng.pick(names);
    return this.mmap(proc);
  }

  ranged(name: 'write' | 'read' | 'pageout' | 'dontneed' | 'collapse' | 'munmap' | 'uffd_register' | 'uffd_unregister' | 'scan' | 'populate' | 'guard' | 'unguard',
    proc: number, region: string, range?: Range, extra: Record<string, unknown> = {}): Range | undefined {
    if (this.room <= 0) return undefined;
    const r = this.b.region(proc, region);
    if (!r || !isLive(r)) return undefined;
    const rg = range ?? this.pickRange(r);
    if (!fits(r, rg)) return undefined;
    if ((name === 'uffd_register' || name === 'uffd_unregister') && !this.b.hasUffd) return undefined;
    const op = { op: name, region, ...rg, ...extra } as Op;
    this.b.emit(this.withProc(op, proc));
    return rg;
  }

  write(proc: number, region: string, range?: Range) { return this.ranged('write', proc, region, range); }
  read(proc: number, region: string, range?: Range) { return this.ranged('read', proc, region, range); }
  /** MADV_POPULATE_READ / MADV_POPULATE_WRITE: faults like read/write, with madvise's errors */
  populate(proc: number, region: string, write: boolean, range?: Range) {
    return this.ranged('populate', proc, region, range, write ? { write: true } : {});
  }

  wp(proc: number, region: string, on: boolean, range?: Range): Range | undefined {
    if (!this.b.hasUffd || this.room <= 0) return undefined;
    const r = this.b.region(proc, region);
    if (!r || !isLive(r)) return undefined;
    const rg = range ?? (this.rng.chance(0.6) ? {} : this.pickRange(r));
    if (!fits(r, rg)) return undefined;
    this.b.emit(this.withProc({ op: 'wp', region, ...rg, on }, proc));
    return rg;
  }

  register(proc: number, region: string, range?: Range): void {
    if (!this.b.hasUffd) return;
    const r = this.b.region(proc, region);
    if (!r || r.registered) return;
    this.ranged('uffd_register', proc, region, range ?? (this.rng.chance(0.85) ? {} : this.pickRange(r)));
  }

  clearRefs(proc: number): void {
    if (this.room <= 0) return;
    const value = this.rng.chance(0.85) ? 4 : this.rng.range(1, 5);
    this.b.emit(this.withProc({ op: 'clear_refs', value }, proc));
  }

  mprotect(proc: number, region: string, prot: 'none' | 'r' | 'rw', range?: Range): void {
    if (this.room <= 0) return;
    const r = this.b.region(proc, region);
    if (!r || !isLive(r) || (range && !fits(r, range))) return;
    this.b.emit(this.withProc({ op: 'mprotect', region, ...(range ?? this.pickRange(r)), prot }, proc));
  }

  split(proc: number, region: string, page?: number): void {
    if (this.room <= 0) return;
    const r = this.b.region(proc, region);
    if (!r || !isLive(r) || (page !== undefined && page >= r.pages)) return;
    this.b.emit(this.withProc({ op: 'split', region, page: page ?? this.rng.int(r.pages) }, proc));
  }

  /** close() of the process's userfaultfd: the kernel releases the context (its wp state reset) */
  closeUffd(proc: number): void {
    if (!this.b.hasUffd || this.room <= 0) return;
    this.b.emit(this.withProc({ op: 'close_uffd' }, proc));
  }

  fork(proc: number): number | undefined {
    if (this.room <= 0 || this.b.procs.length >= this.b.limits.maxProcs) return undefined;
    this.b.emit(this.withProc({ op: 'fork' }, proc));
    return this.b.procs.length - 1;
  }

  mremap(proc: number, region: string): void {
    if (this.room <= 0) return;
    const r = this.b.region(proc, region);
    if (!r || !isLive(r)) return;
    const x = this.rng.float();
    const op: Op = { op: 'mremap', region };
    if (x < 0.5) {
      // plain move (maybe resize)
      if (this.rng.chance(0.3)) op.pages = Math.max(1, Math.min(this.b.limits.maxPagesPerRegion, r.pages + this.rng.range(-2, 2)));
    } else if (x < 0.75) {
      op.dontunmap = true;
      if (this.rng.chance(0.7) && this.b.regionCount(proc) < this.b.limits.maxRegions) op.old = this.b.freshName();
    } else {
      op.move = false;
      op.pages = Math.max(1, Math.min(this.b.limits.maxPagesPerRegion, r.pages + this.rng.range(-2, 3)));
    }
    this.b.emit(this.withProc(op, proc));
  }

  /** mremap moving the whole region to a fresh PMD-aligned slot, size kept (src/ops/layout.ts) */
  moveWhole(proc: number, region: string): void {
    if (this.room <= 0) return;
    const r = this.b.region(proc, region);
    if (!r || !isLive(r)) return;
    this.b.emit(this.withProc({ op: 'mremap', region }, proc));
  }

  scan(proc: number, region: string, range?: Range): void {
    const extra: Record<string, unknown> = {};
    // a registered region of a WP_ASYNC context is the one WP_MATCHING arms (R-PMS-1): there the
    // scan is mostly the get-and-reprotect cycle of async tracking, and more often with the /2
    // arguments, whose fast paths (no vector: exclusive WP; WRITTEN only) arm by rules of their own
    const arming = this.arming(proc, region);
    if (this.rng.chance(arming ? 0.75 : 0.5)) extra.wp_matching = true;
    if (this.rng.chance(0.1)) extra.max_pages = this.rng.range(1, 4);
    if (this.rng.chance(arming ? 0.5 : 0.35)) Object.assign(extra, this.scanArgs(!!extra.wp_matching));
    this.ranged('scan', proc, region, range, extra);
  }

  /** would a WP_MATCHING scan of the region arm it: registered, in a WP_ASYNC context (R-PMS-1) */
  arming(proc: number, region: string): boolean {
    return !!this.b.region(proc, region)?.registered && this.b.feature('wp_async');
  }

  /** ptefarm-case/2 PAGEMAP_SCAN arguments, biased to the kernel's distinct paths
   *  (fs/proc/task_mmu.c pagemap_scan_pmd_entry): no output vector (the exclusive-WP fast path under
   *  WP_MATCHING), the WRITTEN fast path (mask = return = WRITTEN), category filters, return masks */
  scanArgs(wpMatching: boolean): Record<string, unknown> {
    const x: Record<string, unknown> = {};
    // (under WP_MATCHING the vector-less call, the reset of async tracking, is drawn more often)
    const shape = this.rng.weighted<string>([['novec', wpMatching ? 5 : 3], ['written-fast', 3], ['filter', 4], ['ret', 2], ['skip', wpMatching ? 1 : 0]]);
    if (shape === 'novec') {
      x.no_vec = true;
      if (this.rng.chance(0.3)) x.max_pages = this.rng.range(1, 3);
      // masks the exclusive-WP fast path ignores (R-PMS-4) but a vector-less generic walk would not
      // (under WP_MATCHING more often: there they decide what a generic walk would arm)
      if (this.rng.chance(wpMatching ? 0.55 : 0.4)) x.category_mask = this.rng.pick(['p', 's', 'wp', 'g', '']);
    }
    if (shape === 'written-fast') { x.category_mask = 'w'; x.return_mask = 'w'; if (this.rng.chance(0.3)) x.max_pages = this.rng.range(1, 4); }
    if (shape === 'filter') {
      x.category_mask = this.rng.pick(['', 'w', 'p', 's', 'g', 'ws', 'a', 'pz']);
      if (this.rng.chance(0.3)) x.category_inverted = this.rng.pick(['w', 'p', 's', 'g']);
      if (this.rng.chance(0.3)) x.category_anyof_mask = this.rng.pick(['sg', 'pz', 'wh', 'g']);
      if (this.rng.chance(0.4)) x.return_mask = this.rng.pick(['', 'w', 'g', 'psg', 'wpsg']);
    }
    if (shape === 'ret') x.return_mask = this.rng.pick(['', 'w', 'g', 'sg', 'awfpszhdg']);
    if (shape === 'skip') x.check_wpasync = false; // WP_MATCHING skips VMAs it cannot arm
    return x;
  }

  /** MADV_GUARD_INSTALL over a range. Not in a non-anon region that was ever registered for
   *  uffd-wp: a uffd-wp marker there makes the install retry forever (R-GRD-1; a 6.18 kernel bug,
   *  measured). Only a registered VMA gets markers (WRITEPROTECT, wp_unpopulated, a scan's arming,
   *  a zap under VM_UFFD_WP), so a never-registered shared region of a uffd case is safe: forbidding
   *  every non-anon guard in uffd cases left shared guard regions to the cases without a uffd */
  guard(proc: number, region: string, range?: Range): Range | undefined {
    const r = this.b.region(proc, region);
    if (!r || (r.kind !== 'anon' && r.everRegistered)) return undefined;
    return this.ranged('guard', proc, region, range ?? this.smallRange(r));
  }

  unguard(proc: number, region: string, range?: Range): Range | undefined {
    return this.ranged('unguard', proc, region, range);
  }

  /** a short range (guard regions are usually a page or a few) */
  smallRange(r: RegionState): Range {
    const first = this.rng.int(r.pages);
    return { first, count: Math.min(r.pages - first, this.rng.weighted([[1, 5], [2, 3], [4, 1]])) };
  }

  /** one random op, weighted by the state (what happened last, what the region is) */
  randomOp(): void {
    if (this.room <= 0) return;
    const proc = this.pickProc();
    const last = this.b.ops[this.b.ops.length - 1];
    const lastKind: OpName | undefined = last?.op;
    const u = this.b.hasUffd ? 1 : 0;
    const after = (k: OpName) => (lastKind === k ? 1 : 0);
    const kind = this.rng.weighted<OpName>([
      ['write', 20 + 15 * after('clear_refs') + 15 * after('wp')],
      ['read', 8],
      ['clear_refs', 7 + 6 * after('write')],
      ['wp', u * (8 + 6 * after('write') + 6 * after('uffd_register'))],
      ['uffd_register', u * 6],
      ['uffd_unregister', u * 2],
      ['pageout', 6 + 4 * after('wp') + 4 * after('write')],
      ['fork', this.b.procs.length < this.b.limits.maxProcs ? 4 + 8 * after('pageout') + 4 * after('wp') : 0],
      ['mprotect', 6],
      ['mremap', 4 + 6 * after('wp')],
      ['munmap', 2],
      ['dontneed', 5],
      ['collapse', 2],
      ['split', 2],
      ['scan', 6],
      ['mmap', 3],
      ['exit', proc !== 0 ? 1 : 0],
      ['populate', 4 + 4 * after('clear_refs') + 3 * after('wp')],
      ['close_uffd', u * (0.5 + 2 * after('wp'))],
      ['guard', 3],
      ['unguard', 1 + 3 * after('guard')],
    ]);
    const thpPref = (r: RegionState) => r.thp;
    switch (kind) {
      case 'mmap': {
        const names = this.b.liveRegions(proc);
        if (names.length && this.rng.chance(0.3)) {
          const a = this.rng.pick(names);
          this.mmap(proc, { after: a, kind: this.rng.chance(0.7) ? this.b.region(proc, a)!.kind : undefined, thp: false });
        } else this.mmap(proc);
        return;
      }
      case 'fork': this.fork(proc); return;
      case 'exit': this.b.emit({ op: 'exit', proc }); return;
      case 'clear_refs': this.clearRefs(proc); return;
      case 'close_uffd': this.closeUffd(proc); return;
    }
    const region = this.region(proc, kind === 'collapse' || kind === 'split' ? thpPref
      : kind === 'wp' ? (r) => r.registered : kind === 'write' ? (r) => r.wp || !r.written : undefined);
    if (region === undefined || this.room <= 0) return;
    switch (kind) {
      case 'wp': this.register(proc, region); this.wp(proc, region, this.rng.chance(0.8)); return;
      case 'mprotect': this.mprotect(proc, region, this.rng.weighted([['r', 4], ['rw', 4], ['none', 1]])); return;
      case 'split': this.split(proc, region); return;
      case 'mremap': this.mremap(proc, region); return;
      case 'scan': this.scan(proc, region); return;
      case 'populate': this.populate(proc, region, this.rng.chance(0.5)); return;
      case 'guard': this.guard(proc, region); return;
      default: this.ranged(kind as 'write', proc, region); return;
    }
  }

  // ---- motifs: short sequences around the historically fragile transitions ----

  /** write, clear_refs, (mprotect RO/RW), write again */
  motifClearWrite(): void {
    const proc = this.pickProc();
    const r = this.region(proc);
    if (!r) return;
    const rs = this.b.region(proc, r)!;
    const rg = this.write(proc, r) ?? {};
    this.clearRefs(proc);
    const y = this.rng.float();
    if (y < 0.35) { const m = this.subRange(rs, rg); this.mprotect(proc, r, 'r', m); this.mprotect(proc, r, 'rw', m); }
    else if (y < 0.5) { this.ranged('dontneed', proc, r, this.subRange(rs, rg)); this.read(proc, r, this.subRange(rs, rg)); }
    else if (y < 0.6) { this.mremap(proc, r); }
    if (this.rng.chance(0.8)) this.write(proc, r, this.subRange(rs, rg));
  }

  /** register, (write), WRITEPROTECT, then one or two of the transitions that must keep or drop wp */
  motifWpAct(): void {
    if (!this.b.hasUffd) { this.motifClearWrite(); return; }
    const proc = this.pickProc();
    const r = this.region(proc);
    if (!r) return;
    const rs = this.b.region(proc, r)!;
    this.register(proc, r);
    const wrote = this.rng.chance(0.65) ? this.write(proc, r) : undefined;
    const rg = this.wp(proc, r, true, this.rng.chance(0.6) ? {} : undefined) ?? {};
    const n = this.rng.chance(0.6) ? 1 : 2;
    for (let i = 0; i < n; i++) this.wpAction(proc, r, rs, wrote ?? rg);
  }

  private wpAction(proc: number, r: string, rs: RegionState, rg: Range): void {
    // a shared VMA's RO->RW mprotect must keep write-protected PTEs read-only: uffd-wp needs write
    // notification there (mm/mmap.c vma_wants_writenotify: userfaultfd_wp; mm/mprotect.c
    // can_change_pte_writable), a check private VMAs do not go through
    const shared = isSharedKind(rs.kind);
    const a = this.rng.weighted<string>([
      ['write', 5], ['read', 2], ['pageout', 3], ['pageout-fork', 4], ['fork', 3], ['mremap', 3], ['dontneed', 3],
      ['mprot', shared ? 8 : 3], ['scan', 3], ['unregister', 2], ['split', rs.thp ? 4 : 1], ['collapse', rs.thp ? 3 : 0], ['clear', 2], ['munmap', 1],
      ['close', 2], ['populate', this.b.feature('wp_async') ? 2 : 4],
    ]);
    switch (a) {
      case 'write': this.write(proc, r, this.subRange(rs, rg)); break;
      case 'read': this.read(proc, r, this.subRange(rs, rg)); break;
      case 'pageout': this.ranged('pageout', proc, r, this.subRange(rs, rg)); break;
      case 'pageout-fork': {
        this.ranged('pageout', proc, r, this.subRange(rs, rg));
        const c = this.fork(proc);
        if (c !== undefined && this.rng.chance(0.5)) (this.rng.chance(0.5) ? this.read(c, r) : this.write(c, r, this.subRange(rs, rg)));
        break;
      }
      case 'fork': { const c = this.fork(proc); if (c !== undefined && this.rng.chance(0.4)) this.write(c, r, this.subRange(rs, rg)); break; }
      case 'mremap': this.mremap(proc, r); if (this.rng.chance(0.5)) this.write(proc, r); break;
      case 'dontneed': this.ranged('dontneed', proc, r, this.subRange(rs, rg)); if (this.rng.chance(0.5)) this.read(proc, r); break;
      case 'mprot': {
        const m = this.subRange(rs, rg);
        this.mprotect(proc, r, 'r', m); this.mprotect(proc, r, 'rw', m);
        if (this.rng.chance(shared ? 0.9 : 0.7)) this.write(proc, r, m);
        break;
      }
      case 'scan': this.scan(proc, r); break;
      case 'unregister': this.ranged('uffd_unregister', proc, r, this.rng.chance(0.7) ? {} : undefined); break;
      case 'split': this.split(proc, r); break;
      case 'collapse': this.ranged('collapse', proc, r, {}); break;
      case 'clear': this.clearRefs(proc); this.write(proc, r, this.subRange(rs, rg)); break;
      case 'munmap': this.ranged('munmap', proc, r, this.subRange(rs, rg)); break;
      case 'populate': {
        // a GUP fault (MADV_POPULATE_*) over the protected pages takes the kernel-fault side of
        // the wp fault: resolved like a write in a WP_ASYNC context, SIGBUS -> EFAULT in a sync one
        // (a UFFD_USER_MODE_ONLY context, fs/userfaultfd.c handle_userfault; R-POP-3)
        this.populate(proc, r, this.rng.chance(0.8), this.subRange(rs, rg));
        if (this.rng.chance(0.3)) this.write(proc, r, this.subRange(rs, rg));
        break;
      }
      case 'close': {
        // the context is released: wp bits and markers reset (R-CLOSE-1), then touched again
        this.closeUffd(this.rng.chance(0.8) ? proc : this.pickProc());
        if (this.rng.chance(0.5)) this.write(proc, r, this.subRange(rs, rg)); else this.scan(proc, r);
        break;
      }
    }
  }

  /** write, (wp), swap out, fork, touch in the child */
  motifSwapFork(): void {
    const proc = this.pickProc();
    const r = this.region(proc);
    if (!r) return;
    const rs = this.b.region(proc, r)!;
    if (this.b.hasUffd && this.rng.chance(0.5)) this.register(proc, r);
    const rg = this.write(proc, r) ?? {};
    if (this.b.hasUffd && rs.registered && this.rng.chance(0.7)) this.wp(proc, r, true);
    else if (this.rng.chance(0.4)) this.clearRefs(proc);
    this.ranged('pageout', proc, r, this.subRange(rs, rg));
    const c = this.fork(proc);
    if (c === undefined) return;
    const y = this.rng.float();
    if (y < 0.3) this.read(c, r, this.subRange(rs, rg));
    else if (y < 0.55) this.write(c, r, this.subRange(rs, rg));
    else if (y < 0.7) this.read(proc, r, this.subRange(rs, rg));
  }

  /** multi-size THP (R-MTHP-1/2): a THP region whose aligned sub-block was zapped (the PMD split,
   *  the page table kept), so that faults there take a large folio where an mTHP size is enabled
   *  (alloc_anon_folio: pte_range_none), then what splits or shares such a folio: partial pageout
   *  (split_folio, zero-filled subpages to the zero page), fork and CoW, uffd-wp then pageout,
   *  partial munmap/mprotect/dontneed, swap-out and swap-in, collapse. On a host without mTHP the
   *  same cases exercise PTE-mapped small pages beside a split THP. */
  motifMthp(): void {
    if (!this.allowThp) { this.motifSwapFork(); return; }
    const proc = this.pickProc();
    const r = this.mmap(proc, { thp: true, kind: 'anon', pages: this.hp });
    if (!r) return;
    const rs = this.b.region(proc, r)!;
    const blk = this.rng.pick([4, 8, 16, 32, 64].filter((n) => n < this.hp));
    const base = blk * this.rng.int(Math.floor(this.hp / blk) / 2);
    const zapCount = blk * this.rng.pick([1, 2, 2, 4]);
    const zap: Range = { first: base, count: zapCount };
    if (!fits(rs, zap)) return;
    this.write(proc, r, { first: this.rng.int(this.hp), count: 1 });
    this.ranged(this.rng.chance(0.8) ? 'dontneed' : 'pageout', proc, r, zap);
    const inZap = (n = 1): Range => ({ first: base + this.rng.int(zapCount - Math.min(n, zapCount) + 1), count: Math.min(n, zapCount) });
    const fault = () => {
      const x = this.rng.float();
      if (x < 0.5) this.write(proc, r, inZap(this.rng.chance(0.8) ? 1 : 2));
      else if (x < 0.75) this.read(proc, r, inZap());
      else this.populate(proc, r, this.rng.chance(0.5), inZap(this.rng.pick([1, 2, blk])));
    };
    fault();
    if (this.rng.chance(0.4)) fault();
    const part = (): Range => inZap(this.rng.pick([1, 2, Math.max(1, blk / 2)]));
    const y = this.rng.float();
    if (y < 0.25) this.ranged('pageout', proc, r, part());
    else if (y < 0.45) {
      const c = this.fork(proc);
      if (c !== undefined) this.write(this.rng.chance(0.5) ? c : proc, r, inZap());
      if (this.rng.chance(0.5)) this.ranged('pageout', proc, r, part());
    } else if (y < 0.65 && this.b.hasUffd) {
      this.register(proc, r, {});
      this.wp(proc, r, true, this.rng.chance(0.7) ? {} : part());
      this.ranged('pageout', proc, r, part());
      if (this.rng.chance(0.5)) this.write(proc, r, inZap());
    } else if (y < 0.75) this.ranged(this.rng.pick(['munmap', 'dontneed'] as const), proc, r, part());
    else if (y < 0.83) this.mprotect(proc, r, this.rng.pick(['r', 'none'] as const), part());
    else if (y < 0.93) {
      // swap the folio out whole, then one fault may bring it back whole (alloc_swap_folio)
      this.ranged('pageout', proc, r, zap);
      this.rng.chance(0.5) ? this.read(proc, r, inZap()) : this.write(proc, r, inZap());
    } else this.ranged('collapse', proc, r, {});
    if (this.rng.chance(0.3)) this.scan(proc, r, {});
  }

  /** a large page-cache folio mapped by PTEs in a uffd-wp VMA, write-protected and paged out
   *  (reclaimed whole, or split first where only part of it is mapped, R-PO-4; R-PO-2: every wp PTE
   *  leaves a marker; B-40): collapse a shmem THP, drop its PMD
   *  mapping (split), keep a page table with a marker so that faults map PTEs, then wp + pageout */
  motifShmemFolioReclaim(): void {
    if (!this.allowThp || !this.b.hasUffd) { this.motifWpAct(); return; }
    const proc = this.pickProc();
    // nine ops over a PMD-sized region: twice the THP budget, for this scenario only
    this.borrowing(this.maxCost, () => this.shmemFolioReclaim(proc));
  }

  /** run `f` with `extra` more observation budget (a scenario's own ops past the case's budget) */
  private borrowing(extra: number, f: () => void): void {
    const before = this.extraCost;
    this.extraCost = before + extra;
    try { f(); } finally { this.extraCost = before; }
  }
  private shmemFolioReclaim(proc: number): void {
    const r = this.mmap(proc, { thp: true, kind: this.rng.pick<Kind>(['memfd-shared', 'shared-anon']), pages: this.hp });
    if (!r) return;
    this.write(proc, r, { first: this.rng.int(this.hp), count: 1 });
    this.ranged('collapse', proc, r, {});
    this.split(proc, r, this.rng.int(this.hp));
    this.register(proc, r, {});
    const at = this.rng.int(this.hp - 8);
    this.wp(proc, r, true, { first: at + this.rng.pick([4, 6, 7]), count: 1 });
    this.write(proc, r, { first: at, count: this.rng.range(2, 4) });
    this.wp(proc, r, true, this.rng.chance(0.7) ? {} : { first: at, count: 4 });
    this.ranged('pageout', proc, r, this.rng.chance(0.8) ? {} : { first: 0, count: this.hp / 2 });
    if (this.rng.chance(0.3)) this.read(proc, r, { first: at, count: 4 });
  }

  /** a THP region: fault it in (read: huge zero; write: THP), maybe clear/wp, then split it */
  motifThp(): void {
    if (!this.allowThp) { this.motifClearWrite(); return; }
    if (this.rng.chance(0.4)) { this.motifMthp(); return; }
    if (this.b.hasUffd && this.rng.chance(0.1)) { this.motifShmemFolioReclaim(); return; }
    const proc = this.pickProc();
    // THP life-cycle lines (x86-semantics.md §7.3/7.4, §11): the first touch decides the entry —
    // read: huge zero (anon) or a cache PMD; write-all: THP; one-page write: THP with 511
    // zero-filled subpages (zero-page remap on a folio split); none: a PMD hole
    // lines whose point needs WP_ASYNC (an async write fault, a WP_MATCHING arming) are drawn only
    // in a WP_ASYNC context, at twice their weight; collapse-wp 5 (was 3) keeps its share of the
    // cases (collapse over wp PTEs: 61 in 3 x 1,500 fresh cases before these weights, 62 after)
    // dirty-split 5, async-write 6 and pt-move 4 (were 3, 4, 3) complete their scenarios more
    // often; folio-split 8, collapse-wp 6 and scan-split 9 (were 7, 5, 8) keep their shares
    const line = this.rng.weighted<string>([['huge-zero', 4], ['zero-scan', 2], ['dirty-split', 5], ['collapse-wp', 6], ['folio-split', 8], ['hole-scan', 2], ['async-write', this.b.feature('wp_async') ? 6 : 0], ['pt-move', 4], ['random', 3], ['scan-split', this.b.feature('wp_async') ? 9 : 0]]);
    // the huge zero page, the zero-page remap of a folio split and the collapse scan's wp check
    // are anon-only (mm/huge_memory.c do_huge_pmd_anonymous_page maps the huge zero page on a read
    // fault; mm/migrate.c try_to_map_unused_to_zeropage: folio_test_anon; mm/khugepaged.c
    // hpage_collapse_scan_pmd, whereas a shmem collapse is collapse_file): those lines over a
    // page-cache THP mostly exercise nothing of theirs
    // (an async wp fault on a huge PMD is wp_huge_pmd's anon path, do_huge_pmd_wp_page; a dirty
    // PMD's split gives its PTEs soft-dirty from the dirty bit: __split_huge_pmd_locked, anon)
    const anonLine = line === 'folio-split' || line === 'collapse-wp' || line === 'huge-zero' || line === 'zero-scan' || line === 'scan-split' || line === 'async-write' || line === 'dirty-split';
    const kind = anonLine && this.rng.chance(0.9) ? 'anon' : this.rng.weighted<Kind>([['anon', 6], ['shared-anon', 1], ['memfd-shared', 1], ['memfd-private', 1]]);
    const r = this.mmap(proc, { thp: true, kind, pages: this.rng.chance(0.95) ? this.hp : 2 * this.hp });
    if (!r) return;
    const rs = this.b.region(proc, r)!;
    const page = this.rng.chance(0.5) ? 1 + this.rng.int(this.hp - 1) : 0;
    const one = (): Range => ({ first: this.rng.chance(0.5) ? page : this.rng.int(this.hp), count: 1 });
    const partial = (): Range => this.rng.pick<Range>([{ first: 0, count: this.hp / 2 }, one(), { first: this.hp / 2, count: this.hp / 2 }]);
    const protect = (all: boolean) => {
      if (!this.b.hasUffd) return;
      this.register(proc, r);
      this.wp(proc, r, true, all ? {} : one());
    };
    const scanIt = () => {
      const wp = this.rng.chance(this.arming(proc, r) ? 0.75 : 0.5);
      // part of a THP under WP_MATCHING splits it (R-PMS-5.split); without a vector too (B-32)
      const rs = this.b.region(proc, r);
      const range = rs && this.rng.chance(0.25) ? this.pickRange(rs) : {};
      this.ranged('scan', proc, r, range, { ...(wp ? { wp_matching: true } : {}), ...(this.rng.chance(0.25) ? this.scanArgs(wp) : {}) });
    };
    switch (line) {
      case 'scan-split': {
        // a registered, not yet protected huge PMD armed by a WP_MATCHING scan over part of it:
        // split and redone at PTE level (R-PMS-5.split), also without an output vector (B-32).
        // Only where the context has WP_ASYNC: WP_MATCHING skips any other VMA (R-PMS-1,
        // pagemap_scan_test_walk), so the line did nothing of its own in half of the uffd cases
        if (this.rng.chance(0.5)) this.write(proc, r, {}); else this.read(proc, r, { first: 0, count: 1 });
        this.register(proc, r);
        this.ranged('scan', proc, r, this.partOf(rs), { wp_matching: true, ...(this.rng.chance(0.7) ? { no_vec: true } : {}) });
        break;
      }
      case 'zero-scan': {
        // a read fault maps the huge zero page (R-FLT-2); PAGEMAP_SCAN reports it (PFNZERO, R-PMS-2)
        this.read(proc, r, this.rng.chance(0.7) ? { first: 0, count: 1 } : one());
        if (this.rng.chance(0.4)) protect(this.rng.chance(0.7));
        scanIt();
        break;
      }
      case 'huge-zero': {
        // protected more often than not: a split must keep the huge zero PMD's wp bit in every PTE
        // (mm/huge_memory.c __split_huge_zero_page_pmd, R-SPLIT-2, B-13)
        this.read(proc, r, this.rng.chance(0.7) ? { first: 0, count: 1 } : one());
        if (this.rng.chance(0.8)) protect(this.rng.chance(0.7));
        const a = this.rng.pick(['split', 'mprot1', 'write1', 'scan', 'dontneed1']);
        if (a === 'split') this.split(proc, r, page);
        else if (a === 'mprot1') this.mprotect(proc, r, 'r', one());
        else if (a === 'write1') this.write(proc, r, one());
        else if (a === 'scan') scanIt();
        else this.ranged('dontneed', proc, r, one());
        break;
      }
      case 'dirty-split': {
        // a written PMD, clear_refs (soft-dirty cleared, the dirty bit kept), then split: the PTEs
        // take soft-dirty from the PMD's dirty bit too (x86 pte_mkdirty; R-SPLIT-1)
        this.write(proc, r, {});
        if (this.rng.chance(0.85)) this.clearRefs(proc);
        if (this.rng.chance(0.5)) this.split(proc, r, page); else this.mprotect(proc, r, 'r', one());
        break;
      }
      case 'collapse-wp': {
        this.write(proc, r, {});
        if (this.rng.chance(0.6)) this.split(proc, r, page);
        protect(this.rng.chance(0.2));
        // the collapse is the point of the line: past the cost budget if need be (a small region
        // mapped before the THP makes it the sixth op over the budget)
        this.borrowing(this.maxCost, () => this.ranged('collapse', proc, r, this.rng.chance(0.7) ? {} : one()));
        break;
      }
      case 'folio-split': {
        // a THP whose subpages are mostly zero-filled, split by a partial pageout (R-SPLIT-5: the
        // zero-filled ones go to the zero page). The first touch decides which subpages hold data:
        // a write stores some, a populate write faults the THP and stores none (R-POP-1). The PMD
        // may be split first, leaving a PTE-mapped large folio that the pageout must split itself
        // (madvise_cold_or_pageout_pte_range: split_folio)
        if (this.rng.chance(0.5)) this.clearRefs(proc);
        const touch = this.rng.weighted<string>([['write0', 3], ['write1', 2], ['populate', 3]]);
        if (touch === 'write0') this.write(proc, r, { first: 0, count: 1 });
        else if (touch === 'write1') this.write(proc, r, one());
        else this.populate(proc, r, true, this.rng.pick<Range>([{}, { first: 0, count: 1 }, one()]));
        const ptes = this.rng.chance(0.6);
        if (ptes) this.split(proc, r, page);
        if (this.rng.chance(0.5)) protect(true);
        // the pageout is the point of the line: this one op may go past the cost budget (after
        // clear_refs, the touch, the split and the protection it is the seventh op over the THP)
        if (ptes || this.rng.chance(0.7)) this.borrowing(this.maxCost, () => this.ranged('pageout', proc, r, this.rng.chance(0.7) ? partial() : this.smallRange(rs)));
        else this.split(proc, r, page);
        break;
      }
      case 'hole-scan': {
        protect(true);
        if (this.rng.chance(0.3)) this.write(proc, r, one());
        scanIt();
        break;
      }
      case 'pt-move': {
        // a 2 MiB-aligned range of 4 KiB entries (or a PMD) moved by mremap: whole-table moves.
        // A page table of write-protected PTEs in a VMA registered without EVENT_REMAP must not be
        // relinked (mm/mremap.c move_pgt_entry: uffd_supports_page_table_move, R-MRM-3, B-22):
        // mostly a split THP (a table), moved whole (no resize, no in-place growth)
        const t = this.rng.float();
        if (t < 0.2) this.write(proc, r, one());
        else if (t < 0.9) { this.write(proc, r, this.rng.chance(0.5) ? {} : one()); this.split(proc, r, page); }
        if (this.rng.chance(0.4)) this.clearRefs(proc);
        // the protection and the move are the point of the line: past the cost budget if need be
        // (after the mmap, the touch, the split and clear_refs, the budget ends at the registration)
        this.borrowing(this.maxCost, () => {
          protect(this.rng.chance(0.6));
          if (this.rng.chance(0.8)) this.moveWhole(proc, r); else this.mremap(proc, r);
        });
        break;
      }
      case 'async-write': {
        this.write(proc, r, {});
        protect(this.rng.chance(0.8));
        this.write(proc, r, one());
        break;
      }
      default: {
        const touch = this.rng.weighted<string>([['read0', 4], ['write-all', 4], ['write0', 3], ['none', 2], ['populate', 2]]);
        if (touch === 'read0') this.read(proc, r, { first: 0, count: 1 });
        else if (touch === 'populate') this.populate(proc, r, this.rng.chance(0.7), this.rng.chance(0.5) ? {} : { first: 0, count: 1 });
        else if (touch === 'write-all') this.write(proc, r, this.rng.chance(0.7) ? {} : { first: 0, count: this.hp });
        else if (touch === 'write0') this.write(proc, r, { first: 0, count: 1 });
        if (touch === 'write-all' && this.rng.chance(0.25)) this.split(proc, r, page);
        if (this.rng.chance(0.3)) this.clearRefs(proc);
        if (this.rng.chance(0.55)) protect(this.rng.chance(0.6));
        const a = this.rng.weighted<string>([
          ['split', 4], ['mprot1', 3], ['collapse', 3], ['pageout', 2], ['dontneed', 2], ['write1', 3], ['scan', 3], ['fork', 1], ['mremap', 1],
        ]);
        switch (a) {
          case 'split': this.split(proc, r, page); break;
          case 'mprot1': this.mprotect(proc, r, this.rng.chance(0.8) ? 'r' : 'none', one()); break;
          case 'collapse': this.ranged('collapse', proc, r, {}); break;
          case 'pageout': this.ranged('pageout', proc, r, this.rng.chance(0.4) ? {} : partial()); break;
          case 'dontneed': this.ranged('dontneed', proc, r, this.rng.chance(0.4) ? { first: 0, count: this.hp } : one()); break;
          case 'write1': this.write(proc, r, one()); break;
          case 'scan': scanIt(); break;
          case 'fork': { const c = this.fork(proc); if (c !== undefined && this.rng.chance(0.5)) this.write(c, r, one()); break; }
          case 'mremap': this.mremap(proc, r); break;
        }
      }
    }
    if (this.rng.chance(0.4)) {
      const b = this.rng.float();
      if (b < 0.4) this.write(proc, r, { first: this.rng.int(rs.pages), count: 1 });
      else if (b < 0.7) scanIt();
      else this.read(proc, r, { first: this.rng.int(rs.pages), count: 1 });
    }
  }

  /** two adjacent VMAs with different soft-dirty history merged by mmap/mprotect/mremap */
  motifMerge(): void {
    const proc = this.pickProc();
    // only anonymous VMAs merge here: two shared or memfd mappings are different objects
    // (mm/vma.c is_mergeable_vma: vm_file), so an unmergeable pair tests only that nothing merges
    const kind = this.rng.chance(0.8) ? 'anon' : this.pickKind();
    const a = this.mmap(proc, { kind, thp: false });
    if (!a) return;
    if (this.rng.chance(0.8)) this.write(proc, a);
    // different protections keep the VMAs apart until an mprotect makes them equal (and merges them)
    const apart = this.rng.chance(0.5);
    if (apart) this.mprotect(proc, a, 'r', {});
    this.clearRefs(proc);
    const b = this.mmap(proc, { kind: this.rng.chance(0.85) ? kind : undefined, thp: false, after: a });
    if (!b) return;
    if (apart) {
      if (this.rng.chance(0.5)) this.write(proc, b);
      if (this.rng.chance(0.5)) this.mprotect(proc, a, 'rw', {}); else this.mprotect(proc, b, 'r', {});
      if (this.rng.chance(0.5)) this.read(proc, this.rng.chance(0.5) ? a : b);
      return;
    }
    const y = this.rng.float();
    if (y < 0.3) { this.mprotect(proc, a, 'r', {}); this.mprotect(proc, a, 'rw', {}); }
    else if (y < 0.5) { this.mprotect(proc, b, 'r', {}); this.mprotect(proc, b, 'rw', {}); }
    else if (y < 0.65) { this.mprotect(proc, b, 'r', {}); }
    else if (y < 0.75) { this.mremap(proc, a); }
    if (this.rng.chance(0.3)) this.clearRefs(proc);
    if (this.rng.chance(0.5)) this.read(proc, this.rng.chance(0.5) ? a : b);
    else if (this.rng.chance(0.5)) this.write(proc, b, { first: 0, count: 1 });
  }

  /** mprotect RO -> RW over written pages of a region mapped here (VM_SOFTDIRTY set until a
   *  clear_refs), under soft-dirty tracking, uffd-wp or both: whether the RW mprotect may make a PTE
   *  writable at once (mm/mprotect.c can_change_pte_writable) depends on both, and a shared VMA
   *  needs write notification for either (mm/mmap.c vma_wants_writenotify: vma_soft_dirty_enabled,
   *  userfaultfd_wp); then a write that must fault, or not (R-MPROT-3, R-CR-1) */
  motifWriteNotify(): void {
    const proc = this.pickProc();
    const r = this.mmap(proc, { thp: false, kind: this.rng.weighted<Kind>([['shared-anon', 2], ['memfd-shared', 2], ['anon', 1], ['memfd-private', 1]]) });
    if (!r) return;
    const rs = this.b.region(proc, r)!;
    const rg = this.write(proc, r, this.rng.chance(0.5) ? {} : this.pickRange(rs)) ?? {};
    const t = this.rng.float();
    const uffd = this.b.hasUffd && t < 0.75;
    if (!uffd || t < 0.2) this.clearRefs(proc);
    if (uffd) { this.register(proc, r, {}); this.wp(proc, r, true, this.rng.chance(0.7) ? {} : rg); }
    const m = this.subRange(rs, rg);
    this.mprotect(proc, r, this.rng.chance(0.85) ? 'r' : 'none', m);
    this.mprotect(proc, r, 'rw', m);
    this.write(proc, r, this.subRange(rs, m));
    if (this.rng.chance(0.3)) this.scan(proc, r, {});
  }

  /** shared memory written, clear_refs, zapped, refaulted by a read, written */
  motifRefault(): void {
    const proc = this.pickProc();
    const r = this.mmap(proc, { kind: this.rng.pick<Kind>(['memfd-shared', 'shared-anon', 'memfd-private']), thp: false });
    if (!r) return;
    const rs = this.b.region(proc, r)!;
    const rg = this.write(proc, r) ?? {};
    this.clearRefs(proc);
    const s = this.subRange(rs, rg);
    this.ranged('dontneed', proc, r, s);
    if (this.rng.chance(0.8)) this.read(proc, r, s);
    this.write(proc, r, s);
  }

  /** WRITEPROTECT over unpopulated memory, maybe a write, then PAGEMAP_SCAN / fork */
  motifUnpopulated(): void {
    if (!this.b.hasUffd) { this.motifThp(); return; }
    const proc = this.pickProc();
    const r = this.mmap(proc, { thp: this.rng.chance(0.2) });
    if (!r) return;
    const rs = this.b.region(proc, r)!;
    this.register(proc, r);
    // a written page gives an anon VMA its anon_vma, so fork copies its entries, markers included
    // where the child keeps the registration (R-FORK-2, R-FORK-5)
    if (this.rng.chance(0.65)) this.write(proc, r, { first: this.rng.int(rs.pages), count: 1 });
    this.wp(proc, r, true, {});
    const y = this.rng.float();
    if (y < 0.25) this.write(proc, r, { first: this.rng.int(rs.pages), count: 1 });
    else if (y < 0.55) { const c = this.fork(proc); if (c !== undefined && this.rng.chance(0.3)) this.read(c, r); }
    else if (y < 0.65) this.ranged('dontneed', proc, r, {});
    this.scan(proc, r, this.rng.chance(0.7) ? {} : undefined);
    if (this.rng.chance(0.4)) { this.write(proc, r, { first: this.rng.int(rs.pages), count: 1 }); this.scan(proc, r, {}); }
  }

  /** async WP of a whole region, write some, swap some out, WP_MATCHING scans in between */
  motifScanSwap(): void {
    if (!this.b.hasUffd) { this.motifSwapFork(); return; }
    const proc = this.pickProc();
    const r = this.region(proc, (x) => !x.thp && x.pages > 1);
    if (!r) return;
    const rs = this.b.region(proc, r)!;
    this.register(proc, r);
    this.write(proc, r, {});
    this.wp(proc, r, true, {});
    const p1 = this.rng.int(rs.pages);
    this.write(proc, r, { first: p1, count: 1 });
    this.ranged('pageout', proc, r, { first: p1, count: 1 });
    // the selftests' get-and-reprotect, sometimes with the /2 arguments (fast paths, masks)
    this.ranged('scan', proc, r, {}, { wp_matching: true, ...(this.rng.chance(0.3) ? this.scanArgs(true) : {}) });
    this.ranged('pageout', proc, r, { first: this.rng.int(rs.pages), count: 1 });
    // that page was most likely write-protected: a protected swap entry, which the WRITTEN fast
    // path must not report (R-PMS-3.fast: pte_swp_uffd_wp_any, pagemap_scan_pmd_entry)
    if (this.rng.chance(0.4)) this.ranged('scan', proc, r, {}, { category_mask: 'w', return_mask: 'w', ...(this.rng.chance(0.5) ? { wp_matching: true } : {}) });
    else this.scan(proc, r, {});
  }

  /** registered, written, protected range moved by mremap; then touched */
  motifMremapProtected(): void {
    if (!this.b.hasUffd) { this.motifClearWrite(); return; }
    const proc = this.pickProc();
    const r = this.rng.chance(0.2) ? this.mmap(proc, { thp: true, kind: 'anon' }) : this.region(proc);
    if (!r) return;
    this.register(proc, r);
    if (this.rng.chance(0.8)) this.write(proc, r);
    if (this.rng.chance(0.3)) this.clearRefs(proc);
    this.wp(proc, r, true, {});
    this.mremap(proc, r);
    const y = this.rng.float();
    if (y < 0.3) { this.mprotect(proc, r, 'r', {}); this.mprotect(proc, r, 'rw', {}); }
    if (this.rng.chance(0.5)) this.write(proc, r); else if (this.rng.chance(0.5)) this.scan(proc, r);
  }

  /** fork by a process that has regions, then the child (or the parent) touches one */
  closingFork(): void {
    const proc = this.pickProc();
    const names = this.b.liveRegions(proc);
    if (!names.length) return;
    const c = this.fork(proc);
    if (c === undefined || this.room <= 0) return;
    const who = this.rng.chance(0.7) ? c : proc;
    const r = this.rng.pick(names);
    const rs = this.b.region(who, r);
    if (!rs || !isLive(rs)) return;
    const a = this.rng.weighted<string>([['none', 3], ['write', 3], ['read', 1], ['scan', 2], ['clear', 1]]);
    if (a === 'write') this.write(who, r, this.pickRange(rs));
    else if (a === 'read') this.read(who, r, this.pickRange(rs));
    else if (a === 'scan') this.scan(who, r, {});
    else if (a === 'clear') this.clearRefs(who);
  }

  /** PAGEMAP_SCAN of (part of) a live region of some process: mostly the plain scan, which
   *  reports every category of every page (an observation: masks and WP_MATCHING would hide or
   *  change some), else any arguments */
  closingScan(): void {
    const proc = this.pickProc();
    const names = this.b.liveRegions(proc);
    if (!names.length) return;
    const r = this.rng.pick(names);
    const range = this.rng.chance(0.5) ? {} : undefined;
    if (this.rng.chance(0.6)) this.ranged('scan', proc, r, range); else this.scan(proc, r, range);
  }

  /** a child does its own tracking work */
  motifChild(): void {
    const c = this.fork(this.pickProc());
    if (c === undefined) return;
    const r = this.region(c);
    if (!r) return;
    if (this.rng.chance(0.5)) this.clearRefs(c);
    this.write(c, r);
    if (this.rng.chance(0.3)) this.b.emit({ op: 'exit', proc: c });
  }

  /** MADV_POPULATE_READ/WRITE where it differs from plain accesses (madv_populate.c): after
   *  clear_refs, over write-protected or read-only pages, across gaps and shmem ends, on THPs whose
   *  content stays zero (a later folio split remaps it to the zero page) */
  motifPopulate(): void {
    const proc = this.pickProc();
    const r = this.region(proc, (x) => x.thp || x.wp || this.rng.chance(0.5));
    if (!r) return;
    const rs = this.b.region(proc, r)!;
    if (rs.thp && this.rng.chance(0.4)) {
      // a THP a populate write faulted holds no data: a folio split maps the zero page (R-SPLIT-5)
      this.populate(proc, r, true, this.rng.chance(0.5) ? {} : { first: 0, count: 1 });
      if (this.rng.chance(0.6)) this.ranged('pageout', proc, r, { first: 0, count: 4 }); else this.split(proc, r, 1);
      return;
    }
    const y = this.rng.float();
    if (y < 0.3) {
      // madv_populate.c test_softdirty: clear, populate read (zero pages: clean), populate write
      this.clearRefs(proc);
      this.populate(proc, r, false);
      this.populate(proc, r, true);
    } else if (y < (this.b.hasUffd && !this.b.feature('wp_async') ? 0.6 : 0.5) && this.b.hasUffd) {
      // more of the draws in a sync context: a populate write needing a sync uffd-wp fault fails
      // with EFAULT and raises no event (R-POP-3, fs/userfaultfd.c handle_userfault)
      this.register(proc, r);
      if (this.rng.chance(0.5)) this.write(proc, r);
      this.wp(proc, r, true, {});
      if (this.rng.chance(0.3)) this.ranged('pageout', proc, r, this.pickRange(rs));
      this.populate(proc, r, true, this.pickRange(rs));
    } else if (y < 0.65) {
      const m = this.pickRange(rs);
      this.mprotect(proc, r, this.rng.chance(0.7) ? 'r' : 'none', m);
      this.populate(proc, r, this.rng.chance(0.6));
    } else if (y < 0.72) {
      this.ranged('munmap', proc, r, { first: this.rng.int(rs.pages), count: 1 });
      this.populate(proc, r, this.rng.chance(0.5));
    } else if (y < 0.82) {
      // past the end of the object: a region grown in place (a shared one's new pages have no
      // file behind them)
      const old = rs.pages;
      if (this.growInPlace(proc, r)) this.acrossEnd(proc, r, old);
    } else {
      this.populate(proc, r, this.rng.chance(0.5), this.pickRange(rs));
      if (this.rng.chance(0.5)) { const c = this.fork(proc); if (c !== undefined) this.populate(c, r, true, this.pickRange(rs)); }
    }
  }

  /** guard regions (guard-regions.c): install over populated memory, then what must keep, move,
   *  copy or drop the markers — DONTNEED, fork, mremap, munmap, uffd-wp and PAGEMAP_SCAN arming
   *  (R-GRD-*), collapse, populate, a fault next to (or on) the guard */
  motifGuard(): void {
    const proc = this.pickProc();
    const thp = this.allowThp && this.rng.chance(0.2);
    // any backing, with or without a userfaultfd: a shared VMA's markers live only in its page
    // tables, which fork copies only because of them (R-GRD-5), an anon one's beside its anon_vma
    const r = this.mmap(proc, { thp, kind: this.rng.weighted<Kind>([['anon', 3], ['shared-anon', 2], ['memfd-shared', 2], ['memfd-private', 2]]) });
    if (r === undefined) return;
    const rs = this.b.region(proc, r)!;
    if (this.rng.chance(0.7)) this.write(proc, r, this.rng.chance(0.5) ? {} : this.pickRange(rs));
    const protect = () => { this.register(proc, r); if (this.rng.chance(0.6)) this.wp(proc, r, true); };
    // a non-anon region is registered only after the install (guard(): R-GRD-1)
    const uffd = this.b.hasUffd && this.rng.chance(0.5);
    if (uffd && rs.kind === 'anon') protect();
    const g = this.guard(proc, r);
    if (uffd && rs.kind !== 'anon') protect();
    // what follows mostly covers the guarded pages (a zap, populate or scan elsewhere in the region
    // tells nothing about the markers), sometimes any range
    const near = (cur: RegionState): Range => {
      if (!g || this.rng.chance(0.35)) return this.pickRange(cur);
      const f = Math.max(0, (g.first ?? 0) - this.rng.int(2));
      const end = Math.min(cur.pages, (g.first ?? 0) + (g.count ?? cur.pages) + this.rng.int(2));
      return end > f ? { first: f, count: end - f } : this.pickRange(cur);
    };
    const steps = this.rng.range(2, 5);
    for (let k = 0; k < steps && this.room > 0; k++) {
      const cur = this.b.region(proc, r);
      if (!cur || !isLive(cur)) return;
      const a = this.rng.weighted<string>([
        // an ordinary zap keeps the markers (R-GRD-4), munmap and unguard drop them
        ['dontneed', 5], ['fork', 5], ['mremap', 2], ['munmap', 1], ['scan', 3], ['wp', this.b.hasUffd ? 2 : 0], ['unguard', 2],
        ['guard', 1], ['collapse', thp ? 2 : 0], ['populate', 1], ['read', 1], ['pageout', 1], ['clear', 1], ['unregister', this.b.hasUffd ? 1 : 0],
      ]);
      switch (a) {
        case 'dontneed': this.ranged('dontneed', proc, r, near(cur)); break;
        case 'fork': { const c = this.fork(proc); if (c !== undefined && this.rng.chance(0.5)) this.scan(c, r); break; }
        case 'mremap': this.mremap(proc, r); break;
        case 'munmap': this.ranged('munmap', proc, r, near(cur)); break;
        // WP_MATCHING arms the guard markers of a registered WP_ASYNC VMA (R-PMS-9): mostly, there
        case 'scan': this.ranged('scan', proc, r, this.rng.chance(0.5) ? {} : near(cur), { ...(this.rng.chance(cur.registered && this.b.feature('wp_async') ? 0.8 : 0.5) ? { wp_matching: true } : {}), ...(this.rng.chance(0.6) ? this.scanArgs(false) : {}) }); break;
        case 'wp': this.register(proc, r); this.wp(proc, r, this.rng.chance(0.6)); break;
        case 'unguard': this.unguard(proc, r, this.rng.chance(0.6) ? {} : this.pickRange(cur)); break;
        case 'guard': this.guard(proc, r); break;
        case 'collapse': this.ranged('collapse', proc, r); break;
        case 'populate': this.populate(proc, r, this.rng.chance(0.5), near(cur)); break;
        case 'read': this.read(proc, r, near(cur)); break;
        case 'pageout': this.ranged('pageout', proc, r, near(cur)); break;
        case 'clear': this.clearRefs(proc); break;
        case 'unregister': this.ranged('uffd_unregister', proc, r); break;
      }
    }
  }

  /** uffd registration of a range that starts or ends inside a VMA (the VMA is split, R-REG-1),
   *  then an op over the whole region: WRITEPROTECT (ENOENT where unregistered), PAGEMAP_SCAN
   *  (WPALLOWED only where registered) or writes on both sides of the boundary */
  motifRegisterPart(): void {
    if (!this.b.hasUffd) { this.motifGrow(); return; }
    const proc = this.pickProc();
    const r = this.region(proc, (x) => !x.registered && x.pages > 1);
    if (!r) return;
    const rs = this.b.region(proc, r)!;
    if (rs.registered || rs.pages < 2) return;
    if (this.rng.chance(0.6)) this.write(proc, r, {});
    const first = 1 + this.rng.int(rs.pages - 1);
    const range: Range = this.rng.chance(0.85) ? { first } : { first: 0, count: first };
    this.ranged('uffd_register', proc, r, range);
    const y = this.rng.float();
    if (y < 0.65) this.wp(proc, r, true, {});
    else if (y < 0.85) { this.wp(proc, r, true, range); this.scan(proc, r, {}); }
    else { this.wp(proc, r, true, range); this.write(proc, r, {}); }
  }

  /** mremap after clear_refs: growing a region in place, the grown part inherits the VMA's
   *  VM_SOFTDIRTY, which clear_refs cleared (R-MRM-7, R-CR-1); moving it, every moved entry is
   *  made soft-dirty (mm/mremap.c move_ptes: pte_mksoft_dirty, R-MRM-1) */
  motifGrow(): void {
    const proc = this.pickProc();
    const r = this.region(proc, (x) => !x.thp);
    if (!r || this.room < 3) return;
    const rs = this.b.region(proc, r)!;
    if (this.rng.chance(0.6)) this.write(proc, r, {});
    if (this.rng.chance(0.8)) this.clearRefs(proc);
    if (this.rng.chance(0.3)) { this.mremap(proc, r); if (this.rng.chance(0.4)) this.read(proc, r); return; }
    const old = rs.pages;
    if (!this.growInPlace(proc, r)) return;
    const y = this.rng.float();
    if (y < 0.25) this.write(proc, r, { first: old - 1, count: 1 });
    else if (y < 0.4) this.scan(proc, r, {});
    else if (y < 0.85) this.acrossEnd(proc, r, old);
  }

  /** mremap growing a region in place by 1-3 pages; false when it could not (the plan keeps the
   *  size where the kernel answers ENOMEM) */
  growInPlace(proc: number, r: string): boolean {
    const rs = this.b.region(proc, r);
    if (!rs || !isLive(rs) || this.room <= 0) return false;
    const old = rs.pages;
    const pages = Math.min(this.b.limits.maxPagesPerRegion, old + this.rng.range(1, 3));
    if (pages <= old) return false;
    this.b.emit(this.withProc({ op: 'mremap', region: r, move: false, pages }, proc));
    return (this.b.region(proc, r)?.pages ?? 0) > old;
  }

  /** a fault or populate over a grown region's old end: in a shared or file mapping the grown
   *  pages lie past the end of the object (VM_FAULT_SIGBUS; populate answers EFAULT, R-POP-2), in
   *  an anon one they are ordinary new pages */
  acrossEnd(proc: number, r: string, oldPages: number): void {
    const rs = this.b.region(proc, r);
    if (!rs || rs.pages <= oldPages) return;
    const first = Math.max(0, oldPages - this.rng.int(2));
    const range: Range = { first, count: 1 + this.rng.int(rs.pages - first) };
    const a = this.rng.weighted<string>([['populate', 3], ['read', 1], ['write', 1]]);
    if (a === 'populate') this.populate(proc, r, this.rng.chance(0.5), range);
    else if (a === 'read') this.read(proc, r, range);
    else this.write(proc, r, range);
  }

  /** a hole punched into a region (munmap of part of it: addresses between VMAs, R-PM-1,
   *  R-MUNMAP-1), then ops across the hole, which must stop at it or skip it */
  motifHole(): void {
    const proc = this.pickProc();
    const roomy = this.b.liveRegions(proc).filter((n) => { const x = this.b.region(proc, n)!; return !x.thp && x.pages > 2; });
    const r = roomy.length && this.rng.chance(0.8) ? this.rng.pick(roomy) : this.mmap(proc, { thp: false, pages: this.rng.range(3, 8) });
    if (!r) return;
    const rs = this.b.region(proc, r)!;
    if (rs.pages < 3) return;
    if (this.rng.chance(0.6)) this.write(proc, r, {});
    if (this.rng.chance(0.4)) this.clearRefs(proc);
    const first = 1 + this.rng.int(rs.pages - 2);
    this.ranged('munmap', proc, r, { first, count: 1 + this.rng.int(Math.min(2, rs.pages - 1 - first)) });
    const a = this.rng.weighted<string>([['populate', 2], ['mprotect', 2], ['scan', 2], ['read', 1], ['mremap', 1], ['register', 1]]);
    if (a === 'populate') this.populate(proc, r, this.rng.chance(0.5), {});
    else if (a === 'mprotect') this.mprotect(proc, r, this.rng.chance(0.5) ? 'r' : 'none', {});
    else if (a === 'scan') this.scan(proc, r, {});
    else if (a === 'read') this.read(proc, r, { first: 0, count: first });
    else if (a === 'mremap') this.mremap(proc, r);
    else this.register(proc, r, {});
  }

  /** PAGEMAP_SCAN of a registered range never written-protected: PMD holes (no page table yet)
   *  and pte_none entries of a table, which a WP_ASYNC context reports as written and arms
   *  (fs/proc/task_mmu.c pagemap_scan_pte_hole, pagemap_scan_pmd_entry; R-PMS-2, R-PMS-6) */
  motifScanFresh(): void {
    if (!this.b.hasUffd) { this.motifHole(); return; }
    const proc = this.pickProc();
    const r = this.mmap(proc, { thp: false, kind: this.rng.chance(0.7) ? 'anon' : undefined });
    if (!r) return;
    const rs = this.b.region(proc, r)!;
    // one written page gives the block a page table: the rest of it is pte_none, not a PMD hole
    // (in a WP_ASYNC context more often: the vector-less scan below arms a table's entries past
    // its masks, a hole only as they say)
    const async = this.b.feature('wp_async');
    if (this.rng.chance(async ? 0.7 : 0.6)) this.write(proc, r, { first: this.rng.int(rs.pages), count: 1 });
    this.register(proc, r, {});
    // WP_MATCHING without an output vector arms every unprotected entry whatever the category masks
    // (R-PMS-4, pagemap_scan_pmd_entry's exclusive-WP path): a mask that leaves entries out tells it
    // from the generic path
    const y = this.rng.float();
    // (only a WP_ASYNC context is armed at all, R-PMS-1: there the vector-less shape gets more of the draws)
    const args = y < (async ? 0.55 : 0.25) ? { wp_matching: true, no_vec: true, category_mask: this.rng.pick(['p', 's', 'g', 'wp']) } : y < 0.7 ? { wp_matching: true } : {};
    this.ranged('scan', proc, r, {}, args);
    if (this.rng.chance(0.4)) { this.write(proc, r, { first: this.rng.int(rs.pages), count: 1 }); this.scan(proc, r, {}); }
  }

  motif(): void {
    const m = this.rng.weighted<() => void>([
      [() => this.motifScanFresh(), 3],
      [() => this.motifHole(), 3],
      [() => this.motifRegisterPart(), 2],
      [() => this.motifGrow(), 2],
      [() => this.motifPopulate(), 2],
      [() => this.motifGuard(), 6],
      [() => this.motifClearWrite(), 5],
      [() => this.motifWpAct(), 7],
      [() => this.motifSwapFork(), 4],
      [() => this.motifThp(), 4],
      [() => this.motifMthp(), 3],
      [() => this.motifShmemFolioReclaim(), 1],
      [() => this.motifMerge(), 3],
      [() => this.motifRefault(), 2],
      [() => this.motifWriteNotify(), 2],
      [() => this.motifUnpopulated(), 3],
      [() => this.motifScanSwap(), 2],
      [() => this.motifMremapProtected(), 3],
      [() => this.motifChild(), 1],
    ]);
    m();
  }
}

function pickFeatures(rng: Rng): Feature[] {
  const fs: Feature[] = [];
  const p: Record<Feature, number> = { wp_async: 0.5, wp_unpopulated: 0.4, event_fork: 0.35, event_remap: 0.3, event_unmap: 0.2 };
  for (const f of FEATURES) if (rng.chance(p[f])) fs.push(f);
  return fs;
}

/** how often a generated case ends with a fork (OpGen.closingFork) and with a scan (closingScan) */
const CLOSING_FORK = 0.3;
const CLOSING_SCAN = 0.4;

/** A fresh weighted-random case. */
export function freshCase(rng: Rng, maxOps = 40, geometry: PageGeometry = GEOMETRY_4K): Case {
  const thp = rng.chance(THP_CASES);
  const uffd = rng.chance(thp ? 0.8 : 0.7) ? { features: pickFeatures(rng) } : undefined;
  const b = new CaseBuilder(uffd, limitsFor(geometry), geometry);
  const g = new OpGen(rng, b, maxOps);
  g.allowThp = thp;
  const target = Math.min(maxOps, rng.weighted([[rng.range(3, 8), 5], [rng.range(8, 14), 4], [rng.range(14, 28), 1]]));
  if (g.allowThp) {
    // a THP case: one THP scenario first (its region dominates the cost budget), then whatever fits
    if (rng.chance(0.3)) g.mmap(0);
    g.motifThp();
  }
  const initial = g.allowThp ? 0 : rng.range(1, 2);
  for (let i = 0; i < initial; i++) g.mmap(0);
  // addresses between VMAs inside a region are read in every later observation (R-PM-1): a hole
  // early makes every following op's state checkable there too
  if (!g.allowThp && rng.chance(0.45)) g.motifHole();
  let guard = 0;
  while (b.ops.length < target && guard++ < 200 && g.room > 0) {
    if (rng.chance(0.55)) g.motif(); else g.randomOp();
  }
  // fork copies every entry kind the case built (copy_pte_range, copy_nonpresent_pte, the
  // VM_MAYBE_GUARD and uffd-wp decisions of vma_needs_copy): a closing fork, with a touch in the
  // child, puts fork behind every motif, not only the few that fork (uniform cases fork twice as often)
  if (rng.chance(CLOSING_FORK)) g.closingFork();
  // pagemap is read after every op, PAGEMAP_SCAN's categories only where a scan runs: a closing
  // scan checks them on whatever the case built (most motifs scan only registered regions)
  if (rng.chance(CLOSING_SCAN)) g.closingScan();
  return b.toCase();
}

/** Extend a (valid) case with more generated ops. */
export function extendCase(rng: Rng, c: Case, maxOps = 40, geometry: PageGeometry = GEOMETRY_4K): Case {
  const b = CaseBuilder.fromCase(c, undefined, geometry);
  const g = new OpGen(rng, b, maxOps);
  g.allowThp = c.ops.some((o) => o.op === 'mmap' && o.thp) || rng.chance(THP_CASES / 3);
  const n = rng.range(1, 6);
  const stop = Math.min(maxOps, b.ops.length + n);
  let guard = 0;
  while (b.ops.length < stop && guard++ < 50 && g.room > 0) { if (rng.chance(0.5)) g.motif(); else g.randomOp(); }
  // as freshCase, and as often: fork and PAGEMAP_SCAN behind what the extended case built. A pool
  // case is kept for a rare state, which a fork or a scan is what shows (copy_pte_range and
  // copy_nonpresent_pte copy every entry kind; pagemap_scan_pmd_entry reports categories): at
  // half the fresh rate, mutations showed the states of their pool less than they could
  if (rng.chance(CLOSING_FORK)) g.closingFork();
  if (rng.chance(CLOSING_SCAN)) g.closingScan();
  return b.toCase();
}

/** the case asserts soft-dirty and nothing else (src/check/check.ts assertedKinds) */
function onlySoftDirty(c: Case): boolean {
  const k = assertedKinds(c);
  return k.size === 1 && k.has('soft-dirty');
}

function isValid(c: Case, geometry: PageGeometry): boolean { return generatedCaseProblems(c, limitsFor(geometry)).length === 0; }

/** a guard install the case's registrations may hang (CaseBuilder.hangingGuard, R-GRD-1); the
 *  replay runs only for a case holding both a guard and a uffd_register (call after isValid: the
 *  builder throws on an invalid op) */
function hangsGuard(c: Case, geometry: PageGeometry): boolean {
  if (!c.ops.some((o) => o.op === 'guard') || !c.ops.some((o) => o.op === 'uffd_register')) return false;
  return CaseBuilder.fromCase(c, undefined, geometry).hangingGuard;
}

/** One mutation of a pool case; always returns a valid case (falls back to extension). */
export function mutateCase(rng: Rng, c: Case, maxOps = 40, geometry: PageGeometry = GEOMETRY_4K): Case {
  const kind = rng.weighted<string>([['extend', 4], ['truncate-extend', 3], ['tweak', 3], ['insert', 3], ['delete', 2], ['features', 1]]);
  let out: Case | undefined;
  switch (kind) {
    case 'truncate-extend': {
      const k = 1 + rng.int(c.ops.length);
      out = extendCase(rng, { ...c, ops: c.ops.slice(0, k) }, maxOps, geometry);
      break;
    }
    case 'tweak': {
      const ops = c.ops.map(copyOp);
      const i = rng.int(ops.length);
      const o = ops[i] as Op & { first?: number; count?: number; page?: number; on?: boolean; prot?: string; value?: number };
      const pre = CaseBuilder.fromCase({ ...c, ops: c.ops.slice(0, i) }, undefined, geometry);
      const rs = 'region' in o ? pre.region(o.proc ?? 0, o.region) : undefined;
      if (rs && 'first' in opTemplate(o.op)) {
        const g = new OpGen(rng, pre, maxOps);
        const rg = g.pickRange(rs);
        delete o.first; delete o.count;
        Object.assign(o, rg);
      } else if (o.op === 'split' && rs) o.page = rng.int(rs.pages);
      else if (o.op === 'wp') o.on = !o.on;
      else if (o.op === 'mprotect') o.prot = rng.pick(['none', 'r', 'rw']);
      else if (o.op === 'clear_refs') o.value = rng.range(1, 5);
      out = { ...c, ops };
      break;
    }
    case 'insert': {
      const i = rng.int(c.ops.length + 1);
      const pre = CaseBuilder.fromCase({ ...c, ops: c.ops.slice(0, i) }, undefined, geometry);
      const g = new OpGen(rng, pre, maxOps);
      g.allowThp = c.ops.some((o) => o.op === 'mmap' && o.thp);
      g.randomOp();
      const inserted = pre.ops.slice(i).filter((o) => o.op !== 'fork' && o.op !== 'mmap' && o.op !== 'mremap');
      if (inserted.length) out = { ...c, ops: [...c.ops.slice(0, i), ...inserted, ...c.ops.slice(i)] };
      break;
    }
    case 'delete': {
      if (c.ops.length > 1) {
        const i = rng.int(c.ops.length);
        out = { ...c, ops: c.ops.filter((_, j) => j !== i) };
      }
      break;
    }
    case 'features': {
      const f = rng.pick(FEATURES);
      if (c.uffd) {
        const fs = new Set(c.uffd.features ?? []);
        if (fs.has(f)) fs.delete(f); else fs.add(f);
        out = { ...c, uffd: { features: FEATURES.filter((x) => fs.has(x)) } };
      }
      break;
    }
  }
  // an inserted guard op or scan argument needs ptefarm-case/2 (src/ops/schema.ts formatFor)
  if (out) out = { ...out, format: formatFor(out.ops) };
  // a mutation can put a register before a guard of the same region (insert, tweak): such a case
  // stalls its slot until the case timeout (10 s live) and finds nothing the model did not predict
  if (out && out.ops.length <= maxOps && isValid(out, geometry) && !hangsGuard(out, geometry)) return out;
  return extendCase(rng, c, maxOps, geometry);
}

function opTemplate(op: OpName): Record<string, true> {
  switch (op) {
    case 'munmap': case 'mprotect': case 'read': case 'write': case 'pageout': case 'dontneed': case 'collapse':
    case 'uffd_register': case 'uffd_unregister': case 'wp': case 'scan': case 'populate': case 'guard': case 'unguard':
      return { first: true };
    default: return {};
  }
}

/** `rarest`: the smallest count of its features in `seen` (kept current by feedback: the weight
 *  needs max 1/n over the features, which is 1/rarest exactly, 1/n being monotone and correctly
 *  rounded; Infinity for no feature, weight 0 as before) */
interface PoolEntry { c: Case; features: FeatureCount[]; picks: number; cost: number; rarest: number }

/** a coverage feature's count in the generator's feedback so far, and the pool entries holding it
 *  (so a count change updates only their `rarest`): one record per feature, found with one map
 *  lookup per feature of a case, and read by the entries that hold it without any */
interface FeatureCount { n: number; holders: Set<PoolEntry> | undefined }

/** The op-kind:rule feature strings made so far, by op kind and rule: the same pair is the same
 *  string every time, whose hash the feature maps (GuidedGenerator seen, holders) have computed
 *  already, instead of a new string to build and hash at each of a case's steps. Bounded: past
 *  FEATURE_NAMES pairs (a worker answering with made-up rule ids) a pair is built as before. */
const featureNames = new Map<string, Map<string, string>>();
let featureNameCount = 0;
const FEATURE_NAMES = 1 << 16;

function featureName(op: string, rule: string): string {
  let byRule = featureNames.get(op);
  if (byRule === undefined) featureNames.set(op, (byRule = new Map()));
  let f = byRule.get(rule);
  if (f === undefined) {
    f = `${op}:${rule}`;
    if (featureNameCount < FEATURE_NAMES) { byRule.set(rule, f); featureNameCount++; }
  }
  return f;
}

/** Coverage features of one executed case: rule ids, and op-kind:rule pairs per step. */
export function coverageFeatures(c: Case, stepRules: ReadonlyArray<readonly string[]>): { rules: string[]; features: string[] } {
  const rules = new Set<string>();
  const feats = new Set<string>();
  for (let i = 0; i < stepRules.length; i++) {
    const rs = stepRules[i]!;
    const op = c.ops[i]?.op ?? '?';
    for (const r of rs) { rules.add(r); feats.add(r); feats.add(featureName(op, r)); }
  }
  return { rules: [...rules], features: [...feats] };
}

/** which of the guided generator's streams a case came from */
export type CaseOrigin = 'hugetlb' | 'uniform' | 'fresh' | 'mutated';

/**
 * The guided generator: fresh weighted cases plus mutations of a pool of cases that reached rare
 * coverage features. `next()` and `feedback()` must be called in a deterministic order.
 */
export class GuidedGenerator {
  readonly rng: Rng;
  private readonly seen = new Map<string, FeatureCount>();
  readonly rulesSeen = new Set<string>();
  private readonly pool: PoolEntry[] = [];
  private readonly maxOps: number;
  private readonly opts: Required<Omit<GenerateOptions, 'maxOps' | 'geometry' | 'uffdFeatures'>>;
  /** the features the target lacks (GenerateOptions.uffdFeatures) */
  private readonly lacks: ReadonlySet<Feature>;
  /** the hugetlb cases' own stream: the other cases of a seed do not depend on it */
  private readonly hrng: Rng;
  private readonly geometry: PageGeometry;
  generated = 0;

  constructor(seed: number, opts: GenerateOptions = {}) {
    this.rng = new Rng(seed);
    this.maxOps = Math.min(opts.maxOps ?? 40, 256);
    this.opts = {
      freshRatio: opts.freshRatio ?? FRESH_RATIO, poolSize: opts.poolSize ?? 256, rareThreshold: opts.rareThreshold ?? 4,
      unguided: opts.unguided ?? false, uniformRatio: opts.uniformRatio ?? UNIFORM_RATIO, hugetlbRatio: opts.hugetlbRatio ?? HUGETLB_CASES,
      softDirty: opts.softDirty ?? true, thp: opts.thp ?? true,
    };
    this.lacks = new Set(FEATURES.filter((f) => opts.uffdFeatures && !opts.uffdFeatures.includes(f)));
    this.hrng = new Rng((seed ^ 0x48544c42) >>> 0);
    this.geometry = opts.geometry ?? GEOMETRY_4K;
  }

  get poolSize(): number { return this.pool.length; }

  next(): Case {
    this.generated++;
    for (let i = 0, masked = 0; ; i++) {
      const c = this.draw();
      if (i < UNRUNNABLE_REDRAWS && !this.runnable(c)) continue;
      if (!this.opts.softDirty && masked < MASKED_REDRAWS && onlySoftDirty(c)) { masked++; continue; }
      return c;
    }
  }

  /** can the target run the case (GenerateOptions thp, uffdFeatures)? Always on a target that has
   *  everything: no draw is repeated there */
  private runnable(c: Case): boolean {
    if (!this.opts.thp && c.ops.some((o) => (o.op === 'mmap' && o.thp) || o.op === 'collapse')) return false;
    if (this.lacks.size && c.uffd?.features?.some((f) => this.lacks.has(f))) return false;
    return true;
  }

  private draw(): Case {
    if (!this.opts.unguided && this.opts.hugetlbRatio > 0 && this.hrng.chance(this.opts.hugetlbRatio)) return this.from('hugetlb', hugetlbCase(this.hrng, this.geometry));
    // a share of uniform cases: states no motif aims at are reached as often as by a uniform
    // generator, up to that share (and uniform cases that reach something new enter the pool)
    if (!this.opts.unguided && this.rng.chance(this.opts.uniformRatio)) return this.from('uniform', uniformCase(this.rng, this.maxOps, DEFAULT_MAX_COST));
    if (this.opts.unguided || this.pool.length === 0 || this.rng.chance(this.opts.freshRatio)) return this.from('fresh', freshCase(this.rng, this.maxOps, this.geometry));
    const e = this.pickEntry();
    e.picks++;
    // a hugetlb case is not mutated by the op generators (they would mremap or split its regions)
    if (usesHugetlb(e.c)) return this.from('hugetlb', hugetlbCase(this.hrng, this.geometry));
    return this.from('mutated', mutateCase(this.rng, e.c, this.maxOps, this.geometry));
  }

  /** where the last case of next() came from (for measuring the generator: bench/tools) */
  origin: CaseOrigin = 'fresh';
  private from(o: CaseOrigin, c: Case): Case { this.origin = o; return c; }

  /** the rarity of the entry's rarest feature, lowered by its picks and its cost (the pick runs
   *  over the whole pool at every case: O(1) here, `rarest` is kept by feedback) */
  private weight(e: PoolEntry): number {
    return (1 / e.rarest) / (1 + 0.05 * e.picks) / (1 + e.cost / 300);
  }

  private rarestOf(features: readonly FeatureCount[]): number {
    let m = Infinity;
    for (const f of features) if (f.n < m) m = f.n;
    return m;
  }

  private pickEntry(): PoolEntry {
    return this.pool[this.rng.weightedIndex(this.pool.length, (i) => this.weight(this.pool[i]!))]!;
  }

  /** Report the rule ids each step of `c` exercised. Returns true if it reached something new. */
  feedback(c: Case, stepRules: ReadonlyArray<readonly string[]>): boolean {
    const { rules, features } = coverageFeatures(c, stepRules);
    for (const r of rules) this.rulesSeen.add(r);
    let fresh = false;
    let rare = false;
    const counts: FeatureCount[] = [];
    for (const f of features) {
      let rec = this.seen.get(f);
      if (rec === undefined) this.seen.set(f, (rec = { n: 0, holders: undefined }));
      const n = ++rec.n;
      counts.push(rec);
      if (n === 1) fresh = true;
      if (n <= this.opts.rareThreshold) rare = true;
      // entries whose rarest feature this was (count n - 1) may have a new rarest count
      if (rec.holders) for (const e of rec.holders) if (e.rarest === n - 1) e.rarest = this.rarestOf(e.features);
    }
    if (!this.opts.unguided && (fresh || rare)) {
      // keep only the rare part as the entry's identity (cheap weights)
      const mine = counts.filter((f) => f.n <= this.opts.rareThreshold * 4);
      const own = mine.length ? mine : counts;
      const entry: PoolEntry = { c, features: own, picks: 0, cost: CaseBuilder.fromCase(c, undefined, this.geometry).cost, rarest: this.rarestOf(own) };
      this.pool.push(entry);
      for (const f of own) (f.holders ??= new Set()).add(entry);
      if (this.pool.length > this.opts.poolSize) {
        // evict the entry with the lowest weight (earliest on ties: deterministic)
        let worst = 0;
        let ww = Infinity;
        this.pool.forEach((e, i) => { const w = this.weight(e); if (w < ww) { ww = w; worst = i; } });
        const [gone] = this.pool.splice(worst, 1);
        for (const f of gone!.features) {
          f.holders!.delete(gone!);
          if (!f.holders!.size) f.holders = undefined;
        }
      }
    }
    return fresh;
  }
}
