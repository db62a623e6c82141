// The check made where a case ran: a pool thread (workers/task.ts, which NATS workers run too) or
// the in-process transport checks the trace it just produced with one prediction of the reference
// model (src/check/check.ts checkCase) and answers with the verdict, the violations and the rules
// the prediction exercised, so the coordinator predicts nothing. Also the coordinator's checks of a
// verdict that arrived over the wire (verdictSchema, verdictProblems): a NATS result is accepted only
// for the job it answers (src/transport/nats.ts), and then only when its verdict is consistent.
import { hash } from 'node:crypto';
import { z } from 'zod';
import { checkCase } from '../check/check.ts';
import { ownPrediction } from '../targets/model.ts';
import { OP_NAMES } from '../ops/schema.ts';
import { TraceError, type Trace } from '../ops/trace.ts';
import type { CaseJob, CaseResult, CaseVerdict, CheckRequest } from './transport.ts';

/** The identity of a trace as a verdict names it: sha-256 of its JSON (key order as produced; a
 *  JSON round trip or a structured clone keeps it), 32 hex digits. */
export function traceDigest(trace: Trace): string {
  return hash('sha256', JSON.stringify(trace), 'hex').slice(0, 32);
}

/** Check `trace` of `c` as the campaign's reference checker would (src/campaign/checker.ts: the
 *  same checkCase with the same profile option). Never throws: a trace that does not fit its case,
 *  or a check that fails, is a verdict with a fault. No trace digest (withVerdict adds it when the
 *  trace goes along). */
export function checkWhereRun(c: CaseJob['case'], trace: Trace, req: CheckRequest = {}): CaseVerdict {
  try {
    // a model target's trace is checked against the prediction it was made from where that is
    // the prediction the check would make (one run of the model per case, not two)
    const own = ownPrediction(trace);
    const { verdict, stepRules, profile } = checkCase(c, trace, { ...(req.profile ? { profile: req.profile } : {}), ...(own ? { own } : {}) });
    return {
      ok: verdict.ok, violations: verdict.violations, step_rules: stepRules,
      ...(verdict.skipped !== undefined ? { skipped: verdict.skipped } : {}),
      ...(verdict.fault !== undefined ? { fault: verdict.fault } : {}),
      ...(profile ? { profile } : {}),
    };
  } catch (e) {
    // a trace that does not fit its case is the target's fault, never a verdict on the kernel
    const fault = e instanceof TraceError ? `target returned an ${e.message}` : `check: ${(e as Error).message ?? String(e)}`;
    return { ok: false, violations: [], step_rules: [], fault };
  }
}

/** A verdict that found nothing: no violation, no fault (a SKIP passes). */
export const passes = (v: CaseVerdict): boolean => v.ok && v.fault === undefined && v.violations.length === 0;

/** `res` with the check `job` asked for: the verdict added, and the trace left out when the case
 *  passed and the job wants only failing traces (else the verdict names the trace it goes with).
 *  A result without a trace, or with a faulted one, is unchanged. */
export function withVerdict(job: CaseJob, res: CaseResult): CaseResult {
  if (!job.check || !res.trace || res.fault !== undefined || res.trace.fault !== undefined) return res;
  const verdict = checkWhereRun(job.case, res.trace, job.check);
  if (passes(verdict) && (job.check.traces ?? 'failing') === 'failing') {
    const { trace: _left, ...rest } = res;
    return { ...rest, verdict };
  }
  return { ...res, verdict: { ...verdict, trace_digest: traceDigest(res.trace) } };
}

const str = (max: number) => z.string().max(max);

/** A verdict as read from the wire: bounded, every field typed (anyone with publish rights may have
 *  written it; src/transport/nats-common.ts parses result messages with it). Unknown keys are
 *  dropped, not refused: a newer worker's extra field must not leave its case unanswered. */
export const verdictSchema = z.object({
  ok: z.boolean(),
  violations: z.array(z.object({
    kind: z.enum(['bit', 'scan', 'rc', 'event', 'data']),
    step: z.number().int().min(0),
    op: z.enum(OP_NAMES),
    proc: z.number().int().min(0).optional(),
    region: str(200).optional(),
    page: z.number().int().min(0).optional(),
    bit: str(40),
    expected: str(4000),
    actual: str(4000),
    rules: z.array(str(200)).max(10_000),
    rule: str(200).optional(),
    severity: z.enum(['data', 'lost', 'spurious', 'wp-lost', 'wp-stale', 'mismatch']),
    entry: str(40).optional(),
    message: str(20_000),
  })).max(100_000),
  step_rules: z.array(z.array(str(200)).max(10_000)).max(100_000),
  skipped: str(4000).optional(),
  fault: str(20_000).optional(),
  profile: str(40).optional(),
  trace_digest: z.string().regex(/^[0-9a-f]{32}$/, 'expected 32 hex digits').optional(),
});

/** Why a (schema-valid) verdict in `res` cannot be the check of case `c`, or undefined: it
 *  contradicts itself, names steps the case lacks, fails without the trace it failed on, or comes
 *  with a trace other than the one it names. */
export function verdictProblems(c: CaseJob['case'], res: CaseResult): string | undefined {
  const v = res.verdict;
  if (!v) return undefined;
  const n = c.ops.length;
  if (v.ok !== (v.violations.length === 0 && v.fault === undefined)) return `verdict: ok is ${v.ok} with ${v.violations.length} violation(s)${v.fault !== undefined ? ' and a fault' : ''}`;
  if (v.step_rules.length !== 0 && v.step_rules.length !== n) return `verdict: rules for ${v.step_rules.length} step(s), the case has ${n} op(s)`;
  const bad = v.violations.find((x) => x.step >= n);
  if (bad) return `verdict: a violation at step ${bad.step}, the case has ${n} op(s)`;
  if (!passes(v) && !res.trace) return 'verdict: fails without the trace it failed on';
  if (res.trace && v.trace_digest === undefined) return 'verdict: comes with a trace it does not name';
  if (res.trace && traceDigest(res.trace) !== v.trace_digest) return `verdict: names trace ${v.trace_digest}, the result carries another`;
  return undefined;
}
