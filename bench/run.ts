// `npm run bench [-- --json] [-- --quick] [-- --only live,model,transport,mutants,scale,startup] [-- --seed N]`
// Runs the benchmarks of GitHub issue 7 side by side and prints a table (and, with --json, one JSON
// object as the last line of stdout). Progress goes to stderr.
import { hostname, loadavg, release } from 'node:os';
import { benchLive, benchModel, benchMutants, benchScale, benchTransport, type BenchOptions, type Metrics, type Row, type SectionResult } from './lib/sections.ts';
import { benchStartup } from './lib/startup.ts';

export const SECTIONS = ['live', 'model', 'transport', 'mutants', 'scale', 'startup'] as const;
type Section = (typeof SECTIONS)[number];

const RUNNERS: Record<Section, (o: BenchOptions) => Promise<SectionResult>> = {
  live: benchLive, model: benchModel, transport: benchTransport, mutants: benchMutants, scale: benchScale, startup: benchStartup,
};

/** keys the JSON object always carries (null when a section was skipped) */
export const REQUIRED_KEYS = [
  'executor_over_floor', 'farm_over_executor', 'model_cases_per_s_per_thread', 'check_over_live_cost',
  'nats_over_embedded', 'two_workers_over_one', 'guided_over_uniform_min', 'guided_over_uniform_geomean', 'minimize_s_max',
  'cli_startup_over_node',
] as const;

export async function runBench(opts: { quick: boolean; seed: number; only?: Section[]; log?: (s: string) => void }): Promise<{ json: Metrics; rows: Row[]; notes: string[] }> {
  const log = opts.log ?? ((s: string) => process.stderr.write(`${s}\n`));
  const o: BenchOptions = { quick: opts.quick, seed: opts.seed, log };
  const json: Metrics = {};
  for (const k of REQUIRED_KEYS) json[k] = null;
  const rows: Row[] = [];
  const notes: string[] = [];
  const t0 = performance.now();
  const seconds: Record<string, number> = {};
  for (const s of opts.only ?? SECTIONS) {
    const s0 = performance.now();
    log(`bench: ${s}...`);
    try {
      const r = await RUNNERS[s](o);
      Object.assign(json, r.metrics);
      rows.push(...r.rows);
      notes.push(...r.notes);
    } catch (e) {
      notes.push(`${s}: failed: ${(e as Error).stack ?? e}`);
      log(`bench: ${s} failed: ${(e as Error).message}`);
    }
    seconds[s] = Math.round((performance.now() - s0) / 100) / 10;
    log(`bench: ${s} done in ${seconds[s]} s`);
  }
  json.meta = {
    quick: opts.quick, seed: opts.seed, host: hostname(), kernel: release(), node: process.version,
    loadavg_end: loadavg().map((x) => Math.round(x * 100) / 100), section_seconds: seconds,
    total_seconds: Math.round((performance.now() - t0) / 100) / 10, notes,
  };
  return { json, rows, notes };
}

function table(rows: Row[]): string {
  const w0 = Math.max(7, ...rows.map((r) => r.section.length));
  const w1 = Math.max(4, ...rows.map((r) => r.what.length));
  const line = (a: string, b: string, c: string) => `${a.padEnd(w0)}  ${b.padEnd(w1)}  ${c}`;
  return [line('section', 'what', 'value'), line('-'.repeat(w0), '-'.repeat(w1), '-----'), ...rows.map((r) => line(r.section, r.what, r.value))].join('\n');
}

async function main(argv: string[]): Promise<number> {
  const quick = argv.includes('--quick');
  const asJson = argv.includes('--json');
  const seedAt = argv.indexOf('--seed');
  const seed = seedAt >= 0 ? Number(argv[seedAt + 1]) : 1;
  const onlyAt = argv.indexOf('--only');
  const only = onlyAt >= 0 ? (argv[onlyAt + 1] ?? '').split(',').filter(Boolean) as Section[] : undefined;
  for (const s of only ?? []) if (!SECTIONS.includes(s)) { process.stderr.write(`unknown section "${s}" (known: ${SECTIONS.join(', ')})\n`); return 2; }
  if (!Number.isInteger(seed)) { process.stderr.write('--seed: expected an integer\n'); return 2; }
  const { json, rows, notes } = await runBench({ quick, seed, only });
  process.stdout.write(`${table(rows)}\n`);
  for (const n of notes) process.stdout.write(`note: ${n.split('\n')[0]}\n`);
  if (asJson) process.stdout.write(`${JSON.stringify(json)}\n`);
  return 0;
}

if (import.meta.url === `file://${process.argv[1]}` || process.argv[1]?.endsWith('bench/run.ts')) {
  main(process.argv.slice(2)).then((c) => process.exit(c), (e) => { process.stderr.write(`${(e as Error).stack ?? e}\n`); process.exit(2); });
}
