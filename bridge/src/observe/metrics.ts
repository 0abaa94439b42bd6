// Prometheus metrics. Aggregate label sets are small and fixed (transport,
// reason, result, state). Per-device series are capped: at each scrape only the
// top N devices by readings plus an opt-in list get series, so 10k devices cost
// at most N + list label values per metric (config `observe.deviceMetrics`).
import { Registry, Counter, Gauge, Histogram, collectDefaultMetrics, type LabelValues } from 'prom-client';
import type { DeviceView } from './devices.ts';
import type { Counters, LatencyHistogram } from './counters.ts';
import { addToUnlabelledHistogram } from '../adapters/prom-client.ts';

export interface GaugeSources {
  store(): { records: number; bytes: number; oldestAgeMs: number; inFlight: number; dropped: number; expired: number };
  devicesOnline(): number;
  devicesKnown(): number;
  seqGaps(): number;
  nodeDrops(): number;
  amqpConnections(): Array<{ state: string; channels: number }>;
  amqpBlocked(): boolean;
  /** Devices that get per-device series this scrape (already capped). */
  perDevice(): DeviceView[];
  /** 0 not ready (503), 1 degraded, 2 ok. */
  readiness(): number;
  /** Serial ports' own counters (framing errors never reach the payload decoder). */
  serialPorts?(): SerialPortCounters[];
  /** The embedded MQTT broker's per-connection limits (ingress/mqtt-limits.ts LimitStats). */
  mqttLimits?(): MqttLimitCounters | undefined;
  /** External-broker mode: what the broker reports it dropped, if it publishes that. */
  externalBrokerDropped?(): number | undefined;
  /** The embedded MQTT broker: clients connected now, ACL denials so far. */
  mqttClients?(): { connected: number; publishDenied: number; subscribeDenied: number } | undefined;
}

/** What metrics need of the embedded broker's limit counters. */
export interface MqttLimitCounters {
  disconnects: Record<string, number>;
  pacedPublishes: number;
  pacingEpisodes: number;
}

/** What metrics need of a serial port's stats (ingress/serial-link.ts SerialPortStats). */
export interface SerialPortCounters {
  port: string;
  open: boolean;
  frames: number;
  bytes: number;
  reopens: number;
  errors: Record<string, number>;
}


/** Adds what `source` gathered since the last read (observe-metrics.test: the same exposition as prom-client's own observe()). */
const flushingHistogram = (source: LatencyHistogram) =>
  function (this: Histogram<string>) {
    const taken = source.take();
    if (taken) addToUnlabelledHistogram(this, source.bounds, taken.counts, taken.sum, taken.count);
  };

/** Every state a ConfirmPool connection reports, so a state that is currently empty still shows 0. */
const CONNECTION_STATES = ['connecting', 'open', 'blocked', 'closed'] as const;

export class BridgeMetrics {
  readonly unreachableRoutes: Gauge<string>;

