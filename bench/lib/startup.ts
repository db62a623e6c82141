// The CLI start-up figure (issue 13 item 4): `ptefarm --version`, `rules` and `fmt` as a user runs
// them (`node bin/ptefarm.mjs ...`, so dist/ when it is built and up to date, tsx otherwise; the
// result says which), against `node -e 0` measured in the same rounds (rotating order, medians),
// so that the ratio holds on a loaded or slow host where absolute times do not.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { distProblem } from '../../bin/dist-state.mjs';
import { median, r3, type BenchOptions, type SectionResult } from './sections.ts';

const ROOT = new URL('../../', import.meta.url);
const BIN = fileURLToPath(new URL('bin/ptefarm.mjs', ROOT));

export const STARTUP_COMMANDS: Record<string, string[]> = {
  node: ['-e', '0'],
  version: [BIN, '--version'],
  rules: [BIN, 'rules'],
  fmt: [BIN, 'fmt', 'corpus/seeds/s-sd-simple.json'],
};

/** wall-clock ms of one run of `node ...args` from the package root; throws when it fails */
function timeRun(args: string[]): number {
  const t0 = performance.now();
  const p = spawnSync(process.execPath, args, { cwd: fileURLToPath(ROOT), stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
  const ms = performance.now() - t0;
  if (p.status !== 0) throw new Error(`node ${args.join(' ')}: exit ${p.status ?? p.signal}: ${p.stderr.trim().split('\n')[0]}`);
  return ms;
}

export async function benchStartup(o: BenchOptions): Promise<SectionResult> {
  const rounds = o.quick ? 3 : 15;
  const names = Object.keys(STARTUP_COMMANDS);
  const ms: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]));
  timeRun(STARTUP_COMMANDS.version!); // warm the page cache: the first start reads every file from disk
  for (let r = 0; r < rounds; r++) {
    for (let i = 0; i < names.length; i++) {
      const n = names[(i + r) % names.length]!;
      ms[n]!.push(timeRun(STARTUP_COMMANDS[n]!));
    }
  }
  const med = Object.fromEntries(names.map((n) => [n, median(ms[n]!)])) as Record<string, number>;
  const problem = distProblem(ROOT);
  const from = problem === undefined ? 'dist' : `tsx (dist/: ${problem})`;
  const over = (n: string) => med[n]! / med.node!;
  return {
    metrics: {
      cli_startup_over_node: r3(over('version')), cli_rules_over_node: r3(over('rules')), cli_fmt_over_node: r3(over('fmt')),
      cli_version_ms: r3(med.version!), node_start_ms: r3(med.node!), cli_runs_from: from,
    },
    rows: [
      { section: 'startup', what: `ptefarm --version / node -e 0 (${from}; goal ≤ 0.3 s)`, value: `${over('version').toFixed(2)} (${med.version!.toFixed(0)} vs ${med.node!.toFixed(0)} ms)` },
      { section: 'startup', what: 'ptefarm rules / node -e 0', value: `${over('rules').toFixed(2)} (${med.rules!.toFixed(0)} ms)` },
      { section: 'startup', what: 'ptefarm fmt CASE / node -e 0', value: `${over('fmt').toFixed(2)} (${med.fmt!.toFixed(0)} ms)` },
    ],
    notes: problem === undefined ? [] : [`startup: measured the tsx path, dist/: ${problem}; run \`npm run build\` first`],
  };
}
