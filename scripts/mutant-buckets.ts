// `npx tsx scripts/mutant-buckets.ts [--cases N] [--seed S] [--only B-3,M-8] [--dump DIR] [--jobs K]`
// `npx tsx scripts/mutant-buckets.ts --rebucket DIR [--only B-20,M-18]`
// The bucket histogram of issue 12 ("every model mutant gives ≤ 2 buckets in 20,000 cases"): for
// each mutant, a guided campaign on model:x86+ID (runCampaign, in-process transport, the reference
// checker, no minimization: buckets come from the signatures of the generated cases, which the
// minimizer never changes) and the number of buckets it found, with their hits and titles. Prints
// one JSON object (the last line of stdout); progress goes to stderr.
//
// With --dump DIR, every failing case is written with its trace to DIR/<mutant>.jsonl (one
// `{index, case, trace}` a line, outside the repository). --rebucket DIR re-checks those dumps with
// the current check and signature code, without running the campaigns again: the generated cases
// do not depend on the signature (generation follows rule coverage only), so this gives the same
// campaign's histogram under a changed signature.
import { createWriteStream, mkdirSync, readdirSync, readFileSync, type WriteStream } from 'node:fs';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { runCampaign } from '../src/campaign/campaign.ts';
import { referenceChecker, type Checker } from '../src/campaign/checker.ts';
import { InProcessTransport } from '../src/campaign/inprocess.ts';
import { checkTrace } from '../src/check/check.ts';
import { caseSignature } from '../src/findings/signature.ts';
import { caseTitle } from '../src/findings/title.ts';
import { MUTANTS } from '../src/model/mutants.ts';
import type { Case } from '../src/ops/schema.ts';
import type { Trace } from '../src/ops/trace.ts';

export interface MutantBuckets {
  mutant: string;
  cases: number;
  failing: number;
  buckets: number;
  /** signature -> hits and the title of the first case seen */
  signatures: Record<string, { hits: number; title: string }>;
}

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

/** One mutant's campaign; failing cases (with traces) go to `dump` when given. */
export async function mutantBuckets(mutant: string, cases: number, seed: number, dump?: WriteStream): Promise<MutantBuckets> {
  const base = await referenceChecker();
  const checker: Checker = dump ? {
    ...base,
    // no worker-side verdict: every result comes back here with its trace, to be dumped
    request: undefined,
    check(c, trace) {
      const out = base.check(c, trace);
      if (out.violations.length && !out.fault && !out.skipped) dump.write(`${JSON.stringify({ case: c, trace })}\n`);
      return out;
    },
  } : base;
  const transport = new InProcessTransport();
  const sigs: Record<string, { hits: number; title: string }> = Object.create(null);
  let failing = 0;
  try {
    await runCampaign({
      target: `model:x86+${mutant}`, transport, checker, seed, cases, minimize: false,
      onEvent: (e) => {
        if (e.type !== 'violation') return;
        failing++;
        (sigs[e.signature] ??= { hits: 0, title: e.title }).hits++;
      },
    });
  } finally { await transport.close(); }
  return { mutant, cases, failing, buckets: Object.keys(sigs).length, signatures: sigs };
}

/** Re-bucket a dump with the current check and signature code. */
export function rebucket(file: string, mutant: string): MutantBuckets {
  const sigs: Record<string, { hits: number; title: string }> = Object.create(null);
  let failing = 0;
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (!line) continue;
    const { case: c, trace } = JSON.parse(line) as { case: Case; trace: Trace };
    const v = checkTrace(c, trace);
    const sig = caseSignature(v.violations);
    if (!sig) continue;
    failing++;
    (sigs[sig] ??= { hits: 0, title: caseTitle(v.violations, c) ?? '' }).hits++;
  }
  return { mutant, cases: -1, failing, buckets: Object.keys(sigs).length, signatures: sigs };
}

function summarize(rs: MutantBuckets[]): Record<string, unknown> {
  const hist: Record<string, number> = {};
  for (const r of rs) hist[r.buckets] = (hist[r.buckets] ?? 0) + 1;
  return {
    mutants: rs.length,
    buckets_total: rs.reduce((n, r) => n + r.buckets, 0),
    at_most_2: rs.filter((r) => r.buckets <= 2).length,
    histogram: hist,
    per_mutant: Object.fromEntries(rs.map((r) => [r.mutant, r.buckets])),
    detail: rs,
  };
}

async function main(): Promise<void> {
  const re = arg('--rebucket');
  if (re) {
    const wanted = arg('--only')?.split(',');
    const rs = readdirSync(re).filter((f) => f.endsWith('.jsonl')).sort()
      .map((f) => f.replace(/\.jsonl$/, ''))
      .filter((m) => !wanted || wanted.includes(m))
      .map((m) => rebucket(join(re, `${m}.jsonl`), m));
    process.stdout.write(`${JSON.stringify(summarize(rs))}\n`);
    return;
  }
  const cases = Number(arg('--cases') ?? 20_000);
  const seed = Number(arg('--seed') ?? 1);
  const only = arg('--only')?.split(',') ?? MUTANTS.map((m) => m.id);
  const dumpDir = arg('--dump');
  const jobs = Math.max(1, Number(arg('--jobs') ?? 1));
  if (dumpDir) mkdirSync(dumpDir, { recursive: true });
  if (jobs > 1) {
    // split the mutants over child processes (one core each), then merge their JSON
    const parts: string[][] = Array.from({ length: jobs }, () => []);
    only.forEach((m, i) => parts[i % jobs]!.push(m));
    const self = fileURLToPath(import.meta.url);
    const outs = await Promise.all(parts.filter((p) => p.length).map((p) => new Promise<MutantBuckets[]>((resolve, reject) => {
      const a = [...process.execArgv, self, '--cases', String(cases), '--seed', String(seed), '--only', p.join(','), ...(dumpDir ? ['--dump', dumpDir] : [])];
      const ch = spawn(process.execPath, a, { stdio: ['ignore', 'pipe', 'inherit'] });
      let out = '';
      ch.stdout.on('data', (d) => { out += d; });
      ch.on('close', (code) => {
        if (code !== 0) { reject(new Error(`child for ${p.join(',')} exited ${code}`)); return; }
        resolve((JSON.parse(out.trim().split('\n').pop()!) as { detail: MutantBuckets[] }).detail);
      });
    })));
    const byId = new Map(outs.flat().map((r) => [r.mutant, r]));
    process.stdout.write(`${JSON.stringify(summarize(only.map((m) => byId.get(m)!)))}\n`);
    return;
  }
  const rs: MutantBuckets[] = [];
  for (const m of only) {
    const t0 = performance.now();
    const dump = dumpDir ? createWriteStream(join(dumpDir, `${m}.jsonl`)) : undefined;
    const r = await mutantBuckets(m, cases, seed, dump);
    if (dump) await new Promise<void>((res) => dump.end(res));
    process.stderr.write(`${m}: ${r.buckets} bucket(s), ${r.failing} failing of ${cases} (${((performance.now() - t0) / 1000).toFixed(0)} s)\n`);
    rs.push(r);
  }
  process.stdout.write(`${JSON.stringify(summarize(rs))}\n`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) await main();
