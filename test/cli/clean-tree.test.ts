// A fuzz run must not edit the repository (issue 12, item 5): `fuzz` on a mutant target (with and
// without --out), `gate`, `minimize` and `replay` run from the repository's own worktree the way the
// suite runs them, and `git status --porcelain` (plus the content of already-modified files) is the
// same afterwards — empty on a clean checkout. Their findings land in the temporary work directory;
// without --workdir they land in ./ptefarm-work of the current directory.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));
const BIN = join(root, 'bin/ptefarm.mjs');
const run = (args: string[], cwd = root) => spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 240_000, cwd });
const git = (...args: string[]) => {
  const r = spawnSync('git', args, { cwd: root, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`git ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
};
const inGit = spawnSync('git', ['rev-parse', '--is-inside-work-tree'], { cwd: root, encoding: 'utf8' }).stdout.trim() === 'true';
/** what git sees: status (tracked changes and untracked files) and the bytes of every tracked change */
const snapshot = () => ({
  status: git('status', '--porcelain', '--untracked-files=all'),
  diff: createHash('sha256').update(git('diff', 'HEAD', '--binary')).digest('hex'),
});

describe.skipIf(!inGit)('campaign commands leave the repository untouched', () => {
  it('fuzz (mutant, --out), gate, minimize and replay change nothing git tracks or sees', () => {
    const before = snapshot();
    const tmp = mkdtempSync(join(tmpdir(), 'ptefarm-clean-'));
    const workdir = join(tmp, 'work');

    const f = run(['fuzz', '--target', 'model:x86+B-3', '--cases', '500', '--seed', '1', '--threads', '1', '--stop-after', '1', '--json', '--workdir', workdir]);
    expect(f.status, f.stderr).toBe(1);
    const fo = run(['fuzz', '--target', 'model:x86+B-5', '--cases', '500', '--seed', '1', '--threads', '1', '--stop-after', '1', '--out', join(tmp, 'run'), '--workdir', workdir]);
    expect(fo.status, fo.stderr).toBe(1);
    const g = run(['gate', '--target', 'model:x86+B-3', '--corpus', 'corpus/mutants/B-3.json', '--cases', '30', '--seed', '7', '--quiet', '--workdir', workdir]);
    expect(g.status, g.stderr).toBe(1);
    // the gate's run directory defaults into the work directory
    expect(readdirSync(join(workdir, 'runs')).some((d) => d.startsWith('gate-'))).toBe(true);

    const ids = readdirSync(join(workdir, 'findings'));
    expect(ids.length).toBeGreaterThanOrEqual(2);
    const one = join(workdir, 'findings', ids[0]!, 'case.json');
    const m = run(['minimize', '--target', 'model:x86+B-3', 'corpus/mutants/B-3.json', '--workdir', workdir]);
    expect(m.status, m.stderr).toBe(1);
    const r = run(['replay', '--target', 'model:x86+B-3', '--findings', '--workdir', workdir, '--json']);
    expect([0, 1]).toContain(r.status);
    expect(r.stdout).toContain(one);
    const rd = run(['replay', '--target', 'model:x86']);
    expect(rd.status, rd.stdout).toBe(0);

    const after = snapshot();
    expect(after).toEqual(before);
    if (before.status === '') expect(after.status).toBe('');
  }, 600_000);

  it('without --workdir, findings go to ./ptefarm-work of the current directory', () => {
    const cwd = mkdtempSync(join(tmpdir(), 'ptefarm-cwd-'));
    const f = run(['fuzz', '--target', 'model:x86+B-5', '--cases', '500', '--seed', '1', '--threads', '1', '--stop-after', '1', '--json'], cwd);
    expect(f.status, f.stderr).toBe(1);
    expect(readdirSync(join(cwd, 'ptefarm-work', 'findings')).length).toBeGreaterThanOrEqual(1);
    expect(existsSync(join(cwd, 'corpus'))).toBe(false);
  }, 240_000);
});
