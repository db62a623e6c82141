// copyOp (src/ops/schema.ts): the generators copy ops with a shallow copy, which is a deep one only
// while every op field is a number, string or boolean; this holds every op schema to that, and shows
// that a copy shares nothing with its original and keeps its key order.
import { describe, expect, it } from 'vitest';
import { copyOp, opSchemas, type Op } from '../../src/ops/schema.ts';

/** the zod type name of a field, optional() unwrapped */
function fieldType(f: unknown): string {
  let t = f as { def: { type: string; innerType?: unknown } };
  while (t.def.type === 'optional') t = t.def.innerType as typeof t;
  return t.def.type;
}

describe('copyOp', () => {
  it('every field of every op schema is a primitive (a shallow copy of an op is a deep one)', () => {
    const bad: string[] = [];
    for (const [name, s] of Object.entries(opSchemas)) {
      for (const [k, f] of Object.entries((s as unknown as { shape: Record<string, unknown> }).shape)) {
        if (!['string', 'number', 'boolean', 'literal', 'enum'].includes(fieldType(f))) bad.push(`${name}.${k}: ${fieldType(f)}`);
      }
    }
    expect(bad).toEqual([]);
  });
  it('a copy equals its original, in the same key order, and changing it leaves the original alone', () => {
    const op: Op = { op: 'scan', region: 'a', first: 1, count: 2, wp_matching: true, category_mask: 'wp', proc: 1 };
    const c = copyOp(op);
    expect(JSON.stringify(c)).toBe(JSON.stringify(op));
    expect(c).not.toBe(op);
    (c as { first?: number }).first = 3;
    expect(op.first).toBe(1);
  });
});
