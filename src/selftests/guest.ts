// Run the built selftests inside a QEMU guest (`ptefarm selftests --target qemu:<image>`). The guest
// is the fuzzing guest (src/targets/qemu: same kernel, same init, same THP/khugepaged/zram set-up)
// with an overlay archive appended to its initramfs: the selftest binaries under /selftests, and a
// shell script in place of /bin/ptefarm-exec, which the init starts on the exec0 virtio port. The
// script runs each selftest and frames its output with a per-run nonce (so no selftest output can
// forge a frame), then exits; the init powers the guest off.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import { join } from 'node:path';
import { resolveImage, type GuestImage } from '../targets/qemu/images.ts';
import { kv, OOPS_RE, qemuCommand } from '../targets/qemu/vm.ts';
import { binaryFor, type BuiltSelftests } from './build.ts';
import type { Selftest } from './catalogue.ts';
import { appendArchive, newcArchive, type CpioEntry } from './cpio.ts';
import { judge, notBuilt, type SelftestRun } from './result.ts';

const SETPRIV = ['/usr/bin/setpriv', '/bin/setpriv'].find((p) => existsSync(p));
const SAFE_WORD = /^[A-Za-z0-9._-]+$/;

export interface GuestRun {
  image: string;
  /** the init's `guest k=v` facts (release, arch, swap, thp...) */
  guest: Record<string, string>;
  runs: SelftestRun[];
  /** the console from the first oops line on, when the kernel oopsed */
  oops?: string;
  /** wall time from QEMU's start to its exit */
  ms: number;
}

/** The script that stands in for the executor: runs each selftest, framed by `@@NONCE` lines. */
export function guestScript(nonce: string, tests: readonly { t: Selftest; present: boolean }[]): string {
  const lines = [
    '#!/bin/sh',
    '# ptefarm selftests: started by the guest init in place of the executor (src/selftests/guest.ts)',
    'cs() { cut -d" " -f1 /proc/uptime | tr -d .; }',
    'run() {',
    '  name=$1; user=$2; secs=$3; shift 3',
    '  d=$(mktemp -d /tmp/selftest.XXXXXX)',
    `  echo "@@${nonce} begin $name user=$user"`,
    '  s=$(cs)',
    '  if [ "$user" = root ]; then (cd "$d" && exec timeout "$secs" /selftests/"$name" "$@" 2>&1); rc=$?',
    '  else chown 65534:65534 "$d"; timeout "$secs" su -s /bin/sh nobody -c "cd $d && exec /selftests/$name $* 2>&1"; rc=$?; fi',
    '  e=$(cs)',
    `  echo "@@${nonce} end $name rc=$rc ms=$(( (e - s) * 10 ))"`,
    '  rm -rf "$d"',
    '}',
  ];
  for (const { t, present } of tests) {
    for (const w of [t.name, ...t.args]) if (!SAFE_WORD.test(w)) throw new Error(`selftests: unsafe word "${w}" in the guest script`);
    if (!present) continue;
    lines.push(`run ${t.name} ${t.root ? 'root' : 'nobody'} ${t.timeoutS} ${t.args.join(' ')}`.trimEnd());
  }
  lines.push(`echo "@@${nonce} done"`, '');
  return lines.join('\n');
}

interface Frame { name: string; user: string; lines: string[]; rc?: number; ms?: number }

/** The framed output of the guest script, by selftest; `done` says the script reached its end. */
export function parseFrames(nonce: string, text: string): { guest: Record<string, string>; frames: Map<string, Frame>; done: boolean } {
  const frames = new Map<string, Frame>();
  let guest: Record<string, string> = Object.create(null);
  let cur: Frame | undefined, done = false;
  const tag = `@@${nonce} `;
  for (const line of text.split('\n')) {
    if (line.startsWith('guest ') && !cur) { guest = kv(line); continue; }
    if (line.startsWith(tag)) {
      const [what, name, ...rest] = line.slice(tag.length).trim().split(/\s+/);
      if (what === 'begin') { cur = { name, user: kv(`x ${rest.join(' ')}`).user ?? '?', lines: [] }; frames.set(name, cur); }
      else if (what === 'end' && cur && cur.name === name) {
        const f = kv(`x ${rest.join(' ')}`);
        cur.rc = Number(f.rc); cur.ms = Number(f.ms); cur = undefined;
      } else if (what === 'done') done = true;
      continue;
    }
    if (cur) cur.lines.push(line);
  }
  return { guest, frames, done };
}

interface Boot { text: string; consoleText: string; why?: string; ms: number }

