// What the host can run and show: kernel facts read from /proc and /sys here, and the
// userfaultfd / PAGEMAP_SCAN / soft-dirty / zero-page facts measured by the native executor from a
// process set up exactly like a case process (same dropped privileges, same pinned CPU). Every host
// fact is also listed with where it came from (`facts`: behaviour, sysfs, uname...); the QEMU
// target builds the same list from the guest's executor (src/targets/qemu.ts). Which facts make a
// target refuse to start: src/targets/host-policy.ts.
import { HUGETLB_2M_SYSFS, hugetlbPool } from './hugetlb-host.ts';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import type { Capabilities, HostSettings } from '../ops/trace.ts';
import { GEOMETRY_4K, geometryOf, type PageGeometry } from '../ops/layout.ts';
import { packagePath } from '../package-root.ts';

export const DEFAULT_EXECUTOR = packagePath('workers', 'executor', 'ptefarm-exec');

export interface ProbeResult {
  arch: string;
  kernel: string;
  /** path of the native executor used for the uffd/scan facts, or null when it is not built */
  executor: string | null;
  /** executor facts (false when the executor is missing) */
  soft_dirty: boolean;
  userfaultfd: boolean;
  uffd_features: string;
  uffd_wp: boolean;
  wp_async: boolean;
  wp_unpopulated: boolean;
  event_fork: boolean;
  event_remap: boolean;
  event_unmap: boolean;
  pagemap_scan: boolean;
  scan_guard: boolean;
  /** uid the case processes run as, and whether root privileges were dropped for them */
  case_uid: number | null;
  privileges_dropped: boolean;
  /** host facts */
  swap: boolean;
  swap_devices: string[];
  /** free 2 MiB hugetlb pages when probed (src/targets/hugetlb-host.ts; absent in older probes) */
  hugetlb_free?: number;
  thp: string;
  thp_shmem: string;
  notes: string[];
  /** every host fact with its source; absent in probes recorded before facts existed */
  facts?: HostFact[];
}

export type FactValue = string | number | boolean | null | string[];
/** one fact about the host: `source` says how it was learnt, e.g. `behaviour: ...`,
 *  `sysfs: /sys/kernel/mm/transparent_hugepage/enabled`, `uname` */
export interface HostFact { name: string; value: FactValue; source: string }

export const THP_SYSFS = '/sys/kernel/mm/transparent_hugepage';
const THP_TOP: Record<string, string> = { enabled: 'thp.enabled', defrag: 'thp.defrag', use_zero_page: 'thp.use_zero_page', shmem_enabled: 'thp.shmem_enabled', hpage_pmd_size: 'pmd_size' };

/** the fact a host file gives (undefined: not a fact file) */
export function factNameOfPath(path: string): string | undefined {
  if (path === '/proc/swaps') return 'swap_devices';
  if (!path.startsWith(THP_SYSFS + '/')) return undefined;
  const rest = path.slice(THP_SYSFS.length + 1);
  if (Object.hasOwn(THP_TOP, rest)) return THP_TOP[rest];
  let m = /^khugepaged\/([a-z_]+)$/.exec(rest);
  if (m) return `khugepaged.${m[1]}`;
  m = /^hugepages-(\d+kB)\/(enabled|shmem_enabled)$/.exec(rest);
  if (m) return `mthp.${m[1]}.${m[2]}`;
  return undefined;
}

/** the file behind a fact (inverse of factNameOfPath) */
export function pathOfFact(name: string): string | undefined {
  if (name === 'swap_devices') return '/proc/swaps';
  for (const [file, n] of Object.entries(THP_TOP)) if (n === name) return `${THP_SYSFS}/${file}`;
  let m = /^khugepaged\.([a-z_]+)$/.exec(name);
  if (m) return `${THP_SYSFS}/khugepaged/${m[1]}`;
  m = /^mthp\.(\d+kB)\.(enabled|shmem_enabled)$/.exec(name);
  if (m) return `${THP_SYSFS}/hugepages-${m[1]}/${m[2]}`;
  return undefined;
}

/** The files behind the THP, mTHP, khugepaged and swap facts, read on this machine (the executor
 *  prints the same set from inside a QEMU guest, workers/executor/ptefarm-hostfacts.h). */
