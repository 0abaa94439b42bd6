// A poison record: a batch the bridge accepted but RabbitMQ can never take, because it is
// over the node's max_message_size. RabbitMQ 3.10 answers such a publish by closing the
// whole channel with 406, failing every publish in flight on it. The bridge must park the
// culprit (kept in the quarantine with its reason) and deliver every batch around it.
// Oracles: what the device saw PUBACKed, what the private node's queue holds, and the
// quarantine file on disk.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import amqp from 'amqplib';
import mqtt from 'mqtt';
import { pino } from 'pino';
import { encodeBatch, MAX_PAYLOAD_BYTES } from '../../src/codec/index.ts';
import { loadConfig } from '../../src/config/index.ts';
import { composeBridge, type Bridge } from '../../src/compose.ts';
import { startPrivateRabbit, type PrivateRabbit } from '../../../shared/testkit/rabbit-node.ts';
import { uniquePrefix, uniqueTopology, waitFor } from '../../../shared/testkit/unique.ts';

const MAX_MESSAGE_SIZE = 2048;

describe('poison records are parked, the rest delivered', () => {
  const prefix = uniquePrefix('poison');
  const dir = mkdtempSync(join(tmpdir(), 'edge-poison-'));
  const device = `${prefix}-dev`;
  let rabbit: PrivateRabbit;
  let bridge: Bridge;

  beforeAll(async () => {
    rabbit = await startPrivateRabbit({ label: 'poison', config: `max_message_size = ${MAX_MESSAGE_SIZE}` });
    const file = join(dir, 'config.json');
    writeFileSync(
      file,
      JSON.stringify({
        mqtt: { mode: 'embedded', embedded: { host: '127.0.0.1', port: 0 } },
        // One channel, so the poison shares it with the batches around it.
        amqp: { urls: [rabbit.amqpUrl], connections: 1, channelsPerConnection: 1, windowPerChannel: 64, reconnect: { initialMs: 100, maxMs: 500 }, topology: uniqueTopology(prefix) },
        store: { dir: join(dir, 'store') },
        quarantine: { dir: join(dir, 'quarantine') },
        queueHealth: { enabled: false },
      }),
    );
    bridge = composeBridge(loadConfig({ file, env: {} }), pino({ level: process.env.POISON_LOG ?? 'silent' }));
    await bridge.start();
  }, 180_000);

  afterAll(async () => {
    await bridge?.stop();
    await rabbit?.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  const batch = (seq: number, readings: number) =>
    encodeBatch({
      v: 1,
      device,
      boot: 1,
      seq,
      fw: '1.0.0',
      ts: Date.UTC(2026, 11, 7),
      unsynced: false,
      readings: Array.from({ length: readings }, (_, i) => ({ sensor: 'temperature', offset: i * 10, value: 20 + i / 8 })),
    });

  it('the batch over max_message_size is quarantined as unpublishable; every batch before and behind it reaches RabbitMQ', async () => {
    const POISON_SEQ = 30;
    const seqs = Array.from({ length: 60 }, (_, i) => i + 1);
    const bodies = new Map(seqs.map((s) => [s, batch(s, s === POISON_SEQ ? 120 : 3)]));
    // Over the broker's limit, under the bridge's own (MAX_PAYLOAD_BYTES): accepted, then refused upstream.
    expect(bodies.get(POISON_SEQ)!.length).toBeGreaterThan(MAX_MESSAGE_SIZE);
    expect(bodies.get(POISON_SEQ)!.length).toBeLessThanOrEqual(MAX_PAYLOAD_BYTES);
    expect(Math.max(...seqs.filter((s) => s !== POISON_SEQ).map((s) => bodies.get(s)!.length))).toBeLessThan(MAX_MESSAGE_SIZE / 4);

    const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${bridge.mqttPort()}`, { clientId: device, reconnectPeriod: 0 });
    const acked: number[] = [];
    // All in flight at once: the poison goes out on the channel among the others.
    await Promise.all(seqs.map((s) => client.publishAsync(`factory/floor1/${device}/telemetry`, bodies.get(s)!, { qos: 1 }).then(() => acked.push(s))));
    await client.endAsync();
    expect(acked.sort((a, b) => a - b)).toEqual(seqs);

    const conn = await amqp.connect(rabbit.amqpUrl);
    try {
      const ch = await conn.createChannel();
      const queue = `${prefix}.all`;
      await waitFor(async () => (await ch.checkQueue(queue)).messageCount >= seqs.length - 1, { timeoutMs: 60_000, what: 'every batch but the poison in the queue' });
      const ids = new Set<string>();
      for (let m = await ch.get(queue, { noAck: true }); m; m = await ch.get(queue, { noAck: true })) ids.add(String(m.properties.messageId));
      const want = seqs.filter((s) => s !== POISON_SEQ).map((s) => `${device}:1:${s}`);
      expect([...ids].sort()).toEqual(want.sort());
    } finally {
      await conn.close().catch(() => {});
    }

    const quarantineFile = join(dir, 'quarantine', 'quarantine.jsonl');
    await waitFor(() => existsSync(quarantineFile) && readFileSync(quarantineFile, 'utf8').includes('unpublishable'), { what: 'the poison in the quarantine' });
    const entries = readFileSync(quarantineFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { reason: string; detail: string; payload?: string });
    const parked = entries.filter((e) => e.reason === 'unpublishable');
    expect(parked).toHaveLength(1);
    expect(parked[0]!.detail).toContain(`${device}:1:${POISON_SEQ}`);
    expect(parked[0]!.detail).toContain(`max_message_size ${MAX_MESSAGE_SIZE}`);
    // The store is empty: nothing waits behind the poison.
    const res = await bridge.health.metricsText();
    expect(res).toMatch(/^edge_store_records(\{[^}]*\})? 0$/m);
  }, 120_000);

  it('a later poison is parked without being sent: the broker closes no channel for it', async () => {
    const refusals = () =>
      readdirSync(join(rabbit.dir, 'log'))
        .map((f) => readFileSync(join(rabbit.dir, 'log', f), 'utf8'))
        .join('')
        .split('is larger than configured max size').length - 1;
    const before = refusals();
    expect(before).toBeGreaterThanOrEqual(1); // the first test's poison, in the broker's own log
    const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${bridge.mqttPort()}`, { clientId: device, reconnectPeriod: 0 });
    await client.publishAsync(`factory/floor1/${device}/telemetry`, batch(100, 120), { qos: 1 });
    await client.publishAsync(`factory/floor1/${device}/telemetry`, batch(101, 3), { qos: 1 });
    await client.endAsync();
    const quarantineFile = join(dir, 'quarantine', 'quarantine.jsonl');
    await waitFor(() => readFileSync(quarantineFile, 'utf8').includes(`${device}:1:100`), { what: 'the second poison in the quarantine' });
    const conn = await amqp.connect(rabbit.amqpUrl);
    try {
      const ch = await conn.createChannel();
      await waitFor(async () => (await ch.checkQueue(`${prefix}.all`)).messageCount === 1, { what: 'the batch behind it delivered' });
      expect((await ch.get(`${prefix}.all`, { noAck: true }) || undefined)?.properties.messageId).toBe(`${device}:1:101`);
    } finally {
      await conn.close().catch(() => {});
    }
    expect(refusals()).toBe(before);
  }, 60_000);
});
