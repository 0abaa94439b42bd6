// What each library adapter relies on, checked against the installed library: an upgrade
// that changes it fails here, naming the version the adapter was checked against.
import { describe, expect, it } from 'vitest';
import { createServer, type AddressInfo } from 'node:net';
import { Aedes } from 'aedes';
import { connectAsync } from 'mqtt';
import { Histogram, Registry } from 'prom-client';
import { z } from 'zod';
import { AEDES_CHECKED, releaseRead, restoreRead, routeClientMessagesOnlyWhen, subscriptionsOf } from '../../src/adapters/aedes.ts';
import { PROM_CLIENT_CHECKED, addToUnlabelledHistogram } from '../../src/adapters/prom-client.ts';
import { ZOD_CHECKED, defOf } from '../../src/adapters/zod.ts';
import { AMQPLIB_CHECKED, encodePublish, publishFast, type PublishOptions } from '../../src/adapters/amqplib.ts';
import { createRequire } from 'node:module';
import { PassThrough } from 'node:stream';
import fc from 'fast-check';
import { spawnSync } from 'node:child_process';
import { BL_CHECKED, DEBUG_CHECKED, MQTT_PACKET_CHECKED, fastPacketReads } from '../../src/adapters/mqtt-packet.ts';

import { readFileSync } from 'node:fs';
import { rawMqttClient } from '../helpers/raw-mqtt.ts';
import { join } from 'node:path';

/** The installed version, read from the package's own package.json (some export maps hide it). */
const installed = (pkg: string) => (JSON.parse(readFileSync(join(import.meta.dirname, '../../../node_modules', pkg, 'package.json'), 'utf8')) as { version: string }).version;
const because = (pkg: string, checked: string) => `${pkg} ${installed(pkg)} installed, the adapter was checked against ${checked}`;

