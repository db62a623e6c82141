// The executor protocol, its one home on the TypeScript side: the numbers a case is sent as (op
// codes, region kinds, protections, uffd feature bits, scan bits, one numeric line per op) and the
// reply lines turned back into a trace's steps (page codes, outcomes, events, scans). Used by the
// live target (src/targets/live.ts), the QEMU target (src/targets/qemu.ts, the same executor in a
// guest) and the C reproducer (src/report/repro.ts). The C side is workers/executor/ptefarm-uapi.h
// and ptefarm-exec.c (protocol: workers/executor/README.md); test/targets/executor-protocol.test.ts
// reads those headers and checks every constant here against them.
import { atLeastV2, type Case, type Feature, type Op } from '../../ops/schema.ts';
import { CasePlan } from '../../ops/plan.ts';
import { GEOMETRY_4K, limitsFor, MAX_PAGES_PER_REGION, type PageGeometry } from '../../ops/layout.ts';
import { pageLetters, SCAN_LETTERS, type Outcome, type Step, type UffdEvent } from '../../ops/trace.ts';
import { dict, own } from '../../ops/records.ts';

/** What the executor is compiled for (workers/executor/ptefarm-uapi.h MAXP, MAXR, MAXPAGES, MAXCTX):
 *  processes per case, region ids per case (`old` names included), pages per region on the largest
 *  page geometry (array sizes), userfaultfd contexts (process 0 + one per event_fork child). */
export const EXECUTOR_LIMITS = { maxProcs: 8, maxRegionIds: 64, maxPages: 4096, maxUffdContexts: 16 } as const;
/** exit status base of a case process that a SIGSEGV or SIGBUS reached from outside (ptefarm-uapi.h
 *  EXIT_EXTERNAL_SIGNAL): the supervisor reports a fault, never an rc */
export const EXIT_EXTERNAL_SIGNAL = 192;
/** the numbers each op line carries, op code and process included (ptefarm-exec.c OP_NUMBERS); a
 *  ptefarm-case/1 scan line carries 7 */
export const OP_NUMBERS: Readonly<Record<Op['op'] | 'skip', number>> = {
  skip: 2, mmap: 7, munmap: 5, mremap: 9, mprotect: 6, read: 5, write: 5, fork: 2, exit: 2, clear_refs: 3,
  pageout: 5, dontneed: 5, collapse: 5, split: 4, uffd_register: 5, uffd_unregister: 5, wp: 6, scan: 9,
  populate: 6, close_uffd: 3, guard: 5, unguard: 5,
};
export const OP_CODES: Record<Op['op'] | 'skip', number> = {
  skip: 0, mmap: 1, munmap: 2, mremap: 3, mprotect: 4, read: 5, write: 6, fork: 7, exit: 8, clear_refs: 9,
  pageout: 10, dontneed: 11, collapse: 12, split: 13, uffd_register: 14, uffd_unregister: 15, wp: 16, scan: 17,
  populate: 18, close_uffd: 19, guard: 20, unguard: 21,
};
/** C_SCAN's extension bits and the packed category masks (workers/executor/ptefarm-uapi.h SCAN_*) */
export const SCAN_EXPLICIT = 1, SCAN_CHECK_WPASYNC = 2, SCAN_NO_VEC = 4, SCAN_DEFAULT_RETURN = 8;
export const ALL_CATEGORIES = 0x1ff;
function categoryBits(letters: string | undefined, dflt: number): number {
  if (letters === undefined) return dflt;
  let m = 0;
  for (const ch of letters) m |= 1 << SCAN_LETTERS.indexOf(ch as (typeof SCAN_LETTERS)[number]);
  return m;
}
/** the scan op's extra numbers: wp_matching max_pages bits masks. A /1 case's scan keeps the /1
 *  meaning (bits 0: the executor picks the masks and reports no walk_end). */
