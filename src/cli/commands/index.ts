// Every subcommand module exports a `register(program)`; add new ones to this list.
import type { Command } from 'commander';
import { register as fmt } from './fmt.ts';

export type Register = (program: Command) => void;

export const commands: Register[] = [fmt];
