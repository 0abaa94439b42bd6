// The live dashboard in real Chromium (Debian's package, driven by playwright-core):
// a real pipeline (embedded broker on port 0, the shared RabbitMQ with run-unique
// names), readings published over MQTT, and the page must change as they arrive.
// A screenshot is kept under .vitest-artifacts/ for a human to look at.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import amqp, { type ChannelModel, type Channel } from 'amqplib';
import mqtt, { type MqttClient } from 'mqtt';
import { pino } from 'pino';
import type { BrowserContext, Page } from 'playwright-core';
import { encodeBatch, encodeStatus } from '../../src/codec/index.ts';
import { loadConfig } from '../../src/config/index.ts';
import { composeBridge, type Bridge } from '../../src/compose.ts';
import { startHttp, type HttpHandle } from '../../src/observe/http.ts';
import { uniquePrefix, waitFor, uniqueTopology } from '../../../shared/testkit/unique.ts';
import { launchChromium } from '../../../shared/testkit/chromium.ts';
import { freePort } from '../../../shared/testkit/ports.ts';
import { startTcpProxy, type TcpProxy } from '../../../shared/testkit/tcp-proxy.ts';

const AMQP = 'amqp://guest:guest@127.0.0.1:5672';
const ARTIFACTS = join(process.cwd(), '.vitest-artifacts');

function batch(device: string, seq: number, n = 4): Buffer {
  return encodeBatch({
    v: 1, device, boot: 1, seq, fw: 'dash-1', ts: Date.now(), unsynced: false,
    readings: Array.from({ length: n }, (_, i) => ({ sensor: i % 2 ? 'humidity' : 'temperature', offset: i * 250, value: 20 + i })),
  });
}

