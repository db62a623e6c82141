// The JUnit report read back by real consumers: Debian's python3-junitparser (what a CI plugin
// parses: suites, counts, each case's result and message) and xmllint against the Jenkins JUnit
// schema (test/fixtures/junit/jenkins-junit-4.xsd, vendored with its source named in the README
// beside it). Both on a hand-made run with text that needs escaping and on a real gate run
// rendered from its stored run directory. Skipped, with the reason, where a consumer is missing
// (scripts/install.sh installs both).
import { describe, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { GateRun } from '../../src/report/run.ts';
import { toJUnit } from '../../src/report/junit.ts';
import { renderReports, saveRun } from '../../src/report/rundir.ts';
import { runGate } from '../../src/gate/gate.ts';
import { ModelTarget } from '../../src/targets/model.ts';
import type { CaseJob, CaseResult, Transport } from '../../src/transport/transport.ts';
import { referenceChecker } from '../../src/campaign/checker.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));
const XSD = join(root, 'test/fixtures/junit/jenkins-junit-4.xsd');
// Debian's module lives in the system interpreter's dist-packages (a pyenv python3 does not see it)
const PY = ['/usr/bin/python3', 'python3'].find((p) => spawnSync(p, ['-c', 'import junitparser'], { stdio: 'ignore' }).status === 0);
const XMLLINT = spawnSync('xmllint', ['--version'], { stdio: 'ignore' }).status === 0;
const NO_PY = 'python3-junitparser is not importable (apt-get install python3-junitparser)';
const NO_XMLLINT = 'xmllint is not installed (apt-get install libxml2-utils)';

/** `it`, or `it.skip` with the reason in the test's name when a consumer is missing */
const needs = (missing: string[]) => (name: string, fn: () => unknown, timeout?: number) =>
  (missing.length ? it.skip : it)(missing.length ? `${name} — SKIPPED: ${missing.join('; ')}` : name, fn, timeout);

interface ParsedCase { name: string; classname: string; result: string[]; message: string[]; out: string }
interface ParsedSuite { name: string; tests: number; failures: number; errors: number; skipped: number; cases: ParsedCase[] }

/** what junitparser reads from the file */
function junitparser(file: string): ParsedSuite[] {
  const script = `
import json, sys
from junitparser import JUnitXml
xml = JUnitXml.fromfile(sys.argv[1])
out = []
for s in xml:
    cases = [{"name": c.name, "classname": c.classname, "result": [type(r).__name__ for r in c.result],
              "message": [r.message or "" for r in c.result], "out": c.system_out or ""} for c in s]
    out.append({"name": s.name, "tests": s.tests, "failures": s.failures, "errors": s.errors, "skipped": s.skipped, "cases": cases})
print(json.dumps(out))
`;
  return JSON.parse(execFileSync(PY!, ['-c', script, file], { encoding: 'utf8' })) as ParsedSuite[];
}

/** xmllint's verdict against the Jenkins schema: null when valid, else its complaint */
function schemaErrors(file: string): string | null {
  const r = spawnSync('xmllint', ['--noout', '--schema', XSD, file], { encoding: 'utf8' });
  return r.status === 0 ? null : r.stderr.trim();
}

/** the JUnit result each status must give (the mapping src/report/junit.ts documents) */
const corpusResult = { pass: [], known: [], flaky: [], fail: ['Failure'], error: ['Error'], skip: ['Skipped'] } as const;
const bucketResult = { new: ['Failure'], flaky: ['Skipped'], baseline: ['Skipped'] } as const;

function expectMatchesRun(suites: ParsedSuite[], run: GateRun) {
  expect(suites.map((s) => s.name)).toEqual(['corpus', 'buckets', 'campaign']);
  const [corpus, buckets, campaign] = suites;
  expect(corpus.cases.map((c) => c.result)).toEqual(run.corpus.map((r) => corpusResult[r.status]));
  expect(buckets.cases.map((c) => c.result)).toEqual(run.buckets.map((b) => bucketResult[b.status]));
  // a new bucket's failure message is its title (what a CI view lists first)
  run.buckets.forEach((b, i) => { if (b.status === 'new') expect(buckets.cases[i].message[0]).toBe(b.title); });
  // the bucket test names carry the signature a baseline matches
  run.buckets.forEach((b, i) => expect(buckets.cases[i].name).toContain(`[${b.signature}]`));
  expect(campaign.cases.length).toBe(1 + run.errors.length);
  for (const s of suites) {
    expect(s.tests, s.name).toBe(s.cases.length);
    expect(s.failures, s.name).toBe(s.cases.filter((c) => c.result.includes('Failure')).length);
    expect(s.errors, s.name).toBe(s.cases.filter((c) => c.result.includes('Error')).length);
    expect(s.skipped, s.name).toBe(s.cases.filter((c) => c.result.includes('Skipped')).length);
  }
}

const handMade: GateRun = {
  format: 'ptefarm-gate/1', target: 'model:x86+B-3', seed: 1, started: '2026-01-01T00:00:00.000Z', elapsed_s: 1.5,
  budget: { cases: 10 }, reproduce_runs: 3, corpus_dirs: ['corpus/seeds'], verdict: 'error', exit_code: 2,
  reasons: ['r'], errors: ['executor died: <signal 11> & "core" ]]> \u0001'],
  corpus: [
    { path: 'corpus/seeds/a.json', status: 'pass', signatures: [], ms: 3 },
    { path: 'corpus/seeds/b#1.json', status: 'fail', signatures: ['bit.D.lost.R-X.write.pte'], title: 'soft-dirty lost <x>', message: 'step 1 <write> & "x" ]]> end', ms: 4 },
    { path: 'corpus/seeds/c.json', status: 'skip', signatures: [], message: 'no uffd', ms: 0 },
    { path: 'corpus/seeds/d.json', status: 'error', signatures: [], message: 'bad JSON', ms: 0 },
  ],
  campaign: { target: 'model:x86+B-3', seed: 1, cases: 10, violations: 2, faults: 0, skipped: 0, elapsed_s: 1, cases_per_s: 10, coverage: { rules_hit: 1, rules_total: 2, rules: ['R-X'] }, stopped: 'reached 10 cases', buckets: 2 },
  timeline: [{ t: 0, cases: 0 }, { t: 1, cases: 10 }], faults: [],
  buckets: [
    { signature: 'bit.D.lost.R-X.write.pte', title: 'soft-dirty lost on write fault of anon PTE (R-X, mm/x.c f)', source: 'corpus/seeds/b#1.json', status: 'new', hits: 2, ops: 3, minimized: false, reproduced: 3, runs: 3, example: 'step 1 <write>', step: 1, consequences: 4, case_file: 'cases/x.json' },
    { signature: 'bit.W.wp-lost.R-Y.wp.pte', title: 'uffd-wp lost (R-Y)', source: 'campaign', status: 'flaky', hits: 1, ops: 2, minimized: true, reproduced: 1, runs: 3, example: 'e', step: 1, consequences: 0, case_file: 'cases/y.json' },
    { signature: 'bit.D.spurious.R-Z.mmap.pte', title: 'soft-dirty set spuriously (R-Z)', source: 'campaign', status: 'baseline', reason: 'no soft-dirty', hits: 1, ops: 1, minimized: true, reproduced: 3, runs: 3, example: 'e', step: 0, consequences: 0, case_file: 'cases/z.json' },
  ],
};

class ModelTransport implements Transport {
  readonly concurrency = 2;
  private readonly t: ModelTarget;
  constructor(spec: string) { this.t = new ModelTarget(spec); }
  async run(job: CaseJob): Promise<CaseResult> { return { id: job.id, trace: await this.t.execute(job.case) }; }
  async close() {}
}

describe('JUnit read back by junitparser', () => {
  needs(PY ? [] : [NO_PY])('a hand-made run: suites, counts, results and escaped text as junitparser reads them', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'ptefarm-junit-')), 'junit.xml');
    writeFileSync(file, toJUnit(handMade));
    const suites = junitparser(file);
    expectMatchesRun(suites, handMade);
    // text needing escaping (and a CDATA terminator) comes back as written; the control character is dropped
    expect(suites[0].cases[1].message[0]).toBe('soft-dirty lost <x>');
    expect(suites[2].cases[1].message[0]).toBe('executor died: <signal 11> & "core" ]]> ');
    // a skip's reason is the first line of its system-out
    expect(suites[0].cases[2].out.split('\n')[0]).toBe('skipped: no uffd');
    expect(suites[1].cases[2].out.split('\n')[0]).toBe('skipped: accepted by the baseline: no soft-dirty');
  });
});

