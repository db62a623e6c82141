// Profile the transport benchmark's campaign (model:x86, seed 1, no minimization) on an embedded
// pool of `--threads` (default 2): wall time, coordinator CPU per case, messages and bytes handed
// to the pool per case. Run with `node --cpu-prof --cpu-prof-dir DIR --import tsx` to get one
// .cpuprofile for the coordinator and one per pool thread (bench/tools/cpuprof-top.mjs summarizes).
// With --nats: the same campaign through a nats-server and one `ptefarm worker --threads N` (both
// children, bench/lib/nats.ts); the worker's own profile needs
// PTEFARM_BENCH_WORKER_NODE_ARGS='--cpu-prof --cpu-prof-dir DIR' (node refuses --cpu-prof in NODE_OPTIONS).
// --target live: the live path instead (generate → pool → executor → check; the pool threads' profiles
// show the live target's TypeScript side).
// --concurrency N: the NATS coordinator's (default: the thread count; a farm runs at 32).
// --warm N: an unmeasured campaign of N cases (another seed) first, so that the profile's window
// shows the JIT-compiled steady state (the pool thread's check costs 2-3 times more cold).
// Also every thread of this process by its CPU ms per case (thread_cpu_ms_per_case: the main thread
// first, then the others, most first: with --threads 1 the first of them is the pool thread, the rest
// mostly V8's helpers, which compile (JIT) and collect garbage for every isolate).
// usage: node --import tsx bench/tools/profile-transport.ts [--threads N] [--cases N] [--warm N] [--nats] [--concurrency N] [--target live]
import { serialize } from 'node:v8';
import { mainThreadCpuMs, processCpuMs, threadCpuMs } from '../lib/cpu.ts';
import { runCampaign } from '../../src/campaign/campaign.ts';
import { referenceChecker } from '../../src/campaign/checker.ts';
import { EmbeddedTransport } from '../../src/transport/embedded.ts';
import { startNats, startWorker } from '../lib/nats.ts';
import type { CaseJob, CaseResult, Transport } from '../../src/transport/transport.ts';

const arg = (name: string, def: number) => { const i = process.argv.indexOf(name); return i >= 0 ? Number(process.argv[i + 1]) : def; };
const threads = arg('--threads', 2);
const cases = arg('--cases', 600);
const viaNats = process.argv.includes('--nats');
const target = process.argv.includes('--target') ? process.argv[process.argv.indexOf('--target') + 1]! : 'model:x86';
const nats = viaNats ? await startNats() : undefined;
const worker = nats ? await startWorker(nats.url, target, threads) : undefined;
const pool: Transport = nats
  ? await (await import('../../src/transport/nats.ts')).NatsTransport.connect(nats.url, {}, { campaign: `prof-${process.pid}`, concurrency: arg('--concurrency', threads) })
  : new EmbeddedTransport({ threads });
const counted = { jobs: 0, jobBytes: 0, results: 0, resultBytes: 0, traces: 0 };
/** the pool's traffic as structured clone sizes (what postMessage copies) */
const transport: Transport = {
  concurrency: pool.concurrency,
  async run(job: CaseJob, opts) {
    counted.jobs++; counted.jobBytes += serialize(job).length;
    const r: CaseResult = await pool.run(job, opts);
    counted.results++; counted.resultBytes += serialize(r).length; if (r.trace) counted.traces++;
    return r;
  },
  close: () => pool.close(),
};
const checker = await referenceChecker();
await Promise.all(Array.from({ length: threads }, (_, i) => pool.run({ id: `w${i}`, target, case: { format: 'ptefarm-case/1', ops: [{ op: 'mmap', region: 'a', pages: 1, kind: 'anon' }] } })));
const warmCases = arg('--warm', 0);
if (warmCases > 0) await runCampaign({ target, transport: pool, checker, seed: 1001, cases: warmCases, minimize: false });
const u0 = process.cpuUsage();
const th0 = threadCpuMs();
const c0 = mainThreadCpuMs(), w0 = processCpuMs(worker?.proc.pid), n0 = processCpuMs(nats?.proc.pid);
const from = process.hrtime.bigint() / 1000n;
const t0 = performance.now();
const s = await runCampaign({ target, transport, checker, seed: 1, cases, minimize: false });
const wall = performance.now() - t0;
const to = process.hrtime.bigint() / 1000n;
const u = process.cpuUsage(u0);
const th = [...threadCpuMs()].map(([tid, ms]) => [tid, ms - (th0.get(tid) ?? 0)] as const).filter(([, ms]) => ms > 0);
const threadsPerCase = [...th.filter(([tid]) => tid === String(process.pid)), ...th.filter(([tid]) => tid !== String(process.pid)).sort((a, b) => b[1] - a[1])]
  .map(([tid, ms]) => `${tid === String(process.pid) ? 'main' : tid} ${(ms / s.cases).toFixed(3)}`);
const coord = mainThreadCpuMs() - c0, wcpu = processCpuMs(worker?.proc.pid) - w0, ncpu = processCpuMs(nats?.proc.pid) - n0;
await pool.close();
await worker?.stop();
await nats?.stop();
const per = (x: number) => (x / s.cases).toFixed(0);
process.stdout.write(`${JSON.stringify({
  target, threads, via: viaNats ? 'nats' : 'embedded', cases: s.cases, window_us: `${from} ${to}`, cases_per_s: s.cases_per_s, wall_ms: Math.round(wall),
  // process CPU includes the pool threads; the coordinator's share is in its .cpuprofile
  process_cpu_ms_per_case: ((u.user + u.system) / 1000 / s.cases).toFixed(3),
  coordinator_cpu_ms_per_case: (coord / s.cases).toFixed(3),
  thread_cpu_ms_per_case: threadsPerCase.join(', '),
  ...(nats ? { worker_process_cpu_ms_per_case: (wcpu / s.cases).toFixed(3), nats_server_cpu_ms_per_case: (ncpu / s.cases).toFixed(3) } : {}),
  ...('stats' in pool ? { nats_messages: { jobs: (pool.stats as { messages?: number }).messages, results: (pool.stats as { received: number }).received } } : {}),
  job_bytes_per_case: per(counted.jobBytes), result_bytes_per_case: per(counted.resultBytes), traces_returned: counted.traces,
})}\n`);
