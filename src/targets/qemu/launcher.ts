// Starts the QEMU launcher (workers/qemu-launcher.mjs) as a child of this thread: the process that
// spawns, kills and reaps the QEMU guests of worker threads. A pool that may run qemu: jobs in
// worker threads (src/transport/embedded.ts) starts one and hands its socket path to the threads
// with each job (src/targets/qemu/vm.ts useQemuLauncher); a guest started through it dies and is
// reaped when its thread is terminated, and all of them when the launcher is stopped or ptefarm exits.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { packagePath } from '../../package-root.ts';

export interface QemuLauncher {
  /** the unix socket a Vm connects to */
  path: string;
  pid: number;
  /** kill every QEMU it started, and wait for the launcher to exit (it reaps them first) */
  stop(): Promise<void>;
}

export async function startQemuLauncher(): Promise<QemuLauncher> {
  const dir = mkdtempSync(join(os.tmpdir(), 'ptefarm-qemu-launcher-'));
  const path = join(dir, 'launcher.sock');
  const child = spawn(process.execPath, [packagePath('workers', 'qemu-launcher.mjs'), path], { stdio: ['pipe', 'pipe', 'inherit'] });
  const exited = new Promise<void>((res) => child.once('exit', () => res()));
  await new Promise<void>((res, rej) => {
    let out = '';
    child.stdout.on('data', (d: Buffer) => { out += d.toString(); if (out.includes('ready\n')) res(); });
    child.once('error', (e) => rej(new Error(`qemu launcher: ${e.message}`)));
    child.once('exit', (code) => rej(new Error(`qemu launcher exited with code ${code} before it was ready`)));
  });
  // the launcher must not keep ptefarm alive; it sees its stdin close when ptefarm exits
  child.unref();
  (child.stdout as unknown as { unref?: () => void }).unref?.();
  (child.stdin as unknown as { unref?: () => void }).unref?.();
  return {
    path,
    pid: child.pid!,
    async stop() {
      // referenced again while we wait: an unref'd child keeps nothing alive, so the loop would
      // drain before its 'exit' and Node end with code 13 (an unsettled top-level await) after a
      // campaign that found nothing
      child.ref();
      child.stdin.end();
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
