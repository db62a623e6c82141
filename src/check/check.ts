// The check: compare a trace with the reference model's prediction, fed the trace's outcomes.
// Skips '?' (a bit the target cannot show) and compares only what the trace observed; counts the
// compared and the masked bits per bit kind, and calls a case whose asserted bits were all masked
// a SKIP (assertedKinds). Called where a case ran (src/transport/verdict.ts, in pool threads and NATS
// workers), by the campaign's checker, the check/replay commands and the gate.
import type { Case, OpName } from '../ops/schema.ts';
import { BIT_LETTERS, BIT_NAMES, SCAN_LETTERS, SCAN_NAMES, geometryOfHost, TraceError, traceProblems, type Trace, type UffdEvent } from '../ops/trace.ts';
import { own } from '../ops/records.ts';
import { clip } from '../ops/bounded.ts';
import type { ModelOptions, PredictedStep, Prediction } from '../model/api.ts';
import { predict, sameModelOptions } from '../model/model.ts';
import { describeValue } from '../model/content.ts';
import { hostKnobs, profileForRelease, releaseKnobs } from '../model/profile.ts';
import { ALL_RULES } from '../model/catalogue.ts';
import type { BitCount, BitCounts, Severity, Verdict, Violation } from './types.ts';
import { assignDecisions } from './decisions.ts';
import { assignScanRules } from './scan-rules.ts';

export type { Verdict, Violation, Severity, BitCount, BitCounts } from './types.ts';

/** Bit kinds a case exists to exercise, by the ops it uses: soft-dirty when it resets soft-dirty
 *  (clear_refs 4, the only op that makes bit 55 say something), uffd-wp when it write-protects
 *  (a `wp` op, or a scan that write-protects matching pages). Kept deliberately simple: these are
 *  the bits the kernel selftests the seeds come from assert (soft-dirty.c asserts bit 55 after
 *  clear_refs; uffd-wp and pagemap_ioctl tests bit 57 after UFFDIO_WRITEPROTECT). */
export function assertedKinds(c: Case): Set<'soft-dirty' | 'uffd-wp'> {
  const out = new Set<'soft-dirty' | 'uffd-wp'>();
  for (const op of c.ops) {
    if (op.op === 'clear_refs' && (op.value ?? 4) === 4) out.add('soft-dirty');
    if (op.op === 'wp' || (op.op === 'scan' && op.wp_matching)) out.add('uffd-wp');
  }
  return out;
}

/** The bit kinds (BitCounts keys) each asserted kind is counted as. */
const ASSERTED_NAMES: Record<string, readonly string[]> = { 'soft-dirty': ['soft-dirty', 'scan:SOFT_DIRTY'], 'uffd-wp': ['uffd-wp'] };

/** The SKIP reason when the case passed only because every bit it asserts was masked: for each
 *  asserted kind, nothing of that kind was compared and something was masked. `also`: bit kinds
 *  (BitCounts keys) the caller knows the case asserts besides its ops' — a stored finding's
 *  signature (src/findings/signature.ts signatureBitKinds): a finding replayed compares at least
 *  the bits it diverged on, and is a SKIP only when those are masked too. */
export function maskedSkip(c: Case, bits: BitCounts, also: readonly string[] = []): string | undefined {
  const kinds: string[] = [...assertedKinds(c)];
  for (const k of also) {
    const own = Object.keys(ASSERTED_NAMES).find((a) => ASSERTED_NAMES[a]!.includes(k)) ?? k;
    if (!kinds.includes(own)) kinds.push(own);
  }
  if (!kinds.length) return undefined;
  const groups = kinds.map((k) => {
    const names = ASSERTED_NAMES[k] ?? [k];
    return { k, compared: names.reduce((n, x) => n + (bits[x]?.compared ?? 0), 0), masked: names.reduce((n, x) => n + (bits[x]?.masked ?? 0), 0) };
  });
  if (!groups.every((g) => g.compared === 0 && g.masked > 0)) return undefined;
  return `the case asserts ${kinds.join(' and ')}, which this target cannot show: ${groups.map((g) => `${g.masked} ${g.k} bit(s) masked, 0 compared`).join('; ')}`;
}

/** What a check is asked besides the model's options: `asserts`, bit kinds the case asserts
 *  besides its ops' (maskedSkip's `also`: a replayed finding's signature bits). */
