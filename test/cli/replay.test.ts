import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const BIN = new URL('../../bin/ptefarm.mjs', import.meta.url).pathname;
const run = (args: string[]) => spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 120_000 });

describe('ptefarm replay', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ptefarm-replay-'));
  writeFileSync(join(dir, 'clear-then-write.json'), JSON.stringify({
    format: 'ptefarm-case/1', name: 'regression: B-5 style',
    ops: [{ op: 'mmap', region: 'a', pages: 1, kind: 'anon' }, { op: 'write', region: 'a' }, { op: 'clear_refs', value: 4 }, { op: 'write', region: 'a' }],
  }));

  it('passes a corpus on the reference (exit 0)', () => {
    const r = run(['replay', dir, '--target', 'model:x86']);
    expect(r.status, r.stderr + r.stdout).toBe(0);
    expect(r.stdout).toMatch(/1 ok, 0 failed/);
  });

  it('fails on a target with the bug (exit 1), naming the signature', () => {
    const r = run(['replay', dir, '--target', 'model:x86+B-5', '--json']);
    expect(r.status).toBe(1);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(lines[0]).toMatchObject({ status: 'fail' });
    // one signature per case (its first divergence): B-5 leaves the PTE writable, so the write that
    // should fault (do_wp_page) does not set soft-dirty; the title names clear_refs (R-CR-2,
    // clear_soft_dirty), which left the PTE writable
    expect(lines[0].signature).toBe('bit.D.lost.R-FLT-8.page');
    expect(lines[0].title).toMatch(/^soft-dirty lost on write fault of .*\(R-FLT-8, mm\/memory\.c do_wp_page; set up by R-CR-2, fs\/proc\/task_mmu\.c clear_soft_dirty\)$/);
    expect(lines[0].first).toMatch(/^step \d+ \(write /);
    expect(lines.at(-1)).toMatchObject({ summary: true, failed: 1 });
  });

  it('reports an invalid file (exit 2 when nothing failed)', () => {
    const bad = mkdtempSync(join(tmpdir(), 'ptefarm-replay-bad-'));
    writeFileSync(join(bad, 'x.json'), '{"format":"ptefarm-case/1","ops":[{"op":"write","region":"a"}]}');
    const r = run(['replay', bad, '--target', 'model:x86']);
    expect(r.status).toBe(2);
    expect(r.stdout).toMatch(/ERROR .*x\.json/);
  });
});
