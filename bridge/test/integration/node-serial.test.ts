// The serial link end to end with the real C core: a POSIX edge-node on one end of a
// socat pty pair, the bridge's SerialIngress on the other, the shared RabbitMQ
// (run-unique names) behind it. Then the same through the seeded byte proxy (noise,
// bit flips, dropped bytes both ways), and through an unplug and replug of the pty.
import { describe, it, expect, afterEach } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import amqp, { type ConsumeMessage } from 'amqplib';
import { pino } from 'pino';
import { decodeBatch, FrameType } from '../../src/codec/index.ts';
import type { Batch } from '../../src/types.ts';
import { loadConfig } from '../../src/config/index.ts';
import { composeBridge, type Bridge } from '../../src/compose.ts';
import { metricSum } from '../helpers/metrics.ts';
import { uniquePrefix, waitFor, uniqueTopology } from '../../../shared/testkit/unique.ts';
import { startPtyPair, type PtyPair } from '../../../shared/testkit/pty.ts';
import { startByteProxy } from '../helpers/byte-proxy.ts';
import { syntheticReadings, closeTo } from '../helpers/synthetic-sensors.ts';
import { spawnEdgeNode, type EdgeNodeHandle } from '../../../simulator/nodes/edge-node.ts';

const AMQP = 'amqp://guest:guest@127.0.0.1:5672';
const SENSORS = ['temperature', 'humidity'];

const cleanups: Array<() => Promise<unknown> | unknown> = [];
afterEach(async () => {
  while (cleanups.length) await Promise.resolve(cleanups.pop()!()).catch(() => undefined);
});

interface Setup {
  prefix: string;
  dir: string;
  pipeline: Bridge;
  /** The one serial port's counters, as /metrics shows them. */
  serialPort(): Promise<{ bytes: number; frames: number; errors: number; reopens: number }>;
  /** Per seq (one device, one boot per test), with the routing keys its messages had. */
  batches: Map<number, Batch>;
  parts: Map<number, Map<string, Batch>>;
  keys: Map<number, Set<string>>;
}

async function setup(label: string, bridgePath: (dir: string) => Promise<string>): Promise<Setup> {
  const prefix = uniquePrefix(label);
  const dir = mkdtempSync(join(tmpdir(), `edge-${label}-`));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const path = await bridgePath(dir);
  const file = join(dir, 'config.json');
  writeFileSync(
    file,
    JSON.stringify({
      mqtt: { mode: 'off' },
      serial: { ports: [{ path }] },
      amqp: {
        urls: [AMQP],
        topology: uniqueTopology(prefix),
      },
      routing: { rules: [{ name: 'line', filter: '#', key: 'line.{device}.{sensor}', split: 'sensor' }] },
      store: { dir: join(dir, 'store') },
      quarantine: { dir: join(dir, 'quarantine') },
      queueHealth: { enabled: false },
      observe: { dashboard: { enabled: false } },
    }),
  );
  const pipeline = composeBridge(loadConfig({ file, env: {} }), pino({ level: 'silent' }));
  await pipeline.start();
  cleanups.push(() => pipeline.stop());
  const conn = await amqp.connect(AMQP);
  const ch = await conn.createChannel();
  cleanups.push(async () => {
    for (const q of ['all', 'unroutable', 'dlq']) await ch.deleteQueue(`${prefix}.${q}`).catch(() => undefined);
    for (const x of ['tele', 'ae', 'dlx']) await ch.deleteExchange(`${prefix}.${x}`).catch(() => undefined);
    await conn.close();
  });
  const s: Setup = {
    prefix, dir, pipeline, batches: new Map(), parts: new Map(), keys: new Map(),
    serialPort: async () => ({
      bytes: await metricSum(pipeline.health, 'edge_serial_bytes_total'),
      frames: await metricSum(pipeline.health, 'edge_serial_frames_total'),
      errors: await metricSum(pipeline.health, 'edge_serial_frame_errors_total'),
      reopens: await metricSum(pipeline.health, 'edge_serial_reopens_total'),
    }),
  };
  await ch.consume(`${prefix}.all`, (m: ConsumeMessage | null) => {
    if (!m) return;
    const r = decodeBatch(m.content);
    if (!r.ok) throw new Error(`undecodable ${m.properties.messageId}`);
    // split: sensor -> one message per sensor; a retransmitted batch arrives again with the same id and content.
    const parts = s.parts.get(r.value.seq) ?? new Map<string, Batch>();
    parts.set(r.value.readings[0]!.sensor, r.value);
    s.parts.set(r.value.seq, parts);
    const readings = [...parts.values()].flatMap((b) => b.readings).sort((a, b) => a.offset - b.offset || SENSORS.indexOf(a.sensor) - SENSORS.indexOf(b.sensor));
    s.batches.set(r.value.seq, { ...r.value, readings });
    if (!s.keys.has(r.value.seq)) s.keys.set(r.value.seq, new Set());
    s.keys.get(r.value.seq)!.add(m.fields.routingKey);
    ch.ack(m);
  });
  return s;
}

