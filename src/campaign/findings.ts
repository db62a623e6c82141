// The work directory's findings: what campaigns (fuzz, coordinator, gate) and `minimize` found,
// kept out of the tracked corpus. One finding per (target, signature), in
// <workdir>/findings/<id>/ as case.json (a plain ptefarm-case/1: `check`, `replay`, `minimize`,
// `repro` take it as is) and finding.json (ptefarm-finding/1: where and when it was seen).
// A re-hit adds to hits and last_seen and rewrites case.json only when its reproducer is smaller.
// Both files are written atomically (writeFileAtomic); `ptefarm corpus add` promotes a finding.
// finding.json names the page geometry the case was written for (page_size, pmd_size; absent in
// findings older than it: 4 KiB pages), and case.json is validated with that geometry's limits.
import { packagePath } from '../package-root.ts';
import { readFileSync } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import type { Case } from '../ops/schema.ts';
import type { TargetInfo } from '../ops/trace.ts';
import { validateCase } from '../ops/validate.ts';
import { geometryOfStored, readValidCase, serialized, signatureSlug, storedGeometry } from './corpus.ts';
import { GEOMETRY_4K, describeGeometry, limitsFor, type PageGeometry } from '../ops/layout.ts';
import { writeFileAtomic } from '../ops/atomic-write.ts';
import { smaller } from './dedup.ts';
import { findingsDir } from './config.ts';
import { SIGNATURE_VERSION } from '../findings/signature.ts';

export const FINDING_FORMAT = 'ptefarm-finding/1';
export const FINDING_FILE = 'finding.json';
export const FINDING_CASE_FILE = 'case.json';

export interface Finding {
  format: typeof FINDING_FORMAT;
  /** the directory name under <workdir>/findings */
  id: string;
  /** one line naming the bug (for now the signature text) */
  title: string;
  signature: string;
  /** the signature scheme `signature` was written in (src/findings/signature.ts SIGNATURE_VERSION;
   *  absent in findings older than it): replay reads an older one as today's scheme names it */
  signature_version?: number;
  /** target spec, e.g. live, model:x86+B-3, qemu:debian-6.12-amd64 */
  target: string;
  /** the target that ran the stored reproducer, from its trace (absent when no trace was kept) */
  target_name?: string;
  arch?: string;
  kernel?: string;
  /** the target's probe facts (capabilities: soft_dirty, uffd_wp, wp_async, pagemap_scan, swap, thp...) */
  probe?: Record<string, boolean | undefined>;
  /** every kernel release this finding was seen on */
  kernels_seen: string[];
  /** replay token of the stored reproducer's origin: the campaign seed and the generated case's index */
  seed?: number;
  case_index?: number;
  /** what found it: fuzz, coordinator, gate, minimize */
  source: string;
  tool_version: string;
  first_seen: string;
  last_seen: string;
  hits: number;
  ops: number;
  minimized: boolean;
  /** re-runs of the reproducer that showed the signature, "ok/runs" */
  reliability?: string;
  /** one violation in words */
  example?: string;
  /** the page geometry the case was written for, in bytes; absent for 4 KiB pages, 2 MiB PMD (and
   *  in findings older than it); its limits validate case.json (docs/page-size.md) */
  page_size?: number;
  pmd_size?: number;
}

/** A sighting to record: a bucket of one campaign, or one minimized case. */
export interface Sighting {
  target: string;
  signature: string;
  case: Case;
  hits: number;
  minimized: boolean;
  source: string;
  info?: TargetInfo;
  seed?: number;
  caseIndex?: number;
  reliability?: string;
  example?: string;
  title?: string;
  /** the geometry the case was generated for (default 4 KiB pages) */
  geometry?: PageGeometry;
}

export interface RecordResult {
  dir: string;
  caseFile: string;
  /** whether case.json was (re)written */
  written: boolean;
  reason: 'new' | 'smaller' | 'kept-existing';
  finding: Finding;
}

