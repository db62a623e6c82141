// Chaos suite, input side (issue 18): 10,000 malformed cases and 10,000 adversarial traces, made by
// fast-check from valid ones (the corpus's seeds and mutant cases, with their model:x86 traces) by
// mutation: wrong types, huge numbers, prototype names and keys, letters in wrong slots,
// missing/extra/repeated steps, huge strings. Each goes through what the CLI does with input
// (parseCase / parseTrace) and through checkTrace, in this one process. Measured:
// - 0 crashes: the only exceptions are CaseError / InputError / TraceError;
// - 0 hangs: every input returns (the test's timeout bounds the whole run);
// - 0 false "ok": a mutation that makes the trace invalid or changes a compared value is never ok;
//   a mutation that only hides bits (`?`, a region left out) is ok;
// - every error a bounded message naming the field.
// PTEFARM_CHAOS_N changes the count of each (default 10,000; CI runs the default).
import { readdirSync, readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkTrace } from '../../src/check/check.ts';
import { CaseError, parseCase } from '../../src/ops/validate.ts';
import { PAGE_STRING_RE, SCAN_STRING_RE, TraceError, type Trace } from '../../src/ops/trace.ts';
import type { Case } from '../../src/ops/schema.ts';
import { ModelTarget } from '../../src/targets/model.ts';
import { encodeCase } from '../../src/targets/executor/protocol.ts';
import { InputError, parseTrace } from '../../src/cli/io.ts';
import { envelopeProblems } from '../../workers/worker.ts';

const N = Number(process.env.PTEFARM_CHAOS_N ?? 10_000);
const SEED = Number(process.env.PTEFARM_CHAOS_SEED ?? 18);

// ---- the valid inputs mutations start from -------------------------------------------------
type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
interface Base { c: Case; t: Trace }
const bases: Base[] = [];
for (const dir of ['corpus/seeds', 'corpus/mutants']) {
  const url = new URL(`../../${dir}/`, import.meta.url);
  for (const f of readdirSync(url).filter((x) => x.endsWith('.json')).sort()) {
    const c = parseCase(JSON.parse(readFileSync(new URL(f, url), 'utf8')));
    const pages = c.ops.reduce((n, o) => n + (o.op === 'mmap' ? o.pages : 0), 0);
    if (pages > 16 || c.ops.length > 30) continue; // keep the run short: small cases, small traces
    bases.push({ c, t: JSON.parse(JSON.stringify(new ModelTarget('model:x86').executeSync(c))) });
  }
}

const PROTO = ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf', 'prototype'];
const BIG = 'x'.repeat(100_000);
const OTHER_TYPES: Json[] = [null, true, false, 0, -1, 1.5, 1e300, '', 'x', [], {}, [1, 'a'], { a: 1 }];
const HUGE_NUMBERS = [1e300, -1, 1.5, 2 ** 53, -0.5, Number.MAX_SAFE_INTEGER + 2];

const cpuSeconds = (from: NodeJS.CpuUsage) => { const u = process.cpuUsage(from); return ((u.user + u.system) / 1e6).toFixed(1); };
const clone = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;
const typeOf = (v: unknown) => (v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v);

/** every [parent, key] of a JSON tree (the root excluded) */
function slots(root: Json): [Json[] | { [k: string]: Json }, string | number][] {
  const out: [Json[] | { [k: string]: Json }, string | number][] = [];
  const walk = (v: Json) => {
    if (Array.isArray(v)) v.forEach((x, i) => { out.push([v, i]); walk(x); });
    else if (v && typeof v === 'object') for (const k of Object.keys(v)) { out.push([v, k]); walk(v[k]); }
  };
  walk(root);
  return out;
}
/** an own property whatever the key (`__proto__` as JSON.parse makes it) */
const define = (o: object, k: string, v: unknown) => Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
const pathOf = (root: Json, target: Json[] | { [k: string]: Json }, key: string | number): string[] => {
  const find = (v: Json, path: string[]): string[] | undefined => {
    if (v === target) return [...path, String(key)];
    if (v && typeof v === 'object') for (const k of Object.keys(v)) { const r = find((v as Record<string, Json>)[k], [...path, k]); if (r) return r; }
    return undefined;
  };
  return find(root, []) ?? [];
};

