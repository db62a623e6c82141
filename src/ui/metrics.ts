// /metrics of the live dashboard: a campaign's snapshot (src/ui/state.ts) in the Prometheus text
// exposition format 0.0.4 (# HELP / # TYPE lines, counters ending in _total, label values escaped).
// Used by src/ui/server.ts.
import type { DashboardSnapshot } from './state.ts';

export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

type Labels = Record<string, string>;

/** a label value as the format wants it: backslash, double quote and newline escaped */
const labelValue = (v: string) => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
const labels = (l: Labels) => {
  const e = Object.entries(l);
  return e.length ? `{${e.map(([k, v]) => `${k}="${labelValue(v)}"`).join(',')}}` : '';
};
const num = (x: number) => (Number.isFinite(x) ? String(x) : x > 0 ? '+Inf' : x < 0 ? '-Inf' : 'NaN');

export function toPrometheus(s: DashboardSnapshot): string {
  const out: string[] = [];
  const family = (name: string, type: 'counter' | 'gauge', help: string, samples: [Labels, number][]) => {
    out.push(`# HELP ${name} ${help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}`, `# TYPE ${name} ${type}`);
    for (const [l, v] of samples) out.push(`${name}${labels(l)} ${num(v)}`);
  };
  const t = s.totals;
  const info: Labels = { command: s.command, target: s.target, seed: s.seed === undefined ? '' : String(s.seed), campaign: s.campaign ?? '' };
  family('ptefarm_campaign_info', 'gauge', 'The campaign this process runs (value always 1).', [[info, 1]]);
  family('ptefarm_campaign_running', 'gauge', '1 while the campaign generates or runs cases, 0 once it stopped.', [[{}, s.status === 'stopped' ? 0 : 1]]);
  family('ptefarm_campaign_elapsed_seconds', 'gauge', 'Seconds the campaign has run (a resumed campaign includes its earlier runs).', [[{}, s.elapsed_s]]);
  family('ptefarm_cases_generated_total', 'counter', 'Fresh cases generated and sent to the workers.', [[{}, t.generated]]);
  family('ptefarm_cases_total', 'counter', 'Cases completed (checked, faulted or skipped).', [[{}, t.completed]]);
  family('ptefarm_violations_total', 'counter', 'Cases whose trace diverged from the reference model.', [[{}, t.violations]]);
  family('ptefarm_faults_total', 'counter', 'Cases that could not be run or checked (infrastructure or executor faults, never violations).', [[{}, t.faults]]);
  family('ptefarm_skipped_total', 'counter', 'Cases the target skipped (a capability it lacks).', [[{}, t.skipped]]);
  family('ptefarm_cases_in_flight', 'gauge', 'Cases sent and not yet answered.', [[{}, t.inflight]]);
  family('ptefarm_cases_per_second', 'gauge', 'Completed cases per second over the last few seconds.', [[{}, t.cases_per_s]]);
  family('ptefarm_buckets', 'gauge', 'Distinct findings (violation buckets by signature).', [[{}, t.buckets]]);
  family('ptefarm_bucket_hits_total', 'counter', 'Violating cases per bucket.', s.buckets.map((b) => [{ signature: b.signature }, b.hits]));
  family('ptefarm_rules_hit', 'gauge', 'Model rules exercised by at least one checked case (coverage).', [[{}, t.rules_hit]]);
  family('ptefarm_rules', 'gauge', 'Model rules in the catalogue.', [[{}, t.rules_total]]);
  family('ptefarm_rule_coverage_ratio', 'gauge', 'rules_hit / rules.', [[{}, t.rules_total ? Math.round((t.rules_hit / t.rules_total) * 1e4) / 1e4 : 0]]);
  family('ptefarm_dead_lettered_total', 'counter', 'Jobs no worker could finish, dead-lettered (NATS farms).', [[{}, t.dead_lettered]]);
  family('ptefarm_replayed_results_total', 'counter', 'Results taken from the record instead of run again (resumed NATS campaigns).', [[{}, t.replayed]]);
  const wl = (w: DashboardSnapshot['workers'][number]): Labels => ({ worker: w.id, host: w.host, target: w.target, kind: w.kind });
  family('ptefarm_workers', 'gauge', 'Live workers (NATS worker processes, or 1 for the embedded pool).', [[{}, s.workers.length]]);
  family('ptefarm_worker_threads', 'gauge', 'Threads of each worker.', s.workers.map((w) => [wl(w), w.threads]));
  family('ptefarm_worker_busy', 'gauge', 'Cases each worker is running now.', s.workers.map((w) => [wl(w), w.busy]));
  family('ptefarm_worker_cases_total', 'counter', 'Cases each worker finished (as it reports them).', s.workers.map((w) => [wl(w), w.done]));
  family('ptefarm_worker_cases_per_second', 'gauge', 'Cases per second of each worker over the last seconds.', s.workers.map((w) => [wl(w), w.cases_per_s]));
  family('ptefarm_worker_heartbeat_age_seconds', 'gauge', 'Seconds since each NATS worker\'s last heartbeat.',
    s.workers.filter((w) => w.heartbeat_age_s !== null).map((w) => [wl(w), w.heartbeat_age_s!]));
  return out.join('\n') + '\n';
}
