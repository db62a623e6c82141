// The campaign's result handler: a case's result → its verdict (made where the case ran; a result
// without one is checked here by the campaign's checker) → counts, coverage, buckets (dedup) and
// events. It predicts nothing itself when the transport's workers check. Used by runCampaign for
// generated cases and by the campaign's jobs (src/campaign/jobs.ts) for the cases they submit.
import type { Case } from '../ops/schema.ts';
import type { TargetInfo } from '../ops/trace.ts';
import type { Violation } from '../check/types.ts';
import type { CaseJob, CaseResult } from '../transport/transport.ts';
import { rootInfo } from '../findings/title.ts';
import type { Checker, CheckOutcome } from './checker.ts';
import { Dedup, type RootInfo } from './dedup.ts';
import type { CampaignEvent, Stats } from './campaign.ts';

export interface Handled {
  /** coverage feedback for the scheduler (null: the case taught nothing, e.g. a fault) */
  rules: string[][] | null;
  /** the signature of a bucket this case opened */
  opened?: string;
}

export class ResultHandler {
  readonly dedup = new Dedup();
  /** rules seen in any checked result so far (display/summary; guidance uses the lagged feedback) */
  readonly rulesHit = new Set<string>();
  /** the target facts of the trace that opened each bucket */
  readonly infoOf = new Map<string, TargetInfo>();
  readonly stats: Stats;
  /** root info of cases already judged (the minimizer's), so a minimized case needs no extra run */
  private readonly judged = new WeakMap<Case, RootInfo>();

  constructor(
    private readonly checker: Checker,
    private readonly emit: (e: CampaignEvent) => void,
    private readonly now: () => number,
  ) {
    this.stats = { cases: 0, completed: 0, violations: 0, faults: 0, skipped: 0, elapsedMs: 0, rulesHit: 0, rulesTotal: checker.rulesTotal, buckets: 0, inflight: 0 };
  }

  /** The job for case `c`: it asks for the check where it runs when the checker is one a worker makes. */
  jobOf(id: string, target: string, c: Case): CaseJob {
    return this.checker.request ? { id, target, case: c, check: this.checker.request } : { id, target, case: c };
  }

  /** The check of a result: the verdict made where it ran, else made here; a fault when there is none. */
  outcomeOf(c: Case, res: CaseResult): CheckOutcome | { fault: string } {
    if (res.fault !== undefined || res.trace?.fault !== undefined) return { fault: res.fault ?? res.trace?.fault ?? '(empty fault)' };
    const v = this.checker.request ? res.verdict : undefined;
    if (v) return { violations: v.violations, stepRules: v.step_rules, skipped: v.skipped, fault: v.fault };
    if (!res.trace) return { fault: 'no trace' };
    try { return this.checker.check(c, res.trace); } catch (e) { return { fault: `check: ${(e as Error).message}` }; }
  }

  /** signature and root info of a failing case (its first divergence); undefined when it passes */
  judge(c: Case, vs: Violation[]): { sig: string; info: RootInfo } | undefined {
    const info = rootInfo(vs, c);
    return info && { sig: this.checker.signature(info.root), info };
  }

  /** The signatures of one run of `c` (the minimizer's predicate): [] when it passes, undefined
   *  when it says nothing (no result, a fault, a SKIP). */
  sigsOf(c: Case, res: CaseResult | undefined): string[] | undefined {
    if (!res) return undefined;
    const out = this.outcomeOf(c, res);
    if (!('violations' in out) || out.fault || out.skipped) return undefined;
    const j = this.judge(c, out.violations);
    if (!j) return [];
    this.judged.set(c, j.info);
    return [j.sig];
  }

  /** root info of a case whose run this handler judged */
  known(c: Case): RootInfo | undefined { return this.judged.get(c); }

  /** A generated case's result: counted, its coverage noted, its violation bucketed, events emitted. */
  handle(index: number, c: Case, res: CaseResult): Handled {
    const { stats } = this;
    stats.completed++;
    const out = this.outcomeOf(c, res);
    if (out.fault !== undefined || !('violations' in out)) {
      stats.faults++;
      this.emit({ type: 'fault', index, fault: out.fault || '(empty fault)', case: c });
      return { rules: null };
    }
    if (out.skipped) {
      stats.skipped++;
      // a case skipped because its asserted bits were masked still ran: coverage feedback
      return { rules: out.stepRules.length === c.ops.length ? out.stepRules : null };
    }
    const rules = out.stepRules;
    const catalogue = this.checker.catalogue;
    for (const rs of rules) for (const r of rs) if (!catalogue || catalogue.has(r)) this.rulesHit.add(r);
    const j = this.judge(c, out.violations);
    if (!j) return { rules };
    stats.violations++;
    const rec = this.dedup.record(c, j.sig, j.info, { index, ms: this.now() });
    this.emit({ type: 'violation', index, signature: j.sig, title: j.info.title });
    if (rec !== 'new') return { rules };
    this.emit({ type: 'bucket', signature: j.sig, index, ms: this.now(), example: j.info.line, case: c, trace: res.trace });
    stats.buckets = this.dedup.size;
    if (res.trace) this.infoOf.set(j.sig, res.trace.target);
    return { rules, opened: j.sig };
  }
}
