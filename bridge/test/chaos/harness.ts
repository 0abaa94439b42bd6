// Shared parts of the chaos runs: the profile (subset inside `npm test`, full in
// `npm run chaos`), a seeded random source, the bridge as a killable child
// process, virtual nodes that count what was PUBACKed, POSIX nodes on ptys that
// count what was serial-ACKed, a reader that counts what reached RabbitMQ by
// message_id, and the results rows the chaos script tabulates.
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomInt } from 'node:crypto';
import { appendFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import amqp from 'amqplib';
import mqtt from 'mqtt';
import { expect, type TestContext } from 'vitest';
import { encodeBatch } from '../../src/codec/index.ts';
import { spawnEdgeNode, type EdgeNodeHandle } from '../../../simulator/nodes/edge-node.ts';
import { startPtyPair, type PtyPair } from '../../../shared/testkit/pty.ts';
import { waitFor } from '../../../shared/testkit/unique.ts';

export const FULL = process.env.CHAOS_PROFILE === 'full';

/** Figures per profile: the subset runs inside `npm test`, the full run in `npm run chaos`. */
export const PROFILE = FULL
  ? { name: 'full', kills: 20, nodes: 50, serialNodes: 3, outageMs: 60_000, rabbitKills: 3, diskAlarms: 2, diskAlarmMs: 30_000, netFaults: 3, diskFulls: 2, corruptRounds: 5 }
  : { name: 'subset', kills: 3, nodes: 10, serialNodes: 2, outageMs: 10_000, rabbitKills: 1, diskAlarms: 1, diskAlarmMs: 3000, netFaults: 1, diskFulls: 1, corruptRounds: 1 };

/** CHAOS_SEED replays a run; without it every run draws its own seed (printed, and named in failures). */
export const SEED = process.env.CHAOS_SEED ? Number(process.env.CHAOS_SEED) : randomInt(1, 2 ** 31);
if (!Number.isInteger(SEED)) throw new Error(`CHAOS_SEED must be an integer, got ${process.env.CHAOS_SEED}`);
process.stdout.write(`chaos seed ${SEED} (replay: CHAOS_SEED=${SEED})\n`);

/** Call in a chaos file's beforeEach: a failing test's messages name the seed that replays it. */
export function nameSeedOnFailure(ctx: TestContext): void {
  ctx.onTestFailed(({ task }) => {
    for (const e of task.result?.errors ?? []) e.message = `${e.message}\n[chaos seed ${SEED}: replay with CHAOS_SEED=${SEED}]`;
  });
}

/** mulberry32: small, seedable, good enough to pick moments and offsets. */
export function seeded(seed = SEED): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export interface ResultRow {
  fault: string;
  injected: number;
  acknowledged: number;
  delivered: number;
  lost: number;
  duplicates: number;
  droppedByPolicy: number;
  expiredByPolicy: number;
  note?: string;
}

/** One JSON line per fault to CHAOS_RESULTS (the chaos script builds the table from it). */
export function recordResult(row: ResultRow): void {
  const file = process.env.CHAOS_RESULTS;
  const line = JSON.stringify({ profile: PROFILE.name, seed: SEED, at: new Date().toISOString(), ...row });
  if (file) appendFileSync(file, line + '\n');
  else process.stdout.write(`chaos result ${line}\n`);
}

export interface ChaosTopology {
  exchange: string;
  queue: string;
}

export function bridgeConfig(o: {
  prefix: string;
  dir: string;
  storeDir?: string;
  mqttPort: number;
  amqpUrls: string[];
  heartbeatSec?: number;
  /** Bridge ends of the serial nodes' pty pairs. */
  serialPorts?: string[];
  /** 0 (default) when the test never scrapes /metrics. */
  httpPort?: number;
  /** Every queue the topology declares, side queues too (a cluster). */
  quorum?: boolean;
  /** Names the topology (default prefix): two bridges given the same one share it. */
  topologyPrefix?: string;
  connections?: number;
}): { config: Record<string, unknown>; topology: ChaosTopology } {
  const p = o.topologyPrefix ?? o.prefix;
  const topology = { exchange: `${p}.tele`, queue: `${p}.all` };
  const qt = o.quorum ? ('quorum' as const) : undefined;
  return {
    topology,
    config: {
      mqtt: { mode: 'embedded', embedded: { host: '127.0.0.1', port: o.mqttPort } },
      serial: { ports: (o.serialPorts ?? []).map((path) => ({ path })) },
      amqp: {
        urls: o.amqpUrls,
        ...(o.connections ? { connections: o.connections } : {}),
        heartbeatSec: o.heartbeatSec ?? 10,
        reconnect: { initialMs: 200, maxMs: 2000 },
        topology: {
          exchange: topology.exchange,
          alternateExchange: `${p}.ae`,
          unroutableQueue: `${p}.unroutable`,
          deadLetterExchange: `${p}.dlx`,
          deadLetterQueue: `${p}.dlq`,
          ...(qt ? { unroutableQueueType: qt, deadLetterQueueType: qt } : {}),
          queues: [{ name: topology.queue, bindings: ['chaos.#'], ...(qt ? { type: qt } : {}) }],
        },
      },
      routing: {
        rules: [
          // serial topics are serial:<port path>, which {topic} would not put under chaos.#
          { name: 'serial', filter: 'serial:/#', key: 'chaos.serial.{device}', split: 'none' },
          { name: 'all', filter: '#', key: '{topic}', split: 'none' },
        ],
      },
      // reject: the store never drops by policy, so any drop would be a loss.
      store: { dir: o.storeDir ?? join(o.dir, 'store'), overflow: 'reject' },
      quarantine: { dir: join(o.dir, 'quarantine') },
      http: { host: '127.0.0.1', port: o.httpPort ?? 0 },
      log: { level: 'info' },
    },
  };
}

/** Bridge processes still running: killed when this test process exits, whatever a timed-out test body still does. */
const liveBridges = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of liveBridges) child.kill('SIGKILL');
});

