// The benchmark sections. Each returns its number keys (merged into the JSON object) and table rows.
// Timed parts are interleaved (rotating order per round) and reported as medians over rounds,
// because the 2-core machines this runs on are shared and noisy.
import { spawn } from 'node:child_process';
import { availableParallelism, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import type { Case } from '../../src/ops/schema.ts';
import type { Trace } from '../../src/ops/trace.ts';
import { runCampaign } from '../../src/campaign/campaign.ts';
import { referenceChecker } from '../../src/campaign/checker.ts';
import { checkTrace } from '../../src/check/check.ts';
import { MUTANTS } from '../../src/model/mutants.ts';
import { ModelTarget } from '../../src/targets/model.ts';
import { LiveTarget } from '../../src/targets/live.ts';
import { decodeReply } from '../../src/targets/executor/protocol.ts';
import { capabilitiesOf } from '../../src/targets/probe.ts';
import { EmbeddedTransport } from '../../src/transport/embedded.ts';
import type { Transport } from '../../src/transport/transport.ts';
import { scaleCases } from './gen.ts';
import { RawExecutor, compileFloor, encodeForHost, liveMissing, runFloor, type Encoded } from './live.ts';
import { geomean, sideText, type MutantJob, type MutantResult } from './mutant-task.ts';
import { natsMissing, startNats, startWorker } from './nats.ts';
import { mainThreadCpuMs, processCpuMs, twoWorkersBound } from './cpu.ts';

export type Metrics = Record<string, number | string | boolean | null | object>;
export interface Row { section: string; what: string; value: string }
export interface SectionResult { metrics: Metrics; rows: Row[]; notes: string[] }
export interface BenchOptions { quick: boolean; seed: number; log: (s: string) => void }

export function median(xs: number[]): number {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (!s.length) return Number.NaN;
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}
export const r3 = (x: number) => Math.round(x * 1000) / 1000;
const fmt = (x: number, d = 2) => (Number.isFinite(x) ? x.toFixed(d) : 'n/a');
const signalled = (t: Trace) => t.steps.some((s) => typeof s.rc === 'string' && s.rc.startsWith('SIG'));

/** rotate `fns` by round so that no configuration always runs first (or last) */
async function interleaved(rounds: number, fns: Array<() => Promise<void>>, first?: () => Promise<void>): Promise<void> {
  for (let r = 0; r < rounds; r++) {
    if (r === 0 && first) await first();
    const order = fns.map((_, i) => fns[(i + r) % fns.length]!);
    for (const f of order) await f();
  }
}

// ---------------------------------------------------------------------------------------------
// 1. executor floor vs executor alone vs the full live path (+ check cost, item 2)

/**
 * untimed live cases per pool thread before the live section's timed rounds (JIT warm-up). A
 * campaign runs tens of thousands of cases, so the farm figure is its steady state: V8's helper
 * threads (compiling, GC) still cost about 0.48 ms per case after 600 cases, 0.33 after 1,500 and
 * 0.15 after 6,000 (bench/tools/profile-transport --warm, farm7), while the executor alone has no
 * such warm-up; at 600 the farm figure carried about 0.3 ms per case of compiling
 */
const LIVE_WARM_CASES = 3000;

export async function benchLive(o: BenchOptions): Promise<SectionResult> {
  const rows: Row[] = [];
  const notes: string[] = [];
  const missing = liveMissing();
  if (missing) return { metrics: { executor_over_floor: null, farm_over_executor: null, check_over_live_cost: null, live_skipped: missing }, rows, notes: [`live: skipped (${missing})`] };
  const N = o.quick ? 30 : 200;
  const rounds = o.quick ? 1 : 3;
  const checker = await referenceChecker();
  const floorBin = compileFloor();
  const raw = await RawExecutor.start();
  const pools: Record<number, EmbeddedTransport> = { 1: new EmbeddedTransport({ threads: 1 }) };
  if (!o.quick) pools[2] = new EmbeddedTransport({ threads: 2 });
  const warm: Case = { format: 'ptefarm-case/1', ops: [{ op: 'mmap', region: 'a', pages: 1, kind: 'anon' }, { op: 'write', region: 'a' }] };
  try {
    // warm pools: thread start, tsx, executor spawn and probe are not per-case costs
    for (const p of Object.values(pools)) await Promise.all(Array.from({ length: p.concurrency }, (_, i) => p.run({ id: `warm${i}`, target: 'live', case: warm })));
    // nor is V8's JIT of the model in each pool thread: an untimed campaign of another seed first,
    // LIVE_WARM_CASES per thread (cold, the check and its compilation cost a pool thread 2-3 times
    // its steady CPU per case for the first several hundred cases; as in the model section)
    let warmRate: number | null = null;
    if (!o.quick) {
      for (const [threads, p] of Object.entries(pools)) {
        const w = await runCampaign({ target: 'live', transport: p as Transport, checker, seed: o.seed + 1, cases: LIVE_WARM_CASES * Number(threads), minimize: false });
        if (threads === '1') warmRate = w.cases_per_s;
      }
    }
    let cases: Case[] = [];
    let items: Encoded[] = [];
    const farm: Record<number, number[]> = { 1: [], 2: [] };
    const exec: number[] = [];
    const floor: number[] = [];
    const traces: Trace[] = [];
    let sameCases = true;
    const farmRun = (threads: number) => async () => {
      const rec: Case[] = [];
      const s = await runCampaign({ target: 'live', transport: pools[threads] as Transport, checker, seed: o.seed, cases: N, minimize: false, onCase: (_, c) => rec.push(c) });
      farm[threads]!.push(s.cases_per_s);
      if (!cases.length) {
        cases = rec;
        items = encodeForHost(cases, raw.probe);
      } else if (JSON.stringify(rec) !== JSON.stringify(cases)) sameCases = false;
    };
    const execRun = async () => {
      const t0 = performance.now();
      const texts: string[] = [];
      for (const it of items) texts.push(await raw.run(it.enc));
      exec.push(items.length / ((performance.now() - t0) / 1000));
      if (!traces.length) {
        const target = { name: 'live', arch: raw.probe.arch, kernel: raw.probe.kernel, capabilities: capabilitiesOf(raw.probe) };
        texts.forEach((text, i) => {
          const lines = text.split('\n');
          const b = lines.findIndex((l) => l.startsWith('begin '));
          const body = lines.slice(b + 1, lines.length - 2);
          const { steps, fault } = decodeReply(body, items[i]!.enc, target.capabilities.soft_dirty);
          traces.push({ format: 'ptefarm-trace/1', target, steps, ...(fault ? { fault } : {}) });
        });
      }
    };
    const floorRun = async () => {
      const f = runFloor(floorBin, items);
      floor.push(f.cases / (f.ms / 1000));
    };
    const fns = [execRun, floorRun, ...(pools[2] ? [farmRun(2)] : [])];
    if (rounds > 1) fns.push(farmRun(1));
    await interleaved(rounds, fns, farmRun(1));
    o.log(`live: farm(1) ${farm[1]!.map((x) => x.toFixed(0)).join('/')} exec ${exec.map((x) => x.toFixed(0)).join('/')} floor ${floor.map((x) => x.toFixed(0)).join('/')} cases/s`);

    // predict+check cost per case vs the live executor's cost per case (same cases and traces)
    const checkMs: number[] = [];
    const checkFullMs: number[] = [];
    for (let r = 0; r < rounds; r++) {
      let t0 = performance.now();
      traces.forEach((t, i) => { if (!t.fault) checkTrace(items[i]!.c, t); });
      checkMs.push((performance.now() - t0) / traces.length);
      t0 = performance.now();
      traces.forEach((t, i) => { if (!t.fault) checker.check(items[i]!.c, t); });
      checkFullMs.push((performance.now() - t0) / traces.length);
    }
    const execMsPerCase = 1000 / median(exec);
    const m: Metrics = {
      live_cases: items.length,
      live_ops_per_case: r3(items.reduce((a, x) => a + x.c.ops.length, 0) / Math.max(1, items.length)),
      floor_cases_per_s: r3(median(floor)),
      executor_cases_per_s: r3(median(exec)),
      farm_cases_per_s: r3(median(farm[1]!)),
      farm2_cases_per_s: pools[2] ? r3(median(farm[2]!)) : null,
      farm_warmup_cases_per_s: warmRate === null ? null : r3(warmRate),
      executor_over_floor: r3(median(exec) / median(floor)),
      farm_over_executor: r3(median(farm[1]!) / median(exec)),
      check_ms_per_case: r3(median(checkMs)),
      check_with_coverage_ms_per_case: r3(median(checkFullMs)),
      live_executor_ms_per_case: r3(execMsPerCase),
      check_over_live_cost: r3(median(checkMs) / execMsPerCase),
      live_same_cases_every_round: sameCases,
    };
    if (!sameCases) notes.push('live: the campaign generated a different case sequence in a later round (live feedback differed); floor/executor use the first round\'s cases');
    rows.push(
      { section: 'live', what: `floor (bench/floor.c), ${items.length} cases`, value: `${fmt(median(floor), 0)} cases/s` },
      { section: 'live', what: 'executor alone (ptefarm-exec, 1 process)', value: `${fmt(median(exec), 0)} cases/s` },
      { section: 'live', what: 'full live path, pool of 1 (generate → pool → executor → check)', value: `${fmt(median(farm[1]!), 0)} cases/s` },
      ...(pools[2] ? [{ section: 'live', what: 'full live path, pool of 2', value: `${fmt(median(farm[2]!), 0)} cases/s` }] : []),
      { section: 'live', what: 'executor_over_floor (target ≥ 0.8)', value: fmt(m.executor_over_floor as number) },
      { section: 'live', what: 'farm_over_executor (target ≥ 0.9)', value: fmt(m.farm_over_executor as number) },
      { section: 'model', what: 'predict+check per live case / executor per case', value: `${fmt(median(checkMs))} ms / ${fmt(execMsPerCase)} ms = ${fmt(m.check_over_live_cost as number)}` },
    );
    return { metrics: m, rows, notes };
  } finally {
    await raw.close();
    for (const p of Object.values(pools)) await p.close();
  }
}

// ---------------------------------------------------------------------------------------------
// 2. model speed: cases/s per thread, 30-op cases over 64-page regions

export function modelCases(seed: number, n: number, ops: number, pages: number): { cases: Case[]; ms: number[] } {
  const t = new ModelTarget('model:x86');
  const ms: number[] = [];
  const cases = scaleCases(seed, n, ops, pages, (c) => {
    try {
      const t0 = performance.now();
      const tr = t.executeSync(c);
      const dt = performance.now() - t0;
      if (signalled(tr)) return false;
      ms.push(dt);
      return true;
    } catch { return false; }
  });
  return { cases, ms };
}

export async function benchModel(o: BenchOptions): Promise<SectionResult> {
  // 200 cases a round, untimed warm-up rounds first: with 40 cases and no warm-up the figure was
  // mostly V8's JIT (1.8 ms/case against 1.1 ms in the scale section's steady state). One warm-up
  // round was not enough either (2026-12-07, model8, these 200 cases, CPU ms/case by round of
  // executeSync: 0.80, 0.35, 0.39, 0.26, 0.24, 0.26, 0.26, 0.20; the model reaches its steady state
  // after about 1,500 cases, and a campaign's worker thread runs tens of thousands): 10 rounds
  const n = o.quick ? 8 : 200;
  const warmRounds = o.quick ? 0 : 10;
  const rounds = o.quick ? 1 : 5;
  const { cases } = modelCases(o.seed, n, 30, 64);
  const t = new ModelTarget('model:x86');
  const rates: number[] = [];
  const cpuRates: number[] = [];
  const load = loadavg()[0]!;
  for (let r = 0; r < warmRounds; r++) for (const c of cases) t.executeSync(c);
  for (let r = 0; r < rounds; r++) {
    // wall time (the figure) and this process's CPU time over the same round. The section runs
    // after the live one, in the same process, but with nothing of it left running (its pools and
    // executors are closed): its CPU per case is the model section's alone (measured 2026-12-07,
    // issue 13: 0.231-0.261 ms after the live section against 0.242-0.278 ms alone, 7 interleaved
    // pairs of processes), so a full run reading lower than `--only model` is other load on the
    // host taking the core from this thread, which wall_over_cpu shows. The CPU time counts V8's
    // helper threads (GC) too: never less than the thread's own.
    const t0 = performance.now(), c0 = process.cpuUsage();
    for (const c of cases) t.executeSync(c);
    const cu = process.cpuUsage(c0);
    rates.push(cases.length / ((performance.now() - t0) / 1000));
    cpuRates.push(cases.length / ((cu.user + cu.system) / 1e6));
  }
  const rate = median(rates), cpuRate = median(cpuRates);
  return {
    metrics: {
      model_cases_per_s_per_thread: r3(rate), model_ms_per_case_30x64: r3(1000 / rate), model_cases: cases.length,
      model_cpu_cases_per_s_per_thread: r3(cpuRate), model_wall_over_cpu: r3(cpuRate / rate), model_loadavg_1m: r3(load),
    },
    rows: [
      { section: 'model', what: `model:x86, 30 ops × 64-page regions, 1 thread (target ≥ 5000/s)`, value: `${fmt(rate, 1)} cases/s (${fmt(1000 / rate)} ms/case)` },
      { section: 'model', what: `the same per CPU second of this process (wall / CPU; load average ${fmt(load)})`, value: `${fmt(cpuRate, 1)} cases/s (×${fmt(cpuRate / rate)})` },
    ],
    notes: [],
  };
}

// ---------------------------------------------------------------------------------------------
// 3. transport: embedded vs NATS at equal pool size; 1 vs 2 workers. NATS runs at the concurrency a
// farm coordinator uses by default (NATS_FARM_CONCURRENCY, src/transport/nats.ts), where jobs travel
// in full batches (the worker takes 2 x threads per message), and at 2 (one job per thread, the
// embedded pool's own concurrency), where a batch seldom holds more than 2: `nats_over_embedded` is
// the farm's setting, `nats_over_embedded_c2` the other.

/** NatsTransport's default concurrency (what `ptefarm fuzz --nats` runs at) */
const NATS_FARM_CONCURRENCY = 32;

/**
 * untimed model:x86 cases per pool thread before the transport section's timed rounds, for the
 * reason LIVE_WARM_CASES gives: with one warm-up case, a pool of 2 compiled the model in two
 * isolates inside the timed rounds, and V8's helper threads took 0.45 ms per case of a pool of 2's
 * 1.9 (600-case rounds); after 600 warm cases they take 0.25 of 1.2, the steady state a campaign
 * runs in (bench/tools/profile-transport.ts --warm, this session: pool of 2 over pool of 1 was 0.86
 * cold and 1.08 warm on the same host)
 */
const TRANSPORT_WARM_CASES = 1500;

export async function benchTransport(o: BenchOptions): Promise<SectionResult> {
  const N = o.quick ? 60 : 600;
  const rounds = o.quick ? 1 : 3;
  const target = 'model:x86';
  const checker = await referenceChecker();
  const notes: string[] = [];
  const res: Record<string, number[]> = { emb1: [], emb2: [], nats2: [], natsF: [] };
  const emb1 = new EmbeddedTransport({ threads: 1 });
  const emb2 = new EmbeddedTransport({ threads: 2 });
  const warm: Case = { format: 'ptefarm-case/1', ops: [{ op: 'mmap', region: 'a', pages: 1, kind: 'anon' }] };
  let nats: Awaited<ReturnType<typeof startNats>> | undefined;
  let worker: Awaited<ReturnType<typeof startWorker>> | undefined;
  let NatsTransport: typeof import('../../src/transport/nats.ts').NatsTransport | undefined;
  const why = natsMissing();
  if (why) notes.push(`transport: NATS skipped (${why})`);
  else {
    try {
      ({ NatsTransport } = await import('../../src/transport/nats.ts'));
      nats = await startNats();
      worker = await startWorker(nats.url, target, 2);
    } catch (e) { notes.push(`transport: NATS skipped (${(e as Error).message.slice(0, 200)})`); NatsTransport = undefined; }
  }
  /** CPU ms per case of each campaign: this (coordinator) thread, the rest of this process (the
   *  pool's threads), and for NATS the worker process and nats-server */
  const cpu: Record<string, { coord: number[]; pool: number[]; worker: number[]; server: number[] }> = {};
  const camp = async (key: string, t: Transport) => {
    const c0 = mainThreadCpuMs(), p0 = process.cpuUsage(), w0 = processCpuMs(worker?.proc.pid), s0 = processCpuMs(nats?.proc.pid);
    const s = await runCampaign({ target, transport: t, checker, seed: o.seed, cases: N, minimize: false });
    const p = process.cpuUsage(p0), coord = mainThreadCpuMs() - c0;
    const per = (x: number) => x / Math.max(1, s.cases);
    const e = (cpu[key] ??= { coord: [], pool: [], worker: [], server: [] });
    e.coord.push(per(coord));
    e.pool.push(per((p.user + p.system) / 1000 - coord));
    if (key.startsWith('nats')) { e.worker.push(per(processCpuMs(worker?.proc.pid) - w0)); e.server.push(per(processCpuMs(nats?.proc.pid) - s0)); }
    return s;
  };
  try {
    for (const p of [emb1, emb2]) await Promise.all(Array.from({ length: p.concurrency }, (_, i) => p.run({ id: `w${i}`, target, case: warm })));
    // JIT warm-up in every isolate that runs cases (each pool thread, the NATS worker's threads):
    // untimed campaigns of another seed
    if (!o.quick) {
      for (const p of [emb1, emb2]) await runCampaign({ target, transport: p, checker, seed: o.seed + 1, cases: TRANSPORT_WARM_CASES * p.concurrency, minimize: false });
      if (NatsTransport && nats) {
        const t = await NatsTransport.connect(nats.url, {}, { campaign: `bench-${process.pid}-warm`, concurrency: NATS_FARM_CONCURRENCY });
        try { await runCampaign({ target, transport: t, checker, seed: o.seed + 1, cases: TRANSPORT_WARM_CASES * 2, minimize: false }); } finally { await t.close(); }
      }
    }
    let k = 0;
    const fns: Array<() => Promise<void>> = [
      async () => { res.emb1!.push((await camp('emb1', emb1)).cases_per_s); },
      async () => { res.emb2!.push((await camp('emb2', emb2)).cases_per_s); },
    ];
    if (NatsTransport && nats) {
      const NT = NatsTransport;
      const url = nats.url;
      for (const [key, concurrency] of [['nats2', 2], ['natsF', NATS_FARM_CONCURRENCY]] as const) {
        fns.push(async () => {
          const t = await NT.connect(url, {}, { campaign: `bench-${process.pid}-${k++}`, concurrency });
          try { res[key]!.push((await camp(key, t)).cases_per_s); } finally { await t.close(); }
        });
      }
    }
    await interleaved(rounds, fns);
  } finally {
    await emb1.close(); await emb2.close();
    await worker?.stop(); await nats?.stop();
  }
  if (res.natsF!.length) notes.push(`transport: nats_over_embedded runs NATS at concurrency ${NATS_FARM_CONCURRENCY}, a farm coordinator's default, where jobs travel in full batches; at concurrency 2 (batches of about 2 jobs, nearly a message round trip per case) it is nats_over_embedded_c2`);
  o.log(`transport: emb1 ${res.emb1!.join('/')} emb2 ${res.emb2!.join('/')} nats2 ${res.nats2!.join('/')} nats${NATS_FARM_CONCURRENCY} ${res.natsF!.join('/')} cases/s`);
  const e1 = median(res.emb1!), e2 = median(res.emb2!), n2 = median(res.nats2!), nF = median(res.natsF!);
  const cpuMed = (k: string, f: 'coord' | 'pool' | 'worker' | 'server') => (cpu[k]?.[f].length ? r3(median(cpu[k]![f])) : null);
  const cpuPerCase = Object.fromEntries(Object.keys(cpu).map((k) => [k === 'natsF' ? `nats${NATS_FARM_CONCURRENCY}` : k, { coordinator_ms: cpuMed(k, 'coord'), pool_threads_ms: cpuMed(k, 'pool'), ...(k.startsWith('nats') ? { worker_process_ms: cpuMed(k, 'worker'), nats_server_ms: cpuMed(k, 'server') } : {}) }]));
  // what two workers could give on 2 cores at the pool of 2's measured CPU per case, over one
  // worker's measured rate; and how many cores one worker alone already keeps busy
  const wc = cpuMed('emb2', 'pool'), cc = cpuMed('emb2', 'coord');
  const cpu1 = (cpuMed('emb1', 'pool') ?? NaN) + (cpuMed('emb1', 'coord') ?? NaN);
  const bound = wc !== null && cc !== null && wc + cc > 0 && e1 > 0 ? r3(twoWorkersBound(e1 / 1000, wc + cc)) : null;
  const oneWorkerCores = Number.isFinite(cpu1) && e1 > 0 ? r3((e1 / 1000) * cpu1) : null;
  const m: Metrics = {
    embedded1_cases_per_s: r3(e1), embedded2_cases_per_s: r3(e2), nats2_cases_per_s: res.nats2!.length ? r3(n2) : null,
    nats_farm_cases_per_s: res.natsF!.length ? r3(nF) : null,
    nats_farm_concurrency: NATS_FARM_CONCURRENCY,
    // the farm's setting; at concurrency 2 (one job per thread, batches of about 2) as well
    nats_over_embedded: res.natsF!.length ? r3(nF / e2) : null,
    nats_over_embedded_c2: res.nats2!.length ? r3(n2 / e2) : null,
    two_workers_over_one: r3(e2 / e1),
    two_workers_over_one_bound_2_cores: bound,
    one_worker_cores: oneWorkerCores,
    transport_cpu_ms_per_case: cpuPerCase,
  };
  const rows: Row[] = [
    { section: 'transport', what: `campaign of ${N} cases on ${target}, embedded pool of 1`, value: `${fmt(e1, 1)} cases/s` },
    { section: 'transport', what: 'same, embedded pool of 2', value: `${fmt(e2, 1)} cases/s` },
    { section: 'transport', what: `same over NATS (1 worker process, 2 threads; concurrency ${NATS_FARM_CONCURRENCY}, the farm's default)`, value: res.natsF!.length ? `${fmt(nF, 1)} cases/s` : 'skipped' },
    { section: 'transport', what: 'nats_over_embedded (target ≥ 0.90)', value: res.natsF!.length ? fmt(nF / e2) : 'skipped' },
    { section: 'transport', what: 'same over NATS at concurrency 2 (batches of about 2); over embedded', value: res.nats2!.length ? `${fmt(n2, 1)} cases/s; ${fmt(n2 / e2)}` : 'skipped' },
    { section: 'transport', what: 'two_workers_over_one (target ≥ 1.8)', value: fmt(e2 / e1) },
    { section: 'transport', what: 'CPU ms per case: coordinator thread / pool threads (pool of 1; of 2)', value: `${fmt(cpuMed('emb1', 'coord') ?? NaN)} / ${fmt(cpuMed('emb1', 'pool') ?? NaN)}; ${fmt(cc ?? NaN)} / ${fmt(wc ?? NaN)}` },
    { section: 'transport', what: 'cores one worker (pool of 1) keeps busy: its rate × its process CPU per case', value: oneWorkerCores === null ? 'n/a' : fmt(oneWorkerCores) },
    { section: 'transport', what: 'two_workers_over_one at best on 2 cores: min(2, 2 cores / (pool of 2 CPU per case × pool of 1 rate))', value: bound === null ? 'n/a' : fmt(bound) },
    ...(['natsF', 'nats2'] as const).filter((k) => res[k]!.length).map((k) => ({ section: 'transport', what: `NATS at concurrency ${k === 'natsF' ? NATS_FARM_CONCURRENCY : 2}, CPU ms per case: coordinator / worker process / nats-server`, value: `${fmt(cpuMed(k, 'coord') ?? NaN)} / ${fmt(cpuMed(k, 'worker') ?? NaN)} / ${fmt(cpuMed(k, 'server') ?? NaN)}` })),
  ];
  return { metrics: m, rows, notes };
}

// ---------------------------------------------------------------------------------------------
// 4. finding bugs: guided vs uniform per mutant, in cases to the first find over several seeds

const MUTANT_TASK = fileURLToPath(new URL('./mutant-task.ts', import.meta.url));

/** jobs spread over `procs` child processes (round robin by index, so the split is fixed) */
async function runMutantJobs(jobs: MutantJob[], procs: number): Promise<MutantResult[]> {
  const shares = Array.from({ length: procs }, (_, k) => jobs.filter((_, i) => i % procs === k)).filter((s) => s.length);
  const outs = await Promise.all(shares.map((share) => new Promise<MutantResult[]>((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', MUTANT_TASK, JSON.stringify(share)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '', err = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => { out += d; });
    child.stderr.setEncoding('utf8').on('data', (d: string) => { err = (err + d).slice(-4000); });
    child.once('error', reject);
    child.once('exit', (code) => {
      if (code !== 0) { reject(new Error(`mutant child exited ${code}: ${err}`)); return; }
      resolve(out.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as MutantResult));
    });
  })));
  const byId = new Map(outs.flat().map((r) => [r.mutant, r]));
  return jobs.map((j) => byId.get(j.mutant)!);
}

