// The uniform random generator: every op kind valid in the current state equally likely, every
// argument uniform over its valid range, the same op set and builder as the guided generator. It is
// the benchmark's baseline for finding bugs (bench/lib/gen.ts) and a share of the guided generator's
// own cases (generate.ts GuidedGenerator), so that guidance can never make a campaign much worse
// than uniform at reaching a state the motifs do not aim at.
import type { Case, Feature, Kind, Op, OpName } from '../ops/schema.ts';
import { FEATURES, KINDS, OP_NAMES } from '../ops/schema.ts';
import { HPAGE_PAGES } from '../ops/layout.ts';
import { generatedCaseProblems } from '../ops/validate.ts';
import { CaseBuilder, isLive } from './builder.ts';
import type { Rng } from './rng.ts';

const RANGED = new Set<OpName>(['munmap', 'mprotect', 'read', 'write', 'pageout', 'dontneed', 'collapse', 'uffd_register', 'uffd_unregister', 'wp', 'scan', 'populate', 'guard', 'unguard']);
const UFFD_ONLY = new Set<OpName>(['uffd_register', 'uffd_unregister', 'wp', 'close_uffd']);

/** the longest valid prefix of a generated case (a safety net: generators should already be
 *  valid; typed ops, so the structural walk without the shape check) */
export function validPrefix(c: Case): Case | undefined {
  let ops = c.ops;
  for (let guard = 0; guard < 300 && ops.length; guard++) {
    const probs = generatedCaseProblems({ ...c, ops });
    if (!probs.length) return { ...c, ops };
    const m = /^ops\[(\d+)\]/.exec(probs[0]!);
    ops = ops.slice(0, m ? Number(m[1]) : ops.length - 1);
  }
  return undefined;
}

/** A uniform random case over the same op set as the guided generator. */
export function uniformCase(rng: Rng, maxOps: number, maxCost: number): Case {
  const uffd = rng.chance(0.5) ? { features: FEATURES.filter(() => rng.chance(0.5)) as Feature[] } : undefined;
  const b = new CaseBuilder(uffd);
  const n = rng.range(1, maxOps);
  for (let guard = 0; b.ops.length < n && b.cost < maxCost && guard < 10 * maxOps; guard++) {
    const alive = b.aliveProcs();
    const proc = rng.pick(alive);
    const live = b.liveRegions(proc);
    const kinds = OP_NAMES.filter((k) => {
      if (UFFD_ONLY.has(k) && !b.hasUffd) return false;
      if (k === 'mmap') return b.regionCount(proc) < b.limits.maxRegions;
      if (k === 'fork') return b.procs.length < b.limits.maxProcs;
      if (k === 'exit') return proc !== 0;
      if (k === 'clear_refs' || k === 'close_uffd') return true;
      return live.length > 0;
    });
    const kind = rng.pick(kinds);
    const op = uniformOp(rng, b, proc, kind, live);
    if (!op) continue;
    if (proc !== 0) (op as { proc?: number }).proc = proc;
    b.emit(op);
  }
  if (b.ops.length === 0) b.emit({ op: 'mmap', region: 'a', pages: 1, kind: 'anon' });
  const c = b.toCase();
  return validPrefix(c) ?? { format: 'ptefarm-case/1', ops: [{ op: 'mmap', region: 'a', pages: 1, kind: 'anon' }] };
}

function uniformOp(rng: Rng, b: CaseBuilder, proc: number, kind: OpName, live: string[]): Op | undefined {
  switch (kind) {
    case 'mmap': {
      const thp = rng.chance(0.5);
      const pages = thp ? HPAGE_PAGES * rng.range(1, 2) : rng.range(1, 16);
      const op: Op = { op: 'mmap', region: b.freshName(), pages, kind: rng.pick(KINDS) as Kind };
      if (thp) op.thp = true;
      if (live.length && rng.chance(0.5)) {
        const a = rng.pick(live);
        if (b.canPlaceAfter(proc, a, pages)) op.after = a;
      }
      return op;
    }
    case 'fork': return { op: 'fork' };
    case 'exit': return { op: 'exit' };
    case 'clear_refs': return { op: 'clear_refs', value: rng.range(1, 5) };
    case 'close_uffd': return { op: 'close_uffd' };
  }
  const region = rng.pick(live);
  const r = b.region(proc, region)!;
  if (!isLive(r)) return undefined;
  if (kind === 'split') return { op: 'split', region, page: rng.int(r.pages) };
  if (kind === 'mremap') {
    const move = rng.chance(0.5);
    const op: Op = { op: 'mremap', region };
    if (!move) { op.move = false; op.pages = rng.range(1, Math.min(b.limits.maxPagesPerRegion, 2 * r.pages)); return op; }
    if (rng.chance(0.5)) {
      op.dontunmap = true;
      if (rng.chance(0.5) && b.regionCount(proc) < b.limits.maxRegions) op.old = b.freshName();
    } else if (rng.chance(0.5)) op.pages = rng.range(1, Math.min(b.limits.maxPagesPerRegion, 2 * r.pages));
    return op;
  }
  if (!RANGED.has(kind)) return undefined;
  // no guard install in a non-anon region of a case with a userfaultfd: a uffd-wp marker there
  // makes MADV_GUARD_INSTALL retry forever (R-GRD-1; generate.ts OpGen.guard)
  if (kind === 'guard' && b.hasUffd && r.kind !== 'anon') return undefined;
  const first = rng.int(r.pages);
  const count = rng.range(1, r.pages - first);
  const base = { region, first, count };
  switch (kind) {
    case 'mprotect': return { op: 'mprotect', ...base, prot: rng.pick(['none', 'r', 'rw'] as const) };
    case 'wp': return { op: 'wp', ...base, on: rng.chance(0.5) };
    // MADV_POPULATE_READ or MADV_POPULATE_WRITE
    case 'populate': return rng.chance(0.5) ? { op: 'populate', ...base, write: true } : { op: 'populate', ...base };
    case 'scan': {
      const op: Op = { op: 'scan', ...base };
      if (rng.chance(0.5)) op.wp_matching = true;
      if (rng.chance(0.5)) op.max_pages = rng.range(1, count);
      return op;
    }
    default: return { op: kind, ...base } as Op;
  }
}
