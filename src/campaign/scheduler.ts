// The campaign's deterministic scheduler: which case comes next. The sequence is a pure function of
// the seed, the generator options, the lag and the results (coverage feedback in index order):
// case i is generated after exactly the feedback of cases 0 .. i-1-lag has been applied, in index
// order, so the generator never sees results in an order chosen by thread timing. A slow case
// holds generation back only after `lag` more cases were generated, and never past its timeout.
// Used by runCampaign (src/campaign/campaign.ts); a resumed farm campaign regenerates the same
// cases with it (src/campaign/nats-campaign.ts).
import type { Case } from '../ops/schema.ts';
import { GuidedGenerator, type GenerateOptions } from './generate.ts';

export class Scheduler {
  private readonly gen: GuidedGenerator;
  /** feedback buffered per case index (null: the case gave none, e.g. a fault) */
  private readonly feedback = new Map<number, { c: Case; rules: string[][] } | null>();
  private applied = 0;
  /** index of the next case to generate = cases generated so far */
  private nextIndex = 0;

  constructor(seed: number, generate: GenerateOptions | undefined, readonly lag: number) {
    this.gen = new GuidedGenerator(seed, generate);
  }

  /** cases generated so far */
  get generated(): number { return this.nextIndex; }

  /** The next case and its index, or undefined while the feedback it must follow is missing. */
  take(): { index: number; case: Case } | undefined {
    const i = this.nextIndex;
    while (this.applied < i - this.lag) {
      if (!this.feedback.has(this.applied)) return undefined;
      const f = this.feedback.get(this.applied)!;
      this.feedback.delete(this.applied);
      if (f) this.gen.feedback(f.c, f.rules);
      this.applied++;
    }
    this.nextIndex++;
    return { index: i, case: this.gen.next() };
  }

  /** What case `index` taught: the rules its steps exercised, or null (no feedback). */
  done(index: number, c: Case, rules: string[][] | null): void {
    this.feedback.set(index, rules ? { c, rules } : null);
  }
}
