// Segment log: the durable store-and-forward backend.
//
// Invariants (each has a test in store-contract / store-durability / store-corruption):
// 1. append() resolves only after its frames were written AND fdatasync'ed, so an
//    acknowledged record survives kill -9 and power loss. A failed write or sync
//    rejects the whole append; nothing of it was acknowledged.
// 2. Group commit: appends that arrive while a sync runs share the next one
//    (one write + one fdatasync per group). File order = id order.
// 3. Ids grow strictly and are never reused: a segment is named by the first id it
//    may hold and its name is made durable (directory fsync) before any record is
//    written to it; the newest segment is never deleted while it is active.
// 4. Segments are immutable once sealed. Deletions (confirm, drop, expire) are
//    tombstones in a `.ack` file per segment, written lazily and never synced:
//    losing one only re-delivers (a duplicate, never a loss). A segment whose
//    records are all gone is deleted whole.
// 5. Recovery never refuses to start: every frame is CRC-checked; damaged bytes are
//    copied to quarantine.bin (+ a line in quarantine.jsonl) BEFORE the segment is
//    rewritten without them; the scanner resyncs on the next valid frame and always
//    advances, so it cannot loop.
// 6. Memory holds only a 25-byte index entry per live record (RecordIndex); take()
//    reads bodies from disk, except for a bounded hot tail (hotBytes, default 2 MiB)
//    of just-committed records, so live traffic is forwarded without reading back
//    what was just written. A hot record was synced like any other: it is a cache,
//    never the only copy.
import { join } from 'node:path';
import type { OutboundMessage, StoredRecord } from '../types.ts';
import {
  checkFrame,
  decodeFrame,
  decodeTombstones,
  encodeFrame,
  encodeTombstones,
  parseSegmentName,
  scanSegment,
  segmentName,
  SEGMENT_SUFFIX,
  TOMBSTONE_SUFFIX,
  type FrameInfo,
} from './format.ts';
import { nodeIo, type StoreIo } from './io.ts';
import { GONE, IN_FLIGHT, PENDING, RecordIndex, REMOVING } from './record-index.ts';
import {
  StoreClosedError,
  StoreFullError,
  StoreIoError,
  type CorruptRegion,
  type OpenReport,
  type StoreAndForward,
  type StoreOptions,
  type StoreStats,
} from './store.ts';

export const QUARANTINE_FILE = 'quarantine.bin';
export const QUARANTINE_REPORT = 'quarantine.jsonl';
const DEFAULT_SEGMENT_BYTES = 8 * 1024 * 1024;
const REMOVAL_CHUNK = 4096;
const DEFAULT_HOT_BYTES = 2 * 1024 * 1024;

interface Segment {
  ordinal: number;
  firstId: number;
  path: string;
  tombstonePath: string;
  /** Bytes of valid frames; the next group is written here. */
  size: number;
  /** Records not yet GONE (pending, in flight, or being removed). */
  live: number;
  active: boolean;
  readFd?: Promise<number>;
  tombstones: number[];
  tombstoneBytes: number;
}

interface QueuedAppend {
  frames: Buffer[];
  records: StoredRecord[];
  bytes: number;
  resolve(records: StoredRecord[]): void;
  reject(err: unknown): void;
}

interface Waiter {
  resolve(): void;
  reject(err: unknown): void;
  detach(): void;
}

/** Where a record lives, captured before any await (index positions move). */
interface Located {
  id: number;
  segment: number;
  offset: number;
  length: number;
}

