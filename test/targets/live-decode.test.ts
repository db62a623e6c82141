// Decoding the executor's reply (src/targets/live.ts decodeReply, also used by the QEMU target): a
// step whose rc is a signal no op raises is a fault of the case, never an rc for the checker, even
// from an executor that reports it as one (issue 18, item 2; an older build inside a QEMU image).
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { MAX_PAGES_PER_REGION } from '../../src/ops/layout.ts';
import { decodeContent, decodeReply, encodeCase } from '../../src/targets/executor/protocol.ts';
import { parseCase } from '../../src/ops/validate.ts';

const c = parseCase({ format: 'ptefarm-case/1', ops: [{ op: 'mmap', region: 'a', pages: 1, kind: 'anon' }, { op: 'write', region: 'a' }] });
const enc = encodeCase(c);

describe('live target: decoding step rcs', () => {
  it('SIGSEGV and SIGBUS of an op are rcs (R-FLT-14, R-FLT-15)', () => {
    for (const sig of ['SIGSEGV', 'SIGBUS']) {
      const r = decodeReply(['s 0 0', 'p 0 0 A', `s 1 ${sig}`], enc, false);
      expect(r.fault).toBeUndefined();
      expect(r.steps.map((s) => s.rc)).toEqual([0, sig]);
    }
  });

  it('SIGKILL, SIGTERM or any other signal reported as an rc makes the trace a fault', () => {
    for (const sig of ['SIGKILL', 'SIGTERM', 'SIGSTOP', 'SIG35']) {
      const r = decodeReply(['s 0 0', 'p 0 0 A', `s 1 ${sig}`], enc, false);
      expect(r.fault).toBe(`step 1: the executor reported ${sig}, which no op raises (a signal from outside the case); not compared`);
    }
  });
});

describe('zero outcome without PAGEMAP_SCAN', () => {
  it('is dropped (not recorded: the check infers it), and kept where the host has PAGEMAP_SCAN', () => {
    const enc = encodeCase(parseCase({ format: 'ptefarm-case/1', ops: [{ op: 'mmap', region: 'a', pages: 1, kind: 'anon' }, { op: 'read', region: 'a' }] }));
    const lines = ['s 0 0', 'p 0 0 A', 's 1 0', 'z 0', 'p 0 0 B'];
    expect(decodeReply(lines, enc, false, false).steps[1].outcome?.zero).toBeUndefined();
    expect(decodeReply(lines, enc, false, true).steps[1].outcome?.zero).toEqual({ a: [] });
  });
});

describe('resident outcome (a fault\'s shmem swap-in, workers/executor/ptefarm-observe.h resident_outcome)', () => {
  it('`r rid first pages ...` becomes the [first, pages] runs of the named region, which the trace schema takes', async () => {
    const { traceSchema } = await import('../../src/ops/trace.ts');
    const r = decodeReply(['s 0 0', 'p 0 0 A', 's 1 0', 'r 0 0 512 600 64', 'p 0 0 A'], enc, false);
    expect(r.steps[1].outcome?.resident).toEqual({ a: [[0, 512], [600, 64]] });
    expect(r.steps[0].outcome?.resident).toBeUndefined();
    const t = { format: 'ptefarm-trace/1', target: { name: 'live', arch: 'x86_64', kernel: '6.18', capabilities: {} }, steps: r.steps };
    expect(traceSchema.safeParse(t).success).toBe(true);
  });
});

describe('folio outcome (anonymous mTHP, workers/executor/ptefarm-folio.h)', () => {
  it('`l rid first pages ...` (not `f`, the fault line) becomes [first, pages] pairs of the named region, and the trace schema takes them', async () => {
    const { traceSchema } = await import('../../src/ops/trace.ts');
    const r = decodeReply(['s 0 0', 'p 0 0 A', 's 1 0', 'l 0 16 16 32 4', 'p 0 0 A'], enc, false);
    expect(r.steps[1].outcome?.folio).toEqual({ a: [[16, 16], [32, 4]] });
    expect(r.steps[0].outcome?.folio).toBeUndefined();
    const t = { format: 'ptefarm-trace/1', target: { name: 'live', arch: 'x86_64', kernel: '6.18', capabilities: {} }, steps: r.steps };
    expect(traceSchema.safeParse(t).success).toBe(true);
    // a one-page "folio" is not one: the schema refuses it
    const bad = { ...t, steps: [r.steps[0], { ...r.steps[1], outcome: { folio: { a: [[16, 1]] } } }] };
    expect(traceSchema.safeParse(bad).success).toBe(false);
    // the executor's fault line still ends the trace as a fault
    expect(decodeReply(['s 0 0', 'p 0 0 A', 'f bad request: op line 1'], enc, false).fault).toBe('bad request: op line 1');
  });
});

