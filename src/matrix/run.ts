// Runs the matrix suite on every target and builds the ptefarm-matrix/2 document. Called by
// `ptefarm matrix` (src/cli/commands/matrix.ts) and its tests.
//
// The suite is fixed by the seed: the corpus cases (each assigned to one cell, cells.ts
// classifyCase) plus `casesPerCell` generated cases per cell (generate.ts cellCase). Every target
// runs the same cases, so the matrix compares targets case for case. Each target has its own
// transport (a piscina pool of its share of the threads; a QEMU target its one VM), and up to
// `threads` targets run at the same time (threadPlan). Traces are checked here against the x86
// reference model.
import { isAbsolute, relative } from 'node:path';
import type { Case } from '../ops/schema.ts';
import { GEOMETRY_4K, type PageGeometry } from '../ops/layout.ts';
import { PACKAGE_ROOT } from '../package-root.ts';
import type { Trace } from '../ops/trace.ts';
import type { Violation } from '../check/types.ts';
import { referenceChecker, type Checker } from '../campaign/checker.ts';
import { loadCorpus, signatureSlug } from '../campaign/corpus.ts';
import { smaller } from '../campaign/dedup.ts';
import { InProcessTransport } from '../campaign/inprocess.ts';
import { ALL_RULES } from '../model/catalogue.ts';
import { BIT_NAMES, geometryOfHost, SCAN_NAMES, type BitLetter, type ScanLetter, type TargetInfo } from '../ops/trace.ts';
import { openCheckedTarget } from '../targets/registry.ts';
import { HostRefusedError } from '../targets/host-policy.ts';
import type { Transport } from '../transport/transport.ts';
import type { Target } from '../targets/target.ts';
import {
  allCells, BACKINGS, cellId, classifyCase, FAMILIES, FAMILY_OPS, FAMILY_TITLES, MECHANISM_TITLES, MECHANISMS,
  mechanismOf, unsupportedByDesign, unsupportedOn, type Cell, type Mechanism,
} from './cells.ts';
import { cellCase } from './generate.ts';
import { MATRIX_FORMAT, type CellResult, type MatrixDoc, type MatrixTarget } from './schema.ts';

export interface MatrixOptions {
  targets: string[];
  seed: number;
  casesPerCell: number;
  /** corpus directories whose cases join the suite (default: none) */
  corpusDirs?: string[];
  /** worker threads shared by the targets; 0 = every target runs in this thread */
  threads: number;
  /** per-case limit (default 30 s) */
  timeoutMs?: number;
  /** only these cells (default all) */
  cellFilter?: (c: Cell) => boolean;
  version?: string;
  /** the pool of a target that does not run in this thread (default: an embedded piscina pool) */
  transportFor?: (spec: string, threads: number) => Promise<Transport>;
  onProgress?: (spec: string, done: number, total: number) => void;
  /** targets that run elsewhere (a NATS farm, src/matrix/farm.ts): their info comes from here, not
   *  from opening them in this process, and every case goes through `transportFor` */
  remoteInfo?: (spec: string) => Promise<TargetInfo>;
}

export interface SuiteEntry {
  id: string; case: Case; cell: string; mechanism: Mechanism; source: string;
  /** a generated case for another page geometry (the same cell, index and seed; generate.ts cellCase) */
  forGeometry?: (g: PageGeometry) => Case;
}

export interface MatrixRun {
  doc: MatrixDoc;
  /** case_file (relative to the matrix directory) -> the case, for every bucket */
  reproducers: Map<string, Case>;
}

/** The suite: corpus cases, then casesPerCell generated cases for every cell not unsupported by design. */
export async function buildSuite(o: Pick<MatrixOptions, 'seed' | 'casesPerCell' | 'corpusDirs' | 'cellFilter'>): Promise<{ entries: SuiteEntry[]; corpus: { file: string; cell: string }[]; cells: Cell[] }> {
  const cells = allCells().filter((c) => o.cellFilter?.(c) ?? true);
  const wanted = new Set(cells.map(cellId));
  const entries: SuiteEntry[] = [];
  const corpus: { file: string; cell: string }[] = [];
  for (const e of await loadCorpus(o.corpusDirs ?? [])) {
    if (!e.case) throw new Error(`matrix: corpus file ${e.path}: ${e.error}`);
    const cell = cellId(classifyCase(e.case));
    if (!wanted.has(cell)) continue;
    // the shipped corpus by its path in the package (the same on every machine)
    const rel = relative(PACKAGE_ROOT, e.path);
    const file = rel.startsWith('..') || isAbsolute(rel) ? e.path : rel;
    corpus.push({ file, cell });
    entries.push({ id: `corpus:${file}`, case: e.case, cell, mechanism: mechanismOf(e.case), source: file });
  }
  for (const cell of cells) {
    if (unsupportedByDesign(cell)) continue;
    for (let i = 0; i < o.casesPerCell; i++) {
      entries.push({ id: `${cellId(cell)}#${i}`, case: cellCase(o.seed, cell, i), cell: cellId(cell), mechanism: cell.mechanism, source: 'generated', forGeometry: (g) => cellCase(o.seed, cell, i, g) });
    }
  }
  return { entries, corpus, cells };
}

