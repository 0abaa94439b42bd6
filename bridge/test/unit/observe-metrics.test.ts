// Metrics: per-device series stay capped with 10k devices, and every PromQL
// expression in the shipped Grafana dashboard names a metric the bridge exports.
import { describe, it, expect } from 'vitest';
import { readFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { DeviceRegistry } from '../../src/observe/devices.ts';
import { Counter, Histogram, Registry } from 'prom-client';
import { BridgeMetrics, type GaugeSources } from '../../src/observe/metrics.ts';
import { Counters } from '../../src/observe/counters.ts';
import { loadConfig } from '../../src/config/index.ts';
import { composeBridge } from '../../src/compose.ts';

function metricsSources(devices = new DeviceRegistry(), top = 5, optIn: string[] = []): GaugeSources {
  return {
    store: () => ({ records: 0, bytes: 0, oldestAgeMs: 0, inFlight: 0, dropped: 0, expired: 0 }),
    devicesOnline: () => devices.onlineCount(),
    devicesKnown: () => devices.size,
    seqGaps: () => devices.gapsTotal,
    nodeDrops: () => devices.dropsTotal(),
    amqpConnections: () => [{ state: 'open', channels: 2 }, { state: 'connecting', channels: 0 }],
    amqpBlocked: () => false,
    perDevice: () => devices.topByTraffic(top, optIn),
    readiness: () => 1,
  };
}

function metricsFor(devices: DeviceRegistry, top: number, optIn: string[] = []): BridgeMetrics {
  return new BridgeMetrics(new Registry(), new Counters(), metricsSources(devices, top, optIn));
}

/** device label values per metric name, from the exposition text. */
function deviceSeries(text: string): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  for (const line of text.split('\n')) {
    const m = /^(\w+)\{[^}]*device="([^"]+)"/.exec(line);
    if (!m) continue;
    if (!out.has(m[1]!)) out.set(m[1]!, new Set());
    out.get(m[1]!)!.add(m[2]!);
  }
  return out;
}

const PER_DEVICE = [
  'edge_device_readings_total',
  'edge_device_batches_total',
  'edge_device_seq_gaps_total',
  'edge_device_identity_mismatches_total',
  'edge_device_paced_publishes_total',
  'edge_device_node_drops',
  'edge_device_online',
  'edge_device_last_seen_timestamp_seconds',
];

