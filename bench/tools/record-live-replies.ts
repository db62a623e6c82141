// Record a live campaign's cases (pool of 1, seed 1, as bench/tools/farm-live-ab.ts runs them) and
// the native executor's reply to each (bench/lib/live.ts RawExecutor), as JSON lines, so that the pool
// thread's side of a live case (decode the reply, check the trace, answer) can be replayed and timed
// without the executor: bench/tools/pool-side-ab.ts.
// usage: node --import tsx bench/tools/record-live-replies.ts [--cases N] [--seed S] OUT.jsonl
import { writeFileSync } from 'node:fs';
import type { Case } from '../../src/ops/schema.ts';
import { runCampaign } from '../../src/campaign/campaign.ts';
import { referenceChecker } from '../../src/campaign/checker.ts';
import { EmbeddedTransport } from '../../src/transport/embedded.ts';
import { RawExecutor, encodeForHost } from '../lib/live.ts';

const arg = (name: string, def: number) => { const i = process.argv.indexOf(name); return i >= 0 ? Number(process.argv[i + 1]) : def; };
const out = process.argv[process.argv.length - 1]!;
const pool = new EmbeddedTransport({ threads: 1 });
const cases: Case[] = [];
await runCampaign({ target: 'live', transport: pool, checker: await referenceChecker(), seed: arg('--seed', 1), cases: arg('--cases', 500), minimize: false, onCase: (_i: number, c: Case) => { cases.push(c); } });
await pool.close();
const raw = await RawExecutor.start();
const lines: string[] = [];
for (const { c, enc } of encodeForHost(cases, raw.probe)) {
  const text = await raw.run(enc);
  const all = text.split('\n');
  const b = all.findIndex((l) => l.startsWith('begin '));
  lines.push(JSON.stringify({ case: c, reply: all.slice(b + 1, all.length - 2) }));
}
await raw.close();
writeFileSync(out, lines.join('\n') + '\n');
console.log(`${lines.length} cases -> ${out}`);
