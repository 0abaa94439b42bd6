// /healthz and /readyz under real faults, and /metrics while it happens:
// - a RabbitMQ outage (a proxy in front of the shared broker is cut: the broker
//   itself is never touched) and a broker URL nobody listens on: 200 'degraded',
//   data buffered and counted, drained after the outage;
// - the store not writable (the store's I/O seam fails writes): 503;
// - an invalid config given to `edge-bridge start`: 503 with the problem, exit 2 on SIGTERM.
import { describe, it, expect, afterEach } from 'vitest';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import amqp from 'amqplib';
import mqtt from 'mqtt';
import { pino } from 'pino';
import { encodeBatch } from '../../src/codec/index.ts';
import { loadConfig } from '../../src/config/index.ts';
import { composeBridge, type Bridge } from '../../src/compose.ts';
import { startHttp, type HttpHandle } from '../../src/observe/http.ts';
import { FaultyIo } from '../doubles/faulty-io.ts';
import { uniquePrefix, waitFor, uniqueTopology } from '../../../shared/testkit/unique.ts';
import { freePort } from '../../../shared/testkit/ports.ts';
import { startTcpProxy, type TcpProxy } from '../../../shared/testkit/tcp-proxy.ts';

const cleanups: Array<() => Promise<unknown> | unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function batch(device: string, seq: number): Buffer {
  return encodeBatch({ v: 1, device, boot: 1, seq, fw: 'h-1', ts: Date.now(), unsynced: false, readings: [{ sensor: 'temperature', offset: 0, value: 21 }] });
}

async function bridgeWith(prefix: string, amqpUrl: string, extra: Record<string, unknown> = {}, storeIo?: FaultyIo): Promise<{ pipeline: Bridge; http: HttpHandle; base: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'edge-health-'));
  const file = join(dir, 'config.json');
  writeFileSync(
    file,
    JSON.stringify({
      mqtt: { mode: 'embedded', embedded: { host: '127.0.0.1', port: 0 } },
      amqp: {
        urls: [amqpUrl],
        connections: 1,
        reconnect: { initialMs: 100, maxMs: 300 },
        topology: uniqueTopology(prefix),
      },
      store: { dir: join(dir, 'store') },
      quarantine: { dir: join(dir, 'quarantine') },
      queueHealth: { enabled: false },
      ...extra,
    }),
  );
  const pipeline = composeBridge(loadConfig({ file, env: {} }), pino({ level: 'silent' }), storeIo ? { storeIo } : {});
  await pipeline.start();
  const http = await startHttp({ host: '127.0.0.1', port: 0 }, pipeline.health, pino({ level: 'silent' }));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }), () => pipeline.stop(), () => http.close());
  return { pipeline, http, base: `http://127.0.0.1:${http.port}` };
}

async function readyz(base: string): Promise<{ code: number; body: { status: string; reasons: string[]; [k: string]: unknown } }> {
  const res = await fetch(`${base}/readyz`);
  return { code: res.status, body: (await res.json()) as { status: string; reasons: string[] } };
}

