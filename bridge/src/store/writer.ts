// The segment log's writer: appends, group commit, and the active segment.
//
// Invariants:
// 1. append() resolves only after its frames were written AND fdatasync'ed, so an
//    acknowledged record survives kill -9 and power loss. A failed write or sync rejects
//    the whole append; nothing of it was acknowledged, and its ids are never reused.
//    Its records may be forwarded meanwhile (ledger.appended): a crash or a failed write
//    before the sync leaves the sender unacknowledged, so it sends the same ids' data again,
//    a duplicate downstream and never a loss.
// 2. Group commit: appends that arrive while a sync runs share the next one (one write and
//    one fdatasync per group). File order is id order.
// 3. After a failed write the file is cut back to where the group began; after a failed
//    sync (the page cache can no longer be trusted) the next group starts a new segment.
import type { OutboundMessage, StoredRecord } from '../types.ts';
import { encodeRecord } from './format.ts';
import type { Ledger } from './ledger.ts';
import type { Segment, SegmentFiles } from './segment-files.ts';
import { StoreIoError } from './store.ts';

export interface WriterHooks {
  /** Drop-oldest victims found while making room: the store removes them. */
  dropForRoom(positions: number[]): void;
  /** A sealed segment that holds nothing live. */
  sealedEmpty(seg: Segment): void;
  /** Records were appended: they can be taken now. */
  appended(): void;
}

interface QueuedAppend {
  frames: Buffer[];
  records: StoredRecord[];
  bytes: number;
  resolve(records: StoredRecord[]): void;
  reject(err: unknown): void;
}

export class Writer {
  /** The id the next appended record gets. */
  nextId = 1;
  private active: Segment | undefined;
  private activeFd: number | undefined;
  private rollBeforeNextWrite = false;
  /** A write or sync failed since the active segment started (e.g. ENOSPC): free its space as soon as it empties. */
  private writeFailedInActive = false;
  private queue: QueuedAppend[] = [];
  private committing: Promise<void> | undefined;

  constructor(
    private readonly files: SegmentFiles,
    private readonly ledger: Ledger,
    private readonly opts: { segmentBytes: number; groupCommitMaxDelayMs: number },
    private readonly hooks: WriterHooks,
  ) {}

  /** Encodes, reserves room (or throws StoreFullError), and queues for the next group commit. */
  append(msgs: OutboundMessage[]): Promise<StoredRecord[]> {
    const count = msgs.length;
    if (count === 0) return Promise.resolve([]);
    const frames = new Array<Buffer>(count);
    let bytes = 0;
    for (let i = 0; i < count; i++) {
      const frame = encodeRecord(this.nextId + i, msgs[i]!);
      frames[i] = frame;
      bytes += frame.length;
    }
    let victims: number[];
    try {
      victims = this.ledger.reserve(count, bytes);
    } catch (err) {
      return Promise.reject(err);
    }
    if (victims.length > 0) this.hooks.dropForRoom(victims);
    const records = new Array<StoredRecord>(count);
    for (let i = 0; i < count; i++) records[i] = recordOf(msgs[i]!, this.nextId + i, frames[i]!);
    this.nextId += count;
    this.ledger.appended(records);
    this.hooks.appended();
    return new Promise((resolve, reject) => {
      this.queue.push({ frames, records, bytes, resolve, reject });
      if (!this.committing) this.committing = this.commitLoop();
    });
  }

  /** Makes a segment starting at `firstId` the active one; its directory entry is durable on return. */
  async startSegment(firstId: number, reuse?: Segment): Promise<void> {
    const seg = reuse ?? this.files.newSegment(firstId);
    const fd = await this.files.openForAppend(seg, reuse !== undefined);
    const previous = this.active;
    const previousFd = this.activeFd;
    seg.active = true;
    this.ledger.segments.set(seg.ordinal, seg);
    this.active = seg;
    this.activeFd = fd;
    this.rollBeforeNextWrite = false;
    this.writeFailedInActive = false;
    if (previous) {
      previous.active = false;
      if (previousFd !== undefined) await this.files.io.close(previousFd).catch(() => {});
      if (previous.live === 0) this.hooks.sealedEmpty(previous);
    }
  }

  /** The active segment emptied: after a failed write, start a new one so its space can be freed. */
  activeEmptied(seg: Segment): void {
    if (seg === this.active && this.writeFailedInActive) this.rollBeforeNextWrite = true;
  }

  /** Waits for every queued append to be committed or failed. */
  async drain(): Promise<void> {
    while (this.committing) await this.committing;
  }

  async close(): Promise<void> {
    if (this.activeFd !== undefined) await this.files.io.close(this.activeFd).catch(() => {});
  }

  private async commitLoop(): Promise<void> {
    try {
      const delay = this.opts.groupCommitMaxDelayMs;
      if (delay > 0) await new Promise((r) => setTimeout(r, delay));
      while (this.queue.length > 0) await this.commitGroup(this.queue.splice(0));
    } finally {
      // Runs in the same tick as the final queue check: no append can slip between.
      this.committing = undefined;
    }
  }

  private async commitGroup(group: QueuedAppend[]): Promise<void> {
    let data: Buffer;
    if (group.length === 1 && group[0]!.frames.length === 1) data = group[0]!.frames[0]!;
    else {
      const frames: Buffer[] = [];
      let total = 0;
      for (const a of group) {
        for (const f of a.frames) frames.push(f);
        total += a.bytes;
      }
      data = Buffer.concat(frames, total);
    }
    const io = this.files.io;
    let seg: Segment | undefined;
    let at = 0;
    let step: 'prepare' | 'write' | 'sync' = 'prepare';
    try {
      if (!this.active || this.rollBeforeNextWrite || (this.active.size > 0 && this.active.size + data.length > this.opts.segmentBytes)) {
        await this.startSegment(group[0]!.records[0]!.id);
      }
      seg = this.active!;
      at = seg.size;
      step = 'write';
      await io.write(this.activeFd!, data, at);
      step = 'sync';
      await io.fdatasync(this.activeFd!);
    } catch (err) {
      this.writeFailedInActive = true;
      for (const a of group) this.ledger.failed(a.records);
      if (seg && step !== 'prepare') {
        try {
          await io.ftruncate(this.activeFd!, at);
          if (step === 'sync') this.rollBeforeNextWrite = true;
        } catch {
          this.rollBeforeNextWrite = true;
        }
      }
      const failure = new StoreIoError(`store write failed: ${(err as Error).message}`, err);
      for (const a of group) a.reject(failure);
      return;
    }
    seg.size = at + data.length;
    let offset = at;
    for (const a of group) {
      this.ledger.committed(seg, a.records, offset);
      offset += a.bytes;
    }
    for (const a of group) a.resolve(a.records);
  }
}

/** The stored record of `msg`: its body points into the frame, not into the caller's (maybe much larger) buffer. */
function recordOf(msg: OutboundMessage, id: number, frame: Buffer): StoredRecord {
  return {
    routingKey: msg.routingKey,
    messageId: msg.messageId,
    device: msg.device,
    contentType: msg.contentType,
    headers: msg.headers,
    body: frame.subarray(frame.length - msg.body.length),
    acceptedAt: msg.acceptedAt,
    id,
    size: frame.length,
  };
}