describe('live dashboard in Chromium', () => {
  const prefix = uniquePrefix('dash');
  const dir = mkdtempSync(join(tmpdir(), 'edge-dash-'));
  const device = `${prefix}-node-1`;
  let pipeline: Bridge;
  let http: HttpHandle;
  let browser: BrowserContext;
  let profile: string;
  let page: Page;
  let client: MqttClient;
  let conn: ChannelModel;
  let ch: Channel;
  let proxy: TcpProxy;

  beforeAll(async () => {
    // RabbitMQ through a proxy, so one test can cut the link without touching the shared broker.
    proxy = await startTcpProxy({ targetPort: 5672 });
    const file = join(dir, 'config.json');
    writeFileSync(
      file,
      JSON.stringify({
        mqtt: { mode: 'embedded', embedded: { host: '127.0.0.1', port: 0 } },
        amqp: {
          urls: [`amqp://guest:guest@127.0.0.1:${proxy.port}`],
          reconnect: { initialMs: 100, maxMs: 300 },
          topology: uniqueTopology(prefix),
        },
        store: { dir: join(dir, 'store') },
        quarantine: { dir: join(dir, 'quarantine') },
        http: { host: '127.0.0.1', port: 0 },
        queueHealth: { enabled: false },
        observe: { dashboard: { intervalMs: 250 } },
      }),
    );
    pipeline = composeBridge(loadConfig({ file, env: {} }), pino({ level: 'silent' }));
    await pipeline.start();
    http = await startHttp({ host: '127.0.0.1', port: 0 }, pipeline.health, pino({ level: 'silent' }));
    ({ context: browser, profile } = await launchChromium());
    page = await browser.newPage();
    client = await mqtt.connectAsync(`mqtt://127.0.0.1:${pipeline.mqttPort()}`, { clientId: device, reconnectPeriod: 0 });
    conn = await amqp.connect(AMQP);
    ch = await conn.createChannel();
  });

  afterAll(async () => {
    await client?.endAsync(true).catch(() => {});
    await browser?.close();
    await http?.close();
    await pipeline?.stop();
    await proxy?.close();
    for (const q of ['all', 'unroutable', 'dlq']) await ch?.deleteQueue(`${prefix}.${q}`).catch(() => {});
    for (const e of ['tele', 'ae', 'dlx']) await ch?.deleteExchange(`${prefix}.${e}`).catch(() => {});
    await conn?.close().catch(() => {});
    rmSync(dir, { recursive: true, force: true });
    if (profile) rmSync(profile, { recursive: true, force: true });
  });

  const text = async (sel: string) => ((await page.locator(sel).first().textContent()) ?? '').trim();
  const numberIn = async (sel: string) => Number((await text(sel)).replace(/[^0-9.]/g, ''));

  it('shows devices, counters and broker connections, and updates as readings arrive', async () => {
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
    await page.goto(`http://127.0.0.1:${http.port}/`);

    // Before any reading: the feed is live, the broker connection is open, the table is empty.
    await waitFor(async () => (await text('#feed')) === 'live', { what: 'SSE feed live' });
    await waitFor(async () => (await text('[data-testid=status]')) === 'ok', { timeoutMs: 15_000, what: 'status ok' });
    await waitFor(async () => (await page.locator('#panel-connections td.state-open').count()) === 2, { timeoutMs: 15_000, what: 'two open AMQP connections listed' });
    expect(await text('[data-testid=device-rows]')).toContain('no devices yet');
    expect(await numberIn('#stat-readings')).toBe(0);

    // First readings: the device row appears with its counts.
    for (let seq = 0; seq < 3; seq++) await client.publishAsync(`factory/floor1/${device}/telemetry`, batch(device, seq), { qos: 1 });
    const row = page.locator(`tr[data-device="${device}"]`);
    await row.waitFor({ state: 'visible', timeout: 10_000 });
    await waitFor(async () => Number(await row.locator('td.readings').innerText()) === 12, { what: 'row shows 12 readings' });
    expect(await row.locator('td.online').innerText()).toContain('online');
    expect(await row.locator('td.batches').innerText()).toBe('3');
    await waitFor(async () => (await numberIn('#stat-readings')) === 12, { what: 'readings tile shows 12' });
    await waitFor(async () => (await numberIn('#stat-forwarded')) === 3, { timeoutMs: 15_000, what: '3 messages confirmed by RabbitMQ' });

    // More readings, with a seq gap (3 and 4 skipped) and a status reporting outbox drops.
    await client.publishAsync(`factory/floor1/${device}/status`, encodeStatus({ v: 1, d: device, b: 1, st: 'online', up: 10, rssi: -60, heap: 100_000, drop: 7, iv: 250, bs: 4, cmd: 0 }), { qos: 1 });
    for (let seq = 5; seq < 15; seq++) await client.publishAsync(`factory/floor1/${device}/telemetry`, batch(device, seq), { qos: 1 });
    await waitFor(async () => Number(await row.locator('td.readings').innerText()) === 52, { what: 'row shows 52 readings' });
    await waitFor(async () => (await row.locator('td.gaps').innerText()) === '2', { what: 'row shows 2 gaps' });
    await waitFor(async () => (await row.locator('td.drops').innerText()) === '7', { what: 'row shows 7 drops' });
    await waitFor(async () => (await numberIn('#stat-gaps')) === 2 && (await numberIn('#stat-drops')) === 7, { what: 'gap and drop tiles' });
    await waitFor(async () => (await numberIn('#stat-forwarded')) === 13, { timeoutMs: 15_000, what: '13 messages confirmed' });
    expect(await text('#stat-devices-online')).toBe('1 / 1');
    // The charts have drawn (uPlot renders a canvas per chart) and the backlog drained.
    expect(await page.locator('#panel-throughput canvas').count()).toBeGreaterThan(0);
    await waitFor(async () => (await text('#stat-backlog')).startsWith('0 '), { timeoutMs: 15_000, what: 'backlog drained' });

    // Keep publishing a little so the rate column and throughput chart show a live flow in the screenshot.
    for (let seq = 15; seq < 35; seq++) {
      await client.publishAsync(`factory/floor1/${device}/telemetry`, batch(device, seq), { qos: 1 });
      await new Promise((r) => setTimeout(r, 40));
    }
    await waitFor(async () => Number(await row.locator('td.rate').innerText()) > 0, { what: 'non-zero rate' });
    await waitFor(async () => (await numberIn('#stat-forwarded')) === 33, { timeoutMs: 15_000, what: '33 messages confirmed' });
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, 'dashboard.png'), fullPage: true });
    expect(errors).toEqual([]);
  });

  it('shows a RabbitMQ outage: degraded, connections not open, backlog growing; then drained and ok', async () => {
    const row = page.locator(`tr[data-device="${device}"]`);
    const before = await numberIn('#stat-forwarded');
    proxy.setTarget(await freePort());
    proxy.reset();
    await waitFor(async () => (await text('[data-testid=status]')) === 'degraded', { timeoutMs: 15_000, what: 'status degraded' });
    expect(await text('#reasons')).toContain('rabbitmq unreachable');
    await waitFor(async () => (await page.locator('#panel-connections td.state-open').count()) === 0, { what: 'no open connection listed' });
    for (let seq = 35; seq < 40; seq++) await client.publishAsync(`factory/floor1/${device}/telemetry`, batch(device, seq), { qos: 1 });
    await waitFor(async () => (await text('#stat-backlog')).startsWith('5 '), { what: 'backlog of 5 shown' });
    await waitFor(async () => Number(await row.locator('td.batches').innerText()) === 38, { what: 'row counts batches while buffering' });
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, 'dashboard-outage.png'), fullPage: true });

    proxy.setTarget(5672);
    await waitFor(async () => (await text('#stat-backlog')).startsWith('0 '), { timeoutMs: 30_000, what: 'backlog drained' });
    await waitFor(async () => (await text('[data-testid=status]')) === 'ok', { timeoutMs: 15_000, what: 'status ok again' });
    expect(await numberIn('#stat-forwarded')).toBe(before + 5);
    await waitFor(async () => (await page.locator('#panel-connections td.state-open').count()) === 2, { timeoutMs: 15_000, what: 'both connections open again' });
  });

  it('serves uPlot from node_modules and answers 404 for paths outside the dashboard', async () => {
    const base = `http://127.0.0.1:${http.port}`;
    const uplot = await fetch(`${base}/vendor/uplot/uPlot.iife.min.js`);
    expect(uplot.status).toBe(200);
    expect(uplot.headers.get('content-type')).toContain('javascript');
    expect(await uplot.text()).toContain('uPlot');
    for (const path of ['/dashboard/../http.ts', '/dashboard/%2e%2e/http.ts', '/vendor/uplot/package.json']) {
      expect((await fetch(`${base}${path}`)).status, path).toBe(404);
    }
  });
});
