// Report formats from a hand-made GateRun: KTAP plan matches its test points, directives and
// diagnostics; markdown leads with the verdict.
import { describe, expect, it } from 'vitest';
import type { GateRun } from '../../src/report/run.ts';
import { toKtap } from '../../src/report/ktap.ts';
import { toMarkdown } from '../../src/report/markdown.ts';
import { toHtml } from '../../src/report/html.ts';
import { stepTableHtml } from '../../src/report/bucket-html.ts';
import { ALL_RULES } from '../../src/model/catalogue.ts';

const run: GateRun = {
  format: 'ptefarm-gate/1', target: 'model:x86+B-3', seed: 1, started: '2026-01-01T00:00:00.000Z', elapsed_s: 1.5,
  budget: { cases: 10 }, reproduce_runs: 3, corpus_dirs: ['corpus/seeds'], verdict: 'fail', exit_code: 1,
  reasons: ['new reproducible violation bit.D.lost.R-X.write.pte'], errors: [],
  corpus: [
    { path: 'corpus/seeds/a.json', status: 'pass', signatures: [], ms: 3 },
    { path: 'corpus/seeds/b#1.json', status: 'fail', signatures: ['bit.D.lost.R-X.write.pte'], message: 'step 1 <write> & "x"', ms: 4 },
    { path: 'corpus/seeds/c.json', status: 'skip', signatures: [], message: 'no uffd', ms: 0 },
  ],
  campaign: { target: 'model:x86+B-3', seed: 1, cases: 10, violations: 2, faults: 0, skipped: 0, elapsed_s: 1, cases_per_s: 10, coverage: { rules_hit: 1, rules_total: 2, rules: ['R-X'] }, stopped: 'reached 10 cases', buckets: 2 },
  timeline: [{ t: 0, cases: 0 }, { t: 1, cases: 10 }], faults: [],
  buckets: [
    { signature: 'bit.D.lost.R-X.write.pte', title: 'soft-dirty lost on write fault of anon PTE (R-X, mm/x.c f)', source: 'corpus/seeds/b#1.json', status: 'new', hits: 2, ops: 3, minimized: false, reproduced: 3, runs: 3, example: 'step 1 <write>', step: 1, consequences: 4, case_file: 'cases/x.json' },
    { signature: 'bit.W.wp-lost.R-Y.wp.pte', title: 'uffd-wp lost on UFFDIO_WRITEPROTECT of anon PTE (R-Y, mm/y.c g)', source: 'campaign', status: 'flaky', hits: 1, ops: 2, minimized: true, reproduced: 1, runs: 3, example: 'e', step: 1, consequences: 0, case_file: 'cases/y.json' },
    { signature: 'bit.D.spurious.R-Z.mmap.pte', title: 'soft-dirty set spuriously on mmap of anon PTE (R-Z, mm/z.c h)', source: 'campaign', status: 'baseline', reason: 'no soft-dirty', hits: 1, ops: 1, minimized: true, reproduced: 3, runs: 3, example: 'e', step: 0, consequences: 0, case_file: 'cases/z.json' },
  ],
};

