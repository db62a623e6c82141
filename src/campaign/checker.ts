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
  check(c: Case, trace: Trace): CheckOutcome;
  signature(v: Violation): string;
  /** size of the rule catalogue (coverage denominator) */
  readonly rulesTotal: number;
}

/** The reference checker (x86 model, optional profile). Loaded lazily so tests can run without it. */
export async function referenceChecker(opts: { profile?: string } = {}): Promise<Checker> {
  const [{ checkTrace, signature }, { predict }, rules] = await Promise.all([
    import('../check/check.ts'),
    import('../model/model.ts'),
    import('../model/rules.ts'),
  ]);
  const catalogue = (rules as { RULES?: unknown[]; MODEL_RULES?: unknown[] }).RULES ?? (rules as { MODEL_RULES?: unknown[] }).MODEL_RULES ?? [];
  const mopts = opts.profile ? { profile: opts.profile } : {};
  return {
    rulesTotal: catalogue.length,
    signature,
    check(c, trace) {
      const v = checkTrace(c, trace, mopts);
      let stepRules: string[][] = [];
      if (!v.fault && !v.skipped) {
        try {
          stepRules = predict(c, trace.steps, mopts).steps.map((s) => s.rules);
        } catch { stepRules = []; }
      }
      return { violations: v.violations, stepRules, skipped: v.skipped, fault: v.fault };
    },
  };
}
