// A/B of the full live path (generate → pool of 1 → executor → check, as bench/lib/sections.ts
// benchLive runs it) of several checkouts against the native executor alone, interleaved in one run
// so that a loaded host slows every side alike. Each ROOT is a checkout (e.g. /work/main and this
// worktree): its campaign, checker and embedded pool (whose thread loads that checkout's
// workers/task.ts and live target) are imported from it. The executor alone runs the first side's
// generated cases (bench/lib/live.ts RawExecutor). Per side and round: cases/s, and CPU ms per case
// of the coordinator's main thread, of the rest of this process (the pool thread, GC and compiler
// threads) and of the executor with its case processes; a loaded host inflates CPU less than wall
// time. Also whether each side generated the same case sequence as the first side's first round.
// A ROOT may also be a compiled tree (a checkout's dist/, `npm run build`), whose .js modules are then
// imported instead: what bin/ptefarm.mjs runs, against the sources through tsx.
// usage: node --import tsx bench/tools/farm-live-ab.ts [--cases N] [--rounds N] [--seed S] [--warm N] ROOT...
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import type { Case } from '../../src/ops/schema.ts';
import { RawExecutor, encodeForHost } from '../lib/live.ts';
import { mainThreadCpuMs } from '../lib/cpu.ts';

const arg = (name: string, def: number) => { const i = process.argv.indexOf(name); return i >= 0 ? Number(process.argv[i + 1]) : def; };
const N = arg('--cases', 200);
const rounds = arg('--rounds', 3);
const seed = arg('--seed', 1);
const warmCases = arg('--warm', 0);
const roots = process.argv.slice(2).filter((a, i, all) => !a.startsWith('--') && !(i > 0 && all[i - 1]!.startsWith('--')));
if (!roots.length) throw new Error('usage: farm-live-ab.ts [--cases N] [--rounds N] [--seed S] ROOT...');

/** ticks → ms (USER_HZ 100) of utime+stime(+cutime+cstime) of /proc/<path>/stat */
function statMs(path: string, children: boolean): number {
  try {
    const s = readFileSync(`/proc/${path}/stat`, 'utf8');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ').map(Number);
    return (f[11]! + f[12]! + (children ? f[13]! + f[14]! : 0)) * 10;
  } catch { return 0; }
}
/** CPU ms of this process's every thread */
const processMs = () => statMs(String(process.pid), false);
/** the ptefarm-exec processes this process spawned (any thread), with their live children and the reaped ones */
function executorMs(): number {
  let t = 0;
  const kids: string[] = [];
  for (const tid of readdirSync(`/proc/${process.pid}/task`)) {
    try { kids.push(...readFileSync(`/proc/${process.pid}/task/${tid}/children`, 'utf8').split(' ').filter(Boolean)); } catch { /* gone */ }
  }
  for (const k of kids) {
    let comm = '';
    try { comm = readFileSync(`/proc/${k}/comm`, 'utf8').trim(); } catch { continue; }
    if (!comm.startsWith('ptefarm-exec')) continue;
    t += statMs(k, true);
    try { for (const g of readFileSync(`/proc/${k}/task/${k}/children`, 'utf8').split(' ').filter(Boolean)) t += statMs(g, true); } catch { /* gone */ }
  }
  return t;
}

interface Side { name: string; rate: number[]; main: number[]; rest: number[]; exec: number[]; seq: string[]; run: () => Promise<void> }
const warm: Case = { format: 'ptefarm-case/1', ops: [{ op: 'mmap', region: 'a', pages: 1, kind: 'anon' }, { op: 'write', region: 'a' }] };
let firstCases: Case[] = [];
const sides: Side[] = [];
const closers: Array<() => Promise<void>> = [];
const runs = new Map<Side, (n: number) => Promise<unknown>>();
/** a module of ROOT: its TypeScript source, or its compiled .js in a dist/ tree */
const mod = (root: string, path: string) => (existsSync(`${root}/${path}.ts`) ? `${root}/${path}.ts` : `${root}/${path}.js`);
for (const root of roots) {
  const { runCampaign } = await import(mod(root, 'src/campaign/campaign'));
  const { referenceChecker } = await import(mod(root, 'src/campaign/checker'));
  const { EmbeddedTransport } = await import(mod(root, 'src/transport/embedded'));
  const checker = await referenceChecker();
  const pool = new EmbeddedTransport({ threads: 1 });
  await pool.run({ id: 'warm', target: 'live', case: warm });
  closers.push(() => pool.close());
  const side: Side = { name: root, rate: [], main: [], rest: [], exec: [], seq: [], run: async () => {} };
  side.run = async () => {
    const rec: Case[] = [];
    const h = createHash('sha256');
    const m0 = mainThreadCpuMs(), p0 = processMs(), e0 = executorMs();
    const s = await runCampaign({ target: 'live', transport: pool, checker, seed, cases: N, minimize: false, onCase: (i: number, c: Case) => { rec.push(c); h.update(`${i} ${JSON.stringify(c)}\n`); } });
    const m = mainThreadCpuMs() - m0, p = processMs() - p0, e = executorMs() - e0;
    side.rate.push(s.cases_per_s); side.main.push(m / s.cases); side.rest.push((p - m) / s.cases); side.exec.push(e / s.cases);
    side.seq.push(h.digest('hex').slice(0, 12));
    if (!firstCases.length) firstCases = rec;
  };
  runs.set(side, (n) => runCampaign({ target: 'live', transport: pool, checker, seed: seed + 1000, cases: n, minimize: false }));
  sides.push(side);
}
// every side runs the campaign once unmeasured (its pool thread's JIT warms up; the first side's
// cases are the executor's); --warm N more cases each on top (the model's code keeps being
// optimized for several hundred cases: a long campaign does not pay that per case)
for (const s of sides) {
  await s.run();
  if (warmCases > 0) await runs.get(s)!(warmCases);
  s.rate.length = 0; s.main.length = 0; s.rest.length = 0; s.exec.length = 0; s.seq.length = 0;
}
const raw = await RawExecutor.start();
closers.push(() => raw.close());
const items = encodeForHost(firstCases, raw.probe);
const exec: Side = { name: 'executor alone', rate: [], main: [], rest: [], exec: [], seq: [], run: async () => {
  const t0 = performance.now(), c0 = raw.cpuMs(), m0 = mainThreadCpuMs(), p0 = processMs();
  for (const it of items) await raw.run(it.enc);
  exec.rate.push(items.length / ((performance.now() - t0) / 1000));
  const m = mainThreadCpuMs() - m0;
  exec.main.push(m / items.length); exec.rest.push((processMs() - p0 - m) / items.length); exec.exec.push((raw.cpuMs() - c0) / items.length);
} };
const all = [exec, ...sides];
for (let r = 0; r < rounds; r++) for (let i = 0; i < all.length; i++) await all[(i + r) % all.length]!.run();
for (const c of closers) await c();
const med = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]!;
console.log(`${N} cases (executor alone: ${items.length} of them), ${rounds} rounds, seed ${seed}`);
for (const s of all) {
  const over = s === exec ? '' : ` farm_over_executor ${(med(s.rate) / med(exec.rate)).toFixed(3)} (per round ${s.rate.map((x, r) => (x / exec.rate[r]!).toFixed(3)).join('/')})`;
  console.log(`${s.name}: ${s.rate.map((x) => x.toFixed(0)).join('/')} cases/s;${over}; CPU ms/case main ${med(s.main).toFixed(2)} rest-of-process ${med(s.rest).toFixed(2)} executor ${med(s.exec).toFixed(2)}${s.seq.length ? `; sequences ${s.seq.join('/')}` : ''}`);
}