describe('reports', () => {
  it('KTAP: version line, plan = number of test points, SKIP directives, no # in names', () => {
    const k = toKtap(run);
    const lines = k.trimEnd().split('\n');
    expect(lines[0]).toBe('KTAP version 1');
    const plan = lines.find((l) => /^1\.\.\d+$/.test(l))!;
    const points = lines.filter((l) => /^(not )?ok \d+ /.test(l));
    expect(plan).toBe(`1..${points.length}`);
    points.forEach((l, i) => expect(l).toMatch(new RegExp(`^(not )?ok ${i + 1} `)));
    expect(k).toMatch(/^ok 3 corpus corpus\/seeds\/c\.json # SKIP no uffd$/m);
    expect(k).toMatch(/^not ok 2 corpus corpus\/seeds\/bno\.1\.json$/m);
    // the title leads the test name, the signature (what baselines match) follows
    expect(k).toMatch(/^not ok 4 bucket soft-dirty lost on write fault of anon PTE \(R-X, mm\/x\.c f\) \[bit\.D\.lost\.R-X\.write\.pte\]$/m);
    expect(k).toMatch(/^# soft-dirty lost on write fault of anon PTE \(R-X, mm\/x\.c f\)\n# NEW; reproduced 3\/3; 2 hit\(s\); 3 op\(s\); first divergence at step 1 \(4 later violation\(s\): consequences\)/m);
    expect(k).toMatch(/^ok 5 bucket .*\[bit\.W\.wp-lost\.R-Y\.wp\.pte\] # SKIP flaky: reproduced 1\/3$/m);
    expect(k).toMatch(/^ok 6 bucket .*\[bit\.D\.spurious\.R-Z\.mmap\.pte\] # SKIP baseline: no soft-dirty$/m);
    expect(k).toMatch(/^# Totals: pass:2 fail:2 xfail:0 xpass:0 skip:3 error:0$/m);
  });

  it('HTML: opens on the root causes (titles, then step sections) before errors, plots, corpus and reasons', () => {
    const h = toHtml({ ...run, errors: ['executor died'] }, []);
    const at = (needle: string) => { const i = h.indexOf(needle); expect(i, needle).toBeGreaterThan(0); return i; };
    // the first heading after the verdict is the root causes; the new bucket's title is its first row
    expect(h.match(/<h2[^>]*>[^<]*/g)![0]).toBe('<h2 id="root-causes">Root causes (3)');
    expect(at('soft-dirty lost on write fault of anon PTE')).toBeLessThan(at('uffd-wp lost on UFFDIO_WRITEPROTECT'));
    const lastSection = h.lastIndexOf('<section class="bucket"');
    for (const later of ['<h2>Infrastructure errors', '<h2>Plots', '<h2>Corpus', '<h2>Why the gate failed']) expect(at(later), later).toBeGreaterThan(lastSection);
    // no reason bullets above the buckets
    expect(h.indexOf('<li>')).toBeGreaterThan(lastSection);
  });

  it('HTML: coverage counts over the whole catalogue, as the campaign counts it (sub-rules included)', () => {
    const ids = ALL_RULES.map((r) => r.id);
    const sub = ids.find((id) => id.includes('.'))!;
    const h = toHtml({ ...run, campaign: { ...run.campaign!, coverage: { rules_hit: 2, rules_total: ids.length, rules: ['R-PM-1', sub, 'R-NOT-A-RULE'] } } }, []);
    // a machine rule and a PAGEMAP_SCAN sub-rule count; an id outside the catalogue does not
    expect(h).toContain(`rule coverage by family (2/${ids.length} rules)`);
    // the plot's figure and the campaign line's agree
    expect(h).toContain(`rules covered 2/${ids.length}`);
    // the section is rendered by the piece the live dashboard shares (src/report/bucket-html.ts)
    expect(h).toMatch(/<h3>soft-dirty lost on write fault of anon PTE \(R-X, mm\/x\.c f\)<br><code>[^<]+<\/code> <span class="st-new">/);
    expect(h).toContain('first divergence: step 1 &lt;write&gt; (4 later violation(s): consequences)');
  });

  it('HTML step table: a folded run of pages in the case text notation, a[0..512)', () => {
    const row = (first: number, last: number) => ({ first, last, expected: 'P.....', actual: 'P.....', diff: [] });
    const h = stepTableHtml({ signature: 's', rows: [{ step: 0, op: 'mmap a', rc: { expected: '0', actual: '0', diff: false }, mismatches: 0,
      regions: [{ proc: '0', region: 'a', kind: 'pagemap', runs: [row(0, 511), row(512, 512)] }] }] });
    expect(h).toContain('<td>[0..512)</td>');
    expect(h).toContain('<td>[512]</td>');
    expect(h).not.toMatch(/\d[–-]\d/);
  });

  it('markdown: verdict heading, new bucket table, flaky and baseline sections', () => {
    const m = toMarkdown(run);
    expect(m.split('\n')[0]).toBe('## ❌ ptefarm gate: FAIL on `model:x86+B-3`');
    expect(m).toContain('| **soft-dirty lost on write fault of anon PTE (R-X, mm/x.c f)** | 3/3 | 2 | 3 | step 1 <write> | `bit.D.lost.R-X.write.pte` |');
    expect(m).toContain('### Flaky (not failing the gate)');
    expect(m).toContain('- soft-dirty set spuriously on mmap of anon PTE (R-Z, mm/z.c h) `bit.D.spurious.R-Z.mmap.pte`: no soft-dirty');
  });
});
