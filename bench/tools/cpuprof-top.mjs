// Summarize a V8 .cpuprofile: self time and inclusive time per function (top N).
// usage: node bench/tools/cpuprof-top.mjs FILE.cpuprofile [N] [FROM_US TO_US]
// FROM_US TO_US: only samples taken in that window of the monotonic clock (process.hrtime.bigint()
// / 1000n, the clock of a profile's timestamps), e.g. a campaign's start and end as
// bench/tools/profile-transport.ts prints them, so that start-up does not count.
import { readFileSync } from 'node:fs';
const prof = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const N = Number(process.argv[3] ?? 25);
const from = process.argv[4] === undefined ? -Infinity : Number(process.argv[4]);
const to = process.argv[5] === undefined ? Infinity : Number(process.argv[5]);
const byId = new Map(prof.nodes.map((n) => [n.id, n]));
const parent = new Map();
for (const n of prof.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const self = new Map();
const dt = prof.timeDeltas;
let at = prof.startTime;
for (let i = 0; i < prof.samples.length; i++) {
  at += dt[i] ?? 0;
  if (at < from || at > to) continue;
  self.set(prof.samples[i], (self.get(prof.samples[i]) ?? 0) + (dt[i] ?? 0));
}
const key = (n) => `${n.callFrame.functionName || '(anon)'} ${n.callFrame.url.replace(/^.*\/work\/main\//, '')}:${n.callFrame.lineNumber + 1}`;
const selfBy = new Map(), incBy = new Map();
let total = 0;
for (const [id, t] of self) {
  total += t;
  const n = byId.get(id);
  selfBy.set(key(n), (selfBy.get(key(n)) ?? 0) + t);
  const seen = new Set();
  for (let x = id; x !== undefined; x = parent.get(x)) {
    const k = key(byId.get(x));
    if (seen.has(k)) continue;
    seen.add(k);
    incBy.set(k, (incBy.get(k) ?? 0) + t);
  }
}
const show = (m, title) => {
  console.log(`\n${title} (total ${(total / 1000).toFixed(0)} ms)`);
  for (const [k, t] of [...m].sort((a, b) => b[1] - a[1]).slice(0, N)) console.log(`${((100 * t) / total).toFixed(1).padStart(5)}%  ${k}`);
};
show(selfBy, 'self time');
show(incBy, 'inclusive time');
