// `ptefarm serve --target T`: one trace line per case line, faults for bad lines.
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_EXECUTOR } from '../../src/targets/probe.ts';
import { traceSchema } from '../../src/ops/trace.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));
const serve = (target: string, input: string) =>
  spawnSync(process.execPath, [join(root, 'bin/ptefarm.mjs'), 'serve', '--target', target], { encoding: 'utf8', cwd: root, input });

describe('ptefarm serve', () => {
  it.skipIf(!existsSync(DEFAULT_EXECUTOR))('answers every input line with one trace line, in order', () => {
    const ok = { format: 'ptefarm-case/1', ops: [{ op: 'mmap', region: 'a', pages: 1, kind: 'anon' }, { op: 'write', region: 'a' }] };
    const bad = { format: 'ptefarm-case/1', ops: [{ op: 'write', region: 'nope' }] };
    const r = serve('live', [JSON.stringify(ok), 'not json', JSON.stringify(bad), '', JSON.stringify(ok)].join('\n') + '\n');
    expect(r.status).toBe(0);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.length).toBe(4);
    for (const l of lines) expect(traceSchema.safeParse(l).success).toBe(true);
    expect(lines[0].fault).toBeUndefined();
    expect(lines[0].steps[1].pages['0'].a[0].slice(0, 5)).toBe('P..E.');
    expect(lines[1].fault).toMatch(/input line 2 is not JSON/);
    expect(lines[2].fault).toMatch(/ops\[0\]\.region: region "nope" does not exist/);
    expect(lines[3].steps).toEqual(lines[0].steps);
  });

  it('an unknown target is a clear error, exit 2', () => {
    const r = serve('nonsense', '');
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/unknown target "nonsense"/);
  });
});
