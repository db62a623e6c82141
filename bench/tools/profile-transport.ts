// Profile the transport benchmark's campaign (model:x86, seed 1, no minimization) on an embedded
// pool of `--threads` (default 2): wall time, coordinator CPU per case, messages and bytes handed
// to the pool per case. Run with `node --cpu-prof --cpu-prof-dir DIR --import tsx` to get one
// .cpuprofile for the coordinator and one per pool thread (bench/tools/cpuprof-top.mjs summarizes).
// usage: node --import tsx bench/tools/profile-transport.ts [--threads N] [--cases N]
import { serialize } from 'node:v8';
import { runCampaign } from '../../src/campaign/campaign.ts';
import { referenceChecker } from '../../src/campaign/checker.ts';
import { EmbeddedTransport } from '../../src/transport/embedded.ts';
import type { CaseJob, CaseResult, Transport } from '../../src/transport/transport.ts';

const arg = (name: string, def: number) => { const i = process.argv.indexOf(name); return i >= 0 ? Number(process.argv[i + 1]) : def; };
const threads = arg('--threads', 2);
const cases = arg('--cases', 600);
const pool = new EmbeddedTransport({ threads });
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
await Promise.all(Array.from({ length: threads }, (_, i) => pool.run({ id: `w${i}`, target: 'model:x86', case: { format: 'ptefarm-case/1', ops: [{ op: 'mmap', region: 'a', pages: 1, kind: 'anon' }] } })));
const u0 = process.cpuUsage();
const from = process.hrtime.bigint() / 1000n;
const t0 = performance.now();
const s = await runCampaign({ target: 'model:x86', transport, checker, seed: 1, cases, minimize: false });
const wall = performance.now() - t0;
const to = process.hrtime.bigint() / 1000n;
const u = process.cpuUsage(u0);
await pool.close();
const per = (x: number) => (x / s.cases).toFixed(0);
process.stdout.write(`${JSON.stringify({
  threads, cases: s.cases, window_us: `${from} ${to}`, cases_per_s: s.cases_per_s, wall_ms: Math.round(wall),
  // process CPU includes the pool threads; the coordinator's share is in its .cpuprofile
  process_cpu_ms_per_case: ((u.user + u.system) / 1000 / s.cases).toFixed(3),
  job_bytes_per_case: per(counted.jobBytes), result_bytes_per_case: per(counted.resultBytes), traces_returned: counted.traces,
})}\n`);
