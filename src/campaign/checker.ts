// The campaign's view of the check: a trace → violations + the model rules each step exercised
// (coverage) + a signature per violation. The default implementation uses the reference model and
// src/check; tests may inject synthetic checkers.
import type { Case } from '../ops/schema.ts';
import type { Trace } from '../ops/trace.ts';
import type { Violation } from '../check/types.ts';

export interface CheckOutcome {
  violations: Violation[];
  /** per step, the rule ids the reference exercised (coverage feedback) */
  stepRules: string[][];
  skipped?: string;
  fault?: string;
}

export interface Checker {
  /** `stepRules`, when the executor already computed the reference's per-step rules, saves a prediction */
  check(c: Case, trace: Trace, stepRules?: string[][]): CheckOutcome;
  /** the signature of one violation (src/findings/signature.ts); a case's signature is that of
   *  its first divergence's root (caseSignature) */
  signature(v: Violation): string;
  /** size of the rule catalogue (coverage denominator) */
  readonly rulesTotal: number;
  /** the catalogue's rule ids; when given, coverage counts only these */
  readonly catalogue?: ReadonlySet<string>;
}

/** The reference checker (x86 model, optional profile). Loaded lazily so tests can run without it. */
export async function referenceChecker(opts: { profile?: string } = {}): Promise<Checker> {
  const [{ checkTrace }, { signature }, { predict }, { ALL_RULES }, { TraceError, geometryOfHost }] = await Promise.all([
    import('../check/check.ts'),
    import('../findings/signature.ts'),
    import('../model/model.ts'),
    import('../model/catalogue.ts'),
    import('../ops/trace.ts'),
  ]);
  const mopts = opts.profile ? { profile: opts.profile } : {};
  return {
    rulesTotal: ALL_RULES.length,
    catalogue: new Set(ALL_RULES.map((r) => r.id)),
    signature,
    check(c, trace, known) {
      let v;
      try { v = checkTrace(c, trace, mopts); } catch (e) {
        // a trace that does not fit its case is the target's fault, never a verdict on the kernel
        if (e instanceof TraceError) return { violations: [], stepRules: [], fault: `target returned an ${e.message}` };
        throw e;
      }
      let stepRules: string[][] = known ?? [];
      // a SKIP because every asserted bit was masked still ran: its rules count as coverage
      if (!known && !v.fault && (!v.skipped || trace.steps.length)) {
        try {
          stepRules = predict(c, c.ops.map((_, i) => trace.steps.find((s) => s.op === i)), { ...mopts, geometry: geometryOfHost(trace.target.host) }).steps.map((s) => s.rules);
        } catch { stepRules = []; }
      }
      return { violations: v.violations, stepRules, skipped: v.skipped, fault: v.fault };
    },
  };
}

/** A job that also asks the executor for the reference's per-step rule ids (coverage), so the
 *  coordinator need not run a second prediction. Transports that ignore it are fine. */
export interface CoverageRequest { coverage?: { profile?: string } }
/** A result that may carry those rule ids. */
export interface CoverageResult { step_rules?: string[][] }

/** The reference's per-step rule ids for a trace (what `coverage` asks an executor to compute). */
export async function stepRulesOf(c: Case, trace: Trace, profile?: string): Promise<string[][]> {
  const [{ predict }, { geometryOfHost }] = await Promise.all([import('../model/model.ts'), import('../ops/trace.ts')]);
  const geometry = geometryOfHost(trace.target.host);
  return predict(c, c.ops.map((_, i) => trace.steps.find((s) => s.op === i)), profile ? { profile, geometry } : { geometry }).steps.map((s) => s.rules);
}
