// The check made where a case ran (src/transport/verdict.ts): one prediction that follows the
// traced kernel's profile for the verdict AND the coverage rules (the coverage predictions used to
// take the default profile whatever kernel ran the case), and the consistency checks a verdict from
// the wire must pass before the coordinator takes it.
import { describe, expect, it } from 'vitest';
import type { Case } from '../../src/ops/schema.ts';
import type { Trace } from '../../src/ops/trace.ts';
import { ModelTarget } from '../../src/targets/model.ts';
import { referenceChecker } from '../../src/campaign/checker.ts';
import { checkWhereRun, passes, traceDigest, verdictProblems, verdictSchema, withVerdict } from '../../src/transport/verdict.ts';

// a PAGEMAP_SCAN on a uffd-registered region: the ioctl exists since 6.7 (fs/proc/task_mmu.c
// do_pagemap_cmd, PAGEMAP_SCAN), so a 6.1 kernel fails it with ENOTTY and exercises no R-PMS rule
const scanCase: Case = { format: 'ptefarm-case/1', uffd: {}, ops: [
  { op: 'mmap', region: 'a', pages: 2, kind: 'anon' }, { op: 'uffd_register', region: 'a' }, { op: 'write', region: 'a' }, { op: 'scan', region: 'a' },
] } as Case;
const traceOn = (spec: string, c: Case): Trace => JSON.parse(JSON.stringify(new ModelTarget(spec).executeSync(c))) as Trace;
const hasScanRule = (rules: string[]) => rules.some((r) => r.startsWith('R-PMS'));

describe('checkWhereRun: the traced kernel decides the profile of verdict and coverage alike', () => {
  it('a 6.1 trace: the scan returns ENOTTY, passes, and its step exercised no PAGEMAP_SCAN rule', () => {
    const t = traceOn('model:x86@6.1', scanCase);
    expect(t.target.kernel).toBe('model-6.1');
    expect(t.steps[3]!.rc).toBe('ENOTTY');
    const v = checkWhereRun(scanCase, t);
    expect(v.profile).toBe('6.1');
    expect(v.ok).toBe(true);
    expect(v.step_rules).toHaveLength(4);
    expect(hasScanRule(v.step_rules[3]!)).toBe(false);
    // the same trace on 6.18 terms (a campaign's explicit --profile wins): the scan should have
    // worked, so the rc diverges and the step's rules are the scan's own
    const forced = checkWhereRun(scanCase, t, { profile: '6.18' });
    expect(forced.profile).toBe('6.18');
    expect(forced.ok).toBe(false);
    expect(forced.violations.some((x) => x.kind === 'rc' && x.step === 3 && x.actual === 'ENOTTY')).toBe(true);
    expect(hasScanRule(forced.step_rules[3]!)).toBe(true);
  });

  it('a 6.18 trace of the same case: the scan works and its rules are counted', () => {
    const v = checkWhereRun(scanCase, traceOn('model:x86', scanCase));
    expect(v.profile).toBe('6.18');
    expect(v.ok).toBe(true);
    expect(hasScanRule(v.step_rules[3]!)).toBe(true);
  });

  it('the coordinator\'s reference checker makes exactly the check a worker makes', async () => {
    const k = await referenceChecker();
    for (const spec of ['model:x86@6.1', 'model:x86@6.12', 'model:x86', 'model:x86+B-5']) {
      const t = traceOn(spec, scanCase);
      const v = checkWhereRun(scanCase, t);
      expect(k.check(scanCase, t), spec).toEqual({ violations: v.violations, stepRules: v.step_rules, skipped: v.skipped, fault: v.fault });
    }
  });

  it('a trace that does not fit its case is a fault, never a verdict on the kernel', () => {
    const t = traceOn('model:x86', scanCase);
    t.steps.pop();
    const v = checkWhereRun(scanCase, t);
    expect(v.ok).toBe(false);
    expect(v.violations).toEqual([]);
    expect(v.fault).toMatch(/^target returned an invalid trace:/);
  });
});

