// `ptefarm replay [DIR...] --target T`: re-check a corpus (default corpus/seeds and
// corpus/regressions) on a target. Exit 1 when any case shows violations, 2 when a file is
// unreadable or the target fails (and nothing violated), 0 otherwise. --findings replays the work
// directory's findings instead (or as well, with dirs). Replay writes nothing. A case written for
// another page geometry than the target's (a corpus sidecar, a finding's page_size) is skipped.
// A finding is checked for at least the bits of its signature (signatureBitKinds): a case that
// clears soft-dirty but diverged on the exclusive bit is compared on a kernel without soft-dirty,
// and said reproduced or not; it is a SKIP only where its signature's own bits are masked. A
// finding stored under an older signature scheme is compared as today's scheme names it
// (currentSignature), and the output says it was re-keyed; where today's key differs and the
// finding was recorded under an older scheme (its signature_version), the output says that scheme
// may key the same root differently, rather than only "not the finding's".
import type { Command } from 'commander';
import { checkTrace } from '../../check/check.ts';
import { caseSignature, currentSignature, SIGNATURE_VERSION, signatureBitKinds } from '../../findings/signature.ts';
import { caseTitle, describeViolations } from '../../findings/title.ts';
import { DEFAULT_CORPUS_DIRS, loadCorpus, type CorpusEntry } from '../../campaign/corpus.ts';
import { resolveWorkdir } from '../../campaign/config.ts';
import { FINDING_CASE_FILE, listFindings } from '../../campaign/findings.ts';
import { join } from 'node:path';
import { addWorkdirOption } from '../options.ts';
import { openCheckedTarget } from '../../targets/registry.ts';
import { guarded, InputError, warn } from '../io.ts';
import { geometryOfHost } from '../../ops/trace.ts';
import { GEOMETRY_4K, describeGeometry } from '../../ops/layout.ts';

interface Opts { target: string; json?: boolean; profile?: string; findings?: boolean; workdir?: string }

export function register(program: Command) {
  const cmd = program.command('replay')
    .description('re-check every case of a corpus on a target (default dirs: corpus/seeds corpus/regressions), or the work directory\'s findings')
    .requiredOption('-t, --target <spec>', 'target: model:x86[+MUTANT], live, exec:CMD')
    .option('--profile <name>', 'kernel profile of the reference model')
    .option('--json', 'one JSON object per case, then a summary object')
    .option('--findings', 'replay the findings recorded in the work directory (plus any dirs given)')
    .argument('[dirs...]', 'corpus directories (or case files)');
  addWorkdirOption(cmd)
    .action((dirs: string[], o: Opts) => guarded(async () => {
      const entries: (CorpusEntry & { signature?: string; scheme?: number })[] = await loadCorpus(dirs.length || o.findings ? dirs : DEFAULT_CORPUS_DIRS);
      if (o.findings) {
        for (const f of await listFindings(resolveWorkdir(o.workdir))) {
          entries.push({
            path: join(f.dir, FINDING_CASE_FILE), case: f.case, error: f.error, ...(f.geometry && f.geometry !== GEOMETRY_4K ? { geometry: f.geometry } : {}),
            ...(f.finding?.signature ? { signature: f.finding.signature, scheme: f.finding.signature_version ?? 1 } : {}),
          });
        }
      }
      let target;
      try { target = await openCheckedTarget(o.target, warn); } catch (e) { throw new InputError((e as Error).message); }
      // a case counts the pages of the geometry it was written for (docs/page-size.md): on a target of
      // another geometry it is skipped with the reason, never run with its pages meaning other sizes
      const targetGeometry = geometryOfHost((await target.info()).host);
      let failed = 0, errors = 0, ok = 0, skipped = 0;
      const say = (x: Record<string, unknown>, text: string) => process.stdout.write((o.json ? JSON.stringify(x) : text) + '\n');
      try {
        for (const e of entries) {
          if (!e.case) { errors++; say({ path: e.path, status: 'error', error: e.error }, `ERROR ${e.path}: ${e.error}`); continue; }
          const g = e.geometry ?? GEOMETRY_4K;
          if (g.pageSize !== targetGeometry.pageSize || g.pmdPages !== targetGeometry.pmdPages) {
            skipped++;
            const reason = `written for ${describeGeometry(g)}; ${o.target} has ${describeGeometry(targetGeometry)}`;
            say({ path: e.path, status: 'skipped', reason }, `SKIP  ${e.path}: ${reason}`);
            continue;
          }
          let v;
          const want = e.signature === undefined ? undefined : currentSignature(e.signature);
          const rekeyed = want !== undefined && want !== e.signature ? `; stored as ${e.signature} under an older signature scheme` : '';
          const asserts = want ? signatureBitKinds(want) : undefined;
          try { v = checkTrace(e.case, await target.execute(e.case), { profile: o.profile, asserts }); } catch (err) {
            errors++; say({ path: e.path, status: 'fault', error: (err as Error).message }, `FAULT ${e.path}: ${(err as Error).message}`); continue;
          }
          if (v.violations.length) {
            failed++;
            const sig = caseSignature(v.violations)!;
            const title = caseTitle(v.violations, e.case)!;
            const first = describeViolations(v.violations, e.case, 1).first[0];
            const reproduced = want === undefined ? {} : { finding_signature: want, reproduced: sig === want, ...(rekeyed ? { stored_signature: e.signature } : {}) };
            // recorded under an older scheme, a different key today may be the same root re-keyed
            // (scheme 3 names a file PMD split where scheme 2 named the op whose fault made it):
            // say so, never that it reproduced
            const older = want !== undefined && sig !== want && e.scheme !== undefined && e.scheme < SIGNATURE_VERSION;
            const schemeNote = older ? `; recorded under signature scheme ${e.scheme}, today's ${SIGNATURE_VERSION} may key the same root differently` : '';
            const said = want === undefined ? '' : sig === want ? ` (reproduced${rekeyed})` : ` (not the finding's ${want}${rekeyed}${schemeNote})`;
            say({ path: e.path, status: 'fail', violations: v.violations.length, signature: sig, title, first, ...reproduced,
              ...(older ? { finding_scheme: e.scheme, scheme: SIGNATURE_VERSION } : {}) },
              `FAIL  ${e.path}: ${title}\n      ${sig}${said}\n      ${first}`);
          } else if (v.fault) { errors++; say({ path: e.path, status: 'fault', error: v.fault }, `FAULT ${e.path}: ${v.fault}`); }
          else if (v.skipped) { skipped++; say({ path: e.path, status: 'skipped', reason: v.skipped }, `SKIP  ${e.path}: ${v.skipped}`); }
          else {
            ok++;
            const reproduced = want === undefined ? {} : { finding_signature: want, reproduced: false, ...(rekeyed ? { stored_signature: e.signature } : {}) };
            say({ path: e.path, status: 'ok', compared: v.compared, bits: v.bits, ...reproduced },
              `ok    ${e.path}${want === undefined ? '' : ` (not reproduced: ${want}${rekeyed}; ${v.compared} bit(s) compared)`}`);
          }
        }
      } finally { await target.close(); }
      say({ summary: true, target: o.target, cases: entries.length, ok, failed, errors, skipped },
        `${o.target}: ${entries.length} case(s): ${ok} ok, ${failed} failed, ${errors} error(s), ${skipped} skipped`);
      return failed ? 1 : errors ? 2 : 0;
    }));
}