export interface CheckOptions extends ModelOptions {
  asserts?: readonly string[];
  /** the prediction the trace was made from, with neutral outcomes, and its options: a model
   *  target's (src/targets/model.ts ownPrediction). The check uses it instead of predicting again
   *  when it would predict with the same options (sameModelOptions): the model predicts the same
   *  steps from the outcomes it reported as without them (test/check/own-prediction.test.ts). */
  own?: { prediction: Prediction; options: ModelOptions };
}

/** BitCounts key of each pagemap letter, by its index in a page string */
const PAGE_BIT_NAMES: readonly string[] = BIT_LETTERS.map((b) => BIT_NAMES[b]);
/** BitCounts key of each PAGEMAP_SCAN letter, by its index in a scan string */
const SCAN_BIT_NAMES: readonly string[] = SCAN_LETTERS.map((b) => `scan:${SCAN_NAMES[b]}`);
const STAR = 42, QUESTION = 63, DOT = 46; // '*' (not predicted), '?' (not shown), '.' (clear)

/** Rule families of each op: the fallback for a violation whose entry the op did not touch. */
const OP_FAMILY: Record<OpName, readonly string[]> = {
  mmap: ['R-MMAP', 'R-MERGE'], munmap: ['R-MUNMAP', 'R-EVT'], mremap: ['R-MRM'], mprotect: ['R-MPROT'], read: ['R-FLT', 'R-SWIN'],
  write: ['R-FLT', 'R-SWIN', 'R-SYNC', 'R-ASYNC'], fork: ['R-FORK'], exit: ['R-EXIT'], clear_refs: ['R-CR'], pageout: ['R-PO'],
  dontneed: ['R-DN', 'R-MADV'], collapse: ['R-COL'], split: ['R-SPLIT'], uffd_register: ['R-REG'], uffd_unregister: ['R-UNREG'],
  wp: ['R-WP'], scan: ['R-PMS'], populate: ['R-POP', 'R-FLT', 'R-SWIN'], close_uffd: ['R-CLOSE'],
  guard: ['R-GRD'], unguard: ['R-GRD'],
};
const CATALOGUE_ORDER = new Map(ALL_RULES.map((r, i) => [r.id, i]));
const isReadOut = (r: string) => r.startsWith('R-PM-');

// what a rule's catalogue text says it changes: soft-dirty (the entry bit or VM_SOFTDIRTY), uffd-wp
// (wp bits, uffd-wp markers, write-protection; a rule naming markers only as one kind of entry it
// moves, like R-MRM-1, does not)
const RULE_TEXT = new Map(ALL_RULES.map((r) => [r.id, r.text]));
const CONCERNS: Record<string, RegExp> = { D: /soft-dirty|VM_SOFTDIRTY/i, W: /\bwp\b|uffd-wp|write-protect/i };
/** Does rule `id` (by its catalogue text) concern pagemap bit `bit`? Bits other than D and W: yes. */
export function ruleConcerns(id: string, bit: string | undefined): boolean {
  const re = bit === undefined ? undefined : CONCERNS[bit];
  return !re || re.test(RULE_TEXT.get(id) ?? RULE_TEXT.get(id.split('.')[0]) ?? '');
}

/**
 * The most specific rule behind a divergence at a step: the last rule of the bit's history that the
 * step's own op applied (what the op did to this entry) — preferring, when the op applied several,
 * the last one whose catalogue text concerns the diverging bit (an mremap move sets soft-dirty by
 * R-MRM-1 and clears uffd-wp by R-MRM-6: a soft-dirty divergence is R-MRM-1's, a uffd-wp one
 * R-MRM-6's) —, else the first rule of the op's families that the op exercised, the op's own family
 * first, then in catalogue order (the op left this entry alone: e.g. R-MPROT-1), else the last non-read-out rule of the history,
 * else the read-out rule.
 */
