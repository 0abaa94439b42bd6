// The segment log's reader: hands pending records to the forwarder, oldest first.
//
// Invariants:
// - take() returns records in id order and marks them IN_FLIGHT; a failed read returns
//   nothing and puts every record it took back to PENDING.
// - Records whose group is still being written, and just-committed ones, come from memory
//   (ledger: uncommitted, hot tail); the others are read from disk and each
//   frame's CRC and id are checked. A frame that went bad since open is quarantined and
//   left out, never delivered.
// - A waiter for pending records is woken once there is one, or rejected when the store closes.
import type { StoredRecord } from '../types.ts';
import { segmentName } from './format.ts';
import type { Ledger } from './ledger.ts';
import type { Located, Segment, SegmentFiles } from './segment-files.ts';
import { StoreClosedError, StoreIoError, type CorruptRegion } from './store.ts';

interface Waiter {
  resolve(): void;
  reject(err: unknown): void;
  detach(): void;
}

export class Reader {
  private waiters: Waiter[] = [];
  private wakeQueued = false;
  /** The last take() read records from disk. */
  fromDisk = false;

  constructor(
    private readonly files: SegmentFiles,
    private readonly ledger: Ledger,
    /** Runs background file work one job at a time (the store's maintenance chain). */
    private readonly serially: (job: () => Promise<void>) => Promise<void>,
  ) {}

  async take(max: number): Promise<StoredRecord[]> {
    // Hot records go straight into `out`; a cold one leaves a hole there, filled after the read.
    const { out, cold, coldAt } = this.ledger.takePending(max);
    if (out.length > 0) this.fromDisk = cold !== undefined;
    if (!cold) return out as StoredRecord[];
    let read: Map<number, StoredRecord>;
    try {
      read = await this.read(cold);
    } catch (err) {
      // The hot ones go back too: the caller gets nothing from a failed take.
      const ids = cold.map((c) => c.id);
      for (const r of out) if (r) ids.push(r.id);
      this.release(ids);
      throw new StoreIoError(`store read failed: ${(err as Error).message}`, err);
    }
    for (let j = 0; j < cold.length; j++) out[coldAt![j]!] = read.get(cold[j]!.id);
    return out.filter((r): r is StoredRecord => r !== undefined);
  }

  /** Reads records from disk; a bad frame is quarantined and its record lost. */
  read(items: Located[]): Promise<Map<number, StoredRecord>> {
    return this.files.readRecords(items, (ordinal) => this.ledger.segments.get(ordinal), (seg, it, bytes) => this.quarantineBad(seg, it, bytes));
  }

  release(ids: number[]): void {
    if (this.ledger.release(ids) > 0) this.wake();
  }

  waitForPending(signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.ledger.pending > 0) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const onAbort = () => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(signal!.reason);
      };
      const waiter: Waiter = { resolve, reject, detach: () => signal?.removeEventListener('abort', onAbort) };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiters.push(waiter);
    });
  }

  /**
   * Wakes the waiters once the appends of this event-loop turn are in: the forwarder takes
   * them together and their publishes leave in one socket write, not one write per append.
   */
  wakeSoon(): void {
    if (this.wakeQueued || this.waiters.length === 0) return;
    this.wakeQueued = true;
    setImmediate(() => {
      this.wakeQueued = false;
      this.wake();
    });
  }

  /** Wakes the waiters if something is pending. */
  wake(): void {
    if (this.ledger.pending === 0 || this.waiters.length === 0) return;
    for (const w of this.waiters.splice(0)) {
      w.detach();
      w.resolve();
    }
  }

  rejectWaiters(): void {
    for (const w of this.waiters.splice(0)) {
      w.detach();
      w.reject(new StoreClosedError());
    }
  }

  /** A frame that verified at open went bad on disk since: quarantine it rather than deliver garbage. */
  private async quarantineBad(seg: Segment, it: Located, bytes: Buffer): Promise<void> {
    this.ledger.lose(it.id, it.length);
    const region: CorruptRegion = { segment: segmentName(seg.firstId), offset: it.offset, bytes: bytes.length, reason: 'bad-crc' };
    await this.serially(() => this.files.quarantine(region, bytes)).catch(() => {});
  }
}
