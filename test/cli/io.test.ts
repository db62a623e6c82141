// src/cli/io.ts readCase: every command that reads a case (run, check, repro, minimize) takes the
// JSON form or the text form `ptefarm fmt` prints (docs/case-format.md "Text form"), and a bad file
// of either form is an InputError (exit 2) naming the file and the problem.
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { InputError, readCase } from '../../src/cli/io.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'ptefarm-io-'));
const file = (name: string, text: string) => { const p = join(dir, name); writeFileSync(p, text); return p; };
const cli = (...args: string[]) => spawnSync(process.execPath, [join(root, 'bin/ptefarm.mjs'), ...args], { encoding: 'utf8', cwd: root });

const json = {
  format: 'ptefarm-case/1', uffd: { features: ['wp_async'] },
  ops: [
    { op: 'mmap', region: 'a', pages: 4, kind: 'anon' },
    { op: 'uffd_register', region: 'a' },
    { op: 'write', region: 'a', first: 0, count: 2 },
    { op: 'wp', region: 'a', on: true },
  ],
};
const text = ['ptefarm-case/1', 'uffd features=wp_async', '0 mmap a pages=4 kind=anon', '1 uffd_register a', '2 write a[0..2)', '3 wp a on', ''].join('\n');

describe('readCase', () => {
  it('reads the JSON form and the text form of one case alike', () => {
    expect(readCase(file('c.txt', text))).toStrictEqual(readCase(file('c.json', JSON.stringify(json))));
    expect(readCase(file('c2.json', `\n  ${JSON.stringify(json, null, 2)}`)).ops).toHaveLength(4);
  });

  it('names the file and the line of a bad text case, the file of bad JSON', () => {
    const bad = file('bad.txt', text.replace('2 write a[0..2)', '2 write a[0..9)'));
    expect(() => readCase(bad)).toThrow(InputError);
    expect(() => readCase(bad)).toThrow(/bad\.txt.*\n.*line 5/);
    expect(() => readCase(file('bad.json', '{"format": '))).toThrow(/bad\.json: not valid JSON/);
    expect(() => readCase(join(dir, 'missing.json'))).toThrow(/missing\.json: cannot read: ENOENT/);
  });

  it('ptefarm run --target model:x86 takes the text form (exit 0) and rejects a bad one with exit 2', () => {
    const ok = cli('run', '--target', 'model:x86', file('run.txt', text));
    expect(ok.stderr).toBe('');
    expect(ok.status).toBe(0);
    expect(JSON.parse(ok.stdout).steps).toHaveLength(4);
    const bad = cli('run', '--target', 'model:x86', file('run-bad.txt', 'ptefarm-case/1\n0 mmap a pages=4 kind=anon\n1 frobnicate a\n'));
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/run-bad\.txt.*\n.*line 3/);
  });
});
