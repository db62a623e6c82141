import { afterAll, describe, expect, it } from 'vitest';
import type { Case } from '../../src/ops/schema.ts';
import { EmbeddedTransport, TASKS_PER_THREAD } from '../../src/transport/embedded.ts';
import { checkTrace } from '../../src/check/check.ts';
import { referenceChecker } from '../../src/campaign/checker.ts';

const mk = (name?: string): Case => ({ format: 'ptefarm-case/1', ...(name ? { name } : {}), ops: [{ op: 'mmap', region: 'a', pages: 2, kind: 'anon' }, { op: 'write', region: 'a' }] });

describe('embedded transport (fake task module)', () => {
  const t = new EmbeddedTransport({ threads: 2, filename: new URL('./fixtures/fake-task.ts', import.meta.url) });
  afterAll(() => t.close());

  it('runs jobs on worker threads and returns their results', async () => {
    const rs = await Promise.all(Array.from({ length: 8 }, (_, i) => t.run({ id: `j${i}`, target: 'fake', case: mk() })));
    expect(rs.map((r) => r.id)).toEqual(Array.from({ length: 8 }, (_, i) => `j${i}`));
    expect(rs.every((r) => r.trace?.steps.length === 2 && !r.fault)).toBe(true);
    expect(t.concurrency).toBe(2);
  });

  it('turns a throwing task, a hung task and a CPU-bound task into faults, and keeps working', async () => {
    const [thrown, hung, spun] = await Promise.all([
      t.run({ id: 'x', target: 'fake', case: mk('throw') }),
      t.run({ id: 'h', target: 'fake', case: mk('hang') }, { timeoutMs: 300 }),
      t.run({ id: 's', target: 'fake', case: mk('spin') }, { timeoutMs: 300 }),
    ]);
    expect(thrown.fault).toMatch(/task blew up/);
    expect(hung.fault).toMatch(/timeout/);
    expect(spun.fault).toMatch(/timeout/);
    const after = await t.run({ id: 'ok', target: 'fake', case: mk() });
    expect(after.fault).toBeUndefined();
  });
});

describe('embedded transport: two jobs per thread', () => {
  const t = new EmbeddedTransport({ threads: 1, filename: new URL('./fixtures/fake-task.ts', import.meta.url) });
  afterAll(() => t.close());

  it('a thread runs a job while its other job waits (a target awaited, a check to do)', async () => {
    const hung = t.run({ id: 'h', target: 'fake', case: mk('hang') }, { timeoutMs: 3000 });
    const ok = await t.run({ id: 'ok', target: 'fake', case: mk() }, { timeoutMs: 3000 });
    expect(ok.fault).toBeUndefined(); // done on the same (only) thread while 'h' still hangs there
    expect((await hung).fault).toMatch(/^timeout: no result within/);
  });

  it('a job whose thread is ended for the other job\'s overrun runs again: no fault of its own', async () => {
    const [spun, other] = await Promise.all([
      t.run({ id: 's', target: 'fake', case: mk('spin') }, { timeoutMs: 300 }),
      t.run({ id: 'o', target: 'fake', case: mk() }, { timeoutMs: 3000 }), // its own limit is later
    ]);
    expect(spun.fault).toMatch(/^timeout: no result within/);
    expect(other.fault).toBeUndefined();
    expect(other.trace?.steps).toHaveLength(2);
  });

  it('a job that waits behind two overrunning jobs in turn runs again each time: no fault of its own', async () => {
    // one thread: the first spin and 'o' share it, the second spin waits in the pool's queue ahead
    // of o's rerun and starts on the replacement thread (its limit is long enough for that), so
    // o's second thread is ended under it too before o could start
    const [spun1, other, spun2] = await Promise.all([
      t.run({ id: 's1', target: 'fake', case: mk('spin') }, { timeoutMs: 300 }),
      t.run({ id: 'o', target: 'fake', case: mk() }, { timeoutMs: 30_000 }),
      t.run({ id: 's2', target: 'fake', case: mk('spin') }, { timeoutMs: 4_000 }),
    ]);
    expect(spun1.fault).toMatch(/^timeout: no result within/);
    expect(spun2.fault).toMatch(/^timeout: no result within/);
    expect(other.fault).toBeUndefined();
    expect(other.trace?.steps).toHaveLength(2);
  });
});

