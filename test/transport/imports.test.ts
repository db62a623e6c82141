// Imports flow one way: the transport carries jobs and results (types in src/transport/) and
// knows nothing of the campaign that uses it; the farm's campaign driver lives in src/campaign/.
import { describe, expect, it } from 'vitest';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const dir = fileURLToPath(new URL('../../src/transport/', import.meta.url));

describe('src/transport imports', () => {
  it('nothing from src/campaign (static or dynamic import)', () => {
    const offenders: string[] = [];
    const files = readdirSync(dir).filter((f) => f.endsWith('.ts'));
    expect(files).toContain('transport.ts');
    for (const f of files) {
      const src = readFileSync(dir + f, 'utf8');
      for (const m of src.matchAll(/(?:from\s+|import\s*\(\s*)['"]([^'"]+)['"]/g)) {
        if (/(^|\/)campaign\//.test(m[1]!)) offenders.push(`${f}: ${m[1]}`);
      }
    }
    expect(offenders).toEqual([]);
  });
});
