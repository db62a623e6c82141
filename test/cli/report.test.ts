// `ptefarm report RUN_DIR` regenerates the four reports from a stored run; a directory without a
// run is exit 2 naming the problem.
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));
const cli = (...args: string[]) => spawnSync(process.execPath, [join(root, 'bin/ptefarm.mjs'), ...args], { encoding: 'utf8', cwd: root });

describe('ptefarm report', () => {
  it('regenerates junit.xml, ktap.txt, summary.md and report.html identically from gate.json, cases and traces', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ptefarm-report-'));
    const g = cli('gate', '--target', 'model:x86+B-3', '--corpus', 'corpus/mutants/B-3.json', '--cases', '0', '--out', dir, '--quiet', '--workdir', join(dir, 'work'));
    expect(g.status, g.stdout + g.stderr).toBe(1);
    const names = ['junit.xml', 'ktap.txt', 'summary.md', 'report.html'];
    const before = names.map((n) => readFileSync(join(dir, n), 'utf8'));
    for (const n of names) rmSync(join(dir, n));
    const extra = join(dir, 'elsewhere', 'k.ktap');
    const r = cli('report', dir, '--ktap', extra);
    expect(r.status, r.stderr).toBe(0);
    names.forEach((n, i) => expect(readFileSync(join(dir, n), 'utf8'), n).toBe(before[i]));
    expect(readFileSync(extra, 'utf8')).toBe(before[1]);
    expect(before[2]).toContain('B-3.json');
    expect(before[3]).toContain('<table class="steps">');
  }, 120_000);

  it('fuzz --out DIR keeps the summary, bucket cases and traces, and the reports; report RUN_DIR works on it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ptefarm-fuzz-out-'));
    const f = cli('fuzz', '--target', 'model:x86+B-3', '--cases', '200', '--seed', '1', '--no-save', '--threads', '1', '--out', dir);
    expect(f.status, f.stdout + f.stderr).toBe(1);
    const run = JSON.parse(readFileSync(join(dir, 'gate.json'), 'utf8')) as { buckets: { signature: string; case_file: string; trace_file?: string }[]; campaign: { cases: number } };
    expect(run.campaign.cases).toBe(200);
    expect(run.buckets.length).toBeGreaterThan(0);
    for (const b of run.buckets) {
      expect(existsSync(join(dir, b.case_file))).toBe(true);
      expect(existsSync(join(dir, b.trace_file!))).toBe(true);
    }
    for (const n of ['junit.xml', 'ktap.txt', 'summary.md', 'report.html']) expect(existsSync(join(dir, n)), n).toBe(true);
    expect(readFileSync(join(dir, 'ktap.txt'), 'utf8')).toMatch(new RegExp(`^not ok 1 bucket .* \\[${run.buckets[0].signature.replace(/\./g, '\\.')}\\]$`, 'm'));
    expect(cli('report', dir).status).toBe(0);
  }, 120_000);

  it('exit 2 for a directory that holds no run', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ptefarm-report-empty-'));
    const r = cli('report', dir);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/not a run directory \(gate\.json: ENOENT\)/);
    expect(existsSync(join(dir, 'report.html'))).toBe(false);
  });
});
