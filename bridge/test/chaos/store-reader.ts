// A reader of the store's files written from docs/store-format.md alone: it imports
// nothing from bridge/src, so a test can use it as an oracle for the store's code.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { unpack } from 'msgpackr';

export interface Frame {
  /** Segment file name. */
  file: string;
  offset: number;
  length: number;
  id: number;
  messageId: string;
}

const FRAME_MAGIC = Buffer.from('EFR1', 'latin1');
const ACK_MAGIC = Buffer.from('EAK1', 'latin1');
const MAX_FRAME = 64 * 1024 * 1024;

/** The valid frame at `at`, or undefined. */
function frameAt(buf: Buffer, at: number, file: string): Frame | undefined {
  if (buf.length - at < 32 || !buf.subarray(at, at + 4).equals(FRAME_MAGIC)) return undefined;
  const len = buf.readUInt32BE(at + 8);
  const metaLen = buf.readUInt32BE(at + 28);
  if (len < 32 || len > MAX_FRAME || metaLen > len - 32 || at + len > buf.length) return undefined;
  if (crc32(buf.subarray(at + 8, at + len)) !== buf.readUInt32BE(at + 4)) return undefined;
  const meta = unpack(buf.subarray(at + 32, at + 32 + metaLen)) as unknown[];
  return { file, offset: at, length: len, id: buf.readUInt32BE(at + 12) * 2 ** 32 + buf.readUInt32BE(at + 16), messageId: String(meta[1]) };
}

/** Valid frames of one segment image, and the damaged byte runs between them. */
export function readSegment(buf: Buffer, file: string): { frames: Frame[]; damaged: Array<{ offset: number; bytes: number }> } {
  const frames: Frame[] = [];
  const damaged: Array<{ offset: number; bytes: number }> = [];
  let at = 0;
  while (at < buf.length) {
    const f = frameAt(buf, at, file);
    if (f) {
      frames.push(f);
      at += f.length;
      continue;
    }
    let next = at + 1;
    for (;;) {
      next = buf.indexOf(FRAME_MAGIC, next);
      if (next < 0 || frameAt(buf, next, file)) break;
      next++;
    }
    if (next < 0) next = buf.length;
    damaged.push({ offset: at, bytes: next - at });
    at = next;
  }
  return { frames, damaged };
}

/** Ids named by a tombstone file; damaged tombstone frames are skipped. */
export function readTombstones(buf: Buffer): Set<number> {
  const ids = new Set<number>();
  let at = 0;
  while (at + 12 <= buf.length) {
    const count = buf.readUInt32BE(at + 4);
    const end = at + 12 + count * 8;
    if (buf.subarray(at, at + 4).equals(ACK_MAGIC) && end <= buf.length && crc32(buf.subarray(at + 12, end)) === buf.readUInt32BE(at + 8)) {
      for (let p = at + 12; p < end; p += 8) ids.add(buf.readDoubleBE(p));
      at = end;
      continue;
    }
    const next = buf.indexOf(ACK_MAGIC, at + 1);
    if (next < 0) break;
    at = next;
  }
  return ids;
}

export const isSegment = (name: string) => /^\d{16}\.seg$/.test(name);

/** Every valid frame of every segment in `dir`, with whether a tombstone names it. */
export function readStore(dir: string): Array<Frame & { deleted: boolean }> {
  const out: Array<Frame & { deleted: boolean }> = [];
  for (const name of readdirSync(dir).filter(isSegment).sort()) {
    let gone = new Set<number>();
    try {
      gone = readTombstones(readFileSync(join(dir, name.replace(/\.seg$/, '.ack'))));
    } catch {
      /* no tombstones yet */
    }
    for (const f of readSegment(readFileSync(join(dir, name)), name).frames) out.push({ ...f, deleted: gone.has(f.id) });
  }
  return out;
}
