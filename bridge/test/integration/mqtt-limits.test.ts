// Per-connection limits on the embedded broker, through the whole bridge (real
// aedes listener on port 0, real mqtt.js clients, the shared RabbitMQ with
// run-unique names): a PUBLISH announcing 10 MiB is cut off at its header, and a
// client far above its publish rate is paced (or, by policy, disconnected)
// without losing anything it got a PUBACK for, while a normal client flows on.
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
import type { LimitDisconnect } from '../../src/ingress/mqtt-limits.ts';
import { uniquePrefix, waitFor, uniqueTopology } from '../../../shared/testkit/unique.ts';
import { metric, metricSum } from '../helpers/metrics.ts';

const AMQP = 'amqp://guest:guest@127.0.0.1:5672';
const MiB = 1024 * 1024;

interface LogLine {
  level: number;
  msg: string;
  clientId?: string;
  address?: string;
  reason?: string;
  bytesRead?: number;
}

/** A bridge with its own topology and a consumer that records every message id arriving in RabbitMQ. */
class LimitsBridge {
  readonly prefix = uniquePrefix('lim');
  readonly dir = mkdtempSync(join(tmpdir(), 'edge-limits-'));
  readonly arrived = new Set<string>();
  readonly log: LogLine[] = [];
  readonly clients: MqttClient[] = [];
  pipeline!: Bridge;
  private conn: ChannelModel | undefined;
  private ch: Channel | undefined;

  async start(limits: Record<string, number> | undefined): Promise<this> {
    const { prefix, dir } = this;
    const file = join(dir, 'config.json');
    writeFileSync(
      file,
      JSON.stringify({
        mqtt: { mode: 'embedded', embedded: { host: '127.0.0.1', port: 0, ...(limits && { limits }) } },
        amqp: {
          urls: [AMQP],
          topology: uniqueTopology(prefix),
        },
        routing: { rules: [{ name: 'r', filter: `${prefix}/+device/telemetry`, key: 'lim.{device}', split: 'none' }] },
        store: { dir: join(dir, 'store') },
        quarantine: { dir: join(dir, 'quarantine') },
        queueHealth: { enabled: false },
        http: { host: '127.0.0.1', port: 0 },
      }),
    );
    const logger = pino({ level: 'info' }, { write: (line: string) => void this.log.push(JSON.parse(line) as LogLine) });
    this.pipeline = composeBridge(loadConfig({ file, env: {} }), logger);
    await this.pipeline.start();
    this.conn = await amqp.connect(AMQP);
    this.ch = await this.conn.createChannel();
    await this.ch.consume(`${prefix}.all`, (m: ConsumeMessage | null) => {
      if (!m) return;
      this.arrived.add(m.properties.messageId as string);
      this.ch!.ack(m);
    });
    return this;
  }

  /** Connections closed by a limit, as the bridge logged them. */
  get disconnects(): Array<{ reason: string; detail: string; clientId?: string; address: string; bytesRead: number }> {
    const prefix = 'mqtt connection closed: ';
    return this.log
      .filter((l) => l.msg.startsWith(prefix))
      .map((l) => ({ reason: String(l.reason), detail: l.msg.slice(prefix.length), clientId: l.clientId as string | undefined, address: String(l.address), bytesRead: Number(l.bytesRead) }));
  }

  /** Everything set aside: quarantined input and parked records. */
  async quarantined(): Promise<number> {
    return (await metricSum(this.pipeline.health, 'edge_decode_failures_total')) + (await metricSum(this.pipeline.health, 'edge_parked_total'));
  }

  topic(device: string): string {
    return `${this.prefix}/${device}/telemetry`;
  }

