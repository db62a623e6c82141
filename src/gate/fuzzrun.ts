// A run directory for `ptefarm fuzz --out DIR`: the campaign summary as a GateRun (no corpus
// replay, no baseline), every bucket's case and one trace of it re-run on the target, and the
// same four reports as the gate.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Summary } from '../campaign/campaign.ts';
import { referenceChecker } from '../campaign/checker.ts';
import { signatureSlug } from '../campaign/corpus.ts';
import { openTarget } from '../targets/registry.ts';
import type { TargetInfo, Trace } from '../ops/trace.ts';
import { GATE_FORMAT, type GateBucket, type GateRun, type TimelinePoint } from '../report/run.ts';
import { saveRun, writeReports } from '../report/rundir.ts';
import { rootInfo } from '../findings/title.ts';
import { SIGNATURE_VERSION } from '../findings/signature.ts';

export async function saveFuzzRun(dir: string, summary: Summary, o: { target: string; profile?: string; timeline?: TimelinePoint[]; started?: Date }): Promise<GateRun> {
  await mkdir(join(dir, 'cases'), { recursive: true });
  await mkdir(join(dir, 'traces'), { recursive: true });
  const checker = await referenceChecker({ profile: o.profile });
  const errors: string[] = [];
  let info: TargetInfo | undefined;
  const buckets: GateBucket[] = [];
  const t = await openTarget(o.target).catch((e: Error) => { errors.push(`target ${o.target} cannot start: ${e.message}`); return undefined; });
  try {
    info = await t?.info();
    for (const b of summary.buckets) {
      const slug = signatureSlug(b.signature);
      const caseFile = join('cases', `${slug}.json`);
      await writeFile(join(dir, caseFile), JSON.stringify(b.case, null, 2) + '\n');
      let trace: Trace | undefined;
      try { trace = await t?.execute(b.case); } catch (e) { errors.push(`re-running ${b.signature}: ${(e as Error).message}`); }
      // re-checked: the example and step quoted are those of the case stored next to them
      const info = trace && !trace.fault && !trace.skipped ? rootInfo(checker.check(b.case, trace).violations, b.case) : undefined;
      const again = !!info && checker.signature(info.root) === b.signature;
      let traceFile: string | undefined;
      if (trace) { traceFile = join('traces', `${slug}.trace.json`); await writeFile(join(dir, traceFile), JSON.stringify(trace) + '\n'); }
      const [ok, runs] = b.reliability ? b.reliability.split('/').map(Number) : [again ? 1 : 0, 1];
      buckets.push({
        signature: b.signature, title: again ? info!.title : b.title, source: 'campaign', status: ok === runs ? 'new' : 'flaky', hits: b.hits, ops: b.ops, minimized: b.minimized,
        reproduced: ok, runs, example: again ? info!.line : b.example, step: again ? info!.root.step : b.step,
        consequences: again ? info!.consequences : b.consequences, case_file: caseFile, ...(traceFile ? { trace_file: traceFile } : {}),
      });
    }
  } finally { await t?.close(); }
  const fresh = buckets.filter((b) => b.status === 'new');
  const exit: 0 | 1 | 2 = errors.length ? 2 : buckets.length ? 1 : 0;
  const { buckets: bs, ...rest } = summary;
  const run: GateRun = {
    format: GATE_FORMAT, target: o.target, ...(info ? { target_info: info } : {}), ...(o.profile ? { profile: o.profile } : {}),
    seed: summary.seed, started: (o.started ?? new Date(Date.now() - summary.elapsed_s * 1000)).toISOString(), elapsed_s: summary.elapsed_s,
    budget: {}, reproduce_runs: 1, corpus_dirs: [], signature_version: SIGNATURE_VERSION, verdict: exit === 0 ? 'pass' : exit === 1 ? 'fail' : 'error', exit_code: exit,
    reasons: [
      ...fresh.map((b) => `violation: ${b.title} [${b.signature}] (reproduced ${b.reproduced}/${b.runs}): ${b.example}`),
      ...buckets.filter((b) => b.status === 'flaky').map((b) => `flaky ${b.signature} (reproduced ${b.reproduced}/${b.runs})`),
      ...errors.map((e) => `infrastructure error: ${e}`),
      ...(exit === 0 ? ['no violation found'] : []),
    ],
    errors, corpus: [], campaign: { ...rest, buckets: bs.length },
    timeline: o.timeline ?? [{ t: 0, cases: 0 }, { t: summary.elapsed_s, cases: summary.cases }], faults: [], buckets,
  };
  await saveRun(dir, run);
  await writeReports(dir);
  return run;
}
