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
import { SIGNATURE_VERSION } from '../../src/findings/signature.ts';

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

  it('a baseline written under an older signature scheme still accepts the bucket, and gate.json says how it was read', async () => {
    // M-8 drops mremap's soft-dirty on a moved PTE (mm/mremap.c move_soft_dirty_pte, R-MRM-1); scheme 1
    // keyed it by the entry (`…R-MRM-1.page`), scheme 2 keys R-MRM-1 `any`
    const m8 = new ModelTarget('model:x86+M-8');
    const transport: Transport = { concurrency: 1, run: async (job: CaseJob) => ({ id: job.id, trace: await m8.execute(job.case) }), close: async () => {} };
    const out = mkdtempSync(join(tmpdir(), 'ptefarm-gate-rekey-'));
    const lines: string[] = [];
    const baseline = parseBaseline([{ signature: 'bit.D.lost.R-MRM-1.page', reason: 'written before scheme 2' }]);
    const run = await runGate({ target: 'fake', transport, checker: await referenceChecker(), corpusDirs: [join(root, 'corpus/mutants/M-8.json')], seed: 1, outDir: out,
      baseline, baselineFile: 'b.json', log: (l) => lines.push(l) });
    expect(run.buckets.map((b) => [b.signature, b.status])).toEqual([['bit.D.lost.R-MRM-1.any', 'baseline']]);
    expect(run.exit_code).toBe(0);
    expect(run.signature_version).toBe(SIGNATURE_VERSION);
    expect(run.baseline).toEqual({ file: 'b.json', entries: 1, rekeyed: [{ written: 'bit.D.lost.R-MRM-1.page', now: 'bit.D.lost.R-MRM-1.any' }] });
    expect(lines.some((l) => /baseline pattern bit\.D\.lost\.R-MRM-1\.page is written in an older signature scheme; read as bit\.D\.lost\.R-MRM-1\.any/.test(l))).toBe(true);
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
  it('reads a pattern written under an older signature scheme as today\'s, says so, and refuses a newer scheme', () => {
    // scheme 1 keyed the entry-type bits by letter and direction; scheme 2 names them bit.entry.mismatch
    const old = parseBaseline([{ signature: 'bit.E.set.R-SPLIT-5.page', reason: 'r' }, { signature: 'bit.P.*', reason: 'p' }, { signature: 'bit.D.*', reason: 'd' }]);
    expect(matchBaseline(old, 'bit.entry.mismatch.R-SPLIT-5.page')?.reason).toBe('r');
    expect(old.map((e) => e.written)).toEqual(['bit.E.set.R-SPLIT-5.page', 'bit.P.*', undefined]);
    expect(matchBaseline(old, 'bit.entry.mismatch.R-PM-3.empty')?.reason).toBe('p');
    const v1 = parseBaseline({ signature_version: 1, accepted: [{ signature: 'bit.D.lost.R-MRM-1.page', reason: 'm' }] });
    expect(matchBaseline(v1, 'bit.D.lost.R-MRM-1.any')?.reason).toBe('m');
    // scheme 3 (R-SPLIT-3 for pages a file PMD split emptied) re-keys nothing the text of a scheme-2
    // pattern determines: it is read as written
    const v2 = parseBaseline({ signature_version: 2, accepted: [{ signature: 'bit.entry.mismatch.R-FLT-10.empty', reason: 'f' }] });
    expect(matchBaseline(v2, 'bit.entry.mismatch.R-FLT-10.empty')?.reason).toBe('f');
    expect(v2[0]!.written).toBeUndefined();
    // scheme 4 (UFFDIO_UNREGISTER's and close()'s own decision on the pages they unregister) neither
    const v3 = parseBaseline({ signature_version: 3, accepted: [{ signature: 'vma.registration.R-REG-1', reason: 'g' }] });
    expect(matchBaseline(v3, 'vma.registration.R-REG-1')?.reason).toBe('g');
    expect(v3[0]!.written).toBeUndefined();
    // a file of today's scheme is taken as written
    const v4 = parseBaseline({ signature_version: 4, accepted: [{ signature: 'bit.P.*', reason: 'p' }] });
    expect(v4[0]).toEqual({ signature: 'bit.P.*', reason: 'p' });
    expect(() => parseBaseline({ signature_version: 5, accepted: [] }, 'b.json')).toThrow(/b\.json: written for signature scheme 5; this ptefarm knows schemes up to 4/);
    expect(() => parseBaseline({ signature_version: 'x', accepted: [] }, 'b.json')).toThrow(/"signature_version" must be a positive integer/);
  });
});
