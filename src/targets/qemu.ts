// The `qemu:<image>` target: a Debian (or user-built) kernel under QEMU TCG, running the native
// executor inside the guest behind a virtio-serial channel (src/targets/qemu/vm.ts). Cases are
// encoded and decoded exactly as for `live` (src/targets/executor/protocol.ts); several are pipelined on the
// channel at once, each tagged with its id. A supervisor restarts the VM when QEMU dies, a reply
// misses its deadline, or the console shows a kernel oops; the case at the head of the pipeline
// gets the fault (`kernel oops: ...` for an oops), the others are re-sent to the new VM.
//
// Capabilities come from the guest: the executor's probe, the init's `guest` line (release, swap,
// THP) and the kernel config. TargetInfo.kernel is the guest release, so callers pick the model
// profile with profileForRelease(info.kernel).
import type { Case, Op } from '../ops/schema.ts';
import type { Capabilities, TargetInfo, Trace } from '../ops/trace.ts';
import type { Target } from './target.ts';
import { decodeReply, encodeCase, type EncodedCase } from './executor/protocol.ts';
import { activeSwaps, capabilitiesOf, geometryOfProbe, hostSettingsOf, executorFacts, selected, sourcedFacts, THP_SYSFS, type ProbeResult } from './probe.ts';
import { assessHost, HostRefusedError, thpCaseSkipReason } from './host-policy.ts';
import { usesHugetlb } from './hugetlb-host.ts';
import { readKernelConfig, resolveImage, type GuestImage } from './qemu/images.ts';
import { Vm, type BootInfo, type VmOptions } from './qemu/vm.ts';

export interface QemuOptions extends VmOptions {
  /** wall-clock limit per case inside the guest (default 20 s: TCG is 10x slower than the host) */
  caseTimeoutMs?: number;
  /** extra host-side grace on top of caseTimeoutMs before the VM is declared hung (default 15 s) */
  graceMs?: number;
  /** cases in flight on the channel at once (default 8) */
  pipeline?: number;
  /** test only: make the executor's supervisor hang or crash at this op */
  inject?: { kind: 'hang' | 'crash'; op: number };
}

interface Job {
  id: string;
  enc: EncodedCase;
  text: string;
  lines: string[];
  began: boolean;
  resolve: (r: { lines: string[]; fault?: string }) => void;
}

/** kernel config facts that decide what the guest can show, beyond the executor's probe */
export function configFacts(cfg: Record<string, string> | undefined): { soft_dirty?: boolean; uffd_wp?: boolean } {
  if (!cfg) return {};
  return {
    soft_dirty: cfg.CONFIG_MEM_SOFT_DIRTY === 'y',
    uffd_wp: cfg.CONFIG_HAVE_ARCH_USERFAULTFD_WP === 'y' && cfg.CONFIG_USERFAULTFD === 'y',
  };
}

export function guestProbe(boot: BootInfo, cfg: Record<string, string> | undefined): ProbeResult {
  const f = boot.probe;
  const b = (k: string) => f[k] === '1';
  const c = configFacts(cfg);
  const notes: string[] = [];
  const soft_dirty = b('soft_dirty') && c.soft_dirty !== false;
  if (!soft_dirty) notes.push('soft-dirty is not compiled in (CONFIG_MEM_SOFT_DIRTY): bit 55 is shown as ?');
  const uffd_wp = b('uffd_wp') && c.uffd_wp !== false;
  if (b('uffd') && !uffd_wp) notes.push('no userfaultfd write-protect on this kernel: cases with uffd are skipped');
  const swap = boot.guest.swap === '1';
  if (!swap) notes.push('no zram swap in the guest: pageout steps are skipped');
  // the guest's own files, as its executor printed them (images built before that: the init's line)
  const files = boot.files ?? new Map<string, string>();
  const swaps = files.get('/proc/swaps');
  const arch = boot.guest.arch ?? 'unknown', kernel = boot.guest.release ?? 'unknown';
  return {
    arch,
    kernel,
    executor: 'guest:/bin/ptefarm-exec',
    ...executorFacts(f),
    soft_dirty,
    uffd_wp,
    swap,
    swap_devices: swaps !== undefined ? activeSwaps(swaps) : swap ? ['/dev/zram0'] : [],
    thp: files.has(`${THP_SYSFS}/enabled`) ? selected(files.get(`${THP_SYSFS}/enabled`)!) : boot.guest.thp ?? 'unknown',
    thp_shmem: files.has(`${THP_SYSFS}/shmem_enabled`) ? selected(files.get(`${THP_SYSFS}/shmem_enabled`)!) : boot.guest.thp_shmem ?? 'unknown',
    notes,
    facts: sourcedFacts({ arch, kernel, unameSource: 'guest init: uname', exec: f, files, guest: true }),
  };
}

/** capabilities an x86 model target has that this guest lacks (shown as `?` or skipped) */
export function maskedCapabilities(caps: Capabilities): string[] {
  return ['soft_dirty', 'uffd_wp', 'wp_async', 'wp_unpopulated', 'event_fork', 'event_remap', 'event_unmap', 'pagemap_scan', 'swap', 'thp']
    .filter((k) => caps[k] === false);
}

