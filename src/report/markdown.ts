// The markdown summary for a PR comment: verdict first, then what fails the gate, then the rest.
import type { GateRun } from './run.ts';
import { campaignLine } from './names.ts';

const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
const code = (s: string) => '`' + s.replace(/`/g, "'") + '`';

export function toMarkdown(run: GateRun): string {
  const icon = run.verdict === 'pass' ? '✅' : run.verdict === 'fail' ? '❌' : '⚠️';
  const out: string[] = [];
  out.push(`## ${icon} ptefarm gate: ${run.verdict.toUpperCase()} on ${code(run.target)}`);
  out.push('');
  const info = run.target_info ? ` (${run.target_info.arch}, kernel ${run.target_info.kernel})` : '';
  out.push(`Target ${code(run.target)}${info}, seed ${run.seed}, ${run.elapsed_s} s; exit code ${run.exit_code}.`);
  out.push('');
  for (const r of run.reasons) out.push(`- ${r}`);
  out.push('');
  const fresh = run.buckets.filter((b) => b.status === 'new');
  if (fresh.length) {
    out.push('### New reproducible violations');
    out.push('');
    out.push('| title | reproduced | hits | ops | first divergence (in the stored case) | signature |');
    out.push('|---|---|---|---|---|---|');
    for (const b of fresh) out.push(`| **${cell(b.title)}** | ${b.reproduced}/${b.runs} | ${b.hits} | ${b.ops} | ${cell(b.example)} | ${code(b.signature)} |`);
    out.push('');
    out.push(`Reproduce locally: \`npx ptefarm check --target ${run.target} <run-dir>/${fresh[0].case_file}\`; C reproducer: \`npx ptefarm repro <run-dir>/${fresh[0].case_file} -o repro.c\`.`);
    out.push('');
  }
  const flaky = run.buckets.filter((b) => b.status === 'flaky');
  if (flaky.length) {
    out.push('### Flaky (not failing the gate)');
    out.push('');
    for (const b of flaky) out.push(`- **${cell(b.title)}** ${code(b.signature)}: reproduced ${b.reproduced}/${b.runs} — ${cell(b.example)}`);
    out.push('');
  }
  const known = run.buckets.filter((b) => b.status === 'baseline');
  if (known.length) {
    out.push('### Accepted by the baseline');
    out.push('');
    for (const b of known) out.push(`- ${cell(b.title)} ${code(b.signature)}: ${cell(b.reason ?? '')}`);
    out.push('');
  }
  if (run.errors.length) {
    out.push('### Infrastructure errors');
    out.push('');
    for (const e of run.errors) out.push(`- ${cell(e)}`);
    out.push('');
  }
  const by = (s: string) => run.corpus.filter((r) => r.status === s).length;
  out.push('### Corpus and campaign');
  out.push('');
  out.push(`- corpus (${run.corpus_dirs.map(code).join(', ')}): ${run.corpus.length} case(s): ${by('pass')} pass, ${by('fail')} fail, ${by('known')} baseline, ${by('flaky')} flaky, ${by('skip')} skipped, ${by('error')} error`);
  out.push(`- ${campaignLine(run)}`);
  const bad = run.corpus.filter((r) => r.status === 'fail' || r.status === 'error');
  if (bad.length) {
    out.push('');
    out.push('<details><summary>Failing corpus cases</summary>');
    out.push('');
    for (const r of bad) out.push(`- ${code(r.path)} (${r.status}): ${r.title ? `**${cell(r.title)}** — ` : ''}${cell(r.message ?? r.signatures.join(', '))}`);
    out.push('');
    out.push('</details>');
  }
  return out.join('\n') + '\n';
}