/** One sample value from the exposition text, e.g. metric('edge_store_records') or metric('x{transport="mqtt"}'). */
async function metric(base: string, series: string): Promise<number | undefined> {
  const text = await (await fetch(`${base}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(series + ' '));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

async function publish(port: number, device: string, seqs: number[]): Promise<void> {
  const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { clientId: `${device}-${seqs[0]}`, reconnectPeriod: 0 });
  try {
    for (const s of seqs) await client.publishAsync(`factory/floor1/${device}/telemetry`, batch(device, s), { qos: 1 });
  } finally {
    await client.endAsync(true).catch(() => {});
  }
}

async function deleteTopology(prefix: string): Promise<void> {
  const conn = await amqp.connect('amqp://guest:guest@127.0.0.1:5672');
  const ch = await conn.createChannel();
  for (const q of ['all', 'unroutable', 'dlq']) await ch.deleteQueue(`${prefix}.${q}`).catch(() => {});
  for (const e of ['tele', 'ae', 'dlx']) await ch.deleteExchange(`${prefix}.${e}`).catch(() => {});
  await conn.close();
}

describe('health endpoints under real faults', () => {
  it('RabbitMQ outage: /readyz stays 200 and says degraded while buffering; /metrics shows the backlog; ok again after it drains', async () => {
    const prefix = uniquePrefix('health');
    cleanups.push(() => deleteTopology(prefix));
    const proxy: TcpProxy = await startTcpProxy({ targetPort: 5672 });
    cleanups.push(() => proxy.close());
    const { pipeline, base } = await bridgeWith(prefix, `amqp://guest:guest@127.0.0.1:${proxy.port}`);

    await waitFor(async () => (await readyz(base)).body.status === 'ok', { timeoutMs: 15_000, what: 'ready and ok' });
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    expect(await metric(base, 'edge_ready')).toBe(2);

    // Outage: every connection through the proxy goes to a port nobody listens on.
    const dead = await freePort();
    proxy.setTarget(dead);
    proxy.reset();
    await waitFor(async () => (await readyz(base)).body.status === 'degraded', { timeoutMs: 15_000, what: 'degraded during the outage' });
    await publish(pipeline.mqttPort(), `${prefix}-dev`, [0, 1, 2, 3, 4]); // PUBACKed: stored on disk
    const during = await readyz(base);
    expect(during.code).toBe(200);
    expect(during.body.reasons.join(' ')).toContain('rabbitmq unreachable: buffering to disk');
    expect((during.body.store as { records: number }).records).toBe(5);
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    expect(await metric(base, 'edge_store_records')).toBe(5);
    expect(await metric(base, 'edge_ready')).toBe(1);
    expect(await metric(base, 'edge_ingress_messages_total{transport="mqtt"}')).toBe(5);
    expect(await metric(base, 'edge_amqp_connections{state="open"}')).toBe(0);
    expect(await metric(base, 'edge_amqp_channels_open')).toBe(0);
    await waitFor(async () => ((await metric(base, 'edge_store_oldest_age_seconds')) ?? 0) > 0, { what: 'oldest age grows' });

    // Broker back: the backlog drains, readiness returns to ok, reconnects were counted.
    proxy.setTarget(5672);
    await waitFor(async () => (await metric(base, 'edge_store_records')) === 0, { timeoutMs: 30_000, what: 'backlog drained' });
    await waitFor(async () => (await readyz(base)).body.status === 'ok', { timeoutMs: 15_000, what: 'ok after the outage' });
    expect(await metric(base, 'edge_amqp_publish_results_total{result="confirmed"}')).toBe(5);
    expect((await metric(base, 'edge_amqp_reconnects_total')) ?? 0).toBeGreaterThan(0);
    expect(await metric(base, 'edge_amqp_confirm_latency_seconds_count')).toBe(5);
  });

  it('a broker URL nobody listens on and an unreachable management API: 200, degraded, with both reasons', async () => {
    const prefix = uniquePrefix('health');
    const [amqpPort, mgmtPort] = [await freePort(), await freePort()];
    const { pipeline, base } = await bridgeWith(prefix, `amqp://guest:guest@127.0.0.1:${amqpPort}`, {
      queueHealth: { enabled: true, url: `http://127.0.0.1:${mgmtPort}`, intervalMs: 200, timeoutMs: 500 },
    });
    await publish(pipeline.mqttPort(), `${prefix}-dev`, [0, 1]);
    const r = await waitFor(async () => {
      const x = await readyz(base);
      return x.body.reasons.some((s) => s.startsWith('queue health unknown')) ? x : undefined;
    }, { what: 'management API reported unreachable' });
    expect(r.code).toBe(200);
    expect(r.body.status).toBe('degraded');
    expect(r.body.reasons).toContain('rabbitmq unreachable: buffering to disk');
    expect((r.body.store as { records: number }).records).toBe(2);
  });

  it('store not writable: /readyz answers 503, /healthz still 200', async () => {
    const prefix = uniquePrefix('health');
    cleanups.push(() => deleteTopology(prefix));
    const io = new FaultyIo();
    const { pipeline, base } = await bridgeWith(prefix, 'amqp://guest:guest@127.0.0.1:5672', {}, io);
    await waitFor(async () => (await readyz(base)).body.status === 'ok', { timeoutMs: 15_000, what: 'ok before the fault' });
    io.failWrites('EROFS');
    const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${pipeline.mqttPort()}`, { clientId: `${prefix}-dev`, reconnectPeriod: 0 });
    cleanups.push(() => client.endAsync(true).catch(() => {}));
    client.publish(`factory/floor1/${prefix}-dev/telemetry`, batch(`${prefix}-dev`, 0), { qos: 1 }); // never PUBACKed while the store fails
    const r = await waitFor(async () => {
      const x = await readyz(base);
      return x.code === 503 ? x : undefined;
    }, { what: '503' });
    expect(r.body.status).toBe('not ready');
    expect(r.body.reasons).toContain('store not writable');
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    expect(await metric(base, 'edge_ready')).toBe(0);
  });

  it('edge-bridge start with an invalid config: /readyz 503 naming the problem, /healthz 200, exit 2 on SIGTERM', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'edge-badcfg-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const port = await freePort();
    const file = join(dir, 'bad.json');
    writeFileSync(file, JSON.stringify({ http: { host: '127.0.0.1', port }, amqp: { connections: 0 }, store: { dir: join(dir, 'store') } }));
    const child = spawn(process.execPath, ['bridge/bin/edge-bridge.js', 'start', '-c', file], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    cleanups.push(() => child.exitCode === null && child.kill('SIGKILL'));
    const r = await waitFor(async () => readyz(`http://127.0.0.1:${port}`), { timeoutMs: 20_000, what: 'health-only server' });
    expect(r.code).toBe(503);
    expect(r.body.status).toBe('not ready');
    expect(r.body.reasons.join('\n')).toMatch(/config invalid: amqp\.connections: expected a positive integer/);
    expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
    expect(stderr).toContain('amqp.connections');
    child.kill('SIGTERM');
    expect(await exited).toBe(2);
  });
});
