// Prometheus metrics. Aggregate label sets are small and fixed (transport,
// reason, result, state). Per-device series are capped: at each scrape only the
// top N devices by readings plus an opt-in list get series, so 10k devices cost
// at most N + list label values per metric (config `observe.deviceMetrics`).
import { Registry, Counter, Gauge, Histogram, collectDefaultMetrics, type LabelValues } from 'prom-client';
import type { DeviceView } from './devices.ts';

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
  /** Bad input not kept because the quarantine's queue was full. */
  quarantineDropped?(): number;
  /** The embedded MQTT broker's per-connection limits (ingress/mqtt-limits.ts LimitStats). */
  mqttLimits?(): MqttLimitCounters | undefined;
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
  reopens: number;
  errors: Record<string, number>;
}

/** One counter series for the hot path: inc() adds to a plain number. */
export interface HotSeries {
  inc(by?: number): void;
}

/**
 * prom-client's inc() hashes and validates its labels on every call, also through a
 * `.labels()` child. These series keep plain numbers instead and hand them to their
 * counter when it is read (its collect, i.e. every scrape or get()), so what a scrape
 * shows is the same.
 */
class HotCounts {
  private readonly series: { labels: LabelValues<string> | undefined; n: number; seen: boolean }[] = [];

  /** `counter` is read lazily: the counter is built after its HotCounts. */
  constructor(private readonly counter: () => Counter<string>) {}

  add(labels?: LabelValues<string>): HotSeries {
    const s = { labels, n: 0, seen: labels === undefined };
    this.series.push(s);
    return {
      inc: (by = 1) => {
        s.n += by;
        // A labelled series is created at its first use, as inc() would, so series keep their order.
        if (!s.seen) {
          s.seen = true;
          this.counter().inc(s.labels!, 0);
        }
      },
    };
  }

  flushInto(counter: Counter<string>): void {
    for (const s of this.series) {
      if (s.n === 0) continue;
      const n = s.n;
      s.n = 0;
      if (s.labels) counter.inc(s.labels, n);
      else counter.inc(n);
    }
  }
}

/**
 * An unlabelled histogram for the hot path (two observations per confirmed message):
 * prom-client's observe() builds a closure and a labels object per call. Buckets,
 * count and sum are kept here and added to the histogram's series when it is read.
 * That series is prom-client's internal hashMap entry (hash '' for no labels), as
 * sumOf() in pipeline.ts reads counters; observe-metrics.test checks the exposition.
 */
class HotHistogram {
  private readonly counts: Float64Array;
  private sum = 0;
  private count = 0;

  constructor(private readonly bounds: readonly number[]) {
    this.counts = new Float64Array(bounds.length);
  }

  observe(value: number): void {
    if (!Number.isFinite(value)) throw new TypeError(`Value is not a valid number: ${value}`);
    // As prom-client: the first bound >= value; above the last bound only count and sum (+Inf).
    const b = this.bounds;
    for (let i = 0; i < b.length; i++) {
      if (value <= b[i]!) {
        this.counts[i]!++;
        break;
      }
    }
    this.sum += value;
    this.count++;
  }

  flushInto(h: Histogram<string>): void {
    if (this.count === 0) return;
    type Series = { bucketValues: Record<number, number>; sum: number; count: number };
    const series = (h as unknown as { hashMap: Record<string, Series | undefined> }).hashMap;
    if (!series['']) h.zero({});
    const entry = (h as unknown as { hashMap: Record<string, Series> }).hashMap['']!;
    for (let i = 0; i < this.bounds.length; i++) {
      if (this.counts[i] !== 0) entry.bucketValues[this.bounds[i]!]! += this.counts[i]!;
    }
    entry.sum += this.sum;
    entry.count += this.count;
    this.counts.fill(0);
    this.sum = 0;
    this.count = 0;
  }
}

const CONFIRM_LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];
const END_TO_END_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5, 30, 300, 3600];

const flushing = (hot: HotCounts) =>
  function (this: Counter<string>) {
    hot.flushInto(this);
  };

const flushingHistogram = (hot: HotHistogram) =>
  function (this: Histogram<string>) {
    hot.flushInto(this);
  };

/** Every state a ConfirmPool connection reports, so a state that is currently empty still shows 0. */
const CONNECTION_STATES = ['connecting', 'open', 'blocked', 'closed'] as const;

