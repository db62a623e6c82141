// Minimization of a failing case to a 1-minimal one: removing any single op, dropping any forked
// process (its fork and all its ops) or hoisting it into its parent (its ops run by the parent,
// no fork), narrowing any page range or region size by one page at either end, moving all page
// references of one region one page down, or dropping a uffd feature, makes it pass (or makes the case invalid). "Still fails" means:
// valid, and its violation signatures intersect the target set (by default the original's).
//
// Why a deterministic ddmin rather than fast-check's shrinker: the cases we minimize come from the
// guided generator and the corpus, not from a fast-check arbitrary, so there is no shrink tree to
// reuse; and we want a stable answer (same input ⇒ same reproducer) and a hard guarantee of
// 1-minimality, which the final exhaustive pass over single-step reductions gives. Candidates are
// identified by canonical JSON so none is executed twice. Batches of candidates may run in parallel;
// the first failing candidate *in order* wins, so parallelism never changes the result.
import type { Case, Op } from '../ops/schema.ts';
import type { Limits } from '../ops/layout.ts';
import { validateCase } from '../ops/validate.ts';
import { CaseBuilder } from './builder.ts';
import { NO_LIMITS } from '../ops/plan.ts';
import { canonicalJson } from '../ops/canon.ts';

/** signatures of the violations the case produced; [] = passes; undefined = could not run (fault) */
export type SigTest = (c: Case) => Promise<string[] | undefined>;

export interface MinimizeOptions {
  test: SigTest;
  /** signatures that must still appear (any one of them); default: the original's */
  target?: Iterable<string>;
  /** candidates evaluated concurrently (default 1) */
  parallel?: number;
  signal?: AbortSignal;
  /** stop after this many executions (default 5000); the best so far is returned */
  maxRuns?: number;
  /** the limits candidates must keep (default DEFAULT_LIMITS; a 16 KiB target's: limitsFor) */
  limits?: Limits;
}

export interface MinimizeResult {
  case: Case;
  /** signatures of the final case intersected with the target */
  signatures: string[];
  runs: number;
  cacheHits: number;
  /** true when the final exhaustive pass completed (the case is 1-minimal) */
  oneMinimal: boolean;
  aborted: boolean;
}

function withOps(c: Case, ops: Op[]): Case {
  return { ...c, ops };
}

/** Drop process `k` (k > 0): its creating fork, its ops, its descendants; renumber later procs. */
export function dropProc(c: Case, k: number): Case | undefined {
  // find the fork op that created each process
  let next = 1;
  const parent: number[] = [-1];
  const forkIndex: number[] = [-1];
  c.ops.forEach((op, i) => {
    if (op.op === 'fork') { parent[next] = op.proc ?? 0; forkIndex[next] = i; next++; }
  });
  if (k <= 0 || k >= next) return undefined;
  const dropped = new Set<number>([k]);
  for (let p = k + 1; p < next; p++) if (dropped.has(parent[p]!)) dropped.add(p);
  const renum = new Map<number, number>();
  let n = 0;
  for (let p = 0; p < next; p++) if (!dropped.has(p)) renum.set(p, n++);
  const ops: Op[] = [];
  c.ops.forEach((op, i) => {
    const p = op.proc ?? 0;
    if (dropped.has(p)) return;
    if (op.op === 'fork' && [...dropped].some((d) => forkIndex[d] === i)) return;
    const o = structuredClone(op);
    const q = renum.get(p)!;
    if (q === 0) delete o.proc; else o.proc = q;
    ops.push(o);
  });
  return withOps(c, ops);
}

/** Hoist process `k` (k > 0) into its parent: remove the fork that created it, run its ops (and
 *  its children's forks) in the parent instead; renumber later processes. */
export function hoistProc(c: Case, k: number): Case | undefined {
  let next = 1;
  const parent: number[] = [-1];
  const forkIndex: number[] = [-1];
  c.ops.forEach((op, i) => {
    if (op.op === 'fork') { parent[next] = op.proc ?? 0; forkIndex[next] = i; next++; }
  });
  if (k <= 0 || k >= next) return undefined;
  const renum = (p: number) => (p === k ? parent[k]! : p > k ? p - 1 : p);
  const ops: Op[] = [];
  c.ops.forEach((op, i) => {
    if (i === forkIndex[k]) return;
    if (op.op === 'exit' && (op.proc ?? 0) === k) return;
    const o = structuredClone(op);
    const q = renum(op.proc ?? 0);
    if (q === 0) delete o.proc; else o.proc = q;
    ops.push(o);
  });
  return withOps(c, ops);
}

function numProcs(c: Case): number {
  return 1 + c.ops.filter((o) => o.op === 'fork').length;
}