function scanExtra(op: Extract<Op, { op: 'scan' }>, v2: boolean): string {
  const wp = op.wp_matching ? 1 : 0;
  if (!v2) return ` ${wp} ${op.max_pages ?? 0}`; // the /1 line, which executors built before /2 read too
  const bits = SCAN_EXPLICIT | ((op.check_wpasync ?? !!op.wp_matching) ? SCAN_CHECK_WPASYNC : 0) | (op.no_vec ? SCAN_NO_VEC : 0) |
    // no return_mask: every category the kernel knows (GUARD only from 6.15: ptefarm-mm.h scan_return_mask)
    (op.return_mask === undefined ? SCAN_DEFAULT_RETURN : 0);
  const masks = categoryBits(op.category_mask, op.wp_matching ? 2 : 0) + categoryBits(op.category_inverted, 0) * 2 ** 9 +
    categoryBits(op.category_anyof_mask, 0) * 2 ** 18 + categoryBits(op.return_mask, ALL_CATEGORIES) * 2 ** 27;
  return ` ${wp} ${op.max_pages ?? 0} ${bits} ${masks}`;
}
const OP_NAMES: Record<number, string> = Object.fromEntries(Object.entries(OP_CODES).map(([k, v]) => [v, k]));
export const KIND_CODES = { anon: 0, 'shared-anon': 1, 'memfd-shared': 2, 'memfd-private': 3, hugetlb: 4, 'hugetlb-shared': 5 } as const;
export const PROT_CODES = { none: 0, r: 1, rw: 3 } as const;
export const FEATURE_BITS: Record<Feature, number> = {
  event_fork: 1 << 1, event_remap: 1 << 2, event_unmap: 1 << 6, wp_unpopulated: 1 << 13, wp_async: 1 << 15,
};
/** 6-bit pagemap codes (P S F E W D = bits 0..5) travel as one character of this alphabet */
export const CODE_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz!#$%&()*+,-./';
export const PAGE_LETTERS = 'PSFEWD';
/** the pagemap bit behind each page letter (ptefarm-observe.h pm_code: code bit k is the letter
 *  PAGE_LETTERS[k]; G, the seventh letter of a ptefarm-case/2 trace, travels as a `g` line) */
export const PAGE_LETTER_PAGEMAP_BITS = { P: 63, S: 62, F: 61, E: 56, W: 57, D: 55, G: 58 } as const;

export interface EncodedCase {
  /** op lines, one per case op, numeric */
  lines: string[];
  /** region id -> name */
  regionNames: string[];
  uffdFeatures: number; // -1: no userfaultfd
  /** op index -> reason, for ops the host cannot run (not executed; their step is still observed) */
  skipped: Map<number, string>;
  /** letters per page string: 7 (with G) for a ptefarm-case/2 case (src/ops/trace.ts pageLetters) */
  letters?: 6 | 7;
}

/** a code from one of the tables above: own keys only (`constructor` is no kind) */
function table(t: Readonly<Record<string, number>>, key: string, i: number, what: string): number {
  const v = own(t, key);
  if (v === undefined) throw new Error(`ops[${i}]: unknown ${what} ${JSON.stringify(String(key).slice(0, 40))} (validate the case first)`);
  return v;
}

/** Plan a validated case into executor lines: region addresses come from the case's static plan
 *  (src/ops/plan.ts, as validation computes it). `skip(op)` returns a reason to not execute an op;
 *  the plan still follows a skipped op (it is static, whatever the host does). Page numbers count
 *  the target's pages: `geometry` is what its executor measured (src/targets/probe.ts
 *  geometryOfProbe), which places the arena slots and bounds the region size. */
