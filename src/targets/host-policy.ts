// Which host settings the reference model cannot predict yet, and the decision to refuse a host
// (or a QEMU guest) that has one: a pure function of the probe facts (src/targets/probe.ts), used by
// the live target (src/targets/live.ts) and the QEMU target (src/targets/qemu.ts) before any case
// runs. A refused target makes `check`, `fuzz`, `gate` and `replay` exit 2 with the setting and how
// to turn it off, instead of reporting findings that only say "this host is set up differently".
//
// REFUSALS is the one table: when the model learns a setting, delete its row.
import type { Case } from '../ops/schema.ts';
import { geometryOf } from '../ops/layout.ts';
import { factValue, pathOfFact, THP_SYSFS, type FactValue, type HostFact, type ProbeResult } from './probe.ts';

export interface Refusal {
  /** the fact (e.g. `mthp.64kB.enabled`) and the file it was read from, when it is one */
  fact: string;
  path?: string;
  value: FactValue;
  /** what the kernel does with that setting that the model does not predict */
  why: string;
  /** how to turn it off */
  fix: string;
}

export interface HostAssessment { refusals: Refusal[]; warnings: string[] }

type Lookup = (name: string) => FactValue | undefined;

interface RefusalRule {
  /** the facts this row looks at */
  fact: RegExp;
  /** true when the value (with the other facts) gives behaviour the model does not predict */
  refuses: (value: FactValue, m: RegExpExecArray, get: Lookup) => boolean;
  why: (value: FactValue, m: RegExpExecArray) => string;
  /** the fix; `path` is the file behind the fact */
  fix: (path: string | undefined, m: RegExpExecArray) => string;
}

/** page sizes the executor and the model run (src/ops/layout.ts MAX_PMD_PAGES) */
const SUPPORTED_PAGE_SIZES = [4096, 16384];
/** the PMD size the model assumes for a page size (4 KiB when the page size was not probed) */
const pmdBytesOf = (pageSize: FactValue | undefined) => {
  const g = geometryOf(typeof pageSize === 'number' && SUPPORTED_PAGE_SIZES.includes(pageSize) ? pageSize : 4096);
  return g.pageSize * g.pmdPages;
};
const sizeBytes = (kb: string) => Number(kb.replace(/kB$/, '')) * 1024;
const isPmdSize = (kb: string, get: Lookup) => sizeBytes(kb) === (get('pmd_size') ?? pmdBytesOf(get('page_size')));
const writeNever = (path: string | undefined) => `echo never > ${path}`;

/** The settings the model does not cover, one row each. */
export const REFUSALS: RefusalRule[] = [
  {
    // anonymous mTHP (6.8+): faults in a MADV_HUGEPAGE region (every thp region of a case; the
    // others get MADV_NOHUGEPAGE) may map a large folio of this size by PTEs (mm/memory.c
    // alloc_anon_folio, thp_vma_allowable_orders). The model follows the `folio` outcome the
    // executor records (R-MTHP-1, R-MTHP-2); an executor (or guest image) too old to record it
    // cannot run such a host. `inherit` follows the top-level `enabled`.
    fact: /^mthp\.(\d+kB)\.enabled$/,
    refuses: (v, m, get) => !isPmdSize(m[1], get) && get('folio_outcome') !== true && (v === 'always' || v === 'madvise' || (v === 'inherit' && ['always', 'madvise'].includes(String(get('thp.enabled'))))),
    why: (v, m) => `anonymous faults may map ${m[1]} large folios (mTHP${v === 'inherit' ? ', inherited from transparent_hugepage/enabled' : ''}), and this executor does not record the \`folio\` outcome the model follows`,
    fix: (path) => `rebuild the executor (\`make -C workers/executor\`, \`ptefarm qemu fetch\`), or ${writeNever(path)}`,
  },
  {
    // shmem/memfd mTHP (6.11+) and a per-size shmem PMD setting: the page cache may hold large
    // folios (mm/shmem.c shmem_allowable_huge_orders). `inherit` follows shmem_enabled, refused below.
    fact: /^mthp\.(\d+kB)\.shmem_enabled$/,
    refuses: (v, m, get) => v !== 'never' && !(v === 'inherit' && (isPmdSize(m[1], get) || ['never', 'deny'].includes(String(get('thp.shmem_enabled'))))),
    // Still refused: a shmem large folio is allocated in the page cache, where a fault that maps
    // only some of it (or none: a private CoW fault) leaves no trace an unprivileged observer can
    // read, as for shmem PMD THP at fault (see thp.shmem_enabled below).
    why: (_v, m) => `shmem and memfd pages may be allocated as ${m[1]} large folios in the page cache; which faults got one is not observable without privileges (a fault may map only part of it, or copy from it), so the model cannot follow it`,
    fix: (path) => writeNever(path),
  },
  {
    // shmem THP on fault (mm/shmem.c shmem_huge_global_enabled): memfd regions with MADV_HUGEPAGE
    // (advise), or all of them (always, within_size, force), get PMD-sized page-cache folios.
    // `deny` only forbids; MADV_COLLAPSE is forced whatever it says (the model knows that).
    fact: /^thp\.shmem_enabled$/,
    refuses: (v) => v !== 'never' && v !== 'deny',
    why: () => 'shmem and memfd faults may allocate huge pages, which the model does not predict',
    fix: (path) => writeNever(path),
  },
  {
    // page numbers count the target's pages and PMD blocks are one page table of them
    // (src/ops/layout.ts PageGeometry); the executor's arrays hold regions of two PMDs of up to
    // 2048 pages (16 KiB pages): 64 KiB pages (512 MiB PMDs) do not fit
    fact: /^page_size$/,
    refuses: (v) => typeof v === 'number' && !SUPPORTED_PAGE_SIZES.includes(v),
    why: (v) => `the base page size is ${v} bytes; ptefarm runs 4 KiB and 16 KiB pages (2 MiB and 32 MiB PMDs)`,
    fix: () => 'use a kernel built with 4 KiB or 16 KiB pages (CONFIG_ARM64_4K_PAGES or CONFIG_ARM64_16K_PAGES on arm64)',
  },
  {
    // the PMD the model splits and collapses is one page table of the page size's 8-byte entries
    fact: /^pmd_size$/,
    refuses: (v, _m, get) => typeof v === 'number' && v !== pmdBytesOf(get('page_size')),
    why: (v) => `a PMD maps ${v} bytes, not one page table of the page size's entries (PAGE_SIZE / 8 pages), which the model assumes`,
    fix: () => 'use a kernel with 4 KiB pages and 2 MiB PMDs, or 16 KiB pages and 32 MiB PMDs',
  },
];

