// Interference from the host (workers/executor/ptefarm-env.h): khugepaged collapsing a range or
// reclaim swapping a page out behind a case ends the case as an `environment:` fault, never a
// violation. The detection rules run on stated scenarios through a harness (the executor's own
// header compiled with fake observations), the decoding on executor lines, and reclaim for real: a
// case in a memory cgroup too small for it.
import { afterAll, describe, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LiveTarget } from '../../src/targets/live.ts';
import { decodeReply, encodeCase, OP_CODES } from '../../src/targets/executor/protocol.ts';
import { DEFAULT_EXECUTOR } from '../../src/targets/probe.ts';
import { parseCase } from '../../src/ops/validate.ts';
import { checkTrace } from '../../src/check/check.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const HARNESS_C = join(ROOT, 'test/targets/fixtures/env-check-harness.c');
const dir = mkdtempSync(join(os.tmpdir(), 'ptefarm-env-'));
const harness = join(dir, 'env-check');
execFileSync('cc', ['-O1', '-Wno-unused-function', '-I', join(ROOT, 'workers/executor'), '-o', harness, HARNESS_C]);

// observation bytes: pagemap P S W, and the PAGEMAP_SCAN HUGE / PFNZERO bits observe() adds
const P = 1, S = 2, W = 16, HUGE = 64, ZERO = 128;
const op = (name: keyof typeof OP_CODES, p = 0, rid = -1, first = 0, count = 0) => `op ${OP_CODES[name]} ${p} ${rid} ${first} ${count}`;
/** the harness's verdict: `ok`, or the `u` line (then it ends the "case" with status 3, as the executor's supervisor does) */
function check(...lines: string[]): string {
  const r = spawnSync(harness, { input: lines.join('\n') + '\n', encoding: 'utf8' });
  const said = r.stdout.trim();
  expect(r.status).toBe(said.startsWith('u ') ? 3 : 0);
  return said;
}
/** process 0, region 0 = 512 pages at page 512 (one aligned 2 MiB block) */
const ONE_BLOCK = ['nprocs 1', 'reg 0 0 512 512'];

describe('khugepaged: a block that became huge where no fault or collapse of the case could map one', () => {
  it.each(['clear_refs', 'wp', 'scan', 'mprotect', 'skip', 'uffd_register', 'pageout', 'dontneed'] as const)('huge after %s -> khugepaged', (name) => {
    expect(check(...ONE_BLOCK, `was 0 0 0 ${P}`, `is 0 0 0 ${P | HUGE}`, op(name, 0, name === 'clear_refs' || name === 'skip' ? -1 : 0, 0, 512))).toBe('u khugepaged 0 0 0');
  });

  it('a write fault into an empty block maps a THP: not interference', () => {
    expect(check(...ONE_BLOCK, `is 0 0 0 ${P | HUGE}`, op('write', 0, 0, 0, 1))).toBe('ok');
  });

  it('a write into a block that had a PTE-mapped page cannot make it huge (do_huge_pmd_anonymous_page needs pmd_none) -> khugepaged', () => {
    expect(check(...ONE_BLOCK, `was 0 0 5 ${P}`, `is 0 0 0 ${P | HUGE}`, op('write', 0, 0, 0, 1))).toBe('u khugepaged 0 0 0');
    // a uffd-wp marker (pagemap S+W) is a page-table entry as well
    expect(check(...ONE_BLOCK, `was 0 0 9 ${S | W}`, `is 0 0 0 ${P | HUGE}`, op('read', 0, 0, 0, 1))).toBe('u khugepaged 0 0 0');
  });

  it('a write to the huge zero page makes a THP: not interference', () => {
    expect(check(...ONE_BLOCK, `was 0 0 0 ${P | HUGE | ZERO}`, `is 0 0 0 ${P | HUGE}`, op('write', 0, 0, 0, 1))).toBe('ok');
  });

  it('the huge zero page turned into a THP during a read -> khugepaged', () => {
    // outside the op's range: no fault of the case touched the block
    expect(check('nprocs 1', 'reg 0 0 512 1024', `was 0 0 512 ${P | HUGE | ZERO}`, `is 0 0 512 ${P | HUGE}`, op('read', 0, 0, 0, 1))).toBe('u khugepaged 0 0 512');
  });

  it('a fault in one region or process does not explain a huge block in another', () => {
    expect(check('nprocs 1', 'reg 0 0 512 512', 'reg 0 1 1536 512', `was 0 1 0 ${P}`, `is 0 1 0 ${P | HUGE}`, op('read', 0, 0, 0, 512))).toBe('u khugepaged 0 1 0');
    expect(check('nprocs 2', 'reg 0 0 512 512', 'reg 1 0 512 512', `was 1 0 0 ${P}`, `is 1 0 0 ${P | HUGE}`, op('write', 0, 0, 0, 512))).toBe('u khugepaged 1 0 0');
  });

  it('MADV_COLLAPSE of the op range is the case\'s own collapse', () => {
    expect(check(...ONE_BLOCK, `was 0 0 0 ${P}`, `is 0 0 0 ${P | HUGE}`, op('collapse', 0, 0, 0, 1))).toBe('ok');
  });

  it('a fork child starts with its parent\'s huge blocks; a huge PMD moved by mremap is not new', () => {
    expect(check('nprocs 2', 'reg 0 0 512 512', 'reg 1 0 512 512', `was 0 0 0 ${P | HUGE}`, `is 0 0 0 ${P | HUGE}`, `is 1 0 0 ${P | HUGE}`, op('fork'))).toBe('ok');
    expect(check('nprocs 1', 'reg 0 0 2048 512', 'before 0 512 512', `was 0 0 0 ${P | HUGE}`, `is 0 0 0 ${P | HUGE}`, op('mremap', 0, 0))).toBe('ok');
  });
});

