// One selftest run's outcome, from its output, exit status and timing: the status rules shared by
// the live and guest runners (live.ts, guest.ts). Exit codes are kselftest.h's: KSFT_PASS 0,
// KSFT_FAIL 1, KSFT_XFAIL 2, KSFT_XPASS 3, KSFT_SKIP 4.
import type { Selftest } from './catalogue.ts';
import { parseOutput, type Counts, type Parsed } from './parse.ts';

export type SelftestStatus = 'pass' | 'skip' | 'fail' | 'error' | 'not-built';

export interface SelftestRun {
  name: string;
  status: SelftestStatus;
  /** the reason for skip, fail, error, not-built, in one line */
  why?: string;
  counts: Counts;
  /** who ran it: root, or nobody like a ptefarm case process */
  user?: 'root' | 'nobody' | string;
  args: readonly string[];
  exit?: number;
  signal?: string;
  timedOut?: boolean;
  ms?: number;
  parsed?: Parsed;
  /** stdout and stderr together (last 64 KiB) */
  output?: string;
}

const ZERO: Counts = { pass: 0, fail: 0, skip: 0, xfail: 0 };

export function notBuilt(t: Selftest, why: string): SelftestRun {
  return { name: t.name, status: 'not-built', why, counts: { ...ZERO }, args: t.args };
}

export interface RawRun {
  output: string;
  exit?: number;
  signal?: string;
  timedOut?: boolean;
  ms: number;
  user: string;
}

export function judge(t: Selftest, raw: RawRun): SelftestRun {
  const parsed = parseOutput(t.format, raw.output);
  const base = {
    name: t.name, counts: parsed.counts, user: raw.user, args: t.args, ms: raw.ms, parsed, output: raw.output.slice(-65536),
    ...(raw.exit !== undefined ? { exit: raw.exit } : {}), ...(raw.signal ? { signal: raw.signal } : {}), ...(raw.timedOut ? { timedOut: true } : {}),
  };
  const failed = parsed.points.filter((p) => p.result === 'fail').map((p) => p.name + (p.reason ? ` (${p.reason})` : ''));
  if (raw.timedOut) return { ...base, status: 'error', why: `timed out after ${Math.round(t.timeoutS)} s (${parsed.points.length} test(s) reported)` };
  if (failed.length) return { ...base, status: 'fail', why: `${failed.length} failed: ${failed.slice(0, 3).join('; ')}${failed.length > 3 ? '; ...' : ''}` };
  if (parsed.bailOut !== undefined) return { ...base, status: 'fail', why: `stopped early: ${parsed.bailOut}` };
  if (raw.signal) return { ...base, status: 'fail', why: `killed by ${raw.signal}` };
  if (raw.exit === 1 || raw.exit === 3) return { ...base, status: 'fail', why: `exit ${raw.exit} (${raw.exit === 1 ? 'KSFT_FAIL' : 'KSFT_XPASS'}) with no failing test point` };
  if (parsed.problems.length) return { ...base, status: 'error', why: parsed.problems.join('; ') };
  if (raw.exit !== undefined && ![0, 2, 4].includes(raw.exit)) return { ...base, status: 'error', why: `exit ${raw.exit} (not a kselftest exit code)` };
  if (parsed.skipAll !== undefined) return { ...base, status: 'skip', why: parsed.skipAll };
  if (raw.exit === 4 || (parsed.counts.pass + parsed.counts.xfail === 0)) {
    const reasons = [...new Set(parsed.points.filter((p) => p.result === 'skip').map((p) => p.reason ?? ''))].filter(Boolean);
    return { ...base, status: 'skip', why: reasons.slice(0, 2).join('; ') || `exit ${raw.exit}` };
  }
  return { ...base, status: 'pass' };
}
