// The dashboard's state fed by hand with the events a campaign and a NATS farm report: hits counted
// per violating case (the bucket's opening case included), the step table of B-3's exposing case
// (run on model:x86+B-3) marks the soft-dirty bit of its last write, a minimized case replaces the
// table, dead letters and workers reach /api/state and /metrics, and nothing is shown as running
// once the campaign stopped.
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Case } from '../../src/ops/schema.ts';
import { ModelTarget } from '../../src/targets/model.ts';
import type { Stats } from '../../src/campaign/campaign.ts';
import { DashboardState } from '../../src/ui/state.ts';
import { toPrometheus } from '../../src/ui/metrics.ts';

const B3 = JSON.parse(readFileSync(fileURLToPath(new URL('../../corpus/mutants/B-3.json', import.meta.url)), 'utf8')) as Case;
const stats = (x: Partial<Stats>): Stats => ({ cases: 0, completed: 0, violations: 0, faults: 0, skipped: 0, elapsedMs: 0, rulesHit: 0, rulesTotal: 100, buckets: 0, inflight: 0, ...x });

describe('DashboardState', () => {
  it('counts hits, renders step tables from the reported traces, lists dead letters and workers', async () => {
    const trace = await new ModelTarget('model:x86+B-3').execute(B3);
    const s = new DashboardState('coordinator', { target: 'model:x86+B-3', seed: 3 });
    let beat = Date.now() - 1500;
    s.setWorkers(() => ({ kind: 'nats', workers: [{ id: 'w1', kind: 'nats', host: 'h1', target: 'model:x86+B-3', threads: 2, busy: 1, done: 40, heartbeat_age_s: (Date.now() - beat) / 1000, facts: { arch: 'x86_64' } }] }));
    s.onEvent({ type: 'start', target: 'model:x86+B-3', seed: 3, concurrency: 2 });
    s.onEvent({ type: 'progress', stats: stats({ cases: 10, completed: 8, elapsedMs: 1000, rulesHit: 20 }) });
    s.onEvent({ type: 'violation', index: 5, signature: 'sig-a', title: 'sig-a' });
    s.onEvent({ type: 'bucket', signature: 'sig-a', index: 5, ms: 900, example: 'step 5 (write a): soft-dirty is 0', case: B3, trace });
    s.onEvent({ type: 'violation', index: 7, signature: 'sig-a', title: 'sig-a' }); // sig-b: no bucket event yet
    s.onFarmEvent({ type: 'dead-letter', id: '3-c9', deliveries: 5, target: 'model:x86+B-3' });
    s.onEvent({ type: 'fault', index: 9, fault: 'executor-fault: boom' });

    let snap = s.snapshot();
    expect(snap.status).toBe('running');
    expect(snap.buckets).toHaveLength(1);
    const b = snap.buckets[0]!;
    expect(b).toMatchObject({ n: 1, signature: 'sig-a', title: 'sig-a', hits: 2, first_case: 5, ops: 6, minimized: false, example: 'step 5 (write a): soft-dirty is 0' });
    // the last op (5, the write after mprotect r -> rw) is where B-3 leaves soft-dirty clear
    const last = b.rows.find((r) => r.step === 5)!;
    expect(last.mismatches).toBeGreaterThan(0);
    expect(b.rows.filter((r) => r.step < 5).every((r) => r.mismatches === 0)).toBe(true);
    expect(snap.dead_letters.map((d) => [d.id, d.deliveries])).toEqual([['3-c9', 5]]);
    expect(snap.faults.map((f) => f.fault)).toEqual(['executor-fault: boom']);
    expect(snap.worker_kind).toBe('nats');
    expect(snap.workers[0]!.heartbeat_age_s!).toBeGreaterThanOrEqual(1.4);

    // the worker beats again with more cases done: its rate is positive
    await new Promise((r) => setTimeout(r, 1100));
    beat = Date.now();
    s.setWorkers(() => ({ kind: 'nats', workers: [{ id: 'w1', kind: 'nats', host: 'h1', target: 'model:x86+B-3', threads: 2, busy: 1, done: 62, heartbeat_age_s: (Date.now() - beat) / 1000, facts: { arch: 'x86_64' } }] }));
    snap = s.snapshot();
    expect(snap.workers[0]!.cases_per_s).toBeGreaterThan(0);

    // a minimized case (B-3's exposing case is already 1-minimal) replaces the table: a new version
    s.onEvent({ type: 'minimized', signature: 'sig-a', ops: 6, runs: 12, oneMinimal: true, ms: 2000, case: B3, trace });
    snap = s.snapshot();
    expect(snap.buckets[0]!.minimized).toBe(true);
    expect(snap.buckets[0]!.version).toBe(2);

    const m = toPrometheus(snap);
    expect(m).toContain('ptefarm_dead_lettered_total 1\n');
    expect(m).toContain('ptefarm_bucket_hits_total{signature="sig-a"} 2\n');
    expect(m).toMatch(/^ptefarm_worker_heartbeat_age_seconds\{worker="w1",host="h1",target="model:x86\+B-3",kind="nats"\} [0-9.]+$/m);
    expect(m).toContain('ptefarm_campaign_running 1\n');

    s.onEvent({ type: 'stopped', reason: 'interrupted' });
    snap = s.snapshot();
    expect(snap.status).toBe('stopped');
    expect(snap.totals.cases_per_s).toBe(0);
    expect(toPrometheus(snap)).toContain('ptefarm_campaign_running 0\n');
  });

  it('escapes label values as the text format requires', () => {
    const s = new DashboardState('fuzz', { target: 'exec:sh -c "x\\y"\nz' });
    expect(toPrometheus(s.snapshot())).toContain('target="exec:sh -c \\"x\\\\y\\"\\nz"');
  });
});
