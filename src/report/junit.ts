// JUnit XML: suite "corpus" (one testcase per corpus case), suite "buckets" (one per bucket: a
// failure when new and reproducible, skipped when flaky or accepted by the baseline) and suite
// "campaign" (the fresh-case budget; an error testcase per infrastructure error).
import type { GateRun } from './run.ts';
import { bucketLine, bucketTestName, campaignLine, campaignTestName, corpusTestName } from './names.ts';

export const xmlEscape = (s: string) => s.replace(/[<>&"']/g, (ch) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' }[ch]!))
  // characters XML 1.0 cannot carry
  .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/g, '');

interface TC { name: string; classname: string; time: number; failure?: string; error?: string; skipped?: string; out?: string }

function suite(name: string, tcs: TC[]): string {
  const count = (k: keyof TC) => tcs.filter((t) => t[k] !== undefined).length;
  const time = tcs.reduce((s, t) => s + t.time, 0);
  const body = tcs.map((t) => {
    const inner = [
      t.failure !== undefined ? `      <failure message="${xmlEscape(t.failure.split('\n')[0])}">${xmlEscape(t.failure)}</failure>` : '',
      t.error !== undefined ? `      <error message="${xmlEscape(t.error.split('\n')[0])}">${xmlEscape(t.error)}</error>` : '',
      t.skipped !== undefined ? `      <skipped message="${xmlEscape(t.skipped)}"/>` : '',
      t.out ? `      <system-out>${xmlEscape(t.out)}</system-out>` : '',
    ].filter(Boolean);
    const open = `    <testcase name="${xmlEscape(t.name)}" classname="${xmlEscape(t.classname)}" time="${t.time.toFixed(3)}"`;
    return inner.length ? `${open}>\n${inner.join('\n')}\n    </testcase>` : `${open}/>`;
  }).join('\n');
  return `  <testsuite name="${xmlEscape(name)}" tests="${tcs.length}" failures="${count('failure')}" errors="${count('error')}" skipped="${count('skipped')}" time="${time.toFixed(3)}">\n${body}\n  </testsuite>`;
}

export function toJUnit(run: GateRun): string {
  const corpus: TC[] = run.corpus.map((r) => {
    const t: TC = { name: corpusTestName(r), classname: 'ptefarm.gate.corpus', time: r.ms / 1000, out: r.name };
    if (r.status === 'fail') t.failure = `${r.title ?? r.signatures.join(', ')}\n${r.signatures.join(', ')}\n${r.message ?? ''}`;
    else if (r.status === 'error') t.error = r.message ?? 'error';
    else if (r.status === 'skip') t.skipped = r.message ?? 'skipped by the target';
    else if (r.status === 'known') t.out = `${r.name ?? ''}\naccepted by the baseline: ${r.signatures.join(', ')}`;
    else if (r.status === 'flaky') t.out = `${r.name ?? ''}\nflaky (does not reproduce every time): ${r.signatures.join(', ')}`;
    return t;
  });
  const buckets: TC[] = run.buckets.map((b) => {
    const t: TC = { name: bucketTestName(b), classname: 'ptefarm.gate.bucket', time: 0, out: `${bucketLine(b)}\ncase: ${b.case_file}${b.trace_file ? `\ntrace: ${b.trace_file}` : ''}` };
    if (b.status === 'new') t.failure = `${b.title}\nnew reproducible violation ${b.signature} (reproduced ${b.reproduced}/${b.runs})\n${b.example}`;
    else if (b.status === 'baseline') t.skipped = `accepted by the baseline: ${b.reason}`;
    else t.skipped = `flaky: reproduced ${b.reproduced}/${b.runs}: ${b.example}`;
    return t;
  });
  const camp: TC[] = [{ name: campaignTestName(run), classname: 'ptefarm.gate.campaign', time: run.campaign?.elapsed_s ?? 0, out: campaignLine(run) }];
  for (const e of run.errors) camp.push({ name: `infrastructure: ${e.slice(0, 120)}`, classname: 'ptefarm.gate.infrastructure', time: 0, error: e });
  const all = [...corpus, ...buckets, ...camp];
  const n = (k: keyof TC) => all.filter((t) => t[k] !== undefined).length;
  // <testsuites> carries no `skipped` (the Jenkins xunit schema, junit-10.xsd, allows it only on <testsuite>)
  return `<?xml version="1.0" encoding="UTF-8"?>\n<testsuites name="ptefarm gate ${xmlEscape(run.target)}" tests="${all.length}" failures="${n('failure')}" errors="${n('error')}" time="${run.elapsed_s.toFixed(3)}">\n` +
    [suite('corpus', corpus), suite('buckets', buckets), suite('campaign', camp)].join('\n') + '\n</testsuites>\n';
}