describe('withVerdict: what a worker sends back', () => {
  const job = { id: 'j', target: 'model:x86', case: scanCase };
  it('no check asked: the result is unchanged', () => {
    const res = { id: 'j', trace: traceOn('model:x86', scanCase) };
    expect(withVerdict(job, res)).toBe(res);
  });
  it('a passing case: the verdict, and no trace unless asked for every trace', () => {
    const trace = traceOn('model:x86', scanCase);
    const out = withVerdict({ ...job, check: {} }, { id: 'j', trace });
    expect(out.trace).toBeUndefined();
    expect(out.verdict).toMatchObject({ ok: true, violations: [] });
    expect(out.verdict!.trace_digest).toBeUndefined();
    // with the trace, the verdict names it
    const all = withVerdict({ ...job, check: { traces: 'all' } }, { id: 'j', trace });
    expect(all.trace).toBe(trace);
    expect(all.verdict!.trace_digest).toBe(traceDigest(trace));
  });
  it('a failing case keeps its trace; a faulted trace is not checked', () => {
    const trace = traceOn('model:x86@6.1', scanCase);
    const out = withVerdict({ ...job, check: { profile: '6.18' } }, { id: 'j', trace });
    expect(out.verdict!.ok).toBe(false);
    expect(out.trace).toBe(trace);
    expect(out.verdict!.trace_digest).toBe(traceDigest(trace));
    const faulted = { ...trace, fault: 'executor died' };
    expect(withVerdict({ ...job, check: {} }, { id: 'j', trace: faulted }).verdict).toBeUndefined();
  });
});

describe('verdictProblems: a verdict from the wire is taken only when consistent with its case and trace', () => {
  const trace = traceOn('model:x86', scanCase);
  const trace61 = traceOn('model:x86@6.1', scanCase);
  const good = { ...checkWhereRun(scanCase, trace), trace_digest: traceDigest(trace) };
  const failing = { ...checkWhereRun(scanCase, trace61, { profile: '6.18' }), trace_digest: traceDigest(trace61) };
  it('accepts the real thing', () => {
    expect(passes(good)).toBe(true);
    const { trace_digest: _d, ...alone } = good;
    expect(verdictProblems(scanCase, { id: 'j', verdict: alone })).toBeUndefined();
    expect(verdictProblems(scanCase, { id: 'j', verdict: good, trace })).toBeUndefined();
    expect(verdictProblems(scanCase, { id: 'j', verdict: failing, trace: traceOn('model:x86@6.1', scanCase) })).toBeUndefined();
    expect(verdictSchema.safeParse(JSON.parse(JSON.stringify(failing))).success).toBe(true);
  });
  it('"ok" with a trace other than the one it names, or one it does not name', () => {
    const other = traceOn('model:x86@6.12', scanCase);
    expect(verdictProblems(scanCase, { id: 'j', verdict: good, trace: other })).toMatch(/names trace [0-9a-f]{32}, the result carries another/);
    const { trace_digest: _d, ...alone } = good;
    expect(verdictProblems(scanCase, { id: 'j', verdict: alone, trace })).toMatch(/comes with a trace it does not name/);
  });
  it('"ok" with violations, a failure without its trace, steps the case lacks', () => {
    expect(verdictProblems(scanCase, { id: 'j', verdict: { ...good, violations: failing.violations } })).toMatch(/ok is true with \d+ violation/);
    expect(verdictProblems(scanCase, { id: 'j', verdict: failing })).toMatch(/fails without the trace/);
    expect(verdictProblems(scanCase, { id: 'j', verdict: { ...good, step_rules: [[]] } })).toMatch(/rules for 1 step\(s\), the case has 4 op\(s\)/);
    const far = { ...failing.violations[0]!, step: 9 };
    expect(verdictProblems(scanCase, { id: 'j', verdict: { ...failing, violations: [far] }, trace: trace61 })).toMatch(/violation at step 9/);
  });
  it('the wire schema bounds and types every field', () => {
    expect(verdictSchema.safeParse({ ...good, trace_digest: 'x' }).success).toBe(false);
    expect(verdictSchema.safeParse({ ...good, step_rules: 'R-1' }).success).toBe(false);
    expect(verdictSchema.safeParse({ ...good, violations: [{ ...failing.violations[0], severity: 'fine' }] }).success).toBe(false);
    expect(verdictSchema.safeParse({ ...good, fault: 'x'.repeat(30_000) }).success).toBe(false);
  });
});
