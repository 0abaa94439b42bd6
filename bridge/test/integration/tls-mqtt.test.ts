// The embedded MQTT listener over TLS, with its certificate and key from the config
// (made by openssl for this run), plus logins: a real mqtt.js client that trusts the
// test CA publishes a batch, gets its PUBACK and the batch reaches the shared RabbitMQ
// (run-unique names). A client that does not trust the CA, a plain-TCP client and a
// wrong secret over TLS are all refused.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import amqp, { type ChannelModel, type Channel, type ConsumeMessage } from 'amqplib';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { Writable } from 'node:stream';
import { encodeBatch } from '../../src/codec/index.ts';
import { loadConfig } from '../../src/config/index.ts';
import { composeBridge, type Bridge } from '../../src/compose.ts';
import { createLogger } from '../../src/observe/logger.ts';
import { EmbeddedMqttIngress } from '../../src/ingress/mqtt-broker.ts';
import { addCredential } from '../../src/ingress/mqtt-auth.ts';
import { makeTestPki, type TestPki } from '../helpers/certs.ts';
import { uniquePrefix, waitFor, uniqueTopology } from '../../../shared/testkit/unique.ts';
import { metric } from '../helpers/metrics.ts';

const AMQP = 'amqp://guest:guest@127.0.0.1:5672';

describe('embedded MQTT listener over TLS', () => {
  const prefix = uniquePrefix('tls');
  const dir = mkdtempSync(join(tmpdir(), 'edge-tls-mqtt-'));
  const topicPrefix = `${prefix}/floor1`;
  const device = `${prefix}-n1`;
  const secret = 'secret-of-n1';
  let pki: TestPki;
  let pipeline: Bridge;
  let conn: ChannelModel;
  let ch: Channel;
  const arrived: Array<{ id: string; key: string }> = [];
  const clients: MqttClient[] = [];
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      logs.push(chunk.toString('utf8'));
      done();
    },
  });

  // reconnectPeriod 0 and allowRetries false: a refused connection rejects instead of retrying.
  const connect = async (url: string, opts: IClientOptions) => {
    const c = await mqtt.connectAsync(url, { clientId: device, username: device, password: secret, reconnectPeriod: 0, connectTimeout: 5_000, protocolVersion: 4, ...opts }, false);
    clients.push(c);
    return c;
  };
  const tlsUrl = (host = '127.0.0.1') => `mqtts://${host}:${pipeline.mqttPort()}`;
  const batch = (seq: number) =>
    encodeBatch({ v: 1, device, boot: 1, seq, fw: 't', ts: Date.now(), unsynced: false, readings: [{ sensor: 'temperature', offset: 0, value: 20.5 }] });

  beforeAll(async () => {
    pki = await makeTestPki();
    const creds = join(dir, 'creds.json');
    await addCredential(creds, device, secret);
    const file = join(dir, 'config.json');
    writeFileSync(
      file,
      JSON.stringify({
        mqtt: { mode: 'embedded', embedded: { host: '127.0.0.1', port: 0, auth: { credentialsFile: creds }, tls: { certFile: pki.serverCertFile, keyFile: pki.serverKeyFile } } },
        amqp: {
          urls: [AMQP],
          topology: uniqueTopology(prefix),
        },
        routing: { rules: [{ name: 'r', filter: `${topicPrefix}/+device/telemetry`, key: 'tls.{device}', split: 'none' }] },
        store: { dir: join(dir, 'store') },
        quarantine: { dir: join(dir, 'quarantine') },
        queueHealth: { enabled: false },
      }),
    );
    pipeline = composeBridge(loadConfig({ file, env: {} }), createLogger('debug', sink));
    await pipeline.start();
    conn = await amqp.connect(AMQP);
    ch = await conn.createChannel();
    await ch.consume(`${prefix}.all`, (m: ConsumeMessage | null) => {
      if (!m) return;
      arrived.push({ id: m.properties.messageId as string, key: m.fields.routingKey });
      ch.ack(m);
    });
  });

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.endAsync(true).catch(() => undefined)));
    await pipeline?.stop().catch(() => undefined);
    if (ch) {
      for (const q of ['all', 'unroutable', 'dlq']) await ch.deleteQueue(`${prefix}.${q}`).catch(() => undefined);
      for (const x of ['tele', 'ae', 'dlx']) await ch.deleteExchange(`${prefix}.${x}`).catch(() => undefined);
    }
    await conn?.close().catch(() => undefined);
    pki?.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a client trusting the test CA publishes over mqtts, gets its PUBACK, and the batch reaches RabbitMQ', async () => {
    const client = await connect(tlsUrl(), { ca: pki.ca });
    // The TLS session really is TLS, with the certificate from the config.
    const socket = client.stream as unknown as import('node:tls').TLSSocket;
    expect(socket.encrypted).toBe(true);
    expect(socket.getPeerCertificate().subjectaltname).toBe('IP Address:127.0.0.1, DNS:localhost');
    const pubacks: number[] = [];
    client.on('packetreceive', (p) => p.cmd === 'puback' && pubacks.push(p.messageId!));
    const sent = await client.publishAsync(`${topicPrefix}/${device}/telemetry`, batch(0), { qos: 1 });
    expect(pubacks).toEqual([sent!.messageId]);
    await waitFor(() => arrived.some((m) => m.id === `${device}:1:0`), { timeoutMs: 15_000, what: 'the batch in RabbitMQ' });
    expect(arrived).toEqual([{ id: `${device}:1:0`, key: `tls.${device}` }]);
    // The name in the certificate's DNS entry is checked too.
    const byName = await connect(tlsUrl('localhost'), { ca: pki.ca, clientId: device });
    await byName.publishAsync(`${topicPrefix}/${device}/telemetry`, batch(1), { qos: 1 });
    await waitFor(() => arrived.some((m) => m.id === `${device}:1:1`), { timeoutMs: 15_000, what: 'the second batch in RabbitMQ' });
  });

  it('refuses a client that does not trust the CA (rejectUnauthorized), or trusts another CA', async () => {
    await expect(connect(tlsUrl(), {})).rejects.toThrow(/unable to verify the first certificate|self.signed|local issuer/);
    await expect(connect(tlsUrl(), { ca: pki.otherCa })).rejects.toThrow(/unable to verify the first certificate|self.signed|local issuer/);
  });

  it('refuses a plain-TCP MQTT client on the TLS port', async () => {
    const clients = () => metric(pipeline.health, 'edge_mqtt_clients_connected');
    const before = await clients();
    await expect(connect(`mqtt://127.0.0.1:${pipeline.mqttPort()}`, {})).rejects.toThrow(/Couldn't connect|ECONNRESET|closed/);
    expect(await clients()).toBe(before);
    // The listener is still up for TLS clients, and the plain one never became a client.
    await connect(tlsUrl(), { ca: pki.ca });
    // (a TLS client with the same id may take over an earlier one: at most one more)
    expect(await clients()).toBeGreaterThanOrEqual(1);
    expect(await clients()).toBeLessThanOrEqual(before + 1);
    // The failed handshake is in the debug log (an operator looking for a device that cannot connect).
    expect(logs.join('')).toMatch(/"err":"[^"]*wrong version number[^"]*","msg":"mqtt TLS handshake failed"/);
  });

  it('over TLS, a wrong secret is still refused', async () => {
    await expect(connect(tlsUrl(), { ca: pki.ca, password: 'not-the-secret' })).rejects.toThrow(/Not authorized|Bad username or password/);
  });
});
