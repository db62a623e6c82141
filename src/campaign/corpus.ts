// The on-disk corpus: minimized reproducers in corpus/regressions/<signature-slug>.json, written
// atomically (temporary file + rename in the same directory) and never replacing a smaller one.
// Each file is a valid ptefarm-case/1 whose `name` describes the bucket. Only `ptefarm corpus add`
// writes into corpus/ (campaigns store their findings in the work directory, src/campaign/findings.ts);
// `serialized` is the per-file lock used by both; files are written by src/ops/atomic-write.ts.
// A case written for another page geometry than 4 KiB pages (docs/page-size.md) has a sidecar
// <slug>.geometry ({"page_size","pmd_size"} in bytes) saying which: it is validated with that
// geometry's limits (a 16 KiB case may have 4096 pages per region); without one a case is 4 KiB.
import { createHash } from 'node:crypto';
import { readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Case } from '../ops/schema.ts';
import { CaseError, validateCase } from '../ops/validate.ts';
import { GEOMETRY_4K, describeGeometry, geometryOf, limitsFor, type PageGeometry } from '../ops/layout.ts';
import { smaller } from './dedup.ts';
import { writeFileAtomic } from '../ops/atomic-write.ts';
import { canonicalJson, hashOf } from '../ops/canon.ts';

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

/** `beside`: written next to the signature's stored reproducer (another case, saveReproducer's
 *  keepOthers), whose path is `beside` */
export type SaveResult = { path: string; written: boolean; reason: 'new' | 'smaller' | 'kept-existing' | 'beside'; beside?: string };

/** The valid case stored at `path` (valid within the limits of `geometry`, default 4 KiB pages),
 *  or undefined when it is missing, unreadable or invalid. */
export async function readValidCase(path: string, geometry: PageGeometry = GEOMETRY_4K): Promise<Case | undefined> {
  try {
    const raw = JSON.parse(await readFile(path, 'utf8')) as unknown;
    return validateCase(raw, limitsFor(geometry)).length === 0 ? (raw as Case) : undefined;
  } catch {
    return undefined;
  }
}

/** The stored form of a page geometry (bytes, as in traces and heartbeats: page_size, pmd_size). */
export interface StoredGeometry { page_size: number; pmd_size: number }
export function storedGeometry(g: PageGeometry): StoredGeometry { return { page_size: g.pageSize, pmd_size: g.pageSize * g.pmdPages }; }

/** The geometry a stored record names; absent fields (records older than geometry) are 4 KiB pages.
 *  Throws, naming `where`, when the fields are not a geometry. */
export function geometryOfStored(x: { page_size?: unknown; pmd_size?: unknown } | undefined, where: string): PageGeometry {
  if (!x || (x.page_size === undefined && x.pmd_size === undefined)) return GEOMETRY_4K;
  const num = (v: unknown) => typeof v === 'number' ? v : NaN;
  try { return geometryOf(num(x.page_size ?? GEOMETRY_4K.pageSize), x.pmd_size === undefined ? undefined : num(x.pmd_size)); }
  catch (e) { throw new Error(`${where}: bad page geometry: ${(e as Error).message}`); }
}

/** `<dir>/<slug>.json` -> `<dir>/<slug>.geometry`: the sidecar naming a non-4 KiB case's geometry */
export function geometrySidecar(casePath: string): string { return casePath.replace(/\.json$/, '') + '.geometry'; }

/** The geometry of the corpus case at `casePath`: its sidecar's, or 4 KiB pages without one. */
export async function corpusGeometry(casePath: string): Promise<PageGeometry> {
  const side = geometrySidecar(casePath);
  let text: string;
  try { text = await readFile(side, 'utf8'); } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return GEOMETRY_4K;
    throw new Error(`${side}: ${(e as Error).message}`);
  }
  let raw: unknown;
  try { raw = JSON.parse(text); } catch { throw new Error(`${side}: not JSON`); }
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw new Error(`${side}: expected {"page_size", "pmd_size"}`);
  return geometryOfStored(raw as StoredGeometry, side);
}

