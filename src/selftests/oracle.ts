// `ptefarm selftests` end to end for one target: run the kernel's selftests there (live.ts or
// guest.ts), get ptefarm's own verdict for the same kernel (compare.ts: a gate run, or one given),
// compare, and render the report (text, JSON). Called by src/cli/commands/selftests.ts.
import os from 'node:os';
import { join } from 'node:path';
import type { BuiltSelftests } from './build.ts';
import type { Selftest } from './catalogue.ts';
import { compare, readGateRun, runPtefarmGate, type Comparison, type PtefarmVerdict } from './compare.ts';
import { runGuest } from './guest.ts';
import { runLive } from './live.ts';
import type { SelftestRun } from './result.ts';

export interface TargetReport {
  target: string;
  kernel: string;
  /** the linux-source package and version the selftests come from */
  source: string;
  runs: SelftestRun[];
  /** ms running the selftests (for a guest: boot included) */
  ms: number;
  oops?: string;
  verdict?: PtefarmVerdict;
  comparison?: Comparison;
}

export interface OracleOptions {
  tests: readonly Selftest[];
  /** fresh cases of ptefarm's gate; undefined with `gateDir` undefined: no verdict, no comparison */
  gateCases?: number;
  /** an existing gate run directory for this target, instead of running one */
  gateDir?: string;
  /** corpus directories or files the gate replays (default: the gate's own default) */
  gateCorpus?: readonly string[];
  /** where this run's gate directories go */
  outDir: string;
  log?: (l: string) => void;
}

export async function runOracle(b: BuiltSelftests, target: string, o: OracleOptions): Promise<TargetReport> {
  const log = o.log ?? (() => undefined);
  const t0 = Date.now();
  let runs: SelftestRun[], kernel: string, oops: string | undefined;
  if (target === 'live') {
    runs = await runLive(b, o.tests, log);
    kernel = os.release();
  } else if (target.startsWith('qemu:')) {
    const g = await runGuest(b, target.slice('qemu:'.length), o.tests, log);
    runs = g.runs; oops = g.oops;
    kernel = g.guest.release ?? '(unknown)';
  } else {
    throw new Error(`selftests: target "${target}" is not live or qemu:<image> (the selftests need a real kernel)`);
  }
  const ms = Date.now() - t0;
  const report: TargetReport = { target, kernel, source: `${b.manifest.package} ${b.manifest.version}`, runs, ms, ...(oops ? { oops } : {}) };
  let verdict: PtefarmVerdict | undefined;
  if (o.gateDir) verdict = readGateRun(o.gateDir);
  else if (o.gateCases !== undefined) verdict = await runPtefarmGate(target, o.gateCases, join(o.outDir, `gate-${target.replace(/[^A-Za-z0-9.-]+/g, '_')}`), log, o.gateCorpus);
  if (verdict) {
    if (verdict.target !== target) throw new Error(`selftests: the gate run ${verdict.dir} is for ${verdict.target}, not ${target}`);
    report.verdict = verdict;
    report.comparison = compare(kernel, runs, verdict, oops);
  }
  return report;
}

const sec = (ms: number | undefined) => ms === undefined ? '-' : `${(ms / 1000).toFixed(1)}s`;

export function formatReport(r: TargetReport): string {
  const out = [`selftests on ${r.target} (kernel ${r.kernel}; ${r.source}; ${sec(r.ms)})`];
  const rows = [['selftest', 'user', 'status', 'pass', 'skip', 'fail', 'time', 'why'],
    ...r.runs.map((x) => [x.name + (x.args.length ? ` ${x.args.join(' ')}` : ''), x.user ?? '-', x.status.toUpperCase(),
      String(x.counts.pass + x.counts.xfail), String(x.counts.skip), String(x.counts.fail), sec(x.ms), x.why ?? ''])];
  const w = rows[0].map((_, i) => Math.max(...rows.map((row) => row[i].length)));
  for (const row of rows) out.push('  ' + row.map((c, i) => (i >= 3 && i <= 5 ? c.padStart(w[i]) : c.padEnd(w[i]))).join('  ').trimEnd());
  if (r.oops) out.push(`  KERNEL OOPS during the selftests:\n${r.oops.split('\n').slice(0, 12).map((l) => '    ' + l).join('\n')}`);
  if (r.verdict) {
    const v = r.verdict, c = v.counts;
    out.push(`ptefarm's verdict on ${v.target} (kernel ${v.kernel ?? '?'}): gate ${v.verdict.toUpperCase()} (exit ${v.exitCode})` +
      `${c ? `, KTAP pass:${c.pass} skip:${c.skip} fail:${c.fail}` : ''}${v.cases !== undefined ? `, ${v.cases} fresh cases` : ''}; ${v.dir}`);
  }
  const cmp = r.comparison;
  if (cmp) {
    for (const n of cmp.notes) out.push(`note: ${n}`);
    for (const f of cmp.findings) out.push(f.text);
    if (cmp.inconclusive.length) out.push(`inconclusive (error or not built): ${cmp.inconclusive.join(', ')}`);
    if (!cmp.findings.some((f) => f.kind === 'ptefarm-missed')) out.push('no finding about ptefarm: no selftest fails where ptefarm passes');
  } else out.push('(no ptefarm verdict: no comparison)');
  return out.join('\n') + '\n';
}

/** The report as JSON: the runs without their full output (kept to the last 4 KiB). */
export function reportJson(r: TargetReport): unknown {
  return { ...r, runs: r.runs.map(({ parsed, output, ...x }) => ({ ...x, points: parsed?.points, bail_out: parsed?.bailOut, problems: parsed?.problems, output_tail: output?.slice(-4096) })) };
}
