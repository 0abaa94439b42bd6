// The segment log's files: segments, their tombstone files, and the quarantine of
// damaged bytes. Every file operation of the store goes through here (and the StoreIo
// seam under it).
//
// Invariants:
// - A segment is named by the first id it may hold, and that name is durable (directory
//   fsync) before any record is written to it.
// - Sealed segments are never written again. Deletions are tombstones in a `.ack` file per
//   segment, appended and never synced: losing one only re-delivers a record.
// - Damaged bytes are copied to quarantine.bin, with a line in quarantine.jsonl, both
//   synced, before anything rewrites the segment without them.
// - A deleted segment loses its segment file before its tombstone file: a tombstone file
//   without its segment is harmless and removed at open.
// - A cold read reads ahead, up to READ_AHEAD_BYTES of committed bytes; later reads inside
//   that buffer need no I/O (frames are still checked). A drain takes a few records per
//   broker ack, and a disk read for each is a thread-pool round trip. Committed bytes never
//   change; rewrite and delete drop the buffer.
import { join } from 'node:path';
import type { StoredRecord } from '../types.ts';
import { checkFrame, decodeRecord, encodeTombstones, segmentName, SEGMENT_SUFFIX, TOMBSTONE_SUFFIX, type FrameInfo } from './format.ts';
import type { StoreIo } from './io.ts';
import type { CorruptRegion } from './store.ts';

export const QUARANTINE_FILE = 'quarantine.bin';
export const QUARANTINE_REPORT = 'quarantine.jsonl';
/** How far a cold read reads past what it was asked for (see the invariants). */
export const READ_AHEAD_BYTES = 256 * 1024;

export interface Segment {
  /** Small number naming the segment in the index (ids of segments are large). */
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
  /** Ids deleted since the last tombstone write. */
  tombstones: number[];
  tombstoneBytes: number;
  /** Kept open between tombstone writes (they come every few ms); closed when the file goes. */
  tombstoneFd?: number;
}

/** Where a record lives, captured before any await (index positions move). */
export interface Located {
  id: number;
  segment: number;
  offset: number;
  length: number;
}

export class SegmentFiles {
  private nextOrdinal = 1;
  /** Bytes in quarantine.bin and quarantine.jsonl. */
  quarantineBytes = 0;
  private quarantineReportBytes = 0;
  /** One buffer for reading every segment at recovery: a fresh 8 MiB buffer each left RSS far above the data. */
  private recoveryBuffer: Buffer | undefined;
  /** The last cold read, from `start` in `seg`: later reads within it need no I/O. */
  private readAhead: { seg: Segment; start: number; buf: Buffer } | undefined;

  constructor(
    readonly io: StoreIo,
    readonly dir: string,
    private readonly segmentBytes: number,
  ) {}

  newSegment(firstId: number): Segment {
    const name = segmentName(firstId);
    return {
      ordinal: this.nextOrdinal++,
      firstId,
      path: join(this.dir, name),
      tombstonePath: join(this.dir, name.slice(0, -SEGMENT_SUFFIX.length) + TOMBSTONE_SUFFIX),
      size: 0,
      live: 0,
      active: false,
      tombstones: [],
      tombstoneBytes: 0,
    };
  }

  async readQuarantineSizes(): Promise<void> {
    this.quarantineBytes = (await this.io.size(join(this.dir, QUARANTINE_FILE))) ?? 0;
    this.quarantineReportBytes = (await this.io.size(join(this.dir, QUARANTINE_REPORT))) ?? 0;
  }

