// Off loopback the dashboard, /metrics and /events need http.token; /healthz and /readyz do not.
import { afterEach, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { startHttp, type HealthSource, type HttpHandle } from '../../src/observe/http.ts';

const source: HealthSource = {
  readiness: () => ({ ready: true, degraded: [], details: {} }),
  metricsText: async () => 'edge_up 1\n',
  metricsContentType: 'text/plain',
};
const log = pino({ enabled: false });
const TOKEN = 'a-token-of-24-characters';
let handle: HttpHandle | undefined;
afterEach(async () => {
  await handle?.close();
  handle = undefined;
});

const get = (path: string, headers: Record<string, string> = {}) => fetch(`http://127.0.0.1:${handle!.port}${path}`, { headers });

describe('HTTP token', () => {
  it('off loopback: bearer, cookie or ?token= (which sets the cookie); probes stay open', async () => {
    handle = await startHttp({ host: '0.0.0.0', port: 0, token: TOKEN }, source, log);
    expect((await get('/healthz')).status).toBe(200);
    expect((await get('/readyz')).status).toBe(200);
    const denied = await get('/metrics');
    expect(denied.status).toBe(401);
    expect(denied.headers.get('www-authenticate')).toBe('Bearer');
    expect((await get('/metrics', { authorization: 'Bearer wrong-token-of-24-chars' })).status).toBe(401);
    expect((await get('/metrics', { authorization: `Bearer ${TOKEN}` })).status).toBe(200);
    expect(await (await get('/metrics', { authorization: `Bearer ${TOKEN}` })).text()).toBe('edge_up 1\n');
    const viaQuery = await get(`/metrics?token=${TOKEN}`);
    expect(viaQuery.status).toBe(200);
    const cookie = viaQuery.headers.get('set-cookie')!;
    expect(cookie).toMatch(/HttpOnly/);
    expect((await get('/metrics', { cookie: cookie.split(';')[0]! })).status).toBe(200);
    expect((await get('/metrics', { cookie: 'edge_bridge_token=nope' })).status).toBe(401);
  });

  it('off loopback without a token: only the probes are served', async () => {
    handle = await startHttp({ host: '0.0.0.0', port: 0 }, source, log);
    expect((await get('/healthz')).status).toBe(200);
    const r = await get('/metrics');
    expect(r.status).toBe(401);
    expect(await r.text()).toMatch(/set http\.token/);
  });

  it('on loopback: open without a token', async () => {
    handle = await startHttp({ host: '127.0.0.1', port: 0 }, source, log);
    expect((await get('/metrics')).status).toBe(200);
  });
});
