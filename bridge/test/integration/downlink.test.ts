// Downlink end to end: a command published to RabbitMQ (the shared node, run-unique
// names) is stored by the bridge, delivered to a POSIX edge-node over MQTT or a socat
// pty, applied, and confirmed by the node's status; the new interval is then visible
// in the telemetry that reaches RabbitMQ. Commands for an offline node wait for it,
// across a bridge restart.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import amqp, { type ChannelModel, type Channel, type ConsumeMessage } from 'amqplib';
import { pino } from 'pino';
import { decodeBatch } from '../../src/codec/index.ts';
import type { Batch } from '../../src/types.ts';
import { loadConfig } from '../../src/config/index.ts';
import { composeBridge, type Bridge } from '../../src/compose.ts';
import { publishCommand } from '../../src/downlink/publish.ts';
import { uniquePrefix, waitFor, uniqueTopology } from '../../../shared/testkit/unique.ts';
import { startPtyPair, type PtyPair } from '../../../shared/testkit/pty.ts';
import { spawnEdgeNode, type EdgeNodeHandle } from '../../../simulator/nodes/edge-node.ts';
import { metric } from '../helpers/metrics.ts';

const AMQP = 'amqp://guest:guest@127.0.0.1:5672';

describe('downlink: AMQP command -> bridge -> POSIX node -> confirmed', () => {
  const prefix = uniquePrefix('dl');
  const dir = mkdtempSync(join(tmpdir(), 'edge-downlink-'));
  const topicPrefix = `${prefix}/floor1`;
  const dev = (n: string) => `${prefix}-${n}`;
  let pty: PtyPair;
  let file: string;
  let pipeline: Bridge;
  /** Downlink commands by outcome, as /metrics counts them. */
  const commands = (outcome: string) => metric(pipeline.health, 'edge_downlink_commands_total', { outcome });
  let conn: ChannelModel;
  let ch: Channel;
  const nodes: EdgeNodeHandle[] = [];
  const batches: Batch[] = [];

  const start = async () => {
    pipeline = composeBridge(loadConfig({ file, env: {} }), pino({ level: 'silent' }));
    await pipeline.start();
    return pipeline;
  };
  const send = (device: string, op: string, arg: number, id: number) =>
    publishCommand({ urls: [AMQP], exchange: `${prefix}.cmd`, device, op, arg, id });
  /** Sample steps (offset differences) of a device's batches that arrived after `from`. */
  const stepsAfter = (device: string, from: number) =>
    batches.slice(from).filter((b) => b.device === device).map((b) => b.readings.slice(1).map((r, i) => r.offset - b.readings[i]!.offset));
  /** Sample steps jitter by a few ms (they are real times); a batch "runs at" iv when its median step is within 20 %. */
  const runsAt = (steps: number[], iv: number) => {
    const sorted = [...steps].sort((a, b) => a - b);
    const median = sorted[Math.floor(sorted.length / 2)]!;
    return steps.length === 3 && Math.abs(median - iv) <= iv * 0.2;
  };
  const node = (device: string, extra: Partial<Parameters<typeof spawnEdgeNode>[0]>) => {
    const n = spawnEdgeNode({ device, stateDir: join(dir, 'nodes', device), prefix: topicPrefix, sensors: ['temperature'], batch: 4, intervalMs: 1000, ...extra });
    nodes.push(n);
    return n;
  };

  beforeAll(async () => {
    pty = await startPtyPair(dir);
    file = join(dir, 'config.json');
    writeFileSync(
      file,
      JSON.stringify({
        mqtt: { mode: 'embedded', embedded: { host: '127.0.0.1', port: 0 } },
        serial: { ports: [{ path: pty.b }] },
        amqp: {
          urls: [AMQP],
          topology: uniqueTopology(prefix),
        },
        routing: {
          rules: [
            { name: 'mqtt', filter: `${topicPrefix}/+device/telemetry`, key: 'dl.{device}', split: 'none' },
            { name: 'serial', filter: '#', key: 'dl.serial', split: 'none' },
          ],
        },
        store: { dir: join(dir, 'store') },
        quarantine: { dir: join(dir, 'quarantine') },
        queueHealth: { enabled: false },
        downlink: { enabled: true, exchange: `${prefix}.cmd`, queue: `${prefix}.cmd`, dir: join(dir, 'commands'), retryMs: 1000 },
      }),
    );
    await start();
    conn = await amqp.connect(AMQP);
    ch = await conn.createChannel();
    await ch.consume(`${prefix}.all`, (m: ConsumeMessage | null) => {
      if (!m) return;
      const r = decodeBatch(m.content);
      if (r.ok) batches.push(r.value);
      ch.ack(m);
    });
  });

  afterAll(async () => {
    await Promise.all(nodes.map((n) => n.stop().catch(() => undefined)));
    await pipeline?.stop().catch(() => undefined);
    await pty?.stop().catch(() => undefined);
    if (ch) {
      for (const q of ['all', 'unroutable', 'dlq', 'cmd']) await ch.deleteQueue(`${prefix}.${q}`).catch(() => undefined);
      for (const x of ['tele', 'ae', 'dlx', 'cmd']) await ch.deleteExchange(`${prefix}.${x}`).catch(() => undefined);
    }
    await conn?.close().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  });

  it('set_interval over MQTT: confirmed by the node, and the new sample step shows in RabbitMQ', async () => {
    const device = dev('mqtt');
    node(device, { broker: `mqtt://127.0.0.1:${pipeline.mqttPort()}` });
    await waitFor(() => stepsAfter(device, 0).length >= 1, { timeoutMs: 20_000, what: 'a first batch at the old interval' });
    expect(runsAt(stepsAfter(device, 0)[0]!, 1000), String(stepsAfter(device, 0)[0])).toBe(true);

    const confirmedBefore = await commands('confirmed');
    await send(device, 'set_interval', 200, 101);
    await waitFor(async () => (await commands('confirmed')) > confirmedBefore, { timeoutMs: 15_000, what: 'the node to confirm command 101' });
    expect(await commands('sent')).toBeGreaterThanOrEqual(1);
    const from = batches.length;
    // The first batch after the change may straddle it; a later one is all new steps.
    await waitFor(() => stepsAfter(device, from).some((s) => runsAt(s, 200)), { timeoutMs: 15_000, what: 'a batch sampled every 200 ms' });
    expect(await pipeline.health.metricsText()).toMatch(/edge_downlink_commands_total\{outcome="confirmed"\} [1-9]/);
  });

  it('an invalid command is rejected and counted, never stored', async () => {
    const before = await commands('invalid');
    const c = await conn.createConfirmChannel();
    c.publish(`${prefix}.cmd`, `cmd.${dev('mqtt')}`, Buffer.from('{"op":"set_interval","arg":1}'), { contentType: 'application/json' });
    await c.waitForConfirms();
    await c.close();
    await waitFor(async () => (await commands('invalid')) > before, { timeoutMs: 10_000, what: 'the invalid count' });
    await expect(send(dev('mqtt'), 'set_interval', 1, 5)).rejects.toThrow(/out of range 100\.\.3600000/);
  });

  it('a command for an offline node waits in the store across a bridge restart, then is delivered', async () => {
    const device = dev('late');
    const received = await commands('received');
    await send(device, 'set_batch', 2, 202);
    await waitFor(async () => (await commands('received')) > received, { timeoutMs: 10_000, what: 'the command stored' });
    await pipeline.stop();
    await start(); // a new process would see the same: the command store is on disk

    node(device, { broker: `mqtt://127.0.0.1:${pipeline.mqttPort()}`, intervalMs: 200 });
    await waitFor(async () => (await commands('confirmed')) >= 1, { timeoutMs: 15_000, what: 'the late node to confirm command 202' });
    const from = batches.length;
    await waitFor(() => batches.slice(from).some((b) => b.device === device && b.readings.length === 2), { timeoutMs: 15_000, what: 'a 2-reading batch' });
  });

  it('set_interval over serial (socat pty): a cmd frame, confirmed by the status frame', async () => {
    const device = dev('serial');
    node(device, { transport: 'serial', serial: pty.a });
    await waitFor(() => stepsAfter(device, 0).length >= 1, { timeoutMs: 20_000, what: 'a first serial batch' });
    const before = await commands('confirmed');
    await send(device, 'set_interval', 250, 303);
    await waitFor(async () => (await commands('confirmed')) > before, { timeoutMs: 15_000, what: 'the serial node to confirm command 303' });
    const from = batches.length;
    await waitFor(() => stepsAfter(device, from).some((s) => runsAt(s, 250)), { timeoutMs: 15_000, what: 'a serial batch sampled every 250 ms' });
  });

  it('edge-bridge cmd: publishes through RabbitMQ; a bad op or a missing queue is a clear error', async () => {
    const run = (args: string[]) => new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
      const child = spawn(process.execPath, [join(process.cwd(), 'bridge', 'bin', 'edge-bridge.js'), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      child.stdout.on('data', (c: Buffer) => (out += c));
      child.stderr.on('data', (c: Buffer) => (err += c));
      child.once('close', (code) => resolve({ code, out, err }));
    });
    const device = dev('serial');
    const before = await commands('confirmed');
    const ok = await run(['cmd', device, 'ping', '-c', file, '--id', '404']);
    expect(ok.code, ok.err).toBe(0);
    expect(ok.out).toContain(`command #404 ping for ${device} confirmed by RabbitMQ`);
    await waitFor(async () => (await commands('confirmed')) > before, { timeoutMs: 15_000, what: 'the ping confirmed by the node' });

    const badOp = await run(['cmd', device, 'warp', '-c', file]);
    expect(badOp.code).toBe(1);
    expect(badOp.err).toMatch(/invalid command: unknown op/);
    const noQueue = await run(['cmd', device, 'ping', '-c', file, '--set', `downlink.exchange=${prefix}.nobody`]);
    expect(noQueue.code).toBe(1);
    expect(noQueue.err).toMatch(/no queue is bound to '.*\.nobody' for cmd\./);
    await ch.deleteExchange(`${prefix}.nobody`).catch(() => undefined);
  });
});
