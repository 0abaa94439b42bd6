// Chaos: faults under load from virtual nodes (and POSIX serial nodes in the
// bridge kills), counted by message_id. CHAOS_PROFILE=full (npm run chaos) or the
// subset inside npm test (3 kills, 10 + 2 nodes, 10 s outage). Every broker fault
// hits a PRIVATE RabbitMQ node.
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, openSync, readdirSync, rmSync, statSync, writeSync, closeSync, truncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import amqp from 'amqplib';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startPrivateRabbit, type PrivateRabbit } from '../../../shared/testkit/rabbit-node.ts';
import { startTcpProxy, type TcpProxy } from '../../../shared/testkit/tcp-proxy.ts';
import { freePort } from '../../../shared/testkit/ports.ts';
import { uniquePrefix, waitFor } from '../../../shared/testkit/unique.ts';
import { isSegment, readStore } from './store-reader.ts';
import { BridgeProcess, Fleet, PROFILE, QueueCounter, SerialNodes, bridgeConfig, expectNothingLost, fleetId, nameSeedOnFailure, recordResult, scrapeMetrics, seeded, sleep } from './harness.ts';

const run = promisify(execFile);
const rng = seeded();
const between = (lo: number, hi: number) => lo + Math.floor(rng() * (hi - lo));

let rabbit: PrivateRabbit;
const cleanups: Array<() => Promise<unknown> | unknown> = [];

beforeAll(async () => {
  rabbit = await startPrivateRabbit({ label: 'chaos' });
}, 180_000);

beforeEach(nameSeedOnFailure);

afterAll(async () => {
  for (const c of cleanups.reverse()) await Promise.resolve(c()).catch(() => {});
  await rabbit?.dispose();
}, 120_000);

interface Rig {
  prefix: string;
  dir: string;
  bridge: BridgeProcess;
  fleet: Fleet;
  queue: string;
  mqttPort: number;
  config: Record<string, unknown>;
  configFile: string;
  /** POSIX nodes on ptys, when the rig has serial nodes. */
  serial?: SerialNodes;
  httpPort: number;
}

async function rig(
  label: string,
  o: { amqpUrls?: string[]; nodes?: number; serialNodes?: number; heartbeatSec?: number; storeDir?: string; connections?: number; metrics?: boolean } = {},
): Promise<Rig> {
  const prefix = uniquePrefix(`chaos-${label}`);
  const dir = mkdtempSync(join(tmpdir(), `chaos-${label}-`));
  const mqttPort = await freePort();
  const httpPort = o.metrics ? await freePort() : 0;
  const serial = o.serialNodes ? await SerialNodes.create(dir, prefix, o.serialNodes) : undefined;
  const { config, topology } = bridgeConfig({
    prefix, dir, mqttPort, amqpUrls: o.amqpUrls ?? [rabbit.amqpUrl], heartbeatSec: o.heartbeatSec, storeDir: o.storeDir, serialPorts: serial?.bridgePorts, httpPort,
  });
  if (o.connections) (config.amqp as Record<string, unknown>).connections = o.connections;
  const bridge = BridgeProcess.write(dir, config);
  const fleet = new Fleet(mqttPort, prefix, o.nodes ?? PROFILE.nodes);
  cleanups.push(async () => {
    await fleet.stop();
    await serial?.stop().catch(() => {});
    await bridge.dispose();
    const conn = await amqp.connect(rabbit.amqpUrl);
    const ch = await conn.createChannel();
    for (const q of [topology.queue, `${prefix}.unroutable`, `${prefix}.dlq`]) await ch.deleteQueue(q).catch(() => {});
    for (const e of [topology.exchange, `${prefix}.ae`, `${prefix}.dlx`]) await ch.deleteExchange(e).catch(() => {});
    await conn.close().catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  });
  return { prefix, dir, bridge, fleet, queue: topology.queue, mqttPort, config, configFile: join(dir, 'bridge.json'), serial, httpPort };
}

/**
 * Stops the nodes, counts the queue by message_id, records the row (a second one for the
 * serial nodes, if any), and checks the invariants.
 */
