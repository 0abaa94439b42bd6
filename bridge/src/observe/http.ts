// HTTP side door: /metrics (Prometheus), /healthz (alive), /readyz.
// /readyz answers 503 only when the bridge cannot do its job at all (store not
// writable). A bridge that is buffering because RabbitMQ is down is doing its
// job: 200 with the reason, so a supervisor never restarts it.
import { createServer, type Server } from 'node:http';
import type { Logger } from 'pino';
import type { AddressInfo } from 'node:net';

export interface HealthSource {
  readiness(): { ready: boolean; degraded: string[]; details: Record<string, unknown> };
  metricsText(): Promise<string>;
  metricsContentType: string;
}

export interface HttpHandle {
  port: number;
  server: Server;
  close(): Promise<void>;
}

export async function startHttp(opts: { host: string; port: number }, src: HealthSource, log: Logger): Promise<HttpHandle> {
  const server = createServer((req, res) => {
    const url = (req.url ?? '/').split('?')[0];
    const json = (code: number, body: unknown) => {
      res.writeHead(code, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (url === '/healthz') return json(200, { status: 'alive' });
    if (url === '/readyz') {
      const r = src.readiness();
      return json(r.ready ? 200 : 503, {
        status: !r.ready ? 'not ready' : r.degraded.length ? 'degraded' : 'ok',
        reasons: r.degraded,
        ...r.details,
      });
    }
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
    json(404, { error: 'not found', try: ['/metrics', '/healthz', '/readyz'] });
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
    close: () => new Promise((r) => server.close(() => r())),
  };
}