export class SegmentLogStore implements StoreAndForward {
  private readonly io: StoreIo;
  private readonly segmentBytes: number;
  private readonly index = new RecordIndex();
  private readonly segments = new Map<number, Segment>();
  private nextOrdinal = 1;
  private active: Segment | undefined;
  private activeFd: number | undefined;
  private rollBeforeNextWrite = false;
  /** A write or sync failed since the active segment started (e.g. ENOSPC): free its space as soon as it empties. */
  private writeFailedInActive = false;
  private nextId = 1;
  private queue: QueuedAppend[] = [];
  private committing: Promise<void> | undefined;
  private maintenance: Promise<void> = Promise.resolve();
  private readonly removals = new Set<Promise<void>>();
  private waiters: Waiter[] = [];
  private tombstoneTimer: NodeJS.Timeout | undefined;
  private ttlTimer: NodeJS.Timeout | undefined;
  private state: 'new' | 'open' | 'closed' = 'new';
  private quarantineBytes = 0;
  private quarantineReportBytes = 0;
  // Counters. liveRecords/liveBytes include appends still being committed, so bounds hold under concurrency.
  private liveRecords = 0;
  private liveBytes = 0;
  private pendingCount = 0;
  private inFlight = 0;
  private dropped = 0;
  private expired = 0;
  /** Committed records not yet taken, newest traffic first served from here (invariant 6). */
  // Records whose body points into the written frame: the appended body may be a view
  // into a much larger socket buffer, and this way take() decodes nothing.
  private readonly hot = new Map<number, StoredRecord>();
  private hotBytes = 0;
  private readonly hotMaxBytes: number;

  constructor(private readonly opts: StoreOptions) {
    this.io = opts.io ?? nodeIo;
    this.segmentBytes = opts.segmentBytes ?? DEFAULT_SEGMENT_BYTES;
    this.hotMaxBytes = opts.hotBytes ?? DEFAULT_HOT_BYTES;
  }

  private dropHot(id: number): void {
    const rec = this.hot.get(id);
    if (!rec) return;
    this.hot.delete(id);
    this.hotBytes -= rec.size;
  }

  // ---------------------------------------------------------------- recovery

  async open(): Promise<OpenReport> {
    if (this.state !== 'new') throw new Error('open() called twice');
    const started = Date.now();
    const { dir } = this.opts;
    await this.io.mkdirp(dir);
    const names = await this.io.readdir(dir);
    for (const name of names) if (name.endsWith('.tmp')) await this.io.unlink(join(dir, name));
    const segmentIds = names.map(parseSegmentName).filter((n): n is number => n !== undefined).sort((a, b) => a - b);
    const segmentSet = new Set(names.filter((n) => n.endsWith(SEGMENT_SUFFIX)));
    for (const name of names) {
      // A tombstone file outlives its segment only if we crashed between the two unlinks.
      if (name.endsWith(TOMBSTONE_SUFFIX) && !segmentSet.has(name.slice(0, -TOMBSTONE_SUFFIX.length) + SEGMENT_SUFFIX)) {
        await this.io.unlink(join(dir, name)).catch(() => {});
      }
    }
    this.quarantineBytes = (await this.io.size(join(dir, QUARANTINE_FILE))) ?? 0;
    this.quarantineReportBytes = (await this.io.size(join(dir, QUARANTINE_REPORT))) ?? 0;

    const corrupt: CorruptRegion[] = [];
    const empty: Segment[] = [];
    let alreadyDeleted = 0;
    let lastIndexedId = 0;
    for (const firstId of segmentIds) {
      const seg = this.newSegment(firstId);
      this.nextId = Math.max(this.nextId, firstId);
      // One buffer for every segment: a fresh 8 MiB buffer per segment left RSS far above the data.
      const image = await this.readWhole(seg.path, true);
      const gone = decodeTombstones((await this.readWholeIfExists(seg.tombstonePath)) ?? Buffer.alloc(0));
      const frames: FrameInfo[] = [];
      const damaged = scanSegment(image, (f) => frames.push(f));
      let keep: FrameInfo[] = [];
      for (const f of frames) {
        this.nextId = Math.max(this.nextId, f.id + 1);
        if (gone.has(f.id) || f.id <= lastIndexedId) alreadyDeleted++;
        else keep.push(f);
      }
      if (damaged.length > 0) {
        for (const d of damaged) {
          const region = { segment: segmentName(firstId), ...d };
          await this.quarantine(region, image.subarray(d.offset, d.offset + d.bytes));
          corrupt.push(region);
        }
        keep = await this.rewriteSegment(seg, image, keep);
      }
      seg.size = damaged.length > 0 ? keep.reduce((n, f) => n + f.length, 0) : image.length;
      for (const f of keep) {
        this.index.push(f.id, seg.ordinal, f.offset, f.length, f.acceptedAt);
        lastIndexedId = f.id;
        seg.live++;
        this.liveRecords++;
        this.liveBytes += f.length;
        this.pendingCount++;
      }
      if (seg.live === 0) empty.push(seg);
      else this.segments.set(seg.ordinal, seg);
    }

    // The new active segment carries the id watermark; make it durable before deleting anything.
    this.recoveryBuffer = undefined;
    const reuse = empty.find((s) => s.firstId === this.nextId);
    await this.startSegment(this.nextId, reuse);
    for (const seg of empty) if (seg !== reuse) await this.deleteSegmentFiles(seg);

    if (this.opts.ttlMs !== undefined) {
      const every = Math.max(10, Math.min(1000, Math.floor(this.opts.ttlMs / 2)));
      this.ttlTimer = setInterval(() => this.expireDue(), every);
      this.ttlTimer.unref();
    }
    this.state = 'open';
    return {
      pending: this.pendingCount,
      pendingBytes: this.liveBytes,
      alreadyDeleted,
      segments: this.segments.size,
      nextId: this.nextId,
      corrupt,
      quarantinedBytes: this.quarantineBytes,
      durationMs: Date.now() - started,
    };
  }

