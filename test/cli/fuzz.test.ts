import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs';
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

  it('finds a mutant, exits 1, records one minimized finding in the work directory', () => {
    const workdir = mkdtempSync(join(tmpdir(), 'ptefarm-work-'));
    const before = Date.now();
    const r = run(['fuzz', '--target', 'model:x86+B-5', '--cases', '2000', '--seed', '1', '--threads', '1', '--json', '--workdir', workdir, '--stop-after', '1']);
    expect(r.status, r.stderr).toBe(1);
    const s = lastJson(r.stdout);
    expect(s.buckets.length).toBeGreaterThan(0);
    const b = s.buckets[0];
    expect(b.hits).toBeGreaterThan(0);
    expect(validateCase(b.case)).toEqual([]);
    expect(b.case.ops.length).toBeLessThanOrEqual(6);
    // one directory per finding: the case (written once: one `saved` event) and its record
    const ids = readdirSync(join(workdir, 'findings'));
    expect(ids).toHaveLength(s.buckets.length);
    const dir = join(workdir, 'findings', ids[0]!);
    expect(readdirSync(dir).sort()).toEqual(['case.json', 'finding.json']);
    const events = r.stdout.trim().split('\n').slice(0, -1).map((l) => JSON.parse(l));
    expect(events.filter((e) => e.event === 'saved' && e.signature === b.signature)).toHaveLength(1);
    const saved = JSON.parse(readFileSync(b.file, 'utf8'));
    expect(validateCase(saved)).toEqual([]);
    expect(saved.ops).toEqual(b.case.ops);
    const f = JSON.parse(readFileSync(join(dir, 'finding.json'), 'utf8'));
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'));
    expect(f).toMatchObject({
      format: 'ptefarm-finding/1', signature: b.signature, title: b.title, target: 'model:x86+B-5', source: 'fuzz',
      arch: 'x86_64', seed: 1, case_index: b.first_case, tool_version: pkg.version, hits: b.hits, ops: b.ops, minimized: true,
    });
    expect(f.kernel).toMatch(/^model-/);
    expect(f.probe.soft_dirty).toBe(true);
    expect(Date.parse(f.first_seen)).toBeGreaterThanOrEqual(before - 1000);
    expect(f.last_seen).toBe(f.first_seen);
    // JSON events use snake_case keys like the summary
    for (const e of events) for (const k of Object.keys(e)) expect(k).toMatch(/^[a-z0-9_]+$/);
  });

  it('a second campaign re-hitting the finding adds hits and moves last_seen without rewriting the case', () => {
    const workdir = mkdtempSync(join(tmpdir(), 'ptefarm-work-'));
    const args = ['fuzz', '--target', 'model:x86+B-5', '--cases', '2000', '--seed', '1', '--threads', '1', '--json', '--workdir', workdir, '--stop-after', '1'];
    const r1 = run(args);
    expect(r1.status, r1.stderr).toBe(1);
    const [id] = readdirSync(join(workdir, 'findings'));
    const dir = join(workdir, 'findings', id!);
    const f1 = JSON.parse(readFileSync(join(dir, 'finding.json'), 'utf8'));
    const mtime = statSync(join(dir, 'case.json')).mtimeMs;
    const r2 = run(args);
    expect(r2.status, r2.stderr).toBe(1);
    const s2 = lastJson(r2.stdout);
    expect(readdirSync(join(workdir, 'findings'))).toEqual([id]);
    const f2 = JSON.parse(readFileSync(join(dir, 'finding.json'), 'utf8'));
    expect(f2.hits).toBe(f1.hits + s2.buckets[0].hits);
    expect(f2.first_seen).toBe(f1.first_seen);
    expect(Date.parse(f2.last_seen)).toBeGreaterThan(Date.parse(f1.last_seen));
    expect(statSync(join(dir, 'case.json')).mtimeMs).toBe(mtime);
  });

  it('refuses the removed --corpus DIR and durations without a unit (exit 2, naming the fix)', () => {
    const c = run(['fuzz', '--target', 'model:x86', '--cases', '5', '--corpus', 'corpus/regressions']);
    expect(c.status).toBe(2);
    expect(c.stderr).toMatch(/--workdir.*corpus add/);
    const t = run(['fuzz', '--target', 'model:x86', '--cases', '5', '--no-save', '--timeout', '10000']);
    expect(t.status).toBe(2);
    expect(t.stderr).toMatch(/--timeout: "10000" has no unit/);
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
