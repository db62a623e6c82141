import { describe, expect, it } from 'vitest';
import type { Case, Op } from '../../src/ops/schema.ts';
import { validateCase } from '../../src/ops/validate.ts';
import { dropProc, minimize, reductions } from '../../src/campaign/minimize.ts';
import { Rng } from '../../src/campaign/rng.ts';
import { freshCase } from '../../src/campaign/generate.ts';

const mk = (ops: Op[], uffd?: Case['uffd']): Case => ({ format: 'ptefarm-case/1', ...(uffd ? { uffd } : {}), ops });

/** synthetic bug: a write of page 2 of region "a" after a clear_refs, anywhere in process 0 */
function synthetic(c: Case, region = 'a'): string[] {
  let cleared = false;
  const sigs: string[] = [];
  for (const op of c.ops) {
    if ((op.proc ?? 0) !== 0) continue;
    if (op.op === 'clear_refs' && (op.value ?? 4) === 4) cleared = true;
    if (op.op === 'write' && op.region === region && cleared) {
      const f = op.first ?? 0;
      const n = op.count ?? 1000;
      if (f <= 2 && 2 < f + n) sigs.push('D:lost:R-CR-2:write');
    }
  }
  return sigs;
}

async function assertOneMinimal(c: Case, test: (c: Case) => Promise<string[] | undefined>, target: Set<string>) {
  for (const r of reductions(c)) {
    if (validateCase(r).length) continue;
    const s = (await test(r)) ?? [];
    expect(s.some((x) => target.has(x)), `reduction still fails: ${JSON.stringify(r)}`).toBe(false);
  }
}

describe('minimize', () => {
  it('reduces a synthetic failure to a 1-minimal valid case', async () => {
    const c = mk([
      { op: 'mmap', region: 'a', pages: 8, kind: 'anon' },
      { op: 'mmap', region: 'b', pages: 4, kind: 'shared-anon' },
      { op: 'write', region: 'b' },
      { op: 'fork' },
      { op: 'write', region: 'a', proc: 1 },
      { op: 'clear_refs', value: 4 },
      { op: 'read', region: 'a', first: 1, count: 3 },
      { op: 'write', region: 'a', first: 0, count: 6 },
      { op: 'write', region: 'b', proc: 1 },
      { op: 'pageout', region: 'a' },
    ]);
    expect(validateCase(c)).toEqual([]);
    const test = async (x: Case) => synthetic(x);
    const m = await minimize(c, { test });
    expect(validateCase(m.case)).toEqual([]);
    expect(m.oneMinimal).toBe(true);
    expect(m.signatures).toEqual(['D:lost:R-CR-2:write']);
    // mmap a (3 pages: page 2 must exist), clear_refs, write page 2
    expect(m.case.ops).toEqual([
      { op: 'mmap', region: 'a', pages: 3, kind: 'anon' },
      { op: 'clear_refs', value: 4 },
      { op: 'write', region: 'a', first: 2, count: 1 },
    ]);
    await assertOneMinimal(m.case, test, new Set(m.signatures));
  });

  it('never runs the same candidate twice and is deterministic (also in parallel)', async () => {
    const c = freshCase(new Rng(7), 30);
    const withBug = mk([...c.ops, { op: 'mmap', region: 'zz', pages: 4, kind: 'anon' }, { op: 'clear_refs' }, { op: 'write', region: 'zz' }], c.uffd);
    expect(validateCase(withBug)).toEqual([]);
    expect(withBug.ops.length).toBeGreaterThan(8);
    const seen = new Map<string, number>();
    const test = async (x: Case) => { const k = JSON.stringify(x); seen.set(k, (seen.get(k) ?? 0) + 1); return synthetic(x, 'zz'); };
    const a = await minimize(withBug, { test });
    expect(a.case.ops.length).toBe(3);
    expect([...seen.values()].every((n) => n === 1)).toBe(true);
    const b = await minimize(withBug, { test: async (x) => synthetic(x, 'zz'), parallel: 4 });
    expect(b.case).toEqual(a.case);
  });

  it('keeps only failures whose signatures intersect the target set', async () => {
    const c = mk([
      { op: 'mmap', region: 'a', pages: 4, kind: 'anon' },
      { op: 'clear_refs' },
      { op: 'write', region: 'a' },
      { op: 'read', region: 'a' },
    ]);
    // two "bugs": the write (sig X) and the read (sig Y); minimizing for Y must keep the read
    const test = async (x: Case) => {
      const s = synthetic(x).map(() => 'X');
      if (x.ops.some((o) => o.op === 'read')) s.push('Y');
      return s;
    };
    const m = await minimize(c, { test, target: ['Y'] });
    expect(m.case.ops).toEqual([{ op: 'mmap', region: 'a', pages: 1, kind: 'anon' }, { op: 'read', region: 'a' }]);
  });

  it('drops a whole process and renumbers the rest', () => {
    const c = mk([
      { op: 'mmap', region: 'a', pages: 2, kind: 'anon' },
      { op: 'fork' },
      { op: 'fork', proc: 1 },
      { op: 'fork' },
      { op: 'write', region: 'a', proc: 2 },
      { op: 'write', region: 'a', proc: 3 },
    ]);
    const d = dropProc(c, 1)!;
    expect(d.ops).toEqual([
      { op: 'mmap', region: 'a', pages: 2, kind: 'anon' },
      { op: 'fork' },
      { op: 'write', region: 'a', proc: 1 },
    ]);
    expect(validateCase(d)).toEqual([]);
  });

  it('returns the best case so far when aborted', async () => {
    const c = mk([
      { op: 'mmap', region: 'a', pages: 4, kind: 'anon' },
      { op: 'clear_refs' },
      { op: 'write', region: 'a' },
      { op: 'read', region: 'a' },
    ]);
    const ctl = new AbortController();
    let n = 0;
    const m = await minimize(c, { test: async (x) => { if (++n === 3) ctl.abort(); return synthetic(x); }, signal: ctl.signal });
    expect(m.aborted).toBe(true);
    expect(m.oneMinimal).toBe(false);
    expect(synthetic(m.case).length).toBeGreaterThan(0);
  });
});