/** Decide from the probe facts alone whether a target may run cases. `guest` names the QEMU guest
 *  for the messages. Facts that were not probed (a probe recorded by an older ptefarm, an old
 *  guest image) refuse nothing and give a warning. */
export function assessHost(p: Pick<ProbeResult, 'facts'>, guest?: string): HostAssessment {
  const refusals: Refusal[] = [];
  const warnings: string[] = [];
  const facts: HostFact[] = p.facts ?? [];
  if (!p.facts) warnings.push('the probe has no host facts (recorded by an older ptefarm or an old guest image): THP, mTHP, page size and zero-page behaviour were not checked');
  const get: Lookup = (name) => factValue(p, name);
  if (p.facts && (get('page_size') ?? null) === null) warnings.push('the page size and the THP/mTHP files were not probed (an executor or guest image older than host facts): rebuild it (`make -C workers/executor`, `ptefarm qemu fetch`)');
  for (const f of facts) {
    for (const rule of REFUSALS) {
      const m = rule.fact.exec(f.name);
      if (!m || f.value === null || !rule.refuses(f.value, m, get)) continue;
      const path = pathOfFact(f.name);
      const fix = rule.fix(path, m);
      refusals.push({ fact: f.name, ...(path ? { path } : {}), value: f.value, why: rule.why(f.value, m), fix: guest ? `in the guest (its init or kernel command line): ${fix}` : fix });
    }
  }
  const throttled = get('khugepaged.throttled');
  const thpOn = ['always', 'madvise'].includes(String(get('thp.enabled')));
  if (throttled === false && thpOn && !guest) {
    warnings.push('khugepaged is not throttled: it may collapse a MADV_HUGEPAGE range in the middle of a case (such a case ends as an `environment:` fault); run `ptefarm setup --khugepaged` as root');
  }
  return { refusals, warnings };
}

/** The error a refused target throws before running anything (the CLI exits 2 with its message). */
export class HostRefusedError extends Error {
  constructor(readonly target: string, readonly refusals: Refusal[]) {
    super(formatRefusal(target, refusals));
    this.name = 'HostRefusedError';
  }
}

export function formatRefusal(target: string, refusals: Refusal[]): string {
  const lines = [`${target} refuses to start: ${refusals.length === 1 ? 'a setting' : 'settings'} the model does not cover yet (findings there would describe the set-up, not the kernel):`];
  for (const r of refusals) {
    lines.push(`  ${r.path ?? r.fact} = ${Array.isArray(r.value) ? r.value.join(',') : String(r.value)}: ${r.why}`);
    lines.push(`    turn it off: ${r.fix}`);
  }
  return lines.join('\n');
}

/** A whole case that cannot run on this host, by what the probe says, shared by live and QEMU. The
 *  executor learns the `huge` outcome from PAGEMAP_SCAN (6.7+); without it a THP would be reported
 *  as 512 small pages and every bit of it misjudged. */
export function thpCaseSkipReason(c: Case, p: Pick<ProbeResult, 'pagemap_scan'> & Partial<Pick<ProbeResult, 'thp'>>, kernel = 'this kernel'): string | undefined {
  const thpOps = c.ops.some((o) => (o.op === 'mmap' && o.thp) || o.op === 'collapse');
  // without CONFIG_TRANSPARENT_HUGEPAGE (PREEMPT_RT kernels before 6.13: THP depends on !PREEMPT_RT)
  // MADV_HUGEPAGE and MADV_COLLAPSE are unknown advice (mm/madvise.c madvise_behavior_valid): EINVAL
  if (thpOps && p.thp === 'unavailable') return `THP is not built into ${kernel} (no ${THP_SYSFS}: CONFIG_TRANSPARENT_HUGEPAGE unset)`;
  if (!p.pagemap_scan && thpOps) {
    return `THP outcomes are observed through PAGEMAP_SCAN, which ${kernel} lacks`;
  }
  return undefined;
}
