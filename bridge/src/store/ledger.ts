// The segment log's ledger: which records are live, in which state, in which segment,
// and the counts the bounds and stats read. No I/O here.
//
// Invariants:
// - Every live record has one index entry (RecordIndex), in one state: PENDING, IN_FLIGHT,
//   or REMOVING (dropped or expired, its callback not yet run). GONE entries leave from the head.
// - `records`/`bytes` count PENDING and IN_FLIGHT records plus appends still being committed,
//   so the store's bounds hold under concurrent appends; `pending` and `inFlight` count their
//   states exactly.
// - A segment's `live` counts its records that are not GONE. When it reaches 0 the segment
//   is handed to `onEmpty` (the store deletes it, or rolls past it if it is the active one).
// - The hot tail holds only PENDING, committed records, within its byte bound, and only those
//   near the front of the queue. A hot record was synced like any other: the tail is a
//   cache, never the only copy.
// - A record is indexed (PENDING, takeable) as soon as it is appended, before its group is
//   written: forwarding overlaps the group commit. Until then it has no place on disk
//   (segment UNCOMMITTED) and its only copy is `uncommitted`, which take() reads it from.
//   It gets a place, or is gone if the write failed, when its group settles. Drop-oldest and
//   TTL never pick it, and a tombstone is only ever written for a record that is on disk.
import type { StoredRecord } from '../types.ts';
import { GONE, IN_FLIGHT, PENDING, RecordIndex, REMOVING, UNCOMMITTED } from './record-index.ts';
import type { Located, Segment } from './segment-files.ts';
import { StoreFullError, type StoreOptions } from './store.ts';

/** How far behind the oldest pending record a just-committed one may be and still be kept hot, in tails. */
const NEAR_FRONT_TAILS = 16;

export interface LedgerEvents {
  /** A record of `seg` is gone (confirmed, removed, or bad on disk). */
  onGone(seg: Segment, id: number): void;
}

export class Ledger {
  readonly index = new RecordIndex();
  readonly segments = new Map<number, Segment>();
  records = 0;
  bytes = 0;
  pending = 0;
  inFlight = 0;
  dropped = 0;
  expired = 0;
  private readonly hot = new Map<number, StoredRecord>();
  private hotBytes = 0;
  private readonly hotBodies = new HotBodies();
  /** Appended records whose group commit has not settled: bounded by the writer's queue. */
  private readonly uncommitted = new Map<number, StoredRecord>();
  /** Confirmed before their group was written (their index entries may be gone already): tombstoned once it is. */
  private readonly confirmedUncommitted = new Set<number>();

  constructor(
    private readonly bounds: Pick<StoreOptions, 'maxRecords' | 'maxBytes' | 'overflow'>,
    private readonly hotMaxBytes: number,
    private readonly events: LedgerEvents,
  ) {}

  /**
   * Counts `count` records / `bytes` about to be appended. Throws StoreFullError unless they fit;
   * with overflow 'drop-oldest' returns the index positions of pending records to drop for room.
   */
  reserve(count: number, bytes: number): number[] {
    const { maxRecords, maxBytes, overflow } = this.bounds;
    if (count > maxRecords || bytes > maxBytes) throw new StoreFullError(`append of ${count} records / ${bytes} bytes exceeds the store bounds`);
    let excessRecords = this.records + count - maxRecords;
    let excessBytes = this.bytes + bytes - maxBytes;
    const victims: number[] = [];
    if (excessRecords > 0 || excessBytes > 0) {
      if (overflow === 'reject') throw new StoreFullError(`store full (${this.records} records, ${this.bytes} bytes)`);
      // Only pending records can make room: in-flight ones are about to be delivered.
      const ix = this.index;
      for (let k = ix.head; k < ix.tail && (excessRecords > 0 || excessBytes > 0); k++) {
        if (ix.state[k] !== PENDING || ix.segment[k] === UNCOMMITTED) continue;
        victims.push(k);
        excessRecords--;
        excessBytes -= ix.length[k]!;
      }
      if (excessRecords > 0 || excessBytes > 0) throw new StoreFullError('store full and nothing pending left to drop');
    }
    this.records += count;
    this.bytes += bytes;
    return victims;
  }

  /** Records just appended (room reserved, ids in order): takeable now, on disk once their group commits. */
  appended(records: readonly StoredRecord[]): void {
    for (const r of records) {
      this.index.push(r.id, UNCOMMITTED, 0, r.size, r.acceptedAt);
      this.uncommitted.set(r.id, r);
    }
    this.pending += records.length;
  }

