// Page.ptMaps / ptSwaps / pmdMaps (src/model/state.ts) are kept by PteTable and PmdTable as entries
// change and by Proc.alive as a process dies, instead of being counted over every process at each
// question. A change that bypassed the tables (or a death that kept counting) would silently
// change the exclusive bit (pagemap bit 56, R-PM-4) and the reuse decisions (R-FLT-8, R-FORK-8,
// R-PO-0). This test runs generated cases op by op on the Machine, with and without mutants, and
// after every op recounts each page's references the slow way — a walk over every live process's
// PTEs and huge PMDs, as mm/rmap.c's mapcount counts mappings — and compares.
import { describe, expect, it } from 'vitest';
import { Machine } from '../../src/model/machine.ts';
import { getProfile } from '../../src/model/profile.ts';
import { MUTANTS } from '../../src/model/mutants.ts';
import type { Page, Proc } from '../../src/model/state.ts';
import { GuidedGenerator } from '../../src/campaign/generate.ts';
import type { Case } from '../../src/ops/schema.ts';

/** every page any process's tables or any shmem object refers to, with the references of live
 *  processes counted by walking their tables */
function recount(procs: Proc[]): Map<Page, { pt: number; sw: number; pmd: number }> {
  const out = new Map<Page, { pt: number; sw: number; pmd: number }>();
  const at = (pg: Page) => { let c = out.get(pg); if (!c) out.set(pg, c = { pt: 0, sw: 0, pmd: 0 }); return c; };
  for (const p of procs) {
    for (const v of p.vmas) if (v.obj) for (const pg of v.obj.pages.values()) at(pg);
    for (const [, e] of p.ptes) {
      if (e.t !== 'present' && e.t !== 'swap') continue;
      const c = at(e.page);
      if (p.alive && !e.page.zero) { if (e.t === 'present') c.pt++; else c.sw++; }
    }
    for (const pmd of p.pmds.values()) {
      if (pmd.t !== 'huge' || !pmd.pages) continue;
      for (const pg of pmd.pages) { const c = at(pg); if (p.alive && !pg.zero) c.pmd++; }
    }
  }
  return out;
}

function checkCase(c: Case, mutant?: string): number {
  const m = new Machine(c, getProfile().knobs, mutant);
  let checked = 0;
  c.ops.forEach((op, i) => {
    const p = m.procs[op.proc ?? 0];
    if (!p?.alive) return;
    m.exec(op, i, undefined);
    for (const [pg, n] of recount(m.procs)) {
      const kept = { pt: pg.ptMaps, sw: pg.ptSwaps, pmd: pg.pmdMaps };
      if (kept.pt !== n.pt || kept.sw !== n.sw || kept.pmd !== n.pmd) {
        expect.fail(`op ${i} (${op.op}${mutant ? `, ${mutant}` : ''}): page ${pg.id} keeps ${JSON.stringify(kept)}, the tables hold ${JSON.stringify(n)}`);
      }
      checked++;
    }
  });
  return checked;
}

describe('page reference counts kept by the page tables', () => {
  it('match a recount over every live process after every op (guided cases, with forks, exits, CoW, swap, THP)', () => {
    const g = new GuidedGenerator(11);
    let checked = 0;
    const ops = new Set<string>();
    for (let k = 0; k < 150; k++) {
      const c = g.next();
      for (const op of c.ops) ops.add(op.op);
      checked += checkCase(c);
    }
    // the cases did exercise what changes references
    for (const op of ['fork', 'exit', 'write', 'pageout', 'dontneed', 'munmap', 'mremap', 'collapse']) expect(ops, op).toContain(op);
    expect(checked).toBeGreaterThan(10_000);
  });

  it('match under every mutant', () => {
    const g = new GuidedGenerator(12);
    for (const mu of MUTANTS) for (let j = 0; j < 3; j++) checkCase(g.next(), mu.id);
  });
});
