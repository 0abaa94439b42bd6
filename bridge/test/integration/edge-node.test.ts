// The POSIX port of the firmware core (firmware/build/edge-node) against a
// private Mosquitto and a socat pty pair: what a real node puts on the wire.
// Needs `make -C firmware posix` first.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectAsync, type IClientOptions, type MqttClient } from 'mqtt';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SerialPort } from 'serialport';
import {
  AckCode,
  decodeBatch,
  decodeStatus,
  encodeAck,
  encodeCommand,
  FrameDecoder,
  FrameType,
  type Frame,
  type StatusMessage,
} from '../../src/codec/index.ts';
import type { Batch } from '../../src/types.ts';
import { spawnEdgeNode, type EdgeNodeHandle, type EdgeNodeOptions } from '../../../simulator/nodes/edge-node.ts';
import { startPrivateMosquitto, type PrivateMosquitto } from '../../../shared/testkit/mosquitto.ts';
import { startPtyPair } from '../../../shared/testkit/pty.ts';
import { uniquePrefix, waitFor } from '../../../shared/testkit/unique.ts';

const SENSORS = ['temperature', 'humidity', 'pot'];

interface Received {
  topic: string;
  payload: Buffer;
  retain: boolean;
}

/** A QoS 1 subscriber that records everything under `<prefix>/<device>/#`. */
async function subscribe(url: string, filter: string, opts: IClientOptions = {}) {
  const got: Received[] = [];
  const client = await connectAsync(url, { clientId: uniquePrefix('sub'), reconnectPeriod: 100, ...opts });
  client.on('message', (topic, payload, packet) => got.push({ topic, payload, retain: packet.retain }));
  await client.subscribeAsync(filter, { qos: 1 });
  return { client, got };
}

function batches(got: Received[], topic: string): Batch[] {
  return got
    .filter((m) => m.topic === topic)
    .map((m) => {
      const r = decodeBatch(m.payload);
      if (!r.ok) throw new Error(`bad batch: ${r.detail}`);
      return r.value;
    });
}

function statuses(got: Received[], topic: string): (StatusMessage & { retained: boolean })[] {
  return got
    .filter((m) => m.topic === topic)
    .map((m) => {
      const r = decodeStatus(m.payload);
      if (!r.ok) throw new Error(`bad status: ${r.detail}`);
      return { ...r.value, retained: m.retain };
    });
}

/** Distinct seqs, sorted; a run with no gap is exactly 0..n-1. */
const seqsOf = (bs: Batch[]) => [...new Set(bs.map((b) => b.seq))].sort((x, y) => x - y);
const range = (n: number) => Array.from({ length: n }, (_, i) => i);

