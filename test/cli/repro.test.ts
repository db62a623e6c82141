// `ptefarm repro`: the C reproducer of every corpus seed compiles with plain `cc` and passes on
// this machine's kernel (or skips, saying why, when the host lacks a feature); its expectations
// are the model's predictions; an edited expected bit makes it fail with the mismatch named.
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Case } from '../../src/ops/schema.ts';
import { parseCase } from '../../src/ops/validate.ts';
import { predict } from '../../src/model/model.ts';
import { generateRepro, ReproError, rle } from '../../src/report/repro.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'ptefarm-repro-'));
const cli = (...args: string[]) => spawnSync(process.execPath, [join(root, 'bin/ptefarm.mjs'), ...args], { encoding: 'utf8', cwd: root });
const haveCc = spawnSync('cc', ['--version']).status === 0;
const seedDir = join(root, 'corpus/seeds');
const seeds = readdirSync(seedDir).filter((f) => f.endsWith('.json')).sort();
const load = (f: string): Case => parseCase(JSON.parse(readFileSync(join(seedDir, f), 'utf8')));

function build(name: string, src: string): string {
  const c = join(dir, `${name}.c`), bin = join(dir, name);
  writeFileSync(c, src);
  const r = spawnSync('cc', ['-o', bin, c], { encoding: 'utf8' });
  expect(r.status, `cc ${name}.c:\n${r.stderr}`).toBe(0);
  expect(r.stderr, `cc ${name}.c warnings`).toBe('');
  return bin;
}
const exec = (bin: string) => spawnSync(bin, [], { encoding: 'utf8', timeout: 120_000 });

