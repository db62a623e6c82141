// The static plan of a case: which processes live, which regions each knows, where each region sits
// in the arena (src/ops/layout.ts) and which of its pages are unmapped, advanced op by op. This is
// the one implementation of the case format's structural rules; the validator
// (src/ops/validate.ts), both generators (src/ops/arbitrary.ts, src/campaign/builder.ts) and the
// executor encoding (src/targets/live.ts) all step a CasePlan. The plan follows the case, not the
// kernel: every mmap without `after` and every moving mremap takes the next slot whatever the
// syscall returns. (The model, src/model, follows rc with its own VMA state on purpose.)
import { isHugetlbKind, type Op } from './schema.ts';
import { arenaOf, DEFAULT_LIMITS, GEOMETRY_4K, hugetlbSlotStartPage, slotStartPage, type Limits, type PageGeometry } from './layout.ts';

/** Where a region is and which of its pages are unmapped (1 = unmapped); `hugetlb`: a region of a
 *  hugetlb kind (ptefarm-case/3), placed in the hugetlb arena and sized in whole huge pages. */
export interface PlanRegion { start: number; pages: number; unmapped: Uint8Array; hugetlb?: boolean }
export interface PlanProc<R extends PlanRegion = PlanRegion> { alive: boolean; regions: Map<string, R> }

type MmapOp = Extract<Op, { op: 'mmap' }>;

/** How a plan whose regions carry more than placement (a generator's heuristics) makes them. Each
 *  hook gets the placement the plan decided (`place`, a fresh object) and returns the region. */
export interface RegionHooks<R extends PlanRegion> {
  /** the region an mmap creates */
  created(op: MmapOp, place: PlanRegion): R;
  /** a copy of `r`: into a forked child, at its new place after a moving mremap, or as the range
   *  MREMAP_DONTUNMAP leaves behind (named by `old`, or kept under an unnamable key) */
  copied(r: R, place: PlanRegion, why: 'fork' | 'move' | 'remnant'): R;
}

const PLAIN: RegionHooks<PlanRegion> = { created: (_op, place) => place, copied: (_r, place) => place };

export interface PlanOptions<R extends PlanRegion> {
  /** the case has a top-level `uffd` object (uffd ops are problems without one) */
  uffd: boolean;
  limits?: Limits;
  hooks?: RegionHooks<R>;
  /** the target's page geometry: where arena slots start and how large they are (default 4 KiB) */
  geometry?: PageGeometry;
}

/** Limits that never bind: for planning cases that were validated elsewhere (perhaps with larger limits). */
export const NO_LIMITS: Limits = { maxRegions: Infinity, maxPagesPerRegion: Infinity, maxProcs: Infinity, maxOps: Infinity };

const UFFD_OPS: ReadonlySet<Op['op']> = new Set(['uffd_register', 'uffd_unregister', 'wp', 'close_uffd']);

/** Can a case name this region? (ranges MREMAP_DONTUNMAP leaves without `old` are kept under
 *  `(range left by ops[i])`, which no case can use) */
export function nameable(name: string): boolean {
  return !name.startsWith('(');
}

/** some page of the region is still mapped */
export function isLive(r: PlanRegion): boolean {
  for (let i = 0; i < r.unmapped.length; i++) if (r.unmapped[i] === 0) return true;
  return false;
}

function resized(r: PlanRegion, pages: number): Uint8Array {
  const unmapped = new Uint8Array(pages);
  unmapped.set(r.unmapped.subarray(0, Math.min(pages, r.pages)));
  return unmapped;
}

export class CasePlan<R extends PlanRegion = PlanRegion> {
  readonly procs: PlanProc<R>[] = [{ alive: true, regions: new Map() }];
  /** every name the case gave a region (mmap `region`, mremap `old`), in any process: the executor
   *  gives each one a region id, so the region limit counts these per case */
  private readonly names = new Set<string>();
  /** next free arena slot */
  slot = 0;
  /** next free hugetlb arena slot (one PUD each: src/ops/layout.ts hugetlbSlotStartPage) */
  hslot = 0;
  readonly limits: Limits;
  readonly uffd: boolean;
  readonly geometry: PageGeometry;
  private readonly hooks: RegionHooks<R>;

