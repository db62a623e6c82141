import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { CaseError, generatedCaseProblems, parseCase, validateCase } from '../../src/ops/validate.ts';
import type { Case } from '../../src/ops/schema.ts';
import { freshCase, mutateCase } from '../../src/campaign/generate.ts';
import { uniformCase } from '../../src/campaign/uniform.ts';
import { Rng } from '../../src/campaign/rng.ts';
import { caseArb } from '../../src/ops/arbitrary.ts';
import { DEFAULT_LIMITS } from '../../src/ops/layout.ts';

const mk = (ops: unknown[], extra: Record<string, unknown> = {}) => ({ format: 'ptefarm-case/1', ...extra, ops });
const A = { op: 'mmap', region: 'a', pages: 4, kind: 'anon' };
const UFFD = { uffd: { features: ['wp_async'] } };
/** the problems of a case, which must all start with `ops[i].field:` or another named path */
const problems = (c: unknown) => validateCase(c);

describe('validateCase: clear messages naming op index and field', () => {
  it('accepts the example of case-format.md', () => {
    expect(problems(mk([A, { op: 'uffd_register', region: 'a' }, { op: 'write', region: 'a', first: 0, count: 2 },
      { op: 'wp', region: 'a', on: true }, { op: 'pageout', region: 'a', first: 0, count: 1 }, { op: 'read', region: 'a', first: 0, count: 1 }], UFFD))).toEqual([]);
  });

  it('top level: wrong format, no ops, unknown key, bad feature', () => {
    expect(problems({ format: 'ptefarm-case/9', ops: [A] }).join('\n')).toMatch(/^format: /m);
    expect(problems(mk([])).join('\n')).toMatch(/^ops: /m);
    expect(problems({ ...mk([A]), colour: 1 }).join('\n')).toMatch(/colour/);
    expect(problems(mk([A], { uffd: { features: ['wp_sync'] } })).join('\n')).toMatch(/^uffd\.features\[0\]: /m);
    expect(problems(null)).not.toEqual([]);
    expect(problems('{"format":"ptefarm-case/1"}')).not.toEqual([]);
  });

  it('unknown op', () => {
    expect(problems(mk([A, { op: 'wirte', region: 'a' }]))).toEqual([
      expect.stringMatching(/^ops\[1\]\.op: unknown op "wirte" \(expected one of mmap, .*scan, populate, close_uffd, guard, unguard\)$/),
    ]);
    expect(problems(mk([A, { region: 'a' }]))).toEqual([expect.stringMatching(/^ops\[1\]\.op: unknown op undefined/)]);
    expect(problems(mk([A, 7]))).toEqual([expect.stringMatching(/^ops\[1\]: expected an object/)]);
    expect(problems(mk([A, [1]]))).toEqual([expect.stringMatching(/^ops\[1\]: expected an object/)]);
  });

  it('missing field', () => {
    expect(problems(mk([{ op: 'mmap', region: 'a', kind: 'anon' }]))).toEqual([expect.stringMatching(/^ops\[0\]\.pages: /)]);
    expect(problems(mk([A, { op: 'write' }]))).toEqual([expect.stringMatching(/^ops\[1\]\.region: /)]);
    expect(problems(mk([A, { op: 'wp', region: 'a' }], UFFD))).toEqual([expect.stringMatching(/^ops\[1\]\.on: /)]);
    expect(problems(mk([A, { op: 'split', region: 'a' }]))).toEqual([expect.stringMatching(/^ops\[1\]\.page: /)]);
    expect(problems(mk([A, { op: 'mprotect', region: 'a' }]))).toEqual([expect.stringMatching(/^ops\[1\]\.prot: /)]);
  });

  it('wrong type or value, and unknown fields', () => {
    expect(problems(mk([{ ...A, pages: '4' }]))).toEqual([expect.stringMatching(/^ops\[0\]\.pages: /)]);
    expect(problems(mk([{ ...A, pages: 1.5 }]))).toEqual([expect.stringMatching(/^ops\[0\]\.pages: /)]);
    expect(problems(mk([{ ...A, pages: 0 }]))).toEqual([expect.stringMatching(/^ops\[0\]\.pages: /)]);
    expect(problems(mk([{ ...A, kind: 'hugetlb' }]))).toEqual([expect.stringMatching(/^ops\[0\]\.kind: /)]);
    expect(problems(mk([{ ...A, thp: 'yes' }]))).toEqual([expect.stringMatching(/^ops\[0\]\.thp: /)]);
    expect(problems(mk([{ ...A, region: '1abc' }]))).toEqual([expect.stringMatching(/^ops\[0\]\.region: a region name/)]);
    expect(problems(mk([A, { op: 'write', region: 'a', first: -1 }]))).toEqual([expect.stringMatching(/^ops\[1\]\.first: /)]);
    expect(problems(mk([A, { op: 'write', region: 'a', count: 0 }]))).toEqual([expect.stringMatching(/^ops\[1\]\.count: /)]);
    expect(problems(mk([A, { op: 'clear_refs', value: 6 }]))).toEqual([expect.stringMatching(/^ops\[1\]\.value: /)]);
    expect(problems(mk([A, { op: 'mprotect', region: 'a', prot: 'rwx' }]))).toEqual([expect.stringMatching(/^ops\[1\]\.prot: /)]);
    expect(problems(mk([A, { op: 'write', region: 'a', proc: 'x' }]))).toEqual([expect.stringMatching(/^ops\[1\]\.proc: /)]);
    expect(problems(mk([A, { op: 'write', region: 'a', colour: 'red' }])).join('\n')).toMatch(/^ops\[1\].*colour/m);
  });

  it('reports every problem of every op at once', () => {
    const ps = problems(mk([{ ...A, pages: 'x' }, { op: 'nope' }, { op: 'write' }]));
    expect(ps.some((p) => p.startsWith('ops[0].pages'))).toBe(true);
    expect(ps.some((p) => p.startsWith('ops[1].op'))).toBe(true);
    expect(ps.some((p) => p.startsWith('ops[2].region'))).toBe(true);
  });

  it('region that does not exist, or was unmapped', () => {
    expect(problems(mk([A, { op: 'write', region: 'b' }]))).toEqual(['ops[1].region: region "b" does not exist in process 0']);
    expect(problems(mk([A, { op: 'munmap', region: 'a' }, { op: 'read', region: 'a', first: 1 }]))).toEqual(['ops[2].region: region "a" is fully unmapped in process 0']);
    // partly unmapped is still usable, and a fully unmapped name may be reused by mmap
    expect(problems(mk([A, { op: 'munmap', region: 'a', first: 1 }, { op: 'read', region: 'a' }]))).toEqual([]);
    expect(problems(mk([A, { op: 'munmap', region: 'a' }, A, { op: 'write', region: 'a' }]))).toEqual([]);
    expect(problems(mk([A, A]))).toEqual([expect.stringMatching(/^ops\[1\]\.region: region "a" already exists/)]);
    expect(problems(mk([A, { op: 'mmap', region: 'b', pages: 1, kind: 'anon', after: 'zz' }]))).toEqual(['ops[1].region: region "zz" does not exist in process 0']);
    // a region made in a child is not known to the parent
    expect(problems(mk([A, { op: 'fork' }, { ...A, region: 'c', proc: 1 }, { op: 'read', region: 'c' }]))).toEqual(['ops[3].region: region "c" does not exist in process 0']);
    // after mremap with dontunmap, `old` names the range left behind
    expect(problems(mk([A, { op: 'mremap', region: 'a', dontunmap: true, old: 'a0' }, { op: 'read', region: 'a0' }]))).toEqual([]);
    expect(problems(mk([A, { op: 'mremap', region: 'a', old: 'a0' }]))).toEqual([expect.stringMatching(/^ops\[1\]\.old: only meaningful with dontunmap/)]);
    expect(problems(mk([A, { op: 'mremap', region: 'a', move: false, dontunmap: true }]))).toEqual([expect.stringMatching(/^ops\[1\]\.dontunmap: /)]);
  });

  it('process that does not exist or has exited', () => {
    expect(problems(mk([A, { op: 'read', region: 'a', proc: 1 }]))).toEqual(['ops[1].proc: process 1 does not exist (processes so far: 0..0)']);
    expect(problems(mk([A, { op: 'fork' }, { op: 'read', region: 'a', proc: 1 }]))).toEqual([]);
    expect(problems(mk([A, { op: 'fork' }, { op: 'exit', proc: 1 }, { op: 'read', region: 'a', proc: 1 }]))).toEqual(['ops[3].proc: process 1 has exited']);
    expect(problems(mk([A, { op: 'exit' }, { op: 'fork' }]))).toEqual(['ops[2].proc: process 0 has exited']);
    expect(problems(mk([A, { op: 'fork', proc: 3 }]))).toEqual([expect.stringMatching(/^ops\[1\]\.proc: process 3 does not exist/)]);
  });

  it('uffd op without uffd', () => {
    for (const op of [{ op: 'uffd_register', region: 'a' }, { op: 'uffd_unregister', region: 'a' }, { op: 'wp', region: 'a', on: true }, { op: 'close_uffd' }]) {
      expect(problems(mk([A, op]))).toEqual([`ops[1].op: ${op.op} needs a top-level "uffd" object (the case opens no userfaultfd)`]);
      expect(problems(mk([A, op], { uffd: {} }))).toEqual([]);
    }
    // scan is not a uffd op
    expect(problems(mk([A, { op: 'scan', region: 'a', wp_matching: true }]))).toEqual([]);
  });

  it('range past the region end', () => {
    expect(problems(mk([A, { op: 'write', region: 'a', first: 4 }]))).toEqual(['ops[1].first: page 4 is outside region (4 pages)']);
    expect(problems(mk([A, { op: 'write', region: 'a', first: 2, count: 3 }]))).toEqual(["ops[1].count: pages 2..4 run past the region's end (4 pages)"]);
    expect(problems(mk([A, { op: 'write', region: 'a', count: 5 }]))).toEqual(["ops[1].count: pages 0..4 run past the region's end (4 pages)"]);
    expect(problems(mk([A, { op: 'split', region: 'a', page: 4 }]))).toEqual(['ops[1].page: page 4 is outside region "a" (4 pages)']);
    expect(problems(mk([A, { op: 'write', region: 'a', first: 3, count: 1 }]))).toEqual([]);
    // the region's size follows mremap: shrink, then the old tail is out of range
    expect(problems(mk([A, { op: 'mremap', region: 'a', pages: 2 }, { op: 'write', region: 'a', first: 2 }]))).toEqual(['ops[2].first: page 2 is outside region (2 pages)']);
    expect(problems(mk([A, { op: 'mremap', region: 'a', pages: 8, move: false }, { op: 'write', region: 'a', first: 7 }]))).toEqual([]);
  });

  it('limits', () => {
    expect(problems(mk([{ ...A, pages: 1025 }]))).toEqual(['ops[0].pages: 1025 exceeds the limit of 1024 pages per region']);
    expect(problems(mk([A, { op: 'mremap', region: 'a', pages: 2000 }]))).toEqual(['ops[1].pages: 2000 exceeds the limit of 1024 pages per region']);
    const forks = Array.from({ length: 8 }, () => ({ op: 'fork' }));
    expect(problems(mk([A, ...forks]))).toEqual([expect.stringMatching(/^ops\[8\]\.op: fork would exceed the limit of 8 processes/)]);
    const ops = Array.from({ length: 257 }, (_, i) => (i === 0 ? A : { op: 'read', region: 'a' }));
    expect(problems(mk(ops))).toEqual(['ops: 257 ops exceed the limit of 256']);
    const regions = Array.from({ length: 65 }, (_, i) => ({ ...A, region: `r${i}` }));
    expect(problems(mk(regions))).toEqual(['ops[64].region: more than 64 region names in the case (`old` names included)']);
    const tight = { ...DEFAULT_LIMITS, maxPagesPerRegion: 8 };
    expect(validateCase(mk([{ ...A, pages: 9 }]), tight)).toEqual(['ops[0].pages: 9 exceeds the limit of 8 pages per region']);
  });

  it('parseCase throws a CaseError listing the problems and the source', () => {
    expect(() => parseCase(mk([A, { op: 'write', region: 'b' }]), undefined, 'x.json')).toThrow(CaseError);
    expect(() => parseCase(mk([A, { op: 'write', region: 'b' }]), undefined, 'x.json')).toThrow(/x\.json: invalid case:\n {2}ops\[1\]\.region: region "b" does not exist/);
  });
});

