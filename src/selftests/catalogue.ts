// The kernel's own mm selftests that ptefarm runs as an independent oracle (issue 15 item 4): which
// sources build each one, how it is run, whether it may run unprivileged, and which ptefarm
// capability covers the same behaviour. The one list: scripts/selftests-build.sh compiles what it
// names (build.ts passes it on), the live and guest runners (live.ts, guest.ts) run it.

export type OutputFormat =
  /** kselftest.h TAP 13 / KTAP: `ok N name`, `# SKIP`, `Bail out!`, `# Totals:` */
  | 'ktap'
  /** uffd-unit-tests' own lines (6.12): `Testing X on Y... done|skipped [reason: ..]|failed [reason: ..]` */
  | 'uffd-unit';

export interface Selftest {
  name: string;
  /** sources in tools/testing/selftests/mm, the first one the selftest's own (absent -> not in this source) */
  sources: readonly string[];
  args: readonly string[];
  format: OutputFormat;
  /** needs root, and why (otherwise it runs as nobody, like a ptefarm case process) */
  root?: string;
  /** the ptefarm capability (TargetInfo.capabilities) under which ptefarm observes what it checks */
  capability: string | undefined;
  /** what it checks, in words, for the report */
  covers: string;
  /** per-run limit, seconds (TCG guests are ~10x slower than the host; uffd-unit-tests -f wp took 546 s
   *  in the arm64 guest on a host loaded 15x) */
  timeoutS: number;
}

const COMMON = ['vm_util.c', 'thp_settings.c'];

export const SELFTESTS: readonly Selftest[] = [
  {
    name: 'soft-dirty', sources: ['soft-dirty.c', ...COMMON], args: [], format: 'ktap',
    capability: 'soft_dirty', covers: 'soft-dirty bit 55 after clear_refs 4, mprotect, mremap, THP', timeoutS: 300,
  },
  {
    name: 'pagemap_ioctl', sources: ['pagemap_ioctl.c', ...COMMON], args: [], format: 'ktap',
    capability: 'pagemap_scan', covers: 'PAGEMAP_SCAN with uffd-wp async: categories, masks, max_pages, vec sizes', timeoutS: 600,
  },
  {
    name: 'uffd-unit-tests', sources: ['uffd-unit-tests.c', 'uffd-common.c', ...COMMON],
    // strstr filter (uffd-unit-tests.c main): wp-fork*, wp-unpopulated, minor-wp, sigbus-wp, events-wp
    args: ['-f', 'wp'], format: 'uffd-unit',
    // UFFD_FEATURE_EVENT_FORK needs CAP_SYS_PTRACE (fs/userfaultfd.c userfaultfd_api()); unprivileged,
    // 6.12's harness reports the fork tests as "possible lack of priviledge" and then aborts
    // (`mmap of memfd failed ... errno=1`, uffd-common.c) instead of going on
    root: 'UFFD_FEATURE_EVENT_FORK needs CAP_SYS_PTRACE (userfaultfd_api()); unprivileged the 6.12 harness aborts after that skip',
    capability: 'uffd_wp', covers: 'uffd-wp across fork, unpopulated ptes, minor faults, SIGBUS mode, events', timeoutS: 900,
  },
  {
    name: 'madv_populate', sources: ['madv_populate.c', ...COMMON], args: [], format: 'ktap',
    capability: undefined, covers: 'MADV_POPULATE_READ/WRITE, and soft-dirty after them', timeoutS: 300,
  },
  {
    // named guard-pages.c when MADV_GUARD_INSTALL arrived (6.13), guard-regions.c since: neither is in 6.12
    name: 'guard-regions', sources: ['guard-regions.c', ...COMMON], args: [], format: 'ktap',
    capability: undefined, covers: 'MADV_GUARD_INSTALL/REMOVE', timeoutS: 300,
  },
];

export function selftestNamed(name: string): Selftest | undefined {
  return SELFTESTS.find((s) => s.name === name);
}
