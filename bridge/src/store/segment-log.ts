// Segment log: the durable store-and-forward backend, split as a disk buffer is:
//   writer.ts         appends, group commit, the active segment (invariants 1-3)
//   reader.ts         take() from the hot tail or disk, waiters
//   ledger.ts         record states, counts, bounds, the hot tail (no I/O)
//   segment-files.ts  segment, tombstone and quarantine files
//   recovery.ts       open(): rebuilds the ledger from the files
// This file composes them and owns what spans them: removal (drop-oldest, TTL) and the
// deletion of records, segments and tombstones.
//
// Invariants (each has a test in store-contract / store-durability / store-corruption):
// 1. An acknowledged record (append resolved) was written and fdatasync'ed: it survives
//    kill -9 and power loss (writer.ts).
// 2. Ids grow strictly and are never reused (writer.ts, recovery.ts).
// 3. Deletions are lazy, unsynced tombstones: losing one only re-delivers, a duplicate and
//    never a loss. A segment whose records are all gone is deleted whole; the active one
//    never is (segment-files.ts).
// 4. Recovery never refuses to start and never loops (recovery.ts).
// 5. Memory holds a 21-byte index entry per live record plus a bounded hot tail, and the
//    records of the group commit in progress (ledger.ts).
// 7. Records are handed out from the moment they are appended, while their group commit
//    runs; a tombstone is written only for a record already on disk (ledger.ts).
// 6. Background file work (tombstones, deletes, quarantine) runs one job at a time.
import type { OutboundMessage, StoredRecord } from '../types.ts';
import { nodeIo } from './io.ts';
import { Ledger } from './ledger.ts';
import { Reader } from './reader.ts';
import { recover } from './recovery.ts';
import { SegmentFiles, type Located, type Segment } from './segment-files.ts';
import { StoreClosedError, type OpenReport, type StoreAndForward, type StoreOptions, type StoreStats } from './store.ts';
import { Writer } from './writer.ts';

export { QUARANTINE_FILE, QUARANTINE_REPORT } from './segment-files.ts';

const DEFAULT_SEGMENT_BYTES = 8 * 1024 * 1024;
const REMOVAL_CHUNK = 4096;
const DEFAULT_HOT_BYTES = 2 * 1024 * 1024;
// Confirmed records whose tombstone is still in memory are sent again after a crash, so tombstones leave memory often (docs/reliability.md: duplicates per kill).
const DEFAULT_ACK_FLUSH_MS = 5;

export class SegmentLogStore implements StoreAndForward {
  private readonly files: SegmentFiles;
  private readonly ledger: Ledger;
  private readonly writer: Writer;
  private readonly reader: Reader;
  private maintenance: Promise<void> = Promise.resolve();
  private readonly removals = new Set<Promise<void>>();
  private tombstoneTimer: NodeJS.Timeout | undefined;
  private ttlTimer: NodeJS.Timeout | undefined;
  private state: 'new' | 'open' | 'closed' = 'new';

  constructor(private readonly opts: StoreOptions) {
    const segmentBytes = opts.segmentBytes ?? DEFAULT_SEGMENT_BYTES;
    this.files = new SegmentFiles(opts.io ?? nodeIo, opts.dir, segmentBytes);
    this.ledger = new Ledger(opts, opts.hotBytes ?? DEFAULT_HOT_BYTES, { onGone: (seg, id) => this.markGone(seg, id) });
    this.reader = new Reader(this.files, this.ledger, (job) => this.serially(job));
    this.writer = new Writer(this.files, this.ledger, { segmentBytes, groupCommitMaxDelayMs: opts.groupCommitMaxDelayMs ?? 0 }, {
      dropForRoom: (positions) => {
        this.ledger.dropped += positions.length;
        this.startRemoval(positions, 'dropped');
      },
      sealedEmpty: (seg) => this.scheduleSegmentDelete(seg),
      appended: () => this.reader.wakeSoon(),
    });
  }

  async open(): Promise<OpenReport> {
    if (this.state !== 'new') throw new Error('open() called twice');
    const started = Date.now();
    const report = await recover(this.files, this.ledger, this.writer);
    if (this.opts.ttlMs !== undefined) {
      const every = Math.max(10, Math.min(1000, Math.floor(this.opts.ttlMs / 2)));
      this.ttlTimer = setInterval(() => this.expireDue(), every);
      this.ttlTimer.unref();
    }
    this.state = 'open';
    return { ...report, durationMs: Date.now() - started };
  }

  append(msgs: OutboundMessage[]): Promise<StoredRecord[]> {
    if (this.state !== 'open') return Promise.reject(new StoreClosedError());
    return this.writer.append(msgs);
  }

