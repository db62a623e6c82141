import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fmtCommand } from '../../src/cli/commands/fmt.ts';
import { parseCase } from '../../src/ops/validate.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'ptefarm-fmt-'));
const file = (name: string, text: string) => { const p = join(dir, name); writeFileSync(p, text); return p; };
const cli = (...args: string[]) => spawnSync(process.execPath, [join(root, 'bin/ptefarm.mjs'), ...args], { encoding: 'utf8', cwd: root });

const example = {
  format: 'ptefarm-case/1', name: 'wp survives swap-out', uffd: { features: ['wp_async'] },
  ops: [
    { op: 'mmap', region: 'a', pages: 4, kind: 'anon' },
    { op: 'uffd_register', region: 'a' },
    { op: 'write', region: 'a', first: 0, count: 2 },
    { op: 'wp', region: 'a', on: true },
    { op: 'pageout', region: 'a', first: 0, count: 1 },
    { op: 'read', region: 'a', first: 0, count: 1 },
  ],
};

describe('ptefarm fmt', () => {
  it('prints JSON as text and converts text back to the same case', () => {
    const text = fmtCommand(file('c.json', JSON.stringify(example)), {});
    expect(text).toBe([
      'ptefarm-case/1', 'name "wp survives swap-out"', 'uffd features=wp_async',
      '0 mmap a pages=4 kind=anon', '1 uffd_register a', '2 write a[0..2)', '3 wp a on', '4 pageout a[0]', '5 read a[0]', '',
    ].join('\n'));
    const back = fmtCommand(file('c.txt', text), { json: true });
    expect(parseCase(JSON.parse(back))).toStrictEqual(example);
    expect(fmtCommand(file('c2.json', JSON.stringify(example)), { indices: false })).toContain('\nmmap a pages=4 kind=anon\n');
  });

  it('runs as a subcommand: exit 0, and exit 2 with the line and problem for a bad file', () => {
    const ok = cli('fmt', file('ok.json', JSON.stringify(example)));
    expect(ok.stderr).not.toMatch(/ptefarm/);
    expect(ok.status).toBe(0);
    expect(ok.stdout).toContain('3 wp a on');

    const badText = cli('fmt', '--json', file('bad.txt', 'mmap a pages=2 kind=anon\nwrite a[1..5)\nfrob a\n'));
    expect(badText.status).toBe(2);
    expect(badText.stderr).toMatch(/bad\.txt/);
    expect(badText.stderr).toMatch(/line 3: unknown op "frob"/);

    const badCase = cli('fmt', '--json', file('bad2.txt', 'mmap a pages=2 kind=anon\nwrite a[1..5)\n'));
    expect(badCase.status).toBe(2);
    expect(badCase.stderr).toMatch(/line 2 \(ops\[1\]\.count\): pages 1\.\.4 run past the region's end/);

    const badJson = cli('fmt', file('bad.json', JSON.stringify({ ...example, ops: [...example.ops, { op: 'write', region: 'zz' }] })));
    expect(badJson.status).toBe(2);
    expect(badJson.stderr).toMatch(/ops\[6\]\.region: region "zz" does not exist/);

    const notJson = cli('fmt', file('t.txt', 'mmap a pages=2 kind=anon\n'));
    expect(notJson.status).toBe(2);
    expect(notJson.stderr).toMatch(/not JSON.*fmt --json/);

    const missing = cli('fmt', join(dir, 'nope.json'));
    expect(missing.status).toBe(2);
    expect(missing.stderr).toMatch(/nope\.json: cannot read: ENOENT/);
  });
});
