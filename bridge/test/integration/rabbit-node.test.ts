import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type ChannelModel } from 'amqplib';
import { connectAsync } from 'mqtt';
import { rabbitmqctlAt, startPrivateRabbit, type PrivateRabbit } from '../../../shared/testkit/rabbit-node.ts';
import { uniquePrefix, waitFor } from '../../../shared/testkit/unique.ts';

// A private node takes ~6 s to boot on an idle 2-core box and much more under load.
const BOOT = 180_000;
const SHARED_URL = 'amqp://guest:guest@127.0.0.1:5672';
const SHARED_NODE = 'rabbit@localhost';

interface Listener {
  node?: string;
  port: number;
  protocol: string;
  interface?: string;
}

async function sharedListeners(): Promise<string[]> {
  const out = await rabbitmqctlAt(SHARED_NODE, ['status', '--formatter', 'json'], { timeoutMs: 60_000 });
  const status = JSON.parse(out) as { listeners: Listener[] };
  return status.listeners.map((l) => `${l.protocol}:${l.interface ?? ''}:${l.port}`).sort();
}

async function sharedAnswers(): Promise<void> {
  const conn = await connect(SHARED_URL);
  try {
    const ch = await conn.createChannel();
    const q = await ch.assertQueue('', { exclusive: true, autoDelete: true });
    expect(q.queue).toMatch(/^amq\.gen-/);
    await ch.close();
  } finally {
    await conn.close();
  }
}

async function withConn<T>(url: string, fn: (conn: ChannelModel) => Promise<T>): Promise<T> {
  const conn = await connect(url);
  conn.on('error', () => undefined);
  try {
    return await fn(conn);
  } finally {
    await conn.close().catch(() => undefined);
  }
}

async function drain(conn: ChannelModel, queue: string, count: number, persistent = true): Promise<string[]> {
  const ch = await conn.createChannel();
  const got: string[] = [];
  await ch.prefetch(100);
  const done = new Promise<void>((resolve) => {
    void ch.consume(queue, (msg) => {
      if (!msg) return;
      got.push(msg.content.toString());
      if (persistent) expect(msg.properties.deliveryMode).toBe(2);
      ch.ack(msg);
      if (got.length === count) resolve();
    });
  });
  await waitFor(() => Promise.race([done.then(() => true), new Promise<false>((r) => setTimeout(() => r(false), 200))]), {
    timeoutMs: 30_000,
    what: `${count} messages on ${queue} (have ${got.length})`,
  });
  await ch.close();
  return got;
}

async function publishConfirmed(conn: ChannelModel, queue: string, bodies: string[]): Promise<void> {
  const ch = await conn.createConfirmChannel();
  for (const b of bodies) ch.sendToQueue(queue, Buffer.from(b), { persistent: true, messageId: b });
  await ch.waitForConfirms();
  await ch.close();
}