export function mostSpecificRule(chain: readonly string[], stepRules: readonly string[], op: OpName | undefined, bit?: string): string {
  const mine = new Set(stepRules);
  let applied: string | undefined;
  for (let i = chain.length - 1; i >= 0; i--) {
    if (isReadOut(chain[i]) || !mine.has(chain[i])) continue;
    if (ruleConcerns(chain[i], bit)) return chain[i];
    applied ??= chain[i];
  }
  if (applied) return applied;
  const fam = op ? OP_FAMILY[op] : [];
  const famOf = (r: string) => fam.findIndex((f) => r === f || r.startsWith(f + '-') || r.startsWith(f + '.'));
  // the op's first family (its own: R-POP for populate, before the fault rules it runs) first
  const own = stepRules.filter((r) => famOf(r) >= 0)
    .sort((a, b) => famOf(a) - famOf(b) || (CATALOGUE_ORDER.get(a) ?? 1e9) - (CATALOGUE_ORDER.get(b) ?? 1e9) || a.localeCompare(b));
  if (own.length) return own[0];
  for (let i = chain.length - 1; i >= 0; i--) if (!isReadOut(chain[i])) return chain[i];
  return chain[chain.length - 1] ?? 'none';
}

function severity(bit: string, expected: string, actual: string): Severity {
  if (bit === 'D') return expected === '1' && actual === '0' ? 'lost' : expected === '0' && actual === '1' ? 'spurious' : 'mismatch';
  if (bit === 'W') return expected === '1' && actual === '0' ? 'wp-lost' : expected === '0' && actual === '1' ? 'wp-stale' : 'mismatch';
  if (bit === 'w') return expected === '1' && actual === '0' ? 'lost' : expected === '0' && actual === '1' ? 'spurious' : 'mismatch';
  return 'mismatch';
}

function describeOp(c: Case, i: number): string {
  const op = c.ops[i] as Record<string, unknown>;
  const parts = [String(op.op)];
  if (op.region !== undefined) parts.push(String(op.region));
  if (op.first !== undefined || op.count !== undefined) parts.push(`[${op.first ?? 0}${op.count !== undefined ? `+${op.count}` : ''}]`);
  if (op.proc !== undefined) parts.push(`by p${op.proc}`);
  return parts.join(' ');
}

const eventKey = (e: UffdEvent) => JSON.stringify([e.kind, e.proc, e.region ?? null, e.page ?? null, e.child ?? null]);

/** Check a trace against the model. `opts.mutant` checks against a mutant instead of the reference.
 *  A trace that does not fit the case (src/ops/trace.ts traceProblems) throws TraceError: bad
 *  input, not a verdict. A trace with a fault is never ok, whatever it compared. */
export function checkTrace(c: Case, trace: Trace, opts: CheckOptions = {}): Verdict {
  return checkCase(c, trace, opts).verdict;
}

/** checkTrace and, from the same prediction, the rule ids the reference exercised at each step
 *  (coverage feedback; empty when the target skipped the whole case). One prediction serves both,
 *  so the rules follow the traced kernel's profile and host knobs exactly as the verdict does;
 *  `profile` is the one it used. */
export function checkCase(c: Case, trace: Trace, checkOpts: CheckOptions = {}): { verdict: Verdict; stepRules: string[][]; profile?: string } {
  const { asserts, own: made, ...modelOpts } = checkOpts;
  let opts: ModelOptions = modelOpts;
  const problems = traceProblems(c, trace);
  if (problems.length) throw new TraceError(problems);
  if (trace.skipped !== undefined) return { verdict: { ok: true, compared: 0, bits: {}, violations: [], skipped: trace.skipped }, stepRules: [] };
  // the model's kernel profile follows the traced kernel unless the caller names one
  const profile = opts.profile ?? profileForRelease(trace.target.kernel);
  // and the host settings the target reports decide the knobs they govern
  // a kernel without soft-dirty never shows SOFT_DIRTY to PAGEMAP_SCAN's category masks either
  const noSd = trace.target.capabilities.soft_dirty === false ? { memSoftDirty: false } : {};
  const knobs = { ...releaseKnobs(trace.target.kernel), ...noSd, ...hostKnobs(trace.target.host), ...opts.knobs };
  // and page numbers count the target's pages (16 KiB on an arm64-16k kernel: docs/page-size.md)
  opts = { ...opts, knobs, geometry: opts.geometry ?? geometryOfHost(trace.target.host) };
  // one step per op at most, in op order (traceProblems): each op's step, or undefined
  const observed: Array<Trace['steps'][number] | undefined> = c.ops.map(() => undefined);
  for (const s of trace.steps) observed[s.op] ??= s;
  let pred = made && sameModelOptions(made.options, { ...opts, profile }) ? made.prediction : predict(c, observed, { ...opts, profile });
  const stepRules = pred.steps.map((s) => s.rules);
  const sd = trace.target.capabilities.soft_dirty !== false;
  let cmp = compareSteps(c, trace, pred.steps, sd);
  // rule attribution is costly: the prediction is made again with it, and compared again, only
  // for a trace that diverges (a page bit or a value differs)
  if (!opts.attribution && cmp.diverged) {
    pred = predict(c, observed, { ...opts, profile, attribution: true });
    cmp = compareSteps(c, trace, pred.steps, sd);
  }
  const { violations, compared, bits } = cmp;
  // the scan rules and decisions behind them need the attribution's provenance (a divergence in
  // rc, events or scan categories alone did not ask for it above)
  if (violations.length) {
    const explained = (pred.steps[0]?.reg ? pred : predict(c, observed, { ...opts, profile, attribution: true })).steps;
    assignScanRules(violations, explained, c);
    assignDecisions(violations, explained, c, trace);
  }
  const assumed = pred.assumptions.length ? { assumed: pred.assumptions } : {};
  if (trace.fault !== undefined) return { verdict: { ok: false, compared, bits, violations, fault: trace.fault || '(empty fault)', ...assumed }, stepRules, profile };
  const skipped = violations.length ? undefined : maskedSkip(c, bits, asserts);
  return { verdict: { ok: violations.length === 0, compared, bits, violations, ...(skipped ? { skipped } : {}), ...assumed }, stepRules, profile };
}

