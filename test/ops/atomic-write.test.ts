// The atomic writer (src/ops/atomic-write.ts) after a SIGKILL between writing its temporary and the
// rename: the orphan `.NAME.PID.SEQ.tmp` is never read as a case, and the next writer in that
// directory removes it (issue 18 item 12: orphan .tmp files after SIGKILL). A temporary of a live
// writer is left alone unless it is older than STALE_TMP_MS.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadCorpus, saveReproducer } from '../../src/campaign/corpus.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));
const valid = { format: 'ptefarm-case/1' as const, ops: [{ op: 'mmap' as const, region: 'a', pages: 1, kind: 'anon' as const }] };

describe('atomic writes and SIGKILL', () => {
  it('a writer killed before its rename leaves a temporary that readers ignore and the next writer removes', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ptefarm-atomic-'));
    // a real writer process, stopped inside the write (its `keep` never answers), then SIGKILLed
    const script = `
      import { writeFileAtomic } from ${JSON.stringify(join(root, 'src/ops/atomic-write.ts'))};
      void writeFileAtomic(${JSON.stringify(join(dir, 'victim.json'))}, '{"half":', () => { process.stdout.write('in-write\\n'); return new Promise(() => {}); });
      setInterval(() => {}, 1000);`;
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve, reject) => {
      child.stdout!.on('data', (d: Buffer) => { if (d.toString().includes('in-write')) resolve(); });
      child.once('exit', (c) => reject(new Error(`writer exited ${c} before the write`)));
    });
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
    const orphan = readdirSync(dir).filter((n) => n.endsWith('.tmp'));
    expect(orphan).toEqual([expect.stringMatching(new RegExp(`^\\.victim\\.json\\.${child.pid}\\.\\d+\\.tmp$`))]);
    expect(existsSync(join(dir, 'victim.json'))).toBe(false);

    // a live writer's temporary (this test's own process: pid alive) and an old one of a live pid
    const liveTmp = `.other.json.${process.pid}.999.tmp`;
    writeFileSync(join(dir, liveTmp), '{');
    const oldTmp = '.old.json.1.7.tmp'; // pid 1 is alive, but the file is two hours old
    writeFileSync(join(dir, oldTmp), '{');
    const twoHoursAgo = (Date.now() - 2 * 3600_000) / 1000;
    utimesSync(join(dir, oldTmp), twoHoursAgo, twoHoursAgo);

    // readers never take a temporary for a case
    expect((await loadCorpus([dir])).map((e) => e.path)).toEqual([]);

    // the next writer in the directory sweeps what dead (or long-gone) writers left
    const r = await saveReproducer(dir, 'bit.D.lost.R-X.write.pte', valid);
    expect(r.written).toBe(true);
    const left = readdirSync(dir).filter((n) => n.endsWith('.tmp')).sort();
    expect(left).toEqual([liveTmp]);
    expect((await loadCorpus([dir])).map((e) => e.error)).toEqual([undefined]);
  }, 60_000);
});
