// The one atomic file writer: a temporary file in the same directory, then rename over the target
// (a reader sees the old file or the new one, never half of one; a symlink at the target is
// replaced, not followed). A writer killed between the two (SIGKILL) leaves its temporary behind:
// `.NAME.PID.SEQ.tmp`, which no reader looks at (dot files, not *.json) and which the next writer
// in that directory removes once its process is gone. Used by the corpus (src/campaign/corpus.ts)
// and run directories (src/report/rundir.ts).
import { mkdir, readdir, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

const TMP_RE = /^\..+\.(\d+)\.\d+\.tmp$/;
/** a temporary this old is stale even when its PID is alive again (PID reuse, another host) */
export const STALE_TMP_MS = 60 * 60 * 1000;

let seq = 0;
const swept = new Set<string>();

function alive(pid: number): boolean {
  if (pid === process.pid) return true;
  try { process.kill(pid, 0); return true; } catch (e) { return (e as NodeJS.ErrnoException).code === 'EPERM'; }
}

/** Remove the temporaries of writers that died in `dir`; returns how many. Never throws. */
export async function sweepStaleTmp(dir: string, now = Date.now()): Promise<number> {
  let names: string[];
  try { names = await readdir(dir); } catch { return 0; }
  let n = 0;
  for (const name of names) {
    const m = TMP_RE.exec(name);
    if (!m) continue;
    const p = join(dir, name);
    try {
      if (alive(Number(m[1])) && now - (await stat(p)).mtimeMs < STALE_TMP_MS) continue;
      await unlink(p);
      n++;
    } catch { /* gone meanwhile, or not ours to remove */ }
  }
  return n;
}

/** Write `data` to `path` atomically. `keep`, asked just before the rename, may decide to leave the
 *  existing file (the temporary is removed); returns whether `path` was written. The first write
 *  into a directory sweeps the temporaries dead writers left there. */
export async function writeFileAtomic(path: string, data: string, keep?: () => Promise<boolean>): Promise<boolean> {
  const dir = dirname(path);
  await mkdir(dir, { recursive: true });
  if (!swept.has(dir)) { swept.add(dir); await sweepStaleTmp(dir); }
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${++seq}.tmp`);
  await writeFile(tmp, data, 'utf8');
  try {
    if (keep && await keep()) { await unlink(tmp); return false; }
    await rename(tmp, path);
    return true;
  } catch (e) {
    await unlink(tmp).catch(() => undefined);
    throw e;
  }
}
