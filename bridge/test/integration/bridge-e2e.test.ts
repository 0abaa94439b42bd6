// The bridge end to end: mqtt.js devices -> bridge -> the shared RabbitMQ
// (run-unique exchange and queues), in both MQTT modes, and across a kill -9
// and a graceful stop of the bridge process.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import amqp, { type ChannelModel, type Channel } from 'amqplib';
import mqtt from 'mqtt';
import { pino } from 'pino';
import { encodeBatch, decodeBatch } from '../../src/codec/index.ts';
import { loadConfig, type BridgeConfig } from '../../src/config/index.ts';
import { composeBridge, type Bridge } from '../../src/compose.ts';
import { FaultyIo } from '../doubles/faulty-io.ts';
import { uniquePrefix, waitFor } from '../../../shared/testkit/unique.ts';
import { startPrivateMosquitto } from '../../../shared/testkit/mosquitto.ts';
import { metric } from '../helpers/metrics.ts';

const AMQP = 'amqp://guest:guest@127.0.0.1:5672';

function bridgeConfig(prefix: string, dir: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    mqtt: { mode: 'embedded', embedded: { host: '127.0.0.1', port: 0 } },
    amqp: {
      urls: [AMQP],
      topology: {
        exchange: `${prefix}.tele`,
        alternateExchange: `${prefix}.ae`,
        unroutableQueue: `${prefix}.unroutable`,
        deadLetterExchange: `${prefix}.dlx`,
        deadLetterQueue: `${prefix}.dlq`,
        queues: [{ name: `${prefix}.factory`, bindings: ['factory.#'] }],
      },
    },
    routing: {
      rules: [
        { name: 'factory', filter: 'factory/+floor/+device/telemetry', key: 'factory.{floor}.{sensor}', split: 'sensor' },
        { name: 'default', filter: '#', key: '{topic}', split: 'none' },
      ],
    },
    store: { dir: join(dir, 'store') },
    quarantine: { dir: join(dir, 'quarantine') },
    http: { host: '127.0.0.1', port: 0 },
    log: { level: 'info' },
    ...extra,
  };
}

function batchFor(device: string, boot: number, seq: number): Buffer {
  return encodeBatch({
    v: 1, device, boot, seq, fw: 'test-1', ts: 1_700_000_000_000 + seq, unsynced: false,
    readings: [
      { sensor: 'temperature', offset: 0, value: 20 + (seq % 10) },
      { sensor: 'humidity', offset: 0, value: 40 + (seq % 10) },
    ],
  });
}

interface Received { id: string; key: string; persistent: boolean; headers: Record<string, unknown>; body: Buffer }

/** Collects everything in a queue (acking it) into `into`, keyed for counting. */
async function drainQueue(ch: Channel, queue: string, into: Received[]): Promise<string> {
  const { consumerTag } = await ch.consume(queue, (m) => {
    if (!m) return;
    into.push({
      id: String(m.properties.messageId),
      key: m.fields.routingKey,
      persistent: m.properties.deliveryMode === 2,
      headers: m.properties.headers ?? {},
      body: m.content,
    });
    ch.ack(m);
  });
  return consumerTag;
}

async function deleteTopology(ch: Channel, prefix: string): Promise<void> {
  for (const q of ['factory', 'unroutable', 'dlq']) await ch.deleteQueue(`${prefix}.${q}`).catch(() => {});
  for (const e of ['tele', 'ae', 'dlx']) await ch.deleteExchange(`${prefix}.${e}`).catch(() => {});
}

/** Publishes batches seq from..to-1 for `device` with QoS1, recording which were PUBACKed. */
async function publishBatches(port: number, device: string, boot: number, from: number, to: number, acked: Set<number>, topicPrefix = 'factory/floor1'): Promise<void> {
  const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { clientId: `${device}-${boot}-${from}`, reconnectPeriod: 0 });
  try {
    await Promise.all(
      Array.from({ length: to - from }, (_, i) =>
        client.publishAsync(`${topicPrefix}/${device}/telemetry`, batchFor(device, boot, from + i), { qos: 1 }).then(() => {
          acked.add(from + i);
        }),
      ),
    );
  } finally {
    await client.endAsync(true).catch(() => {});
  }
}