let version: string | undefined;
/** ptefarm's version (package.json). */
export function toolVersion(): string {
  if (version === undefined) {
    try { version = String((JSON.parse(readFileSync(packagePath('package.json'), 'utf8')) as { version?: unknown }).version ?? 'unknown'); }
    catch { version = 'unknown'; }
  }
  return version;
}

/** Directory name of the finding of `signature` on `target`: readable, unique (hashed). */
export function findingId(target: string, signature: string): string {
  return signatureSlug(`${target} ${signature}`);
}

async function readFinding(dir: string): Promise<Finding | undefined> {
  try {
    const f = JSON.parse(await readFile(join(dir, FINDING_FILE), 'utf8')) as Finding;
    return f && f.format === FINDING_FORMAT ? f : undefined;
  } catch { return undefined; }
}

const json = (x: unknown) => JSON.stringify(x, null, 2) + '\n';

const is4k = (g: PageGeometry) => g.pageSize === GEOMETRY_4K.pageSize && g.pmdPages === GEOMETRY_4K.pmdPages;
/** a finding whose case is being replaced: the new case's geometry (provenance) is the one */
function withoutGeometry(f: Finding): Finding {
  const { page_size: _p, pmd_size: _m, ...rest } = f;
  return rest;
}

function provenance(s: Sighting): Partial<Finding> {
  return {
    ...(s.info ? { target_name: s.info.name, arch: s.info.arch, kernel: s.info.kernel, probe: { ...s.info.capabilities } } : {}),
    ...(s.seed !== undefined ? { seed: s.seed } : {}),
    ...(s.caseIndex !== undefined ? { case_index: s.caseIndex } : {}),
    ops: s.case.ops.length,
    minimized: s.minimized,
    // as in traces, present only when not 4 KiB pages: a 4 KiB finding reads as before
    ...(s.geometry && !is4k(s.geometry) ? storedGeometry(s.geometry) : {}),
    ...(s.reliability ? { reliability: s.reliability } : {}),
    ...(s.example ? { example: s.example } : {}),
  };
}

/**
 * Record a sighting in `workdir`: a new finding writes case.json then finding.json; a known one
 * adds the hits and moves last_seen, and replaces case.json (and the reproducer's provenance:
 * target facts, seed, case index) only when the new case is smaller.
 */
export function recordFinding(workdir: string, s: Sighting, now = new Date()): Promise<RecordResult> {
  const id = findingId(s.target, s.signature);
  const dir = join(findingsDir(workdir), id);
  return serialized(dir, async () => {
    const caseFile = join(dir, FINDING_CASE_FILE);
    const doc: Case = { ...s.case, name: (s.title ?? s.signature).slice(0, 4000) };
    const geometry = s.geometry ?? GEOMETRY_4K;
    const problems = validateCase(doc, limitsFor(geometry));
    if (problems.length) throw new Error(`refusing to record an invalid reproducer for ${s.signature} (${describeGeometry(geometry)}): ${problems.join('; ')}`);
    const at = now.toISOString();
    const before = await readFinding(dir);
    // the stored case counts pages of the finding's geometry: one of another geometry is replaced
    const oldGeometry = before ? (() => { try { return findingGeometry(before); } catch { return undefined; } })() : undefined;
    const same = !!oldGeometry && oldGeometry.pageSize === geometry.pageSize && oldGeometry.pmdPages === geometry.pmdPages;
    const oldCase = before && same ? await readValidCase(caseFile, geometry) : undefined;
    const replace = !oldCase || smaller(s.case, oldCase);
    let written = false;
    if (replace) written = await writeFileAtomic(caseFile, json(doc), async () => {
      if (!oldCase) return false;
      const now2 = await readValidCase(caseFile, geometry);
      return !!now2 && !smaller(s.case, now2);
    });
    const kernels = new Set(before?.kernels_seen ?? []);
    if (s.info?.kernel) kernels.add(s.info.kernel);
    const finding: Finding = before
      ? { ...(written ? withoutGeometry(before) : before), hits: before.hits + s.hits, last_seen: at, kernels_seen: [...kernels], tool_version: toolVersion(), ...(written ? provenance(s) : {}) }
      : {
        format: FINDING_FORMAT, id, title: s.title ?? s.signature, signature: s.signature, signature_version: SIGNATURE_VERSION, target: s.target,
        kernels_seen: [...kernels], source: s.source, tool_version: toolVersion(), first_seen: at, last_seen: at, hits: s.hits,
        ops: s.case.ops.length, minimized: s.minimized, ...provenance(s),
      };
    await writeFileAtomic(join(dir, FINDING_FILE), json(finding));
    return { dir, caseFile, written, reason: !before || !oldCase ? 'new' : written ? 'smaller' : 'kept-existing', finding };
  });
}