export class QemuTarget implements Target {
  readonly image: GuestImage;
  private vm?: Vm;
  private booting?: Promise<Vm>;
  private probe?: ProbeResult;
  private bootInfo?: BootInfo;
  private queue: Job[] = [];
  private inflight: Job[] = [];
  private headSince = 0;
  private watchdog?: NodeJS.Timeout;
  private seq = 0;
  private closed = false;
  private bootFailures = 0;
  /** VM launches (restarts included) and their boot times */
  starts = 0;
  bootTimes: number[] = [];
  /** console text of every oops seen */
  oopses: string[] = [];

  constructor(readonly spec: string, readonly opts: QemuOptions = {}) {
    this.image = resolveImage(spec);
  }

  get name(): string { return `qemu:${this.spec}`; }
  /** pid of the running QEMU (tests kill it) */
  get pid(): number | undefined { return this.vm?.pid; }
  get console(): string { return this.vm?.console ?? ''; }

  private async ensureVm(): Promise<Vm> {
    if (this.vm && !this.vm.exited) return this.vm;
    this.booting ??= (async () => {
      try {
        for (;;) {
          const vm = new Vm(this.image, this.opts);
          this.starts++;
          try {
            const info = await vm.boot();
            this.bootFailures = 0;
            this.bootTimes.push(info.bootMs);
            this.bootInfo = info;
            this.probe ??= guestProbe(info, readKernelConfig(this.image.config));
            vm.onLine = (l) => this.onLine(vm, l);
            vm.onOops = (text) => this.onOops(vm, text);
            vm.onExit = (why) => this.onVmGone(vm, why);
            this.vm = vm;
            return vm;
          } catch (e) {
            if (++this.bootFailures >= 3) throw e;
          }
        }
      } finally { this.booting = undefined; }
    })();
    return this.booting;
  }

  private async getProbe(): Promise<ProbeResult> {
    if (!this.probe) await this.ensureVm();
    return this.probe!;
  }

  /** boot time of the first VM, and facts of the guest */
  get boot(): BootInfo | undefined { return this.bootInfo; }

  async info(): Promise<TargetInfo> {
    const p = await this.getProbe();
    await this.hostCheck();
    // host: the settings and the page geometry traces carry (generators size THP regions by it)
    return { name: this.name, arch: p.arch, kernel: p.kernel, capabilities: capabilitiesOf(p), host: hostSettingsOf(p) };
  }

  /** what the guest reports, whether or not the target refuses it */
  async probeResult(): Promise<ProbeResult> { return this.getProbe(); }

  /** Throws HostRefusedError when the guest has a setting the model does not cover
   *  (src/targets/host-policy.ts); otherwise the warnings worth printing. */
  async hostCheck(): Promise<string[]> {
    const a = assessHost(await this.getProbe(), this.name);
    if (a.refusals.length) throw new HostRefusedError(this.name, a.refusals);
    return a.warnings;
  }

  caseSkipReason(c: Case, probe: ProbeResult): string | undefined {
    const thp = thpCaseSkipReason(c, probe, 'this guest kernel');
    if (thp) return thp;
    // the guest init reserves no hugetlb pages: an mmap of one would fail (ENOMEM), which is the
    // guest's limit, not the kernel's verdict
    if (usesHugetlb(c)) return 'hugetlb: the guest reserves no 2 MiB hugetlb pages';
    if (!c.uffd) return undefined;
    if (!probe.userfaultfd) return 'userfaultfd is not available on this guest kernel';
    if (!probe.uffd_wp) return 'userfaultfd write-protect (UFFDIO_REGISTER_MODE_WP) is not available on this guest kernel';
    for (const f of c.uffd.features ?? []) if (!probe[f]) return `userfaultfd feature ${f} is not supported by this guest kernel`;
    return undefined;
  }

  opSkipReason(op: Op, probe: ProbeResult): string | undefined {
    if (op.op === 'pageout' && !probe.swap) return 'no swap in the guest: MADV_PAGEOUT cannot reclaim';
    if (op.op === 'scan' && !probe.pagemap_scan) return 'PAGEMAP_SCAN is not supported by this guest kernel';
    return undefined;
  }

