// The live dashboard's script (served as /static/dashboard.js by src/ui/server.ts; plain browser
// JavaScript, no build step). Listens to /events (server-sent snapshots of the campaign), redraws
// the figures, the two uPlot charts and the tables, and fetches a bucket's section (rendered by the
// server with the static report's renderer) whenever the bucket is new or its case changed.
/* global uPlot */
(() => {
  'use strict';
  const q = location.search.includes('token=') ? location.search : '';
  const $ = (id) => document.getElementById(id);
  const el = (tag, attrs, ...kids) => {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) if (v !== undefined) e.setAttribute(k, v);
    for (const k of kids) e.append(k instanceof Node ? k : document.createTextNode(String(k)));
    return e;
  };
  const fmt = (n) => (typeof n === 'number' ? n.toLocaleString('en-US', { maximumFractionDigits: 1 }) : String(n));
  const time = (iso) => (iso ? new Date(iso).toLocaleTimeString('en-GB', { hour12: false }) : '');
  const duration = (s) => (s < 90 ? `${fmt(s)} s` : s < 5400 ? `${Math.floor(s / 60)} min ${Math.round(s % 60)} s` : `${(s / 3600).toFixed(1)} h`);
  const setText = (id, v) => { const e = $(id); if (e && e.textContent !== String(v)) e.textContent = String(v); };

  // ---- charts -------------------------------------------------------------------------------------
  const charts = {};
  const size = (div) => ({ width: Math.max(280, div.clientWidth - 8), height: 220 });
  const axis = { stroke: '#57606a', grid: { stroke: '#eaeef2', width: 1 }, ticks: { stroke: '#d0d7de', width: 1 }, font: '11px system-ui, sans-serif' };
  function makeCharts() {
    if (typeof uPlot === 'undefined') return;
    const r = $('plot-rate'), c = $('plot-coverage');
    charts.rate = new uPlot({
      ...size(r), scales: { x: { time: false } }, legend: { live: false },
      series: [{ label: 'seconds' }, { label: 'cases/s', stroke: '#0969da', width: 2, fill: 'rgba(9,105,218,0.10)', points: { show: false } }],
      axes: [{ ...axis, label: 'seconds since start', labelSize: 18, labelFont: '11px system-ui, sans-serif' }, { ...axis, size: 50 }],
    }, [[], []], r);
    charts.coverage = new uPlot({
      ...size(c), scales: { x: { time: false }, b: { range: (u, min, max) => [0, Math.max(1, max)] } }, legend: { live: false },
      series: [{ label: 'seconds' },
        { label: 'rules hit', stroke: '#1a7f37', width: 2, points: { show: false } },
        { label: 'buckets', stroke: '#cf222e', width: 2, scale: 'b', points: { show: false }, paths: uPlot.paths && uPlot.paths.stepped ? uPlot.paths.stepped({ align: 1 }) : undefined }],
      axes: [{ ...axis, label: 'seconds since start', labelSize: 18, labelFont: '11px system-ui, sans-serif' }, { ...axis, size: 50 }, { ...axis, scale: 'b', side: 1, size: 40, grid: { show: false } }],
    }, [[], [], []], c);
    window.addEventListener('resize', () => { charts.rate.setSize(size(r)); charts.coverage.setSize(size(c)); });
  }
  function drawCharts(s) {
    if (!charts.rate) return;
    const xs = s.timeline.map((p) => p.t);
    charts.rate.setData([xs, s.timeline.map((p) => p.cases_per_s)]);
    charts.coverage.setData([xs, s.timeline.map((p) => p.rules_hit), s.timeline.map((p) => p.buckets)]);
  }

  // ---- tables -------------------------------------------------------------------------------------
  function fill(tableId, rows, emptyId) {
    const body = $(tableId).tBodies[0];
    body.replaceChildren(...rows);
    if (emptyId) $(emptyId).hidden = rows.length > 0;
  }
  const versions = new Map();
  function drawBuckets(s) {
    fill('buckets-table', s.buckets.map((b) => el('tr', { id: `row-b${b.n}` },
      el('td', {}, b.n),
      el('td', { class: 'title' }, el('a', { href: `#b-${b.signature}` }, b.title), ...(b.title !== b.signature ? [el('div', { class: 'sig' }, b.signature)] : [])),
      el('td', { class: 'num' }, fmt(b.hits)), el('td', {}, time(b.first_seen)), el('td', {}, time(b.last_seen)), el('td', { class: 'num' }, b.ops),
      el('td', {}, el('span', { class: `tag ${b.minimized ? 'ok' : 'pending'}` }, b.minimized ? 'minimized' : 'minimizing'), ...(b.file ? [el('span', { class: 'tag saved', title: b.file }, 'saved')] : [])),
    )), 'buckets-empty');
    for (const b of s.buckets) {
      const key = `${b.version}:${b.minimized}:${b.file || ''}:${b.title}:${b.first_seen}`;
      if (versions.get(b.n) === key) continue;
      versions.set(b.n, key);
      fetch(`/api/bucket/${b.n}${q}`).then((r) => (r.ok ? r.text() : Promise.reject(new Error(r.statusText)))).then((html) => {
        let slot = $(`slot-b${b.n}`);
        if (!slot) { slot = el('div', { id: `slot-b${b.n}`, class: 'bucket-slot' }); $('bucket-sections').append(slot); }
        slot.innerHTML = html; // rendered and escaped by the server (src/report/bucket-html.ts)
      }).catch(() => versions.delete(b.n));
    }
  }
  function facts(f) {
    const keys = Object.keys(f);
    const pick = ['arch', 'kernel', 'soft_dirty', 'uffd_wp', 'wp_async', 'pagemap_scan', 'swap', 'thp'].filter((k) => k in f);
    const rest = keys.filter((k) => !pick.includes(k));
    return el('td', { class: 'facts', title: keys.map((k) => `${k}: ${f[k]}`).join('\n') },
      ...pick.map((k) => el('span', { class: `fact ${f[k] === 'no' ? 'no' : ''}` }, k === 'arch' || k === 'kernel' ? f[k] : `${k.replace(/_/g, '-')} ${f[k]}`)),
      ...(rest.length ? [el('span', { class: 'fact more' }, `+${rest.length}`)] : []));
  }
  function drawWorkers(s) {
    setText('workers-n', s.workers.length);
    fill('workers-table', s.workers.map((w) => el('tr', {},
      el('td', {}, el('code', {}, w.id)), el('td', {}, w.host), el('td', {}, el('code', {}, w.target)), el('td', { class: 'num' }, w.threads),
      el('td', { class: 'num' }, w.busy), el('td', { class: 'num' }, fmt(w.done)), el('td', { class: 'num' }, fmt(w.cases_per_s)),
      el('td', { class: w.heartbeat_age_s !== null && w.heartbeat_age_s > 5 ? 'late' : '' }, w.heartbeat_age_s === null ? 'in process' : `${w.heartbeat_age_s.toFixed(1)} s ago`),
      facts(w.facts))));
  }
  function drawSide(s) {
    setText('dead-n', s.dead_letters.length);
    fill('dead-table', s.dead_letters.slice(-50).reverse().map((d) => el('tr', {}, el('td', {}, el('code', {}, d.id)), el('td', {}, d.target), el('td', { class: 'num' }, d.deliveries), el('td', {}, time(d.at)))), 'dead-empty');
    fill('faults-table', s.faults.slice(-10).reverse().map((f) => el('tr', {}, el('td', { class: 'num' }, f.index < 0 ? '—' : f.index), el('td', { class: 'fault' }, f.fault), el('td', {}, time(f.at)))), 'faults-empty');
    fill('options-table', Object.entries(s.options).map(([k, v]) => el('tr', {}, el('th', {}, k), el('td', {}, el('code', {}, typeof v === 'string' ? v : JSON.stringify(v))))));
    $('notes').replaceChildren(...s.notes.map((n) => el('div', { class: 'note' }, n)));
  }

  function draw(s) {
    const t = s.totals;
    setText('rate', fmt(t.cases_per_s));
    setText('rate-sub', `avg ${fmt(t.cases_per_s_avg)}`);
    setText('cases', fmt(t.completed));
    setText('cases-sub', `${fmt(t.generated)} generated, ${t.inflight} in flight`);
    setText('violations', fmt(t.violations));
    setText('buckets-count', t.buckets);
    setText('buckets-n', t.buckets);
    setText('coverage', `${t.rules_hit}/${t.rules_total}`);
    setText('coverage-sub', t.rules_total ? `${((100 * t.rules_hit) / t.rules_total).toFixed(1)} % of the model's rules` : '');
    setText('faults', fmt(t.faults));
    setText('faults-sub', `${fmt(t.skipped)} skipped`);
    setText('dead', t.dead_lettered);
    setText('elapsed', duration(s.elapsed_s));
    setText('elapsed-sub', `seed ${s.seed ?? '?'}${s.resumed ? ', resumed' : ''}`);
    setText('target', s.target);
    setText('campaign', s.campaign ? `campaign ${s.campaign}` : '');
    const st = $('status');
    st.className = `pill ${s.status}`;
    setText('status', s.status === 'stopped' && s.stopped_reason ? `stopped: ${s.stopped_reason}` : s.status);
    $('tile-buckets-count').classList.toggle('alert', t.buckets > 0);
    $('tile-violations').classList.toggle('alert', t.violations > 0);
    $('tile-dead').classList.toggle('warn', t.dead_lettered > 0);
    drawCharts(s);
    drawBuckets(s);
    drawWorkers(s);
    drawSide(s);
    document.title = `ptefarm ${s.command}: ${t.buckets} bucket(s), ${fmt(t.cases_per_s)} cases/s — ${s.target}`;
  }

  function connect() {
    const es = new EventSource(`/events${q}`);
    es.addEventListener('state', (m) => { $('live').className = 'live on'; draw(JSON.parse(m.data)); });
    es.onerror = () => { $('live').className = 'live off'; };
  }
  const start = () => { makeCharts(); connect(); };
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start); else start();
})();
