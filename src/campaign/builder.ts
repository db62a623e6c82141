// A case under construction plus its static plan (src/ops/plan.ts, the plan validate.ts steps:
// which processes live, which regions each knows, their size, placement and unmapped pages), with
// generation heuristics on each region. Generators only emit ops that are valid in this state, so
// every generated case is valid by construction; `fromCase` rebuilds the state of an existing case
// so mutations can extend it.
import { copyOp, formatFor, type Case, type Feature, type Kind, type Op } from '../ops/schema.ts';
import { DEFAULT_LIMITS, GEOMETRY_4K, limitsFor, type Limits, type PageGeometry } from '../ops/layout.ts';
import { CasePlan, nameable, type PlanProc, type PlanRegion, type RegionHooks } from '../ops/plan.ts';

export { isLive } from '../ops/plan.ts';

export interface RegionState extends PlanRegion {
  kind: Kind;
  thp: boolean;
  /** heuristic only (generation bias): registered for uffd-wp in this process */
  registered: boolean;
  /** registered for uffd-wp at some time in this process (or in the one it was forked from): only
   *  then can its page tables hold uffd-wp markers (a guard install there may never return, R-GRD-1) */
  everRegistered: boolean;
  /** heuristic only: some page written */
  written: boolean;
  /** heuristic only: some page write-protected */
  wp: boolean;
}

/** a process of the plan (ranges MREMAP_DONTUNMAP left without a name are kept under unnamable keys) */
export type ProcState = PlanProc<RegionState>;

// Each region is one object literal of one shape, field by field (the plan's `hugetlb` added after,
// as the plan adds it to every hugetlb region): an object spread here cost a tenth of the
// generator's time (generation makes a region per mmap, and copies every region at each fork).
const HOOKS: RegionHooks<RegionState> = {
  created: (op, place) => region(place, op.kind, op.thp ?? false, false, false, false, false, place.hugetlb),
  // the range dontunmap leaves behind is empty: nothing written or write-protected there
  copied: (r, place, why) => (why === 'remnant'
    ? region(place, r.kind, r.thp, r.registered, r.everRegistered, false, false, r.hugetlb || place.hugetlb)
    : region(place, r.kind, r.thp, r.registered, r.everRegistered, r.written, r.wp, r.hugetlb || place.hugetlb)),
};

function region(place: PlanRegion, kind: Kind, thp: boolean, registered: boolean, everRegistered: boolean, written: boolean, wp: boolean, hugetlb: boolean | undefined): RegionState {
  const r: RegionState = { start: place.start, pages: place.pages, unmapped: place.unmapped, kind, thp, registered, everRegistered, written, wp };
  if (hugetlb) r.hugetlb = true;
  return r;
}

const NAMES = 'abcdefghijklmnopqrstuvwxyz';

export class CaseBuilder {
  readonly ops: Op[] = [];
  readonly plan: CasePlan<RegionState>;
  private nameSeq = 0;
  /** sum over emitted ops of the pages observed after each: the model's cost is about linear in it */
  cost = 0;
  /** some emitted guard op covers a non-anon region that was ever registered for uffd-wp: the
   *  install may never return (R-GRD-1). The generators never emit one (OpGen.guard); a mutation of
   *  a pool case can make one (a register inserted before a guard), and mutateCase rejects it */
  hangingGuard = false;

  /** `geometry`: the target's pages (the generators size THP regions in its PMDs); the limits
   *  default to that geometry's (src/ops/layout.ts limitsFor) */
  constructor(readonly uffd: { features?: Feature[] } | undefined, readonly limits: Limits = DEFAULT_LIMITS, readonly geometry: PageGeometry = GEOMETRY_4K) {
    this.plan = new CasePlan({ uffd: uffd !== undefined, limits, hooks: HOOKS, geometry });
  }

  static fromCase(c: Case, limits?: Limits, geometry: PageGeometry = GEOMETRY_4K): CaseBuilder {
    const b = new CaseBuilder(c.uffd ? { features: [...(c.uffd.features ?? [])] } : undefined, limits ?? limitsFor(geometry), geometry);
    for (const op of c.ops) b.emit(copyOp(op));
    return b;
  }

  get procs(): readonly ProcState[] { return this.plan.procs; }
  get hasUffd(): boolean { return this.uffd !== undefined; }
  feature(f: Feature): boolean { return this.uffd?.features?.includes(f) ?? false; }

  toCase(name?: string): Case {
    const c: Case = { format: formatFor(this.ops), ops: this.ops.map(copyOp) };
    if (name) c.name = name;
    if (this.uffd) c.uffd = this.uffd.features && this.uffd.features.length ? { features: [...this.uffd.features] } : {};
    return c;
  }

  aliveProcs(): number[] { return this.plan.aliveProcs(); }

  liveRegions(proc: number): string[] { return this.plan.liveRegions(proc); }

  region(proc: number, name: string): RegionState | undefined { return this.plan.regionOf(proc, name); }

  /** a region name not known to any process (fresh names keep cases readable) */
  freshName(): string {
    for (;;) {
      const i = this.nameSeq++;
      const n = i < NAMES.length ? NAMES[i]! : `r${i}`;
      if (!this.plan.procs.some((p) => p.regions.has(n))) return n;
    }
  }

  /** region names the region limit counts: per case, whatever the process (the executor gives every
   *  name of the case a region id) */
  regionCount(_proc: number): number { return this.plan.nameCount(); }

  /** can `name` (pages) be placed right after `after` in `proc` without overlapping? */
  canPlaceAfter(proc: number, after: string, pages: number): boolean {
    return this.plan.canPlaceAfter(proc, after, pages);
  }

  /** Apply `op` to the plan and append it. The caller guarantees validity: an op the plan rejects
   *  throws (and changes nothing). */
  emit(op: Op): void {
    const problems = this.plan.step(op, this.ops.length);
    if (problems.length) throw new Error(`CaseBuilder: invalid op: ${problems.join('; ')}`);
    const r = 'region' in op ? this.plan.regionOf(op.proc ?? 0, op.region) : undefined;
    switch (op.op) {
      case 'write': if (r) r.written = true; break;
      case 'uffd_register':
        if (r) r.registered = true;
        // the registration acts on the mm of the process's context, which for a child without
        // EVENT_FORK is its parent's (fs/userfaultfd.c: the inherited descriptor keeps ctx->mm):
        // every process's region of that name counts as registered once, conservatively (a guard
        // install over a non-anon page with a uffd-wp marker never returns, R-GRD-1; live: p1's
        // register of a, then p0's guard of a[0] in a memfd-private region hung)
        for (const q of this.plan.procs) { const x = q.regions.get(op.region); if (x) x.everRegistered = true; }
        break;
      case 'uffd_unregister': if (r && (op.first ?? 0) === 0 && op.count === undefined) { r.registered = false; r.wp = false; } break;
      case 'wp': if (r && op.on) r.wp = true; break;
      case 'guard': if (r && r.kind !== 'anon' && r.everRegistered) this.hangingGuard = true; break;
      default: break;
    }
    this.ops.push(op);
    this.cost += this.observedPages();
  }

  /** pages a target observes after each op (every live process, every region it can name) */
  observedPages(): number {
    let n = 0;
    for (const p of this.plan.procs) if (p.alive) for (const [name, r] of p.regions) if (nameable(name)) n += r.pages;
    return n;
  }
}
