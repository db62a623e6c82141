// The check's verdicts: compared and masked bits per bit kind; a case whose asserted bits were all
// masked is a SKIP, never a silent "ok"; a fault is never ok; every violation names the most
// specific rule (what the op at that step did to that entry).
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Case } from '../../src/ops/schema.ts';
import type { Trace } from '../../src/ops/trace.ts';
import { assertedKinds, checkTrace, mostSpecificRule, ruleConcerns } from '../../src/check/check.ts';
import { ModelTarget } from '../../src/targets/model.ts';
import { signatureBitKinds } from '../../src/findings/signature.ts';

const seed = (f: string): Case => JSON.parse(readFileSync(fileURLToPath(new URL(`../../corpus/seeds/${f}`, import.meta.url)), 'utf8')) as Case;
const run = (c: Case, spec = 'model:x86'): Trace => new ModelTarget(spec).executeSync(c);

/** The trace a kernel without CONFIG_MEM_SOFT_DIRTY gives: bit 55 cannot be shown ('?'). */
function withoutSoftDirty(t: Trace): Trace {
  const u = structuredClone(t);
  u.target.capabilities.soft_dirty = false;
  for (const s of u.steps) for (const regions of Object.values(s.pages ?? {})) for (const strs of Object.values(regions)) strs.forEach((x, i) => { strs[i] = x.slice(0, 5) + '?'; });
  return u;
}

describe('check: masking is explicit', () => {
  it('s-sd-simple on a target without soft-dirty: every asserted bit masked -> SKIP with the reason and the counts', () => {
    const c = seed('s-sd-simple.json');
    expect([...assertedKinds(c)]).toEqual(['soft-dirty']);
    const v = checkTrace(c, withoutSoftDirty(run(c)));
    expect(v.violations).toEqual([]);
    expect(v.skipped).toMatch(/asserts soft-dirty, which this target cannot show: 8 soft-dirty bit\(s\) masked, 0 compared/);
    // one page observed after each of the 8 ops
    expect(v.bits['soft-dirty']).toEqual({ compared: 0, masked: 8 });
    expect(v.bits['uffd-wp']).toEqual({ compared: 8, masked: 0 });
    // the same case on a target showing soft-dirty is an ordinary pass with those bits compared
    const full = checkTrace(c, run(c));
    expect(full.skipped).toBeUndefined();
    expect(full.ok).toBe(true);
    expect(full.bits['soft-dirty']).toEqual({ compared: 8, masked: 0 });
  });

  it('a replayed finding asserts its signature\'s bits too: compared where they are shown, a SKIP only where they are masked', () => {
    const c = seed('s-sd-simple.json');
    const t = withoutSoftDirty(run(c));
    expect(signatureBitKinds('bit.E.set.R-SPLIT-5.page')).toEqual(['exclusive']);
    // an entry-type signature names the four bits read off the entry's type
    expect(signatureBitKinds('bit.entry.mismatch.R-SPLIT-5.page')).toEqual(['present', 'swapped', 'file', 'exclusive']);
    expect(checkTrace(c, t, { asserts: signatureBitKinds('bit.entry.mismatch.R-SPLIT-5.page') }).skipped).toBeUndefined();
    const e = checkTrace(c, t, { asserts: signatureBitKinds('bit.E.set.R-SPLIT-5.page') });
    expect(e.skipped).toBeUndefined();
    expect(e.ok).toBe(true);
    expect(e.bits.exclusive!.compared).toBeGreaterThan(0);
    // its own bit masked: still the soft-dirty SKIP
    expect(checkTrace(c, t, { asserts: signatureBitKinds('bit.D.lost.R-CR-2.page') }).skipped).toMatch(/^the case asserts soft-dirty, which this target cannot show/);
    expect(checkTrace(c, t, { asserts: signatureBitKinds('scan.d.lost.R-PMS-2.pte.page') }).skipped).toMatch(/^the case asserts soft-dirty, which/);
    // a hidden decision names no bit: the case's own asserted bits decide
    expect(signatureBitKinds('vma.registration.R-REG-1')).toEqual([]);
    expect(checkTrace(c, t, { asserts: [] }).skipped).toBeDefined();
  });

  it('a violation of another bit in an all-masked case is still a FAIL, not a SKIP', () => {
    const c = seed('s-sd-simple.json');
    const t = withoutSoftDirty(run(c));
    t.steps[2]!.pages![0]!.a![0] = '.' + t.steps[2]!.pages![0]!.a![0]!.slice(1);
    const v = checkTrace(c, t);
    expect(v.skipped).toBeUndefined();
    expect(v.ok).toBe(false);
    expect(v.violations.map((x) => [x.step, x.bit])).toEqual([[2, 'P']]);
  });

  it('a case asserting soft-dirty AND uffd-wp with only soft-dirty masked is checked, the masked bits counted', () => {
    const c: Case = {
      format: 'ptefarm-case/1', uffd: { features: ['wp_async'] },
      ops: [{ op: 'mmap', region: 'a', pages: 2, kind: 'anon' }, { op: 'uffd_register', region: 'a' }, { op: 'write', region: 'a' },
        { op: 'clear_refs', value: 4 }, { op: 'wp', region: 'a', on: true }, { op: 'write', region: 'a', count: 1 }],
    };
    expect([...assertedKinds(c)].sort()).toEqual(['soft-dirty', 'uffd-wp']);
    const v = checkTrace(c, withoutSoftDirty(run(c)));
    expect(v.skipped).toBeUndefined();
    expect(v.ok).toBe(true);
    expect(v.bits['soft-dirty']).toEqual({ compared: 0, masked: 12 });
    expect(v.bits['uffd-wp']!.compared).toBe(12);
  });

  it('a case that asserts neither kind is never a SKIP for masking', () => {
    const c: Case = { format: 'ptefarm-case/1', ops: [{ op: 'mmap', region: 'a', pages: 1, kind: 'anon' }, { op: 'write', region: 'a' }] };
    expect(assertedKinds(c).size).toBe(0);
    const v = checkTrace(c, withoutSoftDirty(run(c)));
    expect(v.skipped).toBeUndefined();
    expect(v.bits['soft-dirty']).toEqual({ compared: 0, masked: 2 });
  });

  it('a faulted trace is never ok, even with nothing diverging', () => {
    const c = seed('s-sd-simple.json');
    const t = run(c);
    t.steps = t.steps.slice(0, 3);
    t.fault = 'executor killed by SIGKILL';
    const v = checkTrace(c, t);
    expect(v.ok).toBe(false);
    expect(v.fault).toBe('executor killed by SIGKILL');
    expect(v.skipped).toBeUndefined();
  });
});

