// Import direction (issue 12 item 9): ops -> model -> targets/check -> campaign -> gate -> report/cli.
// Reports are pure functions of a stored run directory: src/report/ imports nothing from the gate,
// the CLI or the dashboard, and from the campaign and the transports only types. The gate imports
// neither the CLI nor the dashboard, and nothing below the gate imports the gate or a report.
import { describe, expect, it } from 'vitest';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const src = fileURLToPath(new URL('../../src', import.meta.url));

/** every `import ... from '../X/...'` of the .ts files of src/<dir>, with whether it is type-only */
function imports(dir: string): { file: string; layer: string; typeOnly: boolean; line: string }[] {
  const out: { file: string; layer: string; typeOnly: boolean; line: string }[] = [];
  for (const f of readdirSync(join(src, dir)).filter((n) => n.endsWith('.ts'))) {
    const text = readFileSync(join(src, dir, f), 'utf8');
    for (const m of text.matchAll(/^(?:import|export)\s+(type\s+)?[^;]*?from\s+'\.\.\/([a-z-]+)\/[^']+';/gms)) {
      out.push({ file: `${dir}/${f}`, layer: m[2], typeOnly: !!m[1], line: m[0].replace(/\s+/g, ' ') });
    }
  }
  return out;
}

describe('import direction', () => {
  it('src/report/ imports no gate, CLI or dashboard code, and only types from the campaign and transports', () => {
    const bad = imports('report').filter((i) => ['gate', 'cli', 'ui'].includes(i.layer) || (['campaign', 'transport'].includes(i.layer) && !i.typeOnly));
    expect(bad.map((i) => `${i.file}: ${i.line}`)).toEqual([]);
    // the scan sees the type import the run format does need (so it is not vacuous)
    expect(imports('report').some((i) => i.layer === 'campaign' && i.typeOnly)).toBe(true);
  });

  it('src/gate/ imports neither the CLI nor the dashboard', () => {
    const all = imports('gate');
    expect(all.some((i) => i.layer === 'campaign' && !i.typeOnly)).toBe(true);
    expect(all.filter((i) => ['cli', 'ui'].includes(i.layer)).map((i) => `${i.file}: ${i.line}`)).toEqual([]);
  });

  it('nothing below the gate imports the gate or a report', () => {
    const below = ['ops', 'model', 'targets', 'check', 'findings', 'campaign', 'transport'];
    const bad = below.flatMap(imports).filter((i) => ['gate', 'report', 'cli', 'ui'].includes(i.layer));
    expect(bad.map((i) => `${i.file}: ${i.line}`)).toEqual([]);
  });
});
