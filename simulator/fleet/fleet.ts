// Many nodes against one bridge, with the faults real fleets have: uplink
// outages, malformed payloads, skewed clocks and slow links. Nodes are TS
// virtual nodes in this process, the firmware core as WebAssembly in this process,
// or POSIX edge-node processes (the same C core).
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { VirtualNode, mulberry32 } from '../nodes/virtual-node.ts';
import { spawnEdgeNode, type EdgeNodeHandle } from '../nodes/edge-node.ts';
import { startWasmNode } from '../nodes/wasm-node.ts';
import type { WasmCore } from '../nodes/wasm-core.ts';
import { decodeBatch } from '../../bridge/src/codec/index.ts';
import { LinkProxy, type LinkShape } from './link-proxy.ts';

export interface FleetOptions {
  /** The bridge's MQTT listener, mqtt://host:port. */
  url: string;
  devices: number;
  /** Batches per second, per device. */
  rate: number;
  /** Readings per batch (each sample gives 2: temperature and humidity). */
  batch: number;
  node: 'ts' | 'wasm' | 'posix';
  /** Topic prefix: <prefix>/<device>/telemetry. */
  prefix: string;
  /** Device ids are <idPrefix>-<n>. */
  idPrefix: string;
  stateDir: string;
  seed: number;
  /** Share of batches sent malformed (TS nodes). */
  badFraction?: number;
  /** Each device's clock is off by a seeded amount in [-skewMs, +skewMs] (TS nodes). */
  skewMs?: number;
  /** The uplink goes down for forMs every everyMs. */
  outage?: { everyMs: number; forMs: number };
  link?: LinkShape;
  /** Record acknowledged batch ids (for tests). */
  trackIds?: boolean;
}

export interface FleetStats {
  elapsedMs: number;
  devices: number;
  connected: number;
  sent: number;
  acked: number;
  badSent: number;
  badAcked: number;
  /** Acked batches per second over the last stats interval. */
  rate: number;
  outages: number;
  linkUp: boolean;
  reconnects: number;
  /** Mean PUBACK round trip of good batches, ms (TS nodes). */
  ackMeanMs: number;
  ackMinMs: number;
  errors: number;
}

const SENSORS_PER_SAMPLE = 2;

export function validateFleetOptions(o: FleetOptions): string[] {
  const problems: string[] = [];
  if (!Number.isInteger(o.devices) || o.devices < 1) problems.push(`--devices must be a positive integer, got ${o.devices}`);
  if (!(o.rate > 0)) problems.push(`--rate must be > 0 batches/s, got ${o.rate}`);
  if (!Number.isInteger(o.batch) || o.batch < SENSORS_PER_SAMPLE || o.batch > 64) problems.push(`--batch must be an integer in 2..64, got ${o.batch}`);
  if (o.badFraction !== undefined && !(o.badFraction >= 0 && o.badFraction <= 1)) problems.push(`--bad must be in 0..1, got ${o.badFraction}`);
  if (o.node !== 'ts' && ((o.badFraction ?? 0) > 0 || (o.skewMs ?? 0) !== 0)) {
    problems.push('--bad and --skew need TS nodes (--node ts): the C core only sends valid batches on a synced clock');
  }
  if (o.outage && !(o.outage.forMs > 0 && o.outage.everyMs > o.outage.forMs)) {
    problems.push(`--outage wants EVERY/FOR seconds with EVERY > FOR > 0, got ${o.outage.everyMs / 1000}/${o.outage.forMs / 1000}`);
  }
  const intervalMs = sampleIntervalMs(o);
  if (o.node !== 'ts' && intervalMs < 100) problems.push(`--rate ${o.rate} at --batch ${o.batch} needs a ${intervalMs.toFixed(0)} ms sample interval; the C core's minimum is 100`);
  return problems;
}

export function sampleIntervalMs(o: Pick<FleetOptions, 'rate' | 'batch'>): number {
  return 1000 / (o.rate * (o.batch / SENSORS_PER_SAMPLE));
}

