// The browser board in real Chromium, running the firmware core (edge_core.wasm) and
// speaking MQTT over WebSocket, with a login, to a real bridge (port 0) and the shared
// RabbitMQ (run-unique names). What RabbitMQ holds is the oracle.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import amqp, { type ChannelModel, type Channel, type ConsumeMessage } from 'amqplib';
import { pino } from 'pino';
import type { BrowserContext, Page } from 'playwright-core';
import { decodeBatch } from '../../../bridge/src/codec/index.ts';
import { addCredential } from '../../../bridge/src/ingress/mqtt-auth.ts';
import { loadConfig } from '../../../bridge/src/config/index.ts';
import { composeBridge, type Bridge } from '../../../bridge/src/compose.ts';
import { uniquePrefix, uniqueTopology, waitFor } from '../../../shared/testkit/unique.ts';
import { launchChromium } from '../../../shared/testkit/chromium.ts';
import { Board } from '../../board/board.ts';
import type { CoreStats } from '../../nodes/wasm-core.ts';

const AMQP = 'amqp://guest:guest@127.0.0.1:5672';
const ARTIFACTS = join(process.cwd(), '.vitest-artifacts');
const EDGE_NODE = join(process.cwd(), 'firmware', 'build', 'edge-node');
const CLI = join(process.cwd(), 'bridge', 'bin', 'edge-bridge.js');
const SECRET = 'board-secret-123456';

interface Arrival {
  id: string;
  key: string;
  seq: number;
  boot: number;
  content: Buffer;
  readings: Array<{ sensor: string; value: number }>;
}

/** A bridge from a config file, and a consumer that records everything its queue receives. */
async function bridgeWithQueue(dir: string, prefix: string, config: Record<string, unknown>) {
  const file = join(dir, `${prefix}.json`);
  writeFileSync(file, JSON.stringify({
    amqp: { urls: [AMQP], topology: uniqueTopology(prefix) },
    store: { dir: join(dir, `${prefix}-store`) },
    quarantine: { dir: join(dir, `${prefix}-quarantine`) },
    queueHealth: { enabled: false },
    ...config,
  }));
  const bridge = composeBridge(loadConfig({ file, env: {} }), pino({ level: 'silent' }));
  await bridge.start();
  const conn = await amqp.connect(AMQP);
  const ch = await conn.createChannel();
  const arrived: Arrival[] = [];
  await ch.consume(`${prefix}.all`, (m: ConsumeMessage | null) => {
    if (!m) return;
    const r = decodeBatch(m.content);
    if (r.ok) {
      arrived.push({
        id: String(m.properties.messageId), key: m.fields.routingKey, seq: r.value.seq, boot: r.value.boot, content: m.content,
        readings: r.value.readings.map((x) => ({ sensor: x.sensor, value: x.value })),
      });
    }
    ch.ack(m);
  });
  const cleanup = async () => {
    await bridge.stop().catch(() => undefined);
    for (const q of ['all', 'unroutable', 'dlq', 'cmdq']) await ch.deleteQueue(`${prefix}.${q}`).catch(() => undefined);
    for (const x of ['tele', 'ae', 'dlx', 'cmd']) await ch.deleteExchange(`${prefix}.${x}`).catch(() => undefined);
    await conn.close().catch(() => undefined);
  };
  return { bridge, file, arrived, cleanup };
}

/** Seqs of one boot, sorted and deduplicated. */
const seqsOf = (arrived: Arrival[], boot: number) => [...new Set(arrived.filter((a) => a.boot === boot).map((a) => a.seq))].sort((a, b) => a - b);
const contiguous = (seqs: number[]) => seqs.every((s, i) => s === i);

let browser: BrowserContext;
let profile: string;
const dir = mkdtempSync(join(tmpdir(), 'edge-board-'));

beforeAll(async () => {
  ({ context: browser, profile } = await launchChromium({ width: 1300, height: 820 }));
}, 60_000);

