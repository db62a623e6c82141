// `ptefarm report RUN_DIR` reads only files inside RUN_DIR: gate.json is input, and a case_file or
// trace_file that climbs out (`..`), is absolute, or leads out through a symlink is refused with a
// message, never read (issue 18 item 11: a gate.json naming /etc/passwd put it in report.html).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { readRunFile } from '../../src/report/rundir.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));
const cli = (...args: string[]) => spawnSync(process.execPath, [join(root, 'bin/ptefarm.mjs'), ...args], { encoding: 'utf8', cwd: root });
const SECRET = '/etc/passwd';
const secretText = readFileSync(SECRET, 'utf8');
const secretLine = secretText.split('\n')[0]; // root:x:0:0:...

describe('report RUN_DIR stays inside RUN_DIR', () => {
  let dir: string;
  let gate: { buckets: { case_file: string; trace_file?: string }[] };
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'ptefarm-rundir-'));
    const g = cli('gate', '--target', 'model:x86+B-3', '--corpus', 'corpus/mutants/B-3.json', '--cases', '0', '--out', dir, '--quiet');
    expect(g.status, g.stdout + g.stderr).toBe(1);
    gate = JSON.parse(readFileSync(join(dir, 'gate.json'), 'utf8'));
    expect(gate.buckets.length).toBeGreaterThan(0);
    symlinkSync(SECRET, join(dir, 'cases', 'evil.json'));
    symlinkSync('/etc', join(dir, 'traces', 'etc'));
  }, 120_000);

  it('readRunFile refuses .., absolute paths and symlinks out; reads files inside', async () => {
    const ok = gate.buckets[0].case_file;
    await expect(readRunFile(dir, ok)).resolves.toContain('ptefarm-case/1');
    for (const bad of ['../../../../../../../../etc/passwd', SECRET, 'cases/../../../../../../../etc/passwd', 'cases/evil.json', 'traces/etc/passwd', '', 42, null]) {
      await expect(readRunFile(dir, bad), String(bad)).rejects.toThrow(/not a relative path inside the run directory|outside the run directory/);
    }
  });

  for (const [what, field, value] of [
    ['a case_file climbing out with ..', 'case_file', `../../../../../../../..${SECRET}`],
    ['an absolute case_file', 'case_file', SECRET],
    ['a case_file that is a symlink to /etc/passwd', 'case_file', 'cases/evil.json'],
    ['a trace_file through a symlinked directory', 'trace_file', 'traces/etc/passwd'],
  ] as const) {
    it(`${what}: the report is written, names the problem, and holds nothing of the file`, () => {
      const forged = JSON.parse(JSON.stringify(gate));
      forged.buckets[0][field] = value;
      writeFileSync(join(dir, 'gate.json'), JSON.stringify(forged));
      const r = cli('report', dir);
      expect(r.status, r.stderr).toBe(0);
      const html = readFileSync(join(dir, 'report.html'), 'utf8');
      expect(html).toMatch(/outside the run directory|not a relative path inside the run directory/);
      for (const f of ['report.html', 'junit.xml', 'ktap.txt', 'summary.md']) {
        const text = readFileSync(join(dir, f), 'utf8');
        expect(text.includes(secretLine), f).toBe(false);
        expect(text.includes('root:x:0'), f).toBe(false);
      }
    }, 60_000);
  }
});