describe('per-device metrics are capped', () => {
  it('10k devices: only the top N by readings plus the opt-in list get series, with the right values', async () => {
    const devices = new DeviceRegistry();
    // Device i sends (i % 97) + 1 batches of 3 readings; the busiest are those with i % 97 == 96.
    for (let i = 0; i < 10_000; i++) {
      const id = `node-${String(i).padStart(5, '0')}`;
      const batches = (i % 97) + 1;
      for (let seq = 0; seq < batches; seq++) devices.onBatch(id, 1, seq === batches - 1 && i % 2 ? seq + 2 : seq, 3, 1_700_000_000_000 + i);
    }
    devices.onStatus('node-00000', { online: true, drop: 9 });
    devices.onPaced('node-00000');
    devices.onPaced('not-a-device'); // a client id that never sent a batch gets no entry
    const metrics = metricsFor(devices, 20, ['node-00000', 'never-seen']);
    const text = await metrics.registry.metrics();
    const series = deviceSeries(text);
    expect([...series.keys()].sort()).toEqual([...PER_DEVICE].sort());
    const expected = new Set(devices.topByTraffic(20).map((d) => d.device));
    expect(expected.size).toBe(20);
    // Every top device has readings 97 * 3: the maximum.
    for (const d of expected) expect(devices.view(d)!.readings).toBe(97 * 3);
    expected.add('node-00000'); // opt-in, low traffic; 'never-seen' has no data and gets no series
    for (const name of PER_DEVICE) expect(series.get(name), name).toEqual(expected);
    expect(text).toContain('edge_device_readings_total{device="node-00000"} 3\n');
    expect(text).toContain('edge_device_node_drops{device="node-00000"} 9\n');
    expect(text).toContain('edge_device_paced_publishes_total{device="node-00000"} 1\n');
    expect(devices.view('not-a-device')).toBeUndefined();
    expect(text).toMatch(/edge_devices_known 10000\n/);
    // Whole exposition stays small: well under what 10k label sets would take.
    expect(text.split('\n').filter((l) => l.includes('device="')).length).toBe(PER_DEVICE.length * 21);
  });

  it('a device that leaves the top N loses its series at the next scrape (no leak)', async () => {
    const devices = new DeviceRegistry();
    devices.onBatch('a', 1, 0, 10);
    devices.onBatch('b', 1, 0, 5);
    const metrics = metricsFor(devices, 1);
    expect(deviceSeries(await metrics.registry.metrics()).get('edge_device_readings_total')).toEqual(new Set(['a']));
    devices.onBatch('b', 1, 1, 50);
    const after = deviceSeries(await metrics.registry.metrics());
    for (const name of PER_DEVICE) expect(after.get(name), name).toEqual(new Set(['b']));
  });

  it('serial framing errors per port and kind, reopens and open state', async () => {
    const devices = new DeviceRegistry();
    const base = metricsFor(devices, 0);
    expect(await base.registry.metrics()).not.toMatch(/^edge_serial_frame_errors_total\{/m);
    const src: GaugeSources = {
      store: () => ({ records: 0, bytes: 0, oldestAgeMs: 0, inFlight: 0, dropped: 0, expired: 0 }),
      devicesOnline: () => 0, devicesKnown: () => 0, seqGaps: () => 0, nodeDrops: () => 0,
      amqpConnections: () => [], amqpBlocked: () => false, perDevice: () => [], readiness: () => 2,
      serialPorts: () => [{ port: '/dev/ttyUSB0', open: false, frames: 17, bytes: 900, reopens: 3, errors: { bad_crc: 4, cobs: 0 } }],
    };
    const text = await new BridgeMetrics(new Registry(), new Counters(), src).registry.metrics();
    expect(text).toContain('edge_serial_frames_total{port="/dev/ttyUSB0"} 17');
    expect(text).toContain('edge_serial_bytes_total{port="/dev/ttyUSB0"} 900');
    expect(text).toContain('edge_serial_frame_errors_total{port="/dev/ttyUSB0",kind="bad_crc"} 4');
    expect(text).toContain('edge_serial_frame_errors_total{port="/dev/ttyUSB0",kind="cobs"} 0');
    expect(text).toContain('edge_serial_reopens_total{port="/dev/ttyUSB0"} 3');
    expect(text).toContain('edge_serial_port_open{port="/dev/ttyUSB0"} 0');
  });

  it('embedded MQTT limit counters: disconnects by reason, paced publishes and episodes', async () => {
    const src: GaugeSources = {
      store: () => ({ records: 0, bytes: 0, oldestAgeMs: 0, inFlight: 0, dropped: 0, expired: 0 }),
      devicesOnline: () => 0, devicesKnown: () => 0, seqGaps: () => 0, nodeDrops: () => 0,
      amqpConnections: () => [], amqpBlocked: () => false, perDevice: () => [], readiness: () => 2,
      mqttLimits: () => ({ disconnects: { packet_too_large: 2, malformed_header: 0, rate_exceeded: 1, max_connections: 5, max_connections_per_address: 6 }, pacedPublishes: 40, pacingEpisodes: 3 }),
      mqttClients: () => ({ connected: 7, publishDenied: 8, subscribeDenied: 9 }),
    };
    const text = await new BridgeMetrics(new Registry(), new Counters(), src).registry.metrics();
    expect(text).toContain('edge_mqtt_limit_disconnects_total{reason="max_connections"} 5\n');
    expect(text).toContain('edge_mqtt_limit_disconnects_total{reason="max_connections_per_address"} 6\n');
    expect(text).toContain('edge_mqtt_clients_connected 7\n');
    expect(text).toContain('edge_mqtt_denied_total{what="publish"} 8\n');
    expect(text).toContain('edge_mqtt_denied_total{what="subscribe"} 9\n');
    expect(text).toContain('edge_mqtt_limit_disconnects_total{reason="packet_too_large"} 2\n');
    expect(text).toContain('edge_mqtt_limit_disconnects_total{reason="malformed_header"} 0\n');
    expect(text).toContain('edge_mqtt_limit_disconnects_total{reason="rate_exceeded"} 1\n');
    expect(text).toContain('edge_mqtt_paced_publishes_total 40\n');
    expect(text).toContain('edge_mqtt_pacing_episodes_total 3\n');
  });

  it('top 0 and an empty list turn per-device series off', async () => {
    const devices = new DeviceRegistry();
    for (let i = 0; i < 100; i++) devices.onBatch(`n${i}`, 1, 0, 1);
    const text = await metricsFor(devices, 0).registry.metrics();
    expect(deviceSeries(text).size).toBe(0);
    expect(text).toContain('edge_amqp_connections{state="open"} 1');
    expect(text).toContain('edge_amqp_connections{state="closed"} 0');
    expect(text).toContain('edge_amqp_channels_open 2');
  });
});

// --- Grafana dashboard -> exported metric names ---------------------------------

const PROMQL_WORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'and', 'or', 'unless', 'bool', 'offset', 'inf', 'nan']);

