// A Transport that executes cases in the calling thread (no pool): for tests, for `--threads 0`,
// and for the in-process acceptance run over every mutant. Same contract as the embedded pool:
// faults become `fault`, never a rejection, and a job that asks for the check gets its verdict.
import type { Trace } from '../ops/trace.ts';
import { transportAbortMs, type Target } from '../targets/target.ts';
import type { CaseJob, CaseResult, Transport } from '../transport/transport.ts';
import { withVerdict } from '../transport/verdict.ts';

export type TargetOpener = (spec: string) => Promise<Target>;

export async function defaultOpener(spec: string): Promise<Target> {
  const { openTarget } = await import('../targets/registry.ts');
  return openTarget(spec);
}

export class InProcessTransport implements Transport {
  readonly concurrency = 1;
  private readonly targets = new Map<string, Promise<Target>>();

  constructor(private readonly open: TargetOpener = defaultOpener) {}

  private target(spec: string): Promise<Target> {
    let t = this.targets.get(spec);
    if (!t) { t = this.open(spec); this.targets.set(spec, t); }
    return t;
  }

  async run(job: CaseJob, opts: { timeoutMs?: number } = {}): Promise<CaseResult> {
    // one turn of the event loop per case: otherwise a campaign of synchronous model cases chains
    // promise callbacks only and starves I/O (signals, the --ui dashboard's requests)
    await new Promise<void>((r) => setImmediate(r));
    const t0 = performance.now();
    try {
      const target = await this.target(job.target);
      // the target enforces the limit (and kills what hangs); the timeout here is the last resort
      const exec = target.execute(job.case, { timeoutMs: opts.timeoutMs });
      const trace: Trace = opts.timeoutMs ? await withTimeout(exec, transportAbortMs(opts.timeoutMs)) : await exec;
      return withVerdict(job, { id: job.id, trace, worker: 'inprocess', ms: performance.now() - t0 });
    } catch (e) {
      return { id: job.id, fault: faultText(e), worker: 'inprocess', ms: performance.now() - t0 };
    }
  }

  async close(): Promise<void> {
    const ts = [...this.targets.values()];
    this.targets.clear();
    for (const t of ts) { try { await (await t).close(); } catch { /* already failed */ } }
  }
}

export function faultText(e: unknown): string {
  if (e instanceof Error) return `${e.name}: ${e.message}`;
  return String(e);
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`case timed out after ${ms} ms`)), ms);
    p.then((v) => { clearTimeout(t); resolve(v); }, (e) => { clearTimeout(t); reject(e); });
  });
}