/** What comparing a trace's page array with the prediction's array `exp` counted, per letter (by
 *  its index in a page string), when it found no divergence */
interface PairCounts { exp: readonly string[]; compared: number[]; masked: number[] }
/** the same for an array of values read back: `content` compared and masked */
interface ContentCounts { exp: readonly (number | null)[] | undefined; compared: number; masked: number }

/** One bit of kind `kind` compared (its record made at its first count): 1, for the total. A module
 *  function, not a closure made per check (under tsx every closure made is named, trace.ts) */
function countCompared(bits: BitCounts, kind: string): number {
  (bits[kind] ??= { compared: 0, masked: 0 }).compared++;
  return 1;
}

/** Count `run` more pages whose trace string is `s` and predicted string `e`, after one such page
 *  was compared and matched (so it made every count record these need); returns the compared bits */
function countRun(s: string, e: string, run: number, pageCounts: Array<BitCount | undefined>, counts: PairCounts): number {
  let compared = 0;
  for (let k = 0, n = Math.min(s.length, e.length); k < n; k++) {
    if (e.charCodeAt(k) === STAR) continue;
    const rec = pageCounts[k]!;
    if (s.charCodeAt(k) === QUESTION) { rec.masked += run; counts.masked[k] += run; continue; }
    rec.compared += run;
    counts.compared[k] += run;
    compared += run;
  }
  return compared;
}

/** Compare every step of `trace` with the prediction `pred` (its steps): the violations, the
 *  compared and masked bits, and whether a page bit or a value diverges (then the prediction's
 *  provenance is wanted: checkCase predicts again with attribution and compares again). */
