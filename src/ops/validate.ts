// Reading a case: the zod schema for shape, then a structural walk for what a schema cannot say
// (regions and processes that exist at each point, ranges inside regions, limits). Every problem
// is reported as `ops[i].field: message`, all of them at once.
import { z } from 'zod';
import { caseSchema, opSchemas, OP_NAMES, type Case, type Op, type OpName } from './schema.ts';
import { DEFAULT_LIMITS, MEMFD_PAGES, SLOT_PAGES, slotStartPage, type Limits } from './layout.ts';

export class CaseError extends Error {
  constructor(readonly problems: string[], source?: string) {
    super(`${source ? source + ': ' : ''}invalid case:\n  ${problems.join('\n  ')}`);
    this.name = 'CaseError';
  }
}

function pathString(prefix: string, path: PropertyKey[]): string {
  let s = prefix;
  for (const p of path) s += typeof p === 'number' ? `[${p}]` : s ? `.${String(p)}` : String(p);
  return s || '(case)';
}

function zodProblems(prefix: string, err: z.ZodError): string[] {
  return err.issues.map((i) => `${pathString(prefix, i.path)}: ${i.message}`);
}

const UFFD_OPS: ReadonlySet<OpName> = new Set(['uffd_register', 'uffd_unregister', 'wp']);

interface PlanRegion { start: number; pages: number; unmapped: Uint8Array }
interface PlanProc { alive: boolean; regions: Map<string, PlanRegion> }

/** regions a case can name (ranges left by MREMAP_DONTUNMAP are kept under unnamable keys) */
function named(p: PlanProc): number {
  let n = 0;
  for (const k of p.regions.keys()) if (!k.startsWith('(')) n++;
  return n;
}

function live(r: PlanRegion): boolean {
  return r.unmapped.some((u) => u === 0);
}

/** Parse and validate unknown JSON as a case. Throws CaseError naming every problem. */
export function parseCase(input: unknown, limits: Limits = DEFAULT_LIMITS, source?: string): Case {
  const problems = validateCase(input, limits);
  if (problems.length) throw new CaseError(problems, source);
  return input as Case;
}

export function validateCase(input: unknown, limits: Limits = DEFAULT_LIMITS): string[] {
  const top = caseSchema.safeParse(input);
  if (!top.success) return zodProblems('', top.error);
  const problems: string[] = [];
  const ops = top.data.ops;
  if (ops.length > limits.maxOps) problems.push(`ops: ${ops.length} ops exceed the limit of ${limits.maxOps}`);
  const parsed: Op[] = [];
  ops.forEach((raw, i) => {
    const kind = (raw as { op?: unknown } | null)?.op;
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
      problems.push(`ops[${i}]: expected an object`);
    } else if (typeof kind !== 'string' || !(OP_NAMES as string[]).includes(kind)) {
      problems.push(`ops[${i}].op: unknown op ${JSON.stringify(kind)} (expected one of ${OP_NAMES.join(', ')})`);
    } else {
      const r = opSchemas[kind as OpName].safeParse(raw);
      if (r.success) parsed[i] = r.data as Op;
      else problems.push(...zodProblems(`ops[${i}]`, r.error));
    }
  });
  if (problems.length) return problems;
  return structuralProblems(top.data as Case, parsed, limits);
}

