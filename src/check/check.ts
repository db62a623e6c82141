// The check: compare a trace with the reference model's prediction, fed the trace's outcomes.
// Skips '?' (a bit the target cannot show) and compares only what the trace observed.
import type { Case } from '../ops/schema.ts';
import { BIT_LETTERS, BIT_NAMES, SCAN_LETTERS, SCAN_NAMES, TraceError, traceProblems, type Trace, type UffdEvent } from '../ops/trace.ts';
import { own } from '../ops/records.ts';
import { clip } from '../ops/bounded.ts';
import type { EntryClass, ModelOptions, PredictedStep } from '../model/api.ts';
import { predict } from '../model/model.ts';
import { hostKnobs, profileForRelease } from '../model/profile.ts';
import type { Severity, Verdict, Violation } from './types.ts';

export type { Verdict, Violation, Severity } from './types.ts';

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
export function checkTrace(c: Case, trace: Trace, opts: ModelOptions = {}): Verdict {
  const problems = traceProblems(c, trace);
  if (problems.length) throw new TraceError(problems);
  if (trace.skipped !== undefined) return { ok: true, compared: 0, violations: [], skipped: trace.skipped };
  // the model's kernel profile follows the traced kernel unless the caller names one
  const profile = opts.profile ?? profileForRelease(trace.target.kernel);
  // and the host settings the target reports decide the knobs they govern
  const knobs = { ...hostKnobs(trace.target.host), ...opts.knobs };
  opts = { ...opts, knobs };
  const observed = c.ops.map((_, i) => trace.steps.find((s) => s.op === i));
  let pred = predict(c, observed, { ...opts, profile });
  // rule attribution is costly: compute it only for a trace that diverges
  if (!opts.attribution && diverges(pred.steps, trace)) pred = predict(c, observed, { ...opts, profile, attribution: true });
  const violations: Violation[] = [];
  let compared = 0;
  const sd = trace.target.capabilities.soft_dirty !== false;
  for (const step of trace.steps) {
    const ps: PredictedStep | undefined = pred.steps[step.op];
    if (!ps) throw new TraceError([`step for op ${step.op}: the case has no such op`]);
    if (step.skipped !== undefined) continue;
    const where = `step ${step.op} (${describeOp(c, step.op)})`;
    if (ps.rc !== '*') {
      compared++;
      if (String(ps.rc) !== String(step.rc)) {
        const actual = clip(String(step.rc));
        violations.push(base(c, step.op, { kind: 'rc', bit: 'rc', expected: String(ps.rc), actual, rules: ps.rcRules ?? ps.rules, severity: 'mismatch', message: `${where}: returned ${actual}, x86 returns ${ps.rc} (${(ps.rcRules ?? ps.rules).join(', ')})` }));
      }
    }
    for (const [proc, regions] of Object.entries(step.pages ?? {})) {
      for (const [region, strs] of Object.entries(regions)) {
        const exp = own(own(ps.pages, proc), region);
        if (!exp) {
          violations.push(base(c, step.op, { kind: 'bit', bit: 'P', proc: Number(proc), region, expected: '(absent)', actual: 'observed', rules: ['R-EXIT-1'], severity: 'mismatch', message: `${where}: process ${proc} region ${region} is observed but x86 has no such live mapping view` }));
          continue;
        }
        strs.forEach((s, page) => {
          const e = exp[page];
          if (e === undefined) return;
          for (let k = 0; k < 6; k++) {
            if (s[k] === '?' || e[k] === '*') continue;
            compared++;
            const a = s[k] === '.' ? '0' : '1';
            const x = e[k] === '.' ? '0' : '1';
            if (a === x) continue;
            const bit = BIT_LETTERS[k];
            const rules = own(own(ps.why, proc), region)?.[page]?.[k] ?? [];
            const sev = severity(bit, x, a);
            violations.push(base(c, step.op, {
              kind: 'bit', bit, proc: Number(proc), region, page, expected: x, actual: a, rules, severity: sev,
              entry: own(own(ps.entry, proc), region)?.[page],
              message: `${where}: p${proc} ${region}[${page}] ${BIT_NAMES[bit]} is ${a}, x86 has ${x} (${sev}; ${rules.join(', ')})`,
            }));
          }
        });
      }
    }
    for (const [proc, regions] of Object.entries(step.scan ?? {})) {
      for (const [region, strs] of Object.entries(regions)) {
        const exp = own(own(ps.scan, proc), region);
        strs.forEach((s, page) => {
          const e = exp?.[page] ?? '---------';
          for (let k = 0; k < 9; k++) {
            // scan strings cannot carry '?': SOFT_DIRTY is not compared where the target has no soft-dirty
            if (SCAN_LETTERS[k] === 'd' && !sd && s[k] !== '-' && e[k] !== '-') continue;
            compared++;
            const a = s[k] === '-' ? '-' : s[k] === '.' ? '0' : '1';
            const x = e[k] === '-' ? '-' : e[k] === '.' ? '0' : '1';
            if (a === x) continue;
            const bit = SCAN_LETTERS[k];
            const rules = ps.rules.filter((r) => r.startsWith('R-PMS'));
            violations.push(base(c, step.op, {
              kind: 'scan', bit, proc: Number(proc), region, page, expected: x, actual: a, rules,
              severity: severity(bit, x, a), entry: own(own(ps.entry, proc), region)?.[page],
              message: `${where}: PAGEMAP_SCAN p${proc} ${region}[${page}] ${SCAN_NAMES[bit]} is ${a === '-' ? 'not reported' : a}, x86 has ${x === '-' ? 'not reported' : x} (${rules.join(', ')})`,
            }));
          }
        });
      }
    }
    if (step.events) {
      compared++;
      const want = ps.events.map(eventKey).sort();
      const got = step.events.map(eventKey).sort();
      if (JSON.stringify(want) !== JSON.stringify(got)) {
        violations.push(base(c, step.op, {
          kind: 'event', bit: 'events', expected: want.join(' ') || '(none)', actual: got.join(' ') || '(none)',
          rules: ps.rules, severity: 'mismatch', message: `${where}: uffd events ${got.join(' ') || '(none)'}, x86 delivers ${want.join(' ') || '(none)'} (${ps.rules.join(', ')})`,
        }));
      }
    }
  }
  const faulted = trace.fault !== undefined;
  return {
    ok: violations.length === 0 && !faulted, compared, violations, ...(faulted ? { fault: trace.fault || '(empty fault)' } : {}),
    ...(pred.assumptions.length ? { assumed: pred.assumptions } : {}),
  };
}

