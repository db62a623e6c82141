// `ptefarm corpus list` and `ptefarm corpus add`: a finding recorded by `minimize` in a temporary
// work directory is listed, then promoted into corpus/regressions/ (or corpus/findings/) of a
// temporary checkout directory as a valid case whose name carries the title and the provenance; a
// second promotion keeps the file, a different stored case of the signature is kept (the promotion
// goes beside it) unless --replace; unknown findings are exit 2.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { validateCase } from '../../src/ops/validate.ts';

const BIN = new URL('../../bin/ptefarm.mjs', import.meta.url).pathname;
const run = (args: string[], cwd?: string) => spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 120_000, cwd });

describe('ptefarm corpus', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'ptefarm-corpus-cli-'));
  const workdir = join(tmp, 'work');
  const checkout = mkdtempSync(join(tmpdir(), 'ptefarm-checkout-'));
  const file = join(tmp, 'case.json');
  writeFileSync(file, JSON.stringify({
    format: 'ptefarm-case/1',
    ops: [
      { op: 'mmap', region: 'a', pages: 8, kind: 'anon' }, { op: 'mmap', region: 'b', pages: 4, kind: 'shared-anon' },
      { op: 'write', region: 'b' }, { op: 'write', region: 'a' }, { op: 'clear_refs', value: 4 },
      { op: 'read', region: 'a', first: 2, count: 2 }, { op: 'write', region: 'a', first: 1, count: 5 },
    ],
  }));

  it('lists a finding recorded by minimize and promotes it into corpus/regressions of the current directory', () => {
    const m = run(['minimize', '--target', 'model:x86+B-5', file, '--workdir', workdir]);
    expect(m.status, m.stderr).toBe(1);
    expect(m.stderr).toMatch(/finding recorded: /);

    const l = run(['corpus', 'list', '--workdir', workdir, '--json']);
    expect(l.status, l.stderr).toBe(0);
    const list = JSON.parse(l.stdout);
    expect(list).toHaveLength(1);
    const f = list[0];
    expect(f).toMatchObject({ target: 'model:x86+B-5', source: 'minimize', hits: 1, minimized: true, arch: 'x86_64' });
    expect(f.title).toBe(f.signature);
    const text = run(['corpus', 'list', '--workdir', workdir]);
    expect(text.stdout).toContain(f.title);
    expect(text.stdout).toMatch(/1 hit\(s\) on model:x86\+B-5/);

    // promoted by id, from a directory standing for a checkout: corpus/regressions/ is created there
    const a = run(['corpus', 'add', f.id, '--workdir', workdir], checkout);
    expect(a.status, a.stderr).toBe(0);
    expect(a.stdout).toMatch(/^added corpus\/regressions\//);
    const [name] = readdirSync(join(checkout, 'corpus', 'regressions'));
    const promoted = JSON.parse(readFileSync(join(checkout, 'corpus', 'regressions', name!), 'utf8'));
    expect(validateCase(promoted)).toEqual([]);
    expect(promoted.ops).toEqual(JSON.parse(readFileSync(join(f.dir, 'case.json'), 'utf8')).ops);
    expect(promoted.name).toContain(`regression: ${f.title}`);
    expect(promoted.name).toContain('model:x86+B-5');
    expect(promoted.name).toContain(`ptefarm ${f.tool_version}`);

    // again: the file is kept (same size), nothing else appears
    const again = run(['corpus', 'add', join(f.dir, 'case.json'), '--workdir', workdir], checkout);
    expect(again.status).toBe(0);
    expect(again.stdout).toMatch(/^kept /);
    expect(readdirSync(join(checkout, 'corpus', 'regressions'))).toEqual([name]);

    // the stored file holds another case of the signature (another gap, a larger case): the
    // promotion goes beside it and removes nothing; --replace replaces the larger one
    const regs = join(checkout, 'corpus', 'regressions');
    const other = { ...promoted, name: 'regression: another gap', ops: [...promoted.ops, { op: 'read', region: 'a', first: 0, count: 1 }] };
    writeFileSync(join(regs, name!), JSON.stringify(other));
    const beside = run(['corpus', 'add', f.id, '--workdir', workdir], checkout);
    expect(beside.status, beside.stderr).toBe(0);
    expect(beside.stdout).toMatch(/^added corpus\/regressions\/.*\.[0-9a-f]{8}\.json .*beside corpus\/regressions\//);
    expect(readdirSync(regs).sort()).toHaveLength(2);
    expect(JSON.parse(readFileSync(join(regs, name!), 'utf8')).name).toBe('regression: another gap');
    const besideName = readdirSync(regs).find((n) => n !== name)!;
    expect(JSON.parse(readFileSync(join(regs, besideName), 'utf8')).ops).toEqual(promoted.ops);
    expect(run(['corpus', 'add', f.id, '--workdir', workdir], checkout).stdout).toMatch(/^kept .*it already holds this case/);
    const replaced = run(['corpus', 'add', f.id, '--workdir', workdir, '--replace'], checkout);
    expect(replaced.stdout).toMatch(/^replaced corpus\/regressions\//);
    expect(JSON.parse(readFileSync(join(regs, name!), 'utf8')).ops).toEqual(promoted.ops);
    expect(readdirSync(regs)).toHaveLength(2);

    // --as finding goes to corpus/findings/, --into anywhere
    const asFinding = run(['corpus', 'add', f.dir, '--as', 'finding', '--workdir', workdir], checkout);
    expect(asFinding.status, asFinding.stderr).toBe(0);
    const [fn] = readdirSync(join(checkout, 'corpus', 'findings'));
    expect(JSON.parse(readFileSync(join(checkout, 'corpus', 'findings', fn!), 'utf8')).name).toMatch(/^FINDING: /);
    const into = join(tmp, 'elsewhere');
    expect(run(['corpus', 'add', f.id, '--workdir', workdir, '--into', into]).status).toBe(0);
    expect(readdirSync(into)).toHaveLength(1);
  });

  it('exit 2 for an unknown finding or kind, naming it; an empty work directory lists nothing', () => {
    const u = run(['corpus', 'add', 'no-such-finding', '--workdir', workdir]);
    expect(u.status).toBe(2);
    expect(u.stderr).toMatch(/no finding "no-such-finding"/);
    const k = run(['corpus', 'add', 'x', '--as', 'seed', '--workdir', workdir]);
    expect(k.status).toBe(2);
    expect(k.stderr).toMatch(/seed/);
    const e = run(['corpus', 'list', '--workdir', join(tmp, 'empty')]);
    expect(e.status).toBe(0);
    expect(e.stdout).toMatch(/no findings in /);
  });
});
