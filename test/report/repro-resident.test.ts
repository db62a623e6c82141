// `ptefarm repro` and the `resident` outcome (R-SWIN-2: a shmem THP swapped out comes back whole or
// page by page, the host's choice): after every fault in a shmem THP region that follows a pageout,
// the program takes the region's resident pages before and after the fault in the faulting
// process (workers/executor/ptefarm-observe.h resident_pages, inlined) and skips (exit 4) when the
// kernel chose otherwise than the expectations assume. With the outcomes recorded on this host it
// passes; with the model's neutral ones (page by page) it passes or skips, never fails; a case
// without a pageout, or without a shmem THP region, gets none of this code.
import { afterAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseCase } from '../../src/ops/validate.ts';
import { parseTextCase } from '../../src/ops/text.ts';
import { generateRepro } from '../../src/report/repro.ts';
import { LiveTarget } from '../../src/targets/live.ts';
import { DEFAULT_EXECUTOR } from '../../src/targets/probe.ts';
import { buildC } from '../helpers/c-build.ts';

const REG = join(import.meta.dirname, '../../corpus/regressions');
const load = (f: string) => parseCase(JSON.parse(readFileSync(join(REG, f), 'utf8')));
const PTES = load('bit.entry.mismatch.r-flt-3a.empty-shmem-swapin-whole-ptes.json');
const haveCc = spawnSync('cc', ['--version']).status === 0;
const dir = mkdtempSync(join(tmpdir(), 'ptefarm-repro-resident-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const build = (name: string, src: string): string => buildC(dir, name, src).bin;

describe('the reproducer of a shmem THP swap-in', () => {
  it('assumes the outcome after every fault of a shmem THP region that follows a pageout, and only there', () => {
    const src = generateRepro(PTES);
    // reads at steps 1, 4 and 6 come before the pageout (step 7): only step 8's is checked
    expect([...src.matchAll(/assume\(RESIDENT, (\d+), "(\w+)", 0, 0, "([^"]*)"\);/g)].map((m) => m.slice(1))).toEqual([['0', 'a', '']]);
    expect(src.match(/res_at\(/g)?.length).toBe(3); // its definition, before and after the fault
    const plain = parseTextCase('ptefarm-case/1\nmmap a pages=512 kind=anon thp\nwrite a\npageout a\nread a[3]\n');
    expect(generateRepro(plain)).not.toMatch(/RESIDENT|res_at|resident_pages/);
    const noPageout = parseTextCase('ptefarm-case/1\nmmap a pages=512 kind=memfd-shared thp\nread a\ncollapse a\nread a[3]\n');
    expect(generateRepro(noPageout)).not.toMatch(/RESIDENT|res_at|resident_pages/);
  });

  it.skipIf(!haveCc)('compiles clean under -Wall -Wextra -Werror, one process and several (the acting process writes its pages where S reads them)', () => {
    build('solo', generateRepro(PTES));
    const multi = parseTextCase('ptefarm-case/1\nmmap a pages=512 kind=memfd-shared thp\nwrite a[3]\ncollapse a\npageout a\nfork\np1 read a[7]\np0 read a[9]\n');
    const src = generateRepro(multi);
    expect(src).toMatch(/res_vec = mmap\(NULL, 2 \* MAXPAGES, [^;]*MAP_SHARED/);
    build('multi', src);
  });

  const live = haveCc && process.platform === 'linux' && existsSync(DEFAULT_EXECUTOR);
  it.skipIf(!live)('on this host: with the outcomes recorded here it passes; with neutral ones (page by page) it passes or skips (exit 4, naming the swap-in), never fails', async (ctx) => {
    const t = new LiveTarget();
    let tr;
    try { tr = await t.execute(PTES); } finally { await t.close(); }
    if (tr.skipped || tr.fault || !(tr.steps[7]?.outcome?.swapped_out?.a ?? []).length) { ctx.skip('the pageout reclaimed nothing here (no swap, or no THP)'); return; }
    const rec = spawnSync(build('recorded', generateRepro(PTES, { outcomes: tr })), [], { encoding: 'utf8', timeout: 120_000 });
    expect(rec.status, rec.stdout).toBe(0);
    const neutral = spawnSync(build('neutral', generateRepro(PTES)), [], { encoding: 'utf8', timeout: 120_000 });
    expect([0, 4], neutral.stdout).toContain(neutral.status);
    if (neutral.status === 4) {
      expect(neutral.stdout).toMatch(/# step 8 \(read a\[154\]\): pages of a made resident \(mincore, FIRST\+PAGES\) at \[(0\+512|154\+1)\], the expectations assume \[\]/);
      expect(neutral.stdout).toContain('# SKIP this kernel brought a shmem folio back from swap otherwise than the expectations assume (whole, or page by page)');
    }
  });
});
