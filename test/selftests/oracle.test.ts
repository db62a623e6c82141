// The kernel's own selftests as an independent oracle, end to end (issue 15 item 4): built by
// `ptefarm selftests fetch` (.ci/run does it; skipped with the reason when not built), run on the
// live kernel and in qemu:debian-6.12-amd64 (skipped with the reason when the image or QEMU is
// missing), their output parsed, counted, and set beside ptefarm's own gate on the same kernel.
// Each side is checked against facts outside the code under test: the build manifest, the kernel
// config (soft-dirty runs exactly where CONFIG_MEM_SOFT_DIRTY is set), and ptefarm's probe.
import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { readBuild, type BuiltSelftests } from '../../src/selftests/build.ts';
import { SELFTESTS } from '../../src/selftests/catalogue.ts';
import { formatReport, runOracle, type TargetReport } from '../../src/selftests/oracle.ts';
import { readKernelConfig, resolveImage } from '../../src/targets/qemu/images.ts';

const IMAGE = 'debian-6.12-amd64';
/** ptefarm's verdict, kept small (the selftests are the point here): the seeds (among them the
 *  ports of pagemap_ioctl, soft-dirty and madv_populate scenarios: s-pms-*, s-sd-*, s-populate-*) and
 *  a few fresh cases */
const GATE_CASES = 30;
const GATE_CORPUS = ['corpus/seeds'];

let built: BuiltSelftests | undefined;
let whyNot: string | undefined;
try { built = readBuild(); } catch (e) { whyNot = (e as Error).message; }
if (whyNot) process.stderr.write(`selftests oracle tests skipped: ${whyNot}\n`);

function qemuMissing(): string | undefined {
  if (whyNot) return whyNot;
  try { resolveImage(IMAGE); } catch (e) { return (e as Error).message; }
  try { execFileSync('qemu-system-x86_64', ['--version'], { stdio: 'ignore' }); } catch { return 'qemu-system-x86_64 is not installed'; }
  return undefined;
}
const noQemu = qemuMissing();
if (noQemu && !whyNot) process.stderr.write(`selftests oracle test on qemu:${IMAGE} skipped: ${noQemu}\n`);

/** what holds on every target: each selftest built or absent from this source, parsed, counted, compared */
function checkReport(r: TargetReport, arch: 'amd64', asRoot: boolean): void {
  process.stderr.write(formatReport(r));
  const manifest = built!.manifest.arches[arch];
  for (const t of SELFTESTS) {
    const state = manifest[t.name]?.state;
    // guard-regions.c (guard-pages.c at first) arrived with MADV_GUARD_INSTALL in 6.13
    expect(state, t.name).toBe(t.name === 'guard-regions' && /^linux-source-6\.(\d|1[0-2])$/.test(built!.manifest.package) ? 'absent' : 'built');
    const run = r.runs.find((x) => x.name === t.name)!;
    expect(run, t.name).toBeDefined();
    if (state !== 'built') { expect(run.status).toBe('not-built'); continue; }
    expect(run.parsed?.problems, `${t.name}: ${run.why}`).toEqual([]);
    expect(['pass', 'skip', 'fail'], `${t.name}: ${run.why}`).toContain(run.status);
    const { pass, skip, fail } = run.counts;
    // every run printed test points, or skipped as a whole with a reason
    expect(pass + skip + fail > 0 || (run.status === 'skip' && !!run.why), t.name).toBe(true);
    // as nobody like a ptefarm case process, as root only where the catalogue says why
    expect(run.user, t.name).toBe(asRoot ? (t.root ? 'root' : 'nobody') : `uid ${process.getuid?.()}`);
  }
  // the comparison: every failing selftest is a finding about ptefarm exactly when the gate passed
  const v = r.verdict!;
  // a gate that could not run says nothing: the comparison would be empty
  expect(v.verdict, `ptefarm's gate: ${v.reasons.slice(0, 3).join('; ')}`).not.toBe('error');
  expect(v.kernel).toBe(r.kernel);
  expect(v.counts && v.counts.pass + v.counts.skip + v.counts.fail).toBeGreaterThan(0);
  const failing = r.runs.filter((x) => x.status === 'fail').map((x) => x.name).sort();
  const missed = r.comparison!.findings.filter((f) => f.kind === 'ptefarm-missed').map((f) => f.selftest).sort();
  expect(missed).toEqual(v.verdict === 'pass' ? failing : []);
  for (const name of missed) expect(formatReport(r)).toContain(`FINDING ABOUT PTEFARM: the kernel's ${name} selftest fails`);
  // uffd-unit-tests -f wp ran only wp tests (its strstr filter)
  const uffd = r.runs.find((x) => x.name === 'uffd-unit-tests');
  if (uffd?.parsed) {
    expect(uffd.parsed.points.length).toBeGreaterThan(0);
    for (const p of uffd.parsed.points) expect(p.name).toMatch(/wp/);
  }
  // and a finding about ptefarm fails the test: it is what this oracle is for
  expect(missed, formatReport(r)).toEqual([]);
}

describe.skipIf(!built)('selftests on the live kernel', () => {
  it('build, run, parse, count, and compare with ptefarm\'s gate', async () => {
    const out = mkdtempSync(join(os.tmpdir(), 'ptefarm-selftests-live-'));
    const r = await runOracle(built!, 'live', { tests: SELFTESTS, gateCases: GATE_CASES, gateCorpus: GATE_CORPUS, outDir: out });
    checkReport(r, 'amd64', process.getuid?.() === 0);
    // soft-dirty runs where ptefarm's probe sees soft-dirty, and skips where it does not
    const sd = r.runs.find((x) => x.name === 'soft-dirty')!;
    expect(sd.status === 'skip').toBe(r.verdict!.capabilities.soft_dirty === false);
    rmSync(out, { recursive: true, force: true }); // kept when an assertion fails: the gate run is evidence
  }, 900_000);
});

describe.skipIf(!!noQemu)(`selftests on qemu:${IMAGE}`, () => {
  it('build, run in the guest, parse, count, and compare with ptefarm\'s gate on the guest', async () => {
    const out = mkdtempSync(join(os.tmpdir(), 'ptefarm-selftests-qemu-'));
    const r = await runOracle(built!, `qemu:${IMAGE}`, { tests: SELFTESTS, gateCases: GATE_CASES, gateCorpus: GATE_CORPUS, outDir: out });
    checkReport(r, 'amd64', true);
    expect(r.oops).toBeUndefined();
    // the guest kernel has soft-dirty: the selftest must run its tests there, not skip
    const config = readKernelConfig(resolveImage(IMAGE).config);
    const sd = r.runs.find((x) => x.name === 'soft-dirty')!;
    expect(config?.CONFIG_MEM_SOFT_DIRTY).toBe('y');
    expect(sd.status).not.toBe('skip');
    expect(sd.counts.pass + sd.counts.fail).toBeGreaterThan(0);
    expect(r.verdict!.capabilities.soft_dirty).toBe(true);
    rmSync(out, { recursive: true, force: true });
  }, 1_500_000);
});
