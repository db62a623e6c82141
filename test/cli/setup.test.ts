// `ptefarm setup`: khugepaged throttling and --restore on a fake sysfs directory (every branch), and
// for real on this host's khugepaged (root only; the values found are put back in finally).
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { KHUGEPAGED_DIR, reserveHugetlb, restoreSetup, SETUP_STATE, throttleKhugepaged } from '../../src/cli/commands/setup.ts';
import { KHUGEPAGED_THROTTLE } from '../../src/targets/probe.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));
const cli = (...args: string[]) => spawnSync(process.execPath, [join(root, 'bin/ptefarm.mjs'), ...args], { encoding: 'utf8', cwd: root });

function fakeKhugepaged(values: Record<string, number>) {
  const base = mkdtempSync(join(os.tmpdir(), 'ptefarm-setup-'));
  const dir = join(base, 'khugepaged');
  mkdirSync(dir);
  for (const [k, v] of Object.entries(values)) writeFileSync(join(dir, k), `${v}\n`);
  const read = (k: string) => Number(readFileSync(join(dir, k), 'utf8'));
  return { dir, state: join(base, 'run/setup.json'), read };
}

describe('setup --hugetlb N / --restore (fake sysfs)', () => {
  it('raises nr_hugepages to N, records the count found, keeps a larger pool, and --restore puts the first count back', () => {
    const base = mkdtempSync(join(os.tmpdir(), 'ptefarm-setup-htlb-'));
    const dir = join(base, 'hugepages-2048kB');
    mkdirSync(dir);
    writeFileSync(join(dir, 'nr_hugepages'), '2\n');
    writeFileSync(join(dir, 'free_hugepages'), '2\n');
    const state = join(base, 'run/setup.json');
    expect(reserveHugetlb(16, { dir, state })).toMatch(/^hugetlb: nr_hugepages 2 -> 16\n {2}restore with `ptefarm setup --restore` \(or: echo 2 > .*nr_hugepages\)/);
    expect(readFileSync(join(dir, 'nr_hugepages'), 'utf8')).toBe('16');
    // a pool already as large is kept, and the first count stays recorded
    expect(reserveHugetlb(8, { dir, state })).toMatch(/^hugetlb: 16 2 MiB pages already reserved/);
    expect(() => reserveHugetlb(-1, { dir, state })).toThrow(/a number of 2 MiB pages/);
    expect(restoreSetup({ state, hugetlbDir: dir })).toBe('hugetlb nr_hugepages restored to 2');
    expect(readFileSync(join(dir, 'nr_hugepages'), 'utf8')).toBe('2');
    expect(existsSync(state)).toBe(false);
  });
  it('a kernel without the 2 MiB hstate is said, nothing written', () => {
    expect(() => reserveHugetlb(4, { dir: join(os.tmpdir(), 'ptefarm-no-such-hstate'), state: join(os.tmpdir(), 'ptefarm-no-state.json') })).toThrow(/does not exist/);
  });
});

describe('setup --khugepaged / --restore (fake sysfs)', () => {
  it('throttles what is not throttled, says how to restore, and --restore puts the first values back', () => {
    const k = fakeKhugepaged({ scan_sleep_millisecs: 10000, alloc_sleep_millisecs: 60000, pages_to_scan: 4096, max_ptes_none: 511 });
    const r = throttleKhugepaged(k);
    expect(r.changed).toEqual([
      { name: 'scan_sleep_millisecs', from: 10000, to: KHUGEPAGED_THROTTLE.scan_sleep_millisecs },
      { name: 'alloc_sleep_millisecs', from: 60000, to: KHUGEPAGED_THROTTLE.alloc_sleep_millisecs },
      { name: 'pages_to_scan', from: 4096, to: KHUGEPAGED_THROTTLE.pages_to_scan },
    ]);
    expect(r.message).toMatch(/^khugepaged throttled: scan_sleep_millisecs 10000 -> 3600000, alloc_sleep_millisecs 60000 -> 3600000, pages_to_scan 4096 -> 8\n {2}restore with `ptefarm setup --restore` \(or: echo 10000 > .*scan_sleep_millisecs;/);
    expect(k.read('pages_to_scan')).toBe(8);
    expect(k.read('max_ptes_none')).toBe(511); // collapse semantics (MADV_COLLAPSE) untouched
    // idempotent: a second run changes nothing and keeps the first values for --restore
    expect(throttleKhugepaged(k)).toMatchObject({ changed: [], message: expect.stringMatching(/already throttled/) });
    expect(restoreSetup(k)).toBe('khugepaged scan_sleep_millisecs restored to 10000\nkhugepaged alloc_sleep_millisecs restored to 60000\nkhugepaged pages_to_scan restored to 4096');
    expect([k.read('scan_sleep_millisecs'), k.read('alloc_sleep_millisecs'), k.read('pages_to_scan')]).toEqual([10000, 60000, 4096]);
    expect(existsSync(k.state)).toBe(false);
    expect(restoreSetup(k)).toMatch(/^nothing to restore/);
  });

  it('leaves settings that are already more throttled alone', () => {
    const k = fakeKhugepaged({ scan_sleep_millisecs: 7200000, alloc_sleep_millisecs: 60000, pages_to_scan: 1 });
    expect(throttleKhugepaged(k).changed.map((c) => c.name)).toEqual(['alloc_sleep_millisecs']);
    expect(k.read('scan_sleep_millisecs')).toBe(7200000);
    expect(k.read('pages_to_scan')).toBe(1);
  });

  it('no khugepaged directory: a clear error', () => {
    expect(() => throttleKhugepaged({ dir: '/nonexistent/khugepaged', state: '/nonexistent/state' })).toThrow(/does not exist.*nothing to throttle/);
  });
});

describe.skipIf(process.getuid?.() !== 0 || !existsSync(KHUGEPAGED_DIR))('setup --khugepaged on this host (root)', () => {
  it('throttles, probe reports it throttled (no warning), --restore puts the values back', () => {
    const names = Object.keys(KHUGEPAGED_THROTTLE);
    const read = () => Object.fromEntries(names.map((n) => [n, Number(readFileSync(join(KHUGEPAGED_DIR, n), 'utf8'))]));
    const was = read();
    const hadState = existsSync(SETUP_STATE);
    try {
      const r = cli('setup', '--khugepaged');
      expect(r.status).toBe(0);
      expect(r.stdout).toMatch(/khugepaged (throttled|already throttled)/);
      expect(read()).toEqual(hadState ? read() : { scan_sleep_millisecs: Math.max(was.scan_sleep_millisecs, 3600000), alloc_sleep_millisecs: Math.max(was.alloc_sleep_millisecs, 3600000), pages_to_scan: Math.min(was.pages_to_scan, 8) });
      const p = JSON.parse(cli('probe', '--json').stdout);
      expect(p.facts.find((f: { name: string }) => f.name === 'khugepaged.throttled').value).toBe(true);
      expect(cli('probe').stdout).not.toMatch(/khugepaged is not throttled/);
      if (!hadState) {
        const back = cli('setup', '--restore');
        expect(back.status).toBe(0);
        expect(read()).toEqual(was);
      }
    } finally {
      if (!hadState) for (const n of names) writeFileSync(join(KHUGEPAGED_DIR, n), String(was[n]));
    }
  });

  it('setup-swap is `setup --swap`: with swap already active it says so and changes nothing', () => {
    if (readFileSync('/proc/swaps', 'utf8').trim().split('\n').length < 2) return;
    const r = cli('setup-swap');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^swap already active: /);
    expect(r.stdout).not.toMatch(/khugepaged/);
  });
});