export async function benchMutants(o: BenchOptions, only?: string[]): Promise<SectionResult> {
  const ids = only ?? (o.quick ? ['B-3', 'M-9', 'M-14'] : MUTANTS.map((m) => m.id));
  // cases to the first find over several seeds (bench/lib/mutant-task.ts): each side runs at least
  // minSeeds seeds, then stops at targetFinds finds (or at once with none); counts, not times
  // the guided side runs more seeds than the uniform one: its first finds spread over two orders of
  // magnitude between seeds (M-30 on seeds 1-8: 16 to 1,299 cases), and its seeds stop at their find
  // a mutant found within a few dozen cases runs more seeds, up to 600 cases a side (minCases): its
  // ratio from 8-12 finds was mostly seed luck (B-27: 0.64 and 0.72 in two runs, where its per-case
  // rates over 1,280 feedback-free cases are 5.4% guided and 4.2% uniform: bench/tools/mutant-exposure.ts)
  const job = (mutant: string): MutantJob => ({
    mutant, seeds: Array.from({ length: o.quick ? 3 : 48 }, (_, i) => o.seed + i),
    minSeeds: o.quick ? 2 : 5, targetFinds: o.quick ? 2 : 8, minCases: o.quick ? 0 : 600,
    guidedMinSeeds: o.quick ? 2 : 8, guidedTargetFinds: o.quick ? 2 : 12,
    guidedBudget: o.quick ? 2000 : 10_000,
    uniformFactor: 10, uniformMin: 200, uniformMax: o.quick ? 300 : 800,
    minimizeCapMs: o.quick ? 2000 : 5000, maxMinimizeRuns: 2000,
  });
  const results = await runMutantJobs(ids.map(job), Math.min(2, availableParallelism()));
  const rows: Row[] = [];
  const per: Record<string, object> = {};
  const ratios: number[] = [];
  const bounds: string[] = [];
  const unresolved: string[] = [];
  const minimize: number[] = [];
  for (const r of results) {
    if (r.ratio === null) unresolved.push(r.mutant); else ratios.push(r.ratio);
    if (r.bound === '≥' || r.bound === '≤') bounds.push(r.mutant);
    if (r.guided.minimize_ms !== undefined) minimize.push(r.guided.minimize_ms / 1000);
    per[r.mutant] = { ...r, ratio: r.ratio === null ? null : r3(r.ratio) };
    const m = r.guided.minimize_ms;
    rows.push({
      section: 'mutants', what: r.mutant,
      value: `guided ${sideText(r.guided)}; uniform ${sideText(r.uniform)}; ` +
        `uniform/guided ${r.ratio === null ? 'n/a (neither found it)' : (r.bound === 'exact' ? '' : r.bound) + fmt(r.ratio, 1)}; ` +
        `minimize ${m === undefined ? 'n/a' : fmt(m / 1000) + ' s' + (r.guided.minimize_capped ? ' (cap)' : '')}`,
    });
  }
  const minRatio = ratios.length ? Math.min(...ratios) : Number.NaN;
  const gm = geomean(ratios);
  const j = job(ids[0]!);
  const notes = [
    `mutants: cases to the first violation (counts, not times) on seeds ${o.seed}…; guided runs ≥ ${j.guidedMinSeeds} seeds, until ${j.guidedTargetFinds} finds or none after ${j.guidedMinSeeds}; uniform ≥ ${j.minSeeds} seeds, until ${j.targetFinds} finds or none after ${j.minSeeds}; ` +
      (j.minCases ? `either side past its target finds until ${j.minCases} cases (at most ${j.seeds.length} seeds); ` : '') +
      `a side's figure is its cases per find pooled over its seeds (a seed without a find counts its whole budget: guided ${j.guidedBudget}, uniform clamp(${j.uniformFactor} × guided per find, ${j.uniformMin}–${j.uniformMax})); ` +
      'a side with no find has only a bound, so its ratio is one (≥: uniform found nothing; ≤: guided found nothing)',
    ...(bounds.length ? [`mutants: ratios that are bounds: ${bounds.join(', ')} (the min and geomean include them as bounds)`] : []),
    ...(unresolved.length ? [`mutants: neither side found ${unresolved.join(', ')} within its budgets (excluded from the minimum)`] : []),
  ];
  return {
    metrics: {
      guided_over_uniform_min: Number.isFinite(minRatio) ? r3(minRatio) : null,
      guided_over_uniform_geomean: Number.isFinite(gm) ? r3(gm) : null,
      minimize_s_max: minimize.length ? r3(Math.max(...minimize)) : null,
      mutants_total: results.length,
      mutants_guided_found: results.filter((r) => r.guided.finds > 0).length,
      mutants_uniform_found: results.filter((r) => r.uniform.finds > 0).length,
      mutants_ratio_bounds: bounds,
      mutants_unresolved: unresolved,
      mutants: per,
    },
    rows: [
      ...rows,
      { section: 'mutants', what: 'guided_over_uniform_min (target ≥ 1)', value: fmt(minRatio, 2) },
      { section: 'mutants', what: 'guided_over_uniform_geomean (target ≥ 20)', value: fmt(gm, 1) + (bounds.length ? ` (${bounds.length} of ${ratios.length} are bounds)` : '') },
      { section: 'mutants', what: 'minimize_s_max', value: minimize.length ? fmt(Math.max(...minimize)) : 'n/a' },
    ],
    notes,
  };
}

