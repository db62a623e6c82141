// Image specs of the qemu: target (src/targets/qemu/images.ts): a pinned point release beside the
// meta-package's current one (NAME@previous, NAME@RELEASE, resolved through apt by
// scripts/qemu-image.sh), and the `,mthp=` guest option. The pinned image's own boot and
// differential run in test/targets/qemu.test.ts.
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IMAGE_SCRIPT, parseImageSpec, parseMthp } from '../../src/targets/qemu/images.ts';

describe('image specs', () => {
  it('a named image may be pinned to the previous point release or to one the package names spell', () => {
    expect(parseImageSpec('debian-6.12-amd64@previous')).toMatchObject({ kind: 'named', name: 'debian-6.12-amd64', pin: 'previous' });
    expect(parseImageSpec('debian-6.12-amd64@6.12.111+deb12')).toMatchObject({ kind: 'named', name: 'debian-6.12-amd64', pin: '6.12.111+deb12' });
    expect(parseImageSpec('debian-6.1-amd64@6.1.0-47')).toMatchObject({ kind: 'named', image: { line: '6.1' }, pin: '6.1.0-47' });
    expect(parseImageSpec('debian-6.12-amd64')).not.toHaveProperty('pin');
  });

  it('a pin that is no release is refused by name (it reaches a shell script and a cache path)', () => {
    for (const bad of ['../../etc', '6.12 ; rm -rf /', '', 'latest', '6.12.1/x']) {
      expect(() => parseImageSpec(`debian-6.12-amd64@${bad}`), bad).toThrow(/bad point release|unknown image/);
    }
    expect(() => parseImageSpec('no-such-image@previous')).toThrow(/unknown image/);
  });

  it('mthp= takes powers of two in kB, or all, on named, pinned and custom images', () => {
    expect(parseMthp('16K+64K')).toBe('16,64');
    expect(parseMthp('all')).toBe('all');
    expect(parseImageSpec('debian-6.12-amd64@previous,mthp=16K')).toMatchObject({ pin: 'previous', mthp: '16' });
    expect(parseImageSpec('kernel=/k/Image,arch=arm64,mthp=all')).toMatchObject({ kind: 'custom', mthp: 'all' });
    for (const bad of ['12K', '4K', 'x', '16K+', '16K;reboot']) expect(() => parseMthp(bad), bad).toThrow(/bad mthp size/);
  });

  it('the image script refuses a malformed pin before touching apt', () => {
    const out = mkdtempSync(join(tmpdir(), 'ptefarm-img-'));
    try {
      const r = spawnSync('bash', [IMAGE_SCRIPT, 'debian', 'amd64', 'linux-image-6.12-amd64', out, '6.12;true'], { encoding: 'utf8' });
      expect(r.status).toBe(1);
      expect(r.stderr).toMatch(/bad point release "6\.12;true"/);
    } finally { rmSync(out, { recursive: true, force: true }); }
  });
});
