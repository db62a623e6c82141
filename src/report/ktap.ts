// KTAP (the kselftest format): one test point per corpus case, per bucket, the campaign, and one
// per infrastructure error. Baseline and flaky buckets and skipped corpus cases are `# SKIP`.
import type { GateRun } from './run.ts';
import { bucketLine, bucketTestName, campaignLine, campaignTestName, corpusTestName } from './names.ts';

/** KTAP test names may not contain '#' nor a newline. */
const name = (s: string) => s.replace(/#/g, 'no.').replace(/\s+/g, ' ').trim();
const diag = (s: string) => s.split('\n').map((l) => `# ${l}`.trimEnd());

export function toKtap(run: GateRun): string {
  const points: { ok: boolean; name: string; directive?: string; diag: string[] }[] = [];
  for (const r of run.corpus) {
    points.push({
      ok: r.status !== 'fail' && r.status !== 'error', name: name(corpusTestName(r)),
      ...(r.status === 'skip' ? { directive: `SKIP ${name(r.message ?? '')}` } : {}),
      diag: r.status === 'pass' || r.status === 'skip' ? [] : [...(r.title ? [r.title] : []), `${r.status}: ${r.signatures.join(', ')}`, ...(r.message ? [r.message] : [])],
    });
  }
  for (const b of run.buckets) {
    points.push({
      ok: b.status !== 'new', name: name(bucketTestName(b)),
      ...(b.status === 'baseline' ? { directive: `SKIP baseline: ${name(b.reason ?? '')}` } : b.status === 'flaky' ? { directive: `SKIP flaky: reproduced ${b.reproduced}/${b.runs}` } : {}),
      diag: [b.title, bucketLine(b), b.example, `case: ${b.case_file}`],
    });
  }
  const allFaulted = !!run.campaign && run.campaign.cases > 0 && run.campaign.faults === run.campaign.cases;
  points.push({ ok: !allFaulted, name: name(campaignTestName(run)), diag: [campaignLine(run)] });
  for (const e of run.errors) points.push({ ok: false, name: name(`infrastructure ${e.slice(0, 100)}`), diag: [e] });
  const lines = ['KTAP version 1', `# ptefarm gate: target ${run.target}, seed ${run.seed}, ${run.started}`, `1..${points.length}`];
  points.forEach((p, i) => {
    lines.push(...diag(p.diag.join('\n')).filter((l) => l !== '#'));
    lines.push(`${p.ok ? 'ok' : 'not ok'} ${i + 1} ${p.name}${p.directive ? ` # ${p.directive}` : ''}`);
  });
  const pass = points.filter((p) => p.ok && !p.directive).length, skip = points.filter((p) => p.directive).length, fail = points.filter((p) => !p.ok).length;
  lines.push(`# verdict: ${run.verdict} (exit ${run.exit_code})`);
  for (const r of run.reasons) lines.push(`# ${r}`);
  lines.push(`# Totals: pass:${pass} fail:${fail} xfail:0 xpass:0 skip:${skip} error:0`);
  return lines.join('\n') + '\n';
}
