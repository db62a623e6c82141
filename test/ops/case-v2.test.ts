// ptefarm-case/2: what it adds is refused in a /1 case with the field named, /1 cases stay /1,
// the text form carries the format, and /2 traces carry the seventh page letter (G) and walk_end.
import { describe, expect, it } from 'vitest';
import { validateCase } from '../../src/ops/validate.ts';
import { formatFor, type Case } from '../../src/ops/schema.ts';
import { formatText, parseText, parseTextCase } from '../../src/ops/text.ts';
import { pageLetters, traceSchema } from '../../src/ops/trace.ts';
import { decodeReply, encodeCase } from '../../src/targets/executor/protocol.ts';

const mmap = { op: 'mmap', region: 'a', pages: 4, kind: 'anon' };

describe('ptefarm-case/2 validation', () => {
  it('a /1 case using guard, unguard or a /2 scan field is refused, naming the op and field', () => {
    expect(validateCase({ format: 'ptefarm-case/1', ops: [mmap, { op: 'guard', region: 'a' }] }))
      .toEqual(['ops[1].op: guard needs "format": "ptefarm-case/2"']);
    expect(validateCase({ format: 'ptefarm-case/1', ops: [mmap, { op: 'scan', region: 'a', no_vec: true, return_mask: 'w' }] }))
      .toEqual(['ops[1].no_vec: needs "format": "ptefarm-case/2"', 'ops[1].return_mask: needs "format": "ptefarm-case/2"']);
  });
  it('the same ops are valid in a /2 case, and every /1 case is a valid /2 case', () => {
    expect(validateCase({ format: 'ptefarm-case/2', ops: [mmap, { op: 'guard', region: 'a', first: 1, count: 2 }, { op: 'unguard', region: 'a' },
      { op: 'scan', region: 'a', wp_matching: true, check_wpasync: false, no_vec: true, category_mask: 'w', category_inverted: 'p', category_anyof_mask: 'sg', return_mask: '' }] })).toEqual([]);
    expect(validateCase({ format: 'ptefarm-case/2', ops: [mmap, { op: 'write', region: 'a' }] })).toEqual([]);
  });
  it('category masks are scan letters in trace order, each at most once', () => {
    const bad = (m: string) => validateCase({ format: 'ptefarm-case/2', ops: [mmap, { op: 'scan', region: 'a', category_mask: m }] });
    expect(bad('pw')[0]).toMatch(/^ops\[1\]\.category_mask: PAGEMAP_SCAN categories/);
    expect(bad('ww')).toHaveLength(1);
    expect(bad('x')).toHaveLength(1);
    expect(bad('awfpszhdg')).toEqual([]);
  });
  it('an unknown format is refused', () => {
    expect(validateCase({ format: 'ptefarm-case/4', ops: [mmap] })[0]).toMatch(/^format:/);
  });
  it('guard ranges are checked like any range', () => {
    expect(validateCase({ format: 'ptefarm-case/2', ops: [mmap, { op: 'guard', region: 'a', first: 3, count: 2 }] }))
      .toEqual(['ops[1].count: pages 3..4 run past the region\'s end (4 pages)']);
  });
  it('formatFor: the oldest format that holds the ops', () => {
    expect(formatFor([mmap, { op: 'scan', wp_matching: true, max_pages: 2 }])).toBe('ptefarm-case/1');
    expect(formatFor([mmap, { op: 'scan', return_mask: 'w' }])).toBe('ptefarm-case/2');
    expect(formatFor([mmap, { op: 'unguard' }])).toBe('ptefarm-case/2');
  });
});

describe('ptefarm-case/2 text form', () => {
  const c: Case = { format: 'ptefarm-case/2', ops: [
    { op: 'mmap', region: 'a', pages: 4, kind: 'anon' }, { op: 'guard', region: 'a', first: 1, count: 1 },
    { op: 'scan', region: 'a', wp_matching: true, no_vec: true, category_mask: 'w', return_mask: '' }, { op: 'unguard', region: 'a' },
  ] };
  it('round-trips with its header; an empty mask is `key=`', () => {
    const text = formatText(c);
    expect(text.split('\n')[0]).toBe('ptefarm-case/2');
    expect(text).toContain('2 scan a wp_matching no_vec category_mask=w return_mask=');
    expect(parseText(text)).toEqual(c);
  });
  it('a text without header takes the oldest format its ops fit; a /1 header with a guard op is refused', () => {
    expect(parseText('mmap a pages=1 kind=anon\nguard a\n').format).toBe('ptefarm-case/2');
    expect(parseText('mmap a pages=1 kind=anon\nread a\n').format).toBe('ptefarm-case/1');
    expect(() => parseTextCase('ptefarm-case/1\nmmap a pages=1 kind=anon\nguard a\n')).toThrow(/line 3 \(ops\[1\]\.op\): guard needs/);
  });
});

describe('ptefarm-case/2 traces', () => {
  const trace = (pages: string[], walkEnd?: number) => ({
    format: 'ptefarm-trace/1', target: { name: 't', arch: 'x86_64', kernel: '6.18', capabilities: {} },
    steps: [{ op: 0, rc: 0, pages: { 0: { a: pages } }, ...(walkEnd !== undefined ? { outcome: { walk_end: { a: walkEnd } } } : {}) }],
  });
  it('page strings have six letters, or seven with G in the last slot; walk_end is a page of the region', () => {
    expect(traceSchema.safeParse(trace(['P..E.D', '.S....G', '.S...?.'], 3)).success).toBe(true);
    expect(traceSchema.safeParse(trace(['G......'])).success).toBe(false);
    expect(traceSchema.safeParse(trace(['.S....GG'])).success).toBe(false);
    expect(traceSchema.safeParse(trace(['......'], -1)).success).toBe(false);
    expect(pageLetters({ format: 'ptefarm-case/2' })).toBe(7);
    expect(pageLetters({ format: 'ptefarm-case/1' })).toBe(6);
  });
  it('the live target turns the executor\'s g and w lines into G letters and walk_end (a /1 case keeps six letters)', () => {
    const c2: Case = { format: 'ptefarm-case/2', ops: [{ op: 'mmap', region: 'a', pages: 3, kind: 'anon' }, { op: 'scan', region: 'a', max_pages: 1, return_mask: 'p' }] };
    const enc = encodeCase(c2);
    expect(enc.lines[1]).toBe(`17 0 0 0 3 0 1 1 ${8 * 2 ** 27}`);
    const { steps } = decodeReply(['s 0 0', 'p 0 0 A3', 'g 0 0 1 2', 's 1 0', 'p 0 0 A3', 'w 0 1'], enc, false);
    expect(steps[0].pages!['0'].a).toEqual(['.....?.', '.....?G', '.....?G']);
    expect(steps[1].outcome!.walk_end).toEqual({ a: 1 });
    // a /1 scan keeps the line executors built before /2 read
    expect(encodeCase({ format: 'ptefarm-case/1', ops: [{ op: 'mmap', region: 'a', pages: 3, kind: 'anon' }, { op: 'scan', region: 'a', max_pages: 2 }] }).lines[1]).toBe('17 0 0 0 3 0 2');
    const enc1 = encodeCase({ format: 'ptefarm-case/1', ops: [{ op: 'mmap', region: 'a', pages: 3, kind: 'anon' }] });
    expect(decodeReply(['s 0 0', 'p 0 0 A3', 'g 0 0 0 1'], enc1, false).steps[0].pages!['0'].a).toEqual(['.....?', '.....?', '.....?']);
  });
});
