import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { FINDING_FILE, recordFinding } from '../../src/campaign/findings.ts';
import type { Case } from '../../src/ops/schema.ts';
import { parseTextCase } from '../../src/ops/text.ts';

const BIN = new URL('../../bin/ptefarm.mjs', import.meta.url).pathname;
const run = (args: string[]) => spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 120_000 });

describe('ptefarm replay', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ptefarm-replay-'));
  writeFileSync(join(dir, 'clear-then-write.json'), JSON.stringify({
    format: 'ptefarm-case/1', name: 'regression: B-5 style',
    ops: [{ op: 'mmap', region: 'a', pages: 1, kind: 'anon' }, { op: 'write', region: 'a' }, { op: 'clear_refs', value: 4 }, { op: 'write', region: 'a' }],
  }));

  it('passes a corpus on the reference (exit 0)', () => {
    const r = run(['replay', dir, '--target', 'model:x86']);
    expect(r.status, r.stderr + r.stdout).toBe(0);
    expect(r.stdout).toMatch(/1 ok, 0 failed/);
  });

  it('fails on a target with the bug (exit 1), naming the signature', () => {
    const r = run(['replay', dir, '--target', 'model:x86+B-5', '--json']);
    expect(r.status).toBe(1);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(lines[0]).toMatchObject({ status: 'fail' });
    // one signature per case (its first divergence): B-5 leaves the PTE writable, so the write that
    // should fault (do_wp_page) does not set soft-dirty; the title names clear_refs (R-CR-2,
    // clear_soft_dirty), which left the PTE writable
    expect(lines[0].signature).toBe('bit.D.lost.R-FLT-8.page');
    expect(lines[0].title).toMatch(/^soft-dirty lost on write fault of .*\(R-FLT-8, mm\/memory\.c do_wp_page; set up by R-CR-2, fs\/proc\/task_mmu\.c clear_soft_dirty\)$/);
    expect(lines[0].first).toMatch(/^step \d+ \(write /);
    expect(lines.at(-1)).toMatchObject({ summary: true, failed: 1 });
  });

  it('reports an invalid file (exit 2 when nothing failed)', () => {
    const bad = mkdtempSync(join(tmpdir(), 'ptefarm-replay-bad-'));
    writeFileSync(join(bad, 'x.json'), '{"format":"ptefarm-case/1","ops":[{"op":"write","region":"a"}]}');
    const r = run(['replay', bad, '--target', 'model:x86']);
    expect(r.status).toBe(2);
    expect(r.stdout).toMatch(/ERROR .*x\.json/);
  });
});