describe('reclaim: a present page that became a swap entry without a pageout', () => {
  it('during a write -> unrequested swap-out', () => {
    expect(check(...ONE_BLOCK, `was 0 0 3 ${P}`, `is 0 0 3 ${S}`, op('write', 0, 0, 100, 1))).toBe('u swap 0 0 3');
  });

  it('pageout, dontneed (a zap leaves a uffd-wp marker) and split may do it themselves', () => {
    for (const name of ['pageout', 'dontneed', 'split'] as const) expect(check(...ONE_BLOCK, `was 0 0 3 ${P | W}`, `is 0 0 3 ${S | W}`, op(name, 0, 0, 3, 1))).toBe('ok');
  });

  it('a write-protect of a shmem THP zaps its PMD and leaves uffd-wp markers (pagemap S+W) on its range: not a swap-out', () => {
    // change_pmd_range splits a file PMD under MM_CP_UFFD_WP; __split_huge_pmd_locked zaps it and
    // change_pte_range puts a marker on each empty PTE of the range (seen live: wp a[185] of a shmem THP)
    expect(check(...ONE_BLOCK, `was 0 0 185 ${P | HUGE}`, `is 0 0 185 ${S | W}`, op('wp', 0, 0, 185, 1))).toBe('ok');
    // outside the op's range, or a page no huge PMD mapped (an anon PTE keeps its page), it is reclaim
    expect(check(...ONE_BLOCK, `was 0 0 186 ${P | HUGE}`, `is 0 0 186 ${S | W}`, op('wp', 0, 0, 185, 1))).toBe('u swap 0 0 186');
    expect(check(...ONE_BLOCK, `was 0 0 185 ${P}`, `is 0 0 185 ${S | W}`, op('wp', 0, 0, 185, 1))).toBe('u swap 0 0 185');
    // a marker is S+W: a swap entry without W is reclaim even in range
    expect(check(...ONE_BLOCK, `was 0 0 185 ${P | HUGE}`, `is 0 0 185 ${S}`, op('wp', 0, 0, 185, 1))).toBe('u swap 0 0 185');
  });

  it('a PAGEMAP_SCAN arming part of a shmem THP splits its PMD and leaves markers on its range: not a swap-out', () => {
    // pagemap_scan_thp_entry splits a huge PMD the WP_MATCHING range covers only partly; the PTE walk
    // arms the now-empty PTEs with markers (seen live: a scan of a[317], category_mask w, after a collapse)
    expect(check(...ONE_BLOCK, `was 0 0 317 ${P | HUGE}`, `is 0 0 317 ${S | W}`, op('scan', 0, 0, 317, 1))).toBe('ok');
    expect(check(...ONE_BLOCK, `was 0 0 318 ${P | HUGE}`, `is 0 0 318 ${S | W}`, op('scan', 0, 0, 317, 1))).toBe('u swap 0 0 318');
    expect(check(...ONE_BLOCK, `was 0 0 317 ${P | HUGE}`, `is 0 0 317 ${S}`, op('scan', 0, 0, 317, 1))).toBe('u swap 0 0 317');
  });

  it('a process that died in the op is not compared', () => {
    expect(check('nprocs 1', 'reg 0 0 512 512', 'dead 0', `was 0 0 3 ${P}`, `is 0 0 3 ${S}`, op('exit'))).toBe('ok');
  });
});

