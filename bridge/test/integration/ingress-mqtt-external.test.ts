import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectAsync, type MqttClient } from 'mqtt';
import { ExternalMqttIngress } from '../../src/ingress/mqtt-client.ts';
import type { IngestHandler, IngestOutcome } from '../../src/types.ts';
import { startPrivateMosquitto, type PrivateMosquitto } from '../helpers/mosquitto.ts';
import { uniquePrefix, waitFor } from '../helpers/unique.ts';

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

  it('on busy leaves the message unacked and the broker redelivers it', async () => {
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
      await waitFor(() => storedPayloads.length >= 10, { timeoutMs: 20_000, what: 'all stored' });
      expect(attempts.get('3')).toBe(busyAttempts + 1);
      expect(ingress.stats.redeliveries).toBe(busyAttempts);
      // Nothing missing, in order; messages after the busy one were only handled once.
      expect(storedPayloads).toEqual(range(0, 10));
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