  async execute(c: Case): Promise<Trace> {
    if (this.closed) throw new Error(`${this.name}: target is closed`);
    let probe: ProbeResult;
    try { probe = await this.getProbe(); await this.hostCheck(); } catch (e) {
      return { format: 'ptefarm-trace/1', target: { name: this.name, arch: this.image.arch, kernel: this.image.release ?? 'unknown', capabilities: { soft_dirty: false, uffd_wp: false, wp_async: false, pagemap_scan: false, swap: false, thp: false } }, steps: [], fault: (e as Error).message };
    }
    const target: TargetInfo = { name: this.name, arch: probe.arch, kernel: probe.kernel, capabilities: capabilitiesOf(probe), host: hostSettingsOf(probe) };
    const caseSkip = this.caseSkipReason(c, probe);
    if (caseSkip) return { format: 'ptefarm-trace/1', target, steps: [], skipped: caseSkip };
    const enc = encodeCase(c, (op) => this.opSkipReason(op, probe), geometryOfProbe(probe));
    const timeout = this.opts.caseTimeoutMs ?? 20_000;
    const id = `q${++this.seq}`;
    const inject = this.opts.inject ? ` ${this.opts.inject.kind === 'hang' ? 1 : 2} ${this.opts.inject.op}` : '';
    const text = `case ${id} ${enc.lines.length} ${enc.uffdFeatures} ${timeout}${inject}\n${enc.lines.join('\n')}\n`;
    const reply = await new Promise<{ lines: string[]; fault?: string }>((resolve) => {
      this.queue.push({ id, enc, text, lines: [], began: false, resolve });
      void this.pump();
    });
    const trace: Trace = { format: 'ptefarm-trace/1', target, steps: [] };
    try {
      const { steps, fault } = decodeReply(reply.lines, enc, target.capabilities.soft_dirty, target.capabilities.pagemap_scan);
      trace.steps = steps;
      if (fault) trace.fault = fault;
    } catch (e) {
      trace.fault = `bad executor output: ${(e as Error).message}`;
    }
    if (reply.fault) trace.fault = reply.fault;
    return trace;
  }

  /** keep the pipeline full */
  private async pump(): Promise<void> {
    if (!this.queue.length) return;
    let vm: Vm;
    try { vm = await this.ensureVm(); } catch (e) {
      const why = `qemu: no VM: ${(e as Error).message}`;
      for (const j of this.queue.splice(0)) j.resolve({ lines: [], fault: why });
      return;
    }
    if (vm !== this.vm || vm.exited) return; // a restart is in progress; it pumps again
    const depth = this.opts.pipeline ?? 8;
    while (this.queue.length && this.inflight.length < depth) {
      const j = this.queue.shift()!;
      if (!this.inflight.length) this.headSince = Date.now();
      this.inflight.push(j);
      vm.send(j.text);
    }
    this.armWatchdog();
  }

  private armWatchdog(): void {
    if (this.watchdog || !this.inflight.length) return;
    this.watchdog = setInterval(() => {
      if (!this.inflight.length) { clearInterval(this.watchdog); this.watchdog = undefined; return; }
      const limit = (this.opts.caseTimeoutMs ?? 20_000) + (this.opts.graceMs ?? 15_000);
      if (Date.now() - this.headSince > limit && this.vm) {
        this.fail(this.vm, `timeout: no reply from the guest in ${limit} ms; the VM was killed and will be restarted`);
      }
    }, 250);
    this.watchdog.unref?.();
  }

  private onLine(vm: Vm, l: string): void {
    if (vm !== this.vm) return;
    const head = this.inflight[0];
    if (!head) return; // stale output
    if (!head.began) { if (l === `begin ${head.id}`) head.began = true; return; }
    if (l === `end ${head.id}`) {
      this.inflight.shift();
      this.headSince = Date.now();
      head.resolve({ lines: head.lines });
      void this.pump();
      return;
    }
    head.lines.push(l);
  }

  private onOops(vm: Vm, _text: string): void {
    if (vm !== this.vm) return;
    // let the rest of the oops reach the console, then restart
    setTimeout(() => {
      if (vm !== this.vm) return;
      const text = (vm.oops ?? _text).trim();
      this.oopses.push(text);
      this.fail(vm, `kernel oops: ${text.slice(0, 4000)}`);
    }, 500);
  }

  private onVmGone(vm: Vm, why: string): void {
    if (vm !== this.vm || this.closed) return;
    this.fail(vm, vm.oops ? `kernel oops: ${vm.oops.trim().slice(0, 4000)}` : `${why} during the case; the VM will be restarted; console: ${vm.console.slice(-600)}`);
  }

  /** kill the VM; the head case gets `fault`, the rest are re-sent to a new VM */
  private fail(vm: Vm, fault: string): void {
    if (vm !== this.vm) return;
    this.vm = undefined;
    vm.onLine = vm.onOops = vm.onExit = undefined;
    vm.kill();
    const [head, ...rest] = this.inflight.splice(0);
    for (const j of rest) { j.lines = []; j.began = false; }
    this.queue.unshift(...rest);
    head?.resolve({ lines: head.lines, fault });
    if (this.watchdog) { clearInterval(this.watchdog); this.watchdog = undefined; }
    if (!this.closed) void this.pump();
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.watchdog) { clearInterval(this.watchdog); this.watchdog = undefined; }
    for (const j of [...this.inflight.splice(0), ...this.queue.splice(0)]) j.resolve({ lines: [], fault: 'target closed' });
    const vm = this.vm ?? (this.booting ? await this.booting.catch(() => undefined) : undefined);
    this.vm = undefined;
    if (vm) { vm.onLine = vm.onOops = vm.onExit = undefined; await vm.shutdown(); }
  }
}
