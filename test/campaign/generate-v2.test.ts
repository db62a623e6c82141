// The generator and ptefarm-case/2: guard regions and the PAGEMAP_SCAN shapes the kernel treats
// differently (no output vector, the WRITTEN fast path, masks, WP_MATCHING without
// CHECK_WPASYNC) are reached; every case is valid and written in the oldest format that holds it.
import { describe, expect, it } from 'vitest';
import { GuidedGenerator } from '../../src/campaign/generate.ts';
import { formatFor } from '../../src/ops/schema.ts';
import { validateCase } from '../../src/ops/validate.ts';

describe('generator: ptefarm-case/2', () => {
  it('reaches guard, unguard and every scan shape; each case valid, /2 only when it needs it', () => {
    const g = new GuidedGenerator(9, { unguided: true });
    const seen = new Set<string>();
    const bad: string[] = [];
    for (let i = 0; i < 1500; i++) {
      const c = g.next();
      if (c.format !== formatFor(c.ops)) bad.push(`case ${i}: ${c.format} for ops that need ${formatFor(c.ops)}`);
      const p = validateCase(c);
      if (p.length) bad.push(`case ${i}: ${p[0]}`);
      for (const o of c.ops) {
        if (o.op === 'guard' || o.op === 'unguard') seen.add(o.op);
        if (o.op !== 'scan') continue;
        if (o.no_vec) seen.add(o.wp_matching ? 'no_vec+wp_matching' : 'no_vec');
        if (o.category_mask === 'w' && o.return_mask === 'w') seen.add('written-fast');
        if (o.category_inverted !== undefined) seen.add('inverted');
        if (o.category_anyof_mask !== undefined) seen.add('anyof');
        if (o.wp_matching && o.check_wpasync === false) seen.add('skip');
      }
    }
    expect(bad).toEqual([]);
    expect([...seen].sort()).toEqual(['anyof', 'guard', 'inverted', 'no_vec', 'no_vec+wp_matching', 'skip', 'unguard', 'written-fast']);
  });
});
