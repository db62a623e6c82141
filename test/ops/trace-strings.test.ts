// traceProblems (src/ops/trace.ts) tests a page or scan string equal to the last one it accepted
// only once per region (a speed-up: regions mostly repeat one string). The regexes stay the spec:
// for any array of page / scan entries, the index it reports must be the first entry that is not a
// string PAGE_STRING_RE / SCAN_STRING_RE accepts, as a test of every entry finds it.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { parseCase } from '../../src/ops/validate.ts';
import { PAGE_STRING_RE, SCAN_STRING_RE, traceProblems, type Trace } from '../../src/ops/trace.ts';

const c = parseCase({
  format: 'ptefarm-case/1',
  ops: [{ op: 'mmap', region: 'a', pages: 4, kind: 'anon' }, { op: 'scan', region: 'a' }],
});
const trace = (field: 'pages' | 'scan', strs: unknown[]) => ({
  format: 'ptefarm-trace/1',
  target: { name: 'test', arch: 'x86_64', kernel: '6.12', capabilities: {} },
  steps: [{ op: 0, rc: 0 }, { op: 1, rc: 0, [field]: { 0: { a: strs } } }],
}) as unknown as Trace;
/** the index traceProblems names for region a, or -1 when it finds nothing wrong */
const reported = (field: 'pages' | 'scan', strs: unknown[]): number => {
  const p = traceProblems(c, trace(field, strs));
  if (!p.length) return -1;
  expect(p).toHaveLength(1);
  const m = new RegExp(`^steps\\[1\\]\\.${field}\\.0\\.a\\[(\\d+)\\]: `).exec(p[0]!);
  expect(m, p[0]).not.toBeNull();
  return Number(m![1]);
};
/** the spec: the first entry that is not a string the regex accepts */
const firstBad = (re: RegExp, strs: unknown[]) => strs.findIndex((x) => typeof x !== 'string' || !re.test(x));

// Good and bad entries, and copies of each string made at run time (equal content, another
// object), so that a skip by content and a skip by identity are both exercised.
const copy = (s: string) => [...s].join('');
const PAGE_POOL: unknown[] = ['P....D', 'P....D.', '......', '.......', '??????', 'PSFEWDG', 'P...W.?',
  'p.....', 'P.....x', 'PSFEW', '......?.', 'D..E.P', '', 'P....D\n', undefined, null, 7, ['P....D'], {}];
const SCAN_POOL: unknown[] = ['---------', 'awfpszhdg', '.........', 'a..p.....', '.w.p...d.',
  '--------', '----------', '-.-------', '--------.', 'A........', 'awfpszhd', '?........', '---------\n', undefined, 3];
const entries = (pool: unknown[]) => fc.array(
  fc.tuple(fc.constantFrom(...pool), fc.boolean()).map(([x, fresh]) => (fresh && typeof x === 'string' ? copy(x) : x)),
  { maxLength: 12 },
);

describe('traceProblems page and scan strings: the first entry the regex rejects', () => {
  it('page strings, over random arrays of repeated good and bad entries', () => {
    fc.assert(fc.property(entries(PAGE_POOL), (strs) => { expect(reported('pages', strs)).toBe(firstBad(PAGE_STRING_RE, strs)); }), { numRuns: 2000 });
  });

  it('scan strings, over random arrays of repeated good and bad entries', () => {
    fc.assert(fc.property(entries(SCAN_POOL), (strs) => { expect(reported('scan', strs)).toBe(firstBad(SCAN_STRING_RE, strs)); }), { numRuns: 2000 });
  });

  it('a bad entry after a long run of one good string, and a bad string repeated, are found where they first occur', () => {
    const run = Array<string>(500).fill('P....D');
    expect(reported('pages', [...run, 'P....d', ...run])).toBe(500);
    expect(reported('pages', [...run, undefined, ...run])).toBe(500);
    expect(reported('pages', ['x', 'x', 'P....D'])).toBe(0);
    expect(reported('pages', ['P....D', 'x', 'x'])).toBe(1);
    expect(reported('scan', ['---------', '---------', '-------- '])).toBe(2);
    expect(reported('pages', run)).toBe(-1);
  });
});