export function readHostFiles(): Map<string, string> {
  const files = new Map<string, string>();
  const add = (path: string) => { try { files.set(path, readFileSync(path, 'utf8')); } catch { /* absent here */ } };
  for (const f of Object.keys(THP_TOP)) add(`${THP_SYSFS}/${f}`);
  const ls = (dir: string) => { try { return readdirSync(dir, { withFileTypes: true }); } catch { return []; } };
  for (const e of ls(`${THP_SYSFS}/khugepaged`)) if (e.isFile()) add(`${THP_SYSFS}/khugepaged/${e.name}`);
  for (const e of ls(THP_SYSFS)) {
    if (!e.isDirectory() || !e.name.startsWith('hugepages-')) continue;
    add(`${THP_SYSFS}/${e.name}/enabled`);
    add(`${THP_SYSFS}/${e.name}/shmem_enabled`);
  }
  add('/proc/swaps');
  return files;
}

/** khugepaged settings `ptefarm setup --khugepaged` writes: one 2 MiB block per scan, an hour apart */
export const KHUGEPAGED_THROTTLE = { scan_sleep_millisecs: 3_600_000, alloc_sleep_millisecs: 3_600_000, pages_to_scan: 8 } as const;

const SIZE_KB = (name: string) => Number(/^mthp\.(\d+)kB\./.exec(name)?.[1] ?? 0);

/** Turn the executor's probe facts and the host files into the sourced fact list. A file fact's
 *  source is `sysfs: PATH` (or `procfs: /proc/swaps`), prefixed with `guest ` for a QEMU guest. */