describe('ptefarm repro', () => {
  it('the CLI writes a C file for a seed; a bad case is exit 2', () => {
    const out = join(dir, 'cli.c');
    const r = cli('repro', 'corpus/seeds/s-sd-simple.json', '-o', out);
    expect(r.status, r.stderr).toBe(0);
    const src = readFileSync(out, 'utf8');
    expect(src).toMatch(/#define NOPS 8/);
    for (const k of ['PF_PAGEMAP_SCAN', 'UFFD_FEATURE_WP_ASYNC', 'UFFD_FEATURE_WP_UNPOPULATED', 'UFFD_USER_MODE_ONLY', 'MADV_COLLAPSE', 'MAP_FIXED_NOREPLACE'])
      expect(src).toContain(`#define ${k}`);
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, '{"format":"ptefarm-case/1","ops":[{"op":"write","region":"a"}]}');
    const b = cli('repro', bad);
    expect(b.status).toBe(2);
    expect(b.stderr).toMatch(/region/);
  }, 60_000);

  it('an op the generator cannot express fails generation naming the op', () => {
    const c = { format: 'ptefarm-case/1', ops: [{ op: 'mmap', region: 'a', pages: 1, kind: 'anon' }, { op: 'ksm_merge', region: 'a' }] } as unknown as Case;
    expect(() => generateRepro(c)).toThrow(ReproError);
    expect(() => generateRepro(c)).toThrow(/op 1 \(ksm_merge\): the C reproducer cannot express "ksm_merge" yet/);
  });

  it('the expected bits in the C program are the model\'s predictions', () => {
    for (const f of ['s-uffd-wpfork-anon-event.json', 's-pms-base.json', 's-uffd-wp-mremap-thp-private-swapout.json']) {
      const c = load(f);
      const src = generateRepro(c);
      const pred = predict(c);
      const rows = [...src.matchAll(/^ {2}\{ (\d+), (\d+), (\d+), "([^"]*)" \}, \/\* step \d+: (scan )?p\d+ (\S+) \*\/$/gm)];
      let n = 0;
      pred.steps.forEach((s, i) => {
        for (const [kind, map] of [['', s.pages], ['scan ', s.scan ?? {}]] as const) {
          for (const [p, regions] of Object.entries(map)) {
            for (const [name, strs] of Object.entries(regions)) {
              const row = rows.find((m) => Number(m[1]) === i && m[2] === p && m[6] === name && (m[5] ?? '') === kind);
              expect(row, `${f} step ${i} ${kind}p${p} ${name}`).toBeDefined();
              expect(row![4]).toBe(rle(strs));
              n++;
            }
          }
        }
      });
      expect(rows.length).toBe(n);
    }
  });

  it.skipIf(!haveCc || process.platform !== 'linux')('every seed compiles with cc and passes on this kernel (or skips saying why)', () => {
    const results: Record<string, number> = {};
    for (const f of seeds) {
      const name = f.replace(/\.json$/, '');
      const bin = build(name, generateRepro(load(f), { source: `corpus/seeds/${f}` }));
      const r = exec(bin);
      results[name] = r.status ?? -1;
      expect(r.stdout).toMatch(/^KTAP version 1\n/);
      if (r.status === 4) expect(r.stdout, name).toMatch(/# SKIP /);
      else expect(r.status, `${name}:\n${r.stdout}${r.stderr}`).toBe(0);
      if (r.status === 0) expect(r.stdout).toMatch(new RegExp(`^1\\.\\.${load(f).ops.length}$`, 'm'));
    }
    const passed = Object.values(results).filter((s) => s === 0).length;
    console.log(`repro: ${seeds.length} seeds compiled, ${passed} passed, ${seeds.length - passed} skipped on ${spawnSync('uname', ['-r'], { encoding: 'utf8' }).stdout.trim()}`);
    expect(passed).toBeGreaterThan(0);
  }, 600_000);

  it.skipIf(!haveCc || process.platform !== 'linux')('a soft-dirty-only case whose bits were all masked is a SKIP (exit 4), never a pass', () => {
    // s-sd-simple asserts only bit 55 (soft-dirty.c test_simple); s-uffd-wpunpop asserts uffd-wp and is not affected
    const src = generateRepro(load('s-sd-simple.json'));
    expect(src).toMatch(/^#define ASSERTS_SOFT_DIRTY 1$/m);
    expect(src).toMatch(/^#define ASSERTS_UFFD_WP 0$/m);
    expect(generateRepro(load('s-uffd-wpunpop.json'))).toMatch(/^#define ASSERTS_SOFT_DIRTY 0$/m);
    const r = exec(build('sd-simple', src));
    const hostHasSoftDirty = !/^# SKIP soft-dirty checks/m.test(r.stdout);
    if (hostHasSoftDirty) expect(r.status, r.stdout).toBe(0);
    else {
      expect(r.status, r.stdout).toBe(4);
      expect(r.stdout).toMatch(/^# SKIP this case asserts soft-dirty \(bit 55\), which this kernel cannot show/m);
      expect(r.stdout).toMatch(/^# Totals: pass:0 fail:0 xfail:0 xpass:0 skip:1 error:0$/m);
    }
  }, 120_000);

  it.skipIf(!haveCc || process.platform !== 'linux')('an edited expected bit fails, naming the step, page, bit and values', () => {
    const src = generateRepro(load('s-sd-simple.json'));
    const row = '  { 2, 0, 0, "P..E.D" }, /* step 2: p0 a */';
    expect(src).toContain(row);
    const bin = build('edited-bit', src.replace(row, row.replace('"P..E.D"', '"...E.D"')));
    const r = exec(bin);
    expect(r.status, r.stdout).toBe(1);
    expect(r.stdout).toContain('# step 2 (write a): p0 a page 0 present is 1, expected 0 (bit P)');
    expect(r.stdout).toMatch(/^not ok 3 step 2 \(write a\)$/m);
    expect(r.stdout).toMatch(/^ok 4 step 3 /m);

    // a PAGEMAP_SCAN category
    const scan = generateRepro(load('s-pms-base.json'));
    const srow = '  { 5, 0, 0, "aw.p...d.x32" }, /* step 5: scan p0 a */';
    expect(scan).toContain(srow);
    const sbin = build('edited-scan', scan.replace(srow, srow.replace('"aw.p...d.x32"', '"a..p...d. aw.p...d.x31"')));
    const s = exec(sbin);
    expect(s.status, s.stdout).toBe(1);
    expect(s.stdout).toMatch(/# step 5 \(scan a[^)]*\): PAGEMAP_SCAN p0 a page 0 category WRITTEN is 1, expected 0/);
  }, 120_000);
});

describe('ptefarm repro: close_uffd (the C runtime closes the context like the executor)', () => {
  const b19 = () => parseCase(JSON.parse(readFileSync(join(root, 'corpus/mutants/B-19.json'), 'utf8')));
  it.skipIf(!haveCc || process.platform !== 'linux')('B-19\'s exposing case passes on this kernel (6.9+ resets wp on close) and fails with the mutant\'s expectations', () => {
    const ok = exec(build('b19', generateRepro(b19(), { source: 'corpus/mutants/B-19.json' })));
    if (ok.status === 4) { expect(ok.stdout).toMatch(/# SKIP /); return; }
    expect(ok.status, ok.stdout).toBe(0);
    const bad = exec(build('b19-mutant', generateRepro(b19(), { expectFrom: 'model:x86+B-19' })));
    expect(bad.status, bad.stdout).toBe(1);
    expect(bad.stdout).toMatch(/# step 4 \(close_uffd\): p0 a page 0 uffd-wp is 0, expected 1 \(bit W\)/);
    expect(bad.stdout).toMatch(/^not ok 5 step 4 \(close_uffd\)$/m);
  }, 120_000);
});
