// A minimal TypeScript sensor node: the same batches, topics and boot-count
// rule as the firmware (PROTOCOL.md), over mqtt.js. `npm start` runs a few of
// these so readings flow with no hardware; the fleet simulator can run many.
import mqtt, { type MqttClient } from 'mqtt';
import { mkdirSync, readFileSync, writeFileSync, renameSync, openSync, fsyncSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import { encodeBatch, encodeStatus, encodeLastWill } from '../../bridge/src/codec/index.ts';
import type { Reading } from '../../bridge/src/types.ts';

export interface VirtualNodeOptions {
  url: string;
  device: string;
  prefix?: string;
  intervalMs?: number;
  batchSize?: number;
  stateDir: string;
  seed?: number;
  fw?: string;
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
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export class VirtualNode {
  readonly boot: number;
  readonly prefix: string;
  seq = 0;
  acked = 0;
  private client: MqttClient | undefined;
  private timer: NodeJS.Timeout | undefined;
  private pending: Reading[] = [];
  private batchStart = 0;
  private readonly rand: () => number;
  private readonly startedAt = Date.now();

  constructor(private readonly o: VirtualNodeOptions) {
    this.boot = nextBootCount(o.stateDir);
    this.prefix = o.prefix ?? 'factory/floor1';
    this.rand = mulberry32(o.seed ?? 1);
  }

  private topic(kind: 'telemetry' | 'status' | 'cmd'): string {
    return `${this.prefix}/${this.o.device}/${kind}`;
  }

  start(): void {
    const will = encodeLastWill({ d: this.o.device, b: this.boot });
    this.client = mqtt.connect(this.o.url, {
      clientId: this.o.device,
      clean: true,
      reconnectPeriod: 1000,
      will: { topic: this.topic('status'), payload: will, qos: 1, retain: true },
    });
    this.client.on('connect', () => {
      this.client?.publish(this.topic('status'), this.status('online'), { qos: 1, retain: true });
      this.client?.subscribe(this.topic('cmd'), { qos: 1 });
    });
    this.client.on('error', () => {
      // mqtt.js reconnects by itself; nothing to do but keep sampling.
    });
    this.timer = setInterval(() => this.sample(), this.o.intervalMs ?? 1000);
  }

  private status(st: 'online' | 'offline'): Buffer {
    return encodeStatus({
      v: 1, d: this.o.device, b: this.boot, st, up: Math.floor((Date.now() - this.startedAt) / 1000),
      rssi: 0, heap: 0, drop: 0, iv: this.o.intervalMs ?? 1000, bs: this.o.batchSize ?? 4, cmd: 0,
    });
  }

  private sample(): void {
    const now = Date.now();
    if (this.pending.length === 0) this.batchStart = now;
    const offset = now - this.batchStart;
    const t = 21 + 3 * Math.sin(now / 60_000) + this.rand();
    this.pending.push({ sensor: 'temperature', offset, value: Math.round(t * 100) / 100 });
    this.pending.push({ sensor: 'humidity', offset, value: Math.round((45 + 10 * this.rand()) * 10) / 10 });
    if (this.pending.length >= (this.o.batchSize ?? 4)) this.flush();
  }

  flush(): void {
    if (this.pending.length === 0 || !this.client) return;
    const payload = encodeBatch({
      v: 1, device: this.o.device, boot: this.boot, seq: this.seq++, fw: this.o.fw ?? 'sim-1.0.0',
      ts: this.batchStart, unsynced: false, readings: this.pending,
    });
    this.pending = [];
    // mqtt.js keeps unacknowledged QoS1 messages and resends them after reconnect.
    this.client.publish(this.topic('telemetry'), payload, { qos: 1 }, (err) => {
      if (!err) this.acked++;
    });
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    const c = this.client;
    this.client = undefined;
    if (c) await c.endAsync();
  }
}
