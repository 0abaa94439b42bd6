// MQTT over WebSocket on the embedded broker, attacked as on TCP: the same logins, ACL,
// payload identity binding and connection limits. A real bridge (in process, port 0) and the
// shared RabbitMQ (run-unique names); what RabbitMQ holds is the oracle.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import amqp, { type Channel, type ChannelModel, type ConsumeMessage } from 'amqplib';
import { connectAsync, type IClientOptions, type MqttClient } from 'mqtt';
import { pino } from 'pino';
import WebSocket from 'ws';
import { encodeBatch } from '../../src/codec/index.ts';
import { addCredential } from '../../src/ingress/mqtt-auth.ts';
import { loadConfig } from '../../src/config/index.ts';
import { composeBridge, type Bridge } from '../../src/compose.ts';
import { FaultyIo } from '../doubles/faulty-io.ts';
import { uniquePrefix, uniqueTopology, waitFor } from '../../../shared/testkit/unique.ts';

const AMQP = 'amqp://guest:guest@127.0.0.1:5672';
const PREFIX = 'factory/floor1';
const SECRET = (id: string) => `secret-of-${id}`;
const run = uniquePrefix('ws');
const devA = `${run}-devA`;
const devB = `${run}-devB`;
const dir = mkdtempSync(join(tmpdir(), 'edge-ws-'));

let bridge: Bridge;
const io = new FaultyIo();
let conn: ChannelModel;
let ch: Channel;
const clients: MqttClient[] = [];
/** message_id of everything that reached the run's queue, in arrival order. */
const arrived: string[] = [];

const batch = (device: string, seq: number) =>
  encodeBatch({ v: 1, device, boot: 1, seq, fw: 'ws-1', ts: 1_700_000_000_000 + seq, unsynced: false, readings: [{ sensor: 'temperature', offset: 0, value: 20 + seq }] });

const wsUrl = () => `ws://127.0.0.1:${bridge.mqttWebSocketPort()}/mqtt`;

async function login(device: string, extra: Partial<IClientOptions> = {}): Promise<MqttClient> {
  const c = await connectAsync(wsUrl(), { clientId: device, username: device, password: SECRET(device), reconnectPeriod: 0, connectTimeout: 5000, ...extra });
  clients.push(c);
  return c;
}

function config(extra: Record<string, unknown> = {}) {
  return {
    mqtt: {
      topicPrefixes: [PREFIX],
      embedded: {
        host: '127.0.0.1',
        port: 0,
        websocket: { host: '127.0.0.1', port: 0, path: '/mqtt' },
        auth: { credentialsFile: join(dir, 'creds.json') },
        limits: { maxConnectionsPerAddress: 4, maxPacketBytes: 16 * 1024 },
      },
    },
    amqp: { urls: [AMQP], topology: uniqueTopology(run) },
    routing: { rules: [{ name: 'all', filter: '#', key: '{topic}', split: 'none' }] },
    store: { dir: join(dir, 'store') },
    quarantine: { dir: join(dir, 'quarantine') },
    queueHealth: { enabled: false },
    ...extra,
  };
}

beforeAll(async () => {
  for (const d of [devA, devB]) await addCredential(join(dir, 'creds.json'), d, SECRET(d));
  const file = join(dir, 'config.json');
  writeFileSync(file, JSON.stringify(config()));
  bridge = composeBridge(loadConfig({ file, env: {} }), pino({ level: 'silent' }), { storeIo: io });
  await bridge.start();
  conn = await amqp.connect(AMQP);
  ch = await conn.createChannel();
  await ch.consume(`${run}.all`, (m: ConsumeMessage | null) => {
    if (!m) return;
    arrived.push(String(m.properties.messageId));
    ch.ack(m);
  });
}, 60_000);

afterAll(async () => {
  await Promise.all(clients.map((c) => c.endAsync(true).catch(() => undefined)));
  await bridge?.stop().catch(() => undefined);
  if (ch) {
    for (const q of ['all', 'unroutable', 'dlq']) await ch.deleteQueue(`${run}.${q}`).catch(() => undefined);
    for (const x of ['tele', 'ae', 'dlx']) await ch.deleteExchange(`${run}.${x}`).catch(() => undefined);
  }
  await conn?.close().catch(() => undefined);
  rmSync(dir, { recursive: true, force: true });
});

