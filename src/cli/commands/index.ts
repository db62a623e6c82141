// Every subcommand module exports a `register(program)`; add new ones to this list.
import type { Command } from 'commander';
import { register as fmt } from './fmt.ts';
import { register as run } from './run.ts';
import { register as check } from './check.ts';
import { register as catalogue } from './catalogue.ts';
import { register as probe } from './probe.ts';
import { register as serve } from './serve.ts';
import { register as setup } from './setup.ts';
import { register as qemu } from './qemu.ts';
import { register as coordinator } from './coordinator.ts';
import { register as worker } from './worker.ts';
import { register as gate } from './gate.ts';
import { register as report } from './report.ts';
import { register as repro } from './repro.ts';
import { register as fuzz } from './fuzz.ts';
import { register as replay } from './replay.ts';
import { register as minimizeCmd } from './minimize.ts';
import { register as corpus } from './corpus.ts';

export type Register = (program: Command) => void;

export const commands: Register[] = [run, check, catalogue, fmt, probe, serve, setup, gate, report, repro];
commands.push(fuzz, replay, minimizeCmd, corpus);
commands.push(coordinator, worker);
commands.push(qemu);
