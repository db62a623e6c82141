// The comparison of the selftests with ptefarm's verdict (src/selftests/compare.ts): a selftest
// failing where ptefarm's gate passes is a finding about ptefarm, printed as such. The runs are
// judged from real selftest output (test/fixtures/selftests); the verdicts are gate.json facts.
import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { compare, readGateRun, type PtefarmVerdict } from '../../src/selftests/compare.ts';
import { judge } from '../../src/selftests/result.ts';
import { selftestNamed } from '../../src/selftests/catalogue.ts';
import { formatReport } from '../../src/selftests/oracle.ts';

const fx = (f: string) => readFileSync(`test/fixtures/selftests/${f}`, 'utf8');
const KERNEL = '6.12.118+deb12-amd64';
const passing = [
  judge(selftestNamed('madv_populate')!, { output: fx('madv_populate.nobody.out'), exit: 0, ms: 1, user: 'nobody' }),
  judge(selftestNamed('uffd-unit-tests')!, { output: fx('uffd.root.out'), exit: 0, ms: 1, user: 'root' }),
];
// a real failing run: uffd-unit-tests stopping with its harness's ERROR
const failing = judge(selftestNamed('uffd-unit-tests')!, { output: fx('uffd.nobody.out'), exit: 1, ms: 1, user: 'nobody' });
const verdict = (v: string, extra: Partial<PtefarmVerdict> = {}): PtefarmVerdict => ({
  target: 'qemu:debian-6.12-amd64', kernel: KERNEL, verdict: v, exitCode: v === 'pass' ? 0 : v === 'fail' ? 1 : 2,
  capabilities: { uffd_wp: true, soft_dirty: true, pagemap_scan: true }, reasons: [v === 'fail' ? '1 new reproducible violation' : 'ok'], dir: '/tmp/gate', ...extra,
});

describe('selftests beside ptefarm', () => {
  it('a selftest failing where ptefarm passes is a finding about ptefarm, printed as such', () => {
    expect(failing.status).toBe('fail');
    const c = compare(KERNEL, [passing[0], failing], verdict('pass'));
    expect(c.findings).toHaveLength(1);
    expect(c.findings[0]).toMatchObject({ kind: 'ptefarm-missed', selftest: 'uffd-unit-tests' });
    expect(c.findings[0].text).toMatch(/^FINDING ABOUT PTEFARM: the kernel's uffd-unit-tests selftest fails on 6\.12\.118\+deb12-amd64 \(stopped early: wp-fork-with-event on shmem-private: mmap of memfd failed.*\) while ptefarm's gate passes \(ptefarm observes uffd_wp here/);
    const text = formatReport({ target: 'qemu:debian-6.12-amd64', kernel: KERNEL, source: 'linux-source-6.12 x', runs: [passing[0], failing], ms: 1, verdict: verdict('pass'), comparison: c });
    expect(text).toContain('FINDING ABOUT PTEFARM');
    expect(text).not.toContain('no finding about ptefarm');
  });

  it('says when ptefarm cannot observe what the failing selftest checks', () => {
    const c = compare(KERNEL, [failing], verdict('pass', { capabilities: { uffd_wp: false } }));
    expect(c.findings[0].text).toContain('ptefarm cannot observe uffd_wp on this target');
  });

  it('a kernel oops during the selftests, with the gate passing, is a finding about ptefarm', () => {
    const c = compare(KERNEL, passing, verdict('pass'), '[   12.3] BUG: kernel NULL pointer dereference, address: 0000000000000008\n[   12.3] #PF: supervisor read access');
    expect(c.findings.map((f) => f.kind)).toEqual(['ptefarm-missed']);
    expect(c.findings[0].text).toBe(`FINDING ABOUT PTEFARM: the kernel oopsed on ${KERNEL} during the selftests ([   12.3] BUG: kernel NULL pointer dereference, address: 0000000000000008) while ptefarm's gate passes`);
    expect(compare(KERNEL, passing, verdict('fail'), 'BUG: x').findings.map((f) => f.kind)).toEqual(['ptefarm-only']);
  });

  it('both failing is agreement, not a finding about ptefarm', () => {
    const c = compare(KERNEL, [failing], verdict('fail'));
    expect(c.findings.map((f) => f.kind)).toEqual(['agree-fail']);
  });

  it('ptefarm failing alone is reported, pointing at its run', () => {
    const c = compare(KERNEL, passing, verdict('fail'));
    expect(c.findings.map((f) => f.kind)).toEqual(['ptefarm-only']);
    expect(c.findings[0].text).toContain('/tmp/gate');
  });

  it('all passing on both sides: nothing to report; formatReport says so', () => {
    const c = compare(KERNEL, passing, verdict('pass'));
    expect(c.findings).toEqual([]);
    const text = formatReport({ target: 'live', kernel: KERNEL, source: 's', runs: passing, ms: 1, verdict: verdict('pass'), comparison: c });
    expect(text).toContain('no finding about ptefarm: no selftest fails where ptefarm passes');
    expect(text).toMatch(/madv_populate\s+nobody\s+PASS\s+16\s+0\s+0/);
  });

  it('an infrastructure error in the gate gives no finding, and a different kernel no comparison', () => {
    expect(compare(KERNEL, [failing], verdict('error')).findings).toEqual([]);
    const other = compare(KERNEL, [failing], verdict('pass', { kernel: '6.1.0-40-amd64' }));
    expect(other.findings).toEqual([]);
    expect(other.notes[0]).toMatch(/not the same kernel/);
  });

  it('reads a gate run directory, and refuses one without gate.json', () => {
    const dir = mkdtempSync(join(os.tmpdir(), 'ptefarm-gate-'));
    expect(() => readGateRun(dir)).toThrow(/no gate\.json/);
    writeFileSync(join(dir, 'gate.json'), JSON.stringify({ target: 'live', verdict: 'pass', exit_code: 0, reasons: [], target_info: { kernel: 'k', capabilities: { soft_dirty: false } }, campaign: { cases: 5 } }));
    writeFileSync(join(dir, 'ktap.txt'), 'KTAP version 1\n1..2\nok 1 a\nok 2 b # SKIP x\n');
    expect(readGateRun(dir)).toMatchObject({ target: 'live', kernel: 'k', verdict: 'pass', counts: { pass: 1, skip: 1, fail: 0 }, cases: 5, capabilities: { soft_dirty: false } });
  });
});