function compareSteps(c: Case, trace: Trace, pred: PredictedStep[], sd: boolean): { violations: Violation[]; compared: number; bits: BitCounts; diverged: boolean } {
  const violations: Violation[] = [];
  let compared = 0;
  let diverged = false;
  const bits: BitCounts = {};
  /** the count record of each pagemap letter (by index), once it was counted */
  const pageCounts: Array<BitCount | undefined> = [];
  /** the same for each PAGEMAP_SCAN letter */
  const scanCounts: Array<BitCount | undefined> = [];
  /** page arrays of the trace that matched the prediction's array `exp`, with what they counted */
  const matched = new Map<readonly string[], PairCounts>();
  /** the same for the values read back (compareContent) */
  const matchedContent = new Map<readonly (number | null)[], ContentCounts>();
  for (const step of trace.steps) {
    const ps: PredictedStep | undefined = pred[step.op];
    if (!ps) throw new TraceError([`step for op ${step.op}: the case has no such op`]);
    if (step.skipped !== undefined) {
      // a step the target skipped is not compared; what it shows still asks for attribution
      if (!diverged && stepDiverges(step, ps)) diverged = true;
      continue;
    }
    const opName = c.ops[step.op]?.op;
    if (ps.rc !== '*') {
      compared += countCompared(bits, 'rc');
      if (String(ps.rc) !== String(step.rc)) {
        const actual = clip(String(step.rc));
        const rules = ps.rcRules ?? ps.rules;
        violations.push(base(c, step.op, { kind: 'rc', bit: 'rc', expected: String(ps.rc), actual, rules, rule: ps.rcRules?.length ? ps.rcRules[ps.rcRules.length - 1] : mostSpecificRule([], ps.rules, opName), severity: 'mismatch', message: `${whereOf(c, step.op)}: returned ${actual}, x86 returns ${ps.rc} (${(ps.rcRules ?? ps.rules).join(', ')})` }));
      }
    }
    const scanOp = c.ops[step.op];
    const walkEnd = scanOp?.op === 'scan' ? own(step.outcome?.walk_end, scanOp.region) : undefined;
    if (walkEnd !== undefined && ps.walkEnd !== undefined) {
      // PAGEMAP_SCAN's walk_end, recorded as an outcome, is the kernel's answer to the case: compared (R-PMS-10)
      compared += countCompared(bits, 'scan:walk_end');
      if (walkEnd !== ps.walkEnd) {
        const rules = ps.rules.filter((r) => r.startsWith('R-PMS'));
        violations.push(base(c, step.op, {
          kind: 'scan', bit: 'walk_end', proc: scanOp!.proc ?? 0, region: (scanOp as { region: string }).region, expected: String(ps.walkEnd), actual: String(walkEnd),
          rules, rule: mostSpecificRule([], ps.rules, opName), severity: 'mismatch',
          message: `${whereOf(c, step.op)}: PAGEMAP_SCAN walk_end is page ${walkEnd}, x86 stops at page ${ps.walkEnd} (${rules.join(', ')})`,
        }));
      }
    }
    // keys, not entries: every step of every case passes here (a pair array per key was a fifth
    // of what a pool thread allocated per case)
    const stepPages = step.pages ?? {};
    for (const proc of Object.keys(stepPages)) {
      const regions = stepPages[proc]!;
      for (const region of Object.keys(regions)) {
        const strs = regions[region]!;
        const exp = own(own(ps.pages, proc), region);
        if (!exp) {
          violations.push(base(c, step.op, { kind: 'bit', bit: 'P', proc: Number(proc), region, expected: '(absent)', actual: 'observed', rules: ['R-EXIT-1'], severity: 'mismatch', message: `${whereOf(c, step.op)}: process ${proc} region ${region} is observed but x86 has no such live mapping view` }));
          continue;
        }
        // the same pair of arrays as an earlier step's, which matched: it counts what it counted
        // then (a region no op changed: the trace's decoder and the model's observer both keep
        // its array from step to step, src/targets/executor/protocol.ts, src/model/observe.ts)
        const again = matched.get(strs);
        if (again !== undefined && again.exp === exp) {
          for (let k = 0; k < again.compared.length; k++) {
            if (again.compared[k]! + again.masked[k]! === 0) continue;
            const rec = pageCounts[k]!; // counted by that step
            rec.compared += again.compared[k]!;
            rec.masked += again.masked[k]!;
            compared += again.compared[k]!;
          }
          continue;
        }
        const before = violations.length;
        const counts: PairCounts = { exp, compared: [0, 0, 0, 0, 0, 0, 0], masked: [0, 0, 0, 0, 0, 0, 0] };
        // pages that repeat the page before, which matched, count as it did: taken as a run
        // (runS, runE: that page's strings; a region is mostly runs of alike pages)
        let runS: string | undefined, runE: string | undefined, run = 0;
        for (let page = 0; page < strs.length; page++) {
          const s = strs[page]!, e = exp[page];
          if (e === undefined) continue;
          if (s === runS && e === runE) { run++; continue; }
          if (run) { compared += countRun(runS!, runE!, run, pageCounts, counts); run = 0; }
          const had = violations.length;
          // a six-letter string (a /1 case, or a target that does not show bit 58) leaves G uncompared
          for (let k = 0, n = Math.min(s.length, e.length); k < n; k++) {
            const ec = e.charCodeAt(k);
            if (ec === STAR) continue;
            const sc = s.charCodeAt(k);
            // every page of every step passes here: the bit's count is its own record, not a
            // lookup by name (countCompared would make it bits[name], created at the same first count)
            const rec = pageCounts[k] ??= (bits[PAGE_BIT_NAMES[k]!] ??= { compared: 0, masked: 0 });
            if (sc === QUESTION) { rec.masked++; counts.masked[k]++; continue; }
            rec.compared++;
            counts.compared[k]++;
            compared++;
            if ((sc === DOT) === (ec === DOT)) continue;
            const bit = BIT_LETTERS[k];
            const a = sc === DOT ? '0' : '1';
            const x = ec === DOT ? '0' : '1';
            const rules = own(own(ps.why, proc), region)?.[page]?.[k] ?? [];
            const sev = severity(bit, x, a);
            violations.push(base(c, step.op, {
              kind: 'bit', bit, proc: Number(proc), region, page, expected: x, actual: a, rules, rule: mostSpecificRule(rules, ps.rules, opName, bit), severity: sev,
              entry: own(own(ps.entry, proc), region)?.[page],
              message: `${whereOf(c, step.op)}: p${proc} ${region}[${page}] ${BIT_NAMES[bit]} is ${a}, x86 has ${x} (${sev}; ${rules.join(', ')})`,
            }));
          }
          if (violations.length === had) { runS = s; runE = e; } else runS = runE = undefined;
        }
        if (run) compared += countRun(runS!, runE!, run, pageCounts, counts);
        if (violations.length === before) matched.set(strs, counts);
      }
    }
    for (const [proc, regions] of Object.entries(step.scan ?? {})) {
      for (const [region, strs] of Object.entries(regions)) {
        const exp = own(own(ps.scan, proc), region);
        strs.forEach((s, page) => {
          const e = exp?.[page] ?? '---------';
          for (let k = 0; k < 9; k++) {
            const bit = SCAN_LETTERS[k];
            // scan strings cannot carry '?': SOFT_DIRTY is not compared where the target has no soft-dirty
            const masked = bit === 'd' && !sd && s[k] !== '-' && e[k] !== '-';
            // counted as bits[SCAN_BIT_NAMES[k]], with the record kept as pageCounts keeps its own
            const rec = scanCounts[k] ??= (bits[SCAN_BIT_NAMES[k]!] ??= { compared: 0, masked: 0 });
            if (masked) { rec.masked++; continue; }
            rec.compared++;
            compared++;
            const a = s[k] === '-' ? '-' : s[k] === '.' ? '0' : '1';
            const x = e[k] === '-' ? '-' : e[k] === '.' ? '0' : '1';
            if (a === x) continue;
            const rules = ps.rules.filter((r) => r.startsWith('R-PMS'));
            violations.push(base(c, step.op, {
              kind: 'scan', bit, proc: Number(proc), region, page, expected: x, actual: a, rules, rule: mostSpecificRule([], ps.rules, opName),
              severity: severity(bit, x, a), entry: own(own(ps.entry, proc), region)?.[page],
              message: `${whereOf(c, step.op)}: PAGEMAP_SCAN p${proc} ${region}[${page}] ${SCAN_NAMES[bit]} is ${a === '-' ? 'not reported' : a}, x86 has ${x === '-' ? 'not reported' : x} (${rules.join(', ')})`,
            }));
          }
        });
      }
    }
    compared += compareContent(c, step, ps, bits, violations, matchedContent);
    if (step.events) {
      compared += countCompared(bits, 'events');
      const want = ps.events.map(eventKey).sort();
      const got = step.events.map(eventKey).sort();
      if (JSON.stringify(want) !== JSON.stringify(got)) {
        violations.push(base(c, step.op, {
          kind: 'event', bit: 'events', expected: want.join(' ') || '(none)', actual: got.join(' ') || '(none)',
          rules: ps.rules, rule: mostSpecificRule([], ps.rules, opName), severity: 'mismatch', message: `${whereOf(c, step.op)}: uffd events ${got.join(' ') || '(none)'}, x86 delivers ${want.join(' ') || '(none)'} (${ps.rules.join(', ')})`,
        }));
      }
    }
  }
  diverged ||= violations.some((v) => v.kind === 'bit' || v.kind === 'data');
  return { violations, compared, bits, diverged };
}

