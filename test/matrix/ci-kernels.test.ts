// `ptefarm matrix` over the kernels CI runs (src/matrix/ci-kernels.ts): this host and the Debian
// guests under QEMU TCG (x86-64 6.12 and 6.1, arm64 6.12 with 4 KiB and 16 KiB pages), the
// targets in parallel within the cores, through the CLI as a user runs it. Every cell must end with
// a verdict: agrees (with cases), diverges (every bucket titled, with a stored case that validates),
// or unsupported (with the reason); never faulted. What each kernel can show is stated here from
// its configuration, not taken from the run: arm64 has no soft-dirty (CONFIG_HAVE_ARCH_SOFT_DIRTY
// is x86/s390/powerpc only), 6.1 has neither PAGEMAP_SCAN nor UFFD_FEATURE_WP_ASYNC (both 6.7),
// the 16 KiB guest's pages are 16 KiB. matrix.json is validated by a real JSON Schema validator
// (python3-jsonschema) against docs/matrix.schema.json, and matrix.md and the README section
// (src/report/matrix-summary.ts) by a real GFM renderer (cmark-gfm). A guest whose image is not
// fetched leaves the matrix without it (said on stderr). PTEFARM_MATRIX_CASES sets the cases per
// cell (default CI_MATRIX_CASES_PER_CELL), PTEFARM_MATRIX_THREADS the threads (default 2: two VMs at
// once), PTEFARM_MATRIX_OUT keeps the matrix directory (`npm run matrix:readme -- --from
// DIR/matrix.json` then puts it into the README).
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { validateMatrix, type MatrixDoc } from '../../src/matrix/schema.ts';
import { allCells, BACKINGS, FAMILIES } from '../../src/matrix/cells.ts';
import { CI_MATRIX_CASES_PER_CELL, CI_MATRIX_TARGETS, CI_MATRIX_THREADS } from '../../src/matrix/ci-kernels.ts';
import { readmeMatrixSection, README_MATRIX_BEGIN, README_MATRIX_END } from '../../src/report/matrix-summary.ts';
import { validateCase } from '../../src/ops/validate.ts';
import { qemuSkipNote, qemuUnavailable } from '../helpers/qemu.ts';
import { executorMissing } from '../helpers/executor.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));
const CASES = Number(process.env.PTEFARM_MATRIX_CASES ?? CI_MATRIX_CASES_PER_CELL);
const THREADS = Number(process.env.PTEFARM_MATRIX_THREADS ?? CI_MATRIX_THREADS);

const missing = new Map<string, string>();
for (const spec of CI_MATRIX_TARGETS) {
  const why = spec === 'live' ? executorMissing() : qemuUnavailable(spec.slice('qemu:'.length));
  if (why) { missing.set(spec, why); if (spec.startsWith('qemu:')) qemuSkipNote(spec.slice('qemu:'.length), why); }
}
const targets = CI_MATRIX_TARGETS.filter((t) => !missing.has(t));

const cmark = spawnSync('cmark-gfm', ['--version'], { encoding: 'utf8' }).status === 0;
const jsonschema = spawnSync('/usr/bin/python3', ['-c', 'import jsonschema'], { encoding: 'utf8' }).status === 0;

