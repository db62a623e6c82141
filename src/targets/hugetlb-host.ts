// hugetlb on the live host: how many 2 MiB hugetlb pages are free now, and how many a case may
// need. The live target (src/targets/live.ts caseSkipReason) skips a case with hugetlb regions,
// with the reason, where too few are free (none is reserved unless `ptefarm setup --hugetlb N`
// ran as root): a failed hugetlb allocation is the host's limit, never a kernel violation.
import { readFileSync } from 'node:fs';
import { isHugetlbKind, type Case } from '../ops/schema.ts';
import type { PageGeometry } from '../ops/layout.ts';

/** the 2 MiB hstate's sysfs directory (the default hugetlb size on x86_64) */
export const HUGETLB_2M_SYSFS = '/sys/kernel/mm/hugepages/hugepages-2048kB';

/** free 2 MiB hugetlb pages now (0 where the kernel has no hugetlb or no such size) */
export function hugetlbFreePages(dir = HUGETLB_2M_SYSFS): number {
  try { return Number(readFileSync(`${dir}/free_hugepages`, 'utf8').trim()) || 0; } catch { return 0; }
}

/** free and total (nr_hugepages) 2 MiB hugetlb pages now; undefined where the kernel has no such
 *  hstate (no CONFIG_HUGETLBFS, or no 2 MiB size) */
export function hugetlbPool(dir = HUGETLB_2M_SYSFS): { free: number; total: number } | undefined {
  try {
    const n = (f: string) => Number(readFileSync(`${dir}/${f}`, 'utf8').trim()) || 0;
    return { free: n('free_hugepages'), total: n('nr_hugepages') };
  } catch { return undefined; }
}

/** Does the case map hugetlb memory? */
export function usesHugetlb(c: Case): boolean {
  return c.ops.some((o) => o.op === 'mmap' && isHugetlbKind(o.kind));
}

/** An upper bound of the huge pages a case can hold at once: every huge page of every hugetlb
 *  mmap, once per process that may copy it (fork copies; a CoW write allocates a new one). */
export function hugetlbPagesNeeded(c: Case, g: PageGeometry): number {
  let pages = 0;
  let procs = 1;
  for (const o of c.ops) {
    if (o.op === 'mmap' && isHugetlbKind(o.kind)) pages += Math.ceil(o.pages / g.pmdPages);
    if (o.op === 'fork') procs++;
  }
  return pages * procs;
}

/** UFFD_FEATURE_WP_HUGETLBFS_SHMEM (include/uapi/linux/userfaultfd.h): UFFDIO_REGISTER_MODE_WP
 *  works on hugetlbfs (5.19+); the executor reports the kernel's feature mask (probe uffd_features) */
export const UFFD_FEATURE_WP_HUGETLBFS_SHMEM = 1 << 12;

/** why a case with hugetlb regions cannot run here, or undefined. `uffdFeatures`: the kernel's
 *  userfaultfd feature mask (undefined: not known, not checked) */
export function hugetlbSkipReason(c: Case, g: PageGeometry, free = hugetlbFreePages(), uffdFeatures?: number): string | undefined {
  if (!usesHugetlb(c)) return undefined;
  if (g.pageSize !== 4096) return 'hugetlb cases are written for 2 MiB huge pages on 4 KiB pages';
  if (c.uffd && uffdFeatures !== undefined && !(uffdFeatures & UFFD_FEATURE_WP_HUGETLBFS_SHMEM)) return 'userfaultfd write-protect of hugetlb memory (UFFD_FEATURE_WP_HUGETLBFS_SHMEM) is not supported by this kernel';
  const need = hugetlbPagesNeeded(c, g);
  if (free < need) return `hugetlb: ${free} free 2 MiB pages, the case may need ${need} (reserve them: \`ptefarm setup --hugetlb N\` as root)`;
  return undefined;
}
