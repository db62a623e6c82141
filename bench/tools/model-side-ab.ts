// A/B of the pool thread's side of a model:x86 case (what a pool thread does per case besides
// piscina's messaging): the model target executes the case (src/targets/model.ts), the check runs
// where it ran (src/transport/verdict.ts withVerdict, the default check request) and the result is
// structured-cloned as piscina posts it. The cases are the guided generator's (seed S, without
// feedback: fresh, uniform and hugetlb cases) of the first ROOT; each ROOT is a checkout (its src/
// through tsx) or a compiled tree (dist/). The sides run interleaved, several rounds, after a
// warm-up. Prints per side the median CPU µs per case, the bytes allocated per case (heap growth
// over a pass with no scavenge: start node with --min-semi-space-size=256
// --max-semi-space-size=256; NaN when one ran anyway) and a sha-256 of every result's JSON (a
// pure speed-up leaves it alone). bench/tools/pool-side-ab.ts is the same for live replies.
// usage: node --min-semi-space-size=256 --max-semi-space-size=256 --import tsx bench/tools/model-side-ab.ts [--cases N] [--rounds N] [--warm N] [--seed S] ROOT...
import { hash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { getHeapStatistics } from 'node:v8';

const arg = (name: string, def: number) => { const i = process.argv.indexOf(name); return i >= 0 ? Number(process.argv[i + 1]) : def; };
const N = arg('--cases', 1500);
const rounds = arg('--rounds', 6);
const warm = arg('--warm', 3);
const seed = arg('--seed', 7);
const roots = process.argv.slice(2).filter((a, i, all) => !a.startsWith('--') && !(i > 0 && all[i - 1]!.startsWith('--')));
if (!roots.length) throw new Error('usage: model-side-ab.ts [--cases N] [--rounds N] [--warm N] [--seed S] ROOT...');
const mod = (root: string, path: string) => (existsSync(`${root}/${path}.ts`) ? `${root}/${path}.ts` : `${root}/${path}.js`);

const { GuidedGenerator } = await import(mod(roots[0]!, 'src/campaign/generate'));
const gen = new GuidedGenerator(seed);
const cases = Array.from({ length: N }, () => gen.next());

interface Side { name: string; us: number[]; bytes: number[]; digest: string; run: () => void }
const sides: Side[] = [];
let timing = true;
for (const root of roots) {
  const { ModelTarget } = await import(mod(root, 'src/targets/model'));
  const { withVerdict } = await import(mod(root, 'src/transport/verdict'));
  const target = new ModelTarget('model:x86');
  const side: Side = { name: root, us: [], bytes: [], digest: '', run: () => {} };
  side.run = () => {
    const out: string[] = [];
    const u0 = process.cpuUsage();
    for (let i = 0; i < N; i++) {
      const job = { id: `j${i}`, target: 'model:x86', case: cases[i], check: {} };
      const trace = target.executeSync(cases[i]);
      const res = structuredClone(withVerdict(job, { id: job.id, trace, worker: 'w', ms: 1 }));
      if (!side.digest) out.push(JSON.stringify(res));
    }
    const d = process.cpuUsage(u0);
    if (timing) side.us.push((d.user + d.system) / N);
    if (out.length) side.digest = hash('sha256', out.join('\n'), 'hex').slice(0, 12);
  };
  sides.push(side);
}
for (let r = 0; r < warm; r++) for (const s of sides) s.run();
for (const s of sides) s.us.length = 0;
for (let r = 0; r < rounds; r++) for (let i = 0; i < sides.length; i++) sides[(i + r) % sides.length]!.run();
// allocation: heap growth over one pass, no scavenge expected with a large semi-space
timing = false;
for (const s of sides) {
  for (let k = 0; k < 3; k++) {
    const h0 = getHeapStatistics().used_heap_size;
    s.run();
    const h1 = getHeapStatistics().used_heap_size;
    if (h1 > h0) s.bytes.push((h1 - h0) / N);
  }
}
const med = (a: number[]) => (a.length ? [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]! : NaN);
console.log(`${N} guided cases of seed ${seed} (no feedback), ${rounds} rounds after ${warm} warm; CPU µs per case (this process)`);
for (const s of sides) {
  console.log(`${s.name}: ${med(s.us).toFixed(1)} µs/case (${s.us.map((x) => x.toFixed(0)).join('/')}), over the first ${(med(s.us) / med(sides[0]!.us)).toFixed(3)}, allocated ~${(med(s.bytes) / 1024).toFixed(1)} KB/case; results (sha-256 of every result's JSON) ${s.digest}`);
}