describe('live target: decoding content values', () => {
  it('runs of values on either side of 10^15 (numbers below it, BigInt from it on) decode alike; beyond 2^53 a value is -1', () => {
    expect(decodeContent(['999999999999999+2', '999999999999999x2'], 'c 0 0')).toEqual([999999999999999, 1000000000000000, 999999999999999, 999999999999999]);
    expect(decodeContent(['1000000000000000+2'], 'c 0 0')).toEqual([1000000000000000, 1000000000000001]);
    expect(decodeContent(['9007199254740990+3'], 'c 0 0')).toEqual([9007199254740990, 9007199254740991, -1]);
    expect(decodeContent(['007+2', '-1', '0x1'], 'c 0 0')).toEqual([7, 8, null, 0]);
  });
  it('the regex-free reading of plain tokens decodes every token as the regex reading does, errors included', () => {
    // the reading before the fast path (one regex per token), kept here as the reference
    const reference = (tokens: string[]): (number | null)[] => {
      const out: (number | null)[] = [];
      for (const tok of tokens) {
        const m = /^(?:-(\d+)|(\d+)([x+])(\d+))$/.exec(tok);
        if (!m) throw new Error('bad token');
        const n = Number(m[1] ?? m[4]);
        if (out.length + n > MAX_PAGES_PER_REGION) throw new Error('longer than a region');
        if (m[1] !== undefined) { for (let k = 0; k < n; k++) out.push(null); continue; }
        const big = BigInt(m[2]!);
        for (let k = 0; k < n; k++) { const v = m[3] === '+' ? big + BigInt(k) : big; out.push(v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : -1); }
      }
      return out;
    };
    const digits = (max: number) => fc.stringMatching(new RegExp(`^[0-9]{0,${max}}$`));
    const token = fc.oneof(
      fc.tuple(digits(18), fc.constantFrom('x', '+', 'y', ''), digits(3)).map(([v, s, n]) => `${v}${s}${n}`),
      digits(3).map((n) => `-${n}`),
      fc.constantFrom('-', 'x1', '+1', '1x', '1+', '--1', '1x-1', '00x00', '9007199254740990+3', '123456789012345+1', '1234567890123456x1', '1x99999', '-17000'),
    );
    const outcome = (f: () => (number | null)[]) => { try { return { ok: f() }; } catch (e) { return { error: /bad token/.test((e as Error).message) ? 'bad token' : 'longer than a region' }; } };
    fc.assert(fc.property(fc.array(token, { maxLength: 6 }), (tokens) => {
      expect(outcome(() => decodeContent(tokens, 'c 0 0'))).toEqual(outcome(() => reference(tokens)));
    }), { numRuns: 3000 });
  });
});

describe('page and content lines a reply repeats', () => {
  const c2 = parseCase({ format: 'ptefarm-case/2', ops: [{ op: 'mmap', region: 'a', pages: 3, kind: 'anon' }, { op: 'write', region: 'a' }, { op: 'guard', region: 'a', first: 1, count: 1 }] });
  const enc2 = encodeCase(c2);

  it('the same p or c line gives the same array at every step; another line a new one', () => {
    const { steps } = decodeReply(['s 0 0', 'p 0 0 A3', 'c 0 0 -3', 's 1 0', 'p 0 0 A3', 'c 0 0 -3', 's 2 0', 'p 0 0 J3', 'c 0 0 7x3'], enc2, true);
    expect(steps[1]!.pages!['0']!.a).toBe(steps[0]!.pages!['0']!.a);
    expect(steps[1]!.content!['0']!.a).toBe(steps[0]!.content!['0']!.a);
    expect(steps[2]!.pages!['0']!.a).not.toBe(steps[1]!.pages!['0']!.a);
    expect(steps.map((s) => s.pages!['0']!.a![0])).toEqual(['.......', '.......', 'P..E...']);
    expect(steps.map((s) => s.content!['0']!.a)).toEqual([[null, null, null], [null, null, null], [7, 7, 7]]);
  });

  it('a g line marks a copy: the step before, which showed the same p line, keeps its page strings', () => {
    const { steps } = decodeReply(['s 0 0', 'p 0 0 J3', 's 1 0', 'p 0 0 J3', 's 2 0', 'p 0 0 J3', 'g 0 0 1 1', 's 3 0', 'p 0 0 J3'], enc2, true);
    expect(steps.map((s) => s.pages!['0']!.a!.join(' '))).toEqual([
      'P..E... P..E... P..E...', 'P..E... P..E... P..E...', 'P..E... P..E..G P..E...', 'P..E... P..E... P..E...',
    ]);
  });

  it('a p line of more pages than a region holds is bad executor output, not an array of that size', () => {
    expect(() => decodeReply(['s 0 0', `p 0 0 A${MAX_PAGES_PER_REGION + 1}`], enc, true)).toThrow(/longer than a region/);
    expect(() => decodeReply(['s 0 0', `p 0 0 A${MAX_PAGES_PER_REGION}B1`], enc, true)).toThrow(/longer than a region/);
    expect(() => decodeReply(['s 0 0', 'p 0 0 A99999999999999999999'], enc, true)).toThrow(/longer than a region/);
    expect(decodeReply(['s 0 0', `p 0 0 A${MAX_PAGES_PER_REGION}`], enc, true).steps[0]!.pages!['0']!.a).toHaveLength(MAX_PAGES_PER_REGION);
  });
});
