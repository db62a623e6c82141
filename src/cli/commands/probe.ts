// `ptefarm probe [--json]`: what this host's kernel can run and show, each fact with its source
// (src/targets/probe.ts), and whether the live target would refuse this host (src/targets/host-policy.ts).
import type { Command } from 'commander';
import { DEFAULT_EXECUTOR, probeHost, type FactValue, type ProbeResult } from '../../targets/probe.ts';
import { assessHost, formatRefusal } from '../../targets/host-policy.ts';

const show = (v: FactValue): string => v === null ? 'unknown' : typeof v === 'boolean' ? (v ? 'yes' : 'no') : Array.isArray(v) ? (v.length ? v.join(', ') : 'none') : String(v);

/** One line per fact: name, value, source; then what the live (or QEMU) target would refuse and
 *  the notes. A probe without facts (recorded by an older ptefarm) prints its old fields. */
export function formatProbe(p: ProbeResult, guest?: string): string {
  const rows: [string, string, string][] = [
    ['executor', p.executor ?? `not built (${DEFAULT_EXECUTOR})`, ''],
    ['privileges_dropped', show(p.privileges_dropped), 'behaviour: the case processes\' uid after the executor dropped root'],
  ];
  if (p.facts) for (const f of p.facts) rows.push([f.name, show(f.value), f.source]);
  else {
    rows.push(['arch', p.arch, 'uname'], ['kernel', p.kernel, 'uname'], ['soft_dirty', show(p.soft_dirty), ''], ['pagemap_scan', show(p.pagemap_scan), ''],
      ['swap_devices', show(p.swap_devices), ''], ['thp.enabled', p.thp, ''], ['thp.shmem_enabled', p.thp_shmem, '']);
  }
  const w0 = Math.max(...rows.map((r) => r[0].length));
  const w1 = Math.max(...rows.map((r) => r[1].length));
  const out = rows.map(([k, v, src]) => `${k.padEnd(w0)}  ${src ? `${v.padEnd(w1)}  (${src})` : v}`.trimEnd());
  const a = assessHost(p, guest);
  if (a.refusals.length) out.push(formatRefusal(guest ?? 'live target', a.refusals));
  else out.push(`${guest ?? 'live target'}: every setting above is covered by the model`);
  for (const w of a.warnings) out.push(`warning: ${w}`);
  for (const n of p.notes) out.push(`note: ${n}`);
  return out.join('\n') + '\n';
}

export function register(program: Command): void {
  program
    .command('probe')
    .description('report what this host can run and what decides the bits (zero page, THP, mTHP, khugepaged, swap, page size), each with its source')
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
