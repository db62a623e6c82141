// Run the built selftests on this machine's kernel (`ptefarm selftests --target live`). Each runs in
// its own scratch directory, from a copy there (pagemap_ioctl creates files in its working directory
// and maps its own binary), as nobody like a ptefarm case process unless the catalogue says why it
// needs root; when ptefarm itself is not root, all of them run as the current user and the report
// says so.
import { spawn } from 'node:child_process';
import { chmodSync, chownSync, copyFileSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import type { GuestArch } from '../targets/qemu/images.ts';
import { binaryFor, type BuiltSelftests } from './build.ts';
import type { Selftest } from './catalogue.ts';
import { judge, notBuilt, type RawRun, type SelftestRun } from './result.ts';

const SETPRIV = ['/usr/bin/setpriv', '/bin/setpriv'].find((p) => existsSync(p));
const NOBODY = 65534;

export function hostArch(): GuestArch {
  if (process.arch === 'x64') return 'amd64';
  if (process.arch === 'arm64') return 'arm64';
  throw new Error(`selftests: no selftest build for host arch ${process.arch}`);
}

function runOnce(bin: string, t: Selftest, asNobody: boolean, user: string): Promise<RawRun> {
  const dir = mkdtempSync(join(os.tmpdir(), `ptefarm-selftest-${t.name}-`));
  // a copy in the scratch directory: pagemap_ioctl maps its own argv[0], which nobody cannot open
  // in a cache under a private home
  const exe = join(dir, t.name);
  copyFileSync(bin, exe);
  chmodSync(exe, 0o755);
  if (asNobody) chownSync(dir, NOBODY, NOBODY);
  const [cmd, argv] = asNobody
    ? [SETPRIV!, ['--reuid', String(NOBODY), '--regid', String(NOBODY), '--clear-groups', '--', exe, ...t.args]]
    : [exe, [...t.args]];
  const t0 = Date.now();
  return new Promise((res) => {
    let out = '';
    let timedOut = false;
    const child = spawn(cmd, argv, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: '/usr/bin:/bin', LANG: 'C' }, detached: true });
    const take = (d: Buffer) => { out = (out + d.toString()).slice(-262144); };
    child.stdout.on('data', take);
    child.stderr.on('data', take);
    // the whole process group: uffd-unit-tests forks
    const timer = setTimeout(() => { timedOut = true; try { process.kill(-child.pid!, 'SIGKILL'); } catch { /* gone */ } }, t.timeoutS * 1000);
    const done = (exit: number | undefined, signal: string | undefined) => {
      clearTimeout(timer);
      try { rmSync(dir, { recursive: true, force: true }); } catch { /* best effort */ }
      res({ output: out, ...(exit !== undefined ? { exit } : {}), ...(signal ? { signal } : {}), timedOut, ms: Date.now() - t0, user });
    };
    child.on('error', (e) => { out += `\ncould not run ${bin}: ${e.message}\n`; done(undefined, undefined); });
    child.on('close', (code, sig) => done(code ?? undefined, sig ?? undefined));
  });
}

export async function runLive(b: BuiltSelftests, tests: readonly Selftest[], log: (l: string) => void = () => undefined): Promise<SelftestRun[]> {
  const arch = hostArch();
  const isRoot = process.getuid?.() === 0;
  const out: SelftestRun[] = [];
  for (const t of tests) {
    const bin = binaryFor(b, arch, t.name);
    if (!('path' in bin)) { out.push(notBuilt(t, bin.why)); continue; }
    const asNobody = isRoot && !t.root && SETPRIV !== undefined;
    const user = isRoot ? (asNobody ? 'nobody' : 'root') : `uid ${process.getuid?.()}`;
    log(`selftests: ${[t.name, ...t.args].join(' ')} as ${user} on the live kernel`);
    const r = judge(t, await runOnce(bin.path, t, asNobody, user));
    if (!isRoot && t.root) r.why = [r.why, `ran unprivileged; it needs root: ${t.root}`].filter(Boolean).join('; ');
    out.push(r);
  }
  return out;
}
