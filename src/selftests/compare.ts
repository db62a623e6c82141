// The selftests beside ptefarm's own verdict for the same kernel (issue 15 item 4). ptefarm's
// verdict is a gate run on the same target (`ptefarm gate`, src/report/gate.ts): its gate.json and
// its KTAP, read with the parser that reads the selftests (parse.ts). A selftest that fails where
// the gate passes is a finding about ptefarm: the kernel misbehaves and the farm did not see it.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packagePath } from '../package-root.ts';
import { own } from '../ops/records.ts';
import { REPORT_FILES, RUN_FILE } from '../report/rundir.ts';
import { SELFTESTS } from './catalogue.ts';
import { parseKtap, type Counts } from './parse.ts';
import type { SelftestRun } from './result.ts';

export interface PtefarmVerdict {
  target: string;
  kernel?: string;
  /** the gate's verdict: pass, fail (a new reproducible violation), error (infrastructure) */
  verdict: string;
  exitCode: number;
  /** the gate's KTAP test points, counted */
  counts?: Counts;
  capabilities: Record<string, boolean | undefined>;
  /** fresh cases the gate ran */
  cases?: number;
  reasons: string[];
  dir: string;
}

interface GateJson {
  target: string; verdict: string; exit_code: number; reasons?: string[];
  target_info?: { kernel?: string; capabilities?: Record<string, boolean | undefined> };
  campaign?: { cases?: number };
}

/** ptefarm's verdict from a gate run directory. */
export function readGateRun(dir: string): PtefarmVerdict {
  const path = join(dir, RUN_FILE);
  if (!existsSync(path)) throw new Error(`selftests: no ${RUN_FILE} in ${dir} (not a gate run directory)`);
  const g = JSON.parse(readFileSync(path, 'utf8')) as GateJson;
  if (typeof g.verdict !== 'string' || typeof g.target !== 'string') throw new Error(`selftests: ${path} has no verdict or target`);
  const ktap = join(dir, REPORT_FILES.ktap);
  return {
    target: g.target, kernel: g.target_info?.kernel, verdict: g.verdict, exitCode: g.exit_code,
    ...(existsSync(ktap) ? { counts: parseKtap(readFileSync(ktap, 'utf8')).counts } : {}),
    capabilities: g.target_info?.capabilities ?? {}, cases: g.campaign?.cases, reasons: g.reasons ?? [], dir,
  };
}

/** Run `ptefarm gate` on the target (a fixed small budget, nothing saved) and read its verdict. */
export function runPtefarmGate(target: string, cases: number, outDir: string, log: (l: string) => void = () => undefined,
  corpus?: readonly string[]): Promise<PtefarmVerdict> {
  const args = [packagePath('bin', 'ptefarm.mjs'), 'gate', '--target', target, '--cases', String(cases), '--no-save', '--out', outDir, '--quiet',
    ...(corpus?.length ? ['--corpus', ...corpus] : [])];
  log(`selftests: ptefarm's verdict: ptefarm ${args.slice(1).join(' ')}`);
  return new Promise((res, rej) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => { out = (out + d.toString()).slice(-8192); });
    child.stderr.on('data', (d: Buffer) => { out = (out + d.toString()).slice(-8192); });
    child.on('error', rej);
    child.on('close', (code) => {
      // exit 0 pass, 1 a new reproducible violation, 2 infrastructure: all three write gate.json
      try { res(readGateRun(outDir)); } catch (e) { rej(new Error(`ptefarm gate on ${target} exited ${code} without a run directory: ${(e as Error).message}\n${out.slice(-1500)}`)); }
    });
  });
}

export type FindingKind =
  /** a selftest fails, the gate passes: a finding about ptefarm */
  | 'ptefarm-missed'
  /** both fail on this kernel */
  | 'agree-fail'
  /** the gate fails, no selftest does */
  | 'ptefarm-only';

export interface Finding { kind: FindingKind; selftest?: string; text: string }

export interface Comparison {
  kernel: string;
  findings: Finding[];
  /** selftests whose run says nothing either way (error, not built) */
  inconclusive: string[];
  notes: string[];
}

const briefly = (reasons: readonly string[]) =>
  reasons.slice(0, 2).join('; ') + (reasons.length > 2 ? `; and ${reasons.length - 2} more` : '');

/** `oops`: the guest console from a kernel oops during the selftests on, when there was one */
export function compare(kernel: string, runs: readonly SelftestRun[], verdict: PtefarmVerdict, oops?: string): Comparison {
  const findings: Finding[] = [];
  const notes: string[] = [];
  if (verdict.kernel && verdict.kernel !== kernel) {
    notes.push(`ptefarm's gate ran on kernel ${verdict.kernel}, the selftests on ${kernel}: not the same kernel, no comparison`);
    return { kernel, findings, inconclusive: runs.map((r) => r.name), notes };
  }
  const gatePassed = verdict.verdict === 'pass';
  if (verdict.verdict === 'error') notes.push(`ptefarm's gate had an infrastructure error (${briefly(verdict.reasons)}): its verdict does not count`);
  for (const r of runs) {
    if (r.status !== 'fail') continue;
    const t = SELFTESTS.find((s) => s.name === r.name);
    const cap = t?.capability;
    const sees = cap === undefined ? 'no ptefarm capability covers it' : own(verdict.capabilities, cap) === false ? `ptefarm cannot observe ${cap} on this target` : `ptefarm observes ${cap} here`;
    if (gatePassed) {
      findings.push({ kind: 'ptefarm-missed', selftest: r.name, text: `FINDING ABOUT PTEFARM: the kernel's ${r.name} selftest fails on ${kernel} (${r.why}) while ptefarm's gate passes (${sees}; checks: ${t?.covers ?? '?'})` });
    } else if (verdict.verdict === 'fail') {
      findings.push({ kind: 'agree-fail', selftest: r.name, text: `agreement: ${r.name} fails on ${kernel} (${r.why}) and ptefarm's gate fails too` });
    }
  }
  if (oops !== undefined && gatePassed) {
    findings.push({ kind: 'ptefarm-missed', text: `FINDING ABOUT PTEFARM: the kernel oopsed on ${kernel} during the selftests (${oops.split('\n')[0].trim()}) while ptefarm's gate passes` });
  }
  if (verdict.verdict === 'fail' && !runs.some((r) => r.status === 'fail')) {
    findings.push({ kind: 'ptefarm-only', text: `ptefarm's gate fails on ${kernel} (${briefly(verdict.reasons)}) where no selftest fails: a kernel bug the selftests miss, or a ptefarm false positive (see ${verdict.dir})` });
  }
  const inconclusive = runs.filter((r) => r.status === 'error' || r.status === 'not-built').map((r) => r.name);
  return { kernel, findings, inconclusive, notes };
}
