// SerialIngress over real pseudo-terminals (socat) and real node-serialport, plus a
// raw TCP "serial server". A small TS node plays the device on the other end.
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { SerialPort } from 'serialport';
import { afterEach, describe, expect, it } from 'vitest';
import {
  AckCode,
  cobsEncode,
  crc16,
  decodeBatch,
  encodeBatch,
  encodeCommand,
  encodeFrame,
  encodeStatus,
  FrameDecoder,
  FrameType,
  type Frame,
} from '../../src/codec/index.ts';
import { SerialIngress } from '../../src/ingress/serial.ts';
import type { IngestOutcome, RawMessage } from '../../src/types.ts';
import { startByteProxy } from '../helpers/byte-proxy.ts';
import { startPtyPair, type PtyPair } from '../../../shared/testkit/pty.ts';
import { uniquePrefix, waitFor } from '../../../shared/testkit/unique.ts';

const DEVICE = 'node-1';

function batchPayload(seq: number, device = DEVICE): Buffer {
  // A fixed ts keeps the bytes (and so the byte proxy's seeded faults) the same on every run.
  return encodeBatch({
    v: 1,
    device,
    boot: 3,
    seq,
    fw: '1.2.0',
    ts: 1_700_000_000_000,
    unsynced: false,
    readings: [
      { sensor: 'temp', offset: 0, value: 21.5 + seq },
      { sensor: 'hum', offset: 500, value: 40 },
    ],
  });
}

function telemetry(seq: number, payload = batchPayload(seq)): Buffer {
  return encodeFrame({ type: FrameType.telemetry, seq, payload });
}

/** COBS + delimiter around raw bytes the encoder would refuse (wrong version, oversized). */
function wire(raw: Buffer): Buffer {
  return Buffer.concat([cobsEncode(raw), Buffer.of(0)]);
}

function rawFrame(version: number, type: number, seq: number, payload: Buffer): Buffer {
  const raw = Buffer.alloc(6 + payload.length + 2);
  raw[0] = version;
  raw[1] = type;
  raw.writeUInt32BE(seq, 2);
  payload.copy(raw, 6);
  raw.writeUInt16BE(crc16(raw, 0, raw.length - 2), raw.length - 2);
  return raw;
}

/** The device end: writes frames, decodes what the bridge sends back (acks, commands). */
class TestNode {
  readonly acks = new Map<number, number>();
  readonly commands: Frame[] = [];
  bytesIn = 0;
  private readonly decoder = new FrameDecoder({
    onFrame: (frame) => {
      if (frame.type === FrameType.ack) this.acks.set(frame.seq, frame.payload[0]!);
      else if (frame.type === FrameType.cmd) this.commands.push(frame);
    },
  });

  private constructor(private readonly out: { write(bytes: Buffer, done: (err?: Error | null) => void): unknown; close(): Promise<void> }) {}

  get decodeErrors(): number {
    return Object.values(this.decoder.errors).reduce((a, b) => a + b, 0);
  }

  static async open(path: string): Promise<TestNode> {
    const port = new SerialPort({ path, baudRate: 115200, autoOpen: false });
    await new Promise<void>((resolve, reject) => port.open((err) => (err ? reject(err) : resolve())));
    port.on('error', () => undefined);
    const node = new TestNode({
      write: (bytes, done) => port.write(bytes, done),
      close: () => new Promise<void>((resolve) => (port.isOpen ? port.close(() => resolve()) : resolve())),
    });
    port.on('data', (chunk: Buffer) => node.receive(chunk));
    return node;
  }

  static overSocket(socket: Socket): TestNode {
    const node = new TestNode({
      write: (bytes, done) => socket.write(bytes, done),
      close: async () => void socket.destroy(),
    });
    socket.on('data', (chunk: Buffer) => node.receive(chunk));
    socket.on('error', () => undefined);
    return node;
  }

  write(bytes: Buffer): Promise<void> {
    return new Promise((resolve, reject) => this.out.write(bytes, (err) => (err ? reject(err) : resolve())));
  }

  close(): Promise<void> {
    return this.out.close();
  }

  private receive(chunk: Buffer): void {
    this.bytesIn += chunk.length;
    this.decoder.push(chunk);
  }
}