/** Add hits to a recorded finding (and move last_seen) without touching its case. */
export function addHits(workdir: string, target: string, signature: string, hits: number, now = new Date()): Promise<Finding | undefined> {
  const dir = join(findingsDir(workdir), findingId(target, signature));
  return serialized(dir, async () => {
    const f = await readFinding(dir);
    if (!f) return undefined;
    const next = { ...f, hits: f.hits + hits, last_seen: now.toISOString() };
    await writeFileAtomic(join(dir, FINDING_FILE), json(next));
    return next;
  });
}

export interface StoredFinding { dir: string; finding?: Finding; case?: Case; error?: string; /** the case's page geometry (findingGeometry) */ geometry?: PageGeometry }

/** Every finding of a work directory, most recently seen first; broken entries carry an error. */
export async function listFindings(workdir: string): Promise<StoredFinding[]> {
  let names: string[];
  try { names = await readdir(findingsDir(workdir)); } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
  const out: StoredFinding[] = [];
  for (const n of names.filter((x) => !x.startsWith('.')).sort()) out.push(await loadFinding(join(findingsDir(workdir), n)));
  return out.sort((a, b) => (b.finding?.last_seen ?? '').localeCompare(a.finding?.last_seen ?? ''));
}

/** The page geometry of a finding's case (4 KiB pages when the finding names none); throws on a
 *  malformed one. */
export function findingGeometry(f: Finding): PageGeometry {
  return geometryOfStored(f, `${FINDING_FILE} of ${f.id}`);
}

/** A finding directory (its case.json is checked to be a valid case within the limits of the
 *  finding's page geometry). */
export async function loadFinding(dir: string): Promise<StoredFinding> {
  const finding = await readFinding(dir);
  if (!finding) return { dir, error: `${join(dir, FINDING_FILE)}: missing or not a ${FINDING_FORMAT} file` };
  let geometry: PageGeometry;
  try { geometry = findingGeometry(finding); } catch (e) { return { dir, finding, error: (e as Error).message }; }
  const caseFile = join(dir, FINDING_CASE_FILE);
  const c = await readValidCase(caseFile, geometry);
  if (!c) {
    let why = 'missing or not a valid case';
    try { why = `not a valid case within the limits of ${describeGeometry(geometry)}: ${validateCase(JSON.parse(await readFile(caseFile, 'utf8')), limitsFor(geometry)).slice(0, 3).join('; ')}`; } catch { /* missing or not JSON */ }
    return { dir, finding, geometry, error: `${caseFile}: ${why}` };
  }
  return { dir, finding, case: c, geometry };
}

/**
 * Where the finding named by `ref` lives: a finding directory, a file inside one (case.json,
 * finding.json), or a finding id under <workdir>/findings.
 */
export async function locateFinding(ref: string, workdir: string): Promise<string> {
  const isDir = async (p: string) => (await stat(p).catch(() => undefined))?.isDirectory() ?? false;
  const abs = resolve(ref);
  if (await isDir(abs)) return abs;
  if ([FINDING_FILE, FINDING_CASE_FILE].includes(basename(abs)) && await isDir(dirname(abs))) return dirname(abs);
  if (!ref.includes('/') && await isDir(join(findingsDir(workdir), ref))) return join(findingsDir(workdir), ref);
  throw new Error(`no finding "${ref}": give a finding directory, its case.json, or an id listed by \`ptefarm corpus list\` (work directory ${workdir})`);
}
