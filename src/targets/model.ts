// Model targets: the reference itself (`model:x86`, optionally `@<profile>`) and its mutants
// (`model:x86+<mutant>`), executing a case with neutral outcomes and emitting a trace.
// `model:x86-16k[...]` is the same model counting 16 KiB pages (32 MiB PMDs, docs/page-size.md):
// its trace announces that geometry (target.host page_size/pmd_size), as a 16 KiB kernel's does, so
// the farm, the generators and the findings can be exercised in that geometry without a guest.
import type { Case } from '../ops/schema.ts';
import type { Outcome, Step, TargetInfo, Trace } from '../ops/trace.ts';
import { predict } from '../model/model.ts';
import type { ModelOptions, Prediction } from '../model/api.ts';
import { getMutant } from '../model/mutants.ts';
import { DEFAULT_PROFILE, getProfile } from '../model/profile.ts';
import type { Target } from './target.ts';
import { GEOMETRY_4K, geometryOf, type PageGeometry } from '../ops/layout.ts';

export interface ModelSpec { profile: string; mutant?: string; geometry: PageGeometry }

/** Parse "model:x86", "model:x86@6.12", "model:x86+B-3" (or both, "model:x86@6.12+B-3"), each
 *  also as "model:x86-16k..." (16 KiB pages). */
export function parseModelSpec(spec: string): ModelSpec {
  const m = /^model:x86(-16k)?(?:@([\d.]+))?(?:\+([A-Z]-\d+))?$/.exec(spec);
  if (!m) throw new Error(`bad model target "${spec}": expected model:x86[-16k][@PROFILE][+MUTANT], e.g. model:x86+B-3`);
  const profile = m[2] ?? DEFAULT_PROFILE;
  getProfile(profile);
  if (m[3]) getMutant(m[3]);
  return { profile, mutant: m[3], geometry: m[1] ? geometryOf(16384) : GEOMETRY_4K };
}

/** how many of the last traces a model target made in this thread keep their prediction: a pool
 *  thread holds up to TASKS_PER_THREAD (8) jobs whose continuations interleave between a target's
 *  execute and the check of its trace, so more than one; a few: a WeakMap of every trace kept each
 *  prediction alive as long as its trace and cost the model itself 1.56x its time per case in V8's
 *  collector (the bench's model section, which checks nothing, A/B interleaved in one process on
 *  2026-12-07: 0.351 against 0.224 ms per 30-op case) */
const KEEP = 16;
/** the last KEEP traces a model target made in this thread, with the predictions they were made
 *  from (a ring: `next` is the slot the next one takes) */
const recent: Array<{ trace: Trace; own: { prediction: Prediction; options: ModelOptions } } | undefined> = new Array(KEEP);
let next = 0;

/** The prediction (and its options) a model target of this thread made `trace` from, if `trace` is
 *  one of the last KEEP it made; undefined for any other trace (an older one: the check predicts
 *  again; another target's, one that came over the wire): the check where the case
 *  ran (src/transport/verdict.ts) uses it instead of running the model a second time when its own
 *  options are the same (src/check/check.ts CheckOptions.own). Read-only: the trace and the
 *  prediction share their arrays. */
export function ownPrediction(trace: Trace): { prediction: Prediction; options: ModelOptions } | undefined {
  for (const r of recent) if (r?.trace === trace) return r.own;
  return undefined;
}

export class ModelTarget implements Target {
  readonly spec: ModelSpec;
  constructor(readonly name: string) { this.spec = parseModelSpec(name); }

  async info(): Promise<TargetInfo> {
    return this.infoSync();
  }

  infoSync(): TargetInfo {
    const g = this.spec.geometry;
    return {
      name: this.name, arch: 'x86_64', kernel: `model-${this.spec.profile}`,
      // hugetlb: the model's hugetlb pages are 2 MiB on 4 KiB pages (src/model/hugetlb.ts); anon_mthp:
      // the model maps the large folios a kernel's `folio` outcome names, none of its own
      capabilities: { soft_dirty: true, uffd_wp: true, wp_async: true, pagemap_scan: true, swap: true, thp: true, event_fork: true, hugetlb: g === GEOMETRY_4K, anon_mthp: true },
      // as a kernel's trace: present only when not 4 KiB pages (docs/page-size.md)
      ...(g === GEOMETRY_4K ? {} : { host: { page_size: g.pageSize, pmd_size: g.pageSize * g.pmdPages } }),
    };
  }

  async execute(c: Case): Promise<Trace> {
    return this.executeSync(c);
  }

  /** Synchronous execution, for in-thread use by the campaign. */
  executeSync(c: Case): Trace {
    const options: ModelOptions = { profile: this.spec.profile, mutant: this.spec.mutant, geometry: this.spec.geometry };
    const pred = predict(c, undefined, options);
    const trace = this.traceOf(c, pred);
    // a mutant's trace is checked against the reference (another prediction): not kept for it,
    // nor held in memory with a finding's trace (a mutant campaign keeps one per bucket)
    if (this.spec.mutant === undefined) { recent[next] = { trace, own: { prediction: pred, options } }; next = (next + 1) % KEEP; }
    return trace;
  }

  private traceOf(c: Case, pred: Prediction): Trace {
    const steps: Step[] = [];
    for (const [i, s] of pred.steps.entries()) {
      // With neutral outcomes the model leaves an rc open only where the simulated kernel would not
      // return at all (MADV_GUARD_INSTALL restarting forever on a uffd-wp marker its zap keeps,
      // R-GRD-1, mm/madvise.c madvise_guard_install): a hang, reported as the live target reports
      // a hung executor — a fault after the steps that completed, never a verdict.
      if (s.rc === '*') {
        return { format: 'ptefarm-trace/1', target: this.infoSync(), steps, fault: `model: the simulated kernel would not return from step ${i} (${c.ops[i]?.op ?? '?'}): no return code to report (e.g. MADV_GUARD_INSTALL retrying on a kept uffd-wp marker, R-GRD-1)` };
      }
      const step: Step = { op: s.op, rc: s.rc, outcome: s.outcome as Outcome, events: s.events, pages: s.pages };
      if (s.scan) step.scan = s.scan;
      if (s.content) step.content = s.content;
      if (s.skipped) step.skipped = s.skipped;
      steps.push(step);
    }
    return { format: 'ptefarm-trace/1', target: this.infoSync(), steps };
  }

  async close(): Promise<void> {}
}
