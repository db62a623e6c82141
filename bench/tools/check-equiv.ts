// Equivalence and A/B speed of the check (src/check/check.ts checkCase: prediction + comparison)
// against an older revision of it, as bench/tools/model-equiv.ts does for the model: extracts src/
// of a git ref (default main) into a temporary directory, then checks the same traces with both
// and deep-compares the results (verdict, violations in order, bit counts with their key order,
// step rules). Traces: every mutant model's (so that most kinds of violation occur), the
// reference's, and variants of them (a bit the target cannot show, a step the target skipped that
// still shows pages, the check with attribution asked). With --bench, times both interleaved over
// the reference model's traces (what a campaign mostly checks: passing cases).
// `npx tsx bench/tools/check-equiv.ts [--ref main] [--cases 120] [--seed 7] [--bench [--rounds 8]]`
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import type { Case } from '../../src/ops/schema.ts';
import type { Trace } from '../../src/ops/trace.ts';
import { checkCase as checkNew, type CheckOptions } from '../../src/check/check.ts';
import { MUTANTS } from '../../src/model/mutants.ts';
import { ModelTarget } from '../../src/targets/model.ts';
import { GuidedGenerator } from '../../src/campaign/generate.ts';

type Check = typeof checkNew;
const ROOT = resolve(import.meta.dirname, '../..');
const arg = (name: string, def: string) => { const i = process.argv.indexOf(name); return i >= 0 ? process.argv[i + 1]! : def; };
const ref = arg('--ref', 'main');
const N = Number(arg('--cases', '120'));
const seed = Number(arg('--seed', '7'));

const dir = mkdtempSync(join(tmpdir(), 'ptefarm-check-old-'));
const tar = execFileSync('git', ['-C', ROOT, 'archive', ref, 'src', 'package.json'], { maxBuffer: 1 << 28 });
execFileSync('tar', ['-x', '-C', dir], { input: tar });
symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
const checkOld = (await import(join(dir, 'src/check/check.ts'))).checkCase as Check;

interface Item { c: Case; t: Trace; opts: CheckOptions; label: string }
const items: Item[] = [];
const passing: Item[] = [];
for (const m of [undefined, ...MUTANTS.map((x) => x.id)]) {
  const target = new ModelTarget(m ? `model:x86+${m}` : 'model:x86');
  const g = new GuidedGenerator(seed, undefined);
  for (let i = 0; i < N; i++) {
    const c = g.next();
    const t = target.executeSync(c);
    const label = `${m ?? 'reference'} case ${i}`;
    items.push({ c, t, opts: {}, label });
    if (!m) passing.push({ c, t, opts: {}, label });
    if (i % 10 === 0) items.push({ c, t, opts: { attribution: true }, label: `${label} attribution` });
    if (i % 7 === 0 && t.steps.length > 2) {
      const t2 = structuredClone(t);
      t2.steps[1]!.skipped = 'skipped by the variant';
      items.push({ c, t: t2, opts: {}, label: `${label} step 1 skipped` });
    }
    if (i % 5 === 0) {
      const t3 = structuredClone(t);
      for (const s of t3.steps) for (const regions of Object.values(s.pages ?? {})) for (const r of Object.keys(regions)) regions[r] = regions[r]!.map((x) => `${x.slice(0, 3)}?${x.slice(4)}`);
      items.push({ c, t: t3, opts: {}, label: `${label} exclusive masked` });
    }
  }
}

const run = (f: Check, it: Item): unknown => { try { return f(it.c, it.t, it.opts); } catch (e) { return { threw: String(e) }; } };
let differ = 0, failing = 0;
for (const it of items) {
  const a = run(checkOld, it), b = run(checkNew, it);
  if ((a as { verdict?: { ok: boolean } }).verdict?.ok === false) failing++;
  // JSON too: the bit counts' key order is part of a verdict as written
  if (!isDeepStrictEqual(a, b) || JSON.stringify(a) !== JSON.stringify(b)) {
    if (differ++ < 5) console.log(`differ: ${it.label}\n  ${ref}: ${JSON.stringify(a).slice(0, 400)}\n  now: ${JSON.stringify(b).slice(0, 400)}`);
  }
}
console.log(`${items.length} checks (${failing} failing with ${ref}), ${differ} differ`);

if (process.argv.includes('--bench')) {
  const rounds = Number(arg('--rounds', '8'));
  const sides = [{ name: ref, f: checkOld, ms: [] as number[] }, { name: 'worktree', f: checkNew, ms: [] as number[] }];
  for (const s of sides) for (let w = 0; w < 3; w++) for (const it of passing) run(s.f, it);
  for (let r = 0; r < rounds; r++) {
    for (const s of r % 2 ? [...sides].reverse() : sides) {
      const t0 = performance.now();
      for (const it of passing) run(s.f, it);
      s.ms.push((performance.now() - t0) / passing.length);
    }
  }
  const med = (a: number[]) => [...a].sort((x, y) => x - y)[a.length >> 1]!;
  for (const s of sides) console.log(`${s.name}: ${med(s.ms).toFixed(3)} ms per check (median of ${rounds}: ${s.ms.map((x) => x.toFixed(3)).join('/')})`);
  console.log(`worktree over ${ref}: ${(med(sides[1]!.ms) / med(sides[0]!.ms)).toFixed(3)} of the time`);
}
rmSync(dir, { recursive: true, force: true });