/** The bridge CLI as a child process on a config file, so it can be killed -9 and restarted on the same store. */
export class BridgeProcess {
  child: ChildProcess | undefined;
  readonly logLines: string[] = [];
  starts = 0;
  /** Set by dispose(): a test body that timed out and runs on cannot start it again. */
  private disposed = false;
  constructor(private readonly configFile: string) {}

  static write(dir: string, config: Record<string, unknown>): BridgeProcess {
    const file = join(dir, 'bridge.json');
    writeFileSync(file, JSON.stringify(config));
    return new BridgeProcess(file);
  }

  running(): boolean {
    return !!this.child && this.child.exitCode === null && this.child.signalCode === null;
  }

  async start(timeoutMs = 90_000): Promise<void> {
    if (this.disposed) throw new Error('bridge process disposed (its test ended)');
    const child = spawn(process.execPath, ['bridge/bin/edge-bridge.js', 'start', '-c', this.configFile], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    liveBridges.add(child);
    child.once('exit', () => liveBridges.delete(child));
    this.starts++;
    const keep = (line: string) => {
      // CHAOS_LOG_FILE=<file> keeps every bridge log line, for a run that hangs before it reports.
      if (process.env.CHAOS_LOG_FILE) appendFileSync(process.env.CHAOS_LOG_FILE, line + '\n');
      this.logLines.push(line);
      if (this.logLines.length > 2000) this.logLines.splice(0, 1000);
    };
    createInterface({ input: child.stderr! }).on('line', keep);
    const lines = createInterface({ input: child.stdout! });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`bridge not ready in ${timeoutMs} ms:\n${this.logLines.slice(-20).join('\n')}`)), timeoutMs);
      lines.on('line', (line) => {
        keep(line);
        if (line.includes('"bridge ready"')) {
          clearTimeout(timer);
          resolve();
        }
      });
      child.once('exit', (code, sig) => {
        clearTimeout(timer);
        reject(new Error(`bridge exited early (${code ?? sig}):\n${this.logLines.slice(-20).join('\n')}`));
      });
    });
  }

  /** Log lines (JSON) whose msg matches. */
  logged(pattern: RegExp): string[] {
    return this.logLines.filter((l) => pattern.test(l));
  }

  /** Kills it for good: the cleanup's call, after which start() throws. */
  async dispose(): Promise<void> {
    this.disposed = true;
    await this.kill();
  }

  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    child.kill(signal);
    await exited;
  }
}

