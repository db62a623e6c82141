// Target specs -> Target instances. The one place a spec string is interpreted. Each target's
// module is imported only when a spec names it, so `check --target model:x86` loads no executor,
// QEMU or exec plumbing (CLI start-up time, issue 13).
import type { Target } from './target.ts';

export const TARGET_SPECS = ['model:x86[@PROFILE][+MUTANT]', 'live', 'exec:<command line>', 'qemu:<image>'];

export async function openTarget(spec: string): Promise<Target> {
  if (spec.startsWith('model:')) return new (await import('./model.ts')).ModelTarget(spec);
  if (spec === 'live') return new (await import('./live.ts')).LiveTarget();
  if (spec.startsWith('exec:')) return new (await import('./exec.ts')).ExecTarget(spec.slice('exec:'.length));
  if (spec.startsWith('qemu:')) return new (await import('./qemu.ts')).QemuTarget(spec.slice('qemu:'.length));
  throw new Error(`unknown target "${spec}" (known: ${TARGET_SPECS.join(', ')})`);
}

/** Open a target and make sure it may run cases here: a host (or guest) with a setting the model
 *  does not cover throws (HostRefusedError; the CLI exits 2), and the target is closed again.
 *  Warnings (khugepaged not throttled...) go to `warn`. */
export async function openCheckedTarget(spec: string, warn: (line: string) => void): Promise<Target> {
  const t = await openTarget(spec);
  try {
    for (const w of (await t.hostCheck?.()) ?? []) warn(w);
  } catch (e) {
    await t.close();
    throw e;
  }
  return t;
}
