// The refusal decision (src/targets/host-policy.ts) on fake host facts: the files a host (or a
// guest's executor) shows, turned into facts by the same function the live and QEMU targets use
// (sourcedFacts), and the recorded probe of a host that maps no zero page on read faults.
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { assessHost, formatRefusal, HostRefusedError, thpCaseSkipReason } from '../../src/targets/host-policy.ts';
import { DEFAULT_EXECUTOR, factNameOfPath, geometryOfProbe, pathOfFact, selected, sourcedFacts, THP_SYSFS, type ProbeResult } from '../../src/targets/probe.ts';
import { parseCase } from '../../src/ops/validate.ts';
import { GEOMETRY_4K } from '../../src/ops/layout.ts';
import { guestProbe } from '../../src/targets/qemu.ts';
import { LiveTarget } from '../../src/targets/live.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const FIXTURE = fileURLToPath(new URL('../../../shared/fixtures/no-zero-page-host/probe.json', import.meta.url));

/** the files of a stock x86 6.18 host: THP madvise, shmem never, every mTHP size never */
function stockFiles(): Map<string, string> {
  const f = new Map<string, string>([
    [`${THP_SYSFS}/enabled`, 'always [madvise] never'],
    [`${THP_SYSFS}/defrag`, 'always defer defer+madvise [madvise] never'],
    [`${THP_SYSFS}/use_zero_page`, '1'],
    [`${THP_SYSFS}/shmem_enabled`, 'always within_size advise [never] deny force'],
    [`${THP_SYSFS}/hpage_pmd_size`, '2097152'],
    [`${THP_SYSFS}/khugepaged/pages_to_scan`, '4096'],
    [`${THP_SYSFS}/khugepaged/scan_sleep_millisecs`, '10000'],
    ['/proc/swaps', 'Filename\tType\tSize\tUsed\tPriority\n/dev/zram0 partition 1048572 0 -2'],
  ]);
  for (const kb of [16, 32, 64, 128, 256, 512, 1024]) {
    f.set(`${THP_SYSFS}/hugepages-${kb}kB/enabled`, 'always inherit madvise [never]');
    f.set(`${THP_SYSFS}/hugepages-${kb}kB/shmem_enabled`, 'always inherit within_size advise [never]');
  }
  f.set(`${THP_SYSFS}/hugepages-2048kB/enabled`, 'always [inherit] madvise never');
  f.set(`${THP_SYSFS}/hugepages-2048kB/shmem_enabled`, 'always [inherit] within_size advise never');
  return f;
}

const EXEC = { uid: '65534', uffd: '1', uffd_wp: '1', pagemap_scan: '1', page_size: '4096', zero_page: '1', zero_page_via: 'scan', thp_read: 'zero' };

function probeWith(change: Record<string, string> = {}, exec: Record<string, string> = EXEC): Pick<ProbeResult, 'facts'> {
  const files = stockFiles();
  for (const [k, v] of Object.entries(change)) files.set(k.startsWith('/') ? k : `${THP_SYSFS}/${k}`, v);
  return { facts: sourcedFacts({ arch: 'x86_64', kernel: '6.18.44', unameSource: 'uname', exec, files }) };
}