describe('minimize on a mutant target', () => {
  it('yields a 1-minimal reproducer of model:x86+B-3 (mprotect RO->RW without the soft-dirty fault)', async () => {
    const { InProcessTransport } = await import('../../src/campaign/inprocess.ts');
    const { referenceChecker } = await import('../../src/campaign/checker.ts');
    const transport = new InProcessTransport();
    const checker = await referenceChecker();
    const test = async (x: Case) => {
      const r = await transport.run({ id: 'm', target: 'model:x86+B-3', case: x });
      if (!r.trace) return undefined;
      return [...new Set(checker.check(x, r.trace).violations.map((v) => checker.signature(v)))];
    };
    const c = mk([
      { op: 'mmap', region: 'a', pages: 6, kind: 'anon' },
      { op: 'mmap', region: 'b', pages: 2, kind: 'memfd-shared' },
      { op: 'write', region: 'a' },
      { op: 'write', region: 'b' },
      { op: 'clear_refs', value: 4 },
      { op: 'read', region: 'b' },
      { op: 'mprotect', region: 'a', first: 1, count: 4, prot: 'r' },
      { op: 'mprotect', region: 'a', first: 1, count: 4, prot: 'rw' },
      { op: 'pageout', region: 'b' },
      { op: 'write', region: 'a', first: 2, count: 3 },
    ]);
    expect((await test(c))!.length).toBeGreaterThan(0);
    const m = await minimize(c, { test });
    await transport.close();
    expect(m.oneMinimal).toBe(true);
    expect(validateCase(m.case)).toEqual([]);
    expect(m.case.ops.map((o) => o.op)).toEqual(['mmap', 'write', 'clear_refs', 'mprotect', 'mprotect', 'write']);
    await assertOneMinimal(m.case, test, new Set(m.signatures));
  });
});
