// JUnit XML, written by junit-report-builder (a maintained builder, not string concatenation):
// suite "corpus" (one testcase per corpus case), suite "buckets" (one per bucket: a failure when
// new and reproducible, skipped when flaky or accepted by the baseline) and suite "campaign" (the
// fresh-case budget; an error testcase per infrastructure error). Read back in
// test/report/junit.test.ts by python3-junitparser and checked against the Jenkins JUnit schema.
import { createRequire } from 'node:module';
import type { Builder } from 'junit-report-builder';
import type { GateRun } from './run.ts';
import { bucketLine, bucketTestName, campaignLine, campaignTestName, corpusTestName } from './names.ts';

interface TC { name: string; classname: string; time: number; failure?: string; error?: string; skipped?: string; out?: string }

/** seconds with at most 3 decimals (never exponent notation, which the schema's time type refuses) */
const secs = (s: number) => Math.round(s * 1000) / 1000;
const firstLine = (s: string) => s.split('\n')[0];
// a CommonJS package whose typings declare an ES default export: required, so that the types and
// what Node loads agree
const junitBuilder = createRequire(import.meta.url)('junit-report-builder') as Builder;

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

  const builder = junitBuilder.newBuilder().name(`ptefarm gate ${run.target}`);
  for (const [name, tcs] of [['corpus', corpus], ['buckets', buckets], ['campaign', camp]] as const) {
    const suite = builder.testSuite().name(name).timestamp(run.started).time(secs(tcs.reduce((s, t) => s + t.time, 0)));
    for (const t of tcs) {
      const tc = suite.testCase().name(t.name).className(t.classname).time(secs(t.time));
      if (t.failure !== undefined) tc.failure(firstLine(t.failure), 'violation').stacktrace(t.failure);
      if (t.error !== undefined) tc.error(firstLine(t.error), 'infrastructure', t.error);
      // <skipped> carries no message in the Jenkins JUnit schema (dtkit junit-4.xsd): the reason
      // goes to system-out, first
      if (t.skipped !== undefined) tc.skipped();
      const out = [t.skipped !== undefined ? `skipped: ${t.skipped}` : '', t.out ?? ''].filter(Boolean).join('\n');
      if (out) tc.standardOutput(out);
    }
  }
  // junit-report-builder writes `skipped` on <testsuites> too, where the Jenkins JUnit schemas
  // (xunit's junit-10.xsd, dtkit's junit-4.xsd) do not allow it: the count stays on each <testsuite>
  return builder.build().replace(/^(<\?xml[^>]*\?>\s*<testsuites\b[^>]*?) skipped="\d+"/, '$1') + '\n';
}
