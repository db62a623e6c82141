// What the generator is told about the target a campaign runs on (GenerateOptions, from the
// target's TargetInfo): the page geometry it sizes THP regions by (docs/page-size.md); whether
// hugetlb cases can run there (a model target, or a live host with free 2 MiB pages:
// src/targets/hugetlb-host.ts; a QEMU guest reserves none); whether the kernel shows soft-dirty
// (a case that asserts soft-dirty alone is only a SKIP on a kernel without CONFIG_MEM_SOFT_DIRTY,
// src/check/check.ts maskedSkip); whether it can run THP cases (a live or QEMU kernel without
// PAGEMAP_SCAN, before 6.7, skips them: src/targets/host-policy.ts thpCaseSkipReason) and which
// userfaultfd features it has (a case asking for another is skipped whole). Called by the fuzz and
// gate commands, so that both spend their cases alike on what the target can run and show, and by
// the NATS campaign driver (src/campaign/nats-campaign.ts) for what all the target's workers
// announce (commonInfo).
import { GEOMETRY_4K } from '../ops/layout.ts';
import { geometryOfHost, type Capabilities, type TargetInfo } from '../ops/trace.ts';
import { hugetlbFreePages } from '../targets/hugetlb-host.ts';
import { FEATURES } from '../ops/schema.ts';
import type { GenerateOptions } from './generate.ts';

/** The generator options that fit `info`'s target: only what differs from the defaults.
 *  `liveHugetlb`: can the host that runs a live target's cases map hugetlb pages (default: this
 *  host has free 2 MiB pages now; a farm: what its workers announce). */
export function generateOptionsFor(info: TargetInfo, liveHugetlb: () => boolean = () => hugetlbFreePages() > 0): GenerateOptions {
  const geometry = geometryOfHost(info.host);
  const hugetlb = info.name.startsWith('model') || (info.name === 'live' && liveHugetlb());
  // a feature the target says it lacks (one it does not mention is taken as there)
  const lacks: string[] = FEATURES.filter((f) => info.capabilities[f] === false);
  return {
    ...(geometry !== GEOMETRY_4K ? { geometry } : {}),
    ...(hugetlb ? {} : { hugetlbRatio: 0 }),
    ...(info.capabilities.soft_dirty === false ? { softDirty: false } : {}),
    ...(info.capabilities.pagemap_scan === false ? { thp: false } : {}),
    ...(lacks.length ? { uffdFeatures: FEATURES.filter((f) => !lacks.includes(f)) } : {}),
  };
}

/** One TargetInfo for cases that every one of `infos` (targets of one spec: a farm's workers of a
 *  target, which may run on different kernels and hosts) can run and show: a capability is false
 *  where any of them has it false, else as the first has it (true, or not said). Name, arch, kernel
 *  and host are the first's: the caller makes sure their page geometries agree. */
export function commonInfo(infos: readonly TargetInfo[]): TargetInfo {
  if (!infos.length) throw new Error('commonInfo: no target');
  const capabilities: Capabilities = { ...infos[0]!.capabilities };
  for (const i of infos.slice(1)) {
    for (const [k, v] of Object.entries(i.capabilities)) if (v === false) capabilities[k] = false;
  }
  return { ...infos[0]!, capabilities };
}
