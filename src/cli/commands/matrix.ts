// `ptefarm matrix --target T [--target T...]`: the verdict matrix. Runs the fixed, seeded suite
// (corpus seeds + N generated cases per cell of family x backing x mechanism, src/matrix) on every
// target in parallel and writes matrix.json (ptefarm-matrix/2, docs/matrix-schema.md), matrix.md
// and matrix.html into --out (default <workdir>/matrix, never the repository's tracked files).
// Exit 0 when every cell agrees or is unsupported, 1 when some cell diverges, 3 when none diverges
// but some cell's cases all faulted (no verdict), 2 on bad input or a target that refused or
// failed to start (the matrix is still written, with that target's cells unsupported or faulted).
import { availableParallelism } from 'node:os';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { DEFAULT_NO_WORKER_GRACE, resolveNoWorkerGrace, DEFAULT_SEED, OptionError, parseCount, parseDuration, resolveSeed, resolveWorkdir } from '../../campaign/config.ts';
import { packagePath } from '../../package-root.ts';
import { BACKINGS, FAMILIES, MECHANISMS } from '../../matrix/cells.ts';
import { runMatrix } from '../../matrix/run.ts';
import { MATRIX_FILES, toMatrixMarkdown, writeMatrixDir } from '../../report/matrix.ts';
import { guarded, warn } from '../io.ts';
import { addNatsAuthOptions, natsAuthFrom, type NatsFlags } from '../../transport/nats-cli.ts';
import { openFarmMatrix, type FarmMatrix } from '../../matrix/farm.ts';

interface Opts extends NatsFlags {
  /** --no-worker-grace <time>; commander's `true` when absent */
  workerGrace?: string | boolean;
  target: string[]; casesPerCell: string; seed?: string; threads: string; out?: string; workdir?: string;
  corpus: boolean | string; family: string[]; backing: string[]; mechanism: string[]; timeout: string; quiet?: boolean;
}

const collect = (v: string, prev: string[]) => [...prev, v];

function checkAxis(option: string, given: string[], known: readonly string[]): Set<string> | undefined {
  for (const g of given) if (!known.includes(g)) throw new OptionError(`--${option}: unknown ${option} "${g}" (known: ${known.join(', ')})`);
  return given.length ? new Set(given) : undefined;
}

export function register(program: Command) {
  const cmd = program.command('matrix')
    .description('run a fixed, seeded suite on each target and write the verdict matrix (family x backing x mechanism: agrees / diverges / unsupported) as JSON, Markdown and HTML')
    .option('-t, --target <spec>', 'a target (repeat for several): model:x86[+MUTANT], live, exec:CMD, qemu:IMAGE', collect, [])
    .option('-n, --cases-per-cell <n>', 'generated cases per cell', '50')
    .option('-s, --seed <n>', `suite seed: an integer, or "random" (default ${DEFAULT_SEED}; the same seed gives the same cases on every target)`)
    .option('-j, --threads <k>', 'worker threads shared by the targets (a qemu target uses one: one VM); 0 = all in this thread', String(availableParallelism()))
    .option('--out <dir>', 'output directory (default: <workdir>/matrix)')
    .option('--workdir <dir>', 'work directory (default ./ptefarm-work)')
    .option('--corpus <dir>', 'corpus directory whose cases join the suite (default: the shipped corpus/seeds)')
    .option('--no-corpus', 'generated cases only')
    .option('--family <f>', `only this family (repeatable): ${FAMILIES.join(', ')}`, collect, [])
    .option('--backing <b>', `only this backing (repeatable): ${BACKINGS.join(', ')}`, collect, [])
    .option('--mechanism <m>', `only this mechanism (repeatable): ${MECHANISMS.join(', ')}`, collect, [])
    .option('--timeout <time>', 'per-case timeout: 500ms, 30s, 2m (default 30s: a qemu target boots a VM)', '30s')
    .option('-q, --quiet', 'no progress and no table on stdout')
    .option('--nats <url>', 'run the targets on a NATS JetStream farm of `ptefarm worker --target T` processes (capabilities from their heartbeats); traces are checked here')
    .option('--no-worker-grace <time>', `with --nats: how long to wait for a worker of each target (default ${DEFAULT_NO_WORKER_GRACE}); a target without one has no verdict`);
  addNatsAuthOptions(cmd);
  cmd.action((o: Opts) => guarded(async () => {
      if (!o.target.length) throw new OptionError('--target: give at least one target (repeat --target for several)');
      const casesPerCell = parseCount('cases-per-cell', o.casesPerCell, 0)!;
      const threads = parseCount('threads', o.threads, 0)!;
      const seed = resolveSeed(o.seed);
      const timeoutMs = parseDuration(o.timeout, 'timeout');
      const fam = checkAxis('family', o.family, FAMILIES);
      const bak = checkAxis('backing', o.backing, BACKINGS);
      const mec = checkAxis('mechanism', o.mechanism, MECHANISMS);
      const corpusDirs = o.corpus === false ? [] : [typeof o.corpus === 'string' ? resolve(o.corpus) : packagePath('corpus', 'seeds')];
      const out = resolve(o.out ?? join(resolveWorkdir(o.workdir), 'matrix'));
      const { version } = JSON.parse(readFileSync(packagePath('package.json'), 'utf8')) as { version: string };
      const last = new Map<string, number>();
      const graceMs = resolveNoWorkerGrace(o.workerGrace);
      const farm: FarmMatrix | undefined = o.nats ? await openFarmMatrix(o.nats, natsAuthFrom(o), { graceMs }) : undefined;
      if (farm && !o.quiet) process.stderr.write(`matrix: on the farm at ${o.nats} (campaign ${farm.campaign})\n`);
      const { doc, reproducers } = await runMatrix({
        targets: o.target, seed, casesPerCell, threads, timeoutMs, corpusDirs, version,
        ...(farm ? { remoteInfo: (spec: string) => farm.remoteInfo(spec), transportFor: (spec: string) => farm.transportFor(spec) } : {}),
        cellFilter: (c) => (fam?.has(c.family) ?? true) && (bak?.has(c.backing) ?? true) && (mec?.has(c.mechanism) ?? true),
        onProgress: o.quiet ? undefined : (spec, done, total) => {
          const step = Math.max(1, Math.round(total / 10));
          if (done === total || done - (last.get(spec) ?? 0) >= step) { last.set(spec, done); process.stderr.write(`matrix: ${spec}: ${done}/${total} cases\n`); }
        },
      }).finally(() => farm?.close());
      for (const t of doc.targets) {
        if (t.refused !== undefined) warn(`${t.spec}: no verdict (did not start): ${t.refused}`);
        for (const w of t.warnings) warn(`${t.spec}: ${w}`);
      }
      await writeMatrixDir(out, doc, reproducers);
      if (!o.quiet) process.stdout.write(toMatrixMarkdown(doc) + '\n');
      process.stdout.write(`matrix written to ${join(out, MATRIX_FILES.json)} (${MATRIX_FILES.markdown}, ${MATRIX_FILES.html} next to it)\n`);
      const any = (s: string) => doc.cells.some((c) => c.results.some((r) => r.status === s));
      // a target that refused or failed to start, as for check/fuzz/gate (the others' columns are written)
      if (doc.targets.some((t) => t.refused !== undefined)) return 2;
      if (any('diverges')) return 1;
      // a cell whose cases could not run has no verdict: not "ok"
      return any('faulted') ? 3 : 0;
    }));
}
