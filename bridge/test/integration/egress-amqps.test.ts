// amqps towards RabbitMQ: one private node with a TLS listener (certificates made by
// openssl for this run) that asks for a client certificate. The bridge, configured with
// the CA, its client certificate and key, forwards every batch over amqps and each is
// confirmed and in the node's queue. With the wrong CA, or without a client certificate,
// the connection is refused with a clear reason in the logs and /readyz, the bridge stays
// up, degraded, and keeps acknowledging and buffering batches.
import { describe, it, expect, beforeAll, afterAll, afterEach } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import amqp from 'amqplib';
import mqtt from 'mqtt';
import { encodeBatch } from '../../src/codec/index.ts';
import { loadConfig } from '../../src/config/index.ts';
import { composeBridge, type Bridge } from '../../src/compose.ts';
import { createLogger } from '../../src/observe/logger.ts';
import { makeTestPki, type TestPki } from '../helpers/certs.ts';
import { startPrivateRabbit, type PrivateRabbit } from '../../../shared/testkit/rabbit-node.ts';
import { uniquePrefix, waitFor, uniqueTopology } from '../../../shared/testkit/unique.ts';

const cleanups: Array<() => Promise<unknown> | unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

interface LogLine {
  level: number;
  msg: string;
  err?: { message?: string; code?: string };
  [k: string]: unknown;
}

