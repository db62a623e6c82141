// Names shared by every report: one test per corpus case and one per bucket, plus the campaign.
import type { CorpusResult, GateBucket, GateRun } from './run.ts';

export const corpusTestName = (r: CorpusResult) => `corpus ${r.path}`;
/** a bucket's test name: its title first (what a maintainer reads), then the signature (what a baseline matches) */
export const bucketTestName = (b: GateBucket) => `bucket ${b.title} [${b.signature}]`;
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
  return `${what}; reproduced ${b.reproduced}/${b.runs}; ${b.hits} hit(s); ${b.ops} op(s)${b.minimized ? ' minimized' : ''}; first divergence at step ${b.step}` +
    `${b.consequences ? ` (${b.consequences} later violation(s): consequences)` : ''}; from ${b.source}`;
}