export function batchFor(device: string, boot: number, seq: number): Buffer {
  return encodeBatch({
    v: 1,
    device,
    boot,
    seq,
    fw: 'chaos-1',
    ts: 1_700_000_000_000 + seq,
    unsynced: false,
    readings: [
      { sensor: 'temperature', offset: 0, value: 20 + (seq % 10) },
      { sensor: 'humidity', offset: 0, value: 40 + (seq % 10) },
    ],
  });
}

/**
 * N virtual nodes, each publishing QoS1 batches in seq order and moving on only
 * after the PUBACK (like the firmware's outbox). A publish that got no PUBACK
 * is resent after reconnecting; only PUBACKed ids are counted as acknowledged.
 */
export class Fleet {
  readonly acked = new Set<string>();
  /** Publishes that got no PUBACK (connection lost or refused): resent, never counted. */
  unacked = 0;
  private stopped = false;
  private loops: Promise<void>[] = [];
  private readonly clients = new Set<mqtt.MqttClient>();

  constructor(
    private readonly port: number,
    private readonly prefix: string,
    private readonly nodes: number,
    private readonly intervalMs = 20,
  ) {}

  /** Next seq per device, kept across stop()/start() so ids are never reused. */
  private readonly seqs = new Map<string, number>();

  start(): void {
    this.stopped = false;
    this.loops = [];
    for (let i = 0; i < this.nodes; i++) this.loops.push(this.run(`${this.prefix}-n${i}`));
  }

  private async run(device: string): Promise<void> {
    let seq = this.seqs.get(device) ?? 0;
    try {
      await this.loop(device, () => seq, () => seq++);
    } finally {
      this.seqs.set(device, seq);
    }
  }

  private async loop(device: string, current: () => number, next: () => void): Promise<void> {
    while (!this.stopped) {
      let client: mqtt.MqttClient;
      try {
        client = await mqtt.connectAsync(`mqtt://127.0.0.1:${this.port}`, { clientId: device, reconnectPeriod: 0, connectTimeout: 3000, keepalive: 10 });
      } catch {
        await sleep(100);
        continue;
      }
      this.clients.add(client);
      const closed = new Promise<false>((r) => client.once('close', () => r(false)));
      try {
        while (!this.stopped) {
          const ok = await Promise.race([
            client.publishAsync(`chaos/${device}/telemetry`, batchFor(device, 1, current()), { qos: 1 }).then(() => true),
            closed,
          ]);
          if (!ok) {
            this.unacked++;
            break;
          }
          this.acked.add(`${device}:1:${current()}`);
          next();
          if (this.intervalMs) await sleep(this.intervalMs);
        }
      } catch {
        this.unacked++;
      }
      this.clients.delete(client);
      client.end(true);
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    // a publish whose PUBACK is withheld (full disk) would wait forever: close its connection
    for (const c of this.clients) c.end(true);
    await Promise.all(this.loops);
  }

  /** Waits until `more` further readings were acknowledged. */
  async progress(more: number, timeoutMs = 60_000): Promise<void> {
    const target = this.acked.size + more;
    await waitFor(() => this.acked.size >= target, { timeoutMs, what: `${more} more acknowledged readings` });
  }
}

/** Reads the queue by message_id: how often each id arrived, and whether its copies were identical. */
export class QueueCounter {
  readonly seen = new Map<string, number>();
  /** sha256 of the first copy's body per id. */
  private readonly bodies = new Map<string, string>();
  /** Ids that arrived with different bodies: a duplicate must be the same reading. */
  readonly conflicts = new Set<string>();
  private conn: amqp.ChannelModel | undefined;

  constructor(
    private readonly url: string,
    private readonly queue: string,
  ) {}