// ---- oracles for errors -----------------------------------------------------------------------
const FIELD_RE = /^\s*(\(case\)|\(trace\)|format|name|uffd|ops|steps|target|fault|skipped|step for op|\(\d+ more problem)/;
function expectBoundedError(e: unknown, kinds: (new (...a: never[]) => Error)[], what: string) {
  if (!kinds.some((k) => e instanceof k)) throw new Error(`${what}: crashed with ${(e as Error)?.name}: ${String((e as Error)?.message).slice(0, 300)}`);
  const msg = (e as Error).message;
  if (msg.length > 12_000) throw new Error(`${what}: unbounded message of ${msg.length} chars`);
  const lines = msg.split('\n').slice(1); // after "x: invalid case:" / "invalid trace:"
  if (lines.length === 0) throw new Error(`${what}: no problem listed: ${msg.slice(0, 200)}`);
  for (const l of lines) {
    if (l.length > 1000) throw new Error(`${what}: unbounded problem line of ${l.length} chars`);
    if (!FIELD_RE.test(l)) throw new Error(`${what}: problem does not name a field: ${l.slice(0, 200)}`);
  }
}

// ---- malformed cases --------------------------------------------------------------------------
const CASE_MUTATIONS = ['type', 'huge-number', 'proto-name', 'proto-key', 'huge-string', 'huge-key', 'delete', 'extra-key', 'dup-op', 'many-ops', 'op-name'] as const;
type CaseMutation = (typeof CASE_MUTATIONS)[number];

function mutateCase(c: Case, kind: CaseMutation, a: number, b: number): Json {
  const root = clone(c) as unknown as Json & { ops: Json[] };
  const all = slots(root);
  const [parent, key] = all[a % all.length];
  const set = (v: Json) => { (parent as Record<string | number, Json>)[key] = v; };
  const value = (parent as Record<string | number, Json>)[key];
  switch (kind) {
    case 'type': { const others = OTHER_TYPES.filter((x) => typeOf(x) !== typeOf(value)); set(others[b % others.length]); break; }
    case 'huge-number': {
      const nums = all.filter(([p, k]) => typeof (p as Record<string | number, Json>)[k] === 'number');
      if (nums.length) { const [p, k] = nums[a % nums.length]; (p as Record<string | number, Json>)[k] = HUGE_NUMBERS[b % HUGE_NUMBERS.length]; } else set(1e300);
      break;
    }
    case 'proto-name': {
      const strs = all.filter(([p, k]) => typeof (p as Record<string | number, Json>)[k] === 'string');
      const [p, k] = strs[a % strs.length];
      (p as Record<string | number, Json>)[k] = PROTO[b % PROTO.length];
      break;
    }
    case 'proto-key': {
      const objs = [root as Json, ...all.map(([p, k]) => (p as Record<string | number, Json>)[k])].filter((v) => v && typeof v === 'object' && !Array.isArray(v)) as object[];
      define(objs[a % objs.length], PROTO[b % PROTO.length], b % 2 ? { op: 'write', region: 'a' } : 1);
      break;
    }
    case 'huge-string': set(BIG); break;
    case 'huge-key': {
      const objs = all.map(([p, k]) => (p as Record<string | number, Json>)[k]).filter((v) => v && typeof v === 'object' && !Array.isArray(v)) as object[];
      define(objs.length ? objs[a % objs.length] : root, BIG, 1);
      break;
    }
    case 'delete': if (Array.isArray(parent)) parent.splice(key as number, 1); else delete (parent as Record<string, Json>)[key as string]; break;
    case 'extra-key': {
      const objs = all.map(([p, k]) => (p as Record<string | number, Json>)[k]).filter((v) => v && typeof v === 'object' && !Array.isArray(v)) as object[];
      define(objs.length ? objs[a % objs.length] : root, ['pagez', 'Op', 'region ', 'first', 'extra'][b % 5], b % 3);
      break;
    }
    case 'dup-op': root.ops.splice(a % root.ops.length, 0, clone(root.ops[b % root.ops.length])); break;
    case 'many-ops': while (root.ops.length <= 256 + (b % 3)) root.ops.push(clone(root.ops[root.ops.length - 1])); break;
    case 'op-name': (root.ops[a % root.ops.length] as Record<string, Json>).op = [...PROTO, 'WRITE', 'mmap ', BIG, 'skip'][b % (PROTO.length + 4)]; break;
  }
  return root;
}

// ---- adversarial traces -----------------------------------------------------------------------
/** must be bad input or not ok */
const INVALID = ['flip-bit', 'flip-scan', 'wrong-letter', 'proto-region', 'proto-proc', 'drop-step', 'extra-step', 'dup-step',
  'empty-steps', 'wrong-type', 'huge-number', 'huge-string', 'huge-key', 'empty-fault', 'fault', 'skipped-with-steps', 'rc', 'event'] as const;
/** only hide bits: must stay ok */
const HIDING = ['mask', 'drop-region'] as const;
const TRACE_MUTATIONS = [...INVALID, ...HIDING] as const;
type TraceMutation = (typeof TRACE_MUTATIONS)[number];

interface PageSlot { step: number; field: 'pages' | 'scan'; proc: string; region: string; page: number }
function pageSlots(t: Trace, field: 'pages' | 'scan', re?: RegExp): PageSlot[] {
  const out: PageSlot[] = [];
  t.steps.forEach((s, step) => {
    for (const [proc, rs] of Object.entries(s[field] ?? {})) for (const [region, strs] of Object.entries(rs)) {
      strs.forEach((x, page) => { if (!re || re.test(x)) out.push({ step, field, proc, region, page }); });
    }
  });
  return out;
}
const strAt = (t: Trace, p: PageSlot) => t.steps[p.step][p.field]![p.proc][p.region];

/** a mutated trace, or undefined when the base trace has nothing this mutation can act on */
function mutateTrace(base: Base, kind: TraceMutation, a: number, b: number): Json | undefined {
  const t = clone(base.t);
  const n = base.c.ops.length;
  const page = (field: 'pages' | 'scan', re?: RegExp) => { const ps = pageSlots(t, field, re); return ps.length ? ps[a % ps.length] : undefined; };
  switch (kind) {
    case 'flip-bit': {
      const p = page('pages');
      if (!p) return undefined;
      const strs = strAt(t, p); const s = strs[p.page]; const k = b % 6;
      strs[p.page] = s.slice(0, k) + (s[k] === '.' ? 'PSFEWD'[k] : '.') + s.slice(k + 1);
      return t as unknown as Json;
    }
    case 'flip-scan': {
      const p = page('scan', /^[^-]/);
      if (!p) return undefined;
      const strs = strAt(t, p); const s = strs[p.page]; const k = b % 9;
      strs[p.page] = s.slice(0, k) + (s[k] === '.' ? 'awfpszhdg'[k] : '.') + s.slice(k + 1);
      return t as unknown as Json;
    }
    case 'wrong-letter': {
      const scan = b % 3 === 0;
      const p = page(scan ? 'scan' : 'pages');
      if (!p) return undefined;
      const strs = strAt(t, p); const s = strs[p.page];
      const k = (b >> 2) % s.length;
      const pool = 'PSFEWDawfpszhdg?-*!xX0 é';
      let ch = pool[(a + b) % pool.length];
      const candidate = (x: string) => s.slice(0, k) + x + s.slice(k + 1);
      for (let i = 0; i < pool.length && (scan ? SCAN_STRING_RE : PAGE_STRING_RE).test(candidate(ch)); i++) ch = pool[(a + b + i + 1) % pool.length];
      strs[p.page] = candidate(ch);
      return t as unknown as Json;
    }
    case 'proto-region': {
      const p = page(b % 2 ? 'pages' : 'scan') ?? page('pages');
      if (!p) return undefined;
      const rs = t.steps[p.step][p.field]![p.proc];
      const name = PROTO[b % PROTO.length];
      if (base.c.ops.some((o) => 'region' in o && o.region === name)) return undefined;
      define(rs, name, rs[p.region]);
      delete rs[p.region];
      return t as unknown as Json;
    }
    case 'proto-proc': {
      const p = page('pages');
      if (!p) return undefined;
      const ps = t.steps[p.step].pages!;
      define(ps, PROTO[b % PROTO.length], ps[p.proc]);
      delete ps[p.proc];
      return t as unknown as Json;
    }
    case 'drop-step': t.steps.splice(a % t.steps.length, 1); return t as unknown as Json;
    case 'extra-step': t.steps.push({ ...clone(t.steps[a % t.steps.length]), op: [n, n + 1, n + 100, 1e300, 2 ** 31][b % 5] }); return t as unknown as Json;
    case 'dup-step': { const i = a % t.steps.length; t.steps.splice(i, 0, clone(t.steps[i])); return t as unknown as Json; }
    case 'empty-steps': t.steps = []; return t as unknown as Json;
    case 'wrong-type': case 'huge-number': case 'huge-string': case 'huge-key': {
      const root = t as unknown as Json;
      // target name/arch/kernel are informational (any string is valid) and rc is 0 | string
      const free = (path: string[]) => (path[0] === 'target' && path.length === 2 && path[1] !== 'capabilities') || path.at(-1) === 'rc';
      const all = slots(root).filter(([p, k]) => !free(pathOf(root, p, k)));
      if (kind === 'huge-key') {
        const objs = all.map(([p, k]) => (p as Record<string | number, Json>)[k]).filter((v) => v && typeof v === 'object' && !Array.isArray(v) && Object.keys(v).length) as Record<string, Json>[];
        // a key of a record (process, region, capability) or an object: renamed to 100 KB
        const recs = objs.filter((o) => !('op' in o) && !('kind' in o) && !('huge' in o));
        if (!recs.length) return undefined;
        const o = recs[a % recs.length]; const k = Object.keys(o)[b % Object.keys(o).length];
        define(o, BIG, o[k]); delete o[k];
        return root;
      }
      const pick = kind === 'wrong-type' ? all : all.filter(([p, k]) => typeof (p as Record<string | number, Json>)[k] === (kind === 'huge-number' ? 'number' : 'string'));
      if (!pick.length) return undefined;
      const [p, k] = pick[a % pick.length];
      const v = (p as Record<string | number, Json>)[k];
      let nv: Json;
      if (kind === 'wrong-type') { const others = OTHER_TYPES.filter((x) => typeOf(x) !== typeOf(v)); nv = others[b % others.length]; }
      else if (kind === 'huge-number') nv = HUGE_NUMBERS[b % HUGE_NUMBERS.length];
      else nv = BIG;
      (p as Record<string | number, Json>)[k] = nv;
      // a capability flag flipped true/false is still a valid trace: not an invalid mutation
      if (kind === 'wrong-type' && typeof v === 'boolean' && typeof nv === 'boolean') return undefined;
      // a value read back (`content`) turned into null is a page not read, and a number where the
      // page was not read is a value the check masks (read where the model maps no page): both hide
      if (kind === 'wrong-type' && (nv === null || v === null) && pathOf(root, p, k).includes('content')) return undefined;
      return root;
    }
    case 'empty-fault': t.fault = ''; return t as unknown as Json;
    case 'fault': t.fault = ['timeout: the case did not finish within 10000 ms', 'supervisor killed by SIGKILL', BIG][b % 3]; if (b % 2) t.steps.splice(a % t.steps.length); return t as unknown as Json;
    case 'skipped-with-steps': t.skipped = 'no userfaultfd here'; return t as unknown as Json;
    case 'rc': {
      // collapse's rc is unconstrained without a huge outcome (the model's '*'): not compared
      const idx = t.steps.map((_, i) => i).filter((i) => base.c.ops[t.steps[i].op].op !== 'collapse');
      if (!idx.length) return undefined;
      const s = t.steps[idx[a % idx.length]];
      const choices = ([0, 'EPERM', 'SIGKILL', 'E'.repeat(1_000_000)] as (0 | string)[]).filter((x) => x !== s.rc);
      s.rc = choices[b % choices.length];
      return t as unknown as Json;
    }
    case 'event': {
      const s = t.steps[a % t.steps.length];
      s.events = [...(s.events ?? []), { kind: (['wp_fault', 'fork', 'remap', 'unmap'] as const)[b % 4], proc: 0, region: PROTO[b % PROTO.length], page: 0 }];
      return t as unknown as Json;
    }
    case 'mask': {
      const p = page('pages');
      if (!p) return undefined;
      const strs = strAt(t, p); const s = strs[p.page]; const k = b % 6;
      strs[p.page] = s.slice(0, k) + '?' + s.slice(k + 1);
      return t as unknown as Json;
    }
    case 'drop-region': {
      const p = page(b % 2 ? 'scan' : 'pages') ?? page('pages');
      if (!p) return undefined;
      delete t.steps[p.step][p.field]![p.proc][p.region];
      return t as unknown as Json;
    }
  }
}

describe(`chaos: ${N} malformed cases and ${N} adversarial traces in one process`, () => {
  it('has valid bases to mutate, each ok against the model', () => {
    expect(bases.length).toBeGreaterThan(30);
    for (const b of bases) expect(checkTrace(b.c, b.t).ok).toBe(true);
  });

  it('malformed cases: 0 crashes, every error a bounded message naming the field; the ones still valid run', () => {
    const stats = { total: 0, rejected: 0, valid: 0, ran: 0, maxMs: 0 };
    const t0 = performance.now();
    const cpu0 = process.cpuUsage();
    fc.assert(fc.property(fc.nat(bases.length - 1), fc.constantFrom(...CASE_MUTATIONS), fc.nat(), fc.nat(), (bi, kind, a, b) => {
      const input = mutateCase(bases[bi].c, kind, a, b);
      const s0 = performance.now();
      stats.total++;
      let c: Case | undefined;
      try { c = parseCase(input); } catch (e) { expectBoundedError(e, [CaseError], `case mutation ${kind}`); stats.rejected++; }
      if (c) {
        // valid after all (a mutation can keep a case valid): it must encode and run, and match itself
        stats.valid++;
        encodeCase(c);
        const tr = new ModelTarget('model:x86').executeSync(c);
        expect(checkTrace(c, tr).ok).toBe(true);
        stats.ran++;
      }
      stats.maxMs = Math.max(stats.maxMs, performance.now() - s0);
    }), { numRuns: N, seed: SEED, endOnFailure: true });
    const s = ((performance.now() - t0) / 1000).toFixed(1);
    const cpu = cpuSeconds(cpu0);
    console.info(`chaos cases: ${stats.total} mutated cases in ${s} s (${cpu} s CPU): ${stats.rejected} rejected with a bounded message, ${stats.valid} still valid (all ran), 0 crashes; slowest ${stats.maxMs.toFixed(1)} ms`);
    expect(stats.total).toBe(N);
    expect(stats.rejected).toBeGreaterThan(N * 0.7);
  }, 300_000);

  it('malformed job envelopes (the worker\'s validation entry): never a throw, every problem bounded and naming the field', () => {
    const job = { v: 1, campaign: 'c1', id: 'j1', target: 'model:x86', case: bases[0].c, timeoutMs: 5000, hash: 'h', maxDeliver: 5, ackWaitMs: 30_000, coverage: { profile: '6.18' } };
    const fields = Object.keys(job);
    let refused = 0;
    fc.assert(fc.property(fc.nat(), fc.nat(), fc.constantFrom('type', 'huge-number', 'proto-key', 'huge-string', 'delete'), (a, b, kind) => {
      const j = clone(job) as Record<string, unknown>;
      const f = fields[a % fields.length];
      if (kind === 'type') { const others = OTHER_TYPES.filter((x) => typeOf(x) !== typeOf(j[f])); j[f] = others[b % others.length]; }
      else if (kind === 'huge-number') j[f] = HUGE_NUMBERS[b % HUGE_NUMBERS.length];
      else if (kind === 'proto-key') define(j, PROTO[b % PROTO.length], { v: 2 });
      else if (kind === 'huge-string') j[f] = BIG;
      else delete j[f];
      const p = envelopeProblems(j, 'model:x86');
      if (p.length) refused++;
      for (const x of p) {
        expect(x.length).toBeLessThan(500);
        expect(x).toMatch(/^(job|v|campaign|id|hash|target|timeoutMs|maxDeliver|ackWaitMs|coverage): /);
      }
    }), { numRuns: N, seed: SEED, endOnFailure: true });
    console.info(`chaos jobs: ${N} mutated envelopes, ${refused} refused with bounded problems, 0 throws`);
    expect(refused).toBeGreaterThan(N * 0.5);
  }, 120_000);

  it('adversarial traces: 0 crashes, 0 false ok, every error a bounded message naming the field', () => {
    const stats = { total: 0, skippedKinds: 0, schema: 0, traceError: 0, violation: 0, fault: 0, ok: 0, hidingOk: 0, falseOk: 0, maxMs: 0 };
    const byKind = new Map<string, number>();
    const t0 = performance.now();
    const cpu0 = process.cpuUsage();
    fc.assert(fc.property(fc.nat(bases.length - 1), fc.constantFrom(...TRACE_MUTATIONS), fc.nat(), fc.nat(), (bi, kind, a, b) => {
      const base = bases[bi];
      const json = mutateTrace(base, kind, a, b);
      stats.total++;
      if (json === undefined) { stats.skippedKinds++; return; }
      byKind.set(kind, (byKind.get(kind) ?? 0) + 1);
      const s0 = performance.now();
      let t: Trace | undefined;
      try { t = parseTrace(json); } catch (e) { expectBoundedError(e, [InputError], `trace mutation ${kind}`); stats.schema++; }
      if (t) {
        let v;
        try { v = checkTrace(base.c, t); } catch (e) { expectBoundedError(e, [TraceError], `trace mutation ${kind}`); stats.traceError++; }
        if (v) {
          for (const x of v.violations) if (x.message.length > 2000 || x.actual.length > 400) throw new Error(`unbounded violation text (${kind})`);
          if (v.fault !== undefined) stats.fault++;
          else if (!v.ok) stats.violation++;
          else stats.ok++;
          if (v.ok && (INVALID as readonly string[]).includes(kind)) { stats.falseOk++; throw new Error(`false ok after ${kind} of base ${bi} (a=${a}, b=${b})`); }
        }
      }
      if ((HIDING as readonly string[]).includes(kind)) {
        // hiding bits is a valid partial observation: always ok
        if (!t) throw new Error(`${kind}: a valid partial trace was rejected`);
        expect(checkTrace(base.c, t).ok, kind).toBe(true);
        stats.hidingOk++;
      }
      stats.maxMs = Math.max(stats.maxMs, performance.now() - s0);
    }), { numRuns: N, seed: SEED, endOnFailure: true });
    const s = ((performance.now() - t0) / 1000).toFixed(1);
    const tested = stats.total - stats.skippedKinds;
    const cpu = cpuSeconds(cpu0);
    console.info(`chaos traces: ${stats.total} mutations (${tested} applicable) in ${s} s (${cpu} s CPU): ${stats.schema} rejected by the schema, ${stats.traceError} by the case check, ` +
      `${stats.violation} violations, ${stats.fault} faults, ${stats.ok} ok (${stats.hidingOk} bit-hiding ones, which must be ok); 0 crashes, ${stats.falseOk} false ok; ` +
      `slowest ${stats.maxMs.toFixed(1)} ms; per kind ${[...byKind].map(([k, c]) => `${k} ${c}`).join(', ')}`);
    expect(stats.total).toBe(N);
    expect(stats.falseOk).toBe(0);
    expect(stats.ok).toBe(stats.hidingOk);
    expect(tested).toBeGreaterThan(N * 0.8);
  }, 300_000);
});