describe('aedes adapter', () => {
  it('reads a client\'s subscriptions and skips routing of the client messages it is told to', async () => {
    const broker = await Aedes.createBroker();
    routeClientMessagesOnlyWhen(broker, (packet) => packet.topic.endsWith('/cmd'));
    const clients = new Map<string, import('aedes').Client>();
    broker.on('client', (c) => clients.set(c.id, c));
    const server = createServer((socket) => broker.handle(socket));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const url = `mqtt://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const sub = await connectAsync(url, { clientId: 'adapter-sub', reconnectPeriod: 0 });
    const pub = await connectAsync(url, { clientId: 'adapter-pub', reconnectPeriod: 0 });
    try {
      await sub.subscribeAsync(['a/dev/cmd', 'a/dev/telemetry'], { qos: 1 });
      expect(subscriptionsOf(clients.get('adapter-sub')!).sort(), because('aedes', AEDES_CHECKED)).toEqual(['a/dev/cmd', 'a/dev/telemetry']);
      const got: string[] = [];
      sub.on('message', (topic) => got.push(topic));
      await pub.publishAsync('a/dev/telemetry', 'x', { qos: 1 });
      await pub.publishAsync('a/dev/cmd', 'y', { qos: 1 });
      const deadline = Date.now() + 5000;
      while (!got.includes('a/dev/cmd') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      expect(got, because('aedes', AEDES_CHECKED)).toEqual(['a/dev/cmd']);
    } finally {
      await sub.endAsync(true);
      await pub.endAsync(true);
      await new Promise<void>((r) => broker.close(() => r()));
      await new Promise<void>((r) => server.close(() => r()));
    }
  });
});

describe('aedes adapter: read-ahead', () => {
  it('releaseRead lets aedes parse a client\'s next chunk while PUBLISHes of the last one are not done; restoreRead balances it', async () => {
    const held: Array<() => void> = [];
    let readAhead = false;
    const broker = await Aedes.createBroker({
      authorizePublish: (client, _packet, done) => {
        const released = readAhead && releaseRead(client!);
        held.push(() => {
          if (released) restoreRead(client!);
          done(null);
        });
      },
    });
    const server = createServer((socket) => broker.handle(socket));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const port = (server.address() as AddressInfo).port;
    /** Held PUBLISHes once there are n, or after waitMs (a bounded window for "not read"). */
    const heldAfter = async (n: number, waitMs = 5000) => {
      const deadline = Date.now() + waitMs;
      while (held.length < n && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      return held.length;
    };
    const releaseAll = async (client: { acks: number[] }, n: number) => {
      const deadline = Date.now() + 5000;
      while (client.acks.length < n && Date.now() < deadline) {
        held.shift()?.();
        await new Promise((r) => setTimeout(r, 10));
      }
    };
    const msg = (messageId: number) => ({ topic: 'a/dev/telemetry', payload: String(messageId), messageId });
    try {
      // Without it: a chunk of two PUBLISHes holds the next chunk back until both are done.
      const plain = await rawMqttClient(port, 'adapter-plain');
      plain.publishChunk([msg(1), msg(2)]);
      expect(await heldAfter(2)).toBe(2);
      plain.publishChunk([msg(3)]);
      expect(await heldAfter(3, 400), because('aedes', AEDES_CHECKED)).toBe(2);
      await releaseAll(plain, 3);
      expect(plain.acks).toEqual([1, 2, 3]);
      plain.close();
      // With it, the next chunk is read at once.
      readAhead = true;
      const ahead = await rawMqttClient(port, 'adapter-ahead');
      ahead.publishChunk([msg(1), msg(2)]);
      expect(await heldAfter(2)).toBe(2);
      ahead.publishChunk([msg(3)]);
      expect(await heldAfter(3), because('aedes', AEDES_CHECKED)).toBe(3);
      await releaseAll(ahead, 3);
      expect(ahead.acks).toEqual([1, 2, 3]);
      // Balanced: afterwards aedes reads and answers as usual.
      readAhead = false;
      ahead.publishChunk([msg(4)]);
      await releaseAll(ahead, 4);
      expect(ahead.acks).toEqual([1, 2, 3, 4]);
      ahead.close();
    } finally {
      await new Promise<void>((r) => broker.close(() => r()));
      await new Promise<void>((r) => server.close(() => r()));
    }
  });
});

describe('prom-client adapter', () => {
  it('adds gathered observations to a histogram exactly as observe() would', async () => {
    const bounds = [0.01, 0.1, 1];
    const values = [0.005, 0.01, 0.05, 0.5, 2, 0.1];
    const counts = [0, 0, 0];
    for (const v of values) {
      const i = bounds.findIndex((b) => v <= b);
      if (i >= 0) counts[i]!++;
    }
    const [ra, rb] = [new Registry(), new Registry()];
    const ours = new Histogram({ name: 'h', help: 'h', buckets: bounds, registers: [ra] });
    const theirs = new Histogram({ name: 'h', help: 'h', buckets: bounds, registers: [rb] });
    addToUnlabelledHistogram(ours, bounds, counts, values.reduce((a, b) => a + b, 0), values.length);
    for (const v of values) theirs.observe(v);
    expect(await ra.metrics(), because('prom-client', PROM_CLIENT_CHECKED)).toBe(await rb.metrics());
  });
});

describe('zod adapter', () => {
  it('walks wrappers, objects, arrays and unions', () => {
    const schema = z.strictObject({ a: z.array(z.string()).default([]), u: z.union([z.strictObject({ p: z.string() }), z.strictObject({ q: z.number() })]) }).optional();
    const msg = because('zod', ZOD_CHECKED);
    let node = schema as unknown as Parameters<typeof defOf>[0];
    while (defOf(node).innerType) node = defOf(node).innerType!;
    const obj = defOf(node);
    expect(obj.type, msg).toBe('object');
    expect(Object.keys(obj.shape!), msg).toEqual(['a', 'u']);
    const arr = defOf(defOf(obj.shape!.a!).innerType!);
    expect(arr.type, msg).toBe('array');
    expect(defOf(arr.element!).type, msg).toBe('string');
    const union = defOf(obj.shape!.u!);
    expect(union.type, msg).toBe('union');
    expect(union.options!.map((o) => Object.keys(defOf(o).shape!)), msg).toEqual([['p'], ['q']]);
  });
});

describe('amqplib adapter: publish frames', () => {
  // amqplib's own encoders, the ones ch.publish runs (its export map hides lib/, so by path).
  const lib = createRequire(join(import.meta.dirname, '../../../node_modules/amqplib/lib/defs.js'));
  const defs = lib('./defs.js');
  const frame = lib('./frame.js');
  const Args = lib('./api_args.js');
  const { Connection } = lib('./connection.js');
  const { ConfirmChannel } = lib('./channel_model.js');
  const { IllegalOperationError } = lib('./error.js');
  const msg = because('amqplib', AMQPLIB_CHECKED);

  /** The bytes amqplib writes for ch.publish on channel `ch`, or the error it throws. */
  function theirs(ch: number, exchange: string, key: string, body: Buffer, options: PublishOptions): Buffer | Error {
    try {
      const fields = Args.publish(exchange, key, options);
      const parts = [defs.encodeMethod(defs.BasicPublish, ch, fields), defs.encodeProperties(defs.BasicProperties, ch, body.length, fields)];
      if (body.length > 0) parts.push(frame.makeBodyFrame(ch, body));
      return Buffer.concat(parts);
    } catch (err) {
      return err as Error;
    }
  }

  const bridgeMessage = (): PublishOptions => ({
    persistent: true,
    mandatory: true,
    messageId: 'plant-7/esp32-0a1b2c:3:184467',
    timestamp: 1_765_000_000,
    contentType: 'application/msgpack',
    headers: { 'x-device': 'esp32-0a1b2c', 'x-boot': 3, 'x-seq': 184467, 'x-fw': '1.4.2', 'x-topic': 'plant-7/esp32-0a1b2c/telemetry' },
  });

  const cases: Array<[string, number, string, string, Buffer, PublishOptions]> = [
    ['the bridge\'s message', 1, 'telemetry', 'telemetry.esp32-0a1b2c', Buffer.from('body of a batch'), bridgeMessage()],
    ['a split part', 2, 'telemetry', 'telemetry.esp32-0a1b2c.temp', Buffer.alloc(700, 7), { ...bridgeMessage(), headers: { ...bridgeMessage().headers, 'x-part': 0 } }],
    ['no options', 3, '', 'q', Buffer.from('x'), {}],
    ['empty body, empty headers, not persistent', 65535, 'ex', 'k', Buffer.alloc(0), { persistent: false, mandatory: false, headers: {} }],
    ['non-ASCII everywhere', 9, 'échange', 'clé.ü.日本', Buffer.from('ß'), { messageId: 'idé-1', contentType: 'application/json', headers: { 'x-ключ': 'значение 🚀', ascii: 'plain' } }],
    ['shortstr limits', 4, 'e'.repeat(255), 'k'.repeat(255), Buffer.from('y'), { messageId: 'm'.repeat(255), contentType: 'c'.repeat(255), headers: { ['h'.repeat(255)]: 's'.repeat(1000) } }],
    ['every number width', 5, 'ex', 'k', Buffer.from('z'), {
      headers: {
        zero: 0, negZero: -0, b1: 127, b2: -128, s1: 128, s2: -129, s3: 32767, s4: -32768, i1: 32768, i2: -32769, i3: 2 ** 31 - 1, i4: -(2 ** 31),
        l1: 2 ** 31, l2: -(2 ** 31) - 1, l3: 2 ** 32 - 1, l4: 2 ** 32, l5: Number.MAX_SAFE_INTEGER, l6: Number.MIN_SAFE_INTEGER, l7: -1 - 2 ** 40,
        d1: 1.5, d2: -2.25, d3: 1e-300, d4: 2 ** 49 + 0.5, d5: 2 ** 63, d6: Infinity, d7: 1e300,
      },
    }],
    ['booleans and skipped undefined', 6, 'ex', 'k', Buffer.from('w'), { headers: { yes: true, no: false, gone: undefined, after: 'x' } }],
    ['timestamps', 7, 'ex', 'k', Buffer.from('t'), { timestamp: 0 }],
    ['a large timestamp', 7, 'ex', 'k', Buffer.from('t'), { timestamp: Number.MAX_SAFE_INTEGER }],
    ['integer-like header keys', 8, 'ex', 'k', Buffer.from('o'), { headers: { b: 1, '2': 2, a: 3, '1': 4 } }],
  ];

  it.each(cases)('encodes %s byte for byte as amqplib does', (_name, ch, exchange, key, body, options) => {
    const expected = theirs(ch, exchange, key, body, options);
    expect(expected, 'amqplib accepts the case').toBeInstanceOf(Buffer);
    expect(encodePublish(ch, exchange, key, body, options)?.toString('hex'), msg).toBe((expected as Buffer).toString('hex'));
  });

  it('leaves to amqplib what it would refuse or encodes otherwise', () => {
    const refused: Array<[string, string, PublishOptions]> = [
      ['k'.repeat(256), 'routing key over 255 bytes', {}],
      ['k', 'messageId over 255 bytes', { messageId: 'é'.repeat(128) }],
      ['k', 'NaN', { headers: { n: NaN } }],
      ['k', '-Infinity', { headers: { n: -Infinity } }],
      ['k', 'an integer past 2^53', { headers: { n: 2 ** 60 } }],
      ['k', 'a nested table', { headers: { t: { a: 1 } as never } }],
      ['k', 'null', { headers: { n: null as never } }],
      ['k', 'a fractional timestamp', { timestamp: 1.5 }],
      ['k', 'a negative timestamp', { timestamp: -1 }],
      ['k', 'a header key over 255 bytes', { headers: { ['h'.repeat(256)]: 1 } }],
      ['k', 'a table past amqplib\'s scratch buffer', { headers: { big: 'x'.repeat(70_000) } }],
    ];
    for (const [key, what, options] of refused) expect(encodePublish(1, 'ex', key, Buffer.from('b'), options), what).toBeUndefined();
  });

  it('encodes random header tables as amqplib does, or leaves them to it', () => {
    const value = fc.oneof(fc.string({ unit: 'grapheme' }), fc.integer(), fc.maxSafeInteger(), fc.double(), fc.boolean(), fc.constantFrom(undefined, -0, 2 ** 60, -(2 ** 55), 2 ** 50 + 0.5, NaN, Infinity, -Infinity));
    fc.assert(
      fc.property(fc.dictionary(fc.string({ maxLength: 20 }), value, { maxKeys: 8 }), fc.string({ maxLength: 40 }), fc.nat(2 ** 40), fc.uint8Array({ maxLength: 300 }), (headers, messageId, timestamp, body) => {
        const options: PublishOptions = { persistent: true, mandatory: true, messageId, timestamp, contentType: 'application/msgpack', headers };
        const ours = encodePublish(1, 'telemetry', 'telemetry.dev', Buffer.from(body), options);
        const expected = theirs(1, 'telemetry', 'telemetry.dev', Buffer.from(body), options);
        if (ours) expect(ours.toString('hex'), msg).toBe((expected as Buffer).toString('hex'));
        // Left to amqplib only what it refuses, and integers past 2^53 (its BigInt path).
        else expect(expected instanceof Error || Object.values(headers).some((v) => Number.isInteger(v) && !Number.isSafeInteger(v)), String(Object.values(headers))).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  /** A ConfirmChannel of amqplib's over a socket that keeps what is written to it. */
  function channelOnStub(frameMax = 4096) {
    const socket = new PassThrough();
    const conn = new Connection(socket);
    conn.frameMax = frameMax;
    const ch = new ConfirmChannel(conn);
    ch.allocate();
    const written = async () => {
      for (let i = 0; i < 3; i++) await new Promise((r) => setImmediate(r));
      const chunks: Buffer[] = [];
      for (let c = socket.read(); c !== null; c = socket.read()) chunks.push(c as Buffer);
      return Buffer.concat(chunks).toString('hex');
    };
    return { conn, ch, written };
  }

  it('writes through the channel what ch.publish writes, with amqplib\'s confirm bookkeeping', async () => {
    const { conn, ch, written } = channelOnStub();
    const big = Buffer.alloc(5000, 1); // over frameMax: amqplib's own path, split in frames
    for (const [, , exchange, key, body, options] of [...cases, ['big', 0, 'ex', 'k', big, bridgeMessage()] as const]) {
      ch.publish(exchange, key, body, options);
      const expected = await written();
      conn.sentSinceLastCheck = false;
      const before = ch.unconfirmed.length;
      expect(publishFast(ch, exchange, key, body, options), msg).toBe(true);
      expect(ch.unconfirmed.length, msg).toBe(before + 1);
      expect(conn.sentSinceLastCheck, msg).toBe(true);
      expect(await written(), msg).toBe(expected);
    }
  });

  it('throws amqplib\'s IllegalOperationError on a closed channel', () => {
    const { ch } = channelOnStub();
    ch.toClosed('closed by the test');
    expect(() => ch.publish('ex', 'k', Buffer.from('x'), bridgeMessage()), 'amqplib itself').toThrow(IllegalOperationError);
    expect(() => publishFast(ch, 'ex', 'k', Buffer.from('x'), bridgeMessage()), msg).toThrow(IllegalOperationError);
  });
});

describe('mqtt-packet adapter: debug quieted', () => {
  const repo = join(import.meta.dirname, '../../..');
  const adapter = join(repo, 'bridge/src/adapters/mqtt-packet.ts');
  const msg = `${because('mqtt-packet', MQTT_PACKET_CHECKED)}; ${because('debug', DEBUG_CHECKED)}`;
  /** A fresh process: which modules are loaded, and in what order, is what is tested. */
  function child(code: string, env: Record<string, string> = {}): { out: Record<string, unknown>; stderr: string } {
    const { DEBUG: _, ...rest } = process.env;
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { cwd: repo, env: { ...rest, ...env }, encoding: 'utf8', timeout: 60_000 });
    if (r.status !== 0) throw new Error(`child failed (${r.status}): ${r.stderr}`);
    return { out: JSON.parse(r.stdout.trim().split('\n').at(-1)!), stderr: r.stderr };
  }
  // Records what mqtt-packet asks `debug` for at load, and whether it gets a real logger.
  const probe = `
    import { createRequire } from 'node:module';
    const { quietPacketDebug, loadMqttPacket } = await import(${JSON.stringify(adapter)});
    const quieted = quietPacketDebug();
    const r = createRequire(createRequire(${JSON.stringify(adapter)}).resolve('mqtt-packet'));
    const entry = r.cache[r.resolve('debug')];
    const asked = [];
    entry.exports = new Proxy(entry.exports, { apply: (t, self, a) => { const d = Reflect.apply(t, self, a); asked.push([a[0], typeof d.namespace === 'string']); return d; } });
    const mp = await loadMqttPacket();
    const got = [];
    const p = mp.parser({ protocolVersion: 4 });
    p.on('packet', (x) => got.push(x.topic));
    p.parse(mp.generate({ cmd: 'publish', topic: 'a/dev/telemetry', payload: Buffer.from('x'), qos: 1, messageId: 7 }));
    console.log(JSON.stringify({ quieted, asked: asked.sort(), got }));`;

  it('hands mqtt-packet a no-op for each logger it makes at load while DEBUG leaves it off', () => {
    const { out, stderr } = child(probe);
    expect(out, msg).toEqual({ quieted: true, asked: [['mqtt-packet:parser', false], ['mqtt-packet:writeToStream', false]], got: ['a/dev/telemetry'] });
    expect(stderr, msg).toBe('');
  });

  it('leaves the real loggers when DEBUG names them', () => {
    const { out, stderr } = child(probe, { DEBUG: 'mqtt-packet:*' });
    expect(out, msg).toEqual({ quieted: true, asked: [['mqtt-packet:parser', true], ['mqtt-packet:writeToStream', true]], got: ['a/dev/telemetry'] });
    expect(stderr, msg).toContain('mqtt-packet:parser');
  });

  it('says so when mqtt-packet was loaded first, and the bridge loads it only through the adapter', () => {
    const late = child(`
      await import('mqtt-packet');
      const { quietPacketDebug } = await import(${JSON.stringify(adapter)});
      console.log(JSON.stringify({ quieted: quietPacketDebug() }));`);
    expect(late.out, msg).toEqual({ quieted: false });
    // Every bridge module loaded (compose.ts imports them all), then the embedded broker started.
    const bridge = child(`
      import { createRequire } from 'node:module';
      await import(${JSON.stringify(join(repo, 'bridge/src/compose.ts'))});
      const { EmbeddedMqttIngress } = await import(${JSON.stringify(join(repo, 'bridge/src/ingress/mqtt-broker.ts'))});
      const r = createRequire(createRequire(${JSON.stringify(adapter)}).resolve('mqtt-packet'));
      const loadedEarly = r.resolve('./parser.js') in r.cache;
      const ingress = new EmbeddedMqttIngress({ host: '127.0.0.1', port: 0, maxPayloadBytes: 1024 });
      await ingress.start(async () => ({ kind: 'stored' }));
      await ingress.stop();
      const { quietPacketDebug } = await import(${JSON.stringify(adapter)});
      console.log(JSON.stringify({ loadedEarly, quieted: quietPacketDebug() }));`);
    expect(bridge.out, msg).toEqual({ loadedEarly: false, quieted: true });
  });
});

describe('mqtt-packet adapter: no number cache', () => {
  const repo = join(import.meta.dirname, '../../..');
  const adapter = join(repo, 'bridge/src/adapters/mqtt-packet.ts');

  it('writes packet ids without building the 65 536-buffer cache, byte for byte as with it', () => {
    const code = `
      import { createRequire } from 'node:module';
      import { PassThrough } from 'node:stream';
      const { loadMqttPacket } = await import(${JSON.stringify(adapter)});
      const mp = await loadMqttPacket();
      const r = createRequire(createRequire(${JSON.stringify(adapter)}).resolve('mqtt-packet'));
      const written = (packet) => { const s = new PassThrough(); const out = []; s.on('data', (c) => out.push(c)); mp.writeToStream(packet, s); return new Promise((ok) => setImmediate(() => ok(Buffer.concat(out).toString('hex')))); };
      const puback = await written({ cmd: 'puback', messageId: 0x1234 });
      const publish = await written({ cmd: 'publish', topic: 't', payload: Buffer.from('x'), qos: 1, messageId: 65535 });
      const cached = Object.keys(r('./numbers.js').cache).length;
      console.log(JSON.stringify({ cacheNumbers: mp.writeToStream.cacheNumbers, cached, puback, publish }));`;
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { cwd: repo, encoding: 'utf8', timeout: 60_000 });
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout.trim().split('\n').at(-1)!);
    // PUBACK: type 4, length 2, id; PUBLISH QoS 1: 0x32, length 6, topic 't', id ffff, payload 'x'.
    expect(out, because('mqtt-packet', MQTT_PACKET_CHECKED)).toEqual({ cacheNumbers: false, cached: 0, puback: '40021234', publish: '3206000174ffff78' });
  });
});

describe('mqtt-packet adapter: bl reads in place', () => {
  const lib = createRequire(createRequire(join(import.meta.dirname, '../../../node_modules/mqtt-packet/parser.js')).resolve('bl'));
  const BufferListStream = lib('./bl.js') as { (): unknown; prototype: Record<string, (...a: unknown[]) => unknown>; BufferList: { prototype: Record<string, (...a: unknown[]) => unknown> } };
  const theirs = BufferListStream.BufferList.prototype;
  const msg = because('bl', BL_CHECKED);
  fastPacketReads();
  const outcome = (f: () => unknown) => {
    try {
      return { value: f() };
    } catch (err) {
      return { error: (err as Error).constructor.name };
    }
  };

  it('replaces the methods mqtt-packet\'s BufferListStream reads with', () => {
    const ours = BufferListStream.prototype;
    for (const m of ['readUInt8', 'readUInt16BE', 'readUInt32BE', 'toString']) expect(ours[m], `${m}: ${msg}`).not.toBe(theirs[m]);
    // mqtt-packet parses through bl() (a BufferListStream) and these four methods.
    const parser = readFileSync(join(import.meta.dirname, '../../../node_modules/mqtt-packet/parser.js'), 'utf8');
    expect(parser, msg).toContain("const bl = require('bl')");
    expect(parser, msg).toContain('this._list = bl()');
    const used = new Set([...parser.matchAll(/this\._list\.(read\w+|toString)\(/g)].map((m) => m[1]));
    expect([...used].sort(), msg).toEqual(['readUInt16BE', 'readUInt32BE', 'readUInt8', 'toString']);
  });

  // Integer offsets, as mqtt-packet passes: bl answers a fractional one from uninitialized memory.
  it('reads what bl reads, and throws what it throws, across buffer boundaries and out of range', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 7 }), { maxLength: 5 }), fc.oneof(fc.integer({ min: -4, max: 30 }), fc.constant(undefined)), fc.integer({ min: -2, max: 30 }), (chunks, offset, end) => {
        const list = BufferListStream() as { append(b: Buffer): void };
        for (const c of chunks) list.append(Buffer.from(c));
        for (const m of ['readUInt8', 'readUInt16BE', 'readUInt32BE']) {
          expect(outcome(() => (list as never as Record<string, (o?: number) => number>)[m]!(offset)), `${m}(${offset}): ${msg}`).toEqual(outcome(() => theirs[m]!.call(list, offset)));
        }
        const start = offset ?? 0;
        expect(outcome(() => (list as never as { toString(e: string, s?: number, t?: number): string }).toString('utf8', start, end)), msg).toEqual(outcome(() => (theirs.toString as (...a: unknown[]) => unknown).call(list, 'utf8', start, end)));
      }),
      { numRuns: 2000 },
    );
  });
});
