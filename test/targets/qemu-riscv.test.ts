// The riscv64 QEMU path for a user's own kernel (`--target qemu:kernel=PATH,arch=riscv64`): the
// command line (virt board, the Svrsw60t59b extension the riscv soft-dirty/uffd-wp series keeps its
// bits in), the guest executor cross-built with Debian's gcc-riscv64-linux-gnu, and a boot when a
// kernel is given (PTEFARM_RISCV_KERNEL=PATH; skipped with the reason otherwise: Debian ships no
// riscv64 kernel with that series, and no riscv64 busybox for bookworm).
import { describe, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { normArch, parseImageSpec, resolveImage, type GuestImage } from '../../src/targets/qemu/images.ts';
import { qemuBinary, qemuCommand, RISCV_CPU } from '../../src/targets/qemu/vm.ts';
import { QemuTarget } from '../../src/targets/qemu.ts';

const EXEC_SRC = fileURLToPath(new URL('../../workers/executor/ptefarm-exec.c', import.meta.url));
const has = (bin: string) => spawnSync('sh', ['-c', `command -v ${bin}`]).status === 0;

describe('riscv64 guests: the image spec and the QEMU command line', () => {
  it('`arch=riscv64` (or riscv) names a custom riscv64 image; there is no named riscv64 image', () => {
    expect(normArch('riscv64')).toBe('riscv64');
    expect(normArch('riscv')).toBe('riscv64');
    expect(parseImageSpec('kernel=/k/Image,arch=riscv64')).toMatchObject({ kind: 'custom', arch: 'riscv64', kernel: '/k/Image' });
    expect(() => normArch('mips')).toThrow(/amd64\/x86_64, arm64\/aarch64, riscv64/);
  });

  it('boots the virt board with Svrsw60t59b, OpenSBI, the ns16550 console and the virtio-serial executor channel', () => {
    const img: GuestImage = { spec: 'kernel=/k/Image,arch=riscv64', arch: 'riscv64', kernel: '/k/Image', initrd: '/c/initrd.cpio', dir: '/c' };
    const { bin, args } = qemuCommand(img, '/tmp/ex.sock', { riscvCpu: undefined });
    expect(bin).toBe('qemu-system-riscv64');
    expect(qemuBinary('riscv64')).toBe(bin);
    const at = (flag: string) => args[args.indexOf(flag) + 1];
    expect(at('-machine')).toBe('virt');
    expect(at('-cpu')).toBe(process.env.PTEFARM_QEMU_RISCV_CPU ?? RISCV_CPU);
    expect(RISCV_CPU).toMatch(/svrsw60t59b=true/);
    expect(at('-kernel')).toBe('/k/Image');
    expect(at('-initrd')).toBe('/c/initrd.cpio');
    expect(at('-accel')).toBe('tcg');
    expect(args).toContain('virtserialport,chardev=ex,name=exec0');
    expect(at('-chardev')).toBe('socket,id=ex,path=/tmp/ex.sock');
    expect(at('-append')).toMatch(/^console=ttyS0 panic=-1/);
    expect(args).not.toContain('-bios'); // QEMU's default firmware (OpenSBI) on virt
    // another CPU for a QEMU without the extension
    expect(qemuCommand(img, '/s', { riscvCpu: 'rv64' }).args).toContain('rv64');
  });
});

const osVersion = (() => { try { return Number(/^VERSION_ID="?(\d+)/m.exec(readFileSync('/etc/os-release', 'utf8'))?.[1] ?? 0); } catch { return 0; } })();

describe.skipIf(osVersion >= 13)('riscv64 initramfs on Debian before 13', () => {
  it('is refused with the reason before any package change (no busybox-static:riscv64 in bookworm)', () => {
    const dir = mkdtempSync(join(os.tmpdir(), 'ptefarm-riscv-img-'));
    try {
      const r = spawnSync('bash', [fileURLToPath(new URL('../../scripts/qemu-image.sh', import.meta.url)), 'initramfs', 'riscv64', dir], { encoding: 'utf8' });
      expect(r.status).toBe(1);
      expect(r.stderr).toMatch(/riscv64 guest images need Debian 13 \(trixie\)/);
      expect(existsSync(join(dir, 'initrd.cpio'))).toBe(false);
    } finally { rmSync(dir, { recursive: true, force: true }); }
  });
});

const cc = 'riscv64-linux-gnu-gcc';
const noCc = has(cc) ? undefined : `${cc} is not installed (apt-get install gcc-riscv64-linux-gnu libc6-dev-riscv64-cross; scripts/qemu-image.sh installs them)`;
if (noCc) process.stderr.write(`riscv64 executor build skipped: ${noCc}\n`);

describe.skipIf(!!noCc)('riscv64 guest executor', () => {
  it('cross-builds statically from the same source as the image script (a 64-bit RISC-V ELF)', () => {
    const dir = mkdtempSync(join(os.tmpdir(), 'ptefarm-riscv-'));
    try {
      const out = join(dir, 'ptefarm-exec');
      // the flags of scripts/qemu-image.sh; warnings fail the test here
      execFileSync(cc, ['-O2', '-Wall', '-Werror', '-Wno-error=unused-result', '-std=gnu11', '-static', '-o', out, EXEC_SRC], { stdio: ['ignore', 'pipe', 'pipe'] });
      const h = readFileSync(out).subarray(0, 20);
      expect([...h.subarray(0, 4)]).toEqual([0x7f, 0x45, 0x4c, 0x46]); // ELF
      expect(h[4]).toBe(2); // ELFCLASS64
      expect(h[5]).toBe(1); // little endian
      expect(h.readUInt16LE(16)).toBe(2); // ET_EXEC: static
      expect(h.readUInt16LE(18)).toBe(243); // EM_RISCV
    } finally { rmSync(dir, { recursive: true, force: true }); }
  }, 120_000);
});

// a boot needs the user's kernel, the initramfs (`ptefarm qemu fetch kernel=PATH,arch=riscv64`) and QEMU
const KERNEL = process.env.PTEFARM_RISCV_KERNEL;
function bootUnavailable(): string | undefined {
  if (!KERNEL) return 'no riscv64 kernel: set PTEFARM_RISCV_KERNEL to an Image built with the soft-dirty/uffd-wp series (Debian has none)';
  if (!existsSync(KERNEL)) return `PTEFARM_RISCV_KERNEL=${KERNEL} does not exist`;
  if (!has(qemuBinary('riscv64'))) return 'qemu-system-riscv64 is not installed (apt-get install qemu-system-misc)';
  try { resolveImage(`kernel=${KERNEL},arch=riscv64`); } catch (e) { return (e as Error).message; }
  return undefined;
}
const noBoot = bootUnavailable();
if (noBoot) process.stderr.write(`riscv64 boot skipped: ${noBoot}\n`);

describe.skipIf(!!noBoot)('riscv64 guest boot', () => {
  it('boots the given kernel and probes the guest executor (capabilities from its own probe)', async () => {
    const t = new QemuTarget(`kernel=${KERNEL},arch=riscv64`);
    try {
      const info = await t.info();
      expect(info.arch).toBe('riscv64');
      expect(typeof info.capabilities.uffd_wp).toBe('boolean');
    } finally { await t.close(); }
  }, 600_000);
});