  /** The whole file; `reuse` reads into the shared recovery buffer (valid until the next such read). */
  async readWhole(path: string, reuse = false): Promise<Buffer> {
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

  async readWholeIfExists(path: string): Promise<Buffer | undefined> {
    if ((await this.io.size(path)) === undefined) return undefined;
    return this.readWhole(path);
  }

  releaseRecoveryBuffer(): void {
    this.recoveryBuffer = undefined;
  }

  /** Copies damaged bytes aside, durably, with a report line. */
  async quarantine(region: CorruptRegion, bytes: Buffer): Promise<void> {
    const line = Buffer.from(JSON.stringify({ ...region, at: new Date().toISOString(), quarantineOffset: this.quarantineBytes }) + '\n');
    this.quarantineBytes = await this.appendDurably(join(this.dir, QUARANTINE_FILE), bytes, this.quarantineBytes);
    this.quarantineReportBytes = await this.appendDurably(join(this.dir, QUARANTINE_REPORT), line, this.quarantineReportBytes);
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
    if (created) await this.io.fsyncDir(this.dir);
    return at + data.length;
  }

  /** Replaces a damaged segment by one holding only `keep` (tmp + fsync + rename); returns their new offsets. */
  async rewrite(seg: Segment, image: Buffer, keep: FrameInfo[]): Promise<FrameInfo[]> {
    this.forgetReadAhead(seg);
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
    await this.io.fsyncDir(this.dir);
    // The rewritten segment holds no deleted frames, so its tombstones are obsolete.
    await this.dropTombstoneFile(seg);
    return moved;
  }

  /**
   * Opens `seg` for appending with its directory entry durable: a new file, or `reuse`d (an
   * empty segment found at open, truncated). Returns its write descriptor.
   */
  async openForAppend(seg: Segment, reuse: boolean): Promise<number> {
    const fd = await this.io.open(seg.path, reuse ? 'r+' : 'wx');
    try {
      if (reuse) {
        await this.io.ftruncate(fd, 0);
        await this.io.fdatasync(fd);
        await this.dropTombstoneFile(seg);
        seg.size = 0;
      }
      await this.io.fsyncDir(this.dir);
      return fd;
    } catch (err) {
      await this.io.close(fd).catch(() => {});
      if (!reuse) await this.io.unlink(seg.path).catch(() => {});
      throw err;
    }
  }

  async deleteFiles(seg: Segment): Promise<void> {
    this.forgetReadAhead(seg);
    seg.tombstones = [];
    if (seg.readFd) await this.io.close(await seg.readFd).catch(() => {});
    await this.io.unlink(seg.path).catch(() => {});
    await this.dropTombstoneFile(seg);
  }

  private async dropTombstoneFile(seg: Segment): Promise<void> {
    const fd = seg.tombstoneFd;
    seg.tombstoneFd = undefined;
    seg.tombstoneBytes = 0;
    if (fd !== undefined) await this.io.close(fd).catch(() => {});
    await this.io.unlink(seg.tombstonePath).catch(() => {});
  }

  /** Appends the segment's buffered tombstones, unsynced. A failure (disk full) is swallowed: it costs duplicates only. */
  async writeTombstones(seg: Segment): Promise<void> {
    if (seg.tombstones.length === 0) return;
    const data = encodeTombstones(seg.tombstones);
    seg.tombstones = [];
    try {
      if (seg.tombstoneFd === undefined) {
        seg.tombstoneFd = await this.io.open(seg.tombstonePath, 'a');
        seg.tombstoneBytes = (await this.io.size(seg.tombstonePath)) ?? 0;
      }
      await this.io.write(seg.tombstoneFd, data, seg.tombstoneBytes);
      seg.tombstoneBytes += data.length;
    } catch {
      // The records stay deleted in memory; a restart may redeliver them. Reopen next time.
      const fd = seg.tombstoneFd;
      seg.tombstoneFd = undefined;
      if (fd !== undefined) await this.io.close(fd).catch(() => {});
    }
  }

  /**
   * Reads and verifies frames; contiguous frames of one segment are read with one call. A frame
   * whose check fails goes to `onBad` with its bytes and is left out.
   */
  async readRecords(
    items: Located[],
    segmentOf: (ordinal: number) => Segment | undefined,
    onBad: (seg: Segment, it: Located, bytes: Buffer) => Promise<void>,
  ): Promise<Map<number, StoredRecord>> {
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
        const seg = segmentOf(run[0]!.segment);
        if (!seg) return;
        const start = run[0]!.offset;
        const end = run[run.length - 1]!.offset + run[run.length - 1]!.length;
        const { buf, from } = await this.readAt(seg, start, end);
        for (const it of run) {
          const rel = it.offset - from;
          const check = checkFrame(buf, rel);
          if (check.ok && check.info.id === it.id && check.info.length === it.length) {
            out.set(it.id, decodeRecord(buf.subarray(rel, rel + it.length)));
          } else {
            await onBad(seg, it, buf.subarray(rel, Math.min(buf.length, rel + it.length)));
          }
        }
      }),
    );
    return out;
  }

  /** Bytes [start, end) of `seg` (fewer at its end), from the read-ahead buffer or one read that refills it; `from` is buf's offset in the file. */
  private async readAt(seg: Segment, start: number, end: number): Promise<{ buf: Buffer; from: number }> {
    const ahead = this.readAhead;
    if (ahead && ahead.seg === seg && start >= ahead.start && end <= ahead.start + ahead.buf.length) return { buf: ahead.buf, from: ahead.start };
    seg.readFd ??= this.io.open(seg.path, 'r');
    const length = Math.max(end - start, Math.min(READ_AHEAD_BYTES, seg.size - start));
    const buf = await this.io.read(await seg.readFd, length, start);
    if (buf.length > end - start) this.readAhead = { seg, start, buf };
    return { buf, from: start };
  }

  private forgetReadAhead(seg: Segment): void {
    if (this.readAhead?.seg === seg) this.readAhead = undefined;
  }

  /** Closes the descriptors kept open for reading and for tombstones. */
  async closeReaders(segments: Iterable<Segment>): Promise<void> {
    for (const seg of segments) {
      if (seg.readFd) await this.io.close(await seg.readFd.catch(() => -1)).catch(() => {});
      if (seg.tombstoneFd !== undefined) await this.io.close(seg.tombstoneFd).catch(() => {});
      seg.tombstoneFd = undefined;
    }
  }
}