/** Every single-step reduction of `c`, in a fixed order (cheapest/most reducing first). */
export function reductions(c: Case): Case[] {
  const out: Case[] = [];
  // drop whole processes (newest first)
  for (let k = numProcs(c) - 1; k >= 1; k--) { const d = dropProc(c, k); if (d) out.push(d); }
  for (let k = numProcs(c) - 1; k >= 1; k--) { const d = hoistProc(c, k); if (d) out.push(d); }
  // remove single ops (from the end: later ops depend on earlier ones, not the reverse)
  for (let i = c.ops.length - 1; i >= 0; i--) if (c.ops.length > 1) out.push(withOps(c, c.ops.filter((_, j) => j !== i)));
  // drop uffd features / the uffd object
  if (c.uffd) {
    for (const f of c.uffd.features ?? []) out.push({ ...c, uffd: { features: (c.uffd.features ?? []).filter((x) => x !== f) } });
    if (!c.ops.some((o) => o.op === 'wp' || o.op === 'uffd_register' || o.op === 'uffd_unregister')) {
      const { uffd: _u, ...rest } = c;
      out.push(rest as Case);
    }
  }
  // narrow ranges and region sizes by one page at either end
  out.push(...narrowings(c, false));
  // move every page reference of one region one page down (lets the region itself shrink next)
  out.push(...shifts(c));
  return out;
}

/** For each region name: all explicit page references (first, split page) to it moved down by one,
 *  when every one of them is >= 1. Strictly decreases the sum of page offsets, so it terminates. */
export function shifts(c: Case): Case[] {
  const names = new Set<string>();
  for (const op of c.ops) if ('region' in op) names.add(op.region);
  const out: Case[] = [];
  for (const name of names) {
    let ok = true;
    let changed = false;
    const ops = c.ops.map((op) => {
      if (!('region' in op) || op.region !== name) return op;
      if (op.op === 'split') { if (op.page < 1) ok = false; else changed = true; return { ...op, page: op.page - 1 }; }
      if (RANGED.has(op.op)) {
        const o = op as Op & { first?: number; count?: number };
        if (o.first === undefined || o.first === 0) { if (o.count !== undefined) ok = false; return op; }
        changed = true;
        const x = { ...o, first: o.first - 1 } as Op & { first?: number };
        if (x.first === 0) delete x.first;
        return x as Op;
      }
      return op;
    });
    if (ok && changed) out.push(withOps(c, ops));
  }
  return out;
}

const RANGED = new Set(['munmap', 'mprotect', 'read', 'write', 'pageout', 'dontneed', 'collapse', 'uffd_register', 'uffd_unregister', 'wp', 'scan', 'populate', 'guard', 'unguard']);

/** Range/size narrowings of every op. `big` adds larger jumps (to a single page, halves). */
export function narrowings(c: Case, big: boolean): Case[] {
  const out: Case[] = [];
  let b: CaseBuilder;
  // no limits: the regions of a case valid on a larger page size too (candidates are validated later)
  try { b = new CaseBuilder(c.uffd, NO_LIMITS); } catch { return out; }
  c.ops.forEach((op, i) => {
    const replace = (o: Op) => { const ops = c.ops.slice(); ops[i] = o; out.push(withOps(c, ops)); };
    if (RANGED.has(op.op)) {
      const r = b.region(op.proc ?? 0, (op as { region: string }).region);
      if (r) {
        const o = op as Op & { first?: number; count?: number };
        const f = o.first ?? 0;
        const n = o.count ?? r.pages - f;
        const ranges: Array<[number, number]> = [];
        if (big && n > 2) ranges.push([f, 1], [f + n - 1, 1], [f, n >> 1], [f + (n >> 1), n - (n >> 1)]);
        if (n > 1) ranges.push([f, n - 1], [f + 1, n - 1]);
        for (const [nf, nn] of ranges) {
          const x = structuredClone(o);
          if (nf === 0) delete x.first; else x.first = nf;
          x.count = nn;
          replace(x);
        }
      }
    } else if (op.op === 'mmap' && op.pages > 1) {
      const sizes = big && op.pages > 2 ? [1, op.pages >> 1, op.pages - 1] : [op.pages - 1];
      for (const p of sizes) replace({ ...op, pages: p });
    } else if (op.op === 'mremap' && op.pages !== undefined && op.pages > 1) {
      replace({ ...op, pages: op.pages - 1 });
    } else if (op.op === 'split' && op.page > 0 && big) {
      replace({ ...op, page: 0 });
    }
    try { b.emit(structuredClone(op)); } catch { /* invalid prefix: later narrowings are validated anyway */ }
  });
  return out;
}