function startNode(s: Setup, serial: string, device: string, seed: number): EdgeNodeHandle {
  const node = spawnEdgeNode({
    device, seed, transport: 'serial', serial, stateDir: join(s.dir, 'node-state'), sensors: SENSORS, intervalMs: 100, batch: 4, ackTimeoutMs: 400, verbose: true,
  });
  cleanups.push(() => node.stop());
  return node;
}

const contiguous = (s: Setup) => {
  let n = 0;
  while (s.batches.has(n) && s.batches.get(n)!.readings.length === 4) n++;
  return n;
};
const ackedSeqs = (node: EdgeNodeHandle) =>
  node.lines.map((l) => l.match(/^edge-node: acked device=\S+ boot=\d+ seq=(\d+)/)).filter((m) => m).map((m) => Number(m![1]));

/** Every complete batch that arrived holds exactly the seed's readings for its seq (4 per batch): nothing damaged got through. */
function expectSeeded(s: Setup, seed: number): void {
  const seqs = [...s.batches.keys()].filter((q) => s.batches.get(q)!.readings.length === 4);
  const want = syntheticReadings(seed, SENSORS, 4 * (Math.max(...seqs) + 1));
  let off = 0;
  for (const q of seqs) {
    s.batches.get(q)!.readings.forEach((r, k) => {
      const w = want[4 * q + k]!;
      if (r.sensor !== w.sensor || !closeTo(r.sensor, r.value, w.value)) off++;
    });
  }
  expect(seqs.length).toBeGreaterThan(0);
  expect(off, `${off} readings differ from seed ${seed}`).toBe(0);
}

