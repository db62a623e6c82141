import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { caseArb } from '../../src/ops/arbitrary.ts';
import { formatOp, formatText, parseText, parseTextCase, TextError } from '../../src/ops/text.ts';
import type { Case } from '../../src/ops/schema.ts';

const errorOf = (f: () => unknown): string => {
  try { f(); } catch (e) { expect(e).toBeInstanceOf(TextError); return (e as Error).message; }
  throw new Error('expected a TextError');
};

describe('text form', () => {
  it('round-trips every generated valid case (fast-check)', () => {
    fc.assert(fc.property(caseArb({ maxOps: 40 }), (c) => {
      expect(parseText(formatText(c))).toStrictEqual(c);
      expect(parseText(formatText(c, { indices: false }))).toStrictEqual(c);
    }), { numRuns: 1000 });
  });

  it('keeps presence and absence of every optional field', () => {
    const c: Case = {
      format: 'ptefarm-case/1',
      name: 'all the corners "# x"\nline two',
      uffd: { features: [] },
      ops: [
        { op: 'mmap', region: 'a', pages: 4, kind: 'anon' },
        { op: 'mmap', region: 'b', pages: 1024, kind: 'memfd-private', thp: false, after: 'a', proc: 0 },
        { op: 'write', region: 'a' },
        { op: 'write', region: 'a', first: 0 },
        { op: 'write', region: 'a', count: 1 },
        { op: 'write', region: 'a', first: 0, count: 1 },
        { op: 'write', region: 'a', first: 1, count: 3 },
        { op: 'fork' },
        { op: 'fork', proc: 1 },
        { op: 'exit', proc: 2 },
        { op: 'clear_refs' },
        { op: 'clear_refs', value: 4, proc: 1 },
        { op: 'mremap', region: 'a', pages: 2, move: false, dontunmap: false },
        { op: 'mremap', region: 'b', dontunmap: true, old: 'b.old', move: true },
        { op: 'wp', region: 'a', on: false },
        { op: 'wp', region: 'a', first: 1, on: true },
        { op: 'scan', region: 'a', wp_matching: false, max_pages: 1 },
        { op: 'scan', region: 'a', wp_matching: true },
        { op: 'split', region: 'b', page: 511 },
        { op: 'mprotect', region: 'a', first: 1, prot: 'none' },
        { op: 'populate', region: 'a' },
        { op: 'populate', region: 'a', first: 1, count: 1, write: true },
        { op: 'populate', region: 'a', write: false },
        { op: 'close_uffd' },
        { op: 'close_uffd', proc: 1 },
      ],
    };
    expect(parseText(formatText(c))).toStrictEqual(c);
    expect(parseText(formatText({ ...c, uffd: {} }))).toStrictEqual({ ...c, uffd: {} });
    const { name: _n, uffd: _u, ...bare } = c;
    expect(parseText(formatText(bare))).toStrictEqual(bare);
  });

  it('prints a readable line per op', () => {
    expect(formatOp({ op: 'mmap', region: 'a', pages: 4, kind: 'anon', thp: true })).toBe('mmap a pages=4 kind=anon thp');
    expect(formatOp({ op: 'write', region: 'a', first: 0, count: 2, proc: 1 })).toBe('p1 write a[0..2)');
    expect(formatOp({ op: 'read', region: 'a', first: 3, count: 1 })).toBe('read a[3]');
    expect(formatOp({ op: 'wp', region: 'a', on: false })).toBe('wp a off');
    expect(formatOp({ op: 'scan', region: 'a', first: 2, wp_matching: true, max_pages: 8 })).toBe('scan a[2..] wp_matching max_pages=8');
    expect(formatOp({ op: 'populate', region: 'a', first: 1, count: 2, write: true })).toBe('populate a[1..3) write');
    expect(formatOp({ op: 'populate', region: 'a' })).toBe('populate a');
    expect(formatOp({ op: 'close_uffd', proc: 1 })).toBe('p1 close_uffd');
    const text = formatText({ format: 'ptefarm-case/1', name: 'n', uffd: { features: ['wp_async'] }, ops: [{ op: 'mmap', region: 'a', pages: 1, kind: 'anon' }] });
    expect(text).toBe('ptefarm-case/1\nname "n"\nuffd features=wp_async\n0 mmap a pages=1 kind=anon\n');
  });

  it('accepts comments, blank lines, no header and no indices', () => {
    const c = parseText('# a comment\n\nmmap a pages=2 kind=shared-anon   # trailing\n  p0 write a[..1)\nwp a on=true\n');
    expect(c).toStrictEqual({ format: 'ptefarm-case/1', ops: [
      { op: 'mmap', region: 'a', pages: 2, kind: 'shared-anon' },
      { op: 'write', region: 'a', count: 1, proc: 0 },
      { op: 'wp', region: 'a', on: true },
    ] });
  });

  it('names the line and the problem for syntax errors', () => {
    expect(errorOf(() => parseText('mmap a pages=1 kind=anon\nwirte a\n'))).toMatch(/line 2: unknown op "wirte"/);
    expect(errorOf(() => parseText('mmap a pages=x kind=anon\n'))).toMatch(/line 1: field "pages" needs a whole number, got "x"/);
    expect(errorOf(() => parseText('mmap a pages=1 kind=huge\n'))).toMatch(/line 1: field "kind" must be one of anon, shared-anon, memfd-shared, memfd-private, hugetlb, hugetlb-shared, got "huge"/);
    expect(errorOf(() => parseText('mmap a pages=1 kind=anon colour=red\n'))).toMatch(/line 1: mmap has no field "colour"/);
    expect(errorOf(() => parseText('mmap a pages=1 pages=2 kind=anon\n'))).toMatch(/line 1: field "pages" given twice/);
    expect(errorOf(() => parseText('mmap a pages=1 kind=anon\nwrite a[3..2)\n'))).toMatch(/line 2: empty page range "\[3\.\.2\)"/);
    expect(errorOf(() => parseText('mmap a pages=1 kind=anon\nwrite a[1..2]\n'))).toMatch(/line 2: .*exclusive/);
    expect(errorOf(() => parseText('mmap a pages=1 kind=anon\nwrite\n'))).toMatch(/line 2: write needs a region/);
    expect(errorOf(() => parseText('mmap a pages=1 kind=anon\nwp a\n'))).toMatch(/line 2: wp needs "on" or "off"/);
    expect(errorOf(() => parseText('mmap a pages=1 kind=anon\nscan a wp_matching=maybe\n'))).toMatch(/line 2: field "wp_matching" is a flag/);
    expect(errorOf(() => parseText('0 mmap a pages=1 kind=anon\n5 write a\n'))).toMatch(/line 2: op index 5 does not match its position 1/);
    expect(errorOf(() => parseText('uffd features=wp_async,turbo\nmmap a pages=1 kind=anon\n'))).toMatch(/line 1: unknown uffd feature "turbo"/);
    expect(errorOf(() => parseText('name unquoted\nmmap a pages=1 kind=anon\n'))).toMatch(/line 1: name needs a JSON string/);
    expect(errorOf(() => parseText('ptefarm-case/9\nmmap a pages=1 kind=anon\n'))).toMatch(/line 1: unsupported format/);
    expect(errorOf(() => parseText('mmap a pages=1 kind=anon\nuffd\n'))).toMatch(/line 2: the uffd line must come before the ops/);
    expect(errorOf(() => parseText('# nothing\n'))).toMatch(/no ops/);
    // every bad line is reported, not just the first
    const many = errorOf(() => parseText('bogus\nmmap a pages=1 kind=anon\nwrite a[x]\n'));
    expect(many).toMatch(/line 1: unknown op/);
    expect(many).toMatch(/line 3: bad page range/);
  });

  it('parseTextCase maps validation problems to lines', () => {
    const msg = errorOf(() => parseTextCase('ptefarm-case/1\n\nmmap a pages=4 kind=anon\nwrite a[2..6)\np3 read a\nwp a on\n'));
    expect(msg).toMatch(/line 4 \(ops\[1\]\.count\): pages 2\.\.5 run past the region's end \(4 pages\)/);
    expect(msg).toMatch(/line 5 \(ops\[2\]\.proc\): process 3 does not exist/);
    expect(msg).toMatch(/line 6 \(ops\[3\]\.op\): wp needs a top-level "uffd" object/);
    expect(parseTextCase('mmap a pages=4 kind=anon\nwrite a[2..4)\n').ops).toHaveLength(2);
  });
});
