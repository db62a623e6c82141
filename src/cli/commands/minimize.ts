// `ptefarm minimize --target T CASE`: minimize one failing case to a 1-minimal reproducer and print
// it (JSON on stdout). Exit 1 when the case fails (the printed case is the reproducer), 0 when it
// passes on the target (nothing to minimize; the case is printed unchanged), 2 on bad input.
// The reproducer is also recorded as a finding in the work directory (not with --no-save).
import type { Command } from 'commander';
import { referenceChecker } from '../../campaign/checker.ts';
import { InProcessTransport } from '../../campaign/inprocess.ts';
import { isModelTarget } from '../../campaign/campaign.ts';
import { minimize } from '../../campaign/minimize.ts';
import type { Case } from '../../ops/schema.ts';
import { openCheckedTarget } from '../../targets/registry.ts';
import { geometryOfHost, type TargetInfo } from '../../ops/trace.ts';
import { DEFAULT_TIMEOUT, parseCount, parseDuration, resolveWorkdir } from '../../campaign/config.ts';
import { recordFinding } from '../../campaign/findings.ts';
import { guarded, InputError, readCase, warn } from '../io.ts';
import { addWorkdirOption, TIMEOUT_HELP } from '../options.ts';
import { caseSignature } from '../../findings/signature.ts';

interface Opts { target: string; runs?: string; timeout?: string; profile?: string; maxRuns: string; workdir?: string; save: boolean }

export function register(program: Command) {
  const cmd = program.command('minimize')
    .description('minimize a failing case to a 1-minimal reproducer on a target and print it')
    .requiredOption('-t, --target <spec>', 'target: model:x86[+MUTANT], live, exec:CMD')
    .option('--runs <n>', 're-runs of the result to measure reliability (default 5, 0 on model targets)')
    .option('--timeout <time>', TIMEOUT_HELP)
    .option('--max-runs <n>', 'cap on executions while minimizing', '5000')
    .option('--profile <name>', 'kernel profile of the reference model')
    .option('--no-save', 'do not record the reproducer in the work directory')
    .argument('<case>', 'case file (JSON, or the text form ptefarm fmt prints)');
  addWorkdirOption(cmd)
    .action((file: string, o: Opts) => guarded(async () => {
      const c = readCase(file);
      try { await (await openCheckedTarget(o.target, warn)).close(); } catch (e) { throw new InputError((e as Error).message); }
      const checker = await referenceChecker({ profile: o.profile });
      const transport = new InProcessTransport();
      const timeoutMs = parseDuration(o.timeout ?? DEFAULT_TIMEOUT, 'timeout');
      const maxRuns = parseCount('max-runs', o.maxRuns, 1)!;
      const workdir = resolveWorkdir(o.workdir);
      let seq = 0;
      let info: TargetInfo | undefined;
      const test = async (x: Case) => {
        const r = await transport.run({ id: `min-${seq++}`, target: o.target, case: x }, { timeoutMs });
        if (r.fault || !r.trace || r.trace.fault) return undefined;
        info ??= r.trace.target;
        const out = checker.check(x, r.trace);
        if (out.fault || out.skipped) return undefined;
        // the case's own signature: its first divergence (the same function the campaign buckets by)
        const sig = caseSignature(out.violations, (v) => checker.signature(v));
        return sig ? [sig] : [];
      };
      try {
        const first = await test(c);
        if (!first || first.length === 0) {
          process.stderr.write(first ? 'the case passes on this target: nothing to minimize\n' : 'the case could not be run (fault)\n');
          process.stdout.write(JSON.stringify(c, null, 2) + '\n');
          return first ? 0 : 2;
        }
        const m = await minimize(c, { test, target: first, maxRuns });
        const runs = parseCount('runs', o.runs, 0) ?? (isModelTarget(o.target) ? 0 : 5);
        let reliability = '';
        let ok = 0;
        if (runs > 0) {
          for (let i = 0; i < runs; i++) { const s = await test(m.case); if (s && s.some((x) => m.signatures.includes(x))) ok++; }
          reliability = `, reproduced ${ok}/${runs}`;
        }
        if (o.save) {
          for (const sig of m.signatures) {
            const r = await recordFinding(workdir, {
              target: o.target, signature: sig, case: m.case, hits: 1, minimized: true, source: 'minimize', info, geometry: geometryOfHost(info?.host),
              ...(runs > 0 ? { reliability: `${ok}/${runs}` } : {}),
            });
            process.stderr.write(`finding ${r.reason === 'kept-existing' ? 'already recorded with a case as small' : 'recorded'}: ${r.caseFile}\n`);
          }
        }
        process.stderr.write(`minimized ${c.ops.length} -> ${m.case.ops.length} op(s) in ${m.runs} run(s)${m.oneMinimal ? ' (1-minimal)' : ''}${reliability}\n  ${m.signatures.join('\n  ')}\n`);
        const name = `minimized: ${m.signatures[0] ?? ''}${reliability}`.slice(0, 200);
        process.stdout.write(JSON.stringify({ ...m.case, name }, null, 2) + '\n');
        return 1;
      } finally { await transport.close(); }
    }));
}
