// The device edge, attacked as a hostile device would: one row per attack. The bridge
// runs as `edge-bridge.js start -c` (a child process, public seams only); what reached
// RabbitMQ is the oracle, read by a consumer that drops duplicate message ids as
// PROTOCOL.md tells consumers to.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect as netConnect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import amqp, { type ChannelModel, type ConsumeMessage } from 'amqplib';
import { connectAsync, type IClientOptions, type MqttClient } from 'mqtt';
import { SerialPort } from 'serialport';
import { decode } from 'msgpackr';
import { AckCode, encodeBatch, encodeFrame, encodeStatus, FrameDecoder, FrameType, type Frame } from '../../src/codec/index.ts';
import { addCredential } from '../../src/ingress/mqtt-auth.ts';
import { BridgeProcess } from '../chaos/harness.ts';
import { freePort } from '../../../shared/testkit/ports.ts';
import { startPtyPair, type PtyPair } from '../../../shared/testkit/pty.ts';
import { uniquePrefix, waitFor } from '../../../shared/testkit/unique.ts';

const AMQP_URL = 'amqp://guest:guest@127.0.0.1:5672';
const PREFIX = 'factory/floor1';
const SECRET = (id: string) => `secret-of-${id}`;

const run = uniquePrefix('edge');
const id = (name: string) => `${run}-${name}`;
const devA = id('devA');
const devB = id('devB');
const devC = id('devC');
const ops = id('ops');
const serialOk = id('serial-ok');
const serialRogue = id('serial-rogue');
const malicious = Array.from({ length: 10 }, (_, i) => id(`mal${i}`));

const dir = mkdtempSync(join(tmpdir(), 'device-edge-'));
const topo = { exchange: `${run}.tele`, queue: `${run}.all`, cmdExchange: `${run}.cmd`, cmdQueue: `${run}.cmdq` };
let bridge: BridgeProcess;
let mqttPort = 0;
let httpPort = 0;
let amqpConn: ChannelModel;
let pty: PtyPair;
const clients: MqttClient[] = [];

/** Every message that reached the telemetry queue, in arrival order. */
const arrived: Array<{ id: string; key: string; device: string; body: Record<string, unknown> }> = [];

function batch(device: string, seq: number, value: number, boot = 1): Buffer {
  return encodeBatch({ v: 1, device, boot, seq, fw: 'edge-1', ts: 1_700_000_000_000 + seq, unsynced: false, readings: [{ sensor: 'temperature', offset: 0, value }] });
}

function status(device: string, cmd: number): Buffer {
  return encodeStatus({ v: 1, d: device, b: 1, st: 'online', up: 10, rssi: -50, heap: 100_000, drop: 0, iv: 1000, bs: 4, cmd });
}

async function login(device: string, extra: Partial<IClientOptions> = {}): Promise<MqttClient> {
  const client = await connectAsync(`mqtt://127.0.0.1:${mqttPort}`, { clientId: device, username: device, password: SECRET(device), reconnectPeriod: 0, ...extra });
  clients.push(client);
  return client;
}

/** What a consumer that drops duplicate message ids keeps: the first body of each id. */
function deduped(): Map<string, (typeof arrived)[number]> {
  const kept = new Map<string, (typeof arrived)[number]>();
  for (const m of arrived) if (!kept.has(m.id)) kept.set(m.id, m);
  return kept;
}

async function sendCommand(device: string, cmdId: number, arg: number): Promise<void> {
  const ch = await amqpConn.createConfirmChannel();
  ch.publish(topo.cmdExchange, `cmd.${device}`, Buffer.from(JSON.stringify({ op: 'set_interval', arg, id: cmdId })), { persistent: true });
  await ch.waitForConfirms();
  await ch.close();
}

