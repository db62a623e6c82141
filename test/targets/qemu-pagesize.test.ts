// The qemu: target on the Debian kernels that test ptefarm's own assumptions: 16 KiB pages
// (debian-6.12-arm64-16k: a PMD is 2048 pages = 32 MiB) and PREEMPT_RT (debian-6.12-amd64-rt:
// soft-dirty, no THP). Images come from `ptefarm qemu fetch` (.ci/run); each image's tests skip,
// with the reason, when QEMU or the image is missing. Capabilities come from each guest's own probe.
//
// The differentials run fresh generated cases (src/campaign/generate.ts, in the guest's page
// geometry) and check them against the model in the trace's geometry: any divergence fails.
// PTEFARM_QEMU_DIFF_RUNS_16K and PTEFARM_QEMU_DIFF_RUNS_RT set the counts (default 40; arm64 under
// TCG runs about 1 case/s, so CI runs 200 on the 16 KiB guest).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { QemuTarget, maskedCapabilities } from '../../src/targets/qemu.ts';
import { resolveImage } from '../../src/targets/qemu/images.ts';
import { parseCase } from '../../src/ops/validate.ts';
import { parseTextCase } from '../../src/ops/text.ts';
import { checkTrace } from '../../src/check/check.ts';
import { signature } from '../../src/findings/signature.ts';
import { profileForRelease } from '../../src/model/profile.ts';
import { freshCase } from '../../src/campaign/generate.ts';
import { Rng } from '../../src/campaign/rng.ts';
import { geometryOf, limitsFor, type PageGeometry } from '../../src/ops/layout.ts';
import { geometryOfHost, traceSchema, type Trace } from '../../src/ops/trace.ts';
import type { Case } from '../../src/ops/schema.ts';

function unavailable(image: string): string | undefined {
  let arch: string;
  try { arch = resolveImage(image).arch; } catch (e) { return (e as Error).message; }
  const bin = arch === 'amd64' ? 'qemu-system-x86_64' : 'qemu-system-aarch64';
  try { execFileSync(bin, ['--version'], { stdio: 'ignore' }); } catch { return `${bin} is not installed (scripts/install.sh installs it)`; }
  return undefined;
}
function skipNote(image: string, why: string | undefined): void {
  if (why) process.stderr.write(`qemu tests for ${image} skipped: ${why}\n`);
}

/** `runs` fresh cases in `geometry` on `t`, 8 in flight; the diverging ones with their violations */
async function differential(t: QemuTarget, name: string, runs: number, seed: number, geometry: PageGeometry, profile: string) {
  const rng = new Rng(seed);
  const cases = Array.from({ length: runs }, () => freshCase(rng, 40, geometry));
  let next = 0, faults = 0, compared = 0, skipped = 0;
  const fresh: string[] = [];
  const t0 = Date.now();
  await Promise.all(Array.from({ length: 8 }, async () => {
    while (next < cases.length) {
      const c = cases[next++];
      const tr: Trace = await t.execute(c);
      if (tr.skipped) { skipped++; continue; }
      if (tr.fault) { faults++; continue; }
      const v = checkTrace(c, tr, { profile });
      compared += v.compared;
      if (v.violations.length) fresh.push(`${JSON.stringify(c)}\n${v.violations.slice(0, 6).map((x) => `  ${x.message} [${signature(x)}]`).join('\n')}`);
    }
  }));
  const s = (Date.now() - t0) / 1000;
  process.stderr.write(`qemu:${name} differential: ${cases.length} cases in ${s.toFixed(1)} s, ${compared} bits compared, ` +
    `${fresh.length} diverging, ${skipped} skipped, ${faults} faults\n`);
  return { fresh, faults, compared, cases };
}

// ---------------------------------------------------------------------------------------------
const A16 = 'debian-6.12-arm64-16k';
const a16 = unavailable(A16);
skipNote(A16, a16);
const RUNS_16K = Number(process.env.PTEFARM_QEMU_DIFF_RUNS_16K ?? 40);
const G16 = geometryOf(16384);

