import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { validateCase } from '../../src/ops/validate.ts';

const BIN = new URL('../../bin/ptefarm.mjs', import.meta.url).pathname;
const run = (args: string[]) => spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 120_000 });
const lastJson = (out: string) => JSON.parse(out.trim().split('\n').at(-1)!);

describe('ptefarm fuzz', () => {
  it('finds nothing on the reference and ends with a JSON summary', () => {
    const r = run(['fuzz', '--target', 'model:x86', '--cases', '150', '--seed', '3', '--threads', '2', '--json', '--no-save']);
    expect(r.status, r.stderr).toBe(0);
    const s = lastJson(r.stdout);
    expect(s).toMatchObject({ cases: 150, violations: 0, seed: 3, buckets: [] });
    expect(typeof s.faults).toBe('number');
    expect(s.cases_per_s).toBeGreaterThan(0);
    expect(s.coverage.rules_hit).toBeGreaterThan(10);
    expect(s.coverage.rules_total).toBeGreaterThanOrEqual(s.coverage.rules_hit);
    // every other line is a JSON event
    for (const l of r.stdout.trim().split('\n').slice(0, -1)) expect(JSON.parse(l).event).toBeTypeOf('string');
  });

  it('finds a mutant, exits 1, saves a minimized valid reproducer', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ptefarm-fuzz-'));
    const r = run(['fuzz', '--target', 'model:x86+B-5', '--cases', '2000', '--seed', '1', '--threads', '1', '--json', '--corpus', dir, '--stop-after', '1']);
    expect(r.status, r.stderr).toBe(1);
    const s = lastJson(r.stdout);
    expect(s.buckets.length).toBeGreaterThan(0);
    const b = s.buckets[0];
    expect(b.hits).toBeGreaterThan(0);
    expect(validateCase(b.case)).toEqual([]);
    expect(b.case.ops.length).toBeLessThanOrEqual(6);
    const files = readdirSync(dir).filter((f) => f.endsWith('.json'));
    expect(files.length).toBeGreaterThan(0);
    const saved = JSON.parse(readFileSync(join(dir, files[0]!), 'utf8'));
    expect(validateCase(saved)).toEqual([]);
    expect(saved.name).toMatch(/^regression: /);
    expect(existsSync(b.file)).toBe(true);
  });

  it('rejects a bad target with exit 2', () => {
    const r = run(['fuzz', '--target', 'model:nope', '--cases', '5']);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/model/);
  });

  it('stops cleanly on SIGINT and prints the summary so far', async () => {
    const p = spawn(process.execPath, [BIN, 'fuzz', '--target', 'model:x86', '--duration', '120s', '--threads', '1', '--json', '--no-save', '--seed', '4']);
    let out = '';
    let sent = false;
    p.stdout.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      // interrupt once some case has completed
      if (!sent && /"event":"progress","cases":\d+,"completed":[1-9]/.test(out)) { sent = true; p.kill('SIGINT'); }
    });
    const code = await new Promise<number | null>((res) => p.on('exit', (c) => res(c)));
    expect(sent).toBe(true);
    expect(code).toBe(0);
    const s = lastJson(out);
    expect(s.stopped).toBe('interrupted');
    expect(s.cases).toBeGreaterThan(0);
  });
});
