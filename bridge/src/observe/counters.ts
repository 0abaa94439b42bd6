// Every total the bridge counts, each in one place. The stages bump plain numbers
// (a hot path pays an addition, no label lookup); /metrics, the dashboard and the
// status line all read these same fields.
import type { PublishOutcome, RawMessage } from '../types.ts';

type Transport = RawMessage['transport'];

/** A count per reason; reasons are a small fixed set, so this never grows without bound. */
export class CountsByReason {
  private readonly counts = new Map<string, number>();

  add(reason: string, by = 1): void {
    this.counts.set(reason, (this.counts.get(reason) ?? 0) + by);
  }

  get(reason: string): number {
    return this.counts.get(reason) ?? 0;
  }

  total(): number {
    let n = 0;
    for (const v of this.counts.values()) n += v;
    return n;
  }

  entries(): IterableIterator<[string, number]> {
    return this.counts.entries();
  }
}

export type PublishOutcomeKind = PublishOutcome['kind'];
export const PUBLISH_RESULTS: readonly PublishOutcomeKind[] = ['confirmed', 'nacked', 'returned', 'failed'];

/**
 * Observations into fixed buckets, in plain numbers: observe() costs a loop over a dozen bounds.
 * As prom-client: the first bound >= value counts it; above the last bound only count and sum.
 */
export class LatencyHistogram {
  private counts: Float64Array;
  private sum = 0;
  private count = 0;

  constructor(readonly bounds: readonly number[]) {
    this.counts = new Float64Array(bounds.length);
  }

  observe(value: number): void {
    if (!Number.isFinite(value)) throw new TypeError(`Value is not a valid number: ${value}`);
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

  /** What was observed since the last take (per bucket, not cumulative), or undefined if nothing. */
  take(): { counts: Float64Array; sum: number; count: number } | undefined {
    if (this.count === 0) return undefined;
    const taken = { counts: this.counts, sum: this.sum, count: this.count };
    this.counts = new Float64Array(this.bounds.length);
    this.sum = 0;
    this.count = 0;
    return taken;
  }
}

export class Counters {
  /** Messages and payload bytes received, by transport. */
  readonly ingress: Record<Transport, { messages: number; bytes: number }> = { mqtt: { messages: 0, bytes: 0 }, serial: { messages: 0, bytes: 0 } };
  /** Batches durably stored and acknowledged, and the readings in them. */
  batches = 0;
  readings = 0;
  /** Input quarantined (acknowledged, never stored), by reason. */
  readonly rejected = new CountsByReason();
  /** Rejected input not kept because the quarantine's queue was full. */
  quarantineDropped = 0;
  /** Messages not acknowledged because the store was full, failing or closing, by transport. */
  readonly busy: Record<Transport, number> = { mqtt: 0, serial: 0 };
  /** Publish outcomes of the forwarder. */
  readonly published: Record<PublishOutcomeKind, number> = { confirmed: 0, nacked: 0, returned: 0, failed: 0 };
  /** Records taken out of the store without delivery and kept in the quarantine, by reason. */
  readonly parked = new CountsByReason();
  amqpReconnects = 0;
  /** External-broker mode: batches missing by seq, which the external broker acknowledged to the device and then dropped (or the node did: see its reported drops). */
  upstreamGaps = 0;
  /** Seconds from publish to the broker's confirm, and from accepting a batch to its confirm. */
  readonly confirmLatency = new LatencyHistogram([0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5]);
  readonly acceptToConfirm = new LatencyHistogram([0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5, 30, 300, 3600]);
  /** The stages before the publish: accepted -> durable (fsync done, ack due) and accepted -> basic.publish written. */
  readonly acceptToDurable = new LatencyHistogram([0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1]);
  readonly acceptToPublish = new LatencyHistogram([0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5, 30, 300, 3600]);

  /** Everything set aside: rejected input and parked records. */
  get quarantined(): number {
    return this.rejected.total() + this.parked.total();
  }

  get ingressMessages(): number {
    return this.ingress.mqtt.messages + this.ingress.serial.messages;
  }
}
