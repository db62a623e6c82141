// `ptefarm selftests` refusals: each bad input exits 2 with a message naming the problem and what
// to do, before anything runs (src/cli/commands/selftests.ts).
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';

const BIN = new URL('../../bin/ptefarm.mjs', import.meta.url).pathname;
const run = (args: string[], env: Record<string, string> = {}) =>
  spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 120_000, env: { ...process.env, ...env } });

describe('ptefarm selftests refusals', () => {
  it('names an unknown selftest, a missing build, a non-kernel target, a bad package name', () => {
    const cases: [string[], Record<string, string>, RegExp][] = [
      [['selftests', '--only', 'bogus'], {}, /unknown selftest "bogus" \(soft-dirty, pagemap_ioctl, uffd-unit-tests, madv_populate, guard-regions\)/],
      [['selftests', '--no-verdict'], { PTEFARM_SELFTESTS_CACHE: '/nonexistent/ptefarm-selftests' }, /linux-source-6\.12 is not built; run `ptefarm selftests fetch`/],
      [['selftests', 'fetch', '--source', 'linux-source-x; rm'], {}, /"linux-source-x; rm" is not a linux-source-X\.Y package name/],
      [['selftests', 'fetch', '--arch', 'mips'], {}, /unsupported arch "mips"/],
      [['selftests', '--target', 'live', '--target', 'qemu:debian-6.12-amd64', '--gate', '/tmp'], {}, /--gate DIR names the verdict of one target/],
    ];
    for (const [args, env, msg] of cases) {
      const r = run(args, env);
      expect(r.status, args.join(' ') + r.stderr).toBe(2);
      expect(r.stderr).toMatch(msg);
    }
  }, 300_000);
});
