// The pieces that carry the selftests into a guest (src/selftests/cpio.ts, guest.ts): the newc
// overlay as GNU cpio reads it, its alignment after the base archive, the guest script, and the
// framing of its output (a selftest printing a frame without the run's nonce cannot forge one).
import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { appendArchive, newcArchive } from '../../src/selftests/cpio.ts';
import { guestScript, parseFrames } from '../../src/selftests/guest.ts';
import { SELFTESTS } from '../../src/selftests/catalogue.ts';

let cpio: string | undefined;
try { execFileSync('cpio', ['--version'], { stdio: 'ignore' }); cpio = 'cpio'; } catch { /* skipped below */ }

describe('newc overlay', () => {
  it.skipIf(!cpio)('GNU cpio extracts it: directories, modes and contents', () => {
    const dir = mkdtempSync(join(os.tmpdir(), 'ptefarm-cpio-'));
    const bin = Buffer.from('\x7fELF odd length!');
    const archive = newcArchive([{ path: 'selftests', mode: 0o040755 }, { path: 'selftests/x', mode: 0o100755, data: bin }, { path: 'bin/s', mode: 0o100644, data: Buffer.from('#!/bin/sh\n') }]);
    writeFileSync(join(dir, 'a.cpio'), archive);
    const list = execFileSync('cpio', ['-it', '--quiet', '-F', join(dir, 'a.cpio')], { encoding: 'utf8' }).trim().split('\n');
    expect(list).toEqual(['selftests', 'selftests/x', 'bin/s']);
    execFileSync('cpio', ['-idm', '--quiet', '-F', join(dir, 'a.cpio'), '--no-absolute-filenames'], { cwd: dir });
    expect(readFileSync(join(dir, 'selftests/x'))).toEqual(bin);
    expect(statSync(join(dir, 'selftests/x')).mode & 0o777).toBe(0o755);
    expect(statSync(join(dir, 'bin/s')).mode & 0o777).toBe(0o644);
  });

  it('starts on a 4-byte boundary after the base archive (init/initramfs.c skips zero padding only there)', () => {
    const overlay = newcArchive([{ path: 'f', mode: 0o100644, data: Buffer.from('x') }]);
    for (const n of [0, 1, 2, 3, 4, 513]) {
      const both = appendArchive(Buffer.alloc(n, 0x41), overlay);
      const at = both.indexOf('070701');
      expect(at % 4).toBe(0);
      expect(both.subarray(n, at).every((b) => b === 0)).toBe(true);
    }
    expect(() => newcArchive([{ path: '/abs', mode: 0o100644 }])).toThrow(/bad path/);
  });
});

describe('guest script and frames', () => {
  const nonce = 'feedc0de12345678';
  it('runs each present selftest with its user, limit and arguments', () => {
    const s = guestScript(nonce, SELFTESTS.map((t) => ({ t, present: t.name !== 'guard-regions' })));
    expect(s).toContain('run uffd-unit-tests root 900 -f wp');
    expect(s).toContain('run soft-dirty nobody 300');
    expect(s).not.toContain('run guard-regions');
    expect(s).toContain(`echo "@@${nonce} done"`);
    expect(() => guestScript(nonce, [{ t: { ...SELFTESTS[0], args: ['; reboot'] }, present: true }])).toThrow(/unsafe word/);
  });

  it('splits the output by frame; a frame with another nonce is output, not a frame', () => {
    const text = [
      'guest release=6.12.118+deb12-amd64 arch=x86_64 swap=1',
      `@@${nonce} begin madv_populate user=nobody`, 'TAP version 13', '@@0000000000000000 end madv_populate rc=0 ms=1', 'ok 1 x',
      `@@${nonce} end madv_populate rc=0 ms=180`,
      `@@${nonce} begin uffd-unit-tests user=root`, 'Testing wp-fork on anon... ',
      '',
    ].join('\n');
    const f = parseFrames(nonce, text);
    expect(f.guest.release).toBe('6.12.118+deb12-amd64');
    expect(f.done).toBe(false);
    expect(f.frames.get('madv_populate')).toEqual({ name: 'madv_populate', user: 'nobody', rc: 0, ms: 180, lines: ['TAP version 13', '@@0000000000000000 end madv_populate rc=0 ms=1', 'ok 1 x'] });
    expect(f.frames.get('uffd-unit-tests')?.rc).toBeUndefined();
  });
});
