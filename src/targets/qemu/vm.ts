// One QEMU guest (TCG, 1 vCPU) running the executor behind a virtio-serial port. The host listens
// on a unix socket that QEMU connects to as the chardev of the `exec0` port; the guest's init
// writes one `guest k=v ...` line, then the executor speaks its stdin/stdout protocol
// (workers/executor/README.md) on the port. The serial console (QEMU's stdout) is kept as a log
// and scanned for kernel oopses. Recipe and measurements: shared/docs/qemu-targets.md.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import { join } from 'node:path';
import { isMainThread } from 'node:worker_threads';
import type { GuestImage } from './images.ts';
import { parseProbeFiles } from '../probe.ts';

const SETPRIV = ['/usr/bin/setpriv', '/bin/setpriv'].find((p) => existsSync(p));

/** how long a guest may take to boot (TCG arm64 with 16 KiB pages needs about a minute on a loaded host) */
export const BOOT_TIMEOUT_MS = 180_000;

export interface VmOptions {
  /** guest RAM in MiB (default 1024: under 512 MiB usable the kernel clears every THP flag) */
  memMB?: number;
  /** boot timeout (default 180 s: arm64 under TCG is slow) */
  bootTimeoutMs?: number;
  /** extra kernel command line */
  append?: string;
  /** qemu binary override */
  qemu?: string;
  /** the -cpu of a riscv64 guest (default RISCV_CPU, or PTEFARM_QEMU_RISCV_CPU) */
  riscvCpu?: string;
}

/** riscv64 guests run with the Svrsw60t59b extension (PTE bits 60-59 for software): the riscv
 *  soft-dirty and uffd-wp series keeps both bits there (lore: "riscv: mm: Add soft-dirty and
 *  uffd-wp support", 2025-11). QEMUs that do not know the extension refuse to start with the
 *  property named; PTEFARM_QEMU_RISCV_CPU (or VmOptions.riscvCpu) sets another -cpu. */
export const RISCV_CPU = 'rv64,svrsw60t59b=true';

/** the QEMU system emulator of a guest architecture */
export function qemuBinary(arch: GuestImage['arch']): string {
  return arch === 'amd64' ? 'qemu-system-x86_64' : arch === 'arm64' ? 'qemu-system-aarch64' : 'qemu-system-riscv64';
}

/** Console lines that mean the kernel is in trouble; everything from the first one on is the oops text. */
export const OOPS_RE = /(Oops:|BUG:|kernel BUG at|general protection fault|Kernel panic|WARNING: CPU:|Unable to handle kernel|Internal error:|watchdog: BUG|list_add corruption|list_del corruption)/;

export function qemuCommand(img: GuestImage, sock: string, opts: VmOptions = {}): { bin: string; args: string[] } {
  const mem = String(opts.memMB ?? 1024);
  // loglevel=5 (not quiet): warnings reach the console, boot chatter does not
  // no_timer_check: under TCG on a loaded host the x86 guest's IO-APIC timer check can fail and
  // panic the boot ("IO-APIC + timer doesn't work"; arch/x86/kernel/apic/io_apic.c check_timer)
  const cmdline = ['panic=-1', 'loglevel=5', 'mitigations=off', 'no_timer_check', img.mthp ? `ptefarm.mthp=${img.mthp}` : '', opts.append ?? ''].filter(Boolean);
  const common = ['-accel', 'tcg', '-m', mem, '-smp', '1', '-nodefaults', '-no-user-config', '-display', 'none', '-no-reboot',
    '-kernel', img.kernel, '-initrd', img.initrd, '-serial', 'stdio',
    '-device', 'virtio-serial-pci', '-chardev', `socket,id=ex,path=${sock}`, '-device', 'virtserialport,chardev=ex,name=exec0'];
  if (img.arch === 'riscv64') {
    // virt board: OpenSBI (-bios default) starts the kernel; the console is the ns16550 ttyS0
    return {
      bin: opts.qemu ?? qemuBinary(img.arch),
      args: ['-machine', 'virt', '-cpu', opts.riscvCpu ?? process.env.PTEFARM_QEMU_RISCV_CPU ?? RISCV_CPU, ...common, '-append', ['console=ttyS0', ...cmdline].join(' ')],
    };
  }
  if (img.arch === 'amd64') {
    return {
      bin: opts.qemu ?? qemuBinary(img.arch),
      args: ['-machine', 'pc', '-cpu', 'qemu64,+rdrand', ...common, '-append', ['console=ttyS0', ...cmdline].join(' ')],
    };
  }
  return {
    bin: opts.qemu ?? qemuBinary(img.arch),
    // pauth-impdef: the architected QARMA pointer authentication makes TCG 4-8x slower
    args: ['-machine', 'virt', '-cpu', 'max,pauth-impdef=on', ...common, '-append', ['console=ttyAMA0', ...cmdline].join(' ')],
  };
}

