// A QEMU started for a pool's worker thread dies and is reaped when the thread is terminated
// (piscina replaces a thread after a timeout, and destroys them all on close). A child process
// spawned by a worker thread is waited for by that thread's event loop only: before the QEMU
// launcher (workers/qemu-launcher.mjs), the guest, killed by its parent-death signal, stayed a
// zombie of ptefarm (one run left 216). The "QEMU" here is a fake that writes its pid and sleeps;
// the task module is test/fixtures/qemu-spawn-task.ts. PTEFARM_TEST_NO_QEMU_LAUNCHER=1 runs the
// old way, and this test fails.
import { describe, expect, it } from 'vitest';
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { EmbeddedTransport } from '../../src/transport/embedded.ts';
import type { CaseJob } from '../../src/transport/transport.ts';

/** pid -> [state, ppid] from /proc/PID/stat (the comm field may hold spaces and parentheses) */
function stat(pid: number): { state: string; ppid: number } | undefined {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const rest = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return { state: rest[0]!, ppid: Number(rest[1]) };
  } catch { return undefined; }
}
const zombiesOf = (ppid: number) => readdirSync('/proc').filter((d) => /^\d+$/.test(d)).map(Number)
  .filter((p) => { const s = stat(p); return s?.ppid === ppid && s.state === 'Z'; });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('QEMU of a terminated worker thread', () => {
  it('is killed and reaped: no running guest, no zombie of this process', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ptefarm-reap-'));
    const fake = join(dir, 'qemu');
    const pidFile = join(dir, 'pid');
    writeFileSync(fake, `#!/bin/sh\necho $$ > '${pidFile}'\nexec sleep 300\n`);
    chmodSync(fake, 0o755);
    const before = zombiesOf(process.pid);
    const transport = new EmbeddedTransport({ threads: 1, filename: new URL('../fixtures/qemu-spawn-task.ts', import.meta.url) });
    const job = { id: 'reap', target: 'qemu:fake', case: { format: 'ptefarm-case/1', ops: [] }, fake } as unknown as CaseJob;
    const pending = transport.run(job, { timeoutMs: 1_000 });
    for (let i = 0; i < 200 && !existsSync(pidFile); i++) await sleep(50);
    const pid = Number(readFileSync(pidFile, 'utf8'));
    expect(stat(pid)?.state, 'the fake QEMU runs').toMatch(/[RS]/);
    // destroying the pool terminates the thread in the middle of its boot
    await transport.close(100);
    expect((await pending).fault).toBeDefined();
    for (let i = 0; i < 100 && stat(pid) !== undefined; i++) await sleep(50);
    const left = stat(pid);
    expect(left, `the fake QEMU ${pid} is still there: ${JSON.stringify(left)} (our pid ${process.pid})`).toBeUndefined();
    const comm = (p: number) => { try { return readFileSync(`/proc/${p}/comm`, 'utf8').trim(); } catch { return '?'; } };
    // (tsx's esbuild service, which the thread starts when it compiles the task module without a
    // warm cache, is left a zombie the same way: a development-only child, not a guest)
    expect(zombiesOf(process.pid).filter((p) => !before.includes(p)).map((p) => `${p} ${comm(p)}`).filter((z) => !z.endsWith(' esbuild'))).toEqual([]);
  }, 60_000);
});

// A campaign on a qemu: target that found nothing ended with exit code 13 (Node's unsettled
// top-level await) instead of 0: the embedded transport's close awaited the launcher's stop, which
// waited for the 'exit' of a child unref'd so as not to keep ptefarm alive; nothing else held the
// loop, so it drained first (measured: `ptefarm fuzz --target qemu:debian-6.1-amd64 --cases 200`
// exited 13 on main).
describe('the QEMU launcher stopped at the end of a program', () => {
  it('keeps the program alive until it has exited: the top-level await settles, exit code 0', async () => {
    const root = new URL('../..', import.meta.url).pathname;
    const script = `
      import { startQemuLauncher } from ${JSON.stringify(join(root, 'src/targets/qemu/launcher.ts'))};
      const l = await startQemuLauncher();
      await l.stop();
      process.stdout.write('stopped\\n');`;
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
    const code = await new Promise<number | null>((r) => child.once('exit', r));
    expect({ code, out }).toEqual({ code: 0, out: 'stopped\n' });
  }, 30_000);
});