const RULE_TEXT = new Map(ALL_RULES.map((r) => [r.id, r.text]));

/** A bucket's title in words: what differs, after which op, and the model rule that decides it. */
export function bucketTitle(v: Violation): string {
  const what = v.kind === 'bit' ? `${BIT_NAMES[v.bit as BitLetter] ?? v.bit} ${v.severity}`
    : v.kind === 'scan' ? `PAGEMAP_SCAN ${SCAN_NAMES[v.bit as ScanLetter] ?? v.bit} ${v.severity}`
      : v.kind === 'data' ? `data ${v.severity}: a value read back differs` : v.kind === 'rc' ? 'return code differs' : 'uffd events differ';
  const rule = v.rules[v.rules.length - 1];
  const text = rule ? RULE_TEXT.get(rule) : undefined;
  return `${what} after ${v.op}${rule ? ` (${rule}${text ? `: ${text.length > 110 ? text.slice(0, 107) + '...' : text}` : ''})` : ''}`;
}

interface Tally {
  agreeing: number; diverging: number; skipped: number; faults: number;
  skipReasons: Set<string>; firstFault?: string;
  /** some trace showed what the cell's mechanism reports (its pagemap bit not '?', or scan results) */
  sawMechanism: boolean;
  buckets: Map<string, { title: string; hits: number; case: Case }>;
}
const newTally = (): Tally => ({ agreeing: 0, diverging: 0, skipped: 0, faults: 0, skipReasons: new Set(), sawMechanism: false, buckets: new Map() });

/** Does the trace show what the mechanism reports? soft-dirty: pagemap bit 55 (letter 5 of a page
 *  string) not '?'; uffd-wp: bit 57 (letter 4) not '?'; scan: some PAGEMAP_SCAN result, or a scan
 *  the kernel refused (an rc, e.g. EPERM for WP_MATCHING over a range not registered for async wp,
 *  is compared too). A target that masks it compared nothing that matters in the cell. */
function showsMechanism(c: Case, t: Trace, m: Mechanism): boolean {
  if (m === 'scan') return t.steps.some((s) => c.ops[s.op]?.op === 'scan' && !s.skipped && (s.scan !== undefined || s.rc !== 0));
  const k = m === 'soft-dirty' ? 5 : 4;
  for (const s of t.steps) for (const regions of Object.values(s.pages ?? {})) for (const strs of Object.values(regions)) if (strs.some((p) => p[k] !== '?')) return true;
  return false;
}

const MASKED: Record<Mechanism, string> = {
  'soft-dirty': 'the soft-dirty bit (pagemap bit 55) is masked (?) in every trace: the target cannot show it',
  'uffd-wp-sync': 'the uffd-wp bit (pagemap bit 57) is masked (?) in every trace: the target cannot show it',
  'uffd-wp-async': 'the uffd-wp bit (pagemap bit 57) is masked (?) in every trace: the target cannot show it',
  scan: 'no trace has a PAGEMAP_SCAN result or error: the target cannot show it',
};

function cellResult(spec: string, cell: Cell, t: Tally | undefined, reason: string | undefined, files: (sig: string) => string): CellResult {
  const base = { target: spec, cases: 0, agreeing: 0, diverging: 0, skipped: 0, faults: 0, buckets: [] as CellResult['buckets'] };
  if (reason !== undefined || !t) return { ...base, status: 'unsupported', reason: reason ?? 'no case of this cell in the suite' };
  const buckets = [...t.buckets].sort((a, b) => b[1].hits - a[1].hits || (a[0] < b[0] ? -1 : 1))
    .map(([signature, b]) => ({ signature, title: b.title, hits: b.hits, case_file: files(signature) }));
  const counts = { ...base, cases: t.agreeing + t.diverging, agreeing: t.agreeing, diverging: t.diverging, skipped: t.skipped, faults: t.faults, buckets };
  if (t.agreeing + t.diverging + t.skipped + t.faults === 0) return { ...counts, status: 'unsupported', reason: 'no case of this cell in the suite' };
  if (t.diverging > 0) return { ...counts, status: 'diverges' };
  // a cell whose traces all mask what its mechanism reports compared nothing that matters: never "agrees"
  if (t.agreeing > 0 && !t.sawMechanism) return { ...counts, status: 'unsupported', reason: MASKED[cell.mechanism] };
  if (t.agreeing > 0) return { ...counts, status: 'agrees' };
  if (t.skipped > 0 && t.faults === 0) return { ...counts, status: 'unsupported', reason: `every case skipped by the target: ${[...t.skipReasons].join('; ')}` };
  return { ...counts, status: 'faulted', reason: t.firstFault ?? 'no case completed' };
}