/** One progress line. */
export function formatStats(s: FleetStats): string {
  const parts = [
    `${(s.elapsedMs / 1000).toFixed(0)}s`,
    `devices ${s.connected}/${s.devices} connected`,
    `sent ${s.sent}`,
    `acked ${s.acked}`,
    `${s.rate.toFixed(1)} batches/s`,
  ];
  if (s.badSent) parts.push(`bad ${s.badAcked}/${s.badSent}`);
  if (s.outages) parts.push(`outages ${s.outages} (link ${s.linkUp ? 'up' : 'DOWN'})`);
  if (s.reconnects) parts.push(`reconnects ${s.reconnects}`);
  if (s.ackMeanMs) parts.push(`puback ${s.ackMeanMs.toFixed(0)} ms`);
  if (s.errors) parts.push(`errors ${s.errors}`);
  return parts.join(' | ');
}

/** One edge_core.wasm node as the fleet counts it: batches by seq, acknowledged ids. */
class WasmFleetNode {
  readonly ackedIds: string[] = [];
  private readonly ackedSeqs = new Set<number>();
  private paused = false;
  core!: WasmCore;

  constructor(private readonly trackIds: boolean) {}

  async start(o: Parameters<typeof startWasmNode>[0]): Promise<void> {
    this.core = await startWasmNode({
      ...o,
      // Paused: no readings, so no new batches; what is open was flushed.
      readSensor: (i, name) => (this.paused ? Number.NaN : o.readSensor(i, name)),
      onAcked: (topic, payload) => {
        if (!topic.endsWith('/telemetry')) return;
        const r = decodeBatch(Buffer.from(payload));
        if (!r.ok || this.ackedSeqs.has(r.value.seq)) return;
        this.ackedSeqs.add(r.value.seq);
        if (this.trackIds) this.ackedIds.push(`${r.value.device}:${r.value.boot}:${r.value.seq}`);
      },
    });
  }

  get sent(): number {
    return this.core.stats().nextSeq;
  }

  get acked(): number {
    return this.ackedSeqs.size;
  }

  pause(): void {
    this.paused = true;
    this.core.flush();
  }

  get settled(): boolean {
    return this.acked === this.sent;
  }
}

export class Fleet {
  readonly nodes: VirtualNode[] = [];
  readonly wasmNodes: WasmFleetNode[] = [];
  readonly processes: EdgeNodeHandle[] = [];
  /** Per-device clock skew, ms (TS nodes). */
  readonly skews = new Map<string, number>();
  private proxy: LinkProxy | undefined;
  private outageTimer: NodeJS.Timeout | undefined;
  private restoreTimer: NodeJS.Timeout | undefined;
  private outages = 0;
  private stopping = false;
  /** edge-node processes that exited on their own. */
  private crashed = 0;
  private startedAt = 0;
  private last = { at: 0, acked: 0 };

  constructor(readonly o: FleetOptions) {
    const problems = validateFleetOptions(o);
    if (problems.length) throw new Error(problems.join('; '));
  }

  async start(): Promise<void> {
    this.startedAt = Date.now();
    this.last = { at: this.startedAt, acked: 0 };
    let url = this.o.url;
    if (this.o.outage || this.o.link) {
      const target = new URL(this.o.url);
      this.proxy = new LinkProxy({ host: target.hostname, port: Number(target.port || 1883) }, this.o.link);
      url = `mqtt://127.0.0.1:${await this.proxy.start()}`;
    }
    const rand = mulberry32(this.o.seed);
    const intervalMs = sampleIntervalMs(this.o);
    mkdirSync(this.o.stateDir, { recursive: true });
    for (let i = 1; i <= this.o.devices; i++) {
      const device = `${this.o.idPrefix}-${i}`;
      const stateDir = join(this.o.stateDir, device);
      if (this.o.node === 'posix') {
        const node = spawnEdgeNode({
          device, stateDir, broker: url, prefix: this.o.prefix, intervalMs: Math.round(intervalMs), batch: this.o.batch,
          sensors: ['temperature', 'humidity'], seed: this.o.seed + i, verbose: true,
        });
        node.process.stderr?.resume();
        node.process.once('exit', () => {
          if (!this.stopping) this.crashed++;
        });
        this.processes.push(node);
      } else if (this.o.node === 'wasm') {
        const node = new WasmFleetNode(this.o.trackIds ?? false);
        const noise = mulberry32(this.o.seed + i);
        await node.start({
          url, device, stateDir, prefix: this.o.prefix, intervalMs: Math.round(intervalMs), batchSize: this.o.batch,
          sensors: ['temperature', 'humidity'], firmware: '1.0.0-wasm',
          readSensor: (index) => Math.round(((index === 0 ? 21 : 45) + 2 * noise()) * 100) / 100,
        });
        this.wasmNodes.push(node);
      } else {
        const skew = this.o.skewMs ? Math.round((rand() * 2 - 1) * this.o.skewMs) : 0;
        this.skews.set(device, skew);
        const node = new VirtualNode({
          url, device, prefix: this.o.prefix, intervalMs, batchSize: this.o.batch, stateDir, seed: this.o.seed + i,
          badFraction: this.o.badFraction, clockSkewMs: skew, trackIds: this.o.trackIds,
        });
        node.start();
        this.nodes.push(node);
      }
    }
    if (this.o.outage) {
      const { everyMs, forMs } = this.o.outage;
      this.outageTimer = setInterval(() => {
        this.outages++;
        this.proxy!.down();
        this.restoreTimer = setTimeout(() => this.proxy!.restore(), forMs);
      }, everyMs);
    }
  }

