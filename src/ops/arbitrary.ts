// fast-check arbitraries of VALID cases, valid by construction: the generator draws abstract
// choices (an op kind plus a handful of numbers) and a deterministic builder interprets them
// against the same plan the validator keeps (live processes, live regions, arena slots), so every
// op names a region and process that exist at that point, ranges stay inside regions and the
// limits hold. Shrinking works on the abstract choices, so shrunk cases stay valid too.
import fc from 'fast-check';
import { FEATURES, KINDS, OP_NAMES, type Case, type Feature, type Kind, type Op, type OpName } from './schema.ts';
import { DEFAULT_LIMITS, HPAGE_PAGES, SLOT_PAGES, slotStartPage, type Limits } from './layout.ts';

export interface CaseArbOptions {
  /** most ops per case (default 24, capped by limits.maxOps) */
  maxOps?: number;
  /** most pages per region (default: limits.maxPagesPerRegion) */
  maxPages?: number;
  /** 'random' (default): no uffd, `{}`, or any feature list; 'none': never a uffd object;
   *  a list: exactly `{ features: list }` */
  features?: 'random' | 'none' | Feature[];
  /** relative weight of each op kind (default 1 each, mmap 2); 0 disables a kind */
  weights?: Partial<Record<OpName, number>>;
  limits?: Limits;
}

/** One abstract choice: which op to try and the raw numbers the builder maps onto it. */
interface Choice {
  op: OpName;
  proc: number;
  region: number;
  a: number;
  b: number;
  c: number;
  flags: number;
}

const REGION_NAMES = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'x.1', '_r-2', 'Long_name.with-ALL_0123456789abc'];
const PROTS = ['none', 'r', 'rw'] as const;

interface PlanRegion { start: number; pages: number; unmapped: Uint8Array }
interface PlanProc { alive: boolean; regions: Map<string, PlanRegion> }

const live = (r: PlanRegion) => r.unmapped.some((u) => u === 0);
const bit = (flags: number, i: number) => ((flags >>> i) & 1) === 1;

/** The builder: the validator's plan, advanced op by op. Each `build` call either appends one valid
 *  op or nothing (when the choice does not fit the current state). */
class Builder {
  readonly ops: Op[] = [];
  private readonly procs: PlanProc[] = [{ alive: true, regions: new Map() }];
  private slot = 0;

  constructor(private readonly limits: Limits, private readonly maxPages: number, private readonly uffd: boolean) {}

  private alive(): number[] {
    return this.procs.flatMap((p, i) => (p.alive ? [i] : []));
  }

  private pagesFor(x: number): number {
    const max = this.maxPages;
    const menu = [1, 2, 3, 4, 8, 16, 5, 7, 32, 64, 512, 1024, 513, 600];
    const pick = x % 4 === 3 ? menu[(x >>> 2) % menu.length] : 1 + ((x >>> 2) % Math.min(8, max));
    return Math.max(1, Math.min(max, pick));
  }

  private liveRegions(p: PlanProc): [string, PlanRegion][] {
    return [...p.regions].filter(([n, r]) => live(r) && !n.startsWith('('));
  }

  private overlaps(p: PlanProc, start: number, pages: number, except?: string): boolean {
    for (const [n, r] of p.regions) {
      if (n === except || !live(r)) continue;
      if (start < r.start + r.pages && r.start < start + pages) return true;
    }
    return false;
  }

  /** first/count for a range in a region of `pages` pages, each field present or not */
  private range(pages: number, ch: Choice): { first?: number; count?: number } {
    const out: { first?: number; count?: number } = {};
    const first = ch.a % pages;
    const mode = ch.flags & 3;
    if (mode === 0) return out; // whole region, both defaults
    if (mode === 1 || first !== 0 || bit(ch.flags, 5)) out.first = first;
    if (mode !== 1) {
      const room = pages - (out.first ?? 0);
      // small counts are the interesting ones; sometimes run to exactly the end
      out.count = bit(ch.flags, 6) ? room : 1 + (ch.b % Math.min(room, 1 + (ch.b >>> 3) % 16));
    }
    return out;
  }