function structuralProblems(c: Case, ops: Op[], limits: Limits): string[] {
  const problems: string[] = [];
  const procs: PlanProc[] = [{ alive: true, regions: new Map() }];
  let slot = 0;
  const hasUffd = c.uffd !== undefined;
  ops.forEach((op, i) => {
    const at = `ops[${i}]`;
    const p = op.proc ?? 0;
    const proc = procs[p];
    if (!proc) { problems.push(`${at}.proc: process ${p} does not exist (processes so far: 0..${procs.length - 1})`); return; }
    if (!proc.alive) { problems.push(`${at}.proc: process ${p} has exited`); return; }
    if (UFFD_OPS.has(op.op) && !hasUffd) { problems.push(`${at}.op: ${op.op} needs a top-level "uffd" object (the case opens no userfaultfd)`); return; }
    const overlaps = (start: number, pages: number, except?: string) => {
      for (const [n, r] of proc.regions) {
        if (n === except || !live(r)) continue;
        if (start < r.start + r.pages && r.start < start + pages) return n;
      }
      return undefined;
    };
    const region = (name: string): PlanRegion | undefined => {
      const r = proc.regions.get(name);
      if (!r) { problems.push(`${at}.region: region "${name}" does not exist in process ${p}`); return undefined; }
      if (!live(r)) { problems.push(`${at}.region: region "${name}" is fully unmapped in process ${p}`); return undefined; }
      return r;
    };
    const range = (r: PlanRegion, first = 0, count?: number) => {
      if (first >= r.pages) { problems.push(`${at}.first: page ${first} is outside region (${r.pages} pages)`); return undefined; }
      const n = count ?? r.pages - first;
      if (first + n > r.pages) { problems.push(`${at}.count: pages ${first}..${first + n - 1} run past the region's end (${r.pages} pages)`); return undefined; }
      return [first, n] as const;
    };
    switch (op.op) {
      case 'mmap': {
        if (op.pages > limits.maxPagesPerRegion) { problems.push(`${at}.pages: ${op.pages} exceeds the limit of ${limits.maxPagesPerRegion} pages per region`); return; }
        const old = proc.regions.get(op.region);
        if (old && live(old)) { problems.push(`${at}.region: region "${op.region}" already exists in process ${p} (only a fully unmapped name may be reused)`); return; }
        if (!old && named(proc) >= limits.maxRegions) { problems.push(`${at}.region: more than ${limits.maxRegions} regions`); return; }
        let start: number;
        if (op.after !== undefined) {
          const a = region(op.after);
          if (!a) return;
          start = a.start + a.pages;
          const o = overlaps(start, op.pages);
          if (o) { problems.push(`${at}.after: placing "${op.region}" after "${op.after}" would overlap region "${o}"`); return; }
        } else {
          start = slotStartPage(slot++);
        }
        proc.regions.set(op.region, { start, pages: op.pages, unmapped: new Uint8Array(op.pages) });
        return;
      }
      case 'mremap': {
        const r = region(op.region);
        if (!r) return;
        const pages = op.pages ?? r.pages;
        if (pages > limits.maxPagesPerRegion) { problems.push(`${at}.pages: ${pages} exceeds the limit of ${limits.maxPagesPerRegion} pages per region`); return; }
        const move = op.move ?? true;
        if (op.dontunmap && !move) { problems.push(`${at}.dontunmap: needs move (MREMAP_DONTUNMAP implies MREMAP_MAYMOVE)`); return; }
        if (op.dontunmap && pages !== r.pages) { problems.push(`${at}.pages: with dontunmap the size cannot change (${r.pages} pages)`); return; }
        if (op.old !== undefined) {
          if (!op.dontunmap) { problems.push(`${at}.old: only meaningful with dontunmap`); return; }
          const o = proc.regions.get(op.old);
          if (o && live(o) && op.old !== op.region) { problems.push(`${at}.old: region "${op.old}" already exists`); return; }
          if (!o && named(proc) >= limits.maxRegions) { problems.push(`${at}.old: more than ${limits.maxRegions} regions`); return; }
          if (op.old === op.region) { problems.push(`${at}.old: must differ from region`); return; }
        }
        if (move) {
          const start = slotStartPage(slot++);
          // MREMAP_DONTUNMAP leaves the old range mapped: named by `old`, or kept under a name no
          // case can use, so later placements still see it as occupied
          if (op.dontunmap) proc.regions.set(op.old ?? `(range left by ops[${i}])`, { start: r.start, pages: r.pages, unmapped: r.unmapped.slice() });
          const unmapped = new Uint8Array(pages);
          unmapped.set(r.unmapped.subarray(0, Math.min(pages, r.pages)));
          proc.regions.set(op.region, { start, pages, unmapped });
        } else if (pages > r.pages && (overlaps(r.start + r.pages, pages - r.pages, op.region) || pages > SLOT_PAGES)) {
          // grow in place is blocked: the kernel answers ENOMEM and the region keeps its size
        } else {
          const unmapped = new Uint8Array(pages);
          unmapped.set(r.unmapped.subarray(0, Math.min(pages, r.pages)));
          r.pages = pages; r.unmapped = unmapped;
        }
        return;
      }
      case 'fork': {
        if (procs.length >= limits.maxProcs) { problems.push(`${at}.op: fork would exceed the limit of ${limits.maxProcs} processes`); return; }
        const regions = new Map<string, PlanRegion>();
        for (const [n, r] of proc.regions) regions.set(n, { ...r, unmapped: r.unmapped.slice() });
        procs.push({ alive: true, regions });
        return;
      }
      case 'exit': proc.alive = false; return;
      case 'clear_refs': return;
      case 'split': {
        const r = region(op.region);
        if (r && op.page >= r.pages) problems.push(`${at}.page: page ${op.page} is outside region "${op.region}" (${r.pages} pages)`);
        return;
      }
      default: {
        const r = region(op.region);
        if (!r) return;
        const rg = range(r, op.first, op.count);
        if (rg && op.op === 'munmap') r.unmapped.fill(1, rg[0], rg[0] + rg[1]);
      }
    }
  });
  void MEMFD_PAGES;
  return problems;
}
