// Every subcommand module exports a `register(program)`; add new ones to this list.
import type { Command } from 'commander';

export type Register = (program: Command) => void;

export const commands: Register[] = [];
