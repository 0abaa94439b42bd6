// Chaos on a private 3-node RabbitMQ cluster (quorum queues, the bridge given all
// three URLs through one TCP proxy per node). Counted by message_id: what devices
// saw acknowledged against what RabbitMQ holds. npm test runs one fault (kill -9 of
// the connected node); CHAOS_PROFILE=full runs them all, and two sites at once.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import amqp from 'amqplib';
import mqtt from 'mqtt';
import { encodeBatch } from '../../src/codec/index.ts';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startPrivateRabbitCluster, type PrivateRabbitCluster } from '../../../shared/testkit/rabbit-cluster.ts';
import type { PrivateRabbit } from '../../../shared/testkit/rabbit-node.ts';
import { startTcpProxy, type TcpProxy } from '../../../shared/testkit/tcp-proxy.ts';
import { freePort } from '../../../shared/testkit/ports.ts';
import { uniquePrefix, waitFor } from '../../../shared/testkit/unique.ts';
import {
  BridgeProcess, FULL, Fleet, PROFILE, QueueCounter, SerialNodes, bridgeConfig, expectNothingLost, fleetId, nameSeedOnFailure, recordResult, scrapeMetrics, seeded, sleep,
} from './harness.ts';

const rng = seeded();
const between = (lo: number, hi: number) => lo + Math.floor(rng() * (hi - lo));
const HEARTBEAT_SEC = 2;
/** Majority lost for this long with the fleet publishing. */
const MINORITY_MS = FULL ? 30_000 : 10_000;
/** The cluster's max_message_size: a poison batch (120 readings) is over it, every other batch far under. */
const MAX_MESSAGE_SIZE = 2048;

let cluster: PrivateRabbitCluster;
let proxies: TcpProxy[] = [];
const cleanups: Array<() => Promise<unknown> | unknown> = [];

beforeAll(async () => {
  cluster = await startPrivateRabbitCluster({ label: 'chcl', config: `max_message_size = ${MAX_MESSAGE_SIZE}` });
  proxies = await Promise.all(cluster.nodes.map((n) => startTcpProxy({ targetPort: n.amqpPort })));
  recordResult({
    fault: 'cluster boot (3 private nodes)', injected: 0, acknowledged: 0, delivered: 0, lost: 0, duplicates: 0, droppedByPolicy: 0, expiredByPolicy: 0,
    note: `booted and joined in ${(cluster.bootMs / 1000).toFixed(1)} s, ${(cluster.rssBytes() / 1e9).toFixed(2)} GB resident (3 beam processes)`,
  });
}, 300_000);

beforeEach(nameSeedOnFailure);

afterAll(async () => {
  for (const c of cleanups.reverse()) await Promise.resolve(c()).catch(() => {});
  await Promise.all(proxies.map((p) => p.close().catch(() => {})));
  await cluster?.dispose();
}, 180_000);

interface Rig {
  prefix: string;
  dir: string;
  mqttPort: number;
  bridge: BridgeProcess;
  fleet: Fleet;
  serial?: SerialNodes;
  queue: string;
  httpPort: number;
}

async function rig(label: string, o: { nodes?: number; serialNodes?: number; topologyPrefix?: string } = {}): Promise<Rig> {
  const prefix = uniquePrefix(`chcl-${label}`);
  const dir = mkdtempSync(join(tmpdir(), `chcl-${label}-`));
  const mqttPort = await freePort();
  const httpPort = await freePort();
  const serial = o.serialNodes ? await SerialNodes.create(dir, prefix, o.serialNodes) : undefined;
  const { config, topology } = bridgeConfig({
    prefix, dir, mqttPort, httpPort, heartbeatSec: HEARTBEAT_SEC, serialPorts: serial?.bridgePorts,
    amqpUrls: proxies.map((p) => `amqp://guest:guest@127.0.0.1:${p.port}`),
    // one connection, so "the node the bridge is connected to" is one node
    connections: 1, quorum: true, topologyPrefix: o.topologyPrefix,
  });
  const bridge = BridgeProcess.write(dir, config);
  const fleet = new Fleet(mqttPort, prefix, o.nodes ?? PROFILE.nodes);
  cleanups.push(async () => {
    await fleet.stop();
    await serial?.stop().catch(() => {});
    await bridge.dispose();
    rmSync(dir, { recursive: true, force: true });
  });
  return { prefix, dir, mqttPort, bridge, fleet, serial, queue: topology.queue, httpPort };
}

/**
 * A device publishing QoS1 batches one at a time; every 20th is a poison (over the
 * cluster's max_message_size, under the bridge's own payload limit), so poisons are in
 * flight whenever a fault lands. Counts what was PUBACKed, poison or not.
 */
