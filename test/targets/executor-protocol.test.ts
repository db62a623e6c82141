// The executor protocol has two sides: the C executor (workers/executor/*.h, *.c) and its one
// TypeScript home (src/targets/executor/protocol.ts, used by the live and QEMU targets and the C
// reproducer). This reads the C sources as text and checks that every number both sides must agree
// on is the same: op codes, numbers per op line, scan bits, limits, the page-code alphabet and bit
// order, PAGEMAP_SCAN category bits, uffd feature bits, region kinds, protections, exit status.
// (Read-only on the C side; a constant that existed only in C got its TypeScript twin here.)
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  ALL_CATEGORIES, CODE_ALPHABET, EXECUTOR_LIMITS, EXIT_EXTERNAL_SIGNAL, FEATURE_BITS, KIND_CODES, OP_CODES, OP_NUMBERS,
  PAGE_LETTER_PAGEMAP_BITS, PAGE_LETTERS, PROT_CODES, SCAN_CHECK_WPASYNC, SCAN_DEFAULT_RETURN, SCAN_EXPLICIT, SCAN_NO_VEC, encodeCase,
} from '../../src/targets/executor/protocol.ts';
import { SCAN_LETTERS, SCAN_NAMES } from '../../src/ops/trace.ts';
import { DEFAULT_LIMITS, MAX_PAGES_PER_REGION } from '../../src/ops/layout.ts';
import { OP_NAMES } from '../../src/ops/schema.ts';
import { parseCase } from '../../src/ops/validate.ts';

const dir = new URL('../../workers/executor/', import.meta.url);
const src = (f: string) => readFileSync(new URL(f, dir), 'utf8');
const uapi = src('ptefarm-uapi.h');
const exec = src('ptefarm-exec.c');
const observe = src('ptefarm-observe.h');
const mm = src('ptefarm-mm.h');

/** `#define NAME VALUE` in `text` as a number (decimal, hex, `(1 << n)`, `(1ULL << n)`) */
function define(text: string, name: string): number {
  const m = new RegExp(`^#define ${name}\\s+(.+?)\\s*(/\\*.*)?$`, 'm').exec(text);
  if (!m) throw new Error(`#define ${name} not found`);
  const v = m[1]!.trim();
  const shift = /^\(\s*1(?:U?LL|U)?\s*<<\s*(\d+)\s*\)$/.exec(v);
  if (shift) return 2 ** Number(shift[1]);
  const n = Number(v.replace(/U?LL$|U$/, ''));
  if (!Number.isFinite(n)) throw new Error(`#define ${name} ${v}: not a number`);
  return n;
}

/** the C name of an op code: OP_ + the op in capitals, but for the two userfaultfd (un)registers */
const cOpName = (op: string) => (op === 'uffd_register' ? 'OP_UREG' : op === 'uffd_unregister' ? 'OP_UUNREG' : `OP_${op.toUpperCase()}`);

