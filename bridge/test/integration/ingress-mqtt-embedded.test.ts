import { createServer, type Server } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { connectAsync, type MqttClient } from 'mqtt';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EmbeddedMqttIngress, type EmbeddedMqttOptions } from '../../src/ingress/mqtt-broker.ts';
import { addCredential, DeviceAccess } from '../../src/ingress/mqtt-auth.ts';
import type { IngestHandler, IngestOutcome, RawMessage } from '../../src/types.ts';
import { uniquePrefix, waitFor } from '../../../shared/testkit/unique.ts';
import { rawMqttClient } from '../helpers/raw-mqtt.ts';

const stored: IngestOutcome = { kind: 'stored' };

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
});

async function startIngress(handler: IngestHandler, options: Partial<EmbeddedMqttOptions> = {}): Promise<EmbeddedMqttIngress> {
  const ingress = new EmbeddedMqttIngress({ host: '127.0.0.1', port: 0, maxPayloadBytes: 4096, ...options });
  await ingress.start(handler);
  cleanups.push(() => ingress.stop());
  return ingress;
}

async function connectClient(port: number, clientId = uniquePrefix('c')): Promise<MqttClient> {
  const client = await connectAsync(`mqtt://127.0.0.1:${port}`, { clientId, reconnectPeriod: 100, connectTimeout: 5000 });
  cleanups.push(() => client.endAsync(true));
  return client;
}

