import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectAsync, type MqttClient } from 'mqtt';
import { createServer, type AddressInfo } from 'node:net';
import * as mqttPacket from 'mqtt-packet';
import { ExternalMqttIngress } from '../../src/ingress/mqtt-client.ts';
import type { IngestHandler, IngestOutcome } from '../../src/types.ts';
import { startPrivateMosquitto, type PrivateMosquitto } from '../../../shared/testkit/mosquitto.ts';
import { uniquePrefix, waitFor } from '../../../shared/testkit/unique.ts';

const stored: IngestOutcome = { kind: 'stored' };

describe('ExternalMqttIngress (private Mosquitto)', () => {
  let mosquitto: PrivateMosquitto;
  let publisher: MqttClient;

  beforeAll(async () => {
    mosquitto = await startPrivateMosquitto();
    publisher = await connectAsync(mosquitto.url, { clientId: uniquePrefix('pub'), reconnectPeriod: 100 });
  });
  afterAll(async () => {
    await publisher?.endAsync(true);
    await mosquitto?.dispose();
  });

  function publishAll(topic: string, payloads: string[]): Promise<unknown> {
    return Promise.all(payloads.map((p) => publisher.publishAsync(topic, p, { qos: 1 })));
  }

  const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => String(from + i));

  it('handles and acks every message, and the persistent session keeps what arrives while it is down', async () => {
    const prefix = uniquePrefix('ext');
    const clientId = uniquePrefix('bridge');
    const seen: string[] = [];
    const handler: IngestHandler = async (msg) => {
      seen.push(msg.payload.toString());
      expect(msg).toMatchObject({ transport: 'mqtt', topic: `${prefix}/dev/telemetry`, source: clientId, identity: 'dev', kind: 'telemetry' });
      return stored;
    };
    const options = { url: mosquitto.url, clientId, topics: [`${prefix}/+/telemetry`], reconnectPeriodMs: 100 };

    const first = new ExternalMqttIngress(options);
    await first.start(handler);
    const n = 200;
    await publishAll(`${prefix}/dev/telemetry`, range(0, n));
    await waitFor(() => first.stats.acked === n, { what: `${n} acked` });
    expect(seen).toEqual(range(0, n));
    await first.stop();

    // While the bridge is away the broker queues for its session.
    const m = 50;
    await publishAll(`${prefix}/dev/telemetry`, range(n, n + m));
    const second = new ExternalMqttIngress(options);
    await second.start(handler);
    try {
      await waitFor(() => second.stats.acked === m, { what: `${m} acked after restart` });
      // Exactly the new ones: the first session's PUBACKs reached the broker, nothing was redelivered.
      expect(seen).toEqual(range(0, n + m));
    } finally {
      await second.stop();
    }
  });

  it('on busy leaves the message (and every later one) unacked and the broker redelivers them: each stored at least once', async () => {
    const prefix = uniquePrefix('extbusy');
    const busyAttempts = 2;
    const attempts = new Map<string, number>();
    const storedPayloads: string[] = [];
    const ingress = new ExternalMqttIngress({
      url: mosquitto.url,
      clientId: uniquePrefix('bridge'),
      topics: [`${prefix}/+/telemetry`],
      reconnectPeriodMs: 100,
    });
    await ingress.start(async (msg) => {
      const key = msg.payload.toString();
      const n = (attempts.get(key) ?? 0) + 1;
      attempts.set(key, n);
      if (key === '3' && n <= busyAttempts) return { kind: 'busy', reason: 'store full' };
      storedPayloads.push(key);
      return stored;
    });
    try {
      await publishAll(`${prefix}/dev/telemetry`, range(0, 10));
      await waitFor(() => range(0, 10).every((p) => storedPayloads.includes(p)) && ingress.stats.acked >= 10, { timeoutMs: 20_000, what: 'all stored and acked' });
      expect(attempts.get('3')).toBe(busyAttempts + 1);
      expect(ingress.stats.redeliveries).toBe(busyAttempts);
      // Those before the busy one were acknowledged the first time and never came back.
      for (const p of ['0', '1', '2']) expect(attempts.get(p)).toBe(1);
    } finally {
      await ingress.stop();
    }
  });

  it('pipelines: the broker\'s whole in-flight window is handled at once, and every PUBACK reaches the broker', async () => {
    const prefix = uniquePrefix('extpipe');
    const clientId = uniquePrefix('bridge');
    let concurrent = 0;
    let most = 0;
    const order: string[] = [];
    const ingress = new ExternalMqttIngress({ url: mosquitto.url, clientId, topics: [`${prefix}/+/telemetry`], reconnectPeriodMs: 100 });
    await ingress.start(async (msg) => {
      concurrent++;
      most = Math.max(most, concurrent);
      // Later messages finish first: PUBACK order must not follow completion order.
      await new Promise((r) => setTimeout(r, 30 - (Number(msg.payload.toString()) % 30)));
      concurrent--;
      order.push(msg.payload.toString());
      return stored;
    });
    try {
      await publishAll(`${prefix}/dev/telemetry`, range(0, 200));
      await waitFor(() => ingress.stats.acked === 200, { timeoutMs: 20_000, what: '200 acked' });
      expect(most).toBeGreaterThan(1);
      expect(ingress.stats.maxInFlight).toBeGreaterThan(1);
      expect(new Set(order).size).toBe(200);
      // Every PUBACK reached the broker: a new session on the same id gets nothing redelivered.
      await ingress.stop();
      const again: string[] = [];
      const second = new ExternalMqttIngress({ url: mosquitto.url, clientId, topics: [`${prefix}/+/telemetry`], reconnectPeriodMs: 100 });
      await second.start(async (msg) => {
        again.push(msg.payload.toString());
        return stored;
      });
      await new Promise((r) => setTimeout(r, 500));
      await second.stop();
      expect(again).toEqual([]);
    } finally {
      await ingress.stop();
    }
  });

  it('speaks for the topic\'s device level; a topic outside the allowed prefixes is handed on refused', async () => {
    const prefix = uniquePrefix('extid');
    const seen: Array<{ topic: string; identity: string; kind: string; refused?: string }> = [];
    const ingress = new ExternalMqttIngress({
      url: mosquitto.url,
      clientId: uniquePrefix('bridge'),
      topics: [`${prefix}/#`],
      topicPrefixes: [`${prefix}/floor1`],
      reconnectPeriodMs: 100,
    });
    await ingress.start(async (msg) => {
      seen.push({ topic: msg.topic, identity: msg.identity, kind: msg.kind, refused: msg.refused?.reason });
      return msg.refused ? { kind: 'rejected', reason: msg.refused.reason } : stored;
    });
    try {
      await publisher.publishAsync(`${prefix}/floor1/dev-7/status`, 's', { qos: 1 });
      await publisher.publishAsync(`${prefix}/floor1/extra/dev-7/telemetry`, 'x', { qos: 1 });
      await publisher.publishAsync(`${prefix}/floor1/dev-7/telemetry`, 't', { qos: 1 });
      await waitFor(() => seen.length === 3, { what: 'three messages' });
      expect(seen).toEqual([
        { topic: `${prefix}/floor1/dev-7/status`, identity: 'dev-7', kind: 'status', refused: undefined },
        { topic: `${prefix}/floor1/extra/dev-7/telemetry`, identity: '', kind: 'telemetry', refused: 'bad_topic' },
        { topic: `${prefix}/floor1/dev-7/telemetry`, identity: 'dev-7', kind: 'telemetry', refused: undefined },
      ]);
    } finally {
      await ingress.stop();
    }
  });

  it('sends PUBACKs in the order the PUBLISHes arrived, whatever order the handler finishes in', async () => {
    // A stub broker on mqtt-packet: it sees every PUBACK in the order the bridge wrote them.
    const acks: number[] = [];
    const server = createServer((socket) => {
      const parser = mqttPacket.parser({ protocolVersion: 5 });
      const send = (p: mqttPacket.Packet) => socket.write(mqttPacket.generate(p, { protocolVersion: 5 }));
      parser.on('packet', (p: mqttPacket.Packet) => {
        if (p.cmd === 'connect') send({ cmd: 'connack', sessionPresent: false, reasonCode: 0 });
        else if (p.cmd === 'subscribe') {
          send({ cmd: 'suback', messageId: p.messageId, granted: [1] });
          // The telemetry subscription gets the 50; the bridge's $SYS subscription gets nothing.
          if (!p.subscriptions.some((s) => s.topic === 'site/+/telemetry')) return;
          for (let id = 1; id <= 50; id++) send({ cmd: 'publish', topic: 'site/dev/telemetry', payload: Buffer.from(String(id)), qos: 1, messageId: id, retain: false, dup: false });
        } else if (p.cmd === 'puback') acks.push(p.messageId!);
      });
      socket.on('data', (c) => parser.parse(c));
      socket.on('error', () => undefined);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const ingress = new ExternalMqttIngress({ url: `mqtt://127.0.0.1:${(server.address() as AddressInfo).port}`, clientId: 'order', topics: ['site/+/telemetry'] });
    await ingress.start(async (msg) => {
      // The first messages take longest.
      await new Promise((r) => setTimeout(r, 60 - Number(msg.payload.toString())));
      return stored;
    });
    try {
      await waitFor(() => acks.length === 50, { what: '50 PUBACKs at the stub' });
      expect(acks).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
    } finally {
      await ingress.stop();
      server.close();
    }
  });

  it('rejects start() clearly when the broker is unreachable', async () => {
    const ingress = new ExternalMqttIngress({
      url: 'mqtt://127.0.0.1:1',
      clientId: uniquePrefix('bridge'),
      topics: ['x/+/telemetry'],
      connectTimeoutMs: 500,
    });
    await expect(ingress.start(async () => stored)).rejects.toThrow(/not reachable within 500 ms/);
  });
});
