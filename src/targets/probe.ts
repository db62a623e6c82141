// What the host can run and show: kernel facts read from /proc and /sys here, and the
// userfaultfd / PAGEMAP_SCAN / soft-dirty facts measured by the native executor from a process set
// up exactly like a case process (same dropped privileges, same pinned CPU).
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import type { Capabilities } from '../ops/trace.ts';
import { packagePath } from '../package-root.ts';

export const DEFAULT_EXECUTOR = packagePath('workers', 'executor', 'ptefarm-exec');

export interface ProbeResult {
  arch: string;
  kernel: string;
  /** path of the native executor used for the uffd/scan facts, or null when it is not built */
  executor: string | null;
  /** executor facts (false when the executor is missing) */
  soft_dirty: boolean;
  userfaultfd: boolean;
  uffd_features: string;
  uffd_wp: boolean;
  wp_async: boolean;
  wp_unpopulated: boolean;
  event_fork: boolean;
  event_remap: boolean;
  event_unmap: boolean;
  pagemap_scan: boolean;
  scan_guard: boolean;
  /** uid the case processes run as, and whether root privileges were dropped for them */
  case_uid: number | null;
  privileges_dropped: boolean;
  /** host facts */
  swap: boolean;
  swap_devices: string[];
  thp: string;
  thp_shmem: string;
  notes: string[];
}

function readOr(path: string, fallback: string): string {
  try { return readFileSync(path, 'utf8'); } catch { return fallback; }
}

/** the bracketed choice of a sysfs selector such as "always [madvise] never" */
export function selected(sysfs: string): string {
  const m = /\[([^\]]+)\]/.exec(sysfs);
  return m ? m[1] : sysfs.trim() || 'unknown';
}

/** active swap devices from /proc/swaps (header line skipped) */
export function activeSwaps(procSwaps: string): string[] {
  return procSwaps.split('\n').slice(1).map((l) => l.trim().split(/\s+/)[0]).filter((d) => d);
}

/** parse the executor's `probe k=v ...` line */
export function parseProbeLine(line: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const tok of line.trim().split(/\s+/).slice(1)) {
    const i = tok.indexOf('=');
    if (i > 0) out[tok.slice(0, i)] = tok.slice(i + 1);
  }
  return out;
}

/** Ask an executor binary for its probe line (spawns it, sends `probe`, then `quit`). */
export function executorProbe(path: string, args: string[] = [], timeoutMs = 10_000): Promise<Record<string, string>> {
  return new Promise((resolve, reject) => {
    const child = spawn(path, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let outText = '';
    let errText = '';
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`executor probe timed out after ${timeoutMs} ms`)); }, timeoutMs);
    child.stdout.on('data', (d: Buffer) => { outText += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { errText += d.toString(); });
    child.on('error', (e) => { clearTimeout(timer); reject(e); });
    child.on('close', (code) => {
      clearTimeout(timer);
      const line = outText.split('\n').find((l) => l.startsWith('probe '));
      if (!line) reject(new Error(`executor ${path} gave no probe line (exit ${code}): ${errText.trim() || outText.trim()}`));
      else resolve(parseProbeLine(line));
    });
    child.stdin.end('probe\nquit\n');
  });
}

/** The userfaultfd / PAGEMAP_SCAN / privilege facts the executor's `probe` reply states, as the
 *  probe result's fields (shared by the host probe and the QEMU guest probe). */
export function executorFacts(facts: Record<string, string> | null) {
  const b = (k: string) => facts?.[k] === '1';
  return {
    userfaultfd: b('uffd'),
    uffd_features: facts?.uffd_features ?? '0x0',
    wp_async: b('wp_async'),
    wp_unpopulated: b('wp_unpopulated'),
    event_fork: b('event_fork'),
    event_remap: b('event_remap'),
    event_unmap: b('event_unmap'),
    pagemap_scan: b('pagemap_scan'),
    scan_guard: b('scan_guard'),
    case_uid: facts?.uid !== undefined ? Number(facts.uid) : null,
    privileges_dropped: b('privileges_dropped'),
  };
}

export function probeFromFacts(facts: Record<string, string> | null, executor: string | null): ProbeResult {
  const b = (k: string) => facts?.[k] === '1';
  const swaps = activeSwaps(readOr('/proc/swaps', ''));
  const notes: string[] = [];
  if (!facts) notes.push(`native executor not built (${DEFAULT_EXECUTOR}): run \`make -C workers/executor\`; uffd, PAGEMAP_SCAN and soft-dirty facts unknown`);
  if (facts && !b('soft_dirty')) notes.push('soft-dirty is not compiled in (CONFIG_MEM_SOFT_DIRTY): bit 55 is shown as ?');
  if (facts && b('userfaultfd') && !b('event_fork')) notes.push('UFFD_FEATURE_EVENT_FORK needs CAP_SYS_PTRACE: cases with event_fork are skipped');
  if (!swaps.length) notes.push('no active swap: pageout steps are skipped (run `ptefarm setup-swap` as root)');
  return {
    arch: os.machine(),
    kernel: os.release(),
    executor,
    ...executorFacts(facts),
    soft_dirty: b('soft_dirty'),
    uffd_wp: b('uffd_wp'),
    swap: swaps.length > 0,
    swap_devices: swaps,
    thp: selected(readOr('/sys/kernel/mm/transparent_hugepage/enabled', 'unavailable')),
    thp_shmem: selected(readOr('/sys/kernel/mm/transparent_hugepage/shmem_enabled', 'unavailable')),
    notes,
  };
}

/** Probe the host; the executor part is skipped (and noted) when the binary does not exist. */
export async function probeHost(executor = DEFAULT_EXECUTOR): Promise<ProbeResult> {
  if (!existsSync(executor)) return probeFromFacts(null, null);
  return probeFromFacts(await executorProbe(executor), executor);
}

export function capabilitiesOf(p: ProbeResult): Capabilities {
  return {
    soft_dirty: p.soft_dirty,
    uffd_wp: p.uffd_wp,
    wp_async: p.wp_async,
    wp_unpopulated: p.wp_unpopulated,
    event_fork: p.event_fork,
    event_remap: p.event_remap,
    event_unmap: p.event_unmap,
    pagemap_scan: p.pagemap_scan,
    swap: p.swap,
    thp: p.thp === 'always' || p.thp === 'madvise',
  };
}
