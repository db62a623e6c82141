// docs/matrix.schema.json is the JSON Schema of ptefarm-matrix/2 for readers outside TypeScript
// (e.g. CRIU's feature check): it must say what the zod schema the tests validate with says.
// Regenerate it with `npx tsx scripts/matrix-schema.ts > docs/matrix.schema.json`.
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { matrixJsonSchema, MATRIX_FORMAT } from '../../src/matrix/schema.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));

describe('docs/matrix.schema.json', () => {
  it('is the JSON Schema of the zod schema, titled with the format version', () => {
    const stored = JSON.parse(readFileSync(`${root}docs/matrix.schema.json`, 'utf8')) as Record<string, unknown>;
    expect(stored).toEqual(matrixJsonSchema());
    expect(stored.title).toBe(MATRIX_FORMAT);
    expect((stored.properties as Record<string, { const?: string }>).format!.const).toBe(MATRIX_FORMAT);
  });

  it('docs/matrix-schema.md documents every top-level, target and cell-result field', () => {
    const md = readFileSync(`${root}docs/matrix-schema.md`, 'utf8');
    const s = matrixJsonSchema() as { properties: Record<string, { items?: { properties?: Record<string, { items?: { properties?: Record<string, unknown> } }> } }> };
    const names = [
      ...Object.keys(s.properties),
      ...Object.keys(s.properties.targets!.items!.properties!),
      ...Object.keys(s.properties.cells!.items!.properties!.results!.items!.properties!),
    ];
    for (const n of names) expect(md, n).toContain(`\`${n}\``);
  });
});
