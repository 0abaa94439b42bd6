// HTTP side door: /metrics (Prometheus), /healthz (alive), /readyz, and the
// live dashboard (/ plus its static files, uPlot from node_modules, /events SSE).
// /readyz answers 503 only when the bridge cannot do its job at all (store not
// writable, config invalid). A bridge that is buffering because RabbitMQ is down
// is doing its job: 200 with status 'degraded' and the reasons, so a supervisor
// never restarts it.
//
// Off loopback, everything but /healthz and /readyz needs `token`: as a bearer header
// (Prometheus), a cookie, or `?token=` (a browser's first visit; the answer sets the
// cookie, since the dashboard's EventSource cannot send headers).
import { timingSafeEqual, createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import type { AddressInfo } from 'node:net';
import type { LiveFeed } from './live-feed.ts';
import { isLoopback } from '../config/schema.ts';

export interface Readiness {
  ready: boolean;
  degraded: string[];
  details: Record<string, unknown>;
}

export interface HealthSource {
  readiness(): Readiness;
  metricsText(): Promise<string>;
  metricsContentType: string;
  /** The dashboard's live feed; without it the dashboard routes answer 404. */
  feed?: LiveFeed;
}

export interface HttpHandle {
  port: number;
  server: Server;
  close(): Promise<void>;
}

// Beside this module when run from source; from the bundle in bridge/dist/<build>/ (bin/edge-bridge.js), back in src.
const HERE = dirname(fileURLToPath(import.meta.url));
const DASHBOARD_DIR = [join(HERE, 'dashboard'), join(HERE, '..', '..', 'src', 'observe', 'dashboard')].find((d) => existsSync(d)) ?? join(HERE, 'dashboard');
const JS = 'text/javascript; charset=utf-8';
const CSS = 'text/css; charset=utf-8';
const TYPES: Record<string, string> = { '.html': 'text/html; charset=utf-8', '.js': JS, '.css': CSS, '.svg': 'image/svg+xml' };

interface StaticFile {
  type: string;
  body: Buffer;
}

/** The dashboard's files, read once at start: only these exact paths are served, so no path can escape the directory. */
function dashboardFiles(): Map<string, StaticFile> {
  const files = new Map<string, StaticFile>();
  const walk = (dir: string, prefix: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path, `${prefix}${entry.name}/`);
      else {
        const ext = entry.name.slice(entry.name.lastIndexOf('.'));
        const type = TYPES[ext];
        if (type) files.set(`/dashboard/${prefix}${entry.name}`, { type, body: readFileSync(path) });
      }
    }
  };
  walk(DASHBOARD_DIR, '');
  const index = files.get('/dashboard/index.html');
  if (index) files.set('/', index);
  // uPlot straight from node_modules: no bundler, no copy to keep in sync.
  const require = createRequire(import.meta.url);
  const uplotDir = dirname(require.resolve('uplot/dist/uPlot.iife.min.js'));
  files.set('/vendor/uplot/uPlot.iife.min.js', { type: JS, body: readFileSync(join(uplotDir, 'uPlot.iife.min.js')) });
  files.set('/vendor/uplot/uPlot.min.css', { type: CSS, body: readFileSync(join(uplotDir, 'uPlot.min.css')) });
  return files;
}

export function readyzBody(r: Readiness): { code: number; body: Record<string, unknown> } {
  return {
    code: r.ready ? 200 : 503,
    body: { status: !r.ready ? 'not ready' : r.degraded.length ? 'degraded' : 'ok', reasons: r.degraded, ...r.details },
  };
}

const TOKEN_COOKIE = 'edge_bridge_token';

/** Who may read the protected routes: anyone on loopback; off loopback only the token's holder. */
function tokenGate(host: string, token: string | undefined): ((req: IncomingMessage, url: URL) => 'ok' | 'via-query' | 'denied' | 'no-token-set') | undefined {
  if (isLoopback(host)) return undefined;
  if (token === undefined) return () => 'no-token-set';
  // Compared as digests, so the comparison takes the same time whatever the length.
  const want = createHash('sha256').update(token).digest();
  const matches = (given: string | undefined) => given !== undefined && timingSafeEqual(createHash('sha256').update(given).digest(), want);
  return (req, url) => {
    const auth = req.headers.authorization;
    if (auth?.startsWith('Bearer ') && matches(auth.slice(7).trim())) return 'ok';
    const cookie = req.headers.cookie?.split(';').map((c) => c.trim()).find((c) => c.startsWith(`${TOKEN_COOKIE}=`));
    if (cookie && matches(decodeURIComponent(cookie.slice(TOKEN_COOKIE.length + 1)))) return 'ok';
    if (matches(url.searchParams.get('token') ?? undefined)) return 'via-query';
    return 'denied';
  };
}

export async function startHttp(opts: { host: string; port: number; token?: string }, src: HealthSource, log: Logger): Promise<HttpHandle> {
  const files = src.feed ? dashboardFiles() : new Map<string, StaticFile>();
  const gate = tokenGate(opts.host, opts.token);
  if (gate && opts.token === undefined) log.warn({ host: opts.host }, 'http on a non-loopback address without http.token: only /healthz and /readyz are served');
  const server = createServer((req, res) => {
    const parsed = new URL(req.url ?? '/', 'http://bridge');
    const url = parsed.pathname;
    const json = (code: number, body: unknown) => {
      res.writeHead(code, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (url === '/healthz') return json(200, { status: 'alive' });
    if (url === '/readyz') {
      let r: Readiness;
      try {
        r = src.readiness();
      } catch (err) {
        // Readiness itself failing is a bug, not a reason to restart a bridge that may be buffering.
        log.error({ err }, 'readiness check failed');
        r = { ready: true, degraded: [`readiness check failed: ${(err as Error).message}`], details: {} };
      }
      const { code, body } = readyzBody(r);
      return json(code, body);
    }
    const pass = gate?.(req, parsed);
    if (pass === 'no-token-set') return json(401, { error: 'set http.token (or EDGE_BRIDGE__HTTP__TOKEN) to read this off loopback' });
    if (pass === 'denied') {
      res.setHeader('www-authenticate', 'Bearer');
      return json(401, { error: 'token required: Authorization: Bearer <http.token>, or ?token=' });
    }
    if (pass === 'via-query') res.setHeader('set-cookie', `${TOKEN_COOKIE}=${encodeURIComponent(opts.token!)}; HttpOnly; SameSite=Strict; Path=/`);
    if (url === '/metrics') {
      src.metricsText().then(
        (text) => {
          res.writeHead(200, { 'content-type': src.metricsContentType });
          res.end(text);
        },
        (err: Error) => {
          log.error({ err }, 'metrics failed');
          json(500, { error: err.message });
        },
      );
      return;
    }
    if (url === '/events' && src.feed) return src.feed.attach(req, res);
    const file = files.get(url);
    if (file && (req.method === 'GET' || req.method === 'HEAD')) return sendFile(res, file);
    json(404, { error: 'not found', try: ['/', '/metrics', '/healthz', '/readyz', '/events'] });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(err.code === 'EADDRINUSE' ? new Error(`http port ${opts.port} on ${opts.host} is already in use; set http.port`) : err),
    );
    server.listen(opts.port, opts.host, () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    server,
    close: () =>
      new Promise((r) => {
        src.feed?.close();
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

function sendFile(res: ServerResponse, file: StaticFile): void {
  res.writeHead(200, { 'content-type': file.type, 'content-length': file.body.length, 'cache-control': 'no-cache' });
  res.end(file.body);
}