export function encodeCase(c: Case, skip: (op: Op) => string | undefined = () => undefined, geometry: PageGeometry = GEOMETRY_4K): EncodedCase {
  const ids = new Map<string, number>();
  const regionNames: string[] = [];
  const id = (name: string) => {
    let i = ids.get(name);
    if (i === undefined) { i = regionNames.length; ids.set(name, i); regionNames.push(name); }
    return i;
  };
  // the executor is compiled for the limits table: a case validated with larger limits is refused
  // here with the problem, instead of faulting in the executor
  const limits = limitsFor(geometry);
  const plan = new CasePlan({ uffd: c.uffd !== undefined, limits, geometry });
  if (c.ops.length > limits.maxOps) throw new Error(`ops: ${c.ops.length} ops exceed the executor's limit of ${limits.maxOps}`);
  const lines: string[] = [];
  const skipped = new Map<number, string>();
  c.ops.forEach((op, i) => {
    const p = op.proc ?? 0;
    const before = op.op === 'mremap' ? plan.regionOf(p, op.region) : undefined;
    const problems = plan.step(op, i);
    if (problems.length) throw new Error(`${problems[0]} (the case does not fit the executor's limits or was not validated)`);
    const reason = skip(op);
    if (reason !== undefined) {
      skipped.set(i, reason);
      lines.push(`${OP_CODES.skip} ${p}`);
      return;
    }
    const reg = (name: string) => plan.regionOf(p, name)!;
    const code = own(OP_CODES, op.op);
    if (code === undefined) throw new Error(`ops[${i}].op: unknown op (validate the case first)`);
    switch (op.op) {
      case 'mmap': {
        const start = reg(op.region).start;
        lines.push(`${code} ${p} ${id(op.region)} ${start} ${op.pages} ${table(KIND_CODES, op.kind, i, 'kind')} ${op.thp ? 1 : 0}`);
        return;
      }
      case 'mremap': {
        const pages = op.pages ?? before!.pages;
        const move = op.move ?? true;
        const oldId = op.dontunmap && op.old !== undefined ? id(op.old) : -1;
        const after = reg(op.region);
        // in place, the plan keeps the old size when the growth is blocked (ENOMEM)
        const apply = move || after.pages === pages ? 1 : 0;
        const newStart = move ? after.start : 0;
        lines.push(`${code} ${p} ${id(op.region)} ${pages} ${move ? 1 : 0} ${op.dontunmap ? 1 : 0} ${oldId} ${newStart} ${apply}`);
        return;
      }
      case 'fork': case 'exit': lines.push(`${code} ${p}`); return;
      case 'clear_refs': lines.push(`${code} ${p} ${op.value ?? 4}`); return;
      case 'close_uffd': lines.push(`${code} ${p} -1`); return; // region id -1: none
      case 'split': lines.push(`${code} ${p} ${id(op.region)} ${op.page}`); return;
      default: {
        // ranges of the region's size before the op (munmap does not change the size)
        const r = reg(op.region);
        const first = op.first ?? 0;
        const count = op.count ?? r.pages - first;
        let extra = '';
        if (op.op === 'mprotect') extra = ` ${table(PROT_CODES, op.prot, i, 'prot')}`;
        if (op.op === 'wp') extra = ` ${op.on ? 1 : 0}`;
        if (op.op === 'scan') extra = scanExtra(op, atLeastV2(c.format));
        if (op.op === 'populate') extra = ` ${op.write ? 1 : 0}`;
        lines.push(`${code} ${p} ${id(op.region)} ${first} ${count}${extra}`);
      }
    }
  });
  const uffdFeatures = c.uffd ? (c.uffd.features ?? []).reduce((m, f, k) => m | table(FEATURE_BITS, f, k, 'feature'), 0) : -1;
  return { lines, regionNames, uffdFeatures, skipped, letters: pageLetters(c) };
}

/** the page string of each 6-bit code: by soft-dirty shown (1) or not (0), then letters (6 or 7) */
const PAGE_STRINGS: Record<0 | 1, Record<6 | 7, string[]>> = { 0: { 6: [], 7: [] }, 1: { 6: [], 7: [] } };
for (const sd of [0, 1] as const) {
  for (const letters of [6, 7] as const) {
    for (let v = 0; v < 64; v++) {
      let s = '';
      for (let b = 0; b < 6; b++) s += b === 5 && !sd ? '?' : (v >> b) & 1 ? PAGE_LETTERS[b] : '.';
      if (letters === 7) s += '.'; // a `g` line after the `p` line sets G
      PAGE_STRINGS[sd][letters].push(s);
    }
  }
}
/** the runs decodePages read (code, count), reused: a pool thread decodes every `p` line of every step */
const RUNS: number[] = [];

/** The page strings of a `p` line's run-length code (one character per 6-bit code, then its count
 *  when more than 1). An array of exactly its length, made once the runs are read; more pages than
 *  a region has (MAX_PAGES_PER_REGION) is bad executor output. */
export function decodePages(rle: string, softDirty: boolean, letters: 6 | 7 = 6): string[] {
  const table = PAGE_STRINGS[softDirty ? 1 : 0][letters === 7 ? 7 : 6];
  RUNS.length = 0;
  let total = 0;
  let i = 0;
  const len = rle.length;
  while (i < len) {
    const v = CODE_ALPHABET.indexOf(rle[i]!);
    if (v < 0) throw new Error(`bad page code ${JSON.stringify(rle[i])} in executor output`);
    i++;
    let n = 0, digits = 0;
    for (; i < len; i++, digits++) {
      const c = rle.charCodeAt(i);
      if (c < 48 || c > 57) break;
      n = n * 10 + (c - 48);
    }
    if (digits === 0) n = 1;
    total += n;
    if (digits > 15 || total > MAX_PAGES_PER_REGION) throw new Error(`executor page line longer than a region (${digits > 15 ? 'a run of more than 10^15' : total} pages)`);
    RUNS.push(v, n);
  }
  const out = new Array<string>(total);
  let at = 0;
  for (let r = 0; r < RUNS.length; r += 2) {
    const s = table[RUNS[r]!]!;
    for (let end = at + RUNS[r + 1]!; at < end; at++) out[at] = s;
  }
  return out;
}

