// The POSIX edge-node must sleep when nothing can be sent: acks that stop
// (a half-open uplink or a stalled broker), a refused port, a serial peer that
// never answers. Each runs 20 s side by side; CPU comes from /proc/<pid>/stat.
// Then the stalled broker starts acking and the outbox drains with no seq gap.
// Needs `make -C firmware posix` first.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqttPacket from 'mqtt-packet';
import { SerialPort } from 'serialport';
import { decodeBatch, FrameDecoder, FrameType, type Frame } from '../../src/codec/index.ts';
import { spawnEdgeNode, type EdgeNodeHandle, type EdgeNodeOptions } from '../../../simulator/nodes/edge-node.ts';
import { freePort } from '../../../shared/testkit/ports.ts';
import { startPtyPair, type PtyPair } from '../../../shared/testkit/pty.ts';
import { uniquePrefix, waitFor } from '../../../shared/testkit/unique.ts';

const MEASURE_MS = 20_000;
const MAX_CORE_SHARE = 0.02;
const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim());
// One batch per tick (3 sensors, batch 3): the 4-slot in-flight window fills in
// about 4 s and 20+ batches wait behind it, well below the 64-batch outbox.
const NODE: Partial<EdgeNodeOptions> = { intervalMs: 1000, batch: 3, batchAgeMs: 60_000, verbose: true };

/** utime + stime of a process, in seconds. */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (state): utime and stime are fields 14 and 15
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
}

interface Held {
  messageId: number;
  topic: string;
  payload: Buffer;
}

/** An MQTT 3.1.1 broker that accepts CONNECT and SUBSCRIBE but holds every
 * PUBACK until release(). It records each PUBLISH it receives. */
class PubackHoldingBroker {
  readonly publishes: Held[] = [];
  private readonly held: { socket: Socket; messageId: number }[] = [];
  private released = false;
  private readonly sockets = new Set<Socket>();
  private readonly server: Server;

  constructor() {
    this.server = createServer((socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
      socket.on('error', () => socket.destroy());
      const parser = mqttPacket.parser({ protocolVersion: 4 });
      const send = (p: mqttPacket.Packet) => socket.write(mqttPacket.generate(p));
      parser.on('packet', (p) => {
        switch (p.cmd) {
          case 'connect':
            send({ cmd: 'connack', returnCode: 0, sessionPresent: false });
            break;
          case 'subscribe':
            send({ cmd: 'suback', messageId: p.messageId!, granted: p.subscriptions.map((s) => s.qos) });
            break;
          case 'pingreq':
            send({ cmd: 'pingresp' });
            break;
          case 'publish':
            if (p.qos === 0) break;
            this.publishes.push({ messageId: p.messageId!, topic: p.topic, payload: Buffer.from(p.payload) });
            if (this.released) send({ cmd: 'puback', messageId: p.messageId! });
            else this.held.push({ socket, messageId: p.messageId! });
            break;
          case 'disconnect':
            socket.end();
            break;
          default:
            break;
        }
      });
      parser.on('error', () => socket.destroy());
      socket.on('data', (chunk) => parser.parse(chunk));
    });
  }

