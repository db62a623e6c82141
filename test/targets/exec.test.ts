// exec: targets speak JSON lines; answers are schema-checked, and a program that dies, hangs or
// answers garbage gives a fault trace and is restarted for the next case.
import { afterEach, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ExecTarget } from '../../src/targets/exec.ts';
import { LiveTarget } from '../../src/targets/live.ts';
import { DEFAULT_EXECUTOR } from '../../src/targets/probe.ts';
import type { Case } from '../../src/ops/schema.ts';

const fixture = fileURLToPath(new URL('../fixtures/fake-exec-target.mjs', import.meta.url));
const root = fileURLToPath(new URL('../..', import.meta.url));
const fake = `${JSON.stringify(process.execPath)} ${JSON.stringify(fixture)}`;
const named = (name: string): Case => ({ format: 'ptefarm-case/1', name, ops: [
  { op: 'mmap', region: 'a', pages: 2, kind: 'anon' }, { op: 'write', region: 'a' }, { op: 'mmap', region: 'b', pages: 1, kind: 'shared-anon' },
] });

const open: { close(): Promise<void> }[] = [];
afterEach(async () => { for (const t of open.splice(0)) await t.close(); });
const exec = (cmd: string, opts = {}) => { const t = new ExecTarget(cmd, opts); open.push(t); return t; };

describe('exec: target', () => {
  it('round-trips cases and traces through the fixture program', async () => {
    const t = exec(fake);
    const tr = await t.execute(named('ok'));
    expect(tr.fault).toBeUndefined();
    expect(tr.target.name).toBe('fake');
    expect(tr.steps.map((s) => s.op)).toEqual([0, 1, 2]);
    expect(tr.steps[2].pages).toEqual({ 0: { a: ['??????', '??????'], b: ['??????'] } });
    expect((await t.info()).kernel).toBe('fake-1');
    const again = await t.execute(named('second'));
    expect(again.steps.length).toBe(3);
    expect(t.starts).toBe(1); // one long-lived program serves many cases
  });

  it('a program that dies gives a fault, and is restarted for the next case', async () => {
    const t = exec(fake);
    const tr = await t.execute(named('die'));
    expect(tr.fault).toMatch(/exited with code 3/);
    const next = await t.execute(named('ok'));
    expect(next.fault).toBeUndefined();
    expect(t.starts).toBe(2);
  });

  it('answers that are not JSON or not a trace are faults naming the problem', async () => {
    const t = exec(fake);
    expect((await t.execute(named('garbage'))).fault).toMatch(/not JSON/);
    expect((await t.execute(named('bad-trace'))).fault).toMatch(/invalid trace: (target|steps)/);
    expect((await t.execute(named('ok'))).fault).toBeUndefined();
  });

  it('a program that does not answer in time is killed', async () => {
    const t = exec(fake, { caseTimeoutMs: 1500 });
    expect((await t.execute(named('hang'))).fault).toMatch(/no answer within 1500 ms/);
    expect((await t.execute(named('ok'))).fault).toBeUndefined();
  });

  it('a command that cannot run is a fault, not a crash', async () => {
    const t = exec('/nonexistent/ptefarm-target');
    expect((await t.execute(named('ok'))).fault).toMatch(/exited with code 127/);
  });

  it.skipIf(!existsSync(DEFAULT_EXECUTOR))('exec: around `ptefarm serve --target live` gives the same trace as live itself', async () => {
    const t = exec(`cd ${JSON.stringify(root)} && ${JSON.stringify(process.execPath)} bin/ptefarm.mjs serve --target live`);
    const live = new LiveTarget();
    open.push(live);
    const c = named('via serve');
    const [a, b] = [await t.execute(c), await live.execute(c)];
    expect(a.fault).toBeUndefined();
    expect(a.target.name).toBe('live');
    expect(a.steps).toEqual(b.steps);
    expect(a.steps[1].pages!['0'].a.map((p) => p.slice(0, 5))).toEqual(['P..E.', 'P..E.']);
  });
});
