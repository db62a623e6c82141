// `ptefarm corpus list` shows the findings recorded in the work directory; `ptefarm corpus add
// FINDING [--as regression|finding]` promotes one into the tracked corpus (corpus/regressions/ or
// corpus/findings/) — the only command that writes corpus/. The promoted file is a plain
// ptefarm-case/1 whose name carries the finding's title and provenance. It never removes a tracked
// reproducer by default: a different case of the same signature (two model gaps can share one) goes
// beside it; with --replace it replaces a larger one. A finding of another page geometry than 4 KiB pages keeps it in
// the promoted case's sidecar (src/campaign/corpus.ts). Exit 0 done, 2 bad input (unknown or broken finding).
import type { Command } from 'commander';
import { Option } from 'commander';
import { FINDINGS_CORPUS_DIR, REGRESSIONS_DIR, saveReproducer } from '../../campaign/corpus.ts';
import { resolveWorkdir } from '../../campaign/config.ts';
import { listFindings, loadFinding, locateFinding, type Finding } from '../../campaign/findings.ts';
import { guarded, InputError } from '../io.ts';
import { addWorkdirOption } from '../options.ts';

/** The promoted case's name: the title first, then where, when and by what it was found. */
export function promotedName(f: Finding, as: 'regression' | 'finding'): string {
  const where = [f.arch, f.kernel].filter(Boolean).join(' ');
  const token = f.seed !== undefined ? `, seed ${f.seed}${f.case_index !== undefined ? ` case ${f.case_index}` : ''}` : '';
  const s = `${as === 'finding' ? 'FINDING' : 'regression'}: ${f.title} [found on ${f.target}${where ? ` (${where})` : ''}${token}` +
    ` by ptefarm ${f.tool_version} ${f.source}; ${f.hits} hit(s), ${f.first_seen} .. ${f.last_seen}]`;
  return s.length <= 4000 ? s : s.slice(0, 3997) + '...';
}

export function register(program: Command) {
  const corpus = program.command('corpus')
    .description('list the findings of the work directory; promote one into the tracked corpus');

  addWorkdirOption(corpus.command('list')
    .description('list the findings recorded in the work directory (most recently seen first)')
    .option('--json', 'one JSON array of the findings'))
    .action((o: { workdir?: string; json?: boolean }) => guarded(async () => {
      const workdir = resolveWorkdir(o.workdir);
      const all = await listFindings(workdir);
      const broken = all.filter((f) => f.error);
      if (o.json) process.stdout.write(JSON.stringify(all.map((f) => f.finding ? { ...f.finding, dir: f.dir } : { dir: f.dir, error: f.error })) + '\n');
      else {
        if (!all.length) process.stdout.write(`no findings in ${workdir}\n`);
        for (const { finding: f, dir, error } of all) {
          if (!f) continue;
          process.stdout.write(`${f.title}\n    ${f.hits} hit(s) on ${f.target}${f.kernel ? ` (${f.arch} ${f.kernel})` : ''}, ${f.ops} op(s)${f.minimized ? ' minimized' : ''}, first ${f.first_seen}, last ${f.last_seen}\n    id ${f.id}: ${dir}${error ? `\n    ERROR ${error}` : ''}\n`);
        }
        for (const b of broken.filter((x) => !x.finding)) process.stdout.write(`ERROR ${b.dir}: ${b.error}\n`);
      }
      return broken.length ? 2 : 0;
    }));

  addWorkdirOption(corpus.command('add')
    .description('promote a finding into corpus/regressions/ (or corpus/findings/ with --as finding)')
    .argument('<finding>', 'a finding directory, its case.json, or an id shown by `ptefarm corpus list`')
    .addOption(new Option('--as <kind>', 'regression: a reproducer the model must keep passing; finding: the kernel is wrong').choices(['regression', 'finding']).default('regression'))
    .option('--into <dir>', `destination directory (default ${REGRESSIONS_DIR}, or ${FINDINGS_CORPUS_DIR} with --as finding)`)
    .option('--replace', 'replace the reproducer of the same signature when this one is smaller (default: a different case of the signature is added beside it, as it may be another gap)'))
    .action((ref: string, o: { as: 'regression' | 'finding'; into?: string; replace?: boolean; workdir?: string }) => guarded(async () => {
      const workdir = resolveWorkdir(o.workdir);
      let dir: string;
      try { dir = await locateFinding(ref, workdir); } catch (e) { throw new InputError((e as Error).message); }
      const f = await loadFinding(dir);
      if (!f.finding || !f.case) throw new InputError(f.error ?? `${dir}: not a finding`);
      const into = o.into ?? (o.as === 'finding' ? FINDINGS_CORPUS_DIR : REGRESSIONS_DIR);
      const r = await saveReproducer(into, f.finding.signature, f.case, undefined, promotedName(f.finding, o.as), f.geometry, { keepOthers: !o.replace });
      process.stdout.write(
        r.reason === 'beside' ? `added ${r.path} (${f.case.ops.length} op(s)) beside ${r.beside}, another case of ${f.finding.signature} (--replace keeps only the smaller)\n`
        : r.reason === 'smaller' ? `replaced ${r.path} by this smaller reproducer of ${f.finding.signature} (${f.case.ops.length} op(s))\n`
        : r.written ? `added ${r.path} (${f.case.ops.length} op(s))\n`
        : o.replace ? `kept ${r.path}: it already holds a reproducer of ${f.finding.signature} at least as small\n`
        : `kept ${r.path}: it already holds this case\n`);
      return 0;
    }));
}