  build(ch: Choice): void {
    const alive = this.alive();
    if (!alive.length) return;
    const p = alive[ch.proc % alive.length];
    const proc = this.procs[p];
    const withProc = <T extends object>(o: T): T & { proc?: number } => (p !== 0 || bit(ch.flags, 7) ? { ...o, proc: p } : o);
    const regions = this.liveRegions(proc);
    const pickRegion = () => regions[ch.region % regions.length];
    const push = (op: Op) => { this.ops.push(op); };

    // the first op, and any op on a process without regions, becomes an mmap
    const kind: OpName = this.ops.length === 0 || (!regions.length && !['fork', 'exit', 'clear_refs', 'mmap'].includes(ch.op)) ? 'mmap' : ch.op;
    if (['uffd_register', 'uffd_unregister', 'wp'].includes(kind) && !this.uffd) return;

    switch (kind) {
      case 'mmap': {
        // a name that is free in this process (never used, or fully unmapped)
        const names = REGION_NAMES.filter((n) => { const r = proc.regions.get(n); return !r || !live(r); });
        const name = names[ch.region % Math.max(1, names.length)];
        if (!name) return;
        if (!proc.regions.has(name) && proc.regions.size >= this.limits.maxRegions) return;
        const thp = bit(ch.flags, 2) ? bit(ch.flags, 3) : undefined;
        let pages = this.pagesFor(ch.a);
        if (thp && bit(ch.flags, 4)) pages = Math.min(this.maxPages, HPAGE_PAGES * (1 + (ch.b % 2)));
        const op: Extract<Op, { op: 'mmap' }> = { op: 'mmap', region: name, pages, kind: KINDS[ch.c % KINDS.length] as Kind };
        if (thp !== undefined) op.thp = thp;
        let start: number;
        if (bit(ch.flags, 8) && regions.length) {
          const [an, ar] = pickRegion();
          start = ar.start + ar.pages;
          if (this.overlaps(proc, start, pages)) return;
          op.after = an;
        } else {
          start = slotStartPage(this.slot++);
        }
        proc.regions.set(name, { start, pages, unmapped: new Uint8Array(pages) });
        push(withProc(op));
        return;
      }
      case 'mremap': {
        const [name, r] = pickRegion();
        const op: Extract<Op, { op: 'mremap' }> = { op: 'mremap', region: name };
        const dontunmap = bit(ch.flags, 2) && bit(ch.flags, 3);
        let move: boolean | undefined = bit(ch.flags, 4) ? !bit(ch.flags, 5) : undefined;
        if (dontunmap && move === false) move = undefined;
        let pages = r.pages;
        if (!dontunmap && bit(ch.flags, 6)) pages = this.pagesFor(ch.a);
        if (pages !== r.pages || bit(ch.flags, 9)) op.pages = pages;
        if (move !== undefined) op.move = move;
        if (dontunmap) op.dontunmap = true;
        else if (bit(ch.flags, 10)) op.dontunmap = false;
        let oldName: string | undefined;
        if (dontunmap && bit(ch.flags, 11)) {
          const free = REGION_NAMES.filter((n) => { const o = proc.regions.get(n); return n !== name && (!o || !live(o)); });
          oldName = free[ch.c % Math.max(1, free.length)];
          if (oldName && !proc.regions.has(oldName) && proc.regions.size >= this.limits.maxRegions) oldName = undefined;
          if (oldName) op.old = oldName;
        }
        if (move ?? true) {
          const start = slotStartPage(this.slot++);
          // the range MREMAP_DONTUNMAP leaves behind stays occupied; unnamed, it is kept under a
          // name no case can use (as src/ops/validate.ts does), so it is never picked
          if (dontunmap) proc.regions.set(oldName ?? `(range left by ops[${this.ops.length}])`, { start: r.start, pages: r.pages, unmapped: r.unmapped.slice() });
          const unmapped = new Uint8Array(pages);
          unmapped.set(r.unmapped.subarray(0, Math.min(pages, r.pages)));
          proc.regions.set(name, { start, pages, unmapped });
        } else if (pages > r.pages && (this.overlaps(proc, r.start + r.pages, pages - r.pages, name) || pages > SLOT_PAGES)) {
          // grow in place blocked (ENOMEM): the region keeps its size
        } else {
          const unmapped = new Uint8Array(pages);
          unmapped.set(r.unmapped.subarray(0, Math.min(pages, r.pages)));
          r.pages = pages; r.unmapped = unmapped;
        }
        push(withProc(op));
        return;
      }
      case 'fork': {
        if (this.procs.length >= this.limits.maxProcs) return;
        const regs = new Map<string, PlanRegion>();
        for (const [n, r] of proc.regions) regs.set(n, { ...r, unmapped: r.unmapped.slice() });
        this.procs.push({ alive: true, regions: regs });
        push(withProc({ op: 'fork' }));
        return;
      }
      case 'exit': {
        // keep cases interesting: process 0 exits only rarely
        if (p === 0 && ch.a % 8 !== 0) return;
        proc.alive = false;
        push(withProc({ op: 'exit' }));
        return;
      }
      case 'clear_refs': {
        const op: Extract<Op, { op: 'clear_refs' }> = { op: 'clear_refs' };
        if (!bit(ch.flags, 2)) op.value = bit(ch.flags, 3) ? 4 : 1 + (ch.a % 5);
        push(withProc(op));
        return;
      }
      case 'split': {
        const [name, r] = pickRegion();
        push(withProc({ op: 'split', region: name, page: ch.a % r.pages }));
        return;
      }
      default: {
        const [name, r] = pickRegion();
        const rg = this.range(r.pages, ch);
        const base = { region: name, ...rg };
        let op: Op;
        switch (kind) {
          case 'mprotect': op = { op: 'mprotect', ...base, prot: PROTS[ch.c % 3] }; break;
          case 'wp': op = { op: 'wp', ...base, on: !bit(ch.flags, 2) }; break;
          case 'scan': {
            const s: Extract<Op, { op: 'scan' }> = { op: 'scan', ...base };
            if (bit(ch.flags, 2)) s.wp_matching = bit(ch.flags, 3);
            if (bit(ch.flags, 4)) s.max_pages = 1 + (ch.c % 64);
            op = s;
            break;
          }
          default: op = { op: kind, ...base } as Op;
        }
        if (kind === 'munmap') r.unmapped.fill(1, rg.first ?? 0, (rg.first ?? 0) + (rg.count ?? r.pages - (rg.first ?? 0)));
        push(withProc(op));
      }
    }
  }
}

