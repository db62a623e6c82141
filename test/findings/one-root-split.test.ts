// One root, one bucket, where the root is a THP split the trace does not show: a shmem PMD that a
// fault splits is zapped (R-SPLIT-3, mm/huge_memory.c __split_huge_pmd_locked: no page table for a
// file PMD), and a kernel that maps it again (finish_fault -> do_set_pmd) or keeps it diverges from
// the model on the 511 pages the split emptied, not on the page the fault wrote. Which op made that
// fault — a write, or MADV_POPULATE_WRITE (faultin_page -> handle_mm_fault, the same fault) — is the
// case's accident: both name the split (the model keeps why the pages are empty: Machine.splitPmd's
// p.gone). The README campaign's seed 16 on the model before aad9443 (R-ASYNC-2) gave these as two
// buckets, bit.entry.mismatch.R-FLT-10.empty and …R-POP-1.empty (and a third, R-MUNMAP-1.page, a
// later munmap's consequence of the mapping level, which this does not merge).
import { describe, expect, it } from 'vitest';
import { predict, type ObservedStep } from '../../src/model/model.ts';
import { checkTrace } from '../../src/check/check.ts';
import { caseSignature, firstDivergence } from '../../src/findings/signature.ts';
import { parseTextCase } from '../../src/ops/text.ts';
import type { Case } from '../../src/ops/schema.ts';
import type { Trace } from '../../src/ops/trace.ts';

const caseOf = (body: string): Case =>
  parseTextCase(`ptefarm-case/1\nuffd features=wp_async\n${body.trim().split('\n').map((l) => l.trim()).join('\n')}\n`);
/** the live trace's outcomes: the collapse (step 2) made block 0 huge, nothing else did */
const outcomes = (c: Case): ObservedStep[] =>
  c.ops.map((_, i) => ({ outcome: { huge: i === 2 ? { a: [0] } : ({} as Record<string, number[]>) } }));

/** A kernel that maps the THP again after the last step's fault (as live 6.18 does for a shared
 *  one): the model's trace, with every page the model left empty at the last step shown as it was
 *  at the step before (present), without uffd-wp. */
function keptTrace(c: Case): Trace {
  const obs = outcomes(c);
  const pred = predict(c, obs);
  const last = pred.steps.length - 1;
  const steps = pred.steps.map((s, i) => {
    const pages = structuredClone(s.pages);
    if (i === last) {
      const before = pred.steps[i - 1]!.pages['0']!.a!;
      pages['0']!.a = pages['0']!.a!.map((str, pg) => (str[0] === '.' ? `${before[pg]!.slice(0, 4)}.${before[pg]!.slice(5)}` : str));
    }
    return { op: s.op, rc: s.rc, outcome: obs[i]!.outcome, events: s.events, pages, ...(s.scan ? { scan: s.scan } : {}) };
  });
  return {
    format: 'ptefarm-trace/1',
    target: { name: 'kept-pmd', arch: 'x86_64', kernel: 'model-6.18', capabilities: { soft_dirty: true, uffd_wp: true, wp_async: true, pagemap_scan: true, swap: true, thp: true, event_fork: true } },
    steps,
  } as Trace;
}

const ARMED = `mmap a pages=512 kind=memfd-private thp
  read a[89]
  collapse a[..1)
  uffd_register a
  scan a wp_matching`;

describe('a fault that splits a shmem PMD: one signature whichever op faulted', () => {
  it('a write and a populate write diverging on the pages the split emptied name the split (R-SPLIT-3)', () => {
    const sigs: string[] = [];
    const why: string[][] = [];
    for (const fault of ['write a[312]', 'populate a[312] write']) {
      const c = caseOf(`${ARMED}\n${fault}`);
      // the model zaps the wp PMD (R-ASYNC-2 -> R-SPLIT-3) and maps the written page alone
      const pred = predict(c, outcomes(c));
      expect(pred.steps[5]!.pages['0']!.a![0]![0]).toBe('.');
      const v = checkTrace(c, keptTrace(c));
      const f = firstDivergence(v.violations)!;
      expect(f.step).toBe(5);
      sigs.push(caseSignature(v.violations)!);
      why.push(f.root.rules.slice(-2));
    }
    expect(sigs).toEqual(['bit.entry.mismatch.R-SPLIT-3.empty', 'bit.entry.mismatch.R-SPLIT-3.empty']);
    // the root's history says why the page is empty: the wp fault's split of the PMD
    expect(why).toEqual([['R-ASYNC-2', 'R-SPLIT-3'], ['R-ASYNC-2', 'R-SPLIT-3']]);
  });
});
