// One bucket as HTML: its heading, example violation, facts line and its minimized case step by step,
// expected (x86 model) vs actual bits with the differing letters marked. Shared by the static
// report (src/report/html.ts) and the live dashboard (src/ui/), so a bucket reads the same in both.
import type { Case } from '../ops/schema.ts';
import { BIT_LETTERS, SCAN_LETTERS } from '../ops/trace.ts';
import type { PageRun, StepRow } from './steps.ts';
import { xmlEscape as esc } from './escape.ts';
import { pageRange } from '../findings/title.ts';

export interface BucketDetail { signature: string; case?: Case; rows: StepRow[]; error?: string }

/** What the heading and the lines above the step table say about one bucket. */
export interface BucketHead {
  signature: string;
  /** shown above the signature when it says something else */
  title?: string;
  /** e.g. the gate's new/flaky/baseline, with class st-<status> */
  status?: string;
  example: string;
  /** the muted line under the example, already HTML */
  factsHtml: string;
}

/** The rules the step table and the heading need (the report and the dashboard include them). */
export const BUCKET_CSS = `
.bits .x{background:#ffd7d5;color:#82071e;font-weight:700;outline:1px solid #cf222e}
tr.bad td{background:#fff5f5}.st-new{color:#cf222e;font-weight:600}.st-flaky{color:#9a6700}.st-baseline{color:#57606a}
.muted{color:#57606a}`;

function bits(s: string, diff: number[]): string {
  return [...s].map((ch, k) => diff.includes(k) ? `<span class="x">${esc(ch)}</span>` : esc(ch)).join('');
}

/** the case text's range notation (`[3]`, `[0..512)`), as titles and examples write it */
const pages = (r: PageRun) => pageRange('', r.first, r.last);

export function stepTableHtml(d: BucketDetail): string {
  if (d.error) return `<p class="muted">no step table: ${esc(d.error)}</p>`;
  if (!d.rows.length) return '<p class="muted">no stored trace for this bucket</p>';
  const out = [`<table class="steps"><thead><tr><th>step</th><th>op</th><th>rc expected / actual</th><th>proc</th><th>region</th><th>pages</th><th>expected</th><th>actual</th></tr></thead><tbody>`];
  for (const r of d.rows) {
    const lines = r.regions.flatMap((g) => g.runs.map((run) => ({ g, run })));
    const events = r.events && (r.events.diff || r.events.expected !== '(none)') ? r.events : undefined;
    const n = Math.max(1, lines.length) + (events ? 1 : 0);
    const head = `<td rowspan="${n}">${r.step}</td><td rowspan="${n}"><code>${esc(r.op)}</code>${r.skipped ? `<br><span class="muted">skipped: ${esc(r.skipped)}</span>` : ''}</td>` +
      `<td rowspan="${n}" class="bits">${r.rc.diff ? `<span class="x">${esc(r.rc.expected)} / ${esc(r.rc.actual)}</span>` : `${esc(r.rc.expected)} / ${esc(r.rc.actual)}`}</td>`;
    if (!lines.length) out.push(`<tr class="${r.mismatches ? 'bad' : ''}">${head}<td colspan="5" class="muted">nothing observed</td></tr>`);
    lines.forEach(({ g, run }, i) => {
      out.push(`<tr class="${run.diff.length ? 'bad' : ''}">${i === 0 ? head : ''}<td>p${esc(g.proc)}</td><td>${esc(g.region)}${g.kind === 'scan' ? ' (scan)' : ''}</td><td>${pages(run)}</td>` +
        `<td class="bits">${esc(run.expected)}</td><td class="bits">${bits(run.actual, run.diff)}</td></tr>`);
    });
    if (events) out.push(`<tr class="${events.diff ? 'bad' : ''}"><td colspan="3">uffd events</td><td class="bits">${esc(events.expected)}</td><td class="bits">${events.diff ? `<span class="x">${esc(events.actual)}</span>` : esc(events.actual)}</td></tr>`);
  }
  out.push('</tbody></table>');
  out.push(`<p class="muted">pagemap letters ${BIT_LETTERS.join(' ')} (present, swapped, file, exclusive, uffd-wp, soft-dirty); scan letters ${SCAN_LETTERS.join(' ')}; <code>?</code> = not shown by the target, <code>*</code> = any; differing letters are marked.</p>`);
  return out.join('\n');
}

/** `<section class="bucket" id="b-SIGNATURE">`: heading, example, facts, step table. */
export function bucketSectionHtml(h: BucketHead, d: BucketDetail | undefined): string {
  const title = h.title && h.title !== h.signature ? `${esc(h.title)}<br>` : '';
  return [
    `<section class="bucket" id="b-${esc(h.signature)}"><h3>${title}<code>${esc(h.signature)}</code>${h.status ? ` <span class="st-${esc(h.status)}">${esc(h.status)}</span>` : ''}</h3>`,
    `<p>${esc(h.example)}</p><p class="muted">${h.factsHtml}</p>`,
    d ? stepTableHtml(d) : '<p class="muted">no details</p>',
    '</section>',
  ].join('\n');
}
