import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { validateCase } from '../../src/ops/validate.ts';

const BIN = new URL('../../bin/ptefarm.mjs', import.meta.url).pathname;
const run = (args: string[]) => spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 120_000 });

describe('ptefarm minimize', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ptefarm-min-'));
  const file = join(dir, 'case.json');
  writeFileSync(file, JSON.stringify({
    format: 'ptefarm-case/1',
    ops: [
      { op: 'mmap', region: 'a', pages: 8, kind: 'anon' },
      { op: 'mmap', region: 'b', pages: 4, kind: 'shared-anon' },
      { op: 'write', region: 'b' },
      { op: 'write', region: 'a' },
      { op: 'clear_refs', value: 4 },
      { op: 'read', region: 'a', first: 2, count: 2 },
      { op: 'write', region: 'a', first: 1, count: 5 },
      { op: 'fork' },
      { op: 'read', region: 'b', proc: 1 },
    ],
  }));

  it('prints a 1-minimal reproducer of a mutant (exit 1)', () => {
    const r = run(['minimize', '--target', 'model:x86+B-5', file, '--workdir', join(dir, 'work')]);
    expect(r.status, r.stderr).toBe(1);
    const c = JSON.parse(r.stdout);
    expect(validateCase(c)).toEqual([]);
    expect(c.ops.map((o: { op: string }) => o.op)).toEqual(['mmap', 'write', 'clear_refs', 'write']);
    expect(c.ops[0].pages).toBe(1);
    expect(r.stderr).toMatch(/1-minimal/);
  });

  it('leaves a passing case alone (exit 0)', () => {
    const r = run(['minimize', '--target', 'model:x86', file, '--workdir', join(dir, 'work')]);
    expect(r.status).toBe(0);
    expect(r.stderr).toMatch(/passes/);
  });
});
