// The self-contained HTML report. It opens on the root causes: the verdict in one line, the
// bucket titles, then each bucket's minimized case step by step (expected x86-model vs actual bits,
// the differing letters marked). After them: infrastructure errors, the plots as inline SVG
// (cases/s over time, rule coverage by family over the whole catalogue, buckets by hits), the
// corpus table and the gate's reasons. No external assets and no script.
import { ALL_RULES } from '../model/catalogue.ts';
import type { GateBucket, GateRun } from './run.ts';
import { xmlEscape as esc } from './escape.ts';
import { barChart, lineChart, type Series } from './svg.ts';
import { campaignLine } from './names.ts';
import { BUCKET_CSS, bucketSectionHtml, type BucketDetail } from './bucket-html.ts';
import { signatureRank } from '../findings/signature.ts';

export type { BucketDetail };

const CSS = `
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:24px auto;max-width:1100px;padding:0 16px;color:#1b1f24}
h1{font-size:22px}h2{font-size:18px;margin-top:28px;border-bottom:1px solid #d0d7de;padding-bottom:4px}h3{font-size:15px}
.verdict{display:inline-block;padding:2px 10px;border-radius:12px;color:#fff;font-weight:600}
.pass{background:#1a7f37}.fail{background:#cf222e}.error{background:#9a6700}
table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #d0d7de;padding:3px 7px;text-align:left;vertical-align:top}
th{background:#f6f8fa}code,.bits{font-family:ui-monospace,SFMono-Regular,Menlo,monospace}
.plots{display:flex;flex-wrap:wrap;gap:16px}.plot{border:1px solid #d0d7de;border-radius:6px;background:#fff}
.plot text{font-size:11px;fill:#1b1f24}.plot .title{font-size:13px;font-weight:600}.plot .grid{stroke:#eaeef2}.plot .axis{stroke:#57606a}
.plot .line{fill:none;stroke:#0969da;stroke-width:2}.plot .dot{fill:#0969da}.plot .bar{fill:#0969da}.plot .bar-total{fill:#eaeef2}
.plot .bar.new{fill:#cf222e}.plot .bar.flaky{fill:#bf8700}.plot .bar.baseline{fill:#8c959f}${BUCKET_CSS}`;

