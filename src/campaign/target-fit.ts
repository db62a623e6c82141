// What the generator is told about the target a campaign runs on (GenerateOptions, from the
// target's TargetInfo): the page geometry it sizes THP regions by (docs/page-size.md); whether
// hugetlb cases can run there (a model target, or this host with free 2 MiB pages:
// src/targets/hugetlb-host.ts; a QEMU guest reserves none); whether the kernel shows soft-dirty
// (a case that asserts soft-dirty alone is only a SKIP on a kernel without CONFIG_MEM_SOFT_DIRTY,
// src/check/check.ts maskedSkip). Called by the fuzz and gate commands, so that both spend their
// cases alike on what the target can run and show.
import { GEOMETRY_4K } from '../ops/layout.ts';
import { geometryOfHost, type TargetInfo } from '../ops/trace.ts';
import { hugetlbFreePages } from '../targets/hugetlb-host.ts';
import type { GenerateOptions } from './generate.ts';

/** The generator options that fit `info`'s target: only what differs from the defaults. */
export function generateOptionsFor(info: TargetInfo, freeHugetlbPages: () => number = hugetlbFreePages): GenerateOptions {
  const geometry = geometryOfHost(info.host);
  const hugetlb = info.name.startsWith('model') || (info.name === 'live' && freeHugetlbPages() > 0);
  return {
    ...(geometry !== GEOMETRY_4K ? { geometry } : {}),
    ...(hugetlb ? {} : { hugetlbRatio: 0 }),
    ...(info.capabilities.soft_dirty === false ? { softDirty: false } : {}),
  };
}