async function defaultTransport(_spec: string, threads: number): Promise<Transport> {
  const { EmbeddedTransport } = await import('../transport/embedded.ts');
  return new EmbeddedTransport({ threads });
}

/** How targets share the threads: at most `threads` targets run at once (every target at once
 *  with 0 threads: they all run in this thread), each with an equal share of the threads (at
 *  least 1); a QEMU target uses 1 (its one VM, driven from this thread). */
export function threadPlan(targets: string[], threads: number): { concurrent: number; shares: number[] } {
  if (threads === 0) return { concurrent: Math.max(1, targets.length), shares: targets.map(() => 0) };
  const concurrent = Math.max(1, Math.min(threads, targets.length));
  const share = Math.max(1, Math.floor(threads / concurrent));
  return { concurrent, shares: targets.map((t) => (t.startsWith('qemu:') ? 1 : share)) };
}

async function runTarget(spec: string, threads: number, suite: SuiteEntry[], cells: Cell[], checker: Checker, o: MatrixOptions):
  Promise<{ target: MatrixTarget; results: Map<string, CellResult>; reproducers: Map<string, Case> }> {
  const t0 = performance.now();
  const warnings: string[] = [];
  let info: TargetInfo | undefined;
  let refused: string | undefined;
  // the target opened (and host-checked) here for its capabilities runs the cases itself when it
  // is run in this thread (threads 0, or a QEMU target: its one VM boots once)
  let opened: Target | undefined;
  // a refusal (a host setting the model does not cover) makes the target's cells unsupported; a
  // target that could not start at all leaves them without a verdict (faulted)
  let startFailed = false;
  try {
    if (o.remoteInfo) info = await o.remoteInfo(spec);
    else {
      opened = await openCheckedTarget(spec, (w) => warnings.push(w));
      info = await opened.info();
    }
  } catch (e) {
    refused = (e as Error).message;
    startFailed = !(e instanceof HostRefusedError);
  }
  const inThread = !o.remoteInfo && (threads === 0 || spec.startsWith('qemu:'));
  if (opened && (!inThread || refused !== undefined)) { await opened.close().catch(() => undefined); opened = undefined; }
  const reasons = new Map<string, string | undefined>();
  for (const c of cells) reasons.set(cellId(c), refused !== undefined ? `target refused: ${refused}` : unsupportedByDesign(c) ?? unsupportedOn(c, info!.capabilities));
  if (startFailed) for (const c of cells) if (!unsupportedByDesign(c)) reasons.set(cellId(c), undefined);
  const tallies = new Map<string, Tally>();
  for (const c of cells) if (reasons.get(cellId(c)) === undefined) tallies.set(cellId(c), newTally());
  if (startFailed) for (const t of tallies.values()) { t.faults = 1; t.firstFault = `the target could not start: ${refused}`; }
  // generated cases count the target's pages: on 16 KiB pages a thp cell's region is a 32 MiB PMD
  const geometry = info ? geometryOfHost(info.host) : GEOMETRY_4K;
  const ownSuite = geometry === GEOMETRY_4K ? suite : suite.map((e) => (e.forGeometry ? { ...e, case: e.forGeometry(geometry) } : e));
  const jobs = startFailed ? [] : ownSuite.filter((e) => reasons.get(e.cell) === undefined);
  let done = 0;
  if (!jobs.length && opened) await opened.close().catch(() => undefined);
  if (jobs.length) {
    const t = opened;
    const transport = t ? new InProcessTransport(async () => t) : await (o.transportFor ?? defaultTransport)(spec, threads);
    try {
      let next = 0;
      const worker = async () => {
        for (;;) {
          const i = next++;
          if (i >= jobs.length) return;
          const e = jobs[i]!;
          const res = await transport.run({ id: `${spec}|${e.id}`, target: spec, case: e.case }, { timeoutMs: o.timeoutMs ?? 30_000 });
          const t = tallies.get(e.cell)!;
          const fault = res.fault ?? res.trace?.fault;
          if (fault !== undefined || !res.trace) { t.faults++; t.firstFault ??= fault ?? 'no trace'; }
          else if (res.trace.skipped !== undefined) { t.skipped++; t.skipReasons.add(res.trace.skipped); }
          else {
            if (!t.sawMechanism && showsMechanism(e.case, res.trace, e.mechanism)) t.sawMechanism = true;
            let out: ReturnType<Checker['check']>;
            try { out = checker.check(e.case, res.trace); } catch (err) {
              // a trace the model cannot follow is the target's fault, never a verdict on the kernel
              out = { violations: [], stepRules: [], fault: `the check failed on this trace: ${(err as Error).message}` };
            }
            if (out.fault !== undefined) { t.faults++; t.firstFault ??= out.fault; }
            else if (out.skipped !== undefined) { t.skipped++; t.skipReasons.add(out.skipped); }
            else if (out.violations.length === 0) t.agreeing++;
            else {
              t.diverging++;
              const seen = new Set<string>();
              for (const v of out.violations) {
                const sig = checker.signature(v);
                if (seen.has(sig)) continue;
                seen.add(sig);
                const b = t.buckets.get(sig);
                if (!b) t.buckets.set(sig, { title: bucketTitle(v), hits: 1, case: e.case });
                else { b.hits++; if (smaller(e.case, b.case)) b.case = e.case; }
              }
            }
          }
          o.onProgress?.(spec, ++done, jobs.length);
          // a target run in this thread (the model) finishes a case without waiting on I/O: let the
          // other targets' I/O (an executor starting, a VM answering) in between, or their timers
          // would fire first
          await new Promise<void>((resolve) => setImmediate(resolve));
        }
      };
      await Promise.all(Array.from({ length: Math.max(1, transport.concurrency) }, worker));
    } finally {
      await transport.close();
    }
  }
  const results = new Map<string, CellResult>();
  const reproducers = new Map<string, Case>();
  const totals = { cases: 0, agreeing: 0, diverging: 0, skipped: 0, faults: 0 };
  for (const c of cells) {
    const id = cellId(c);
    const t = tallies.get(id);
    const file = (sig: string) => `cases/${signatureSlug(spec)}/${signatureSlug(`${id} ${sig}`)}.json`;
    const r = cellResult(spec, c, t, reasons.get(id), file);
    for (const b of r.buckets) reproducers.set(b.case_file!, t!.buckets.get(b.signature)!.case);
    results.set(id, r);
    if (t) { totals.agreeing += t.agreeing; totals.diverging += t.diverging; totals.skipped += t.skipped; totals.faults += t.faults; }
  }
  totals.cases = totals.agreeing + totals.diverging;
  const target: MatrixTarget = {
    spec, ...(info ? { arch: info.arch, kernel: info.kernel, page_size: geometry.pageSize, capabilities: { ...info.capabilities } as Record<string, boolean> } : {}),
    ...(refused !== undefined ? { refused } : {}), warnings, elapsed_s: Math.round((performance.now() - t0) / 100) / 10, totals,
  };
  return { target, results, reproducers };
}

