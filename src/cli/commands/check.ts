// `ptefarm check`: the verdict of a target's (or a recorded) trace against the x86 model.
// Exit 0 match, 1 violations, 2 bad case or target error.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { checkTrace, type Verdict } from '../../check/check.ts';
import { openCheckedTarget } from '../../targets/registry.ts';
import { guarded, InputError, warn, readCase, readTrace } from '../io.ts';
import { clip } from '../../ops/bounded.ts';

interface Opts { target?: string; trace?: string; traces?: string; json?: boolean; profile?: string }

export function formatVerdict(v: Verdict): string {
  if (v.skipped) return `skipped: ${v.skipped}`;
  const lines: string[] = [];
  // a faulted run is never "ok": it says what it compared before the fault, and nothing more
  if (v.fault !== undefined) lines.push(`executor fault (no verdict): ${clip(v.fault)}`);
  for (const a of v.assumed ?? []) lines.push(`assumed: ${a}`);
  if (v.violations.length === 0) lines.push(v.fault !== undefined ? `${v.compared} bits compared before the fault, none differ` : `ok: ${v.compared} bits compared, all match x86`);
  else {
    lines.push(`${v.violations.length} violation(s) in ${v.compared} bits compared:`);
    for (const x of v.violations.slice(0, 50)) lines.push(`  ${x.message}`);
    if (v.violations.length > 50) lines.push(`  ... and ${v.violations.length - 50} more`);
  }
  return lines.join('\n');
}

export function register(program: Command) {
  program.command('check')
    .description('check a case on a target, or a recorded trace, against the x86 reference model')
    .option('-t, --target <spec>', 'run the case on this target and check its trace')
    .option('--trace <file>', 'check a trace recorded elsewhere instead of running a target')
    .option('--traces <dir>', 'check every NAME.case.json with its NAME.trace.json in DIR')
    .option('--profile <name>', 'kernel profile of the model (default 6.18)')
    .option('--json', 'JSON output')
    .argument('[case]', 'case file')
    .action((file: string | undefined, o: Opts) => guarded(async () => {
      const opts = { profile: o.profile };
      if (o.traces) return checkDir(o.traces, o, opts);
      if (!file) throw new InputError('a case file is needed (or --traces DIR)');
      const c = readCase(file);
      let verdict: Verdict;
      if (o.trace) verdict = checkTrace(c, readTrace(o.trace), opts);
      else {
        if (!o.target) throw new InputError('give --target T or --trace FILE');
        const t = await openCheckedTarget(o.target, warn);
        try { verdict = checkTrace(c, await t.execute(c), opts); } finally { await t.close(); }
      }
      process.stdout.write((o.json ? JSON.stringify(verdict) : formatVerdict(verdict)) + '\n');
      if (verdict.fault !== undefined && verdict.violations.length === 0) return 2;
      return verdict.violations.length ? 1 : 0;
    }));
}

function checkDir(dir: string, o: Opts, opts: { profile?: string }): number {
  let names: string[];
  try { names = readdirSync(dir).filter((f) => f.endsWith('.case.json')).map((f) => f.slice(0, -'.case.json'.length)).sort(); }
  catch (e) { throw new InputError(`${dir}: cannot list: ${(e as Error).message}`); }
  let bad = 0, errors = 0, faults = 0, compared = 0;
  for (const name of names) {
    try {
      const v = checkTrace(readCase(join(dir, `${name}.case.json`)), readTrace(join(dir, `${name}.trace.json`)), opts);
      compared += v.compared;
      // a faulted trace is no verdict: neither ok nor a violation (unless it diverged before the fault)
      const faulted = v.fault !== undefined && v.violations.length === 0;
      if (faulted) faults++;
      else if (!v.ok) bad++;
      process.stdout.write((o.json
        ? JSON.stringify({ name, ok: v.ok, violations: v.violations, compared: v.compared, ...(v.fault !== undefined ? { fault: v.fault } : {}) })
        : `${faulted ? 'FLT ' : v.ok ? 'ok  ' : 'FAIL'} ${name}: ${v.compared} bits compared, ${v.violations.length} violation(s)${v.violations[0] ? ` — ${v.violations[0].message}` : faulted ? ` — executor fault: ${clip(v.fault!)}` : ''}`) + '\n');
    } catch (e) {
      errors++;
      process.stdout.write((o.json ? JSON.stringify({ name, ok: false, error: (e as Error).message, violations: [], compared: 0 }) : `ERR  ${name}: ${(e as Error).message}`) + '\n');
    }
  }
  const summary = { pairs: names.length, diverged: bad, errors, faults, compared };
  process.stdout.write((o.json ? JSON.stringify({ summary }) : `${names.length} pair(s): ${names.length - bad - errors - faults} ok, ${bad} diverged, ${errors} unreadable, ${faults} faulted; ${compared} bits compared`) + '\n');
  return bad ? 1 : errors || faults ? 2 : 0;
}