// ---------------------------------------------------------------------------------------------
// 5. scale of work: cost per case vs ops per case and pages per region

export async function benchScale(o: BenchOptions): Promise<SectionResult> {
  const OPS = [10, 30, 100];
  const PAGES = o.quick ? [8, 64] : [8, 64, 512];
  const opsList = o.quick ? [10, 30] : OPS;
  const budgetMs = o.quick ? 400 : 2500;
  const liveOk = !liveMissing();
  const live = liveOk ? new LiveTarget() : undefined;
  const rows: Row[] = [];
  const grid: Record<string, { model_ms: number | null; live_ms: number | null; cases: number }> = {};
  try {
    for (const ops of opsList) {
      for (const pages of PAGES) {
        // model: the acceptance predict is the measurement (a case whose process 0 is killed early is rejected)
        const t = new ModelTarget('model:x86');
        const ms: number[] = [];
        const cases: Case[] = [];
        const t0 = performance.now();
        let seed = o.seed * 1000 + ops * 7 + pages;
        while (cases.length < (o.quick ? 3 : 12) && performance.now() - t0 < budgetMs) {
          const [c] = scaleCases(seed++, 1, ops, pages);
          if (!c) continue;
          try {
            const s0 = performance.now();
            const tr = t.executeSync(c);
            const d = performance.now() - s0;
            if (signalled(tr)) continue;
            ms.push(d); cases.push(c);
          } catch { /* a model crash: not a scale sample */ }
        }
        let liveMs: number | null = null;
        if (live) {
          const lm: number[] = [];
          const l0 = performance.now();
          for (const c of cases) {
            const s0 = performance.now();
            const tr = await live.execute(c);
            if (!tr.fault) lm.push(performance.now() - s0);
            if (performance.now() - l0 > budgetMs) break;
          }
          liveMs = lm.length ? r3(median(lm)) : null;
        }
        grid[`${ops}x${pages}`] = { model_ms: ms.length ? r3(median(ms)) : null, live_ms: liveMs, cases: cases.length };
        rows.push({ section: 'scale', what: `${ops} ops × ${pages}-page regions (${cases.length} cases)`, value: `model ${ms.length ? fmt(median(ms)) : 'n/a'} ms/case, live ${liveMs === null ? 'n/a' : fmt(liveMs)} ms/case` });
      }
    }
  } finally { await live?.close(); }
  return { metrics: { scale: grid }, rows, notes: [] };
}
