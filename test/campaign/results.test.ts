// The result handler: a verdict made where the case ran is taken as it is (the coordinator predicts
// nothing); a result without one is checked here; a checker that workers cannot reproduce (no
// `request`) never takes a worker's verdict; faults are faults.
import { describe, expect, it } from 'vitest';
import { ResultHandler } from '../../src/campaign/results.ts';
import type { Checker } from '../../src/campaign/checker.ts';
import type { CampaignEvent } from '../../src/campaign/campaign.ts';
import type { Case } from '../../src/ops/schema.ts';
import type { CaseVerdict } from '../../src/transport/transport.ts';
import { fakeChecker, fakeTrace, syntheticViolations } from './fakes.ts';

const c: Case = { format: 'ptefarm-case/1', ops: [{ op: 'mmap', region: 'a', pages: 1, kind: 'anon' }, { op: 'clear_refs' }, { op: 'write', region: 'a' }] };
const verdict = (over: Partial<CaseVerdict> = {}): CaseVerdict => ({ ok: true, violations: [], step_rules: [['R-A'], ['R-B'], ['R-C']], ...over });

function handler(checker: Checker) {
  let checks = 0;
  const counted: Checker = { ...checker, check: (x, t) => { checks++; return checker.check(x, t); } };
  const events: CampaignEvent[] = [];
  const h = new ResultHandler(counted, (e) => events.push(e), () => 0);
  return { h, events, checks: () => checks };
}

describe('ResultHandler', () => {
  it('asks workers for the check when its checker can be made there, and takes their verdict', () => {
    const { h, checks } = handler({ ...fakeChecker(true), request: { profile: '6.12' } });
    expect(h.jobOf('j', 'model:x86', c)).toEqual({ id: 'j', target: 'model:x86', case: c, check: { profile: '6.12' } });
    expect(h.handle(0, c, { id: 'j', verdict: verdict() })).toEqual({ rules: [['R-A'], ['R-B'], ['R-C']] });
    const vs = syntheticViolations(c);
    const out = h.handle(1, c, { id: 'k', verdict: verdict({ ok: false, violations: vs }), trace: fakeTrace(c) });
    expect(out.opened).toBe('D:lost:R-CR-2:write');
    expect(checks()).toBe(0);
    expect(h.stats).toMatchObject({ completed: 2, violations: 1, faults: 0, buckets: 1 });
    expect([...h.rulesHit].sort()).toEqual(['R-A', 'R-B', 'R-C']);
  });

  it('checks here a result without a verdict, and never trusts a verdict it did not ask for', () => {
    const { h, checks } = handler(fakeChecker(true));
    expect(h.jobOf('j', 'fake', c).check).toBeUndefined();
    // a verdict claiming "ok" is ignored: this checker's bug is only visible to the check made here
    const out = h.handle(0, c, { id: 'j', trace: fakeTrace(c), verdict: verdict() });
    expect(checks()).toBe(1);
    expect(out.opened).toBe('D:lost:R-CR-2:write');
  });

  it('a fault, a faulted trace, a check fault and a missing trace are faults with the reason, never verdicts', () => {
    const { h, events } = handler({ ...fakeChecker(), request: {} });
    const tf = { ...fakeTrace(c), fault: 'executor died' };
    for (const res of [{ id: '1', fault: 'worker: gone' }, { id: '2', trace: tf }, { id: '3', verdict: verdict({ ok: false, fault: 'target returned an invalid trace: x' }), trace: fakeTrace(c) }, { id: '4' }]) {
      expect(h.handle(Number(res.id), c, res)).toEqual({ rules: null });
    }
    expect(events.filter((e) => e.type === 'fault').map((e) => (e as { fault: string }).fault)).toEqual(['worker: gone', 'executor died', 'target returned an invalid trace: x', 'no trace']);
    expect(h.stats).toMatchObject({ completed: 4, faults: 4, violations: 0 });
  });
});
