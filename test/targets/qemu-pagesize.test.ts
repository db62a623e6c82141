// The qemu: target on the Debian kernels that test ptefarm's own assumptions: 16 KiB pages
// (debian-6.12-arm64-16k: a PMD is 2048 pages = 32 MiB) and PREEMPT_RT (debian-6.12-amd64-rt:
// soft-dirty, no THP). Images come from `ptefarm qemu fetch` (.ci/run); each image's tests skip,
// with the reason, when QEMU or the image is missing. Capabilities come from each guest's own probe.
//
// The differentials (test/helpers/qemu.ts qemuDifferential) run fresh generated cases (in the guest's page
// geometry) and check them against the model in the trace's geometry: any divergence fails.
// PTEFARM_QEMU_DIFF_RUNS_16K and PTEFARM_QEMU_DIFF_RUNS_RT set the counts (default 40; arm64 under
// TCG runs about 1 case/s, so CI runs 200 on the 16 KiB guest).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { QemuTarget, maskedCapabilities } from '../../src/targets/qemu.ts';
import { parseCase } from '../../src/ops/validate.ts';
import { parseTextCase } from '../../src/ops/text.ts';
import { checkTrace } from '../../src/check/check.ts';
import { profileForRelease } from '../../src/model/profile.ts';
import { geometryOf, limitsFor } from '../../src/ops/layout.ts';
import { geometryOfHost, traceSchema } from '../../src/ops/trace.ts';
import type { Case } from '../../src/ops/schema.ts';
import { expectAgreement, qemuDifferential, qemuSkipNote as skipNote, qemuUnavailable as unavailable } from '../helpers/qemu.ts';

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
    expectAgreement(await qemuDifferential(t, A16, { runs: RUNS_16K, seed: Number(process.env.PTEFARM_QEMU_DIFF_SEED ?? 20261206), geometry: G16, profile }),
      '(minimize them and fix the model, or keep a kernel bug in corpus/findings)');
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
    expectAgreement(await qemuDifferential(t, XRT, { runs: RUNS_RT, seed: Number(process.env.PTEFARM_QEMU_DIFF_SEED ?? 20261206), profile }), 'on the RT kernel');
  }, 1_200_000);
});
