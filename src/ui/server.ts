// The live dashboard's HTTP server (node:http; `--ui HOST:PORT` on fuzz, coordinator and gate):
//   /                 the status page (src/ui/page.ts; script and styles under /static/)
//   /events           server-sent events: a light snapshot whenever the campaign changed (at most 4/s)
//   /api/state        the whole snapshot as JSON (step tables included)
//   /api/bucket/N     bucket N as HTML, rendered by src/report/bucket-html.ts like the static report
//   /metrics          Prometheus text (src/ui/metrics.ts)
// Read-only: GET and HEAD only, nothing here can change the campaign. On a loopback address it
// answers only requests whose Host names this server (no DNS rebinding); elsewhere a token is
// required (`?token=` or `Authorization: Bearer`), compared in constant time.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { packagePath } from '../package-root.ts';
import { BUCKET_CSS, bucketSectionHtml } from '../report/bucket-html.ts';
import { xmlEscape as esc } from '../report/escape.ts';
import type { DashboardState } from './state.ts';
import { METRICS_CONTENT_TYPE, toPrometheus } from './metrics.ts';
import { pageHtml } from './page.ts';

export interface UiAddress { host: string; port: number }

export class UiAddressError extends Error {}

/** `HOST:PORT`, `[V6]:PORT` or `PORT` (host 127.0.0.1). */
export function parseUiAddress(s: string): UiAddress {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]\s]*)):(\d{1,5})$/.exec(s.trim()) ?? (/^(\d{1,5})$/.test(s.trim()) ? [s, undefined, '', s.trim()] : null);
  if (!m) throw new UiAddressError(`--ui ${JSON.stringify(s)}: expected HOST:PORT (e.g. 127.0.0.1:8080, [::1]:8080, 0.0.0.0:8080) or PORT`);
  const port = Number(m[3]);
  if (port > 65535) throw new UiAddressError(`--ui ${JSON.stringify(s)}: port ${port} is out of range (0-65535; 0 picks a free one)`);
  return { host: m[1] ?? (m[2] || '127.0.0.1'), port };
}

export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

export interface DashboardServer { url: string; token?: string; close(): Promise<void> }

const STATIC: Record<string, { file: () => string; type: string }> = Object.assign(Object.create(null), {
  'dashboard.js': { file: () => packagePath('src', 'ui', 'static', 'dashboard.js'), type: 'text/javascript; charset=utf-8' },
  'dashboard.css': { file: () => packagePath('src', 'ui', 'static', 'dashboard.css'), type: 'text/css; charset=utf-8' },
  'uPlot.iife.min.js': { file: () => createRequire(import.meta.url).resolve('uplot/dist/uPlot.iife.min.js'), type: 'text/javascript; charset=utf-8' },
  'uPlot.min.css': { file: () => createRequire(import.meta.url).resolve('uplot/dist/uPlot.min.css'), type: 'text/css; charset=utf-8' },
});

const SECURITY_HEADERS = {
  'content-security-policy': "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
};

