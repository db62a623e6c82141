// The matrix suite and its verdicts on model targets (src/matrix): generated cases stay inside
// their cell, the same seed gives the same suite, the reference agrees with itself everywhere
// except the cells unsupported by design, and a mutant diverges only in the cells of the kernel
// path it changes. The mutated paths are the model's (src/model/mutants.ts), each mirroring a
// kernel function: B-3 changes can_change_pte_writable (mm/mprotect.c), which decides both
// mprotect RO->RW (also the thp family's split, an mprotect round trip) and UFFDIO_WRITEPROTECT
// un-protect (change_pte_range with MM_CP_UFFD_WP_RESOLVE, also what resolving a sync wp fault does); B-11 changes copy_present_pte
// (mm/memory.c: the child of a fork keeps the uffd-wp bit only with EVENT_FORK), reached only by
// fork with userfaultfd; B-18 changes userfaultfd_unregister (fs/userfaultfd.c: unregistering
// clears wp bits and markers), reached only by UFFDIO_UNREGISTER.
import { describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { allCells, BACKINGS, cellId, classifyCase, FAMILIES, FAMILY_OPS, mechanismOf, MECHANISMS, unsupportedByDesign, unsupportedOn, type Cell } from '../../src/matrix/cells.ts';
import { anonMthpSizes, capabilitiesOf, type HostFact, type ProbeResult } from '../../src/targets/probe.ts';
import { cellCase } from '../../src/matrix/generate.ts';
import { buildSuite, runMatrix, threadPlan } from '../../src/matrix/run.ts';
import { validateMatrix, type MatrixDoc } from '../../src/matrix/schema.ts';
import { validateCase } from '../../src/ops/validate.ts';
import type { Case, OpName } from '../../src/ops/schema.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));
const seeds = join(root, 'corpus/seeds');

const statusOf = (doc: MatrixDoc, ti = 0) => new Map(doc.cells.map((c) => [c.id, c.results[ti]!]));

describe('matrix cells and their cases', () => {
  it('has one cell per family x backing x mechanism', () => {
    expect(allCells()).toHaveLength(FAMILIES.length * BACKINGS.length * MECHANISMS.length);
    expect(new Set(allCells().map(cellId)).size).toBe(allCells().length);
  });

  it('generates valid cases that stay inside their cell: backing, mechanism, the family op, no other family op', () => {
    // ops of the families that a mechanism itself uses to arm and read its tracking
    const mechanismOps: Record<Cell['mechanism'], OpName[]> = { 'soft-dirty': ['clear_refs'], 'uffd-wp-sync': [], 'uffd-wp-async': [], scan: ['scan'] };
    for (const cell of allCells()) {
      if (unsupportedByDesign(cell)) continue;
      for (let i = 0; i < 6; i++) {
        const c = cellCase(7, cell, i);
        const id = `${cellId(cell)}#${i}`;
        expect(validateCase(c), id).toEqual([]);
        for (const op of c.ops) if (op.op === 'mmap') expect(op.kind, id).toBe(cell.backing);
        expect(mechanismOf(c), id).toBe(cell.mechanism);
        const ops = new Set(c.ops.map((o) => o.op));
        expect(FAMILY_OPS[cell.family].some((o) => ops.has(o)), `${id} has a ${cell.family} op`).toBe(true);
        // the mthp family is a shape (below), its ops are the other families' ways to split a folio
        for (const f of FAMILIES) {
          if (f === cell.family || f === 'mthp' || cell.family === 'mthp') continue;
          for (const o of FAMILY_OPS[f]) if (ops.has(o)) expect(mechanismOps[cell.mechanism], `${id} has ${o}`).toContain(o);
        }
        if (cell.family === 'thp') expect(c.ops.some((o) => o.op === 'mmap' && o.thp), id).toBe(true);
        // the uffd mechanisms arm by write-protecting, even where a PMD-sized region spent the op budget
        if (cell.mechanism !== 'soft-dirty') expect(c.ops.some((o) => o.op === 'wp' && o.on), `${id} write-protects`).toBe(true);
        if (cell.family === 'mthp') {
          // one 512-page MADV_HUGEPAGE anon region; a block zapped (DONTNEED or PAGEOUT), then a fault
          // inside that block (where a large folio can be mapped), then more ops on the region
          const mm = c.ops.filter((o) => o.op === 'mmap');
          expect(mm, id).toEqual([{ op: 'mmap', region: 'a', pages: 512, kind: 'anon', thp: true }]);
          const z = c.ops.findIndex((o) => (o.op === 'dontneed' || o.op === 'pageout') && 'count' in o && o.count! >= 4 && o.count! < 512);
          expect(z, `${id} zaps a block`).toBeGreaterThan(0);
          const zap = c.ops[z] as { first: number; count: number };
          const f = c.ops.findIndex((o, k) => k > z && (o.op === 'write' || o.op === 'read' || o.op === 'populate') && (o as { first: number }).first >= zap.first && (o as { first: number }).first < zap.first + zap.count);
          expect(f, `${id} faults in the zapped block`).toBeGreaterThan(z);
          expect(c.ops.length, id).toBeGreaterThan(f + 1);
        }
        if (cell.backing === 'hugetlb' || cell.backing === 'hugetlb-shared') {
          expect(c.format, id).toBe('ptefarm-case/3');
          for (const o of c.ops) if (o.op === 'mmap') expect(o.pages % 512, id).toBe(0);
        }
      }
    }
  });

  it('builds the same suite from the same seed, and another from another seed', async () => {
    const a = await buildSuite({ seed: 5, casesPerCell: 2, corpusDirs: [seeds] });
    const b = await buildSuite({ seed: 5, casesPerCell: 2, corpusDirs: [seeds] });
    const c = await buildSuite({ seed: 6, casesPerCell: 2, corpusDirs: [seeds] });
    expect(JSON.stringify(a.entries)).toBe(JSON.stringify(b.entries));
    expect(JSON.stringify(a.entries)).not.toBe(JSON.stringify(c.entries));
    // the corpus seeds are in, each in one cell
    expect(a.corpus.length).toBeGreaterThan(30);
    const corpusCells = new Set(a.corpus.map((x) => x.cell));
    expect(corpusCells.size).toBeGreaterThan(5);
  });

  it('assigns a corpus case to the cell of its most specific family, first backing and mechanism', () => {
    expect(cellId(classifyCase({ format: 'ptefarm-case/1', ops: [
      { op: 'mmap', region: 'a', pages: 2, kind: 'memfd-shared' }, { op: 'clear_refs', value: 4 }, { op: 'mprotect', region: 'a', prot: 'r' }, { op: 'write', region: 'a' },
    ] }))).toBe('mprotect/memfd-shared/soft-dirty');
    expect(cellId(classifyCase({ format: 'ptefarm-case/1', uffd: { features: ['wp_async'] }, ops: [
      { op: 'mmap', region: 'a', pages: 2, kind: 'anon' }, { op: 'uffd_register', region: 'a' }, { op: 'wp', region: 'a', on: true }, { op: 'scan', region: 'a', wp_matching: true },
    ] }))).toBe('scan/anon/scan');
  });

  it('calls a cell unsupported from the capabilities it needs', () => {
    const caps = { soft_dirty: false, uffd_wp: true, wp_async: true, pagemap_scan: false, swap: false, thp: true };
    expect(unsupportedOn({ family: 'fork', backing: 'anon', mechanism: 'soft-dirty' }, caps)).toMatch(/soft-dirty is compiled out/);
    expect(unsupportedOn({ family: 'fork', backing: 'anon', mechanism: 'uffd-wp-async' }, caps)).toBeUndefined();
    expect(unsupportedOn({ family: 'swap', backing: 'anon', mechanism: 'uffd-wp-sync' }, caps)).toMatch(/no active swap/);
    expect(unsupportedOn({ family: 'fork', backing: 'anon', mechanism: 'scan' }, caps)).toMatch(/PAGEMAP_SCAN/);
    // no free hugetlb pages (a QEMU guest, a host without `ptefarm setup --hugetlb N`): the hugetlb backings
    expect(unsupportedOn({ family: 'fork', backing: 'hugetlb', mechanism: 'uffd-wp-async' }, caps)).toMatch(/^no free 2 MiB hugetlb pages: .*free_hugepages.*ptefarm setup --hugetlb N/);
    expect(unsupportedOn({ family: 'fork', backing: 'hugetlb-shared', mechanism: 'uffd-wp-async' }, { ...caps, hugetlb: true })).toBeUndefined();
    expect(unsupportedOn({ family: 'mthp', backing: 'anon', mechanism: 'uffd-wp-async' }, caps)).toMatch(/no anon mTHP size enabled: .*\/sys\/kernel\/mm\/transparent_hugepage\/hugepages-<size>kB\/enabled/);
    expect(unsupportedOn({ family: 'mthp', backing: 'anon', mechanism: 'uffd-wp-async' }, { ...caps, anon_mthp: true })).toBeUndefined();
  });

  it('calls cells hugetlb cannot express, and mthp on other than anon, unsupported by design, with the reason', () => {
    for (const family of ['mremap', 'swap', 'thp', 'mthp'] as const) for (const backing of ['hugetlb', 'hugetlb-shared'] as const) {
      expect(unsupportedByDesign({ family, backing, mechanism: 'uffd-wp-async' }), `${family}/${backing}`).toMatch(/^not on hugetlb: /);
    }
    expect(unsupportedByDesign({ family: 'swap', backing: 'hugetlb', mechanism: 'scan' })).toMatch(/never reclaimed to swap/);
    for (const family of ['fault', 'fork', 'mprotect', 'clear_refs', 'uffd', 'scan'] as const) expect(unsupportedByDesign({ family, backing: 'hugetlb', mechanism: 'uffd-wp-async' }), family).toBeUndefined();
    for (const backing of ['shared-anon', 'memfd-shared', 'memfd-private'] as const) expect(unsupportedByDesign({ family: 'mthp', backing, mechanism: 'uffd-wp-sync' })).toMatch(/anonymous private memory/);
    expect(unsupportedByDesign({ family: 'mthp', backing: 'anon', mechanism: 'soft-dirty' })).toBeUndefined();
  });

  it('assigns a hugetlb corpus case to its hugetlb backing, never to a family hugetlb cannot express', () => {
    const c: Case = { format: 'ptefarm-case/3', uffd: { features: ['wp_async'] }, ops: [
      { op: 'mmap', region: 'a', pages: 512, kind: 'hugetlb' }, { op: 'write', region: 'a' },
      { op: 'pageout', region: 'a' }, { op: 'fork' }, { op: 'write', region: 'a' },
    ] };
    // the pageout (refused on hugetlb) does not make it a swap case: the fork decides
    expect(cellId(classifyCase(c))).toBe('fork/hugetlb/uffd-wp-async');
    expect(cellId(classifyCase({ ...c, ops: [{ op: 'mmap', region: 'a', pages: 512, kind: 'hugetlb-shared' }, { op: 'write', region: 'a' }, { op: 'pageout', region: 'a' }] }))).toBe('fault/hugetlb-shared/uffd-wp-async');
  });

  it('takes hugetlb and anon mTHP support from the probe: free huge pages, an enabled size below the PMD', () => {
    const fact = (name: string, value: HostFact['value']): HostFact => ({ name, value, source: 'test' });
    const base = { soft_dirty: false, uffd_wp: true, wp_async: true, pagemap_scan: true, swap: true, thp: 'madvise', facts: [fact('page_size', 4096), fact('pmd_size', 2097152), fact('thp.enabled', 'madvise')] } as unknown as ProbeResult;
    expect(capabilitiesOf(base)).toMatchObject({ hugetlb: false, anon_mthp: false });
    expect(capabilitiesOf({ ...base, hugetlb_free: 64 })).toMatchObject({ hugetlb: true });
    // the PMD size's own file is THP, not mTHP; never is off; inherit follows thp.enabled
    const sizes = (...f: HostFact[]) => anonMthpSizes({ facts: [...base.facts!, ...f] });
    expect(sizes(fact('mthp.2048kB.enabled', 'always'), fact('mthp.16kB.enabled', 'never'))).toEqual([]);
    expect(sizes(fact('mthp.16kB.enabled', 'inherit'), fact('mthp.64kB.enabled', 'always'))).toEqual(['16kB', '64kB']);
    expect(anonMthpSizes({ facts: [fact('thp.enabled', 'never'), fact('mthp.16kB.enabled', 'inherit')] })).toEqual([]);
    expect(capabilitiesOf({ ...base, facts: [...base.facts!, fact('mthp.32kB.enabled', 'madvise')] })).toMatchObject({ anon_mthp: true });
  });
});

describe('threads', () => {
  it('runs at most --threads targets at once, sharing the threads; QEMU one thread (one VM); 0 = all in this thread', () => {
    expect(threadPlan(['live', 'model:x86'], 8)).toEqual({ concurrent: 2, shares: [4, 4] });
    expect(threadPlan(['live', 'qemu:a', 'qemu:b'], 2)).toEqual({ concurrent: 2, shares: [1, 1, 1] });
    expect(threadPlan(['live', 'model:x86', 'qemu:a'], 0)).toEqual({ concurrent: 3, shares: [0, 0, 0] });
    expect(threadPlan(['live'], 3)).toEqual({ concurrent: 1, shares: [3] });
  });
});

describe('a target run in this thread', () => {
  it('lets timers and I/O run between its cases (another target\'s executor start must not time out behind the model)', async () => {
    let ticks = 0;
    const iv = setInterval(() => { ticks++; }, 0);
    const at: number[] = [];
    try {
      await runMatrix({ targets: ['model:x86'], seed: 1, casesPerCell: 1, threads: 0, corpusDirs: [], cellFilter: (c) => c.family === 'fork',
        onProgress: (_s, done, total) => { if (done === 1 || done === total) at.push(ticks); } });
    } finally { clearInterval(iv); }
    // 16 cases: without a yield between them the interval never runs until the end
    expect(at[1]! - at[0]!).toBeGreaterThanOrEqual(5);
  });
});

describe('the matrix on model targets', () => {
  it('model:x86 agrees in every cell but the ones unsupported by design; the JSON validates', async () => {
    const { doc, reproducers } = await runMatrix({ targets: ['model:x86'], seed: 1, casesPerCell: 1, threads: 0, corpusDirs: [seeds], version: 'test' });
    expect(validateMatrix(JSON.parse(JSON.stringify(doc)))).toMatchObject({ ok: true });
    expect(reproducers.size).toBe(0);
    for (const c of doc.cells) {
      const r = c.results[0]!;
      if (unsupportedByDesign(c as Cell)) {
        expect(r, c.id).toMatchObject({ status: 'unsupported', cases: 0, reason: unsupportedByDesign(c as Cell) });
      } else {
        expect(r.status, `${c.id}: ${r.reason ?? ''}`).toBe('agrees');
        expect(r.cases, c.id).toBeGreaterThanOrEqual(1);
      }
    }
    expect(doc.targets[0]!.totals.faults).toBe(0);
    // 10 families x 6 backings x 4 mechanisms, less 50 unsupported by design: uffd x soft-dirty on
    // every backing (6), mremap/swap/thp/mthp on the two hugetlb backings (32), mthp on shared-anon
    // and the memfd backings (12)
    expect(doc.cells.filter((c) => !unsupportedByDesign(c as Cell))).toHaveLength(240 - 6 - 32 - 12);
    expect(doc.targets[0]!.totals.cases).toBe(240 - 6 - 32 - 12 + doc.corpus.length);
  }, 60_000);

  it('a mutant diverges only in the cells of the path it changes (B-3: change_protection; B-11: fork with uffd-wp)', async () => {
    const { doc, reproducers } = await runMatrix({ targets: ['model:x86+B-3', 'model:x86+B-11'], seed: 1, casesPerCell: 3, threads: 0, corpusDirs: [seeds] });
    const b3 = statusOf(doc, 0), b11 = statusOf(doc, 1);
    // B-3: mprotect cells diverge (soft-dirty: the RO->RW write goes without the soft-dirty fault);
    // other diverging cells may only be those that un-protect through UFFDIO_WRITEPROTECT
    expect(b3.get('mprotect/anon/soft-dirty')!.status).toBe('diverges');
    for (const [id, r] of b3) {
      const [family, , mechanism] = id.split('/');
      // (the thp family's split is an mprotect of one page away and back, workers/executor/README.md)
      if (r.status === 'diverges') expect(family === 'mprotect' || family === 'thp' || family === 'uffd' || mechanism === 'uffd-wp-sync', `${id}: ${r.buckets.map((b) => b.title).join('; ')}`).toBe(true);
      else if (r.status !== 'unsupported') expect(r.status, id).toBe('agrees');
    }
    for (const b of b3.get('mprotect/anon/soft-dirty')!.buckets) expect(b.title).toMatch(/soft-dirty lost/);
    // B-11: only cells that fork with userfaultfd (the fork family, and the mthp family's fork with a
    // CoW write), and among them anon ones (private CoW copies PTEs)
    const div11 = [...b11].filter(([, r]) => r.status === 'diverges').map(([id]) => id);
    expect(div11.length).toBeGreaterThan(0);
    for (const id of div11) expect(id).toMatch(/^(fork\/(anon|memfd-private)|mthp\/anon)\/(uffd-wp-sync|uffd-wp-async|scan)$/);
    expect(div11).toContain('fork/anon/uffd-wp-async');
    for (const [id, r] of b11) if (!div11.includes(id)) expect(['agrees', 'unsupported'], id).toContain(r.status);
    // every bucket names a stored reproducer that belongs to its cell
    for (const c of doc.cells) for (const r of c.results) for (const b of r.buckets) {
      const rep = reproducers.get(b.case_file!);
      expect(rep, b.case_file).toBeDefined();
      expect(validateCase(rep)).toEqual([]);
    }
  }, 90_000);

  it('B-18 (UFFDIO_UNREGISTER leaves wp bits behind) diverges in uffd-family cells only, under every uffd mechanism', async () => {
    const { doc } = await runMatrix({ targets: ['model:x86+B-18'], seed: 1, casesPerCell: 2, threads: 0, corpusDirs: [], cellFilter: (c) => c.family === 'uffd' || c.family === 'fork' || c.family === 'scan' });
    for (const c of doc.cells) {
      const r = c.results[0]!;
      if (c.family !== 'uffd') expect(r.status, c.id).toBe('agrees');
      else if (c.mechanism === 'soft-dirty') expect(r.status).toBe('unsupported');
    }
    expect(doc.cells.filter((c) => c.family === 'uffd' && c.results[0]!.status === 'diverges').length).toBeGreaterThanOrEqual(6);
  }, 60_000);
});

describe('the matrix on a target that shows nothing', () => {
  it('calls no cell "agrees" when every trace masks what the mechanism reports', async () => {
    const spec = `exec:${process.execPath} ${join(root, 'test/fixtures/masking-exec-target.mjs')}`;
    const { doc } = await runMatrix({ targets: [spec], seed: 1, casesPerCell: 2, threads: 0, corpusDirs: [], cellFilter: (c) => c.family === 'clear_refs' && c.backing === 'anon' });
    const r = statusOf(doc);
    // every case is a SKIP (its asserted soft-dirty bits all masked), never an agreement
    expect(r.get('clear_refs/anon/soft-dirty')).toMatchObject({ status: 'unsupported', agreeing: 0 });
    expect(r.get('clear_refs/anon/soft-dirty')!.reason).toMatch(/soft-dirty bit \(pagemap bit 55\) is masked|asserts soft-dirty, which this target cannot show/);
    for (const m of ['uffd-wp-sync', 'uffd-wp-async']) expect(r.get(`clear_refs/anon/${m}`)!.reason, m).toMatch(/uffd-wp bit \(pagemap bit 57\) is masked|asserts uffd-wp.*which this target cannot show/);
    expect(r.get('clear_refs/anon/scan')!.reason).toMatch(/no trace has a PAGEMAP_SCAN result or error|which this target cannot show/);
    for (const c of doc.cells) expect(c.results[0]!.status, c.id).toBe('unsupported');
  }, 30_000);
});

describe('ptefarm-matrix/2 validation', () => {
  it('names the path of a bad field', async () => {
    const { doc } = await runMatrix({ targets: ['model:x86'], seed: 1, casesPerCell: 0, threads: 0, corpusDirs: [] });
    expect(validateMatrix(doc).ok).toBe(true);
    const bad = JSON.parse(JSON.stringify(doc)) as { cells: { results: { status: string }[] }[]; format: string };
    bad.cells[3]!.results[0]!.status = 'fine';
    const v = validateMatrix(bad);
    expect(v.ok).toBe(false);
    if (!v.ok) expect(v.problems.join('\n')).toMatch(/cells\.3\.results\.0\.status/);
    // a /1 document (no mthp family, no hugetlb backings) is not read as /2
    expect(validateMatrix({ ...doc, format: 'ptefarm-matrix/1' }).ok).toBe(false);
  });
});
