// POSIX edge-node processes (the firmware's C core) against the real bridge and the
// shared RabbitMQ (run-unique names), in both MQTT modes, each through a 30 s outage
// of the broker the nodes talk to:
//   (a) embedded: the bridge, and so its broker, is down for 30 s, then restarts on
//       the same port and store;
//   (b) external: a private Mosquitto between nodes and bridge is down for 30 s.
// Afterwards every seq from 0 up is in RabbitMQ (the outbox replayed what the outage
// held), and every reading equals what the node's seed produces.
import { describe, it, expect, afterAll } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import amqp, { type ChannelModel, type Channel, type ConsumeMessage } from 'amqplib';
import { pino } from 'pino';
import { decodeBatch } from '../../src/codec/index.ts';
import type { Batch } from '../../src/types.ts';
import { loadConfig } from '../../src/config/index.ts';
import { composeBridge, type Bridge } from '../../src/compose.ts';
import { uniquePrefix, waitFor } from '../../../shared/testkit/unique.ts';
import { freePort } from '../../../shared/testkit/ports.ts';
import { startPrivateMosquitto, type PrivateMosquitto } from '../../../shared/testkit/mosquitto.ts';
import { syntheticReadings, closeTo } from '../helpers/synthetic-sensors.ts';
import { spawnEdgeNode, type EdgeNodeHandle } from '../../../simulator/nodes/edge-node.ts';

const AMQP = 'amqp://guest:guest@127.0.0.1:5672';
const SENSORS = ['temperature', 'humidity', 'pot'];
const OUTAGE_MS = 30_000;
// One batch a second (2 samples x 3 sensors, 500 ms apart): 30 batches held during the
// outage, well inside the outbox's 64, so the test proves replay, not drop-oldest.
const NODE = { intervalMs: 500, batch: 6, sensors: SENSORS };

interface Run {
  prefix: string;
  dir: string;
  conn: ChannelModel;
  ch: Channel;
  /** Per device, batches by seq (duplicates overwrite: they carry the same id and content). */
  byDevice: Map<string, Map<number, Batch>>;
  ids: string[];
}

async function startRun(label: string): Promise<Run> {
  const prefix = uniquePrefix(label);
  const dir = mkdtempSync(join(tmpdir(), `edge-${label}-`));
  const conn = await amqp.connect(AMQP);
  const ch = await conn.createChannel();
  return { prefix, dir, conn, ch, byDevice: new Map(), ids: [] };
}

async function consume(run: Run): Promise<void> {
  await run.ch.consume(`${run.prefix}.all`, (m: ConsumeMessage | null) => {
    if (!m) return;
    const r = decodeBatch(m.content);
    if (!r.ok) throw new Error(`undecodable ${m.properties.messageId}`);
    const b = r.value;
    if (!run.byDevice.has(b.device)) run.byDevice.set(b.device, new Map());
    run.byDevice.get(b.device)!.set(b.seq, b);
    run.ids.push(m.properties.messageId as string);
    run.ch.ack(m);
  });
}

function config(run: Run, mqtt: object, topicPrefix: string): string {
  const file = join(run.dir, 'config.json');
  writeFileSync(
    file,
    JSON.stringify({
      mqtt,
      amqp: {
        urls: [AMQP],
        topology: {
          exchange: `${run.prefix}.tele`, alternateExchange: `${run.prefix}.ae`, unroutableQueue: `${run.prefix}.unroutable`,
          deadLetterExchange: `${run.prefix}.dlx`, deadLetterQueue: `${run.prefix}.dlq`,
          queues: [{ name: `${run.prefix}.all`, bindings: ['#'] }],
        },
      },
      routing: { rules: [{ name: 'nodes', filter: `${topicPrefix}/+device/telemetry`, key: 'node.{device}', split: 'none' }] },
      store: { dir: join(run.dir, 'store') },
      quarantine: { dir: join(run.dir, 'quarantine') },
      queueHealth: { enabled: false },
      observe: { dashboard: { enabled: false } },
    }),
  );
  return file;
}

async function cleanup(run: Run | undefined): Promise<void> {
  if (!run) return;
  for (const q of ['all', 'unroutable', 'dlq']) await run.ch.deleteQueue(`${run.prefix}.${q}`).catch(() => undefined);
  for (const x of ['tele', 'ae', 'dlx']) await run.ch.deleteExchange(`${run.prefix}.${x}`).catch(() => undefined);
  await run.conn.close().catch(() => undefined);
  rmSync(run.dir, { recursive: true, force: true });
}

/** seq 0..n-1 all present for the device's single boot. */
function contiguous(run: Run, device: string): number {
  const seqs = run.byDevice.get(device);
  if (!seqs) return 0;
  let n = 0;
  while (seqs.has(n)) n++;
  return n;
}

/** No seq above a missing one (batches in flight may briefly arrive out of order, so tests wait for this). */
function noGap(run: Run, device: string): boolean {
  const seqs = run.byDevice.get(device);
  return !!seqs && Math.max(...seqs.keys()) === contiguous(run, device) - 1;
}