export class BridgeMetrics {
  readonly registry = new Registry();
  private readonly hotCounts: Record<'ingressMessages' | 'ingressBytes' | 'readings' | 'batches' | 'published', HotCounts> = {
    ingressMessages: new HotCounts((): Counter<string> => this.ingressMessages),
    ingressBytes: new HotCounts((): Counter<string> => this.ingressBytes),
    readings: new HotCounts((): Counter<string> => this.readings),
    batches: new HotCounts((): Counter<string> => this.batches),
    published: new HotCounts((): Counter<string> => this.published),
  };
  private readonly hotHistograms = { confirmLatency: new HotHistogram(CONFIRM_LATENCY_BUCKETS), endToEnd: new HotHistogram(END_TO_END_BUCKETS) };
  readonly ingressMessages = new Counter({ name: 'edge_ingress_messages_total', help: 'Messages received, by transport', labelNames: ['transport'], registers: [this.registry], collect: flushing(this.hotCounts.ingressMessages) });
  readonly ingressBytes = new Counter({ name: 'edge_ingress_bytes_total', help: 'Payload bytes received, by transport', labelNames: ['transport'], registers: [this.registry], collect: flushing(this.hotCounts.ingressBytes) });
  readonly readings = new Counter({ name: 'edge_readings_accepted_total', help: 'Readings in accepted batches', registers: [this.registry], collect: flushing(this.hotCounts.readings) });
  readonly batches = new Counter({ name: 'edge_batches_accepted_total', help: 'Batches durably stored and acknowledged', registers: [this.registry], collect: flushing(this.hotCounts.batches) });
  readonly decodeFailures = new Counter({ name: 'edge_decode_failures_total', help: 'Payloads quarantined, by reason', labelNames: ['reason'], registers: [this.registry] });
  readonly busy = new Counter({ name: 'edge_ingress_busy_total', help: 'Messages not acknowledged because the store was full or closing', labelNames: ['transport'], registers: [this.registry] });
  readonly published = new Counter({
    name: 'edge_amqp_publish_results_total',
    help: 'Publish outcomes: confirmed, nacked (retried), returned (parked), failed (channel loss or broker down, retried)',
    labelNames: ['result'],
    registers: [this.registry],
    collect: flushing(this.hotCounts.published),
  });
  readonly parked = new Counter({
    name: 'edge_parked_total',
    help: 'Records taken out of the store without delivery and kept in the quarantine, by reason',
    labelNames: ['reason'],
    registers: [this.registry],
  });
  readonly confirmLatency: Histogram<string> = new Histogram({
    name: 'edge_amqp_confirm_latency_seconds',
    help: 'Time from publish to broker confirm',
    buckets: CONFIRM_LATENCY_BUCKETS,
    registers: [this.registry],
    collect: flushingHistogram(this.hotHistograms.confirmLatency),
  });
  readonly endToEnd: Histogram<string> = new Histogram({
    name: 'edge_accept_to_confirm_seconds',
    help: 'Time from accepting a batch to its broker confirm (includes time buffered)',
    buckets: END_TO_END_BUCKETS,
    registers: [this.registry],
    collect: flushingHistogram(this.hotHistograms.endToEnd),
  });
  readonly reconnects = new Counter({ name: 'edge_amqp_reconnects_total', help: 'AMQP reconnects', registers: [this.registry] });
  readonly storeDropped = new Counter({ name: 'edge_store_dropped_total', help: 'Records dropped by the overflow policy (never delivered)', registers: [this.registry] });
  readonly storeExpired = new Counter({ name: 'edge_store_expired_total', help: 'Records expired by TTL (dead-lettered, never delivered)', registers: [this.registry] });
  readonly unreachableRoutes = new Gauge({ name: 'edge_routes_unreachable', help: 'Routing rules whose keys reach no queue', registers: [this.registry] });

  /** The per-message series, pre-bound (see HotCounts). */
  readonly hot = {
    ingress: {
      mqtt: { messages: this.hotCounts.ingressMessages.add({ transport: 'mqtt' }), bytes: this.hotCounts.ingressBytes.add({ transport: 'mqtt' }) },
      serial: { messages: this.hotCounts.ingressMessages.add({ transport: 'serial' }), bytes: this.hotCounts.ingressBytes.add({ transport: 'serial' }) },
    } satisfies Record<'mqtt' | 'serial', { messages: HotSeries; bytes: HotSeries }>,
    readings: this.hotCounts.readings.add(),
    batches: this.hotCounts.batches.add(),
    confirmed: this.hotCounts.published.add({ result: 'confirmed' }),
    confirmLatency: this.hotHistograms.confirmLatency as { observe(seconds: number): void },
    endToEnd: this.hotHistograms.endToEnd as { observe(seconds: number): void },
  };

  /** Hands the hot series to their counters, for code that reads a counter without a scrape. */
  flushHot(): void {
    this.hotCounts.ingressMessages.flushInto(this.ingressMessages);
    this.hotCounts.ingressBytes.flushInto(this.ingressBytes);
    this.hotCounts.readings.flushInto(this.readings);
    this.hotCounts.batches.flushInto(this.batches);
    this.hotCounts.published.flushInto(this.published);
    this.hotHistograms.confirmLatency.flushInto(this.confirmLatency);
    this.hotHistograms.endToEnd.flushInto(this.endToEnd);
  }

  constructor(src: GaugeSources) {
    collectDefaultMetrics({ register: this.registry });
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

    new Counter({
      name: 'edge_quarantine_dropped_total',
      help: 'Rejected messages acknowledged but not kept, because the quarantine write queue was full (a flood of bad input)',
      registers: [this.registry],
      collect() {
        this.reset();
        this.inc(src.quarantineDropped?.() ?? 0);
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
