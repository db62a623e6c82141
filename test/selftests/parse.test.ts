// The selftest output parsers (src/selftests/parse.ts) and the status rules (result.ts) on real
// output of the 6.12 selftests captured on the CI host (test/fixtures/selftests/README.md). The
// expected counts are the selftests' own: their `# Totals:` / summary line, which the parser checks
// its points against, and the test points counted by hand from the files.
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { parseKtap, parseUffdUnit } from '../../src/selftests/parse.ts';
import { judge } from '../../src/selftests/result.ts';
import { selftestNamed } from '../../src/selftests/catalogue.ts';

const fx = (f: string) => readFileSync(`test/fixtures/selftests/${f}`, 'utf8');
const T = (n: string) => selftestNamed(n)!;

describe('KTAP (kselftest.h)', () => {
  it('counts pass and skip points and agrees with the Totals line', () => {
    const p = parseKtap(fx('pagemap_ioctl.nobody.out'));
    expect(p.counts).toEqual({ pass: 97, fail: 0, skip: 18, xfail: 0 });
    expect(p.planned).toBe(115);
    expect(p.problems).toEqual([]);
    expect(p.points.find((x) => x.result === 'skip')?.reason).toMatch(/^Hugetlb/);
  });

  it('reads `1..0 # SKIP reason` as the whole selftest skipped', () => {
    const p = parseKtap(fx('soft-dirty.nobody.out'));
    expect(p.skipAll).toBe('soft-dirty is not support');
    expect(p.points).toEqual([]);
    expect(p.problems).toEqual([]);
  });

  it('reads a Bail out! as a stop, not as a plan mismatch', () => {
    const p = parseKtap(fx('pagemap_ioctl.unwritable-cwd.out'));
    expect(p.bailOut).toBe('Create and read/write to a memory mapped file: Permission denied');
    expect(p.counts).toEqual({ pass: 53, fail: 0, skip: 18, xfail: 0 });
    expect(p.problems).toEqual([]);
  });

  it('names a Totals line that disagrees with the points, and a run cut short', () => {
    const text = fx('madv_populate.nobody.out');
    expect(parseKtap(text).problems).toEqual([]);
    const forged = text.replace(/# Totals: pass:16/, '# Totals: pass:17');
    expect(parseKtap(forged).problems.join()).toMatch(/Totals line .*pass:17.* disagrees .*pass:16/);
    const cut = text.split('\n').filter((l) => !/^ok 1[0-6] /.test(l) && !l.startsWith('# Totals')).join('\n');
    expect(parseKtap(cut).problems).toEqual(['planned 16 tests, 9 ran']);
    expect(parseKtap('segfault\n').problems).toEqual(['no KTAP/TAP output (no version line, plan or test point)']);
  });

  it('reads not ok, XFAIL, TODO and a nested (indented) subtest as KTAP says', () => {
    const p = parseKtap(['KTAP version 1', '1..4', '    KTAP version 1', '    1..1', '    not ok 1 inner', 'not ok 1 outer # FAILED', 'ok 2 # XFAIL known', 'not ok 3 # TODO later', 'ok 4 - dash name', ''].join('\n'));
    expect(p.points.map((x) => [x.result, x.name])).toEqual([['fail', 'outer'], ['xfail', ''], ['fail', ''], ['pass', 'dash name']]);
    expect(p.problems).toEqual([]);
  });
});

describe('uffd-unit-tests lines (6.12)', () => {
  it('counts done / skipped / failed and agrees with its summary', () => {
    const p = parseUffdUnit(fx('uffd.root.out'));
    expect(p.counts).toEqual({ pass: 14, fail: 0, skip: 19, xfail: 0 });
    expect(p.planned).toBe(33);
    expect(p.problems).toEqual([]);
    expect(p.points[0]).toEqual({ result: 'pass', name: 'wp-fork on anon' });
  });

  it('reads the harness ERROR exit as a stop in the test that was running', () => {
    const p = parseUffdUnit(fx('uffd.nobody.out'));
    expect(p.counts).toEqual({ pass: 3, fail: 0, skip: 4, xfail: 0 });
    expect(p.bailOut).toBe('wp-fork-with-event on shmem-private: mmap of memfd failed at 0x40000000 (errno=1, @uffd-common.c:149)');
  });

  it('names a summary that disagrees with the lines', () => {
    const forged = fx('uffd.root.out').replace('pass=14', 'pass=15');
    expect(parseUffdUnit(forged).problems.join()).toMatch(/summary \(pass=15.*disagrees/);
  });
});

describe('status of a run', () => {
  const run = (name: string, file: string, exit: number, extra: object = {}) => judge(T(name), { output: fx(file), exit, ms: 1, user: 'nobody', ...extra });

  it('pass, skip-all, stopped early, harness abort', () => {
    expect(run('pagemap_ioctl', 'pagemap_ioctl.nobody.out', 0).status).toBe('pass');
    expect(run('soft-dirty', 'soft-dirty.nobody.out', 4)).toMatchObject({ status: 'skip', why: 'soft-dirty is not support' });
    expect(run('pagemap_ioctl', 'pagemap_ioctl.unwritable-cwd.out', 1)).toMatchObject({ status: 'fail', why: expect.stringMatching(/^stopped early: Create and read/) });
    expect(run('uffd-unit-tests', 'uffd.nobody.out', 1).status).toBe('fail');
    expect(run('uffd-unit-tests', 'uffd.root.out', 0).status).toBe('pass');
  });

  it('a timeout is an error, a signal death a failure, an exit code kselftest does not use an error', () => {
    expect(run('madv_populate', 'madv_populate.nobody.out', 0, { timedOut: true }).status).toBe('error');
    expect(judge(T('madv_populate'), { output: fx('madv_populate.nobody.out'), signal: 'SIGSEGV', ms: 1, user: 'nobody' })).toMatchObject({ status: 'fail', why: 'killed by SIGSEGV' });
    expect(run('madv_populate', 'madv_populate.nobody.out', 7)).toMatchObject({ status: 'error', why: 'exit 7 (not a kselftest exit code)' });
    expect(run('madv_populate', 'madv_populate.nobody.out', 1).status).toBe('fail');
  });

  it('one failing point fails the run, and the reason names it', () => {
    const text = fx('madv_populate.nobody.out').replace('ok 15 MADV_POPULATE_WRITE', 'not ok 15 MADV_POPULATE_WRITE').replace('pass:16 fail:0', 'pass:15 fail:1');
    expect(judge(T('madv_populate'), { output: text, exit: 1, ms: 1, user: 'nobody' })).toMatchObject({ status: 'fail', why: '1 failed: MADV_POPULATE_WRITE', counts: { pass: 15, fail: 1 } });
  });
});