describe('embedded transport: a job queued behind the jobs its thread holds', () => {
  const t = new EmbeddedTransport({ threads: 1, filename: new URL('./fixtures/fake-task.ts', import.meta.url) });
  afterAll(() => t.close());

  it('is not timed out while it waits in the pool\'s queue: its limit counts once it could run', async () => {
    // the one thread holds TASKS_PER_THREAD jobs that take 2.5 s each, within their own limits;
    // the next waits in the pool's queue past its own last-resort limit (1 ms case limit: 2001 ms)
    // and then runs
    const longs = Array.from({ length: TASKS_PER_THREAD }, (_, i) => t.run({ id: `l${i}`, target: 'fake', case: mk('long') }, { timeoutMs: 10_000 }));
    const [queued, ...rest] = await Promise.all([t.run({ id: 'q', target: 'fake', case: mk() }, { timeoutMs: 1 }), ...longs]);
    expect(rest.map((r) => r.fault)).toEqual(rest.map(() => undefined));
    expect(queued.fault).toBeUndefined();
    expect(queued.trace?.steps).toHaveLength(2);
  });

  it('is not timed out while it waits on its thread for a target that runs cases in turn: its limit counts from its turn', async () => {
    // the target runs one case at a time; two cases of 2.5 s each go first, within their limits.
    // The third is on the thread from the start but its turn comes at ~5 s, past its last-resort
    // limit (1 ms case limit: 2001 ms) counted from the thread: counted from its turn it is in time
    const [l1, l2, third] = await Promise.all([
      t.run({ id: 'l1', target: 'fake', case: mk('turn-long') }, { timeoutMs: 10_000 }),
      t.run({ id: 'l2', target: 'fake', case: mk('turn-long') }, { timeoutMs: 10_000 }),
      t.run({ id: 't', target: 'fake', case: mk('turn-short') }, { timeoutMs: 1 }),
    ]);
    expect(l1.fault).toBeUndefined();
    expect(l2.fault).toBeUndefined();
    expect(third.fault).toBeUndefined();
    expect(third.trace?.steps).toHaveLength(2);
  });
});

describe('embedded transport: a pool thread that crashes', () => {
  const t = new EmbeddedTransport({ threads: 1, filename: new URL('./fixtures/fake-task.ts', import.meta.url) });
  afterAll(() => t.close());

  // both jobs have started on the one thread when it dies, so either could have killed it: each
  // runs again alone, and only the one that kills its thread again gets a fault
  for (const how of ['exit', 'uncaught'] as const) {
    it(`${how}: the job sharing the thread runs again and gets its result; the culprit gets a fault naming it`, async () => {
      const [crash, other] = await Promise.all([
        t.run({ id: 'c', target: 'fake', case: mk(how) }, { timeoutMs: 5000 }),
        t.run({ id: 'o', target: 'fake', case: mk('slow') }, { timeoutMs: 5000 }),
      ]);
      expect(other.fault).toBeUndefined();
      expect(other.trace?.steps).toHaveLength(2);
      expect(crash.trace).toBeUndefined();
      expect(crash.fault).toMatch(/^worker: case "c" crashed its pool thread, also when run alone/);
      expect(crash.fault).toMatch(how === 'exit' ? /exited with code: 7/ : /uncaught in thread/);
      const after = await t.run({ id: 'ok', target: 'fake', case: mk() });
      expect(after.fault).toBeUndefined();
    });
  }
});

describe('embedded transport (real task module)', () => {
  const t = new EmbeddedTransport({ threads: 2 });
  afterAll(() => t.close());

  it('executes a case on model:x86 and the trace checks clean', async () => {
    const c = mk();
    const r = await t.run({ id: '1', target: 'model:x86', case: c });
    expect(r.fault).toBeUndefined();
    expect(checkTrace(c, r.trace!).violations).toEqual([]);
  });

  it('reports an unknown target as a fault, not a rejection', async () => {
    const r = await t.run({ id: '2', target: 'nosuch:target', case: mk() });
    expect(r.fault).toMatch(/unknown target/);
  });

  it('a mutant target diverges from the reference', async () => {
    const c: Case = { format: 'ptefarm-case/1', ops: [
      { op: 'mmap', region: 'a', pages: 1, kind: 'anon' }, { op: 'write', region: 'a' }, { op: 'clear_refs', value: 4 }, { op: 'write', region: 'a' },
    ] };
    const r = await t.run({ id: '3', target: 'model:x86+B-5', case: c });
    expect(checkTrace(c, r.trace!).violations.length).toBeGreaterThan(0);
  });

  it('a job asking for the check gets the verdict made in the pool thread, the coordinator\'s own check', async () => {
    const c: Case = { format: 'ptefarm-case/1', ops: [
      { op: 'mmap', region: 'a', pages: 1, kind: 'anon' }, { op: 'write', region: 'a' }, { op: 'clear_refs', value: 4 }, { op: 'write', region: 'a' },
    ] };
    const k = await referenceChecker();
    const ok = await t.run({ id: '4', target: 'model:x86', case: c, check: k.request });
    expect(ok.verdict).toMatchObject({ ok: true, violations: [] });
    expect(ok.verdict!.step_rules).toHaveLength(4);
    expect(ok.trace).toBeUndefined(); // a passing case's trace stays in the worker
    const bad = await t.run({ id: '5', target: 'model:x86+B-5', case: c, check: k.request });
    expect(bad.verdict!.ok).toBe(false);
    expect(k.check(c, bad.trace!)).toEqual({ violations: bad.verdict!.violations, stepRules: bad.verdict!.step_rules, skipped: undefined, fault: undefined });
  });
});