/** The cmd payloads (msgpack maps) a client receives, by id. */
function commandsOf(client: MqttClient): number[] {
  const ids: number[] = [];
  client.on('message', (topic, payload) => {
    if (topic.endsWith('/cmd')) ids.push(Number((decode(payload) as { id: number }).id));
  });
  return ids;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
  const creds = join(dir, 'creds.json');
  for (const d of [devA, devB, devC, ...malicious]) await addCredential(creds, d, SECRET(d));
  await addCredential(creds, ops, SECRET(ops), 'operator');
  pty = await startPtyPair(dir);
  [mqttPort, httpPort] = [await freePort(), await freePort()];
  const config = {
    mqtt: {
      topicPrefixes: [PREFIX],
      embedded: {
        host: '127.0.0.1',
        port: mqttPort,
        auth: { credentialsFile: creds },
        // Small caps, so the flood row can pass them with a few dozen sockets.
        limits: { maxConnections: 40, maxConnectionsPerAddress: 20 },
      },
    },
    serial: { ports: [{ path: pty.b, topicPrefix: PREFIX, devices: [serialOk] }] },
    amqp: {
      urls: [AMQP_URL],
      reconnect: { initialMs: 200, maxMs: 2000 },
      topology: {
        exchange: topo.exchange,
        alternateExchange: `${run}.ae`,
        unroutableQueue: `${run}.unroutable`,
        deadLetterExchange: `${run}.dlx`,
        deadLetterQueue: `${run}.dlq`,
        queues: [{ name: topo.queue, bindings: ['#'] }],
      },
    },
    routing: { rules: [{ name: 'factory', filter: 'factory/+floor/+device/telemetry', key: 'factory.{floor}.{device}', split: 'none' }, { name: 'default', filter: '#', key: '{topic}', split: 'none' }] },
    store: { dir: join(dir, 'store') },
    quarantine: { dir: join(dir, 'quarantine') },
    downlink: { enabled: true, exchange: topo.cmdExchange, queue: topo.cmdQueue, dir: join(dir, 'commands'), retryMs: 300 },
    queueHealth: { enabled: false },
    http: { host: '127.0.0.1', port: httpPort },
    log: { level: 'info' },
  };
  bridge = BridgeProcess.write(dir, config);
  await bridge.start();
  amqpConn = await amqp.connect(AMQP_URL);
  const ch = await amqpConn.createChannel();
  await ch.consume(topo.queue, (m: ConsumeMessage | null) => {
    if (!m) return;
    const h = m.properties.headers ?? {};
    arrived.push({ id: String(m.properties.messageId), key: m.fields.routingKey, device: String(h['x-device']), body: decode(m.content) as Record<string, unknown> });
    ch.ack(m);
  });
}, 120_000);

afterAll(async () => {
  await Promise.all(clients.map((c) => c.endAsync(true).catch(() => undefined)));
  await bridge?.kill('SIGTERM');
  await pty?.stop();
  if (amqpConn) {
    const ch = await amqpConn.createChannel();
    for (const q of [topo.queue, topo.cmdQueue, `${run}.unroutable`, `${run}.dlq`, `${run}.anon.unroutable`, `${run}.anon.dlq`]) await ch.deleteQueue(q).catch(() => undefined);
    for (const x of [topo.exchange, topo.cmdExchange, `${run}.ae`, `${run}.dlx`, `${run}.anon`, `${run}.anon.ae`, `${run}.anon.dlx`]) await ch.deleteExchange(x).catch(() => undefined);
    await amqpConn.close();
  }
  rmSync(dir, { recursive: true, force: true });
});

function quarantined(reason: string): Array<Record<string, unknown>> {
  const text = readFileSync(join(dir, 'quarantine', 'quarantine.jsonl'), 'utf8');
  return text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>).filter((e) => e.reason === reason);
}