function scanLetters(cats: number): string {
  let s = '';
  for (let b = 0; b < SCAN_LETTERS.length; b++) s += (cats >> b) & 1 ? SCAN_LETTERS[b] : '.';
  return s;
}

/** The only signals an op can raise by itself, i.e. the only signal rcs a trace may carry (R-FLT-14,
 *  R-FLT-15). The executor reports any other signal as a fault; an executor that does not (an older
 *  build, e.g. inside a QEMU image) must not turn a kill from outside into a compared rc. */
export const OP_SIGNALS: ReadonlySet<string> = new Set(['SIGSEGV', 'SIGBUS']);

/** The values of a `c` line's tokens: `-N` N pages not read, `VxN` N pages of V, `V+N` V, V+1, ...
 *  A value beyond 2^53 (no case writes one) is -1. */
export function decodeContent(tokens: string[], line: string): (number | null)[] {
  const out: (number | null)[] = [];
  for (const tok of tokens) {
    // the common token, read without a regex match and its substrings (a pool thread decodes every
    // `c` line of every step of every case); anything else takes the general path below
    if (plainToken(tok)) {
      const n = TOKEN.n;
      if (out.length + n > MAX_PAGES_PER_REGION) throw new Error(`executor content line longer than a region: ${line.slice(0, 80)}`);
      if (TOKEN.kind === 0) for (let k = 0; k < n; k++) out.push(null);
      else if (TOKEN.kind === 1) for (let k = 0; k < n; k++) out.push(TOKEN.v);
      else for (let k = 0; k < n; k++) out.push(TOKEN.v + k);
      continue;
    }
    const m = /^(?:-(\d+)|(\d+)([x+])(\d+))$/.exec(tok);
    if (!m) throw new Error(`executor content line with a bad token ${JSON.stringify(tok.slice(0, 30))}: ${line.slice(0, 80)}`);
    const n = Number(m[1] ?? m[4]);
    if (out.length + n > MAX_PAGES_PER_REGION) throw new Error(`executor content line longer than a region: ${line.slice(0, 80)}`);
    if (m[1] !== undefined) { for (let k = 0; k < n; k++) out.push(null); continue; }
    if (m[2]!.length <= 15) {
      // below 10^15: V + k (k < a region's pages) stays a safe integer, no BigInt needed
      const v = Number(m[2]);
      for (let k = 0; k < n; k++) out.push(m[3] === '+' ? v + k : v);
      continue;
    }
    const big = BigInt(m[2]!);
    for (let k = 0; k < n; k++) {
      const v = m[3] === '+' ? big + BigInt(k) : big;
      out.push(v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : -1);
    }
  }
  return out;
}

/** what plainToken read: kind 0 `-N`, 1 `VxN`, 2 `V+N` */
const TOKEN = { kind: 0, v: 0, n: 0 };

/** Read a content token of at most 15 digits per number (exact in a double, as Number() reads
 *  them) into TOKEN; false for any other token (decodeContent's regex path decides). */
function plainToken(tok: string): boolean {
  const len = tok.length;
  let i = 0;
  let v = 0;
  let kind = 0;
  if (tok.charCodeAt(0) === 45 /* - */) i = 1;
  else {
    for (; i < len; i++) {
      const c = tok.charCodeAt(i);
      if (c >= 48 && c <= 57) v = v * 10 + (c - 48);
      else break;
    }
    if (i === 0 || i > 15 || i >= len) return false;
    const sep = tok.charCodeAt(i);
    if (sep === 120 /* x */) kind = 1;
    else if (sep === 43 /* + */) kind = 2;
    else return false;
    i++;
  }
  const start = i;
  let n = 0;
  for (; i < len; i++) {
    const c = tok.charCodeAt(i);
    if (c < 48 || c > 57) return false;
    n = n * 10 + (c - 48);
  }
  if (i === start || i - start > 15) return false;
  TOKEN.kind = kind; TOKEN.v = v; TOKEN.n = n;
  return true;
}

