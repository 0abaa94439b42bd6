// What each library adapter relies on, checked against the installed library: an upgrade
// that changes it fails here, naming the version the adapter was checked against.
import { describe, expect, it } from 'vitest';
import { createServer, type AddressInfo } from 'node:net';
import { Aedes } from 'aedes';
import { connectAsync } from 'mqtt';
import { Histogram, Registry } from 'prom-client';
import { z } from 'zod';
import { AEDES_CHECKED, routeClientMessagesOnlyWhen, subscriptionsOf } from '../../src/adapters/aedes.ts';
import { PROM_CLIENT_CHECKED, addToUnlabelledHistogram } from '../../src/adapters/prom-client.ts';
import { ZOD_CHECKED, defOf } from '../../src/adapters/zod.ts';

import { readFileSync } from 'node:fs';
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
