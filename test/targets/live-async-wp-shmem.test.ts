// Live: a WP_ASYNC write to a shmem THP that PAGEMAP_SCAN's arming write-protected whole by PMD
// (R-ASYNC-2, src/model/machine.ts writeHuge; test/model/async-wp-shmem-pmd.test.ts states the
// kernel path). wp_huge_pmd zaps the file PMD (no marker) and the refault maps the page-cache THP by
// PMD again without uffd-wp: every page loses uffd-wp, and a later scan reports all 512 WRITTEN. An
// anonymous THP is split instead, only the written page un-protected. Each run requires no violation
// against the reference model (the helper); the kernel's own answer is asserted where the collapse
// gave a THP (`huge` outcome) and skipped with the reason otherwise.
import { describe, expect, it } from 'vitest';
import { liveTextRunner } from '../helpers/live-text.ts';
import type { Trace } from '../../src/ops/trace.ts';

const run = liveTextRunner('ptefarm-case/1');
/** the uffd-wp bit (W) of every page of region a after step `step` */
const wpBits = (tr: Trace, step: number) => tr.steps[step].pages!['0'].a.map((s) => s[4]).join('');
const huge = (tr: Trace, step: number) => (tr.steps[step].outcome?.huge?.a ?? []).includes(0);
const NO_THP = 'the collapse gave no shmem THP on this host just now (THP off, shmem_enabled=deny, or fragmented memory)';

describe('live: WP_ASYNC write to a scan-armed shmem PMD', () => {
  for (const kind of ['memfd-shared', 'shared-anon']) {
    it(`${kind}: the write un-protects all 512 pages, which stay mapped; a later scan finds them all WRITTEN`, async (ctx) => {
      const { tr } = await run(`mmap a pages=512 kind=${kind} thp
        write a[89]
        collapse a[..1)
        uffd_register a
        scan a wp_matching
        write a[312]
        scan a`, 'wp_async');
      if (!huge(tr, 2)) { ctx.skip(NO_THP); return; }
      expect(wpBits(tr, 4)).toBe('W'.repeat(512));
      expect(wpBits(tr, 5)).toBe('.'.repeat(512));
      expect(tr.steps[5].pages!['0'].a.every((s) => s[0] === 'P')).toBe(true);
      // still one PMD (HUGE in the scan categories, whose second letter is WRITTEN)
      expect(tr.steps[6].scan!['0'].a.every((s) => s[1] === 'w' && s.includes('h'))).toBe(true);
    });
  }

  it('anon: the THP is split and only the written page un-protected', async (ctx) => {
    const { tr } = await run(`mmap a pages=512 kind=anon thp
      write a
      uffd_register a
      scan a wp_matching
      write a[3]`, 'wp_async');
    if (!huge(tr, 1)) { ctx.skip('no anonymous THP at the first write just now'); return; }
    expect(wpBits(tr, 4)).toBe('WWW.' + 'W'.repeat(508));
  });
});