/** Run the suite on every target (at the same time) and build the matrix. */
export async function runMatrix(o: MatrixOptions): Promise<MatrixRun> {
  if (!o.targets.length) throw new Error('matrix: no target');
  const dup = o.targets.find((t, i) => o.targets.indexOf(t) !== i);
  if (dup) throw new Error(`matrix: target ${dup} given twice`);
  const { entries, corpus, cells } = await buildSuite(o);
  const checker = await referenceChecker();
  const plan = threadPlan(o.targets, o.threads);
  // on a farm every target runs at once: the workers are the limit
  const { concurrent, shares } = o.remoteInfo ? { ...plan, concurrent: o.targets.length } : plan;
  const runs: Awaited<ReturnType<typeof runTarget>>[] = [];
  let next = 0;
  const lane = async () => {
    for (let i = next++; i < o.targets.length; i = next++) runs[i] = await runTarget(o.targets[i]!, shares[i]!, entries, cells, checker, o);
  };
  await Promise.all(Array.from({ length: concurrent }, lane));
  const reproducers = new Map<string, Case>();
  for (const r of runs) for (const [k, v] of r.reproducers) reproducers.set(k, v);
  const doc: MatrixDoc = {
    format: MATRIX_FORMAT,
    generated_at: new Date().toISOString(),
    ptefarm_version: o.version ?? 'unknown',
    seed: o.seed,
    cases_per_cell: o.casesPerCell,
    corpus,
    axes: {
      families: FAMILIES.map((id) => ({ id, title: FAMILY_TITLES[id], ops: [...FAMILY_OPS[id]] })),
      backings: [...BACKINGS],
      mechanisms: MECHANISMS.map((id) => ({ id, title: MECHANISM_TITLES[id] })),
    },
    targets: runs.map((r) => r.target),
    cells: cells.map((c) => ({ id: cellId(c), ...c, results: runs.map((r) => r.results.get(cellId(c))!) })),
  };
  return { doc, reproducers };
}
