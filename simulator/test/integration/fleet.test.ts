// The fleet simulator against a real bridge (embedded broker on port 0) and the
// shared RabbitMQ (run-unique names): what the fleet says was acknowledged is what
// RabbitMQ holds, and each scenario does what it claims.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import amqp, { type ChannelModel, type Channel, type ConsumeMessage } from 'amqplib';
import { pino } from 'pino';
import { decodeBatch } from '../../../bridge/src/codec/index.ts';
import { loadConfig } from '../../../bridge/src/config/index.ts';
import { composeBridge, type Bridge } from '../../../bridge/src/compose.ts';
import { uniquePrefix, uniqueTopology, waitFor } from '../../../shared/testkit/unique.ts';
import { Fleet } from '../../fleet/fleet.ts';
import { EDGE_NODE_BIN } from '../../nodes/edge-node.ts';

const AMQP = 'amqp://guest:guest@127.0.0.1:5672';

interface Delivered {
  id: string;
  device: string;
  ts: number;
  acceptedAt: number;
}

describe('fleet simulator against the bridge and RabbitMQ', () => {
  const prefix = uniquePrefix('fleet');
  const dir = mkdtempSync(join(tmpdir(), 'edge-fleet-'));
  const topicPrefix = `${prefix}/floor1`;
  let pipeline: Bridge;
  let conn: ChannelModel;
  let ch: Channel;
  const delivered: Delivered[] = [];

  beforeAll(async () => {
    const file = join(dir, 'config.json');
    writeFileSync(
      file,
      JSON.stringify({
        mqtt: { mode: 'embedded', embedded: { host: '127.0.0.1', port: 0 } },
        amqp: {
          urls: [AMQP],
          topology: uniqueTopology(prefix),
        },
        routing: { rules: [{ name: 'fleet', filter: `${topicPrefix}/+device/telemetry`, key: 'fleet.{device}', split: 'none' }] },
        store: { dir: join(dir, 'store') },
        quarantine: { dir: join(dir, 'quarantine') },
        queueHealth: { enabled: false },
      }),
    );
    pipeline = composeBridge(loadConfig({ file, env: {} }), pino({ level: 'silent' }));
    await pipeline.start();
    conn = await amqp.connect(AMQP);
    ch = await conn.createChannel();
    await ch.consume(`${prefix}.all`, (m: ConsumeMessage | null) => {
      if (!m) return;
      const r = decodeBatch(m.content);
      if (!r.ok) throw new Error(`undecodable message ${m.properties.messageId}`);
      delivered.push({ id: m.properties.messageId as string, device: r.value.device, ts: r.value.ts, acceptedAt: (m.properties.timestamp as number) * 1000 });
      ch.ack(m);
    });
  });

  afterAll(async () => {
    await pipeline?.stop().catch(() => undefined);
    if (ch) {
      for (const q of ['all', 'unroutable', 'dlq']) await ch.deleteQueue(`${prefix}.${q}`).catch(() => undefined);
      for (const x of ['tele', 'ae', 'dlx']) await ch.deleteExchange(`${prefix}.${x}`).catch(() => undefined);
    }
    await conn?.close().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  });

  async function quarantined(): Promise<number> {
    const text = await pipeline.health.metricsText();
    let sum = 0;
    for (const m of text.matchAll(/^edge_decode_failures_total\{[^}]*\} (\d+)/gm)) sum += Number(m[1]);
    return sum;
  }

  it('TS nodes through outages, a slow link, bad payloads and skewed clocks: every acked batch arrives by id, bad ones are quarantined', async () => {
    const before = await quarantined();
    const fleet = new Fleet({
      url: `mqtt://127.0.0.1:${pipeline.mqttPort()}`, devices: 12, rate: 4, batch: 4, node: 'ts', prefix: topicPrefix,
      idPrefix: `${prefix.replace(/[^A-Za-z0-9_-]/g, '-')}-ts`, stateDir: join(dir, 'ts-nodes'), seed: 7,
      badFraction: 0.2, skewMs: 60_000, outage: { everyMs: 1500, forMs: 600 }, link: { delayMs: 40 }, trackIds: true,
    });
    await fleet.start();
    await waitFor(() => fleet.stats().outages >= 2 && fleet.stats().acked >= 40, { timeoutMs: 30_000, what: 'two outages and 40 acked batches' });
    const final = await fleet.stop();

    expect(final.sent).toBe(final.acked); // the fleet settled: nothing left unacknowledged
    expect(final.badSent).toBeGreaterThan(0);
    expect(final.badAcked).toBe(final.badSent);

    const acked = fleet.ackedIds();
    expect(acked.length).toBe(final.acked);
    await waitFor(() => new Set(delivered.map((d) => d.id)).size >= new Set(acked).size, { timeoutMs: 30_000, what: 'acked batches in RabbitMQ' });
    const got = new Set(delivered.filter((d) => d.id.includes('-ts-')).map((d) => d.id));
    for (const id of acked) expect(got.has(id), `${id} acked but not in RabbitMQ`).toBe(true);
    // Nothing arrives that no node sent: ids are device:boot:seq with seq below each node's next seq.
    const nextSeq = new Map(fleet.nodes.map((n) => [`${n.device}:${n.boot}`, n.seq]));
    for (const id of got) {
      const at = id.lastIndexOf(':');
      expect(Number(id.slice(at + 1))).toBeLessThan(nextSeq.get(id.slice(0, at)) ?? -1);
    }

    // Bad payloads: each acknowledged one was quarantined (a replay after an outage may
    // quarantine it again), nothing good was, and the metric counts every quarantined copy.
    await waitFor(async () => (await quarantined()) - before >= final.badAcked, { timeoutMs: 10_000, what: 'quarantine count' });
    const lines = readFileSync(join(dir, 'quarantine', 'quarantine.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { topic: string; payloadHex: string });
    const byDevice = new Map(fleet.nodes.map((n) => [n.topic('telemetry'), n]));
    const ours = lines.filter((l) => byDevice.has(l.topic));
    expect(ours.length).toBe((await quarantined()) - before);
    for (const l of ours) expect(byDevice.get(l.topic)!.badPayloads.has(l.payloadHex), `quarantined ${l.payloadHex} on ${l.topic} was not a bad payload`).toBe(true);
    for (const n of fleet.nodes) expect(ours.filter((l) => l.topic === n.topic('telemetry')).length).toBeGreaterThanOrEqual(n.badAcked);

    // Outages: the link was cut under connected nodes, and they came back by themselves.
    expect(final.outages).toBeGreaterThanOrEqual(2);
    expect(final.reconnects).toBeGreaterThanOrEqual(fleet.nodes.length);

    // Slow link: a PUBACK crosses the 40 ms link twice.
    expect(final.ackMinMs).toBeGreaterThanOrEqual(80);

    // Clock skew: each batch's base time is off from the bridge's accept time by its node's skew.
    const skews = [...fleet.skews.values()];
    expect(Math.max(...skews.map(Math.abs))).toBeGreaterThan(10_000);
    for (const d of delivered.filter((x) => got.has(x.id))) {
      const skew = fleet.skews.get(d.device)!;
      // accept time has 1 s resolution (AMQP timestamp), and a batch spans its samples plus outages.
      expect(Math.abs(d.ts - d.acceptedAt - skew), `${d.id}: ts ${d.ts}, accepted ${d.acceptedAt}, skew ${skew}`).toBeLessThan(8_000);
    }
  });

  it('POSIX edge-node processes: acked batches arrive with continuous seq', async () => {
    expect(existsSync(EDGE_NODE_BIN), `build it with make -C firmware posix`).toBe(true);
    const fleet = new Fleet({
      url: `mqtt://127.0.0.1:${pipeline.mqttPort()}`, devices: 3, rate: 2, batch: 4, node: 'posix', prefix: topicPrefix,
      idPrefix: `${prefix.replace(/[^A-Za-z0-9_-]/g, '-')}-px`, stateDir: join(dir, 'px-nodes'), seed: 3,
    });
    await fleet.start();
    await waitFor(() => fleet.stats().acked >= 12, { timeoutMs: 30_000, what: '12 acked batches from edge-node processes' });
    const final = await fleet.stop();
    expect(final.errors).toBe(0); // no edge-node exited before the stop
    const acked = fleet.ackedIds();
    await waitFor(() => acked.every((id) => delivered.some((d) => d.id === id)), { timeoutMs: 30_000, what: 'POSIX batches in RabbitMQ' });
    for (let i = 1; i <= 3; i++) {
      const seqs = acked.filter((id) => id.includes(`-px-${i}:`)).map((id) => Number(id.split(':')[2])).sort((a, b) => a - b);
      expect(seqs.length).toBeGreaterThan(0);
      expect(seqs).toEqual(seqs.map((_, k) => seqs[0]! + k));
    }
  });

  it('wasm nodes (the firmware core in this process) through outages: every batch acknowledged once the fleet settles, with continuous seq, and in RabbitMQ', async () => {
    const fleet = new Fleet({
      url: `mqtt://127.0.0.1:${pipeline.mqttPort()}`, devices: 6, rate: 4, batch: 4, node: 'wasm', prefix: topicPrefix,
      idPrefix: `${prefix.replace(/[^A-Za-z0-9_-]/g, '-')}-wa`, stateDir: join(dir, 'wa-nodes'), seed: 5,
      outage: { everyMs: 1500, forMs: 600 }, trackIds: true,
    });
    await fleet.start();
    await waitFor(() => fleet.stats().outages >= 2 && fleet.stats().acked >= 40, { timeoutMs: 30_000, what: 'two outages and 40 acked batches' });
    const final = await fleet.stop();
    expect(final.sent).toBe(final.acked);
    expect(final.reconnects).toBeGreaterThanOrEqual(6);
    const acked = fleet.ackedIds();
    expect(acked.length).toBe(final.acked);
    await waitFor(() => acked.every((id) => delivered.some((d) => d.id === id)), { timeoutMs: 30_000, what: 'wasm batches in RabbitMQ' });
    for (let i = 1; i <= 6; i++) {
      const seqs = acked.filter((id) => id.includes(`-wa-${i}:`)).map((id) => Number(id.split(':')[2])).sort((a, b) => a - b);
      expect(seqs.length).toBeGreaterThan(0);
      expect(seqs).toEqual(seqs.map((_, k) => k));
    }
  });

  it('npm run simulate: runs for --duration, prints progress and a summary; bad flags get a clear error', async () => {
    const cli = join(process.cwd(), 'simulator', 'fleet', 'cli.ts');
    const run = (args: string[]) =>
      new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
        const child = spawn(process.execPath, ['--import', 'tsx', cli, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
        let out = '';
        let err = '';
        child.stdout.on('data', (c: Buffer) => (out += c));
        child.stderr.on('data', (c: Buffer) => (err += c));
        child.once('close', (code) => resolve({ code, out, err }));
      });
    const ok = await run([
      '--url', `mqtt://127.0.0.1:${pipeline.mqttPort()}`, '--devices', '2', '--rate', '4', '--duration', '2',
      '--prefix', topicPrefix, '--id-prefix', `${prefix}-cli`, '--state-dir', join(dir, 'cli-nodes'),
    ]);
    expect(ok.code, ok.err).toBe(0);
    const summary = ok.out.trim().split('\n').at(-1)!;
    expect(summary).toMatch(/devices \d\/2 connected \| sent (\d+) \| acked \1 \|/);
    expect(Number(summary.match(/acked (\d+)/)![1])).toBeGreaterThan(0);

    const bad = await run(['--devices', '0', '--rate', 'fast']);
    expect(bad.code).toBe(1);
    expect(bad.err).toMatch(/--rate must be a number, got 'fast'/);
    const posixBad = await run(['--node', 'posix', '--bad', '0.1']);
    expect(posixBad.code).toBe(1);
    expect(posixBad.err).toMatch(/--bad and --skew need TS nodes/);
  });
});