describe('edge-node (POSIX port) over MQTT', () => {
  let mosquitto: PrivateMosquitto;
  let dir: string;
  const running: EdgeNodeHandle[] = [];
  const clients: MqttClient[] = [];

  beforeAll(async () => {
    mosquitto = await startPrivateMosquitto();
    dir = mkdtempSync(join(tmpdir(), 'edge-node-'));
  });
  afterAll(async () => {
    await Promise.all(running.map((n) => n.stop('SIGKILL')));
    await Promise.all(clients.map((c) => c.endAsync(true)));
    await mosquitto?.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  function start(opts: Partial<EdgeNodeOptions> & { device: string }): EdgeNodeHandle {
    const node = spawnEdgeNode({ broker: mosquitto.url, stateDir: join(dir, opts.device), ...opts });
    running.push(node);
    return node;
  }

  async function sub(filter: string, opts?: IClientOptions) {
    const s = await subscribe(mosquitto.url, filter, opts);
    clients.push(s.client);
    return s;
  }

  it('publishes continuous batches and a retained birth; a restart bumps boot; SIGKILL leaves the last will', async () => {
    const device = uniquePrefix('en');
    const prefix = `factory/${uniquePrefix('fl')}`;
    const base = `${prefix}/${device}`;
    const { got } = await sub(`${base}/#`);
    const common = { device, prefix, intervalMs: 100, batch: 4, sensors: SENSORS, seed: 42 };

    // Run 1: --count 5 exits on its own once five batches are PUBACKed.
    const first = start({ ...common, count: 5 });
    expect(await first.waitForExit()).toEqual({ code: 0, signal: null });
    expect(first.lines.at(-1)).toMatch(new RegExp(`^edge-node: stopped device=${device} boot=1 published=\\d+ acked=5 dropped=0`));
    await waitFor(() => batches(got, `${base}/telemetry`).length >= 5, { what: 'five batches' });
    const run1 = batches(got, `${base}/telemetry`);
    expect(seqsOf(run1)).toEqual(range(seqsOf(run1).length));
    for (const b of run1) {
      expect(b).toMatchObject({ device, boot: 1, fw: '1.0.0-posix', unsynced: false });
      expect(b.readings).toHaveLength(4);
    }
    // Readings come tick by tick in the configured sensor order.
    const names = run1.slice(0, 5).flatMap((b) => b.readings.map((r) => r.sensor));
    expect(names).toEqual(range(20).map((i) => SENSORS[i % 3]));
    const st1 = statuses(got, `${base}/status`);
    expect(st1[0]).toMatchObject({ d: device, b: 1, st: 'online', iv: 100, bs: 4, cmd: 0 });
    expect(st1.at(-1)).toMatchObject({ b: 1, st: 'offline' }); // clean stop says so itself

    // Run 2, same state dir: boot 2, seq from 0 again, so device:boot:seq never repeats.
    got.length = 0;
    const second = start(common);
    await waitFor(() => batches(got, `${base}/telemetry`).length >= 3, { what: 'batches of boot 2' });
    const run2 = batches(got, `${base}/telemetry`);
    expect(run2.every((b) => b.boot === 2)).toBe(true);
    expect(run2[0]!.seq).toBe(0);
    // Same seed, same readings.
    expect(run2[0]!.readings.map((r) => r.value)).toEqual(run1[0]!.readings.map((r) => r.value));

    // A late subscriber gets the retained birth of boot 2.
    const late = await sub(`${base}/status`);
    await waitFor(() => late.got.length > 0, { what: 'retained status' });
    expect(statuses(late.got, `${base}/status`)[0]).toMatchObject({ d: device, b: 2, st: 'online', retained: true });

    got.length = 0;
    expect(await second.stop('SIGKILL')).toEqual({ code: null, signal: 'SIGKILL' });
    await waitFor(() => statuses(got, `${base}/status`).some((s) => s.st === 'offline'), { what: 'last will' });
    expect(statuses(got, `${base}/status`).find((s) => s.st === 'offline')).toEqual({
      v: 1,
      d: device,
      b: 2,
      st: 'offline',
      retained: false,
    });
  });

  it('replays its outbox after the broker was away, with no seq gap', async () => {
    const device = uniquePrefix('en');
    const prefix = `factory/${uniquePrefix('fl')}`;
    const topic = `${prefix}/${device}/telemetry`;
    // Persistent session: the broker keeps what it had for us across its own restart.
    const { got } = await sub(topic, { clean: false, clientId: uniquePrefix('persist') });
    const node = start({ device, prefix, intervalMs: 100, batch: 4, verbose: true });
    await waitFor(() => batches(got, topic).length >= 3, { what: 'batches before the outage' });

    await mosquitto.stop();
    const atStop = seqsOf(batches(got, topic)).length;
    await new Promise((r) => setTimeout(r, 5000));
    await mosquitto.start();

    // ~5 s at 7.5 batches/s were made while away; wait until well past them.
    await waitFor(() => seqsOf(batches(got, topic)).length >= atStop + 45, { timeoutMs: 15_000, what: 'replayed batches' });
    const seqs = seqsOf(batches(got, topic));
    expect(seqs).toEqual(range(seqs.length));
    expect(batches(got, topic).every((b) => b.boot === 1)).toBe(true);
    expect(node.stderr()).toMatch(/mqtt disconnected/);

    const exit = await node.stop('SIGTERM');
    expect(exit).toEqual({ code: 0, signal: null });
    expect(node.lines.at(-1)).toMatch(/^edge-node: stopped .* dropped=0/);
  });

  it('applies a downlink set_interval and confirms it in the next status', async () => {
    const device = uniquePrefix('en');
    const prefix = `factory/${uniquePrefix('fl')}`;
    const base = `${prefix}/${device}`;
    const { client, got } = await sub(`${base}/status`);
    const node = start({ device, prefix, intervalMs: 100, batch: 4 });
    // The cmd SUBSCRIBE goes out before the birth on the same connection.
    await waitFor(() => statuses(got, `${base}/status`).some((s) => s.st === 'online'), { what: 'birth' });

    await client.publishAsync(`${base}/cmd`, encodeCommand({ v: 1, id: 7, op: 'set_interval', arg: 250 }), { qos: 1 });
    const confirmed = await waitFor(() => statuses(got, `${base}/status`).find((s) => s.cmd === 7), { what: 'status with cmd=7' });
    expect(confirmed).toMatchObject({ d: device, st: 'online', cmd: 7, iv: 250, bs: 4 });
    await node.stop();
  });
});

describe('edge-node (POSIX port) over serial', () => {
  it('sends framed batches, stops on acks and retransmits a withheld one with the same seq', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'edge-node-serial-'));
    const pty = await startPtyPair(dir);
    const frames: Frame[] = [];
    const decoder = new FrameDecoder({ onFrame: (f) => frames.push(f) });
    const port = new SerialPort({ path: pty.b, baudRate: 115200, autoOpen: false });
    await new Promise<void>((resolve, reject) => port.open((err) => (err ? reject(err) : resolve())));
    const withheld = new Set<number>();
    let acking = true;
    port.on('data', (chunk: Buffer) => {
      const before = frames.length;
      decoder.push(chunk);
      for (const f of frames.slice(before)) {
        if (f.type === FrameType.telemetry && acking && !withheld.has(f.seq)) port.write(encodeAck(f.seq, AckCode.stored));
      }
    });
    const device = uniquePrefix('en');
    const node = spawnEdgeNode({
      device,
      transport: 'serial',
      serial: pty.a,
      stateDir: join(dir, 'state'),
      intervalMs: 100,
      batch: 4,
      ackTimeoutMs: 300,
      verbose: true,
    });
    const telemetry = () => frames.filter((f) => f.type === FrameType.telemetry);
    const sends = (seq: number) => telemetry().filter((f) => f.seq === seq).length;
    try {
      await node.waitForLine(/started .* boot=1 transport=serial/);
      await waitFor(() => telemetry().length >= 6, { what: 'six telemetry frames' });

      const status = frames.find((f) => f.type === FrameType.status);
      expect(status?.seq).toBe(0);
      const st = decodeStatus(status!.payload);
      expect(st.ok && st.value).toMatchObject({ d: device, b: 1, st: 'online' });
      for (const f of telemetry()) {
        const b = decodeBatch(f.payload);
        expect(b.ok && b.value).toMatchObject({ device, boot: 1, seq: f.seq });
      }

      // Hold back the ack of the next seq: it comes again after the ack timeout.
      const held = Math.max(...telemetry().map((f) => f.seq)) + 2;
      withheld.add(held);
      await waitFor(() => sends(held) >= 2, { timeoutMs: 5000, what: `retransmit of seq ${held}` });
      const [firstSend, resend] = telemetry().filter((f) => f.seq === held);
      expect(resend!.payload.equals(firstSend!.payload)).toBe(true);

      // Ack it: no more copies; acked seqs were each sent exactly once.
      withheld.delete(held);
      port.write(encodeAck(held, AckCode.stored));
      await node.waitForLine(new RegExp(`acked device=${device} boot=1 seq=${held} readings=4`));
      const copies = sends(held);
      await new Promise((r) => setTimeout(r, 1500));
      expect(sends(held)).toBe(copies);
      const seqs = [...new Set(telemetry().map((f) => f.seq))].sort((x, y) => x - y);
      expect(seqs).toEqual(range(seqs.length));
      for (let s = 0; s < held; s++) expect(sends(s), `copies of seq ${s}`).toBe(1);
      expect(decoder.errors.bad_crc + decoder.errors.bad_cobs).toBe(0);

      acking = false;
      const exit = await node.stop('SIGINT');
      expect(exit).toEqual({ code: 0, signal: null });
      expect(node.lines.at(-1)).toMatch(new RegExp(`^edge-node: stopped device=${device} boot=1 published=\\d+ acked=\\d+ dropped=0`));
    } finally {
      await node.stop('SIGKILL');
      await new Promise<void>((resolve) => (port.isOpen ? port.close(() => resolve()) : resolve()));
      await pty.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
