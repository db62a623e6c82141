// Regenerates the README's matrix section (between README_MATRIX_BEGIN and README_MATRIX_END,
// src/report/matrix-summary.ts) for the kernels CI runs (src/matrix/ci-kernels.ts):
//   npm run matrix:readme                              # runs the matrix (images from `ptefarm qemu fetch`)
//   npm run matrix:readme -- --from DIR/matrix.json    # from a matrix already run (e.g. by CI)
//   npm run matrix:readme -- --from A/matrix.json --from B/matrix.json   # targets of the same suite run apart
// Options: --cases-per-cell N, --threads K, --out DIR (the matrix directory; default a temporary
// one), --readme PATH (default the package's README.md). Exit 1 when the matrix is not valid
// ptefarm-matrix/2 or a target did not start (the README is then left alone).
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { CI_MATRIX_CASES_PER_CELL, CI_MATRIX_TARGETS, CI_MATRIX_THREADS } from '../src/matrix/ci-kernels.ts';
import { runMatrix } from '../src/matrix/run.ts';
import { validateMatrix, type MatrixDoc } from '../src/matrix/schema.ts';
import { packagePath } from '../src/package-root.ts';
import { writeMatrixDir } from '../src/report/matrix.ts';
import { mergeMatrices, readmeMatrixSection, replaceReadmeMatrix } from '../src/report/matrix-summary.ts';

const { values: a } = parseArgs({
  options: {
    from: { type: 'string', multiple: true }, 'cases-per-cell': { type: 'string' }, threads: { type: 'string' },
    out: { type: 'string' }, readme: { type: 'string' },
  },
});

async function main(): Promise<number> {
  let doc: MatrixDoc;
  if (a.from?.length) {
    const docs: MatrixDoc[] = [];
    for (const f of a.from) {
      const v = validateMatrix(JSON.parse(readFileSync(resolve(f), 'utf8')));
      if (!v.ok) { process.stderr.write(`matrix:readme: ${f} is not ptefarm-matrix/2:\n${v.problems.slice(0, 10).join('\n')}\n`); return 1; }
      docs.push(v.doc);
    }
    try { doc = mergeMatrices(docs); } catch (e) { process.stderr.write(`matrix:readme: ${(e as Error).message}\n`); return 1; }
  } else {
    const casesPerCell = Number(a['cases-per-cell'] ?? CI_MATRIX_CASES_PER_CELL);
    const threads = Number(a.threads ?? CI_MATRIX_THREADS);
    if (!Number.isInteger(casesPerCell) || casesPerCell < 0 || !Number.isInteger(threads) || threads < 1) {
      process.stderr.write('matrix:readme: --cases-per-cell and --threads take whole numbers (threads >= 1)\n');
      return 1;
    }
    const { version } = JSON.parse(readFileSync(packagePath('package.json'), 'utf8')) as { version: string };
    const run = await runMatrix({
      targets: [...CI_MATRIX_TARGETS], seed: 1, casesPerCell, threads, corpusDirs: [packagePath('corpus', 'seeds')], version,
      onProgress: (spec, done, total) => { if (done === total) process.stderr.write(`matrix:readme: ${spec}: ${total} cases\n`); },
    });
    const out = resolve(a.out ?? mkdtempSync(join(tmpdir(), 'ptefarm-matrix-readme-')));
    await writeMatrixDir(out, run.doc, run.reproducers);
    process.stderr.write(`matrix:readme: the matrix is in ${out}\n`);
    doc = run.doc;
  }
  const refused = doc.targets.filter((t) => t.refused !== undefined);
  if (refused.length) {
    process.stderr.write(`matrix:readme: README left alone: ${refused.map((t) => `${t.spec} did not start (${t.refused})`).join('; ')}\n`);
    return 1;
  }
  const readme = resolve(a.readme ?? packagePath('README.md'));
  writeFileSync(readme, replaceReadmeMatrix(readFileSync(readme, 'utf8'), readmeMatrixSection(doc, 'npm run matrix:readme')));
  process.stderr.write(`matrix:readme: ${readme} rewritten (${doc.targets.map((t) => t.spec).join(', ')})\n`);
  return 0;
}

process.exitCode = await main();
