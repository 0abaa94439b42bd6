import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import type { Batch, RawMessage } from '../../src/types.ts';

import { Router, RoutingRuleError, compileRule, checkKey, type RoutingRule } from '../../src/routing/index.ts';
import { compileFilter, matchFilter } from '../../src/routing/rules.ts';
import { decodeBatch, encodeBatch } from '../../src/codec/index.ts';

/** Bodies are checked by decoding them back with the codec. */
function decoded(body: Buffer): Batch {
  const r = decodeBatch(body);
  if (!r.ok) throw new Error(`body does not decode: ${r.error} ${r.detail}`);
  return r.value;
}

const RECEIVED = 1_700_000_001_234;
const batch = (over: Partial<Batch> = {}): Batch => ({
  v: 1,
  device: 'node-1',
  boot: 3,
  seq: 7,
  fw: '1.0.0',
  ts: 1_700_000_000_000,
  unsynced: false,
  readings: [
    { sensor: 'temperature', offset: 0, value: 21.5 },
    { sensor: 'humidity', offset: 0, value: 40.5 },
    { sensor: 'temperature', offset: 500, value: 22 },
  ],
  ...over,
});
const raw = (topic: string, payload: Buffer = Buffer.from([0xc0])): RawMessage => ({ transport: 'mqtt', topic, payload, source: 'c1', receivedAt: RECEIVED, identity: 'c1', kind: 'telemetry' });
const wire = (b: Batch) => ({ v: b.v, d: b.device, b: b.boot, s: b.seq, f: b.fw, t: b.ts, u: b.unsynced, r: b.readings.map((r) => [r.sensor, r.offset, r.value]) });

const DEFAULT: RoutingRule = { filter: '#', key: '{topic}', split: 'none' };
const FACTORY: RoutingRule = { name: 'factory', filter: 'factory/+floor/+device/telemetry', key: 'factory.{floor}.{sensor}', split: 'sensor' };
const msgpack = { contentType: 'application/msgpack' } as const;

function routeOk(rules: RoutingRule[], topic: string, b = batch(), payload?: Buffer, contentType: 'application/msgpack' | 'application/json' = 'application/msgpack') {
  const r = new Router(rules, { contentType }).route(raw(topic, payload), b);
  if (!r.ok) throw new Error(`expected ok, got ${r.reason}: ${r.detail}`);
  return r.messages;
}

