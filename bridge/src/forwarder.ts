// Forwarder: drains the store into the AMQP confirm pool.
//
// Invariants:
// - A record leaves the store only through confirm(): after the broker's ack, or
//   after onParked has kept it (returned as unroutable, or refused for good, e.g. over
//   the broker's max_message_size): what is classed `park` by actionFor.
// - Anything else (nack, channel died, broker down, a park that failed to write)
//   releases it back to the store, which hands it out again before newer records.
// - A parked record never pauses the others: only retries back off.
// - At most `maxInFlight` records are out of the store at once, so a broker
//   outage holds a bounded window in memory and the rest waits on disk.
// - While the store reads its backlog back from disk, a full window is refilled once a
//   quarter of it is free, not per broker ack: a drain goes in large takes and bursts.
//   Records served from memory are taken as soon as any slot frees.
import type { OutboundMessage, PublishOutcome, StoredRecord } from './types.ts';
import { actionFor } from './amqp/errors.ts';

export interface Publisher {
  publish(msg: OutboundMessage): Promise<PublishOutcome>;
  /** Same as publish, answered through a callback that gets the message back: no promise or closure per message (ConfirmPool has it). */
  publishWith?<M extends OutboundMessage>(msg: M, done: (res: PublishOutcome, msg: M) => void): void;
}

export interface DrainableStore {
  take(max: number): StoredRecord[] | Promise<StoredRecord[]>;
  /** True when the last take() read records back from disk (a backlog past what the store keeps in memory). */
  readonly servingFromDisk?: boolean;
  confirm(ids: number[]): void;
  release(ids: number[]): void;
  waitForPending(signal?: AbortSignal): Promise<void>;
}

/** Why a record was parked: the broker returned it, or can never take it. */
export type ParkReason = 'unroutable_returned' | 'unpublishable';

export interface ForwarderHooks {
  /** Keeps a record the broker will not take; the record leaves the store once this resolves. */
  onParked?(rec: StoredRecord, why: string, reason: ParkReason): void | Promise<void>;
  onConfirmed?(rec: StoredRecord, publishMs: number): void;
  onPublish?(rec: StoredRecord): void;
  onRetry?(rec: StoredRecord, why: string, kind: 'nacked' | 'failed'): void;
}

export interface ForwarderOptions {
  maxInFlight: number;
  retry: { initialMs: number; maxMs: number };
}

export class Forwarder {
  private inFlight = 0;
  private stopped = true;
  private readonly abort = new AbortController();
  private slotFree: (() => void) | undefined;
  private idle: (() => void) | undefined;
  private pauseUntil = 0;
  private consecutiveFailures = 0;
  private pendingConfirms: number[] = [];
  /** Free slots that refill a full window while the store serves from disk: a quarter of it. */
  private readonly refillSlots: number;
  private loopDone: Promise<void> = Promise.resolve();
  readonly counts = { confirmed: 0, parked: 0, retried: 0 };

  constructor(
    private readonly store: DrainableStore,
    private readonly publisher: Publisher,
    private readonly opts: ForwarderOptions,
    private readonly hooks: ForwarderHooks = {},
  ) {
    this.refillSlots = Math.max(1, Math.floor(opts.maxInFlight / 4));
  }

  start(): void {
    this.stopped = false;
    this.loopDone = this.loop();
  }

  get inFlightCount(): number {
    return this.inFlight;
  }

  /** Stops taking records and waits (bounded) for those in flight to settle. */
  async stop(timeoutMs = 10_000): Promise<void> {
    this.stopped = true;
    this.abort.abort();
    this.slotFree?.();
    await this.loopDone;
    if (this.inFlight > 0) {
      await Promise.race([
        new Promise<void>((r) => (this.idle = r)),
        new Promise((r) => setTimeout(r, timeoutMs).unref()),
      ]);
    }
    this.flushConfirms();
  }

