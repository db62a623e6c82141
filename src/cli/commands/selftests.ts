// `ptefarm selftests fetch`: build the kernel's own mm selftests from Debian's linux-source (no root;
// src/selftests/build.ts). `ptefarm selftests [--target live|qemu:<image>]...`: run them there,
// beside ptefarm's own gate verdict for the same kernel, and say when a selftest fails where ptefarm
// passes (a finding about ptefarm). Exit 0 no such finding, 1 a finding about ptefarm, 2 an error.
import type { Command } from 'commander';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { guarded, InputError, snakeKeys } from '../io.ts';
import { normArch } from '../../targets/qemu/images.ts';
import { parseCount, resolveWorkdir, runsDir } from '../../campaign/config.ts';
import { DEFAULT_SOURCE, fetchSelftests, readBuild } from '../../selftests/build.ts';
import { SELFTESTS } from '../../selftests/catalogue.ts';
import { formatReport, reportJson, runOracle, type TargetReport } from '../../selftests/oracle.ts';
import { stamp } from './gate.ts';

interface RunOpts { target: string[]; source: string; only?: string; gateCases: string; gateCorpus?: string[]; gate?: string; verdict: boolean; json?: string; out?: string; workdir?: string; quiet?: boolean }

export function register(program: Command): void {
  const st = program.command('selftests')
    .description('the kernel\'s own mm selftests (soft-dirty, pagemap_ioctl, uffd-unit-tests wp, madv_populate, guard-regions) as an independent oracle beside ptefarm\'s verdict');

  st.command('fetch')
    .description('build the selftests statically from Debian\'s linux-source (no root; apt-get download when the package is not installed); cached in ~/.cache/ptefarm/selftests')
    .option('--source <package>', 'Debian linux-source package', DEFAULT_SOURCE)
    .option('--arch <list>', 'architectures (amd64, arm64: cross-compiled when aarch64-linux-gnu-gcc is there)', 'amd64,arm64')
    .action((o: { source: string; arch: string }) => guarded(async () => {
      const arches = o.arch.split(',').filter(Boolean).map((a) => { try { return normArch(a); } catch (e) { throw new InputError((e as Error).message); } });
      const b = await fetchSelftests(o.source, arches);
      process.stdout.write(`${b.manifest.package} ${b.manifest.version}: ${b.dir}\n`);
      for (const [arch, tests] of Object.entries(b.manifest.arches)) {
        for (const [name, e] of Object.entries(tests)) process.stdout.write(`  ${arch.padEnd(6)} ${name.padEnd(16)} ${e.state}${e.why ? ` (${e.why})` : ''}\n`);
      }
      return 0;
    }));

  st.command('run', { isDefault: true })
    .description('run the selftests on each target and compare with ptefarm\'s gate on the same kernel')
    .option('-t, --target <spec...>', 'live and/or qemu:<image>', ['live'])
    .option('--source <package>', 'Debian linux-source package the selftests were built from', DEFAULT_SOURCE)
    .option('--only <names>', `comma list of selftests (${SELFTESTS.map((s) => s.name).join(', ')})`)
    .option('--gate-cases <n>', 'fresh cases of the ptefarm gate giving its verdict', '200')
    .option('--gate-corpus <path...>', 'corpus directories or files the gate replays (default: the gate\'s)')
    .option('--gate <dir>', 'use this gate run directory as ptefarm\'s verdict (one target only)')
    .option('--no-verdict', 'only run the selftests: no ptefarm gate, no comparison')
    .option('--json <file>', 'also write the reports as JSON')
    .option('--out <dir>', 'where the gate runs go (default <workdir>/runs/selftests-<time>)')
    .option('--workdir <dir>', 'work directory (default ./ptefarm-work)')
    .option('-q, --quiet', 'no progress lines on stderr')
    .action((o: RunOpts) => guarded(async () => {
      const names = o.only?.split(',').filter(Boolean);
      for (const n of names ?? []) if (!SELFTESTS.some((s) => s.name === n)) throw new InputError(`selftests: unknown selftest "${n}" (${SELFTESTS.map((s) => s.name).join(', ')})`);
      const tests = names ? SELFTESTS.filter((s) => names.includes(s.name)) : SELFTESTS;
      if (o.gate && o.target.length !== 1) throw new InputError('selftests: --gate DIR names the verdict of one target; give one --target');
      const gateCases = parseCount('gate-cases', o.gateCases, 0)!;
      const b = readBuild(o.source);
      // the gate creates its run directory under this one; nothing is written when there is no gate
      const outDir = o.out ?? join(runsDir(resolveWorkdir(o.workdir)), `selftests-${stamp()}`);
      const log = o.quiet ? () => undefined : (l: string) => process.stderr.write(l + '\n');
      const reports: TargetReport[] = [];
      let failed = false;
      for (const target of o.target) {
        try {
          const r = await runOracle(b, target, { tests, outDir, log, ...(o.verdict === false ? {} : o.gate ? { gateDir: o.gate } : { gateCases, gateCorpus: o.gateCorpus }) });
          reports.push(r);
          process.stdout.write(formatReport(r) + '\n');
        } catch (e) {
          failed = true;
          process.stderr.write(`ptefarm: selftests on ${target}: ${(e as Error).message}\n`);
        }
      }
      if (o.json) writeFileSync(o.json, JSON.stringify(snakeKeys(reports.map(reportJson)), null, 2) + '\n');
      if (reports.some((r) => r.comparison?.findings.some((f) => f.kind === 'ptefarm-missed'))) return 1;
      return failed ? 2 : 0;
    }));
}