  /** Records written and synced into `seg` from `offset` on, in order. */
  committed(seg: Segment, records: readonly StoredRecord[], offset: number): void {
    const ix = this.index;
    let k = records.length > 0 ? ix.find(records[0]!.id) : -1;
    for (const r of records) {
      // A group's records sit next to each other in the index; find() only if that ever changes.
      if (k < 0 || k >= ix.tail || ix.idAt(k) !== r.id) k = ix.find(r.id);
      this.uncommitted.delete(r.id);
      if (this.confirmedUncommitted.delete(r.id)) {
        // Confirmed while its group was being written: now that it is on disk, tombstone it.
        seg.live++;
        this.events.onGone(seg, r.id);
      } else if (k >= 0) {
        ix.segment[k] = seg.ordinal;
        ix.offset[k] = offset;
        seg.live++;
        if (ix.state[k] === PENDING && this.hotBytes + r.size <= this.hotMaxBytes && this.nearFront(k, r.size)) {
          r.body = this.hotBodies.copy(r.body); // the same bytes: whoever else holds `r` sees no change
          this.hot.set(r.id, r);
          this.hotBytes += r.size;
        }
      }
      if (k >= 0) k++;
      offset += r.size;
    }
  }

  /** The group holding these records was not written: they never existed (the sender was not acknowledged and sends again). */
  failed(records: readonly StoredRecord[]): void {
    const ix = this.index;
    for (const r of records) {
      this.uncommitted.delete(r.id);
      if (this.confirmedUncommitted.delete(r.id)) continue; // it stopped counting when confirmed
      const k = ix.find(r.id);
      if (k < 0) continue;
      const st = ix.state[k];
      if (st === PENDING) this.pending--;
      else if (st === IN_FLIGHT) this.inFlight--;
      ix.state[k] = GONE;
      this.records--;
      this.bytes -= r.size;
    }
    ix.advanceHead();
  }

  /** A record found at recovery, already counted nowhere. */
  recovered(seg: Segment, id: number, offset: number, length: number, acceptedAt: number): void {
    this.index.push(id, seg.ordinal, offset, length, acceptedAt);
    seg.live++;
    this.records++;
    this.bytes += length;
    this.pending++;
  }

  /** Up to `max` pending records, now IN_FLIGHT: hot ones whole, the others as places to read. */
  takePending(max: number): { out: (StoredRecord | undefined)[]; cold?: Located[]; coldAt?: number[] } {
    const ix = this.index;
    const out: (StoredRecord | undefined)[] = [];
    let cold: Located[] | undefined;
    let coldAt: number[] | undefined;
    let k = ix.cursor;
    for (; k < ix.tail && out.length < max; k++) {
      if (ix.state[k] !== PENDING) continue;
      ix.state[k] = IN_FLIGHT;
      const id = ix.idAt(k);
      const rec = this.hot.get(id);
      if (rec) {
        this.dropHot(id);
        out.push(rec);
      } else if (ix.segment[k] === UNCOMMITTED) {
        out.push(this.uncommitted.get(id));
      } else {
        (cold ??= []).push({ id, segment: ix.segment[k]!, offset: ix.offset[k]!, length: ix.length[k]! });
        (coldAt ??= []).push(out.length);
        out.push(undefined);
      }
    }
    ix.cursor = k;
    this.pending -= out.length;
    this.inFlight += out.length;
    return { out, cold, coldAt };
  }

  confirm(ids: number[]): void {
    const ix = this.index;
    for (const id of ids) {
      const k = ix.find(id);
      if (k < 0) continue;
      const st = ix.state[k];
      if (st !== PENDING && st !== IN_FLIGHT) continue;
      if (st === IN_FLIGHT) this.inFlight--;
      else {
        this.pending--;
        this.dropHot(id);
      }
      ix.state[k] = GONE;
      this.records--;
      this.bytes -= ix.length[k]!;
      if (ix.segment[k] === UNCOMMITTED) {
        this.uncommitted.delete(id);
        this.confirmedUncommitted.add(id);
      } else this.gone(ix.segment[k]!, id);
    }
    ix.advanceHead();
  }

  /** IN_FLIGHT records go back to PENDING; returns how many did. */
  release(ids: number[]): number {
    const ix = this.index;
    let released = 0;
    for (const id of ids) {
      const k = ix.find(id);
      if (k < 0 || ix.state[k] !== IN_FLIGHT) continue;
      ix.state[k] = PENDING;
      if (k < ix.cursor) ix.cursor = k;
      released++;
    }
    this.inFlight -= released;
    this.pending += released;
    return released;
  }

