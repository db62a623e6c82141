// `ptefarm setup [--swap] [--khugepaged] [--restore]` (and its old name `setup-swap` = `setup --swap`):
// the root-only host set-up the live target wants, as a separate explicit step (the executor never
// does this itself: it runs cases unprivileged). Each change is said, with how to undo it, and
// recorded in /run/ptefarm/setup.json (gone at reboot, like the settings) for `--restore`.
//
// --swap: bring up zram swap so `pageout` ops can reclaim (MADV_PAGEOUT of anonymous memory is a
// no-op without swap). Idempotent: an active swap device of any kind is reused as is. Otherwise:
// modprobe zram (if /sys/block/zram0 is missing), size zram0 (if it has no size yet), mkswap, swapon.
// --khugepaged: throttle khugepaged (one 2 MiB block per scan, scans an hour apart, the same after
// an allocation failure) so that it does not collapse a MADV_HUGEPAGE range in the middle of a case
// (mm/khugepaged.c khugepaged_wait_work sleeps scan_sleep_millisecs between passes of pages_to_scan).
// --hugetlb N: reserve N 2 MiB hugetlb pages (nr_hugepages of the 2 MiB hstate) for the hugetlb
// kinds of ptefarm-case/3; the count found first is recorded and put back by --restore.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Command } from 'commander';
import { activeSwaps, KHUGEPAGED_THROTTLE, THP_SYSFS } from '../../targets/probe.ts';
import { HUGETLB_2M_SYSFS, hugetlbFreePages } from '../../targets/hugetlb-host.ts';

export class SetupError extends Error {}

function run(cmd: string, args: string[]): void {
  try {
    execFileSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    const err = e as { stderr?: Buffer; code?: string; message: string };
    const detail = err.code === 'ENOENT' ? `${cmd} not found (install util-linux / kmod)` : (err.stderr?.toString().trim() || err.message);
    throw new SetupError(`${cmd} ${args.join(' ')} failed: ${detail}`);
  }
}

export interface SetupSwapResult { device: string; created: boolean; message: string }

export function setupSwap(opts: { size: string; device?: string } = { size: '1G' }): SetupSwapResult {
  const active = activeSwaps(readFileSync('/proc/swaps', 'utf8'));
  if (active.length) return { device: active[0], created: false, message: `swap already active: ${active.join(', ')}` };
  if (process.getuid?.() !== 0) throw new SetupError('must run as root to set up swap (try: sudo npx ptefarm setup --swap)');
  const name = opts.device ?? 'zram0';
  const sys = `/sys/block/${name}`;
  if (!existsSync(sys)) {
    run('modprobe', ['zram', 'num_devices=1']);
    if (!existsSync(sys)) throw new SetupError(`${sys} still missing after modprobe zram (kernel without CONFIG_ZRAM?)`);
  }
  const dev = `/dev/${name}`;
  if (!existsSync(dev)) throw new SetupError(`${dev} does not exist (no devtmpfs node for ${name})`);
  const mounts = readFileSync('/proc/mounts', 'utf8');
  if (mounts.split('\n').some((l) => l.split(' ')[0] === dev)) throw new SetupError(`${dev} is mounted as a file system; not touching it`);
  const disksize = Number(readFileSync(`${sys}/disksize`, 'utf8').trim());
  if (!disksize) {
    try { writeFileSync(`${sys}/disksize`, opts.size); } catch (e) {
      throw new SetupError(`cannot size ${name} to ${opts.size}: ${(e as Error).message}`);
    }
  }
  run('mkswap', [dev]);
  run('swapon', [dev]);
  const now = activeSwaps(readFileSync('/proc/swaps', 'utf8'));
  if (!now.includes(dev)) throw new SetupError(`swapon ${dev} reported success but /proc/swaps does not list it`);
  return { device: dev, created: true, message: `swap active on ${dev}${disksize ? '' : ` (${opts.size})`}` };
}

export const SETUP_STATE = '/run/ptefarm/setup.json';
export const KHUGEPAGED_DIR = `${THP_SYSFS}/khugepaged`;

