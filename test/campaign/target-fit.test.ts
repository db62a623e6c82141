// What the generator is told about a target (src/campaign/target-fit.ts): cases fit what the target
// can run and show. A kernel without CONFIG_MEM_SOFT_DIRTY reports soft_dirty false and shows no
// pagemap bit 55; a host without free 2 MiB hugetlb pages cannot map hugetlb regions; a 16 KiB-page
// kernel counts pages of 16 KiB (docs/page-size.md).
import { describe, expect, it } from 'vitest';
import type { TargetInfo } from '../../src/ops/trace.ts';
import { commonInfo, generateOptionsFor } from '../../src/campaign/target-fit.ts';
import { infoFromBeat } from '../../src/transport/worker-info.ts';
import type { WorkerBeat } from '../../src/transport/nats-common.ts';
import { GuidedGenerator, type GenerateOptions } from '../../src/campaign/generate.ts';
import type { Case } from '../../src/ops/schema.ts';
import { validateCase } from '../../src/ops/validate.ts';
import { assertedKinds } from '../../src/check/check.ts';

const caps = (softDirty: boolean): TargetInfo['capabilities'] => ({ soft_dirty: softDirty, uffd_wp: true, wp_async: true, pagemap_scan: true, swap: true, thp: true });
const info = (name: string, softDirty: boolean, host?: TargetInfo['host']): TargetInfo => ({ name, arch: 'x86_64', kernel: '6.18.0', capabilities: caps(softDirty), ...(host ? { host } : {}) });

describe('generateOptionsFor', () => {
  it('a model target gets the defaults: every bit shown, hugetlb cases, 4 KiB pages', () => {
    expect(generateOptionsFor(info('model:x86', true), () => false)).toEqual({});
  });

  it('a live kernel without soft-dirty and without free hugetlb pages gets neither kind of case that would only be skipped', () => {
    expect(generateOptionsFor(info('live', false), () => false)).toEqual({ hugetlbRatio: 0, softDirty: false });
    // with free 2 MiB pages the hugetlb cases stay
    expect(generateOptionsFor(info('live', false), () => true)).toEqual({ softDirty: false });
    // a QEMU guest reserves no hugetlb pages, whatever this host has
    expect(generateOptionsFor(info('qemu:debian-6.12-amd64', true), () => true)).toEqual({ hugetlbRatio: 0 });
  });

  it('the options it gives a kernel without soft-dirty leave out the cases that assert soft-dirty alone; a kernel with it keeps them', () => {
    const onlySd = (softDirty: boolean) => {
      const g = new GuidedGenerator(5, generateOptionsFor(info('live', softDirty), () => false));
      let n = 0;
      for (let i = 0; i < 400; i++) { const k = assertedKinds(g.next()); if (k.size === 1 && k.has('soft-dirty')) n++; }
      return n;
    };
    expect(onlySd(true)).toBeGreaterThan(20);
    expect(onlySd(false)).toBe(0);
  });

  it('a farm\'s workers of one target: the cases fit every one of them; a worker that announces nothing keeps the defaults', () => {
    const beat = (caps: Record<string, unknown>) => ({ id: 'w', target: 'live', caps }) as unknown as WorkerBeat;
    const full = infoFromBeat('live', beat({ soft_dirty: true, uffd_wp: true, hugetlb: true }), true);
    const noSd = infoFromBeat('live', beat({ soft_dirty: false, hugetlb: true }), true);
    const noHuge = infoFromBeat('live', beat({ soft_dirty: true, hugetlb: false }), true);
    const silent = infoFromBeat('live', beat({}), true);
    const fit = (...infos: TargetInfo[]) => { const i = commonInfo(infos); return generateOptionsFor(i, () => i.capabilities.hugetlb !== false); };
    expect(fit(full)).toEqual({});
    expect(fit(silent)).toEqual({});
    expect(fit(full, silent)).toEqual({});
    // one worker without soft-dirty, another without free hugetlb pages: neither kind of case, in any order
    expect(fit(full, noSd)).toEqual({ softDirty: false });
    expect(fit(noSd, full)).toEqual({ softDirty: false });
    expect(fit(noHuge, silent, noSd)).toEqual({ hugetlbRatio: 0, softDirty: false });
    // the matrix reads an unannounced capability as missing, the generator as not narrowed
    expect(infoFromBeat('live', beat({})).capabilities.soft_dirty).toBe(false);
    expect(silent.capabilities.soft_dirty).toBe(true);
  });

  it('a kernel before 6.7 (the 6.1 guest: no PAGEMAP_SCAN, no wp_async or wp_unpopulated) gets no THP case and no case asking for a feature it lacks, which its target would skip whole', () => {
    const old: TargetInfo = { name: 'qemu:debian-6.1-amd64', arch: 'x86_64', kernel: '6.1.0-57-amd64', capabilities: {
      soft_dirty: true, uffd_wp: true, wp_async: false, wp_unpopulated: false, event_fork: true, event_remap: true, event_unmap: true,
      pagemap_scan: false, swap: true, thp: true, hugetlb: false } };
    const opts = generateOptionsFor(old, () => true);
    expect(opts).toEqual({ hugetlbRatio: 0, thp: false, uffdFeatures: ['event_fork', 'event_remap', 'event_unmap'] });
    const thpCase = (c: Case) => c.ops.some((o) => (o.op === 'mmap' && o.thp) || o.op === 'collapse');
    const lacking = (c: Case) => (c.uffd?.features ?? []).some((f) => f === 'wp_async' || f === 'wp_unpopulated');
    const draw = (o: GenerateOptions) => { const g = new GuidedGenerator(7, o); return Array.from({ length: 400 }, () => g.next()); };
    const before = draw({ hugetlbRatio: 0 });
    const after = draw(opts);
    // measured on the 6.1 guest with seed 7: 150 of 400 cases skipped for THP, 55 for the features
    expect(before.filter(thpCase).length).toBeGreaterThan(60);
    expect(before.filter(lacking).length).toBeGreaterThan(20);
    expect(after.filter(thpCase)).toEqual([]);
    expect(after.filter(lacking)).toEqual([]);
    expect(after.flatMap((c) => validateCase(c))).toEqual([]);
    // the other features and uffd cases stay
    expect(after.filter((c) => c.uffd?.features?.includes('event_fork')).length).toBeGreaterThan(5);
  });

  it('a target with every capability draws the same cases as with no options (no draw repeated)', () => {
    const full: TargetInfo = { name: 'live', arch: 'x86_64', kernel: '6.18.44', capabilities: {
      soft_dirty: true, uffd_wp: true, wp_async: true, wp_unpopulated: true, event_fork: true, event_remap: true, event_unmap: true, pagemap_scan: true, swap: true, thp: true } };
    const a = new GuidedGenerator(3, generateOptionsFor(full, () => true));
    const b = new GuidedGenerator(3);
    for (let i = 0; i < 200; i++) expect(a.next()).toEqual(b.next());
  });
});

