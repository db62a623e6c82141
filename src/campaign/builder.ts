// A case under construction plus the structural state validate.ts would compute for it (which
// processes live, which regions each knows, their size, placement and unmapped pages). Generators
// only emit ops that are valid in this state, so every generated case is valid by construction;
// `fromCase` rebuilds the state of an existing case so mutations can extend it.
import type { Case, Feature, Kind, Op } from '../ops/schema.ts';
import { DEFAULT_LIMITS, SLOT_PAGES, slotStartPage, type Limits } from '../ops/layout.ts';

export interface RegionState {
  start: number;
  pages: number;
  unmapped: Uint8Array;
  kind: Kind;
  thp: boolean;
  /** heuristic only (generation bias): registered for uffd-wp in this process */
  registered: boolean;
  /** heuristic only: some page written */
  written: boolean;
  /** heuristic only: some page write-protected */
  wp: boolean;
}

export interface ProcState {
  alive: boolean;
  regions: Map<string, RegionState>;
  /** ranges MREMAP_DONTUNMAP left behind without a name: still mapped, so still occupied */
  left: { start: number; pages: number }[];
}

export function isLive(r: RegionState): boolean {
  for (let i = 0; i < r.unmapped.length; i++) if (r.unmapped[i] === 0) return true;
  return false;
}

const NAMES = 'abcdefghijklmnopqrstuvwxyz';

export class CaseBuilder {
  readonly ops: Op[] = [];
  readonly procs: ProcState[] = [{ alive: true, regions: new Map(), left: [] }];
  private slot = 0;
  private nameSeq = 0;
  /** sum over emitted ops of the pages observed after each: the model's cost is about linear in it */
  cost = 0;

  constructor(readonly uffd: { features?: Feature[] } | undefined, readonly limits: Limits = DEFAULT_LIMITS) {}

  static fromCase(c: Case, limits: Limits = DEFAULT_LIMITS): CaseBuilder {
    const b = new CaseBuilder(c.uffd ? { features: [...(c.uffd.features ?? [])] } : undefined, limits);
    for (const op of c.ops) b.emit(structuredClone(op));
    return b;
  }

  get hasUffd(): boolean { return this.uffd !== undefined; }
  feature(f: Feature): boolean { return this.uffd?.features?.includes(f) ?? false; }

  toCase(name?: string): Case {
    const c: Case = { format: 'ptefarm-case/1', ops: this.ops.map((o) => structuredClone(o)) };
    if (name) c.name = name;
    if (this.uffd) c.uffd = this.uffd.features && this.uffd.features.length ? { features: [...this.uffd.features] } : {};
    return c;
  }

  aliveProcs(): number[] {
    const out: number[] = [];
    this.procs.forEach((p, i) => { if (p.alive) out.push(i); });
    return out;
  }

  liveRegions(proc: number): string[] {
    const p = this.procs[proc];
    if (!p || !p.alive) return [];
    const out: string[] = [];
    for (const [n, r] of p.regions) if (isLive(r)) out.push(n);
    return out;
  }

  region(proc: number, name: string): RegionState | undefined {
    return this.procs[proc]?.regions.get(name);
  }

  /** a region name not known to any process (fresh names keep cases readable) */
  freshName(): string {
    for (;;) {
      const i = this.nameSeq++;
      const n = i < NAMES.length ? NAMES[i]! : `r${i}`;
      if (!this.procs.some((p) => p.regions.has(n))) return n;
    }
  }

  regionCount(proc: number): number { return this.procs[proc]?.regions.size ?? 0; }

  private overlaps(proc: ProcState, start: number, pages: number, except?: string): string | undefined {
    for (const [n, r] of proc.regions) {
      if (n === except || !isLive(r)) continue;
      if (start < r.start + r.pages && r.start < start + pages) return n;
    }
    for (const r of proc.left) if (start < r.start + r.pages && r.start < start + pages) return '(range left by dontunmap)';
    return undefined;
  }

  /** can `name` (pages) be placed right after `after` in `proc` without overlapping? */
  canPlaceAfter(proc: number, after: string, pages: number): boolean {
    const p = this.procs[proc];
    const a = p?.regions.get(after);
    if (!p || !a || !isLive(a)) return false;
    return this.overlaps(p, a.start + a.pages, pages) === undefined;
  }

  /** Apply `op` to the structural state and append it. The caller guarantees validity. */
  emit(op: Op): void {
    const pi = op.proc ?? 0;
    const p = this.procs[pi]!;
    switch (op.op) {
      case 'mmap': {
        let start: number;
        if (op.after !== undefined) {
          const a = p.regions.get(op.after)!;
          start = a.start + a.pages;
        } else start = slotStartPage(this.slot++);
        p.regions.set(op.region, {
          start, pages: op.pages, unmapped: new Uint8Array(op.pages), kind: op.kind, thp: op.thp ?? false,
          registered: false, written: false, wp: false,
        });
        break;
      }
      case 'mremap': {
        const r = p.regions.get(op.region)!;
        const pages = op.pages ?? r.pages;
        const move = op.move ?? true;
        if (move) {
          const start = slotStartPage(this.slot++);
          if (op.dontunmap && op.old !== undefined) {
            p.regions.set(op.old, { ...r, unmapped: r.unmapped.slice(), written: false, wp: false });
          } else if (op.dontunmap && isLive(r)) p.left.push({ start: r.start, pages: r.pages });
          const unmapped = new Uint8Array(pages);
          unmapped.set(r.unmapped.subarray(0, Math.min(pages, r.pages)));
          p.regions.set(op.region, { ...r, start, pages, unmapped });
        } else if (pages > r.pages && (this.overlaps(p, r.start + r.pages, pages - r.pages, op.region) || pages > SLOT_PAGES)) {
          // blocked grow in place: ENOMEM, unchanged
        } else {
          const unmapped = new Uint8Array(pages);
          unmapped.set(r.unmapped.subarray(0, Math.min(pages, r.pages)));
          r.pages = pages; r.unmapped = unmapped;
        }
        break;
      }
      case 'fork': {
        const regions = new Map<string, RegionState>();
        for (const [n, r] of p.regions) regions.set(n, { ...r, unmapped: r.unmapped.slice() });
        this.procs.push({ alive: true, regions, left: p.left.map((x) => ({ ...x })) });
        break;
      }
      case 'exit': p.alive = false; break;
      case 'munmap': {
        const r = p.regions.get(op.region)!;
        const first = op.first ?? 0;
        const count = op.count ?? r.pages - first;
        r.unmapped.fill(1, first, first + count);
        break;
      }
      case 'write': { const r = p.regions.get(op.region); if (r) r.written = true; break; }
      case 'uffd_register': { const r = p.regions.get(op.region); if (r) r.registered = true; break; }
      case 'uffd_unregister': { const r = p.regions.get(op.region); if (r && (op.first ?? 0) === 0 && op.count === undefined) { r.registered = false; r.wp = false; } break; }
      case 'wp': { const r = p.regions.get(op.region); if (r && op.on) r.wp = true; break; }
      default: break;
    }
    this.ops.push(op);
    this.cost += this.observedPages();
  }

  /** pages a target observes after each op (every live process, every region it knows) */
  observedPages(): number {
    let n = 0;
    for (const p of this.procs) if (p.alive) for (const r of p.regions.values()) n += r.pages;
    return n;
  }
}