/** "step N (OP REGION ...)": where a violation's message says it is */
function whereOf(c: Case, i: number): string {
  return `step ${i} (${describeOp(c, i)})`;
}

/** The rule that decided a value: the last content rule of its history the step's op applied (a
 *  swap-in, a CoW copy, a write), else the last of its history (what kept it: a swap-out). */
function contentRule(chain: readonly string[], stepRules: readonly string[]): string {
  const mine = new Set(stepRules);
  for (let i = chain.length - 1; i >= 0; i--) if (mine.has(chain[i])) return chain[i];
  return chain[chain.length - 1] ?? 'R-DATA-2';
}

/** The content oracle: every value a process read back (step.content) where the model maps a page
 *  is compared with what the page holds there (PredictedStep.content); a value read where the model
 *  maps nothing cannot be judged: masked (counted). A wrong value is a `data` violation named after
 *  the rule the step's op applied to the page (a swap-in, a CoW, a collapse), else the rule that
 *  decided the content (src/model/content.ts). */
function compareContent(c: Case, step: Trace['steps'][number], ps: PredictedStep,
  bits: BitCounts, violations: Violation[], matched: Map<readonly (number | null)[], ContentCounts>): number {
  let compared = 0;
  /** bits.content, made at its first count (the keys of `bits` keep the order of first counts) */
  let rec: BitCount | undefined;
  const content = step.content ?? {};
  for (const proc of Object.keys(content)) {
    const regions = content[proc]!;
    for (const region of Object.keys(regions)) {
      const vals = regions[region]!;
      const exp = own(own(ps.content, proc), region);
      // the same pair of arrays as an earlier step's, which matched: it counts what it counted then
      const again = matched.get(vals);
      if (again !== undefined && again.exp === exp) {
        if (again.compared + again.masked === 0) continue;
        rec ??= bits.content!; // counted by that step
        rec.compared += again.compared;
        rec.masked += again.masked;
        compared += again.compared;
        continue;
      }
      const before = violations.length;
      const counts: ContentCounts = { exp, compared: 0, masked: 0 };
      for (let page = 0; page < vals.length; page++) {
        const a = vals[page];
        // as forEach did: a hole is skipped (an explicit undefined is compared)
        if (a === null || (a === undefined && !(page in vals))) continue;
        const x = exp?.[page];
        rec ??= (bits.content ??= { compared: 0, masked: 0 });
        if (x === null || x === undefined) { rec.masked++; counts.masked++; continue; }
        rec.compared++;
        counts.compared++;
        compared++;
        if (a === x) continue;
        const entryWhy = own(own(ps.why, proc), region)?.[page]?.[0] ?? [];
        const cwhy = own(own(ps.contentWhy, proc), region)?.[page] ?? [];
        const rules = [...cwhy, ...entryWhy];
        const rule = contentRule(cwhy, ps.rules);
        violations.push(base(c, step.op, {
          kind: 'data', bit: 'content', proc: Number(proc), region, page, expected: String(x), actual: String(a), rules, rule, severity: 'data',
          entry: own(own(ps.entry, proc), region)?.[page],
          message: `${whereOf(c, step.op)}: p${proc} ${region}[${page}] reads ${describeValue(a)}, x86 has ${describeValue(x)} (data; ${rules.join(', ')})`,
        }));
      }
      if (violations.length === before) matched.set(vals, counts);
    }
  }
  return compared;
}