describe('JUnit against the Jenkins JUnit schema (xmllint)', () => {
  needs(XMLLINT ? [] : [NO_XMLLINT])('a hand-made run validates; the same file with `skipped` on <testsuites> does not', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ptefarm-junit-xsd-'));
    const xml = toJUnit(handMade);
    writeFileSync(join(dir, 'ok.xml'), xml);
    expect(schemaErrors(join(dir, 'ok.xml'))).toBeNull();
    // the check can fail: what the builder writes by itself on the root is refused
    writeFileSync(join(dir, 'bad.xml'), xml.replace('<testsuites ', '<testsuites skipped="2" '));
    expect(schemaErrors(join(dir, 'bad.xml'))).toMatch(/testsuites.*skipped.*not allowed/);
  });
});

describe('a real gate run, rendered from its stored run directory', () => {
  needs([...(PY ? [] : [NO_PY]), ...(XMLLINT ? [] : [NO_XMLLINT])])('validates against the schema and junitparser reads what gate.json says', async () => {
    const out = mkdtempSync(join(tmpdir(), 'ptefarm-junit-gate-'));
    const bad = join(mkdtempSync(join(tmpdir(), 'ptefarm-junit-corpus-')), 'broken.json');
    writeFileSync(bad, '{ "ops": [ not json');
    const run = await runGate({
      target: 'model:x86+B-3', transport: new ModelTransport('model:x86+B-3'), checker: await referenceChecker(),
      corpusDirs: [join(root, 'corpus/mutants/B-3.json'), join(root, 'corpus/seeds/s-pms-base.json'), bad], seed: 5, cases: 40, outDir: out,
    });
    await saveRun(out, run);
    // the run has what the test is about: a pass, a failure, an error, and a new bucket
    expect(run.corpus.map((r) => r.status).sort()).toEqual(['error', 'fail', 'pass']);
    expect(run.buckets.some((b) => b.status === 'new')).toBe(true);
    const file = join(out, 'junit.xml');
    writeFileSync(file, (await renderReports(out)).junit);
    expect(schemaErrors(file)).toBeNull();
    expectMatchesRun(junitparser(file), run);
  }, 120_000);
});
