// Which host settings the reference model cannot predict yet, and the decision to refuse a host
// (or a QEMU guest) that has one: a pure function of the probe facts (src/targets/probe.ts), used by
// the live target (src/targets/live.ts) and the QEMU target (src/targets/qemu.ts) before any case
// runs. A refused target makes `check`, `fuzz`, `gate` and `replay` exit 2 with the setting and how
// to turn it off, instead of reporting findings that only say "this host is set up differently".
//
// REFUSALS is the one table: when the model learns a setting, delete its row.
import type { Case } from '../ops/schema.ts';
import { factValue, pathOfFact, type FactValue, type HostFact, type ProbeResult } from './probe.ts';

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

const sizeBytes = (kb: string) => Number(kb.replace(/kB$/, '')) * 1024;
const isPmdSize = (kb: string, get: Lookup) => sizeBytes(kb) === (get('pmd_size') ?? 2 * 1024 * 1024);
const writeNever = (path: string | undefined) => `echo never > ${path}`;

/** The settings the model does not cover, one row each. */
export const REFUSALS: RefusalRule[] = [
  {
    // anonymous mTHP (6.8+): faults in a MADV_HUGEPAGE region (every thp region of a case) may map a
    // large folio of this size by PTEs (mm/memory.c alloc_anon_folio, thp_vma_allowable_orders), and
    // swap-out, CoW, split and PAGEMAP_SCAN then act on the whole folio. `inherit` follows the
    // top-level `enabled`. The PMD size is the THP the model knows.
    fact: /^mthp\.(\d+kB)\.enabled$/,
    refuses: (v, m, get) => !isPmdSize(m[1], get) && (v === 'always' || v === 'madvise' || (v === 'inherit' && ['always', 'madvise'].includes(String(get('thp.enabled'))))),
    why: (v, m) => `anonymous faults may map ${m[1]} large folios (mTHP${v === 'inherit' ? ', inherited from transparent_hugepage/enabled' : ''}), which the model does not predict`,
    fix: (path) => writeNever(path),
  },
  {
    // shmem/memfd mTHP (6.11+) and a per-size shmem PMD setting: the page cache may hold large
    // folios (mm/shmem.c shmem_allowable_huge_orders). `inherit` follows shmem_enabled, refused below.
    fact: /^mthp\.(\d+kB)\.shmem_enabled$/,
    refuses: (v, m, get) => v !== 'never' && !(v === 'inherit' && (isPmdSize(m[1], get) || ['never', 'deny'].includes(String(get('thp.shmem_enabled'))))),
    why: (_v, m) => `shmem and memfd pages may be allocated as ${m[1]} large folios, which the model does not predict`,
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
    // the model and the executor's addresses count 4 KiB pages and 512-page PMD blocks (x86)
    fact: /^page_size$/,
    refuses: (v) => typeof v === 'number' && v !== 4096,
    why: (v) => `the base page size is ${v} bytes; the model knows 4 KiB pages only`,
    fix: () => 'use a kernel built with 4 KiB pages (e.g. CONFIG_ARM64_4K_PAGES on arm64)',
  },
  {
    fact: /^pmd_size$/,
    refuses: (v) => typeof v === 'number' && v !== 2 * 1024 * 1024,
    why: (v) => `a PMD maps ${v} bytes; the model knows 2 MiB PMD blocks only`,
    fix: () => 'use a kernel built with 4 KiB pages (2 MiB PMDs)',
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
export function thpCaseSkipReason(c: Case, p: Pick<ProbeResult, 'pagemap_scan'>, kernel = 'this kernel'): string | undefined {
  if (!p.pagemap_scan && c.ops.some((o) => (o.op === 'mmap' && o.thp) || o.op === 'collapse')) {
    return `THP outcomes are observed through PAGEMAP_SCAN, which ${kernel} lacks`;
  }
  return undefined;
}
