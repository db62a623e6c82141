// A/B of the coordinator's generation cost (src/campaign/scheduler.ts Scheduler.take with the
// generator's feedback) of several checkouts, interleaved in one process, in CPU time (a loaded
// host inflates wall time, not this much). The feedback is replayed: the step rules of every case
// index of one model:x86 campaign of the first ROOT (in-process, seed S, lag 64) are recorded once
// and handed back as each side generates the same indices, so no side runs the model. Also whether
// each side generated the same case sequence as the first (a pure speed-up must leave it alone;
// bench/tools/case-sequence-hash.ts checks the real campaign's).
// usage: node --import tsx bench/tools/generation-ab.ts [--cases N] [--rounds N] [--seed S] ROOT...
import { createHash } from 'node:crypto';
import type { Case } from '../../src/ops/schema.ts';
import type { CaseJob, CaseResult, Transport } from '../../src/transport/transport.ts';

const arg = (name: string, def: number) => { const i = process.argv.indexOf(name); return i >= 0 ? Number(process.argv[i + 1]) : def; };
const N = arg('--cases', 3000);
const rounds = arg('--rounds', 8);
const seed = arg('--seed', 1);
const LAG = 64;
const roots = process.argv.slice(2).filter((a, i, all) => !a.startsWith('--') && !(i > 0 && all[i - 1]!.startsWith('--')));
if (!roots.length) throw new Error('usage: generation-ab.ts [--cases N] [--rounds N] [--seed S] ROOT...');

// the step rules of each case index, from the first root's campaign
const { runCampaign } = await import(`${roots[0]}/src/campaign/campaign.ts`);
const { referenceChecker } = await import(`${roots[0]}/src/campaign/checker.ts`);
const { InProcessTransport } = await import(`${roots[0]}/src/campaign/inprocess.ts`);
const rules: Array<string[][] | null> = [];
const inner: Transport = new InProcessTransport();
const recording: Transport = {
  concurrency: inner.concurrency, slots: inner.slots, close: () => inner.close(),
  async run(job: CaseJob, o) {
    const r: CaseResult = await inner.run(job, o);
    rules[Number(job.id.slice(job.id.lastIndexOf('-c') + 2))] = r.verdict?.step_rules ?? null;
    return r;
  },
};
await runCampaign({ target: 'model:x86', transport: recording, checker: await referenceChecker(), seed, cases: N, minimize: false, lag: LAG });

interface SchedulerLike { take(): { index: number; case: Case } | undefined; done(index: number, c: Case, rules: string[][] | null): void }
interface Side { root: string; make: () => SchedulerLike; cpu: number[]; seq: string[] }
const sides: Side[] = [];
for (const root of roots) {
  const { Scheduler } = await import(`${root}/src/campaign/scheduler.ts`);
  sides.push({ root, make: () => new Scheduler(seed, undefined, LAG), cpu: [], seq: [] });
}
const run = (s: Side) => {
  const h = createHash('sha256');
  const sch = s.make();
  const u0 = process.cpuUsage();
  for (let k = 0; k < N; k++) {
    const next = sch.take();
    if (!next) throw new Error(`${s.root}: the scheduler stalled at case ${k}`);
    h.update(`${next.index} ${JSON.stringify(next.case)}\n`);
    const r = rules[next.index];
    sch.done(next.index, next.case, r && r.length === next.case.ops.length ? r : null);
  }
  const u = process.cpuUsage(u0);
  s.cpu.push((u.user + u.system) / 1000 / N);
  s.seq.push(h.digest('hex').slice(0, 12));
};
// three unmeasured rounds each (JIT: the generator's code keeps being optimized for a few thousand cases)
for (let w = 0; w < 3; w++) for (const s of sides) run(s);
for (const s of sides) { s.cpu.length = 0; s.seq.length = 0; }
for (let r = 0; r < rounds; r++) for (let i = 0; i < sides.length; i++) run(sides[(i + r) % sides.length]!);
const med = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]!;
console.log(`${N} cases, ${rounds} rounds, seed ${seed}, lag ${LAG}; CPU ms per case (process: the main thread and V8's helpers)`);
for (const s of sides) {
  const same = s.seq.every((x) => x === sides[0]!.seq[0]);
  console.log(`${s.root}: ${s.cpu.map((x) => x.toFixed(3)).join('/')} median ${med(s.cpu).toFixed(3)}, over the first ${(med(s.cpu) / med(sides[0]!.cpu)).toFixed(3)}; sequence ${same ? 'the same as the first' : `DIFFERS (${[...new Set(s.seq)].join(', ')})`}`);
}