describe('host facts', () => {
  it('each fact says where it came from; the zero page comes from behaviour, never from use_zero_page', () => {
    const p = probeWith({ use_zero_page: '1' }, { ...EXEC, zero_page: '0', thp_read: 'thp' });
    const by = (n: string) => p.facts!.find((f) => f.name === n)!;
    expect(by('zero_page')).toMatchObject({ value: false, source: expect.stringMatching(/^behaviour: .*PAGEMAP_SCAN PAGE_IS_PFNZERO/) });
    expect(by('thp_zero_page')).toMatchObject({ value: false, source: expect.stringMatching(/^behaviour: .*a THP was allocated/) });
    expect(by('thp.use_zero_page')).toEqual({ name: 'thp.use_zero_page', value: 1, source: `sysfs: ${THP_SYSFS}/use_zero_page` });
    expect(by('mthp.64kB.enabled')).toEqual({ name: 'mthp.64kB.enabled', value: 'never', source: `sysfs: ${THP_SYSFS}/hugepages-64kB/enabled` });
    expect(by('khugepaged.scan_sleep_millisecs').value).toBe(10000);
    expect(by('khugepaged.throttled').value).toBe(false);
    expect(by('swap_devices')).toEqual({ name: 'swap_devices', value: ['/dev/zram0'], source: 'procfs: /proc/swaps' });
    expect(by('page_size')).toMatchObject({ value: 4096, source: expect.stringMatching(/sysconf/) });
    expect(by('kernel')).toEqual({ name: 'kernel', value: '6.18.44', source: 'uname' });
    for (const f of p.facts!) expect(f.source).toMatch(/^(behaviour|sysfs|procfs|uname|executor|derived)/);
  });

  it('a fact name and its file map both ways; unknown files are no facts', () => {
    for (const path of stockFiles().keys()) expect(pathOfFact(factNameOfPath(path)!)).toBe(path);
    expect(factNameOfPath(`${THP_SYSFS}/hugepages-64kB/stats/anon_fault_alloc`)).toBeUndefined();
    expect(factNameOfPath('/etc/passwd')).toBeUndefined();
  });

  it('a guest\'s facts are marked as the guest\'s', () => {
    const facts = sourcedFacts({ arch: 'aarch64', kernel: '6.12', unameSource: 'guest init: uname', exec: EXEC, files: stockFiles(), guest: true });
    expect(facts.find((f) => f.name === 'thp.enabled')!.source).toBe(`guest sysfs: ${THP_SYSFS}/enabled`);
    expect(facts.find((f) => f.name === 'zero_page')!.source).toMatch(/^behaviour: the guest's executor/);
  });
});

describe('refusal: the settings the model does not cover', () => {
  it('a stock host is covered; khugepaged unthrottled is a warning, not a refusal', () => {
    const a = assessHost(probeWith());
    expect(a.refusals).toEqual([]);
    expect(a.warnings.join('\n')).toMatch(/khugepaged is not throttled.*ptefarm setup --khugepaged/);
    expect(assessHost(probeWith({ 'khugepaged/scan_sleep_millisecs': '3600000', 'khugepaged/pages_to_scan': '8' })).warnings).toEqual([]);
  });

  it('the host without a zero page (recorded probe.json) is covered: the zero page is an outcome, not a refusal', () => {
    // also: no mTHP sizes enabled there; the recorded probe predates host facts, which is said
    if (!existsSync(FIXTURE)) return void process.stderr.write(`skipped: ${FIXTURE} absent\n`);
    const p = JSON.parse(readFileSync(FIXTURE, 'utf8')) as ProbeResult;
    const a = assessHost(p);
    expect(a.refusals).toEqual([]);
    expect(a.warnings.join('\n')).toMatch(/no host facts/);
    // with today's facts added as that host showed them, still covered
    expect(assessHost({ ...p, ...probeWith({}, { ...EXEC, zero_page: '0', thp_read: 'thp' }) }).refusals).toEqual([]);
  });

  it('an anonymous mTHP size set to always refuses with an executor that does not record the folio outcome, naming the file and how to turn it off', () => {
    const a = assessHost(probeWith({ 'hugepages-64kB/enabled': '[always] inherit madvise never' }));
    expect(a.refusals).toHaveLength(1);
    const r = a.refusals[0];
    expect(r).toMatchObject({ fact: 'mthp.64kB.enabled', path: `${THP_SYSFS}/hugepages-64kB/enabled`, value: 'always' });
    expect(r.why).toMatch(/folio` outcome/);
    expect(r.fix).toMatch(new RegExp(`^rebuild the executor .*, or echo never > ${THP_SYSFS}/hugepages-64kB/enabled$`));
    const msg = new HostRefusedError('live target', a.refusals).message;
    expect(msg).toContain(`${THP_SYSFS}/hugepages-64kB/enabled = always`);
    expect(msg).toContain(`or echo never > ${THP_SYSFS}/hugepages-64kB/enabled`);
    expect(msg).toMatch(/^live target refuses to start/);
  });

  it('anonymous mTHP runs where the executor records the folio outcome (R-MTHP-1): every size always, madvise or inherit', () => {
    const withFolio = { ...EXEC, folio_outcome: '1' };
    const all: Record<string, string> = { enabled: '[always] madvise never' };
    for (const kb of [16, 32, 64, 128, 256, 512, 1024, 2048]) all[`hugepages-${kb}kB/enabled`] = '[always] inherit madvise never';
    expect(assessHost(probeWith(all, withFolio)).refusals).toEqual([]);
    expect(assessHost(probeWith({ 'hugepages-16kB/enabled': 'always [inherit] madvise never' }, withFolio)).refusals).toEqual([]);
    // the fact says where it came from
    const facts = probeWith({}, withFolio).facts!;
    expect(facts.find((f) => f.name === 'folio_outcome')).toMatchObject({ value: true, source: expect.stringMatching(/folio` outcome/) });
    // shmem mTHP is still refused with the reason, whatever the executor records
    const shm = assessHost(probeWith({ 'hugepages-64kB/shmem_enabled': '[always] inherit within_size advise never' }, withFolio));
    expect(shm.refusals.map((r) => r.fact)).toEqual(['mthp.64kB.shmem_enabled']);
    expect(shm.refusals[0].why).toMatch(/not observable without privileges/);
  });

  it('mTHP madvise refuses (every thp region of a case is MADV_HUGEPAGE); inherit refuses only when enabled makes it effective', () => {
    expect(assessHost(probeWith({ 'hugepages-32kB/enabled': 'always inherit [madvise] never' })).refusals.map((r) => r.fact)).toEqual(['mthp.32kB.enabled']);
    const inherit = { 'hugepages-16kB/enabled': 'always [inherit] madvise never' };
    expect(assessHost(probeWith(inherit)).refusals.map((r) => r.why)).toEqual([expect.stringMatching(/16kB.*inherited/)]);
    expect(assessHost(probeWith({ ...inherit, enabled: '[always] madvise never' })).refusals).toHaveLength(1);
    expect(assessHost(probeWith({ ...inherit, enabled: 'always madvise [never]' })).refusals).toEqual([]);
  });

  it('the PMD size is the THP the model knows: hugepages-2048kB always is covered', () => {
    expect(assessHost(probeWith({ 'hugepages-2048kB/enabled': '[always] inherit madvise never' })).refusals).toEqual([]);
  });

  it('shmem: shmem_enabled other than never/deny refuses; per-size shmem mTHP refuses unless never (or inherit of never)', () => {
    expect(assessHost(probeWith({ shmem_enabled: 'always within_size [advise] never deny force' })).refusals.map((r) => r.fact)).toEqual(['thp.shmem_enabled']);
    expect(assessHost(probeWith({ shmem_enabled: 'always within_size advise never [deny] force' })).refusals).toEqual([]);
    expect(assessHost(probeWith({ shmem_enabled: 'always within_size advise never deny [force]' })).refusals).toHaveLength(1);
    expect(assessHost(probeWith({ 'hugepages-64kB/shmem_enabled': 'always inherit within_size [advise] never' })).refusals.map((r) => r.fix))
      .toEqual([`echo never > ${THP_SYSFS}/hugepages-64kB/shmem_enabled`]);
    expect(assessHost(probeWith({ 'hugepages-64kB/shmem_enabled': 'always [inherit] within_size advise never' })).refusals).toEqual([]);
    // inherit of an effective shmem_enabled: both files are named
    const both = assessHost(probeWith({ shmem_enabled: '[always] within_size advise never deny force', 'hugepages-64kB/shmem_enabled': 'always [inherit] within_size advise never' }));
    expect(both.refusals.map((r) => r.fact).sort()).toEqual(['mthp.64kB.shmem_enabled', 'thp.shmem_enabled']);
  });

  it('16 KiB pages with 32 MiB PMDs run (page numbers count 16 KiB pages); an mTHP size below the PMD still refuses', () => {
    const a = assessHost(probeWith({ hpage_pmd_size: '33554432' }, { ...EXEC, page_size: '16384' }));
    // hugepages-2048kB inheriting madvise is an mTHP size with 32 MiB PMDs (the stock files are x86's)
    expect(a.refusals.map((r) => r.fact).sort()).toEqual(['mthp.2048kB.enabled']);
    const ok = assessHost(probeWith({ hpage_pmd_size: '33554432', 'hugepages-2048kB/enabled': 'always inherit madvise [never]' }, { ...EXEC, page_size: '16384' }));
    expect(ok.refusals).toEqual([]);
    expect(geometryOfProbe(probeWith({ hpage_pmd_size: '33554432' }, { ...EXEC, page_size: '16384' }))).toEqual({ pageSize: 16384, pmdPages: 2048 });
    expect(geometryOfProbe(probeWith())).toBe(GEOMETRY_4K);
  });

  it('64 KiB pages refuse (the executor holds regions of two PMDs of at most 2048 pages), and so does a PMD that is not one page table', () => {
    const a = assessHost(probeWith({ hpage_pmd_size: String(512 * 1024 * 1024) }, { ...EXEC, page_size: '65536' }));
    expect(a.refusals.map((r) => r.fact)).toContain('page_size');
    expect(a.refusals.find((r) => r.fact === 'page_size')!.why).toMatch(/65536 bytes/);
    // 4 KiB pages with a 32 MiB PMD: not 512 entries of a page table
    const b = assessHost(probeWith({ hpage_pmd_size: '33554432' }));
    expect(b.refusals.map((r) => r.fact)).toContain('pmd_size');
  });

  it('a kernel without THP (no sysfs directory: PREEMPT_RT 6.12) skips THP cases; small-page cases run', () => {
    const thp = parseCase({ format: 'ptefarm-case/1', ops: [{ op: 'mmap', region: 'a', pages: 512, kind: 'anon', thp: true }] });
    const collapse = parseCase({ format: 'ptefarm-case/1', ops: [{ op: 'mmap', region: 'a', pages: 4, kind: 'anon' }, { op: 'collapse', region: 'a' }] });
    const plain = parseCase({ format: 'ptefarm-case/1', ops: [{ op: 'mmap', region: 'a', pages: 4, kind: 'anon' }] });
    const rt = { pagemap_scan: true, thp: 'unavailable' };
    expect(thpCaseSkipReason(thp, rt)).toMatch(/THP is not built into this kernel/);
    expect(thpCaseSkipReason(collapse, rt)).toMatch(/CONFIG_TRANSPARENT_HUGEPAGE/);
    expect(thpCaseSkipReason(plain, rt)).toBeUndefined();
    expect(thpCaseSkipReason(thp, { pagemap_scan: true, thp: 'never' })).toBeUndefined();
  });

  it('a guest\'s refusal says to change it in the guest', () => {
    const a = assessHost(probeWith({ 'hugepages-64kB/enabled': '[always] inherit madvise never' }), 'qemu:my-kernel');
    expect(a.refusals[0].fix).toMatch(/^in the guest .*echo never > .*hugepages-64kB\/enabled$/);
    expect(formatRefusal('qemu:my-kernel', a.refusals)).toMatch(/^qemu:my-kernel refuses to start/);
  });

  it('facts not probed refuse nothing (an unknown page size is not 16 KiB)', () => {
    expect(assessHost(probeWith({}, { ...EXEC, page_size: undefined as unknown as string })).refusals).toEqual([]);
    expect(assessHost({}).refusals).toEqual([]);
  });

  it('no PAGEMAP_SCAN: THP cases are skipped (the huge outcome is observed through it), others run', () => {
    const thp = parseCase({ format: 'ptefarm-case/1', ops: [{ op: 'mmap', region: 'a', pages: 512, kind: 'anon', thp: true }] });
    const plain = parseCase({ format: 'ptefarm-case/1', ops: [{ op: 'mmap', region: 'a', pages: 4, kind: 'anon' }] });
    expect(thpCaseSkipReason(thp, { pagemap_scan: false })).toMatch(/PAGEMAP_SCAN/);
    expect(thpCaseSkipReason(thp, { pagemap_scan: true })).toBeUndefined();
    expect(thpCaseSkipReason(plain, { pagemap_scan: false })).toBeUndefined();
  });
});

