// Queue health against the shared RabbitMQ's management API (enabled by .ci/run), with
// run-unique queues whose real depth, consumer and unacked counts cross the thresholds;
// and against an unreachable URL and wrong credentials, where the bridge carries on.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { Writable } from 'node:stream';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import amqp, { type ChannelModel, type ConfirmChannel, type Channel } from 'amqplib';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { declareTopology, deleteTopology, type Topology } from '../../src/egress/amqp/index.ts';
import { QueueHealth, DEFAULT_THRESHOLDS, type QueueHealthOptions, type QueueHealthReport } from '../../src/observe/queue-health.ts';
import { loadConfig } from '../../src/config/index.ts';
import { composeBridge, topologyFromConfig } from '../../src/compose.ts';
import { startHttp } from '../../src/observe/http.ts';
import { launchChromium } from '../../../shared/testkit/chromium.ts';
import { uniquePrefix, waitFor } from '../../../shared/testkit/unique.ts';
import { freePort } from '../../../shared/testkit/ports.ts';
import { metric } from '../helpers/metrics.ts';
import mqtt from 'mqtt';
import { encodeBatch } from '../../src/codec/index.ts';

const AMQP = 'amqp://guest:guest@127.0.0.1:5672';
const MGMT = 'http://127.0.0.1:15672';

let conn: ChannelModel;
let ch: ConfirmChannel;
const cleanups: Array<() => Promise<unknown>> = [];

function capture(): { log: pino.Logger; text: () => string } {
  let buf = '';
  const log = pino({ level: 'debug' }, new Writable({ write: (c, _e, cb) => ((buf += c.toString()), cb()) }));
  return { log, text: () => buf };
}

function options(t: Topology, extra: Partial<QueueHealthOptions> = {}): QueueHealthOptions {
  return {
    url: MGMT,
    username: 'guest',
    password: 'guest',
    vhost: '/',
    exchange: t.exchange.name,
    deadLetterExchange: t.deadLetter!.exchange,
    intervalMs: 60_000,
    timeoutMs: 5_000,
    rateWindowMs: 600_000,
    thresholds: DEFAULT_THRESHOLDS,
    ...extra,
  };
}

async function publishN(exchange: string, key: string, n: number): Promise<void> {
  for (let i = 0; i < n; i++) ch.publish(exchange, key, Buffer.from(`m${i}`), { persistent: false });
  await ch.waitForConfirms();
}

/** Deletes on a fresh channel: a failed test may have left `ch` closed by a channel error. */
async function dropTopology(t: Topology): Promise<void> {
  const c = await conn.createChannel();
  c.on('error', () => {});
  await deleteTopology(c, t);
  await c.close();
}

/** A consumer on its own channel that never acks (prefetch unlimited). */
async function holdConsumer(queue: string): Promise<Channel> {
  const c = await conn.createChannel();
  await c.consume(queue, () => {}, { noAck: false });
  return c;
}

beforeAll(async () => {
  const up = await fetch(`${MGMT}/api/overview`, { headers: { authorization: 'Basic ' + Buffer.from('guest:guest').toString('base64') } }).then((r) => r.status, (err: Error) => err.message);
  if (up !== 200) throw new Error(`RabbitMQ's management API does not answer on ${MGMT} (${up}): run 'rabbitmq-plugins enable rabbitmq_management' (.ci/run does)`);
  conn = await amqp.connect(AMQP);
  ch = await conn.createConfirmChannel();
});

afterAll(async () => {
  for (const f of cleanups.reverse()) await f().catch(() => {});
  await conn?.close();
});