/** Does a page bit or a value of `step` differ from the prediction `ps` (for a step the target
 *  skipped, which is not compared: what it shows still asks for the prediction's provenance)? */
function stepDiverges(step: Trace['steps'][number], ps: PredictedStep): boolean {
  for (const [proc, regions] of Object.entries(step.content ?? {})) {
    for (const [region, vals] of Object.entries(regions)) {
      const exp = own(own(ps.content, proc), region);
      if (vals.some((a, k) => a !== null && exp?.[k] != null && exp[k] !== a)) return true;
    }
  }
  for (const [proc, regions] of Object.entries(step.pages ?? {})) {
    for (const [region, strs] of Object.entries(regions)) {
      const exp = own(own(ps.pages, proc), region);
      if (!exp) return true;
      for (let page = 0; page < strs.length; page++) {
        const s = strs[page], e = exp[page];
        if (e === undefined || s === e) continue;
        for (let k = 0, n = Math.min(s.length, e.length); k < n; k++) if (s[k] !== '?' && e[k] !== '*' && (s[k] === '.') !== (e[k] === '.')) return true;
      }
    }
  }
  return false;
}

function base(c: Case, step: number, v: Omit<Violation, 'step' | 'op'>): Violation {
  return { step, op: c.ops[step]?.op ?? 'mmap', ...v };
}