describe('QEMU guests: the same facts from the guest\'s executor, the same refusal', () => {
  const boot = (files: Map<string, string>) => ({ guest: { release: '6.12.48-amd64', arch: 'x86_64', swap: '1', thp: 'madvise', thp_shmem: 'never' }, probe: EXEC, files, bootMs: 1 });

  it('a stock guest (the image init\'s settings) is covered; its facts name the guest', () => {
    const p = guestProbe(boot(stockFiles()), undefined);
    expect(p.facts!.find((f) => f.name === 'mthp.64kB.enabled')).toEqual({ name: 'mthp.64kB.enabled', value: 'never', source: `guest sysfs: ${THP_SYSFS}/hugepages-64kB/enabled` });
    expect(p.facts!.find((f) => f.name === 'kernel')).toEqual({ name: 'kernel', value: '6.12.48-amd64', source: 'guest init: uname' });
    expect(p.swap_devices).toEqual(['/dev/zram0']);
    expect(assessHost(p, 'qemu:debian-6.12-amd64')).toEqual({ refusals: [], warnings: [] });
  });

  it('a guest kernel with an mTHP size on refuses, saying to turn it off in the guest', () => {
    const files = stockFiles();
    files.set(`${THP_SYSFS}/hugepages-64kB/enabled`, 'always inherit [madvise] never');
    const a = assessHost(guestProbe(boot(files), undefined), 'qemu:mine');
    expect(a.refusals.map((r) => r.fact)).toEqual(['mthp.64kB.enabled']);
    expect(new HostRefusedError('qemu:mine', a.refusals).message).toMatch(/^qemu:mine refuses to start[^]*hugepages-64kB\/enabled = madvise[^]*in the guest/);
  });

  it('an image built before the executor printed its files: old fields from the init line, a warning, no refusal', () => {
    const p = guestProbe({ ...boot(new Map()), probe: { uffd: '1', pagemap_scan: '1' } }, undefined);
    expect(p.thp).toBe('madvise');
    const a = assessHost(p, 'qemu:old');
    expect(a.refusals).toEqual([]);
    expect(a.warnings.join('\n')).toMatch(/page size .*not probed/);
  });
});