export async function startDashboard(state: DashboardState, o: UiAddress & { token?: string; log?: (line: string) => void }): Promise<DashboardServer> {
  const token = o.token ?? (isLoopback(o.host) ? undefined : randomBytes(18).toString('base64url'));
  const tokenBuf = token ? Buffer.from(token) : undefined;
  const clients = new Set<ServerResponse>();
  let port = o.port;
  const hostForUrl = o.host.includes(':') ? `[${o.host}]` : o.host;

  const authorized = (req: IncomingMessage, url: URL): boolean => {
    if (tokenBuf) {
      const given = url.searchParams.get('token') ?? /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '')?.[1] ?? '';
      const g = Buffer.from(given);
      return g.length === tokenBuf.length && timingSafeEqual(g, tokenBuf);
    }
    // no token (loopback): the Host header must name this server, so a page elsewhere that
    // re-points its own name at 127.0.0.1 cannot read the campaign
    const h = (req.headers.host ?? '').toLowerCase();
    return [`${hostForUrl}:${port}`, `localhost:${port}`, `127.0.0.1:${port}`, `[::1]:${port}`].includes(h);
  };

  const send = (res: ServerResponse, code: number, type: string, body: string | Buffer, head = false) => {
    res.writeHead(code, { ...SECURITY_HEADERS, 'content-type': type, 'content-length': Buffer.byteLength(body) });
    res.end(head ? undefined : body);
  };

  const server = createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://dashboard.invalid');
      const head = req.method === 'HEAD';
      if (req.method !== 'GET' && !head) { res.setHeader('allow', 'GET, HEAD'); return send(res, 405, 'text/plain; charset=utf-8', 'read-only: GET and HEAD only\n'); }
      if (!authorized(req, url)) {
        return send(res, tokenBuf ? 401 : 421, 'text/plain; charset=utf-8', tokenBuf ? 'a token is required: ?token=... or Authorization: Bearer ...\n' : 'wrong Host header for this dashboard\n');
      }
      const q = token ? `?token=${encodeURIComponent(token)}` : '';
      const p = url.pathname;
      if (p === '/') return send(res, 200, 'text/html; charset=utf-8', pageHtml(state.snapshot({ rows: false }), q), head);
      if (p === '/api/state') return send(res, 200, 'application/json; charset=utf-8', JSON.stringify(state.snapshot()) + '\n', head);
      if (p === '/metrics') return send(res, 200, METRICS_CONTENT_TYPE, toPrometheus(state.snapshot({ rows: false })), head);
      const bm = /^\/api\/bucket\/(\d{1,6})$/.exec(p);
      if (bm) {
        const b = state.bucket(Number(bm[1]));
        if (!b) return send(res, 404, 'text/plain; charset=utf-8', `no bucket ${bm[1]}\n`);
        // hits and last sighting move all the time: the page's bucket table shows them, not this section
        const facts = [
          `first seen ${esc(b.first_seen.replace("T", " ").replace(/\.\d+Z$/, " UTC"))} at case ${b.first_case}`,
          `${b.minimized ? 'minimized' : 'not minimized yet'}, ${b.ops} op(s)`, ...(b.file ? [`case <code>${esc(b.file)}</code>`] : []),
        ].join('; ');
        const html = bucketSectionHtml({ signature: b.signature, title: b.title, example: b.example || '(no example yet)', factsHtml: facts },
          { signature: b.signature, case: b.case, rows: b.rows, ...(b.error ? { error: b.error } : {}) });
        return send(res, 200, 'text/html; charset=utf-8', html, head);
      }
      if (p === '/static/bucket.css') return send(res, 200, 'text/css; charset=utf-8', BUCKET_CSS, head);
      const sm = /^\/static\/([A-Za-z.]+)$/.exec(p);
      if (sm && STATIC[sm[1]!]) {
        const f = STATIC[sm[1]!]!;
        return send(res, 200, f.type, await readFile(f.file()), head);
      }
      if (p === '/events') {
        res.writeHead(200, { ...SECURITY_HEADERS, 'content-type': 'text/event-stream; charset=utf-8', connection: 'keep-alive' });
        res.write('retry: 2000\n\n');
        clients.add(res);
        push(res);
        req.on('close', () => clients.delete(res));
        return;
      }
      return send(res, 404, 'text/plain; charset=utf-8', `not found: ${p}\n`);
    })().catch((e: Error) => { if (!res.headersSent) send(res, 500, 'text/plain; charset=utf-8', `dashboard error: ${e.message}\n`); else res.destroy(); });
  });

  const push = (res: ServerResponse) => { res.write(`event: state\ndata: ${JSON.stringify(state.snapshot({ rows: false }))}\n\n`); };
  // coalesce bursts of campaign events: one push per 250 ms at most, and a keep-alive every 15 s
  let timer: NodeJS.Timeout | undefined;
  const off = state.onChange(() => {
    if (timer || !clients.size) return;
    timer = setTimeout(() => { timer = undefined; for (const c of clients) push(c); }, 250);
  });
  const tick = setInterval(() => { for (const c of clients) push(c); }, 2000); // heartbeat ages and rates move on their own
  tick.unref();

  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) => reject(new UiAddressError(`--ui ${hostForUrl}:${o.port}: cannot listen: ${e.code ?? e.message}`)));
    server.listen(o.port, o.host, () => resolve());
  });
  port = (server.address() as AddressInfo).port;
  const url = `http://${hostForUrl}:${port}/${token ? `?token=${encodeURIComponent(token)}` : ''}`;
  return {
    url,
    ...(token ? { token } : {}),
    close: async () => {
      off();
      clearInterval(tick);
      if (timer) clearTimeout(timer);
      for (const c of clients) { push(c); c.end(); } // the page keeps the final figures ("stopped")
      clients.clear();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
