// The markdown summary always fits in one GitHub comment (65,536 characters): with hundreds of
// buckets, errors and failing corpus cases, the top buckets (most hits) come first and the rest
// are counted; a single bug is written once.
import { describe, expect, it } from 'vitest';
import type { GateBucket, GateRun } from '../../src/report/run.ts';
import { toMarkdown } from '../../src/report/markdown.ts';

const GITHUB_COMMENT_LIMIT = 65_536;
const long = (s: string, n: number) => (s + ' ').repeat(Math.ceil(n / (s.length + 1))).slice(0, n);

function bucket(i: number, status: GateBucket['status'], hits: number): GateBucket {
  return {
    signature: `bit.D.lost.R-T-${i}.write.pte`, title: `soft-dirty lost on path ${i} ${long('of a long kernel function name', 180)}`,
    source: 'campaign', status, ...(status === 'baseline' ? { reason: long('accepted because', 150) } : {}), hits, ops: 3 + (i % 7), minimized: true,
    reproduced: status === 'flaky' ? 1 : 3, runs: 3, example: `step 2 mprotect a${i}: ${long('p0 a[0..511] D expected 1 got 0 |pipe|', 400)}`,
    step: 2, consequences: 1, case_file: `cases/b${i}.json`,
  };
}

function runWith(n: { fresh: number; flaky?: number; baseline?: number; errors?: number; badCorpus?: number }): GateRun {
  // hits not in signature order, so "top first" is not the input order
  const buckets = [
    ...Array.from({ length: n.fresh }, (_, i) => bucket(i, 'new', ((i * 37) % n.fresh) + 1)),
    ...Array.from({ length: n.flaky ?? 0 }, (_, i) => bucket(10_000 + i, 'flaky', 1)),
    ...Array.from({ length: n.baseline ?? 0 }, (_, i) => bucket(20_000 + i, 'baseline', 1)),
  ];
  return {
    format: 'ptefarm-gate/1', target: 'exec:./single-bug', seed: 1, started: '2026-01-01T00:00:00.000Z', elapsed_s: 12,
    budget: { cases: 5000 }, reproduce_runs: 3, corpus_dirs: ['corpus/seeds'], verdict: n.fresh ? 'fail' : 'pass', exit_code: n.fresh ? 1 : 0,
    reasons: buckets.filter((b) => b.status === 'new').map((b) => `new reproducible violation: ${b.title} [${b.signature}]: ${b.example}`),
    errors: Array.from({ length: n.errors ?? 0 }, (_, i) => `corpus case corpus/seeds/x${i}.json faulted: ${long('executor died', 300)}`),
    corpus: Array.from({ length: n.badCorpus ?? 0 }, (_, i) => ({ path: `corpus/seeds/c${i}.json`, status: 'fail' as const, signatures: ['s'], title: long('t', 150), message: long('m', 300), ms: 1 })),
    campaign: { target: 'x', seed: 1, cases: 5000, violations: 900, faults: 0, skipped: 0, elapsed_s: 12, cases_per_s: 400, coverage: { rules_hit: 80, rules_total: 114, rules: [] }, stopped: 'reached 5000 cases', buckets: buckets.length },
    timeline: [], faults: [], buckets,
  };
}

const rowsOf = (m: string) => m.split('\n').filter((l) => l.startsWith('| **'));

describe('markdown summary size', () => {
  it('100 new buckets: under the comment limit, the top buckets by hits in the table, the rest counted', () => {
    const run = runWith({ fresh: 100 });
    const m = toMarkdown(run);
    console.log(`markdown for a 100-bucket run: ${m.length} characters, ${rowsOf(m).length} bucket rows`);
    expect(m.length).toBeLessThan(GITHUB_COMMENT_LIMIT);
    const rows = rowsOf(m);
    const more = Number(/_… and (\d+) more new buckets/.exec(m)?.[1] ?? 0);
    expect(rows.length + more).toBe(100);
    // the rows shown are the buckets with the most hits, most first
    const hits = rows.map((r) => Number(r.split(' | ')[2]));
    const best = run.buckets.map((b) => b.hits).sort((a, b) => b - a).slice(0, rows.length);
    expect(hits).toEqual(best);
    // the tail is always there
    expect(m).toContain('### Corpus and campaign');
  });

  it('a flood (400 new, 60 flaky, 60 baseline buckets, 300 errors, 600 failing corpus cases) still fits, each list counted', () => {
    const m = toMarkdown(runWith({ fresh: 400, flaky: 60, baseline: 60, errors: 300, badCorpus: 600 }));
    expect(m.length).toBeLessThan(GITHUB_COMMENT_LIMIT);
    expect(m).toMatch(/_… and \d+ more new buckets/);
    expect(m).toContain('### Corpus and campaign');
    // an opened <details> is closed
    expect((m.match(/<details>/g) ?? []).length).toBe((m.match(/<\/details>/g) ?? []).length);
    // the table is never cut mid-row: every row has its 7 separators
    for (const r of rowsOf(m)) expect(r.replace(/\\\|/g, '').split('|').length).toBe(8);
  });

  it('a small run lists everything, and one bug is written once', () => {
    const run = runWith({ fresh: 1, flaky: 2 });
    const m = toMarkdown(run);
    expect(m).not.toContain('more new buckets');
    expect(rowsOf(m)).toHaveLength(1);
    // the bucket's title and example appear once (the table), not again as a reason bullet
    expect(m.split(run.buckets[0].title.slice(0, 60)).length - 1).toBe(1);
    expect(m.split(run.buckets[0].example.slice(0, 30)).length - 1).toBe(1);
    expect(m.split('\n').filter((l) => l.startsWith('- **')).length).toBe(2);
  });
});

describe('markdown bucket order', () => {
  it('a data bucket (a wrong value read back) comes before lost bits, whatever their hits (signatureRank)', () => {
    const run = runWith({ fresh: 3 });
    run.buckets[2] = { ...run.buckets[2], signature: 'data.content.data-lost.R-DATA-5.page', title: 'data lost on swap-in of anon PTE (R-DATA-5, mm/memory.c do_swap_page)', hits: 1 };
    const rows = rowsOf(toMarkdown(run));
    expect(rows[0]).toContain('data lost on swap-in');
    expect(rows).toHaveLength(3);
  });
});
