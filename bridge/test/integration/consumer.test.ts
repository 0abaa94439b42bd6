// The reference consumer against the shared RabbitMQ (run-unique names): retries with a
// retry-count header, then the DLX with a reason; everything else exactly once; dedup of
// redelivered ids; graceful stop.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import amqp, { type ChannelModel, type ConfirmChannel, type GetMessage } from 'amqplib';
import { encodeBatch } from '../../src/codec/index.ts';
import { declareTopology, deleteTopology, type Topology } from '../../src/egress/amqp/index.ts';
import { TelemetryConsumer, DedupWindow, RETRY_COUNT_HEADER, DEAD_LETTER_REASON_HEADER } from '../../src/consumer/index.ts';
import type { Batch } from '../../src/types.ts';
import { uniquePrefix, waitFor } from '../../../shared/testkit/unique.ts';
import { startTcpProxy } from '../../../shared/testkit/tcp-proxy.ts';

const AMQP = 'amqp://guest:guest@127.0.0.1:5672';

let conn: ChannelModel;
let ch: ConfirmChannel;
const topologies: Topology[] = [];

function topology(prefix: string): Topology {
  const t: Topology = {
    exchange: { name: `${prefix}.tele`, type: 'topic', durable: true },
    deadLetter: { exchange: `${prefix}.dlx`, queue: `${prefix}.dlq` },
    queues: [{ name: `${prefix}.work`, bindings: ['factory.#'], deadLetter: true }],
  };
  topologies.push(t);
  return t;
}

function batch(device: string, seq: number): Batch {
  return { v: 1, device, boot: 7, seq, fw: '1.0.0', ts: 1_700_000_000_000 + seq, unsynced: false, readings: [{ sensor: 'temperature', offset: 0, value: 20 + seq }] };
}

/** Publishes the way the bridge does: persistent, message id device:boot:seq, x-* headers. */
async function publish(t: Topology, b: Batch): Promise<void> {
  ch.publish(t.exchange.name, 'factory.floor1.temperature', encodeBatch(b), {
    persistent: true,
    messageId: `${b.device}:${b.boot}:${b.seq}`,
    contentType: 'application/msgpack',
    headers: { 'x-device': b.device, 'x-boot': b.boot, 'x-seq': b.seq },
  });
}

async function drain(queue: string): Promise<GetMessage[]> {
  const out: GetMessage[] = [];
  for (let m = await ch.get(queue, { noAck: true }); m; m = await ch.get(queue, { noAck: true })) out.push(m);
  return out;
}

beforeAll(async () => {
  conn = await amqp.connect(AMQP);
  ch = await conn.createConfirmChannel();
});

afterAll(async () => {
  // A fresh channel: a failed test may have left `ch` closed by a channel error.
  const cleanup = await conn?.createChannel().catch(() => undefined);
  for (const t of topologies) if (cleanup) await deleteTopology(cleanup, t).catch(() => {});
  await conn?.close();
});