  /** Ids of acknowledged batches, device:boot:seq (TS nodes with trackIds; POSIX nodes always). */
  ackedIds(): string[] {
    const ids = [...this.nodes, ...this.wasmNodes].flatMap((n) => n.ackedIds);
    for (const p of this.processes) {
      for (const line of p.lines) {
        const m = line.match(/^edge-node: acked device=(\S+) boot=(\d+) seq=(\d+)/);
        if (m) ids.push(`${m[1]}:${m[2]}:${m[3]}`);
      }
    }
    return ids;
  }

  stats(): FleetStats {
    const now = Date.now();
    let sent = 0, acked = 0, badSent = 0, badAcked = 0, connected = 0, reconnects = 0, errors = 0;
    let latCount = 0, latSum = 0, latMin = Infinity;
    for (const n of this.nodes) {
      sent += n.sent;
      acked += n.acked;
      badSent += n.badSent;
      badAcked += n.badAcked;
      if (n.connected) connected++;
      reconnects += Math.max(0, n.connects - 1);
      latCount += n.ackLatency.count;
      latSum += n.ackLatency.sum;
      latMin = Math.min(latMin, n.ackLatency.min);
    }
    for (const w of this.wasmNodes) {
      sent += w.sent;
      acked += w.acked;
      if (w.core.connected) connected++;
      reconnects += Math.max(0, w.core.connects - 1);
    }
    for (const p of this.processes) {
      let a = 0;
      for (const line of p.lines) if (line.startsWith('edge-node: acked ')) a++;
      acked += a;
      sent += a;
      if (p.process.exitCode === null && p.process.signalCode === null) connected++;
    }
    errors += this.crashed;
    const dt = Math.max(1, now - this.last.at);
    const rate = ((acked - this.last.acked) * 1000) / dt;
    this.last = { at: now, acked };
    return {
      elapsedMs: now - this.startedAt, devices: this.o.devices, connected, sent, acked, badSent, badAcked, rate,
      outages: this.outages, linkUp: this.proxy?.isUp ?? true, reconnects,
      ackMeanMs: latCount ? latSum / latCount : 0, ackMinMs: Number.isFinite(latMin) ? latMin : 0, errors,
    };
  }

  /**
   * Stops sampling, restores the link, waits up to settleMs for every sent batch to be
   * acknowledged (what is still unacknowledged then is reported, not hidden), and disconnects.
   */
  async stop(settleMs = 15_000): Promise<FleetStats> {
    this.stopping = true;
    clearInterval(this.outageTimer);
    clearTimeout(this.restoreTimer);
    this.proxy?.restore();
    for (const n of [...this.nodes, ...this.wasmNodes]) n.pause();
    const settled = () => this.nodes.every((n) => n.settled) && this.wasmNodes.every((n) => n.settled);
    const deadline = Date.now() + settleMs;
    while (Date.now() < deadline && !settled()) {
      await new Promise((r) => setTimeout(r, 50));
    }
    const force = !settled();
    await Promise.all([
      ...this.nodes.map((n) => n.stop(force)),
      ...this.wasmNodes.map((n) => n.core.stop(force)),
      ...this.processes.map((p) => p.stop('SIGTERM')),
    ]);
    const final = this.stats();
    await this.proxy?.stop();
    return final;
  }
}
