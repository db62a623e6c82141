// Host settings a live test changes for a while: sysfs knobs (THP, shmem THP, khugepaged) and swap.
// Every change is undone afterwards — on success, on failure, and on SIGINT/SIGTERM of the test
// process — so a test run never leaves the host configured differently. Root only.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';

export const THP = '/sys/kernel/mm/transparent_hugepage';

/** the selected value of a sysfs choice file ("always [madvise] never" -> "madvise"), or its text */
export function readSetting(path: string): string {
  const text = readFileSync(path, 'utf8').trim();
  return /\[([^\]]+)\]/.exec(text)?.[1] ?? text;
}

/** why this host cannot be reconfigured by a test, or undefined when it can */
export function cannotReconfigure(): string | undefined {
  if (process.getuid?.() !== 0) return 'changing host settings needs root';
  try { writeFileSync(`${THP}/enabled`, readSetting(`${THP}/enabled`)); } catch (e) { return `${THP}/enabled is not writable: ${(e as Error).message}`; }
  return undefined;
}

export function activeSwaps(): string[] {
  return readFileSync('/proc/swaps', 'utf8').trim().split('\n').slice(1).map((l) => l.split(/\s+/)[0]).filter(Boolean);
}

export interface HostConfig {
  /** sysfs path -> value to write */
  sysfs?: Record<string, string>;
  /** false: swapoff every device for the duration */
  swap?: boolean;
}

const undo: Array<() => void> = [];
let hooked = false;
function restoreAll() {
  while (undo.length) { try { undo.pop()!(); } catch { /* keep restoring the rest */ } }
}
function hookSignals() {
  if (hooked) return;
  hooked = true;
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => { restoreAll(); process.kill(process.pid, sig); });
  }
  process.once('exit', restoreAll);
}

/** Run `fn` with the host configured as `cfg`, then restore every setting it changed. */
export async function withHostConfig<T>(cfg: HostConfig, fn: () => Promise<T>): Promise<T> {
  hookSignals();
  const mark = undo.length;
  try {
    for (const [path, value] of Object.entries(cfg.sysfs ?? {})) {
      const old = readSetting(path);
      undo.push(() => writeFileSync(path, old));
      writeFileSync(path, value);
      if (readSetting(path) !== value) throw new Error(`${path} did not take ${value} (reads ${readSetting(path)})`);
    }
    if (cfg.swap === false) {
      const devs = activeSwaps();
      undo.push(() => { for (const d of devs) execFileSync('swapon', [d]); });
      if (devs.length) execFileSync('swapoff', ['-a']);
    }
    return await fn();
  } finally {
    while (undo.length > mark) { try { undo.pop()!(); } catch { /* keep restoring */ } }
  }
}
