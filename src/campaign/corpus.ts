// The on-disk corpus: minimized reproducers in corpus/regressions/<signature-slug>.json, written
// atomically (temporary file + rename in the same directory) and never replacing a smaller one.
// Each file is a valid ptefarm-case/1 whose `name` describes the bucket. Only `ptefarm corpus add`
// writes into corpus/ (campaigns store their findings in the work directory, src/campaign/findings.ts);
// `serialized` is the per-file lock used by both; files are written by src/ops/atomic-write.ts.
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Case } from '../ops/schema.ts';
import { parseCase, validateCase } from '../ops/validate.ts';
import { smaller } from './dedup.ts';
import { writeFileAtomic } from '../ops/atomic-write.ts';

export const DEFAULT_CORPUS_DIRS = ['corpus/seeds', 'corpus/regressions'];
export const REGRESSIONS_DIR = 'corpus/regressions';
export const FINDINGS_CORPUS_DIR = 'corpus/findings';

/** A file-name-safe slug of a signature, unique per signature (a short hash is appended). */
export function signatureSlug(sig: string): string {
  const base = sig.toLowerCase().replace(/[^a-z0-9._-]+/g, '-').replace(/-+/g, '-').replace(/^-|-$/g, '').slice(0, 80);
  const h = createHash('sha1').update(sig).digest('hex').slice(0, 8);
  return `${base || 'sig'}-${h}`;
}

export function bucketName(sig: string, extra?: string): string {
  const s = `regression: ${sig}${extra ? ` (${extra})` : ''}`;
  return s.length <= 200 ? s : s.slice(0, 197) + '...';
}

export type SaveResult = { path: string; written: boolean; reason: 'new' | 'smaller' | 'kept-existing' };

/** The valid case stored at `path`, or undefined when it is missing, unreadable or invalid. */
export async function readValidCase(path: string): Promise<Case | undefined> {
  try {
    const raw = JSON.parse(await readFile(path, 'utf8')) as unknown;
    return validateCase(raw).length === 0 ? (raw as Case) : undefined;
  } catch {
    return undefined;
  }
}


const locks = new Map<string, Promise<void>>();

/**
 * Run `fn` after every earlier `serialized(key, ...)` of this process has finished: read-compare-write
 * sequences on one file must not interleave. Across processes the atomic rename keeps each file whole;
 * a concurrent read-modify-write from another process can still lose an update.
 */
export function serialized<T>(key: string, fn: () => Promise<T>): Promise<T> {
  const prev = locks.get(key) ?? Promise.resolve();
  const mine = prev.then(fn);
  const tail = mine.then(() => undefined, () => undefined);
  locks.set(key, tail);
  void tail.then(() => { if (locks.get(key) === tail) locks.delete(key); });
  return mine;
}

/**
 * Save `c` as the reproducer of bucket `sig` in `dir`. Keeps an existing file when its case is
 * not larger (ops, then pages, then JSON length); an unreadable/invalid existing file is replaced.
 * The case is named `name`, or `regression: SIG (EXTRA)` without one.
 */
export async function saveReproducer(dir: string, sig: string, c: Case, extra?: string, name?: string): Promise<SaveResult> {
  const path = join(dir, `${signatureSlug(sig)}.json`);
  // across processes the re-check before the rename narrows, but cannot close, the window
  return serialized(path, () => saveLocked(path, sig, c, name ?? bucketName(sig, extra)));
}

async function saveLocked(path: string, sig: string, c: Case, name: string): Promise<SaveResult> {
  const doc: Case = { ...c, name };
  const problems = validateCase(doc);
  if (problems.length) throw new Error(`refusing to save an invalid reproducer for ${sig}: ${problems.join('; ')}`);
  const before = await readValidCase(path);
  if (before && !smaller(c, before)) return { path, written: false, reason: 'kept-existing' };
  // re-check just before the rename: another writer may have stored a smaller one meanwhile
  const written = await writeFileAtomic(path, JSON.stringify(doc, null, 2) + '\n', async () => {
    const now = await readValidCase(path);
    return !!now && !smaller(c, now);
  });
  if (!written) return { path, written: false, reason: 'kept-existing' };
  return { path, written: true, reason: before ? 'smaller' : 'new' };
}

export interface CorpusEntry { path: string; case?: Case; error?: string }

/** Every *.json case under the given directories (not recursive), sorted by path; missing dirs are skipped. */
export async function loadCorpus(dirs: string[]): Promise<CorpusEntry[]> {
  const out: CorpusEntry[] = [];
  for (const dir of dirs) {
    let names: string[];
    try { names = await readdir(dir); } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') continue;
      if ((e as NodeJS.ErrnoException).code === 'ENOTDIR') { names = []; out.push(await loadOne(dir)); continue; }
      throw e;
    }
    for (const n of names.filter((x) => x.endsWith('.json') && !x.startsWith('.')).sort()) out.push(await loadOne(join(dir, n)));
  }
  return out;
}

async function loadOne(path: string): Promise<CorpusEntry> {
  try {
    const raw = JSON.parse(await readFile(path, 'utf8')) as unknown;
    return { path, case: parseCase(raw, undefined, path) };
  } catch (e) {
    return { path, error: (e as Error).message };
  }
}