  constructor(opts: PlanOptions<R>) {
    this.uffd = opts.uffd;
    this.geometry = opts.geometry ?? GEOMETRY_4K;
    this.limits = opts.limits ?? DEFAULT_LIMITS;
    this.hooks = opts.hooks ?? (PLAIN as unknown as RegionHooks<R>);
  }

  /** processes that exist and have not exited, in order */
  aliveProcs(): number[] {
    const out: number[] = [];
    this.procs.forEach((p, i) => { if (p.alive) out.push(i); });
    return out;
  }

  /** the region `name` of process `proc` (live or fully unmapped), or undefined */
  regionOf(proc: number, name: string): R | undefined {
    return this.procs[proc]?.regions.get(name);
  }

  /** names of the live regions a case can name in a live process, in creation order */
  liveRegions(proc: number): string[] {
    const p = this.procs[proc];
    if (!p || !p.alive) return [];
    const out: string[] = [];
    for (const [n, r] of p.regions) if (nameable(n) && isLive(r)) out.push(n);
    return out;
  }

  /** regions the case can name in `proc`, fully unmapped ones included (what the region limit counts) */
  namedCount(proc: number): number {
    const p = this.procs[proc];
    if (!p) return 0;
    let n = 0;
    for (const k of p.regions.keys()) if (nameable(k)) n++;
    return n;
  }

  /** region names the case has given so far, in all processes (what the region limit counts) */
  nameCount(): number {
    return this.names.size;
  }

  /** may `name` be given to a new region (of any process) without passing the region limit? (a
   *  name the case already used is re-used, not counted again) */
  roomForName(_proc: number, name: string): boolean {
    return this.names.has(name) || this.names.size < this.limits.maxRegions;
  }

  private tooManyNames(i: number, field: string, name: string): string[] {
    return this.roomForName(0, name) ? [] : [`ops[${i}].${field}: more than ${this.limits.maxRegions} region names in the case (\`old\` names included)`];
  }

  /** the first live region of `proc` (other than `except`) that pages start..start+pages-1 overlap */
  overlaps(proc: number, start: number, pages: number, except?: string): string | undefined {
    const p = this.procs[proc];
    if (!p) return undefined;
    for (const [n, r] of p.regions) {
      if (n === except || !isLive(r)) continue;
      if (start < r.start + r.pages && r.start < start + pages) return n;
    }
    return undefined;
  }

  /** can a region of `pages` pages be placed right after live region `after` of `proc`? */
  canPlaceAfter(proc: number, after: string, pages: number): boolean {
    const a = this.regionOf(proc, after);
    if (!a || !isLive(a) || !this.procs[proc]!.alive) return false;
    return this.overlaps(proc, a.start + a.pages, pages) === undefined;
  }

  /** does growing `name` in place to `pages` pages fail (ENOMEM: something mapped right after it,
   *  or past its slot)? The region then keeps its size. */
  growBlocked(proc: number, name: string, pages: number): boolean {
    const r = this.regionOf(proc, name);
    if (!r || pages <= r.pages) return false;
    return this.overlaps(proc, r.start + r.pages, pages - r.pages, name) !== undefined || pages > arenaOf(this.geometry).slotPages;
  }

  /** the live region `name` of process `p` for op `i`, or undefined with the problem added */
  private liveRegion(proc: PlanProc<R>, p: number, name: string, i: number, problems: string[]): R | undefined {
    const r = proc.regions.get(name);
    if (!r) { problems.push(`ops[${i}].region: region "${name}" does not exist in process ${p}`); return undefined; }
    if (!isLive(r)) { problems.push(`ops[${i}].region: region "${name}" is fully unmapped in process ${p}`); return undefined; }
    return r;
  }