describe('amqps egress to a RabbitMQ TLS listener', () => {
  let pki: TestPki;
  let rabbit: PrivateRabbit;

  beforeAll(async () => {
    pki = await makeTestPki({ client: true, clientName: 'edge-bridge-test' });
    rabbit = await startPrivateRabbit({
      label: 'tls',
      tls: { caFile: pki.caFile, certFile: pki.serverCertFile, keyFile: pki.serverKeyFile, verifyPeer: true },
    });
  }, 180_000);

  afterAll(async () => {
    await rabbit?.dispose();
    pki?.cleanup();
  });

  /** A bridge whose only AMQP URL is the node's amqps listener, with `tls` as amqp.tls; its log lines are kept. */
  async function bridge(prefix: string, tls: Record<string, string>): Promise<{ pipeline: Bridge; logs: LogLine[] }> {
    const dir = mkdtempSync(join(tmpdir(), 'edge-amqps-'));
    const file = join(dir, 'config.json');
    writeFileSync(
      file,
      JSON.stringify({
        mqtt: { mode: 'embedded', embedded: { host: '127.0.0.1', port: 0 } },
        amqp: {
          urls: [rabbit.amqpsUrl],
          tls,
          connections: 2,
          reconnect: { initialMs: 100, maxMs: 500 },
          topology: uniqueTopology(prefix),
        },
        store: { dir: join(dir, 'store') },
        quarantine: { dir: join(dir, 'quarantine') },
        queueHealth: { enabled: false },
      }),
    );
    const logs: LogLine[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        for (const line of chunk.toString('utf8').split('\n')) if (line) logs.push(JSON.parse(line) as LogLine);
        done();
      },
    });
    const pipeline = composeBridge(loadConfig({ file, env: {} }), createLogger('debug', sink));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    await pipeline.start();
    cleanups.push(() => pipeline.stop());
    return { pipeline, logs };
  }

  async function publish(port: number, device: string, count: number): Promise<void> {
    const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { clientId: device, reconnectPeriod: 0 });
    try {
      for (let seq = 0; seq < count; seq++) {
        const body = encodeBatch({ v: 1, device, boot: 1, seq, fw: 't', ts: Date.now(), unsynced: false, readings: [{ sensor: 'temperature', offset: 0, value: 20 + seq }] });
        await client.publishAsync(`factory/floor1/${device}/telemetry`, body, { qos: 1 });
      }
    } finally {
      await client.endAsync(true).catch(() => undefined);
    }
  }

  const metric = (text: string, series: string) => {
    const line = text.split('\n').find((l) => l.startsWith(series + ' '));
    return line === undefined ? undefined : Number(line.slice(series.length + 1));
  };

  it('forwards over amqps with the CA and client certificate from the config: every batch confirmed and in the queue', async () => {
    const prefix = uniquePrefix('amqps');
    const { pipeline } = await bridge(prefix, { caFile: pki.caFile, certFile: pki.clientCertFile!, keyFile: pki.clientKeyFile! });
    expect(pipeline.health.readiness().degraded).not.toContain('rabbitmq unreachable: buffering to disk');
    await publish(pipeline.mqttPort(), `${prefix}-n1`, 20);
    await waitFor(
      async () => {
        const text = await pipeline.health.metricsText();
        return metric(text, 'edge_amqp_publish_results_total{result="confirmed"}') === 20 && metric(text, 'edge_store_records') === 0;
      },
      { timeoutMs: 20_000, what: '20 batches confirmed over amqps' },
    );

    // Read back over the node's plain listener: a second, independent path to the same queue.
    const conn = await amqp.connect(rabbit.amqpUrl);
    try {
      const ch = await conn.createChannel();
      const ids: string[] = [];
      for (let m = await ch.get(`${prefix}.all`, { noAck: true }); m; m = await ch.get(`${prefix}.all`, { noAck: true })) ids.push(m.properties.messageId as string);
      expect(ids.sort()).toEqual(Array.from({ length: 20 }, (_, i) => `${prefix}-n1:1:${i}`).sort());
    } finally {
      await conn.close();
    }
    // The broker saw TLS connections carrying the client certificate, one per pool connection.
    const listed = await rabbit.rabbitmqctl(['list_connections', 'client_properties', 'ssl', 'peer_cert_subject', '--formatter', 'json']);
    const egress = (JSON.parse(listed) as Array<{ ssl: boolean; peer_cert_subject: string; client_properties: unknown }>).filter((c) => JSON.stringify(c.client_properties).includes('edge-bridge-egress-'));
    expect(egress.map((c) => [c.ssl, c.peer_cert_subject])).toEqual([[true, 'CN=edge-bridge-test'], [true, 'CN=edge-bridge-test']]);
    expect(pipeline.health.readiness().degraded).toEqual([]);
    expect(metric(await pipeline.health.metricsText(), 'edge_ready')).toBe(2);
  });

  it.each([
    { what: 'a CA that did not sign the server certificate', tls: () => ({ caFile: pki.otherCaFile, certFile: pki.clientCertFile!, keyFile: pki.clientKeyFile! }), reason: /self-signed certificate in certificate chain/, publishes: true },
    // (no batches here: a stop with a backlog and no broker waits out the forwarder's 10 s drain timeout)
    { what: 'no client certificate', tls: () => ({ caFile: pki.caFile }), reason: /certificate required/, publishes: false },
  ])('with $what: refused with a clear reason, degraded, still running', async ({ tls, reason, publishes }) => {
    const prefix = uniquePrefix('amqps-bad');
    const { pipeline, logs } = await bridge(prefix, tls());
    // The reason is in the log line of the failed attempt and in /readyz's connection details.
    const failed = await waitFor(() => logs.find((l) => l.msg === 'amqp connect failed'), { what: "the log line 'amqp connect failed'" });
    expect(failed.err?.message).toMatch(reason);
    const r = pipeline.health.readiness();
    expect(r.ready).toBe(true);
    expect(r.degraded).toContain('rabbitmq unreachable: buffering to disk');
    const conns = (r.details.amqp as { connections: Array<{ state: string; lastError?: string }> }).connections;
    expect(conns.map((c) => c.state)).not.toContain('open');
    for (const c of conns) expect(c.lastError).toMatch(reason);
    const text = await pipeline.health.metricsText();
    expect(metric(text, 'edge_ready')).toBe(1);
    expect(metric(text, 'edge_amqp_connections{state="open"}')).toBe(0);
    expect(metric(text, 'edge_amqp_channels_open')).toBe(0);
    if (publishes) {
      // Still doing its job: batches are acknowledged and kept on disk.
      await publish(pipeline.mqttPort(), `${prefix}-n1`, 3);
      expect(metric(await pipeline.health.metricsText(), 'edge_store_records')).toBe(3);
    }
    // It keeps retrying (and failing the same way), it does not give up or crash.
    await waitFor(() => logs.filter((l) => l.msg === 'amqp connect failed').length >= 4, { what: 'repeated attempts' });
    expect(metric(await pipeline.health.metricsText(), 'edge_amqp_publish_results_total{result="confirmed"}')).toBeUndefined();
  });
});