  private newSegment(firstId: number): Segment {
    const name = segmentName(firstId);
    return {
      ordinal: this.nextOrdinal++,
      firstId,
      path: join(this.opts.dir, name),
      tombstonePath: join(this.opts.dir, name.slice(0, -SEGMENT_SUFFIX.length) + TOMBSTONE_SUFFIX),
      size: 0,
      live: 0,
      active: false,
      tombstones: [],
      tombstoneBytes: 0,
    };
  }

  private recoveryBuffer: Buffer | undefined;

  private async readWhole(path: string, reuse = false): Promise<Buffer> {
    const fd = await this.io.open(path, 'r');
    try {
      const size = (await this.io.size(path)) ?? 0;
      if (!reuse) return await this.io.read(fd, size, 0);
      if (!this.recoveryBuffer || this.recoveryBuffer.length < size) this.recoveryBuffer = Buffer.allocUnsafe(Math.max(size, this.segmentBytes));
      return await this.io.read(fd, size, 0, this.recoveryBuffer);
    } finally {
      await this.io.close(fd);
    }
  }

  private async readWholeIfExists(path: string): Promise<Buffer | undefined> {
    if ((await this.io.size(path)) === undefined) return undefined;
    return this.readWhole(path);
  }

  /** Copies damaged bytes aside, durably, with a report line. */
  private async quarantine(region: CorruptRegion, bytes: Buffer): Promise<void> {
    const line = Buffer.from(
      JSON.stringify({ ...region, at: new Date().toISOString(), quarantineOffset: this.quarantineBytes }) + '\n',
    );
    this.quarantineBytes = await this.appendDurably(join(this.opts.dir, QUARANTINE_FILE), bytes, this.quarantineBytes);
    this.quarantineReportBytes = await this.appendDurably(
      join(this.opts.dir, QUARANTINE_REPORT),
      line,
      this.quarantineReportBytes,
    );
  }

  private async appendDurably(path: string, data: Buffer, at: number): Promise<number> {
    const created = at === 0 && (await this.io.size(path)) === undefined;
    const fd = await this.io.open(path, created ? 'wx' : 'r+');
    try {
      await this.io.write(fd, data, at);
      await this.io.fdatasync(fd);
    } finally {
      await this.io.close(fd);
    }
    if (created) await this.io.fsyncDir(this.opts.dir);
    return at + data.length;
  }

  /** Replaces a damaged segment by one holding only its live frames (tmp + fsync + rename). */
  private async rewriteSegment(seg: Segment, image: Buffer, keep: FrameInfo[]): Promise<FrameInfo[]> {
    const tmp = seg.path + '.tmp';
    const fd = await this.io.open(tmp, 'w');
    const moved: FrameInfo[] = [];
    let at = 0;
    try {
      const parts: Buffer[] = [];
      for (const f of keep) {
        parts.push(image.subarray(f.offset, f.offset + f.length));
        moved.push({ ...f, offset: at });
        at += f.length;
      }
      await this.io.write(fd, Buffer.concat(parts), 0);
      await this.io.fdatasync(fd);
    } finally {
      await this.io.close(fd);
    }
    await this.io.rename(tmp, seg.path);
    await this.io.fsyncDir(this.opts.dir);
    // The rewritten segment holds no deleted frames, so its tombstones are obsolete.
    await this.io.unlink(seg.tombstonePath).catch(() => {});
    return moved;
  }

