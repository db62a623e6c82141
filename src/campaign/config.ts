// One option vocabulary for everything that runs a campaign (`fuzz`, `fuzz --nats`, `coordinator`,
// `gate`) and for the commands around it (`minimize`, `replay`, `corpus`): the work directory, the
// seed, durations and counts are parsed and defaulted here and nowhere else. The CLI registers the
// flags (src/cli/options.ts) and hands the raw strings to `resolveCampaignFlags`.
import { resolve, join } from 'node:path';

/** A bad option value: the CLI prints the message and exits 2. */
export class OptionError extends Error {}

/** Where findings and run directories go unless --workdir says otherwise (relative to the current
 *  directory; ignored by git in this repository). Nothing a campaign does writes into corpus/. */
export const DEFAULT_WORKDIR = 'ptefarm-work';
export const DEFAULT_SEED = 1;
export const DEFAULT_TIMEOUT = '10s';
/** cases generated when neither --cases nor --duration is given */
export const DEFAULT_CASES = 1000;
/** how long a farm campaign (coordinator, fuzz --nats) waits with no live worker for its target */
export const DEFAULT_NO_WORKER_GRACE = '30s';

/** The work directory, absolute (a stored NATS campaign keeps it for --resume from another cwd). */
export function resolveWorkdir(flag?: string, cwd = process.cwd()): string {
  return resolve(cwd, flag ?? DEFAULT_WORKDIR);
}

/** Layout of a work directory: findings/<id>/{case.json,finding.json}, runs/<run>/. */
export const findingsDir = (workdir: string) => join(workdir, 'findings');
export const runsDir = (workdir: string) => join(workdir, 'runs');

const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 } as const;

/**
 * "500ms", "30s", "5m", "2h", "1.5m" -> ms. A bare number is refused: `--timeout` once meant
 * milliseconds and `--duration` seconds, so a number without a unit is ambiguous.
 */
export function parseDuration(s: string, option = 'duration'): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(s.trim());
  if (!m) {
    const hint = /^\d+(\.\d+)?$/.test(s.trim()) ? ' has no unit' : ' is not a duration';
    throw new OptionError(`--${option}: "${s}"${hint}: write e.g. 500ms, 30s, 5m or 2h`);
  }
  const ms = Math.round(Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS]);
  if (ms <= 0) throw new OptionError(`--${option}: "${s}" must be longer than 0`);
  return ms;
}

/** --no-worker-grace <time> in ms (commander hands over `true` when the flag is absent). */
export function resolveNoWorkerGrace(v: string | boolean | undefined): number {
  return parseDuration(typeof v === 'string' ? v : DEFAULT_NO_WORKER_GRACE, 'no-worker-grace');
}

/** An integer option >= min (undefined when not given). */
export function parseCount(option: string, s: string | number | undefined, min: number): number | undefined {
  if (s === undefined) return undefined;
  const str = String(s).trim();
  if (!/^\d+$/.test(str) || Number(str) < min) throw new OptionError(`--${option}: expected an integer >= ${min}, got "${s}"`);
  return Number(str);
}

/** --seed: an integer, or "random" (a fresh seed from the clock; every summary names the seed used). */
export function resolveSeed(s: string | number | undefined, now = Date.now()): number {
  if (s === undefined) return DEFAULT_SEED;
  if (String(s).trim() === 'random') return now % 2 ** 31;
  return parseCount('seed', s, 0)!;
}

/** The raw flags every campaign command shares (strings as commander hands them over). */
export interface CampaignFlags {
  cases?: string | number;
  duration?: string;
  seed?: string | number;
  timeout?: string;
  stopAfter?: string | number;
  /** hidden alias of --stop-after (the coordinator's old spelling) */
  stopAfterBuckets?: string | number;
  /** hidden alias of --stop-after 1 */
  first?: boolean;
  workdir?: string;
  /** commander's --no-save */
  save?: boolean;
  minimize?: boolean;
  profile?: string;
  /** removed: `fuzz --corpus DIR` used to write findings into the tracked corpus */
  corpus?: unknown;
}

export interface CampaignSettings {
  seed: number;
  cases?: number;
  durationMs?: number;
  timeoutMs: number;
  stopAfterBuckets?: number;
  /** absolute work directory (findings are stored there unless save is false) */
  workdir: string;
  save: boolean;
  minimize: boolean;
  profile?: string;
}

/** Resolve the shared campaign flags: same defaults and same errors in fuzz, gate and coordinator. */
export function resolveCampaignFlags(f: CampaignFlags, cwd = process.cwd()): CampaignSettings {
  if (typeof f.corpus === 'string') {
    throw new OptionError('--corpus DIR no longer takes findings: they go to the work directory (--workdir, default ./ptefarm-work); promote one into corpus/ with `ptefarm corpus add`');
  }
  const durationMs = f.duration !== undefined ? parseDuration(f.duration, 'duration') : undefined;
  // 0 is allowed: `gate --cases 0` replays the corpus only
  const cases = parseCount('cases', f.cases, 0) ?? (durationMs === undefined ? DEFAULT_CASES : undefined);
  const stop = parseCount('stop-after', f.stopAfter, 1) ?? parseCount('stop-after-buckets', f.stopAfterBuckets, 1) ?? (f.first ? 1 : undefined);
  return {
    seed: resolveSeed(f.seed),
    cases,
    durationMs,
    timeoutMs: parseDuration(f.timeout ?? DEFAULT_TIMEOUT, 'timeout'),
    stopAfterBuckets: stop,
    workdir: resolveWorkdir(f.workdir, cwd),
    save: f.save !== false,
    minimize: f.minimize !== false,
    profile: f.profile,
  };
}