// The real thing: one mTHP size enabled on this host for the length of one `ptefarm check`
// (about two seconds), restored in finally and on exit, also when the test fails. Shmem mTHP is
// the setting still refused; anonymous mTHP runs (the model follows the folio outcome).
const MTHP_64K = `${THP_SYSFS}/hugepages-64kB/shmem_enabled`;
const ANON_64K = `${THP_SYSFS}/hugepages-64kB/enabled`;
const canWrite = process.getuid?.() === 0 && existsSync(MTHP_64K) && existsSync(ANON_64K) && existsSync(DEFAULT_EXECUTOR);

describe.skipIf(!canWrite)('live: this host with hugepages-64kB/shmem_enabled = always (refused) or hugepages-64kB/enabled = always (runs)', () => {
  it('anonymous 64 KiB mTHP: `ptefarm run` records the folio outcome of a fault after a partial MADV_DONTNEED and `check` matches; restored', () => {
    const was = selected(readFileSync(ANON_64K, 'utf8'));
    const restore = () => { try { writeFileSync(ANON_64K, was); } catch { /* reported by the assertion below */ } };
    process.once('exit', restore);
    const dir = mkdtempSync(join(tmpdir(), 'ptefarm-mthp-'));
    const file = join(dir, 'case.json');
    writeFileSync(file, JSON.stringify({ format: 'ptefarm-case/1', ops: [
      { op: 'mmap', region: 'a', pages: 512, kind: 'anon', thp: true }, { op: 'write', region: 'a', first: 0, count: 1 },
      { op: 'dontneed', region: 'a', first: 0, count: 64 }, { op: 'write', region: 'a', first: 17, count: 1 },
      { op: 'pageout', region: 'a', first: 16, count: 2 }] }));
    let run: ReturnType<typeof spawnSync>, check: ReturnType<typeof spawnSync>;
    try {
      writeFileSync(ANON_64K, 'always');
      run = spawnSync(process.execPath, [`${ROOT}/bin/ptefarm.mjs`, 'run', '--target', 'live', file], { encoding: 'utf8', cwd: ROOT, timeout: 60_000 });
      check = spawnSync(process.execPath, [`${ROOT}/bin/ptefarm.mjs`, 'check', '--target', 'live', file], { encoding: 'utf8', cwd: ROOT, timeout: 60_000 });
    } finally {
      restore();
      process.off('exit', restore);
      rmSync(dir, { recursive: true, force: true });
    }
    expect(readFileSync(ANON_64K, 'utf8')).toContain(`[${was}]`);
    expect(run.status, String(run.stderr)).toBe(0);
    const t = JSON.parse(String(run.stdout));
    // the refault at page 17 got the 16-page folio [16, 32) (or the host fell back to one page)
    const folio = t.steps[3].outcome.folio?.a ?? [];
    expect([[], [[16, 16]]]).toContainEqual(folio);
    expect(check.status, String(check.stdout) + String(check.stderr)).toBe(0);
  });

  it('`ptefarm check --target live` exits 2 naming the file and how to turn it off; the setting is restored', () => {
    const was = selected(readFileSync(MTHP_64K, 'utf8'));
    const restore = () => { try { writeFileSync(MTHP_64K, was); } catch { /* reported by the assertion below */ } };
    process.once('exit', restore);
    let r: ReturnType<typeof spawnSync>;
    try {
      writeFileSync(MTHP_64K, 'always');
      r = spawnSync(process.execPath, [`${ROOT}/bin/ptefarm.mjs`, 'check', '--target', 'live', `${ROOT}/corpus/seeds/s-sd-mprot-anon.json`], { encoding: 'utf8', cwd: ROOT, timeout: 60_000 });
    } finally {
      restore();
      process.off('exit', restore);
    }
    expect(readFileSync(MTHP_64K, 'utf8')).toContain(`[${was}]`);
    expect(r.status).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('live target refuses to start');
    expect(r.stderr).toContain(`${MTHP_64K} = always`);
    expect(r.stderr).toMatch(/not observable without privileges/);
    expect(r.stderr).toContain(`turn it off: echo never > ${MTHP_64K}`);
  });

  it('enabled while a live target runs: the next case is an environment fault naming it, never run; restored, cases run again', async () => {
    const t = new LiveTarget();
    const c = parseCase({ format: 'ptefarm-case/1', ops: [{ op: 'mmap', region: 'a', pages: 2, kind: 'anon' }, { op: 'write', region: 'a' }] });
    const was = selected(readFileSync(MTHP_64K, 'utf8'));
    const restore = () => { try { writeFileSync(MTHP_64K, was); } catch { /* reported below */ } };
    process.once('exit', restore);
    const settle = () => new Promise((r) => setTimeout(r, 300)); // the live target re-reads host files every 250 ms
    try {
      expect((await t.execute(c)).fault).toBeUndefined();
      let during;
      try {
        writeFileSync(MTHP_64K, 'always');
        await settle();
        during = await t.execute(c);
      } finally { restore(); process.off('exit', restore); }
      expect(during.steps).toEqual([]);
      expect(during.fault).toMatch(new RegExp(`^environment: a host setting changed while the live target ran: [^]*${MTHP_64K} = always`));
      await settle();
      const after = await t.execute(c);
      expect(after.fault).toBeUndefined();
      expect(after.steps).toHaveLength(2);
    } finally { await t.close(); }
    expect(readFileSync(MTHP_64K, 'utf8')).toContain(`[${was}]`);
  });
});