export function toHtml(run: GateRun, details: BucketDetail[]): string {
  // cases/s between consecutive progress samples
  const rate: Series[] = [];
  for (let i = 1; i < run.timeline.length; i++) {
    const a = run.timeline[i - 1], b = run.timeline[i];
    if (b.t > a.t) rate.push({ x: b.t, y: (b.cases - a.cases) / (b.t - a.t) });
  }
  const hit = new Set(run.campaign?.coverage.rules ?? []);
  const fam = new Map<string, { hit: number; total: number }>();
  // over the whole catalogue, every id the campaign's coverage counts (machine and PAGEMAP_SCAN
  // rules and their sub-rules: checker.rulesTotal), so the plot and the campaign line agree and the
  // numerator can never exceed the denominator
  const catalogue = ALL_RULES.map((r) => r.id);
  for (const id of catalogue) {
    const f = id.replace(/-\d+[A-Za-z]?(\..*)?$/, '');
    const e = fam.get(f) ?? { hit: 0, total: 0 };
    e.total++;
    if (hit.has(id)) e.hit++;
    fam.set(f, e);
  }
  const hitInCatalogue = catalogue.filter((id) => hit.has(id)).length;
  const coverage = [...fam].map(([label, e]) => ({ label, value: e.hit, total: e.total }));
  const bucketBars = run.buckets.map((b) => ({ label: b.signature, value: b.hits, cls: b.status, note: `${b.signature}: ${b.hits} hit(s), ${b.status}, reproduced ${b.reproduced}/${b.runs}` }));
  const info = run.target_info ? ` — ${esc(run.target_info.arch)}, kernel ${esc(run.target_info.kernel)}` : '';
  const o: string[] = [];
  o.push(`<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>ptefarm gate ${esc(run.verdict)}: ${esc(run.target)}</title><style>${CSS}</style></head><body>`);
  o.push(`<h1>ptefarm gate <span class="verdict ${esc(run.verdict)}" id="verdict">${esc(run.verdict.toUpperCase())}</span></h1>`);
  o.push(`<p>Target <code>${esc(run.target)}</code>${info}; seed ${run.seed}; started ${esc(run.started)}; ${run.elapsed_s} s; exit code ${run.exit_code}.</p>`);
  const buckets = [...run.buckets].sort((x, y) => order(x.status) - order(y.status) || signatureRank(x.signature) - signatureRank(y.signature) || y.hits - x.hits || x.signature.localeCompare(y.signature));
  const fresh = buckets.filter((b) => b.status === 'new').length;
  o.push(`<p>${fresh} new reproducible, ${buckets.length - fresh} other bucket(s); ${run.errors.length} infrastructure error(s). ${esc(campaignLine(run))}</p>`);
  // the root causes first: their titles, then each one's step table
  o.push(`<h2 id="root-causes">Root causes (${buckets.length})</h2>`);
  if (!buckets.length) o.push('<p>No violations.</p>');
  else {
    o.push('<table><thead><tr><th>title</th><th>status</th><th>reproduced</th><th>hits</th><th>ops</th><th>from</th></tr></thead><tbody>');
    for (const b of buckets) o.push(`<tr><td><a href="#b-${esc(b.signature)}">${esc(b.title)}</a><br><code class="muted">${esc(b.signature)}</code></td><td class="st-${b.status}">${esc(b.status)}${b.reason ? `: ${esc(b.reason)}` : ''}</td><td>${b.reproduced}/${b.runs}</td><td>${b.hits}</td><td>${b.ops}</td><td>${esc(b.source)}</td></tr>`);
    o.push('</tbody></table>');
  }
  for (const b of buckets) {
    const d = details.find((x) => x.signature === b.signature);
    o.push(bucketSectionHtml({
      signature: b.signature, title: b.title, status: b.status,
      example: `first divergence: ${b.example}${b.consequences ? ` (${b.consequences} later violation(s): consequences)` : ''}`,
      factsHtml: `case <code>${esc(b.case_file)}</code>${b.trace_file ? `, trace <code>${esc(b.trace_file)}</code>` : ''}; ${b.minimized ? 'minimized' : 'not minimized'}, ${b.ops} op(s)`,
    }, d));
  }
  if (run.errors.length) o.push(`<h2>Infrastructure errors</h2><ul>${run.errors.map((e) => `<li>${esc(e)}</li>`).join('')}</ul>`);
  o.push('<h2>Plots</h2><div class="plots">');
  o.push(lineChart(rate, { id: 'plot-rate', title: 'cases/s over time', xLabel: 'seconds since start', yLabel: 'cases/s' }));
  o.push(lineChart(run.timeline.map((p) => ({ x: p.t, y: p.cases })), { id: 'plot-cases', title: 'cases completed', xLabel: 'seconds since start', yLabel: 'cases' }));
  o.push(barChart(coverage, { id: 'plot-coverage', title: `rule coverage by family (${hitInCatalogue}/${catalogue.length} rules)` }));
  o.push(barChart(bucketBars, { id: 'plot-buckets', title: 'buckets by signature (hits)', width: 900 }));
  o.push('</div>');
  o.push(`<h2>Corpus (${run.corpus.length})</h2><table><thead><tr><th>case</th><th>status</th><th>ms</th><th>detail</th></tr></thead><tbody>`);
  for (const r of run.corpus) o.push(`<tr class="${r.status === 'fail' || r.status === 'error' ? 'bad' : ''}"><td><code>${esc(r.path)}</code></td><td>${esc(r.status)}</td><td>${r.ms}</td><td>${esc(r.message ?? '')}</td></tr>`);
  o.push('</tbody></table>');
  o.push(`<h2>Why the gate ${run.verdict === 'pass' ? 'passed' : run.verdict === 'fail' ? 'failed' : 'could not decide'}</h2><ul>${run.reasons.map((r) => `<li>${esc(r)}</li>`).join('')}</ul>`);
  o.push('</body></html>');
  return o.join('\n') + '\n';
}

function order(s: GateBucket['status']): number { return s === 'new' ? 0 : s === 'flaky' ? 1 : 2; }
