// Logins and ACLs on the embedded broker, with real mqtt.js clients, a real bridge
// and the shared RabbitMQ (run-unique names): a wrong secret is refused, a device
// cannot publish as another (nothing reaches RabbitMQ) nor subscribe to its cmd topic.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import amqp, { type ChannelModel, type Channel, type ConsumeMessage } from 'amqplib';
import mqtt, { type MqttClient } from 'mqtt';
import { pino } from 'pino';
import { encodeBatch } from '../../src/codec/index.ts';
import { loadConfig } from '../../src/config/index.ts';
import { composeBridge, type Bridge } from '../../src/compose.ts';
import { EmbeddedMqttIngress } from '../../src/ingress/mqtt-broker.ts';
import { addCredential } from '../../src/ingress/mqtt-auth.ts';
import { uniquePrefix, waitFor, uniqueTopology } from '../../../shared/testkit/unique.ts';
import { metric } from '../helpers/metrics.ts';

const AMQP = 'amqp://guest:guest@127.0.0.1:5672';

describe('embedded MQTT with logins and per-device ACLs', () => {
  const prefix = uniquePrefix('auth');
  const dir = mkdtempSync(join(tmpdir(), 'edge-auth-'));
  const topicPrefix = `${prefix}/floor1`;
  const a = `${prefix}-a`;
  const b = `${prefix}-b`;
  let pipeline: Bridge;
  let conn: ChannelModel;
  let ch: Channel;
  const arrived: string[] = [];
  const clients: MqttClient[] = [];

  const connect = async (clientId: string, username: string, password: string) => {
    const c = await mqtt.connectAsync(`mqtt://127.0.0.1:${pipeline.mqttPort()}`, { clientId, username, password, reconnectPeriod: 0, protocolVersion: 4 });
    clients.push(c);
    return c;
  };
  const batch = (device: string, seq: number) =>
    encodeBatch({ v: 1, device, boot: 1, seq, fw: 't', ts: Date.now(), unsynced: false, readings: [{ sensor: 'temperature', offset: 0, value: 20 }] });

  beforeAll(async () => {
    const creds = join(dir, 'creds.json');
    await addCredential(creds, a, 'secret-of-device-a');
    await addCredential(creds, b, 'secret-of-device-b');
    const file = join(dir, 'config.json');
    writeFileSync(
      file,
      JSON.stringify({
        mqtt: { mode: 'embedded', embedded: { host: '127.0.0.1', port: 0, auth: { credentialsFile: creds } } },
        amqp: {
          urls: [AMQP],
          topology: uniqueTopology(prefix),
        },
        routing: { rules: [{ name: 'r', filter: `${topicPrefix}/+device/telemetry`, key: 'auth.{device}', split: 'none' }] },
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
      arrived.push(m.properties.messageId as string);
      ch.ack(m);
    });
  });

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.endAsync(true).catch(() => undefined)));
    await pipeline?.stop().catch(() => undefined);
    if (ch) {
      for (const q of ['all', 'unroutable', 'dlq']) await ch.deleteQueue(`${prefix}.${q}`).catch(() => undefined);
      for (const x of ['tele', 'ae', 'dlx']) await ch.deleteExchange(`${prefix}.${x}`).catch(() => undefined);
    }
    await conn?.close().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses a wrong secret, an unknown user, no login, and a client id that is not the login', async () => {
    await expect(connect(a, a, 'secret-of-device-b')).rejects.toThrow(/Not authorized|Bad username or password/);
    await expect(connect('stranger', 'stranger', 'whatever-secret')).rejects.toThrow(/Not authorized|Bad username or password/);
    await expect(mqtt.connectAsync(`mqtt://127.0.0.1:${pipeline.mqttPort()}`, { clientId: a, reconnectPeriod: 0 })).rejects.toThrow(/Not authorized|Bad username or password/);
    await expect(connect(b, a, 'secret-of-device-a')).rejects.toThrow(/Not authorized|Bad username or password/);
  });

  it('a device publishes its own telemetry; as another device it is acknowledged, dropped and counted, never forwarded', async () => {
    const devA = await connect(a, a, 'secret-of-device-a');
    await devA.publishAsync(`${topicPrefix}/${a}/telemetry`, batch(a, 0), { qos: 1 });
    await devA.publishAsync(`${topicPrefix}/${b}/telemetry`, batch(b, 0), { qos: 1 }); // spoofing B
    await devA.publishAsync(`${topicPrefix}/${a}/telemetry`, batch(a, 1), { qos: 1 });
    await waitFor(() => arrived.includes(`${a}:1:1`), { timeoutMs: 15_000, what: "A's second batch in RabbitMQ" });
    // A's later batch arrived, so the spoofed one (published before it) would have too.
    expect(arrived).toEqual([`${a}:1:0`, `${a}:1:1`]);
    expect(await metric(pipeline.health, 'edge_mqtt_denied_total', { what: 'publish' })).toBe(1);
  });

  it("a device may subscribe to its own cmd topic only", async () => {
    const devA = await connect(a, a, 'secret-of-device-a');
    const own = await devA.subscribeAsync(`${topicPrefix}/${a}/cmd`, { qos: 1 });
    expect(own[0]!.qos).toBe(1);
    // SUBACK 0x80 (failure), which mqtt.js turns into an error.
    await expect(devA.subscribeAsync(`${topicPrefix}/${b}/cmd`, { qos: 1 })).rejects.toThrow(/Subscribe error/);
    await expect(devA.subscribeAsync(`${topicPrefix}/+/cmd`, { qos: 1 })).rejects.toThrow(/Subscribe error/);
  });
});
