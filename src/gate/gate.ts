// The merge gate (GitHub issue 6): replay the corpus, run a fixed, deterministic budget of fresh
// cases through the campaign, re-run every failing bucket's (minimized) case to see whether it
// reproduces, and compare signatures with a baseline of accepted ones. Like CIFuzz, only
// violations that are both REPRODUCIBLE (every re-run shows the signature) and NEW (not in the
// baseline) fail the gate; flaky and baseline buckets are reported separately.
//
// Exit codes: 0 pass, 1 a new reproducible violation, 2 infrastructure error (the target cannot
// start, every case faults, a corpus file is unreadable or invalid, a corpus case faults).
import { mkdir, writeFile, appendFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Case } from '../ops/schema.ts';
import type { TargetInfo, Trace } from '../ops/trace.ts';
import type { Transport } from '../transport/transport.ts';
import type { Checker } from '../campaign/checker.ts';
import type { GenerateOptions } from '../campaign/generate.ts';
import { runCampaign, type CampaignEvent, type Summary } from '../campaign/campaign.ts';
import { signatureSlug } from '../campaign/corpus.ts';
import { rootInfo, type RootInfo } from '../findings/title.ts';
import { SIGNATURE_VERSION, signatureRank } from '../findings/signature.ts';
import { GATE_FORMAT, type BucketStatus, type GateBucket, type GateRun, type TimelinePoint } from '../report/run.ts';
import { matchBaseline, type Baseline } from './baseline.ts';
import { caseRunner, judge, replayCorpus } from './replay.ts';

export { GATE_FORMAT, type GateRun };

export interface GateOptions {
  target: string;
  transport: Transport;
  checker: Checker;
  corpusDirs: string[];
  seed: number;
  cases?: number;
  durationMs?: number;
  baseline?: Baseline;
  baselineFile?: string;
  /** re-runs of each failing case (default 3) */
  reproduceRuns?: number;
  timeoutMs?: number;
  outDir: string;
  targetInfo?: TargetInfo;
  profile?: string;
  signal?: AbortSignal;
  log?: (line: string) => void;
  maxMinimizeRuns?: number;
  /** work directory whose findings/ receive the campaign's buckets (undefined: record nothing) */
  workdir?: string;
  /** what the fresh cases are generated for (src/campaign/target-fit.ts generateOptionsFor: the
   *  target's page geometry, hugetlb pages, soft-dirty); default: 4 KiB pages, everything shown */
  generate?: GenerateOptions;
  /** the fresh-case campaign's events (the live dashboard) */
  onEvent?: (e: CampaignEvent) => void;
}

interface Found { sig: string; c: Case; source: string; hits: number; minimized: boolean; info?: RootInfo }