  /** Makes `firstId`'s segment the active one; its directory entry is durable on return. */
  private async startSegment(firstId: number, reuse?: Segment): Promise<void> {
    const seg = reuse ?? this.newSegment(firstId);
    const fd = await this.io.open(seg.path, reuse ? 'r+' : 'wx');
    try {
      if (reuse) {
        await this.io.ftruncate(fd, 0);
        await this.io.fdatasync(fd);
        await this.io.unlink(seg.tombstonePath).catch(() => {});
        seg.size = 0;
      }
      await this.io.fsyncDir(this.opts.dir);
    } catch (err) {
      await this.io.close(fd).catch(() => {});
      if (!reuse) await this.io.unlink(seg.path).catch(() => {});
      throw err;
    }
    const previous = this.active;
    const previousFd = this.activeFd;
    seg.active = true;
    this.segments.set(seg.ordinal, seg);
    this.active = seg;
    this.activeFd = fd;
    this.rollBeforeNextWrite = false;
    this.writeFailedInActive = false;
    if (previous) {
      previous.active = false;
      if (previousFd !== undefined) await this.io.close(previousFd).catch(() => {});
      if (previous.live === 0) this.scheduleSegmentDelete(previous);
    }
  }

  // ---------------------------------------------------------------- append

  append(msgs: OutboundMessage[]): Promise<StoredRecord[]> {
    if (this.state !== 'open') return Promise.reject(new StoreClosedError());
    const count = msgs.length;
    if (count === 0) return Promise.resolve([]);
    const frames = new Array<Buffer>(count);
    let bytes = 0;
    for (let i = 0; i < count; i++) {
      const frame = encodeFrame(this.nextId + i, msgs[i]!);
      frames[i] = frame;
      bytes += frame.length;
    }
    try {
      this.admit(count, bytes);
    } catch (err) {
      return Promise.reject(err);
    }
    const records = new Array<StoredRecord>(count);
    for (let i = 0; i < count; i++) records[i] = recordOf(msgs[i]!, this.nextId + i, frames[i]!);
    this.nextId += count;
    this.liveRecords += count;
    this.liveBytes += bytes;
    return new Promise((resolve, reject) => {
      this.queue.push({ frames, records, bytes, resolve, reject });
      if (!this.committing) this.committing = this.commitLoop();
    });
  }

  /** Throws StoreFullError unless `count`/`bytes` fit, dropping oldest pending records if allowed. */
  private admit(count: number, bytes: number): void {
    const { maxRecords, maxBytes, overflow } = this.opts;
    if (count > maxRecords || bytes > maxBytes) throw new StoreFullError(`append of ${count} records / ${bytes} bytes exceeds the store bounds`);
    let excessRecords = this.liveRecords + count - maxRecords;
    let excessBytes = this.liveBytes + bytes - maxBytes;
    if (excessRecords <= 0 && excessBytes <= 0) return;
    if (overflow === 'reject') throw new StoreFullError(`store full (${this.liveRecords} records, ${this.liveBytes} bytes)`);
    // Only pending records can make room: in-flight ones are about to be delivered.
    const victims: number[] = [];
    const ix = this.index;
    for (let k = ix.head; k < ix.tail && (excessRecords > 0 || excessBytes > 0); k++) {
      if (ix.state[k] !== PENDING) continue;
      victims.push(k);
      excessRecords--;
      excessBytes -= ix.length[k]!;
    }
    if (excessRecords > 0 || excessBytes > 0) throw new StoreFullError('store full and nothing pending left to drop');
    this.dropped += victims.length;
    this.startRemoval(victims, 'dropped');
  }

