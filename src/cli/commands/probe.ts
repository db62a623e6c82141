// `ptefarm probe [--json]`: what this host's kernel can run and show (see src/targets/probe.ts).
import type { Command } from 'commander';
import { DEFAULT_EXECUTOR, probeHost, type ProbeResult } from '../../targets/probe.ts';

export function formatProbe(p: ProbeResult): string {
  const yn = (b: boolean) => (b ? 'yes' : 'no');
  const rows: [string, string][] = [
    ['arch', p.arch],
    ['kernel', p.kernel],
    ['executor', p.executor ?? `not built (${DEFAULT_EXECUTOR})`],
    ['case processes run as uid', p.case_uid === null ? 'unknown' : `${p.case_uid}${p.privileges_dropped ? ' (root dropped)' : ''}`],
    ['soft_dirty (CONFIG_MEM_SOFT_DIRTY)', yn(p.soft_dirty)],
    ['userfaultfd', p.userfaultfd ? `yes (API features ${p.uffd_features})` : 'no'],
    ['uffd_wp', yn(p.uffd_wp)],
    ['wp_async', yn(p.wp_async)],
    ['wp_unpopulated', yn(p.wp_unpopulated)],
    ['event_fork usable', yn(p.event_fork)],
    ['event_remap', yn(p.event_remap)],
    ['event_unmap', yn(p.event_unmap)],
    ['pagemap_scan', p.pagemap_scan ? `yes${p.scan_guard ? ' (with GUARD)' : ''}` : 'no'],
    ['swap', p.swap ? `yes (${p.swap_devices.join(', ')})` : 'no active swap'],
    ['THP', p.thp],
    ['THP shmem', p.thp_shmem],
  ];
  const w = Math.max(...rows.map((r) => r[0].length));
  return rows.map(([k, v]) => `${k.padEnd(w)}  ${v}`).join('\n') + '\n' + p.notes.map((n) => `note: ${n}\n`).join('');
}

export function register(program: Command): void {
  program
    .command('probe')
    .description('report what this host can run: kernel, soft-dirty, userfaultfd features, PAGEMAP_SCAN, swap, THP')
    .option('--json', 'print JSON')
    .option('--executor <path>', 'native executor binary', DEFAULT_EXECUTOR)
    .action(async (opts: { json?: boolean; executor: string }) => {
      try {
        const p = await probeHost(opts.executor);
        process.stdout.write(opts.json ? JSON.stringify(p, null, 2) + '\n' : formatProbe(p));
      } catch (e) {
        process.stderr.write(`ptefarm probe: ${(e as Error).message}\n`);
        process.exitCode = 2;
      }
    });
}
