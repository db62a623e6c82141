// Every mutant the op set can express has an exposing case (corpus/mutants/<id>.json, from the
// sequences of x86-semantics.md §11): the reference passes it, the mutant's trace diverges, and a
// violation names the rule the mutant changed.
import { readFileSync, readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { checkTrace } from '../../src/check/check.ts';
import { MUTANTS } from '../../src/model/mutants.ts';
import { parseCase } from '../../src/ops/validate.ts';
import { ModelTarget } from '../../src/targets/model.ts';

const dir = new URL('../../corpus/mutants/', import.meta.url);
const load = (id: string) => parseCase(JSON.parse(readFileSync(new URL(`${id}.json`, dir), 'utf8')));

describe('mutants', () => {
  it('every listed mutant has an exposing case and every exposing case a mutant', () => {
    const files = readdirSync(dir).filter((f) => f.endsWith('.json')).map((f) => f.slice(0, -5)).sort();
    expect(files).toEqual(MUTANTS.map((m) => m.id).sort());
  });

  for (const m of MUTANTS) {
    it(`${m.id} (${m.rule}) is caught by its exposing case`, () => {
      const c = load(m.id);
      const ref = checkTrace(c, new ModelTarget('model:x86').executeSync(c));
      expect(ref.violations).toEqual([]);
      const verdict = checkTrace(c, new ModelTarget(`model:x86+${m.id}`).executeSync(c));
      expect(verdict.ok).toBe(false);
      const named = verdict.violations.filter((v) => v.rules.includes(m.rule));
      expect(named.length, verdict.violations.map((v) => v.message).slice(0, 3).join('\n')).toBeGreaterThan(0);
    });
  }
});