describe('validateCase never throws', () => {
  const check = (input: unknown) => {
    const r = validateCase(input);
    expect(Array.isArray(r)).toBe(true);
    for (const p of r) expect(typeof p).toBe('string');
  };

  it('on random JSON', () => {
    fc.assert(fc.property(fc.jsonValue(), check), { numRuns: 2000 });
    fc.assert(fc.property(fc.jsonValue(), (ops) => check({ format: 'ptefarm-case/1', ops })), { numRuns: 1000 });
    fc.assert(fc.property(fc.array(fc.jsonValue()), (ops) => check({ format: 'ptefarm-case/1', ops })), { numRuns: 1000 });
  });

  it('on random op-shaped objects', () => {
    const opish = fc.record({
      op: fc.constantFrom('mmap', 'munmap', 'mremap', 'mprotect', 'read', 'write', 'fork', 'exit', 'clear_refs', 'pageout', 'dontneed', 'collapse', 'split', 'uffd_register', 'uffd_unregister', 'wp', 'scan', 'populate', 'close_uffd', 'bogus'),
      region: fc.constantFrom('a', 'b', 'zz', ''),
      pages: fc.oneof(fc.integer({ min: -2, max: 2000 }), fc.double(), fc.constant(1e300)),
      kind: fc.constantFrom('anon', 'shared-anon', 'memfd-shared', 'memfd-private', 'x'),
      first: fc.integer({ min: -1, max: 40 }), count: fc.integer({ min: -1, max: 40 }), page: fc.integer({ min: -1, max: 40 }),
      proc: fc.integer({ min: -1, max: 9 }), on: fc.boolean(), after: fc.constantFrom('a', 'b'), old: fc.constantFrom('a', 'b', 'c'),
      move: fc.boolean(), dontunmap: fc.boolean(), prot: fc.constantFrom('none', 'r', 'rw'), value: fc.integer({ min: 0, max: 6 }),
      wp_matching: fc.boolean(), max_pages: fc.integer({ min: 0, max: 5 }),
    }, { requiredKeys: ['op'] });
    fc.assert(fc.property(fc.array(opish, { minLength: 1, maxLength: 30 }), fc.boolean(), (ops, uffd) => {
      check({ format: 'ptefarm-case/1', ...(uffd ? { uffd: {} } : {}), ops });
    }), { numRuns: 3000 });
  });

  it('on mutated valid cases', () => {
    const values = fc.oneof(fc.jsonValue(), fc.integer({ min: -3, max: 5000 }), fc.constantFrom('a', 'b', 'zz', 'anon', 'rw', true, false, null, undefined));
    const mutation = fc.record({ at: fc.nat(), key: fc.constantFrom('op', 'region', 'pages', 'first', 'count', 'proc', 'page', 'after', 'old', 'kind', 'on', 'x'), value: values, how: fc.constantFrom('set', 'delete', 'drop-op', 'dup-op', 'swap') });
    fc.assert(fc.property(caseArb({ maxOps: 20 }), fc.array(mutation, { minLength: 1, maxLength: 4 }), (c, muts) => {
      const m = structuredClone(c) as { ops: Record<string, unknown>[]; uffd?: unknown };
      for (const mu of muts) {
        const i = mu.at % m.ops.length;
        if (mu.how === 'set') m.ops[i][mu.key] = mu.value;
        else if (mu.how === 'delete') delete m.ops[i][mu.key];
        else if (mu.how === 'drop-op' && m.ops.length > 1) m.ops.splice(i, 1);
        else if (mu.how === 'dup-op') m.ops.splice(i, 0, structuredClone(m.ops[i]));
        else if (mu.how === 'swap') { const j = (i + 1) % m.ops.length; [m.ops[i], m.ops[j]] = [m.ops[j], m.ops[i]]; }
      }
      if (muts.length > 3) delete m.uffd;
      check(m);
    }), { numRuns: 2000 });
  });
});

