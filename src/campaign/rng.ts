// A small deterministic PRNG (sfc32 seeded through splitmix32). Campaign generation happens only in
// the coordinator and draws only from these, so a seed fixes every generated case.
export class Rng {
  private a: number; private b: number; private c: number; private d: number;

  constructor(seed: number) {
    let s = seed >>> 0;
    const sm = () => {
      s = (s + 0x9e3779b9) >>> 0;
      let z = s;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.a = sm(); this.b = sm(); this.c = sm(); this.d = sm();
    for (let i = 0; i < 12; i++) this.u32();
  }

  u32(): number {
    const t = (((this.a + this.b) >>> 0) + this.d) >>> 0;
    this.d = (this.d + 1) >>> 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) >>> 0;
    this.c = ((this.c << 21) | (this.c >>> 11)) >>> 0;
    this.c = (this.c + t) >>> 0;
    return t;
  }

  /** uniform in [0, 1) */
  float(): number { return this.u32() / 4294967296; }
  /** uniform integer in [0, n) */
  int(n: number): number { return n <= 1 ? 0 : Math.floor(this.float() * n); }
  /** uniform integer in [lo, hi] */
  range(lo: number, hi: number): number { return lo + this.int(hi - lo + 1); }
  chance(p: number): boolean { return this.float() < p; }
  pick<T>(xs: readonly T[]): T {
    if (xs.length === 0) throw new Error('pick from empty list');
    return xs[this.int(xs.length)]!;
  }
  /** pick by weight; entries with weight <= 0 are never chosen */
  weighted<T>(entries: ReadonlyArray<readonly [T, number]>): T {
    return entries[this.weightedIndex(entries.length, (i) => entries[i]![1])]![0];
  }
  /** the index of a pick by weight over `n` items whose weights `weight(i)` gives (each asked
   *  twice, so it must be pure); items of weight <= 0 are never chosen. weighted() is this over its
   *  pairs; the guided generator calls it directly to pick from its whole pool at every mutated
   *  case without building the pairs */
  weightedIndex(n: number, weight: (i: number) => number): number {
    let total = 0;
    for (let i = 0; i < n; i++) { const w = weight(i); if (w > 0) total += w; }
    if (total <= 0) throw new Error('weighted pick with no positive weight');
    let x = this.float() * total;
    for (let i = 0; i < n; i++) {
      const w = weight(i);
      if (w <= 0) continue;
      if (x < w) return i;
      x -= w;
    }
    for (let i = n - 1; i >= 0; i--) if (weight(i) > 0) return i;
    throw new Error('unreachable');
  }
  /** a fresh 32-bit seed for a sub-generator */
  fork(): number { return this.u32(); }
}