describe('TelemetryConsumer', () => {
  it('retries seq % 3 == 0 batches N times, then dead-letters them with the reason; all others exactly once', async () => {
    const t = topology(uniquePrefix('consumer'));
    await declareTopology(ch, t);
    const N = 2;
    const COUNT = 30;
    const attempts = new Map<number, number>();
    const retriesSeen = new Map<number, number[]>();
    const consumer = new TelemetryConsumer({
      url: AMQP,
      queue: t.queues[0]!.name,
      deadLetterExchange: t.deadLetter!.exchange,
      prefetch: 5,
      maxRetries: N,
      handler: (b, info) => {
        attempts.set(b.seq, (attempts.get(b.seq) ?? 0) + 1);
        retriesSeen.set(b.seq, [...(retriesSeen.get(b.seq) ?? []), info.retries]);
        expect(info.messageId).toBe(`dev-a:7:${b.seq}`);
        if (b.seq % 3 === 0) throw new Error(`seq ${b.seq} is a multiple of 3`);
      },
    });
    await consumer.start();
    for (let seq = 0; seq < COUNT; seq++) await publish(t, batch('dev-a', seq));
    await ch.waitForConfirms();

    const failing = Array.from({ length: COUNT }, (_, s) => s).filter((s) => s % 3 === 0);
    await waitFor(() => consumer.counts.deadLettered === failing.length && consumer.counts.processed === COUNT - failing.length, { timeoutMs: 20_000, what: 'all batches handled' });
    await consumer.stop();

    for (let seq = 0; seq < COUNT; seq++) {
      if (seq % 3 === 0) {
        expect(attempts.get(seq), `attempts for seq ${seq}`).toBe(N + 1);
        expect(retriesSeen.get(seq)).toEqual([0, 1, 2]);
      } else {
        expect(attempts.get(seq), `attempts for seq ${seq}`).toBe(1);
      }
    }
    expect(consumer.counts).toMatchObject({ retried: failing.length * N, duplicates: 0, undecodable: 0 });

    const dead = await waitFor(async () => {
      const q = await ch.checkQueue(t.deadLetter!.queue);
      return q.messageCount === failing.length ? drain(t.deadLetter!.queue) : undefined;
    }, { what: 'DLQ filled' });
    const deadSeqs = dead.map((m) => Number(m.properties.headers?.['x-seq'])).sort((a, b) => a - b);
    expect(deadSeqs).toEqual(failing);
    for (const m of dead) {
      const seq = Number(m.properties.headers?.['x-seq']);
      expect(m.properties.messageId).toBe(`dev-a:7:${seq}`);
      expect(m.properties.headers?.[RETRY_COUNT_HEADER]).toBe(N);
      expect(m.properties.headers?.[DEAD_LETTER_REASON_HEADER]).toBe(`handler failed after ${N} retries: Error: seq ${seq} is a multiple of 3`);
      expect(m.properties.headers?.['x-original-routing-key']).toBe('factory.floor1.temperature');
      expect(m.properties.deliveryMode).toBe(2);
    }
    // Nothing left behind: the work queue is empty and has no unacked messages.
    expect((await ch.checkQueue(t.queues[0]!.name)).messageCount).toBe(0);
  });

  it('processes a redelivered duplicate id once within the window', async () => {
    const t = topology(uniquePrefix('dedup'));
    await declareTopology(ch, t);
    const handled: string[] = [];
    const consumer = new TelemetryConsumer({
      url: AMQP,
      queue: t.queues[0]!.name,
      deadLetterExchange: t.deadLetter!.exchange,
      prefetch: 4,
      handler: (_b, info) => void handled.push(info.messageId!),
    });
    await consumer.start();
    // The bridge redelivers after a crash: the same ids again, some interleaved, some back to back.
    for (let seq = 0; seq < 10; seq++) await publish(t, batch('dev-b', seq));
    for (let seq = 0; seq < 10; seq++) await publish(t, batch('dev-b', seq));
    await publish(t, batch('dev-b', 3));
    await ch.waitForConfirms();
    await waitFor(() => consumer.counts.processed + consumer.counts.duplicates === 21, { what: '21 deliveries handled' });
    await consumer.stop();
    expect(handled.sort()).toEqual(Array.from({ length: 10 }, (_, s) => `dev-b:7:${s}`).sort());
    expect(consumer.counts).toMatchObject({ processed: 10, duplicates: 11, deadLettered: 0 });
  });

  it('a window of 2 ids forgets the oldest: an id outside it is processed again', async () => {
    const t = topology(uniquePrefix('window'));
    await declareTopology(ch, t);
    const handled: string[] = [];
    const consumer = new TelemetryConsumer({
      url: AMQP,
      queue: t.queues[0]!.name,
      deadLetterExchange: t.deadLetter!.exchange,
      prefetch: 1, // one at a time, in queue order, so the window's content is known at each step
      dedup: { maxIds: 2 },
      handler: (_b, info) => void handled.push(info.messageId!),
    });
    await consumer.start();
    for (const seq of [0, 1, 1, 2, 0]) await publish(t, batch('dev-c', seq));
    await ch.waitForConfirms();
    await waitFor(() => consumer.counts.processed + consumer.counts.duplicates === 5, { what: '5 deliveries handled' });
    await consumer.stop();
    // 1 again is in the window {0,1}; after 2 the window is {1,2}, so 0 is new again.
    expect(handled).toEqual(['dev-c:7:0', 'dev-c:7:1', 'dev-c:7:2', 'dev-c:7:0']);
    expect(consumer.counts.duplicates).toBe(1);
  });

  it('dead-letters an undecodable body at once, with the decoder error as the reason', async () => {
    const t = topology(uniquePrefix('garbage'));
    await declareTopology(ch, t);
    let calls = 0;
    const consumer = new TelemetryConsumer({ url: AMQP, queue: t.queues[0]!.name, deadLetterExchange: t.deadLetter!.exchange, handler: () => void calls++ });
    await consumer.start();
    ch.publish(t.exchange.name, 'factory.x', Buffer.from([0xc1, 0x00]), { persistent: true, messageId: 'junk:0:0' });
    await ch.waitForConfirms();
    const dead = await waitFor(async () => (await drain(t.deadLetter!.queue))[0], { what: 'garbage dead-lettered' });
    await consumer.stop();
    expect(calls).toBe(0);
    expect(String(dead.properties.headers?.[DEAD_LETTER_REASON_HEADER])).toMatch(/^undecodable: malformed: /);
    expect(consumer.counts).toMatchObject({ undecodable: 1, deadLettered: 1, processed: 0 });
  });

  it('stop() lets a running handler finish and ack; unstarted work stays in the queue', async () => {
    const t = topology(uniquePrefix('stop'));
    await declareTopology(ch, t);
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const started: number[] = [];
    const finished: number[] = [];
    const consumer = new TelemetryConsumer({
      url: AMQP,
      queue: t.queues[0]!.name,
      deadLetterExchange: t.deadLetter!.exchange,
      prefetch: 1,
      handler: async (b) => {
        started.push(b.seq);
        await gate;
        finished.push(b.seq);
      },
    });
    await consumer.start();
    for (let seq = 0; seq < 3; seq++) await publish(t, batch('dev-d', seq));
    await ch.waitForConfirms();
    await waitFor(() => started.length === 1, { what: 'first handler running' });
    const stopped = consumer.stop();
    release();
    await stopped;
    expect(finished).toEqual([0]);
    expect(consumer.counts.processed).toBe(1);
    // The other two were never delivered (prefetch 1) or were requeued on close.
    await waitFor(async () => (await ch.checkQueue(t.queues[0]!.name)).messageCount === 2, { what: '2 messages back in the queue' });
  });
});

