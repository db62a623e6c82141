// Where the built selftests live and how `ptefarm selftests fetch` builds them: it runs
// scripts/selftests-build.sh (no root: the source comes from an installed linux-source package or
// `apt-get download`) with the list of src/selftests/catalogue.ts, into a cache outside the repo.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { packagePath } from '../package-root.ts';
import { own } from '../ops/records.ts';
import type { GuestArch } from '../targets/qemu/images.ts';
import { SELFTESTS } from './catalogue.ts';

export const BUILD_SCRIPT = packagePath('scripts', 'selftests-build.sh');
/** The Debian source package the selftests come from: the line of the qemu:debian-6.12 guests. */
export const DEFAULT_SOURCE = 'linux-source-6.12';

export function selftestsCache(): string {
  return process.env.PTEFARM_SELFTESTS_CACHE ?? join(os.homedir(), '.cache', 'ptefarm', 'selftests');
}

export function sourceDir(pkg = DEFAULT_SOURCE): string {
  if (!/^linux-source-[0-9][0-9.]*$/.test(pkg)) throw new Error(`selftests: "${pkg}" is not a linux-source-X.Y package name`);
  return join(selftestsCache(), pkg);
}

export type BuildState = 'built' | 'absent' | 'failed';

export interface BuildManifest {
  package: string;
  version: string;
  built: string;
  arches: Record<string, Record<string, { state: BuildState; why?: string }>>;
}

export interface BuiltSelftests {
  dir: string;
  manifest: BuildManifest;
}

/** The build in the cache; throws naming `ptefarm selftests fetch` when there is none. */
export function readBuild(pkg = DEFAULT_SOURCE): BuiltSelftests {
  const dir = sourceDir(pkg);
  const path = join(dir, 'manifest.json');
  if (!existsSync(path)) throw new Error(`selftests: ${pkg} is not built; run \`ptefarm selftests fetch\``);
  return { dir, manifest: JSON.parse(readFileSync(path, 'utf8')) as BuildManifest };
}

/** One selftest's binary for an arch, or why there is none. */
export function binaryFor(b: BuiltSelftests, arch: GuestArch, name: string): { path: string } | { why: string; state: BuildState } {
  const perArch = own(b.manifest.arches, arch);
  if (!perArch) return { state: 'failed', why: `not built for ${arch}` };
  const e = own(perArch, name);
  if (!e) return { state: 'failed', why: `${name} is not in the build (run \`ptefarm selftests fetch\` again)` };
  if (e.state !== 'built') return { state: e.state, why: e.why ?? e.state };
  const path = join(b.dir, arch, name);
  return existsSync(path) ? { path } : { state: 'failed', why: `${path} is missing` };
}

/** Build (or confirm up to date) the selftests of `pkg` for `arches`; the script's output goes to `log`. */
export function fetchSelftests(pkg = DEFAULT_SOURCE, arches: readonly GuestArch[] = ['amd64', 'arm64'],
  log: (s: string) => void = (s) => process.stderr.write(s)): Promise<BuiltSelftests> {
  const dir = sourceDir(pkg);
  // the script splits these words unquoted: plain file names only
  for (const s of SELFTESTS) for (const w of [s.name, ...s.sources]) if (!/^[A-Za-z0-9._-]+$/.test(w)) throw new Error(`selftests: bad name "${w}" in the catalogue`);
  const specs = SELFTESTS.map((s) => `${s.name}=${s.sources.join(',')}`);
  return new Promise((res, rej) => {
    const child = spawn('bash', [BUILD_SCRIPT, pkg, dir, arches.join(','), ...specs], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.on('data', (d: Buffer) => log(d.toString()));
    child.stderr.on('data', (d: Buffer) => log(d.toString()));
    child.on('error', rej);
    child.on('close', (code) => {
      if (code !== 0) return rej(new Error(`selftests: building ${pkg} failed (exit ${code})`));
      try { res(readBuild(pkg)); } catch (e) { rej(e as Error); }
    });
  });
}