  private async commitLoop(): Promise<void> {
    try {
      const delay = this.opts.groupCommitMaxDelayMs ?? 0;
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
    let seg: Segment | undefined;
    let at = 0;
    let step: 'prepare' | 'write' | 'sync' = 'prepare';
    try {
      if (!this.active || this.rollBeforeNextWrite || (this.active.size > 0 && this.active.size + data.length > this.segmentBytes)) {
        await this.startSegment(group[0]!.records[0]!.id);
      }
      seg = this.active!;
      at = seg.size;
      step = 'write';
      await this.io.write(this.activeFd!, data, at);
      step = 'sync';
      await this.io.fdatasync(this.activeFd!);
    } catch (err) {
      this.writeFailedInActive = true;
      for (const a of group) {
        this.liveRecords -= a.records.length;
        this.liveBytes -= a.bytes;
      }
      if (seg && step !== 'prepare') {
        // Cut off what may have reached the file. After a failed fdatasync the page cache
        // cannot be trusted (it may have dropped the dirty pages), so continue in a new segment.
        try {
          await this.io.ftruncate(this.activeFd!, at);
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
      for (let i = 0; i < a.records.length; i++) {
        const r = a.records[i]!;
        this.index.push(r.id, seg.ordinal, offset, r.size, r.acceptedAt);
        offset += r.size;
        if (this.hotBytes + r.size <= this.hotMaxBytes) {
          this.hot.set(r.id, r);
          this.hotBytes += r.size;
        }
      }
      seg.live += a.records.length;
      this.pendingCount += a.records.length;
    }
    for (const a of group) a.resolve(a.records);
    this.wakeWaiters();
  }

  // ---------------------------------------------------------------- delivery

  async take(max: number): Promise<StoredRecord[]> {
    if (this.state !== 'open') throw new StoreClosedError();
    this.expireDue();
    const ix = this.index;
    // Hot records go straight into `out`; a cold one leaves a hole there, filled after the read.
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
      } else {
        (cold ??= []).push({ id, segment: ix.segment[k]!, offset: ix.offset[k]!, length: ix.length[k]! });
        (coldAt ??= []).push(out.length);
        out.push(undefined);
      }
    }
    ix.cursor = k;
    this.pendingCount -= out.length;
    this.inFlight += out.length;
    if (!cold) return out as StoredRecord[];
    let read: Map<number, StoredRecord>;
    try {
      read = await this.readRecords(cold);
    } catch (err) {
      // The hot ones go back too: the caller gets nothing from a failed take.
      const ids = cold.map((c) => c.id);
      for (const r of out) if (r) ids.push(r.id);
      this.release(ids);
      throw new StoreIoError(`store read failed: ${(err as Error).message}`, err);
    }
    for (let j = 0; j < cold.length; j++) out[coldAt![j]!] = read.get(cold[j]!.id);
    // A frame that failed its check was quarantined and is left out.
    return out.filter((r): r is StoredRecord => r !== undefined);
  }

  /** Reads and verifies frames; contiguous frames of one segment are read with one call. Bad frames are quarantined and removed. */
  private async readRecords(items: Located[]): Promise<Map<number, StoredRecord>> {
    const runs: Located[][] = [];
    for (const it of items) {
      const run = runs[runs.length - 1];
      const last = run?.[run.length - 1];
      if (run && last && last.segment === it.segment && last.offset + last.length === it.offset) run.push(it);
      else runs.push([it]);
    }
    const out = new Map<number, StoredRecord>();
    await Promise.all(
      runs.map(async (run) => {
        const seg = this.segments.get(run[0]!.segment);
        if (!seg) return;
        seg.readFd ??= this.io.open(seg.path, 'r');
        const start = run[0]!.offset;
        const end = run[run.length - 1]!.offset + run[run.length - 1]!.length;
        const buf = await this.io.read(await seg.readFd, end - start, start);
        for (const it of run) {
          const rel = it.offset - start;
          const check = checkFrame(buf, rel);
          if (check.ok && check.info.id === it.id && check.info.length === it.length) {
            out.set(it.id, decodeFrame(buf.subarray(rel, rel + it.length)));
          } else {
            await this.quarantineAtRuntime(seg, it, buf.subarray(rel, Math.min(buf.length, rel + it.length)));
          }
        }
      }),
    );
    return out;
  }

  /** A frame that verified at open went bad on disk since: quarantine it rather than deliver garbage. */
  private async quarantineAtRuntime(seg: Segment, it: Located, bytes: Buffer): Promise<void> {
    const k = this.index.find(it.id);
    if (k >= 0 && this.index.state[k] !== GONE) {
      if (this.index.state[k] === IN_FLIGHT) this.inFlight--;
      else if (this.index.state[k] === PENDING) this.pendingCount--;
      if (this.index.state[k] !== REMOVING) {
        this.liveRecords--;
        this.liveBytes -= it.length;
      }
      this.index.state[k] = GONE;
      this.markGone(seg, it.id);
      this.index.advanceHead();
    }
    const region: CorruptRegion = { segment: segmentName(seg.firstId), offset: it.offset, bytes: bytes.length, reason: 'bad-crc' };
    await this.serially(() => this.quarantine(region, bytes)).catch(() => {});
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
        this.pendingCount--;
        this.dropHot(id);
      }
      ix.state[k] = GONE;
      this.liveRecords--;
      this.liveBytes -= ix.length[k]!;
      const seg = this.segments.get(ix.segment[k]!);
      if (seg) this.markGone(seg, id);
    }
    ix.advanceHead();
  }

  release(ids: number[]): void {
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
    this.pendingCount += released;
    if (released > 0) this.wakeWaiters();
  }

  waitForPending(signal?: AbortSignal): Promise<void> {
    if (this.state === 'closed') return Promise.reject(new StoreClosedError());
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.pendingCount > 0) return Promise.resolve();
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

  private wakeWaiters(): void {
    if (this.pendingCount === 0 || this.waiters.length === 0) return;
    for (const w of this.waiters.splice(0)) {
      w.detach();
      w.resolve();
    }
  }

  stats(): StoreStats {
    const ix = this.index;
    let oldestAgeMs = 0;
    for (let k = ix.head; k < ix.tail; k++) {
      const st = ix.state[k];
      if (st === PENDING || st === IN_FLIGHT) {
        oldestAgeMs = Math.max(0, Date.now() - ix.acceptedAtOf(k));
        break;
      }
    }
    return {
      records: this.liveRecords,
      bytes: this.liveBytes,
      inFlight: this.inFlight,
      oldestAgeMs,
      dropped: this.dropped,
      expired: this.expired,
      quarantinedBytes: this.quarantineBytes,
    };
  }

  // ---------------------------------------------------------------- removal

  /** Pending records older than ttlMs leave the store (counted, reported via onExpired). */
  private expireDue(): void {
    const ttl = this.opts.ttlMs;
    if (ttl === undefined || this.state !== 'open') return;
    const cutoff = Date.now() - ttl;
    const ix = this.index;
    const victims: number[] = [];
    // Ids follow acceptance order, so the first live record younger than the cutoff ends the scan.
    for (let k = ix.head; k < ix.tail; k++) {
      const st = ix.state[k];
      if (st !== PENDING && st !== IN_FLIGHT) continue;
      if (ix.acceptedAtOf(k) >= cutoff) break;
      if (st === PENDING) victims.push(k);
    }
    if (victims.length === 0) return;
    this.expired += victims.length;
    this.startRemoval(victims, 'expired');
  }

  /** Marks index positions REMOVING now (they stop counting), then reads them for the callback and deletes. */
  private startRemoval(positions: number[], why: 'dropped' | 'expired'): void {
    const ix = this.index;
    const items: Located[] = positions.map((k) => {
      ix.state[k] = REMOVING;
      this.dropHot(ix.idAt(k));
      this.pendingCount--;
      this.liveRecords--;
      this.liveBytes -= ix.length[k]!;
      return { id: ix.idAt(k), segment: ix.segment[k]!, offset: ix.offset[k]!, length: ix.length[k]! };
    });
    const done = this.finishRemoval(items, why).finally(() => this.removals.delete(done));
    this.removals.add(done);
  }

  private async finishRemoval(items: Located[], why: 'dropped' | 'expired'): Promise<void> {
    const callback = why === 'dropped' ? this.opts.onDropped : this.opts.onExpired;
    for (let i = 0; i < items.length; i += REMOVAL_CHUNK) {
      const chunk = items.slice(i, i + REMOVAL_CHUNK);
      if (callback) {
        const read = await this.readRecords(chunk).catch(() => new Map<number, StoredRecord>());
        const records = chunk.map((c) => read.get(c.id)).filter((r): r is StoredRecord => r !== undefined);
        try {
          if (why === 'dropped') this.opts.onDropped?.(records, 'overflow');
          else this.opts.onExpired?.(records);
        } catch {
          // A throwing observer must not keep records alive.
        }
      }
      for (const c of chunk) {
        const k = this.index.find(c.id);
        if (k < 0 || this.index.state[k] !== REMOVING) continue;
        this.index.state[k] = GONE;
        const seg = this.segments.get(c.segment);
        if (seg) this.markGone(seg, c.id);
      }
      this.index.advanceHead();
    }
  }

  /** Records a deletion: a lazy tombstone, or the whole segment once nothing in it is live. */
  private markGone(seg: Segment, id: number): void {
    seg.live--;
    if (seg.live === 0 && !seg.active) {
      this.scheduleSegmentDelete(seg);
      return;
    }
    // A full disk whose whole backlog sits in the active segment would never get its
    // space back (only non-active segments are deleted): once it is empty, the next
    // group starts a new segment and startSegment() deletes this one.
    if (seg.live === 0 && seg.active && this.writeFailedInActive) this.rollBeforeNextWrite = true;
    seg.tombstones.push(id);
    if (!this.tombstoneTimer && this.state === 'open') {
      this.tombstoneTimer = setTimeout(() => {
        this.tombstoneTimer = undefined;
        void this.serially(() => this.flushTombstones());
      }, this.opts.ackFlushMs ?? 200);
      this.tombstoneTimer.unref();
    }
  }

  private scheduleSegmentDelete(seg: Segment): void {
    this.segments.delete(seg.ordinal);
    void this.serially(() => this.deleteSegmentFiles(seg));
  }

  private async deleteSegmentFiles(seg: Segment): Promise<void> {
    seg.tombstones = [];
    if (seg.readFd) await this.io.close(await seg.readFd).catch(() => {});
    // Segment first: a leftover tombstone file is harmless and cleaned at open.
    await this.io.unlink(seg.path).catch(() => {});
    await this.io.unlink(seg.tombstonePath).catch(() => {});
  }

  /** Unsynced on purpose: a lost tombstone costs a duplicate, not a record. */
  private async flushTombstones(): Promise<void> {
    for (const seg of this.segments.values()) {
      if (seg.tombstones.length === 0) continue;
      const data = encodeTombstones(seg.tombstones);
      seg.tombstones = [];
      try {
        const fd = await this.io.open(seg.tombstonePath, seg.tombstoneBytes === 0 ? 'a' : 'r+');
        try {
          if (seg.tombstoneBytes === 0) seg.tombstoneBytes = (await this.io.size(seg.tombstonePath)) ?? 0;
          await this.io.write(fd, data, seg.tombstoneBytes);
          seg.tombstoneBytes += data.length;
        } finally {
          await this.io.close(fd);
        }
      } catch {
        // Disk full or similar: the records stay deleted in memory; a restart may redeliver them.
      }
    }
  }

  /** Background file work runs one job at a time, so deletes and tombstone writes never race. */
  private serially(job: () => Promise<void>): Promise<void> {
    const run = this.maintenance.then(job);
    this.maintenance = run.catch(() => {});
    return run;
  }

  // ---------------------------------------------------------------- close

  async close(): Promise<void> {
    if (this.state === 'closed') return;
    const wasOpen = this.state === 'open';
    this.state = 'closed';
    this.hot.clear();
    this.hotBytes = 0;
    if (this.ttlTimer) clearInterval(this.ttlTimer);
    if (this.tombstoneTimer) clearTimeout(this.tombstoneTimer);
    this.tombstoneTimer = undefined;
    for (const w of this.waiters.splice(0)) {
      w.detach();
      w.reject(new StoreClosedError());
    }
    if (!wasOpen) return;
    while (this.committing) await this.committing;
    while (this.removals.size > 0) await Promise.all(this.removals);
    await this.serially(() => this.flushTombstones()).catch(() => {});
    await this.maintenance;
    if (this.activeFd !== undefined) await this.io.close(this.activeFd).catch(() => {});
    for (const seg of this.segments.values()) if (seg.readFd) await this.io.close(await seg.readFd.catch(() => -1)).catch(() => {});
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