async function finish(r: Rig, fault: string, injected: number, settleMs = 120_000, note?: string) {
  await r.fleet.stop();
  await r.serial?.stop();
  const serialAcked = r.serial?.acked() ?? new Set<string>();
  // the backlog drains with the bridge still running; it is stopped once counted
  const counter = new QueueCounter(rabbit.amqpUrl, r.queue);
  await waitFor(async () => (await counter.start(), true), { timeoutMs: 30_000, what: 'queue reachable' });
  await counter.settle(new Set([...r.fleet.acked, ...serialAcked]), settleMs);
  const ofFleet = fleetId(r.prefix);
  const sent = (id: string) => ofFleet(id) || !!r.serial?.sent(id);
  const c = counter.count(r.fleet.acked, sent, ofFleet);
  const s = r.serial && counter.count(serialAcked, sent, (id) => r.serial!.owns(id));
  await counter.close();
  await r.bridge.kill('SIGTERM');
  recordResult({ fault, injected, acknowledged: r.fleet.acked.size, delivered: c.delivered, lost: c.lost.length, duplicates: c.duplicates, droppedByPolicy: 0, expiredByPolicy: 0, note });
  if (r.serial && s) {
    recordResult({
      fault: `${fault}: serial ACK`,
      injected,
      acknowledged: serialAcked.size,
      delivered: s.delivered,
      lost: s.lost.length,
      duplicates: s.duplicates,
      droppedByPolicy: 0,
      expiredByPolicy: 0,
      note: `${r.serial.size} POSIX edge-nodes on socat ptys beside the MQTT nodes; ${r.serial.retransmits} retransmits after an ACK timeout, ${r.serial.droppedByNode} dropped from a full node outbox (never ACKed)`,
    });
  }
  expectNothingLost(c, r.fleet.acked.size, s ? { count: s, acked: serialAcked.size } : undefined);
  return c;
}

