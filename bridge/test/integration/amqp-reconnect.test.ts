// Downlink, the reference consumer and tail reconnect with the configured backoff (the
// bridge's amqp.reconnect), through the one AMQP session, and work again afterwards.
// The link to the shared RabbitMQ goes through a TCP proxy; the test cuts it and times
// the next connection the proxy accepts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import amqp, { type Channel, type ChannelModel } from 'amqplib';
import { pino } from 'pino';
import { Downlink, downlinkTopology } from '../../src/downlink/downlink.ts';
import { CommandStore } from '../../src/downlink/command-store.ts';
import { publishCommand } from '../../src/downlink/publish.ts';
import { TelemetryConsumer } from '../../src/consumer/consumer.ts';
import { startTail, type TailHandle } from '../../src/consumer/tail.ts';
import { declareTopology, deleteTopology } from '../../src/amqp/topology.ts';
import { encodeBatch } from '../../src/codec/index.ts';
import { startTcpProxy, type TcpProxy } from '../../../shared/testkit/tcp-proxy.ts';
import { uniquePrefix, waitFor } from '../../../shared/testkit/unique.ts';

const AMQP = 'amqp://guest:guest@127.0.0.1:5672';
// Equal jitter: the first retry waits between 800 and 1600 ms. The downlink's own fixed
// backoff it replaces retried after 200 ms.
const POLICY = { initialMs: 1600, maxMs: 1600 };
const silent = pino({ level: 'silent' });

/** Cuts every proxied connection and returns how long until the client connected again. */
async function cutAndTimeReconnect(proxy: TcpProxy): Promise<number> {
  await waitFor(() => proxy.connections() >= 1, { what: 'a connection through the proxy' });
  const before = proxy.acceptedAt().length;
  const cutAt = Date.now();
  proxy.reset();
  await waitFor(() => proxy.acceptedAt().length > before, { timeoutMs: 10_000, what: 'the client to reconnect' });
  return proxy.acceptedAt()[before]! - cutAt;
}

describe('AMQP clients reconnect with amqp.reconnect', () => {
  const prefix = uniquePrefix('reconnect');
  const dir = mkdtempSync(join(tmpdir(), 'edge-reconnect-'));
  let conn: ChannelModel;
  let ch: Channel;
  let proxy: TcpProxy;
  const viaProxy = () => `amqp://guest:guest@127.0.0.1:${proxy.port}`;

  beforeAll(async () => {
    conn = await amqp.connect(AMQP);
    ch = await conn.createChannel();
  });
  afterAll(async () => {
    await conn.close().catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  });

  const withProxy = async (fn: () => Promise<void>) => {
    proxy = await startTcpProxy({ targetPort: 5672 });
    try {
      await fn();
    } finally {
      await proxy.close();
    }
  };

  it('downlink: waits the policy\'s backoff, then consumes commands again', async () => {
    const exchange = `${prefix}.cmd`;
    const queue = `${prefix}.cmd.q`;
    const store = new CommandStore(join(dir, 'commands'));
    await withProxy(async () => {
      const downlink = new Downlink({ amqp: { urls: [viaProxy()], reconnect: POLICY }, exchange, queue, prefetch: 10, ttlMs: 60_000, retryMs: 5_000, store, transports: [], logger: silent });
      await downlink.start();
      try {
        const gap = await cutAndTimeReconnect(proxy);
        expect(gap).toBeGreaterThanOrEqual(750);
        expect(gap).toBeLessThan(1600 + 2_000);
        await publishCommand({ urls: [AMQP], exchange, device: 'dev-1', op: 'set_interval', arg: 500, id: 7 });
        await waitFor(() => store.forDevice('dev-1').length === 1, { what: 'the command stored after the reconnect' });
        expect((await ch.checkQueue(queue)).messageCount).toBe(0);
      } finally {
        await downlink.stop();
        await deleteTopology(ch, downlinkTopology(exchange, queue));
      }
    });
  });

  it('reference consumer: waits the policy\'s backoff, then handles messages again', async () => {
    const topology = { exchange: { name: `${prefix}.t`, type: 'topic' as const, durable: true as const }, deadLetter: { exchange: `${prefix}.dlx`, queue: `${prefix}.dlq` }, queues: [{ name: `${prefix}.q`, bindings: ['#'] }] };
    await declareTopology(ch, topology);
    const seen: string[] = [];
    await withProxy(async () => {
      const consumer = new TelemetryConsumer({ url: viaProxy(), queue: `${prefix}.q`, deadLetterExchange: topology.deadLetter.exchange, reconnect: POLICY, handler: (_b, info) => void seen.push(info.messageId ?? '') });
      await consumer.start();
      try {
        const gap = await cutAndTimeReconnect(proxy);
        expect(gap).toBeGreaterThanOrEqual(750);
        expect(gap).toBeLessThan(1600 + 2_000);
        const body = encodeBatch({ v: 1, device: 'dev-2', boot: 1, seq: 1, fw: '1.0.0', ts: 5000, unsynced: true, readings: [{ sensor: 'temperature', offset: 0, value: 21 }] });
        ch.publish(topology.exchange.name, 'x', body, { messageId: 'dev-2:1:1' });
        await waitFor(() => seen.includes('dev-2:1:1'), { what: 'the message handled after the reconnect' });
      } finally {
        await consumer.stop();
        await deleteTopology(ch, topology);
      }
    });
  });

  it('tail: waits the policy\'s backoff, says so, and prints readings from a new queue', async () => {
    const exchange = `${prefix}.tail`;
    await ch.assertExchange(exchange, 'topic', { durable: false, autoDelete: false });
    const out: string[] = [];
    const err: string[] = [];
    let tail: TailHandle | undefined;
    await withProxy(async () => {
      try {
        tail = await startTail({ urls: [viaProxy()], exchange, pattern: '#', json: true, reconnect: POLICY, out: (l) => out.push(l), err: (l) => err.push(l) });
        const firstQueue = tail.queue;
        const gap = await cutAndTimeReconnect(proxy);
        expect(gap).toBeGreaterThanOrEqual(750);
        expect(gap).toBeLessThan(1600 + 2_000);
        await waitFor(() => tail!.queue !== firstQueue, { what: 'tail on a new temporary queue' });
        const body = encodeBatch({ v: 1, device: 'dev-3', boot: 1, seq: 9, fw: '1.0.0', ts: 5000, unsynced: true, readings: [{ sensor: 'temperature', offset: 0, value: 22.5 }] });
        ch.publish(exchange, 'a.b', body, { messageId: 'dev-3:1:9' });
        await waitFor(() => out.length === 1, { what: 'a reading printed after the reconnect' });
        expect(JSON.parse(out[0]!)).toMatchObject({ device: 'dev-3', seq: 9, value: 22.5 });
        expect(err.some((l) => l.startsWith('connection lost'))).toBe(true);
        expect(err.some((l) => l.startsWith('resumed on temporary queue'))).toBe(true);
      } finally {
        await tail?.stop();
        await ch.deleteExchange(exchange);
      }
    });
  });
});