export function sourcedFacts(input: {
  arch: string; kernel: string; unameSource: string;
  exec: Record<string, string> | null; files: Map<string, string>; guest?: boolean;
}): HostFact[] {
  const facts: HostFact[] = [
    { name: 'arch', value: input.arch, source: input.unameSource },
    { name: 'kernel', value: input.kernel, source: input.unameSource },
  ];
  const x = input.exec;
  const who = input.guest ? 'the guest\'s executor' : 'executor';
  const ex = (name: string, value: FactValue, how: string) => facts.push({ name, value, source: x ? `behaviour: ${who} ${how}` : 'unknown: native executor not built' });
  const bit = (k: string): boolean | null => (x && x[k] !== undefined ? x[k] === '1' : null);
  const pageSize = x?.page_size !== undefined ? Number(x.page_size) : null;
  facts.push({ name: 'page_size', value: pageSize, source: pageSize !== null ? `${who}: sysconf(_SC_PAGESIZE)` : 'unknown: executor did not report it' });
  // zero page on read faults: measured, never taken from use_zero_page
  const zp = x?.zero_page;
  const zeroVia = x?.zero_page_via === 'pagemap' ? 'pagemap bit 56 (exclusive) of the present page: 0 = zero page' : 'PAGEMAP_SCAN PAGE_IS_PFNZERO';
  facts.push({
    name: 'zero_page', value: zp === '1' ? true : zp === '0' ? false : null,
    source: zp === undefined ? 'unknown: executor did not report it'
      : `behaviour: ${who} read-faulted a 4 KiB private anon page (MADV_NOHUGEPAGE) and asked ${zeroVia}${zp === '-1' ? ' (page not present after the read: cannot tell)' : ''}`,
  });
  const tr = x?.thp_read;
  const seen: Record<string, string> = { zero: 'HUGE with PFNZERO: the huge zero page', thp: 'HUGE without PFNZERO: a THP was allocated', small: 'not HUGE: mapped by PTEs (THP off or allocation failed)', none: 'nothing mapped', unknown: 'cannot tell (no PAGEMAP_SCAN)' };
  facts.push({
    name: 'thp_zero_page', value: tr === 'zero' ? true : tr === 'thp' ? false : null,
    source: tr === undefined ? 'unknown: executor did not report it'
      : `behaviour: ${who} read-faulted a PMD-aligned MADV_HUGEPAGE anon block; PAGEMAP_SCAN: ${Object.hasOwn(seen, tr) ? seen[tr] : tr}`,
  });
  ex('soft_dirty', bit('soft_dirty'), 'mapped a page: VM_SOFTDIRTY (`sd` in smaps VmFlags) = CONFIG_MEM_SOFT_DIRTY');
  ex('userfaultfd', bit('uffd'), 'opened a userfaultfd (UFFD_USER_MODE_ONLY) and ran UFFDIO_API');
  ex('uffd_features', x?.uffd_features ?? null, 'UFFDIO_API features');
  ex('uffd_wp', bit('uffd_wp'), 'registered a page MODE_WP, write-protected it, read pagemap bit 57');
  ex('wp_async', bit('wp_async'), 'UFFDIO_API features: UFFD_FEATURE_WP_ASYNC');
  ex('wp_unpopulated', bit('wp_unpopulated'), 'UFFDIO_API features: UFFD_FEATURE_WP_UNPOPULATED');
  ex('event_fork', bit('event_fork'), 'UFFDIO_API with UFFD_FEATURE_EVENT_FORK as the case user (needs CAP_SYS_PTRACE)');
  ex('event_remap', bit('event_remap'), 'UFFDIO_API features: UFFD_FEATURE_EVENT_REMAP');
  ex('event_unmap', bit('event_unmap'), 'UFFDIO_API features: UFFD_FEATURE_EVENT_UNMAP');
  ex('pagemap_scan', bit('pagemap_scan'), 'ran PAGEMAP_SCAN on a page');
  ex('scan_guard', bit('scan_guard'), 'ran PAGEMAP_SCAN with PAGE_IS_GUARD in the return mask');
  ex('folio_outcome', bit('folio_outcome'), 'reports the `folio` outcome of faults: the large folios (mTHP) they mapped (workers/executor/ptefarm-folio.h)');
  ex('case_uid', x?.uid !== undefined ? Number(x.uid) : null, 'getuid() after dropping privileges as a case process does');
  const fileFacts: HostFact[] = [];
  for (const [path, text] of input.files) {
    const name = factNameOfPath(path);
    if (!name) continue;
    let value: FactValue;
    if (name === 'swap_devices') value = activeSwaps(text);
    else if (/^\s*\d+\s*$/.test(text)) value = Number(text.trim());
    else value = selected(text);
    fileFacts.push({ name, value, source: `${input.guest ? 'guest ' : ''}${path.startsWith('/proc/') ? 'procfs' : 'sysfs'}: ${path}` });
  }
  // thp.*, pmd_size, khugepaged.* in file order; mTHP sizes small to large
  fileFacts.sort((a, b) => (a.name.startsWith('mthp.') && b.name.startsWith('mthp.') ? SIZE_KB(a.name) - SIZE_KB(b.name) || a.name.localeCompare(b.name) : 0));
  facts.push(...fileFacts);
  const k = (n: string) => fileFacts.find((f) => f.name === `khugepaged.${n}`)?.value;
  const sleep = k('scan_sleep_millisecs'), pages = k('pages_to_scan');
  if (typeof sleep === 'number' && typeof pages === 'number') {
    facts.push({
      name: 'khugepaged.throttled', value: sleep >= KHUGEPAGED_THROTTLE.scan_sleep_millisecs && pages <= KHUGEPAGED_THROTTLE.pages_to_scan,
      source: `derived: scan_sleep_millisecs >= ${KHUGEPAGED_THROTTLE.scan_sleep_millisecs} and pages_to_scan <= ${KHUGEPAGED_THROTTLE.pages_to_scan} (what \`ptefarm setup --khugepaged\` sets)`,
    });
  }
  return facts;
}

/** The host's 2 MiB hugetlb pool as a fact: "F free of T" (free_hugepages, nr_hugepages), the pages
 *  hugetlb cases draw from (`ptefarm setup --hugetlb N` reserves them). Read on this machine only:
 *  a QEMU guest's probe does not report it. */
export function hugetlbFact(dir = HUGETLB_2M_SYSFS, pool = hugetlbPool(dir)): HostFact {
  return pool
    ? { name: 'hugetlb.2048kB', value: `${pool.free} free of ${pool.total}`, source: `sysfs: ${dir}/free_hugepages, nr_hugepages` }
    : { name: 'hugetlb.2048kB', value: null, source: `unknown: no ${dir} (a kernel without hugetlb or without its 2 MiB size)` };
}

/** the value of one fact of a probe (undefined: not probed, e.g. a probe recorded by an older ptefarm) */
export function factValue(p: Pick<ProbeResult, 'facts'>, name: string): FactValue | undefined {
  return p.facts?.find((f) => f.name === name)?.value;
}

/** the bracketed choice of a sysfs selector such as "always [madvise] never" */
export function selected(sysfs: string): string {
  const m = /\[([^\]]+)\]/.exec(sysfs);
  return m ? m[1] : sysfs.trim() || 'unknown';
}