describe(`chaos (${PROFILE.name})`, () => {
  it(`bridge killed -9 ${PROFILE.kills}x under load from ${PROFILE.nodes} MQTT and ${PROFILE.serialNodes} serial nodes: every PUBACKed or serial-ACKed reading is in RabbitMQ`, async () => {
    const r = await rig('kill', { serialNodes: PROFILE.serialNodes });
    const serial = r.serial!;
    await r.bridge.start();
    r.fleet.start();
    serial.start();
    for (let k = 0; k < PROFILE.kills; k++) {
      await r.fleet.progress(between(50, 400));
      // every kill lands while the serial nodes are sending, not while they wait out a retransmit backoff
      await serial.progress(1, 60_000);
      await sleep(between(0, 700));
      await r.bridge.kill('SIGKILL');
      await r.bridge.start();
    }
    await r.fleet.progress(100);
    // every serial node is back in step after the last restart
    await serial.progress(5, 60_000);
    await finish(r, 'bridge kill -9', PROFILE.kills);
  });

  it('RabbitMQ killed -9 and restarted: ingress keeps being acknowledged from the store, the backlog drains, 0 lost', async () => {
    const r = await rig('rmqkill');
    await r.bridge.start();
    r.fleet.start();
    for (let k = 0; k < PROFILE.rabbitKills; k++) {
      await r.fleet.progress(between(100, 400));
      await rabbit.stop('kill');
      // ingress is paced by the store, not refused: nodes keep getting PUBACKs while the broker is gone
      await r.fleet.progress(50, 60_000);
      await rabbit.start();
    }
    await r.fleet.progress(100, 120_000);
    await finish(r, 'RabbitMQ kill -9 + restart', PROFILE.rabbitKills);
  });

  it(`RabbitMQ stopped for ${PROFILE.outageMs / 1000} s: PUBACKs continue, the backlog drains after restart, 0 lost`, async () => {
    const r = await rig('rmqstop');
    await r.bridge.start();
    r.fleet.start();
    await r.fleet.progress(200);
    await rabbit.stop('graceful');
    const during = r.fleet.acked.size;
    await sleep(PROFILE.outageMs);
    expect(r.fleet.acked.size).toBeGreaterThan(during);
    await rabbit.start();
    await r.fleet.progress(100, 120_000);
    await finish(r, `RabbitMQ stopped ${PROFILE.outageMs / 1000} s`, 1);
  });

  it('memory alarm on the private node: connection.blocked arrives, ingress keeps being stored, drains after the alarm clears', async () => {
    const r = await rig('alarm');
    await r.bridge.start();
    r.fleet.start();
    await r.fleet.progress(100);
    await rabbit.rabbitmqctl(['set_vm_memory_high_watermark', '0.0000001']);
    try {
      await waitFor(() => r.bridge.logged(/connection blocked by broker/).length > 0, { timeoutMs: 30_000, what: 'connection.blocked in the bridge log' });
      await r.fleet.progress(100, 60_000);
    } finally {
      await rabbit.rabbitmqctl(['set_vm_memory_high_watermark', '0.4']);
    }
    await r.fleet.progress(50, 60_000);
    await finish(r, 'RabbitMQ memory alarm (connection.blocked)', 1);
  });

  it(`disk alarm on the private node ${PROFILE.diskAlarms}x: connection.blocked arrives, PUBACKs continue into the store, drains after the alarm clears, 0 lost`, async () => {
    const r = await rig('diskalarm', { metrics: true });
    const metric = async (name: string) => (await scrapeMetrics(r.httpPort)).get(name) ?? 0;
    // the CLI takes seconds to start: read the limit to restore while the bridge starts
    const [limit] = await Promise.all([rabbit.rabbitmqctl(['eval', 'rabbit_disk_monitor:get_disk_free_limit().']), r.bridge.start()]);
    const original = limit.trim();
    expect(original, 'an absolute limit in bytes to restore').toMatch(/^\d+$/);
    r.fleet.start();
    await r.fleet.progress(100);
    const blockedAfter: string[] = [];
    const backlogs: number[] = [];
    const drains: number[] = [];
    let ackedDuring = 0;
    for (let k = 0; k < PROFILE.diskAlarms; k++) {
      // far above the free space; set_disk_free_limit re-checks at once, so the monitor's interval does not matter
      const t0 = Date.now();
      await rabbit.rabbitmqctl(['set_disk_free_limit', '1000000GB']);
      const cli = Date.now() - t0;
      try {
        const blocked = await waitFor(
          () => r.bridge.logged(/connection blocked by broker/).map((l) => JSON.parse(l)).find((e) => e.time >= t0 && /disk/.test(e.reason)),
          { timeoutMs: 30_000, what: 'connection.blocked (low on disk) in the bridge log' },
        );
        blockedAfter.push(`${((blocked.time - t0) / 1000).toFixed(1)} s (CLI ${(cli / 1000).toFixed(1)} s)`);
        const before = r.fleet.acked.size;
        await sleep(PROFILE.diskAlarmMs);
        // ingress is not refused while egress is blocked: at least 100 more PUBACKs during the alarm
        await r.fleet.progress(100, 60_000);
        const during = r.fleet.acked.size - before;
        ackedDuring += during;
        const backlog = await metric('edge_store_records');
        backlogs.push(backlog);
        // and those readings wait in the store (one record per batch here) rather than reaching RabbitMQ
        expect(backlog).toBeGreaterThanOrEqual(during / 2);
      } finally {
        await rabbit.rabbitmqctl(['set_disk_free_limit', original]);
      }
      // the backlog drains under continued load (finish() then finds every acknowledged reading in the queue)
      const cleared = Date.now();
      await waitFor(async () => (await metric('edge_store_records')) <= Math.max(100, backlogs.at(-1)! / 10), { timeoutMs: 120_000, intervalMs: 250, what: 'the backlog to drain' });
      drains.push(Date.now() - cleared);
      await r.fleet.progress(100, 120_000);
    }
    // paced into the store, never answered busy, never dropped
    expect(await metric('edge_ingress_busy_total')).toBe(0);
    expect(await metric('edge_store_dropped_total')).toBe(0);
    await finish(r, 'RabbitMQ disk alarm (connection.blocked)', PROFILE.diskAlarms, 120_000,
      `connection.blocked logged ${blockedAfter.join(', ')} after set_disk_free_limit was called; ${ackedDuring} readings PUBACKed into the store while blocked ` +
        `(${PROFILE.diskAlarmMs / 1000} s and 100 readings at least per alarm), backlog ${backlogs.join(', ')} records at the alarm's end, ` +
        `drained to a tenth within ${drains.map((ms) => `${(ms / 1000).toFixed(1)} s`).join(', ')} of the clear; 0 busy answers, 0 dropped`);
  });

  it('network faults through a TCP proxy: delay, reset, blackhole; a dead link fails over to the next URL within 3 heartbeat intervals', async () => {
    const hb = 2;
    const a = await startTcpProxy({ targetPort: rabbit.amqpPort });
    const b = await startTcpProxy({ targetPort: rabbit.amqpPort });
    cleanups.push(() => a.close(), () => b.close());
    const url = (p: TcpProxy) => `amqp://guest:guest@127.0.0.1:${p.port}`;
    const r = await rig('net', { amqpUrls: [url(a), url(b)], heartbeatSec: hb, connections: 1 });
    await r.bridge.start();
    r.fleet.start();
    let injected = 0;
    for (let k = 0; k < PROFILE.netFaults; k++) {
      await waitFor(() => a.connections() > 0 || b.connections() > 0, { timeoutMs: 30_000, what: 'egress connected' });
      await r.fleet.progress(100);
      // delay: slow but alive, nothing lost
      const live = a.connections() > 0 ? a : b;
      live.setDelayMs(300);
      await r.fleet.progress(100);
      live.setDelayMs(0);
      injected++;
      // reset: every connection torn down, the bridge reconnects
      live.reset();
      injected++;
      await waitFor(() => a.connections() + b.connections() > 0, { timeoutMs: 30_000, what: 'reconnected after reset' });
      await r.fleet.progress(100);
      // blackhole: sockets stay open, bytes stop; heartbeats must notice and fail over
      const holed = a.connections() > 0 ? a : b;
      const other = holed === a ? b : a;
      holed.blackhole(true);
      const t0 = Date.now();
      await waitFor(() => other.connections() > 0, { timeoutMs: 60_000, what: 'failover to the other URL' });
      const took = Date.now() - t0;
      injected++;
      recordResult({ fault: 'dead link detection', injected: 1, acknowledged: 0, delivered: 0, lost: 0, duplicates: 0, droppedByPolicy: 0, expiredByPolicy: 0, note: `failover after ${took} ms, heartbeat ${hb} s` });
      // 3 heartbeat intervals to notice, plus up to 2 s (backoff + connect + topology) to be on the next URL
      expect(took).toBeLessThanOrEqual(3 * hb * 1000 + 2000);
      holed.blackhole(false);
      await r.fleet.progress(100);
    }
    await finish(r, 'network: delay, reset, blackhole', injected);
  });

  it('store volume full (tmpfs): PUBACK withheld, no corruption, recovers by itself when space returns', async () => {
    const vol = mkdtempSync(join(tmpdir(), 'chaos-vol-'));
    await run('mount', ['-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', vol]);
    cleanups.push(async () => {
      await run('umount', ['-l', vol]).catch(() => {});
      rmSync(vol, { recursive: true, force: true });
    });
    const proxy = await startTcpProxy({ targetPort: rabbit.amqpPort });
    cleanups.push(() => proxy.close());
    const r = await rig('disk', { amqpUrls: [`amqp://guest:guest@127.0.0.1:${proxy.port}`], storeDir: join(vol, 'store') });
    await r.bridge.start();
    r.fleet.start();
    await r.fleet.progress(50);
    for (let k = 0; k < PROFILE.diskFulls; k++) {
      // broker unreachable: the backlog grows on the 2 MiB volume until it is full
      proxy.blackhole(true);
      let last = -1;
      await waitFor(
        () => {
          const n = r.fleet.acked.size;
          const stalled = n === last;
          last = n;
          return stalled;
        },
        { timeoutMs: 120_000, intervalMs: 2000, what: 'acknowledgements to stop on a full volume' },
      );
      expect(r.bridge.running()).toBe(true);
      const full = r.fleet.acked.size;
      await sleep(1000);
      expect(r.fleet.acked.size).toBe(full); // withheld, not acknowledged into nowhere
      proxy.blackhole(false);
      proxy.reset();
      // space returns as confirmed records are deleted; acks resume without a restart
      await r.fleet.progress(100, 120_000).catch((err) => {
        throw new Error(`${err.message}\nbridge log:\n${r.bridge.logLines.slice(-15).join('\n')}`);
      });
    }
    expect(r.bridge.starts).toBe(1);
    await finish(r, 'store volume full (2 MiB tmpfs)', PROFILE.diskFulls);
    const verify = await run(process.execPath, ['bridge/bin/edge-bridge.js', 'store', 'verify', '--dir', join(vol, 'store')]).catch((e) => e);
    expect(JSON.parse(verify.stdout).corrupt).toEqual([]);
  });

  it('torn and garbled store files: every record wholly outside the damaged bytes is delivered (oracle: a test-side reader of docs/store-format.md), the bridge starts', async () => {
    const proxy = await startTcpProxy({ targetPort: rabbit.amqpPort });
    cleanups.push(() => proxy.close());
    const r = await rig('corrupt', { amqpUrls: [`amqp://guest:guest@127.0.0.1:${proxy.port}`], metrics: true });
    const storeDir = join(r.dir, 'store');
    // reads the queue throughout, straight from the node (not through the proxy)
    const counter = new QueueCounter(rabbit.amqpUrl, r.queue);
    /** Ids of records that lay wholly outside the damage: must be delivered. */
    const mustDeliver = new Set<string>();
    /** Ids whose every stored copy overlapped the damage: the most that may be destroyed. */
    const hit = new Set<string>();
    let damagedBytes = 0;
    let storeBytes = 0;
    for (let round = 0; round < PROFILE.corruptRounds; round++) {
      proxy.blackhole(true);
      await r.bridge.start();
      r.fleet.start();
      await r.fleet.progress(between(300, 800));
      // the fleet rests while the damage is assessed, so the drain below can reach 0
      await r.bridge.kill('SIGKILL');
      await r.fleet.stop();
      const frames = readStore(storeDir);
      const segs = readdirSync(storeDir).filter(isSegment).sort();
      expect(segs.length).toBeGreaterThan(0);
      // garble a few seeded spots and tear the tail of the newest segment; the test notes every damaged byte range
      const damage = new Map<string, Array<[number, number]>>();
      const note = (file: string, from: number, to: number) => {
        damage.set(file, [...(damage.get(file) ?? []), [from, to]]);
        damagedBytes += to - from;
      };
      for (const f of segs) storeBytes += statSync(join(storeDir, f)).size;
      for (let g = 0; g < 3; g++) {
        const name = segs[between(0, segs.length)]!;
        const f = join(storeDir, name);
        const size = statSync(f).size;
        if (size < 64) continue;
        const fd = openSync(f, 'r+');
        const junk = Buffer.from(Array.from({ length: between(1, 24) }, () => between(0, 256)));
        const at = between(0, size - junk.length);
        writeSync(fd, junk, 0, junk.length, at);
        closeSync(fd);
        note(name, at, at + junk.length);
      }
      const lastName = segs.at(-1)!;
      const last = join(storeDir, lastName);
      const size = statSync(last).size;
      const cut = between(0, size);
      truncateSync(last, cut);
      note(lastName, cut, size);
      const overlaps = (fr: { file: string; offset: number; length: number }) =>
        (damage.get(fr.file) ?? []).some(([from, to]) => fr.offset < to && from < fr.offset + fr.length);
      for (const fr of frames) if (!overlaps(fr)) mustDeliver.add(fr.messageId);
      for (const fr of frames) if (overlaps(fr) && !mustDeliver.has(fr.messageId)) hit.add(fr.messageId);
      proxy.blackhole(false);
      proxy.reset();
      // starts over the damage (never refuses)
      await r.bridge.start();
      // the queue exists once the bridge reached the broker and declared it
      if (round === 0) await waitFor(async () => (await counter.start(), true), { timeoutMs: 60_000, what: 'the queue declared' });
      const missing = () => [...mustDeliver].filter((id) => !counter.seen.has(id));
      await waitFor(() => missing().length === 0, { timeoutMs: 120_000, intervalMs: 500, what: 'every record outside the damage in RabbitMQ' }).catch(() => {});
      expect(missing().slice(0, 20), `records wholly outside the damaged bytes, not delivered (round ${round})`).toEqual([]);
      await waitFor(async () => (await scrapeMetrics(r.httpPort)).get('edge_store_records') === 0, { timeoutMs: 120_000, intervalMs: 500, what: 'store drained after the damage' });
      await r.bridge.kill('SIGTERM');
    }
    await counter.settle(new Set(), 5000);
    const c = counter.count(r.fleet.acked, fleetId(r.prefix));
    await counter.close();
    expect(c.strangers).toEqual([]);
    expect(c.conflicts).toEqual([]);
    // an acknowledged reading not delivered must have had every stored copy inside the damage
    const destroyed = c.lost.filter((id) => hit.has(id));
    const lost = c.lost.filter((id) => !hit.has(id));
    expect(lost.slice(0, 20)).toEqual([]);
    recordResult({
      fault: 'torn + garbled store',
      injected: PROFILE.corruptRounds,
      acknowledged: r.fleet.acked.size,
      delivered: c.delivered,
      lost: lost.length,
      duplicates: c.duplicates,
      droppedByPolicy: 0,
      expiredByPolicy: 0,
      note: `destroyed on purpose: ${destroyed.length} acknowledged readings, bound ${hit.size} (records the test's damage overlapped, ${damagedBytes} of ${storeBytes} segment bytes); ` +
        `${mustDeliver.size} records wholly outside the damage, all delivered (oracle: bridge/test/chaos/store-reader.ts)`,
    });
  });
});
