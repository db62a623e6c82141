// The matrix reports written by `ptefarm matrix` (src/cli/commands/matrix.ts) from a
// ptefarm-matrix/2 document (src/matrix/schema.ts): Markdown (for a README or a PR comment) and a
// self-contained HTML page (no external assets, no script). One table per target: a row per
// operation family and backing, a column per mechanism; then what diverges (bucket titles) and
// why cells are unsupported.
import type { CellResult, MatrixDoc, MatrixTarget } from '../matrix/schema.ts';
import { xmlEscape as esc } from './escape.ts';

const mdCell = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
const code = (s: string) => '`' + s.replace(/`/g, "'") + '`';

/** Numbered reasons of a target's unsupported and faulted cells, so that table cells stay short. */
function reasonNotes(doc: MatrixDoc, ti: number): Map<string, number> {
  const notes = new Map<string, number>();
  for (const c of doc.cells) {
    const r = c.results[ti]!;
    if ((r.status === 'unsupported' || r.status === 'faulted') && r.reason && !notes.has(r.reason)) notes.set(r.reason, notes.size + 1);
  }
  return notes;
}

function shortText(r: CellResult, notes: Map<string, number>): string {
  switch (r.status) {
    case 'agrees': return `agrees (${r.cases}${r.faults ? `; ${r.faults} faulted` : ''})`;
    case 'diverges': return `diverges (${r.diverging}/${r.cases}; ${r.buckets.length} bucket${r.buckets.length === 1 ? '' : 's'}${r.faults ? `; ${r.faults} faulted` : ''})`;
    case 'unsupported': return `unsupported [${notes.get(r.reason ?? '') ?? '?'}]`;
    case 'faulted': return `faulted [${notes.get(r.reason ?? '') ?? '?'}]`;
  }
}

function targetLine(t: MatrixTarget): string {
  const what = t.refused !== undefined ? 'refused to start' : `${t.arch ?? '?'}, kernel ${t.kernel ?? '?'}`;
  const tot = t.totals;
  return `${what}; ${tot.cases} cases compared (${tot.agreeing} agree, ${tot.diverging} diverge), ${tot.skipped} skipped, ${tot.faults} faults, ${t.elapsed_s} s`;
}

function statusCounts(doc: MatrixDoc, ti: number): string {
  const n = { agrees: 0, diverges: 0, unsupported: 0, faulted: 0 };
  for (const c of doc.cells) n[c.results[ti]!.status]++;
  return `${n.agrees} agree, ${n.diverges} diverge, ${n.unsupported} unsupported${n.faulted ? `, ${n.faulted} faulted` : ''}`;
}

export function toMatrixMarkdown(doc: MatrixDoc): string {
  const out: string[] = [];
  const mechs = doc.axes.mechanisms.map((m) => m.id);
  out.push(`## ptefarm matrix: ${doc.targets.map((t) => code(t.spec)).join(', ')}`);
  out.push('');
  out.push(`Seed ${doc.seed}, ${doc.cases_per_cell} generated cases per cell plus ${doc.corpus.length} corpus case(s); every target ran the same cases. Cells: operation family x backing (rows) x mechanism (columns); ${code(doc.format)}, schema in docs/matrix-schema.md.`);
  out.push('');
  doc.targets.forEach((t, ti) => {
    const notes = reasonNotes(doc, ti);
    out.push(`### ${code(t.spec)}`);
    out.push('');
    out.push(`${targetLine(t)}. Cells: ${statusCounts(doc, ti)}.`);
    out.push('');
    out.push(`| family | backing | ${mechs.join(' | ')} |`);
    out.push(`|---|---|${mechs.map(() => '---').join('|')}|`);
    const rows = new Map<string, (typeof doc.cells)[number][]>();
    for (const c of doc.cells) { const k = `${c.family}|${c.backing}`; rows.set(k, [...(rows.get(k) ?? []), c]); }
    for (const [k, cs] of rows) {
      const [family, backing] = k.split('|');
      out.push(`| ${family} | ${backing} | ${mechs.map((m) => { const c = cs.find((x) => x.mechanism === m); return c ? mdCell(shortText(c.results[ti]!, notes)) : ''; }).join(' | ')} |`);
    }
    out.push('');
    const div = doc.cells.filter((c) => c.results[ti]!.status === 'diverges');
    if (div.length) {
      out.push('Divergences:');
      out.push('');
      for (const c of div) {
        for (const b of c.results[ti]!.buckets) out.push(`- ${code(c.id)}: ${mdCell(b.title)} (${b.hits} case${b.hits === 1 ? '' : 's'}; ${code(b.signature)}${b.case_file ? `; ${code(b.case_file)}` : ''})`);
      }
      out.push('');
    }
    if (notes.size) {
      for (const [reason, n] of notes) out.push(`[${n}] ${mdCell(reason)}  `);
      out.push('');
    }
    if (t.warnings.length) { for (const w of t.warnings) out.push(`> warning: ${mdCell(w)}`); out.push(''); }
  });
  return out.join('\n');
}

const CSS = `
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:24px auto;max-width:1200px;padding:0 16px;color:#1b1f24}
h1{font-size:22px}h2{font-size:18px;margin-top:28px;border-bottom:1px solid #d0d7de;padding-bottom:4px}
table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #d0d7de;padding:3px 8px;text-align:left;vertical-align:top}
th{background:#f6f8fa}code{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:12px}
td.agrees{background:#dafbe1;color:#116329}td.diverges{background:#ffebe9;color:#82071e;font-weight:600}
td.unsupported{background:#f6f8fa;color:#57606a}td.faulted{background:#fff8c5;color:#7d4e00}
.legend span{display:inline-block;padding:1px 8px;margin-right:6px;border:1px solid #d0d7de}
.muted{color:#57606a}ul.buckets{margin:2px 0 8px 0}`;

export function toMatrixHtml(doc: MatrixDoc): string {
  const o: string[] = [];
  const mechs = doc.axes.mechanisms;
  o.push(`<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>ptefarm matrix: ${esc(doc.targets.map((t) => t.spec).join(', '))}</title><style>${CSS}</style></head><body>`);
  o.push(`<h1>ptefarm matrix</h1>`);
  o.push(`<p>Seed ${doc.seed}, ${doc.cases_per_cell} generated cases per cell plus ${doc.corpus.length} corpus case(s), the same on every target. Format <code>${esc(doc.format)}</code>, generated ${esc(doc.generated_at)} by ptefarm ${esc(doc.ptefarm_version)}.</p>`);
  o.push(`<p class="legend"><span class="agrees" style="background:#dafbe1">agrees (cases)</span><span style="background:#ffebe9">diverges</span><span style="background:#f6f8fa">unsupported</span><span style="background:#fff8c5">faulted</span></p>`);
  doc.targets.forEach((t, ti) => {
    const notes = reasonNotes(doc, ti);
    o.push(`<h2 id="target-${ti}"><code>${esc(t.spec)}</code></h2>`);
    o.push(`<p>${esc(targetLine(t))}. Cells: ${esc(statusCounts(doc, ti))}.</p>`);
    if (t.capabilities) o.push(`<p class="muted">capabilities: ${Object.entries(t.capabilities).map(([k, v]) => `${esc(k)}=${v ? 'yes' : 'no'}`).join(', ')}</p>`);
    o.push(`<table class="matrix"><thead><tr><th>family</th><th>backing</th>${mechs.map((m) => `<th title="${esc(m.title)}">${esc(m.id)}</th>`).join('')}</tr></thead><tbody>`);
    const families = doc.axes.families;
    for (const f of families) {
      const rows = doc.cells.filter((c) => c.family === f.id);
      const backings = [...new Set(rows.map((c) => c.backing))];
      backings.forEach((b, bi) => {
        const tds = mechs.map((m) => {
          const c = rows.find((x) => x.backing === b && x.mechanism === m.id);
          if (!c) return '<td></td>';
          const r = c.results[ti]!;
          const tip = r.status === 'diverges' ? r.buckets.map((x) => x.title).join('\n') : r.reason ?? `${r.agreeing} agreeing case(s)`;
          return `<td class="${r.status}" title="${esc(tip)}">${esc(shortText(r, notes))}</td>`;
        }).join('');
        o.push(`<tr>${bi === 0 ? `<th rowspan="${backings.length}" title="${esc(f.title)}">${esc(f.id)}</th>` : ''}<td>${esc(b)}</td>${tds}</tr>`);
      });
    }
    o.push('</tbody></table>');
    const div = doc.cells.filter((c) => c.results[ti]!.status === 'diverges');
    if (div.length) {
      o.push('<h3>Divergences</h3><ul>');
      for (const c of div) {
        o.push(`<li><code>${esc(c.id)}</code><ul class="buckets">${c.results[ti]!.buckets.map((b) => `<li>${esc(b.title)} <span class="muted">(${b.hits} case${b.hits === 1 ? '' : 's'}; <code>${esc(b.signature)}</code>${b.case_file ? `; <code>${esc(b.case_file)}</code>` : ''})</span></li>`).join('')}</ul></li>`);
      }
      o.push('</ul>');
    }
    if (notes.size) {
      o.push('<h3>Unsupported and faulted cells</h3><ol>');
      for (const [reason] of notes) o.push(`<li>${esc(reason)}</li>`);
      o.push('</ol>');
    }
    for (const w of t.warnings) o.push(`<p class="muted">warning: ${esc(w)}</p>`);
  });
  o.push('</body></html>');
  return o.join('\n');
}

export const MATRIX_FILES = { json: 'matrix.json', markdown: 'matrix.md', html: 'matrix.html' } as const;

/** Write matrix.json, matrix.md, matrix.html and every bucket's case (cases/...) into `dir`. */
export async function writeMatrixDir(dir: string, doc: MatrixDoc, reproducers: ReadonlyMap<string, unknown>): Promise<string[]> {
  const { mkdir, writeFile } = await import('node:fs/promises');
  const { dirname, join } = await import('node:path');
  await mkdir(dir, { recursive: true });
  const written: string[] = [];
  const put = async (rel: string, text: string) => {
    const p = join(dir, rel);
    await mkdir(dirname(p), { recursive: true });
    await writeFile(p, text);
    written.push(p);
  };
  for (const [rel, c] of reproducers) await put(rel, JSON.stringify(c, null, 2) + '\n');
  await put(MATRIX_FILES.json, JSON.stringify(doc, null, 2) + '\n');
  await put(MATRIX_FILES.markdown, toMatrixMarkdown(doc) + '\n');
  await put(MATRIX_FILES.html, toMatrixHtml(doc));
  return written;
}
