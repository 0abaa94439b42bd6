// Prometheus metrics. Label sets are small and fixed (transport, reason,
// result): per-device series are deliberately absent, so 10k devices cost
// nothing here; per-device detail lives in DeviceRegistry and the dashboard.
import { Registry, Counter, Gauge, Histogram, collectDefaultMetrics } from 'prom-client';

export interface GaugeSources {
  store(): { records: number; bytes: number; oldestAgeMs: number; inFlight: number; dropped: number; expired: number };
  devicesOnline(): number;
  seqGaps(): number;
  nodeDrops(): number;
  amqpConnectionsOpen(): number;
  amqpBlocked(): boolean;
}

export class BridgeMetrics {
  readonly registry = new Registry();
  readonly ingressMessages = new Counter({ name: 'edge_ingress_messages_total', help: 'Messages received, by transport', labelNames: ['transport'], registers: [this.registry] });
  readonly ingressBytes = new Counter({ name: 'edge_ingress_bytes_total', help: 'Payload bytes received, by transport', labelNames: ['transport'], registers: [this.registry] });
  readonly readings = new Counter({ name: 'edge_readings_accepted_total', help: 'Readings in accepted batches', registers: [this.registry] });
  readonly decodeFailures = new Counter({ name: 'edge_decode_failures_total', help: 'Payloads quarantined, by reason', labelNames: ['reason'], registers: [this.registry] });
  readonly busy = new Counter({ name: 'edge_ingress_busy_total', help: 'Messages not acknowledged because the store was full or closing', labelNames: ['transport'], registers: [this.registry] });
  readonly published = new Counter({ name: 'edge_amqp_publish_results_total', help: 'Publish outcomes: confirmed, returned (parked), retried (nack or channel loss)', labelNames: ['result'], registers: [this.registry] });
  readonly confirmLatency = new Histogram({
    name: 'edge_amqp_confirm_latency_seconds',
    help: 'Time from publish to broker confirm',
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });
  readonly endToEnd = new Histogram({
    name: 'edge_accept_to_confirm_seconds',
    help: 'Time from accepting a batch to its broker confirm (includes time buffered)',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5, 30, 300, 3600],
    registers: [this.registry],
  });
  readonly reconnects = new Counter({ name: 'edge_amqp_reconnects_total', help: 'AMQP reconnects', registers: [this.registry] });
  readonly storeDropped = new Counter({ name: 'edge_store_dropped_total', help: 'Records dropped by the overflow policy (never delivered)', registers: [this.registry] });
  readonly storeExpired = new Counter({ name: 'edge_store_expired_total', help: 'Records expired by TTL (dead-lettered, never delivered)', registers: [this.registry] });
  readonly unreachableRoutes = new Gauge({ name: 'edge_routes_unreachable', help: 'Routing rules whose keys reach no queue', registers: [this.registry] });

  constructor(src: GaugeSources) {
    collectDefaultMetrics({ register: this.registry });
    const gauge = (name: string, help: string, read: () => number) =>
      new Gauge({ name, help, registers: [this.registry], collect() { this.set(read()); } });
    gauge('edge_store_records', 'Records waiting in the store', () => src.store().records);
    gauge('edge_store_bytes', 'Bytes waiting in the store', () => src.store().bytes);
    gauge('edge_store_oldest_age_seconds', 'Age of the oldest waiting record', () => src.store().oldestAgeMs / 1000);
    gauge('edge_store_in_flight', 'Records published, awaiting confirm', () => src.store().inFlight);
    gauge('edge_devices_online', 'Devices currently online', () => src.devicesOnline());
    gauge('edge_seq_gaps', 'Batches missing by seq, over all devices', () => src.seqGaps());
    gauge('edge_node_reported_drops', 'Batches nodes report having dropped from their outbox', () => src.nodeDrops());
    gauge('edge_amqp_channels_open', 'Open AMQP confirm channels', () => src.amqpConnectionsOpen());
    gauge('edge_amqp_blocked', '1 while RabbitMQ has blocked the connection', () => (src.amqpBlocked() ? 1 : 0));
  }
}