/** what `ptefarm setup` changed, with the values it found (what --restore puts back) */
export interface SetupState { khugepaged?: Record<string, number>; swap?: { device: string }; hugetlb?: { nr_hugepages: number } }

function readState(path: string): SetupState {
  try { return JSON.parse(readFileSync(path, 'utf8')) as SetupState; } catch { return {}; }
}

function writeState(path: string, st: SetupState): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(`${path}.tmp`, JSON.stringify(st, null, 2) + '\n');
  renameSync(`${path}.tmp`, path);
}

function writeSetting(file: string, value: number | string): void {
  try { writeFileSync(file, String(value)); } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new SetupError(code === 'EACCES' || code === 'EPERM' ? `must run as root to write ${file}` : `cannot write ${value} to ${file}: ${(e as Error).message}`);
  }
}

export interface ThrottleResult { changed: { name: string; from: number; to: number }[]; message: string }

/** Throttle khugepaged to KHUGEPAGED_THROTTLE (only settings less throttled than that are
 *  changed); the values found first are kept in the state file for restoreSetup. */
export function throttleKhugepaged(opts: { dir?: string; state?: string } = {}): ThrottleResult {
  const dir = opts.dir ?? KHUGEPAGED_DIR, statePath = opts.state ?? SETUP_STATE;
  if (!existsSync(dir)) throw new SetupError(`${dir} does not exist (kernel without CONFIG_TRANSPARENT_HUGEPAGE?): nothing to throttle`);
  const st = readState(statePath);
  const changed: ThrottleResult['changed'] = [];
  for (const [name, to] of Object.entries(KHUGEPAGED_THROTTLE)) {
    const from = Number(readFileSync(`${dir}/${name}`, 'utf8').trim());
    // pages_to_scan throttles downwards, the sleeps upwards
    const throttled = name === 'pages_to_scan' ? from <= to : from >= to;
    if (throttled) continue;
    writeSetting(`${dir}/${name}`, to);
    (st.khugepaged ??= {})[name] ??= from;
    changed.push({ name, from, to });
  }
  if (changed.length) writeState(statePath, st);
  const now = Object.entries(KHUGEPAGED_THROTTLE).map(([n, v]) => `${n}=${v}`).join(' ');
  const message = changed.length
    ? `khugepaged throttled: ${changed.map((c) => `${c.name} ${c.from} -> ${c.to}`).join(', ')}\n` +
      `  restore with \`ptefarm setup --restore\` (or: ${changed.map((c) => `echo ${st.khugepaged![c.name]} > ${dir}/${c.name}`).join('; ')})`
    : `khugepaged already throttled (at least ${now})`;
  return { changed, message };
}

/** Reserve `n` 2 MiB hugetlb pages (at least: a larger pool is kept). The count found first is
 *  kept in the state file for restoreSetup. The kernel may reserve fewer (fragmented memory): said. */
export function reserveHugetlb(n: number, opts: { dir?: string; state?: string } = {}): string {
  const dir = opts.dir ?? HUGETLB_2M_SYSFS, statePath = opts.state ?? SETUP_STATE;
  if (!Number.isInteger(n) || n < 0 || n > 65536) throw new SetupError(`--hugetlb ${n}: a number of 2 MiB pages in 0..65536`);
  if (!existsSync(dir)) throw new SetupError(`${dir} does not exist (kernel without CONFIG_HUGETLBFS or no 2 MiB huge pages)`);
  const file = `${dir}/nr_hugepages`;
  const from = Number(readFileSync(file, 'utf8').trim());
  if (from >= n) return `hugetlb: ${from} 2 MiB pages already reserved (${hugetlbFreePages(dir)} free)`;
  writeSetting(file, n);
  const st = readState(statePath);
  st.hugetlb ??= { nr_hugepages: from };
  writeState(statePath, st);
  const now = Number(readFileSync(file, 'utf8').trim());
  return `hugetlb: nr_hugepages ${from} -> ${now}${now < n ? ` (asked for ${n}: memory too fragmented)` : ''}
` +
    `  restore with \`ptefarm setup --restore\` (or: echo ${st.hugetlb.nr_hugepages} > ${file})`;
}

