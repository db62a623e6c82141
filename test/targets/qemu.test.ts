// The qemu: target on real Debian kernels under QEMU TCG (images from `ptefarm qemu fetch`, which
// .ci/run does before the tests). Each image's tests skip, with the reason, when QEMU or the image
// is missing. The model profile always follows the guest's release (profileForRelease).
//
// The differential test runs freshly generated cases (test/helpers/qemu.ts qemuDifferential) on the 6.12 guest,
// which has soft-dirty compiled in, and checks them against the model: any divergence fails. The
// cases this kernel corrected the model with (minimized) are kept in
// corpus/regressions/kernel-corrected-qemu-*.json and run first. PTEFARM_QEMU_DIFF_RUNS sets the
// count (default 40; CI runs 500).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { QemuTarget, maskedCapabilities } from '../../src/targets/qemu.ts';
import { OOPS_RE } from '../../src/targets/qemu/vm.ts';
import { parseCase } from '../../src/ops/validate.ts';
import { checkTrace } from '../../src/check/check.ts';
import { profileForRelease } from '../../src/model/profile.ts';
import { traceSchema } from '../../src/ops/trace.ts';
import type { Case } from '../../src/ops/schema.ts';
import { expectAgreement, qemuDifferential, qemuSkipNote as skipNote, qemuUnavailable as unavailable } from '../helpers/qemu.ts';

const SEEDS = 'corpus/seeds';
const FINDINGS = 'corpus/findings';
const REGRESSIONS = 'corpus/regressions';
const DIFF_RUNS = Number(process.env.PTEFARM_QEMU_DIFF_RUNS ?? 40);

const readCaseFile = (path: string): Case => parseCase(JSON.parse(readFileSync(path, 'utf8')), undefined, path);
const seedFiles = () => readdirSync(SEEDS).filter((f) => f.endsWith('.json')).sort();

function fixed(c: object): Case { return parseCase({ format: 'ptefarm-case/1', ...c }); }

const WRITE_CLEAR = fixed({
  name: 'write, clear_refs, write one',
  ops: [
    { op: 'mmap', region: 'a', pages: 4, kind: 'anon' },
    { op: 'write', region: 'a' },
    { op: 'clear_refs' },
    { op: 'write', region: 'a', first: 2, count: 1 },
  ],
});

// ---------------------------------------------------------------------------------------------
const X612 = 'debian-6.12-amd64';
const x612 = unavailable(X612);
skipNote(X612, x612);

