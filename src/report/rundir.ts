// A run directory: gate.json (the GateRun, src/report/run.ts), cases/ (every bucket's case),
// traces/ (a re-run trace of every bucket), cases.jsonl (every fresh case, in generation order)
// and the reports (junit.xml, ktap.txt, summary.md, report.html). The gate and `fuzz --out`
// (src/gate/) save the run; the reports are rendered from the stored directory alone, reading
// nothing outside it. `ptefarm report RUN_DIR` regenerates them.
import { mkdir, readFile, realpath, writeFile } from 'node:fs/promises';
import { writeFileAtomic } from '../ops/atomic-write.ts';
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import type { Case } from '../ops/schema.ts';
import type { Trace } from '../ops/trace.ts';
import { GATE_FORMAT, type GateRun } from './run.ts';
import { toJUnit } from './junit.ts';
import { toKtap } from './ktap.ts';
import { toMarkdown } from './markdown.ts';
import { toHtml, type BucketDetail } from './html.ts';
import { stepTable } from './steps.ts';
import { parseCase } from '../ops/validate.ts';
import { traceSchema } from '../ops/trace.ts';
import { clip, show } from '../ops/bounded.ts';

export const RUN_FILE = 'gate.json';
export const REPORT_FILES = { junit: 'junit.xml', ktap: 'ktap.txt', markdown: 'summary.md', html: 'report.html' } as const;
export type ReportKind = keyof typeof REPORT_FILES;

export class RunDirError extends Error {}

export async function saveRun(dir: string, run: GateRun): Promise<void> {
  await mkdir(dir, { recursive: true });
  await writeFileAtomic(join(dir, RUN_FILE), JSON.stringify(run, null, 2) + '\n');
}

export async function loadRun(dir: string): Promise<GateRun> {
  const p = join(dir, RUN_FILE);
  let text: string;
  try { text = await readFile(p, 'utf8'); } catch (e) {
    throw new RunDirError(`${dir}: not a run directory (${RUN_FILE}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  let run: GateRun;
  try { run = JSON.parse(text) as GateRun; } catch (e) { throw new RunDirError(`${p}: not valid JSON: ${(e as Error).message}`); }
  if (run.format !== GATE_FORMAT) throw new RunDirError(`${p}: format is ${JSON.stringify(run.format)}, expected ${GATE_FORMAT}`);
  return run;
}

const inside = (root: string, p: string) => { const r = relative(root, p); return r !== '' && !r.startsWith(`..${sep}`) && r !== '..' && !isAbsolute(r); };

/** Read file `rel` of run directory `dir`, which must stay inside it: a relative path that neither
 *  climbs out (`..`) nor leads out through a symlink (checked on the real path). gate.json is
 *  input like any other: a path it names is never read outside the run directory. */
export async function readRunFile(dir: string, rel: unknown): Promise<string> {
  if (typeof rel !== 'string' || rel === '' || rel.includes('\0') || isAbsolute(rel)) throw new RunDirError(`${show(rel, 80)}: not a relative path inside the run directory`);
  const root = await realpath(dir);
  const p = resolve(root, rel);
  if (!inside(root, p)) throw new RunDirError(`${clip(rel, 80)}: outside the run directory`);
  let real: string;
  try { real = await realpath(p); } catch (e) { throw new RunDirError(`${clip(rel, 80)}: ${(e as NodeJS.ErrnoException).code ?? 'unreadable'}`); }
  if (!inside(root, real)) throw new RunDirError(`${clip(rel, 80)}: leads outside the run directory (symlink)`);
  return readFile(real, 'utf8');
}

async function readRunJson(dir: string, rel: unknown): Promise<unknown> {
  const text = await readRunFile(dir, rel);
  // the message only: JSON.parse's own quotes the text it choked on
  try { return JSON.parse(text); } catch { throw new RunDirError(`${clip(String(rel), 80)}: not valid JSON`); }
}

/** Step tables of every bucket whose case and trace are stored (validated like any input). */
export async function bucketDetails(dir: string, run: GateRun): Promise<BucketDetail[]> {
  const out: BucketDetail[] = [];
  for (const b of run.buckets) {
    try {
      const c: Case = parseCase(await readRunJson(dir, b.case_file), undefined, clip(b.case_file, 80));
      let trace: Trace | undefined;
      if (b.trace_file !== undefined) {
        const r = traceSchema.safeParse(await readRunJson(dir, b.trace_file));
        if (!r.success) throw new RunDirError(`${clip(b.trace_file, 80)}: invalid trace: ${clip(r.error.issues[0].message)}`);
        trace = r.data as Trace;
      }
      out.push({ signature: b.signature, case: c, rows: trace ? stepTable(c, trace, { profile: run.profile }) : [] });
    } catch (e) {
      out.push({ signature: b.signature, rows: [], error: clip((e as Error).message, 400) });
    }
  }
  return out;
}

/** The four reports of the run stored in `dir`: a pure function of what the directory holds
 *  (gate.json, and the cases and traces it names, read through readRunFile), so `ptefarm report
 *  DIR` later gives exactly what the gate wrote. */
export async function renderReports(dir: string): Promise<Record<ReportKind, string>> {
  const run = await loadRun(dir);
  const details = await bucketDetails(dir, run);
  return { junit: toJUnit(run), ktap: toKtap(run), markdown: toMarkdown(run), html: toHtml(run, details) };
}

/** Write the reports of the run stored in `dir`: into it, and to any extra paths given. */
export async function writeReports(dir: string, extra: Partial<Record<ReportKind, string>> = {}): Promise<Record<ReportKind, string[]>> {
  const texts = await renderReports(dir);
  const written = { junit: [], ktap: [], markdown: [], html: [] } as Record<ReportKind, string[]>;
  for (const k of Object.keys(texts) as ReportKind[]) {
    // in the run directory atomically (a symlink planted at a report's name is replaced, not
    // written through); an extra path is the user's own choice (it may be /dev/stdout)
    const own = join(dir, REPORT_FILES[k]);
    await writeFileAtomic(own, texts[k]);
    written[k].push(own);
    if (extra[k]) {
      await mkdir(dirname(extra[k]!), { recursive: true });
      await writeFile(extra[k]!, texts[k]);
      written[k].push(extra[k]!);
    }
  }
  return written;
}
