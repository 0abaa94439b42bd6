// A TypeScript sensor node: the same batches, topics, status and boot-count rule
// as the firmware (PROTOCOL.md), encoded by the bridge's codec, which is tested
// against the shared vectors. `npm start` runs a few of these; the fleet simulator
// runs many, and the browser board drives one from its page.
import mqtt, { type MqttClient } from 'mqtt';
import { mkdirSync, readFileSync, writeFileSync, renameSync, openSync, fsyncSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import { decodeCommand, encodeBatch, encodeStatus, encodeLastWill } from '../../bridge/src/codec/index.ts';
import type { Command } from '../../bridge/src/codec/index.ts';
import type { Reading } from '../../bridge/src/types.ts';

/** The values one sample produces; `now` is the node's (possibly skewed) clock. */
export type SensorSource = (now: number, rand: () => number) => Array<{ sensor: string; value: number }>;

export interface VirtualNodeOptions {
  url: string;
  device: string;
  prefix?: string;
  /** Sample period, ms (a sample yields one reading per sensor). */
  intervalMs?: number;
  /** Readings per batch. */
  batchSize?: number;
  stateDir: string;
  seed?: number;
  fw?: string;
  sensors?: SensorSource;
  /** Share of publishes replaced by a malformed payload (0..1); they take no seq. */
  badFraction?: number;
  /** Added to this node's clock, ms: a node whose RTC drifted or was never set right. */
  clockSkewMs?: number;
  /** Keep the ids of acknowledged batches (`device:boot:seq`) in `ackedIds`, and bad payloads in `badPayloads`. */
  trackIds?: boolean;
  onCommand?: (cmd: Command) => void;
  /** A batch was closed and handed to MQTT. */
  onBatch?: (seq: number, readings: Reading[]) => void;
  onState?: (connected: boolean) => void;
}

/** Boot counter kept in a file: read, add one, fsync, before the first publish (PROTOCOL.md section 7). */
export function nextBootCount(stateDir: string): number {
  mkdirSync(stateDir, { recursive: true });
  const file = join(stateDir, 'boot');
  let boot = 0;
  try {
    boot = Number.parseInt(readFileSync(file, 'utf8'), 10) || 0;
  } catch {
    // first boot
  }
  boot += 1;
  const tmp = `${file}.tmp`;
  writeFileSync(tmp, String(boot));
  const fd = openSync(tmp, 'r');
  fsyncSync(fd);
  closeSync(fd);
  renameSync(tmp, file);
  return boot;
}

/** Small deterministic PRNG so a seeded node always produces the same readings. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const defaultSensors: SensorSource = (now, rand) => [
  { sensor: 'temperature', value: Math.round((21 + 3 * Math.sin(now / 60_000) + rand()) * 100) / 100 },
  { sensor: 'humidity', value: Math.round((45 + 10 * rand()) * 10) / 10 },
];

/** Payloads the bridge must quarantine, one kind per call in turn. */
const BAD_PAYLOADS: Array<(rand: () => number) => Buffer> = [
  (rand) => Buffer.from(Array.from({ length: 24 }, () => Math.floor(rand() * 256))),
  () => Buffer.from('{"not":"msgpack"'),
  () => Buffer.from([0x81, 0xa1, 0x76, 0x07]), // {v: 7}: unsupported version
  () => Buffer.alloc(0),
];

export class VirtualNode {
  readonly boot: number;
  readonly prefix: string;
  seq = 0;
  sent = 0;
  acked = 0;
  badSent = 0;
  badAcked = 0;
  connects = 0;
  disconnects = 0;
  connected = false;
  lastCommandId = 0;
  readonly ackedIds: string[] = [];
  /** Hex of every malformed payload sent (with trackIds). */
  readonly badPayloads = new Set<string>();
  /** PUBACK round trips, ms, of good batches. */
  readonly ackLatency = { count: 0, min: Infinity, sum: 0 };
  private intervalMs: number;
  private batchSize: number;
  private client: MqttClient | undefined;
  private timer: NodeJS.Timeout | undefined;
  private pending: Reading[] = [];
  private batchStart = 0;
  private badTurn = 0;
  /** Publishes mqtt.js failed ('Connection closed' while it was replaying its store): resent on the next connect, like the firmware's outbox. */
  private retry: Array<() => void> = [];
  private readonly rand: () => number;
  private readonly startedAt = Date.now();

  constructor(private readonly o: VirtualNodeOptions) {
    this.boot = nextBootCount(o.stateDir);
    this.prefix = o.prefix ?? 'factory/floor1';
    this.rand = mulberry32(o.seed ?? 1);
    this.intervalMs = o.intervalMs ?? 1000;
    this.batchSize = o.batchSize ?? 4;
  }

  get device(): string {
    return this.o.device;
  }

  get settings(): { intervalMs: number; batchSize: number } {
    return { intervalMs: this.intervalMs, batchSize: this.batchSize };
  }

  topic(kind: 'telemetry' | 'status' | 'cmd'): string {
    return `${this.prefix}/${this.o.device}/${kind}`;
  }

  private now(): number {
    return Date.now() + (this.o.clockSkewMs ?? 0);
  }

  start(): void {
    const will = encodeLastWill({ d: this.o.device, b: this.boot });
    const client = mqtt.connect(this.o.url, {
      clientId: this.o.device,
      clean: true,
      reconnectPeriod: 1000,
      connectTimeout: 5000,
      will: { topic: this.topic('status'), payload: will, qos: 1, retain: true },
    });
    this.client = client;
    client.on('connect', () => {
      this.connects++;
      this.setConnected(true);
      client.publish(this.topic('status'), this.status('online'), { qos: 1, retain: true });
      client.subscribe(this.topic('cmd'), { qos: 1 });
      const again = this.retry;
      this.retry = [];
      for (const send of again) send();
    });
    client.on('close', () => {
      if (this.connected) this.disconnects++;
      this.setConnected(false);
    });
    client.on('message', (topic, payload) => {
      if (topic === this.topic('cmd')) this.applyCommand(payload);
    });
    client.on('error', () => {
      // mqtt.js reconnects by itself; nothing to do but keep sampling.
    });
    this.schedule();
  }

  private setConnected(up: boolean): void {
    if (this.connected === up) return;
    this.connected = up;
    this.o.onState?.(up);
  }

  private schedule(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = setInterval(() => this.sample(), this.intervalMs);
  }

  /** Same rules as the firmware core: invalid commands are ignored, valid ones applied then echoed in a status. */
  private applyCommand(payload: Buffer): void {
    const r = decodeCommand(payload);
    if (!r.ok) return;
    const cmd = r.value;
    if (cmd.op === 'set_interval') {
      this.intervalMs = cmd.arg;
      this.schedule();
    } else if (cmd.op === 'set_batch') {
      this.batchSize = cmd.arg;
      if (this.pending.length >= this.batchSize) this.flush();
    }
    this.lastCommandId = cmd.id;
    this.o.onCommand?.(cmd);
    this.client?.publish(this.topic('status'), this.status('online'), { qos: 1, retain: true });
  }

  private status(st: 'online' | 'offline'): Buffer {
    return encodeStatus({
      v: 1, d: this.o.device, b: this.boot, st, up: Math.floor((Date.now() - this.startedAt) / 1000),
      rssi: 0, heap: 0, drop: 0, iv: this.intervalMs, bs: this.batchSize, cmd: this.lastCommandId,
    });
  }

  private sample(): void {
    const now = this.now();
    if (this.pending.length === 0) this.batchStart = now;
    const offset = now - this.batchStart;
    for (const { sensor, value } of (this.o.sensors ?? defaultSensors)(now, this.rand)) {
      this.pending.push({ sensor, offset, value });
    }
    if (this.pending.length >= this.batchSize) this.flush();
  }

  flush(): void {
    if (this.pending.length === 0 || !this.client) return;
    if ((this.o.badFraction ?? 0) > 0 && this.rand() < this.o.badFraction!) {
      this.pending = [];
      this.publishBad();
      return;
    }
    const seq = this.seq++;
    const payload = encodeBatch({
      v: 1, device: this.o.device, boot: this.boot, seq, fw: this.o.fw ?? 'sim-1.0.0',
      ts: this.batchStart, unsynced: false, readings: this.pending,
    });
    this.o.onBatch?.(seq, this.pending);
    this.pending = [];
    this.sent++;
    const t0 = Date.now();
    this.publishUntilAcked(payload, () => {
      this.acked++;
      const ms = Date.now() - t0;
      this.ackLatency.count++;
      this.ackLatency.sum += ms;
      this.ackLatency.min = Math.min(this.ackLatency.min, ms);
      if (this.o.trackIds) this.ackedIds.push(`${this.o.device}:${this.boot}:${seq}`);
    });
  }

  /** QoS1 with the same payload (so the same message id) until a PUBACK arrives. */
  private publishUntilAcked(payload: Buffer, onAck: () => void): void {
    const send = () => {
      const c = this.client;
      if (!c) return;
      c.publish(this.topic('telemetry'), payload, { qos: 1 }, (err) => {
        if (!err) onAck();
        else if (c.connected && this.client === c) send();
        else this.retry.push(send);
      });
    };
    send();
  }

  private publishBad(): void {
    const payload = BAD_PAYLOADS[this.badTurn++ % BAD_PAYLOADS.length]!(this.rand);
    this.badSent++;
    if (this.o.trackIds) this.badPayloads.add(payload.toString('hex'));
    this.publishUntilAcked(payload, () => this.badAcked++);
  }

  /** Drops the connection, as a lost uplink would; mqtt.js reconnects after its period. */
  dropConnection(): void {
    this.client?.stream?.destroy();
  }

  /** Stops sampling; the connection stays, so in-flight batches can still be acknowledged. */
  pause(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Every batch and bad payload sent so far has its PUBACK. */
  get settled(): boolean {
    return this.acked === this.sent && this.badAcked === this.badSent;
  }

  /**
   * Disconnects. Without force, mqtt.js waits for in-flight PUBACKs, and never gets
   * them while the link is down (end() also cancels the reconnect): pause, wait for
   * `settled`, then stop, or pass force.
   */
  async stop(force = false): Promise<void> {
    this.pause();
    const c = this.client;
    this.client = undefined;
    if (c) await c.endAsync(force);
    this.setConnected(false);
  }
}