/** render GFM (tables on) with cmark-gfm: the HTML */
function gfm(md: string): string {
  const r = spawnSync('cmark-gfm', ['-e', 'table'], { input: md, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`cmark-gfm: ${r.stderr}`);
  return r.stdout;
}
const count = (s: string, re: RegExp) => (s.match(re) ?? []).length;
/** rows of the side-by-side table (src/report/matrix-summary.ts): 10 families x 4 mechanisms, plus
 *  a (hugetlb) row for each family hugetlb can express (fault, fork, mprotect, clear_refs, uffd,
 *  scan) x 4 mechanisms but uffd's soft-dirty (by design on every backing): 40 + 23 */
const SUMMARY_ROWS = 63;

describe.skipIf(targets.length < 2)(`ptefarm matrix on the CI kernels (${targets.join(', ')})`, () => {
  it(`every cell agrees, diverges with titled buckets, or is unsupported with a reason (${CASES} cases per cell + the corpus seeds)`, () => {
    if (missing.size) process.stderr.write(`ci-kernels matrix: without ${[...missing].map(([s, w]) => `${s} (${w})`).join('; ')}\n`);
    const out = process.env.PTEFARM_MATRIX_OUT ?? mkdtempSync(join(tmpdir(), 'ptefarm-matrix-ci-'));
    const t0 = Date.now();
    const r = spawnSync(process.execPath, [join(root, 'bin/ptefarm.mjs'), 'matrix', ...targets.flatMap((t) => ['-t', t]), '-n', String(CASES), '-j', String(THREADS), '--out', out, '-q'],
      { encoding: 'utf8', cwd: root });
    const wall = (Date.now() - t0) / 1000;
    // 0: nothing diverges, 1: some cell diverges (each divergence a titled bucket, checked below);
    // 2 (a target refused or failed to start) and 3 (a cell without a verdict) fail
    expect([0, 1], r.stdout + r.stderr).toContain(r.status);

    const raw = readFileSync(join(out, 'matrix.json'), 'utf8');
    const v = validateMatrix(JSON.parse(raw));
    if (!v.ok) throw new Error(v.problems.join('\n'));
    const doc: MatrixDoc = v.doc;
    expect(doc.targets.map((t) => t.spec)).toEqual(targets);
    expect(doc.cells).toHaveLength(allCells().length);
    expect(doc.cases_per_cell).toBe(CASES);

    const bySpec = new Map(doc.targets.map((t, i) => [t.spec, i]));
    const summary: string[] = [];
    for (const [ti, t] of doc.targets.entries()) {
      expect(t.refused, t.spec).toBeUndefined();
      // an infrastructure fault is never a verdict; a few (a VM replaced under load) are tolerated
      expect(t.totals.faults, `${t.spec}: ${t.totals.faults} faults`).toBeLessThanOrEqual(2);
      const n = { agrees: 0, diverges: 0, unsupported: 0, faulted: 0 };
      for (const c of doc.cells) {
        const res = c.results[ti]!;
        const id = `${t.spec} ${c.id}`;
        n[res.status]++;
        switch (res.status) {
          case 'agrees':
            expect(res.cases, id).toBeGreaterThan(0);
            expect(res.agreeing, id).toBe(res.cases);
            expect(res.buckets, id).toEqual([]);
            break;
          case 'diverges':
            expect(res.buckets.length, id).toBeGreaterThan(0);
            for (const b of res.buckets) {
              expect(b.title.length, `${id} ${b.signature}`).toBeGreaterThan(10);
              const file = join(out, b.case_file!);
              expect(existsSync(file), file).toBe(true);
              expect(validateCase(JSON.parse(readFileSync(file, 'utf8'))), file).toEqual([]);
              process.stderr.write(`ci-kernels matrix: ${id} diverges: ${b.title} (${b.hits} cases; ${b.signature})\n`);
            }
            break;
          case 'unsupported':
            expect(res.reason ?? '', id).toMatch(/\w{4,}/);
            break;
          case 'faulted':
            throw new Error(`${id}: no verdict (every case faulted): ${res.reason}`);
        }
      }
      summary.push(`${t.spec} ${n.agrees}/${n.diverges}/${n.unsupported} in ${t.elapsed_s} s (${t.totals.cases} cases)`);
    }

    // what each kernel can show, from its configuration
    const cell = (spec: string, id: string) => doc.cells.find((c) => c.id === id)!.results[bySpec.get(spec)!]!;
    const verdict = ['agrees', 'diverges'];
    for (const spec of ['qemu:debian-6.12-arm64', 'qemu:debian-6.12-arm64-16k']) {
      if (!bySpec.has(spec)) continue;
      expect(doc.targets[bySpec.get(spec)!]!.arch).toBe('aarch64');
      for (const f of ['fault', 'fork', 'mprotect']) {
        expect(cell(spec, `${f}/anon/soft-dirty`)).toMatchObject({ status: 'unsupported', reason: expect.stringMatching(/soft-dirty is compiled out/) });
        expect(verdict, `${spec} ${f}/anon/uffd-wp-async`).toContain(cell(spec, `${f}/anon/uffd-wp-async`).status);
      }
    }
    if (bySpec.has('qemu:debian-6.12-arm64-16k')) {
      expect(doc.targets[bySpec.get('qemu:debian-6.12-arm64-16k')!]!.page_size).toBe(16384);
      // THP on 16 KiB pages: 32 MiB PMDs, generated in the guest's geometry
      expect(verdict).toContain(cell('qemu:debian-6.12-arm64-16k', 'thp/anon/uffd-wp-async').status);
    }
    if (bySpec.has('qemu:debian-6.12-amd64')) {
      for (const f of ['fault', 'fork', 'mremap', 'mprotect', 'clear_refs', 'swap', 'thp']) expect(verdict, f).toContain(cell('qemu:debian-6.12-amd64', `${f}/anon/soft-dirty`).status);
      expect(verdict).toContain(cell('qemu:debian-6.12-amd64', 'scan/anon/scan').status);
    }
    if (bySpec.has('qemu:debian-6.1-amd64')) {
      expect(verdict).toContain(cell('qemu:debian-6.1-amd64', 'fork/anon/soft-dirty').status);
      expect(cell('qemu:debian-6.1-amd64', 'fork/anon/uffd-wp-async')).toMatchObject({ status: 'unsupported', reason: expect.stringMatching(/WP_ASYNC/) });
      expect(cell('qemu:debian-6.1-amd64', 'scan/anon/scan')).toMatchObject({ status: 'unsupported', reason: expect.stringMatching(/PAGEMAP_SCAN/) });
    }
    // no guest reserves hugetlb pages, and only an image spec ending in `,mthp=` turns an anon mTHP
    // size on (below the PMD size the sysfs default is never; 6.1 has no per-size files at all)
    for (const spec of CI_MATRIX_TARGETS.filter((t) => t.startsWith('qemu:') && bySpec.has(t))) {
      const mthp = /,mthp=/.test(spec);
      expect(doc.targets[bySpec.get(spec)!]!.capabilities, spec).toMatchObject({ hugetlb: false, anon_mthp: mthp });
      if (mthp) for (const m of ['soft-dirty', 'uffd-wp-sync', 'uffd-wp-async', 'scan']) expect(verdict, `${spec} mthp/anon/${m}`).toContain(cell(spec, `mthp/anon/${m}`).status);
      for (const id of ['fault/hugetlb/uffd-wp-sync', 'fork/hugetlb-shared/uffd-wp-sync', 'mprotect/hugetlb/soft-dirty']) {
        expect(cell(spec, id), `${spec} ${id}`).toMatchObject({ status: 'unsupported', cases: 0, reason: expect.stringMatching(/^no free 2 MiB hugetlb pages: /) });
      }
      if (!mthp) for (const m of ['soft-dirty', 'uffd-wp-sync']) {
        expect(cell(spec, `mthp/anon/${m}`), `${spec} mthp/anon/${m}`).toMatchObject({ status: 'unsupported', cases: 0, reason: expect.stringMatching(/no anon mTHP size enabled: .*hugepages-<size>kB\/enabled/) });
      }
    }
    // by design on every target
    for (const spec of targets) expect(cell(spec, 'swap/hugetlb/uffd-wp-sync').reason, spec).toMatch(/^not on hugetlb: hugetlb pages are never reclaimed/);
    if (bySpec.has('live')) {
      const live = doc.targets[bySpec.get('live')!]!;
      // hugetlb on the host: only with free huge pages (`ptefarm setup --hugetlb N`), never a divergence by their absence
      if (live.capabilities!.hugetlb) expect(verdict).toContain(cell('live', 'fork/hugetlb/uffd-wp-async').status);
      else expect(cell('live', 'fork/hugetlb/uffd-wp-async')).toMatchObject({ status: 'unsupported', reason: expect.stringMatching(/^no free 2 MiB hugetlb pages: /) });
      if (live.capabilities!.anon_mthp) expect(verdict).toContain(cell('live', 'mthp/anon/uffd-wp-async').status);
      else expect(cell('live', 'mthp/anon/uffd-wp-async')).toMatchObject({ status: 'unsupported', reason: expect.stringMatching(/no anon mTHP size enabled/) });
      if (!live.capabilities!.soft_dirty) expect(cell('live', 'fork/anon/soft-dirty')).toMatchObject({ status: 'unsupported', reason: expect.stringMatching(/soft-dirty is compiled out/) });
      else expect(verdict).toContain(cell('live', 'fork/anon/soft-dirty').status);
    }

    // matrix.json against the documented JSON Schema, by a validator that is not ours
    if (jsonschema) {
      const py = 'import json,sys\nfrom jsonschema import Draft202012Validator as V\ns=json.load(open(sys.argv[1]))\nV.check_schema(s)\nerrs=list(V(s).iter_errors(json.load(open(sys.argv[2]))))\n[print(e.json_path, e.message[:200]) for e in errs[:5]]\nsys.exit(1 if errs else 0)';
      const js = spawnSync('/usr/bin/python3', ['-c', py, join(root, 'docs/matrix.schema.json'), join(out, 'matrix.json')], { encoding: 'utf8' });
      expect(js.status, js.stdout + js.stderr).toBe(0);
    } else process.stderr.write('ci-kernels matrix: python3-jsonschema missing: matrix.json checked by the zod schema only\n');

    // the Markdown renders: one table per target of 60 rows (10 families x 6 backings) and 2 + 4
    // columns; the README section one table of SUMMARY_ROWS rows, a column per target
    if (cmark) {
      const html = gfm(readFileSync(join(out, 'matrix.md'), 'utf8'));
      expect(count(html, /<table>/g)).toBe(doc.targets.length);
      expect(count(html, /<tr>/g)).toBe(doc.targets.length * (1 + FAMILIES.length * BACKINGS.length));
      expect(count(html, /<th>/g)).toBe(doc.targets.length * 6);
      const section = readmeMatrixSection(doc, 'npm run matrix:readme');
      expect(section.startsWith(README_MATRIX_BEGIN) && section.endsWith(README_MATRIX_END)).toBe(true);
      const sh = gfm(section);
      expect(count(sh, /<table>/g)).toBe(1);
      expect(count(sh, /<tr>/g)).toBe(1 + SUMMARY_ROWS);
      expect(count(sh, /<th>/g)).toBe(2 + doc.targets.length);
      expect(count(sh, /<td>/g)).toBe(SUMMARY_ROWS * (2 + doc.targets.length));
      for (const t of doc.targets) expect(sh).toContain(`<code>${t.spec}</code>`);
    } else process.stderr.write('ci-kernels matrix: cmark-gfm missing: the Markdown was not rendered\n');

    process.stderr.write(`ci-kernels matrix: ${targets.length} targets, ${CASES} cases per cell + ${doc.corpus.length} corpus, -j ${THREADS}: ${wall.toFixed(0)} s wall; ` +
      `agree/diverge/unsupported per target: ${summary.join('; ')}; matrix in ${out}\n`);
  }, 1_500_000);
});

describe('the README matrix section', () => {
  it('is there, between its markers, for the CI kernels, and names the command that regenerates it', () => {
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    const a = readme.indexOf(README_MATRIX_BEGIN), b = readme.indexOf(README_MATRIX_END);
    expect(a).toBeGreaterThan(0);
    expect(b).toBeGreaterThan(a);
    const section = readme.slice(a, b);
    expect(section).toContain('npm run matrix:readme');
    for (const t of CI_MATRIX_TARGETS) expect(section).toContain(`\`${t}\``);
    if (cmark) {
      const html = gfm(section + README_MATRIX_END);
      expect(count(html, /<table>/g)).toBe(1);
      expect(count(html, /<tr>/g)).toBe(1 + SUMMARY_ROWS);
    }
  });
});
