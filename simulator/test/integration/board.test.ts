// The browser board in real Chromium: a real bridge (embedded broker on port 0),
// the shared RabbitMQ (run-unique names). Turning the page's controls changes what
// reaches RabbitMQ, the LEDs follow the node's link, and commands show on the page.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import amqp, { type ChannelModel, type Channel, type ConsumeMessage } from 'amqplib';
import mqtt from 'mqtt';
import { pino } from 'pino';
import type { BrowserContext, Page } from 'playwright-core';
import { decodeBatch, encodeCommand } from '../../../bridge/src/codec/index.ts';
import { loadConfig } from '../../../bridge/src/config/index.ts';
import { composeBridge, type Bridge } from '../../../bridge/src/compose.ts';
import { uniquePrefix, uniqueTopology, waitFor } from '../../../shared/testkit/unique.ts';
import { launchChromium } from '../../../shared/testkit/chromium.ts';
import { Board, checkSensorUpdate } from '../../board/board.ts';

const AMQP = 'amqp://guest:guest@127.0.0.1:5672';
const ARTIFACTS = join(process.cwd(), '.vitest-artifacts');

describe('browser board in Chromium', () => {
  const prefix = uniquePrefix('board');
  const dir = mkdtempSync(join(tmpdir(), 'edge-board-'));
  const topicPrefix = `${prefix}/bench`;
  const device = `${prefix}-node`;
  let pipeline: Bridge;
  let board: Board;
  let browser: BrowserContext;
  let profile: string;
  let page: Page;
  let conn: ChannelModel;
  let ch: Channel;
  /** Readings that reached RabbitMQ, in arrival order. */
  const arrived: Array<{ seq: number; sensor: string; value: number }> = [];

  beforeAll(async () => {
    const file = join(dir, 'config.json');
    writeFileSync(
      file,
      JSON.stringify({
        mqtt: { mode: 'embedded', embedded: { host: '127.0.0.1', port: 0 } },
        amqp: {
          urls: [AMQP],
          topology: uniqueTopology(prefix),
        },
        routing: { rules: [{ name: 'board', filter: `${topicPrefix}/+device/telemetry`, key: 'board.{device}', split: 'none' }] },
        store: { dir: join(dir, 'store') },
        quarantine: { dir: join(dir, 'quarantine') },
        queueHealth: { enabled: false },
      }),
    );
    pipeline = composeBridge(loadConfig({ file, env: {} }), pino({ level: 'silent' }));
    await pipeline.start();
    conn = await amqp.connect(AMQP);
    ch = await conn.createChannel();
    await ch.consume(`${prefix}.all`, (m: ConsumeMessage | null) => {
      if (!m) return;
      const r = decodeBatch(m.content);
      if (r.ok) for (const x of r.value.readings) arrived.push({ seq: r.value.seq, sensor: x.sensor, value: x.value });
      ch.ack(m);
    });
    board = new Board({ bridgeUrl: `mqtt://127.0.0.1:${pipeline.mqttPort()}`, device, prefix: topicPrefix, stateDir: join(dir, 'node'), intervalMs: 150 });
    const url = await board.start();
    ({ context: browser, profile } = await launchChromium({ width: 1300, height: 820 }));
    page = await browser.newPage();
    await page.goto(url);
  });

  afterAll(async () => {
    await browser?.close().catch(() => undefined);
    if (profile) rmSync(profile, { recursive: true, force: true });
    await board?.stop().catch(() => undefined);
    await pipeline?.stop().catch(() => undefined);
    if (ch) {
      for (const q of ['all', 'unroutable', 'dlq']) await ch.deleteQueue(`${prefix}.${q}`).catch(() => undefined);
      for (const x of ['tele', 'ae', 'dlx']) await ch.deleteExchange(`${prefix}.${x}`).catch(() => undefined);
    }
    await conn?.close().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  });

  const led = (id: string) => page.locator(`#${id}`).evaluate((el) => (el as unknown as { value: boolean }).value);
  /** The first reading of `sensor` that arrived after `from` readings had. */
  const arrivedAfter = (from: number, sensor: string, want: number) => arrived.slice(from).some((r) => r.sensor === sensor && r.value === want);

  it('shows the wokwi parts and the node connected: both LEDs lit', async () => {
    for (const tag of ['wokwi-esp32-devkit-v1', 'wokwi-dht22', 'wokwi-potentiometer', 'wokwi-led']) {
      // Defined by the bundle and rendered (a shadow root with an SVG).
      expect(await page.evaluate((t) => !!customElements.get(t) && !!document.querySelector(t)?.shadowRoot?.querySelector('svg'), tag), tag).toBe(true);
    }
    await waitFor(async () => (await led('led-mqtt')) === true, { timeoutMs: 15_000, what: 'MQTT LED on' });
    expect(await led('led-wifi')).toBe(true);
    await expect.poll(() => page.locator('#mqtt-state').textContent(), { timeout: 5000 }).toBe('connected');
    await expect.poll(() => page.locator('#device').textContent()).toContain(device);
  });

  it('moving the DHT22 sliders and turning the potentiometer changes the readings in RabbitMQ', async () => {
    await waitFor(() => arrived.length > 0, { timeoutMs: 15_000, what: 'first readings in RabbitMQ' });
    const from = arrived.length;
    for (const [id, value] of [['temperature', '31.5'], ['humidity', '77']] as const) {
      await page.locator(`#${id}`).evaluate((el, v) => {
        (el as HTMLInputElement).value = v;
        el.dispatchEvent(new Event('input', { bubbles: true }));
      }, value);
    }
    // The knob's range input lives in its shadow root; End turns it fully clockwise.
    await page.locator('#pot input.hide-input').focus();
    await page.keyboard.press('End');
    await expect.poll(() => page.locator('#pot-value').textContent(), { timeout: 5000 }).toBe('100');

    await waitFor(() => arrivedAfter(from, 'temperature', 31.5) && arrivedAfter(from, 'humidity', 77) && arrivedAfter(from, 'pot', 100), {
      timeoutMs: 20_000, what: 'the new values in RabbitMQ',
    });
    // Before the change, the defaults were flowing: the values did change, not merely appear.
    expect(arrived.slice(0, from).some((r) => r.sensor === 'temperature' && r.value === 22.5)).toBe(true);
    expect(arrived.slice(0, from).some((r) => r.sensor === 'pot' && r.value === 100)).toBe(false);
    // And the page shows the batch it published.
    await expect.poll(() => page.locator('#batch tr[data-sensor="temperature"] td.value').textContent(), { timeout: 5000 }).toBe('31.5');
  });

  it('Wi-Fi down turns both LEDs off and stops deliveries; restoring it reconnects', async () => {
    await page.locator('#wifi-toggle').click();
    await waitFor(async () => (await led('led-wifi')) === false && (await led('led-mqtt')) === false, { timeoutMs: 10_000, what: 'LEDs off' });
    await expect.poll(() => page.locator('#mqtt-state').textContent()).toBe('disconnected');
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, 'board-wifi-down.png') });

    const acked = board.state().acked;
    await page.locator('#wifi-toggle').click();
    await waitFor(async () => (await led('led-wifi')) === true && (await led('led-mqtt')) === true, { timeoutMs: 15_000, what: 'LEDs back on' });
    // Batches sampled during the outage are delivered after it.
    await waitFor(() => board.state().acked > acked, { timeoutMs: 15_000, what: 'acks after the outage' });
  });

  it('a downlink command on the node\'s cmd topic is applied and shown on the page', async () => {
    const operator = await mqtt.connectAsync(`mqtt://127.0.0.1:${pipeline.mqttPort()}`, { clientId: `${prefix}-op`, reconnectPeriod: 0 });
    try {
      await operator.publishAsync(`${topicPrefix}/${device}/cmd`, encodeCommand({ v: 1, id: 4242, op: 'set_interval', arg: 400 }), { qos: 1 });
    } finally {
      await operator.endAsync();
    }
    await expect.poll(() => page.locator('#commands').textContent(), { timeout: 10_000 }).toContain('#4242 set_interval 400');
    await expect.poll(() => page.locator('#settings').textContent()).toContain('interval 400 ms');
    expect(board.state().settings.intervalMs).toBe(400);
    await page.screenshot({ path: join(ARTIFACTS, 'board.png') });
  });

  it('rejects bad sensor updates with a clear error', async () => {
    expect(checkSensorUpdate({ temperature: 500 })).toMatch(/temperature must be a number in -40..80/);
    expect(checkSensorUpdate({ co2: 1 })).toMatch(/unknown sensor 'co2'/);
    const res = await page.evaluate(async () => {
      const r = await fetch('/api/sensors', { method: 'POST', body: '{"humidity": "wet"}' });
      return { status: r.status, body: await r.json() };
    });
    expect(res.status).toBe(400);
    expect(res.body.error).toMatch(/humidity must be a number/);
  });
});