describe('generatedCaseProblems: the generators\' check without the shape check', () => {
  // the generators (src/campaign/generate.ts, uniform.ts) keep or drop a candidate by it: it must
  // judge every generated candidate, valid or not, exactly as validateCase would
  it('agrees with validateCase on generated cases and on broken mutations of them', () => {
    const rng = new Rng(7);
    const pool: Case[] = [];
    let invalid = 0;
    for (let i = 0; i < 400; i++) {
      const u = uniformCase(rng, 40, Number.POSITIVE_INFINITY);
      const f = freshCase(rng, 40);
      pool.push(f);
      const m = mutateCase(rng, rng.pick(pool), 40);
      const dropped = { ...m, ops: m.ops.filter((_, j) => j !== rng.int(m.ops.length)) };
      const glued = { ...m, ops: [...m.ops, ...u.ops.slice(0, 3)] };
      const tooLong = { ...u, ops: Array.from({ length: DEFAULT_LIMITS.maxOps + 1 }, () => u.ops[0]!) };
      for (const c of [u, f, m, dropped, glued, tooLong]) {
        const full = validateCase(c);
        if (full.length) invalid++;
        expect(generatedCaseProblems(c).length === 0, JSON.stringify(c)).toBe(full.length === 0);
      }
    }
    expect(invalid).toBeGreaterThan(400); // the broken ones were judged too (the tooLong ones at least)
  });
});
