// Equivalence and A/B speed of the reference model against an older revision of it: extracts
// src/ of a git ref (default main) into a temporary directory, then runs both predict()s over the
// same cases (the campaign's generator, the corpus, the 16 KiB geometry, every mutant and profile,
// attribution on and off, observed traces fed back as a check does) and deep-compares the
// Predictions; with --bench, times both interleaved in this one process (the bench's 30 ops ×
// 64 pages and 100 ops × 512 pages cases). For work on the model's speed (issue 13): a faster model
// must predict exactly what the old one did.
// With --provenance-only, a difference in the per-page provenance alone (PredictedStep.why: the
// rules behind each bit, asked with attribution) is counted apart, not as differing: for a change
// that gives the check more provenance and must predict the same pages, rcs, events and scans.
// `npx tsx bench/tools/model-equiv.ts [--ref main] [--cases 3000] [--seed 1] [--provenance-only] [--bench [--rounds N] [--warm N] [--sizes 40,6]]`
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import type { Case } from '../../src/ops/schema.ts';
import { predict as predictNew } from '../../src/model/model.ts';
import { MUTANTS } from '../../src/model/mutants.ts';
import { PROFILES } from '../../src/model/profile.ts';
import { geometryOf, GEOMETRY_4K } from '../../src/ops/layout.ts';
import { GuidedGenerator, freshCase } from '../../src/campaign/generate.ts';
import { Rng } from '../../src/campaign/rng.ts';
import { scaleCases } from '../lib/gen.ts';
import { modelCases } from '../lib/sections.ts';

type Predict = typeof predictNew;
const ROOT = resolve(import.meta.dirname, '../..');

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : def;
}

async function loadOld(ref: string): Promise<{ predict: Predict; dir: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'ptefarm-model-old-'));
  const tar = execFileSync('git', ['-C', ROOT, 'archive', ref, 'src', 'package.json'], { maxBuffer: 1 << 28 });
  execFileSync('tar', ['-x', '-C', dir], { input: tar });
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
  const mod = await import(join(dir, 'src/model/model.ts'));
  return { predict: mod.predict as Predict, dir };
}

/** the path of the first difference between a and b, for a readable failure */
function firstDiff(a: unknown, b: unknown, path = ''): string | undefined {
  if (isDeepStrictEqual(a, b)) return undefined;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return `${path}: ${JSON.stringify(a)} vs ${JSON.stringify(b)}`;
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  for (const k of keys) {
    const d = firstDiff((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], `${path}.${k}`);
    if (d) return d;
  }
  return `${path}: prototypes or key sets differ (${Object.keys(a)} vs ${Object.keys(b)})`;
}

interface Job { c: Case; label: string; opts: Parameters<Predict>[2]; observed?: Parameters<Predict>[1] }

function corpusCases(): { c: Case; label: string }[] {
  const out: { c: Case; label: string }[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const f = join(d, e.name);
      if (e.isDirectory()) walk(f);
      else if (e.name.endsWith('.json')) { const j = JSON.parse(readFileSync(f, 'utf8')); if (Array.isArray(j.ops)) out.push({ c: j as Case, label: f }); }
    }
  };
  walk(join(ROOT, 'corpus'));
  return out;
}

function jobs(n: number, seed: number): Job[] {
  const mutants = MUTANTS.map((m) => m.id);
  const profiles = Object.keys(PROFILES);
  const g16 = geometryOf(16384);
  const out: Job[] = [];
  let k = 0;
  const variants = (c: Case, label: string, geometry = GEOMETRY_4K) => {
    const i = k++;
    out.push({ c, label, opts: { geometry } });
    out.push({ c, label: `${label} attribution`, opts: { geometry, attribution: true } });
    out.push({ c, label: `${label} +${mutants[i % mutants.length]}`, opts: { geometry, mutant: mutants[i % mutants.length], attribution: i % 2 === 0 } });
    out.push({ c, label: `${label} @${profiles[i % profiles.length]}`, opts: { geometry, profile: profiles[i % profiles.length], attribution: i % 3 === 0 } });
  };
  for (const { c, label } of corpusCases()) variants(c, label);
  const gen = new GuidedGenerator(seed);
  for (let i = 0; i < n; i++) variants(gen.next(), `guided #${i}`);
  const rng = new Rng(seed + 7);
  for (let i = 0; i < Math.max(1, n >> 3); i++) variants(freshCase(rng, 40, g16), `16k #${i}`, g16);
  for (const c of scaleCases(seed, 5, 100, 512)) variants(c, 'scale 100x512');
  return out;
}

