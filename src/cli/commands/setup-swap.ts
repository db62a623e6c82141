// `ptefarm setup-swap`: bring up zram swap so `pageout` ops can reclaim (MADV_PAGEOUT of anonymous
// memory is a no-op without swap). Root only, idempotent: an active swap device of any kind is
// reused as is. Otherwise: modprobe zram (if /sys/block/zram0 is missing), size zram0 (if it has no
// size yet), mkswap, swapon. The executor never does this itself: it runs cases unprivileged.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { activeSwaps } from '../../targets/probe.ts';

export class SetupSwapError extends Error {}

function run(cmd: string, args: string[]): void {
  try {
    execFileSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    const err = e as { stderr?: Buffer; code?: string; message: string };
    const detail = err.code === 'ENOENT' ? `${cmd} not found (install util-linux / kmod)` : (err.stderr?.toString().trim() || err.message);
    throw new SetupSwapError(`${cmd} ${args.join(' ')} failed: ${detail}`);
  }
}

export interface SetupSwapResult { device: string; created: boolean; message: string }

export function setupSwap(opts: { size: string; device?: string } = { size: '1G' }): SetupSwapResult {
  const active = activeSwaps(readFileSync('/proc/swaps', 'utf8'));
  if (active.length) return { device: active[0], created: false, message: `swap already active: ${active.join(', ')}` };
  if (process.getuid?.() !== 0) throw new SetupSwapError('must run as root to set up swap (try: sudo npm run setup:swap)');
  const name = opts.device ?? 'zram0';
  const sys = `/sys/block/${name}`;
  if (!existsSync(sys)) {
    run('modprobe', ['zram', 'num_devices=1']);
    if (!existsSync(sys)) throw new SetupSwapError(`${sys} still missing after modprobe zram (kernel without CONFIG_ZRAM?)`);
  }
  const dev = `/dev/${name}`;
  if (!existsSync(dev)) throw new SetupSwapError(`${dev} does not exist (no devtmpfs node for ${name})`);
  const mounts = readFileSync('/proc/mounts', 'utf8');
  if (mounts.split('\n').some((l) => l.split(' ')[0] === dev)) throw new SetupSwapError(`${dev} is mounted as a file system; not touching it`);
  const disksize = Number(readFileSync(`${sys}/disksize`, 'utf8').trim());
  if (!disksize) {
    try { writeFileSync(`${sys}/disksize`, opts.size); } catch (e) {
      throw new SetupSwapError(`cannot size ${name} to ${opts.size}: ${(e as Error).message}`);
    }
  }
  run('mkswap', [dev]);
  run('swapon', [dev]);
  const now = activeSwaps(readFileSync('/proc/swaps', 'utf8'));
  if (!now.includes(dev)) throw new SetupSwapError(`swapon ${dev} reported success but /proc/swaps does not list it`);
  return { device: dev, created: true, message: `swap active on ${dev}${disksize ? '' : ` (${opts.size})`}` };
}

export function register(program: Command): void {
  program
    .command('setup-swap')
    .description('as root: bring up zram swap for pageout ops (idempotent; reuses any active swap)')
    .option('--size <size>', 'zram disk size when it has none yet', '1G')
    .option('--device <name>', 'zram device', 'zram0')
    .action((opts: { size: string; device: string }) => {
      try {
        process.stdout.write(setupSwap(opts).message + '\n');
      } catch (e) {
        process.stderr.write(`ptefarm setup-swap: ${(e as Error).message}\n`);
        process.exitCode = 2;
      }
    });
}
