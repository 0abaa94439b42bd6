// The segment log's recovery: rebuilds the ledger from the files at open.
//
// Invariants:
// - Recovery never refuses to start: every frame is CRC-checked; damaged bytes are copied
//   to the quarantine before the segment is rewritten without them; the scanner resyncs on
//   the next valid frame and always advances, so it cannot loop.
// - A record is live unless a tombstone names it or a later segment already held its id.
// - The id watermark (the next id) is made durable, as the name of the new active segment,
//   before any segment file is deleted, so ids are never reused.
// - Leftovers of an interrupted operation (`.tmp` files, tombstone files without their
//   segment) are removed.
import { join } from 'node:path';
import { decodeTombstones, parseSegmentName, scanSegment, segmentName, SEGMENT_SUFFIX, TOMBSTONE_SUFFIX, type FrameInfo } from './format.ts';
import type { Ledger } from './ledger.ts';
import type { Segment, SegmentFiles } from './segment-files.ts';
import type { CorruptRegion, OpenReport } from './store.ts';
import type { Writer } from './writer.ts';

export async function recover(files: SegmentFiles, ledger: Ledger, writer: Writer): Promise<Omit<OpenReport, 'durationMs'>> {
  const { io, dir } = files;
  await io.mkdirp(dir);
  const names = await io.readdir(dir);
  for (const name of names) if (name.endsWith('.tmp')) await io.unlink(join(dir, name));
  const segmentIds = names.map(parseSegmentName).filter((n): n is number => n !== undefined).sort((a, b) => a - b);
  const segmentSet = new Set(names.filter((n) => n.endsWith(SEGMENT_SUFFIX)));
  for (const name of names) {
    // A tombstone file outlives its segment only after a crash between the two unlinks.
    if (name.endsWith(TOMBSTONE_SUFFIX) && !segmentSet.has(name.slice(0, -TOMBSTONE_SUFFIX.length) + SEGMENT_SUFFIX)) {
      await io.unlink(join(dir, name)).catch(() => {});
    }
  }
  await files.readQuarantineSizes();

  const corrupt: CorruptRegion[] = [];
  const empty: Segment[] = [];
  let alreadyDeleted = 0;
  let lastIndexedId = 0;
  let nextId = 1;
  for (const firstId of segmentIds) {
    const seg = files.newSegment(firstId);
    nextId = Math.max(nextId, firstId);
    const image = await files.readWhole(seg.path, true);
    const gone = decodeTombstones((await files.readWholeIfExists(seg.tombstonePath)) ?? Buffer.alloc(0));
    const frames: FrameInfo[] = [];
    const damaged = scanSegment(image, (f) => frames.push(f));
    let keep: FrameInfo[] = [];
    for (const f of frames) {
      nextId = Math.max(nextId, f.id + 1);
      if (gone.has(f.id) || f.id <= lastIndexedId) alreadyDeleted++;
      else keep.push(f);
    }
    if (damaged.length > 0) {
      for (const d of damaged) {
        const region = { segment: segmentName(firstId), ...d };
        await files.quarantine(region, image.subarray(d.offset, d.offset + d.bytes));
        corrupt.push(region);
      }
      keep = await files.rewrite(seg, image, keep);
    }
    seg.size = damaged.length > 0 ? keep.reduce((n, f) => n + f.length, 0) : image.length;
    for (const f of keep) {
      ledger.recovered(seg, f.id, f.offset, f.length, f.acceptedAt);
      lastIndexedId = f.id;
    }
    if (seg.live === 0) empty.push(seg);
    else ledger.segments.set(seg.ordinal, seg);
  }

  files.releaseRecoveryBuffer();
  writer.nextId = nextId;
  const reuse = empty.find((s) => s.firstId === nextId);
  await writer.startSegment(nextId, reuse);
  for (const seg of empty) if (seg !== reuse) await files.deleteFiles(seg);
  return {
    pending: ledger.pending,
    pendingBytes: ledger.bytes,
    alreadyDeleted,
    segments: ledger.segments.size,
    nextId,
    corrupt,
    quarantinedBytes: files.quarantineBytes,
  };
}
