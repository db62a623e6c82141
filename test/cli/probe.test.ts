// `ptefarm probe`: each reported fact checked against an independent reading of the host.
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_EXECUTOR } from '../../src/targets/probe.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));
const cli = (...args: string[]) => spawnSync(process.execPath, [join(root, 'bin/ptefarm.mjs'), ...args], { encoding: 'utf8', cwd: root });

describe('ptefarm probe', () => {
  it('--json reports the kernel, swap and THP as the host shows them', () => {
    const r = cli('probe', '--json');
    expect(r.status).toBe(0);
    const p = JSON.parse(r.stdout);
    expect(p.arch).toBe(os.machine());
    expect(p.kernel).toBe(os.release());
    const swaps = readFileSync('/proc/swaps', 'utf8').trim().split('\n').length > 1;
    expect(p.swap).toBe(swaps);
    expect(readFileSync('/sys/kernel/mm/transparent_hugepage/enabled', 'utf8')).toContain(`[${p.thp}]`);
  });

  it.skipIf(!existsSync(DEFAULT_EXECUTOR))('soft-dirty matches smaps VmFlags; uffd facts match the kernel version', () => {
    const p = JSON.parse(cli('probe', '--json').stdout);
    // every VMA of a process that never wrote clear_refs carries VM_SOFTDIRTY when it is compiled in
    const sd = / sd\b/.test(readFileSync('/proc/self/smaps', 'utf8').split('\n').filter((l) => l.startsWith('VmFlags:')).join('\n'));
    expect(p.soft_dirty).toBe(sd);
    const [maj, min] = os.release().split('.').map(Number);
    const atLeast = (a: number, b: number) => maj > a || (maj === a && min >= b);
    expect(p.userfaultfd).toBe(true);
    expect(p.wp_async).toBe(atLeast(6, 7)); // UFFD_FEATURE_WP_ASYNC, 6.7
    expect(p.pagemap_scan).toBe(atLeast(6, 7)); // PAGEMAP_SCAN, 6.7
    expect(p.scan_guard).toBe(atLeast(6, 15)); // PAGE_IS_GUARD, 6.15
    if (process.getuid?.() === 0) { expect(p.case_uid).not.toBe(0); expect(p.privileges_dropped).toBe(true); }
  });

  it('prints a readable table by default', () => {
    const r = cli('probe');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^kernel\s+\S+/m);
    expect(r.stdout).toMatch(/^soft_dirty \(CONFIG_MEM_SOFT_DIRTY\)\s+(yes|no)$/m);
  });
});
