// The campaign's view of the check: a trace → violations + the model rules each step exercised
// (coverage) + a signature per violation. The reference checker's check is the one workers make
// where the case ran (src/transport/verdict.ts; `request` asks them for it), so the campaign checks
// here only results that come without a verdict (a transport that does not check, a custom
// checker). Tests may inject synthetic checkers (without `request`: checked here).
import type { Case } from '../ops/schema.ts';
import type { Trace } from '../ops/trace.ts';
import type { Violation } from '../check/types.ts';
import type { CheckRequest } from '../transport/transport.ts';

export interface CheckOutcome {
  violations: Violation[];
  /** per step, the rule ids the reference exercised (coverage feedback) */
  stepRules: string[][];
  skipped?: string;
  fault?: string;
}

export interface Checker {
  check(c: Case, trace: Trace): CheckOutcome;
  /** the signature of one violation (src/findings/signature.ts); a case's signature is that of
   *  its first divergence's root (caseSignature) */
  signature(v: Violation): string;
  /** size of the rule catalogue (coverage denominator) */
  readonly rulesTotal: number;
  /** the catalogue's rule ids; when given, coverage counts only these */
  readonly catalogue?: ReadonlySet<string>;
  /** the job field that makes a worker check a case exactly as `check` would (undefined: a check
   *  only this process can make; results are checked here) */
  readonly request?: CheckRequest;
}

/** The reference checker (x86 model, optional profile). Loaded lazily so tests can run without it. */
export async function referenceChecker(opts: { profile?: string } = {}): Promise<Checker> {
  const [{ signature }, { ALL_RULES }, { checkWhereRun }] = await Promise.all([
    import('../findings/signature.ts'),
    import('../model/catalogue.ts'),
    import('../transport/verdict.ts'),
  ]);
  const request: CheckRequest = opts.profile ? { profile: opts.profile } : {};
  return {
    rulesTotal: ALL_RULES.length,
    catalogue: new Set(ALL_RULES.map((r) => r.id)),
    signature,
    request,
    check(c, trace) {
      // the very check a worker makes (one prediction; a trace that does not fit is a fault)
      const v = checkWhereRun(c, trace, request);
      return { violations: v.violations, stepRules: v.step_rules, skipped: v.skipped, fault: v.fault };
    },
  };
}