/** Metric names referenced by a PromQL expression (label matchers, ranges, grouping lists and functions removed). */
export function metricNamesIn(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""') // string literals
    .replace(/\{[^}]*\}/g, ' ') // label matchers
    .replace(/\[[^\]]*\]/g, ' ') // range selectors
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' '); // label lists
  const names: string[] = [];
  const re = /[a-zA-Z_:][a-zA-Z0-9_:]*/g;
  for (let m = re.exec(stripped); m; m = re.exec(stripped)) {
    const word = m[0];
    const next = stripped.slice(m.index + word.length).trimStart();
    if (next.startsWith('(')) continue; // a function call
    if (PROMQL_WORDS.has(word.toLowerCase())) continue;
    if (/^\d/.test(stripped.slice(m.index - 1, m.index))) continue; // e.g. the "e" of 1e3
    names.push(word);
  }
  return names;
}

interface GrafanaPanel {
  title?: string;
  targets?: Array<{ expr?: string }>;
  panels?: GrafanaPanel[];
}

describe('Grafana dashboard deploy/grafana/edge-bridge.json', () => {
  it('the name extractor finds metric names and ignores functions, labels and keywords', () => {
    expect(metricNamesIn('histogram_quantile(0.95, sum by (le) (rate(edge_x_bucket{instance=~"$i"}[5m])))')).toEqual(['edge_x_bucket']);
    expect(metricNamesIn('time() - max by (device) (edge_a{device="b"}) / on(instance) group_left edge_b')).toEqual(['edge_a', 'edge_b']);
    expect(metricNamesIn('topk(10, edge_bogus_metric) > 1e3')).toEqual(['edge_bogus_metric']);
  });

  it('every PromQL expression references only metrics the bridge exports', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'edge-grafana-'));
    try {
      const config = loadConfig({ env: {}, overrides: [`store.dir=${join(dir, 'store')}`, `quarantine.dir=${join(dir, 'q')}`] });
      const bridge = composeBridge(config, pino({ level: 'silent' }));
      const exported = new Set<string>();
      for (const m of await bridge.health.metrics.registry.getMetricsAsJSON()) {
        exported.add(m.name);
        if (String(m.type) === 'histogram') for (const s of ['_bucket', '_sum', '_count']) exported.add(m.name + s);
        if (String(m.type) === 'summary') for (const s of ['_sum', '_count']) exported.add(m.name + s);
      }
      const dash = JSON.parse(readFileSync(join(import.meta.dirname, '../../../deploy/grafana/edge-bridge.json'), 'utf8')) as { panels: GrafanaPanel[]; templating: { list: Array<{ definition?: string }> } };
      const exprs: Array<{ where: string; expr: string }> = [];
      const walk = (panels: GrafanaPanel[]) => {
        for (const p of panels) {
          for (const t of p.targets ?? []) if (t.expr) exprs.push({ where: p.title ?? '?', expr: t.expr });
          walk(p.panels ?? []);
        }
      };
      walk(dash.panels);
      for (const v of dash.templating.list) {
        const m = v.definition && /label_values\((\w+)/.exec(v.definition);
        if (m) exprs.push({ where: 'templating', expr: m[1]! });
      }
      expect(exprs.length).toBeGreaterThan(30);
      const unknown: string[] = [];
      for (const { where, expr } of exprs) {
        const names = metricNamesIn(expr);
        if (names.length === 0) unknown.push(`${where}: no metric in ${expr}`);
        for (const n of names) if (!exported.has(n)) unknown.push(`${where}: ${n} (in ${expr})`);
      }
      expect(unknown).toEqual([]);
      // Every metric the issue asks for is on the dashboard.
      const used = new Set(exprs.flatMap((e) => metricNamesIn(e.expr)));
      for (const name of [
        'edge_ingress_messages_total', 'edge_ingress_bytes_total', 'edge_decode_failures_total', 'edge_store_records', 'edge_store_bytes',
        'edge_store_oldest_age_seconds', 'edge_amqp_confirm_latency_seconds_bucket', 'edge_amqp_publish_results_total', 'edge_parked_total',
        'edge_amqp_reconnects_total', 'edge_devices_online', 'edge_seq_gaps', 'edge_node_reported_drops', 'edge_device_readings_total',
      ]) expect(used.has(name), name).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('counters as /metrics shows them', () => {
  const HOT_METRICS = [
    'edge_ingress_messages_total',
    'edge_ingress_bytes_total',
    'edge_readings_accepted_total',
    'edge_batches_accepted_total',
    'edge_amqp_publish_results_total',
    'edge_amqp_confirm_latency_seconds',
    'edge_accept_to_confirm_seconds',
  ];
  /** The exposition lines of the hot metrics, sorted, with each _sum as a number (summed in another order). */
  async function exposition(registry: Registry): Promise<{ lines: string[]; sums: Map<string, number> }> {
    const lines: string[] = [];
    const sums = new Map<string, number>();
    for (const line of (await registry.metrics()).split('\n')) {
      const name = /^(\w+)/.exec(line)?.[1];
      if (!name || !HOT_METRICS.some((h) => name.startsWith(h))) continue;
      if (name.endsWith('_sum')) sums.set(name, Number(line.split(' ').pop()));
      else lines.push(line);
    }
    return { lines: lines.sort(), sums };
  }

  it('give the scrape prom-client would give for the same inc() and observe() calls, across scrapes', async () => {
    const counters = new Counters();
    const ours = new BridgeMetrics(new Registry(), counters, metricsSources());
    // The same metrics kept by prom-client itself.
    const registers = [new Registry()];
    const plain = {
      messages: new Counter({ name: 'edge_ingress_messages_total', help: 'h', labelNames: ['transport'], registers }),
      bytes: new Counter({ name: 'edge_ingress_bytes_total', help: 'h', labelNames: ['transport'], registers }),
      readings: new Counter({ name: 'edge_readings_accepted_total', help: 'h', registers }),
      batches: new Counter({ name: 'edge_batches_accepted_total', help: 'h', registers }),
      published: new Counter({ name: 'edge_amqp_publish_results_total', help: 'h', labelNames: ['result'], registers }),
      confirm: new Histogram({ name: 'edge_amqp_confirm_latency_seconds', help: 'h', buckets: [...counters.confirmLatency.bounds], registers }),
      endToEnd: new Histogram({ name: 'edge_accept_to_confirm_seconds', help: 'h', buckets: [...counters.acceptToConfirm.bounds], registers }),
    };
    // Values on, between, below and above the bucket bounds, negative ones included (clock skew).
    const seconds = [0, 0.001, 0.0011, 0.003, 0.05, 0.5, 2.5, 2.6, 4000, -1, 0.0049, 30, 301];
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < 40; i++) {
        const transport = i % 3 ? 'mqtt' : 'serial';
        const v = seconds[(i + round) % seconds.length]!;
        counters.ingress[transport].messages++;
        counters.ingress[transport].bytes += 100 + i;
        plain.messages.inc({ transport });
        plain.bytes.inc({ transport }, 100 + i);
        counters.readings += 16;
        plain.readings.inc(16);
        counters.batches++;
        plain.batches.inc();
        counters.published.confirmed++;
        plain.published.inc({ result: 'confirmed' });
        counters.confirmLatency.observe(v);
        plain.confirm.observe(v);
        counters.acceptToConfirm.observe(v * 10);
        plain.endToEnd.observe(v * 10);
      }
      counters.published.returned++;
      plain.published.inc({ result: 'returned' });
      const [a, b] = [await exposition(ours.registry), await exposition(registers[0]!)];
      expect(a.lines).toEqual(b.lines);
      expect(a.lines.length).toBeGreaterThan(20);
      expect([...a.sums.keys()].sort()).toEqual([...b.sums.keys()].sort());
      for (const [name, sum] of b.sums) expect(a.sums.get(name)).toBeCloseTo(sum, 9);
    }
  });

  it('observe() refuses a value that is not a finite number, as prom-client does', () => {
    expect(() => new Counters().confirmLatency.observe(NaN)).toThrow(TypeError);
  });
});

/** The metric names and types the bridge exports: renaming one breaks every dashboard and alert built on it. */
const METRIC_NAMES = `
edge_ingress_messages_total counter
edge_ingress_bytes_total counter
edge_readings_accepted_total counter
edge_batches_accepted_total counter
edge_decode_failures_total counter
edge_ingress_busy_total counter
edge_amqp_publish_results_total counter
edge_parked_total counter
edge_amqp_confirm_latency_seconds histogram
edge_accept_to_confirm_seconds histogram
edge_accept_to_durable_seconds histogram
edge_accept_to_publish_seconds histogram
edge_amqp_reconnects_total counter
edge_store_dropped_total counter
edge_store_expired_total counter
edge_routes_unreachable gauge
edge_store_records gauge
edge_store_bytes gauge
edge_store_oldest_age_seconds gauge
edge_store_in_flight gauge
edge_devices_online gauge
edge_devices_known gauge
edge_seq_gaps gauge
edge_node_reported_drops gauge
edge_amqp_channels_open gauge
edge_amqp_blocked gauge
edge_ready gauge
edge_amqp_connections gauge
edge_serial_frame_errors_total counter
edge_serial_reopens_total counter
edge_serial_port_open gauge
edge_quarantine_dropped_total counter
edge_upstream_seq_gaps_total counter
edge_external_broker_dropped gauge
edge_mqtt_limit_disconnects_total counter
edge_mqtt_paced_publishes_total counter
edge_mqtt_pacing_episodes_total counter
edge_device_readings_total counter
edge_device_batches_total counter
edge_device_seq_gaps_total counter
edge_device_identity_mismatches_total counter
edge_device_paced_publishes_total counter
edge_device_node_drops gauge
edge_device_online gauge
edge_device_last_seen_timestamp_seconds gauge
edge_queue_health_up gauge
edge_queue_health_level gauge
edge_queue_messages gauge
edge_queue_max_length gauge
edge_queue_consumers gauge
edge_queue_unacked gauge
edge_queue_publish_rate gauge
edge_queue_ack_rate gauge
edge_queue_signal_level gauge
edge_dead_letter_rate gauge
edge_dead_letter_ratio gauge
edge_downlink_commands_total counter
edge_downlink_pending gauge
edge_mqtt_clients_connected gauge
edge_mqtt_denied_total counter
edge_serial_frames_total counter
edge_serial_bytes_total counter
`.trim().split('\n');

describe('metric names', () => {
  it('are exactly the pinned list, with their types', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'edge-names-'));
    try {
      const config = loadConfig({
        env: {},
        overrides: [`store.dir=${join(dir, 'store')}`, `quarantine.dir=${join(dir, 'q')}`, `serial.ports[0].path=${join(dir, 'tty')}`, 'downlink.enabled=true', `downlink.dir=${join(dir, 'dl')}`],
      });
      const bridge = composeBridge(config, pino({ level: 'silent' }));
      const names = (await bridge.health.metrics.registry.getMetricsAsJSON()).map((m) => `${m.name} ${String(m.type)}`).filter((n) => n.startsWith('edge_'));
      expect(names.sort()).toEqual([...METRIC_NAMES].sort());
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