describe('Router: keys', () => {
  it.each([
    ['default rule maps / to .', [DEFAULT], 'factory/floor1/node-1/telemetry', 'factory.floor1.node-1.telemetry'],
    ['a . inside a level is escaped', [DEFAULT], 'factory/fl.1/node-1/telemetry', 'factory.fl%2E1.node-1.telemetry'],
    ['* # % inside levels are escaped', [DEFAULT], 'a*/b#/50%', 'a%2A.b%23.50%25'],
    ['named captures', [{ filter: 'factory/+floor/+dev/telemetry', key: 'site.{floor}.{dev}', split: 'none' }], 'factory/f.2/n1/telemetry', 'site.f%2E2.n1'],
    ['unnamed + is not a capture', [{ filter: '+/+floor/#', key: 'x.{floor}', split: 'none' }], 'a/b/c/d', 'x.b'],
    ['#name captures the rest, escaped', [{ filter: 'factory/#rest', key: 'f.{rest}', split: 'none' }], 'factory/a/b.c', 'f.a.b%2Ec'],
    ['batch fields, escaped', [{ filter: '#', key: 'dev.{device}.fw.{fw}', split: 'none' }], 't', 'dev.node-1.fw.1%2E0%2E0'],
    ['placeholders inside a word', [{ filter: '+site/#', key: 'n-{device}-{site}', split: 'none' }], 's1/x', 'n-node-1-s1'],
    ['first matching rule wins', [{ filter: 'factory/#', key: 'first', split: 'none' }, DEFAULT], 'factory/a', 'first'],
    ['a later rule catches what the first misses', [FACTORY, DEFAULT], 'lab/a/b/telemetry', 'lab.a.b.telemetry'],
  ] as const)('%s', (_name, rules, topic, key) => {
    const msgs = routeOk([...rules], topic);
    expect(msgs.map((m) => m.routingKey)).toEqual([key]);
  });

  it('split none: one message, id <device>:<boot>:<seq>, §11 headers, acceptedAt = receivedAt', () => {
    const [m, ...rest] = routeOk([DEFAULT], 'factory/floor1/node-1/telemetry');
    expect(rest).toHaveLength(0);
    expect(m).toMatchObject({ messageId: 'node-1:3:7', device: 'node-1', contentType: 'application/msgpack', acceptedAt: RECEIVED });
    expect(m!.headers).toEqual({ 'x-device': 'node-1', 'x-boot': 3, 'x-seq': 7, 'x-fw': '1.0.0', 'x-topic': 'factory/floor1/node-1/telemetry' });
    expect(decoded(m!.body)).toEqual(batch());
    expect(m!.body).toEqual(encodeBatch(batch()));
  });

  it('split sensor: one message per sensor, in order of first appearance, bodies hold only that sensor', () => {
    const msgs = routeOk([FACTORY], 'factory/floor1/node-1/telemetry');
    expect(msgs.map((m) => [m.messageId, m.routingKey, m.headers['x-part']])).toEqual([
      ['node-1:3:7:0', 'factory.floor1.temperature', 0],
      ['node-1:3:7:1', 'factory.floor1.humidity', 1],
    ]);
    const b = batch();
    expect(decoded(msgs[0]!.body)).toEqual({ ...b, readings: [b.readings[0]!, b.readings[2]!] });
    expect(decoded(msgs[1]!.body)).toEqual({ ...b, readings: [b.readings[1]!] });
    expect(msgs[1]!.headers).toEqual({ 'x-device': 'node-1', 'x-boot': 3, 'x-seq': 7, 'x-fw': '1.0.0', 'x-topic': 'factory/floor1/node-1/telemetry', 'x-part': 1 });
    expect(msgs.every((m) => m.acceptedAt === RECEIVED && m.device === 'node-1')).toBe(true);
  });

  it('split reading: one message per reading', () => {
    const msgs = routeOk([{ filter: '#', key: 'r.{device}.{sensor}', split: 'reading' }], 'x/y');
    expect(msgs.map((m) => [m.messageId, m.routingKey])).toEqual([
      ['node-1:3:7:0', 'r.node-1.temperature'],
      ['node-1:3:7:1', 'r.node-1.humidity'],
      ['node-1:3:7:2', 'r.node-1.temperature'],
    ]);
    const b = batch();
    msgs.forEach((m, i) => expect(decoded(m.body)).toEqual({ ...b, readings: [b.readings[i]!] }));
  });

  it('ids are stable: routing the same batch twice gives the same ids and keys', () => {
    const router = new Router([FACTORY], msgpack);
    const a = router.route(raw('factory/f/n/telemetry'), batch());
    const b = router.route(raw('factory/f/n/telemetry'), batch());
    expect(a).toEqual(b);
  });

  it('{device} is the batch device even when the filter names a level +device', () => {
    const msgs = routeOk([{ filter: 'f/+device/t', key: 'k.{device}', split: 'none' }], 'f/other/t');
    expect(msgs[0]!.routingKey).toBe('k.node-1');
  });

  it('route() is fast on the hot path (canonical payload, cached topic match)', () => {
    const router = new Router([FACTORY, DEFAULT], msgpack);
    const b = batch({ readings: [{ sensor: 'temperature', offset: 0, value: 21.5 }] });
    const m = raw('lab/floor1/node-1/telemetry');
    const start = performance.now();
    for (let i = 0; i < 50_000; i++) router.route(m, b);
    // Generous bound (a loaded CI box); a regex or re-encode per call would still pass, a pathological one not.
    expect(performance.now() - start).toBeLessThan(2_000);
  });

  it('a serial topic routes through the default rule', () => {
    const msgs = routeOk([DEFAULT], 'serial:/dev/ttyUSB0');
    expect(msgs[0]!.routingKey).toBe('serial:.dev.ttyUSB0');
    expect(msgs[0]!.headers['x-topic']).toBe('serial:/dev/ttyUSB0');
  });
});

