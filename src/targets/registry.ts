// Target specs -> Target instances. The one place a spec string is interpreted. The target
// modules are imported statically: a dynamic import() of a .ts module inside a piscina worker
// thread is not transformed by tsx (development runs and the tests), and the modules are light.
import type { Target } from './target.ts';
import { ModelTarget } from './model.ts';
import { LiveTarget } from './live.ts';
import { ExecTarget } from './exec.ts';
import { QemuTarget } from './qemu.ts';

export const TARGET_SPECS = ['model:x86[@PROFILE][+MUTANT]', 'live', 'exec:<command line>', 'qemu:<image>'];

export async function openTarget(spec: string): Promise<Target> {
  if (spec.startsWith('model:')) return new ModelTarget(spec);
  if (spec === 'live') return new LiveTarget();
  if (spec.startsWith('exec:')) return new ExecTarget(spec.slice('exec:'.length));
  if (spec.startsWith('qemu:')) return new QemuTarget(spec.slice('qemu:'.length));
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