/** Records every message; answers with `decide` (stored by default, rejected when the batch does not decode). */
class RecordingHandler {
  readonly messages: RawMessage[] = [];
  decide: (msg: RawMessage) => IngestOutcome | Promise<IngestOutcome> = (msg) => {
    if (msg.topic.endsWith('/status')) return { kind: 'stored' };
    const batch = decodeBatch(msg.payload);
    return batch.ok ? { kind: 'stored' } : { kind: 'rejected', reason: batch.error };
  };

  readonly handle = async (msg: RawMessage): Promise<IngestOutcome> => {
    this.messages.push(msg);
    return this.decide(msg);
  };

  telemetrySeqs(): number[] {
    return this.messages.filter((m) => !m.topic.endsWith('/status')).map((m) => seqOfBatch(m.payload));
  }
}

function seqOfBatch(payload: Buffer): number {
  const batch = decodeBatch(payload);
  return batch.ok ? batch.value.seq : -1;
}

/** A pino logger whose lines the test can read. */
function capturingLogger(): { logger: pino.Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      done();
    },
  });
  return { logger: pino({ level: 'debug' }, sink), lines };
}

const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);

// Everything a test starts is stopped here, last first, even when the test failed.
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

function tmpDir(): string {
  const dir = mkdtempSync(join(tmpdir(), `${uniquePrefix('serial')}-`));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function ptyPair(dir: string, names?: { a?: string; b?: string }): Promise<PtyPair> {
  const pair = await startPtyPair(dir, names);
  cleanups.push(() => pair.stop());
  return pair;
}

async function startIngress(ingress: SerialIngress, handler: RecordingHandler): Promise<SerialIngress> {
  await ingress.start(handler.handle);
  cleanups.push(() => ingress.stop());
  return ingress;
}

async function openNode(path: string): Promise<TestNode> {
  const node = await TestNode.open(path);
  cleanups.push(() => node.close());
  return node;
}

describe('SerialIngress over a pty pair', () => {
  it('hands 50 telemetry frames to the handler and acks each with its own seq', async () => {
    const pair = await ptyPair(tmpDir());
    const handler = new RecordingHandler();
    const ingress = await startIngress(new SerialIngress({ ports: [{ path: pair.b, baudRate: 115200 }] }), handler);
    const node = await openNode(pair.a);

    for (const seq of range(0, 50)) await node.write(telemetry(seq));

    await waitFor(() => node.acks.size === 50, { what: '50 acks' });
    expect(handler.telemetrySeqs()).toEqual(range(0, 50));
    expect([...node.acks.keys()].sort((a, b) => a - b)).toEqual(range(0, 50));
    expect([...node.acks.values()].every((code) => code === AckCode.stored)).toBe(true);
    const message = handler.messages[0]!;
    expect(message).toMatchObject({ transport: 'serial', topic: `serial:${pair.b}`, source: pair.b });
    expect(message.payload.equals(batchPayload(0))).toBe(true);
    expect(ingress.stats.ports[0]).toMatchObject({ open: true, frames: 50, acks: { stored: 50, rejected: 0, busy: 0 } });
  });

  it('acks busy (0x02) and rejected (0x01) as the handler answers; status frames are handled, not acked', async () => {
    const pair = await ptyPair(tmpDir());
    const handler = new RecordingHandler();
    await startIngress(new SerialIngress({ ports: [{ path: pair.b, baudRate: 115200 }] }), handler);
    const node = await openNode(pair.a);

    const decideNormally = handler.decide;
    handler.decide = () => ({ kind: 'busy', reason: 'store full' });
    await node.write(telemetry(100));
    await waitFor(() => node.acks.has(100), { what: 'ack for the busy frame' });
    expect(node.acks.get(100)).toBe(AckCode.busy);

    handler.decide = decideNormally;
    await node.write(telemetry(101, Buffer.from('not a batch')));
    await node.write(telemetry(100)); // the node's retry of the busy frame
    const status = encodeStatus({ v: 1, d: DEVICE, b: 3, st: 'online', up: 5, rssi: -60, heap: 100_000, drop: 0, iv: 1000, bs: 10, cmd: 0 });
    await node.write(encodeFrame({ type: FrameType.status, seq: 0, payload: status }));

    await waitFor(() => handler.messages.length === 4, { what: 'four handler calls' });
    await waitFor(() => node.acks.has(101) && node.acks.get(100) === AckCode.stored, { what: 'acks for 101 and the retried 100' });
    expect(node.acks.get(101)).toBe(AckCode.rejected);
    expect(handler.messages[3]).toMatchObject({ topic: `serial:${pair.b}/status`, source: pair.b });
    expect(handler.messages[3]!.payload.equals(status)).toBe(true);
    expect(node.acks.has(0)).toBe(false); // status carries seq 0 and is never acked
  });

  it('sends a command as a cmd frame (seq = command id) to the port the device was seen on', async () => {
    const dir = tmpDir();
    const first = await ptyPair(dir, { a: 'n1', b: 'b1' });
    const second = await ptyPair(dir, { a: 'n2', b: 'b2' });
    const handler = new RecordingHandler();
    const ingress = await startIngress(
      new SerialIngress({ ports: [{ path: first.b, baudRate: 115200 }, { path: second.b, baudRate: 115200 }] }),
      handler,
    );
    const nodeOne = await openNode(first.a);
    const nodeTwo = await openNode(second.a);
    await nodeTwo.write(telemetry(1, batchPayload(1, 'node-2')));
    await nodeOne.write(telemetry(1, batchPayload(1, 'node-1')));
    await waitFor(() => nodeOne.acks.size === 1 && nodeTwo.acks.size === 1, { what: 'both acks' });
    expect(ingress.devices).toEqual({ 'node-1': first.b, 'node-2': second.b });

    const command = encodeCommand({ v: 1, id: 77, op: 'set_interval', arg: 5000 });
    expect(await ingress.sendCommand('node-2', 'factory/floor1', command, 77)).toBe(true);
    expect(await ingress.sendCommand('nobody', undefined, command, 78)).toBe(false);

    await waitFor(() => nodeTwo.commands.length === 1, { what: 'the cmd frame at node-2' });
    expect(nodeTwo.commands[0]!.seq).toBe(77);
    expect(nodeTwo.commands[0]!.payload.equals(command)).toBe(true);
    expect(nodeOne.commands).toHaveLength(0);
  });

  it('counts and skips garbage, bad CRC, oversized, truncated and wrong-version frames; good frames around them arrive', async () => {
    const pair = await ptyPair(tmpDir());
    const handler = new RecordingHandler();
    const { logger, lines } = capturingLogger();
    const ingress = await startIngress(new SerialIngress({ ports: [{ path: pair.b, baudRate: 115200 }], logger }), handler);
    const node = await openNode(pair.a);

    const badCrc = telemetry(90);
    badCrc[5]! ^= 0x01; // a payload byte; COBS structure stays intact, the CRC no longer matches
    const oversized = wire(rawFrame(1, FrameType.telemetry, 91, Buffer.alloc(5000, 0x41)));
    const truncated = wire(Buffer.of(1, 1, 0, 0));
    const wrongVersion = wire(rawFrame(2, FrameType.telemetry, 92, batchPayload(92)));
    const bad = [Buffer.from('garbage between frames\0'), badCrc, oversized, truncated, wrongVersion];

    await node.write(telemetry(0));
    for (const [i, junk] of bad.entries()) {
      await node.write(junk);
      await node.write(telemetry(i + 1));
    }

    await waitFor(() => node.acks.size === 6, { what: 'acks for the six good frames' });
    expect(handler.telemetrySeqs()).toEqual(range(0, 6));
    await waitFor(() => lines.some((l) => l.msg === 'serial: bad frames skipped'), { what: 'the burst warning' });
    const stats = ingress.stats.ports[0]!;
    expect(stats.errors).toEqual({ bad_cobs: 1, bad_crc: 1, oversized: 1, truncated: 1, bad_version: 1, bad_type: 0 });
    expect(stats.open).toBe(true);

    // One burst: at most a couple of warn lines (first error, then the rest after a second), never one per byte.
    await waitFor(
      () => lines.filter((l) => l.msg === 'serial: bad frames skipped').reduce((n, l) => n + Object.values(l.counts as object).reduce((a: number, b: number) => a + b, 0), 0) === 5,
      { what: 'all five bad frames reported', timeoutMs: 3000 },
    );
    expect(lines.filter((l) => l.msg === 'serial: bad frames skipped').length).toBeLessThanOrEqual(2);
  });

  it('reopens a port whose device vanished (pty pair ended) and keeps taking frames once it is back', async () => {
    const pair = await ptyPair(tmpDir());
    const handler = new RecordingHandler();
    const ingress = await startIngress(new SerialIngress({ ports: [{ path: pair.b, baudRate: 115200 }], reopenMs: 100 }), handler);
    let node = await TestNode.open(pair.a);
    for (const seq of range(0, 10)) await node.write(telemetry(seq));
    await waitFor(() => node.acks.size === 10, { what: 'acks before the unplug' });

    await pair.stop(); // unplug
    await node.close();
    await waitFor(() => !ingress.stats.ports[0]!.open, { what: 'the ingress to notice the unplug' });

    await pair.restart(); // replug at the same paths
    await waitFor(() => ingress.stats.ports[0]!.open, { what: 'the ingress to reopen', timeoutMs: 5000 });
    node = await openNode(pair.a);
    for (const seq of range(10, 20)) await node.write(telemetry(seq));

    await waitFor(() => node.acks.size === 10, { what: 'acks after the replug' });
    expect([...node.acks.keys()].sort((a, b) => a - b)).toEqual(range(10, 20));
    expect(handler.telemetrySeqs()).toEqual(range(0, 20));
    expect(ingress.stats.ports[0]!.reopens).toBe(1);
  });

  it('starts without its device and opens the port once the device appears', async () => {
    const dir = tmpDir();
    const handler = new RecordingHandler();
    const { logger, lines } = capturingLogger();
    const ingress = await startIngress(new SerialIngress({ ports: [{ path: join(dir, 'ttyB'), baudRate: 115200 }], reopenMs: 50, logger }), handler);
    expect(ingress.stats.ports[0]!.open).toBe(false);

    const pair = await ptyPair(dir);
    await waitFor(() => ingress.stats.ports[0]!.open, { what: 'the port to open', timeoutMs: 5000 });
    const node = await openNode(pair.a);
    await node.write(telemetry(1));
    await waitFor(() => node.acks.get(1) === AckCode.stored, { what: 'the ack' });
    expect(ingress.stats.ports[0]!.reopens).toBe(0);
    // Retried quietly: one warning for the whole outage, not one per attempt.
    expect(lines.filter((l) => l.msg === 'serial port not available; retrying')).toHaveLength(1);
  });

  it('stop() lets the frame in flight finish and still writes its ack', async () => {
    const pair = await ptyPair(tmpDir());
    const handler = new RecordingHandler();
    let release: () => void = () => undefined;
    handler.decide = () => new Promise((resolve) => (release = () => resolve({ kind: 'stored' })));
    const ingress = new SerialIngress({ ports: [{ path: pair.b, baudRate: 115200 }] });
    await ingress.start(handler.handle);
    const node = await openNode(pair.a);

    await node.write(telemetry(5));
    await waitFor(() => handler.messages.length === 1, { what: 'the handler call' });
    let stopped = false;
    const stopping = ingress.stop().then(() => (stopped = true));
    // A few turns of the event loop: stop() must still be waiting for the handler.
    for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
    expect(stopped).toBe(false);
    release();
    await stopping;
    await waitFor(() => node.acks.get(5) === AckCode.stored, { what: 'the ack of the in-flight frame' });
  });
});

describe('SerialIngress behind the seeded byte proxy', () => {
  it('every untouched frame arrives; touched frames arrive intact or are counted; every ACK seen was handled', async () => {
    const dir = tmpDir();
    const nodePair = await ptyPair(dir, { a: 'node', b: 'proxy-n' });
    const bridgePair = await ptyPair(dir, { a: 'proxy-b', b: 'bridge' });
    const proxy = await startByteProxy(nodePair.b, bridgePair.a, { seed: 20240611, faultRate: 0.2 });
    cleanups.push(() => proxy.close());
    const handler = new RecordingHandler();
    const ingress = await startIngress(new SerialIngress({ ports: [{ path: bridgePair.b, baudRate: 115200 }] }), handler);
    const node = await openNode(nodePair.a);

    const N = 200;
    for (const seq of range(0, N)) await node.write(telemetry(seq));
    await waitFor(() => proxy.frames.toBridge === N, { what: 'the proxy to relay every frame' });
    // A trailing delimiter, relayed clean, ends whatever the last fault left open.
    proxy.setFaultRate(0, 'toBridge');
    await node.write(Buffer.of(0));
    await waitFor(() => ingress.stats.ports[0]!.bytes === proxy.bytesOut.toBridge, { what: 'the bridge to read every relayed byte' });
    const port = () => ingress.stats.ports[0]!;
    const answered = () => port().acks.stored + port().acks.rejected + port().acks.busy + port().acksLost;
    await waitFor(() => answered() === port().frames, { what: 'every decoded frame answered' });
    await waitFor(() => proxy.frames.toNode === answered() && node.bytesIn === proxy.bytesOut.toNode, { what: 'acks through the proxy' });

    const touched = proxy.touched.filter((t) => t.direction === 'toBridge');
    expect(touched.length).toBeGreaterThan(10); // the seed really exercised the proxy
    const touchedAt = new Map(touched.map((t) => [t.position, t]));
    const handled = new Map(handler.messages.map((m) => [seqOfBatch(m.payload), m.payload]));

    // Handled frames are exactly what the node sent (no damaged frame slipped through as different data).
    for (const [seq, payload] of handled) expect(payload.equals(batchPayload(seq)), `payload of seq ${seq}`).toBe(true);

    // Frame at position i carries seq i. Lost frames form groups joined by damaged delimiters.
    let lostGroups = 0;
    for (const seq of range(0, N)) {
      const mergedIntoPrevious = touchedAt.get(seq - 1)?.delimiterDamaged === true;
      if (!touchedAt.has(seq) && !mergedIntoPrevious) {
        expect(handled.has(seq), `untouched frame ${seq}`).toBe(true);
      } else if (!handled.has(seq) && !mergedIntoPrevious) {
        lostGroups++;
      }
    }
    const errors = Object.values(port().errors).reduce((a, b) => a + b, 0);
    expect(errors).toBeGreaterThanOrEqual(lostGroups);
    expect(lostGroups).toBeGreaterThan(0);

    // Acks came back through the proxy too (some damaged): every stored ack the node saw was handled.
    expect(node.acks.size).toBeGreaterThan(0);
    for (const [seq, code] of node.acks) {
      expect(code).toBe(AckCode.stored);
      expect(handled.has(seq), `acked seq ${seq}`).toBe(true);
    }
    expect(node.decodeErrors).toBeGreaterThan(0);
  });
});

describe('SerialIngress over raw TCP (ser2net-style)', () => {
  it('takes frames from a TCP serial server, acks them, and reconnects after the server drops it', async () => {
    const sockets: Socket[] = [];
    const server: Server = createServer((socket) => sockets.push(socket));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
    cleanups.push(() => sockets.forEach((s) => s.destroy()));
    const address = `127.0.0.1:${(server.address() as AddressInfo).port}`;
    const handler = new RecordingHandler();
    const ingress = await startIngress(new SerialIngress({ ports: [{ tcp: address }], reopenMs: 100 }), handler);

    await waitFor(() => sockets.length === 1, { what: 'the ingress to connect' });
    let node = TestNode.overSocket(sockets[0]!);
    for (const seq of range(0, 20)) await node.write(telemetry(seq));
    await waitFor(() => node.acks.size === 20, { what: '20 acks over TCP' });
    expect(handler.messages[0]).toMatchObject({ transport: 'serial', topic: `serial:tcp:${address}`, source: `tcp:${address}` });

    sockets[0]!.destroy();
    await waitFor(() => sockets.length === 2, { what: 'the ingress to reconnect', timeoutMs: 5000 });
    node = TestNode.overSocket(sockets[1]!);
    await node.write(telemetry(20));
    await waitFor(() => node.acks.get(20) === AckCode.stored, { what: 'the ack after reconnecting' });
    expect(handler.telemetrySeqs()).toEqual(range(0, 21));
    expect(ingress.stats.ports[0]!.reopens).toBe(1);
  });
});
