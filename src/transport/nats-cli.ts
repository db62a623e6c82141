// The NATS flags shared by `ptefarm coordinator`, `ptefarm worker` and `ptefarm fuzz --nats`.
import { Option, type Command } from 'commander';
import type { NatsAuth } from './nats-common.ts';

export interface NatsFlags {
  nats?: string;
  natsUser?: string;
  natsPass?: string;
  natsToken?: string;
  tlsCa?: string;
  tlsCert?: string;
  tlsKey?: string;
}

/** Adds the auth/TLS flags (not --nats itself, whose wording differs per command). */
export function addNatsAuthOptions(cmd: Command): Command {
  return cmd
    .option('--nats-user <user>', 'NATS user name (with --nats-pass)')
    .addOption(new Option('--nats-pass <password>', 'NATS password').env('PTEFARM_NATS_PASS'))
    .addOption(new Option('--nats-token <token>', 'NATS auth token').env('PTEFARM_NATS_TOKEN'))
    .option('--tls-ca <file>', 'CA certificate (PEM) to verify the NATS server')
    .option('--tls-cert <file>', 'client certificate (PEM) for mutual TLS')
    .option('--tls-key <file>', 'client private key (PEM) for mutual TLS');
}

export function natsAuthFrom(o: NatsFlags): NatsAuth {
  return { user: o.natsUser, pass: o.natsPass, token: o.natsToken, tlsCa: o.tlsCa, tlsCert: o.tlsCert, tlsKey: o.tlsKey };
}

export function parsePositiveInt(name: string) {
  return (s: string): number => {
    const n = Number(s);
    if (!Number.isInteger(n) || n < 1) throw new Error(`${name}: expected a positive integer, got "${s}"`);
    return n;
  };
}