/** the problems of `c` within `g`'s limits, each saying which geometry's limits they are */
function problemsIn(c: unknown, g: PageGeometry): string[] {
  const p = validateCase(c, limitsFor(g));
  return g === GEOMETRY_4K ? p : p.map((x) => `${x} (limits of ${describeGeometry(g)})`);
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
 * Save `c` as the reproducer of bucket `sig` in `dir` (`<slug>.json`, `<slug>-16k.json` for 16 KiB pages). Keeps an existing file when its case is
 * not larger (ops, then pages, then JSON length) and of the same geometry; an unreadable/invalid
 * existing file is replaced. The case is named `name`, or `regression: SIG (EXTRA)` without one.
 * `geometry` (default 4 KiB pages) is what the case was written for: its limits validate it, and
 * any other than 4 KiB is kept in the sidecar (written before the case, so a reader never sees a
 * 16 KiB case without it).
 */
export async function saveReproducer(dir: string, sig: string, c: Case, extra?: string, name?: string, geometry: PageGeometry = GEOMETRY_4K, opts: { keepOthers?: boolean } = {}): Promise<SaveResult> {
  if (geometry.pageSize === GEOMETRY_4K.pageSize && geometry.pmdPages === GEOMETRY_4K.pmdPages) geometry = GEOMETRY_4K;
  // one reproducer per signature and geometry: a 16 KiB one never displaces the 4 KiB one
  const path = join(dir, `${signatureSlug(sig)}${geometry === GEOMETRY_4K ? '' : `-${geometry.pageSize / 1024}k`}.json`);
  // across processes the re-check before the rename narrows, but cannot close, the window
  return serialized(path, async () => {
    if (opts.keepOthers) {
      // two different model gaps can share a signature (rule ids and bit kinds, not the scenario):
      // a different case of the signature goes beside the stored one, named by its own hash
      const before = await storedCase(path);
      if (before && canonicalJson(reproducerKey(before)) !== canonicalJson(reproducerKey(c))) {
        const beside = path.replace(/\.json$/, `.${hashOf(reproducerKey(c)).slice(0, 8)}.json`);
        const r = await serialized(beside, () => saveLocked(beside, sig, c, name ?? bucketName(sig, extra), geometry));
        return { ...r, reason: r.written ? 'beside' : r.reason, beside: path };
      }
    }
    return saveLocked(path, sig, c, name ?? bucketName(sig, extra), geometry);
  });
}

/** what makes two reproducers different: their ops and uffd features (not a name or format) */
function reproducerKey(c: Case): { uffd: Case['uffd'] | null; ops: Case['ops'] } {
  return { uffd: c.uffd ?? null, ops: c.ops };
}

async function storedCase(path: string): Promise<Case | undefined> {
  const g = await corpusGeometry(path).catch(() => undefined);
  return g && readValidCase(path, g);
}

async function saveLocked(path: string, sig: string, c: Case, name: string, geometry: PageGeometry): Promise<SaveResult> {
  const doc: Case = { ...c, name };
  const problems = problemsIn(doc, geometry);
  if (problems.length) throw new Error(`refusing to save an invalid reproducer for ${sig}: ${problems.join('; ')}`);
  const oldGeometry = await corpusGeometry(path).catch(() => undefined);
  const sameGeometry = oldGeometry?.pageSize === geometry.pageSize && oldGeometry.pmdPages === geometry.pmdPages;
  const before = await storedCase(path);
  if (before && sameGeometry && !smaller(c, before)) return { path, written: false, reason: 'kept-existing' };
  const side = geometrySidecar(path);
  if (geometry !== GEOMETRY_4K) await writeFileAtomic(side, JSON.stringify(storedGeometry(geometry)) + '\n');
  // re-check just before the rename: another writer may have stored a smaller one meanwhile
  const written = await writeFileAtomic(path, JSON.stringify(doc, null, 2) + '\n', async () => {
    if (!sameGeometry) return false;
    const now = await storedCase(path);
    return !!now && !smaller(c, now);
  });
  if (!written) return { path, written: false, reason: 'kept-existing' };
  if (geometry === GEOMETRY_4K) await rm(side, { force: true });
  return { path, written: true, reason: before ? 'smaller' : 'new' };
}

export interface CorpusEntry { path: string; case?: Case; error?: string; /** set when not 4 KiB pages (its sidecar) */ geometry?: PageGeometry }

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
    const geometry = await corpusGeometry(path);
    const raw = JSON.parse(await readFile(path, 'utf8')) as unknown;
    const problems = problemsIn(raw, geometry);
    if (problems.length) throw new CaseError(problems, path);
    return { path, case: raw as Case, ...(geometry === GEOMETRY_4K ? {} : { geometry }) };
  } catch (e) {
    return { path, error: (e as Error).message };
  }
}