function choiceArb(weights: Partial<Record<OpName, number>>): fc.Arbitrary<Choice> {
  const entries = OP_NAMES
    .map((op) => ({ op, weight: weights[op] ?? (op === 'mmap' ? 2 : op === 'exit' ? 0.3 : 1) }))
    .filter((e) => e.weight > 0);
  // fc.oneof wants integer weights
  const opArb = fc.oneof(...entries.map((e) => ({ arbitrary: fc.constant(e.op), weight: Math.max(1, Math.round(e.weight * 10)) })));
  const n = fc.nat({ max: 0xffff });
  return fc.record({ op: opArb, proc: n, region: n, a: n, b: n, c: n, flags: fc.nat({ max: 0xfff }) });
}

function uffdArb(features: CaseArbOptions['features']): fc.Arbitrary<Case['uffd']> {
  if (features === 'none') return fc.constant(undefined);
  if (Array.isArray(features)) return fc.constant({ features: [...features] });
  const sets: Feature[][] = [[], ['wp_async'], ['wp_unpopulated'], ['wp_async', 'event_fork'], ['event_fork'], ['event_remap'], ['wp_async', 'event_remap'], [...FEATURES]];
  return fc.oneof(
    { arbitrary: fc.constant(undefined), weight: 2 },
    { arbitrary: fc.constant({}), weight: 1 },
    { arbitrary: fc.constantFrom(...sets).map((f) => ({ features: [...f] })), weight: 4 },
    { arbitrary: fc.subarray([...FEATURES]).map((f) => ({ features: f })), weight: 3 },
  );
}

/** Valid cases (they pass validateCase with `opts.limits`, default limits). */
export function caseArb(opts: CaseArbOptions = {}): fc.Arbitrary<Case> {
  const limits = opts.limits ?? DEFAULT_LIMITS;
  const maxOps = Math.max(1, Math.min(opts.maxOps ?? 24, limits.maxOps));
  const maxPages = Math.max(1, Math.min(opts.maxPages ?? limits.maxPagesPerRegion, limits.maxPagesPerRegion));
  const nameArb = fc.option(fc.oneof(fc.string({ maxLength: 40 }), fc.constantFrom('wp survives swap-out', '', ' "quoted" # not a comment\nnext line')), { nil: undefined });
  return fc
    .record({
      name: nameArb,
      uffd: uffdArb(opts.features),
      choices: fc.array(choiceArb(opts.weights ?? {}), { minLength: 1, maxLength: maxOps, size: 'max' }),
    })
    .map(({ name, uffd, choices }) => {
      const b = new Builder(limits, maxPages, uffd !== undefined);
      for (const ch of choices) b.build(ch);
      const c: Case = { format: 'ptefarm-case/1', ops: b.ops };
      if (name !== undefined) c.name = name;
      if (uffd !== undefined) c.uffd = uffd;
      return c;
    });
}