/** active swap devices from /proc/swaps (header line skipped) */
export function activeSwaps(procSwaps: string): string[] {
  return procSwaps.split('\n').slice(1).map((l) => l.trim().split(/\s+/)[0]).filter((d) => d);
}

/** parse the executor's `probe k=v ...` line (a null-prototype record: the keys come from the
 *  executor, which may be a guest's) */
export function parseProbeLine(line: string): Record<string, string> {
  const out: Record<string, string> = Object.create(null);
  for (const tok of line.trim().split(/\s+/).slice(1)) {
    const i = tok.indexOf('=');
    if (i > 0) out[tok.slice(0, i)] = tok.slice(i + 1);
  }
  return out;
}

/** the `file <path> <line>` lines of the executor's probe reply, one text per file */
export function parseProbeFiles(lines: string[]): Map<string, string> {
  const files = new Map<string, string>();
  for (const l of lines) {
    const m = /^file (\S+) ?(.*)$/.exec(l);
    if (m) files.set(m[1], files.has(m[1]) ? `${files.get(m[1])}\n${m[2]}` : m[2]);
  }
  return files;
}

/** Ask an executor binary for its probe line (spawns it, sends `probe`, then `quit`). */
export function executorProbe(path: string, args: string[] = [], timeoutMs = 10_000): Promise<Record<string, string>> {
  return new Promise((resolve, reject) => {
    const child = spawn(path, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let outText = '';
    let errText = '';
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`executor probe timed out after ${timeoutMs} ms`)); }, timeoutMs);
    child.stdout.on('data', (d: Buffer) => { outText += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { errText += d.toString(); });
    child.on('error', (e) => { clearTimeout(timer); reject(e); });
    child.on('close', (code) => {
      clearTimeout(timer);
      const line = outText.split('\n').find((l) => l.startsWith('probe '));
      if (!line) reject(new Error(`executor ${path} gave no probe line (exit ${code}): ${errText.trim() || outText.trim()}`));
      else resolve(parseProbeLine(line));
    });
    child.stdin.end('probe\nquit\n');
  });
}

/** The userfaultfd / PAGEMAP_SCAN / privilege facts the executor's `probe` reply states, as the
 *  probe result's fields (shared by the host probe and the QEMU guest probe). */
export function executorFacts(facts: Record<string, string> | null) {
  const b = (k: string) => facts?.[k] === '1';
  return {
    userfaultfd: b('uffd'),
    uffd_features: facts?.uffd_features ?? '0x0',
    wp_async: b('wp_async'),
    wp_unpopulated: b('wp_unpopulated'),
    event_fork: b('event_fork'),
    event_remap: b('event_remap'),
    event_unmap: b('event_unmap'),
    pagemap_scan: b('pagemap_scan'),
    scan_guard: b('scan_guard'),
    case_uid: facts?.uid !== undefined ? Number(facts.uid) : null,
    privileges_dropped: b('privileges_dropped'),
  };
}

/** The host's probe result: the executor's facts (null when it is not built) plus this machine's
 *  files and uname. */
export function probeFromFacts(facts: Record<string, string> | null, executor: string | null): ProbeResult {
  const b = (k: string) => facts?.[k] === '1';
  const files = readHostFiles();
  const swaps = activeSwaps(files.get('/proc/swaps') ?? '');
  const notes: string[] = [];
  // read once per probe (the live target re-probes every 250 ms while a campaign runs)
  const pool = hugetlbPool();
  if (!facts) notes.push(`native executor not built (${DEFAULT_EXECUTOR}): run \`make -C workers/executor\`; uffd, PAGEMAP_SCAN and soft-dirty facts unknown`);
  if (facts && !b('soft_dirty')) notes.push('soft-dirty is not compiled in (CONFIG_MEM_SOFT_DIRTY): bit 55 is shown as ?');
  if (facts && b('userfaultfd') && !b('event_fork')) notes.push('UFFD_FEATURE_EVENT_FORK needs CAP_SYS_PTRACE: cases with event_fork are skipped');
  if (!swaps.length) notes.push('no active swap: pageout steps are skipped (run `ptefarm setup --swap` as root)');
  if (!pool?.free) notes.push('no free 2 MiB hugetlb pages: hugetlb cases are skipped (run `ptefarm setup --hugetlb N` as root)');
  return {
    arch: os.machine(),
    kernel: os.release(),
    executor,
    ...executorFacts(facts),
    soft_dirty: b('soft_dirty'),
    uffd_wp: b('uffd_wp'),
    swap: swaps.length > 0,
    swap_devices: swaps,
    hugetlb_free: pool?.free ?? 0,
    thp: selected(files.get(`${THP_SYSFS}/enabled`) ?? 'unavailable'),
    thp_shmem: selected(files.get(`${THP_SYSFS}/shmem_enabled`) ?? 'unavailable'),
    notes,
    facts: [...sourcedFacts({ arch: os.machine(), kernel: os.release(), unameSource: 'uname', exec: facts, files }), hugetlbFact(HUGETLB_2M_SYSFS, pool)],
  };
}

