// runGate semantics with scripted transports: a violation that does not reproduce every time is
// flaky (reported, not failing); a reproducible one fails; every case faulting is exit 2.
import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CaseJob, CaseResult, Transport } from '../../src/transport/transport.ts';
import { ModelTarget } from '../../src/targets/model.ts';
import { referenceChecker } from '../../src/campaign/checker.ts';
import { runGate } from '../../src/gate/gate.ts';
import { matchBaseline, parseBaseline } from '../../src/gate/baseline.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));
const ref = new ModelTarget('model:x86');
const mutant = new ModelTarget('model:x86+B-3');

/** runs the mutant when `buggy(n)` says so for the n-th job, else the reference */
class Scripted implements Transport {
  readonly concurrency = 1;
  n = 0;
  constructor(private readonly buggy: (n: number) => boolean | 'fault') {}
  async run(job: CaseJob): Promise<CaseResult> {
    const b = this.buggy(this.n++);
    if (b === 'fault') return { id: job.id, fault: 'executor died' };
    return { id: job.id, trace: await (b ? mutant : ref).execute(job.case) };
  }
  async close() {}
}

const corpus = [join(root, 'corpus/mutants/B-3.json')];

describe('runGate', () => {
  it('a violation that reproduces 2 of 3 times is flaky: reported, gate passes', async () => {
    const out = mkdtempSync(join(tmpdir(), 'ptefarm-gate-flaky-'));
    const run = await runGate({ target: 'fake', transport: new Scripted((n) => n !== 2), checker: await referenceChecker(), corpusDirs: corpus, seed: 1, outDir: out });
    expect(run.exit_code).toBe(0);
    expect(run.buckets.length).toBeGreaterThan(0);
    for (const b of run.buckets) { expect(b.status).toBe('flaky'); expect(b.reproduced).toBe(2); expect(b.runs).toBe(3); }
    expect(run.corpus[0].status).toBe('flaky');
    // the stored trace is one that shows the violation
    const b = run.buckets[0];
    expect(JSON.parse(readFileSync(join(out, b.trace_file!), 'utf8')).format).toBe('ptefarm-trace/1');
  });

  it('a violation that reproduces every time fails the gate', async () => {
    const out = mkdtempSync(join(tmpdir(), 'ptefarm-gate-repro-'));
    const run = await runGate({ target: 'fake', transport: new Scripted(() => true), checker: await referenceChecker(), corpusDirs: corpus, seed: 1, outDir: out, reproduceRuns: 5 });
    expect(run.exit_code).toBe(1);
    expect(run.buckets.every((b) => b.status === 'new' && b.reproduced === 5)).toBe(true);
    expect(run.reasons[0]).toMatch(/^new reproducible violation: soft-dirty lost /);
  });

  it('every fresh case faulting is an infrastructure error (exit 2)', async () => {
    const out = mkdtempSync(join(tmpdir(), 'ptefarm-gate-fault-'));
    const run = await runGate({ target: 'fake', transport: new Scripted(() => 'fault'), checker: await referenceChecker(), corpusDirs: [], seed: 1, cases: 20, outDir: out });
    expect(run.exit_code).toBe(2);
    expect(run.errors.join('\n')).toMatch(/all 20 fresh cases faulted/);
  });

  it('a faulting corpus case is an infrastructure error naming the file', async () => {
    const out = mkdtempSync(join(tmpdir(), 'ptefarm-gate-cfault-'));
    const run = await runGate({ target: 'fake', transport: new Scripted(() => 'fault'), checker: await referenceChecker(), corpusDirs: corpus, seed: 1, outDir: out });
    expect(run.exit_code).toBe(2);
    expect(run.errors[0]).toMatch(/corpus case .*B-3\.json faulted: executor died/);
  });
});

describe('baseline', () => {
  it('accepts a bare list or {accepted}, wildcards, and rejects entries without a reason', () => {
    const b = parseBaseline([{ signature: 'bit.D.*', reason: 'no soft-dirty on this arch' }, { signature: 'rc.rc.mismatch.R-X.mmap.na', reason: 'r' }]);
    expect(matchBaseline(b, 'bit.D.lost.R-FLT-8.write.pte')?.reason).toBe('no soft-dirty on this arch');
    expect(matchBaseline(b, 'bit.W.wp-lost.R-FLT-8.write.pte')).toBeUndefined();
    expect(matchBaseline(b, 'rc.rc.mismatch.R-X.mmap.na')).toBeDefined();
    expect(parseBaseline({ accepted: [{ signature: 's', reason: 'r' }] })).toHaveLength(1);
    expect(() => parseBaseline([{ signature: 's' }], 'b.json')).toThrow(/b\.json: entry 0 \(s\): "reason" must say why/);
    expect(() => parseBaseline({ x: 1 }, 'b.json')).toThrow(/expected a JSON list/);
  });
});