describe('MQTT over WebSocket on the embedded broker', () => {
  it('a device with its login publishes over WebSocket; the batch reaches RabbitMQ as <device>:<boot>:<seq>', async () => {
    const a = await login(devA);
    await a.publishAsync(`${PREFIX}/${devA}/telemetry`, batch(devA, 0), { qos: 1 });
    await waitFor(() => arrived.includes(`${devA}:1:0`), { what: 'devA:1:0 in RabbitMQ' });
  });

  it('PUBACK over WebSocket waits for the fsync', async () => {
    const a = await login(devA, { clientId: devA });
    io.holdSyncs();
    let acked = false;
    const pub = a.publishAsync(`${PREFIX}/${devA}/telemetry`, batch(devA, 2), { qos: 1 }).then(() => (acked = true));
    try {
      await new Promise((r) => setTimeout(r, 500));
      expect(acked).toBe(false);
    } finally {
      io.releaseSyncs();
    }
    await pub;
    await waitFor(() => arrived.includes(`${devA}:1:2`), { what: 'devA:1:2 in RabbitMQ' });
  });

  it('refuses a wrong password and an anonymous client, as TCP does', async () => {
    await expect(connectAsync(wsUrl(), { clientId: devB, username: devB, password: 'not-the-secret-at-all', reconnectPeriod: 0, connectTimeout: 5000 })).rejects.toThrow(/Not authorized|Bad username or password/i);
    await expect(connectAsync(wsUrl(), { clientId: devB, reconnectPeriod: 0, connectTimeout: 5000 })).rejects.toThrow(/Not authorized|Bad username or password/i);
  });

  it('a forged device id in the payload and a foreign topic never reach RabbitMQ; a foreign cmd subscription is refused', async () => {
    const a = await login(`${devA}`, { clientId: devA });
    // devA speaks for devB in the payload, then on devB's topic; both are acknowledged and dropped.
    await a.publishAsync(`${PREFIX}/${devA}/telemetry`, batch(devB, 7), { qos: 1 });
    await a.publishAsync(`${PREFIX}/${devB}/telemetry`, batch(devB, 8), { qos: 1 });
    // SUBACK 0x80: mqtt.js turns it into this error.
    await expect(a.subscribeAsync(`${PREFIX}/${devB}/cmd`, { qos: 1 })).rejects.toThrow(/Subscribe error/);
    // A sentinel after them on the same connection: once it is in, they would have been too.
    await a.publishAsync(`${PREFIX}/${devA}/telemetry`, batch(devA, 1), { qos: 1 });
    await waitFor(() => arrived.includes(`${devA}:1:1`), { what: 'the sentinel devA:1:1' });
    await new Promise((r) => setTimeout(r, 300));
    expect(arrived.filter((id) => id.startsWith(devB))).toEqual([]);
  });

  it('the connection limiter wraps WebSocket streams: a packet over maxPacketBytes closes it, and the per-address cap counts them', async () => {
    const a = await login(devA, { clientId: devA });
    const closed = new Promise<void>((resolve) => a.stream.once('close', () => resolve()));
    a.publish(`${PREFIX}/${devA}/telemetry`, Buffer.alloc(20 * 1024, 1), { qos: 1 });
    await closed;
    await Promise.all(clients.splice(0).map((c) => c.endAsync(true).catch(() => undefined)));

    // Raw WebSockets (no MQTT) count against maxConnectionsPerAddress (4): the 5th is closed at once.
    const socks: WebSocket[] = [];
    try {
      for (let i = 0; i < 4; i++) {
        const s = new WebSocket(wsUrl(), 'mqtt');
        socks.push(s);
        await new Promise((resolve, reject) => s.once('open', resolve).once('error', reject));
      }
      const fifth = new WebSocket(wsUrl(), 'mqtt');
      socks.push(fifth);
      await new Promise<void>((resolve) => fifth.once('close', () => resolve()));
      await new Promise((r) => setTimeout(r, 200));
      expect(socks.slice(0, 4).map((s) => s.readyState)).toEqual([WebSocket.OPEN, WebSocket.OPEN, WebSocket.OPEN, WebSocket.OPEN]);
    } finally {
      for (const s of socks) s.terminate();
    }
  });

  it('a non-loopback WebSocket listener without logins is refused at config load (the TCP rule)', () => {
    const file = join(dir, 'open.json');
    const c = config();
    const e = (c.mqtt as { embedded: Record<string, unknown> }).embedded;
    delete e.auth;
    e.websocket = { host: '0.0.0.0', port: 0, path: '/mqtt' };
    writeFileSync(file, JSON.stringify(c));
    expect(() => loadConfig({ file, env: {} })).toThrow(/mqtt\.embedded\.websocket\.host[\s\S]*loopback/);
    e.allowAnonymous = true;
    writeFileSync(file, JSON.stringify(c));
    expect(loadConfig({ file, env: {} }).mqtt.embedded.websocket?.host).toBe('0.0.0.0');
  });
});