describe.skipIf(!!x612)(`qemu:${X612}`, () => {
  let t: QemuTarget;
  let profile: string;
  beforeAll(async () => {
    t = new QemuTarget(X612);
    const info = await t.info();
    profile = profileForRelease(info.kernel);
  }, 240_000);
  afterAll(async () => { await t?.close(); });

  it('reports the guest release and real soft-dirty', async () => {
    const info = await t.info();
    expect(info.name).toBe(`qemu:${X612}`);
    expect(info.arch).toBe('x86_64');
    expect(info.kernel).toMatch(/^6\.12\./);
    expect(profile).toBe('6.12');
    expect(info.capabilities.soft_dirty).toBe(true);
    expect(info.capabilities.uffd_wp).toBe(true);
    expect(info.capabilities.swap).toBe(true);
    expect(maskedCapabilities(info.capabilities)).toEqual([]);
  });

  it('shows soft-dirty bits: written pages dirty, clear_refs cleans, a new write re-dirties', async () => {
    const tr = await t.execute(WRITE_CLEAR);
    expect(traceSchema.safeParse(tr).success).toBe(true);
    expect(tr.fault).toBeUndefined();
    expect(tr.steps[1].pages!['0'].a).toEqual(['P..E.D', 'P..E.D', 'P..E.D', 'P..E.D']);
    expect(tr.steps[2].pages!['0'].a).toEqual(['P..E..', 'P..E..', 'P..E..', 'P..E..']);
    expect(tr.steps[3].pages!['0'].a).toEqual(['P..E..', 'P..E..', 'P..E.D', 'P..E..']);
  });

  it('runs every seed in corpus/seeds and matches the model (profile from the guest release)', async () => {
    const results = await Promise.all(seedFiles().map(async (f) => {
      const c = readCaseFile(join(SEEDS, f));
      const tr = await t.execute(c);
      const v = checkTrace(c, tr, { profile });
      return { f, fault: tr.fault, skipped: tr.skipped, compared: v.compared, violations: v.violations.map((x) => x.message) };
    }));
    const bad = results.filter((r) => r.fault || r.violations.length);
    expect(bad, JSON.stringify(bad.slice(0, 3), null, 1)).toEqual([]);
    // soft-dirty seeds compare real D bits
    const sd = results.filter((r) => r.f.startsWith('s-sd-'));
    expect(sd.length).toBeGreaterThan(0);
    for (const r of sd) expect(r.compared, r.f).toBeGreaterThan(0);
  }, 180_000);

  it(`differential: ${DIFF_RUNS} generated cases (clear_refs, writes, mremap, fork, pageout, THP) vs the model`, async () => {
    // the cases this kernel used to diverge on (minimized, now corrected in the model) come first
    const pinned = readdirSync(REGRESSIONS).filter((f) => f.startsWith('kernel-corrected-qemu-') && f.endsWith('.json')).sort();
    for (const f of pinned) {
      const c = readCaseFile(join(REGRESSIONS, f));
      const tr = await t.execute(c);
      expect(tr.fault, f).toBeUndefined();
      expect(checkTrace(c, tr, { profile }).violations, f).toEqual([]);
    }
    const r = await qemuDifferential(t, X612, { runs: DIFF_RUNS, seed: Number(process.env.PTEFARM_QEMU_DIFF_SEED ?? 20261123), profile });
    const ops = new Set(r.cases.flatMap((c) => c.ops.map((o) => o.op)));
    if (DIFF_RUNS >= 100) for (const op of ['clear_refs', 'write', 'mremap', 'fork', 'pageout', 'mprotect']) expect(ops.has(op as never), op).toBe(true);
    expectAgreement(r, `(minimize them and fix the model, or keep a kernel bug in ${FINDINGS})`);
  }, 900_000);

  it('supervisor: QEMU killed mid-case -> a fault for that case, a fresh VM for the next', async () => {
    const hang = new QemuTarget(X612, { inject: { kind: 'hang', op: 1 }, caseTimeoutMs: 30_000 });
    try {
      await hang.info();
      const pending = hang.execute(WRITE_CLEAR);
      await new Promise((r) => setTimeout(r, 300));
      process.kill(hang.pid!, 'SIGKILL');
      const tr = await pending;
      expect(tr.fault).toMatch(/qemu killed by SIGKILL/);
      expect(hang.starts).toBe(1);
    } finally { await hang.close(); }
  }, 240_000);

  it('supervisor: a guest that stops answering is timed out and replaced; queued cases run on the new VM', async () => {
    const st = new QemuTarget(X612, { caseTimeoutMs: 1_000, graceMs: 1_000 });
    try {
      await st.info();
      const pid = st.pid!;
      process.kill(pid, 'SIGSTOP'); // the VM freezes: no reply, no exit
      const [a, b] = await Promise.all([st.execute(WRITE_CLEAR), st.execute(WRITE_CLEAR)]);
      try { process.kill(pid, 'SIGKILL'); } catch { /* already gone */ }
      expect(a.fault).toMatch(/^timeout: no reply from the guest/);
      expect(b.fault).toBeUndefined();
      expect(b.steps[3].pages!['0'].a[2]).toBe('P..E.D');
      expect(st.starts).toBe(2);
    } finally { await st.close(); }
  }, 240_000);

  it('supervisor: a kernel oops on the console -> a `kernel oops:` fault, then a fresh VM', async () => {
    // No unprivileged case can oops a healthy kernel on purpose, so the oops text is fed to the
    // console stream QEMU writes (what a real oops prints), while a case hangs in the guest.
    const oo = new QemuTarget(X612, { inject: { kind: 'hang', op: 1 }, caseTimeoutMs: 60_000 });
    try {
      await oo.info();
      const pending = oo.execute(WRITE_CLEAR);
      await new Promise((r) => setTimeout(r, 300));
      const vm = (oo as unknown as { vm: { child: { stdout: NodeJS.EventEmitter } } }).vm;
      vm.child.stdout.emit('data', Buffer.from('[   12.3] BUG: kernel NULL pointer dereference, address: 0000000000000008\n[   12.3] #PF: supervisor read access in kernel mode\n'));
      const tr = await pending;
      expect(tr.fault).toMatch(/^kernel oops: BUG: kernel NULL pointer dereference/);
      expect(oo.oopses.length).toBe(1);
    } finally { await oo.close(); }
    expect(OOPS_RE.test('Oops: general protection fault, probably for non-canonical address')).toBe(true);
    expect(OOPS_RE.test('ptefarm: executor on /dev/vport0p1')).toBe(false);
  }, 240_000);
});

