// The matrix suite on a 16 KiB-page target: generated cases count its pages, so a thp cell's region
// is one of its PMDs (2048 pages = 32 MiB), and the cases stay valid under its limits
// (docs/page-size.md). The same seed gives the same cases per geometry.
import { describe, expect, it } from 'vitest';
import { allCells, cellId, unsupportedByDesign } from '../../src/matrix/cells.ts';
import { cellCase } from '../../src/matrix/generate.ts';
import { buildSuite } from '../../src/matrix/run.ts';
import { geometryOf, limitsFor, GEOMETRY_4K } from '../../src/ops/layout.ts';
import { validateCase } from '../../src/ops/validate.ts';

const G16 = geometryOf(16384);

describe('matrix suite per page geometry', () => {
  it('a thp or mthp cell maps one PMD of the target: 512 pages on 4 KiB, 2048 on 16 KiB; valid under each geometry\'s limits', () => {
    // (not the cells unsupported by design, e.g. thp on hugetlb: they have no cases)
    const thp = allCells().filter((c) => (c.family === 'thp' || c.family === 'mthp') && !unsupportedByDesign(c));
    expect(() => cellCase(7, { family: 'thp', backing: 'hugetlb', mechanism: 'scan' }, 0)).toThrow(/cell thp\/hugetlb\/scan has no cases \(not on hugetlb: /);
    expect(thp.length).toBeGreaterThan(0);
    for (const cell of thp) {
      for (let i = 0; i < 3; i++) {
        const c4 = cellCase(7, cell, i);
        const c16 = cellCase(7, cell, i, G16);
        const first = (c: typeof c4) => c.ops.find((o) => o.op === 'mmap')!;
        expect(first(c4)).toMatchObject({ thp: true, pages: 512 });
        expect(first(c16)).toMatchObject({ thp: true, pages: 2048 });
        expect(validateCase(c16, limitsFor(G16)), cellId(cell)).toEqual([]);
        expect(cellCase(7, cell, i, GEOMETRY_4K)).toEqual(c4);
      }
    }
  });

  it('every generated suite entry can be rebuilt for another geometry (the same cell, index and seed)', async () => {
    const { entries } = await buildSuite({ seed: 3, casesPerCell: 1, corpusDirs: [], cellFilter: (c) => c.family === 'thp' || c.family === 'fault' });
    expect(entries.length).toBeGreaterThan(0);
    for (const e of entries) {
      expect(e.forGeometry).toBeDefined();
      expect(e.forGeometry!(GEOMETRY_4K)).toEqual(e.case);
      expect(validateCase(e.forGeometry!(G16), limitsFor(G16))).toEqual([]);
    }
  });
});
