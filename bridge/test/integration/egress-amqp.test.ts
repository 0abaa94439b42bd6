// ConfirmPool against the shared RabbitMQ. Every name is run-unique and deleted afterwards.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { connect, type Channel, type ChannelModel, type ConsumeMessage, type GetMessage } from 'amqplib';
import { ConfirmPool, deleteTopology, LinkLostError, type ConfirmPoolOptions, type PublishOutcome, type Topology } from '../../src/egress/amqp/index.ts';
import type { OutboundMessage } from '../../src/types.ts';
import { uniquePrefix, waitFor } from '../../../shared/testkit/unique.ts';
import { freePort } from '../../../shared/testkit/ports.ts';
import { startTcpProxy, type TcpProxy } from '../../../shared/testkit/tcp-proxy.ts';

const BROKER = 'amqp://guest:guest@127.0.0.1:5672';
const run = promisify(execFile);

function topologyFor(p: string, withAlternate = true): Topology {
  return {
    exchange: { name: `${p}.tele`, type: 'topic', durable: true },
    ...(withAlternate ? { alternate: { exchange: `${p}.ae`, queue: `${p}.unrouted` } } : {}),
    deadLetter: { exchange: `${p}.dlx`, queue: `${p}.dead` },
    queues: [{ name: `${p}.q`, bindings: ['tele.#'], deadLetter: true }],
  };
}

function message(p: string, i: number, routingKey = `tele.dev${i % 5}.temp`): OutboundMessage {
  return {
    routingKey,
    messageId: `${p}-${i}`,
    device: `dev${i % 5}`,
    contentType: 'application/msgpack',
    headers: { 'x-device': `dev${i % 5}`, 'x-boot': 3, 'x-seq': i, 'x-fw': '1.2.0', 'x-topic': `sensors/dev${i % 5}/batch` },
    body: Buffer.from(`body-${i}`),
    acceptedAt: 1_700_000_000_123 + i,
  };
}

function shortstr(s: string): Buffer {
  const b = Buffer.from(s, 'utf8');
  return Buffer.concat([Buffer.from([b.length]), b]);
}

/** One AMQP 0-9-1 method frame on channel 0 (e.g. connection.blocked = class 10, method 60). */
function amqpMethodFrame(classId: number, methodId: number, args: Buffer): Buffer {
  const payload = Buffer.alloc(4 + args.length);
  payload.writeUInt16BE(classId, 0);
  payload.writeUInt16BE(methodId, 2);
  args.copy(payload, 4);
  const header = Buffer.alloc(7);
  header.writeUInt8(1, 0); // method frame
  header.writeUInt16BE(0, 1);
  header.writeUInt32BE(payload.length, 3);
  return Buffer.concat([header, payload, Buffer.from([0xce])]);
}

/** Settles with 'timeout' if the promise is still pending at the deadline: a hang is a test failure, not a stuck run. */
async function within<T>(p: Promise<T>, ms: number): Promise<T | 'timeout'> {
  let t: NodeJS.Timeout | undefined;
  const r = await Promise.race([p, new Promise<'timeout'>((res) => (t = setTimeout(() => res('timeout'), ms)))]);
  clearTimeout(t);
  return r;
}

// Cleanup registry: whatever a test opens is closed here even when it fails midway.
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!().catch(() => {});
});

async function admin(): Promise<{ conn: ChannelModel; ch: Channel; fresh: () => Promise<Channel> }> {
  const conn = await connect(BROKER);
  conn.on('error', () => {});
  const fresh = async () => {
    const c = await conn.createChannel();
    c.on('error', () => {});
    return c;
  };
  const ch = await fresh();
  cleanups.push(() => conn.close());
  return { conn, ch, fresh };
}

function newPool(o: Partial<ConfirmPoolOptions> & Pick<ConfirmPoolOptions, 'urls' | 'topology'>): ConfirmPool {
  const pool = new ConfirmPool({
    connections: 1,
    channelsPerConnection: 1,
    windowPerChannel: 100,
    heartbeatSec: 5,
    exchange: o.topology.exchange.name,
    reconnect: { initialMs: 100, maxMs: 1_000 },
    connectTimeoutMs: 3_000,
    ...o,
  });
  cleanups.push(() => pool.close(1_000));
  return pool;
}

async function withTopology(t: Topology): Promise<void> {
  cleanups.push(async () => {
    const { fresh } = await admin();
    await deleteTopology(await fresh(), t);
  });
}