describe('ptefarm replay --findings on a kernel without soft-dirty', () => {
  const NO_SD = fileURLToPath(new URL('../fixtures/no-soft-dirty-target.ts', import.meta.url));
  const noSd = (model: string) => `exec:${process.execPath} --import tsx ${NO_SD} ${model}`;
  // the README campaign's R-SPLIT-5 finding, in a model mutant's form (M-16: a folio split keeps
  // MADV_POPULATE_WRITE's zero-filled page instead of mapping the zero page, mm/migrate.c
  // try_to_map_unused_to_zeropage): the case clears soft-dirty, the divergence is the exclusive bit
  const c: Case = parseTextCase('ptefarm-case/1\nmmap a pages=512 kind=anon thp\nclear_refs\npopulate a[0] write\npageout a[256..512)\n');
  const workdir = async (signature: string) => {
    const wd = mkdtempSync(join(tmpdir(), 'ptefarm-replay-work-'));
    await recordFinding(wd, { target: 'live', signature, case: c, hits: 1, minimized: true, source: 'fuzz' });
    return wd;
  };
  const replay = (wd: string, model: string) => {
    const r = run(['replay', '--findings', '--workdir', wd, '--target', noSd(model), '--json']);
    return { r, line: JSON.parse(r.stdout.trim().split('\n')[0]!) };
  };

  it('a finding diverging on the exclusive bit is compared on those bits, not skipped as a soft-dirty case: not reproduced on the reference, reproduced on the bug', async () => {
    const wd = await workdir('bit.entry.mismatch.R-SPLIT-5.page');
    const ref = replay(wd, 'model:x86');
    expect(ref.r.status, ref.r.stderr + ref.r.stdout).toBe(0);
    expect(ref.line).toMatchObject({ status: 'ok', reproduced: false, finding_signature: 'bit.entry.mismatch.R-SPLIT-5.page' });
    expect(ref.line.bits.exclusive.compared).toBeGreaterThan(0);
    expect(ref.line.bits['soft-dirty']).toMatchObject({ compared: 0 });
    const bug = replay(wd, 'model:x86+M-16');
    expect(bug.r.status).toBe(1);
    expect(bug.line).toMatchObject({ status: 'fail', signature: 'bit.entry.mismatch.R-SPLIT-5.page', reproduced: true });
  }, 120_000);

  it('a finding stored under signature scheme 1 (bit.E.set…, before the entry-type letter) is compared as today\'s scheme names it, and the output says so', async () => {
    const wd = await workdir('bit.E.set.R-SPLIT-5.page');
    const bug = replay(wd, 'model:x86+M-16');
    expect(bug.r.status).toBe(1);
    expect(bug.line).toMatchObject({ status: 'fail', signature: 'bit.entry.mismatch.R-SPLIT-5.page', reproduced: true,
      finding_signature: 'bit.entry.mismatch.R-SPLIT-5.page', stored_signature: 'bit.E.set.R-SPLIT-5.page' });
    // on the reference it is compared on all four entry-type bits (signatureBitKinds of today's key), not skipped
    const ref = replay(wd, 'model:x86');
    expect(ref.line).toMatchObject({ status: 'ok', reproduced: false, stored_signature: 'bit.E.set.R-SPLIT-5.page' });
    expect(ref.line.bits.present.compared).toBeGreaterThan(0);
  }, 120_000);

  it('a finding recorded under an older scheme whose key differs today is said to be possibly re-keyed, not only "not the finding\'s"; one of today\'s scheme is not', async () => {
    // scheme 2 keyed a divergence on pages a file PMD split emptied on the op's rule (R-FLT-10, a
    // write); scheme 3 keys it on the split. Here: a scheme-2 key that today's scheme no longer
    // gives, on a case that fails with another key
    const key = 'bit.entry.mismatch.R-FLT-10.empty';
    /** a work directory holding the finding, its finding.json saying it was recorded under `scheme` */
    const recordedUnder = async (scheme: number) => {
      const wd = await workdir(key);
      const dir = join(wd, 'findings', readdirSync(join(wd, 'findings'))[0]!);
      const f = JSON.parse(readFileSync(join(dir, FINDING_FILE), 'utf8'));
      writeFileSync(join(dir, FINDING_FILE), JSON.stringify({ ...f, signature_version: scheme }));
      return wd;
    };
    const old = await recordedUnder(2);
    const json = replay(old, 'model:x86+M-16');
    expect(json.r.status).toBe(1);
    expect(json.line).toMatchObject({ status: 'fail', signature: 'bit.entry.mismatch.R-SPLIT-5.page', reproduced: false, finding_signature: key, finding_scheme: 2 });
    const text = run(['replay', '--findings', '--workdir', old, '--target', noSd('model:x86+M-16')]);
    expect(text.stdout).toMatch(/not the finding's bit\.entry\.mismatch\.R-FLT-10\.empty; recorded under signature scheme 2, today's \d+ may key the same root differently/);
    const now = replay(await recordedUnder(4), 'model:x86+M-16');
    expect(now.line).toMatchObject({ status: 'fail', reproduced: false, finding_signature: key });
    expect(now.line.finding_scheme).toBeUndefined();
  }, 120_000);

  it('a finding diverging on soft-dirty stays a SKIP there: its own bit is masked', async () => {
    const wd = await workdir('bit.D.lost.R-CR-2.page');
    const { r, line } = replay(wd, 'model:x86');
    expect(r.status, r.stderr + r.stdout).toBe(0);
    expect(line).toMatchObject({ status: 'skipped' });
    expect(line.reason).toMatch(/asserts soft-dirty, which this target cannot show/);
  }, 120_000);
});