describe('bridge end to end (embedded broker, in process)', () => {
  const prefix = uniquePrefix('e2e');
  const dir = mkdtempSync(join(tmpdir(), 'edge-e2e-'));
  let conn: ChannelModel;
  let ch: Channel;
  let pipeline: Bridge;
  let config: BridgeConfig;

  beforeAll(async () => {
    conn = await amqp.connect(AMQP);
    ch = await conn.createChannel();
    const file = join(dir, 'config.json');
    writeFileSync(file, JSON.stringify(bridgeConfig(prefix, dir)));
    config = loadConfig({ file, env: {} });
    pipeline = composeBridge(config, pino({ level: 'silent' }));
    await pipeline.start();
  });

  afterAll(async () => {
    await pipeline?.stop();
    await deleteTopology(ch, prefix);
    await conn?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('delivers every QoS1 batch from 3 devices: exact counts, keys, ids, persistence, order per device', async () => {
    const received: Received[] = [];
    const tag = await drainQueue(ch, `${prefix}.factory`, received);
    const devices = ['dev-a', 'dev-b', 'dev-c'];
    const acked = devices.map(() => new Set<number>());
    const N = 100;
    await Promise.all(devices.map((d, i) => publishBatches(pipeline.mqttPort(), d, 1, 0, N, acked[i]!)));
    for (const a of acked) expect(a.size).toBe(N);
    // split by sensor: 2 messages per batch
    await waitFor(() => received.length >= devices.length * N * 2, { timeoutMs: 30_000, what: 'all messages in the queue' });
    await ch.cancel(tag);
    expect(received.length).toBe(devices.length * N * 2);
    const ids = new Set(received.map((r) => r.id));
    expect(ids.size).toBe(received.length);
    for (const d of devices) {
      for (let s = 0; s < N; s++) {
        expect(ids.has(`${d}:1:${s}:0`)).toBe(true);
        expect(ids.has(`${d}:1:${s}:1`)).toBe(true);
      }
      // per-device order: seqs of part 0 arrive ascending
      const seqs = received.filter((r) => r.headers['x-device'] === d && r.id.endsWith(':0')).map((r) => Number(r.headers['x-seq']));
      expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    }
    expect(new Set(received.map((r) => r.key))).toEqual(new Set(['factory.floor1.temperature', 'factory.floor1.humidity']));
    expect(received.every((r) => r.persistent)).toBe(true);
    const one = received.find((r) => r.key === 'factory.floor1.temperature')!;
    const part = decodeBatch(one.body);
    expect(part.ok && part.value.readings.every((x) => x.sensor === 'temperature')).toBe(true);
    expect(one.headers['x-topic']).toMatch(/^factory\/floor1\/dev-[abc]\/telemetry$/);
    // every accepted batch was confirmed and removed from the store
    await waitFor(async () => (await metric(pipeline.health, 'edge_store_records')) === 0, { what: 'store drained' });
  });

  it('quarantines a malformed payload and parks an unroutable key while the rest keeps flowing', async () => {
    const received: Received[] = [];
    const unroutable: Received[] = [];
    const t1 = await drainQueue(ch, `${prefix}.factory`, received);
    const t2 = await drainQueue(ch, `${prefix}.unroutable`, unroutable);
    const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${pipeline.mqttPort()}`, { clientId: `${prefix}-mixed` });
    const before = await metric(pipeline.health, 'edge_decode_failures_total', { reason: 'malformed' });
    await client.publishAsync('factory/floor1/dev-q/telemetry', Buffer.from([0x93, 0x01]), { qos: 1 });
    await client.publishAsync('factory/floor1/dev-q/telemetry', batchFor('dev-q', 1, 0), { qos: 1 });
    // default rule: other.site.dev-q.telemetry, bound to no queue -> alternate exchange
    await client.publishAsync('other/site/dev-q/telemetry', batchFor('dev-q', 1, 1), { qos: 1 });
    await client.publishAsync('factory/floor1/dev-q/telemetry', batchFor('dev-q', 1, 2), { qos: 1 });
    await client.endAsync();
    await waitFor(() => received.length >= 4 && unroutable.length >= 1, { timeoutMs: 20_000, what: 'good and parked messages' });
    await ch.cancel(t1);
    await ch.cancel(t2);
    expect(received.map((r) => r.id).sort()).toEqual(['dev-q:1:0:0', 'dev-q:1:0:1', 'dev-q:1:2:0', 'dev-q:1:2:1']);
    expect(unroutable.map((r) => [r.id, r.key])).toEqual([['dev-q:1:1', 'other.site.dev-q.telemetry']]);
    expect(await metric(pipeline.health, 'edge_decode_failures_total', { reason: 'malformed' })).toBe(before + 1);
    const lines = readFileSync(join(dir, 'quarantine', 'quarantine.jsonl'), 'utf8').trim().split('\n');
    const last = JSON.parse(lines.at(-1)!);
    expect(last.reason).toBe('malformed');
    expect(last.payloadHex).toBe('9301');
  });
});

describe('PUBACK follows the fsync', () => {
  it('withholds the PUBACK while the store commit is held (the batch is forwarded meanwhile), and sends it once the commit is on disk', async () => {
    const prefix = uniquePrefix('held');
    const dir = mkdtempSync(join(tmpdir(), 'edge-held-'));
    const file = join(dir, 'config.json');
    writeFileSync(file, JSON.stringify(bridgeConfig(prefix, dir)));
    const io = new FaultyIo();
    const pipeline = composeBridge(loadConfig({ file, env: {} }), pino({ level: 'silent' }), { storeIo: io });
    const conn = await amqp.connect(AMQP);
    const ch = await conn.createChannel();
    try {
      await pipeline.start();
      const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${pipeline.mqttPort()}`, { clientId: `${prefix}-dev` });
      io.holdSyncs();
      let acked = false;
      const pub = client.publishAsync('factory/floor1/dev-h/telemetry', batchFor('dev-h', 1, 0), { qos: 1 }).then(() => {
        acked = true;
      });
      // Forwarding overlaps the commit: both of the batch's messages reach RabbitMQ while its sync is held...
      await waitFor(async () => (await ch.checkQueue(`${prefix}.factory`)).messageCount === 2, { what: 'the batch in RabbitMQ before its fsync' });
      // ...and for as long as the fsync is held, no PUBACK: poll a while, it must stay false.
      const until = Date.now() + 500;
      while (Date.now() < until) {
        expect(acked).toBe(false);
        await new Promise((r) => setTimeout(r, 25));
      }
      io.releaseSyncs();
      await waitFor(() => acked, { what: 'PUBACK after the fsync' });
      await pub;
      await client.endAsync();
    } finally {
      await pipeline.stop();
      await deleteTopology(ch, prefix);
      await conn.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

/** The bridge as a child process, so it can be killed -9. */
class BridgeProcess {
  child!: ChildProcess;
  port = 0;
  constructor(private readonly configFile: string) {}

  async start(): Promise<void> {
    this.child = spawn(process.execPath, ['bridge/bin/edge-bridge.js', 'start', '-c', this.configFile], { stdio: ['ignore', 'pipe', 'inherit'] });
    const lines = createInterface({ input: this.child.stdout! });
    this.port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('bridge did not become ready')), 60_000);
      lines.on('line', (line) => {
        try {
          const j = JSON.parse(line);
          if (j.msg === 'bridge ready') {
            clearTimeout(timer);
            resolve(j.mqttPort);
          }
        } catch {
          // not a log line
        }
      });
      this.child.once('exit', (code) => reject(new Error(`bridge exited early with ${code}`)));
    });
  }

  async stop(signal: NodeJS.Signals): Promise<number | null> {
    if (this.child.exitCode !== null) return this.child.exitCode;
    const exited = new Promise<number | null>((r) => this.child.once('exit', (code) => r(code)));
    this.child.kill(signal);
    return exited;
  }
}

describe('bridge process killed mid-stream', () => {
  const prefix = uniquePrefix('kill');
  const dir = mkdtempSync(join(tmpdir(), 'edge-kill-'));
  const configFile = join(dir, 'config.json');
  let conn: ChannelModel;
  let ch: Channel;

  beforeAll(async () => {
    writeFileSync(configFile, JSON.stringify(bridgeConfig(prefix, dir)));
    conn = await amqp.connect(AMQP);
    ch = await conn.createChannel();
  });

  afterAll(async () => {
    await deleteTopology(ch, prefix);
    await conn?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  for (const signal of ['SIGKILL', 'SIGTERM'] as const) {
    it(`loses no acknowledged reading when the bridge gets ${signal} under load`, async () => {
      const device = `dev-${signal.toLowerCase()}`;
      const acked = new Set<number>();
      const bridge = new BridgeProcess(configFile);
      await bridge.start();
      // Keep publishing until the bridge dies; record what it PUBACKed.
      const N = 3000;
      // Publishes still in flight when the bridge dies never settle; only the PUBACKed ones count.
      void publishBatches(bridge.port, device, 1, 0, N, acked).catch(() => {});
      await waitFor(() => acked.size >= 300, { timeoutMs: 30_000, what: 'some acked batches' });
      const code = await bridge.stop(signal);
      if (signal === 'SIGTERM') expect(code).toBe(0);
      expect(acked.size).toBeGreaterThan(0);
      // Restart on the same store: the backlog drains.
      const again = new BridgeProcess(configFile);
      await again.start();
      const received: Received[] = [];
      const tag = await drainQueue(ch, `${prefix}.factory`, received);
      const have = () => new Set(received.filter((r) => r.headers['x-device'] === device).map((r) => r.id));
      await waitFor(
        () => {
          const ids = have();
          for (const s of acked) if (!ids.has(`${device}:1:${s}:0`) || !ids.has(`${device}:1:${s}:1`)) return false;
          return true;
        },
        { timeoutMs: 60_000, what: `all ${acked.size} acknowledged batches in RabbitMQ` },
      );
      await ch.cancel(tag);
      await again.stop('SIGTERM');
      // Duplicates may exist (at least once), but always with the same id.
      const ids = have();
      for (const id of ids) expect(id).toMatch(new RegExp(`^${device}:1:\\d+:[01]$`));
    });
  }
});

describe('bridge as a client of an external broker (private Mosquitto)', () => {
  it('delivers every batch published to Mosquitto, with a persistent session', async () => {
    const prefix = uniquePrefix('ext');
    const dir = mkdtempSync(join(tmpdir(), 'edge-ext-'));
    const mosq = await startPrivateMosquitto();
    const conn = await amqp.connect(AMQP);
    const ch = await conn.createChannel();
    const file = join(dir, 'config.json');
    writeFileSync(
      file,
      JSON.stringify(
        bridgeConfig(prefix, dir, {
          mqtt: { mode: 'external', external: { url: mosq.url, clientId: `${prefix}-bridge`, topics: ['factory/+/+/telemetry'] } },
        }),
      ),
    );
    const pipeline = composeBridge(loadConfig({ file, env: {} }), pino({ level: 'silent' }));
    try {
      await pipeline.start();
      const received: Received[] = [];
      const tag = await drainQueue(ch, `${prefix}.factory`, received);
      const acked = new Set<number>();
      await publishBatches(mosq.port, 'dev-ext', 4, 0, 200, acked);
      expect(acked.size).toBe(200);
      await waitFor(() => received.length >= 400, { timeoutMs: 30_000, what: '400 messages' });
      await ch.cancel(tag);
      expect(received.length).toBe(400);
      expect(new Set(received.map((r) => r.id)).size).toBe(400);
      expect(existsSync(join(dir, 'store'))).toBe(true);
    } finally {
      await pipeline.stop();
      await deleteTopology(ch, prefix);
      await conn.close();
      await mosq.dispose();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('loses nothing Mosquitto acknowledged when the pipelining bridge gets SIGKILL mid-stream', async () => {
    const prefix = uniquePrefix('extkill');
    const dir = mkdtempSync(join(tmpdir(), 'edge-extkill-'));
    const mosq = await startPrivateMosquitto();
    const conn = await amqp.connect(AMQP);
    const ch = await conn.createChannel();
    const file = join(dir, 'config.json');
    writeFileSync(
      file,
      JSON.stringify(
        bridgeConfig(prefix, dir, {
          mqtt: { mode: 'external', external: { url: mosq.url, clientId: `${prefix}-bridge`, topics: ['factory/+/+/telemetry'] } },
        }),
      ),
    );
    const received: Received[] = [];
    let bridge = new BridgeProcess(file);
    let tag = '';
    try {
      await bridge.start(); // declares the topology
      tag = await drainQueue(ch, `${prefix}.factory`, received);
      const N = 2000;
      const acked = new Set<number>();
      const publishing = publishBatches(mosq.port, 'dev-extkill', 1, 0, N, acked);
      await waitFor(() => received.length >= 400, { timeoutMs: 30_000, what: 'the bridge forwarding' });
      await bridge.stop('SIGKILL');
      await publishing;
      // Mosquitto acknowledged every batch to the device; it keeps what the bridge had not acknowledged.
      expect(acked.size).toBe(N);
      bridge = new BridgeProcess(file);
      await bridge.start();
      const ids = () => new Set(received.map((r) => r.id));
      await waitFor(() => [...acked].every((s) => ids().has(`dev-extkill:1:${s}:0`) && ids().has(`dev-extkill:1:${s}:1`)), { timeoutMs: 60_000, what: 'every acknowledged batch in RabbitMQ' });
    } finally {
      await bridge.stop('SIGTERM');
      await ch.cancel(tag).catch(() => undefined);
      await deleteTopology(ch, prefix);
      await conn.close();
      await mosq.dispose();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('reports what the external broker dropped: seq gaps as upstream drops, and its own $SYS counter', async () => {
    const prefix = uniquePrefix('extdrop');
    const dir = mkdtempSync(join(tmpdir(), 'edge-extdrop-'));
    // Mosquitto's default-like queue limit, small: a persistent subscriber that is away loses the excess.
    const mosq = await startPrivateMosquitto({ maxQueuedMessages: 10, sysIntervalSec: 1 });
    const conn = await amqp.connect(AMQP);
    const ch = await conn.createChannel();
    const file = join(dir, 'config.json');
    writeFileSync(file, JSON.stringify(bridgeConfig(prefix, dir, { mqtt: { mode: 'external', external: { url: mosq.url, clientId: `${prefix}-bridge`, topics: ['factory/+/+/telemetry'] } } })));
    let bridge = composeBridge(loadConfig({ file, env: {} }), pino({ level: 'silent' }));
    try {
      await bridge.start();
      const acked = new Set<number>();
      await publishBatches(mosq.port, 'dev-drop', 1, 0, 1, acked);
      await waitFor(async () => (await metric(bridge.health, 'edge_batches_accepted_total')) === 1, { what: 'the first batch' });
      await bridge.stop(); // the session stays on the broker, which queues at most 10 for it
      await publishBatches(mosq.port, 'dev-drop', 1, 1, 40, acked);
      expect(acked.size).toBe(40); // every batch acknowledged to the device
      bridge = composeBridge(loadConfig({ file, env: {} }), pino({ level: 'silent' }));
      await bridge.start();
      await publishBatches(mosq.port, 'dev-drop', 1, 40, 41, acked);
      await waitFor(async () => (await metric(bridge.health, 'edge_upstream_seq_gaps_total')) > 0, { timeoutMs: 15_000, what: 'the gap reported' });
      const gaps = await metric(bridge.health, 'edge_upstream_seq_gaps_total');
      const accepted = await metric(bridge.health, 'edge_batches_accepted_total');
      // What arrived plus what is missing is everything the device sent after the first batch.
      expect(accepted + gaps).toBe(40);
      await waitFor(async () => (await metric(bridge.health, 'edge_external_broker_dropped')) > 0, { timeoutMs: 15_000, what: "Mosquitto's $SYS dropped count" });
    } finally {
      await bridge.stop();
      await deleteTopology(ch, prefix);
      await conn.close();
      await mosq.dispose();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
