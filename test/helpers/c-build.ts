// Compile a generated C program (a `ptefarm repro` reproducer) the way the reproducer tests require:
// -Wall -Wextra -Werror must give a binary. Used by test/report/repro-folio and repro-resident.
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';

/** `src` written to DIR/NAME.c and built as DIR/NAME (the build must succeed); its path and the
 *  compiler's warnings text */
export function buildC(dir: string, name: string, src: string): { bin: string; stderr: string } {
  const c = join(dir, `${name}.c`), bin = join(dir, name);
  writeFileSync(c, src);
  const r = spawnSync('cc', ['-Wall', '-Wextra', '-Werror', '-o', bin, c], { encoding: 'utf8' });
  expect(r.status, `cc ${name}.c:\n${r.stderr}`).toBe(0);
  return { bin, stderr: r.stderr };
}
