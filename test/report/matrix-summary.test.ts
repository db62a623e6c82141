// The README's side-by-side matrix (src/report/matrix-summary.ts) on model targets: one row per
// family x mechanism with the four backings folded, a diverging entry that points at notes naming
// every bucket's title, the section between its markers replaced in place, and matrices of the
// same suite run apart merged into the one a joint run gives.
import { describe, expect, it } from 'vitest';
import { runMatrix } from '../../src/matrix/run.ts';
import { mergeMatrices, readmeMatrixSection, README_MATRIX_BEGIN, README_MATRIX_END, replaceReadmeMatrix, toMatrixSummaryMarkdown } from '../../src/report/matrix-summary.ts';
import type { MatrixDoc } from '../../src/matrix/schema.ts';

const fork = { seed: 1, casesPerCell: 2, threads: 0, corpusDirs: [], cellFilter: (c: { family: string }) => c.family === 'fork' || c.family === 'uffd' };
const strip = (d: MatrixDoc) => ({ ...d, generated_at: '', targets: d.targets.map((t) => ({ ...t, elapsed_s: 0 })) });

describe('the side-by-side matrix', () => {
  it('folds the backings; a divergence points at notes with its bucket titles; unsupported at the reason', async () => {
    const { doc } = await runMatrix({ ...fork, targets: ['model:x86', 'model:x86+B-11'] });
    const md = toMatrixSummaryMarkdown(doc);
    const rows = md.split('\n').filter((l) => l.startsWith('| '));
    expect(rows[0]).toBe('| family | mechanism | `model:x86` | `model:x86+B-11` |');
    // header + 2 families x 4 mechanisms, + their hugetlb rows: fork x 4, uffd x 3 (uffd has no
    // soft-dirty cell on any backing: no hugetlb row for it)
    expect(rows).toHaveLength(1 + 8 + 7);
    expect(rows.filter((r) => r.startsWith('| fork (hugetlb) |'))).toHaveLength(4);
    expect(rows.some((r) => r.startsWith('| uffd (hugetlb) | soft-dirty |'))).toBe(false);
    // the model has hugetlb on 4 KiB pages: hugetlb and hugetlb-shared, 2 cases each
    expect(rows.find((r) => r.startsWith('| fork (hugetlb) | uffd-wp-async |'))).toMatch(/^\| fork \(hugetlb\) \| uffd-wp-async \| agrees \(4\) \|/);
    // model:x86 agrees in all four backings of fork under async wp: 2 cases each
    expect(rows.find((r) => r.startsWith('| fork | uffd-wp-async |'))).toMatch(/^\| fork \| uffd-wp-async \| agrees \(8\) \| \*\*diverges\*\* \(\d+\/\d+\) (\[\d+\])+: anon/);
    // the uffd family has no soft-dirty cell by design
    expect(rows.find((r) => r.startsWith('| uffd | soft-dirty |'))).toMatch(/unsupported \[(\d+)\] \| unsupported \[\1\] \|$/);
    const b11 = doc.cells.filter((c) => c.results[1]!.status === 'diverges').flatMap((c) => c.results[1]!.buckets.map((b) => b.title));
    expect(b11.length).toBeGreaterThan(0);
    for (const t of b11) expect(md).toContain(t.replace(/\|/g, '\\|'));
    expect(md).toMatch(/\[\d+\] by design: soft-dirty cases use no userfaultfd/);
  }, 60_000);

  it('leaves cells unsupported by design out of a row that has others; a target without hugetlb pages says why', async () => {
    // model:x86-16k has no hugetlb (2 MiB hugetlb cases are written for 4 KiB pages)
    const { doc } = await runMatrix({ seed: 1, casesPerCell: 1, threads: 0, corpusDirs: [], targets: ['model:x86', 'model:x86-16k'],
      cellFilter: (c) => (c.family === 'mthp' || c.family === 'mprotect' || c.family === 'swap') && c.mechanism === 'uffd-wp-async' });
    const md = toMatrixSummaryMarkdown(doc);
    const rows = md.split('\n').filter((l) => l.startsWith('| '));
    // mthp: only its anon cell (the three other backings are unsupported by design), agreeing on both
    expect(rows.find((r) => r.startsWith('| mthp | '))).toBe('| mthp | uffd-wp-async | agrees (1) | agrees (1) |');
    // no hugetlb rows for swap and mthp (by design); mprotect's says why on the 16 KiB target
    expect(rows.some((r) => r.startsWith('| swap (hugetlb)') || r.startsWith('| mthp (hugetlb)'))).toBe(false);
    const m = /^\| mprotect \(hugetlb\) \| uffd-wp-async \| agrees \(2\) \| unsupported \[(\d+)\] \|$/.exec(rows.find((r) => r.startsWith('| mprotect (hugetlb) |')) ?? '');
    expect(m).not.toBeNull();
    expect(md).toMatch(new RegExp(`\\[${m![1]}\\] no free 2 MiB hugetlb pages: `));
    expect(rows).toHaveLength(1 + 4);
  }, 60_000);

  it('replaces only the text between the markers, and refuses a README without them', async () => {
    const { doc } = await runMatrix({ ...fork, casesPerCell: 1, targets: ['model:x86'] });
    const section = readmeMatrixSection(doc, 'npm run matrix:readme');
    const readme = `# x\n\nbefore\n${README_MATRIX_BEGIN}\nold table\n${README_MATRIX_END}\nafter\n`;
    const out = replaceReadmeMatrix(readme, section);
    expect(out.startsWith('# x\n\nbefore\n')).toBe(true);
    expect(out.endsWith('\nafter\n')).toBe(true);
    expect(out).not.toContain('old table');
    expect(replaceReadmeMatrix(out, section)).toBe(out);
    expect(() => replaceReadmeMatrix('# no section\n', section)).toThrow(/no matrix section/);
  }, 60_000);

  it('merges matrices of the same suite into the joint one; refuses different suites and a target twice', async () => {
    const both = (await runMatrix({ ...fork, targets: ['model:x86', 'model:x86+B-11'] })).doc;
    const a = (await runMatrix({ ...fork, targets: ['model:x86'] })).doc;
    const b = (await runMatrix({ ...fork, targets: ['model:x86+B-11'] })).doc;
    expect(strip(mergeMatrices([a, b]))).toEqual(strip(both));
    const other = (await runMatrix({ ...fork, seed: 2, targets: ['model:x86+B-3'] })).doc;
    expect(() => mergeMatrices([a, other])).toThrow(/different suites/);
    expect(() => mergeMatrices([a, a])).toThrow(/model:x86 is in more than one matrix/);
  }, 60_000);
});