describe('POSIX edge-node over a serial pty into the bridge and RabbitMQ', () => {
  it('N batches reach RabbitMQ with the right keys, seq continuous, readings as seeded', async () => {
    let pty!: PtyPair;
    const s = await setup('ser-e2e', async (dir) => {
      pty = await startPtyPair(dir);
      cleanups.push(() => pty.stop());
      return pty.b;
    });
    const device = `${s.prefix}-n1`;
    const node = startNode(s, pty.a, device, 31);
    await waitFor(() => contiguous(s) >= 30, { timeoutMs: 30_000, what: '30 batches in RabbitMQ' });
    for (let q = 0; q < 30; q++) expect([...s.keys.get(q)!].sort()).toEqual([`line.${device}.humidity`, `line.${device}.temperature`]);
    expectSeeded(s, 31);
    const acked = ackedSeqs(node);
    expect(acked.length).toBeGreaterThan(0);
    await waitFor(() => acked.every((q) => s.batches.has(q)), { timeoutMs: 15_000, what: 'every acked batch in RabbitMQ' });
  });

  it('through the seeded byte proxy: acked ids are in RabbitMQ, untouched frames arrive, touched ones are counted or intact', async () => {
    let nodeSide!: string;
    let proxy!: Awaited<ReturnType<typeof startByteProxy>>;
    const s = await setup('ser-noise', async (dir) => {
      const nodePair = await startPtyPair(dir, { a: 'node', b: 'proxy-n' });
      const bridgePair = await startPtyPair(dir, { a: 'proxy-b', b: 'bridge' });
      cleanups.push(() => nodePair.stop(), () => bridgePair.stop());
      proxy = await startByteProxy(nodePair.b, bridgePair.a, { seed: 77031, faultRate: 0.15 });
      cleanups.push(() => proxy.close());
      nodeSide = nodePair.a;
      return bridgePair.b;
    });
    const node = startNode(s, nodeSide, `${s.prefix}-n2`, 32);
    await waitFor(() => contiguous(s) >= 60 && proxy.touched.filter((t) => t.direction === 'toBridge').length >= 8, { timeoutMs: 60_000, what: '60 batches and 8 damaged frames' });
    await node.stop();
    // A clean trailing delimiter closes whatever the last fault left open.
    proxy.setFaultRate(0);
    await waitFor(async () => (await s.serialPort()).bytes === proxy.bytesOut.toBridge, { what: 'the bridge to read every relayed byte' });

    // Nothing damaged slipped through the CRC: every batch that arrived is exactly as seeded.
    // Every batch the node saw acked is in RabbitMQ.
    const acked = ackedSeqs(node);
    expect(acked.length).toBeGreaterThan(40);
    await waitFor(() => acked.every((q) => s.batches.get(q)?.readings.length === 4), { timeoutMs: 15_000, what: 'every acked batch in RabbitMQ' });
    // Every untouched telemetry frame arrived (unless a damaged delimiter merged it into the one before).
    const toBridge = proxy.relayed.filter((r) => r.direction === 'toBridge');
    const delimiterHit = new Set(proxy.touched.filter((t) => t.direction === 'toBridge' && t.delimiterDamaged).map((t) => t.position));
    const untouched = toBridge.filter((r) => !r.touched && r.type === FrameType.telemetry && !delimiterHit.has(r.position - 1));
    expect(untouched.length).toBeGreaterThan(50);
    await waitFor(() => untouched.every((r) => s.batches.get(r.seq!)?.readings.length === 4), { timeoutMs: 15_000, what: 'every untouched frame in RabbitMQ' });
    expectSeeded(s, 32);
    // Retransmission healed the losses: the first 60 seqs are all there.
    expect(contiguous(s)).toBeGreaterThanOrEqual(60);
    // Every relayed frame was decoded or counted as an error; a hit delimiter merges two frames into one error.
    const { errors, frames } = await s.serialPort();
    expect(errors).toBeGreaterThan(0);
    expect(frames + errors + delimiterHit.size).toBeGreaterThanOrEqual(toBridge.length);
    // Acks were damaged on the way back too, and the node recovered by retransmitting.
    expect(proxy.touched.some((t) => t.direction === 'toNode')).toBe(true);
  });

  it('unplug and replug: the bridge reopens the port by itself, the node resends at once, seq stays continuous', async () => {
    let pty!: PtyPair;
    const s = await setup('ser-plug', async (dir) => {
      pty = await startPtyPair(dir);
      cleanups.push(() => pty.stop());
      return pty.b;
    });
    const node = startNode(s, pty.a, `${s.prefix}-n3`, 33);
    await waitFor(() => contiguous(s) >= 10, { timeoutMs: 30_000, what: '10 batches before the unplug' });
    const reopensBefore = (await s.serialPort()).reopens;

    await pty.stop(); // unplug: both ends vanish
    const before = contiguous(s);
    // The node keeps sampling into its outbox while nobody answers (its backoff grows).
    await waitFor(() => node.lines.length > 0 && node.stderr().includes('serial closed'), { timeoutMs: 10_000, what: 'the node to see the unplug' });
    await new Promise((r) => setTimeout(r, 4000)); // unplugged for a while: ~10 batches pile up
    await pty.restart(); // replug at the same paths

    // Within seconds, not the 60 s the backoff could reach: the reopen resets it.
    await waitFor(() => contiguous(s) >= before + 15, { timeoutMs: 15_000, what: 'the batches held during the unplug' });
    expect(Math.max(...s.batches.keys())).toBeLessThanOrEqual(contiguous(s) + 2);
    await waitFor(() => Math.max(...s.batches.keys()) === contiguous(s) - 1, { what: 'no gap' });
    expect((await s.serialPort()).reopens).toBeGreaterThan(reopensBefore);
    expectSeeded(s, 33);
  });
});