  async start(): Promise<void> {
    this.conn = await amqp.connect(this.url);
    this.conn.on('error', () => {});
    const ch = await this.conn.createChannel();
    await ch.prefetch(2000);
    await ch.consume(this.queue, (m) => {
      if (!m) return;
      const id = String(m.properties.messageId);
      this.seen.set(id, (this.seen.get(id) ?? 0) + 1);
      const body = createHash('sha256').update(m.content).digest('hex');
      const first = this.bodies.get(id);
      if (first === undefined) this.bodies.set(id, body);
      else if (first !== body) this.conflicts.add(id);
      ch.ack(m);
    });
  }

  total(): number {
    let n = 0;
    for (const c of this.seen.values()) n += c;
    return n;
  }

  async close(): Promise<void> {
    await this.conn?.close().catch(() => {});
  }

  /** Waits until every acknowledged id has arrived (or the deadline), then for a quiet second. */
  async settle(acked: Set<string>, timeoutMs: number): Promise<void> {
    await waitFor(() => [...acked].every((id) => this.seen.has(id)), { timeoutMs, intervalMs: 250, what: 'every acknowledged reading in RabbitMQ' }).catch(() => {});
    let last = -1;
    await waitFor(
      () => {
        const now = this.total();
        const quiet = now === last;
        last = now;
        return quiet;
      },
      { timeoutMs: 30_000, intervalMs: 1000, what: 'a quiet queue' },
    ).catch(() => {});
  }

  /**
   * lost = acknowledged ids never delivered; duplicates = extra copies (same message_id) and
   * delivered = distinct ids, both among the ids in `scope`; strangers = ids nobody sent;
   * conflicts = ids whose copies differ.
   */
  count(acked: Set<string>, sent: (id: string) => boolean = () => true, scope: (id: string) => boolean = () => true) {
    const lost = [...acked].filter((id) => !this.seen.has(id));
    let duplicates = 0;
    let delivered = 0;
    const strangers: string[] = [];
    for (const [id, c] of this.seen) {
      if (!sent(id)) strangers.push(id);
      if (!scope(id)) continue;
      delivered++;
      duplicates += c - 1;
    }
    return { lost, duplicates, delivered, strangers, conflicts: [...this.conflicts] };
  }
}

export type QueueCount = ReturnType<QueueCounter['count']>;

/** Every fault's verdict: nothing a device saw acknowledged is missing, nothing foreign or altered arrived, and acks happened at all. */
export function expectNothingLost(mqtt: QueueCount, mqttAcked: number, serial?: { count: QueueCount; acked: number }): void {
  expect(mqtt.strangers.slice(0, 20)).toEqual([]);
  expect(mqtt.conflicts.slice(0, 20)).toEqual([]);
  expect(mqtt.lost.slice(0, 20)).toEqual([]);
  expect(mqttAcked).toBeGreaterThan(0);
  if (serial) {
    expect(serial.count.lost.slice(0, 20)).toEqual([]);
    expect(serial.acked).toBeGreaterThan(0);
  }
}

/** Ids of the form <prefix>-n<i>:1:<seq> belong to our fleet. */
export function fleetId(prefix: string): (id: string) => boolean {
  const re = new RegExp(`^${prefix.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}-n\\d+:1:\\d+$`);
  return (id) => re.test(id);
}

/**
 * POSIX edge-nodes (the firmware core as a Linux process) on socat pty pairs, the
 * bridge on the other end of each. A node prints an `acked` line for every batch
 * whose serial ACK it got; only those count as acknowledged. The pairs outlive
 * bridge restarts, as a cable does.
 */
export class SerialNodes {
  private readonly nodes: EdgeNodeHandle[] = [];
  /** device -> boot and next seq, from the node's `stopped` line. */
  private readonly sentUpTo = new Map<string, { boot: number; next: number }>();
  /** Totals from the `stopped` lines. */
  retransmits = 0;
  droppedByNode = 0;

  private constructor(
    private readonly dir: string,
    private readonly prefix: string,
    private readonly pairs: PtyPair[],
  ) {}