export async function runGate(o: GateOptions): Promise<GateRun> {
  const t0 = performance.now();
  const log = o.log ?? (() => undefined);
  const runs = o.reproduceRuns ?? 3;
  const errors: string[] = [];
  await mkdir(join(o.outDir, 'cases'), { recursive: true });
  await mkdir(join(o.outDir, 'traces'), { recursive: true });

  const runCase = caseRunner(o.transport, o.target, o.timeoutMs);
  // baseline patterns of an older signature scheme are matched as today's scheme names them (said, not silent)
  const rekeyed = (o.baseline ?? []).flatMap((e) => (e.written ? [{ written: e.written, now: e.signature }] : []));
  for (const r of rekeyed) log(`gate: baseline pattern ${r.written} is written in an older signature scheme; read as ${r.now}`);

  // ---- 1. corpus replay (src/gate/replay.ts) -----------------------------------------------------
  const found = new Map<string, Found>();
  log(`gate: replaying the corpus from ${o.corpusDirs.join(', ')}`);
  const { results: corpus, hits } = await replayCorpus({ dirs: o.corpusDirs, runCase, checker: o.checker, concurrency: o.transport.concurrency, errors });
  log(`gate: replayed ${corpus.length} corpus case(s)`);
  for (const h of hits) {
    const f = found.get(h.sig);
    if (f) f.hits++;
    else found.set(h.sig, { sig: h.sig, c: h.c, source: h.path, hits: 1, minimized: false, info: h.info });
  }

  // ---- 2. fresh cases ----------------------------------------------------------------------------
  const timeline: TimelinePoint[] = [{ t: 0, cases: 0 }];
  const casesFile = join(o.outDir, 'cases.jsonl');
  await writeFile(casesFile, '');
  let pending: string[] = [];
  const flush = async () => { if (pending.length) { const b = pending.join(''); pending = []; await appendFile(casesFile, b); } };
  let summary: Summary | undefined;
  const faults: { index: number; fault: string }[] = [];
  const budget = o.cases !== undefined || o.durationMs !== undefined;
  if (budget && !(o.cases === 0)) {
    log(`gate: fresh cases on ${o.target}, seed ${o.seed}, ${o.cases !== undefined ? `${o.cases} cases` : `${o.durationMs} ms`}`);
    summary = await runCampaign({
      target: o.target, transport: o.transport, checker: o.checker, seed: o.seed,
      cases: o.cases, durationMs: o.durationMs, timeoutMs: o.timeoutMs, minimize: true, reliabilityRuns: 0,
      maxMinimizeRuns: o.maxMinimizeRuns, signal: o.signal, workdir: o.workdir, source: 'gate',
      generate: o.generate,
      onCase: (i, c) => { pending.push(JSON.stringify({ index: i, case: c }) + '\n'); if (pending.length >= 500) void flush(); },
      onEvent: (ev) => {
        o.onEvent?.(ev);
        if (ev.type === 'progress') timeline.push({ t: Math.round(ev.stats.elapsedMs) / 1000, cases: ev.stats.completed });
        if (ev.type === 'fault' && faults.length < 20) faults.push({ index: ev.index, fault: ev.fault });
        if (ev.type === 'bucket') log(`gate: new bucket ${ev.signature} at case ${ev.index}`);
      },
    });
    await flush();
    const last = timeline[timeline.length - 1];
    if (last.cases !== summary.cases) timeline.push({ t: summary.elapsed_s, cases: summary.cases });
    if (summary.cases > 0 && summary.faults === summary.cases) errors.push(`all ${summary.cases} fresh cases faulted on ${o.target} (is the target usable?)`);
    for (const b of summary.buckets) {
      const f = found.get(b.signature);
      if (f) { f.hits += b.hits; continue; }
      found.set(b.signature, { sig: b.signature, c: b.case, source: 'campaign', hits: b.hits, minimized: b.minimized });
    }
  }

  // ---- 3. reproduce every bucket, compare with the baseline ------------------------------------
  const buckets: GateBucket[] = [];
  for (const f of found.values()) {
    const slug = signatureSlug(f.sig);
    const caseFile = join('cases', `${slug}.json`);
    await writeFile(join(o.outDir, caseFile), JSON.stringify({ ...f.c, name: f.c.name ?? `gate: ${f.sig}` }, null, 2) + '\n');
    let ok = 0;
    let kept: Trace | undefined;
    let last: Trace | undefined;
    // the example, title and step quoted are those of THIS case (re-checked), never of a bigger one
    let info: RootInfo | undefined;
    for (let i = 0; i < runs; i++) {
      const r = await runCase(f.c);
      if (!r.trace || r.fault) continue;
      last = r.trace;
      const j = judge(o.checker, f.c, r.trace);
      if (j.sig === f.sig) { ok++; kept = r.trace; info ??= j.info; }
    }
    kept ??= last;
    info ??= f.info ?? (last ? rootInfo(o.checker.check(f.c, last).violations, f.c) : undefined);
    let traceFile: string | undefined;
    if (kept) {
      traceFile = join('traces', `${slug}.trace.json`);
      await writeFile(join(o.outDir, traceFile), JSON.stringify(kept) + '\n');
    }
    const accepted = o.baseline ? matchBaseline(o.baseline, f.sig) : undefined;
    const status: BucketStatus = accepted ? 'baseline' : ok === runs ? 'new' : 'flaky';
    buckets.push({
      signature: f.sig, title: info?.title ?? f.sig, source: f.source, status, ...(accepted ? { reason: accepted.reason } : {}),
      hits: f.hits, ops: f.c.ops.length, minimized: f.minimized, reproduced: ok, runs,
      example: info?.line ?? '(did not reproduce: no example from this case)', step: info?.root.step ?? -1, consequences: info?.consequences ?? 0,
      case_file: caseFile, ...(traceFile ? { trace_file: traceFile } : {}),
    });
    log(`gate: bucket ${f.sig}: reproduced ${ok}/${runs}, ${status}${accepted ? ` (${accepted.reason})` : ''}`);
  }
  buckets.sort((a, b) => order(a.status) - order(b.status) || signatureRank(a.signature) - signatureRank(b.signature) || a.signature.localeCompare(b.signature));

  // corpus verdicts follow their buckets
  const bySig = new Map(buckets.map((b) => [b.signature, b]));
  for (const r of corpus) {
    if (r.status !== 'fail') continue;
    const st = r.signatures.map((s) => bySig.get(s)?.status);
    if (st.includes('new')) r.status = 'fail';
    else if (st.includes('flaky')) r.status = 'flaky';
    else r.status = 'known';
  }

  const fresh = buckets.filter((b) => b.status === 'new');
  const reasons: string[] = [];
  for (const b of fresh) reasons.push(`new reproducible violation: ${b.title} [${b.signature}] (${b.reproduced}/${b.runs}, from ${b.source}): ${b.example}`);
  for (const e of errors) reasons.push(`infrastructure error: ${e}`);
  const exit: 0 | 1 | 2 = errors.length ? 2 : fresh.length ? 1 : 0;
  if (exit === 0) reasons.push(`no new reproducible violation (${buckets.filter((b) => b.status === 'baseline').length} baseline, ${buckets.filter((b) => b.status === 'flaky').length} flaky bucket(s))`);

  const campaign = summary ? (({ buckets: bs, ...rest }) => ({ ...rest, buckets: bs.length }))(summary) : undefined;
  return {
    format: GATE_FORMAT,
    target: o.target,
    ...(o.targetInfo ? { target_info: o.targetInfo } : {}),
    ...(o.profile ? { profile: o.profile } : {}),
    seed: o.seed,
    started: new Date(Date.now() - (performance.now() - t0)).toISOString(),
    elapsed_s: Math.round(performance.now() - t0) / 1000,
    budget: { ...(o.cases !== undefined ? { cases: o.cases } : {}), ...(o.durationMs !== undefined ? { duration_ms: o.durationMs } : {}) },
    reproduce_runs: runs,
    corpus_dirs: o.corpusDirs,
    signature_version: SIGNATURE_VERSION,
    ...(o.baselineFile ? { baseline: { file: o.baselineFile, entries: o.baseline?.length ?? 0, ...(rekeyed.length ? { rekeyed } : {}) } } : {}),
    verdict: exit === 0 ? 'pass' : exit === 1 ? 'fail' : 'error',
    exit_code: exit,
    reasons,
    errors,
    corpus,
    ...(campaign ? { campaign } : {}),
    timeline,
    faults,
    buckets,
  };
}

function order(s: BucketStatus): number { return s === 'new' ? 0 : s === 'flaky' ? 1 : 2; }