// ---------------------------------------------------------------------------------------------
// The same 6.12 guest with anonymous mTHP on (`,mthp=16K+64K`: the guest's init sets
// hugepages-16kB and -64kB to `always`): faults in MADV_HUGEPAGE anon regions may take 16 or 64 KiB
// folios (mm/memory.c alloc_anon_folio), recorded as the `folio` outcome and followed by the model
// (R-MTHP-1/2), with real soft-dirty compared beside uffd-wp. PTEFARM_QEMU_DIFF_RUNS_MTHP sets the
// count (default 40; CI runs 200).
const X612_MTHP = `${X612},mthp=16K+64K`;
const MTHP_RUNS = Number(process.env.PTEFARM_QEMU_DIFF_RUNS_MTHP ?? 40);

describe.skipIf(!!x612)(`qemu:${X612_MTHP}`, () => {
  it(`differential: ${MTHP_RUNS} generated cases with mTHP on in the guest vs the model, large folios seen`, async () => {
    const t = new QemuTarget(X612_MTHP);
    try {
      const info = await t.info();
      expect(info.capabilities.soft_dirty).toBe(true);
      const r = await qemuDifferential(t, X612_MTHP, { runs: MTHP_RUNS, seed: 20261206, profile: profileForRelease(info.kernel) });
      expectAgreement(r, 'with mTHP on');
      expect(r.compared).toBeGreaterThan(0);
      // mTHP must really have happened, or this test proves nothing about it
      expect(r.largeFolioSteps).toBeGreaterThan(0);
    } finally { await t.close(); }
  }, 900_000);
});

// ---------------------------------------------------------------------------------------------
// A pinned point release beside the meta-package's one: debian-6.12-amd64@previous is the newest
// 6.12 release below the current one that apt lists (resolved at fetch time by
// scripts/qemu-image.sh, never a hard-coded version). The same differential must agree there too.
// PTEFARM_QEMU_DIFF_RUNS_PINNED sets the count (default 40; CI runs 100).
const X612_PREV = `${X612}@previous`;
const x612prev = unavailable(X612_PREV);
skipNote(X612_PREV, x612prev);
const PINNED_RUNS = Number(process.env.PTEFARM_QEMU_DIFF_RUNS_PINNED ?? 40);

