// Test doubles: a transport with scripted delays and a synthetic checker whose "rules" are derived
// from the ops, so the guided generator gets real (if synthetic) feedback.
import type { Case } from '../../src/ops/schema.ts';
import type { Trace } from '../../src/ops/trace.ts';
import type { Violation } from '../../src/check/types.ts';
import type { CaseJob, CaseResult, Transport } from '../../src/transport/transport.ts';
import type { Checker } from '../../src/campaign/checker.ts';
import { Rng } from '../../src/campaign/rng.ts';

export function fakeTrace(c: Case): Trace {
  return {
    format: 'ptefarm-trace/1',
    target: { name: 'fake', arch: 'x86_64', kernel: '0', capabilities: { soft_dirty: true, uffd_wp: true, wp_async: true, pagemap_scan: true, swap: true, thp: true } },
    steps: c.ops.map((_, i) => ({ op: i, rc: 0 as const })),
  };
}

export class FakeTransport implements Transport {
  private readonly rng: Rng;
  runs = 0;
  constructor(readonly concurrency: number, jitterSeed?: number, private readonly hold?: (job: CaseJob, done: number) => Promise<void> | undefined) {
    this.rng = new Rng(jitterSeed ?? 0);
  }
  done = 0;
  async run(job: CaseJob): Promise<CaseResult> {
    this.runs++;
    const h = this.hold?.(job, this.done);
    if (h) await h;
    else if (this.concurrency > 1) await new Promise((r) => setTimeout(r, this.rng.int(3)));
    this.done++;
    return { id: job.id, trace: fakeTrace(job.case) };
  }
  async close() {}
}

/** synthetic bug: a write after clear_refs 4 in process 0 "loses" soft-dirty */
export function syntheticViolations(c: Case): Violation[] {
  let cleared = false;
  const out: Violation[] = [];
  c.ops.forEach((op, i) => {
    if ((op.proc ?? 0) !== 0) return;
    if (op.op === 'clear_refs' && (op.value ?? 4) === 4) cleared = true;
    if (op.op === 'write' && cleared) {
      out.push({ kind: 'bit', step: i, op: 'write', bit: 'D', expected: '1', actual: '0', rules: ['R-CR-2'], severity: 'lost', message: 'synthetic' });
    }
  });
  return out;
}

export function fakeChecker(bug = false): Checker {
  return {
    rulesTotal: 40,
    signature: (v) => `${v.bit}:${v.severity}:${v.rules[0]}:${v.op}`,
    check(c) {
      return {
        violations: bug ? syntheticViolations(c) : [],
        stepRules: c.ops.map((o) => [`R-${o.op}`, `R-${o.op}-${'count' in o ? o.count ?? 'all' : '-'}`]),
      };
    },
  };
}