export interface BootInfo {
  /** `guest` line facts: release, arch, swap, thp, thp_shmem, port */
  guest: Record<string, string>;
  /** the executor's `probe` facts */
  probe: Record<string, string>;
  /** the guest's THP/mTHP/khugepaged/swap files as the executor printed them (`file` lines) */
  files: Map<string, string>;
  /** ms from launch to a probed executor */
  bootMs: number;
}

/** `word k=v k=v ...` -> { k: v } (null prototype: any key a guest prints is safe) */
export function kv(line: string): Record<string, string> {
  const out: Record<string, string> = Object.create(null);
  for (const tok of line.trim().split(/\s+/).slice(1)) {
    const i = tok.indexOf('=');
    if (i > 0) out[tok.slice(0, i)] = tok.slice(i + 1);
  }
  return out;
}

/** the QEMU launcher (src/targets/qemu/launcher.ts) a worker thread starts its guests through */
let launcherPath: string | undefined;

/** Start this thread's guests through the launcher at `path` (workers/task.ts, with each job of a
 *  pool that has one): a QEMU spawned by a worker thread itself would stay a zombie once the thread
 *  is terminated (only that thread's event loop waits for it). The main thread spawns its own. */
export function useQemuLauncher(path: string | undefined): void { launcherPath = path; }

export class Vm {
  private child?: ChildProcessWithoutNullStreams;
  /** the connection to the launcher that started this guest's QEMU, and QEMU's pid */
  private launched?: { conn: net.Socket; pid?: number };
  private server?: net.Server;
  private sock?: net.Socket;
  private dir: string;
  private buf = '';
  private conBuf = '';
  /** console output (last 64 KiB) */
  console = '';
  /** set once the console showed an oops: the text from the oops line on */
  oops?: string;
  exited?: string;
  onLine?: (line: string) => void;
  onOops?: (text: string) => void;
  onExit?: (why: string) => void;
  /** only console text after this offset is scanned for oopses (boot chatter is not a finding) */
  private armed = false;

  constructor(readonly image: GuestImage, readonly opts: VmOptions = {}) {
    this.dir = mkdtempSync(join(os.tmpdir(), 'ptefarm-qemu-'));
  }

  get pid(): number | undefined { return this.exited ? undefined : this.child?.pid ?? this.launched?.pid; }