  /** `registry` is shared with the parts that register their own metrics (queue health, downlink). */
  constructor(
    readonly registry: Registry,
    counters: Counters,
    src: GaugeSources,
  ) {
    collectDefaultMetrics({ register: this.registry });
    const registers = [this.registry];
    /** A counter whose value is one field of `counters`. */
    const total = (name: string, help: string, read: () => number) =>
      new Counter({ name, help, registers, collect() { this.reset(); this.inc(read()); } });
    /** A labelled counter from (label value, count) pairs; a series appears at its first count. */
    const byLabel = (name: string, help: string, label: string, read: () => Iterable<[string, number]>) =>
      new Counter({
        name, help, labelNames: [label], registers,
        collect() {
          this.reset();
          for (const [value, n] of read()) if (n > 0) this.inc({ [label]: value }, n);
        },
      });
    const transports = (read: (t: { messages: number; bytes: number }) => number) => (): Array<[string, number]> =>
      Object.entries(counters.ingress).map(([t, c]) => [t, read(c)]);
    byLabel('edge_ingress_messages_total', 'Messages received, by transport', 'transport', transports((c) => c.messages));
    byLabel('edge_ingress_bytes_total', 'Payload bytes received, by transport', 'transport', transports((c) => c.bytes));
    total('edge_readings_accepted_total', 'Readings in accepted batches', () => counters.readings);
    total('edge_batches_accepted_total', 'Batches durably stored and acknowledged', () => counters.batches);
    byLabel('edge_decode_failures_total', 'Payloads quarantined, by reason', 'reason', () => counters.rejected.entries());
    byLabel('edge_ingress_busy_total', 'Messages not acknowledged because the store was full or closing', 'transport', () => Object.entries(counters.busy));
    byLabel('edge_amqp_publish_results_total', 'Publish outcomes: confirmed, nacked (retried), returned (parked), failed (channel loss or broker down, retried)', 'result', () => Object.entries(counters.published));
    byLabel('edge_parked_total', 'Records taken out of the store without delivery and kept in the quarantine, by reason', 'reason', () => counters.parked.entries());
    const latency = (name: string, help: string, source: LatencyHistogram) =>
      new Histogram({ name, help, buckets: [...source.bounds], registers, collect: flushingHistogram(source) });
    latency('edge_amqp_confirm_latency_seconds', 'Time from publish to broker confirm', counters.confirmLatency);
    latency('edge_accept_to_confirm_seconds', 'Time from accepting a batch to its broker confirm (includes time buffered)', counters.acceptToConfirm);
    latency('edge_accept_to_durable_seconds', 'Time from reading a batch to its durable write (fsync done, acknowledgement due)', counters.acceptToDurable);
    latency('edge_accept_to_publish_seconds', 'Time from accepting a batch to handing it to the confirm pool for publishing (includes time buffered)', counters.acceptToPublish);
    total('edge_amqp_reconnects_total', 'AMQP reconnects', () => counters.amqpReconnects);
    total('edge_store_dropped_total', 'Records dropped by the overflow policy (never delivered)', () => counters.parked.get('dropped_overflow'));
    total('edge_store_expired_total', 'Records expired by TTL (dead-lettered, never delivered)', () => counters.parked.get('expired_ttl'));
    total('edge_upstream_seq_gaps_total', 'External-broker mode: batches missing by seq, acknowledged by the external broker to the device and never delivered to the bridge (Mosquitto max_queued_messages drops them)', () => counters.upstreamGaps);
    new Gauge({
      name: 'edge_external_broker_dropped',
      help: 'External-broker mode: messages the external broker says it dropped ($SYS/broker/publish/messages/dropped, Mosquitto; broker-wide)',
      registers,
      collect() {
        this.set(src.externalBrokerDropped?.() ?? 0);
      },
    });
    total('edge_quarantine_dropped_total', 'Rejected messages acknowledged but not kept, because the quarantine write queue was full (a flood of bad input)', () => counters.quarantineDropped);
    this.unreachableRoutes = new Gauge({ name: 'edge_routes_unreachable', help: 'Routing rules whose keys reach no queue', registers });
    const gauge = (name: string, help: string, read: () => number) =>
      new Gauge({ name, help, registers: [this.registry], collect() { this.set(read()); } });
    gauge('edge_store_records', 'Records waiting in the store', () => src.store().records);
    gauge('edge_store_bytes', 'Bytes waiting in the store', () => src.store().bytes);
    gauge('edge_store_oldest_age_seconds', 'Age of the oldest waiting record', () => src.store().oldestAgeMs / 1000);
    gauge('edge_store_in_flight', 'Records published, awaiting confirm', () => src.store().inFlight);
    gauge('edge_devices_online', 'Devices currently online', () => src.devicesOnline());
    gauge('edge_devices_known', 'Devices the bridge has seen since it started', () => src.devicesKnown());
    gauge('edge_seq_gaps', 'Batches missing by seq, over all devices, since the bridge started', () => src.seqGaps());
    gauge('edge_node_reported_drops', 'Batches nodes report having dropped from their outbox (sum of the latest reports)', () => src.nodeDrops());
    gauge('edge_amqp_channels_open', 'Open AMQP confirm channels', () => src.amqpConnections().reduce((n, c) => n + (c.state === 'open' || c.state === 'blocked' ? c.channels : 0), 0));
    gauge('edge_amqp_blocked', '1 while RabbitMQ has blocked the connection', () => (src.amqpBlocked() ? 1 : 0));
    gauge('edge_ready', 'Readiness: 2 ok, 1 degraded (still accepting and buffering), 0 not ready', () => src.readiness());
    new Gauge({
      name: 'edge_amqp_connections',
      help: 'AMQP connections of the pool, by state',
      labelNames: ['state'],
      registers: [this.registry],
      collect() {
        const counts = new Map<string, number>(CONNECTION_STATES.map((s) => [s, 0]));
        for (const c of src.amqpConnections()) counts.set(c.state, (counts.get(c.state) ?? 0) + 1);
        for (const [state, n] of counts) this.set({ state }, n);
      },
    });

    // Serial: one series per configured port (a handful), framing errors per kind.
    const serial = () => src.serialPorts?.() ?? [];
    new Counter({
      name: 'edge_serial_frame_errors_total',
      help: 'Serial frames dropped before payload decoding (COBS, CRC, length, version), by port and kind',
      labelNames: ['port', 'kind'],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const p of serial()) for (const [kind, n] of Object.entries(p.errors)) this.inc({ port: p.port, kind }, n);
      },
    });
    const serialCounter = (name: string, help: string, read: (p: SerialPortCounters) => number) =>
      new Counter({ name, help, labelNames: ['port'], registers, collect() { this.reset(); for (const p of serial()) this.inc({ port: p.port }, read(p)); } });
    serialCounter('edge_serial_frames_total', 'Good serial frames decoded, by port', (p) => p.frames);
    serialCounter('edge_serial_bytes_total', 'Bytes read from the serial device, by port', (p) => p.bytes);
    new Counter({
      name: 'edge_serial_reopens_total',
      help: 'Times a serial port came back after it was lost',
      labelNames: ['port'],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const p of serial()) this.inc({ port: p.port }, p.reopens);
      },
    });
    new Gauge({
      name: 'edge_serial_port_open',
      help: '1 while the serial port is open',
      labelNames: ['port'],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const p of serial()) this.set({ port: p.port }, p.open ? 1 : 0);
      },
    });

    // Embedded MQTT limits: reasons are a fixed set.
    const limits = () => src.mqttLimits?.();
    new Counter({
      name: 'edge_mqtt_limit_disconnects_total',
      help: 'Embedded MQTT connections closed by a limit, by reason (packet_too_large, malformed_header, rate_exceeded, max_connections, max_connections_per_address)',
      labelNames: ['reason'],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const [reason, n] of Object.entries(limits()?.disconnects ?? {})) this.inc({ reason }, n);
      },
    });
    const limitCounter = (name: string, help: string, read: (s: MqttLimitCounters) => number) =>
      new Counter({ name, help, registers: [this.registry], collect() { this.reset(); const s = limits(); if (s) this.inc(read(s)); } });
    limitCounter('edge_mqtt_paced_publishes_total', 'PUBLISH packets held back (unread) because their client was above mqtt.embedded.limits.publishesPerSecond', (s) => s.pacedPublishes);
    const clients = () => src.mqttClients?.();
    new Gauge({ name: 'edge_mqtt_clients_connected', help: 'MQTT clients connected to the embedded broker', registers, collect() { this.set(clients()?.connected ?? 0); } });
    new Counter({
      name: 'edge_mqtt_denied_total',
      help: 'PUBLISHes (acknowledged and dropped) and subscriptions (SUBACK 0x80) the embedded broker\'s ACL denied',
      labelNames: ['what'],
      registers,
      collect() {
        this.reset();
        const c = clients();
        if (c) {
          this.inc({ what: 'publish' }, c.publishDenied);
          this.inc({ what: 'subscribe' }, c.subscribeDenied);
        }
      },
    });
    limitCounter('edge_mqtt_pacing_episodes_total', 'Times a client went above its publish rate and started being paced', (s) => s.pacingEpisodes);

    // Per-device series: rebuilt from the registry at each scrape, so a device that
    // leaves the top N loses its series instead of leaking it. Cumulative values are
    // exposed as counters (reset + inc), which is what rate() expects. A scrape
    // collects metrics in registration order, so the first per-device metric picks
    // the devices and the other five reuse the pick.
    let picked: DeviceView[] = [];
    let first = true;
    const devicesForScrape = (picker: boolean) => {
      if (picker) picked = src.perDevice();
      return picked;
    };
    const isPicker = () => {
      const p = first;
      first = false;
      return p;
    };
    const deviceCounter = (name: string, help: string, value: (d: DeviceView) => number) => {
      const picker = isPicker();
      return new Counter({
        name, help, labelNames: ['device'], registers: [this.registry],
        collect() {
          this.reset();
          for (const d of devicesForScrape(picker)) this.inc({ device: d.device }, value(d));
        },
      });
    };
    const deviceGauge = (name: string, help: string, value: (d: DeviceView) => number) => {
      const picker = isPicker();
      return new Gauge({
        name, help, labelNames: ['device'], registers: [this.registry],
        collect() {
          this.reset();
          for (const d of devicesForScrape(picker)) this.set({ device: d.device }, value(d));
        },
      });
    };
    const capped = ' (top devices by readings plus observe.deviceMetrics.devices)';
    deviceCounter('edge_device_readings_total', `Readings accepted per device${capped}`, (d) => d.readings);
    deviceCounter('edge_device_batches_total', `Batches accepted per device${capped}`, (d) => d.batches);
    deviceCounter('edge_device_seq_gaps_total', `Batches missing by seq per device${capped}`, (d) => d.gaps);
    deviceCounter('edge_device_identity_mismatches_total', `Messages from this device's connection whose payload named another device (quarantined)${capped}`, (d) => d.identityMismatches);
    deviceCounter('edge_device_paced_publishes_total', `PUBLISHes held back by the embedded broker's rate limit per device${capped}`, (d) => d.paced);
    deviceGauge('edge_device_node_drops', `Outbox drops the node last reported${capped}`, (d) => d.drops);
    deviceGauge('edge_device_online', `1 while the device is online${capped}`, (d) => (d.online ? 1 : 0));
    deviceGauge('edge_device_last_seen_timestamp_seconds', `When the device was last heard from${capped}`, (d) => d.lastSeen / 1000);
  }
}
