// The QEMU launcher: a small process, the child of a ptefarm main thread, that starts QEMU for the
// pool's worker threads and stays QEMU's parent, so that every QEMU is reaped whatever happens to
// the thread that asked for it. (A child process spawned by a worker thread is waited for by that
// thread's event loop only: when piscina terminates the thread after a timeout, the QEMU it
// started, killed by its parent-death signal, stays a zombie of ptefarm until ptefarm exits.)
// Started by src/targets/qemu/launcher.ts (startQemuLauncher); src/targets/qemu/vm.ts talks to it.
//
// Protocol, JSON lines on a unix socket (the path is argv[2]), one connection per QEMU:
//   client -> launcher: {"bin": "...", "args": [...]} once, then {"kill": true} to kill it
//   launcher -> client: {"pid": N}, {"out": "<base64 console bytes>"}..., {"exit": {"code": C, "signal": S}} or {"error": "..."}
// A connection that closes (the worker thread terminated, ptefarm crashed) kills its QEMU's process
// group. The launcher exits, killing every QEMU it started, when its stdin closes (its parent is gone).
// Plain JavaScript: it runs without tsx.
import { spawn } from 'node:child_process';
import net from 'node:net';

const path = process.argv[2];
if (!path) { process.stderr.write('qemu-launcher: usage: qemu-launcher.mjs SOCKET\n'); process.exit(2); }
const children = new Set();

function killGroup(child) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  // QEMU leads its own process group (detached): whatever it forked goes with it
  try { process.kill(-child.pid, 'SIGKILL'); } catch { try { child.kill('SIGKILL'); } catch { /* gone */ } }
}

const server = net.createServer((conn) => {
  let buf = '';
  let child;
  const send = (m) => { if (!conn.destroyed) conn.write(JSON.stringify(m) + '\n'); };
  conn.setEncoding('utf8');
  conn.on('data', (d) => {
    buf += d;
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      let m;
      try { m = JSON.parse(line); } catch { send({ error: 'qemu-launcher: a request that is not JSON' }); conn.end(); return; }
      if (!child) {
        if (typeof m?.bin !== 'string' || !Array.isArray(m.args) || !m.args.every((a) => typeof a === 'string')) { send({ error: 'qemu-launcher: expected {bin, args}' }); conn.end(); return; }
        child = spawn(m.bin, m.args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
        children.add(child);
        child.on('error', (e) => { children.delete(child); send({ error: `could not run ${m.bin}: ${e.message}` }); conn.end(); });
        child.on('spawn', () => send({ pid: child.pid }));
        const out = (b) => send({ out: b.toString('base64') });
        child.stdout.on('data', out);
        child.stderr.on('data', out);
        child.on('exit', (code, signal) => { children.delete(child); send({ exit: { code, signal } }); conn.end(); });
      } else if (m?.kill) killGroup(child);
    }
  });
  const gone = () => { if (child) killGroup(child); };
  conn.on('close', gone);
  conn.on('error', gone);
});

server.listen(path, () => process.stdout.write('ready\n'));
server.on('error', (e) => { process.stderr.write(`qemu-launcher: ${e.message}\n`); process.exit(2); });
process.stdin.on('data', () => undefined);
process.stdin.on('end', () => {
  // ptefarm is gone: kill every QEMU; the launcher exits once their exits are reaped (no handle left)
  for (const c of children) killGroup(c);
  server.close();
  process.stdin.destroy();
});
process.stdin.resume();
