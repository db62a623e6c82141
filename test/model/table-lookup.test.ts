// PteTable and PmdTable (src/model/state.ts) remember their last lookup (a PTE chunk, a PMD block
// and its entry) because the machine and the observer walk a range page by page. A remembered
// answer that outlived a change would silently feed the model a stale entry. This test interleaves
// lookups with every kind of change and compares each answer with a plain Map kept alongside.
import { describe, expect, it } from 'vitest';
import { PmdTable, PteTable, PTE_CHUNK, type Pmd, type Pte } from '../../src/model/state.ts';

/** a small deterministic generator (no Math.random in tests) */
function lcg(seed: number): () => number {
  let x = seed >>> 0;
  return () => (x = (Math.imul(x, 1664525) + 1013904223) >>> 0) / 2 ** 32;
}

describe('PmdTable last-lookup memory', () => {
  it('answers as a plain Map through set, delete and clear (peek, get, has)', () => {
    const t = new PmdTable();
    const ref = new Map<number, Pmd>();
    const rnd = lcg(7);
    for (let n = 0; n < 2000; n++) {
      const b = Math.floor(rnd() * 6);
      const r = rnd();
      if (r < 0.3) { const pmd: Pmd = { t: 'table' }; t.set(b, pmd); ref.set(b, pmd); }
      else if (r < 0.4) { t.delete(b); ref.delete(b); }
      else if (r < 0.41) { t.clear(); ref.clear(); }
      // peek twice (the second answer is the remembered one) and get
      expect(t.peek(b)).toBe(ref.get(b));
      expect(t.peek(b)).toBe(ref.get(b));
      expect(t.get(b)).toBe(ref.get(b));
      expect(t.has(b)).toBe(ref.has(b));
    }
  });
});

describe('PteTable last-lookup memory', () => {
  it('answers as a plain Map through set, delete, deleteRange and chunk lookups', () => {
    const t = new PteTable();
    const ref = new Map<number, Pte>();
    const rnd = lcg(11);
    const span = PTE_CHUNK * 4;
    for (let n = 0; n < 2000; n++) {
      const i = Math.floor(rnd() * span);
      const r = rnd();
      if (r < 0.3) { const e: Pte = { t: 'marker', sd: false, why: [] }; t.set(i, e); ref.set(i, e); }
      else if (r < 0.4) { t.delete(i); ref.delete(i); }
      else if (r < 0.42) { const e = Math.min(span, i + Math.floor(rnd() * PTE_CHUNK * 2)); t.deleteRange(i, e); for (let k = i; k < e; k++) ref.delete(k); }
      expect(t.peek(i)).toBe(ref.get(i));
      expect(t.get(i)).toBe(ref.get(i));
      if (n % 16 === 0) {
        const c = Math.floor(i / PTE_CHUNK);
        const chunk = t.peekChunk(c);
        for (let k = 0; k < PTE_CHUNK; k++) if (chunk?.e[k] !== ref.get(c * PTE_CHUNK + k)) expect.fail(`chunk ${c} slot ${k} after step ${n}`);
      }
    }
    expect(t.size).toBe(ref.size);
  });
});
