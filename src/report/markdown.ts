// The markdown summary for a PR comment: verdict first, then the buckets that fail the gate (top
// buckets first: most hits), then flaky and baseline ones, infrastructure errors, the corpus and
// the campaign. It always fits in one GitHub comment (65,536 characters): lists stop where the
// budget ends and say how many more there are ("… and N more buckets"); every cell is clipped.
// The whole run is in gate.json and report.html next to it.
import type { GateBucket, GateRun } from './run.ts';
import { campaignLine } from './names.ts';
import { clip } from '../ops/bounded.ts';
import { signatureRank } from '../findings/signature.ts';

/** GitHub's limit on the body of an issue or pull-request comment, in characters */
export const GITHUB_COMMENT_LIMIT = 65_536;
/** what this summary allows itself: the limit less room for what a CI step wraps around it */
export const MARKDOWN_BUDGET = 60_000;

const cell = (s: string, max = 300) => clip(s, max).replace(/\|/g, '\\|').replace(/\s*\n\s*/g, ' ');
const code = (s: string) => '`' + clip(s, 160).replace(/`/g, "'") + '`';
const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

/** lines appended while they fit in what is left of the budget */
class Page {
  private readonly lines: string[] = [];
  private used = 0;
  constructor(private budget: number) {}
  get left() { return this.budget - this.used; }
  fits(s: string) { return this.used + s.length + 1 <= this.budget; }
  push(...ls: string[]) { for (const l of ls) { this.lines.push(l); this.used += l.length + 1; } }
  /** `rows` in order while each fits with `reserve` characters still free, then "… and N more
   *  <what>" for those left out; the count of rows written */
  list(rows: string[], what: string, reserve = 0): number {
    const more = (k: number) => `_… and ${k} more ${what} (in gate.json and report.html)_`;
    let n = 0;
    for (const r of rows) {
      const rest = rows.length - n - 1;
      // room for this row and, when rows remain after it, for the "… and N more" line
      if (this.used + r.length + 1 + (rest ? more(rest).length + 2 : 0) + reserve > this.budget) break;
      this.push(r);
      n++;
    }
    // a table ends at a blank line: the count goes below it
    if (n < rows.length) { if (rows[0].startsWith('|')) this.push(''); this.push(more(rows.length - n)); }
    return n;
  }
  text() { return this.lines.join('\n') + '\n'; }
}

/** top buckets first: the worst severity (data first: signatureRank), most hits, then the fewest
 *  ops, then by signature (a stable order) */
const top = (a: GateBucket, b: GateBucket) => signatureRank(a.signature) - signatureRank(b.signature) || b.hits - a.hits || a.ops - b.ops || a.signature.localeCompare(b.signature);

export function toMarkdown(run: GateRun, budget = MARKDOWN_BUDGET): string {
  const icon = run.verdict === 'pass' ? '✅' : run.verdict === 'fail' ? '❌' : '⚠️';
  const fresh = run.buckets.filter((b) => b.status === 'new').sort(top);
  const flaky = run.buckets.filter((b) => b.status === 'flaky').sort(top);
  const known = run.buckets.filter((b) => b.status === 'baseline').sort(top);
  const by = (s: string) => run.corpus.filter((r) => r.status === s).length;

  // the tail (corpus and campaign) is written last but its room is kept from the start
  const tail = [
    '### Corpus and campaign', '',
    `- corpus (${run.corpus_dirs.slice(0, 10).map(code).join(', ')}${run.corpus_dirs.length > 10 ? `, … ${run.corpus_dirs.length - 10} more` : ''}): ${plural(run.corpus.length, 'case')}: ${by('pass')} pass, ${by('fail')} fail, ${by('known')} baseline, ${by('flaky')} flaky, ${by('skip')} skipped, ${by('error')} error`,
    `- ${campaignLine(run)}`,
    '', 'The whole run (every bucket, case and trace) is in the run directory: `gate.json`, `report.html`.',
  ];
  const tailSize = tail.reduce((n, l) => n + l.length + 1, 0);
  const page = new Page(budget - tailSize);

  page.push(`## ${icon} ptefarm gate: ${run.verdict.toUpperCase()} on ${code(run.target)}`, '');
  const info = run.target_info ? ` (${cell(run.target_info.arch, 40)}, kernel ${cell(run.target_info.kernel, 80)})` : '';
  page.push(`Target ${code(run.target)}${info}, seed ${run.seed}, ${run.elapsed_s} s; exit code ${run.exit_code}.`, '');
  // one line per kind, not one per bucket: the buckets are in the tables below (each once)
  page.push(`- ${plural(fresh.length, 'new reproducible bucket')}, ${plural(flaky.length, 'flaky bucket')}, ${plural(known.length, 'bucket')} accepted by the baseline; ${plural(run.errors.length, 'infrastructure error')}`);
  if (run.exit_code === 0) for (const r of run.reasons.slice(0, 3)) page.push(`- ${cell(r, 400)}`);
  page.push('');

  if (fresh.length) {
    page.push('### New reproducible violations', '');
    page.push(`Reproduce locally: \`npx ptefarm check --target ${clip(run.target, 120)} <run-dir>/${clip(fresh[0].case_file, 160)}\`; C reproducer: \`npx ptefarm repro <run-dir>/${clip(fresh[0].case_file, 160)} -o repro.c\`.`, '');
    page.push('| title | reproduced | hits | ops | first divergence (in the stored case) | signature |', '|---|---|---|---|---|---|');
    page.list(fresh.map((b) => `| **${cell(b.title, 200)}** | ${b.reproduced}/${b.runs} | ${b.hits} | ${b.ops} | ${cell(b.example)} | ${code(b.signature)} |`), 'new buckets');
    page.push('');
  }
  if (flaky.length) {
    page.push('### Flaky (not failing the gate)', '');
    page.list(flaky.map((b) => `- **${cell(b.title, 200)}** ${code(b.signature)}: reproduced ${b.reproduced}/${b.runs} — ${cell(b.example)}`), 'flaky buckets');
    page.push('');
  }
  if (known.length) {
    page.push('### Accepted by the baseline', '');
    page.list(known.map((b) => `- ${cell(b.title, 200)} ${code(b.signature)}: ${cell(b.reason ?? '', 200)}`), 'baseline buckets');
    page.push('');
  }
  if (run.errors.length) {
    page.push('### Infrastructure errors', '');
    page.list(run.errors.map((e) => `- ${cell(e, 400)}`), 'infrastructure errors');
    page.push('');
  }
  const bad = run.corpus.filter((r) => r.status === 'fail' || r.status === 'error');
  // the details block needs its closing tag: reserve room for it
  if (bad.length && page.fits('<details><summary>Failing corpus cases</summary>\n\n\n</details>\n_… and 100000 more failing corpus cases_\n')) {
    page.push('<details><summary>Failing corpus cases</summary>', '');
    page.list(bad.map((r) => `- ${code(r.path)} (${r.status}): ${r.title ? `**${cell(r.title, 200)}** — ` : ''}${cell(r.message ?? r.signatures.join(', '))}`), 'failing corpus cases', '\n</details>\n'.length);
    page.push('', '</details>', '');
  }
  page.push(...tail);
  return page.text();
}
