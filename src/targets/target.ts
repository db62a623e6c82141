// Every target (model, live, qemu, exec:) implements this one interface.
import type { Case } from '../ops/schema.ts';
import type { TargetInfo, Trace } from '../ops/trace.ts';

export interface Target {
  /** what this target is and what it can show; bits it cannot show are '?' in its traces */
  info(): Promise<TargetInfo>;
  /** execute a validated case; never throws for a case the kernel rejects (that is an rc), only
   *  for infrastructure failures, which become executor-fault results */
  execute(c: Case): Promise<Trace>;
  close(): Promise<void>;
  /** targets that run on a real kernel: throw HostRefusedError (src/targets/host-policy.ts) when
   *  the kernel or host has a setting the model does not cover, else return warnings to show */
  hostCheck?(): Promise<string[]>;
}
