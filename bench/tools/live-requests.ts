// Writes the executor's stdin for a fixed set of fresh cases (seed 1 unless --seed, as bench/tools/live-ab.ts),
// so that the native executor can be timed, traced (strace -c -f) or profiled (perf record) alone:
//   node --import tsx bench/tools/live-requests.ts [--cases N] [--ops N] [--seed N] [--only fork|nofork] OUT
//   perf stat -- workers/executor/ptefarm-exec < OUT > replies.txt
// and OUT.floor, the same cases as bench/floor.c's input (bench/lib/live.ts floorInput).
import { writeFileSync } from 'node:fs';
import { Rng } from '../../src/campaign/rng.ts';
import { freshCase } from '../../src/campaign/generate.ts';
import { RawExecutor, encodeForHost, floorInput } from '../lib/live.ts';
import { FEATURE_BITS } from '../../src/targets/executor/protocol.ts';

const arg = (name: string, def: string) => { const i = process.argv.indexOf(name); return i >= 0 ? process.argv[i + 1]! : def; };
const N = Number(arg('--cases', '200'));
const maxOps = Number(arg('--ops', '40'));
const only = arg('--only', 'all');
const out = process.argv[process.argv.length - 1]!;
const rng = new Rng(Number(arg('--seed', '1')));
const cases = Array.from({ length: N }, () => freshCase(rng, maxOps));
const x = await RawExecutor.start();
const items = encodeForHost(cases, x.probe).filter(({ enc }) => {
  const fork = enc.uffdFeatures >= 0 && (enc.uffdFeatures & FEATURE_BITS.event_fork) !== 0;
  return only === 'all' || (only === 'fork') === fork;
});
await x.close();
writeFileSync(out, items.map(({ enc }, i) => `case r${i} ${enc.lines.length} ${enc.uffdFeatures} 10000\n${enc.lines.join('\n')}\n`).join('') + 'quit\n');
writeFileSync(`${out}.floor`, floorInput(items));
console.log(`${items.length} cases, ${items.reduce((s, { enc }) => s + enc.lines.length, 0)} ops -> ${out}`);
