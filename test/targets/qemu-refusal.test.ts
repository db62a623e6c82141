// A QEMU guest is judged like a host (src/targets/host-policy.ts), by its own executor's probe:
// - booted with an anonymous mTHP size on (`thp_anon=64K:always` on its kernel command line), it
//   now runs: the executor records the large folios its faults got (the `folio` outcome,
//   workers/executor/ptefarm-folio.h) and the model follows them (R-MTHP-1);
// - booted with shmem THP on (`ptefarm.shmem_thp=advise`, set by the image's init), which the model
//   still does not cover (which faults got a page-cache huge folio is not observable), it is refused,
//   naming the file and the fix, and every case is a fault, never a verdict.
// Skipped, with the reason, when QEMU or the image is missing (`ptefarm qemu fetch debian-6.12-amd64`).
import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { QemuTarget } from '../../src/targets/qemu.ts';
import { resolveImage } from '../../src/targets/qemu/images.ts';
import { THP_SYSFS } from '../../src/targets/probe.ts';
import { parseCase } from '../../src/ops/validate.ts';
import { checkTrace } from '../../src/check/check.ts';
import { profileForRelease } from '../../src/model/profile.ts';

const IMAGE = 'debian-6.12-amd64';
function unavailable(): string | undefined {
  try { resolveImage(IMAGE); } catch (e) { return (e as Error).message; }
  try { execFileSync('qemu-system-x86_64', ['--version'], { stdio: 'ignore' }); } catch { return 'qemu-system-x86_64 is not installed'; }
  return undefined;
}
const why = unavailable();
if (why) process.stderr.write(`qemu refusal test skipped: ${why}\n`);

describe.skipIf(!!why)(`qemu:${IMAGE} and the host policy`, () => {
  it('hugepages-64kB/enabled = always: the guest reports it and runs; a write into a MADV_HUGEPAGE region maps 64 KiB folios the model follows', async () => {
    const t = new QemuTarget(IMAGE, { append: 'thp_anon=64K:always' });
    try {
      const p = await t.probeResult();
      expect(p.facts!.find((f) => f.name === 'mthp.64kB.enabled')).toEqual({ name: 'mthp.64kB.enabled', value: 'always', source: `guest sysfs: ${THP_SYSFS}/hugepages-64kB/enabled` });
      await t.hostCheck();
      const info = await t.info();
      // one page of a 64-page MADV_HUGEPAGE region: no PMD fits in the VMA, so the fault takes the
      // largest enabled order that fits (mm/memory.c alloc_anon_folio): the aligned 16-page folio
      const c = parseCase({ format: 'ptefarm-case/1', ops: [{ op: 'mmap', region: 'a', pages: 64, kind: 'anon', thp: true }, { op: 'write', region: 'a', first: 20, count: 1 }] });
      const tr = await t.execute(c);
      expect(tr.fault).toBeUndefined();
      expect(tr.steps[1]!.outcome?.folio?.a).toEqual([[16, 16]]);
      expect(checkTrace(c, tr, { profile: profileForRelease(info.kernel) }).violations).toEqual([]);
    } finally { await t.close(); }
  }, 300_000);

  it('shmem_enabled = advise: refused by info, hostCheck and every case, naming the file and the fix', async () => {
    const t = new QemuTarget(IMAGE, { append: 'ptefarm.shmem_thp=advise' });
    try {
      const p = await t.probeResult();
      expect(p.facts!.find((f) => f.name === 'thp.shmem_enabled')).toMatchObject({ value: 'advise' });
      const refusal = new RegExp(`^qemu:${IMAGE} refuses to start[^]*${THP_SYSFS}/shmem_enabled = advise[^]*echo never > ${THP_SYSFS}/shmem_enabled`);
      await expect(t.hostCheck()).rejects.toThrow(refusal);
      await expect(t.info()).rejects.toThrow(refusal);
      const tr = await t.execute(parseCase({ format: 'ptefarm-case/1', ops: [{ op: 'mmap', region: 'a', pages: 4, kind: 'anon' }, { op: 'write', region: 'a' }] }));
      expect(tr.steps).toEqual([]);
      expect(tr.fault).toMatch(refusal);
    } finally { await t.close(); }
  }, 300_000);
});
