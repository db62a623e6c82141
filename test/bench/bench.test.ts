// The benchmark's --quick pieces: structure only (keys present, numbers finite), never timings.
import { describe, expect, it } from 'vitest';
import { twoWorkersBound } from '../../bench/lib/cpu.ts';
import { Rng } from '../../src/campaign/rng.ts';
import { validateCase } from '../../src/ops/validate.ts';
import { scaleCases, uniformCase } from '../../bench/lib/gen.ts';
import { liveMissing } from '../../bench/lib/live.ts';
import { benchLive, benchModel, benchMutants, benchScale, median } from '../../bench/lib/sections.ts';
import { REQUIRED_KEYS, runBench } from '../../bench/run.ts';
import runMutant, { compareSides, runSeeds, sideCount, type MutantResult } from '../../bench/lib/mutant-task.ts';

const o = { quick: true, seed: 1, log: () => undefined };
const finite = (x: unknown) => typeof x === 'number' && Number.isFinite(x);

describe('finding bugs: cases per find over seeds', () => {
  it('pools the seeds: a seed without a find counts its whole budget and is no find', () => {
    const s = sideCount([{ seed: 1, found: 10, ran: 11 }, { seed: 2, found: null, ran: 100 }, { seed: 3, found: 30, ran: 30 }]);
    expect(s).toMatchObject({ finds: 2, cases: 140, per_find: 70, median: 30 });
    // half or more without a find: no median
    expect(sideCount([{ seed: 1, found: 5, ran: 5 }, { seed: 2, found: null, ran: 9 }]).median).toBeNull();
  });

  it('a side with no find gives a bound, never a find', () => {
    const found = sideCount([{ seed: 1, found: 20, ran: 20 }, { seed: 2, found: 60, ran: 60 }]);
    const none = sideCount([{ seed: 1, found: null, ran: 500 }, { seed: 2, found: null, ran: 500 }]);
    expect(none).toMatchObject({ finds: 0, per_find: null, median: null });
    expect(compareSides(found, found)).toEqual({ ratio: 1, bound: 'exact' });
    expect(compareSides(found, none)).toEqual({ ratio: 1000 / 40, bound: '≥' });
    expect(compareSides(none, found)).toEqual({ ratio: 40 / 1000, bound: '≤' });
    expect(compareSides(none, none)).toEqual({ ratio: null, bound: 'unresolved' });
  });

  it('runs at least minSeeds seeds, then stops at targetFinds finds or when none was found', async () => {
    const at = (founds: Array<number | null>) => (seed: number) => Promise.resolve({ seed, found: founds[seed - 1]!, ran: 10 });
    const seeds = [1, 2, 3, 4, 5, 6];
    expect((await runSeeds(seeds, 2, 3, at([1, 2, 3, 4, 5, 6]))).length).toBe(3);
    expect((await runSeeds(seeds, 2, 3, at([null, null, 3, 4, 5, 6]))).length).toBe(2);
    expect((await runSeeds(seeds, 2, 3, at([1, null, null, null, 5, 6]))).length).toBe(6);
  });

  it('with minCases, runs on past targetFinds finds until that many cases were run (at most every seed)', async () => {
    const at = (founds: Array<number | null>) => (seed: number) => Promise.resolve({ seed, found: founds[seed - 1]!, ran: 10 });
    const seeds = [1, 2, 3, 4, 5, 6];
    // finds at cases 1, 2, 3: 6 cases after 3 seeds, 10 after 4, 15 after 5
    expect((await runSeeds(seeds, 2, 3, at([1, 2, 3, 4, 5, 6]), 10)).length).toBe(4);
    expect((await runSeeds(seeds, 2, 3, at([1, 2, 3, 4, 5, 6]), 100)).length).toBe(6);
    expect((await runSeeds(seeds, 2, 3, at([30, 20, 3, 4, 5, 6]), 10)).length).toBe(3);
    expect((await runSeeds(seeds, 2, 3, at([null, null, 3, 4, 5, 6]), 100)).length).toBe(2);
  });
});

