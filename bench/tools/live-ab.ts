// A/B of native executor binaries against the C floor (bench/floor.c), interleaved in one run so
// that a loaded host slows every side alike: the same fresh guided cases (seed 1) are run by each
// executor given (one process each, as the live target drives it) and by the floor, in rotating
// order, for a number of rounds; prints cases/s per side and round and each side over the floor.
// CPU time per case (the executor's processes; the floor's case processes) is printed too: a loaded
// host inflates it less than wall time.
// Replies are compared with the first executor's (they must be byte-identical up to host noise:
// the count of differing replies is printed).
// usage: node --import tsx bench/tools/live-ab.ts [--cases N] [--rounds N] [--ops N] EXECUTOR...
import { Rng } from '../../src/campaign/rng.ts';
import { freshCase } from '../../src/campaign/generate.ts';
import { RawExecutor, compileFloor, encodeForHost, runFloor } from '../lib/live.ts';

const arg = (name: string, def: number) => { const i = process.argv.indexOf(name); return i >= 0 ? Number(process.argv[i + 1]) : def; };
const N = arg('--cases', 200);
const rounds = arg('--rounds', 3);
const maxOps = arg('--ops', 40);
const bins = process.argv.slice(2).filter((a, i, all) => !a.startsWith('--') && !(i > 0 && all[i - 1]!.startsWith('--')));
if (!bins.length) throw new Error('usage: live-ab.ts [--cases N] [--rounds N] EXECUTOR...');

const rng = new Rng(1);
const cases = Array.from({ length: N }, () => freshCase(rng, maxOps));
const exes = await Promise.all(bins.map((b) => RawExecutor.start(b)));
const items = encodeForHost(cases, exes[0]!.probe);
const floorBin = compileFloor();
const rate: number[][] = bins.map(() => []);
const floorRate: number[] = [];
const cpu: number[][] = bins.map(() => []);
const floorCpu: number[] = [];
const replies: string[][] = bins.map(() => []);
const strip = (t: string) => t.replace(/^(begin|end) \S+$/gm, '');
const sides: Array<() => Promise<void>> = [
  ...exes.map((x, k) => async () => {
    const t0 = performance.now(), c0 = x.cpuMs();
    const got: string[] = [];
    for (const it of items) got.push(strip(await x.run(it.enc)));
    rate[k]!.push(items.length / ((performance.now() - t0) / 1000));
    cpu[k]!.push((x.cpuMs() - c0) / items.length);
    if (!replies[k]!.length) replies[k] = got;
  }),
  async () => { const f = runFloor(floorBin, items, 'ab-floor.txt'); floorRate.push(f.cases / (f.ms / 1000)); floorCpu.push((f.cpuMs ?? NaN) / f.cases); },
];
for (let r = 0; r < rounds; r++) for (let i = 0; i < sides.length; i++) await sides[(i + r) % sides.length]!();
await Promise.all(exes.map((x) => x.close()));
const med = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]!;
console.log(`${items.length} cases, ${rounds} rounds; floor ${floorRate.map((x) => x.toFixed(0)).join('/')} cases/s, CPU ${med(floorCpu).toFixed(2)} ms/case`);
bins.forEach((b, k) => {
  const differ = replies[k]!.filter((t, i) => t !== replies[0]![i]).length;
  const perRound = rate[k]!.map((x, r) => (x / floorRate[r]!).toFixed(3)).join('/');
  console.log(`${b}: ${rate[k]!.map((x) => x.toFixed(0)).join('/')} cases/s, over floor per round ${perRound}, median ${(med(rate[k]!) / med(floorRate)).toFixed(3)}; CPU ${med(cpu[k]!).toFixed(2)} ms/case (floor's over it ${(med(floorCpu) / med(cpu[k]!)).toFixed(3)})${k ? `, over ${bins[0]} ${(med(rate[k]!) / med(rate[0]!)).toFixed(3)}, replies differing ${differ}/${items.length}` : ''}`);
});
