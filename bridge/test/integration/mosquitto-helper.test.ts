import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, connectAsync, type MqttClient } from 'mqtt';
import { portOpen, startPrivateMosquitto, type PrivateMosquitto } from '../../../shared/testkit/mosquitto.ts';
import { uniquePrefix } from '../../../shared/testkit/unique.ts';

function nextMessage(client: MqttClient, timeoutMs = 10_000): Promise<{ topic: string; payload: string }> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no message')), timeoutMs);
    client.once('message', (topic, payload) => {
      clearTimeout(timer);
      resolve({ topic, payload: payload.toString() });
    });
  });
}

describe('startPrivateMosquitto', () => {
  let broker: PrivateMosquitto;

  beforeAll(async () => {
    broker = await startPrivateMosquitto();
  }, 30_000);

  afterAll(async () => {
    await broker?.dispose();
  }, 30_000);

  it('listens on its own loopback port', async () => {
    expect(broker.port).not.toBe(1883);
    expect(broker.url).toBe(`mqtt://127.0.0.1:${broker.port}`);
    expect(await portOpen(broker.port)).toBe(true);
  });

  it('delivers QoS1 publish -> subscribe on a unique topic', async () => {
    const topic = `${uniquePrefix('mh')}/a`;
    const sub = await connectAsync(broker.url, { clientId: uniquePrefix('s'), reconnectPeriod: 0 });
    const pub = await connectAsync(broker.url, { clientId: uniquePrefix('p'), reconnectPeriod: 0 });
    try {
      await sub.subscribeAsync(topic, { qos: 1 });
      const got = nextMessage(sub);
      await pub.publishAsync(topic, 'hello', { qos: 1 });
      expect(await got).toEqual({ topic, payload: 'hello' });
    } finally {
      await Promise.all([sub.endAsync(), pub.endAsync()]);
    }
  });

  for (const signal of ['SIGTERM', 'SIGKILL'] as const) {
    it(`keeps a persistent session's queued message across stop(${signal}) + start()`, async () => {
      const topic = `${uniquePrefix('mh')}/persist`;
      const clientId = uniquePrefix('sess');
      const sub = await connectAsync(broker.url, { clientId, clean: false, reconnectPeriod: 0 });
      await sub.subscribeAsync(topic, { qos: 1 });
      await sub.endAsync();

      const pub = await connectAsync(broker.url, { clientId: uniquePrefix('p'), reconnectPeriod: 0 });
      await pub.publishAsync(topic, `kept-${signal}`, { qos: 1 });
      await pub.endAsync();

      // SIGKILL skips the shutdown save: wait for the 1 s autosave to have run.
      if (signal === 'SIGKILL') await new Promise((r) => setTimeout(r, 2_500));
      await broker.stop(signal);
      expect(await portOpen(broker.port)).toBe(false);
      await broker.start();

      // Listen before the CONNACK: the queued message follows it at once.
      const again = connect(broker.url, { clientId, clean: false, reconnectPeriod: 0 });
      const got = nextMessage(again);
      try {
        expect(await got).toEqual({ topic, payload: `kept-${signal}` });
      } finally {
        await again.endAsync();
      }
    });
  }
});