describe('TelemetryConsumer across a lost connection', () => {
  it('reconnects; the batch whose ack was lost is redelivered and skipped as a duplicate; each batch handled once', async () => {
    const t = topology(uniquePrefix('reconnect'));
    await declareTopology(ch, t);
    const proxy = await startTcpProxy({ targetPort: 5672 });
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const handled: number[] = [];
    const consumer = new TelemetryConsumer({
      url: `amqp://guest:guest@127.0.0.1:${proxy.port}`,
      queue: t.queues[0]!.name,
      deadLetterExchange: t.deadLetter!.exchange,
      prefetch: 1,
      reconnect: { initialMs: 50, maxMs: 500 },
      handler: async (b) => {
        if (b.seq === 5) await gate;
        handled.push(b.seq);
      },
    });
    try {
      await consumer.start();
      for (let seq = 0; seq < 10; seq++) await publish(t, batch('dev-e', seq));
      await ch.waitForConfirms();
      await waitFor(() => handled.length === 5, { what: 'seq 0..4 handled, 5 in hand' });
      proxy.reset(); // the connection dies while seq 5 is being handled: its ack cannot arrive
      await waitFor(() => proxy.connections() === 1 && consumer.counts.duplicates === 0, { what: 'consumer reconnected' });
      release();
      await waitFor(() => consumer.counts.processed === 10, { timeoutMs: 20_000, what: 'all 10 processed' });
      await waitFor(() => consumer.counts.duplicates === 1, { what: 'redelivered seq 5 skipped' });
    } finally {
      release();
      await consumer.stop();
      await proxy.close();
    }
    expect(handled).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect((await ch.checkQueue(t.queues[0]!.name)).messageCount).toBe(0);
  });
});

describe('DedupWindow', () => {
  it('forgets ids older than windowMs', () => {
    let now = 0;
    const w = new DedupWindow({ windowMs: 1000, now: () => now });
    w.add('a');
    now = 500;
    w.add('b');
    expect(w.has('a')).toBe(true);
    now = 1000;
    expect(w.has('a')).toBe(false);
    expect(w.has('b')).toBe(true);
    now = 1500;
    expect(w.has('b')).toBe(false);
    expect(w.size).toBe(0);
  });
});
