// `npx tsx scripts/content-live.ts [--cases N] [--seed S]`
// The content oracle's numbers on a target (default the live kernel): N generated cases (the
// campaign's fresh-case generator, seeded), each run and checked against the reference; prints the
// values compared and masked (verdict bits `content`), the other bits compared, and every violation
// and fault. One JSON object on the last line of stdout; progress on stderr. Nothing is written.
import { freshCase } from '../src/campaign/generate.ts';
import { Rng } from '../src/campaign/rng.ts';
import { checkTrace } from '../src/check/check.ts';
import { LiveTarget } from '../src/targets/live.ts';

const arg = (name: string, dflt: number) => { const i = process.argv.indexOf(name); return i > 0 ? Number(process.argv[i + 1]) : dflt; };
const cases = arg('--cases', 500), seed = arg('--seed', 1);
const t = new LiveTarget();
const rng = new Rng(seed);
const out = { cases: 0, skipped: 0, faults: 0, violations: 0, data_violations: 0, content: { compared: 0, masked: 0 }, bits_compared: 0, examples: [] as string[] };
try {
  for (let i = 0; i < cases; i++) {
    const c = freshCase(rng);
    const tr = await t.execute(c);
    const v = checkTrace(c, tr);
    out.cases++;
    if (tr.skipped !== undefined || v.skipped) out.skipped++;
    if (tr.fault !== undefined) { out.faults++; if (out.examples.length < 10) out.examples.push(`case ${i}: fault ${tr.fault.slice(0, 200)}`); }
    out.content.compared += v.bits.content?.compared ?? 0;
    out.content.masked += v.bits.content?.masked ?? 0;
    out.bits_compared += v.compared;
    if (v.violations.length) {
      out.violations++;
      if (v.violations.some((x) => x.kind === 'data')) out.data_violations++;
      if (out.examples.length < 10) out.examples.push(`case ${i}: ${v.violations[0].message} :: ${JSON.stringify(c)}`);
    }
    if (i % 100 === 99) process.stderr.write(`${i + 1} cases, ${out.violations} violating, content ${out.content.compared}/${out.content.masked}\n`);
  }
} finally { await t.close(); }
console.log(JSON.stringify(out));
