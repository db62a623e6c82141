// One bug, one bucket: campaigns against targets with exactly one injected kernel bug (a pagemap
// bit dropped on one kernel path, test/fixtures/single-bug-target.ts) find it as exactly ONE
// bucket, whose title names that path, and whose stored (minimized) case, re-checked, shows the
// bucket's signature at the step the bucket quotes. One bug also runs as a real exec: target.
import { describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import type { Case } from '../../src/ops/schema.ts';
import type { Target } from '../../src/targets/target.ts';
import { runCampaign } from '../../src/campaign/campaign.ts';
import { referenceChecker } from '../../src/campaign/checker.ts';
import { InProcessTransport, defaultOpener } from '../../src/campaign/inprocess.ts';
import { checkTrace } from '../../src/check/check.ts';
import { caseSignature, firstDivergence } from '../../src/findings/signature.ts';
import { BUGS, buggyTrace } from '../fixtures/single-bug-target.ts';

const FIXTURE = fileURLToPath(new URL('../fixtures/single-bug-target.ts', import.meta.url));

/** the fixture's bug as an in-process target (same traces as the exec: program, no child process) */
function bugTarget(name: string): Target {
  const bug = BUGS[name]!;
  return {
    info: async () => buggyTrace({ format: 'ptefarm-case/1', ops: [] }, bug).target,
    execute: async (c: Case) => buggyTrace(c, bug),
    close: async () => undefined,
  };
}

// the kernel path each bug breaks, as the title must cite it (rule id, then the function)
const EXPECT: Record<string, { sig: RegExp; title: RegExp }> = {
  'pageout-drops-wp': { sig: /^bit\.W\.wp-lost\.R-PO-1\.page$/, title: /^uffd-wp lost on swap-out of \S+( \S+)? swap entry \(R-PO-1, mm\/rmap\.c try_to_unmap_one\)$/ },
  'swapin-drops-sd': { sig: /^bit\.D\.lost\.R-SWIN-1\.page$/, title: /^soft-dirty lost on swap-in of (anon|private memfd) PTE \(R-SWIN-1, mm\/memory\.c do_swap_page\)$/ },
  'fork-child-drops-sd': { sig: /^bit\.D\.lost\.R-FORK-3\.page$/, title: /^soft-dirty lost on fork of \S+( \S+)? PTE \(R-FORK-3, mm\/memory\.c __copy_present_ptes\)$/ },
  'mprotect-drops-wp': { sig: /^bit\.W\.wp-lost\.R-MPROT-1\.page$/, title: /^uffd-wp lost on mprotect of \S+( \S+)? PTE \(R-MPROT-1, mm\/mprotect\.c change_pte_range\)$/ },
};

// enough cases that each bug is found whatever the generator's current mix (a change-pte-range bug
// takes a uffd-wp PTE under a later mprotect: about 1 guided case in 400 finds the like mutant B-16,
// and 400 cases of seed 1 stopped finding it when the generator's mix changed), and that a second
// bucket would have room to show
const CASES = Number(process.env.PTEFARM_SINGLE_BUG_CASES ?? 1500);

describe('one injected bug gives one bucket', () => {
  for (const name of Object.keys(BUGS)) {
    it(`${name} (${BUGS[name]!.path}): ${CASES} cases, one bucket, minimized case reproduces its signature at its step`, async () => {
      const checker = await referenceChecker();
      const transport = new InProcessTransport(async () => bugTarget(name));
      const s = await runCampaign({ target: `single-bug:${name}`, transport, checker, seed: 1, cases: CASES });
      await transport.close();
      expect(s.faults).toBe(0);
      expect(s.violations).toBeGreaterThan(0);
      expect(s.buckets.map((b) => b.signature)).toHaveLength(1);
      const b = s.buckets[0]!;
      expect(b.signature).toMatch(EXPECT[name]!.sig);
      expect(b.title).toMatch(EXPECT[name]!.title);
      expect(b.minimized).toBe(true);
      // the numbers printed refer to the case printed: re-check the stored case
      const v = checkTrace(b.case, buggyTrace(b.case, BUGS[name]!));
      expect(caseSignature(v.violations)).toBe(b.signature);
      expect(firstDivergence(v.violations)!.step).toBe(b.step);
      expect(b.example).toMatch(new RegExp(`^step ${b.step} \\(`));
    }, 600_000);
  }

  it('the fixture speaks the exec: protocol (pageout-drops-wp through a child process)', async () => {
    const t = await defaultOpener(`exec:node --import tsx ${FIXTURE} pageout-drops-wp`);
    try {
      const c: Case = {
        format: 'ptefarm-case/1', uffd: { features: ['wp_async'] },
        ops: [{ op: 'mmap', region: 'a', pages: 2, kind: 'anon' }, { op: 'uffd_register', region: 'a' }, { op: 'write', region: 'a' },
          { op: 'wp', region: 'a', on: true }, { op: 'pageout', region: 'a' }, { op: 'mprotect', region: 'a', prot: 'r' }],
      };
      const v = checkTrace(c, await t.execute(c));
      // swap-out dropped the bit (step 4); still wrong at the mprotect (step 5): a consequence, not the signature
      expect(caseSignature(v.violations)).toBe('bit.W.wp-lost.R-PO-1.page');
      const f = firstDivergence(v.violations)!;
      expect(f.step).toBe(4);
      expect(f.atStep.map((x) => x.page)).toEqual([0, 1]);
      expect(f.consequences.map((x) => x.step)).toEqual([5, 5]);
    } finally { await t.close(); }
  }, 120_000);
});