describe('check: the most specific rule', () => {
  it('B-3 (mprotect RO->RW leaves the PTE writable): the write that should fault (do_wp_page, R-FLT-8) is where soft-dirty is lost', () => {
    const c = JSON.parse(readFileSync(fileURLToPath(new URL('../../corpus/mutants/B-3.json', import.meta.url)), 'utf8')) as Case;
    const v = checkTrace(c, run(c, 'model:x86+B-3'));
    expect(v.violations.length).toBeGreaterThan(0);
    const first = v.violations[0]!;
    expect(c.ops[first.step]!.op).toBe('write');
    expect(first.bit).toBe('D');
    expect(first.rule).toBe('R-FLT-8');
  });

  it('the rule the op at the step applied to the entry, else the op\'s own family rule (the op left the entry alone)', () => {
    // wp applied R-WP-1 to this entry: that is the rule, not the older fault rule
    expect(mostSpecificRule(['R-PM-2', 'R-FLT-6', 'R-WP-1'], ['R-PM-2', 'R-WP-1', 'R-WP-3'], 'wp')).toBe('R-WP-1');
    // mprotect did not touch the entry in the model: its first own rule in catalogue order
    expect(mostSpecificRule(['R-PM-2', 'R-FLT-6', 'R-WP-1'], ['R-MERGE-2', 'R-MPROT-3', 'R-MPROT-1'], 'mprotect')).toBe('R-MPROT-1');
    // read-out rules (R-PM-*) are never the specific rule while another one exists
    expect(mostSpecificRule(['R-PM-1', 'R-MMAP-1'], ['R-PM-1'], 'munmap')).toBe('R-MMAP-1');
    expect(mostSpecificRule(['R-PM-3'], [], undefined)).toBe('R-PM-3');
  });

  it('of several rules the op applied to the entry, the one whose text concerns the diverging bit', () => {
    // an mremap move of a uffd-wp VMA without EVENT_REMAP: move_ptes sets soft-dirty (R-MRM-1) and
    // clears uffd-wp (R-MRM-6, mremap_userfaultfd_prep): each bit has its own rule
    const chain = ['R-PM-1', 'R-FLT-6', 'R-MRM-1', 'R-MRM-6'];
    const step = ['R-MRM-1', 'R-MRM-5', 'R-MRM-6'];
    expect(mostSpecificRule(chain, step, 'mremap', 'D')).toBe('R-MRM-1');
    expect(mostSpecificRule(chain, step, 'mremap', 'W')).toBe('R-MRM-6');
    // other bits (and no bit): the last applied, as before
    expect(mostSpecificRule(chain, step, 'mremap', 'P')).toBe('R-MRM-6');
    expect(mostSpecificRule(chain, step, 'mremap')).toBe('R-MRM-6');
    // none of them concerns the bit: still the last applied
    expect(mostSpecificRule(['R-PM-1', 'R-MRM-8', 'R-MRM-9'], ['R-MRM-8', 'R-MRM-9'], 'mremap', 'D')).toBe('R-MRM-9');
    expect(ruleConcerns('R-MRM-1', 'D')).toBe(true);
    expect(ruleConcerns('R-MRM-1', 'W')).toBe(false);
    expect(ruleConcerns('R-MRM-6', 'W')).toBe(true);
  });

  it('a mremap losing soft-dirty in a uffd-wp VMA (M-8) names R-MRM-1, as it does outside one', () => {
    const plain: Case = { format: 'ptefarm-case/1', ops: [{ op: 'mmap', region: 'a', pages: 2, kind: 'anon' }, { op: 'write', region: 'a' }, { op: 'clear_refs', value: 4 }, { op: 'mremap', region: 'a' }] };
    const wp: Case = { format: 'ptefarm-case/1', uffd: {}, ops: [plain.ops[0]!, plain.ops[1]!, { op: 'uffd_register', region: 'a' }, plain.ops[2]!, plain.ops[3]!] };
    for (const c of [plain, wp]) {
      const v = checkTrace(c, run(c, 'model:x86+M-8'));
      const d = v.violations.filter((x) => x.bit === 'D' && x.step === c.ops.length - 1);
      expect(d.length).toBeGreaterThan(0);
      expect(new Set(d.map((x) => x.rule))).toEqual(new Set(['R-MRM-1']));
    }
  });

  it('an op that left the entry alone: its own family first (a populate\'s rc is R-POP\'s, not that of a fault rule it ran)', () => {
    expect(mostSpecificRule([], ['R-FLT-11', 'R-POP-1', 'R-POP-3', 'R-PM-1'], 'populate')).toBe('R-POP-1');
    expect(mostSpecificRule([], ['R-SWIN-1', 'R-FLT-1'], 'read')).toBe('R-FLT-1');
  });
});

