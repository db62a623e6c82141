// QEMU guest images: the named Debian kernels, user-built kernels (`kernel=PATH,arch=ARCH[,config=PATH]`),
// where they are cached, and how `ptefarm qemu fetch` builds them (scripts/qemu-image.sh).
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import { join, resolve } from 'node:path';
import { packagePath } from '../../package-root.ts';
import { own } from '../../ops/records.ts';

/** Debian architecture names; riscv64 only as a user's own kernel (`kernel=PATH,arch=riscv64`) */
export type GuestArch = 'amd64' | 'arm64' | 'riscv64';

export interface NamedImage {
  arch: GuestArch;
  /** Debian meta-package whose dependency names the current kernel package (never a point release) */
  meta: string;
  /** the release line the meta-package must resolve to */
  line: string;
}

export const NAMED_IMAGES: Record<string, NamedImage> = {
  'debian-6.12-amd64': { arch: 'amd64', meta: 'linux-image-6.12-amd64', line: '6.12' },
  'debian-6.12-arm64': { arch: 'arm64', meta: 'linux-image-6.12-arm64', line: '6.12' },
  // bookworm's default kernel is the 6.1 line
  'debian-6.1-amd64': { arch: 'amd64', meta: 'linux-image-amd64', line: '6.1' },
  // 16 KiB pages (CONFIG_ARM64_16K_PAGES): a PMD maps 32 MiB (2048 pages); the page size comes from
  // the guest's probe (sysconf) and is what the model and the executor's addresses count in
  'debian-6.12-arm64-16k': { arch: 'arm64', meta: 'linux-image-6.12-arm64-16k', line: '6.12' },
  // PREEMPT_RT flavours: their own configs decide soft-dirty/THP (each guest's probe says which)
  'debian-6.12-amd64-rt': { arch: 'amd64', meta: 'linux-image-6.12-rt-amd64', line: '6.12' },
  'debian-6.12-arm64-rt': { arch: 'arm64', meta: 'linux-image-6.12-rt-arm64', line: '6.12' },
};

export const IMAGE_SCRIPT = packagePath('scripts', 'qemu-image.sh');

export function cacheRoot(): string {
  return process.env.PTEFARM_QEMU_CACHE ?? join(os.homedir(), '.cache', 'ptefarm', 'qemu');
}

/** What QEMU boots: everything resolved to files. */
export interface GuestImage {
  /** the spec as given (`debian-6.12-amd64`, `kernel=...,arch=...`) */
  spec: string;
  arch: GuestArch;
  kernel: string;
  initrd: string;
  /** kernel config, when known */
  config?: string;
  /** kernel release from the package (the guest reports its own at boot) */
  release?: string;
  /** directory holding the initramfs (and for named images, everything): snapshots go here */
  dir: string;
  /** anon mTHP sizes (kB) the guest's init sets to `always` (`,mthp=16K+64K` or `,mthp=all`), read from
   *  the kernel command line (`ptefarm.mthp=`) by scripts/qemu-image.sh's init */
  mthp?: string;
}

export function normArch(a: string): GuestArch {
  if (a === 'amd64' || a === 'x86_64' || a === 'x86') return 'amd64';
  if (a === 'arm64' || a === 'aarch64') return 'arm64';
  if (a === 'riscv64' || a === 'riscv') return 'riscv64';
  throw new Error(`qemu: unsupported arch "${a}" (amd64/x86_64, arm64/aarch64, riscv64)`);
}

export type ImageSpec = (
  | { kind: 'named'; name: string; image: NamedImage; pin?: string }
  | { kind: 'custom'; kernel: string; arch: GuestArch; config?: string }
) & { mthp?: string };

/** `mthp=16K+64K` / `mthp=all`: the anon mTHP sizes a guest turns on at boot, as kB numbers joined by
 *  commas for the kernel command line (`all`: every size the guest has). Any other text is refused. */
export function parseMthp(v: string): string {
  if (v === 'all') return 'all';
  const sizes = v.split('+').map((x) => {
    const m = /^(\d{1,5})K$/i.exec(x);
    const kb = m ? Number(m[1]) : NaN;
    // mTHP orders are powers of two from 8 KiB; the PMD size is THP's own `enabled`
    if (!(kb >= 8 && (kb & (kb - 1)) === 0)) throw new Error(`qemu: bad mthp size "${x}" (a power of two in kB, e.g. mthp=16K+64K, or mthp=all)`);
    return String(kb);
  });
  return sizes.join(',');
}