afterAll(async () => {
  await browser?.close().catch(() => undefined);
  if (profile) rmSync(profile, { recursive: true, force: true });
  rmSync(dir, { recursive: true, force: true });
});

describe('browser board: the firmware core in Chromium over MQTT on WebSocket, logins on', () => {
  const prefix = uniquePrefix('board');
  const topicPrefix = `${prefix}/bench`;
  const device = `${prefix}-node`;
  let env: Awaited<ReturnType<typeof bridgeWithQueue>>;
  let board: Board;
  let page: Page;

  beforeAll(async () => {
    const creds = join(dir, 'creds.json');
    await addCredential(creds, device, SECRET);
    env = await bridgeWithQueue(dir, prefix, {
      mqtt: { embedded: { host: '127.0.0.1', port: 0, websocket: { host: '127.0.0.1', port: 0, path: '/mqtt' }, auth: { credentialsFile: creds } } },
      routing: { rules: [{ name: 'board', filter: `${topicPrefix}/+device/telemetry`, key: 'board.{device}', split: 'none' }] },
      downlink: { enabled: true, exchange: `${prefix}.cmd`, queue: `${prefix}.cmdq`, dir: join(dir, 'commands'), retryMs: 300 },
    });
    board = new Board({ wsUrl: `ws://127.0.0.1:${env.bridge.mqttWebSocketPort()}/mqtt`, device, prefix: topicPrefix, username: device, password: SECRET, intervalMs: 150, batchSize: 6 });
    page = await browser.newPage();
    page.on('pageerror', (err) => console.error('page error:', err.message));
    await page.goto(await board.start());
  }, 60_000);

  afterAll(async () => {
    await page?.close().catch(() => undefined);
    await board?.stop().catch(() => undefined);
    await env?.cleanup();
  });

  const led = (id: string) => page.locator(`#${id}`).evaluate((el) => (el as unknown as { value: boolean }).value);
  const stats = () => page.evaluate(() => (globalThis as unknown as { board: { stats(): CoreStats } }).board.stats());
  const arrivedAfter = (from: number, sensor: string, want: number) => env.arrived.slice(from).some((a) => a.readings.some((r) => r.sensor === sensor && r.value === want));

  it('draws the wokwi parts, logs in over WebSocket, and its batches reach RabbitMQ as <board id>:<boot>:<seq>', async () => {
    for (const tag of ['wokwi-esp32-devkit-v1', 'wokwi-dht22', 'wokwi-potentiometer', 'wokwi-led']) {
      expect(await page.evaluate((t) => !!customElements.get(t) && !!document.querySelector(t)?.shadowRoot?.querySelector('svg'), tag), tag).toBe(true);
    }
    await waitFor(async () => (await led('led-mqtt')) === true, { timeoutMs: 15_000, what: 'MQTT LED on' });
    expect(await led('led-wifi')).toBe(true);
    await expect.poll(() => page.locator('#device').textContent()).toBe(`${device} (boot 1)`);
    await waitFor(() => env.arrived.length >= 3, { timeoutMs: 15_000, what: 'three batches in RabbitMQ' });
    const first = env.arrived.slice(0, 3);
    expect(first.map((a) => a.id)).toEqual([0, 1, 2].map((s) => `${device}:1:${s}`));
    expect(first.every((a) => a.key === `board.${device}`)).toBe(true);
    // The core's own firmware string and the page's default readings.
    expect(first[0]!.readings.find((r) => r.sensor === 'temperature')?.value).toBe(22.5);
  });

  it('moving the DHT22 sliders and turning the potentiometer changes the readings in RabbitMQ', async () => {
    const from = env.arrived.length;
    for (const [id, value] of [['temperature', '31.5'], ['humidity', '77']] as const) {
      await page.locator(`#${id}`).evaluate((el, v) => {
        (el as HTMLInputElement).value = v;
        el.dispatchEvent(new Event('input', { bubbles: true }));
      }, value);
    }
    await page.locator('#pot input.hide-input').focus();
    await page.keyboard.press('End');
    await expect.poll(() => page.locator('#pot-value').textContent(), { timeout: 5000 }).toBe('100');
    await waitFor(() => arrivedAfter(from, 'temperature', 31.5) && arrivedAfter(from, 'humidity', 77) && arrivedAfter(from, 'pot', 100), {
      timeoutMs: 20_000, what: 'the new values in RabbitMQ',
    });
    expect(env.arrived.slice(0, from).some((a) => a.readings.some((r) => r.sensor === 'pot' && r.value === 100))).toBe(false);
    await expect.poll(() => page.locator('#batch tr[data-sensor="temperature"] td.value').textContent(), { timeout: 5000 }).toBe('31.5');
  });

  it('`edge-bridge cmd <board> set_interval 500` through AMQP reaches the core, which applies it; the page shows it', async () => {
    const { stdout } = await promisify(execFile)(process.execPath, [CLI, 'cmd', device, 'set_interval', '500', '--id', '4242', '-c', env.file], { timeout: 30_000 });
    expect(stdout).toMatch(/4242|sent|published/i);
    await expect.poll(() => page.locator('#settings').textContent(), { timeout: 15_000 }).toContain('interval 500 ms');
    await expect.poll(() => page.locator('#commands').textContent()).toContain('#4242 set_interval 500');
    const s = await stats();
    expect(s.intervalMs).toBe(500);
    expect(s.lastCmd).toBe(4242);
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, 'board.png') });
  });

  it('the node\'s button closes the open batch at once: a batch of one sample (3 readings) instead of two', async () => {
    const from = env.arrived.length;
    // A batch holds 2 samples; between them the open batch has 3 readings for 500 ms.
    await waitFor(async () => {
      await page.locator('#flush').click();
      return env.arrived.slice(from).some((a) => a.readings.length === 3);
    }, { timeoutMs: 15_000, intervalMs: 100, what: 'a batch of 3 readings in RabbitMQ' });
    expect(env.arrived.slice(0, from).every((a) => a.readings.length === 6)).toBe(true);
  });

  it('"Drop Wi-Fi" for 10 s, then back: the outbox carries the batches, and no seq is missing', async () => {
    await page.locator('#wifi-toggle').click();
    await waitFor(async () => (await led('led-wifi')) === false && (await led('led-mqtt')) === false, { timeoutMs: 10_000, what: 'LEDs off' });
    const arrivedAtDrop = env.arrived.length;
    await new Promise((r) => setTimeout(r, 10_000));
    const during = await stats();
    expect(during.outbox).toBeGreaterThanOrEqual(5);
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, 'board-wifi-down.png') });
    // Nothing left the page while the link was down (a batch in flight at the drop may still land).
    expect(env.arrived.length - arrivedAtDrop).toBeLessThanOrEqual(4);

    await page.locator('#wifi-toggle').click();
    await waitFor(async () => (await led('led-mqtt')) === true, { timeoutMs: 15_000, what: 'MQTT LED back on' });
    await waitFor(async () => (await stats()).outbox === 0, { timeoutMs: 20_000, what: 'the outbox drained' });
    const last = (await stats()).nextSeq - 1;
    await waitFor(() => seqsOf(env.arrived, 1).includes(last), { timeoutMs: 10_000, what: `seq ${last} in RabbitMQ` });
    const seqs = seqsOf(env.arrived, 1);
    expect(contiguous(seqs), `seqs ${seqs.join(',')}`).toBe(true);
    expect(seqs.length).toBe(last + 1);
  });

  it('a reload of the page is a reboot: the boot counter in browser storage goes to 2, and seq starts again at 0', async () => {
    await page.reload();
    await expect.poll(() => page.locator('#device').textContent(), { timeout: 15_000 }).toBe(`${device} (boot 2)`);
    await waitFor(() => env.arrived.some((a) => a.id === `${device}:2:0`), { timeoutMs: 15_000, what: `${device}:2:0 in RabbitMQ` });
  });
});

