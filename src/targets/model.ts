// Model targets: the reference itself (`model:x86`, optionally `@<profile>`) and its mutants
// (`model:x86+<mutant>`), executing a case with neutral outcomes and emitting a trace.
import type { Case } from '../ops/schema.ts';
import type { Outcome, Step, TargetInfo, Trace } from '../ops/trace.ts';
import { predict } from '../model/model.ts';
import { getMutant } from '../model/mutants.ts';
import { DEFAULT_PROFILE, getProfile } from '../model/profile.ts';
import type { Target } from './target.ts';

export interface ModelSpec { profile: string; mutant?: string }

/** Parse "model:x86", "model:x86@6.12", "model:x86+B-3" (or both, "model:x86@6.12+B-3"). */
export function parseModelSpec(spec: string): ModelSpec {
  const m = /^model:x86(?:@([\d.]+))?(?:\+([A-Z]-\d+))?$/.exec(spec);
  if (!m) throw new Error(`bad model target "${spec}": expected model:x86[@PROFILE][+MUTANT], e.g. model:x86+B-3`);
  const profile = m[1] ?? DEFAULT_PROFILE;
  getProfile(profile);
  if (m[2]) getMutant(m[2]);
  return { profile, mutant: m[2] };
}

export class ModelTarget implements Target {
  readonly spec: ModelSpec;
  constructor(readonly name: string) { this.spec = parseModelSpec(name); }

  async info(): Promise<TargetInfo> {
    return this.infoSync();
  }

  infoSync(): TargetInfo {
    return {
      name: this.name, arch: 'x86_64', kernel: `model-${this.spec.profile}`,
      capabilities: { soft_dirty: true, uffd_wp: true, wp_async: true, pagemap_scan: true, swap: true, thp: true, event_fork: true },
    };
  }

  async execute(c: Case): Promise<Trace> {
    return this.executeSync(c);
  }

  /** Synchronous execution, for in-thread use by the campaign. */
  executeSync(c: Case): Trace {
    const pred = predict(c, undefined, { profile: this.spec.profile, mutant: this.spec.mutant });
    const steps: Step[] = pred.steps.map((s) => {
      if (s.rc === '*') throw new Error('model produced an unconstrained rc with neutral outcomes');
      const step: Step = { op: s.op, rc: s.rc, outcome: s.outcome as Outcome, events: s.events, pages: s.pages };
      if (s.scan) step.scan = s.scan;
      if (s.content) step.content = s.content;
      if (s.skipped) step.skipped = s.skipped;
      return step;
    });
    return { format: 'ptefarm-trace/1', target: this.infoSync(), steps };
  }

  async close(): Promise<void> {}
}