describe('EmbeddedMqttIngress', () => {
  it('hands every QoS 1 message to the handler, in order per client, and PUBACKs each', async () => {
    const seen = new Map<string, string[]>();
    const ingress = await startIngress(async (msg) => {
      const list = seen.get(msg.source) ?? [];
      list.push(msg.payload.toString());
      seen.set(msg.source, list);
      expect(msg.transport).toBe('mqtt');
      return stored;
    });
    const prefix = uniquePrefix('fleet');
    const perClient = 300;
    const clients = await Promise.all([0, 1, 2].map(() => connectClient(ingress.port)));
    await Promise.all(
      clients.map((client, c) =>
        Promise.all(
          Array.from({ length: perClient }, (_, i) => client.publishAsync(`${prefix}/dev-${c}/telemetry`, String(i), { qos: 1 })),
        ),
      ),
    );
    // Every publish promise resolved, i.e. every PUBACK arrived.
    for (const client of clients) {
      const got = seen.get(client.options.clientId!);
      expect(got).toEqual(Array.from({ length: perClient }, (_, i) => String(i)));
    }
    expect(ingress.stats.received).toBe(3 * perClient);
  });

  it('withholds the PUBACK while the handler has not resolved', async () => {
    let release: (() => void) | undefined;
    let called = 0;
    const ingress = await startIngress(async () => {
      called++;
      await new Promise<void>((resolve) => (release = resolve));
      return stored;
    });
    const client = await connectClient(ingress.port);
    let acked = false;
    const publishing = client.publishAsync(`${uniquePrefix('held')}/dev/telemetry`, 'x', { qos: 1 }).then(() => (acked = true));
    await waitFor(() => called === 1, { what: 'handler called' });
    // A bounded window in which no PUBACK may arrive.
    const windowEnd = Date.now() + 400;
    while (Date.now() < windowEnd) {
      expect(acked).toBe(false);
      await new Promise((r) => setTimeout(r, 20));
    }
    release!();
    await publishing;
    await waitFor(() => acked, { what: 'PUBACK after release' });
  });

  it('reads a device\'s next PUBLISHes while earlier ones wait for their answer, and PUBACKs them in arrival order', async () => {
    const waiting = new Map<string, () => void>();
    const ingress = await startIngress(async (msg) => {
      await new Promise<void>((resolve) => waiting.set(msg.payload.toString(), resolve));
      return stored;
    });
    const topic = `${uniquePrefix('ahead')}/dev/telemetry`;
    const device = await rawMqttClient(ingress.port, uniquePrefix('dev'));
    cleanups.push(async () => device.close());
    const msg = (n: number) => ({ topic, payload: String(n), messageId: n });
    // Two in one TCP write: aedes alone would read nothing more until both were answered.
    device.publishChunk([msg(1), msg(2)]);
    await waitFor(() => waiting.size === 2, { what: 'first chunk handed on' });
    device.publishChunk([msg(3)]);
    device.publishChunk([msg(4)]);
    await waitFor(() => waiting.size === 4, { what: 'later chunks read while the first waits' });
    // Answered last to first: no PUBACK may overtake an earlier one.
    for (const n of ['4', '3', '2']) {
      waiting.get(n)!();
      await new Promise((r) => setTimeout(r, 50));
      expect(device.acks).toEqual([]);
    }
    waiting.get('1')!();
    await waitFor(() => device.acks.length === 4, { what: 'every PUBACK' });
    expect(device.acks).toEqual([1, 2, 3, 4]);
  });

  it('a denied PUBLISH\'s PUBACK waits for an earlier one of the same client', async () => {
    let release: (() => void) | undefined;
    const ingress = await startIngress(async () => {
      await new Promise<void>((resolve) => (release = resolve));
      return stored;
    });
    const device = await rawMqttClient(ingress.port, uniquePrefix('dev'));
    cleanups.push(async () => device.close());
    device.publishChunk([{ topic: `${uniquePrefix('held')}/dev/telemetry`, payload: 'kept', messageId: 7 }]);
    await waitFor(() => release !== undefined, { what: 'handler called' });
    device.publishChunk([{ topic: 'not-a-device-topic', payload: 'denied', messageId: 8 }]);
    await waitFor(() => ingress.stats.denied === 1, { what: 'ACL denial' });
    await new Promise((r) => setTimeout(r, 200));
    expect(device.acks).toEqual([]);
    release!();
    await waitFor(() => device.acks.length === 2, { what: 'both PUBACKs' });
    expect(device.acks).toEqual([7, 8]);
  });

  it('on busy withholds the PUBACK and asks the handler again until stored', async () => {
    const busyAttempts = 3;
    const attempts = new Map<string, number>();
    const storedPayloads = new Set<string>();
    const ingress = await startIngress(
      async (msg) => {
        const key = msg.payload.toString();
        const n = (attempts.get(key) ?? 0) + 1;
        attempts.set(key, n);
        if (key === '5' && n <= busyAttempts) return { kind: 'busy', reason: 'store full' };
        storedPayloads.add(key);
        return stored;
      },
      { busyRetryMs: { initial: 20, max: 50 } },
    );
    const client = await connectClient(ingress.port);
    const topic = `${uniquePrefix('busy')}/dev/telemetry`;
    await Promise.all(Array.from({ length: 20 }, (_, i) => client.publishAsync(topic, String(i), { qos: 1 })));
    expect(attempts.get('5')).toBe(busyAttempts + 1);
    expect(storedPayloads.size).toBe(20);
    expect(ingress.stats.busyRetries).toBe(busyAttempts);
  });

  it('a busy message abandoned by stop() is resent by the client to the next broker', async () => {
    let busy = true;
    const storedPayloads: string[] = [];
    const handler: IngestHandler = async (msg) => {
      if (busy) return { kind: 'busy', reason: 'store full' };
      storedPayloads.push(msg.payload.toString());
      return stored;
    };
    const first = new EmbeddedMqttIngress({ host: '127.0.0.1', port: 0, maxPayloadBytes: 4096, busyRetryMs: { initial: 20, max: 50 } });
    await first.start(handler);
    const port = first.port;
    const client = await connectClient(port);
    let acked = false;
    const publishing = client.publishAsync(`${uniquePrefix('restart')}/dev/telemetry`, 'kept', { qos: 1 }).then(() => (acked = true));
    await waitFor(() => first.stats.busyRetries >= 2, { what: 'busy retries' });
    await first.stop();
    expect(acked).toBe(false);
    expect(first.stats.abandoned).toBe(1);

    busy = false;
    await startIngress(handler, { port });
    await publishing;
    expect(storedPayloads).toEqual(['kept']);
  });

  it('rejects a port already in use with a clear error', async () => {
    const holder: Server = createServer();
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise((resolve) => holder.close(resolve)));
    const port = (holder.address() as { port: number }).port;
    const ingress = new EmbeddedMqttIngress({ host: '127.0.0.1', port, maxPayloadBytes: 4096 });
    await expect(ingress.start(async () => stored)).rejects.toThrow(`port ${port} on 127.0.0.1 is already in use; set mqtt.embedded.port`);
  });

  it('hands an oversized payload on marked refused, with its identity, and keeps serving', async () => {
    const handled: RawMessage[] = [];
    const ingress = await startIngress(async (msg) => {
      handled.push(msg);
      return msg.refused ? { kind: 'rejected', reason: msg.refused.reason } : stored;
    });
    const prefix = uniquePrefix('big');
    const big = await connectClient(ingress.port);
    const other = await connectClient(ingress.port);
    await big.publishAsync(`${prefix}/big/telemetry`, Buffer.alloc(5000, 1), { qos: 1 });
    expect(ingress.stats.oversized).toBe(1);
    expect(handled[0]).toMatchObject({ identity: 'big', kind: 'telemetry', refused: { reason: 'oversized' } });
    expect(handled[0]!.refused!.detail).toMatch(/5000 bytes exceeds mqtt\.embedded\.maxPayloadBytes 4096/);
    await other.publishAsync(`${prefix}/other/status`, 'ok', { qos: 1 });
    await big.publishAsync(`${prefix}/big/telemetry`, 'small', { qos: 1 });
    expect(handled.slice(1).map((m) => [m.payload.toString(), m.identity, m.kind, m.refused])).toEqual([
      ['ok', 'other', 'status', undefined],
      ['small', 'big', 'telemetry', undefined],
    ]);
    expect(big.connected).toBe(true);
  });

  it('tracks connected clients and delivers commands to a subscribed device', async () => {
    const ingress = await startIngress(async () => stored);
    const connected: string[] = [];
    const disconnected: string[] = [];
    ingress.on('clientConnected', (id: string) => connected.push(id));
    ingress.on('clientDisconnected', (id: string) => disconnected.push(id));
    const prefix = uniquePrefix('cmd');
    const device = uniquePrefix('dev');
    const node = await connectClient(ingress.port, device);
    await waitFor(() => connected.includes(device), { what: 'clientConnected' });
    expect(ingress.connectedClientIds).toContain(device);

    const received: Array<{ topic: string; payload: string }> = [];
    node.on('message', (topic, payload) => received.push({ topic, payload: payload.toString() }));
    await node.subscribeAsync(`${prefix}/${device}/cmd`, { qos: 1 });

    expect(await ingress.sendCommand('no-such-device', prefix, Buffer.from('x'), 1)).toBe(false);
    expect(await ingress.sendCommand(device, 'other/prefix', Buffer.from('x'), 1)).toBe(false);
    expect(await ingress.sendCommand(device, prefix, Buffer.from('ping-1'), 1)).toBe(true);
    expect(await ingress.sendCommand(device, undefined, Buffer.from('ping-2'), 2)).toBe(true);
    await waitFor(() => received.length === 2, { what: 'commands received' });
    expect(received).toEqual([
      { topic: `${prefix}/${device}/cmd`, payload: 'ping-1' },
      { topic: `${prefix}/${device}/cmd`, payload: 'ping-2' },
    ]);

    await node.endAsync();
    await waitFor(() => disconnected.includes(device), { what: 'clientDisconnected' });
    expect(ingress.connectedClientIds).not.toContain(device);
  });

  it('applies logins and the ACL: own topics only, commands only to the device itself', async () => {
    const handled: string[] = [];
    const prefix = uniquePrefix('acl');
    const [a, b] = [uniquePrefix('a'), uniquePrefix('b')];
    const file = join(mkdtempSync(join(tmpdir(), 'creds-')), 'creds.json');
    await addCredential(file, a, 'secret-of-node-a');
    await addCredential(file, b, 'secret-of-node-b');
    const ingress = await startIngress(
      async (msg) => {
        handled.push(`${msg.identity} ${msg.topic}`);
        return stored;
      },
      { access: new DeviceAccess({ credentialsFile: file }) },
    );
    const url = `mqtt://127.0.0.1:${ingress.port}`;
    await expect(connectAsync(url, { clientId: a, username: a, password: 'wrong-secret', reconnectPeriod: 0 })).rejects.toThrow(/Not authorized|Bad username/i);
    const nodeA = await connectAsync(url, { clientId: a, username: a, password: 'secret-of-node-a', reconnectPeriod: 0 });
    const nodeB = await connectAsync(url, { clientId: b, username: b, password: 'secret-of-node-b', reconnectPeriod: 0 });
    cleanups.push(() => nodeA.endAsync(true), () => nodeB.endAsync(true));
    await nodeB.subscribeAsync(`${prefix}/${b}/cmd`, { qos: 1 });
    // SUBACK 0x80 for someone else's cmd topic; mqtt.js turns it into an error.
    await expect(nodeA.subscribeAsync(`${prefix}/${b}/cmd`, { qos: 1 })).rejects.toThrow(/Subscribe error/);
    const toB: string[] = [];
    nodeB.on('message', (_topic, payload) => toB.push(payload.toString()));

    await nodeA.publishAsync(`${prefix}/${a}/telemetry`, 'mine', { qos: 1 });
    await nodeA.publishAsync(`${prefix}/${b}/telemetry`, 'not mine', { qos: 1 });
    await nodeA.publishAsync(`${prefix}/${b}/cmd`, 'forged command', { qos: 1 });
    expect(handled).toEqual([`${a} ${prefix}/${a}/telemetry`]);
    expect(ingress.stats.denied).toBe(2);
    expect(await ingress.sendCommand(b, prefix, Buffer.from('real command'), 7)).toBe(true);
    await waitFor(() => toB.length > 0, { what: 'command to b' });
    expect(toB).toEqual(['real command']);
    // b offline: its command goes to nobody.
    await nodeB.endAsync();
    await waitFor(() => !ingress.connectedClientIds.includes(b), { what: 'b offline' });
    expect(await ingress.sendCommand(b, prefix, Buffer.from('later'), 8)).toBe(false);
  });

  it('hands a last will to the handler', async () => {
    const topics: string[] = [];
    const ingress = await startIngress(async (msg) => {
      topics.push(msg.topic);
      return stored;
    });
    const willTopic = `${uniquePrefix('will')}/dev/status`;
    const client = await connectAsync(`mqtt://127.0.0.1:${ingress.port}`, {
      clientId: uniquePrefix('c'),
      reconnectPeriod: 0,
      will: { topic: willTopic, payload: Buffer.from('offline'), qos: 1, retain: true },
    });
    client.stream.destroy();
    await waitFor(() => topics.includes(willTopic), { what: 'last will handled' });
    await client.endAsync(true);
  });

  it('throughput smoke: QoS 1 ingest with a no-op handler (printed, not asserted)', async () => {
    const ingress = await startIngress(async () => stored);
    const clients = await Promise.all([0, 1, 2, 3].map(() => connectClient(ingress.port)));
    const perClient = 10_000;
    const window = 500;
    const payload = Buffer.alloc(300, 7);
    const prefix = uniquePrefix('rate');
    const started = performance.now();
    await Promise.all(
      clients.map(async (client, c) => {
        // Keep a window of publishes in flight per client, as a device's outbox would.
        for (let sent = 0; sent < perClient; sent += window) {
          await Promise.all(Array.from({ length: window }, () => client.publishAsync(`${prefix}/dev-${c}/telemetry`, payload, { qos: 1 })));
        }
      }),
    );
    const seconds = (performance.now() - started) / 1000;
    const total = clients.length * perClient;
    console.log(`embedded MQTT QoS 1 ingest: ${total} msgs in ${seconds.toFixed(2)} s = ${Math.round(total / seconds)} msgs/s (clients in the same process)`);
    expect(ingress.stats.received).toBe(total);
  });
});
