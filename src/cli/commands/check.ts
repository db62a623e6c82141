// `ptefarm check`: the verdict of a target's (or a recorded) trace against the x86 model.
// Exit 0 match, 1 violations, 2 bad case, target error or executor fault, 4 SKIP (kselftest's
// KSFT_SKIP: the target did not run the case, or every bit the case asserts was masked).
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { checkTrace, type Verdict } from '../../check/check.ts';
import type { Case } from '../../ops/schema.ts';
import { caseSignature } from '../../findings/signature.ts';
import { caseTitle, describeViolations } from '../../findings/title.ts';
import { openCheckedTarget } from '../../targets/registry.ts';
import { guarded, InputError, warn, readCase, readTrace } from '../io.ts';
import { clip } from '../../ops/bounded.ts';

interface Opts { target?: string; trace?: string; traces?: string; json?: boolean; profile?: string }

/** Exit code of one verdict: violations 1, fault 2, SKIP 4, match 0. */
export function verdictExit(v: Verdict): 0 | 1 | 2 | 4 {
  return v.violations.length ? 1 : v.fault ? 2 : v.skipped ? 4 : 0;
}

/** "soft-dirty 0 compared, 8 masked; uffd-wp 24 compared" — the bit kinds counted, masked ones said. */
export function bitCountsLine(v: Verdict): string {
  return Object.entries(v.bits).sort(([a], [b]) => a.localeCompare(b))
    .map(([k, n]) => `${k} ${n.compared}${n.masked ? ` (+${n.masked} masked)` : ''}`).join(', ');
}

export function formatVerdict(v: Verdict, c?: Case): string {
  const lines: string[] = [];
  const masked = Object.entries(v.bits).filter(([, n]) => n.masked).map(([k, n]) => `${n.masked} ${k}`);
  if (v.violations.length) {
    const d = describeViolations(v.violations, c);
    lines.push(`FAIL: ${caseTitle(v.violations, c)}`);
    lines.push(`  signature ${caseSignature(v.violations)}`);
    lines.push(`  first divergence (${v.violations.length} violation(s) in ${v.compared} bits compared):`);
    for (const l of d.first) lines.push(`    ${l}`);
    if (d.consequences.length) {
      lines.push('  later (consequences of the first divergence, not separate findings):');
      for (const l of d.consequences) lines.push(`    ${l}`);
    }
    if (d.more > 0) lines.push(`    ... and ${d.more} more line(s)`);
  } else if (v.fault) lines.push(`FAULT (nothing is known about this case): executor fault (no verdict): ${clip(v.fault)}`);
  else if (v.skipped) lines.push(`SKIP: ${v.skipped}`);
  else lines.push(`ok: ${v.compared} bits compared, all match x86${masked.length ? `; masked (not compared): ${masked.join(', ')}` : ''}`);
  if (v.violations.length && v.fault) lines.push(`FAULT as well: ${clip(v.fault)}`);
  for (const a of v.assumed ?? []) lines.push(`  assumed: ${a}`);
  if (Object.keys(v.bits).length) lines.push(`  bits compared per kind: ${bitCountsLine(v)}`);
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
    .argument('[case]', 'case file (JSON, or the text form ptefarm fmt prints)')
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
      const extra = verdict.violations.length ? { signature: caseSignature(verdict.violations), title: caseTitle(verdict.violations, c) } : {};
      process.stdout.write((o.json ? JSON.stringify({ ...extra, ...verdict }) : formatVerdict(verdict, c)) + '\n');
      return verdictExit(verdict);
    }));
}

function checkDir(dir: string, o: Opts, opts: { profile?: string }): number {
  let names: string[];
  try { names = readdirSync(dir).filter((f) => f.endsWith('.case.json')).map((f) => f.slice(0, -'.case.json'.length)).sort(); }
  catch (e) { throw new InputError(`${dir}: cannot list: ${(e as Error).message}`); }
  let bad = 0, errors = 0, compared = 0, skipped = 0;
  for (const name of names) {
    try {
      const c = readCase(join(dir, `${name}.case.json`));
      const v = checkTrace(c, readTrace(join(dir, `${name}.trace.json`)), opts);
      compared += v.compared;
      const code = verdictExit(v);
      if (code === 1) bad++;
      else if (code === 2) errors++;
      else if (code === 4) skipped++;
      const status = code === 1 ? 'FAIL' : code === 2 ? 'FAULT' : code === 4 ? 'SKIP' : 'ok';
      const detail = code === 1 ? ` — ${caseTitle(v.violations, c)}: ${describeViolations(v.violations, c, 1).first[0]}`
        : code === 2 ? ` — ${clip(v.fault ?? '')}` : code === 4 ? ` — ${v.skipped}` : '';
      process.stdout.write((o.json
        ? JSON.stringify({ name, status: status.toLowerCase(), ok: v.ok, violations: v.violations, compared: v.compared, bits: v.bits, ...(v.skipped ? { skipped: v.skipped } : {}), ...(v.fault ? { fault: v.fault } : {}) })
        : `${status.padEnd(5)} ${name}: ${v.compared} bits compared, ${v.violations.length} violation(s)${detail}`) + '\n');
    } catch (e) {
      errors++;
      process.stdout.write((o.json ? JSON.stringify({ name, ok: false, error: (e as Error).message, violations: [], compared: 0 }) : `ERR  ${name}: ${(e as Error).message}`) + '\n');
    }
  }
  const summary = { pairs: names.length, diverged: bad, errors, skipped, compared };
  process.stdout.write((o.json ? JSON.stringify({ summary }) : `${names.length} pair(s): ${names.length - bad - errors - skipped} ok, ${bad} diverged, ${skipped} skipped, ${errors} unreadable or faulted; ${compared} bits compared`) + '\n');
  return bad ? 1 : errors ? 2 : 0;
}