describe.skipIf(!!a16)(`qemu:${A16}`, () => {
  let t: QemuTarget;
  let profile: string;
  beforeAll(async () => { t = new QemuTarget(A16); profile = profileForRelease((await t.info()).kernel); }, 400_000);
  afterAll(async () => { await t?.close(); });

  it('probes 16 KiB pages and 32 MiB PMDs; traces carry them; soft-dirty is masked (arm64 has none)', async () => {
    const info = await t.info();
    expect(info.arch).toBe('aarch64');
    expect(info.kernel).toMatch(/^6\.12\..*16k/);
    expect(info.host).toMatchObject({ page_size: 16384, pmd_size: 32 * 1024 * 1024 });
    expect(geometryOfHost(info.host)).toEqual(G16);
    expect(maskedCapabilities(info.capabilities)).toEqual(['soft_dirty']);
    expect(info.capabilities.thp).toBe(true);
  });

  it('a write to a 2048-page MADV_HUGEPAGE region maps one 32 MiB THP, as the model predicts; a 512-page one maps no THP', async () => {
    const c = parseTextCase('ptefarm-case/1\nmmap a pages=2048 kind=anon thp\nwrite a[5]\nmmap b pages=512 kind=anon thp\nwrite b[5]\n', undefined, limitsFor(G16));
    const tr = await t.execute(c);
    expect(traceSchema.safeParse(tr).success).toBe(true);
    expect(tr.fault).toBeUndefined();
    expect(tr.steps[1].outcome?.huge).toEqual({ a: [0] });
    expect(new Set(tr.steps[1].pages!['0'].a)).toEqual(new Set(['P..E.?']));
    expect(tr.steps[3].outcome?.huge?.b ?? []).toEqual([]);
    expect(tr.steps[3].pages!['0'].b.filter((s) => s[0] === 'P')).toHaveLength(1);
    expect(checkTrace(c, tr, { profile }).violations).toEqual([]);
  }, 120_000);

  it(`differential: ${RUNS_16K} generated cases in 16 KiB pages vs the model`, async () => {
    const { fresh, faults } = await differential(t, A16, RUNS_16K, Number(process.env.PTEFARM_QEMU_DIFF_SEED ?? 20261206), G16, profile);
    expect(fresh, `divergences (minimize them and fix the model, or keep a kernel bug in corpus/findings):\n${fresh.slice(0, 3).join('\n')}`).toEqual([]);
    expect(faults).toBeLessThanOrEqual(Math.max(2, RUNS_16K / 100));
  }, 1_800_000);
});

// ---------------------------------------------------------------------------------------------
const XRT = 'debian-6.12-amd64-rt';
const xrt = unavailable(XRT);
skipNote(XRT, xrt);
const RUNS_RT = Number(process.env.PTEFARM_QEMU_DIFF_RUNS_RT ?? 40);

describe.skipIf(!!xrt)(`qemu:${XRT}`, () => {
  let t: QemuTarget;
  let profile: string;
  beforeAll(async () => { t = new QemuTarget(XRT); profile = profileForRelease((await t.info()).kernel); }, 240_000);
  afterAll(async () => { await t?.close(); });

  it('PREEMPT_RT 6.12: soft-dirty and uffd-wp, no THP (CONFIG_TRANSPARENT_HUGEPAGE depends on !PREEMPT_RT)', async () => {
    const info = await t.info();
    expect(info.kernel).toMatch(/^6\.12\..*-rt-/);
    expect(info.capabilities.soft_dirty).toBe(true);
    expect(info.capabilities.uffd_wp).toBe(true);
    expect(maskedCapabilities(info.capabilities)).toEqual(['thp']);
    expect(info.host?.page_size).toBeUndefined(); // 4 KiB: traces as before
  });

  it('THP cases are skipped with the reason; small-page cases (MADV_NOHUGEPAGE is EINVAL there) run and match', async () => {
    const thp = parseCase({ format: 'ptefarm-case/1', ops: [{ op: 'mmap', region: 'a', pages: 512, kind: 'anon', thp: true }, { op: 'write', region: 'a' }] });
    expect((await t.execute(thp)).skipped).toMatch(/THP is not built into this guest kernel/);
    const c: Case = parseTextCase('ptefarm-case/1\nmmap a pages=4 kind=anon\nwrite a\nclear_refs value=4\nwrite a[2]\n');
    const tr = await t.execute(c);
    expect(tr.fault).toBeUndefined();
    expect(tr.steps[0].rc).toBe(0);
    expect(tr.steps[3].pages!['0'].a).toEqual(['P..E..', 'P..E..', 'P..E.D', 'P..E..']);
    expect(checkTrace(c, tr, { profile }).violations).toEqual([]);
  }, 120_000);

  it(`differential: ${RUNS_RT} generated cases vs the model`, async () => {
    const { fresh, faults } = await differential(t, XRT, RUNS_RT, Number(process.env.PTEFARM_QEMU_DIFF_SEED ?? 20261206), geometryOf(4096), profile);
    expect(fresh, `divergences:\n${fresh.slice(0, 3).join('\n')}`).toEqual([]);
    expect(faults).toBeLessThanOrEqual(Math.max(2, RUNS_RT / 100));
  }, 1_200_000);
});
