// What the bridge says about itself: /readyz, /metrics, the dashboard's feed and the
// status line. Everything here reads the parts and the one set of counters; nothing
// counts on its own.
import type { StoreStats } from '../store/index.ts';
import type { Counters } from './counters.ts';
import type { DeviceRegistry } from './devices.ts';
import type { HealthSource, Readiness } from './http.ts';
import type { LiveFeed } from './live-feed.ts';
import type { Registry } from 'prom-client';
import { BridgeMetrics, type GaugeSources } from './metrics.ts';
import type { QueueHealth } from './queue-health.ts';
import type { StatusSnapshot } from './console-status.ts';

/** What health needs of the AMQP pool. */
export interface EgressState {
  readonly ready: boolean;
  readonly blocked: boolean;
  state(): unknown;
}

/** A degraded-state check: returns the reason while degraded, else undefined. Never makes /readyz 503. */
export type DegradedCheck = () => string | undefined;

export interface BridgeHealthSources {
  store: { stats(): StoreStats };
  egress: EgressState;
  counters: Counters;
  devices: DeviceRegistry;
  /** False while the store cannot be written: the only reason for 503. */
  storeWritable(): boolean;
  queueHealth?: QueueHealth;
  /** The gauges /metrics reads from the parts (its own readiness gauge comes from here). */
  gauges: Omit<GaugeSources, 'readiness'>;
  registry: Registry;
}

export class BridgeHealth implements HealthSource {
  private readonly degradedChecks: DegradedCheck[] = [];
  readonly metrics: BridgeMetrics;

  constructor(
    private readonly src: BridgeHealthSources,
    /** The dashboard's live feed (undefined when observe.dashboard.enabled is false). */
    readonly feed?: LiveFeed,
  ) {
    this.metrics = new BridgeMetrics(src.registry, src.counters, { ...src.gauges, readiness: () => this.readinessLevel() });
  }

  /** Adds a reason /readyz reports (200, 'degraded') while it holds. */
  addDegradedCheck(check: DegradedCheck): void {
    this.degradedChecks.push(check);
  }

  readiness(): Readiness {
    const { store, egress, devices, queueHealth } = this.src;
    const st = store.stats();
    const writable = this.src.storeWritable();
    const degraded: string[] = [];
    if (!egress.ready) degraded.push('rabbitmq unreachable: buffering to disk');
    if (egress.blocked) degraded.push('rabbitmq blocked the connection (resource alarm)');
    if (st.records > 0 && st.oldestAgeMs > 60_000) degraded.push(`backlog of ${st.records} records, oldest ${Math.round(st.oldestAgeMs / 1000)} s`);
    if (!writable) degraded.push('store not writable');
    for (const check of this.degradedChecks) {
      const reason = check();
      if (reason) degraded.push(reason);
    }
    return {
      ready: writable,
      degraded,
      details: {
        store: st,
        amqp: egress.state(),
        devicesOnline: devices.onlineCount(),
        // Reported only: a queue without consumers is the consumers' problem, not a reason to restart the bridge.
        queueHealth: queueHealth?.report() ?? { enabled: false },
      },
    };
  }

  /** 0 not ready (503), 1 degraded, 2 ok: the edge_ready gauge. */
  readinessLevel(): number {
    const r = this.readiness();
    return !r.ready ? 0 : r.degraded.length ? 1 : 2;
  }

  snapshot(): StatusSnapshot {
    const { store, egress, counters, devices } = this.src;
    const st = store.stats();
    return {
      devicesOnline: devices.onlineCount(),
      batchesIn: counters.batches,
      readingsIn: counters.readings,
      forwarded: counters.published.confirmed,
      backlog: st.records,
      oldestAgeMs: st.oldestAgeMs,
      brokerUp: egress.ready,
      blocked: egress.blocked,
      quarantined: counters.quarantined,
    };
  }

  /** The dashboard's totals, from the same counters as /metrics. */
  totals(): Record<string, number> {
    const { counters: c, devices } = this.src;
    return {
      ingressMessages: c.ingressMessages,
      batches: c.batches,
      readings: c.readings,
      forwarded: c.published.confirmed,
      parked: c.parked.total(),
      retried: c.published.nacked + c.published.failed,
      quarantined: c.quarantined,
      gaps: devices.gapsTotal,
      upstreamGaps: c.upstreamGaps,
      drops: devices.dropsTotal(),
      devicesOnline: devices.onlineCount(),
      devicesKnown: devices.size,
    };
  }

  metricsText(): Promise<string> {
    return this.src.registry.metrics();
  }

  get metricsContentType(): string {
    return this.src.registry.contentType;
  }
}
