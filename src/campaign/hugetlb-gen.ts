// Generated cases with hugetlb regions (ptefarm-case/3): one or two regions of one or two 2 MiB
// huge pages (at most four in all), then faults, uffd-wp, PAGEMAP_SCAN, DONTNEED, fork and the ops
// hugetlb refuses, over whole huge pages mostly and sub-huge-page ranges sometimes (R-HTLB-*).
// The guided generator (generate.ts GuidedGenerator) draws a modest share of its cases from here,
// from its own random stream, so the other cases of a seed stay what they were.
import type { Case, Feature, Op } from '../ops/schema.ts';
import { GEOMETRY_4K, limitsFor, type PageGeometry } from '../ops/layout.ts';
import { isLive } from '../ops/plan.ts';
import { CaseBuilder } from './builder.ts';
import type { Rng } from './rng.ts';

/** share of generated cases that are hugetlb cases (default of GenerateOptions.hugetlbRatio) */
export const HUGETLB_CASES = 0.06;

export function hugetlbCase(rng: Rng, geometry: PageGeometry = GEOMETRY_4K): Case {
  const hp = geometry.pmdPages;
  const features: Feature[] = [];
  if (rng.chance(0.6)) features.push('wp_async');
  if (rng.chance(0.3)) features.push('wp_unpopulated');
  if (rng.chance(0.3)) features.push('event_fork');
  const uffd = rng.chance(0.8) ? { features } : undefined;
  const b = new CaseBuilder(uffd, limitsFor(geometry), geometry);
  const tryEmit = (op: Op) => { try { b.emit(op); return true; } catch { return false; } };
  const nregions = rng.chance(0.7) ? 1 : 2;
  const names: string[] = [];
  for (let i = 0; i < nregions; i++) {
    const name = b.freshName();
    if (tryEmit({ op: 'mmap', region: name, pages: (rng.chance(0.6) ? 1 : 2) * hp, kind: rng.chance(0.6) ? 'hugetlb' : 'hugetlb-shared' })) names.push(name);
  }
  if (rng.chance(0.3)) tryEmit({ op: 'mmap', region: b.freshName(), pages: rng.range(1, 4), kind: 'anon' });
  // a range: whole huge pages mostly, any pages sometimes (the EINVAL and partial paths)
  const range = (pages: number): { first: number; count: number } => {
    if (rng.chance(0.75)) {
      const n = pages / hp;
      const f = rng.int(n);
      return { first: f * hp, count: (1 + rng.int(n - f)) * hp };
    }
    const first = rng.int(pages);
    return { first, count: 1 + rng.int(pages - first) };
  };
  // half the uffd cases start registered and written (whole huge pages): the random steps below
  // then write-protect, zap and scan pages that are armed or written, where the uffd-wp rules of
  // hugetlb act (a zapped wp page keeps a marker, R-HTLB-8; WP_MATCHING over a whole written page,
  // R-HTLB-10), instead of needing register, write and wp in the right order by chance
  if (b.hasUffd && names.length && rng.chance(0.5)) {
    for (const region of names) tryEmit({ op: 'uffd_register', region });
    const region = rng.pick(names);
    tryEmit({ op: 'write', region, ...range(b.region(0, region)!.pages) });
  }
  let forks = 0;
  const steps = rng.range(4, 12);
  for (let k = 0; k < steps; k++) {
    const procs = b.aliveProcs();
    if (!procs.length) break;
    const proc = rng.pick(procs);
    const live = names.filter((n) => { const r = b.region(proc, n); return r && isLive(r); });
    if (!live.length) break;
    const region = rng.pick(live);
    const r = b.region(proc, region)!;
    const at = (o: Record<string, unknown>) => ({ ...o, region, ...(proc ? { proc } : {}) }) as Op;
    const u = b.hasUffd;
    const a = rng.weighted<string>([
      ['write', 5], ['read', 3], ['populate', 2], ['register', u ? 4 : 0], ['wp', u ? 5 : 0], ['unregister', u ? 1 : 0],
      ['scan', 5], ['dontneed', 3], ['fork', forks < 2 ? 2 : 0], ['munmap', 1], ['mprotect', 1], ['clear_refs', 1],
      ['pageout', 0.5], ['collapse', 0.5], ['close_uffd', u ? 0.3 : 0], ['exit', proc ? 0.5 : 0],
    ]);
    switch (a) {
      case 'write': case 'read': case 'dontneed': case 'munmap': case 'pageout': case 'collapse':
        tryEmit(at({ op: a, ...range(r.pages) })); break;
      case 'populate': tryEmit(at({ op: 'populate', ...range(r.pages), ...(rng.chance(0.5) ? { write: true } : {}) })); break;
      case 'register': tryEmit(at({ op: 'uffd_register', ...(rng.chance(0.8) ? {} : range(r.pages)) })); break;
      case 'unregister': tryEmit(at({ op: 'uffd_unregister', ...(rng.chance(0.8) ? {} : range(r.pages)) })); break;
      case 'wp': tryEmit(at({ op: 'wp', on: rng.chance(0.75), ...(rng.chance(0.7) ? {} : range(r.pages)) })); break;
      case 'scan': {
        const extra: Record<string, unknown> = {};
        if (rng.chance(0.5)) extra.wp_matching = true;
        if (rng.chance(0.2)) extra.max_pages = 1 + rng.int(r.pages);
        tryEmit(at({ op: 'scan', ...(rng.chance(0.6) ? {} : range(r.pages)), ...extra }));
        break;
      }
      case 'mprotect': tryEmit(at({ op: 'mprotect', prot: rng.pick(['r', 'rw', 'none'] as const), ...range(r.pages) })); break;
      case 'fork': if (tryEmit({ op: 'fork', ...(proc ? { proc } : {}) })) forks++; break;
      case 'clear_refs': tryEmit({ op: 'clear_refs', ...(proc ? { proc } : {}) }); break;
      case 'close_uffd': tryEmit({ op: 'close_uffd', ...(proc ? { proc } : {}) }); break;
      case 'exit': tryEmit({ op: 'exit', proc }); break;
    }
  }
  return b.toCase();
}
