// Cases to the first violation per mutant, guided campaign versus the uniform generator, counted in
// cases under a case budget only (no wall-clock caps): unlike the "finding bugs" section of
// `npm run bench` (time to first violation, capped at seconds), it gives the same numbers on a
// loaded host, so generator changes can be compared there. Both sides are those of
// bench/lib/mutant-task.ts (runCampaign stopped at its first bucket, minimization reduced to one run;
// bench/lib/gen.ts uniformCase through the same transport and checker).
// usage: node --import tsx bench/tools/mutant-cases.ts [--seeds 1,2,3] [--budget 3000]
//          [--uniform-budget 1000] [--side both|guided|uniform] [--only B-20,M-4]
// Prints one JSON line per mutant, side and seed ({side, seed, id, found: case number or -1, ran}),
// then per side the median over the seeds and, with both sides, the uniform/guided ratio of medians.
import { runCampaign } from '../../src/campaign/campaign.ts';
import { referenceChecker } from '../../src/campaign/checker.ts';
import { InProcessTransport } from '../../src/campaign/inprocess.ts';
import { Rng } from '../../src/campaign/rng.ts';
import { MUTANTS } from '../../src/model/mutants.ts';
import { uniformCase } from '../lib/gen.ts';

const arg = (name: string, def: string) => { const i = process.argv.indexOf(name); return i >= 0 ? process.argv[i + 1] ?? def : def; };
const seeds = arg('--seeds', '1,2,3').split(',').map(Number);
const budget = Number(arg('--budget', '3000'));
const uniformBudget = Number(arg('--uniform-budget', '1000'));
const side = arg('--side', 'both');
const ids = arg('--only', '') ? arg('--only', '').split(',') : MUTANTS.map((m) => m.id);
if (seeds.some((s) => !Number.isInteger(s)) || !(budget > 0) || !(uniformBudget > 0) || !['both', 'guided', 'uniform'].includes(side)) {
  process.stderr.write('usage: mutant-cases.ts [--seeds 1,2,3] [--budget N] [--uniform-budget N] [--side both|guided|uniform] [--only IDS]\n');
  process.exit(2);
}
const checker = await referenceChecker();

async function guided(id: string, seed: number): Promise<{ found: number; ran: number }> {
  const tr = new InProcessTransport();
  let found = -1, ran = 0;
  try {
    await runCampaign({
      target: `model:x86+${id}`, transport: tr, checker, seed, cases: budget, stopAfterBuckets: 1, maxMinimizeRuns: 1,
      onCase: (i) => { ran = i + 1; },
      onEvent: (e) => { if (e.type === 'bucket' && found < 0) found = e.index + 1; },
    });
  } finally { await tr.close(); }
  return { found, ran };
}

async function uniform(id: string, seed: number): Promise<{ found: number; ran: number }> {
  const tr = new InProcessTransport();
  const rng = new Rng(seed);
  try {
    for (let i = 0; i < uniformBudget; i++) {
      const c = uniformCase(rng);
      const res = await tr.run({ id: `u${i}`, target: `model:x86+${id}`, case: c }, { timeoutMs: 10_000 });
      if (!res.trace || res.fault || res.trace.fault) continue;
      const out = checker.check(c, res.trace);
      if (!out.fault && !out.skipped && out.violations.length) return { found: i + 1, ran: i + 1 };
    }
  } finally { await tr.close(); }
  return { found: -1, ran: uniformBudget };
}

const median = (xs: number[]) => { const s = [...xs].sort((a, b) => a - b); const n = s.length; return n % 2 ? s[(n - 1) / 2]! : (s[n / 2 - 1]! + s[n / 2]!) / 2; };
const sides = side === 'both' ? (['guided', 'uniform'] as const) : ([side] as ('guided' | 'uniform')[]);
const got = new Map<string, number[]>();
for (const id of ids) for (const s of sides) for (const seed of seeds) {
  const r = await (s === 'guided' ? guided(id, seed) : uniform(id, seed));
  process.stdout.write(`${JSON.stringify({ side: s, seed, id, ...r })}\n`);
  // not found within the budget counts as the budget (a lower bound)
  const key = `${s} ${id}`;
  got.set(key, [...(got.get(key) ?? []), r.found > 0 ? r.found : (s === 'guided' ? budget : uniformBudget)]);
}
for (const id of ids) {
  const g = got.get(`guided ${id}`), u = got.get(`uniform ${id}`);
  const line: Record<string, unknown> = { id };
  if (g) line.guided_median = median(g);
  if (u) line.uniform_median = median(u);
  if (g && u) line.uniform_over_guided = Math.round((median(u) / median(g)) * 1000) / 1000;
  process.stdout.write(`${JSON.stringify(line)}\n`);
}
process.exit(0);
