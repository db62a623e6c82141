// PteTable and PmdTable (src/model/state.ts) remember their last lookup (a PTE chunk, a PMD block
// and its entry) because the machine and the observer walk a range page by page. A remembered
// answer that outlived a change would silently feed the model a stale entry. This test interleaves
// lookups with every kind of change and compares each answer with a plain Map kept alongside; and
// what each change stamps with the mutation clock (what the observer reads again).
import { describe, expect, it } from 'vitest';
import { clockNow, Page, pageStampNow, PmdTable, PteTable, PTE_CHUNK, resetClock, type Pmd, type Pte } from '../../src/model/state.ts';

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

// The observer (src/model/observe.ts walkStamped) re-reads, in a chunk handed out only entry by
// entry since its last look, just the slots stamped since: each way of changing or handing out one
// entry stamps that slot alone; each way of handing out the whole chunk stamps all of it.
describe('PteTable slot stamps', () => {
  it('stamp the slot a change or handout reaches, the whole chunk for a chunk handout', () => {
    resetClock();
    const t = new PteTable();
    const marker = (): Pte => ({ t: 'marker', sd: false, why: [] });
    for (const i of [1, 2, 3, 5]) t.set(i, marker());
    const c = t.peekChunk(0)!;
    /** the slots stamped after `at`, and whether the chunk was handed out whole after it */
    const after = (at: number) => ({ slots: c.sv.flatMap((s, k) => (s > at ? [k] : [])), all: c.all > at, ver: c.ver > at });
    let at = clockNow();
    t.get(3);
    expect(after(at)).toEqual({ slots: [3], all: false, ver: true });
    at = clockNow();
    t.get(4); // no entry there: nothing handed out
    t.peek(2);
    expect(after(at)).toEqual({ slots: [], all: false, ver: false });
    at = clockNow();
    t.touch(5); t.delete(1); t.set(7, marker());
    expect(after(at)).toEqual({ slots: [1, 5, 7], all: false, ver: true });
    at = clockNow();
    t.deleteRange(2, 4);
    expect(after(at)).toEqual({ slots: [2, 3], all: false, ver: true });
    at = clockNow();
    t.stampSlot(c, 9);
    expect(after(at)).toEqual({ slots: [9], all: false, ver: true });
    for (const handout of [() => t.chunk(0), () => [...t.allChunks()], () => [...t.entries()], () => [...t.values()], () => t.stampChunk(c)]) {
      at = clockNow();
      handout();
      expect(after(at).all).toBe(true);
    }
  });
});

// The observer reads a block's PMD only when it is huge, and of a page's reference counts only
// whether its mapcount is 1 (the exclusive bit): PmdTable and Page stamp only those changes, so
// that a fault's first PTE in a block or a second mapping of a shared page sends the observer
// back to no page it reads the same.
describe('PMD and page stamps', () => {
  it('a block is stamped when a huge PMD comes or goes, not for a page-table PMD', () => {
    resetClock();
    const t = new PmdTable();
    const huge: Pmd = { t: 'huge', pages: null, wp: false, sd: true, writable: true, dirty: true, why: [] };
    let at = clockNow();
    t.set(0, { t: 'table' });
    expect(t.stampOf(0) > at).toBe(false);
    t.delete(0);
    expect(t.stampOf(0) > at).toBe(false);
    t.set(0, huge);
    expect(t.stampOf(0) > at).toBe(true);
    at = clockNow();
    t.set(0, { t: 'table' }); // a split: the huge PMD goes
    expect(t.stampOf(0) > at).toBe(true);
    at = clockNow();
    t.set(1, huge);
    at = clockNow();
    t.delete(1);
    expect(t.stampOf(1) > at).toBe(true);
  });

  it('a page is stamped when its mapcount becomes or stops being 1, not for other counts', () => {
    resetClock();
    const pg = new Page(1, true, false, true);
    const stamped = (f: () => void) => { const at = clockNow(); f(); return pg.ver > at; };
    expect(stamped(() => { pg.ptMaps = 1; })).toBe(true); // 0 -> 1
    expect(stamped(() => { pg.ptSwaps = 1; })).toBe(false);
    expect(stamped(() => { pg.ptMaps = 2; })).toBe(true); // 1 -> 2
    expect(stamped(() => { pg.ptMaps = 3; })).toBe(false); // 2 -> 3
    expect(stamped(() => { pg.ptMaps = 0; })).toBe(false); // 3 -> 0
    expect(stamped(() => { pg.pmdMaps = 1; })).toBe(true); // 0 -> 1
    expect(stamped(() => { pg.ptMaps = 1; })).toBe(true); // 1 -> 2
    expect(stamped(() => { pg.val = 5; })).toBe(true);
  });

  // the observer skips asking each page it read for a newer stamp while no page at all was
  // stamped since its last look (observe.ts walkStamped): every way a Page is stamped must move
  // pageStampNow, and stamps of entries and PMDs must not (else the skip would never apply)
  it('every page stamp is the newest page stamp; entry and PMD stamps are not page stamps', () => {
    resetClock();
    expect(pageStampNow()).toBe(0);
    const pg = new Page(1, true, false, true);
    const sets: (() => void)[] = [
      () => { pg.ptMaps = 1; }, () => { pg.pmdMaps = 1; }, () => { pg.pmdMaps = 0; }, () => { pg.val = 7; },
      () => { pg.valWhy = ['R-DATA-1']; }, () => { pg.folio = [pg]; },
    ];
    for (const f of sets) {
      f();
      expect(pg.ver).toBe(clockNow());
      expect(pageStampNow()).toBe(pg.ver);
    }
    const at = pageStampNow();
    const ptes = new PteTable();
    ptes.set(3, { t: 'marker', sd: false, why: [] });
    ptes.delete(3);
    const pmds = new PmdTable();
    pmds.set(0, { t: 'huge', pages: null, wp: false, sd: true, writable: true, dirty: true, why: [] });
    expect(clockNow() > at).toBe(true);
    expect(pageStampNow()).toBe(at);
    resetClock();
    expect(pageStampNow()).toBe(0);
  });
});
