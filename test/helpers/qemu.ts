// Test helpers for the qemu: target on Debian kernels under QEMU TCG: why an image's tests must be
// skipped (the image unknown, or its qemu-system binary missing), and the differential that runs
// freshly generated cases (src/campaign/generate.ts, in the guest's page geometry) on a guest and
// checks them against the model. Used by test/targets/qemu.test.ts, qemu-pagesize.test.ts and the
// CI matrix test (test/matrix/ci-kernels.test.ts).
import { execFileSync } from 'node:child_process';
import { expect } from 'vitest';
import { resolveImage } from '../../src/targets/qemu/images.ts';
import type { QemuTarget } from '../../src/targets/qemu.ts';
import { checkTrace } from '../../src/check/check.ts';
import { signature } from '../../src/findings/signature.ts';
import { freshCase } from '../../src/campaign/generate.ts';
import { Rng } from '../../src/campaign/rng.ts';
import { GEOMETRY_4K, type PageGeometry } from '../../src/ops/layout.ts';
import type { Trace } from '../../src/ops/trace.ts';
import type { Case } from '../../src/ops/schema.ts';

/** why the tests of `image` must be skipped, or undefined when QEMU can boot it */
export function qemuUnavailable(image: string): string | undefined {
  let arch: string;
  try { arch = resolveImage(image).arch; } catch (e) { return (e as Error).message; }
  const bin = arch === 'amd64' ? 'qemu-system-x86_64' : 'qemu-system-aarch64';
  try { execFileSync(bin, ['--version'], { stdio: 'ignore' }); } catch { return `${bin} is not installed (scripts/install.sh installs it)`; }
  return undefined;
}

/** say on stderr why an image's tests are skipped (vitest only prints "skipped") */
export function qemuSkipNote(image: string, why: string | undefined): void {
  if (why) process.stderr.write(`qemu tests for ${image} skipped: ${why}\n`);
}

export interface DifferentialResult {
  /** each diverging case as JSON, with its first violations and their signatures */
  fresh: string[];
  faults: number;
  skipped: number;
  /** bits compared over all cases */
  compared: number;
  /** steps whose faults mapped large folios (the `folio` outcome: mTHP in the guest) */
  largeFolioSteps: number;
  cases: Case[];
}

/** Run `runs` fresh cases (seeded, in `geometry`) on the guest, 8 in flight, and check each trace
 *  against the model of `profile`; prints one summary line on stderr. */
export async function qemuDifferential(t: QemuTarget, name: string, o: { runs: number; seed: number; profile: string; geometry?: PageGeometry }): Promise<DifferentialResult> {
  const rng = new Rng(o.seed);
  const cases = Array.from({ length: o.runs }, () => freshCase(rng, 40, o.geometry ?? GEOMETRY_4K));
  let next = 0, faults = 0, compared = 0, skipped = 0, largeFolioSteps = 0;
  const fresh: string[] = [];
  const t0 = Date.now();
  await Promise.all(Array.from({ length: 8 }, async () => {
    while (next < cases.length) {
      const c = cases[next++]!;
      const tr: Trace = await t.execute(c);
      if (tr.skipped) { skipped++; continue; }
      if (tr.fault) { faults++; continue; }
      largeFolioSteps += tr.steps.filter((st) => Object.values(st.outcome?.folio ?? {}).some((b) => b.length > 0)).length;
      const v = checkTrace(c, tr, { profile: o.profile });
      compared += v.compared;
      if (v.violations.length) fresh.push(`${JSON.stringify(c)}\n${v.violations.slice(0, 6).map((x) => `  ${x.message} [${signature(x)}]`).join('\n')}`);
    }
  }));
  const s = (Date.now() - t0) / 1000;
  process.stderr.write(`qemu:${name} differential: ${cases.length} cases in ${s.toFixed(1)} s (${(cases.length / s).toFixed(1)}/s), ` +
    `${compared} bits compared, ${fresh.length} diverging, ${skipped} skipped, ${faults} faults, ${largeFolioSteps} steps with large folios\n`);
  return { fresh, faults, skipped, compared, largeFolioSteps, cases };
}

/** The differential agreed: no diverging case (the first three are shown, with `where` saying what
 *  to do about them), and at most 1% faults (at least 2 allowed: a TCG guest may time out once). */
export function expectAgreement(r: DifferentialResult, where: string): void {
  expect(r.fresh, `divergences ${where}:\n${r.fresh.slice(0, 3).join('\n')}`).toEqual([]);
  expect(r.faults).toBeLessThanOrEqual(Math.max(2, r.cases.length / 100));
}
