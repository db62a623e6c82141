// The content oracle's rules (src/model/content.ts, R-DATA-*), each pinned by a scenario and the
// value the kernel keeps there (written by hand from the kernel function named; W(op, page) is
// the value op `op` writes at page `page` of its region). null: the model maps no page there (the
// executor reads nothing there). Then the check: a wrong value is a `data` violation ranked
// before every bit, named after the rule that decided the value; a value read where the model
// maps nothing is masked, counted.
import { describe, expect, it } from 'vitest';
import { predict } from '../../src/model/model.ts';
import { parseTextCase } from '../../src/ops/text.ts';
import { writeValue as W } from '../../src/model/content.ts';
import type { Prediction } from '../../src/model/api.ts';
import { checkTrace } from '../../src/check/check.ts';
import { ModelTarget } from '../../src/targets/model.ts';
import { caseSignature, firstDivergence } from '../../src/findings/signature.ts';
import { titleOf } from '../../src/findings/title.ts';
import { decodeContent } from '../../src/targets/executor/protocol.ts';
import { traceSchema, type Trace } from '../../src/ops/trace.ts';
import { SEVERITY_ORDER } from '../../src/check/types.ts';

const text = (body: string, uffd?: string) => `ptefarm-case/1\n${uffd !== undefined ? `uffd features=${uffd}\n` : ''}${body.trim().split('\n').map((l) => l.trim()).join('\n')}\n`;
const run = (body: string, uffd?: string): Prediction => predict(parseTextCase(text(body, uffd)));
const vals = (p: Prediction, step: number, region = 'a', proc = 0) => p.steps[step].content?.[String(proc)]?.[region];

describe('content rules (R-DATA-*)', () => {
  it('R-DATA-1: a write stores W(op, page) in every page it writes; a read stores nothing', () => {
    const p = run('mmap a pages=3 kind=anon\nwrite a[1..3)\nread a');
    expect(vals(p, 1)).toEqual([null, W(1, 1), W(1, 2)]);
    expect(vals(p, 2)).toEqual([0, W(1, 1), W(1, 2)]);
  });
  it('R-DATA-1/R-POP-1: MADV_POPULATE_WRITE faults the page in but stores nothing (mm/gup.c faultin_page)', () => {
    const p = run('mmap a pages=1 kind=anon\nwrite a\nfork\npopulate a write');
    // the populate write CoWs the shared page: the copy keeps the content (wp_page_copy)
    expect(vals(p, 3)).toEqual([W(1, 0)]);
  });
  it('R-DATA-2: fresh pages read zero: an anon read fault (zero page or not), a THP, a new shmem page (do_anonymous_page, shmem_alloc_and_add_folio)', () => {
    const p = run('mmap a pages=1 kind=anon\nmmap b pages=512 kind=anon thp\nmmap c pages=1 kind=memfd-shared\nread a\nwrite b[5]\nread c');
    expect(vals(p, 3, 'a')).toEqual([0]);
    expect(vals(p, 4, 'b')?.slice(4, 7)).toEqual([0, W(4, 5), 0]);
    expect(vals(p, 5, 'c')).toEqual([0]);
  });
  it('R-DATA-3/R-DATA-8: fork shares the values; a CoW write in the child copies the page, the parent keeps its value (copy_present_ptes, wp_page_copy)', () => {
    const p = run('mmap a pages=2 kind=anon\nwrite a\nfork\np1 write a[0]');
    expect(vals(p, 2, 'a', 1)).toEqual([W(1, 0), W(1, 1)]);
    expect(vals(p, 3, 'a', 0)).toEqual([W(1, 0), W(1, 1)]);
    expect(vals(p, 3, 'a', 1)).toEqual([W(3, 0), W(1, 1)]);
  });
  it('R-DATA-3: a private memfd write copies the page-cache page; a shared memfd write goes to the page cache the other mapping reads (do_cow_fault, do_shared_fault)', () => {
    const p = run('mmap a pages=1 kind=memfd-shared\nwrite a\nfork\np1 write a\nmmap b pages=1 kind=memfd-private\nread b\nwrite b');
    expect(vals(p, 3, 'a', 0)).toEqual([W(3, 0)]); // shared: the child's write is the parent's too
    expect(vals(p, 5, 'b')).toEqual([0]);
    expect(vals(p, 6, 'b')).toEqual([W(6, 0)]);
  });
  it('R-DATA-5: an anon page swapped out is not mapped (nothing read); swap-in brings its value back (do_swap_page)', () => {
    const p = run('mmap a pages=2 kind=anon\nwrite a\npageout a\nread a[0]');
    expect(vals(p, 2)).toEqual([null, null]);
    expect(vals(p, 3)).toEqual([W(1, 0), null]);
  });
  it('R-DATA-4: shmem keeps the value through swap-out and MADV_DONTNEED (shmem_writeout, shmem_swapin_folio)', () => {
    const p = run('mmap a pages=2 kind=shared-anon\nwrite a\npageout a[0]\ndontneed a[1]\nread a');
    expect(vals(p, 4)).toEqual([W(1, 0), W(1, 1)]);
  });
  it('R-DATA-7: MADV_DONTNEED zero-fills private anon and refaults a private memfd\'s page cache (zap_pte_range, do_anonymous_page, do_read_fault)', () => {
    const p = run('mmap a pages=1 kind=anon\nmmap b pages=1 kind=memfd-private\nwrite a\nwrite b\ndontneed a\ndontneed b\nread a\nread b');
    expect(vals(p, 3, 'b')).toEqual([W(3, 0)]);
    expect(vals(p, 7, 'a')).toEqual([0]);
    expect(vals(p, 7, 'b')).toEqual([0]);
  });
  it('R-DATA-6: MADV_COLLAPSE copies the small pages (swapped ones included) into the THP; none PTEs become zero (__collapse_huge_page_copy)', () => {
    const p = run('mmap a pages=512 kind=anon thp\nsplit a page=0\nwrite a[0..3)\ndontneed a[1]\npageout a[2]\ncollapse a');
    expect(p.steps[5].rc).toBe(0);
    expect(vals(p, 5)?.slice(0, 4)).toEqual([W(2, 0), 0, W(2, 2), 0]);
  });
  it('a folio split keeps the values; only zero-filled subpages become the zero page (try_to_map_unused_to_zeropage)', () => {
    const p = run('mmap a pages=512 kind=anon thp\nwrite a[7]\npageout a[0..4)');
    expect(vals(p, 2)?.slice(4, 9)).toEqual([0, 0, 0, W(1, 7), 0]);
  });
  it('mremap moves the pages with their values; PROT_NONE keeps them readable to the oracle', () => {
    const p = run('mmap a pages=2 kind=anon\nwrite a\nmprotect a prot=none\nmremap a');
    expect(vals(p, 3)).toEqual([W(1, 0), W(1, 1)]);
  });
  it('a sync uffd-wp fault is resolved and the write lands; WP_ASYNC likewise', () => {
    const p = run('mmap a pages=1 kind=anon\nwrite a\nuffd_register a\nwp a on\nwrite a', '');
    expect(vals(p, 4)).toEqual([W(4, 0)]);
  });
});