/** Put back what throttleKhugepaged, setupSwap and reserveHugetlb changed (recorded in the state file). */
export function restoreSetup(opts: { dir?: string; state?: string; hugetlbDir?: string } = {}): string {
  const dir = opts.dir ?? KHUGEPAGED_DIR, statePath = opts.state ?? SETUP_STATE;
  if (!existsSync(statePath)) return `nothing to restore: no set-up recorded in ${statePath}`;
  const st = readState(statePath);
  const said: string[] = [];
  for (const [name, v] of Object.entries(st.khugepaged ?? {})) {
    if (!Object.hasOwn(KHUGEPAGED_THROTTLE, name) || !Number.isInteger(v)) continue;
    writeSetting(`${dir}/${name}`, v);
    said.push(`khugepaged ${name} restored to ${v}`);
  }
  if (st.hugetlb && Number.isInteger(st.hugetlb.nr_hugepages)) {
    writeSetting(`${opts.hugetlbDir ?? HUGETLB_2M_SYSFS}/nr_hugepages`, st.hugetlb.nr_hugepages);
    said.push(`hugetlb nr_hugepages restored to ${st.hugetlb.nr_hugepages}`);
  }
  if (st.swap?.device) {
    run('swapoff', [st.swap.device]);
    said.push(`swap on ${st.swap.device} (created by ptefarm setup) turned off`);
  }
  rmSync(statePath, { force: true });
  return said.length ? said.join('\n') : 'nothing to restore';
}

interface SetupOpts { swap?: boolean; khugepaged?: boolean; hugetlb?: string; restore?: boolean; size: string; device: string }

function setupAction(opts: SetupOpts, name: string): void {
  const say = (l: string) => process.stdout.write(l + '\n');
  let failed = false;
  const step = (f: () => string) => {
    try { say(f()); } catch (e) { process.stderr.write(`ptefarm ${name}: ${(e as Error).message}\n`); failed = true; }
  };
  if (opts.restore) step(() => restoreSetup());
  else {
    const all = !opts.swap && !opts.khugepaged && opts.hugetlb === undefined;
    if (opts.swap || all) step(() => {
      const r = setupSwap(opts);
      if (r.created) { const st = readState(SETUP_STATE); st.swap = { device: r.device }; writeState(SETUP_STATE, st); }
      return r.message;
    });
    if (opts.khugepaged || all) step(() => throttleKhugepaged().message);
    if (opts.hugetlb !== undefined) step(() => reserveHugetlb(Number(opts.hugetlb)));
  }
  if (failed) process.exitCode = 2;
}

export function register(program: Command): void {
  program
    .command('setup')
    .description('as root: set this host up for the live target: zram swap (--swap), khugepaged throttled (--khugepaged); both by default; --restore undoes')
    .option('--swap', 'bring up zram swap for pageout ops (idempotent; reuses any active swap)')
    .option('--khugepaged', `throttle khugepaged (${Object.entries(KHUGEPAGED_THROTTLE).map(([n, v]) => `${n}=${v}`).join(', ')})`)
    .option('--hugetlb <n>', 'reserve N 2 MiB hugetlb pages (nr_hugepages) for hugetlb cases')
    .option('--restore', `put back what an earlier setup changed (recorded in ${SETUP_STATE})`)
    .option('--size <size>', 'zram disk size when it has none yet', '1G')
    .option('--device <name>', 'zram device', 'zram0')
    .action((opts: SetupOpts) => setupAction(opts, 'setup'));
  program
    .command('setup-swap')
    .description('as root: `ptefarm setup --swap` (old name)')
    .option('--size <size>', 'zram disk size when it has none yet', '1G')
    .option('--device <name>', 'zram device', 'zram0')
    .action((opts: SetupOpts) => setupAction({ ...opts, swap: true }, 'setup-swap'));
}
