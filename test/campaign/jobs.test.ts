// The campaign's jobs (minimize, reliability re-runs) submit their cases through the campaign's
// transport with the same check request as generated cases: on a farm they run, and are checked,
// on the workers; the coordinator predicts nothing for them either.
import { describe, expect, it } from 'vitest';
import { runCampaign } from '../../src/campaign/campaign.ts';
import { referenceChecker, type Checker } from '../../src/campaign/checker.ts';
import { InProcessTransport } from '../../src/campaign/inprocess.ts';
import type { CaseJob, CaseResult, Transport } from '../../src/transport/transport.ts';

class Recording implements Transport {
  readonly concurrency = 2;
  readonly jobs: CaseJob[] = [];
  private readonly inner = new InProcessTransport();
  run(job: CaseJob, o?: { timeoutMs?: number }): Promise<CaseResult> { this.jobs.push(job); return this.inner.run(job, o); }
  close() { return this.inner.close(); }
}

describe('campaign jobs', () => {
  it('a mutant bucket is minimized and re-run through the transport, every case checked where it ran', async () => {
    const base = await referenceChecker();
    let checks = 0;
    const checker: Checker = { ...base, check: (c, t) => { checks++; return base.check(c, t); } };
    const t = new Recording();
    try {
      const s = await runCampaign({ target: 'model:x86+B-3', transport: t, checker, seed: 1, cases: 2000, stopAfterBuckets: 1, reliabilityRuns: 2 });
      expect(s.buckets).toHaveLength(1);
      expect(s.buckets[0]!.minimized).toBe(true);
      expect(s.buckets[0]!.reliability).toBe('2/2');
      const jobIds = t.jobs.map((j) => j.id);
      const minimizeJobs = jobIds.filter((id) => /^1-\d+$/.test(id));
      expect(minimizeJobs.length).toBeGreaterThan(2);
      expect(t.jobs.every((j) => j.check !== undefined)).toBe(true);
      expect(checks).toBe(0);
    } finally { await t.close(); }
  }, 120_000);
});