describe('executor protocol: the C constants match the TypeScript ones', () => {
  it('op codes (ptefarm-uapi.h enum OP_*) are OP_CODES, for every op of the case schema', () => {
    const body = /enum\s*{([^}]*OP_SKIP[^}]*)}/.exec(uapi)![1]!;
    const c = new Map([...body.matchAll(/(OP_[A-Z_]+)\s*=\s*(\d+)/g)].map((m) => [m[1]!, Number(m[2])]));
    const ts = new Map(Object.entries(OP_CODES).map(([op, code]) => [cOpName(op), code]));
    expect(c).toEqual(ts);
    for (const op of OP_NAMES) expect(OP_CODES[op], op).toBeTypeOf('number');
    expect(/#define OP_LAST (OP_[A-Z_]+)/.exec(uapi)![1]).toBe(cOpName(Object.entries(OP_CODES).sort((a, b) => b[1] - a[1])[0]![0]));
  });

  it('numbers per op line (ptefarm-exec.c OP_NUMBERS) are OP_NUMBERS, and the encoder writes that many', () => {
    const body = /OP_NUMBERS\[OP_LAST \+ 1\] = {([^}]*)}/.exec(exec)![1]!;
    const c = new Map([...body.matchAll(/\[(OP_[A-Z_]+)\]\s*=\s*(\d+)/g)].map((m) => [m[1]!, Number(m[2])]));
    expect(c).toEqual(new Map(Object.entries(OP_NUMBERS).map(([op, n]) => [cOpName(op), n])));
    // a ptefarm-case/2 case with every op kind, encoded: each line as many numbers as the executor reads
    const every = parseCase({ format: 'ptefarm-case/2', uffd: { features: ['wp_async'] }, ops: [
      { op: 'mmap', region: 'a', pages: 1024, kind: 'anon', thp: true }, { op: 'mmap', region: 'b', pages: 4, kind: 'anon' },
      { op: 'uffd_register', region: 'b' }, { op: 'write', region: 'b' }, { op: 'read', region: 'a', first: 0, count: 1 },
      { op: 'wp', region: 'b', on: true }, { op: 'scan', region: 'b', wp_matching: true }, { op: 'uffd_unregister', region: 'b' },
      { op: 'populate', region: 'b', write: true }, { op: 'mprotect', region: 'b', prot: 'r' },
      { op: 'fork' }, { op: 'write', region: 'a', proc: 1, first: 0, count: 1 }, { op: 'exit', proc: 1 },
      { op: 'clear_refs', value: 4 }, { op: 'pageout', region: 'a' }, { op: 'dontneed', region: 'a' },
      { op: 'collapse', region: 'a' }, { op: 'split', region: 'a', page: 3 },
      { op: 'guard', region: 'b', first: 0, count: 1 }, { op: 'unguard', region: 'b', first: 0, count: 1 },
      { op: 'mremap', region: 'b', pages: 8 }, { op: 'munmap', region: 'b' }, { op: 'close_uffd' },
    ] });
    expect(new Set(every.ops.map((o) => o.op))).toEqual(new Set(OP_NAMES));
    const enc = encodeCase(every);
    enc.lines.forEach((line, k) => {
      const op = every.ops[k]!.op;
      expect(line.split(' ').length, `${op}: ${line}`).toBe(OP_NUMBERS[op]);
      expect(Number(line.split(' ')[0])).toBe(OP_CODES[op]);
    });
    // and a skipped op is the skip line
    expect(encodeCase(every, (o) => (o.op === 'fork' ? 'no' : undefined)).lines[10]!.split(' ').length).toBe(OP_NUMBERS.skip);
  });

  it('scan bits (SCAN_*) and PAGEMAP_SCAN categories (PAGE_IS_*: bit b is SCAN_LETTERS[b])', () => {
    expect([SCAN_EXPLICIT, SCAN_CHECK_WPASYNC, SCAN_NO_VEC, SCAN_DEFAULT_RETURN]).toEqual(
      ['SCAN_EXPLICIT', 'SCAN_CHECK_WPASYNC', 'SCAN_NO_VEC', 'SCAN_DEFAULT_RETURN'].map((n) => define(uapi, n)));
    SCAN_LETTERS.forEach((l, b) => expect(define(uapi, `PAGE_IS_${SCAN_NAMES[l]}`), l).toBe(2 ** b));
    expect(define(uapi, 'PAGE_CATS_ALL')).toBe(ALL_CATEGORIES);
    expect(ALL_CATEGORIES).toBe(2 ** SCAN_LETTERS.length - 1);
  });

  it('limits (MAXP, MAXR, MAXPAGES, MAXCTX) are EXECUTOR_LIMITS, and validation stays within them', () => {
    expect({ maxProcs: define(uapi, 'MAXP'), maxRegionIds: define(uapi, 'MAXR'), maxPages: define(uapi, 'MAXPAGES'), maxUffdContexts: define(uapi, 'MAXCTX') })
      .toEqual(EXECUTOR_LIMITS);
    expect(DEFAULT_LIMITS.maxProcs).toBeLessThanOrEqual(EXECUTOR_LIMITS.maxProcs);
    expect(DEFAULT_LIMITS.maxRegions).toBeLessThanOrEqual(EXECUTOR_LIMITS.maxRegionIds);
    expect(MAX_PAGES_PER_REGION).toBeLessThanOrEqual(EXECUTOR_LIMITS.maxPages);
    expect(define(uapi, 'EXIT_EXTERNAL_SIGNAL')).toBe(EXIT_EXTERNAL_SIGNAL);
  });

  it('page codes: the alphabet, and code bit k is PAGE_LETTERS[k] (ptefarm-observe.h pm_code)', () => {
    expect(/CODE_ALPHABET\[\] = "([^"]+)"/.exec(exec)![1]).toBe(CODE_ALPHABET);
    expect(CODE_ALPHABET.length).toBeGreaterThanOrEqual(64); // one character per 6-bit code
    const body = /static uint8_t pm_code\(uint64_t e\) {([\s\S]*?)\n}/.exec(observe)![1]!;
    // terms `((e >> N) & 1)` (bit 0) and `(((e >> N) & 1) << k)`, in order
    const terms = [...body.matchAll(/\(e >> (\d+)\) & 1\)(?: << (\d+)\))?/g)].map((m) => [Number(m[2] ?? 0), Number(m[1])] as const);
    expect(terms.length).toBe(6);
    for (const [k, pagemapBit] of terms) expect(pagemapBit, `code bit ${k}`).toBe(PAGE_LETTER_PAGEMAP_BITS[PAGE_LETTERS[k] as keyof typeof PAGE_LETTER_PAGEMAP_BITS]);
    // the seventh letter: a guard entry is pagemap bit 58 on a non-present page
    expect(/\(ent\[k\] >> (\d+)\) & 1\) && !\(\(ent\[k\] >> 63\) & 1\) \? OBS_GUARD/.exec(observe)![1]).toBe(String(PAGE_LETTER_PAGEMAP_BITS.G));
  });

  it('uffd feature bits: ptefarm-uapi.h for the newer ones, the system uapi header for the rest', () => {
    expect(define(uapi, 'UFFD_FEATURE_WP_UNPOPULATED')).toBe(FEATURE_BITS.wp_unpopulated);
    expect(define(uapi, 'UFFD_FEATURE_WP_ASYNC')).toBe(FEATURE_BITS.wp_async);
    const sys = '/usr/include/linux/userfaultfd.h'; // what the executor is compiled against
    if (!existsSync(sys)) return;
    const h = readFileSync(sys, 'utf8');
    expect(define(h, 'UFFD_FEATURE_EVENT_FORK')).toBe(FEATURE_BITS.event_fork);
    expect(define(h, 'UFFD_FEATURE_EVENT_REMAP')).toBe(FEATURE_BITS.event_remap);
    expect(define(h, 'UFFD_FEATURE_EVENT_UNMAP')).toBe(FEATURE_BITS.event_unmap);
  });

  it('region kinds (C_MMAP) and protections (OP_MPROTECT) are KIND_CODES and PROT_CODES', () => {
    const kinds = /case C_MMAP: { \/\* a: kind ([^;]+);/.exec(mm)![1]!;
    const c = Object.fromEntries([...kinds.matchAll(/(\d+) ([a-z-]+)/g)].map((m) => [m[2]!, Number(m[1])]));
    expect(c).toEqual(KIND_CODES);
    const prot = /v\[5\] == (\d+) \? PROT_NONE : v\[5\] == (\d+) \? PROT_READ : PROT_READ \| PROT_WRITE/.exec(exec)!;
    expect([Number(prot[1]), Number(prot[2])]).toEqual([PROT_CODES.none, PROT_CODES.r]);
    const accepted = /code == OP_MPROTECT && v\[5\] != (\d+) && v\[5\] != (\d+) && v\[5\] != (\d+)/.exec(exec)!;
    expect(accepted.slice(1).map(Number).sort()).toEqual(Object.values(PROT_CODES).sort());
  });
});