describe('QueueHealth on the shared node', () => {
  it('reports depth against max-length, consumers and unacked from real counts, with config thresholds', async () => {
    const p = uniquePrefix('qh');
    const t: Topology = {
      exchange: { name: `${p}.tele`, type: 'topic', durable: true },
      deadLetter: { exchange: `${p}.dlx`, queue: `${p}.dlq` },
      queues: [
        { name: `${p}.low`, bindings: ['low'], maxLength: 10, deadLetter: true },
        { name: `${p}.half`, bindings: ['half'], maxLength: 10, deadLetter: true },
        { name: `${p}.full`, bindings: ['full'], maxLength: 10, deadLetter: true },
        { name: `${p}.two`, bindings: ['two'], deadLetter: true },
        { name: `${p}.one`, bindings: ['one'], deadLetter: true },
        { name: `${p}.held4`, bindings: ['held4'], deadLetter: true },
        { name: `${p}.held6`, bindings: ['held6'], deadLetter: true },
      ],
    };
    await declareTopology(ch, t);
    cleanups.push(() => dropTopology(t));
    const q = (s: string) => `${p}.${s}`;
    await publishN(t.exchange.name, 'low', 2); // 20 %: ok
    await publishN(t.exchange.name, 'half', 6); // 60 %: warning (> 50 %)
    await publishN(t.exchange.name, 'full', 9); // 90 %: critical (> 80 %)
    await publishN(t.exchange.name, 'held4', 4);
    await publishN(t.exchange.name, 'held6', 6);
    const consumers = [await holdConsumer(q('two')), await holdConsumer(q('two')), await holdConsumer(q('one')), await holdConsumer(q('held4')), await holdConsumer(q('held6'))];
    cleanups.push(async () => Promise.all(consumers.map((c) => c.close().catch(() => {}))));

    // Thresholds from config: unacked lowered so a handful of messages crosses them.
    const config = loadConfig({ overrides: ['queueHealth.thresholds.unacked.warning=3', 'queueHealth.thresholds.unacked.critical=5'] });
    expect(config.queueHealth.thresholds.depthRatio).toEqual({ warning: 0.5, critical: 0.8 });
    const registry = new Registry();
    const health = new QueueHealth(options(t, { thresholds: config.queueHealth.thresholds, registry }));

    // The management API refreshes queue figures every few seconds: poll until they show.
    const r: QueueHealthReport = await waitFor(
      async () => {
        const rep = await health.poll();
        const by = new Map(rep.queues.map((x) => [x.name, x]));
        const ready = by.get(q('full'))?.messages === 9 && by.get(q('half'))?.messages === 6 && by.get(q('low'))?.messages === 2 && by.get(q('two'))?.consumers === 2 && by.get(q('held6'))?.unacked === 6 && by.get(q('held4'))?.unacked === 4 && by.get(q('one'))?.consumers === 1;
        return ready ? rep : undefined;
      },
      { timeoutMs: 40_000, intervalMs: 500, what: 'management figures to catch up' },
    );
    expect(r.reachable).toBe(true);
    expect(r.error).toBeNull();
    // Only the queues bound to this exchange, not the DLQ or anything else on the broker.
    expect(r.queues.map((x) => x.name)).toEqual([q('full'), q('half'), q('held4'), q('held6'), q('low'), q('one'), q('two')]);
    const by = new Map(r.queues.map((x) => [x.name, x]));
    expect(by.get(q('low'))!.signals.depth).toMatchObject({ level: 'ok', value: 0.2 });
    expect(by.get(q('half'))!.signals.depth).toMatchObject({ level: 'warning', value: 0.6 });
    expect(by.get(q('full'))!.signals.depth).toMatchObject({ level: 'critical', value: 0.9 });
    expect(by.get(q('full'))!.maxLength).toBe(10);
    expect(by.get(q('two'))!.signals.consumers.level).toBe('ok');
    expect(by.get(q('one'))!.signals.consumers.level).toBe('warning');
    expect(by.get(q('low'))!.signals.consumers.level).toBe('critical');
    expect(by.get(q('two'))!.signals.depth).toMatchObject({ level: 'ok', value: null }); // no max-length
    expect(by.get(q('held4'))!.signals.unacked).toMatchObject({ level: 'warning', value: 4 });
    expect(by.get(q('held6'))!.signals.unacked).toMatchObject({ level: 'critical', value: 6 });
    expect(by.get(q('two'))!.level).toBe('ok');
    expect(by.get(q('one'))!.level).toBe('warning');
    expect(r.level).toBe('critical');
    expect(r.problems).toContain(`queue ${q('full')}: 9 of max-length 10 (90 %) (critical: > 80 %)`);
    expect(r.problems).toContain(`queue ${q('one')}: 1 consumers (warning: < 2)`);

    const metrics = await registry.metrics();
    expect(metrics).toContain('edge_queue_health_up 1');
    expect(metrics).toContain('edge_queue_health_level 2');
    expect(metrics).toContain(`edge_queue_messages{queue="${q('full')}"} 9`);
    expect(metrics).toContain(`edge_queue_max_length{queue="${q('full')}"} 10`);
    expect(metrics).toContain(`edge_queue_consumers{queue="${q('two')}"} 2`);
    expect(metrics).toContain(`edge_queue_unacked{queue="${q('held6')}"} 6`);
    expect(metrics).toContain(`edge_queue_signal_level{queue="${q('half')}",signal="depth"} 1`);
    expect(metrics).toContain(`edge_queue_signal_level{queue="${q('low')}",signal="consumers"} 2`);
  });

  it('dead-letter ratio and publish rate over the window: 3 dead of 100 published is a warning', async () => {
    const p = uniquePrefix('qhdl');
    const t: Topology = {
      exchange: { name: `${p}.tele`, type: 'topic', durable: true },
      deadLetter: { exchange: `${p}.dlx`, queue: `${p}.dlq` },
      queues: [{ name: `${p}.sink`, bindings: ['#'], deadLetter: true }],
    };
    await declareTopology(ch, t);
    cleanups.push(() => dropTopology(t));
    const health = new QueueHealth(options(t));
    const first = await health.poll();
    expect(first.deadLetter).toMatchObject({ ratio: null, rate: null, queues: [`${p}.dlq`] });
    expect(first.queues[0]!.publishRate).toBeNull();

    await publishN(t.exchange.name, 'factory.x', 100);
    await publishN(t.deadLetter!.exchange, 'factory.x', 3);
    const r = await waitFor(
      async () => {
        const rep = await health.poll();
        // Wait until both counters have been refreshed by the broker's stats: 100 in, 3 dead.
        return rep.queues[0]?.messages === 100 && rep.deadLetter?.rate && rep.deadLetter.ratio !== null && rep.deadLetter.ratio < 0.05 ? rep : undefined;
      },
      { timeoutMs: 40_000, intervalMs: 500, what: 'dead-letter counters' },
    );
    expect(r.deadLetter!.ratio).toBeCloseTo(0.03, 5);
    expect(r.deadLetter!.signal.level).toBe('warning');
    expect(r.problems).toContain(`dead-letter exchange ${p}.dlx: 3 % dead-lettered (warning: > 1 %)`);
    expect(r.queues[0]!.publishRate!).toBeGreaterThan(0);
  });
});