/** Probe the host; the executor part is skipped (and noted) when the binary does not exist. */
export async function probeHost(executor = DEFAULT_EXECUTOR): Promise<ProbeResult> {
  if (!existsSync(executor)) return probeFromFacts(null, null);
  return probeFromFacts(await executorProbe(executor), executor);
}

/** The page geometry the probe measured: the executor's sysconf(_SC_PAGESIZE) and the sysfs PMD
 *  size (derived from the page size where THP is not configured); 4 KiB when not probed. */
export function geometryOfProbe(p: Pick<ProbeResult, 'facts'>): PageGeometry {
  const ps = factValue(p, 'page_size');
  const pmd = factValue(p, 'pmd_size');
  if (typeof ps !== 'number') return GEOMETRY_4K;
  return geometryOf(ps, typeof pmd === 'number' ? pmd : undefined);
}

/** The host settings a trace reports for the check's knobs (src/model/profile.ts hostKnobs) and
 *  its page geometry (src/ops/trace.ts geometryOfHost; only when not 4 KiB pages and 2 MiB PMDs, so
 *  4 KiB traces read as they always did). */
export function hostSettingsOf(p: ProbeResult): HostSettings {
  const out: HostSettings = p.thp_shmem && p.thp_shmem !== 'unavailable' ? { shmem_enabled: p.thp_shmem } : {};
  const g = geometryOfProbe(p);
  if (g !== GEOMETRY_4K) { out.page_size = g.pageSize; out.pmd_size = g.pageSize * g.pmdPages; }
  return out;
}

export function capabilitiesOf(p: ProbeResult): Capabilities {
  return {
    soft_dirty: p.soft_dirty,
    uffd_wp: p.uffd_wp,
    wp_async: p.wp_async,
    wp_unpopulated: p.wp_unpopulated,
    event_fork: p.event_fork,
    event_remap: p.event_remap,
    event_unmap: p.event_unmap,
    pagemap_scan: p.pagemap_scan,
    swap: p.swap,
    thp: p.thp === 'always' || p.thp === 'madvise',
    // hugetlb cases need free 2 MiB huge pages on 4 KiB pages (hugetlb-host.ts hugetlbSkipReason)
    hugetlb: (p.hugetlb_free ?? 0) > 0 && geometryOfProbe(p).pageSize === 4096,
    anon_mthp: anonMthpSizes(p).length > 0,
  };
}

/** The anon mTHP sizes (e.g. `16kB`) below the PMD size whose `hugepages-<size>/enabled` lets a
 *  MADV_HUGEPAGE region's faults map large folios: always, madvise, or inherit while THP's own
 *  `enabled` is always or madvise (mm/huge_memory.c thp_vma_allowable_orders, the per-size
 *  huge_anon_orders_* masks). From the probe's sysfs facts; none where they were not probed. */
export function anonMthpSizes(p: Pick<ProbeResult, 'facts'>): string[] {
  const thpOn = ['always', 'madvise'].includes(String(factValue(p, 'thp.enabled')));
  const g = geometryOfProbe(p);
  const pmdBytes = g.pageSize * g.pmdPages;
  const out: string[] = [];
  for (const f of p.facts ?? []) {
    const m = /^mthp\.(\d+)kB\.enabled$/.exec(f.name);
    if (!m || Number(m[1]) * 1024 >= pmdBytes) continue;
    if (f.value === 'always' || f.value === 'madvise' || (f.value === 'inherit' && thpOn)) out.push(`${m[1]}kB`);
  }
  return out;
}