describe('bench generators', () => {
  it('the guided side runs its own number of seeds (guidedMinSeeds, guidedTargetFinds), the uniform side minSeeds/targetFinds', async () => {
    // M-1 is found at the first case by both sides (pagemap of a page without an entry), so every seed finds it
    const r = await runMutant({
      mutant: 'M-1', seeds: [1, 2, 3, 4, 5, 6], minSeeds: 2, targetFinds: 2, guidedMinSeeds: 4, guidedTargetFinds: 4,
      guidedBudget: 50, uniformFactor: 10, uniformMin: 20, uniformMax: 50, minimizeCapMs: 2000, maxMinimizeRuns: 50,
    });
    expect(r.guided.runs.map((x) => x.seed)).toEqual([1, 2, 3, 4]);
    expect(r.uniform.runs.map((x) => x.seed)).toEqual([1, 2]);
  }, 120_000);

  it('uniform cases are valid, within the op cap, and deterministic per seed', () => {
    const a = new Rng(9), b = new Rng(9);
    for (let i = 0; i < 200; i++) {
      const c = uniformCase(a);
      expect(validateCase(c)).toEqual([]);
      expect(c.ops.length).toBeGreaterThanOrEqual(1);
      expect(c.ops.length).toBeLessThanOrEqual(40);
      expect(uniformCase(b)).toEqual(c);
    }
  });

  it('scale cases have exactly N ops and regions of exactly P pages', () => {
    for (const [ops, pages] of [[10, 8], [30, 64]] as const) {
      const cs = scaleCases(3, 5, ops, pages);
      expect(cs).toHaveLength(5);
      for (const c of cs) {
        expect(validateCase(c)).toEqual([]);
        expect(c.ops).toHaveLength(ops);
        for (const op of c.ops) if (op.op === 'mmap') expect(op.pages).toBe(pages);
      }
    }
  });

  it('two workers at best on 2 cores: twice one worker, unless the cores bind at the CPU two take per case', () => {
    // one worker at 1 case/ms; two need 0.5 ms of CPU per case: 2 cores allow 4 cases/ms, doubling allows 2
    expect(twoWorkersBound(1, 0.5)).toBeCloseTo(2, 5);
    // one worker at 1.42 cases/ms (already ~1.4 cores); two take 1.2 ms per case: 2 cores give 1.67 cases/ms
    expect(twoWorkersBound(1.42, 1.2)).toBeCloseTo(2 / 1.2 / 1.42, 5);
    // the same costs on 4 cores: doubling binds
    expect(twoWorkersBound(1.42, 1.2, 4)).toBeCloseTo(2, 5);
  });

  it('median', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([])).toBeNaN();
  });
});

describe('bench --quick sections', () => {
  it('model speed', async () => {
    const r = await benchModel(o);
    expect(finite(r.metrics.model_cases_per_s_per_thread)).toBe(true);
    // the same rounds per CPU second, and wall / CPU: how much other load took the core
    expect(finite(r.metrics.model_cpu_cases_per_s_per_thread)).toBe(true);
    expect(finite(r.metrics.model_wall_over_cpu)).toBe(true);
    expect(r.rows.length).toBeGreaterThan(0);
  });

  it('scale of work (model; live when the executor is built)', async () => {
    const r = await benchScale(o);
    const grid = r.metrics.scale as Record<string, { model_ms: number | null; live_ms: number | null; cases: number }>;
    expect(Object.keys(grid).sort()).toEqual(['10x64', '10x8', '30x64', '30x8']);
    for (const g of Object.values(grid)) {
      expect(g.cases).toBeGreaterThan(0);
      expect(finite(g.model_ms)).toBe(true);
      if (!liveMissing()) expect(finite(g.live_ms)).toBe(true);
    }
  }, 120_000);

  it('finding bugs: one mutant, guided and uniform sides reported over several seeds', async () => {
    const r = await benchMutants(o, ['M-9']);
    expect(finite(r.metrics.guided_over_uniform_min)).toBe(true);
    expect(finite(r.metrics.guided_over_uniform_geomean)).toBe(true);
    expect(finite(r.metrics.minimize_s_max)).toBe(true);
    const m = (r.metrics.mutants as Record<string, MutantResult>)['M-9']!;
    expect(m.guided.finds).toBeGreaterThan(0);
    expect(m.guided.runs.length).toBeGreaterThanOrEqual(2);
    expect(m.uniform.runs.length).toBeGreaterThanOrEqual(2);
    expect(m.uniform.cases).toBeGreaterThan(0);
  }, 240_000);

  it.skipIf(!!liveMissing())('executor floor vs executor vs live path', async () => {
    const r = await benchLive(o);
    for (const k of ['executor_over_floor', 'farm_over_executor', 'check_over_live_cost', 'floor_cases_per_s', 'executor_cases_per_s', 'farm_cases_per_s']) {
      expect(finite(r.metrics[k]), k).toBe(true);
    }
  }, 180_000);

  it('the JSON object carries every required key (null for sections not run)', async () => {
    const { json } = await runBench({ quick: true, seed: 1, only: ['model'], log: () => undefined });
    for (const k of REQUIRED_KEYS) expect(json).toHaveProperty(k);
    expect(finite(json.model_cases_per_s_per_thread)).toBe(true);
    expect(json.meta).toBeTypeOf('object');
  });
});