describe('QueueHealth when the API is not there', () => {
  it('an unreachable URL is reported, never thrown, and logged once without the password', async () => {
    const port = await freePort();
    const { log, text } = capture();
    const registry = new Registry();
    const t: Topology = { exchange: { name: 'x', type: 'topic', durable: true }, deadLetter: { exchange: 'x.dlx', queue: 'x.dlq' }, queues: [] };
    const health = new QueueHealth(options(t, { url: `http://127.0.0.1:${port}`, password: 'pw-never-logged-7731', registry, logger: log }));
    const r = await health.poll();
    await health.poll();
    expect(r).toMatchObject({ reachable: false, level: 'unknown', queues: [], deadLetter: null });
    expect(r.error).toBe(`management API unreachable at http://127.0.0.1:${port}: ECONNREFUSED`);
    const metrics = await registry.metrics();
    expect(metrics).toContain('edge_queue_health_up 0');
    expect(metrics).toContain('edge_queue_health_level -1');
    expect(text().match(/management API not available/g)).toHaveLength(1);
    expect(text()).not.toContain('pw-never-logged-7731');
  });

  it('wrong credentials: a 401 report naming the user, not the password', async () => {
    const { log, text } = capture();
    const t: Topology = { exchange: { name: 'amq.topic', type: 'topic', durable: true }, deadLetter: { exchange: 'amq.fanout', queue: 'x' }, queues: [] };
    const health = new QueueHealth(options(t, { password: 'wrong-pw-5512', logger: log }));
    const r = await health.poll();
    expect(r.reachable).toBe(false);
    expect(r.error).toBe(`management API at ${MGMT} refused the credentials of user 'guest' (401)`);
    expect(JSON.stringify(r) + text()).not.toContain('wrong-pw-5512');
  });

  it('the bridge runs and forwards with the API unreachable; /metrics says so', async () => {
    const p = uniquePrefix('qhbridge');
    const dir = mkdtempSync(join(tmpdir(), 'edge-qh-'));
    cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
    const port = await freePort();
    const config = loadConfig({
      overrides: [
        'mqtt.embedded.port=0',
        `amqp.urls=${AMQP}`,
        `amqp.topology.exchange=${p}.tele`,
        `amqp.topology.alternateExchange=${p}.ae`,
        `amqp.topology.unroutableQueue=${p}.unroutable`,
        `amqp.topology.deadLetterExchange=${p}.dlx`,
        `amqp.topology.deadLetterQueue=${p}.dlq`,
        `amqp.topology.queues=[{"name":"${p}.all","bindings":["#"]}]`,
        `store.dir=${join(dir, 'store')}`,
        `quarantine.dir=${join(dir, 'quarantine')}`,
        `queueHealth.url=http://127.0.0.1:${port}`,
      ],
    });
    const pipeline = composeBridge(config, pino({ level: 'silent' }));
    cleanups.push(() => dropTopology(topologyFromConfig(config)));
    await pipeline.start();
    try {
      const report = () => pipeline.health.readiness().details.queueHealth as QueueHealthReport;
      await waitFor(() => report().checkedAt !== null, { what: 'first poll' });
      expect(report().reachable).toBe(false);
      const device = await mqtt.connectAsync(`mqtt://127.0.0.1:${pipeline.mqttPort()}`, { clientId: 'qh-dev', reconnectPeriod: 0 });
      await device.publishAsync(`${p}/qh-dev/telemetry`, encodeBatch({ v: 1, device: 'qh-dev', boot: 1, seq: 0, fw: 't', ts: Date.now(), unsynced: false, readings: [{ sensor: 'temperature', offset: 0, value: 1 }] }), { qos: 1 });
      await device.endAsync();
      await waitFor(async () => (await metric(pipeline.health, 'edge_amqp_publish_results_total', { result: 'confirmed' })) === 1, { what: 'record forwarded' });
      expect(pipeline.health.readiness().ready).toBe(true);
      expect(await pipeline.health.metricsText()).toContain('edge_queue_health_up 0');
      const http = await startHttp({ host: '127.0.0.1', port: 0 }, pipeline.health, pino({ level: 'silent' }));
      try {
        const res = await fetch(`http://127.0.0.1:${http.port}/readyz`);
        expect(res.status).toBe(200);
        const body = (await res.json()) as { queueHealth: { reachable: boolean; level: string; error: string } };
        expect(body.queueHealth).toMatchObject({ reachable: false, level: 'unknown', error: `management API unreachable at http://127.0.0.1:${port}: ECONNREFUSED` });
      } finally {
        await http.close();
      }
    } finally {
      await pipeline.stop();
    }
  });
});