/** Every channel the shared broker has open, by Erlang pid (integration files run one at a time). */
async function brokerChannelPids(): Promise<Set<string>> {
  const { stdout } = await run('rabbitmqctl', ['list_channels', 'pid', '--formatter', 'json', '-q']);
  return new Set((JSON.parse(stdout) as Array<{ pid: string }>).map((c) => c.pid));
}

async function drain(ch: Channel, queue: string, n: number): Promise<ConsumeMessage[]> {
  const got: ConsumeMessage[] = [];
  await ch.consume(queue, (m) => m && got.push(m), { noAck: true });
  await waitFor(() => got.length >= n, { timeoutMs: 15_000, what: `${n} messages on ${queue}` });
  return got;
}

describe('ConfirmPool', () => {
  it('publishes 2000 concurrently through 2x2 channels; all confirmed and delivered with the right properties', async () => {
    const p = uniquePrefix('egress');
    const topology = topologyFor(p);
    await withTopology(topology);
    const pool = newPool({ urls: [BROKER], topology, connections: 2, channelsPerConnection: 2, windowPerChannel: 200 });
    await pool.start();
    await waitFor(() => pool.ready && pool.state().connections.every((c) => c.state === 'open' && c.channels === 2), { what: 'pool open' });

    // Sample in-flight from outside too, not only the pool's own high-water mark.
    let sampledMax = 0;
    const sampler = setInterval(() => {
      const n = pool.state().connections.reduce((a, c) => a + c.inFlight, 0);
      sampledMax = Math.max(sampledMax, n);
    }, 1);
    const N = 2000;
    const results = await Promise.all(Array.from({ length: N }, (_, i) => pool.publish(message(p, i))));
    clearInterval(sampler);

    expect(results.filter((r) => r.kind === 'confirmed')).toHaveLength(N);
    const s = pool.state();
    expect(s.counters).toMatchObject({ published: N, confirmed: N, nacked: 0, returned: 0, failed: 0 });
    expect(s.counters.maxInFlight).toBeGreaterThan(1);
    expect(s.counters.maxInFlight).toBeLessThanOrEqual(2 * 2 * 200);
    expect(sampledMax).toBeGreaterThan(1);

    const { ch } = await admin();
    // A persistent message confirmed into a durable queue is enqueued: the count is exact.
    expect((await ch.checkQueue(`${p}.q`)).messageCount).toBe(N);
    const got = await drain(ch, `${p}.q`, N);
    expect(got).toHaveLength(N);
    const byId = new Map(got.map((m) => [m.properties.messageId as string, m]));
    expect(byId.size).toBe(N);
    for (let i = 0; i < N; i++) {
      const m = byId.get(`${p}-${i}`);
      const want = message(p, i);
      expect(m, `message ${i}`).toBeDefined();
      expect(m!.fields.routingKey).toBe(want.routingKey);
      expect(m!.fields.exchange).toBe(topology.exchange.name);
      expect(m!.properties.deliveryMode).toBe(2);
      expect(m!.properties.contentType).toBe('application/msgpack');
      expect(m!.properties.timestamp).toBe(Math.floor(want.acceptedAt / 1000));
      expect(m!.properties.headers).toMatchObject(want.headers);
      expect(m!.content.equals(want.body)).toBe(true);
    }
    expect(pool.state().connections.every((c) => c.inFlight === 0)).toBe(true);
  });

  it('sends a routing key bound to no queue to the alternate exchange queue, confirmed', async () => {
    const p = uniquePrefix('egress-ae');
    const topology = topologyFor(p);
    await withTopology(topology);
    const pool = newPool({ urls: [BROKER], topology });
    await pool.start();
    await waitFor(() => pool.ready, { what: 'pool ready' });

    const r = await pool.publish(message(p, 1, 'nobody.listens.here'));
    expect(r).toEqual({ kind: 'confirmed' });
    const { ch } = await admin();
    const m = (await waitFor(() => ch.get(`${p}.unrouted`, { noAck: true }), { what: 'message in AE queue' })) as GetMessage;
    expect(m.properties.messageId).toBe(`${p}-1`);
    expect(m.fields.routingKey).toBe('nobody.listens.here');
    expect((await ch.checkQueue(`${p}.q`)).messageCount).toBe(0);
  });

  it('without an alternate exchange, mandatory + no route resolves returned, matched by message id', async () => {
    const p = uniquePrefix('egress-ret');
    const topology = topologyFor(p, false);
    await withTopology(topology);
    const pool = newPool({ urls: [BROKER], topology, channelsPerConnection: 2, windowPerChannel: 50 });
    await pool.start();
    await waitFor(() => pool.ready, { what: 'pool ready' });

    // Interleave routable and unroutable so a return could be pinned on the wrong confirm if matching were by order.
    const N = 300;
    const results = await Promise.all(
      Array.from({ length: N }, (_, i) => pool.publish(message(p, i, i % 3 === 0 ? `lost.${i}` : `tele.dev.${i}`))),
    );
    results.forEach((r, i) => {
      if (i % 3 === 0) expect(r, `message ${i}`).toEqual({ kind: 'returned', replyCode: 312, replyText: 'NO_ROUTE' });
      else expect(r, `message ${i}`).toEqual({ kind: 'confirmed' });
    });
    expect(pool.state().counters).toMatchObject({ returned: N / 3, confirmed: N - N / 3 });
    const { ch } = await admin();
    expect((await ch.checkQueue(`${p}.q`)).messageCount).toBe(N - N / 3);
  });

  it('recovers from a connection reset: in-flight fail (never hang), topology re-declared, later publishes succeed', async () => {
    const p = uniquePrefix('egress-reset');
    const topology = topologyFor(p);
    await withTopology(topology);
    const proxy = await startTcpProxy({ targetPort: 5672 });
    cleanups.push(() => proxy.close());
    const pool = newPool({
      urls: [`amqp://guest:guest@127.0.0.1:${proxy.port}`],
      topology,
      channelsPerConnection: 2,
      windowPerChannel: 100,
    });
    const events: string[] = [];
    for (const e of ['connected', 'disconnected', 'reconnect']) pool.on(e, () => events.push(e));
    await pool.start();
    await waitFor(() => pool.ready, { what: 'pool ready' });

    const N = 5000;
    const all = Array.from({ length: N }, (_, i) => pool.publish(message(p, i)));
    await waitFor(() => pool.state().counters.confirmed > 300, { what: 'some confirms' });
    // Keep the pool away from the broker while we delete its exchange behind its back.
    const closedPort = await freePort();
    proxy.setTarget(closedPort);
    proxy.reset();
    await waitFor(() => !pool.ready && pool.state().connections[0]!.inFlight === 0, { what: 'in-flight failed after reset' });
    const failedAtReset = pool.state().counters.failed;
    expect(failedAtReset).toBeGreaterThan(0);
    expect(events).toContain('disconnected');

    const { ch, fresh } = await admin();
    await ch.deleteExchange(topology.exchange.name);
    const probe = await fresh();
    await expect(probe.checkExchange(topology.exchange.name)).rejects.toThrow(/404|NOT_FOUND/);
    await ch.purgeQueue(`${p}.q`);

    proxy.setTarget(5672);
    const settled = await within(Promise.all(all), 30_000);
    expect(settled, 'publish promises still pending').not.toBe('timeout');
    const results = settled as PublishOutcome[];
    const failed = results.filter((r): r is Extract<PublishOutcome, { kind: 'failed' }> => r.kind === 'failed');
    expect(failed.length).toBe(failedAtReset);
    for (const f of failed) expect(f.error).toBeInstanceOf(LinkLostError);
    expect(results.filter((r) => r.kind === 'confirmed').length).toBe(N - failed.length);
    expect(pool.state().counters.reconnects).toBeGreaterThan(0);

    // The exchange is back (declared on reconnect) and routes to the queue again.
    await (await fresh()).checkExchange(topology.exchange.name);
    const later = await Promise.all(Array.from({ length: 10 }, (_, i) => pool.publish(message(p, N + i))));
    expect(later.every((r) => r.kind === 'confirmed')).toBe(true);
    await waitFor(async () => (await ch.checkQueue(`${p}.q`)).messageCount >= 10, { what: 'queue refilled' });
  });

  it('re-declares and reopens a channel the broker closed (exchange deleted under a live connection)', async () => {
    const p = uniquePrefix('egress-404');
    const topology = topologyFor(p);
    await withTopology(topology);
    const pool = newPool({ urls: [BROKER], topology, reconnect: { initialMs: 100, maxMs: 1_000 } });
    let connects = 0;
    pool.on('connected', () => connects++);
    await pool.start();
    await waitFor(() => pool.ready, { what: 'pool ready' });
    expect(await pool.publish(message(p, 0))).toEqual({ kind: 'confirmed' });

    const { ch, fresh } = await admin();
    await ch.deleteExchange(topology.exchange.name);
    // Publishing to the missing exchange makes the broker close the channel (404): that one fails.
    const r = await within(pool.publish(message(p, 1)), 5_000);
    expect(r).toMatchObject({ kind: 'failed' });
    expect((r as { error: Error }).error).toBeInstanceOf(LinkLostError);

    // Same connection, a fresh channel, topology declared again.
    await waitFor(() => pool.ready, { what: 'channel reopened' });
    expect(await pool.publish(message(p, 2))).toEqual({ kind: 'confirmed' });
    await (await fresh()).checkExchange(topology.exchange.name);
    expect(connects).toBe(1);
    await waitFor(async () => (await ch.checkQueue(`${p}.q`)).messageCount === 2, { what: 'two messages queued' });
  });

  it('notices a blackholed link within ~3 heartbeats and fails over to the second url', async () => {
    const p = uniquePrefix('egress-hb');
    const topology = topologyFor(p);
    await withTopology(topology);
    const proxy = await startTcpProxy({ targetPort: 5672 });
    cleanups.push(() => proxy.close());
    const viaProxy = `amqp://guest:guest@127.0.0.1:${proxy.port}`;
    const pool = newPool({ urls: [viaProxy, BROKER], topology, heartbeatSec: 1 });
    const connected: string[] = [];
    let disconnectedAt = 0;
    pool.on('connected', (e: { url: string }) => connected.push(e.url));
    pool.on('disconnected', () => (disconnectedAt ||= Date.now()));
    await pool.start();
    await waitFor(() => pool.ready, { what: 'pool ready' });
    expect(connected).toEqual([`amqp://guest@127.0.0.1:${proxy.port}`]);
    expect(await pool.publish(message(p, 0))).toEqual({ kind: 'confirmed' });

    proxy.blackhole(true);
    const t0 = Date.now();
    const stuck = pool.publish(message(p, 1)); // written into the hole: must fail, not hang
    await waitFor(() => disconnectedAt, { timeoutMs: 8_000, what: 'heartbeat timeout' });
    const detectMs = disconnectedAt - t0;
    expect(detectMs).toBeLessThanOrEqual(4_500); // amqplib: 2-3 intervals of 1 s, plus timer slack on a loaded box
    const r = await within(stuck, 2_000);
    expect(r).toMatchObject({ kind: 'failed' });

    await waitFor(() => connected.length === 2 && pool.ready, { timeoutMs: 10_000, what: 'failover connect' });
    expect(connected[1]).toBe('amqp://guest@127.0.0.1:5672');
    expect(pool.state().connections[0]).toMatchObject({ url: 'amqp://guest@127.0.0.1:5672', state: 'open' });
    expect(await pool.publish(message(p, 2))).toEqual({ kind: 'confirmed' });
    console.log(`[egress] blackhole detected after ${detectMs} ms (heartbeat 1 s)`);
  });

  it('starts with the broker unreachable without throwing; publishes wait and complete once it is reachable', async () => {
    const p = uniquePrefix('egress-down');
    const topology = topologyFor(p);
    await withTopology(topology);
    const closedPort = await freePort();
    const proxy = await startTcpProxy({ targetPort: closedPort });
    cleanups.push(() => proxy.close());
    const pool = newPool({ urls: [`amqp://guest:guest@127.0.0.1:${proxy.port}`], topology, reconnect: { initialMs: 50, maxMs: 400 } });

    await expect(pool.start()).resolves.toBeUndefined();
    expect(pool.ready).toBe(false);
    let settled = 0;
    const all = Array.from({ length: 20 }, (_, i) => pool.publish(message(p, i)).finally(() => settled++));
    await waitFor(() => pool.state().counters.reconnects >= 3, { what: 'several reconnect attempts' });
    expect(settled).toBe(0);
    expect(pool.state()).toMatchObject({ ready: false, queued: 20 });
    expect(pool.state().connections[0]!.state).not.toBe('open');

    proxy.setTarget(5672);
    const results = await within(Promise.all(all), 15_000);
    expect(results).not.toBe('timeout');
    expect((results as PublishOutcome[]).every((r) => r.kind === 'confirmed')).toBe(true);
    const { ch } = await admin();
    expect((await ch.checkQueue(`${p}.q`)).messageCount).toBe(20);
  });

  it('pauses publishing while the broker says connection.blocked, resumes on unblocked', async () => {
    const p = uniquePrefix('egress-blk');
    const topology = topologyFor(p);
    await withTopology(topology);
    const proxy = await startTcpProxy({ targetPort: 5672 });
    cleanups.push(() => proxy.close());
    const pool = newPool({ urls: [`amqp://guest:guest@127.0.0.1:${proxy.port}`], topology });
    const events: string[] = [];
    pool.on('blocked', (e: { reason: string }) => events.push(`blocked:${e.reason}`));
    pool.on('unblocked', () => events.push('unblocked'));
    await pool.start();
    await waitFor(() => pool.ready, { what: 'pool ready' });

    // The shared broker must not be pushed into an alarm, so the proxy forges the frames it would send.
    proxy.injectToClient(amqpMethodFrame(10, 60, shortstr('low on memory (test)')));
    await waitFor(() => pool.blocked, { what: 'pool blocked' });
    expect(pool.state().connections[0]!.state).toBe('blocked');
    expect(events).toEqual(['blocked:low on memory (test)']);

    const before = pool.state().counters.published;
    const all = Array.from({ length: 5 }, (_, i) => pool.publish(message(p, i)));
    // Dispatch is synchronous inside publish(): had the pool written them, the counter would show it now.
    expect(pool.state()).toMatchObject({ queued: 5, blocked: true });
    expect(pool.state().counters.published).toBe(before);

    proxy.injectToClient(amqpMethodFrame(10, 61, Buffer.alloc(0)));
    const results = await within(Promise.all(all), 10_000);
    expect(results).not.toBe('timeout');
    expect((results as PublishOutcome[]).every((r) => r.kind === 'confirmed')).toBe(true);
    expect(pool.blocked).toBe(false);
    expect(pool.state().connections[0]!.state).toBe('open');
    expect(events).toEqual(['blocked:low on memory (test)', 'unblocked']);
  });

  it('replaces a channel on which the broker nacks every publish, and goes on publishing on the new one', async () => {
    const p = uniquePrefix('egress-nack');
    const topology = topologyFor(p);
    await withTopology(topology);
    const { ch } = await admin();
    // A queue that takes nothing and refuses what it cannot take: RabbitMQ nacks every publish routed to it.
    await ch.assertQueue(`${p}.full`, { durable: false, arguments: { 'x-max-length': 0, 'x-overflow': 'reject-publish' } });
    cleanups.push(() => ch.deleteQueue(`${p}.full`));
    const pool = newPool({ urls: [BROKER], topology, windowPerChannel: 50 });
    await pool.start();
    await waitFor(() => pool.ready, { what: 'pool ready' });
    await ch.bindQueue(`${p}.full`, topology.exchange.name, 'full.#');
    expect(await pool.publish(message(p, 0))).toEqual({ kind: 'confirmed' });
    const channelsBefore = await brokerChannelPids();

    const refused = await within(Promise.all(Array.from({ length: 300 }, (_, i) => pool.publish(message(p, 1 + i, 'full.dev0.temp')))), 30_000);
    expect(refused).not.toBe('timeout');
    const kinds = new Set((refused as PublishOutcome[]).map((r) => r.kind));
    // Nacked by the broker, or failed with the channel it nacked on when that was closed.
    expect([...kinds].every((k) => k === 'nacked' || k === 'failed')).toBe(true);
    expect((refused as PublishOutcome[]).filter((r) => r.kind === 'nacked').length).toBeGreaterThanOrEqual(200);

    // The broker's own list: the pool's channel is gone and another one took its place.
    await waitFor(async () => {
      const now = await brokerChannelPids();
      return [...channelsBefore].some((pid) => !now.has(pid)) && [...now].some((pid) => !channelsBefore.has(pid));
    }, { timeoutMs: 20_000, intervalMs: 1_000, what: 'the nacking channel replaced by a new one' });
    await waitFor(() => pool.ready, { what: 'pool ready again' });
    expect(await pool.publish(message(p, 400))).toEqual({ kind: 'confirmed' });
    await waitFor(async () => (await ch.checkQueue(`${p}.q`)).messageCount === 2, { what: 'both good messages queued' });
  });

  it('refuses publishes after close() and waits for in-flight confirms first', async () => {
    const p = uniquePrefix('egress-close');
    const topology = topologyFor(p);
    await withTopology(topology);
    const pool = newPool({ urls: [BROKER], topology, windowPerChannel: 500 });
    await pool.start();
    await waitFor(() => pool.ready, { what: 'pool ready' });
    const inflight = Array.from({ length: 200 }, (_, i) => pool.publish(message(p, i)));
    await pool.close(5_000);
    const results = await within(Promise.all(inflight), 1_000);
    expect(results).not.toBe('timeout');
    expect((results as PublishOutcome[]).every((r) => r.kind === 'confirmed')).toBe(true);
    const after = await pool.publish(message(p, 999));
    expect(after.kind).toBe('failed');
    expect(pool.state().connections[0]!.state).toBe('closed');
  });
});
