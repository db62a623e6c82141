// The command list of src/cli/commands/index.ts, which lets main.ts import only the module of the
// command being run: every module under src/cli/commands is listed, each entry names exactly the
// commands its module registers, and a command line selects the module it needs (none for
// --version, all of them for help or an unknown name so that commander can list or suggest).
import { describe, expect, it } from 'vitest';
import { readdirSync } from 'node:fs';
import { Command } from 'commander';
import { commandModules, modulesFor, type Register } from '../../src/cli/commands/index.ts';

const dir = new URL('../../src/cli/commands/', import.meta.url);
const registered = (register: Register) => { const p = new Command('ptefarm'); register(p); return p.commands.map((c) => c.name()); };

describe('the command list', () => {
  it('lists every command module, each with exactly the commands it registers', async () => {
    const files = readdirSync(dir).filter((f) => f.endsWith('.ts') && f !== 'index.ts');
    const listed: string[][] = [];
    for (const m of commandModules) listed.push(registered((await m.load()).register));
    expect(listed).toEqual(commandModules.map((m) => [...m.names]));
    for (const f of files) {
      const names = registered((await import(new URL(f, dir).href) as { register: Register }).register);
      expect(listed, `${f} (registers ${names.join(', ')}) is missing from commandModules`).toContainEqual(names);
    }
    const all = listed.flat();
    expect(new Set(all).size, 'a command name listed twice').toBe(all.length);
  });

  it('selects the module of the command being run', () => {
    const of = (...args: string[]) => modulesFor(args).map((m) => m.names.join('+'));
    expect(of('--version')).toEqual([]);
    expect(of('-V')).toEqual([]);
    expect(of('rules')).toEqual(['rules+mutants']);
    expect(of('mutants', '--json')).toEqual(['rules+mutants']);
    expect(of('fmt', '--json', 'case.txt')).toEqual(['fmt']);
    expect(of('check', '--target', 'model:x86', 'c.json')).toEqual(['check']);
    expect(of('qemu', 'fetch', 'debian-6.12-amd64')).toEqual(['qemu']);
    expect(of('fuzz', '--help')).toEqual(['fuzz']);
    expect(of('help', 'fuzz')).toEqual(['fuzz']);
    const everything = commandModules.map((m) => m.names.join('+'));
    expect(of()).toEqual(everything);
    expect(of('--help')).toEqual(everything);
    expect(of('help')).toEqual(everything);
    expect(of('fuz')).toEqual(everything);
    expect(of('--version', '--help')).toEqual(everything);
  });
});