describe('private RabbitMQ node beside the shared one', () => {
  const nodes: PrivateRabbit[] = [];
  let listenersBefore: string[] = [];

  beforeAll(async () => {
    listenersBefore = await sharedListeners();
  }, 60_000);

  afterAll(async () => {
    await Promise.allSettled(nodes.map((n) => n.dispose()));
  }, BOOT);

  it(
    'keeps a durable queue and its persistent messages across kill -9 and restart',
    async () => {
      const t0 = Date.now();
      const node = await startPrivateRabbit();
      nodes.push(node);
      const bootMs = Date.now() - t0;
      expect(node.amqpPort).not.toBe(5672);
      expect(node.nodeName).not.toBe(SHARED_NODE);
      expect(node.osPid).toBeGreaterThan(0);

      const queue = uniquePrefix('rn-q');
      const first = Array.from({ length: 5 }, (_, i) => `a-${i}`);
      const second = Array.from({ length: 50 }, (_, i) => `b-${i}`);

      await withConn(node.amqpUrl, async (conn) => {
        const ch = await conn.createChannel();
        await ch.assertQueue(queue, { durable: true });
        await ch.close();
        // RabbitMQ 3.10 keeps queue metadata in Mnesia, whose transaction log is
        // written lazily: a kill -9 right after a declare can forget the queue.
        // Sync it, so what this test checks is the message store across kill -9.
        await node.syncMetadata();
        await publishConfirmed(conn, queue, first);
        expect(await drain(conn, queue, first.length)).toEqual(first);
        await publishConfirmed(conn, queue, second);
      });

      const pidBefore = node.osPid!;
      await node.stop('kill');
      expect(node.osPid).toBeUndefined();
      expect(() => process.kill(pidBefore, 0)).toThrow();

      const t1 = Date.now();
      await node.start();
      const restartMs = Date.now() - t1;
      expect(node.osPid).not.toBe(pidBefore);

      await withConn(node.amqpUrl, async (conn) => {
        const ch = await conn.createChannel();
        ch.on('error', () => undefined);
        const q = await ch.checkQueue(queue).catch((err: unknown) => {
          throw new Error(`${String(err)}\n${node.logTail(60)}`);
        });
        expect(q.messageCount).toBe(second.length);
        await ch.close();
        expect(await drain(conn, queue, second.length)).toEqual(second);
      });

      // The node's own view: only its own AMQP listener, no shared port.
      const listeners = await node.rabbitmqctl(['status', '--formatter', 'json']);
      const ports = (JSON.parse(listeners) as { listeners: Listener[] }).listeners.map((l) => l.port);
      expect(ports).toContain(node.amqpPort);
      expect(ports).not.toContain(5672);
      expect(ports).not.toContain(25672);

      await node.stop('graceful');
      await expect(connect(node.amqpUrl)).rejects.toThrow();

      console.info(`private rabbit: boot ${bootMs} ms, restart after kill -9 ${restartMs} ms`);
    },
    3 * BOOT,
  );

  it(
    'runs two private nodes at once, with management and MQTT plugins on their own ports',
    async () => {
      const [mgmt, mq] = await Promise.all([
        startPrivateRabbit({ plugins: ['rabbitmq_management'] }),
        startPrivateRabbit({ plugins: ['rabbitmq_mqtt'] }),
      ]);
      nodes.push(mgmt, mq);
      expect(mgmt.nodeName).not.toBe(mq.nodeName);

      const auth = `Basic ${Buffer.from('guest:guest').toString('base64')}`;
      const res = await fetch(`${mgmt.managementUrl}/api/overview`, { headers: { authorization: auth } });
      expect(res.status).toBe(200);
      const overview = (await res.json()) as { node: string; listeners: Listener[] };
      expect(overview.node).toBe(mgmt.nodeName);
      const mgmtPorts = overview.listeners.map((l) => `${l.protocol}:${l.port}`);
      expect(mgmtPorts).toContain(`amqp:${mgmt.amqpPort}`);
      expect(mgmtPorts).toContain(`http:${mgmt.managementPort}`);
      expect(overview.listeners.every((l) => l.port !== 5672 && l.port !== 15672)).toBe(true);

      // MQTT -> amq.topic on the MQTT node ('/' becomes '.').
      const queue = uniquePrefix('rn-mqtt');
      const topic = `${uniquePrefix('edge')}/temp`;
      await withConn(mq.amqpUrl, async (conn) => {
        const ch = await conn.createChannel();
        await ch.assertQueue(queue, { durable: true });
        await ch.bindQueue(queue, 'amq.topic', topic.replace(/\//g, '.'));
        await ch.close();
        const client = await connectAsync(mq.mqttUrl!, { clientId: uniquePrefix('c'), username: 'guest', password: 'guest', reconnectPeriod: 0 });
        try {
          await client.publishAsync(topic, 'hello', { qos: 1 });
        } finally {
          await client.endAsync();
        }
        expect(await drain(conn, queue, 1, false)).toEqual(['hello']);
      });
    },
    3 * BOOT,
  );

  it('left the shared node answering on 5672 with its listeners unchanged', async () => {
    await sharedAnswers();
    expect(await sharedListeners()).toEqual(listenersBefore);
    expect(listenersBefore.some((l) => l.endsWith(':5672'))).toBe(true);
  }, 60_000);
});