describe('the same inputs give the same bytes: the board\'s core and edge-node', () => {
  const prefix = uniquePrefix('same');
  const device = `${prefix}-n`;
  // Not sinf output (libms differ in the last bit): fixed values, some not exact in binary.
  const readings = [[21.37, 45.1, 2048], [-3.3, 99.99, 0], [0.1, 0.2, 4095], [1e-7, 33.333, 1], [80, 0, 17.5]];
  const common = { device, intervalMs: 100, batchSize: 6, firmware: 'same-1.0.0', clockStartMs: 1_700_000_000_000 };
  const BATCHES = 4;
  let env: Awaited<ReturnType<typeof bridgeWithQueue>>;

  beforeAll(async () => {
    env = await bridgeWithQueue(dir, prefix, {
      mqtt: { embedded: { host: '127.0.0.1', port: 0, websocket: { host: '127.0.0.1', port: 0, path: '/mqtt' } } },
      routing: {
        rules: [
          { name: 'posix', filter: `${prefix}/posix/+device/telemetry`, key: 'posix.{device}', split: 'none' },
          { name: 'wasm', filter: `${prefix}/wasm/+device/telemetry`, key: 'wasm.{device}', split: 'none' },
        ],
      },
    });
  }, 60_000);

  afterAll(async () => {
    await env?.cleanup();
  });

  it('edge-node --readings --clock-start and the page with the same readings and clock publish byte-identical batches', async () => {
    const file = join(dir, 'readings.csv');
    writeFileSync(file, `# temperature,humidity,pot\n${readings.map((r) => r.join(',')).join('\n')}\n`);
    const node = spawn(EDGE_NODE, [
      '--device', device, '--broker', `mqtt://127.0.0.1:${env.bridge.mqttPort()}`, '--prefix', `${prefix}/posix`,
      '--interval', String(common.intervalMs), '--batch', String(common.batchSize), '--fw', common.firmware,
      '--readings', file, '--clock-start', String(common.clockStartMs), '--state-dir', join(dir, 'posix-state'), '--count', String(BATCHES),
    ], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    node.stderr.on('data', (b) => (stderr += b));
    const code = await new Promise<number | null>((resolve) => node.once('exit', resolve));
    expect(code, stderr).toBe(0);

    const board = new Board({ ...common, wsUrl: `ws://127.0.0.1:${env.bridge.mqttWebSocketPort()}/mqtt`, prefix: `${prefix}/wasm`, readings });
    const page = await browser.newPage();
    try {
      await page.goto(await board.start());
      const byKind = (kind: string) => env.arrived.filter((a) => a.key.startsWith(`${kind}.`)).sort((a, b) => a.seq - b.seq);
      await waitFor(() => new Set(byKind('wasm').map((a) => a.seq)).size >= BATCHES && new Set(byKind('posix').map((a) => a.seq)).size >= BATCHES, {
        timeoutMs: 20_000, what: `${BATCHES} batches from each`,
      });
      const posix = new Map(byKind('posix').map((a) => [a.seq, a.content.toString('hex')]));
      const wasm = new Map(byKind('wasm').map((a) => [a.seq, a.content.toString('hex')]));
      for (let seq = 0; seq < BATCHES; seq++) expect(wasm.get(seq), `seq ${seq}`).toBe(posix.get(seq));
      // Not trivially equal: different readings per batch, with the fixed clock's offsets.
      expect(new Set(posix.values()).size).toBe(BATCHES);
      const first = decodeBatch(Buffer.from(posix.get(0)!, 'hex'));
      expect(first.ok && first.value.ts).toBe(common.clockStartMs);
      // The page's own bytes, before the bridge: the same.
      const published = await page.evaluate(() => (globalThis as unknown as { board: { published: string[] } }).board.published);
      expect(published.slice(0, BATCHES)).toEqual([...Array(BATCHES).keys()].map((s) => posix.get(s)));
    } finally {
      await page.close();
      await board.stop();
    }
  });
});
