// The store-and-forward seam between routing and egress.
//
// Contract every implementation keeps (bridge/test/unit/store-contract.ts checks it):
// - append() is all-or-nothing and resolves only once its records are durable
//   (for the segment log: written and fdatasync'ed). Ingress acks after that, never before.
// - Ids are assigned in append order, strictly increasing, never reused in one directory.
// - take() hands out pending records in id order (so per device in order) and marks
//   them in flight; release() puts them back ahead of newer records; confirm() deletes.
// - A record leaves the store only by confirm(), by overflow 'drop-oldest' (onDropped,
//   counted in stats.dropped) or by TTL (onExpired, counted in stats.expired).
import type { OutboundMessage, StoredRecord } from '../types.ts';
import type { StoreIo } from './io.ts';

export interface StoreOptions {
  /** Directory the store owns (ignored by the memory store). */
  dir: string;
  /** Bound on live record bytes (pending + in flight + being committed). */
  maxBytes: number;
  /** Bound on live record count. */
  maxRecords: number;
  /** 'reject': append throws StoreFullError so ingress withholds its ack (backpressure). 'drop-oldest': oldest pending records make room. */
  overflow: 'reject' | 'drop-oldest';
  /** Pending records older than this (by acceptedAt) are expired. */
  ttlMs?: number;
  /** Extra wait before a commit that starts from idle, to gather more appends. Default 0: only appends that arrive during a sync share the next one. */
  groupCommitMaxDelayMs?: number;
  /** Roll to a new segment file once the active one reaches this size. Default 8 MiB. */
  segmentBytes?: number;
  /** Just-committed records kept in memory for take(), bytes (segment log; default 2 MiB, 0 = off). */
  hotBytes?: number;
  /** How often lazily buffered deletions (tombstones) are written. Default 200 ms. */
  ackFlushMs?: number;
  /** File-system seam; FaultyIo in tests. */
  io?: StoreIo;
  /** Records removed to make room ('drop-oldest'). They were never delivered. */
  onDropped?(records: StoredRecord[], reason: 'overflow'): void;
  /** Records removed by TTL. They were never delivered. */
  onExpired?(records: StoredRecord[]): void;
}

/** One region of a segment that failed verification and was moved to the quarantine file. */
export interface CorruptRegion {
  segment: string;
  offset: number;
  bytes: number;
  reason: 'bad-crc' | 'bad-header' | 'torn-tail';
}

export interface OpenReport {
  /** Records recovered and pending delivery. */
  pending: number;
  pendingBytes: number;
  /** Records skipped because a tombstone said they were already confirmed/dropped/expired. */
  alreadyDeleted: number;
  segments: number;
  nextId: number;
  corrupt: CorruptRegion[];
  quarantinedBytes: number;
  durationMs: number;
}

export interface StoreStats {
  records: number;
  bytes: number;
  inFlight: number;
  oldestAgeMs: number;
  dropped: number;
  expired: number;
  quarantinedBytes: number;
}

export interface StoreAndForward {
  /** Recovers. Never refuses to start over corrupt data: quarantines it and reports. */
  open(): Promise<OpenReport>;
  /** All-or-nothing; resolves after fdatasync. Rejects StoreFullError / StoreClosedError / StoreIoError. */
  append(msgs: OutboundMessage[]): Promise<StoredRecord[]>;
  /** Up to `max` pending records not in flight, in id order, now marked in flight. Async: bodies are read from disk. */
  take(max: number): Promise<StoredRecord[]>;
  /** True when the last take() read records back from disk (the forwarder then takes in larger chunks). */
  readonly servingFromDisk?: boolean;
  /** Broker confirmed: gone for good. Persisted lazily (losing it only causes a duplicate). Unknown ids are ignored. */
  confirm(ids: number[]): void;
  /** Publish failed: back to pending, ahead of newer records. */
  release(ids: number[]): void;
  /** Resolves when take() would return something. Rejects on abort or close. */
  waitForPending(signal?: AbortSignal): Promise<void>;
  stats(): StoreStats;
  /** Stops accepting, waits for in-progress commits, writes buffered tombstones. */
  close(): Promise<void>;
}

/** The store is at its bound (overflow 'reject', or nothing left to drop). Withhold the ack. */
export class StoreFullError extends Error {
  override readonly name = 'StoreFullError';
}

export class StoreClosedError extends Error {
  override readonly name = 'StoreClosedError';
  constructor(message = 'store is closed') {
    super(message);
  }
}

/** A write or sync failed (ENOSPC, EIO...). Nothing of that append was acknowledged; retry later. */
export class StoreIoError extends Error {
  override readonly name = 'StoreIoError';
  readonly code: string | undefined;
  constructor(message: string, cause: unknown) {
    super(message, { cause });
    this.code = (cause as NodeJS.ErrnoException | undefined)?.code;
  }
}

/** Bytes a record is charged for; the segment log charges its exact frame size. */
export type { OutboundMessage, StoredRecord };