/** The readings of seq 0..n-1, in order, are what the seed produces. */
function expectSeededReadings(run: Run, device: string, seed: number, n: number): void {
  const batches = [...Array(n).keys()].map((s) => run.byDevice.get(device)!.get(s)!);
  expect(new Set(batches.map((b) => b.boot)).size).toBe(1);
  const got = batches.flatMap((b) => b.readings);
  const want = syntheticReadings(seed, SENSORS, got.length);
  const off = got.map((r, i) => ({ i, got: r, want: want[i]! })).filter(({ got: g, want: w }) => g.sensor !== w.sensor || !closeTo(g.sensor, g.value, w.value));
  expect(off.slice(0, 5), `${off.length} of ${got.length} readings differ from seed ${seed}`).toEqual([]);
  // Offsets inside a batch follow the sample interval (real times, so a few ms of jitter).
  for (const b of batches) {
    const step = b.readings[3]!.offset - b.readings[0]!.offset;
    expect(Math.abs(step - NODE.intervalMs), `batch ${b.seq} offsets ${b.readings.map((r) => r.offset)}`).toBeLessThan(NODE.intervalMs * 0.5);
  }
}

describe('POSIX edge-node -> bridge -> RabbitMQ, through a 30 s broker outage', () => {
  const nodes: EdgeNodeHandle[] = [];
  let pipeline: Bridge | undefined;
  let mosq: PrivateMosquitto | undefined;
  const runs: Run[] = [];

  afterAll(async () => {
    await Promise.all(nodes.map((n) => n.stop().catch(() => undefined)));
    await pipeline?.stop().catch(() => undefined);
    await mosq?.dispose().catch(() => undefined);
    for (const r of runs) await cleanup(r);
  });

  it('(a) embedded broker: the bridge is down 30 s and restarts; seq has no gap and readings match the seeds', async () => {
    const run = await startRun('node-emb');
    runs.push(run);
    const port = await freePort();
    const topicPrefix = `${run.prefix}/floor1`;
    const file = config(run, { mode: 'embedded', embedded: { host: '127.0.0.1', port } }, topicPrefix);
    const start = async () => {
      pipeline = composeBridge(loadConfig({ file, env: {} }), pino({ level: 'silent' }));
      await pipeline.start();
    };
    await start();
    await consume(run);
    const devices = [1, 2].map((i) => ({ device: `${run.prefix}-n${i}`, seed: 1000 + i }));
    for (const d of devices) {
      nodes.push(spawnEdgeNode({ ...d, ...NODE, stateDir: join(run.dir, d.device), broker: `mqtt://127.0.0.1:${port}`, prefix: topicPrefix }));
    }
    await waitFor(() => devices.every((d) => contiguous(run, d.device) >= 3), { timeoutMs: 20_000, what: '3 batches from each node' });

    await pipeline!.stop();
    pipeline = undefined;
    const before = new Map(devices.map((d) => [d.device, contiguous(run, d.device)]));
    const downAt = Date.now();
    await new Promise((r) => setTimeout(r, OUTAGE_MS)); // the outage itself, not a wait for a result
    await start();
    // Everything sampled during the outage (about 30 batches each) must arrive, with no gap.
    await waitFor(() => devices.every((d) => contiguous(run, d.device) >= before.get(d.device)! + Math.floor(OUTAGE_MS / 1000) - 2 && noGap(run, d.device)), {
      timeoutMs: 60_000, what: 'the held batches replayed, with no gap',
    });
    expect(Date.now() - downAt).toBeGreaterThanOrEqual(OUTAGE_MS);
    for (const d of devices) {
      const n = contiguous(run, d.device);
      expectSeededReadings(run, d.device, d.seed, n);
    }
  });

  it('(b) external mode: the private Mosquitto between nodes and bridge is down 30 s; no seq gap after recovery', async () => {
    const run = await startRun('node-ext');
    runs.push(run);
    mosq = await startPrivateMosquitto();
    const topicPrefix = `${run.prefix}/floor1`;
    const file = config(run, { mode: 'external', external: { url: mosq.url, clientId: `${run.prefix}-bridge`, topics: [`${topicPrefix}/+/telemetry`] } }, topicPrefix);
    pipeline = composeBridge(loadConfig({ file, env: {} }), pino({ level: 'silent' }));
    await pipeline.start();
    await consume(run);
    const d = { device: `${run.prefix}-x1`, seed: 2001 };
    nodes.push(spawnEdgeNode({ ...d, ...NODE, stateDir: join(run.dir, d.device), broker: mosq.url, prefix: topicPrefix }));
    await waitFor(() => contiguous(run, d.device) >= 3, { timeoutMs: 20_000, what: '3 batches through Mosquitto' });

    await mosq.stop('SIGTERM');
    const before = contiguous(run, d.device);
    await new Promise((r) => setTimeout(r, OUTAGE_MS));
    await mosq.start();
    await waitFor(() => contiguous(run, d.device) >= before + Math.floor(OUTAGE_MS / 1000) - 2 && noGap(run, d.device), { timeoutMs: 60_000, what: 'the held batches through Mosquitto, with no gap' });
    const n = contiguous(run, d.device);
    expectSeededReadings(run, d.device, d.seed, n);
  });
});
