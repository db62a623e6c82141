// A live differential of hugetlb cases only (src/campaign/hugetlb-gen.ts) on this host: each
// generated case runs on the live target and is checked against the model. Needs free 2 MiB
// hugetlb pages (`ptefarm setup --hugetlb N` as root). Usage: tsx scripts/hugetlb-live.ts N [seed]
import { Rng } from '../src/campaign/rng.ts';
import { hugetlbCase } from '../src/campaign/hugetlb-gen.ts';
import { LiveTarget } from '../src/targets/live.ts';
import { checkTrace } from '../src/check/check.ts';

const n = Number(process.argv[2] ?? 100);
const rng = new Rng(Number(process.argv[3] ?? 1));
const t = new LiveTarget();
let ran = 0, skipped = 0, faults = 0, violations = 0;
const reasons = new Map<string, number>();
for (let i = 0; i < n; i++) {
  const c = hugetlbCase(rng);
  const tr = await t.execute(c);
  const v = checkTrace(c, tr);
  if (v.skipped) { skipped++; reasons.set(v.skipped, (reasons.get(v.skipped) ?? 0) + 1); }
  else if (v.fault) { faults++; console.log(`fault #${i}: ${v.fault}`); }
  else ran++;
  if (v.violations.length) { violations++; if (violations <= 5) console.log(`violation #${i}: ${JSON.stringify(c)}\n  ${JSON.stringify(v.violations[0])}`); }
}
await t.close();
console.log(JSON.stringify({ cases: n, ran, skipped, faults, violating_cases: violations, skip_reasons: Object.fromEntries(reasons) }));
