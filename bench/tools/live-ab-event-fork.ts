// A/B of two native executor binaries on the cases that ask for UFFD_FEATURE_EVENT_FORK and on the
// others, apart: 600 fresh guided cases (seed 1) as the live target would encode them here, each set
// run by both executors in rotating order for 6 rounds (one process each, as the live target drives
// it); prints cases/s and CPU per case (the executor's processes) per executor and set. Made to
// measure the event_fork supervisor (workers/executor/README.md "Security") against a one-shot one.
// usage: node --import tsx bench/tools/live-ab-event-fork.ts BASE_EXECUTOR NEW_EXECUTOR
import { Rng } from '../../src/campaign/rng.ts';
import { freshCase } from '../../src/campaign/generate.ts';
import { RawExecutor, encodeForHost } from '../lib/live.ts';
const rng = new Rng(1);
const all = Array.from({ length: 600 }, () => freshCase(rng, 40));
const bins = process.argv.slice(2);
if (bins.length !== 2) throw new Error('usage: live-ab-event-fork.ts BASE_EXECUTOR NEW_EXECUTOR');
const xs = await Promise.all(bins.map((b) => RawExecutor.start(b)));
const items = encodeForHost(all, xs[0]!.probe);
const ef = items.filter((it) => it.c.uffd?.features?.includes('event_fork'));
const other = items.filter((it) => !it.c.uffd?.features?.includes('event_fork'));
console.log(`${items.length} cases run here, ${ef.length} with event_fork (${(100 * ef.length / items.length).toFixed(0)}%)`);
const res: Record<string, { rate: number[]; cpu: number[] }> = {};
for (let r = 0; r < 6; r++) {
  for (const k of r % 2 ? [1, 0] : [0, 1]) {
    for (const [name, set] of [['event_fork', ef], ['other', other]] as const) {
      const x = xs[k]!; const t0 = performance.now(), c0 = x.cpuMs();
      for (const it of set) await x.run(it.enc);
      const e = (res[`${k ? 'new' : 'base'} ${name}`] ??= { rate: [], cpu: [] });
      e.rate.push(set.length / ((performance.now() - t0) / 1000)); e.cpu.push((x.cpuMs() - c0) / set.length);
    }
  }
}
await Promise.all(xs.map((x) => x.close()));
const med = (a: number[]) => [...a].sort((x, y) => x - y)[a.length >> 1]!;
for (const [k, v] of Object.entries(res)) console.log(`${k}: ${med(v.rate).toFixed(0)} cases/s (rounds ${v.rate.map((x) => x.toFixed(0)).join('/')}), CPU ${med(v.cpu).toFixed(2)} ms/case`);