describe('a device can speak only as itself', () => {
  it('forged d: devA sends devB ids first; nothing goes out as devB, and every real devB reading survives dedup', async () => {
    const a = await login(devA);
    const b = await login(devB);
    // devA's own topic, devB's device field and devB's next ids, with a poisoned value.
    for (let seq = 1; seq <= 20; seq++) await a.publishAsync(`${PREFIX}/${devA}/telemetry`, batch(devB, seq, -99), { qos: 1 });
    await a.publishAsync(`${PREFIX}/${devA}/telemetry`, batch(devA, 1, 7), { qos: 1 });
    for (let seq = 1; seq <= 20; seq++) await b.publishAsync(`${PREFIX}/${devB}/telemetry`, batch(devB, seq, seq), { qos: 1 });
    await waitFor(() => deduped().has(`${devB}:1:20`) && deduped().has(`${devA}:1:1`), { timeoutMs: 20_000, what: 'honest batches in RabbitMQ' });

    const kept = deduped();
    for (let seq = 1; seq <= 20; seq++) {
      const m = kept.get(`${devB}:1:${seq}`)!;
      expect(m.body.r, `devB seq ${seq}`).toEqual([['temperature', 0, seq]]);
      expect(m.device).toBe(devB);
      expect(m.key).toBe(`factory.floor1.${devB}`);
    }
    expect(arrived.filter((m) => m.id.startsWith(`${devB}:`)).every((m) => (m.body.r as unknown[][])[0]![2] !== -99)).toBe(true);
    expect(kept.get(`${devA}:1:1`)!.body.r).toEqual([['temperature', 0, 7]]);
    const forged = quarantined('identity_mismatch').filter((e) => e.identity === devA);
    expect(forged).toHaveLength(20);
    expect(String(forged[0]!.detail)).toContain(`payload says device '${devB}'`);
  });

  it('prefix escape and extra levels: published, acknowledged, never forwarded', async () => {
    const a = await login(devA);
    for (const topic of [`factory/floorX/${devA}/telemetry`, `factory/floorX/injected/${devA}/telemetry`, `${PREFIX}/extra/${devA}/telemetry`, `${PREFIX}/${devB}/telemetry`, `${PREFIX}/${devA}/other`]) {
      await a.publishAsync(topic, batch(devA, 100, 1), { qos: 1 });
    }
    await a.publishAsync(`${PREFIX}/${devA}/telemetry`, batch(devA, 101, 2), { qos: 1 });
    await waitFor(() => deduped().has(`${devA}:1:101`), { timeoutMs: 15_000, what: 'the honest batch after the attempts' });
    expect(arrived.filter((m) => m.id === `${devA}:1:100`)).toEqual([]);
    expect(arrived.filter((m) => /floorX|extra|other/.test(m.key))).toEqual([]);
  });

  it('commands are private: no device publishes one, nobody else subscribes, an offline device\'s command waits, a forged status confirms nothing', async () => {
    const a = await login(devA);
    const toA = commandsOf(a);
    await a.subscribeAsync(`${PREFIX}/${devA}/cmd`, { qos: 1 });
    // Another device's cmd topic, and wildcards: SUBACK 0x80, which mqtt.js reports as an error.
    for (const filter of [`${PREFIX}/${devC}/cmd`, `${PREFIX}/+/cmd`, '#', `${PREFIX}/#`]) {
      await expect(a.subscribeAsync(filter, { qos: 1 }), filter).rejects.toThrow(/Subscribe error/);
    }
    // devC is offline: its command is stored and waits.
    await sendCommand(devC, 4242, 700);
    // A forged status for devC confirming 4242, and a forged command straight onto devC's topic.
    await a.publishAsync(`${PREFIX}/${devA}/status`, status(devC, 4242), { qos: 1 });
    await a.publishAsync(`${PREFIX}/${devC}/status`, status(devC, 4242), { qos: 1 });
    await a.publishAsync(`${PREFIX}/${devC}/cmd`, Buffer.from([0x80]), { qos: 1 });
    await sleep(1000); // several downlink retry rounds while devC is away
    expect(toA).toEqual([]);

    // devC comes online: the command was neither confirmed by the forgery nor given to anyone else.
    const c = await login(devC);
    const toC = commandsOf(c);
    await c.subscribeAsync(`${PREFIX}/${devC}/cmd`, { qos: 1 });
    await c.publishAsync(`${PREFIX}/${devC}/status`, status(devC, 0), { qos: 1 });
    await waitFor(() => toC.includes(4242), { timeoutMs: 10_000, what: 'devC gets its own command' });
    expect(toC.every((x) => x === 4242)).toBe(true); // the forged cmd publish never reached it
    expect(toA).toEqual([]);
    expect(quarantined('identity_mismatch').some((e) => e.identity === devA && String(e.detail).includes(`'${devC}'`))).toBe(true);
  });

  it('client-id takeover without the secret fails, and the device keeps its connection', async () => {
    const b = await login(devB);
    const toB = commandsOf(b);
    await b.subscribeAsync(`${PREFIX}/${devB}/cmd`, { qos: 1 });
    const url = `mqtt://127.0.0.1:${mqttPort}`;
    const attempts: Array<Partial<IClientOptions>> = [
      { clientId: devB, username: devB, password: 'not-the-secret' },
      { clientId: devB, username: devA, password: SECRET(devA) },
      { clientId: devB },
    ];
    for (const o of attempts) await expect(connectAsync(url, { reconnectPeriod: 0, ...o })).rejects.toThrow(/Not authorized|Bad username/i);
    expect(b.connected).toBe(true);
    await sendCommand(devB, 5151, 900);
    await waitFor(() => toB.includes(5151), { timeoutMs: 10_000, what: 'devB still receives its commands' });
    await b.publishAsync(`${PREFIX}/${devB}/telemetry`, batch(devB, 50, 50), { qos: 1 });
    await waitFor(() => deduped().has(`${devB}:1:50`), { timeoutMs: 10_000, what: 'devB still publishes' });
  });

  it('serial: a batch from an undeclared device is rejected; a declared one is routed as its MQTT topic would be', async () => {
    const node = new SerialPort({ path: pty.a, baudRate: 115200 });
    await new Promise<void>((resolve, reject) => node.once('open', () => resolve()).once('error', reject));
    const acks = new Map<number, number>();
    const decoder = new FrameDecoder({ onFrame: (f: Frame) => f.type === FrameType.ack && acks.set(f.seq, f.payload[0]!), onError: () => undefined });
    node.on('data', (chunk: Buffer) => decoder.push(chunk));
    try {
      node.write(encodeFrame({ type: FrameType.telemetry, seq: 1, payload: batch(serialRogue, 1, 66) }));
      node.write(encodeFrame({ type: FrameType.telemetry, seq: 2, payload: batch(serialOk, 1, 5) }));
      await waitFor(() => acks.size === 2, { timeoutMs: 10_000, what: 'two serial acks' });
      expect(acks.get(1)).toBe(AckCode.rejected);
      expect(acks.get(2)).toBe(AckCode.stored);
      await waitFor(() => deduped().has(`${serialOk}:1:1`), { timeoutMs: 10_000, what: 'the declared device in RabbitMQ' });
      expect(deduped().get(`${serialOk}:1:1`)!.key).toBe(`factory.floor1.${serialOk}`);
      expect(arrived.filter((m) => m.id.startsWith(`${serialRogue}:`))).toEqual([]);
    } finally {
      await new Promise<void>((r) => node.close(() => r()));
    }
  });

  it('a connection flood past the caps is closed unread; connected devices keep publishing', async () => {
    const b = await login(devB);
    const open = (localAddress: string) =>
      new Promise<{ socket: Socket; closedAfterMs: () => number | undefined }>((resolve, reject) => {
        const socket = netConnect({ host: '127.0.0.1', port: mqttPort, localAddress });
        const t0 = Date.now();
        let closedAt: number | undefined;
        socket.on('close', () => (closedAt = Date.now()));
        socket.on('error', () => undefined);
        socket.once('connect', () => resolve({ socket, closedAfterMs: () => closedAt && closedAt - t0 }));
        socket.once('error', reject);
      });
    // 25 from one address: 20 are admitted (they idle without CONNECT), 5 are closed at once.
    const fromOne = await Promise.all(Array.from({ length: 25 }, () => open('127.0.0.2')));
    // Then from other addresses until the total cap of 40 closes the rest.
    const fromMany = await Promise.all(Array.from({ length: 30 }, (_, i) => open(`127.0.1.${1 + (i % 15)}`)));
    try {
      await waitFor(() => fromOne.filter((s) => s.closedAfterMs() !== undefined).length >= 5, { timeoutMs: 5000, what: 'per-address cap' });
      await sleep(300);
      expect(fromOne.filter((s) => s.closedAfterMs() !== undefined)).toHaveLength(5);
      // 20 + 30 raw sockets plus the devices already connected: some of the 30 hit the total cap.
      expect(fromMany.some((s) => s.closedAfterMs() !== undefined)).toBe(true);
      expect(fromMany.filter((s) => s.closedAfterMs() === undefined).length).toBeLessThanOrEqual(20);
      await b.publishAsync(`${PREFIX}/${devB}/telemetry`, batch(devB, 60, 60), { qos: 1 });
      await waitFor(() => deduped().has(`${devB}:1:60`), { timeoutMs: 10_000, what: 'devB publishes during the flood' });
      const metrics = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
      expect(metrics).toMatch(/edge_mqtt_limit_disconnects_total\{reason="max_connections_per_address"\} 5\b/);
      expect(metrics).toMatch(/edge_mqtt_limit_disconnects_total\{reason="max_connections"\} [1-9]/);
    } finally {
      for (const s of [...fromOne, ...fromMany]) s.socket.destroy();
      // The broker counts a socket down when it sees the close: wait until a new one is admitted
      // again (it stays open past a moment), so the next test's logins are not refused at the cap.
      const admitted = async () => {
        const probe = await open('127.0.0.3');
        await sleep(150);
        probe.socket.destroy();
        return probe.closedAfterMs() === undefined;
      };
      await waitFor(admitted, { timeoutMs: 10_000, what: 'the flood sockets released by the broker' });
    }
  });

  it('10 devices send 100 malformed payloads a second each: the honest device loses nothing, its p99 PUBACK within 2x its baseline', async () => {
    const honest = await login(devB);
    let seq = 1000;
    const sent: number[] = [];
    /** Publishes at `perSecond` for `ms`, one PUBACK awaited at a time (as a node's outbox does); returns PUBACK latencies. */
    const publishFor = async (ms: number, perSecond: number) => {
      const latencies: number[] = [];
      const end = Date.now() + ms;
      while (Date.now() < end) {
        const s = ++seq;
        const t0 = performance.now();
        await honest.publishAsync(`${PREFIX}/${devB}/telemetry`, batch(devB, s, s), { qos: 1 });
        latencies.push(performance.now() - t0);
        sent.push(s);
        await sleep(1000 / perSecond);
      }
      return latencies;
    };
    const p99 = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length * 0.99)]!;
    const flood = spawn(
      process.execPath,
      ['bridge/test/helpers/malformed-flood.mjs', JSON.stringify({ url: `mqtt://127.0.0.1:${mqttPort}`, devices: malicious.map((m) => ({ id: m, secret: SECRET(m) })), prefix: PREFIX, perSecond: 100 })],
      { stdio: ['pipe', 'pipe', 'inherit'] },
    );
    let floodOut = '';
    flood.stdout!.on('data', (c: Buffer) => (floodOut += c.toString()));
    const floodDone = new Promise<void>((r) => flood.once('exit', () => r()));
    await waitFor(() => floodOut.includes('flooding'), { timeoutMs: 20_000, what: 'the flood devices connected' });
    // Baseline and flood windows interleave (A B B A, twice), so a slow spell of the
    // machine (a disk stall, a neighbour's burst) lands on both sides alike. ~800
    // PUBACKs a side: its p99 is the 8th slowest, not nearly the slowest one.
    const baselineLatencies: number[] = [];
    const floodLatencies: number[] = [];
    for (const underFloodSlice of [false, true, true, false, false, true, true, false]) {
      flood.stdin!.write(underFloodSlice ? 'on\n' : 'off\n');
      // Let the switch take: the flood ramps up, or its last PUBACKs drain.
      await sleep(300);
      (underFloodSlice ? floodLatencies : baselineLatencies).push(...(await publishFor(5_000, 40)));
    }
    flood.stdin!.end('end\n');
    await floodDone;
    const floodSent = Number(/done (\d+)/.exec(floodOut)?.[1] ?? 0);
    expect(floodSent).toBeGreaterThan(5000);
    const [baseline, underFlood] = [p99(baselineLatencies), p99(floodLatencies)];

    await waitFor(() => sent.every((s) => deduped().has(`${devB}:1:${s}`)), { timeoutMs: 20_000, what: 'every honest batch in RabbitMQ' });
    console.log(`honest PUBACK p99: baseline ${baseline.toFixed(1)} ms, under a malformed flood ${underFlood.toFixed(1)} ms (${sent.length} batches)`);
    // 2x the baseline; under a 5 ms baseline, 5 ms over it (timer and scheduling granularity).
    expect(underFlood).toBeLessThanOrEqual(Math.max(2 * baseline, baseline + 5));
    const metrics = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
    const malformed = Number(/edge_decode_failures_total\{reason="malformed"\} (\d+)/.exec(metrics)?.[1] ?? 0);
    expect(malformed).toBeGreaterThan(500);
  });

  it('an anonymous listener off loopback is refused at config load, naming mqtt.embedded.host; allowAnonymous starts it with a warning, as does a serial port without topicPrefix', async () => {
    const port = await freePort();
    const refusedFile = join(dir, 'open.json');
    const anonTopology = { exchange: `${run}.anon`, alternateExchange: `${run}.anon.ae`, unroutableQueue: `${run}.anon.unroutable`, deadLetterExchange: `${run}.anon.dlx`, deadLetterQueue: `${run}.anon.dlq`, queues: [] };
    const base = { amqp: { urls: [AMQP_URL], topology: anonTopology }, store: { dir: join(dir, 'store-open') }, quarantine: { dir: join(dir, 'q-open') }, http: { host: '127.0.0.1', port: 0 }, queueHealth: { enabled: false } };
    writeFileSync(refusedFile, JSON.stringify({ ...base, mqtt: { embedded: { host: '0.0.0.0', port } } }));
    const check = spawn(process.execPath, ['bridge/bin/edge-bridge.js', 'check-config', '-c', refusedFile], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    check.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
    const code = await new Promise<number | null>((r) => check.once('exit', (c) => r(c)));
    expect(code).toBe(2);
    expect(stderr).toMatch(/mqtt\.embedded\.host: expected a loopback address without logins, found "0\.0\.0\.0"/);
    expect(stderr).toMatch(/allowAnonymous/);
    // Nothing listens on that port.
    await expect(connectAsync(`mqtt://127.0.0.1:${port}`, { reconnectPeriod: 0, connectTimeout: 2000 })).rejects.toThrow();

    // A serial port declared by { path } alone loads, with a warning naming topicPrefix.
    const serial = { ports: [{ path: join(dir, 'no-such-tty') }] };
    const allowed = BridgeProcess.write(mkdtempSync(join(dir, 'anon-')), { ...base, serial, mqtt: { embedded: { host: '0.0.0.0', port, allowAnonymous: true } } });
    await allowed.start();
    try {
      expect(allowed.logged(/allowAnonymous: true/)).toHaveLength(1);
      expect(allowed.logged(/serial port without topicPrefix.*serial\.ports\[\]\.topicPrefix/)).toHaveLength(1);
      const anon = await connectAsync(`mqtt://127.0.0.1:${port}`, { reconnectPeriod: 0 });
      await anon.endAsync();
    } finally {
      await allowed.kill('SIGTERM');
    }
  });
});