class Evaluator {
  runs = 0;
  cacheHits = 0;
  private readonly cache = new Map<string, Promise<boolean>>();
  readonly lastSigs = new Map<string, string[]>();

  constructor(private readonly test: SigTest, private readonly target: Set<string>, private readonly maxRuns: number,
    private readonly signal?: AbortSignal, private readonly limits?: Limits) {}

  get exhausted(): boolean { return this.runs >= this.maxRuns || (this.signal?.aborted ?? false); }

  fails(c: Case): Promise<boolean> {
    const key = canonicalJson(c);
    const hit = this.cache.get(key);
    if (hit) { this.cacheHits++; return hit; }
    const p = (async () => {
      if (validateCase(c, this.limits).length) return false;
      if (this.exhausted) return false;
      this.runs++;
      const sigs = await this.test(c);
      if (!sigs) return false;
      const kept = sigs.filter((s) => this.target.has(s));
      this.lastSigs.set(key, kept);
      return kept.length > 0;
    })();
    this.cache.set(key, p);
    return p;
  }

  /** index of the first failing candidate (evaluated in batches of `parallel`), or -1 */
  async firstFailing(cands: Case[], parallel: number): Promise<number> {
    for (let i = 0; i < cands.length; i += parallel) {
      if (this.exhausted) return -1;
      const batch = cands.slice(i, i + parallel);
      const res = await Promise.all(batch.map((x) => this.fails(x)));
      const j = res.indexOf(true);
      if (j >= 0) return i + j;
    }
    return -1;
  }
}

/** Classic ddmin over the op list (removing chunks; complements are the chunks' removals). */
async function ddmin(c: Case, ev: Evaluator, parallel: number): Promise<Case> {
  let cur = c;
  let n = 2;
  while (cur.ops.length >= 2 && !ev.exhausted) {
    const len = cur.ops.length;
    const size = Math.ceil(len / n);
    const cands: Case[] = [];
    for (let s = 0; s < len; s += size) {
      const ops = cur.ops.filter((_, j) => j < s || j >= s + size);
      if (ops.length) cands.push(withOps(cur, ops));
    }
    const k = await ev.firstFailing(cands, parallel);
    if (k >= 0) {
      cur = cands[k]!;
      n = Math.max(n - 1, 2);
    } else if (n < len) {
      n = Math.min(2 * n, len);
    } else break;
  }
  return cur;
}

export async function minimize(original: Case, opts: MinimizeOptions): Promise<MinimizeResult> {
  const parallel = Math.max(1, opts.parallel ?? 1);
  let target: Set<string>;
  let test = opts.test;
  if (opts.target) target = new Set(opts.target);
  else {
    // run the original once and answer its later evaluation from this result
    const first = await opts.test(original);
    target = new Set(first ?? []);
    const key = canonicalJson(original);
    let used = false;
    test = (c) => (!used && canonicalJson(c) === key ? ((used = true), Promise.resolve(first)) : opts.test(c));
  }
  const ev = new Evaluator(test, target, opts.maxRuns ?? 5000, opts.signal, opts.limits);
  if (target.size === 0 || !(await ev.fails(original))) {
    return { case: original, signatures: [], runs: ev.runs, cacheHits: ev.cacheHits, oneMinimal: false, aborted: opts.signal?.aborted ?? false };
  }
  let cur = original;
  // coarse phase: processes, ddmin over ops, big range jumps
  for (let k = numProcs(cur) - 1; k >= 1 && !ev.exhausted; k--) {
    const d = dropProc(cur, k);
    if (d && (await ev.fails(d))) { cur = d; continue; }
    const h = hoistProc(cur, k);
    if (h && (await ev.fails(h))) cur = h;
  }
  cur = await ddmin(cur, ev, parallel);
  for (let changed = true; changed && !ev.exhausted;) {
    changed = false;
    const cands = [...narrowings(cur, true), ...shifts(cur)];
    const k = await ev.firstFailing(cands, parallel);
    if (k >= 0) { cur = cands[k]!; changed = true; }
  }
  // fine phase: single-step reductions to a fixpoint (this is what makes the result 1-minimal)
  let oneMinimal = false;
  while (!ev.exhausted) {
    const cands = reductions(cur);
    const k = await ev.firstFailing(cands, parallel);
    if (k < 0) { oneMinimal = !ev.exhausted; break; }
    cur = cands[k]!;
  }
  const sigs = ev.lastSigs.get(canonicalJson(cur)) ?? [];
  return { case: cur, signatures: sigs, runs: ev.runs, cacheHits: ev.cacheHits, oneMinimal, aborted: opts.signal?.aborted ?? false };
}