describe.skipIf(!!x612 || !!x612prev)(`qemu:${X612_PREV}`, () => {
  it(`is an older 6.12 point release than ${X612}, and agrees with the model on ${PINNED_RUNS} generated cases`, async () => {
    const cur = new QemuTarget(X612), prev = new QemuTarget(X612_PREV);
    try {
      const [a, b] = [(await cur.info()).kernel, (await prev.info()).kernel];
      const point = (k: string) => Number(/^6\.12\.(\d+)/.exec(k)?.[1] ?? NaN);
      expect(point(b), `${b} vs ${a}`).toBeLessThan(point(a));
      await cur.close();
      const r = await qemuDifferential(prev, X612_PREV, { runs: PINNED_RUNS, seed: 20261207, profile: profileForRelease(b) });
      expectAgreement(r, `on ${b}`);
      expect(r.compared).toBeGreaterThan(0);
    } finally { await cur.close(); await prev.close(); }
  }, 900_000);
});

// ---------------------------------------------------------------------------------------------
const A612 = 'debian-6.12-arm64';
const a612 = unavailable(A612);
skipNote(A612, a612);

describe.skipIf(!!a612)(`qemu:${A612}`, () => {
  let t: QemuTarget;
  beforeAll(async () => { t = new QemuTarget(A612); await t.info(); }, 300_000);
  afterAll(async () => { await t?.close(); });

  it('masks soft-dirty (not on arm64) and keeps uffd-wp (arm64 has it since 6.10)', async () => {
    const info = await t.info();
    expect(info.arch).toBe('aarch64');
    expect(info.kernel).toMatch(/^6\.12\./);
    expect(maskedCapabilities(info.capabilities)).toEqual(['soft_dirty']);
    expect(info.capabilities.uffd_wp).toBe(true);
    const tr = await t.execute(WRITE_CLEAR);
    expect(tr.fault).toBeUndefined();
    expect(tr.steps[1].pages!['0'].a[0]).toBe('P..E.?');
  });

  it('runs every seed; with bit 55 masked the rest matches x86 semantics', async () => {
    const profile = profileForRelease((await t.info()).kernel);
    const bad: string[] = [];
    await Promise.all(seedFiles().map(async (f) => {
      const c = readCaseFile(join(SEEDS, f));
      const tr = await t.execute(c);
      const v = checkTrace(c, tr, { profile });
      if (tr.fault || v.violations.length) bad.push(`${f}: ${tr.fault ?? v.violations.slice(0, 2).map((x) => x.message).join(' | ')}`);
    }));
    expect(bad).toEqual([]);
  }, 300_000);
});

// ---------------------------------------------------------------------------------------------
const X61 = 'debian-6.1-amd64';
const x61 = unavailable(X61);
skipNote(X61, x61);

describe.skipIf(!!x61)(`qemu:${X61}`, () => {
  let t: QemuTarget;
  beforeAll(async () => { t = new QemuTarget(X61); await t.info(); }, 240_000);
  afterAll(async () => { await t?.close(); });

  it('is a 6.1 guest with soft-dirty but no PAGEMAP_SCAN / WP_ASYNC; soft-dirty seeds match the 6.1 profile', async () => {
    const info = await t.info();
    expect(info.kernel).toMatch(/^6\.1\./);
    expect(profileForRelease(info.kernel)).toBe('6.1');
    expect(info.capabilities.soft_dirty).toBe(true);
    expect(maskedCapabilities(info.capabilities)).toEqual(expect.arrayContaining(['wp_async', 'pagemap_scan']));
    const bad: string[] = [];
    for (const f of seedFiles().filter((s) => s.startsWith('s-sd-'))) {
      const c = readCaseFile(join(SEEDS, f));
      const tr = await t.execute(c);
      if (f === 's-sd-thp.json') expect(tr.skipped).toMatch(/PAGEMAP_SCAN/);
      const v = checkTrace(c, tr, { profile: '6.1' });
      if (tr.fault || v.violations.length) bad.push(`${f}: ${tr.fault ?? v.violations.slice(0, 2).map((x) => x.message).join(' | ')}`);
    }
    expect(bad).toEqual([]);
  }, 240_000);
});
