// Target specs -> Target instances. The one place a spec string is interpreted. The target
// modules are imported statically: a dynamic import() of a .ts module inside a piscina worker
// thread is not transformed by tsx (development runs and the tests), and the modules are light.
import type { Target } from './target.ts';
import { ModelTarget } from './model.ts';
import { LiveTarget } from './live.ts';
import { ExecTarget } from './exec.ts';
import { QemuTarget } from './qemu.ts';
import { BOOT_TIMEOUT_MS } from './qemu/vm.ts';

export const TARGET_SPECS = ['model:x86[-16k][@PROFILE][+MUTANT]', 'live', 'exec:<command line>', 'qemu:<image>'];

export async function openTarget(spec: string): Promise<Target> {
  if (spec.startsWith('model:')) return new ModelTarget(spec);
  if (spec === 'live') return new LiveTarget();
  if (spec.startsWith('exec:')) return new ExecTarget(spec.slice('exec:'.length));
  if (spec.startsWith('qemu:')) return new QemuTarget(spec.slice('qemu:'.length));
  throw new Error(`unknown target "${spec}" (known: ${TARGET_SPECS.join(', ')})`);
}

/** Time a target may spend starting before its first case (a QEMU guest boots inside the first
 *  job of each worker thread): a transport adds it to its own hang limit, so that a boot is not
 *  taken for a hung case. The target still enforces the case limit itself once it runs
 *  (src/targets/qemu.ts: case timeout plus grace, then the VM is killed). */
export function startupBudgetMs(spec: string): number {
  return spec.startsWith('qemu:') ? BOOT_TIMEOUT_MS : 0;
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