describe('the check of values read back', () => {
  const c = parseTextCase(text('mmap a pages=2 kind=anon\nwrite a\npageout a\nread a'));
  const good = (): Trace => new ModelTarget('model:x86').executeSync(c);

  it('the reference agrees with itself and counts the values it compared', () => {
    const v = checkTrace(c, good());
    expect(v.ok).toBe(true);
    expect(v.bits.content).toEqual({ compared: 4, masked: 0 });
  });
  it('a wrong value is a data violation, ranked first, named after the rule that decided the value', () => {
    const t = good();
    t.steps[3].content!['0']!.a![1] = 0;
    t.steps[3].pages!['0']!.a![1] = 'P.....'; // a bit divergence at the same step too
    const v = checkTrace(c, t);
    expect(v.ok).toBe(false);
    const f = firstDivergence(v.violations)!;
    expect(f.root.kind).toBe('data');
    expect(f.root.severity).toBe('data');
    expect(f.root.rule).toBe('R-DATA-5');
    expect(caseSignature(v.violations)).toBe('data.content.data-lost.R-DATA-5.page');
    expect(titleOf(f.root, c)).toBe('data lost on swap-in of anon PTE (R-DATA-5, mm/memory.c do_swap_page)');
    expect(SEVERITY_ORDER[0]).toBe('data');
    expect(SEVERITY_ORDER.indexOf('data')).toBeLessThan(SEVERITY_ORDER.indexOf('lost'));
  });
  it('a value read where the model maps no page is masked, counted, never a violation', () => {
    const t = good();
    t.steps[2].content!['0']!.a = [W(1, 0), 12345];
    const v = checkTrace(c, t);
    expect(v.violations.filter((x) => x.kind === 'data')).toEqual([]);
    expect(v.bits.content).toEqual({ compared: 4, masked: 2 });
  });
  it('the trace schema bounds values; the executor\'s runs decode, bad tokens are refused by name', () => {
    const t = good();
    (t.steps[1].content!['0']!.a as unknown[])[0] = 'x';
    expect(traceSchema.safeParse(t).success).toBe(false);
    expect(decodeContent(['-2', '131072+3', '0x2', '99999999999999999999x1'], 'c 0 0')).toEqual([null, null, 131072, 131073, 131074, 0, 0, -1]);
    expect(() => decodeContent(['7y1'], 'c 0 0 7y1')).toThrow(/bad token "7y1"/);
  });
});