describe('Router: bodies', () => {
  const vectors = JSON.parse(readFileSync(new URL('../../../shared/protocol/vectors/batch.json', import.meta.url), 'utf8')) as {
    valid: Array<{ name: string; canonical: boolean; hex: string; value: Record<string, unknown> }>;
  };
  const asBatch = (v: Record<string, unknown>): Batch => ({
    v: 1,
    device: v.d as string,
    boot: v.b as number,
    seq: v.s as number,
    fw: v.f as string,
    ts: v.t as number,
    unsynced: v.u as boolean,
    readings: (v.r as Array<[string, number, number]>).map(([sensor, offset, value]) => ({ sensor, offset, value: Math.fround(value) })),
  });

  it.each(vectors.valid.map((v) => [v.name, v] as const))('%s: canonical bytes are forwarded as is, others re-encoded', (_n, v) => {
    const payload = Buffer.from(v.hex, 'hex');
    const b = asBatch(v.value);
    const [m] = routeOk([DEFAULT], 'a/b', b, payload);
    if (v.canonical) expect(m!.body).toBe(payload);
    else expect(m!.body).not.toBe(payload);
    // Either way the body is the canonical encoding of the batch.
    expect(m!.body).toEqual(encodeBatch(b));
    expect(decoded(m!.body)).toEqual(b);
  });

  it('application/json re-encodes every body as JSON', () => {
    const [m] = routeOk([DEFAULT], 'a/b', batch(), undefined, 'application/json');
    expect(m!.contentType).toBe('application/json');
    expect(JSON.parse(m!.body.toString('utf8'))).toEqual(wire(batch()));
    expect(decoded(m!.body)).toEqual(batch());
  });

  it('a canonical payload for a different batch is not reused', () => {
    const v = vectors.valid.find((x) => x.name === 'minimal')!;
    const b = { ...asBatch(v.value), boot: 200 };
    const [m] = routeOk([DEFAULT], 'a', b, Buffer.from(v.hex, 'hex'));
    expect(decoded(m!.body).boot).toBe(200);
  });
});

describe('Router: failures', () => {
  it('no rule matches -> no_rule', () => {
    const r = new Router([FACTORY], msgpack).route(raw('lab/x/y/telemetry'), batch());
    expect(r).toEqual({ ok: false, reason: 'no_rule', detail: expect.stringContaining('lab/x/y/telemetry') });
  });

  it('a key of exactly 255 bytes passes, 256 is bad_key', () => {
    const router = new Router([DEFAULT], msgpack);
    expect(router.route(raw('a'.repeat(255)), batch()).ok).toBe(true);
    const r = router.route(raw('a'.repeat(256)), batch());
    expect(r).toMatchObject({ ok: false, reason: 'bad_key' });
    expect(!r.ok && r.detail).toMatch(/256 bytes, more than 255/);
    // Multi-byte characters count in bytes: 86 × 3 bytes = 258.
    expect(router.route(raw('€'.repeat(86)), batch()).ok).toBe(false);
    // Escaping grows the key: 100 dots become 300 bytes.
    expect(router.route(raw('.'.repeat(100)), batch()).ok).toBe(false);
  });

  it.each([
    ['an empty level', [DEFAULT], 'factory//node/telemetry'],
    ['a leading /', [DEFAULT], '/factory'],
    ['an empty capture', [{ filter: 'factory/+x/t', key: 'f.{x}', split: 'none' }], 'factory//t'],
    ['an empty #rest', [{ filter: 'factory/#rest', key: 'f.{rest}', split: 'none' }], 'factory'],
  ] as const)('an empty word from %s is bad_key', (_n, rules, topic) => {
    const r = new Router([...rules], msgpack).route(raw(topic), batch());
    expect(r).toMatchObject({ ok: false, reason: 'bad_key' });
    expect(!r.ok && r.detail).toMatch(/empty word/);
  });

  it('a split batch with one bad part fails whole', () => {
    const long = 'x'.repeat(250);
    const r = new Router([{ filter: '#', key: `${long}.{sensor}`, split: 'sensor' }], msgpack).route(raw('t'), batch());
    expect(r).toMatchObject({ ok: false, reason: 'bad_key', detail: expect.stringContaining('part 0') });
  });

  it('the constructor names the index of a bad rule', () => {
    expect(() => new Router([DEFAULT, { filter: 'a/#/b', key: 'x', split: 'none' }], msgpack)).toThrow(/rules\[1\]\.filter/);
  });
});

