// The benchmark's start-up section, --quick: structure only (every figure present and finite, the
// path measured named), never timings.
import { describe, expect, it } from 'vitest';
import { benchStartup } from '../../bench/lib/startup.ts';

describe('bench startup', () => {
  it('reports ptefarm --version, rules and fmt against node -e 0, and which launcher path it timed', async () => {
    const r = await benchStartup({ quick: true, seed: 1, log: () => undefined });
    for (const k of ['cli_startup_over_node', 'cli_rules_over_node', 'cli_fmt_over_node', 'cli_version_ms', 'node_start_ms']) {
      expect(Number.isFinite(r.metrics[k]) && (r.metrics[k] as number) > 0, k).toBe(true);
    }
    expect(r.metrics.cli_runs_from).toMatch(/^(dist|tsx \(dist\/: .+\))$/);
    expect(r.rows.map((x) => x.section)).toEqual(['startup', 'startup', 'startup']);
  }, 300_000);
});
