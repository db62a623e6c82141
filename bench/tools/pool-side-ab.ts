// A/B of the pool thread's side of a live case without the executor: each recorded reply
// (bench/tools/record-live-replies.ts) is decoded into a trace as the live target does (LiveTarget's
// traceOf), checked where it ran (src/transport/verdict.ts withVerdict, the default check request)
// and structured-cloned as piscina posts the result. Each ROOT is a checkout (its src/ through tsx)
// or a compiled tree (dist/); the sides run interleaved, several rounds, after a warm-up. Prints per
// side the median µs per case of the whole path and of the decode alone, and the bytes allocated per
// case (heap growth over a batch small enough that no scavenge runs: start node with
// --min-semi-space-size=256 --max-semi-space-size=256).
// usage: node --min-semi-space-size=256 --max-semi-space-size=256 --import tsx bench/tools/pool-side-ab.ts [--rounds N] [--warm N] REPLIES.jsonl ROOT...
import { hash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { getHeapStatistics } from 'node:v8';
import { RawExecutor } from '../lib/live.ts';

const arg = (name: string, def: number) => { const i = process.argv.indexOf(name); return i >= 0 ? Number(process.argv[i + 1]) : def; };
const rounds = arg('--rounds', 6);
const warmRounds = arg('--warm', 8);
const pos = process.argv.slice(2).filter((a, i, all) => !a.startsWith('--') && !(i > 0 && all[i - 1]!.startsWith('--')));
const [file, ...roots] = pos;
if (!file || !roots.length) throw new Error('usage: pool-side-ab.ts [--rounds N] [--warm N] REPLIES.jsonl ROOT...');
const recs = readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as { case: any; reply: string[] });
// this host's probe, as the live target reads it (the executor's facts)
const raw = await RawExecutor.start();
const hostProbe = raw.probe;
await raw.close();
const mod = (root: string, path: string) => (existsSync(`${root}/${path}.ts`) ? `${root}/${path}.ts` : `${root}/${path}.js`);

let timing = true;
interface Side { name: string; full: number[]; decode: number[]; bytes: number[]; digest: string; run: (full: boolean) => void }
const sides: Side[] = [];
for (const root of roots) {
  const { LiveTarget } = await import(mod(root, 'src/targets/live'));
  const { encodeCase } = await import(mod(root, 'src/targets/executor/protocol'));
  const { withVerdict } = await import(mod(root, 'src/transport/verdict'));
  const { capabilitiesOf, hostSettingsOf } = await import(mod(root, 'src/targets/probe'));
  const t = Object.create(LiveTarget.prototype);
  const probe = hostProbe;
  const target = { name: 'live', arch: probe.arch, kernel: probe.kernel, capabilities: capabilitiesOf(probe), host: hostSettingsOf(probe) };
  const items = recs.map((r, i) => ({ c: r.case, job: { id: `j${i}`, target: 'live', case: r.case, check: {} }, reply: r.reply, enc: encodeCase(r.case) }));
  const side: Side = { name: root, full: [], decode: [], bytes: [], digest: '', run: () => {} };
  let sink = 0;
  side.run = (full: boolean) => {
    const t0 = process.cpuUsage();
    const out: string[] = [];
    for (const it of items) {
      const tr = t.traceOf({ lines: it.reply.slice() }, it.enc, { ...target, capabilities: { ...target.capabilities } });
      if (!full) { sink += tr.steps.length; continue; }
      const res = structuredClone(withVerdict(it.job, { id: it.job.id, trace: tr, worker: 'w', ms: 1 }));
      if (!side.digest) out.push(JSON.stringify({ ...res, ms: 0 }));
    }
    const d = process.cpuUsage(t0);
    const us = (d.user + d.system) / items.length;
    if (timing) (full ? side.full : side.decode).push(us);
    if (out.length) side.digest = hash('sha256', out.join('\n'), 'hex').slice(0, 12);
  };
  sides.push(side);
  void sink;
}
for (let r = 0; r < warmRounds; r++) for (const s of sides) { s.run(true); s.run(false); }
for (const s of sides) { s.full.length = 0; s.decode.length = 0; }
for (let r = 0; r < rounds; r++) {
  for (let i = 0; i < sides.length; i++) {
    const s = sides[(i + r) % sides.length]!;
    s.run(true);
    s.run(false);
  }
}
// allocation: heap growth over one full pass, no scavenge expected with a large semi-space
timing = false;
for (const s of sides) {
  for (let k = 0; k < 3; k++) {
    const h0 = getHeapStatistics().used_heap_size;
    s.run(true);
    const h1 = getHeapStatistics().used_heap_size;
    if (h1 > h0) s.bytes.push((h1 - h0) / recs.length);
  }
}
const med = (a: number[]) => (a.length ? [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]! : NaN);
console.log(`${recs.length} recorded cases, ${rounds} rounds after ${warmRounds} warm`);
for (const s of sides) {
  console.log(`${s.name}: full ${med(s.full).toFixed(1)} µs/case (${s.full.map((x) => x.toFixed(0)).join('/')}), decode ${med(s.decode).toFixed(1)} µs/case (${s.decode.map((x) => x.toFixed(0)).join('/')}), allocated ~${(med(s.bytes) / 1024).toFixed(1)} KB/case; results (sha-256 of every result's JSON) ${s.digest}`);
}