  async connect(device: string, options: mqtt.IClientOptions = {}): Promise<MqttClient> {
    const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${this.pipeline.mqttPort()}`, { clientId: device, reconnectPeriod: 0, ...options });
    client.on('error', () => undefined);
    this.clients.push(client);
    return client;
  }

  async metric(line: RegExp): Promise<number> {
    const m = line.exec(await this.pipeline.health.metricsText());
    return m ? Number(m[1]) : NaN;
  }

  async stop(): Promise<void> {
    await Promise.all(this.clients.map((c) => c.endAsync(true).catch(() => undefined)));
    await this.pipeline?.stop().catch(() => undefined);
    if (this.ch) {
      for (const q of ['all', 'unroutable', 'dlq']) await this.ch.deleteQueue(`${this.prefix}.${q}`).catch(() => undefined);
      for (const x of ['tele', 'ae', 'dlx']) await this.ch.deleteExchange(`${this.prefix}.${x}`).catch(() => undefined);
    }
    await this.conn?.close().catch(() => undefined);
    rmSync(this.dir, { recursive: true, force: true });
  }
}

const batch = (device: string, seq: number) =>
  encodeBatch({ v: 1, device, boot: 1, seq, fw: 't', ts: Date.now(), unsynced: false, readings: [{ sensor: 'temperature', offset: 0, value: seq }] });

/** Publishes seq 0..n-1 at once (QoS 1); `acked` gets each seq whose PUBACK arrived. */
function publishAll(bridge: LimitsBridge, client: MqttClient, device: string, n: number, acked: Set<number>): Promise<unknown> {
  return Promise.allSettled(
    Array.from({ length: n }, (_, seq) => client.publishAsync(bridge.topic(device), batch(device, seq), { qos: 1 }).then(() => acked.add(seq))),
  );
}

/** A well-behaved device: one batch every 20 ms (50/s), each after the last one's PUBACK. */
async function publishSteadily(bridge: LimitsBridge, client: MqttClient, device: string, n: number, acked: Set<number>): Promise<void> {
  for (let seq = 0; seq < n; seq++) {
    await client.publishAsync(bridge.topic(device), batch(device, seq), { qos: 1 });
    acked.add(seq);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const idsOf = (device: string, seqs: Iterable<number>) => [...seqs].map((s) => `${device}:1:${s}`);

describe('embedded MQTT: a packet above maxPacketBytes (default limits)', () => {
  const bridge = new LimitsBridge();
  beforeAll(() => bridge.start(undefined).then(() => undefined));
  afterAll(() => bridge.stop());

  it('a PUBLISH announcing 10 MiB closes its connection after a small part was read; others are served, nothing is quarantined', async () => {
    const good = `${bridge.prefix}-good`;
    const big = `${bridge.prefix}-big`;
    const goodClient = await bridge.connect(good);
    const bigClient = await bridge.connect(big);
    const closed = new Promise<void>((resolve) => bigClient.once('close', () => resolve()));
    const payload = Buffer.alloc(10 * MiB, 0x5a);
    void bigClient.publishAsync(bridge.topic(big), payload, { qos: 1 }).catch(() => undefined);
    await waitFor(() => bridge.disconnects.length > 0, { what: 'the limit disconnect' });
    await closed;

    const [d] = bridge.disconnects;
    expect(d).toMatchObject({ reason: 'packet_too_large', clientId: big });
    expect(d!.detail).toMatch(/^packet type 3 announces 1048\d{4} bytes, above maxPacketBytes 65536$/);
    // Read from the socket: a few chunks of the 10 MiB, never the packet.
    expect(d!.bytesRead).toBeLessThan(MiB);
    expect(await bridge.metric(/^edge_mqtt_limit_disconnects_total\{reason="packet_too_large"\} (\d+)$/m)).toBe(1);
    const warned = bridge.log.filter((l) => l.msg.startsWith('mqtt connection closed: packet type 3 announces'));
    expect(warned).toHaveLength(1);
    expect(warned[0]).toMatchObject({ clientId: big, reason: 'packet_too_large', address: expect.stringMatching(/^127\.0\.0\.1:\d+$/) });

    // The bridge keeps serving: the other client's batches are acknowledged and delivered.
    const acked = new Set<number>();
    await publishSteadily(bridge, goodClient, good, 5, acked);
    await waitFor(() => idsOf(good, acked).every((id) => bridge.arrived.has(id)), { what: 'the good batches in RabbitMQ' });
    // Never reached aedes or the payload check, so nothing was quarantined.
    expect(await bridge.quarantined()).toBe(0);
    expect([...bridge.arrived].some((id) => id.startsWith(big))).toBe(false);
  });
});

describe('embedded MQTT: a client far above its publish rate', () => {
  it('is paced, not disconnected (disconnectAfterPacedMs 0): every batch is acknowledged and delivered; a normal client is never paced', async () => {
    const bridge = await new LimitsBridge().start({ publishesPerSecond: 100, publishBurst: 20, disconnectAfterPacedMs: 0 });
    try {
      const noisy = `${bridge.prefix}-noisy`;
      const good = `${bridge.prefix}-good`;
      const noisyClient = await bridge.connect(noisy);
      const goodClient = await bridge.connect(good);
      const noisyAcked = new Set<number>();
      const goodAcked = new Set<number>();
      const floodStarted = performance.now();
      const flood = publishAll(bridge, noisyClient, noisy, 300, noisyAcked);
      await waitFor(async () => (await metric(bridge.pipeline.health, 'edge_mqtt_paced_publishes_total')) > 0, { what: 'pacing' });
      await publishSteadily(bridge, goodClient, good, 30, goodAcked);
      await flood;
      // A lower bound set by the bucket, not a speed: 300 PUBLISHes with a burst of 20 (plus at
      // most 20 more before the client id was bound) at 100/s cannot all be admitted sooner.
      expect(performance.now() - floodStarted).toBeGreaterThanOrEqual(2500);
      expect(noisyAcked.size).toBe(300);
      expect(goodAcked.size).toBe(30);
      expect(noisyClient.connected).toBe(true);
      await waitFor(() => [...idsOf(noisy, noisyAcked), ...idsOf(good, goodAcked)].every((id) => bridge.arrived.has(id)), {
        timeoutMs: 20_000,
        what: 'every acknowledged batch in RabbitMQ',
      });

      expect(await metricSum(bridge.pipeline.health, 'edge_mqtt_limit_disconnects_total')).toBe(0);
      // How many waited depends on timers (one that fires late brings several tokens).
      expect(await bridge.metric(/^edge_mqtt_paced_publishes_total (\d+)$/m)).toBeGreaterThan(0);
      expect(await bridge.metric(/^edge_mqtt_pacing_episodes_total (\d+)$/m)).toBe(1);
      expect(await bridge.metric(new RegExp(`^edge_device_paced_publishes_total\\{device="${noisy}"\\} (\\d+)$`, 'm'))).toBeGreaterThan(0);
      expect(await bridge.metric(new RegExp(`^edge_device_paced_publishes_total\\{device="${good}"\\} (\\d+)$`, 'm'))).toBe(0);
      // Logged once for the burst, naming the client; never for the normal client.
      const paced = bridge.log.filter((l) => l.msg.startsWith('mqtt client above its publish rate'));
      expect(paced).toEqual([expect.objectContaining({ clientId: noisy })]);
      expect(await bridge.quarantined()).toBe(0);
    } finally {
      await bridge.stop();
    }
  });

  it('is disconnected after disconnectAfterPacedMs without a break; every batch it got a PUBACK for is delivered, and it catches up after reconnecting', async () => {
    const bridge = await new LimitsBridge().start({ publishesPerSecond: 100, publishBurst: 20, disconnectAfterPacedMs: 300 });
    try {
      const noisy = `${bridge.prefix}-noisy`;
      const good = `${bridge.prefix}-good`;
      // mqtt.js resends unacknowledged QoS 1 publishes after it reconnects.
      const noisyClient = await bridge.connect(noisy, { reconnectPeriod: 200 });
      const goodClient = await bridge.connect(good);
      const noisyAcked = new Set<number>();
      const goodAcked = new Set<number>();
      const flood = publishAll(bridge, noisyClient, noisy, 300, noisyAcked);
      await waitFor(() => bridge.disconnects.length > 0, { what: 'a rate disconnect' });
      const ackedAtDisconnect = [...noisyAcked];
      await publishSteadily(bridge, goodClient, good, 30, goodAcked);
      await waitFor(() => noisyAcked.size === 300, { timeoutMs: 30_000, what: 'every noisy batch acknowledged across reconnects' });
      await flood;

      expect(bridge.disconnects[0]).toMatchObject({ reason: 'rate_exceeded', clientId: noisy });
      expect(bridge.disconnects[0]!.detail).toBe('client kept above 100 PUBLISH/s (burst 20) for 300 ms');
      expect(ackedAtDisconnect.length).toBeLessThan(300);
      expect(goodAcked.size).toBe(30);
      expect(bridge.disconnects.every((d) => d.clientId === noisy)).toBe(true);
      expect(await bridge.metric(/^edge_mqtt_limit_disconnects_total\{reason="rate_exceeded"\} (\d+)$/m)).toBe(bridge.disconnects.length);
      await waitFor(() => [...idsOf(noisy, noisyAcked), ...idsOf(good, goodAcked)].every((id) => bridge.arrived.has(id)), {
        timeoutMs: 20_000,
        what: 'every acknowledged batch in RabbitMQ',
      });
      expect(await bridge.quarantined()).toBe(0);
    } finally {
      await bridge.stop();
    }
  });
});