async function main(): Promise<number> {
  const ref = arg('--ref', 'main');
  const n = Number(arg('--cases', '3000'));
  const seed = Number(arg('--seed', '1'));
  const { predict: predictOld, dir } = await loadOld(ref);
  try {
    if (process.argv.includes('--bench')) return bench(predictOld, seed);
    const all = jobs(n, seed);
    let compared = 0, failed = 0, threw = 0, whyOnly = 0;
    const provenanceOnly = process.argv.includes('--provenance-only');
    /** the first difference, or (with --provenance-only) the first outside PredictedStep.why */
    const differ = (x: unknown, y: unknown): string | undefined => {
      const d = firstDiff(x, y);
      if (!d || !provenanceOnly) return d;
      const strip = (p: unknown) => ({ ...(p as object), steps: (p as { steps: object[] }).steps.map((st) => ({ ...st, why: undefined })) });
      const e = firstDiff(strip(x), strip(y));
      if (!e) whyOnly++;
      return e;
    };
    for (const j of all) {
      let a, b;
      let ea: unknown, eb: unknown;
      try { a = predictOld(j.c, j.observed, j.opts); } catch (e) { ea = String(e); }
      try { b = predictNew(j.c, j.observed, j.opts); } catch (e) { eb = String(e); }
      compared++;
      if (ea !== undefined || eb !== undefined) {
        threw++;
        if (ea !== eb) { failed++; console.log(`DIFF ${j.label}: throws ${ea} vs ${eb}`); }
        continue;
      }
      const d = differ(a, b);
      if (d) { failed++; if (failed <= 20) console.log(`DIFF ${j.label}: ${d.slice(0, 400)}`); continue; }
      // fed back as a check does: the old prediction's outcomes and pages as the observed trace
      const observed = a!.steps.map((s) => ({ outcome: s.outcome, pages: s.pages, skipped: s.skipped }));
      const oa = predictOld(j.c, observed, j.opts), ob = predictNew(j.c, observed, j.opts);
      compared++;
      const d2 = differ(oa, ob);
      if (d2) { failed++; if (failed <= 20) console.log(`DIFF ${j.label} observed: ${d2.slice(0, 400)}`); }
    }
    console.log(`model-equiv: ${compared} predictions compared against ${ref} (${all.length} jobs, ${threw} threw alike), ${failed} differ${provenanceOnly ? ` (${whyOnly} more differ in provenance alone)` : ''}`);
    return failed ? 1 : 0;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function bench(predictOld: Predict, seed: number): number {
  // --rounds N: interleaved rounds per set (default 5 and 3); on a loaded host the CPU time of the
  // thread (process.cpuUsage: this tool runs one thread) is steadier than the wall time
  const rounds = Number(arg('--rounds', '0'));
  // --warm N: untimed rounds of both first, and --sizes A,B: cases per set. With the defaults
  // (no warm-up, 40 and 6 cases) the figure is mostly V8 compiling the model (~3 ms/case at 30x64
  // against ~1 ms warm, the bench's model section's steady state: it warms up and runs 200)
  const warm = Number(arg('--warm', '0'));
  const [n30, n100] = arg('--sizes', '40,6').split(',').map(Number);
  const sets = [
    // the bench's own cases (bench/lib/sections.ts modelCases: no case killed early by a signal)
    { name: '30x64', cases: modelCases(seed, n30, 30, 64).cases, rounds: rounds || 5 },
    { name: '100x512', cases: modelCases(seed, n100, 100, 512).cases, rounds: rounds || 3 },
  ];
  for (const s of sets) {
    for (let r = 0; r < warm; r++) for (const p of [predictOld, predictNew]) for (const c of s.cases) p(c);
    const t = { old: [] as number[], new: [] as number[] };
    const cpu = { old: [] as number[], new: [] as number[] };
    for (let r = 0; r < s.rounds; r++) {
      for (const [name, p] of [['old', predictOld], ['new', predictNew]] as const) {
        const t0 = performance.now(), c0 = process.cpuUsage();
        for (const c of s.cases) p(c);
        const cu = process.cpuUsage(c0);
        t[name].push((performance.now() - t0) / s.cases.length);
        cpu[name].push((cu.user + cu.system) / 1000 / s.cases.length);
      }
    }
    const med = (a: number[]) => [...a].sort((x, y) => x - y)[a.length >> 1];
    const o = med(t.old), nw = med(t.new), co = med(cpu.old), cn = med(cpu.new);
    console.log(`${s.name} (${s.cases.length} cases, median of ${s.rounds} interleaved rounds): old ${o.toFixed(2)} ms/case (${(1000 / o).toFixed(0)}/s), new ${nw.toFixed(2)} ms/case (${(1000 / nw).toFixed(0)}/s), speed-up ×${(o / nw).toFixed(2)}; CPU old ${co.toFixed(2)} ms/case (${(1000 / co).toFixed(0)}/s), new ${cn.toFixed(2)} ms/case (${(1000 / cn).toFixed(0)}/s), ×${(co / cn).toFixed(2)}`);
  }
  return 0;
}

main().then((c) => process.exit(c), (e) => { console.error(e); process.exit(2); });