  /** op `i`'s page range of region `r` as [first, count], or undefined with the problem added */
  private pageRange(r: R, first: number, count: number | undefined, i: number, problems: string[]): readonly [number, number] | undefined {
    if (first >= r.pages) { problems.push(`ops[${i}].first: page ${first} is outside region (${r.pages} pages)`); return undefined; }
    const n = count ?? r.pages - first;
    if (first + n > r.pages) { problems.push(`ops[${i}].count: pages ${first}..${first + n - 1} run past the region's end (${r.pages} pages)`); return undefined; }
    return [first, n] as const;
  }

  /** Check op `i` (`ops[i]`) against the plan: the problems, each `ops[i].field: message`. When there
   *  are none the op is applied; otherwise the plan is unchanged. */
  step(op: Op, i: number): string[] {
    // `ops[i]` is spelled out only in a problem (most steps have none), and the region and range
    // checks are methods, not closures made per step: the model steps a plan alongside every op
    // of a case with an in-place mremap (src/model/model.ts)
    const p = op.proc ?? 0;
    const proc = this.procs[p];
    if (!proc) return [`ops[${i}].proc: process ${p} does not exist (processes so far: 0..${this.procs.length - 1})`];
    if (!proc.alive) return [`ops[${i}].proc: process ${p} has exited`];
    if (UFFD_OPS.has(op.op) && !this.uffd) return [`ops[${i}].op: ${op.op} needs a top-level "uffd" object (the case opens no userfaultfd)`];
    const limits = this.limits;
    const problems: string[] = [];
    switch (op.op) {
      case 'mmap': {
        if (op.pages > limits.maxPagesPerRegion) return [`ops[${i}].pages: ${op.pages} exceeds the limit of ${limits.maxPagesPerRegion} pages per region`];
        const old = proc.regions.get(op.region);
        if (old && isLive(old)) return [`ops[${i}].region: region "${op.region}" already exists in process ${p} (only a fully unmapped name may be reused)`];
        const full = this.tooManyNames(i, 'region', op.region);
        if (full.length) return full;
        const huge = isHugetlbKind(op.kind);
        if (huge) {
          // a hugetlb VMA is sized in whole huge pages (hugetlbfs_file_mmap: EINVAL otherwise) and
          // never merges (VM_DONTEXPAND is VM_SPECIAL); ptefarm gives each its own PUD (layout.ts)
          const hp = this.geometry.pmdPages;
          if (op.pages % hp !== 0) return [`ops[${i}].pages: a ${op.kind} region is sized in whole huge pages (multiples of ${hp} pages)`];
          if (op.thp !== undefined) return [`ops[${i}].thp: not meaningful for a ${op.kind} region`];
          if (op.after !== undefined) return [`ops[${i}].after: a ${op.kind} region is placed in its own slot (hugetlb VMAs never merge)`];
        }
        let start: number;
        if (op.after !== undefined) {
          const a = this.liveRegion(proc, p, op.after, i, problems);
          if (!a) return problems;
          if (a.hugetlb) return [`ops[${i}].after: nothing is placed after hugetlb region "${op.after}"`];
          start = a.start + a.pages;
          const o = this.overlaps(p, start, op.pages);
          if (o) return [`ops[${i}].after: placing "${op.region}" after "${op.after}" would overlap region "${o}"`];
        } else {
          start = huge ? hugetlbSlotStartPage(this.hslot++, this.geometry) : slotStartPage(this.slot++, this.geometry);
        }
        const place: PlanRegion = { start, pages: op.pages, unmapped: new Uint8Array(op.pages) };
        if (huge) place.hugetlb = true;
        const made = this.hooks.created(op, place);
        if (huge) made.hugetlb = true;
        proc.regions.set(op.region, made);
        this.names.add(op.region);
        return problems;
      }
      case 'mremap': {
        const r = this.liveRegion(proc, p, op.region, i, problems);
        if (!r) return problems;
        if (r.hugetlb) return [`ops[${i}].op: mremap of hugetlb region "${op.region}" is not supported by the case format`];
        const pages = op.pages ?? r.pages;
        if (pages > limits.maxPagesPerRegion) return [`ops[${i}].pages: ${pages} exceeds the limit of ${limits.maxPagesPerRegion} pages per region`];
        const move = op.move ?? true;
        if (op.dontunmap && !move) return [`ops[${i}].dontunmap: needs move (MREMAP_DONTUNMAP implies MREMAP_MAYMOVE)`];
        if (op.dontunmap && pages !== r.pages) return [`ops[${i}].pages: with dontunmap the size cannot change (${r.pages} pages)`];
        if (op.old !== undefined) {
          if (!op.dontunmap) return [`ops[${i}].old: only meaningful with dontunmap`];
          const o = proc.regions.get(op.old);
          if (o && isLive(o) && op.old !== op.region) return [`ops[${i}].old: region "${op.old}" already exists`];
          const full = this.tooManyNames(i, 'old', op.old);
          if (full.length) return full;
          if (op.old === op.region) return [`ops[${i}].old: must differ from region`];
        }
        if (move) {
          const start = slotStartPage(this.slot++, this.geometry);
          // MREMAP_DONTUNMAP leaves the old range mapped: named by `old`, or kept under a name no
          // case can use, so later placements still see it as occupied
          if (op.dontunmap) {
            const left = this.hooks.copied(r, { start: r.start, pages: r.pages, unmapped: r.unmapped.slice() }, 'remnant');
            proc.regions.set(op.old ?? `(range left by ops[${i}])`, left);
            if (op.old !== undefined) this.names.add(op.old);
          }
          proc.regions.set(op.region, this.hooks.copied(r, { start, pages, unmapped: resized(r, pages) }, 'move'));
        } else if (this.growBlocked(p, op.region, pages)) {
          // grow in place is blocked: the kernel answers ENOMEM and the region keeps its size
        } else {
          r.unmapped = resized(r, pages);
          r.pages = pages;
        }
        return problems;
      }
      case 'fork': {
        if (this.procs.length >= limits.maxProcs) return [`ops[${i}].op: fork would exceed the limit of ${limits.maxProcs} processes`];
        const regions = new Map<string, R>();
        for (const [n, r] of proc.regions) {
          const c = this.hooks.copied(r, { start: r.start, pages: r.pages, unmapped: r.unmapped.slice() }, 'fork');
          if (r.hugetlb) c.hugetlb = true;
          regions.set(n, c);
        }
        this.procs.push({ alive: true, regions });
        return problems;
      }
      case 'exit': proc.alive = false; return problems;
      case 'clear_refs': return problems;
      case 'close_uffd': return problems;
      case 'split': {
        const r = this.liveRegion(proc, p, op.region, i, problems);
        if (r?.hugetlb) return [`ops[${i}].op: split of hugetlb region "${op.region}" is not supported (a hugetlb page is never split)`];
        if (r && op.page >= r.pages) problems.push(`ops[${i}].page: page ${op.page} is outside region "${op.region}" (${r.pages} pages)`);
        return problems;
      }
      default: {
        const r = this.liveRegion(proc, p, op.region, i, problems);
        if (!r) return problems;
        const rg = this.pageRange(r, op.first ?? 0, op.count, i, problems);
        // munmap of part of a hugetlb page fails (EINVAL: hugetlb_vm_op_split); the range stays mapped
        const hp = this.geometry.pmdPages;
        if (rg && op.op === 'munmap' && (!r.hugetlb || (rg[0] % hp === 0 && (rg[0] + rg[1]) % hp === 0))) r.unmapped.fill(1, rg[0], rg[0] + rg[1]);
        return problems;
      }
    }
  }
}
