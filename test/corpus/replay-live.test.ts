// The tracked corpus replayed on the live kernel: the selftests' scenarios (corpus/seeds), the
// reproducers of every model gap the live kernel corrected (corpus/regressions) and the cases that
// expose the mutants (corpus/mutants) are x86 behaviour, so each one passes on this host or is
// skipped with the reason (soft-dirty compiled out, a capability missing). Not corpus/findings: those
// are kernel bugs. A failure here is a model rule this host contradicts, or an executor that takes
// the case's own behaviour for interference (the interference check once took a PAGEMAP_SCAN
// arming's uffd-wp marker for a swap-out: corpus/regressions/env.scan-arming-splits-shmem-thp.json).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { DEFAULT_EXECUTOR } from '../../src/targets/probe.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
if (!existsSync(DEFAULT_EXECUTOR)) throw new Error(`native executor not built: run \`make -C workers/executor\` (${DEFAULT_EXECUTOR})`);

describe('live: the tracked corpus replays', () => {
  it.each(['corpus/seeds', 'corpus/regressions', 'corpus/mutants'])('%s: no case fails, none is an error', (dir) => {
    const r = spawnSync(process.execPath, ['bin/ptefarm.mjs', 'replay', dir, '--target', 'live', '--json'], { cwd: ROOT, encoding: 'utf8', timeout: 300_000 });
    const lines = r.stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as { status?: string; summary?: boolean; ok?: number });
    const summary = lines.find((l) => l.summary);
    const bad = lines.filter((l) => !l.summary && l.status !== 'ok' && l.status !== 'skipped');
    expect(bad.map((l) => JSON.stringify(l).slice(0, 600)), r.stderr).toEqual([]);
    expect(summary, r.stderr).toMatchObject({ failed: 0, errors: 0 });
    expect(summary!.ok).toBeGreaterThan(0);
    expect(r.status).toBe(0);
  });
});