/** One QEMU run: the port's text, the console, why it ended early (if it did). */
async function bootOnce(img: GuestImage, sockPath: string, totalMs: number): Promise<Boot> {
  let text = '';
  const server = net.createServer((s) => { s.setEncoding('utf8'); s.on('data', (d: string) => { text += d; }); s.on('error', () => undefined); });
  await new Promise<void>((res, rej) => { server.once('error', rej); server.listen(sockPath, res); });
  // no_timer_check: on a loaded host, TCG can miss the boot-time IO-APIC timer check and panic
  // ("IO-APIC + timer doesn't work", check_timer()); the check says nothing about mm
  const { bin, args } = qemuCommand(img, sockPath, img.arch === 'amd64' ? { append: 'no_timer_check' } : {});
  const [cmd, argv] = SETPRIV ? [SETPRIV, ['--pdeathsig', 'KILL', '--', bin, ...args]] : [bin, args];
  const t0 = Date.now();
  let consoleText = '';
  let why: string | undefined;
  await new Promise<void>((res) => {
    const child = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    const con = (d: Buffer) => { consoleText = (consoleText + d.toString()).slice(-1_048_576); };
    child.stdout.on('data', con);
    child.stderr.on('data', con);
    const timer = setTimeout(() => { why = `the guest did not finish within ${Math.round(totalMs / 1000)} s`; child.kill('SIGKILL'); }, totalMs);
    child.on('error', (e) => { why = `could not run ${bin}: ${e.message}`; clearTimeout(timer); res(); });
    child.on('exit', (code, sig) => { clearTimeout(timer); if (sig && !why) why = `qemu killed by ${sig}`; else if (code && !why) why = `qemu exited with code ${code}`; res(); });
  });
  server.close();
  return { text, consoleText, ...(why ? { why } : {}), ms: Date.now() - t0 };
}

export async function runGuest(b: BuiltSelftests, spec: string, tests: readonly Selftest[],
  log: (l: string) => void = () => undefined, opts: { bootTimeoutMs?: number } = {}): Promise<GuestRun> {
  const img = resolveImage(spec);
  const nonce = randomBytes(8).toString('hex');
  const entries: CpioEntry[] = [{ path: 'selftests', mode: 0o040755 }];
  const plan: { t: Selftest; present: boolean }[] = [];
  const missing = new Map<string, SelftestRun>();
  for (const t of tests) {
    const bin = binaryFor(b, img.arch, t.name);
    if ('path' in bin) { entries.push({ path: `selftests/${t.name}`, mode: 0o100755, data: readFileSync(bin.path) }); plan.push({ t, present: true }); }
    else { missing.set(t.name, notBuilt(t, bin.why)); plan.push({ t, present: false }); }
  }
  entries.push({ path: 'bin/ptefarm-exec', mode: 0o100755, data: Buffer.from(guestScript(nonce, plan)) });

  const dir = mkdtempSync(join(os.tmpdir(), 'ptefarm-selftests-qemu-'));
  try {
    const initrd = join(dir, 'initrd.cpio');
    writeFileSync(initrd, appendArchive(readFileSync(img.initrd), newcArchive(entries)));
    const guestImg: GuestImage = { ...img, initrd };
    const total = (opts.bootTimeoutMs ?? 180_000) + plan.filter((p) => p.present).reduce((a, p) => a + p.t.timeoutS * 1000, 0) + 30_000;
    log(`selftests: booting ${spec} (${img.release ?? img.kernel}) with ${plan.filter((p) => p.present).length} selftest(s); at most ${Math.round(total / 1000)} s`);
    let boot = await bootOnce(guestImg, join(dir, 'port.sock'), total);
    // a guest that died before its init spoke (TCG on a loaded host) is booted once more: nothing ran yet
    if (!boot.text.includes('\nguest ') && !boot.text.startsWith('guest ')) {
      log(`selftests: ${spec} did not start (${boot.why}); booting once more`);
      boot = await bootOnce(guestImg, join(dir, 'port2.sock'), total);
    }
    const { text, consoleText, ms } = boot;
    let why = boot.why;
    const { guest, frames, done } = parseFrames(nonce, text);
    // boot chatter is no finding: scan the console from the guest's "executor on" line on
    const armed = consoleText.indexOf('ptefarm: executor on');
    const m = armed >= 0 ? OOPS_RE.exec(consoleText.slice(armed)) : null;
    const oops = m ? consoleText.slice(armed + m.index, armed + m.index + 8192) : undefined;
    if (!done && !why) why = 'the guest script did not reach its end';
    const runs: SelftestRun[] = [];
    for (const { t, present } of plan) {
      if (!present) { runs.push(missing.get(t.name)!); continue; }
      const f = frames.get(t.name);
      if (!f) { runs.push({ name: t.name, status: 'error', why: `did not run in the guest${why ? `: ${why}` : ''}`, counts: { pass: 0, fail: 0, skip: 0, xfail: 0 }, args: t.args }); continue; }
      if (f.rc === undefined) {
        runs.push({ ...judge(t, { output: f.lines.join('\n'), ms: ms, user: f.user, timedOut: false }), status: 'error', why: `no end of run in the guest${why ? `: ${why}` : ''}` });
        continue;
      }
      // busybox timeout: TERM after SECS, the status then is 128+15; a signal death is 128+N
      const timedOut = (f.ms ?? 0) >= t.timeoutS * 1000 - 1000 && f.rc >= 124;
      const signal = !timedOut && f.rc > 128 ? `signal ${f.rc - 128}` : undefined;
      runs.push(judge(t, { output: f.lines.join('\n'), ms: f.ms ?? 0, user: f.user, timedOut, ...(signal ? { signal } : { exit: f.rc }) }));
    }
    if (!done && Object.keys(guest).length === 0) {
      throw new Error(`qemu ${spec}: the guest never started the selftests (${why}); console:\n${consoleText.slice(-1500)}`);
    }
    return { image: spec, guest, runs, ...(oops ? { oops } : {}), ms };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
