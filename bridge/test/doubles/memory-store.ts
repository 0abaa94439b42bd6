// In-memory store for unit tests of other stages. NOT DURABLE: everything is lost
// when the process ends, so never use it where an ack is given to a sender.
// Same ordering, bounds, counters and callbacks as the segment log (it passes the
// same contract suite, minus reopen).
import type { OutboundMessage, StoredRecord } from '../../src/types.ts';
import {
  StoreClosedError,
  StoreFullError,
  type OpenReport,
  type StoreAndForward,
  type StoreOptions,
  type StoreStats,
} from '../../src/store/store.ts';

type State = 'pending' | 'in-flight';

/** Fixed per-record overhead charged against maxBytes, so bounds behave like on disk. */
const RECORD_OVERHEAD = 32;

export class MemoryStore implements StoreAndForward {
  /** Live records by id; Map keeps insertion (= id) order. */
  private readonly records = new Map<number, { rec: StoredRecord; state: State }>();
  private nextId = 1;
  private bytes = 0;
  private inFlight = 0;
  private dropped = 0;
  private expired = 0;
  private open_ = false;
  private closed = false;
  private waiters: Array<{ resolve(): void; reject(e: unknown): void; detach(): void }> = [];
  private ttlTimer: NodeJS.Timeout | undefined;

  constructor(private readonly opts: Omit<StoreOptions, 'dir'> & { dir?: string }) {}

  async open(): Promise<OpenReport> {
    this.open_ = true;
    if (this.opts.ttlMs !== undefined) {
      this.ttlTimer = setInterval(() => this.expireDue(), Math.max(10, Math.min(1000, this.opts.ttlMs / 2)));
      this.ttlTimer.unref();
    }
    return { pending: 0, pendingBytes: 0, alreadyDeleted: 0, segments: 0, nextId: this.nextId, corrupt: [], quarantinedBytes: 0, durationMs: 0 };
  }

  async append(msgs: OutboundMessage[]): Promise<StoredRecord[]> {
    if (!this.open_ || this.closed) throw new StoreClosedError();
    const sizes = msgs.map((m) => RECORD_OVERHEAD + m.body.length + Buffer.byteLength(m.routingKey) + Buffer.byteLength(m.messageId));
    const bytes = sizes.reduce((a, b) => a + b, 0);
    this.admit(msgs.length, bytes);
    const out = msgs.map((m, i): StoredRecord => ({ ...m, body: Buffer.from(m.body), id: this.nextId + i, size: sizes[i]! }));
    this.nextId += msgs.length;
    for (const rec of out) this.records.set(rec.id, { rec, state: 'pending' });
    this.bytes += bytes;
    this.wake();
    return out;
  }

  private admit(count: number, bytes: number): void {
    const { maxRecords, maxBytes, overflow } = this.opts;
    if (count > maxRecords || bytes > maxBytes) throw new StoreFullError('append exceeds the store bounds');
    let excessRecords = this.records.size + count - maxRecords;
    let excessBytes = this.bytes + bytes - maxBytes;
    if (excessRecords <= 0 && excessBytes <= 0) return;
    if (overflow === 'reject') throw new StoreFullError('store full');
    const victims: StoredRecord[] = [];
    for (const { rec, state } of this.records.values()) {
      if (excessRecords <= 0 && excessBytes <= 0) break;
      if (state !== 'pending') continue;
      victims.push(rec);
      excessRecords--;
      excessBytes -= rec.size;
    }
    if (excessRecords > 0 || excessBytes > 0) throw new StoreFullError('store full and nothing pending left to drop');
    this.remove(victims);
    this.dropped += victims.length;
    this.opts.onDropped?.(victims, 'overflow');
  }

  private remove(recs: StoredRecord[]): void {
    for (const r of recs) {
      this.records.delete(r.id);
      this.bytes -= r.size;
    }
  }

  private expireDue(): void {
    if (this.opts.ttlMs === undefined) return;
    const cutoff = Date.now() - this.opts.ttlMs;
    const victims: StoredRecord[] = [];
    for (const { rec, state } of this.records.values()) {
      if (rec.acceptedAt >= cutoff) break;
      if (state === 'pending') victims.push(rec);
    }
    if (victims.length === 0) return;
    this.remove(victims);
    this.expired += victims.length;
    this.opts.onExpired?.(victims);
  }

  async take(max: number): Promise<StoredRecord[]> {
    if (this.closed) throw new StoreClosedError();
    this.expireDue();
    const out: StoredRecord[] = [];
    for (const entry of this.records.values()) {
      if (out.length >= max) break;
      if (entry.state !== 'pending') continue;
      entry.state = 'in-flight';
      out.push(entry.rec);
    }
    this.inFlight += out.length;
    return out;
  }

  confirm(ids: number[]): void {
    for (const id of ids) {
      const entry = this.records.get(id);
      if (!entry) continue;
      if (entry.state === 'in-flight') this.inFlight--;
      this.remove([entry.rec]);
    }
  }

  release(ids: number[]): void {
    for (const id of ids) {
      const entry = this.records.get(id);
      if (entry?.state !== 'in-flight') continue;
      entry.state = 'pending';
      this.inFlight--;
    }
    this.wake();
  }

  waitForPending(signal?: AbortSignal): Promise<void> {
    if (this.closed) return Promise.reject(new StoreClosedError());
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.records.size > this.inFlight) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const onAbort = () => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(signal!.reason);
      };
      const waiter = { resolve, reject, detach: () => signal?.removeEventListener('abort', onAbort) };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiters.push(waiter);
    });
  }

  private wake(): void {
    if (this.records.size <= this.inFlight) return;
    for (const w of this.waiters.splice(0)) {
      w.detach();
      w.resolve();
    }
  }

  stats(): StoreStats {
    const first = this.records.values().next();
    return {
      records: this.records.size,
      bytes: this.bytes,
      inFlight: this.inFlight,
      oldestAgeMs: first.done ? 0 : Math.max(0, Date.now() - first.value.rec.acceptedAt),
      dropped: this.dropped,
      expired: this.expired,
      quarantinedBytes: 0,
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.ttlTimer) clearInterval(this.ttlTimer);
    for (const w of this.waiters.splice(0)) {
      w.detach();
      w.reject(new StoreClosedError());
    }
  }
}
