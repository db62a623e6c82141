// The deterministic scheduler: case i follows exactly the feedback of cases 0 .. i-1-lag, applied
// in index order, whatever order the results arrive in.
import { describe, expect, it } from 'vitest';
import { Scheduler } from '../../src/campaign/scheduler.ts';
import { canonicalJson } from '../../src/ops/canon.ts';
import { Rng } from '../../src/campaign/rng.ts';
import type { Case } from '../../src/ops/schema.ts';

const rulesOf = (c: Case) => c.ops.map((o) => [`R-${o.op}`]);

/** n cases, finishing in an order shuffled by `jitter` (0: in order) */
function sequence(n: number, lag: number, jitter: number): string[] {
  const s = new Scheduler(3, undefined, lag);
  const rng = new Rng(jitter);
  const out: string[] = [];
  const pending: { index: number; case: Case }[] = [];
  while (out.length < n) {
    const next = out.length < n ? s.take() : undefined;
    if (next) { out.push(canonicalJson(next.case)); pending.push(next); continue; }
    // blocked: finish some pending case (the oldest when jitter is 0)
    expect(pending.length).toBeGreaterThan(0);
    const k = jitter ? rng.int(pending.length) : 0;
    const [done] = pending.splice(k, 1);
    s.done(done!.index, done!.case, rulesOf(done!.case));
  }
  return out;
}

describe('Scheduler', () => {
  it('blocks case i until the feedback of case i-1-lag is in, then applies it', () => {
    const s = new Scheduler(1, undefined, 2);
    const got = [s.take(), s.take(), s.take()];
    expect(got.map((g) => g?.index)).toEqual([0, 1, 2]);
    expect(s.take()).toBeUndefined(); // case 3 needs case 0's feedback
    s.done(1, got[1]!.case, null);
    expect(s.take()).toBeUndefined(); // still case 0's
    s.done(0, got[0]!.case, rulesOf(got[0]!.case));
    expect(s.take()?.index).toBe(3);
    expect(s.take()?.index).toBe(4); // case 1 gave no feedback (null) but is done
    expect(s.take()).toBeUndefined();
    expect(s.generated).toBe(5);
  });

  it('the same seed gives the same cases whatever order results arrive in', () => {
    const a = sequence(200, 8, 0);
    expect(sequence(200, 8, 7)).toEqual(a);
    expect(sequence(200, 8, 99)).toEqual(a);
    expect(new Set(a).size).toBeGreaterThan(150);
  });
});
