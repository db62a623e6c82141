// `ptefarm probe`: each reported fact checked against an independent reading of the host.
import { describe, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_EXECUTOR, hugetlbFact, THP_SYSFS, type HostFact } from '../../src/targets/probe.ts';

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

  it('prints one line per fact with its source', () => {
    const r = cli('probe');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^kernel\s+\S+\s+\(uname\)$/m);
    expect(r.stdout).toMatch(/^thp\.enabled\s+(always|madvise|never)\s+\(sysfs: \/sys\/kernel\/mm\/transparent_hugepage\/enabled\)$/m);
    if (existsSync(DEFAULT_EXECUTOR)) expect(r.stdout).toMatch(/^zero_page\s+(yes|no|unknown)\s+\(behaviour: /m);
    expect(r.stdout).toMatch(/^(live target: every setting above is covered by the model|live target refuses to start: )/m);
  });

  it('has a hugetlb row: free and total 2 MiB pages as the sysfs files show them, with its source', () => {
    const dir = '/sys/kernel/mm/hugepages/hugepages-2048kB';
    const r = cli('probe');
    expect(r.status).toBe(0);
    if (!existsSync(dir)) { expect(r.stdout).toMatch(/^hugetlb\.2048kB\s+unknown\s+\(unknown: no /m); return; }
    // the pool can change between the probe and this reading (another test reserving pages): read around it
    const read = () => [readFileSync(`${dir}/free_hugepages`, 'utf8').trim(), readFileSync(`${dir}/nr_hugepages`, 'utf8').trim()].join(' free of ');
    const before = read(), row = /^hugetlb\.2048kB\s+(\d+ free of \d+)\s+\(sysfs: (\S+)\/free_hugepages, nr_hugepages\)$/m.exec(r.stdout);
    expect(row, r.stdout).not.toBeNull();
    expect([before, read()]).toContain(row![1]);
    expect(row![2]).toBe(dir);
  });

  it('the hugetlb fact reads the pool of the directory it is given; a kernel without it is unknown, saying why', () => {
    const d = mkdtempSync(join(os.tmpdir(), 'ptefarm-hugetlb-'));
    writeFileSync(join(d, 'free_hugepages'), '3\n');
    writeFileSync(join(d, 'nr_hugepages'), '8\n');
    expect(hugetlbFact(d)).toEqual({ name: 'hugetlb.2048kB', value: '3 free of 8', source: `sysfs: ${d}/free_hugepages, nr_hugepages` });
    expect(hugetlbFact(join(d, 'absent'))).toEqual({ name: 'hugetlb.2048kB', value: null, source: `unknown: no ${join(d, 'absent')} (a kernel without hugetlb or without its 2 MiB size)` });
    rmSync(d, { recursive: true, force: true });
  });
});

/** facts of one `probe --json` run, by name */
function facts(): Map<string, HostFact> {
  const p = JSON.parse(cli('probe', '--json').stdout);
  return new Map((p.facts as HostFact[]).map((f) => [f.name, f]));
}

// An independent measurement of the zero page, in plain C with PFNs (root only): two private anon
// mappings read-faulted map the same pfn exactly when that pfn is the (huge) zero page. `thp` uses
// PMD-aligned MADV_HUGEPAGE blocks and smaps AnonHugePages to tell a THP from small pages.
const ZERO_C = String.raw`
#define _GNU_SOURCE
#include <stdio.h>
#include <stdint.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>
#include <sys/mman.h>
static uint64_t pfn(int fd, void *a) { uint64_t e = 0; pread(fd, &e, 8, (uintptr_t)a / 4096 * 8); return (e >> 63) ? (e & ((1ULL << 55) - 1)) : 0; }
static long anon_huge_kb(void *a) {
  FILE *f = fopen("/proc/self/smaps", "r"); char l[256]; int in = 0; long kb = -1;
  while (fgets(l, sizeof l, f)) { unsigned long lo, hi; if (sscanf(l, "%lx-%lx ", &lo, &hi) == 2) { in = (uintptr_t)a >= lo && (uintptr_t)a < hi; continue; }
    if (in && sscanf(l, "AnonHugePages: %ld kB", &kb) == 1) break; }
  fclose(f); return kb;
}
int main(int argc, char **argv) {
  int fd = open("/proc/self/pagemap", O_RDONLY);
  if (argc > 1) { /* thp */
    char *a[2];
    for (int i = 0; i < 2; i++) { char *m = mmap(0, 4 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      a[i] = (char *)(((uintptr_t)m + (2 << 20) - 1) & ~((uintptr_t)(2 << 20) - 1)); madvise(a[i], 2 << 20, MADV_HUGEPAGE); (void)*(volatile char *)a[i]; }
    if (anon_huge_kb(a[0]) <= 0 && pfn(fd, a[0]) != pfn(fd, a[1])) { puts("small"); return 0; }
    puts(pfn(fd, a[0]) == pfn(fd, a[1]) ? "zero" : "thp"); return 0;
  }
  char *a = mmap(0, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), *b = mmap(0, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  madvise(a, 4096, MADV_NOHUGEPAGE); madvise(b, 4096, MADV_NOHUGEPAGE);
  (void)*(volatile char *)a; (void)*(volatile char *)b;
  puts(pfn(fd, a) && pfn(fd, a) == pfn(fd, b) ? "zero" : "fresh");
  return 0;
}`;

describe.skipIf(!existsSync(DEFAULT_EXECUTOR) || process.getuid?.() !== 0)('ptefarm probe: the zero page by behaviour, checked against PFNs', () => {
  const bin = join(mkdtempSync(join(os.tmpdir(), 'ptefarm-zero-')), 'zero');
  writeFileSync(`${bin}.c`, ZERO_C);
  execFileSync('cc', ['-O1', '-o', bin, `${bin}.c`]);
  const measure = (...a: string[]) => execFileSync(bin, a, { encoding: 'utf8' }).trim();

  it('4 KiB read faults: zero_page matches whether two read faults share one pfn', () => {
    const before = measure();
    const f = facts();
    const after = measure();
    // another test may flip a host setting meanwhile; only a stable host is compared
    if (before !== after) return;
    expect(f.get('zero_page')!.value).toBe(before === 'zero');
  });

  it('THP read faults: thp_zero_page matches the huge zero page (null when no THP is mapped)', () => {
    const before = measure('thp');
    const f = facts();
    const after = measure('thp');
    if (before !== after) return;
    expect(f.get('thp_zero_page')!.value).toBe(before === 'zero' ? true : before === 'thp' ? false : null);
  });

  it('sysfs facts match the files; page size matches getconf', () => {
    const f = facts();
    expect(f.get('page_size')!.value).toBe(Number(execFileSync('getconf', ['PAGESIZE'], { encoding: 'utf8' }).trim()));
    expect(f.get('pmd_size')!.value).toBe(Number(readFileSync(`${THP_SYSFS}/hpage_pmd_size`, 'utf8')));
    for (const kb of [16, 64, 2048]) {
      const text = readFileSync(`${THP_SYSFS}/hugepages-${kb}kB/enabled`, 'utf8');
      expect(text).toContain(`[${f.get(`mthp.${kb}kB.enabled`)!.value}]`);
      expect(f.get(`mthp.${kb}kB.enabled`)!.source).toBe(`sysfs: ${THP_SYSFS}/hugepages-${kb}kB/enabled`);
    }
    expect(f.get('khugepaged.pages_to_scan')!.value).toBe(Number(readFileSync(`${THP_SYSFS}/khugepaged/pages_to_scan`, 'utf8')));
  });
});
