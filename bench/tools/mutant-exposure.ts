// How often the guided generator's cases expose each mutant, per stream (fresh, uniform, mutated,
// hugetlb), over a campaign's worth of cases with coverage feedback from model:x86 (the campaign's scheduler, lag 64), against
// the uniform generator's rate: a per-case rate is a far tighter figure than cases to a first find.
// Also why a mutant is slow: how often a guided case runs the mutant's rule at all (the reference
// model's step rules; src/model/mutants.ts `rule`, sub-rules such as R-PMS-2.thp included) and how
// often a case that ran it exposed the mutant (reaching the rule, or the state around it, is the
// bottleneck), and the stream each seed's first find came from. (A mutant can also expose cases
// whose reference steps name no such rule, where the reference took another path: B-28, R-PMS-6.)
// usage: node --import tsx bench/tools/mutant-exposure.ts --only B-27,M-19 [--cases 2000] [--seeds 1,2] [--dump DIR] [--guided-only]
import { writeFileSync } from 'node:fs';
import { referenceChecker } from '../../src/campaign/checker.ts';
import type { GuidedGenerator } from '../../src/campaign/generate.ts';
import { Scheduler } from '../../src/campaign/scheduler.ts';
import { InProcessTransport } from '../../src/campaign/inprocess.ts';
import { Rng } from '../../src/campaign/rng.ts';
import { getMutant } from '../../src/model/mutants.ts';
import type { Case } from '../../src/ops/schema.ts';
import { uniformCase } from '../lib/gen.ts';

const arg = (name: string, def: string) => { const i = process.argv.indexOf(name); return i >= 0 ? process.argv[i + 1] ?? def : def; };
const ids = arg('--only', 'B-27').split(',');
const n = Number(arg('--cases', '2000'));
const seeds = arg('--seeds', '1').split(',').map(Number);
const dump = arg('--dump', '');
// without the uniform generator's side (comparing two versions of the guided generator)
const guidedOnly = process.argv.includes('--guided-only');
const checker = await referenceChecker();
const tr = new InProcessTransport();
async function run(c: Case, target: string) {
  const res = await tr.run({ id: 'x', target, case: c }, { timeoutMs: 10_000 });
  if (!res.trace || res.fault || res.trace.fault) return undefined;
  return checker.check(c, res.trace);
}
const tally: Record<string, Record<string, [number, number]>> = {};
const add = (id: string, origin: string, hit: boolean) => {
  const t = (tally[id] ??= {});
  const x = (t[origin] ??= [0, 0]);
  x[0] += hit ? 1 : 0; x[1]++;
};
const hits: Record<string, Case[]> = {};
const firsts: Record<string, string[]> = {};
const first = (k: string, seed: number, i: number, origin?: string) => { const f = (firsts[k] ??= []); if (!f.some((x) => x.startsWith(`${seed}:`))) f.push(`${seed}:${i + 1}${origin ? ` (${origin})` : ''}`); };
// guided cases that ran the mutant's rule (or a sub-rule of it), and of those the ones that exposed it
const reach: Record<string, [number, number, number]> = {};
const runsRule = (rules: readonly (readonly string[])[], rule: string) => rules.some((rs) => rs.some((r) => r === rule || r.startsWith(`${rule}.`)));
for (const seed of seeds) {
  // the campaign's own scheduler (feedback lag 64, src/campaign/campaign.ts)
  const sched = new Scheduler(seed, undefined, 64);
  const g = (sched as unknown as { gen: GuidedGenerator }).gen;
  const urng = new Rng(seed);
  for (let i = 0; i < n; i++) {
    const { case: c } = sched.take()!;
    const origin = i < 64 ? `${g.origin}<64` : g.origin;
    const base = await run(c, 'model:x86');
    sched.done(i, c, base && base.stepRules.length === c.ops.length ? base.stepRules : null);
    const u = uniformCase(urng);
    for (const id of ids) {
      const o = await run(c, `model:x86+${id}`);
      const hit = !!o && !o.fault && !o.skipped && o.violations.length > 0;
      add(id, origin, hit); add(id, 'guided', hit);
      if (hit && dump) (hits[id] ??= []).push(c);
      if (hit) first(`${id} guided`, seed, i, g.origin);
      const ran = !!base && runsRule(base.stepRules, getMutant(id).rule);
      const x = (reach[id] ??= [0, 0, 0]);
      x[0]++; if (ran) { x[1]++; if (hit) x[2]++; }
      if (guidedOnly) continue;
      const ou = await run(u, `model:x86+${id}`);
      const uhit = !!ou && !ou.fault && !ou.skipped && ou.violations.length > 0;
      add(id, 'uniform-gen', uhit);
      if (uhit) first(`${id} uniform`, seed, i);
    }
  }
}
await tr.close();
for (const [k, f] of Object.entries(firsts)) process.stdout.write(`first finds ${k}: ${f.join(' ')}\n`);
for (const [id, t] of Object.entries(tally)) {
  process.stdout.write(`${id}: ${Object.entries(t).map(([o, [h, m]]) => `${o} ${(100 * h / m).toFixed(1)}% (${h}/${m})`).join(', ')}\n`);
  const [cases, ran, hitRan] = reach[id]!;
  process.stdout.write(`${id}: ${getMutant(id).rule} run by ${(100 * ran / cases).toFixed(1)}% of guided cases (${ran}/${cases}), exposed by ${ran ? (100 * hitRan / ran).toFixed(1) : '-'}% of those (${hitRan})\n`);
  if (dump && hits[id]) writeFileSync(`${dump}/${id}.json`, JSON.stringify(hits[id]));
}
process.exit(0);