class PoisonDevice {
  readonly device: string;
  readonly acked = new Set<string>();
  readonly poisonAcked = new Set<string>();
  private stopped = false;
  private done: Promise<void> = Promise.resolve();
  constructor(private readonly r: Rig) {
    this.device = `${r.prefix}-poison`;
  }
  static isPoison = (seq: number) => seq % 20 === 0;
  body(seq: number): Buffer {
    const n = PoisonDevice.isPoison(seq) ? 120 : 2;
    return encodeBatch({ v: 1, device: this.device, boot: 1, seq, fw: 'chaos-1', ts: 1_700_000_000_000 + seq, unsynced: false,
      readings: Array.from({ length: n }, (_, i) => ({ sensor: 'temperature', offset: i * 10, value: 20 + i / 8 })) });
  }
  start(): void {
    this.done = (async () => {
      let seq = 1;
      while (!this.stopped) {
        const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${this.r.mqttPort}`, { clientId: this.device, reconnectPeriod: 0, connectTimeout: 3000 }).catch(() => undefined);
        if (!client) {
          await sleep(100);
          continue;
        }
        try {
          while (!this.stopped) {
            await client.publishAsync(`chaos/${this.device}/telemetry`, this.body(seq), { qos: 1 });
            const id = `${this.device}:1:${seq}`;
            (PoisonDevice.isPoison(seq) ? this.poisonAcked : this.acked).add(id);
            seq++;
            await sleep(50);
          }
        } catch {
          /* resent after reconnecting */
        }
        client.end(true);
      }
    })();
  }
  async stop(): Promise<void> {
    this.stopped = true;
    await this.done;
  }
  owns = (id: string) => id.startsWith(`${this.device}:1:`);
  /** Times each id was parked as unpublishable in the bridge's quarantine. */
  parked(): Map<string, number> {
    const file = join(this.r.dir, 'quarantine', 'quarantine.jsonl');
    const out = new Map<string, number>();
    if (!existsSync(file)) return out;
    for (const line of readFileSync(file, 'utf8').split('\n')) {
      if (!line.includes('unpublishable')) continue;
      const ids = new Set(line.match(new RegExp(`${this.device.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:1:\\d+`, 'g')) ?? []);
      for (const id of ids) out.set(id, (out.get(id) ?? 0) + 1);
    }
    return out;
  }
}

/** Index of the node the bridge's one connection goes to (through its proxy). */
async function connectedIndex(timeoutMs = 60_000): Promise<number> {
  return (await waitFor(() => {
    const live = proxies.map((p, i) => (p.connections() > 0 ? i + 1 : 0)).filter(Boolean);
    return live.length === 1 ? live[0] : 0;
  }, { timeoutMs, what: 'the bridge connected to exactly one node' })) - 1;
}

/** ms from `t0` to the bridge's first `amqp connected` log line after it. */
async function reconnectedAfter(r: Rig, t0: number, timeoutMs = 90_000): Promise<number> {
  const line = await waitFor(
    () => r.bridge.logged(/"amqp connected"/).map((l) => JSON.parse(l) as { time: number }).find((e) => e.time > t0),
    { timeoutMs, what: 'the bridge connected again' },
  );
  return line.time - t0;
}

async function metric(r: Rig, name: string): Promise<number> {
  return (await scrapeMetrics(r.httpPort)).get(name) ?? 0;
}

/** ms from `t0` until the store's backlog is back to `steady` (records under load before the fault, at least 200). */
async function drainedAfter(r: Rig, t0: number, steady: number, timeoutMs = 180_000): Promise<number> {
  const max = Math.max(200, steady);
  await waitFor(async () => (await metric(r, 'edge_store_records')) <= max, { timeoutMs, intervalMs: 250, what: `the store backlog down to ${max}` });
  return Date.now() - t0;
}

/** Quorum queues of `prefix` with all 3 members online (a member catching up would make the next stop a majority loss). */
async function quorumFull(topologyPrefix: string, timeoutMs = 120_000): Promise<void> {
  await waitFor(
    async () => {
      const up = cluster.nodes.find((n) => n.osPid !== undefined)!;
      const out = await up.rabbitmqctl(['list_queues', 'name', 'type', 'online', '--formatter', 'json'], { timeoutMs: 30_000 });
      const ours = (JSON.parse(out) as Array<{ name: string; type: string; online: string[] }>).filter((q) => q.name.startsWith(topologyPrefix));
      return ours.length > 0 && ours.every((q) => q.type === 'quorum' && q.online.length === cluster.nodes.length);
    },
    { timeoutMs, intervalMs: 500, what: `every quorum queue of ${topologyPrefix} with ${cluster.nodes.length} members online` },
  );
}

async function restart(n: PrivateRabbit): Promise<void> {
  await n.start();
  await cluster.awaitAllRunning();
}

/** Stops the devices, counts the queue by message_id on a live node, records the rows, checks nothing acknowledged is missing. */
async function finish(r: Rig, fault: string, injected: number, note: string, poison?: PoisonDevice) {
  await r.fleet.stop();
  await r.serial?.stop();
  await poison?.stop();
  const serialAcked = r.serial?.acked() ?? new Set<string>();
  const counter = new QueueCounter(cluster.nodes.find((n) => n.osPid !== undefined)!.amqpUrl, r.queue);
  await waitFor(async () => (await counter.start(), true), { timeoutMs: 30_000, what: 'queue reachable' });
  await counter.settle(new Set([...r.fleet.acked, ...serialAcked]), 180_000);
  const ofFleet = fleetId(r.prefix);
  const sent = (id: string) => ofFleet(id) || !!r.serial?.sent(id) || !!poison?.owns(id);
  const c = counter.count(new Set([...r.fleet.acked, ...(poison?.acked ?? [])]), sent, ofFleet);
  let poisonNote = '';
  if (poison) {
    // every PUBACKed poison parked exactly once, none in RabbitMQ, nothing left waiting behind it
    await waitFor(() => [...poison.poisonAcked].every((id) => poison.parked().has(id)), { timeoutMs: 60_000, what: 'every poison parked' }).catch(() => {});
    const parked = poison.parked();
    expect([...poison.poisonAcked].filter((id) => parked.get(id) !== 1).slice(0, 20), 'poisons not parked exactly once').toEqual([]);
    expect([...counter.seen.keys()].filter((id) => poison.owns(id) && PoisonDevice.isPoison(Number(id.split(':')[2]))), 'poisons in RabbitMQ').toEqual([]);
    expect(await metric(r, 'edge_store_records')).toBe(0);
    expect(poison.poisonAcked.size).toBeGreaterThan(0);
    poisonNote = `; ${poison.poisonAcked.size} poison batches (over max_message_size ${MAX_MESSAGE_SIZE}) PUBACKed, each parked once as unpublishable, none in RabbitMQ; the poison device's ${poison.acked.size} other batches delivered`;
  }
  const s = r.serial && counter.count(serialAcked, sent, (id) => r.serial!.owns(id));
  await counter.close();
  await r.bridge.kill('SIGTERM');
  recordResult({ fault, injected, acknowledged: r.fleet.acked.size, delivered: c.delivered, lost: c.lost.length, duplicates: c.duplicates, droppedByPolicy: 0, expiredByPolicy: 0, note: note + poisonNote });
  if (r.serial && s) {
    recordResult({ fault: `${fault}: serial ACK`, injected, acknowledged: serialAcked.size, delivered: s.delivered, lost: s.lost.length, duplicates: s.duplicates, droppedByPolicy: 0, expiredByPolicy: 0,
      note: `${r.serial.size} POSIX edge-nodes on ptys; ${r.serial.retransmits} retransmits, ${r.serial.droppedByNode} dropped from a full node outbox (never ACKed)` });
  }
  expectNothingLost(c, r.fleet.acked.size, s ? { count: s, acked: serialAcked.size } : undefined);
  return c;
}

const sec = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

describe(`chaos on a 3-node RabbitMQ cluster (${PROFILE.name})`, () => {
  const kills = FULL ? 3 : 1;
  it(`kill -9 of the node the bridge is connected to, ${kills}x, under load from ${PROFILE.nodes} MQTT and ${PROFILE.serialNodes} serial nodes and a device sending poison records: nothing acknowledged lost, every poison parked once`, async () => {
    const r = await rig('kill', { serialNodes: PROFILE.serialNodes });
    const poison = new PoisonDevice(r);
    await r.bridge.start();
    r.fleet.start();
    r.serial!.start();
    poison.start();
    const failovers: number[] = [];
    const drains: number[] = [];
    for (let k = 0; k < kills; k++) {
      await r.fleet.progress(between(200, 600));
      const i = await connectedIndex();
      const node = cluster.nodes[i]!;
      const steady = 2 * (await metric(r, 'edge_store_records'));
      const t0 = Date.now();
      await node.stop('kill');
      failovers.push(await reconnectedAfter(r, t0));
      // PUBACKs continue; the publishes the dead node never confirmed go again
      await r.fleet.progress(100, 60_000);
      drains.push(await drainedAfter(r, t0, steady));
      await restart(node);
      await quorumFull(r.queue);
    }
    await r.fleet.progress(100);
    await r.serial!.progress(3, 60_000);
    await finish(r, 'cluster: kill -9 of the connected node, poison records in flight', kills,
      `bridge connected to another node ${failovers.map(sec).join(', ')} after the kill; store backlog back to its level before the kill ${drains.map(sec).join(', ')} after it`, poison);
  });

  // The rest run in the full profile only (CI budget; README).
  if (!FULL) return;

  it(`majority lost for ${MINORITY_MS / 1000} s (connected node killed, a second stopped): PUBACKs continue into the store, the backlog drains once a majority is back`, async () => {
    const r = await rig('minority', { serialNodes: PROFILE.serialNodes });
    await r.bridge.start();
    r.fleet.start();
    r.serial!.start();
    await r.fleet.progress(300);
    const a = await connectedIndex();
    const b = (a + 1) % cluster.nodes.length;
    const steady = 2 * (await metric(r, 'edge_store_records'));
    const t0 = Date.now();
    await cluster.nodes[a]!.stop('kill');
    await cluster.nodes[b]!.stop('graceful');
    const ackedBefore = r.fleet.acked.size;
    await sleep(MINORITY_MS);
    const ackedDuring = r.fleet.acked.size - ackedBefore;
    const backlog = await metric(r, 'edge_store_records');
    // devices kept being acknowledged, and what they sent waits in the store
    expect(ackedDuring).toBeGreaterThan(100);
    expect(backlog).toBeGreaterThan(ackedDuring / 2);
    const back = Date.now();
    await cluster.nodes[b]!.start();
    const drained = await drainedAfter(r, back, steady);
    await cluster.nodes[a]!.start();
    await cluster.awaitAllRunning();
    await quorumFull(r.queue);
    await r.fleet.progress(100);
    await r.serial!.progress(3, 60_000);
    await finish(r, `cluster: majority lost ${MINORITY_MS / 1000} s`, 2,
      `${ackedDuring} readings PUBACKed while no majority (${sec(back - t0)}), backlog ${backlog} records, back to its level before the fault ${sec(drained)} after the second node was started again`);
  });

  it('rolling restart of all three nodes under load: nothing acknowledged lost', async () => {
    const r = await rig('rolling', { serialNodes: PROFILE.serialNodes });
    await r.bridge.start();
    r.fleet.start();
    r.serial!.start();
    const reconnects: string[] = [];
    for (const node of cluster.nodes) {
      await quorumFull(r.queue);
      await r.fleet.progress(between(200, 500));
      const t0 = Date.now();
      await node.stop('graceful');
      await r.fleet.progress(50, 60_000);
      await restart(node);
      const connectedSince = r.bridge.logged(/"amqp connected"/).map((l) => JSON.parse(l) as { time: number }).filter((e) => e.time > t0);
      reconnects.push(connectedSince.length ? sec(connectedSince[0]!.time - t0) : 'stayed');
    }
    await quorumFull(r.queue);
    await r.fleet.progress(100);
    await r.serial!.progress(3, 60_000);
    await finish(r, 'cluster: rolling restart', cluster.nodes.length, `per node, bridge connected again after: ${reconnects.join(', ')} (stayed = its node was not the one restarted)`);
  });

  it(`link to the connected node cut (blackholed at the proxy, heartbeat ${HEARTBEAT_SEC} s): fails over to another node, nothing acknowledged lost`, async () => {
    const r = await rig('link', { serialNodes: PROFILE.serialNodes });
    await r.bridge.start();
    r.fleet.start();
    r.serial!.start();
    const failovers: number[] = [];
    for (let k = 0; k < PROFILE.netFaults; k++) {
      await r.fleet.progress(between(200, 500));
      const i = await connectedIndex();
      const t0 = Date.now();
      proxies[i]!.blackhole(true);
      try {
        failovers.push(await reconnectedAfter(r, t0));
        await r.fleet.progress(100, 60_000);
      } finally {
        proxies[i]!.blackhole(false);
      }
      // 3 heartbeats to notice, then backoff, connect and topology
      expect(failovers.at(-1)!).toBeLessThanOrEqual(3 * HEARTBEAT_SEC * 1000 + 5000);
    }
    await r.fleet.progress(100);
    await r.serial!.progress(3, 60_000);
    await finish(r, 'cluster: link cut (proxy blackhole)', PROFILE.netFaults, `failover to another node after ${failovers.map(sec).join(', ')}`);
  });

  it('two sites at once: two bridges, competing consumers count every id, per-device order holds on a single-active-consumer queue', async () => {
    const shared = uniquePrefix('chcl-sites');
    const sites = [await rig('site1', { nodes: PROFILE.nodes / 2, topologyPrefix: shared }), await rig('site2', { nodes: PROFILE.nodes / 2, topologyPrefix: shared })];
    // the ordered view: a quorum queue with one active consumer, bound like the shared one
    const sac = `${shared}.sac`;
    const conn = await amqp.connect(cluster.nodes[0]!.amqpUrl);
    cleanups.push(() => conn.close());
    const ch = await conn.createChannel();
    await sites[0]!.bridge.start(); // declares the shared topology
    await ch.assertQueue(sac, { durable: true, arguments: { 'x-queue-type': 'quorum', 'x-single-active-consumer': true } });
    await ch.bindQueue(sac, `${shared}.tele`, 'chaos.#');
    await sites[1]!.bridge.start();
    // competing consumers on the shared queue, one per node
    const competing = cluster.nodes.map((n) => new QueueCounter(n.amqpUrl, `${shared}.all`));
    await Promise.all(competing.map((c) => c.start()));
    // two consumers on the SAC queue: only one gets deliveries; each checks seq per device
    const lastSeq = new Map<string, number>();
    const sacSeen = new Set<string>();
    const outOfOrder: string[] = [];
    const sacConsumers: string[] = [];
    const sacConns: amqp.ChannelModel[] = [];
    for (const n of cluster.nodes.slice(0, 2)) {
      const c = await amqp.connect(n.amqpUrl);
      sacConns.push(c);
      const cch = await c.createChannel();
      await cch.prefetch(1000);
      await cch.consume(sac, (m) => {
        if (!m) return;
        const id = String(m.properties.messageId);
        const [device, , seq] = id.split(':');
        if (!sacSeen.has(id)) {
          sacSeen.add(id);
          const prev = lastSeq.get(device!) ?? -1;
          if (Number(seq) <= prev) outOfOrder.push(`${id} after seq ${prev}`);
          lastSeq.set(device!, Number(seq));
        }
        if (!sacConsumers.includes(n.nodeName)) sacConsumers.push(n.nodeName);
        cch.ack(m);
      });
    }
    cleanups.push(() => Promise.all(sacConns.map((c) => c.close().catch(() => {}))));
    for (const s of sites) s.fleet.start();
    await Promise.all(sites.map((s) => s.fleet.progress(FULL ? 3000 : 500, 180_000)));
    for (const s of sites) await s.fleet.stop();
    const acked = new Set([...sites[0]!.fleet.acked, ...sites[1]!.fleet.acked]);
    const seenBy = () => {
      const all = new Map<string, number>();
      for (const c of competing) for (const [id, k] of c.seen) all.set(id, (all.get(id) ?? 0) + k);
      return all;
    };
    await waitFor(() => [...acked].every((id) => seenBy().has(id) && sacSeen.has(id)), { timeoutMs: 180_000, intervalMs: 500, what: 'every acknowledged id on both queues' }).catch(() => {});
    await sleep(2000);
    const all = seenBy();
    const lost = [...acked].filter((id) => !all.has(id));
    const lostSac = [...acked].filter((id) => !sacSeen.has(id));
    let duplicates = 0;
    for (const k of all.values()) duplicates += k - 1;
    const share = competing.map((c) => c.total());
    await Promise.all(competing.map((c) => c.close()));
    for (const s of sites) await s.bridge.kill('SIGTERM');
    recordResult({ fault: 'cluster: two sites, competing consumers', injected: 0, acknowledged: acked.size, delivered: all.size, lost: lost.length, duplicates, droppedByPolicy: 0, expiredByPolicy: 0,
      note: `2 bridges x ${PROFILE.nodes / 2} nodes; shared queue drained by 3 consumers (${share.join(' / ')} messages); single-active-consumer queue: ${sacSeen.size} ids, ${outOfOrder.length} out of per-device order, 1 of 2 consumers active` });
    expect(lost.slice(0, 20)).toEqual([]);
    expect(lostSac.slice(0, 20)).toEqual([]);
    expect(outOfOrder.slice(0, 20)).toEqual([]);
    expect(sacConsumers).toHaveLength(1);
    // both sites' devices arrived
    for (const s of sites) expect([...all.keys()].some(fleetId(s.prefix))).toBe(true);
    // every consumer took a share
    expect(share.every((n) => n > 0)).toBe(true);
  });
});