  private async loop(): Promise<void> {
    while (!this.stopped) {
      const wait = this.pauseUntil - Date.now();
      if (wait > 0) {
        await new Promise((r) => setTimeout(r, wait));
        continue;
      }
      if (this.inFlight >= this.opts.maxInFlight) {
        // settle() wakes this once enough slots are free.
        await new Promise<void>((r) => (this.slotFree = r));
        continue;
      }
      const recs = await this.store.take(this.opts.maxInFlight - this.inFlight);
      if (recs.length === 0) {
        try {
          await this.store.waitForPending(this.abort.signal);
        } catch {
          // aborted by stop()
        }
        continue;
      }
      // One callback per batch taken, not one per record: they all leave now.
      const started = performance.now();
      const done = (res: PublishOutcome, rec: StoredRecord) => this.settle(rec, res, performance.now() - started);
      for (const rec of recs) this.send(rec, started, done);
    }
  }

  private send(rec: StoredRecord, started: number, done: (res: PublishOutcome, rec: StoredRecord) => void): void {
    this.inFlight++;
    this.hooks.onPublish?.(rec);
    if (this.publisher.publishWith) {
      this.publisher.publishWith(rec, done);
      return;
    }
    this.publisher.publish(rec).then(
      (res) => this.settle(rec, res, performance.now() - started),
      (err: unknown) => this.settle(rec, { kind: 'failed', error: err as Error }, 0),
    );
  }

  private settle(rec: StoredRecord, res: PublishOutcome, publishMs: number): void {
    switch (actionFor(res)) {
      case 'done':
        this.consecutiveFailures = 0;
        this.counts.confirmed++;
        this.hooks.onConfirmed?.(rec, publishMs);
        this.queueConfirm(rec.id);
        break;
      case 'park':
        this.park(rec, res);
        break;
      default: {
        const why = res.kind === 'failed' ? res.error.message : res.kind === 'nacked' ? 'nacked by broker' : res.kind;
        this.retry(rec, why, res.kind === 'nacked' ? 'nacked' : 'failed');
      }
    }
    this.inFlight--;
    const free = this.slotFree;
    if (free && this.opts.maxInFlight - this.inFlight >= (this.store.servingFromDisk ? this.refillSlots : 1)) {
      this.slotFree = undefined;
      free();
    }
    if (this.inFlight === 0) this.idle?.();
  }

  private park(rec: StoredRecord, res: PublishOutcome): void {
    const reason: ParkReason = res.kind === 'returned' ? 'unroutable_returned' : 'unpublishable';
    const why = res.kind === 'returned' ? `returned ${res.replyCode} ${res.replyText}` : res.kind === 'failed' ? res.error.message : res.kind;
    this.counts.parked++;
    let kept: void | Promise<void>;
    try {
      kept = this.hooks.onParked?.(rec, why, reason);
    } catch (err) {
      kept = Promise.reject(err);
    }
    if (!(kept instanceof Promise)) return this.queueConfirm(rec.id);
    kept.then(
      () => this.queueConfirm(rec.id),
      (err: unknown) => this.retry(rec, `parking failed: ${(err as Error).message}`, 'failed'),
    );
  }

  private retry(rec: StoredRecord, why: string, kind: 'nacked' | 'failed'): void {
    this.counts.retried++;
    this.hooks.onRetry?.(rec, why, kind);
    this.store.release([rec.id]);
    this.consecutiveFailures++;
    const backoff = Math.min(this.opts.retry.maxMs, this.opts.retry.initialMs * 2 ** Math.min(this.consecutiveFailures - 1, 16));
    this.pauseUntil = Date.now() + backoff * (0.5 + Math.random() / 2);
  }

  // Confirms arrive one by one; the store takes them in batches.
  private queueConfirm(id: number): void {
    if (this.pendingConfirms.push(id) === 1) queueMicrotask(() => this.flushConfirms());
  }

  private flushConfirms(): void {
    if (this.pendingConfirms.length === 0) return;
    const ids = this.pendingConfirms;
    this.pendingConfirms = [];
    this.store.confirm(ids);
  }
}
