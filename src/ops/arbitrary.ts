// fast-check arbitraries of VALID cases, valid by construction: the generator draws abstract
// choices (an op kind plus a handful of numbers) and a deterministic builder interprets them
// against the validator's own plan (src/ops/plan.ts: live processes, live regions, arena slots), so every
// op names a region and process that exist at that point, ranges stay inside regions and the
// limits hold. Shrinking works on the abstract choices, so shrunk cases stay valid too.
import fc from 'fast-check';
import { FEATURES, KINDS, OP_NAMES, formatFor, type Case, type Feature, type Kind, type Op, type OpName } from './schema.ts';
import { SCAN_LETTERS } from './trace.ts';
import { DEFAULT_LIMITS, HPAGE_PAGES, type Limits } from './layout.ts';
import { CasePlan, isLive, type PlanRegion } from './plan.ts';

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

const bit = (flags: number, i: number) => ((flags >>> i) & 1) === 1;

/** The builder: a CasePlan (the validator's plan), advanced op by op. Each `build` call either
 *  appends one valid op or nothing (when the choice does not fit the current state). */
class Builder {
  readonly ops: Op[] = [];
  private readonly plan: CasePlan;
  /** region names some mmap gave a non-anon kind: no guard install there in a case with a
   *  userfaultfd (a uffd-wp marker makes MADV_GUARD_INSTALL retry forever, R-GRD-1) */
  private readonly nonAnon = new Set<string>();

  constructor(limits: Limits, private readonly maxPages: number, uffd: boolean) {
    this.plan = new CasePlan({ uffd, limits });
  }

  private pagesFor(x: number): number {
    const max = this.maxPages;
    const menu = [1, 2, 3, 4, 8, 16, 5, 7, 32, 64, 512, 1024, 513, 600];
    const pick = x % 4 === 3 ? menu[(x >>> 2) % menu.length] : 1 + ((x >>> 2) % Math.min(8, max));
    return Math.max(1, Math.min(max, pick));
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
    const plan = this.plan;
    const alive = plan.aliveProcs();
    if (!alive.length) return;
    const p = alive[ch.proc % alive.length];
    const withProc = <T extends object>(o: T): T & { proc?: number } => (p !== 0 || bit(ch.flags, 7) ? { ...o, proc: p } : o);
    const regions = plan.liveRegions(p);
    const pickRegion = (): [string, PlanRegion] => { const n = regions[ch.region % regions.length]; return [n, plan.regionOf(p, n)!]; };
    /** a name the process can give a new region (never used, or fully unmapped) */
    const free = (n: string) => { const r = plan.regionOf(p, n); return !r || !isLive(r); };
    // the plan checks the op and applies it; an op it rejects is not emitted
    const push = (op: Op) => { if (plan.step(op, this.ops.length).length === 0) this.ops.push(op); };

    // the first op, and any op on a process without regions, becomes an mmap
    const kind: OpName = this.ops.length === 0 || (!regions.length && !['fork', 'exit', 'clear_refs', 'mmap', 'close_uffd'].includes(ch.op)) ? 'mmap' : ch.op;
    if (['uffd_register', 'uffd_unregister', 'wp'].includes(kind) && !plan.uffd) return;

    switch (kind) {
      case 'mmap': {
        const names = REGION_NAMES.filter(free);
        const name = names[ch.region % Math.max(1, names.length)];
        if (!name) return;
        const thp = bit(ch.flags, 2) ? bit(ch.flags, 3) : undefined;
        let pages = this.pagesFor(ch.a);
        if (thp && bit(ch.flags, 4)) pages = Math.min(this.maxPages, HPAGE_PAGES * (1 + (ch.b % 2)));
        const op: Extract<Op, { op: 'mmap' }> = { op: 'mmap', region: name, pages, kind: KINDS[ch.c % KINDS.length] as Kind };
        if (thp !== undefined) op.thp = thp;
        // after a live region when that does not overlap anything (the plan says), else a fresh slot
        if (bit(ch.flags, 8) && regions.length) op.after = pickRegion()[0];
        if (op.kind !== 'anon') this.nonAnon.add(name);
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
        if (dontunmap && bit(ch.flags, 11)) {
          const names = REGION_NAMES.filter((n) => n !== name && free(n));
          const oldName = names[ch.c % Math.max(1, names.length)];
          // past the region limit the left range stays unnamed
          if (oldName && plan.roomForName(p, oldName)) op.old = oldName;
        }
        if (op.old !== undefined && this.nonAnon.has(name)) this.nonAnon.add(op.old);
        push(withProc(op));
        return;
      }
      case 'fork': {
        push(withProc({ op: 'fork' }));
        return;
      }
      case 'exit': {
        // keep cases interesting: process 0 exits only rarely
        if (p === 0 && ch.a % 8 !== 0) return;
        push(withProc({ op: 'exit' }));
        return;
      }
      case 'clear_refs': {
        const op: Extract<Op, { op: 'clear_refs' }> = { op: 'clear_refs' };
        if (!bit(ch.flags, 2)) op.value = bit(ch.flags, 3) ? 4 : 1 + (ch.a % 5);
        push(withProc(op));
        return;
      }
      case 'close_uffd': {
        // rarely: a closed context ends the case's userfaultfd work for that process
        if (ch.a % 3 !== 0) return;
        push(withProc({ op: 'close_uffd' }));
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
            if (bit(ch.flags, 9)) {
              // ptefarm-case/2: the rest of pm_scan_arg
              const cats = (x: number) => SCAN_LETTERS.filter((_, i) => (x >> i) & 1).join('');
              if (bit(ch.flags, 10)) s.no_vec = true;
              if (bit(ch.flags, 11)) s.check_wpasync = bit(ch.flags, 5);
              if (ch.b & 1) s.category_mask = cats(ch.b >> 1);
              if (ch.b & 0x400) s.category_inverted = cats(ch.a >> 3);
              if (ch.c & 1) s.category_anyof_mask = cats(ch.c >> 1);
              if (ch.c & 0x400) s.return_mask = cats(ch.a >> 7);
            }
            op = s;
            break;
          }
          case 'populate': {
            const s: Extract<Op, { op: 'populate' }> = { op: 'populate', ...base };
            if (bit(ch.flags, 2)) s.write = bit(ch.flags, 3);
            op = s;
            break;
          }
          case 'guard':
            if (plan.uffd && this.nonAnon.has(base.region)) return;
            op = { op: 'guard', ...base };
            break;
          default: op = { op: kind, ...base } as Op;
        }
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
      const c: Case = { format: formatFor(b.ops), ops: b.ops };
      if (name !== undefined) c.name = name;
      if (uffd !== undefined) c.uffd = uffd;
      return c;
    });
}
