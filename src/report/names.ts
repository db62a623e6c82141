// Names shared by every report: one test per corpus case and one per bucket, plus the campaign.
import type { CorpusResult, GateBucket, GateRun } from './gate.ts';

export const corpusTestName = (r: CorpusResult) => `corpus ${r.path}`;
export const bucketTestName = (b: GateBucket) => `bucket ${b.signature}`;
export const campaignTestName = (run: GateRun) =>
  `campaign ${run.campaign ? `${run.campaign.cases} fresh cases` : 'not run'} (seed ${run.seed})`;

export function campaignLine(run: GateRun): string {
  const c = run.campaign;
  if (!c) return 'no fresh cases (no --cases/--duration budget)';
  return `${c.cases} fresh cases in ${c.elapsed_s} s (${c.cases_per_s} cases/s), ${c.violations} violating, ${c.faults} faults, ${c.skipped} skipped; ` +
    `rules covered ${c.coverage.rules_hit}/${c.coverage.rules_total}; ${c.buckets} bucket(s); stopped: ${c.stopped}`;
}

export function bucketLine(b: GateBucket): string {
  const what = b.status === 'new' ? 'NEW' : b.status === 'flaky' ? 'flaky' : `baseline: ${b.reason}`;
  return `${what}; reproduced ${b.reproduced}/${b.runs}; ${b.hits} hit(s); ${b.ops} op(s)${b.minimized ? ' minimized' : ''}; from ${b.source}`;
}