export function parseImageSpec(spec: string): ImageSpec {
  // a trailing `,mthp=...` works for named and custom images alike
  const mm = /^(.*),mthp=([^,]*)$/.exec(spec);
  if (mm) return { ...parseImageSpec(mm[1]), mthp: parseMthp(mm[2]) };
  const named = own(NAMED_IMAGES, spec);
  if (named) return { kind: 'named', name: spec, image: named };
  // a pinned point release beside the meta-package's current one: NAME@previous (the newest release
  // below the current one that apt lists) or NAME@RELEASE as the package names spell it
  // (6.12.111+deb12, 6.1.0-47); scripts/qemu-image.sh resolves it through apt-cache at fetch time
  const at = spec.lastIndexOf('@');
  const pinned = at > 0 ? own(NAMED_IMAGES, spec.slice(0, at)) : undefined;
  if (pinned) {
    const pin = spec.slice(at + 1);
    if (pin !== 'previous' && !/^\d+\.\d+(\.\d+)?([+-][0-9a-z.]+)?$/.test(pin)) {
      throw new Error(`qemu: bad point release "${pin.slice(0, 40)}" in ${spec.slice(0, 80)} (@previous, or a release as in the package name: @6.12.111+deb12, @6.1.0-47)`);
    }
    return { kind: 'named', name: spec.slice(0, at), image: pinned, pin };
  }
  if (spec.includes('=')) {
    const kv: Record<string, string> = {};
    for (const part of spec.split(',')) {
      const i = part.indexOf('=');
      if (i <= 0) throw new Error(`qemu: bad image spec part "${part}" (expected key=value)`);
      kv[part.slice(0, i)] = part.slice(i + 1);
    }
    for (const k of Object.keys(kv)) if (!['kernel', 'arch', 'config'].includes(k)) throw new Error(`qemu: unknown image key "${k}" (kernel, arch, config)`);
    if (!kv.kernel || !kv.arch) throw new Error('qemu: a custom image needs kernel=PATH,arch=ARCH[,config=PATH]');
    return { kind: 'custom', kernel: resolve(kv.kernel), arch: normArch(kv.arch), config: kv.config ? resolve(kv.config) : undefined };
  }
  throw new Error(`qemu: unknown image "${spec}" (named: ${Object.keys(NAMED_IMAGES).join(', ')}; or kernel=PATH,arch=ARCH[,config=PATH]; a named image may be pinned, NAME@previous or NAME@6.12.111+deb12; either may end in ,mthp=16K+64K or ,mthp=all)`);
}

function imageDir(s: ImageSpec): string {
  return s.kind === 'named' ? join(cacheRoot(), s.pin ? `${s.name}@${s.pin}` : s.name) : join(cacheRoot(), `initramfs-${s.arch}`);
}

interface Manifest { arch: string; release: string; package: string; version: string }

/** Resolve a spec to files that exist; throws (naming the fetch command) when it is not fetched. */
export function resolveImage(spec: string): GuestImage {
  const s = parseImageSpec(spec);
  const dir = imageDir(s);
  const initrd = join(dir, 'initrd.cpio');
  if (s.kind === 'named') {
    const kernel = join(dir, 'kernel');
    if (!existsSync(kernel) || !existsSync(initrd) || !existsSync(join(dir, 'manifest.json'))) {
      throw new Error(`qemu: image ${spec} is not fetched; run \`ptefarm qemu fetch ${spec}\``);
    }
    const m = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as Manifest;
    return { spec, arch: s.image.arch, kernel, initrd, config: join(dir, 'config'), release: m.release, dir, mthp: s.mthp };
  }
  if (!existsSync(s.kernel)) throw new Error(`qemu: kernel ${s.kernel} does not exist`);
  if (s.config && !existsSync(s.config)) throw new Error(`qemu: config ${s.config} does not exist`);
  if (!existsSync(initrd)) throw new Error(`qemu: no initramfs for ${s.arch}; run \`ptefarm qemu fetch '${spec}'\``);
  return { spec, arch: s.arch, kernel: s.kernel, initrd, config: s.config, dir, mthp: s.mthp };
}

/** Build (or confirm up to date) the image for a spec. Output of the script goes to `log`. */
export function fetchImage(spec: string, log: (s: string) => void = (s) => process.stderr.write(s)): Promise<GuestImage> {
  const s = parseImageSpec(spec);
  const dir = imageDir(s);
  const args = s.kind === 'named' ? ['debian', s.image.arch, s.image.meta, dir, ...(s.pin ? [s.pin] : [])] : ['initramfs', s.arch, dir];
  return new Promise((res, rej) => {
    const child = spawn('bash', [IMAGE_SCRIPT, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.on('data', (d: Buffer) => log(d.toString()));
    child.stderr.on('data', (d: Buffer) => log(d.toString()));
    child.on('error', rej);
    child.on('close', (code) => {
      if (code !== 0) return rej(new Error(`qemu: building image ${spec} failed (exit ${code})`));
      try {
        const img = resolveImage(spec);
        if (s.kind === 'named' && img.release && !img.release.startsWith(s.image.line + '.')) {
          return rej(new Error(`qemu: ${s.image.meta} resolved to kernel ${img.release}, not the ${s.image.line} line`));
        }
        res(img);
      } catch (e) { rej(e as Error); }
    });
  });
}

/** `CONFIG_X=y|m|value` lines of a kernel config (unset options are absent) */
export function readKernelConfig(path: string | undefined): Record<string, string> | undefined {
  if (!path || !existsSync(path)) return undefined;
  const out: Record<string, string> = {};
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    const m = /^(CONFIG_\w+)=(.*)$/.exec(line);
    if (m) out[m[1]] = m[2];
  }
  return out;
}