  /** True when the last take() read records back from disk. */
  get servingFromDisk(): boolean {
    return this.reader.fromDisk;
  }

  async take(max: number): Promise<StoredRecord[]> {
    if (this.state !== 'open') throw new StoreClosedError();
    this.expireDue();
    return this.reader.take(max);
  }

  confirm(ids: number[]): void {
    this.ledger.confirm(ids);
  }

  release(ids: number[]): void {
    this.reader.release(ids);
  }

  waitForPending(signal?: AbortSignal): Promise<void> {
    if (this.state === 'closed') return Promise.reject(new StoreClosedError());
    return this.reader.waitForPending(signal);
  }

  stats(): StoreStats {
    const l = this.ledger;
    return {
      records: l.records,
      bytes: l.bytes,
      inFlight: l.inFlight,
      oldestAgeMs: l.oldestAgeMs(),
      dropped: l.dropped,
      expired: l.expired,
      quarantinedBytes: this.files.quarantineBytes,
    };
  }

  async close(): Promise<void> {
    if (this.state === 'closed') return;
    const wasOpen = this.state === 'open';
    this.state = 'closed';
    this.ledger.clearHot();
    if (this.ttlTimer) clearInterval(this.ttlTimer);
    if (this.tombstoneTimer) clearTimeout(this.tombstoneTimer);
    this.tombstoneTimer = undefined;
    this.reader.rejectWaiters();
    if (!wasOpen) return;
    await this.writer.drain();
    while (this.removals.size > 0) await Promise.all(this.removals);
    await this.serially(() => this.flushTombstones()).catch(() => {});
    await this.maintenance;
    await this.writer.close();
    await this.files.closeReaders(this.ledger.segments.values());
  }

  // ---------------------------------------------------------------- removal

  /** Pending records older than ttlMs leave the store (counted, reported via onExpired). */
  private expireDue(): void {
    const ttl = this.opts.ttlMs;
    if (ttl === undefined || this.state !== 'open') return;
    const victims = this.ledger.pendingBefore(Date.now() - ttl);
    if (victims.length === 0) return;
    this.ledger.expired += victims.length;
    this.startRemoval(victims, 'expired');
  }

  /** The records stop counting now; they are read for the callback, then deleted. */
  private startRemoval(positions: number[], why: 'dropped' | 'expired'): void {
    const items = this.ledger.beginRemoval(positions);
    const done = this.finishRemoval(items, why).finally(() => this.removals.delete(done));
    this.removals.add(done);
  }

  private async finishRemoval(items: Located[], why: 'dropped' | 'expired'): Promise<void> {
    const callback = why === 'dropped' ? this.opts.onDropped : this.opts.onExpired;
    for (let i = 0; i < items.length; i += REMOVAL_CHUNK) {
      const chunk = items.slice(i, i + REMOVAL_CHUNK);
      if (callback) {
        const read = await this.reader.read(chunk).catch(() => new Map<number, StoredRecord>());
        const records = chunk.map((c) => read.get(c.id)).filter((r): r is StoredRecord => r !== undefined);
        try {
          if (why === 'dropped') this.opts.onDropped?.(records, 'overflow');
          else this.opts.onExpired?.(records);
        } catch {
          // A throwing observer must not keep records alive.
        }
      }
      this.ledger.endRemoval(chunk);
    }
  }

  /** Records a deletion: a lazy tombstone, or the whole segment once nothing in it is live. */
  private markGone(seg: Segment, id: number): void {
    seg.live--;
    if (seg.live === 0 && !seg.active) {
      this.scheduleSegmentDelete(seg);
      return;
    }
    // A full disk whose whole backlog sits in the active segment would never get its space
    // back (only sealed segments are deleted): once it is empty, the writer moves on.
    if (seg.live === 0) this.writer.activeEmptied(seg);
    seg.tombstones.push(id);
    if (!this.tombstoneTimer && this.state === 'open') {
      this.tombstoneTimer = setTimeout(() => {
        this.tombstoneTimer = undefined;
        void this.serially(() => this.flushTombstones());
      }, this.opts.ackFlushMs ?? DEFAULT_ACK_FLUSH_MS);
      this.tombstoneTimer.unref();
    }
  }

  private scheduleSegmentDelete(seg: Segment): void {
    this.ledger.segments.delete(seg.ordinal);
    void this.serially(() => this.files.deleteFiles(seg));
  }

  private async flushTombstones(): Promise<void> {
    for (const seg of this.ledger.segments.values()) await this.files.writeTombstones(seg);
  }

  /** Background file work runs one job at a time, so deletes and tombstone writes never race. */
  private serially(job: () => Promise<void>): Promise<void> {
    const run = this.maintenance.then(job);
    this.maintenance = run.catch(() => {});
    return run;
  }
}
