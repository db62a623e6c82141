// One option vocabulary (issue 12 item 8): fuzz, gate and the coordinator (and `fuzz --nats`, whose
// campaign is stored on the farm) register the shared campaign options word for word and resolve
// them to the same defaults; every option that takes a time is written <time> and refuses a bare
// number; what the CLI prints as JSON has one casing (snake_case).
import { describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command, type Option } from 'commander';
import { commandModules } from '../../src/cli/commands/index.ts';
import { DEFAULT_CASES, DEFAULT_SEED, resolveCampaignFlags, resolveNoWorkerGrace, type CampaignFlags } from '../../src/campaign/config.ts';
import { BIN } from '../helpers/nats-server.ts';
import { notSnake } from '../helpers/json-keys.ts';

async function program(): Promise<Command> {
  const p = new Command('ptefarm').exitOverride();
  for (const m of commandModules) (await m.load()).register(p);
  // parse only: no command body runs
  const quiet = (c: Command) => { c.exitOverride().action(() => undefined); c.commands.forEach(quiet); };
  p.commands.forEach(quiet);
  return p;
}

const all = (c: Command, pre = ''): { cmd: string; o: Option }[] =>
  [...c.options.map((o) => ({ cmd: `${pre}${c.name()}`, o })), ...c.commands.flatMap((s) => all(s, `${pre}${c.name()} `))];

const shape = (o: Option | undefined) => o && { flags: o.flags, description: o.description, default: o.defaultValue, hidden: o.hidden };

function run(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
    p.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
    p.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('one option vocabulary', () => {
  it('fuzz, gate and coordinator register the shared campaign options word for word', async () => {
    const p = await program();
    const cmd = (n: string) => p.commands.find((c) => c.name() === n)!;
    const opt = (n: string, long: string) => cmd(n).options.find((o) => o.long === long);
    const same = (cmds: string[], longs: string[]) => {
      for (const long of longs) {
        const first = shape(opt(cmds[0], long));
        expect(first, `${cmds[0]} ${long}`).toBeDefined();
        for (const n of cmds.slice(1)) expect(shape(opt(n, long)), `${n} ${long}`).toEqual(first);
      }
    };
    same(['fuzz', 'gate', 'coordinator'], ['--cases', '--duration', '--seed', '--timeout', '--workdir', '--no-save', '--ui', '--ui-token']);
    same(['fuzz', 'coordinator'], ['--stop-after', '--stop-after-buckets', '--first', '--no-minimize']);
    // the farm campaign options: `fuzz --nats` is the coordinator's campaign
    same(['fuzz', 'coordinator'], ['--campaign', '--resume', '--window', '--ack-wait', '--max-deliver', '--no-worker-grace', '--nats-user', '--nats-token', '--tls-ca']);
    // the same short names everywhere they exist
    for (const { cmd: c, o } of all(p)) {
      if (o.long === '--seed') expect(o.short, c).toBe('-s');
      if (o.long === '--threads') expect(o.short, c).toBe('-j');
      if (o.long === '--target') expect(o.short, c).toBe('-t');
    }
  });

  it('the same command line resolves to the same seed, budget, timeout and work directory in fuzz, gate and coordinator', async () => {
    const p = await program();
    const resolved = (argv: string[]) => {
      p.parse(argv, { from: 'user' });
      const c = p.commands.find((x) => x.name() === argv[0])!;
      return resolveCampaignFlags(c.opts() as CampaignFlags, '/somewhere');
    };
    const lines = { fuzz: ['fuzz', '-t', 'model:x86'], gate: ['gate', '-t', 'model:x86'], coordinator: ['coordinator', '--nats', 'nats://x', '-t', 'model:x86'] };
    const defaults = Object.values(lines).map((l) => { const r = resolved(l); return { seed: r.seed, cases: r.cases, durationMs: r.durationMs, timeoutMs: r.timeoutMs, workdir: r.workdir }; });
    expect(defaults[0]).toEqual({ seed: DEFAULT_SEED, cases: DEFAULT_CASES, durationMs: undefined, timeoutMs: 10_000, workdir: '/somewhere/ptefarm-work' });
    expect(defaults[1]).toEqual(defaults[0]);
    expect(defaults[2]).toEqual(defaults[0]);
    const given = Object.values(lines).map((l) => { const r = resolved([...l, '-s', '7', '-d', '5m', '--timeout', '1.5s', '--workdir', 'w']); return [r.seed, r.cases, r.durationMs, r.timeoutMs, r.workdir]; });
    expect(given).toEqual(Array(3).fill([7, undefined, 300_000, 1500, '/somewhere/w']));
    // the coordinator's grace: the flag absent (commander's `true`) is the default, 30s
    expect(resolveNoWorkerGrace(true)).toBe(30_000);
    expect(resolveNoWorkerGrace('5m')).toBe(300_000);
  });

  it('every option that takes a time is written <time>, names its units, and refuses a bare number', async () => {
    const p = await program();
    const timed = all(p).filter(({ o }) => /timeout|duration|wait|grace|heartbeat|case-time/.test(o.long ?? ''));
    expect(timed.length).toBeGreaterThanOrEqual(12);
    for (const { cmd, o } of timed) {
      expect(o.flags, `${cmd} ${o.long}`).toMatch(/ <time>$/);
      expect(o.description, `${cmd} ${o.long}`).toMatch(/\d(ms|s|m|h)\b/);
    }
    // behaviour, through the real CLI: each command's parser says "has no unit" and exits 2 before doing anything
    const lines: string[][] = [
      ['fuzz', '-t', 'model:x86', '--timeout', '10'], ['fuzz', '-t', 'model:x86', '--duration', '10'],
      ['gate', '-t', 'model:x86', '--timeout', '10'], ['coordinator', '--nats', 'nats://127.0.0.1:1', '-t', 'model:x86', '--ack-wait', '3'],
      ['coordinator', '--nats', 'nats://127.0.0.1:1', '-t', 'model:x86', '--no-worker-grace', '30'],
      ['worker', '--nats', 'nats://127.0.0.1:1', '-t', 'model:x86', '--heartbeat', '2'], ['matrix', '-t', 'model:x86', '--timeout', '30'],
    ];
    const results = await Promise.all(lines.map(run));
    results.forEach((r, i) => {
      expect(r.code, lines[i].join(' ')).toBe(2);
      expect(r.stderr, lines[i].join(' ')).toMatch(/--[a-z-]+: "\d+" has no unit: write e\.g\. 500ms, 30s, 5m or 2h/);
    });
  }, 120_000);

  it('fuzz --json prints events and the summary in one casing (snake_case), gate.json too', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ptefarm-json-'));
    try {
      const r = await run(['fuzz', '-t', 'model:x86+B-3', '-n', '400', '--stop-after', '1', '-j', '0', '--json', '--workdir', join(dir, 'w'), '--out', join(dir, 'run')]);
      expect(r.code, r.stderr).toBe(1);
      const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as unknown);
      expect(lines.length).toBeGreaterThan(1);
      expect(lines.flatMap((l) => notSnake(l))).toEqual([]);
      expect(notSnake(JSON.parse(readFileSync(join(dir, 'run', 'gate.json'), 'utf8')))).toEqual([]);
    } finally { rmSync(dir, { recursive: true, force: true }); }
  }, 120_000);
});
