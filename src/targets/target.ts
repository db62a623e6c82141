// Every target (model, live, qemu, exec:) implements this one interface.
import type { Case } from '../ops/schema.ts';
import type { TargetInfo, Trace } from '../ops/trace.ts';

export interface ExecuteOptions {
  /** the case's wall-clock limit, which the target enforces itself where it can (live) */
  timeoutMs?: number;
  /** called by a target that runs its cases one after another (reportsCaseStart) when this case's
   *  turn begins: a caller's limit for it counts from then (src/transport/pool-thread.ts CaseClock) */
  onStart?: () => void;
}

/** A target that enforces a case's limit itself declares itself hung (and kills what runs the
 *  case) this long after the limit: its own watchdog, for an executor that stopped answering.
 *  Half the limit, at least 1 s (time for the executor to report its own timeout), at most 5 s. */
export function targetHangGraceMs(limitMs: number): number {
  return Math.min(5_000, Math.max(1_000, Math.ceil(limitMs / 2)));
}

/** When a transport gives up on a task with this limit: the last resort, after the target's own
 *  limit and its watchdog had their turn (a transport abort cannot clean up what the target
 *  started: an executor, a VM). */
export function transportAbortMs(limitMs: number): number {
  return limitMs + 2 * targetHangGraceMs(limitMs);
}

export interface Target {
  /** what this target is and what it can show; bits it cannot show are '?' in its traces */
  info(): Promise<TargetInfo>;
  /** execute a validated case; never throws for a case the kernel rejects (that is an rc), only
   *  for infrastructure failures, which become executor-fault results */
  execute(c: Case, opts?: ExecuteOptions): Promise<Trace>;
  /** true: cases given at once wait for each other, and each one's turn is told by ExecuteOptions.onStart */
  readonly reportsCaseStart?: boolean;
  close(): Promise<void>;
  /** targets that run on a real kernel: throw HostRefusedError (src/targets/host-policy.ts) when
   *  the kernel or host has a setting the model does not cover, else return warnings to show */
  hostCheck?(): Promise<string[]>;
}