describe('check: a trace that shows one array at several steps', () => {
  // the live target's decoder gives a region's page and content arrays again while its lines
  // repeat, as the model's observer does with its own: the check compares such a pair once and
  // counts it again, and must say what it says of the same trace with a copy at every step
  const c: Case = { format: 'ptefarm-case/1', ops: [
    { op: 'mmap', region: 'a', pages: 4, kind: 'anon' }, { op: 'mmap', region: 'b', pages: 2, kind: 'shared-anon' },
    { op: 'write', region: 'a', first: 0, count: 2 }, { op: 'read', region: 'b' }, { op: 'clear_refs', value: 4 },
    { op: 'write', region: 'a', first: 3, count: 1 }, { op: 'mprotect', region: 'b', prot: 'r' }, { op: 'write', region: 'a', first: 0, count: 1 },
  ] };
  const copied = (t: Trace): Trace => JSON.parse(JSON.stringify(t)) as Trace;
  const same = (a: unknown, b: unknown) => expect(JSON.stringify(a)).toBe(JSON.stringify(b));

  it('shared arrays: the verdict, counts and key order of the same trace with copies', () => {
    const t = run(c);
    // the model target's trace keeps a region's array while it does not change
    expect(t.steps[5]!.pages!['0']!.b).toBe(t.steps[4]!.pages!['0']!.b);
    const v = checkTrace(c, t);
    expect(v.ok).toBe(true);
    same(v, checkTrace(c, copied(t)));
  });

  it('a page that differs inside a run of alike pages is found, and every page of the run counted', () => {
    const r: Case = { format: 'ptefarm-case/1', ops: [{ op: 'mmap', region: 'a', pages: 8, kind: 'anon' }, { op: 'write', region: 'a' }] };
    const t = run(r);
    const flipped = structuredClone(t);
    const strs = flipped.steps[1]!.pages!['0']!.a!;
    expect(new Set(strs).size).toBe(1); // eight alike pages
    strs[5] = strs[5]!.slice(0, 5) + '.'; // soft-dirty lost on page 5 only
    const v = checkTrace(r, flipped);
    expect(v.violations.map((x) => [x.step, x.page, x.bit, x.severity])).toEqual([[1, 5, 'D', 'lost']]);
    same(v.bits, checkTrace(r, t).bits);
    expect(v.bits['soft-dirty']).toEqual({ compared: 16, masked: 0 });
  });

  it('an array shown again where the prediction changed: every divergence found, as with copies', () => {
    const t = run(c);
    // after the mmaps, the trace shows step 2's arrays at every step (a target that stopped looking)
    const stale = structuredClone(t);
    for (const s of stale.steps.slice(3)) { s.pages = stale.steps[2]!.pages; s.content = stale.steps[2]!.content; }
    const v = checkTrace(c, stale);
    expect(v.violations.length).toBeGreaterThan(0);
    expect(new Set(v.violations.map((x) => x.step)).size).toBeGreaterThan(1);
    same(v, checkTrace(c, copied(stale)));
  });
});