describe('queue health on /readyz and the dashboard', () => {
  it('a queue 90 % full with no consumers is critical on /readyz (still 200) and in the dashboard panel', async () => {
    const p = uniquePrefix('qhdash');
    const dir = mkdtempSync(join(tmpdir(), 'edge-qhdash-'));
    cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
    const config = loadConfig({
      overrides: [
        'mqtt.embedded.port=0',
        `amqp.urls=${AMQP}`,
        `amqp.topology.exchange=${p}.tele`,
        `amqp.topology.alternateExchange=${p}.ae`,
        `amqp.topology.unroutableQueue=${p}.unroutable`,
        `amqp.topology.deadLetterExchange=${p}.dlx`,
        `amqp.topology.deadLetterQueue=${p}.dlq`,
        `amqp.topology.queues=[{"name":"${p}.all","bindings":["#"],"maxLength":10}]`,
        `store.dir=${join(dir, 'store')}`,
        `quarantine.dir=${join(dir, 'quarantine')}`,
        'queueHealth.intervalMs=500',
        'observe.dashboard.intervalMs=250',
      ],
    });
    const pipeline = composeBridge(config, pino({ level: 'silent' }));
    cleanups.push(() => dropTopology(topologyFromConfig(config)));
    await pipeline.start();
    const http = await startHttp({ host: '127.0.0.1', port: 0 }, pipeline.health, pino({ level: 'silent' }));
    const { context, profile } = await launchChromium();
    try {
      await publishN(`${p}.tele`, 'factory.x', 9);
      const base = `http://127.0.0.1:${http.port}`;
      type Ready = { queueHealth: { level: string; queues: Array<{ name: string; messages: number; consumers: number; signals: { depth: { level: string } } }> } };
      const ready = await waitFor(
        async () => {
          const res = await fetch(`${base}/readyz`);
          expect(res.status).toBe(200);
          const body = (await res.json()) as Ready;
          return body.queueHealth.queues?.[0]?.messages === 9 ? body : undefined;
        },
        { timeoutMs: 40_000, intervalMs: 500, what: '/readyz to show the queue at 9 messages' },
      );
      expect(ready.queueHealth.level).toBe('critical');
      expect(ready.queueHealth.queues[0]).toMatchObject({ name: `${p}.all`, consumers: 0, signals: { depth: { level: 'critical' } } });

      const page = await context.newPage();
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      await page.goto(`${base}/`);
      const row = page.locator(`#panel-queues tr[data-queue="${p}.all"]`);
      await row.waitFor({ state: 'visible', timeout: 15_000 });
      await waitFor(async () => (await row.locator('td.messages').innerText()) === '9', { what: 'depth 9 in the panel' });
      expect(await row.locator('td.fill').innerText()).toBe('90.0 %');
      expect(await row.locator('td.fill').getAttribute('class')).toContain('level-critical');
      expect(await row.locator('td.consumers').getAttribute('class')).toContain('level-critical');
      expect(await row.locator('td.level').innerText()).toBe('critical');
      expect(await page.locator('[data-testid=queues-summary]').innerText()).toMatch(/^CRITICAL · 1 queue · checked /);
      expect(await page.locator('[data-testid=dead-letter]').innerText()).toContain(`dead-letter exchange ${p}.dlx`);
      // Kept for a human to look at, like the dashboard test's screenshot.
      mkdirSync(join(process.cwd(), '.vitest-artifacts'), { recursive: true });
      await page.locator('#panel-queues').screenshot({ path: join(process.cwd(), '.vitest-artifacts', 'queue-health-panel.png') });
      expect(errors).toEqual([]);
    } finally {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
      await http.close();
      await pipeline.stop();
    }
  });
});
