// The compiled CLI (issue 13 item 4), end to end: `npm run build` in a copy of the package, then
// `node bin/ptefarm.mjs` there with every .ts file of src/ and workers/ deleted, so that a pass
// shows that the launcher chose dist/ (its tsx fallback would find no main.ts) and that nothing in
// the compiled code reaches for TypeScript at run time (the piscina task module of `fuzz`) or looks
// for a shipped file relative to dist/ (repro's C runtime and headers, the executor, package.json).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { distProblem } from '../../bin/dist-state.mjs';

const root = fileURLToPath(new URL('../..', import.meta.url));
const pkg = mkdtempSync(join(tmpdir(), 'ptefarm-dist-'));
const pkgUrl = pathToFileURL(`${pkg}/`);
const cli = (...args: string[]) => spawnSync(process.execPath, [join(pkg, 'bin/ptefarm.mjs'), ...args], { encoding: 'utf8', cwd: pkg });
const tsFiles = (dir: string) => (readdirSync(join(pkg, dir), { recursive: true }) as string[]).filter((f) => f.endsWith('.ts')).map((f) => join(pkg, dir, f));

beforeAll(() => {
  for (const f of ['package.json', 'tsconfig.json', 'tsconfig.build.json', 'bin', 'src', 'workers', 'scripts']) {
    // not the executor binary: `probe` must then name where the package's executor would be
    cpSync(join(root, f), join(pkg, f), { recursive: true, filter: (s) => !/ptefarm-exec$|\.o$/.test(s) });
  }
  mkdirSync(join(pkg, 'corpus/seeds'), { recursive: true });
  mkdirSync(join(pkg, 'corpus/mutants'), { recursive: true });
  cpSync(join(root, 'corpus/seeds/s-sd-simple.json'), join(pkg, 'corpus/seeds/s-sd-simple.json'));
  cpSync(join(root, 'corpus/mutants/B-3.json'), join(pkg, 'corpus/mutants/B-3.json'));
  symlinkSync(join(root, 'node_modules'), join(pkg, 'node_modules'));

  expect(distProblem(pkgUrl)).toBe('not built');
  const b = spawnSync('npm', ['run', '-s', 'build'], { encoding: 'utf8', cwd: pkg });
  expect(b.status, `npm run build:\n${b.stdout}${b.stderr}`).toBe(0);
  expect(distProblem(pkgUrl)).toBeUndefined();

  // a source edited after the build makes dist/ stale ...
  const later = new Date(Date.now() + 60_000);
  utimesSync(join(pkg, 'src/ops/schema.ts'), later, later);
  expect(distProblem(pkgUrl)).toBe('src/ops/schema.ts is newer than the build');
  // ... and without any source the launcher can only run dist/
  for (const f of [...tsFiles('src'), ...tsFiles('workers')]) rmSync(f);
  expect(distProblem(pkgUrl)).toBeUndefined();
}, 600_000);

afterAll(() => rmSync(pkg, { recursive: true, force: true }));

describe('the compiled CLI (dist/)', () => {
  it('--version prints the version in package.json', () => {
    const r = cli('--version');
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toBe(`${JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).version}\n`);
  });

  it('rules and fmt', () => {
    const rules = cli('rules');
    expect(rules.status, rules.stderr).toBe(0);
    expect(rules.stdout).toMatch(/^R-MPROT-3 /m);
    expect(rules.stdout).toMatch(/^\d+ rules\. Kernel profiles: /m);
    const fmt = cli('fmt', 'corpus/seeds/s-sd-simple.json');
    expect(fmt.status, fmt.stderr).toBe(0);
    expect(fmt.stdout).toMatch(/^ptefarm-case\/1\n/);
    expect(fmt.stdout).toContain('\n2 write a\n');
  });

  it('check: 0 when the model matches, 1 naming the rule on a mutant, 2 on a missing file', () => {
    const ok = cli('check', '--target', 'model:x86', 'corpus/seeds/s-sd-simple.json');
    expect(ok.status, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/^ok: \d+ bits compared, all match x86/);
    const bad = cli('check', '--target', 'model:x86+B-3', 'corpus/mutants/B-3.json');
    expect(bad.status, bad.stderr).toBe(1);
    expect(bad.stdout).toContain('FAIL: soft-dirty lost'); // B-3's first divergence: the write that should have faulted
    const missing = cli('check', '--target', 'model:x86', 'corpus/seeds/no-such.json');
    expect(missing.status).toBe(2);
    expect(missing.stderr).toContain('corpus/seeds/no-such.json');
  });

  it('fuzz runs its cases on the compiled piscina task module, and reaches NATS with --nats', () => {
    const r = cli('fuzz', '--target', 'model:x86', '--cases', '50', '--seed', '1', '--threads', '2', '--no-save');
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain('model:x86: 50 cases in');
    expect(r.stdout).toMatch(/violations: 0 case\(s\), faults: 0,/);
    // --nats loads the NATS client on demand: a dead server is a clear error, exit 2
    const dead = cli('fuzz', '--target', 'model:x86', '--cases', '5', '--no-save', '--nats', 'nats://127.0.0.1:1');
    expect(dead.status, dead.stderr).toBe(2);
    expect(dead.stderr).toContain('cannot connect to NATS at nats://127.0.0.1:1');
  }, 120_000);

  it('repro and probe find the files shipped in the package', () => {
    const r = cli('repro', 'corpus/seeds/s-sd-simple.json');
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain("from ptefarm's workers/executor/ptefarm-observe.h");
    const p = cli('probe');
    expect(p.status, p.stderr).toBe(0);
    expect(p.stdout).toContain(`not built (${join(pkg, 'workers/executor/ptefarm-exec')})`);
  });
});