describe('filters (MQTT semantics)', () => {
  it.each([
    ['a/+/c', 'a/b/c', true],
    ['a/+/c', 'a/b/c/d', false],
    ['a/+/c', 'a/c', false],
    ['a/#', 'a', true],
    ['a/#', 'a/b/c', true],
    ['a/#', 'ab', false],
    ['#', 'x', true],
    ['+', '', true],
    ['a/+', 'a/', true],
    ['#', '$SYS/x', false],
    ['+/x', '$SYS/x', false],
    ['$SYS/#', '$SYS/x', true],
    ['A/b', 'a/b', false],
  ] as const)('%s vs %s -> %s', (filter, topic, matches) => {
    expect(matchFilter(compileFilter(filter), topic.split('/')) !== null).toBe(matches);
  });
});

describe('rule validation at config time', () => {
  it.each([
    [{ filter: '', key: 'k', split: 'none' }, 'filter', /non-empty/],
    [{ filter: 'a/#/b', key: 'k', split: 'none' }, 'filter', /last level/],
    [{ filter: 'a/b+', key: 'k', split: 'none' }, 'filter', /start a level/],
    [{ filter: 'a/+1x', key: 'k', split: 'none' }, 'filter', /capture name/],
    [{ filter: 'a/+sensor', key: 'k', split: 'none' }, 'filter', /reserved/],
    [{ filter: 'a/+topic', key: 'k', split: 'none' }, 'filter', /reserved/],
    [{ filter: '+x/+x', key: 'k', split: 'none' }, 'filter', /twice/],
    [{ filter: '#', key: '{nope}', split: 'none' }, 'key', /\{nope\}/],
    [{ filter: '#', key: 'a..b', split: 'none' }, 'key', /empty words/],
    [{ filter: '#', key: '.a', split: 'none' }, 'key', /empty words/],
    [{ filter: '#', key: 'a.', split: 'none' }, 'key', /empty words/],
    [{ filter: '#', key: 'a.*', split: 'none' }, 'key', /wildcard/],
    [{ filter: '#', key: 'a.#', split: 'none' }, 'key', /wildcard/],
    [{ filter: '#', key: 'a.{topic', split: 'none' }, 'key', /close/],
    [{ filter: '#', key: 'a}', split: 'none' }, 'key', /stray/],
    [{ filter: '#', key: '', split: 'none' }, 'key', /non-empty/],
    [{ filter: '#', key: 'x'.repeat(256), split: 'none' }, 'key', /255/],
    [{ filter: '#', key: 's.{sensor}', split: 'none' }, 'key', /split 'sensor' or 'reading'/],
    [{ filter: '#', key: 'k', split: 'bogus' }, 'split', /one of/],
    [{ name: '', filter: '#', key: 'k', split: 'none' }, 'name', /non-empty/],
  ])('%j -> %s error', (rule, field, message) => {
    let err: unknown;
    try {
      compileRule(rule as RoutingRule);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(RoutingRuleError);
    expect((err as InstanceType<typeof RoutingRuleError>).field).toBe(field);
    expect((err as Error).message).toMatch(message);
  });

  it('{sensor} is fine with split sensor and reading', () => {
    expect(() => compileRule({ filter: '#', key: 's.{sensor}', split: 'sensor' })).not.toThrow();
    expect(() => compileRule({ filter: '#', key: 's.{sensor}', split: 'reading' })).not.toThrow();
  });

  it('checkKey', () => {
    expect(checkKey('a.b')).toBeNull();
    expect(checkKey('')).toMatch(/empty/);
    expect(checkKey('a.')).toMatch(/empty word/);
  });
});
