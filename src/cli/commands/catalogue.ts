// `ptefarm rules` and `ptefarm mutants`: the model's rule catalogue and its mutants.
import type { Command } from 'commander';
import { ALL_RULES } from '../../model/catalogue.ts';
import { MUTANTS } from '../../model/mutants.ts';
import { PROFILES } from '../../model/profile.ts';

export function register(program: Command) {
  program.command('rules')
    .description('print the rule catalogue of the x86 reference model')
    .option('--json', 'JSON output')
    .action((o: { json?: boolean }) => {
      if (o.json) { process.stdout.write(JSON.stringify({ rules: ALL_RULES, profiles: PROFILES }) + '\n'); return; }
      for (const r of ALL_RULES) process.stdout.write(`${r.id.padEnd(18)} ${r.text}\n${' '.repeat(19)}[${r.source}]\n`);
      process.stdout.write(`\n${ALL_RULES.length} rules. Kernel profiles: ${Object.keys(PROFILES).join(', ')}\n`);
    });
  program.command('mutants')
    .description('list the mutants: the reference with one rule changed (use as --target model:x86+ID)')
    .option('--json', 'JSON output')
    .action((o: { json?: boolean }) => {
      if (o.json) { process.stdout.write(JSON.stringify(MUTANTS) + '\n'); return; }
      for (const m of MUTANTS) process.stdout.write(`${m.id.padEnd(5)} ${m.rule.padEnd(11)} ${m.text}\n`);
    });
}