describe('decoding: the perturbed step is dropped, the case is an environment fault', () => {
  const c = parseCase({ format: 'ptefarm-case/1', ops: [
    { op: 'mmap', region: 'a', pages: 512, kind: 'anon', thp: true },
    { op: 'write', region: 'a', first: 0, count: 1 },
    { op: 'clear_refs' },
  ] });
  const enc = encodeCase(c);
  it('khugepaged', () => {
    const r = decodeReply(['s 0 0', 'p 0 0 A512', 's 1 0', 'p 0 0 J512', 's 2 0', 'u khugepaged 0 0 0'], enc, false);
    expect(r.steps.map((s) => s.op)).toEqual([0, 1]);
    expect(r.fault).toMatch(/^environment: khugepaged collapsed p0 a .* during op 2 \(clear_refs\).*ptefarm setup --khugepaged/);
    // checked like any fault: the steps before it are compared, nothing is a violation
    const v = checkTrace(c, { format: 'ptefarm-trace/1', target: { name: 'live', arch: 'x86_64', kernel: '6.18', capabilities: { soft_dirty: false, uffd_wp: true, wp_async: true, pagemap_scan: true, swap: true, thp: true } }, steps: r.steps, fault: r.fault });
    expect(v.ok).toBe(false);
    expect(v.fault).toBe(r.fault);
  });
  it('swap', () => {
    const r = decodeReply(['s 0 0', 'p 0 0 A512', 's 1 0', 'u swap 0 0 3'], enc, false);
    expect(r.steps.map((s) => s.op)).toEqual([0]);
    expect(r.fault).toMatch(/^environment: unrequested swap-out of p0 a\[3\] during op 1 \(write\)/);
  });
  it('a later fault (the OOM killer under the same pressure) neither replaces it nor brings back the steps after it', () => {
    const r = decodeReply(['s 0 0', 'p 0 0 A512', 's 1 0', 'u swap 0 0 3', 's 2 0', 'p 0 0 A512', 'f case process 0 killed by SIGKILL from outside the case'], enc, false);
    expect(r.steps.map((s) => s.op)).toEqual([0]);
    expect(r.fault).toMatch(/^environment: unrequested swap-out of p0 a\[3\] during op 1 \(write\)/);
  });
});

// Real reclaim: the executor in a memory cgroup (v1) of 12 MiB; the case writes 4 MiB five times, so
// the later writes can only proceed by swapping out pages of the first, which no pageout asked for.
// (The content oracle reads every present page back after each step, which keeps them young on the
// LRU: reclaim then falls behind more often and the OOM killer may end the case instead.)
function memoryCgroupDir(): string | undefined {
  const line = readFileSync('/proc/self/cgroup', 'utf8').split('\n').find((l) => /^\d+:memory:/.test(l));
  const base = line ? join('/sys/fs/cgroup/memory', line.split(':')[2]) : undefined;
  return base && existsSync(join(base, 'memory.limit_in_bytes')) ? join(base, `ptefarm-env-${process.pid}`) : undefined;
}
const swapOn = readFileSync('/proc/swaps', 'utf8').trim().split('\n').length > 1;
const cg = process.getuid?.() === 0 && swapOn && existsSync(DEFAULT_EXECUTOR) ? memoryCgroupDir() : undefined;

describe.skipIf(!cg)('live: reclaim forced by a small memory cgroup', () => {
  let t: LiveTarget | undefined;
  afterAll(async () => {
    await t?.close();
    for (let i = 0; i < 50 && existsSync(cg!); i++) {
      try { rmdirSync(cg!); } catch { await new Promise((r) => setTimeout(r, 100)); }
    }
  });

  // (which later op the reclaim lands in depends on the executor's own memory in the cgroup: a
  // later write, or the observation after the next mmap)
  it('a page swapped out during a later op is an environment fault, not a violation', async () => {
    mkdirSync(cg!, { recursive: true });
    writeFileSync(join(cg!, 'memory.limit_in_bytes'), String(12 << 20));
    const wrapper = join(dir, 'exec-in-cgroup.sh');
    writeFileSync(wrapper, `#!/bin/sh\necho $$ > ${cg}/cgroup.procs || exit 1\nexec ${DEFAULT_EXECUTOR} "$@"\n`);
    chmodSync(wrapper, 0o755);
    t = new LiveTarget({ executor: wrapper });
    const c = parseCase({ format: 'ptefarm-case/1', ops: [
      { op: 'mmap', region: 'a', pages: 1024, kind: 'anon' }, { op: 'write', region: 'a' },
      { op: 'mmap', region: 'b', pages: 1024, kind: 'anon' }, { op: 'write', region: 'b' },
      { op: 'mmap', region: 'c', pages: 1024, kind: 'anon' }, { op: 'write', region: 'c' },
      { op: 'mmap', region: 'd', pages: 1024, kind: 'anon' }, { op: 'write', region: 'd' },
      { op: 'mmap', region: 'e', pages: 1024, kind: 'anon' }, { op: 'write', region: 'e' },
    ] });
    // Under a loaded host the cgroup's reclaim may fall behind and the OOM killer end the case
    // process instead (a SIGKILL from outside the case: a fault, never a verdict); that run tests
    // nothing here, so it is run again, at most six times.
    let starts = t.starts;
    let tr = await t.execute(c);
    for (let k = 0; k < 5 && /killed by SIGKILL from outside the case/.test(tr.fault ?? ''); k++) {
      process.stderr.write(`live-environment: the 12 MiB cgroup's OOM killer ended the case (${tr.fault}); running it again\n`);
      expect(checkTrace(c, tr).violations).toEqual([]);
      starts = t.starts;
      tr = await t.execute(c);
    }
    expect(tr.fault).toMatch(/^environment: unrequested swap-out of p0 [a-d]\[\d+\] during op [2-9] \((write|mmap)\): .* \(in each of 3 runs\)$/);
    expect(t.starts).toBe(starts === 0 ? 1 : starts); // re-runs use the same executor: no restart
    // the steps kept are the case's own: every page written so far is present
    for (const s of tr.steps) for (const pg of s.pages!['0'].a ?? []) expect(pg[1]).toBe('.');
    expect(checkTrace(c, tr).violations).toEqual([]);
  });
});

