// The live dashboard's page: a static shell whose figures, plots and tables src/ui/static/dashboard.js
// fills from /events (server-sent events) and /api/bucket/N. The first figures are rendered here
// so the page says something before its script runs. Used by src/ui/server.ts.
import { xmlEscape as esc } from '../report/escape.ts';
import type { DashboardSnapshot } from './state.ts';

/** `q`: the query string every URL of the page carries (`?token=...` when a token is required) */
export function pageHtml(s: DashboardSnapshot, q: string): string {
  const t = s.totals;
  const tile = (id: string, label: string, value: string, sub = '') =>
    `<div class="tile" id="tile-${id}"><div class="label">${esc(label)}</div><div class="value" id="${id}">${esc(value)}</div><div class="sub" id="${id}-sub">${esc(sub)}</div></div>`;
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>ptefarm ${esc(s.command)}: ${esc(s.target)}</title><link rel="icon" href="data:,">
<link rel="stylesheet" href="/static/uPlot.min.css${q}"><link rel="stylesheet" href="/static/bucket.css${q}"><link rel="stylesheet" href="/static/dashboard.css${q}">
<script src="/static/uPlot.iife.min.js${q}" defer></script><script src="/static/dashboard.js${q}" defer></script>
</head><body>
<header><div class="brand">ptefarm</div><div class="what"><span id="command">${esc(s.command)}</span> <code id="target">${esc(s.target)}</code>
<span class="muted" id="campaign">${s.campaign ? `campaign ${esc(s.campaign)}` : ''}</span></div>
<div class="status"><span class="pill ${esc(s.status)}" id="status">${esc(s.status)}</span><span id="live" class="live" title="connection to the campaign">●</span></div></header>
<main>
<section class="tiles">
${tile('rate', 'cases/s', String(t.cases_per_s), `avg ${t.cases_per_s_avg}`)}
${tile('cases', 'cases completed', String(t.completed), `${t.generated} generated, ${t.inflight} in flight`)}
${tile('violations', 'violating cases', String(t.violations))}
${tile('buckets-count', 'buckets', String(t.buckets))}
${tile('coverage', 'rule coverage', `${t.rules_hit}/${t.rules_total}`)}
${tile('faults', 'faults', String(t.faults), `${t.skipped} skipped`)}
${tile('dead', 'dead-lettered', String(t.dead_lettered))}
${tile('elapsed', 'elapsed', `${s.elapsed_s} s`, `seed ${s.seed ?? '?'}`)}
</section>
<div id="notes" class="notes"></div>
<section class="plots"><div class="card"><h2>cases/s</h2><div id="plot-rate" class="plot"></div></div>
<div class="card"><h2>rule coverage and buckets</h2><div id="plot-coverage" class="plot"></div></div></section>
<section class="card"><h2>Buckets <span class="count" id="buckets-n">${t.buckets}</span></h2>
<div class="scroll"><table class="grid" id="buckets-table"><thead><tr><th>#</th><th>title</th><th>hits</th><th>first seen</th><th>last seen</th><th>ops</th><th>state</th></tr></thead><tbody></tbody></table></div>
<p class="empty" id="buckets-empty">No violations so far.</p></section>
<section class="card"><h2>Workers <span class="count" id="workers-n">0</span></h2>
<table class="grid" id="workers-table"><thead><tr><th>worker</th><th>host</th><th>target</th><th>threads</th><th>busy</th><th>done</th><th>cases/s</th><th>heartbeat</th><th>host facts</th></tr></thead><tbody></tbody></table></section>
<section class="two"><div class="card"><h2>Dead-lettered jobs <span class="count" id="dead-n">0</span></h2>
<table class="grid" id="dead-table"><thead><tr><th>job</th><th>target</th><th>deliveries</th><th>when</th></tr></thead><tbody></tbody></table><p class="empty" id="dead-empty">None.</p></div>
<div class="card"><h2>Recent faults</h2><table class="grid" id="faults-table"><thead><tr><th>case</th><th>fault</th><th>when</th></tr></thead><tbody></tbody></table><p class="empty" id="faults-empty">None.</p></div></section>
<section class="card"><h2>Campaign options</h2><table class="grid kv" id="options-table"><tbody></tbody></table></section>
<section class="card"><h2>Bucket details</h2><p class="muted">Each bucket's (minimized) case step by step: what the x86 model expects and what the target showed.</p><div id="bucket-sections"></div></section>
</main>
<footer>read-only view of the running campaign · <a href="/api/state${q}">/api/state</a> · <a href="/metrics${q}">/metrics</a> · started <span id="started">${esc(s.started)}</span></footer>
</body></html>
`;
}
