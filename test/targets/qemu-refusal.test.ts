// A QEMU guest is refused like a host (src/targets/host-policy.ts): the 6.12 guest booted with one
// anonymous mTHP size on (`thp_anon=64K:always` on its kernel command line; the image's init leaves
// per-size settings alone) reports it through its own executor, and the target refuses to run.
// Skipped, with the reason, when QEMU or the image is missing (`ptefarm qemu fetch debian-6.12-amd64`).
import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { QemuTarget } from '../../src/targets/qemu.ts';
import { resolveImage } from '../../src/targets/qemu/images.ts';
import { THP_SYSFS } from '../../src/targets/probe.ts';
import { parseCase } from '../../src/ops/validate.ts';

const IMAGE = 'debian-6.12-amd64';
function unavailable(): string | undefined {
  try { resolveImage(IMAGE); } catch (e) { return (e as Error).message; }
  try { execFileSync('qemu-system-x86_64', ['--version'], { stdio: 'ignore' }); } catch { return 'qemu-system-x86_64 is not installed'; }
  return undefined;
}
const why = unavailable();
if (why) process.stderr.write(`qemu refusal test skipped: ${why}\n`);

describe.skipIf(!!why)(`qemu:${IMAGE} with hugepages-64kB/enabled = always`, () => {
  it('the guest\'s executor reports the setting; info, hostCheck and every case refuse, naming it', async () => {
    const t = new QemuTarget(IMAGE, { append: 'thp_anon=64K:always' });
    try {
      const p = await t.probeResult();
      expect(p.facts!.find((f) => f.name === 'mthp.64kB.enabled')).toEqual({ name: 'mthp.64kB.enabled', value: 'always', source: `guest sysfs: ${THP_SYSFS}/hugepages-64kB/enabled` });
      const refusal = new RegExp(`^qemu:${IMAGE} refuses to start[^]*${THP_SYSFS}/hugepages-64kB/enabled = always[^]*in the guest .*echo never > ${THP_SYSFS}/hugepages-64kB/enabled`);
      await expect(t.hostCheck()).rejects.toThrow(refusal);
      await expect(t.info()).rejects.toThrow(refusal);
      const tr = await t.execute(parseCase({ format: 'ptefarm-case/1', ops: [{ op: 'mmap', region: 'a', pages: 4, kind: 'anon' }, { op: 'write', region: 'a' }] }));
      expect(tr.steps).toEqual([]);
      expect(tr.fault).toMatch(refusal);
    } finally { await t.close(); }
  }, 300_000);
});
