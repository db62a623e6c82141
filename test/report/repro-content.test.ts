// The reproducer checks values too (the content oracle, src/model/content.ts): a case that moves
// data through a kernel path states the values each step must read back (want_vals), the program
// reads them through /proc/PID/mem and a wrong value fails it (exit 1, "(data)"). The data mutants'
// exposing cases pass on this kernel with the reference's expectations and fail with the mutant's.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { generateRepro, valueRanges } from '../../src/report/repro.ts';
import { parseCase } from '../../src/ops/validate.ts';
import { parseTextCase } from '../../src/ops/text.ts';

const haveCc = spawnSync('cc', ['--version']).status === 0;
const dir = mkdtempSync(join(tmpdir(), 'ptefarm-repro-content-'));
const load = (f: string) => parseCase(JSON.parse(readFileSync(new URL(`../../corpus/${f}`, import.meta.url), 'utf8')));
function run(name: string, src: string): { status: number | null; stdout: string } {
  const c = join(dir, `${name}.c`), bin = join(dir, name);
  writeFileSync(c, src);
  const b = spawnSync('cc', ['-Wall', '-Wextra', '-Werror', '-o', bin, c], { encoding: 'utf8' });
  expect(b.status, b.stderr).toBe(0);
  const r = spawnSync(bin, [], { encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, stdout: r.stdout };
}

describe('reproducer values', () => {
  it('values as merged ranges: a run of one write is V+, equal values V, pages the model maps nothing at left out', () => {
    expect(valueRanges([131072, 131073, null, 0, 0, 7])).toBe('0-1 131072+, 3-4 0, 5 7');
  });
  it('a case that only writes and reads in place keeps its short program; one that swaps states values', () => {
    expect(generateRepro(parseTextCase('mmap a pages=1 kind=anon\nwrite a\nread a\n'))).not.toContain('want_vals(');
    expect(generateRepro(load('mutants/D-2.json'))).toContain('want(0, "a", 0x200000000000, 2, "0-1 P..E.D"); want_vals(0, "a", "0-1 131072+");');
  });
  for (const id of ['D-1', 'D-2']) {
    it.skipIf(!haveCc)(`${id}'s exposing case passes here and fails on a wrong value with the mutant's expectations`, () => {
      const ok = run(`${id}-ref`, generateRepro(load(`mutants/${id}.json`)));
      if (ok.status === 4) { expect(ok.stdout).toMatch(/^# SKIP /m); return; } // no swap, or another outcome
      expect(ok.status, ok.stdout).toBe(0);
      const bad = run(`${id}-mut`, generateRepro(load(`mutants/${id}.json`), { expectFrom: `model:x86+${id}` }));
      expect(bad.status, bad.stdout).toBe(1);
      expect(bad.stdout).toMatch(/^# step 3 \(read a\): p0 a page 0 reads 131072, expected 0 \(data\)$/m);
    });
  }
});