/** Any bit of the trace differs from the prediction (a quick pass without attribution). */
function diverges(steps: PredictedStep[], trace: Trace): boolean {
  for (const step of trace.steps) {
    const ps = steps[step.op];
    if (!ps) return true;
    for (const [proc, regions] of Object.entries(step.pages ?? {})) {
      for (const [region, strs] of Object.entries(regions)) {
        const exp = own(own(ps.pages, proc), region);
        if (!exp) return true;
        for (let page = 0; page < strs.length; page++) {
          const s = strs[page], e = exp[page];
          if (e === undefined || s === e) continue;
          for (let k = 0; k < 6; k++) if (s[k] !== '?' && e[k] !== '*' && (s[k] === '.') !== (e[k] === '.')) return true;
        }
      }
    }
  }
  return false;
}

function base(c: Case, step: number, v: Omit<Violation, 'step' | 'op'>): Violation {
  return { step, op: c.ops[step]?.op ?? 'mmap', ...v };
}

/** The dedup signature of a violation: bit, direction, the rule that last decided it, op kind, entry class. */
export function signature(v: Violation): string {
  const rule = v.rules[v.rules.length - 1] ?? 'none';
  const entry: EntryClass | 'na' = v.entry ?? 'na';
  return `${v.kind}.${v.bit}.${v.severity}.${rule}.${v.op}.${entry}`;
}