  static async create(dir: string, prefix: string, count: number): Promise<SerialNodes> {
    const pairs: PtyPair[] = [];
    for (let i = 0; i < count; i++) pairs.push(await startPtyPair(dir, { a: `s${i}-node`, b: `s${i}-bridge` }));
    return new SerialNodes(dir, prefix, pairs);
  }

  get size(): number {
    return this.pairs.length;
  }

  /** The ports for the bridge config. */
  get bridgePorts(): string[] {
    return this.pairs.map((p) => p.b);
  }

  device(i: number): string {
    return `${this.prefix}-s${i}`;
  }

  start(): void {
    this.pairs.forEach((pair, i) => {
      this.nodes.push(
        spawnEdgeNode({
          device: this.device(i),
          seed: 9100 + i,
          transport: 'serial',
          serial: pair.a,
          stateDir: join(this.dir, 'node-state'),
          sensors: ['temperature', 'humidity'],
          // a sample (both sensors) every 100 ms, 4 readings a batch: 5 batches/s, so the 64-batch outbox
          // holds ~13 s; the firmware's default ACK timeout (2 s), so a restart costs few backoff doublings
          intervalMs: 100,
          batch: 4,
          verbose: true,
        }),
      );
    });
  }

  /** Ids (device:boot:seq) of every batch a node saw serial-ACKed. */
  acked(): Set<string> {
    const ids = new Set<string>();
    for (const node of this.nodes) {
      for (const line of node.lines) {
        const m = /^edge-node: acked device=(\S+) boot=(\d+) seq=(\d+)/.exec(line);
        if (m) ids.add(`${m[1]}:${m[2]}:${m[3]}`);
      }
    }
    return ids;
  }

  private ackedBy(i: number): number {
    return this.nodes[i]!.lines.filter((l) => l.startsWith(`edge-node: acked device=${this.device(i)} `)).length;
  }

  /** Waits until every node got `more` further ACKs. */
  async progress(more: number, timeoutMs = 60_000): Promise<void> {
    const targets = this.nodes.map((_, i) => this.ackedBy(i) + more);
    await waitFor(() => targets.every((t, i) => this.ackedBy(i) >= t), {
      timeoutMs,
      what: `${more} more serial ACKs on each of ${this.nodes.length} nodes (${this.nodes.map((_, i) => this.ackedBy(i)).join(', ')} so far)`,
    });
  }

  /** Is this one of our serial nodes' ids? */
  owns(id: string): boolean {
    return this.nodes.some((_, i) => id.startsWith(`${this.device(i)}:`));
  }

  /** Was this id sent by a node (right boot, seq below the node's next one)? Known once stopped. */
  sent(id: string): boolean {
    const m = /^(.+):(\d+):(\d+)$/.exec(id);
    const upTo = m && this.sentUpTo.get(m[1]!);
    return !!upTo && Number(m![2]) === upTo.boot && Number(m![3]) < upTo.next;
  }

  /** Stops the nodes (SIGTERM: each prints its totals), then the pty pairs. */
  async stop(): Promise<void> {
    for (const node of this.nodes) {
      await node.stop();
      const line = node.lines.find((l) => l.startsWith('edge-node: stopped '));
      const m = line && /device=(\S+) boot=(\d+) .*dropped=(\d+) batches=(\d+) retransmits=(\d+)/.exec(line);
      if (!m) throw new Error(`edge-node gave no totals:\n${node.lines.slice(-5).join('\n')}\n${node.stderr().slice(-2000)}`);
      if (!this.sentUpTo.has(m[1]!)) {
        this.sentUpTo.set(m[1]!, { boot: Number(m[2]), next: Number(m[4]) });
        this.droppedByNode += Number(m[3]);
        this.retransmits += Number(m[5]);
      }
    }
    for (const pair of this.pairs) await pair.stop();
  }
}

/** Sums of the bridge's Prometheus samples by metric name (labels summed). */
export async function scrapeMetrics(httpPort: number): Promise<Map<string, number>> {
  const text = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
  const sums = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = /^([a-z_]+)(?:\{[^}]*\})? (\S+)$/.exec(line);
    if (m) sums.set(m[1]!, (sums.get(m[1]!) ?? 0) + Number(m[2]));
  }
  return sums;
}
