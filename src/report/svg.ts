// Small inline-SVG charts for the HTML report (no external assets, no script).
import { xmlEscape as esc } from './escape.ts';

export interface Series { x: number; y: number }

const nice = (v: number) => {
  if (v <= 0) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
};
const fmt = (v: number) => (Math.abs(v) >= 100 || Number.isInteger(v) ? String(Math.round(v)) : v.toFixed(1));

/** A line chart with axes and ticks. */
export function lineChart(points: Series[], o: { title: string; xLabel: string; yLabel: string; id: string; width?: number; height?: number }): string {
  const W = o.width ?? 640, H = o.height ?? 260, L = 60, R = 16, T = 30, B = 44;
  const xmax = nice(Math.max(1e-9, ...points.map((p) => p.x))), ymax = nice(Math.max(1e-9, ...points.map((p) => p.y)));
  const sx = (x: number) => L + (x / xmax) * (W - L - R), sy = (y: number) => H - B - (y / ymax) * (H - T - B);
  const ticks = [0, 0.25, 0.5, 0.75, 1];
  const grid = ticks.map((f) => `<line x1="${L}" x2="${W - R}" y1="${sy(f * ymax)}" y2="${sy(f * ymax)}" class="grid"/><text x="${L - 6}" y="${sy(f * ymax) + 4}" text-anchor="end">${fmt(f * ymax)}</text>` +
    `<text x="${sx(f * xmax)}" y="${H - B + 16}" text-anchor="middle">${fmt(f * xmax)}</text>`).join('');
  const path = points.map((p, i) => `${i ? 'L' : 'M'}${sx(p.x).toFixed(1)},${sy(p.y).toFixed(1)}`).join(' ');
  const dots = points.length <= 60 ? points.map((p) => `<circle cx="${sx(p.x).toFixed(1)}" cy="${sy(p.y).toFixed(1)}" r="2.5" class="dot"><title>${fmt(p.x)} s: ${fmt(p.y)}</title></circle>`).join('') : '';
  return `<svg id="${o.id}" class="plot" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="${esc(o.title)}">` +
    `<text x="${W / 2}" y="18" text-anchor="middle" class="title">${esc(o.title)}</text>${grid}` +
    `<line x1="${L}" x2="${W - R}" y1="${H - B}" y2="${H - B}" class="axis"/><line x1="${L}" x2="${L}" y1="${T}" y2="${H - B}" class="axis"/>` +
    (points.length ? `<path d="${path}" class="line"/>${dots}` : `<text x="${W / 2}" y="${H / 2}" text-anchor="middle">no data</text>`) +
    `<text x="${(L + W - R) / 2}" y="${H - 8}" text-anchor="middle">${esc(o.xLabel)}</text>` +
    `<text x="14" y="${(T + H - B) / 2}" text-anchor="middle" transform="rotate(-90 14 ${(T + H - B) / 2})">${esc(o.yLabel)}</text></svg>`;
}

export interface Bar { label: string; value: number; total?: number; cls?: string; note?: string }

/** Horizontal bars; with `total`, a bar shows value out of total (e.g. rules hit of a family). */
export function barChart(bars: Bar[], o: { title: string; id: string; unit?: string; width?: number }): string {
  const W = o.width ?? 640, rowH = 20, T = 30, labelW = Math.min(360, 8 + 6.6 * Math.max(4, ...bars.map((b) => b.label.length))), R = 70;
  const H = T + Math.max(1, bars.length) * rowH + 10;
  const max = Math.max(1, ...bars.map((b) => b.total ?? b.value));
  const sw = (v: number) => (v / max) * (W - labelW - R);
  const rows = bars.map((b, i) => {
    const y = T + i * rowH;
    const bg = b.total !== undefined ? `<rect x="${labelW}" y="${y + 3}" width="${sw(b.total).toFixed(1)}" height="${rowH - 6}" class="bar-total"/>` : '';
    return `<g><title>${esc(b.note ?? `${b.label}: ${b.value}${b.total !== undefined ? `/${b.total}` : ''}`)}</title>` +
      `<text x="${labelW - 6}" y="${y + rowH / 2 + 4}" text-anchor="end" class="label">${esc(b.label.length > 52 ? b.label.slice(0, 51) + '…' : b.label)}</text>${bg}` +
      `<rect x="${labelW}" y="${y + 3}" width="${Math.max(b.value ? 1 : 0, sw(b.value)).toFixed(1)}" height="${rowH - 6}" class="bar ${b.cls ?? ''}"/>` +
      `<text x="${labelW + sw(b.total ?? b.value) + 4}" y="${y + rowH / 2 + 4}">${b.value}${b.total !== undefined ? `/${b.total}` : ''}${o.unit ? ` ${esc(o.unit)}` : ''}</text></g>`;
  }).join('');
  return `<svg id="${o.id}" class="plot" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="${esc(o.title)}">` +
    `<text x="${W / 2}" y="18" text-anchor="middle" class="title">${esc(o.title)}</text>` +
    (bars.length ? rows : `<text x="${W / 2}" y="${T + 14}" text-anchor="middle">none</text>`) + '</svg>';
}
