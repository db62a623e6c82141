// R-PMS-11 (fs/proc/task_mmu.c pagemap_scan_get_args): a kernel refuses a category mask bit it does
// not know with EINVAL before any walk — PAGE_IS_GUARD (1 << 8) arrived in 6.15, so a 6.12 kernel
// fails a scan whose masks name GUARD, and a scan that names no return_mask gets every category
// that kernel knows (ptefarm's executor probes them: ptefarm-mm.h scan_return_mask). Seen on the
// qemu:debian-6.12-amd64 guest, where ptefarm-case/2 scans first all failed with EINVAL.
import { describe, expect, it } from 'vitest';
import { parseCase } from '../../src/ops/validate.ts';
import { predict } from '../../src/model/model.ts';

const scanCase = (scan: Record<string, unknown>) => parseCase({
  format: 'ptefarm-case/2',
  ops: [{ op: 'mmap', region: 'a', pages: 2, kind: 'anon' }, { op: 'write', region: 'a' }, { op: 'scan', region: 'a', ...scan }],
});

describe('PAGEMAP_SCAN category masks and the kernel release (R-PMS-11)', () => {
  it('6.12: a GUARD bit in any mask is EINVAL; 6.18 walks', () => {
    for (const field of ['category_mask', 'category_inverted', 'category_anyof_mask', 'return_mask']) {
      const c = scanCase({ [field]: 'g' });
      const old = predict(c, undefined, { profile: '6.12' }).steps[2]!;
      expect(old.rc, field).toBe('EINVAL');
      expect(old.rules, field).toContain('R-PMS-11');
      expect(predict(c, undefined, { profile: '6.18' }).steps[2]!.rc, field).toBe(0);
    }
  });

  it('6.12: without a return_mask the scan succeeds and reports the written pages', () => {
    const s = predict(scanCase({ category_mask: 'p' }), undefined, { profile: '6.12' }).steps[2]!;
    expect(s.rc).toBe(0);
    expect(s.rules).not.toContain('R-PMS-11');
    expect(Object.values(s.scan ?? {}).length).toBeGreaterThan(0);
  });
});