  /** A record whose frame went bad on disk since open: gone, whatever its state. */
  lose(id: number, length: number): void {
    const ix = this.index;
    const k = ix.find(id);
    if (k < 0 || ix.state[k] === GONE) return;
    if (ix.state[k] === IN_FLIGHT) this.inFlight--;
    else if (ix.state[k] === PENDING) this.pending--;
    if (ix.state[k] !== REMOVING) {
      this.records--;
      this.bytes -= length;
    }
    ix.state[k] = GONE;
    this.gone(ix.segment[k]!, id);
    ix.advanceHead();
  }

  /** Marks index positions REMOVING (they stop counting) and says where their records are. */
  beginRemoval(positions: number[]): Located[] {
    const ix = this.index;
    return positions.map((k) => {
      ix.state[k] = REMOVING;
      this.dropHot(ix.idAt(k));
      this.pending--;
      this.records--;
      this.bytes -= ix.length[k]!;
      return { id: ix.idAt(k), segment: ix.segment[k]!, offset: ix.offset[k]!, length: ix.length[k]! };
    });
  }

  /** Removed records whose callback ran are gone. */
  endRemoval(items: Located[]): void {
    const ix = this.index;
    for (const c of items) {
      const k = ix.find(c.id);
      if (k < 0 || ix.state[k] !== REMOVING) continue;
      ix.state[k] = GONE;
      this.gone(c.segment, c.id);
    }
    ix.advanceHead();
  }

  /** Positions of pending records accepted before `cutoff`. Ids follow acceptance order, so the scan stops at the first younger one. */
  pendingBefore(cutoff: number): number[] {
    const ix = this.index;
    const out: number[] = [];
    for (let k = ix.head; k < ix.tail; k++) {
      const st = ix.state[k];
      if (st !== PENDING && st !== IN_FLIGHT) continue;
      if (ix.acceptedAtOf(k) >= cutoff) break;
      if (st === PENDING && ix.segment[k] !== UNCOMMITTED) out.push(k);
    }
    return out;
  }

  /** Age of the oldest pending or in-flight record, ms. */
  oldestAgeMs(now = Date.now()): number {
    const ix = this.index;
    for (let k = ix.head; k < ix.tail; k++) {
      const st = ix.state[k];
      if (st === PENDING || st === IN_FLIGHT) return Math.max(0, now - ix.acceptedAtOf(k));
    }
    return 0;
  }

  clearHot(): void {
    this.hot.clear();
    this.hotBytes = 0;
  }

  /**
   * Whether the records ahead of position `k` (estimated at `size` each) are few enough that
   * it is taken soon: up to NEAR_FRONT_TAILS tails' worth, seconds at the forwarder's pace.
   * One behind more (a drain after an outage) would sit in memory for minutes, for nothing:
   * it is read from disk when its turn comes.
   */
  private nearFront(k: number, size: number): boolean {
    return (k - this.index.cursor) * size < NEAR_FRONT_TAILS * this.hotMaxBytes;
  }

  private dropHot(id: number): void {
    const rec = this.hot.get(id);
    if (!rec) return;
    this.hot.delete(id);
    this.hotBytes -= rec.size;
  }

  private gone(ordinal: number, id: number): void {
    const seg = this.segments.get(ordinal);
    if (seg) this.events.onGone(seg, id);
  }
}

const HOT_CHUNK_BYTES = 64 * 1024;

/**
 * Hot records' bodies, copied into shared chunks. Left in its frame, a small body pins the
 * frame's whole 8 KiB buffer-pool slab, whose other tenants are long gone (2 MB of hot
 * records held 8 MB of slabs during a drain). Hot records leave in id order, so a chunk is
 * freed soon after its last one is.
 */
class HotBodies {
  private chunk = Buffer.allocUnsafeSlow(0);
  private used = 0;

  copy(body: Buffer): Buffer {
    // Node pools only allocations under half its pool size: a frame this large has its own buffer.
    if (body.length >= Buffer.poolSize >>> 1) return body;
    if (this.used + body.length > this.chunk.length) {
      this.chunk = Buffer.allocUnsafeSlow(HOT_CHUNK_BYTES);
      this.used = 0;
    }
    const out = this.chunk.subarray(this.used, this.used + body.length);
    body.copy(out);
    this.used += body.length;
    return out;
  }
}