/** the name of the region the executor calls `rid` (its index in EncodedCase.regionNames) */
function regionName(enc: EncodedCase, rid: string): string {
  const n = enc.regionNames[Number(rid)];
  if (n === undefined) throw new Error(`executor named unknown region id ${rid}`);
  return n;
}

/** Build the steps of a trace from the executor's reply lines (between `begin` and `end`).
 *  `pagemapScan`: the host has PAGEMAP_SCAN. Without it the `zero` outcome cannot be known (the
 *  executor's supervisor prints it anyway), so it is dropped and the check infers it instead.
 *  The executor prints every region of every process after every op, most of them as the step
 *  before did: a `p` or `c` line the reply had already (the same line) gives the same array, not a
 *  new one (a step's array shared with an earlier step, as the model's observations share theirs,
 *  src/model/observe.ts; the check compares such a pair once, src/check/check.ts). A `g` line
 *  changes a copy of the array it marks, never one another step shows. */
export function decodeReply(lines: string[], enc: EncodedCase, softDirty: boolean, pagemapScan = true): { steps: Step[]; fault?: string } {
  const steps: Step[] = [];
  let fault: string | undefined;
  // an environment fault (a `u` line) ends what the trace may claim: the steps from it on are not the
  // case's, and a later fault line (e.g. the OOM killer ending the case under the same memory
  // pressure) must not replace it, or those steps would be compared
  let env: { fault: string; at: number } | undefined;
  let step: Step | undefined;
  /** the array each `p` and `c` line decoded to, by the line (the same line: the same array) */
  const seen = new Map<string, unknown[]>();
  for (const line of lines) {
    // a `p` or `c` line the reply had already: its array again, placed without splitting the line
    const kind = line.charCodeAt(0);
    if ((kind === 112 /* p */ || kind === 99 /* c */) && step) {
      const again = seen.get(line);
      if (again !== undefined) {
        const a = line.indexOf(' ', 2), b = line.indexOf(' ', a + 1);
        const proc = line.slice(2, a), region = regionName(enc, line.slice(a + 1, b < 0 ? line.length : b));
        const map = (kind === 112 ? step.pages! : (step.content ??= dict())) as Record<string, Record<string, unknown[]>>;
        (own(map, proc) ?? (map[proc] = dict()))[region] = again;
        continue;
      }
    }
    const t = line.split(' ');
    switch (t[0]) {
      case 's': {
        const op = Number(t[1]);
        // region-keyed records are prototype-free: a region may be called `__proto__`
        step = { op, rc: t[2] === '0' ? 0 : t[2], outcome: { huge: dict(), swapped_out: dict() }, events: [], pages: dict() };
        if (/^SIG/.test(t[2] ?? '') && !OP_SIGNALS.has(t[2])) fault ??= `step ${op}: the executor reported ${t[2]}, which no op raises (a signal from outside the case); not compared`;
        const why = enc.skipped.get(op);
        if (why !== undefined) step.skipped = why;
        steps.push(step);
        break;
      }
      case 'h': case 'o': case 'z': {
        if (!step) throw new Error(`executor line before any step: ${line}`);
        if (t[0] === 'z' && !pagemapScan) break;
        const key: keyof Outcome = t[0] === 'h' ? 'huge' : t[0] === 'o' ? 'swapped_out' : 'zero';
        step.outcome![key] ??= dict();
        step.outcome![key]![regionName(enc, t[1])] = t.slice(2).map(Number);
        break;
      }
      case 'e': {
        if (!step) throw new Error(`executor line before any step: ${line}`);
        const ev: UffdEvent = { kind: t[1] as UffdEvent['kind'], proc: Number(t[2]) };
        if (t[3] !== '-') { ev.region = regionName(enc, t[3]); ev.page = Number(t[4]); }
        if (t[5] !== '-') ev.child = Number(t[5]);
        step.events!.push(ev);
        break;
      }
      case 'p': {
        if (!step) throw new Error(`executor line before any step: ${line}`);
        const procPages = own(step.pages, t[1]) ?? (step.pages![t[1]] = dict());
        let strs = seen.get(line) as string[] | undefined;
        if (strs === undefined) seen.set(line, strs = decodePages(t[3] ?? '', softDirty, enc.letters ?? 6));
        procPages[regionName(enc, t[2])] = strs;
        break;
      }
      case 'g': {
        // guard pages (pagemap bit 58) of a region observed by the `p` line before: runs `first count`
        if (!step) throw new Error(`executor line before any step: ${line}`);
        const procPages = own(step.pages, t[1]), region = regionName(enc, t[2]);
        const shown = own(procPages, region);
        if (!shown) throw new Error(`executor guard line for a region it did not observe: ${line.slice(0, 80)}`);
        if (enc.letters !== 7) break; // a /1 case's trace has no G letter
        const strs = shown.slice(); // the `p` line's array may be another step's too
        for (let k = 3; k + 1 < t.length; k += 2) {
          for (let q = Number(t[k]); q < Number(t[k]) + Number(t[k + 1]) && q < strs.length; q++) strs[q] = strs[q].slice(0, 6) + 'G';
        }
        procPages![region] = strs;
        break;
      }
      case 'l': case 'r': {
        // `l rid first pages ...`: large folios the op's faults mapped (workers/executor/ptefarm-folio.h);
        // `r rid first pages ...`: the runs of pages of a shmem THP region the op's faults made
        // resident (ptefarm-observe.h resident_outcome)
        if (!step) throw new Error(`executor line before any step: ${line}`);
        const nums = t.slice(2).map(Number);
        const blocks: [number, number][] = [];
        for (let k = 0; k + 1 < nums.length; k += 2) blocks.push([nums[k], nums[k + 1]]);
        const key = t[0] === 'l' ? 'folio' : 'resident';
        step.outcome![key] ??= dict();
        step.outcome![key]![regionName(enc, t[1])] = blocks;
        break;
      }
      case 'w': {
        if (!step) throw new Error(`executor line before any step: ${line}`);
        step.outcome!.walk_end ??= dict();
        step.outcome!.walk_end![regionName(enc, t[1])] = Number(t[2]);
        break;
      }
      case 'n': {
        if (!step) throw new Error(`executor line before any step: ${line}`);
        const proc = t[1], region = regionName(enc, t[2]);
        const pages = own(own(step.pages, proc), region)?.length ?? Number(t[3]) + Number(t[4]);
        const strs = new Array<string>(pages).fill('-'.repeat(9));
        for (let k = 5; k + 2 < t.length; k += 3) {
          const s = Number(t[k]), e = Number(t[k + 1]), cats = scanLetters(Number(t[k + 2]));
          for (let q = Math.max(0, s); q < Math.min(e, pages); q++) strs[q] = cats;
        }
        step.scan = dict();
        step.scan[proc] = dict();
        step.scan[proc][region] = strs;
        break;
      }
      case 'u': {
        // the host changed this step behind the case (workers/executor/ptefarm-env.h): the step is
        // not the case's, and the case is an environment fault, never a violation
        if (!step) throw new Error(`executor line before any step: ${line}`);
        const [kind, proc, rid, page] = t.slice(1);
        const op = `op ${step.op} (${OP_NAMES[Number(enc.lines[step.op]?.split(' ')[0])] ?? '?'})`;
        fault = kind === 'khugepaged'
          ? `environment: khugepaged collapsed p${proc} ${regionName(enc, rid)} (the 2 MiB block at page ${page}) into a huge page during ${op}, which cannot map one there; throttle it with \`ptefarm setup --khugepaged\` (root)`
          : `environment: unrequested swap-out of p${proc} ${regionName(enc, rid)}[${page}] during ${op}: reclaim or migration took it, no pageout asked for it`;
        steps.pop();
        step = undefined;
        env ??= { fault, at: steps.length };
        break;
      }
      case 'c': {
        // the content read back (workers/executor/ptefarm-content.h): `c proc rid` and runs
        if (!step) throw new Error(`executor line before any step: ${line}`);
        const procContent = own(step.content ??= dict(), t[1]) ?? (step.content[t[1]] = dict());
        let vals = seen.get(line) as (number | null)[] | undefined;
        if (vals === undefined) seen.set(line, vals = decodeContent(t.slice(3), line));
        procContent[regionName(enc, t[2])] = vals;
        break;
      }
      case 'k': if (step) step.skipped = line.slice(2); break;
      case 'f': fault = line.slice(2); break;
      case 'x': break;
      default: throw new Error(`unexpected executor line: ${line.slice(0, 80)}`);
    }
  }
  if (env) { steps.length = env.at; fault = env.fault; }
  return { steps, fault };
}
