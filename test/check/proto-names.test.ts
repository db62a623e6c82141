// Region names that are also Object.prototype's property names (`__proto__`, `constructor`,
// `toString`, `hasOwnProperty`, `valueOf`) are valid names (case-format.md: a letter or _, then
// [A-Za-z0-9_.-]) and must be checked like any other: the same bits compared, the same
// violations. Issue 18 item 1: a region called `__proto__` vanished from the model's and the live
// target's page maps (plain objects) and from z.record-parsed traces, so a B-3 violation became
// "ok: 12 bits compared".
import { readFileSync } from 'node:fs';
import { existsSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { checkTrace } from '../../src/check/check.ts';
import { parseCase } from '../../src/ops/validate.ts';
import { traceSchema, type Trace } from '../../src/ops/trace.ts';
import type { Case } from '../../src/ops/schema.ts';
import { ModelTarget } from '../../src/targets/model.ts';
import { LiveTarget } from '../../src/targets/live.ts';
import { encodeCase } from '../../src/targets/executor/protocol.ts';
import { DEFAULT_EXECUTOR } from '../../src/targets/probe.ts';
import { getProfile } from '../../src/model/profile.ts';
import { parseText } from '../../src/ops/text.ts';
import { parseImageSpec } from '../../src/targets/qemu/images.ts';

const PROTO_NAMES = ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf'];

/** the case with every region name renamed (JSON text replace: the names are whole strings) */
function renamed(c: Case, map: Record<string, string>): Case {
  let text = JSON.stringify(c);
  for (const [from, to] of Object.entries(map)) text = text.split(`"${from}"`).join(`"${to}"`);
  return parseCase(JSON.parse(text));
}

/** a trace as a file would carry it: JSON text, then the trace schema (what `check --trace` does) */
function viaFile(t: Trace): Trace {
  const r = traceSchema.safeParse(JSON.parse(JSON.stringify(t)));
  if (!r.success) throw new Error(r.error.message);
  return r.data as Trace;
}

const b3 = parseCase(JSON.parse(readFileSync(new URL('../../corpus/mutants/B-3.json', import.meta.url), 'utf8')));

describe('regions named like Object.prototype properties', () => {
  it('corpus/mutants/B-3.json with its region renamed __proto__ still shows the R-MPROT-3 violation on model:x86+B-3, same bit count', () => {
    const plain = checkTrace(b3, new ModelTarget('model:x86+B-3').executeSync(b3));
    // the scenario: write, clear_refs, mprotect r, mprotect rw, write -> the page must be soft-dirty
    // again (mm/mprotect.c change_pte_range keeps it read-only until a write fault sets soft-dirty)
    expect(plain.ok).toBe(false);
    // 48 bits, and the value of the one page read back after each of the 5 steps that map it
    expect(plain.compared).toBe(53);
    expect(plain.bits.content).toEqual({ compared: 5, masked: 0 });
    for (const name of PROTO_NAMES) {
      const c = renamed(b3, { a: name });
      const trace = new ModelTarget('model:x86+B-3').executeSync(c);
      for (const t of [trace, viaFile(trace)]) {
        const v = checkTrace(c, t);
        expect(v.compared, name).toBe(plain.compared);
        expect(v.violations.map((x) => [x.step, x.bit, x.expected, x.actual, x.region]), name)
          .toEqual(plain.violations.map((x) => [x.step, x.bit, x.expected, x.actual, name]));
        expect(v.violations[0].rules).toContain('R-MPROT-3');
      }
      // and the reference model is ok on it
      expect(checkTrace(c, new ModelTarget('model:x86').executeSync(c)).ok).toBe(true);
    }
  });

  const multi: Case = parseCase({
    format: 'ptefarm-case/1', uffd: { features: ['wp_async'] },
    ops: [
      { op: 'mmap', region: 'a', pages: 4, kind: 'anon' },
      { op: 'mmap', region: 'b', pages: 2, kind: 'shared-anon' },
      { op: 'mmap', region: 'c', pages: 3, kind: 'memfd-shared' },
      { op: 'mmap', region: 'd', pages: 2, kind: 'anon' },
      { op: 'write', region: 'a', first: 0, count: 2 },
      { op: 'write', region: 'b' },
      { op: 'uffd_register', region: 'd' },
      { op: 'write', region: 'd', first: 1, count: 1 },
      { op: 'wp', region: 'd', on: true },
      { op: 'fork' },
      { op: 'write', region: 'c', proc: 1 },
      { op: 'mprotect', region: 'a', first: 2, count: 2, prot: 'r' },
      { op: 'read', region: 'a' },
      { op: 'scan', region: 'd' },
      { op: 'munmap', region: 'a', first: 3, count: 1 },
      { op: 'write', region: 'd' },
      { op: 'scan', region: 'a' },
    ],
  });
  const names = { a: '__proto__', b: 'constructor', c: 'toString', d: 'hasOwnProperty' };

  it('a case with four such regions, a fork and PAGEMAP_SCAN compares as many bits on the model as with plain names', () => {
    const plain = checkTrace(multi, new ModelTarget('model:x86').executeSync(multi));
    const c = renamed(multi, names);
    const t = new ModelTarget('model:x86').executeSync(c);
    expect(Object.keys(t.steps[16].pages!['1']).sort()).toEqual(Object.values(names).sort());
    expect(Object.keys(t.steps[16].scan!['0'])).toEqual(['__proto__']);
    for (const tr of [t, viaFile(t)]) {
      const v = checkTrace(c, tr);
      expect(v.ok).toBe(true);
      expect(v.compared).toBe(plain.compared);
    }
    // a flipped bit in region __proto__ is found, not lost with the region
    const bad = viaFile(t);
    const strs = bad.steps[4].pages!['0']['__proto__'];
    expect(strs[0][0]).toBe('P');
    strs[0] = '.' + strs[0].slice(1);
    const v = checkTrace(c, bad);
    expect(v.violations.map((x) => [x.step, x.region, x.page, x.bit])).toEqual([[4, '__proto__', 0, 'P']]);
  });

  const live = existsSync(DEFAULT_EXECUTOR);
  let lt: LiveTarget | undefined;
  afterAll(async () => { await lt?.close(); });
  it.skipIf(!live)('live: the same case with __proto__/constructor/toString/hasOwnProperty regions compares the same bits as with plain names', async () => {
    lt = new LiveTarget();
    const plainTrace = await lt.execute(multi);
    const c = renamed(multi, names);
    const protoTrace = await lt.execute(c);
    expect(plainTrace.fault).toBeUndefined();
    expect(protoTrace.fault).toBeUndefined();
    const plain = checkTrace(multi, plainTrace);
    const proto = checkTrace(c, protoTrace);
    expect(plain.compared).toBeGreaterThan(100);
    expect(proto.compared).toBe(plain.compared);
    const rename = (s: string | undefined) => (s === undefined ? s : (names as Record<string, string>)[s]);
    expect(proto.violations.map((x) => [x.step, x.bit, x.region])).toEqual(plain.violations.map((x) => [x.step, x.bit, rename(x.region)]));
    expect(Object.keys(protoTrace.steps[16].pages!['0']).sort()).toEqual(Object.values(names).sort());
  }, 30_000);

  it('tables keyed by name do not answer for Object.prototype: profiles, op codes, images, text fields', () => {
    for (const n of PROTO_NAMES) expect(() => getProfile(n), n).toThrow(/unknown kernel profile/);
    expect(() => encodeCase({ format: 'ptefarm-case/1', ops: [{ op: 'constructor' }] } as unknown as Case)).toThrow(/unknown op|does not exist|constructor/);
    expect(() => encodeCase({ format: 'ptefarm-case/1', ops: [{ op: 'mmap', region: 'a', pages: 1, kind: 'constructor' }] } as unknown as Case)).toThrow(/unknown kind "constructor"/);
    expect(() => encodeCase({ format: 'ptefarm-case/1', uffd: { features: ['toString'] }, ops: [{ op: 'mmap', region: 'a', pages: 1, kind: 'anon' }] } as unknown as Case)).toThrow(/unknown feature "toString"/);
    expect(() => parseImageSpec('constructor')).toThrow(/unknown image/);
    expect(() => parseImageSpec('__proto__')).toThrow(/unknown image/);
    // the text format: a field named like a prototype property is unknown, a region so named is kept
    expect(() => parseText('mmap a pages=1 kind=anon constructor=1')).toThrow(/no field "constructor"/);
    expect(() => parseText('mmap a pages=1 kind=anon toString')).toThrow(/no field "toString"/);
    const c = parseText('mmap __proto__ pages=2 kind=anon\nwrite __proto__[0..1)');
    expect(c.ops[1]).toEqual({ op: 'write', region: '__proto__', first: 0, count: 1 });
    expect(Object.hasOwn(c.ops[1], 'region')).toBe(true);
  });
});