  async listen(): Promise<number> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    const addr = this.server.address();
    if (typeof addr !== 'object' || !addr) throw new Error('no address');
    return addr.port;
  }

  /** PUBACKs everything held, in order, and every later PUBLISH at once. */
  release(): void {
    this.released = true;
    for (const h of this.held.splice(0)) {
      if (!h.socket.destroyed) h.socket.write(mqttPacket.generate({ cmd: 'puback', messageId: h.messageId }));
    }
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** CPU share of one core used by the process over ms of wall time. */
async function measureCpu(node: EdgeNodeHandle, ms: number): Promise<number> {
  const pid = node.process.pid!;
  const cpu0 = cpuSeconds(pid);
  const t0 = process.hrtime.bigint();
  await new Promise((resolve) => setTimeout(resolve, ms));
  const cpu1 = cpuSeconds(pid);
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  return (cpu1 - cpu0) / wall;
}

describe('edge-node sleeps when nothing can be sent', () => {
  let dir: string;
  let broker: PubackHoldingBroker;
  let pty: PtyPair;
  let peer: SerialPort;
  const running: EdgeNodeHandle[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'edge-idle-'));
    broker = new PubackHoldingBroker();
    pty = await startPtyPair(dir);
  });
  afterAll(async () => {
    await Promise.all(running.map((n) => n.stop('SIGKILL')));
    if (peer?.isOpen) await new Promise<void>((resolve) => peer.close(() => resolve()));
    await pty?.stop();
    await broker?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('uses under 2 % of a core with acks withheld, a refused port and a silent serial peer; then drains with no seq gap', async () => {
    const prefix = uniquePrefix('idle').replace(/[^a-z0-9]/gi, '');
    const spawn = (name: string, o: Partial<EdgeNodeOptions>) => {
      const node = spawnEdgeNode({ ...NODE, device: `${prefix}-${name}`, stateDir: join(dir, name), ...o } as EdgeNodeOptions);
      running.push(node);
      return node;
    };

    // (a) a broker that accepts the session but never acknowledges a PUBLISH
    const stubPort = await broker.listen();
    // longer than the whole test: every copy the stub sees is the first one
    const halfOpen = spawn('halfopen', { broker: `mqtt://127.0.0.1:${stubPort}`, mqttAckTimeoutMs: 600_000 });
    // (b) nothing listens on this port: every connect is refused
    const refused = spawn('refused', { broker: `mqtt://127.0.0.1:${await freePort()}` });
    // (c) a serial peer that reads every frame and never acknowledges one
    let serialBytes = 0;
    peer = new SerialPort({ path: pty.b, baudRate: 115200 });
    await new Promise<void>((resolve, reject) => peer.once('open', resolve).once('error', reject));
    const frames: Frame[] = [];
    const decoder = new FrameDecoder({ onFrame: (f: Frame) => frames.push(f) });
    peer.on('data', (chunk: Buffer) => {
      serialBytes += chunk.length;
      decoder.push(chunk);
    });
    const silent = spawn('serial', { transport: 'serial', serial: pty.a, ackTimeoutMs: 2000 });

    // the window is full and batches wait behind it
    const telemetry = () => broker.publishes.filter((p) => p.topic.endsWith('/telemetry'));
    await waitFor(() => telemetry().length >= 4, { timeoutMs: 15_000, intervalMs: 50, what: 'four telemetry PUBLISHes held by the stub' });
    await waitFor(() => frames.some((f) => f.type === FrameType.telemetry), { timeoutMs: 15_000, intervalMs: 50, what: 'a telemetry frame on the pty' });

    const [cpuHalfOpen, cpuRefused, cpuSerial] = await Promise.all([
      measureCpu(halfOpen, MEASURE_MS),
      measureCpu(refused, MEASURE_MS),
      measureCpu(silent, MEASURE_MS),
    ]);
    console.log(
      `edge-node CPU over ${MEASURE_MS / 1000} s: acks withheld ${(cpuHalfOpen * 100).toFixed(2)} %, ` +
        `refused port ${(cpuRefused * 100).toFixed(2)} %, silent serial peer ${(cpuSerial * 100).toFixed(2)} %`,
    );
    for (const n of [halfOpen, refused, silent]) expect(n.process.exitCode, n.stderr()).toBeNull();
    expect(cpuHalfOpen).toBeLessThan(MAX_CORE_SHARE);
    expect(cpuRefused).toBeLessThan(MAX_CORE_SHARE);
    expect(cpuSerial).toBeLessThan(MAX_CORE_SHARE);

    // still stalled: the window never grew past four telemetry PUBLISHes
    expect(telemetry()).toHaveLength(4);
    // the serial node kept retransmitting into the silence (2 s ack timeout)
    expect(frames.filter((f) => f.type === FrameType.telemetry).length).toBeGreaterThan(4);
    expect(serialBytes).toBeGreaterThan(0);

    // the broker recovers: everything waiting goes out, each batch once
    const ackedSeqs = () =>
      new Set(halfOpen.lines.flatMap((l) => /^edge-node: acked .* seq=(\d+)/.exec(l)?.[1] ?? []).map(Number));
    broker.release();
    // 20+ batches closed during the stall; the drain must reach past them with no hole
    const seqs = () => telemetry().map((p) => {
      const r = decodeBatch(p.payload);
      if (!r.ok) throw new Error(`bad batch from the node: ${r.detail}`);
      return r.value.seq;
    });
    await waitFor(
      () => {
        const s = seqs();
        const max = Math.max(...s);
        return max >= 20 && ackedSeqs().size === max + 1;
      },
      { timeoutMs: 20_000, intervalMs: 100, what: 'the outbox to drain after the release' },
    );
    const got = seqs();
    const max = Math.max(...got);
    expect([...new Set(got)].sort((x, y) => x - y)).toEqual(Array.from({ length: max + 1 }, (_, i) => i));
    expect(got.length, 'each batch published once').toBe(new Set(got).size);
    expect([...ackedSeqs()].sort((x, y) => x - y)).toEqual(Array.from({ length: max + 1 }, (_, i) => i));

    const exit = halfOpen.stop('SIGTERM');
    await exit;
    const stopped = halfOpen.lines.find((l) => l.startsWith('edge-node: stopped'));
    expect(stopped, halfOpen.stderr()).toMatch(/ dropped=0 /);
  });
});
