// `--ui HOST:PORT` / `--ui-token` for `fuzz`, `coordinator` and `gate`: registers the flags, starts
// the dashboard (src/ui/server.ts) next to a campaign and says where the transport's workers can be
// seen. The commands only pass their campaign's events on (ui.state.onEvent); nothing here runs
// or steers cases.
import { hostname } from 'node:os';
import type { Command } from 'commander';
import type { Transport } from '../transport/transport.ts';
import type { NatsTransport } from '../transport/nats.ts';
// types only: the server and its modules load when --ui is given (start-up time of every command)
import type { DashboardState, WorkerSource } from './state.ts';
import type { DashboardServer } from './server.ts';

export interface UiFlags { ui?: string; uiToken?: string }

export function addUiOptions(cmd: Command): Command {
  return cmd
    .option('--ui <host:port>', 'serve a live dashboard of the campaign (page, /api/state, /metrics) on HOST:PORT (PORT alone: 127.0.0.1; port 0 picks a free one)')
    .option('--ui-token <token>', 'token the dashboard requires (?token= or Authorization: Bearer); default PTEFARM_UI_TOKEN, or one generated when --ui is not a loopback address');
}

export interface UiHandle { state: DashboardState; server: DashboardServer; close(): Promise<void> }

/** Start the dashboard when --ui is given; the URL (with its token) goes to stderr. Bad flags: UiAddressError. */
export async function openUi(o: UiFlags, command: string, init: ConstructorParameters<typeof DashboardState>[1]): Promise<UiHandle | undefined> {
  if (!o.ui) return undefined;
  const [{ DashboardState }, { parseUiAddress, startDashboard, UiAddressError }] = await Promise.all([import('./state.ts'), import('./server.ts')]);
  const addr = parseUiAddress(o.ui);
  const token = o.uiToken ?? process.env.PTEFARM_UI_TOKEN ?? undefined;
  if (token !== undefined && !/^[A-Za-z0-9._~-]{16,256}$/.test(token)) throw new UiAddressError('--ui-token: 16 to 256 characters of A-Z a-z 0-9 . _ ~ -');
  const state = new DashboardState(command, init);
  const server = await startDashboard(state, { ...addr, ...(token ? { token } : {}) });
  process.stderr.write(`ptefarm: dashboard at ${server.url}\n`);
  return { state, server, close: () => server.close() };
}

/** The embedded pool (or the in-thread transport) as the dashboard's one worker row. */
export function poolWorkers(transport: Transport, target: string): WorkerSource {
  const host = hostname();
  return () => {
    const p = (transport as Partial<{ poolStats(): { threads: number; running: number; completed: number } }>).poolStats?.();
    return {
      kind: 'pool',
      workers: [{
        id: p ? 'embedded pool' : 'in-thread', kind: 'pool', host, target, threads: p?.threads ?? transport.concurrency,
        busy: p?.running ?? null, done: p?.completed ?? null, heartbeat_age_s: null, facts: {},
      }],
    };
  };
}

/** The live workers of a NATS farm, from their heartbeats. */
export function natsWorkers(t: NatsTransport): WorkerSource {
  return () => ({
    kind: 'nats',
    workers: t.heartbeats().map(({ beat, lastSeen }) => {
      const facts: Record<string, string> = Object.create(null);
      for (const [k, v] of Object.entries(beat.caps ?? {})) {
        if (v === undefined || v === null || typeof v === 'object') continue;
        facts[k] = typeof v === 'boolean' ? (v ? 'yes' : 'no') : String(v);
      }
      return {
        id: beat.id, kind: 'nats' as const, host: beat.host, target: beat.target, threads: beat.threads, busy: beat.busy, done: beat.done,
        heartbeat_age_s: Math.max(0, (Date.now() - lastSeen) / 1000), facts,
      };
    }),
  });
}