  /** Launch, wait for the guest line, the executor's ready line and its probe. */
  async boot(): Promise<BootInfo> {
    const t0 = Date.now();
    const sockPath = join(this.dir, 'ex.sock');
    const lines: string[] = [];
    let wake: (() => void) | undefined;
    const server = net.createServer();
    this.server = server;
    await new Promise<void>((res, rej) => { server.once('error', rej); server.listen(sockPath, res); });
    server.on('connection', (s) => {
      if (this.sock) { s.destroy(); return; }
      this.sock = s;
      s.setEncoding('utf8');
      s.on('data', (d: string) => {
        this.buf += d;
        let i;
        while ((i = this.buf.indexOf('\n')) >= 0) {
          const l = this.buf.slice(0, i);
          this.buf = this.buf.slice(i + 1);
          if (this.onLine) this.onLine(l); else { lines.push(l); wake?.(); }
        }
      });
      s.on('error', () => { /* reported through QEMU's exit */ });
    });
    const { bin, args } = qemuCommand(this.image, sockPath, this.opts);
    const onCon = (d: Buffer) => {
      const text = d.toString();
      this.console = (this.console + text).slice(-65536);
      if (!this.armed || this.oops !== undefined) {
        if (this.oops !== undefined) this.oops = (this.oops + text).slice(0, 8192);
        return;
      }
      this.conBuf += text;
      const m = OOPS_RE.exec(this.conBuf);
      if (m) {
        this.oops = this.conBuf.slice(m.index);
        this.onOops?.(this.oops);
      }
      this.conBuf = this.conBuf.slice(-200);
    };
    const done = (why: string) => {
      if (this.exited) return;
      this.exited = why;
      wake?.();
      this.onExit?.(why);
    };
    if (launcherPath && !isMainThread) this.launch(launcherPath, bin, args, onCon, done);
    else {
      // setpriv --pdeathsig: QEMU dies with the thread that started it (a crashed ptefarm), so no
      // guest outlives its supervisor
      const [cmd, argv] = SETPRIV ? [SETPRIV, ['--pdeathsig', 'KILL', '--', bin, ...args]] : [bin, args];
      const child = spawn(cmd, argv, { stdio: ['pipe', 'pipe', 'pipe'] });
      this.child = child;
      child.stdout.on('data', onCon);
      child.stderr.on('data', onCon);
      child.stdin.on('error', () => {});
      child.on('exit', (code, sig) => done(sig ? `qemu killed by ${sig}` : `qemu exited with code ${code}`));
      child.on('error', (e) => done(`could not run ${bin}: ${e.message}`));
    }

    const timeout = this.opts.bootTimeoutMs ?? BOOT_TIMEOUT_MS;
    const next = async (): Promise<string> => {
      for (;;) {
        const l = lines.shift();
        if (l !== undefined) return l;
        if (this.exited) throw new Error(`${this.exited} during boot; console:\n${this.console.slice(-1500)}`);
        const left = t0 + timeout - Date.now();
        if (left <= 0) throw new Error(`no executor after ${timeout} ms; console:\n${this.console.slice(-1500)}`);
        await new Promise<void>((res) => { const t = setTimeout(res, left); wake = () => { clearTimeout(t); wake = undefined; res(); }; });
      }
    };
    try {
      let guest: Record<string, string> | undefined;
      for (;;) {
        const l = await next();
        if (l.startsWith('guest ')) guest = kv(l);
        else if (l.startsWith('ready ')) break;
      }
      this.armed = true;
      this.send('probe\n');
      let probe: Record<string, string> = {};
      const fileLines: string[] = [];
      for (;;) {
        const l = await next();
        if (l.startsWith('probe ')) probe = kv(l);
        else if (l.startsWith('file ')) fileLines.push(l);
        else if (l === 'end probe') break;
      }
      if (!guest) throw new Error('the guest init wrote no `guest` line');
      if (lines.length) throw new Error(`unexpected executor output after the probe: ${lines[0].slice(0, 80)}`);
      return { guest, probe, files: parseProbeFiles(fileLines), bootMs: Date.now() - t0 };
    } catch (e) {
      this.kill();
      throw new Error(`qemu ${this.image.spec}: boot failed: ${(e as Error).message}`);
    }
  }

  /** QEMU started by the launcher (workers/qemu-launcher.mjs), which stays its parent: it kills
   *  QEMU's process group when this connection closes (this thread terminated) and reaps it. */
  private launch(path: string, bin: string, args: string[], onCon: (d: Buffer) => void, done: (why: string) => void): void {
    const conn = net.connect(path);
    this.launched = { conn };
    let buf = '';
    conn.setEncoding('utf8');
    conn.write(JSON.stringify({ bin, args }) + '\n');
    conn.on('data', (d: string) => {
      buf += d;
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        let m: { pid?: number; out?: string; exit?: { code: number | null; signal: string | null }; error?: string };
        try { m = JSON.parse(line) as typeof m; } catch { continue; }
        if (typeof m.pid === 'number') this.launched!.pid = m.pid;
        else if (typeof m.out === 'string') onCon(Buffer.from(m.out, 'base64'));
        else if (m.exit) done(m.exit.signal ? `qemu killed by ${m.exit.signal}` : `qemu exited with code ${m.exit.code}`);
        else if (typeof m.error === 'string') done(m.error);
      }
    });
    conn.on('error', (e) => done(`qemu launcher: ${e.message}`));
    conn.on('close', () => done('qemu launcher: the connection closed'));
  }

  send(text: string): void { this.sock?.write(text); }

  kill(): void {
    if (this.child && !this.exited) this.child.kill('SIGKILL');
    // the launcher kills QEMU's process group when asked, and when the connection closes
    if (this.launched && !this.exited) { this.launched.conn.write(JSON.stringify({ kill: true }) + '\n'); this.launched.conn.end(); }
    this.sock?.destroy();
    this.server?.close();
    try { rmSync(this.dir, { recursive: true, force: true }); } catch { /* best effort */ }
  }

  /** Ask the executor to quit (the guest powers off), then make sure QEMU is gone. */
  async shutdown(ms = 5000): Promise<void> {
    if ((!this.child && !this.launched) || this.exited) { this.kill(); return; }
    this.send('quit\n');
    await new Promise<void>((res) => {
      const t = setTimeout(res, ms);
      const prev = this.onExit;
      this.onExit = (why) => { prev?.(why); clearTimeout(t); res(); };
      if (this.exited) { clearTimeout(t); res(); }
    });
    this.kill();
  }
}
