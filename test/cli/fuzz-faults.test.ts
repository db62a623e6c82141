// `ptefarm fuzz` on a target whose every case is a fault: the text summary counts the faults and
// says what they were (the fault text, with how many cases had it), and reports no violation. Before,
// it printed only "faults: N", so a README campaign with two faults said nothing of their cause.
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));
const fixture = fileURLToPath(new URL('../fixtures/faulting-exec-target.mjs', import.meta.url));

describe('ptefarm fuzz: faults in the summary', () => {
  it('lists each fault text with its count, and counts no violation', () => {
    const target = `exec:${JSON.stringify(process.execPath)} ${JSON.stringify(fixture)}`;
    const r = spawnSync(process.execPath, [`${root}/bin/ptefarm.mjs`, 'fuzz', '--target', target, '--cases', '6', '--threads', '0', '--no-save', '--no-minimize'], { encoding: 'utf8', cwd: root });
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain('violations: 0 case(s), faults: 6,');
    expect(r.stdout).toContain('fault (6 case(s)): fixture: the environment lost this case');
  }, 60_000);
});
