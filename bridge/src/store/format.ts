// On-disk formats of the segment log. Pure functions over buffers, no I/O.
//
// Record frame (big endian), 32-byte header then payload:
//   0 magic 'EFR1' | 4 crc32 of bytes [8, frameLen) | 8 frameLen | 12 id (u64 as hi,lo)
//   20 acceptedAt f64 | 28 metaLen | 32 meta (msgpack) | body
// The CRC covers the length and the id, so a garbled length or id fails the check
// instead of steering the scanner. The magic lets a scanner resync after damage.
//
// Tombstone frame (the .ack file next to each segment): 'EAK1' | count | crc32 of ids | ids f64...
import { crc32 } from 'node:zlib';
import { Packr } from 'msgpackr';
import type { OutboundMessage, StoredRecord } from '../types.ts';
import { MsgpackWriter } from '../codec/msgpack-writer.ts';
import { AsciiInterner, ANY_ASCII } from '../codec/ascii-interner.ts';

export const FRAME_MAGIC = 0x45465231;
export const ACK_MAGIC = 0x45414b31;
export const HEADER_BYTES = 32;
/** Larger frames are taken as garbage (a garbled length), never allocated. */
export const MAX_FRAME_BYTES = 64 * 1024 * 1024;

const FRAME_MAGIC_BYTES = Buffer.from([0x45, 0x46, 0x52, 0x31]);
const ACK_MAGIC_BYTES = Buffer.from([0x45, 0x41, 0x4b, 0x31]);
const packr = new Packr({ useRecords: false });
// Encoding is synchronous: one scratch writer builds every frame.
const writer = new MsgpackWriter();

/**
 * The meta array [routingKey, messageId, device, contentType, headers] is written
 * by MsgpackWriter straight into the frame, byte for byte as msgpackr's Packr
 * writes it (map16 for the headers, smallest str and int forms, float64 for other
 * numbers), so every frame decodes the same, whichever wrote it. A meta with a
 * non-ASCII string or a header that is neither string nor number goes through
 * Packr (msgpackr's UTF-8 differs from Buffer's on lone surrogates).
 */
export function encodeRecord(id: number, msg: OutboundMessage): Buffer {
  const w = writer.reset();
  if (!writeMeta(w, msg)) return encodeRecordWithPackr(id, msg);
  const metaLen = w.length;
  const frame = Buffer.allocUnsafe(HEADER_BYTES + metaLen + msg.body.length);
  w.copyTo(frame, HEADER_BYTES);
  msg.body.copy(frame, HEADER_BYTES + metaLen);
  fillHeader(frame, id, msg.acceptedAt, metaLen);
  return frame;
}

function writeMeta(w: MsgpackWriter, msg: OutboundMessage): boolean {
  w.arrayHeader(5);
  if (!w.asciiStr(msg.routingKey) || !w.asciiStr(msg.messageId) || !w.asciiStr(msg.device) || !w.asciiStr(msg.contentType)) return false;
  const { headers } = msg;
  // One pass, count patched in afterwards (as Packr does).
  const countAt = w.length;
  w.map16Header(0);
  let count = 0;
  for (const k in headers) {
    if (!Object.hasOwn(headers, k)) continue;
    if (!w.asciiStr(k)) return false;
    const v = headers[k];
    if (typeof v === 'number') w.number(v);
    else if (typeof v !== 'string' || !w.asciiStr(v)) return false;
    count++;
  }
  if (count > 0xffff) return false;
  w.patchUint16(countAt + 1, count);
  return true;
}

/** The encoder before MsgpackWriter took over; still the fallback for unusual metas. */
export function encodeRecordWithPackr(id: number, msg: OutboundMessage): Buffer {
  const meta = packr.pack([msg.routingKey, msg.messageId, msg.device, msg.contentType, msg.headers]);
  const frameLen = HEADER_BYTES + meta.length + msg.body.length;
  const frame = Buffer.allocUnsafe(frameLen);
  meta.copy(frame, HEADER_BYTES);
  msg.body.copy(frame, HEADER_BYTES + meta.length);
  fillHeader(frame, id, msg.acceptedAt, meta.length);
  return frame;
}

function fillHeader(frame: Buffer, id: number, acceptedAt: number, metaLen: number): void {
  frame.writeUInt32BE(FRAME_MAGIC, 0);
  frame.writeUInt32BE(frame.length, 8);
  frame.writeUInt32BE(Math.floor(id / 0x1_0000_0000), 12);
  frame.writeUInt32BE(id >>> 0, 16);
  frame.writeDoubleBE(acceptedAt, 20);
  frame.writeUInt32BE(metaLen, 28);
  frame.writeUInt32BE(crc32(frame.subarray(8)), 4);
}

export interface FrameInfo {
  id: number;
  offset: number;
  length: number;
  acceptedAt: number;
}

export type FrameCheck = { ok: true; info: FrameInfo } | { ok: false; reason: 'bad-crc' | 'bad-header' | 'short' };

/** Checks the frame starting at `offset` of `buf` (offset is also reported as the frame's position). */
export function checkFrame(buf: Buffer, offset: number, base = 0): FrameCheck {
  if (buf.length - offset < HEADER_BYTES) return { ok: false, reason: 'short' };
  if (buf.readUInt32BE(offset) !== FRAME_MAGIC) return { ok: false, reason: 'bad-header' };
  const frameLen = buf.readUInt32BE(offset + 8);
  const metaLen = buf.readUInt32BE(offset + 28);
  if (frameLen < HEADER_BYTES || frameLen > MAX_FRAME_BYTES || metaLen > frameLen - HEADER_BYTES) {
    return { ok: false, reason: 'bad-header' };
  }
  if (buf.length - offset < frameLen) return { ok: false, reason: 'short' };
  if (crc32(buf.subarray(offset + 8, offset + frameLen)) !== buf.readUInt32BE(offset + 4)) {
    return { ok: false, reason: 'bad-crc' };
  }
  const id = buf.readUInt32BE(offset + 12) * 0x1_0000_0000 + buf.readUInt32BE(offset + 16);
  return { ok: true, info: { id, offset: base + offset, length: frameLen, acceptedAt: buf.readDoubleBE(offset + 20) } };
}

type Meta = [string, string, string, OutboundMessage['contentType'], Record<string, string | number>];

/** Decodes a frame already known to be valid (checkFrame ok). */
export function decodeRecord(frame: Buffer): StoredRecord {
  const metaLen = frame.readUInt32BE(28);
  const [routingKey, messageId, device, contentType, headers] =
    readMeta(frame, HEADER_BYTES, HEADER_BYTES + metaLen) ?? (packr.unpack(frame.subarray(HEADER_BYTES, HEADER_BYTES + metaLen)) as Meta);
  return {
    id: frame.readUInt32BE(12) * 0x1_0000_0000 + frame.readUInt32BE(16),
    size: frame.length,
    routingKey,
    messageId,
    device,
    contentType,
    headers,
    body: frame.subarray(HEADER_BYTES + metaLen),
    acceptedAt: frame.readDoubleBE(20),
  };
}

// The drain path's meta reader: what encodeRecord writes for all-ASCII metas, read
// straight from the frame. Anything else (non-ASCII, other forms) returns undefined
// and msgpackr reads it, so it never has to decide an odd case. The record's strings
// repeat from frame to frame except the message id, so they are interned.
const metaStrings = new AsciiInterner(1024, 128);
let at = 0;

function metaStr(b: Buffer, end: number, intern: boolean): string | undefined {
  const h = b[at]!;
  let n: number;
  if (h >= 0xa0 && h <= 0xbf) {
    n = h & 0x1f;
    at += 1;
  } else if (h === 0xd9 && at + 2 <= end) {
    n = b[at + 1]!;
    at += 2;
  } else if (h === 0xda && at + 3 <= end) {
    n = (b[at + 1]! << 8) | b[at + 2]!;
    at += 3;
  } else return undefined;
  const start = at;
  at += n;
  if (at > end) return undefined;
  if (n === 0) return '';
  if (intern && n <= 128) return metaStrings.get(b, start, at, ANY_ASCII);
  for (let i = start; i < at; i++) if (b[i]! >= 0x80) return undefined;
  return b.toString('latin1', start, at);
}

function metaNumber(b: Buffer, end: number): number | undefined {
  const h = b[at]!;
  if (h < 0x80) {
    at += 1;
    return h;
  }
  if (h >= 0xe0) {
    at += 1;
    return h - 0x100;
  }
  const size = h === 0xcc || h === 0xd0 ? 1 : h === 0xcd || h === 0xd1 ? 2 : h === 0xce || h === 0xd2 ? 4 : h === 0xcb ? 8 : 0;
  if (size === 0 || at + 1 + size > end) return undefined;
  const p = at + 1;
  at = p + size;
  switch (h) {
    case 0xcc: return b[p]!;
    case 0xcd: return b.readUInt16BE(p);
    case 0xce: return b.readUInt32BE(p);
    case 0xd0: return b.readInt8(p);
    case 0xd1: return b.readInt16BE(p);
    case 0xd2: return b.readInt32BE(p);
    default: return b.readDoubleBE(p);
  }
}

function readMeta(b: Buffer, start: number, end: number): Meta | undefined {
  if (b[start] !== 0x95) return undefined;
  at = start + 1;
  const routingKey = metaStr(b, end, true);
  const messageId = metaStr(b, end, false);
  const device = metaStr(b, end, true);
  const contentType = metaStr(b, end, true) as OutboundMessage['contentType'] | undefined;
  if (routingKey === undefined || messageId === undefined || device === undefined || contentType === undefined) return undefined;
  let count: number;
  const h = b[at]!;
  if (h === 0xde && at + 3 <= end) {
    count = (b[at + 1]! << 8) | b[at + 2]!;
    at += 3;
  } else if (h >= 0x80 && h <= 0x8f) {
    count = h & 0x0f;
    at += 1;
  } else return undefined;
  const headers: Record<string, string | number> = {};
  for (let i = 0; i < count; i++) {
    const key = metaStr(b, end, true);
    if (key === undefined || key === '__proto__' || at >= end) return undefined;
    const v = b[at]!;
    const value = (v >= 0xa0 && v <= 0xbf) || v === 0xd9 || v === 0xda ? metaStr(b, end, true) : metaNumber(b, end);
    if (value === undefined) return undefined;
    headers[key] = value;
  }
  return at === end ? [routingKey, messageId, device, contentType, headers] : undefined;
}

export interface DamagedRegion {
  offset: number;
  bytes: number;
  reason: 'bad-crc' | 'bad-header' | 'torn-tail';
}

/**
 * Walks a whole segment image. Damaged bytes are reported as regions; the scan
 * resyncs at the next position that holds a complete valid frame. Every step
 * advances by at least one byte, so it always terminates.
 */
export function scanSegment(buf: Buffer, onFrame: (f: FrameInfo) => void): DamagedRegion[] {
  const damaged: DamagedRegion[] = [];
  let pos = 0;
  while (pos < buf.length) {
    const first = checkFrame(buf, pos);
    if (first.ok) {
      onFrame(first.info);
      pos += first.info.length;
      continue;
    }
    let next = pos + 1;
    for (;;) {
      next = buf.indexOf(FRAME_MAGIC_BYTES, next);
      if (next < 0) {
        next = buf.length;
        break;
      }
      if (checkFrame(buf, next).ok) break;
      next++;
    }
    const reachesEnd = next === buf.length;
    const torn = reachesEnd && (first.reason === 'short' || isZeros(buf, pos));
    const reason = torn ? 'torn-tail' : first.reason === 'bad-crc' ? 'bad-crc' : 'bad-header';
    damaged.push({ offset: pos, bytes: next - pos, reason });
    pos = next;
  }
  return damaged;
}

function isZeros(buf: Buffer, from: number): boolean {
  for (let i = from; i < buf.length; i++) if (buf[i] !== 0) return false;
  return true;
}

export function encodeTombstones(ids: number[]): Buffer {
  const out = Buffer.allocUnsafe(12 + ids.length * 8);
  out.writeUInt32BE(ACK_MAGIC, 0);
  out.writeUInt32BE(ids.length, 4);
  for (let i = 0; i < ids.length; i++) out.writeDoubleBE(ids[i]!, 12 + i * 8);
  out.writeUInt32BE(crc32(out.subarray(12)), 8);
  return out;
}

/** Ids from a tombstone file; damaged frames are skipped (a lost tombstone only means a duplicate). */
export function decodeTombstones(buf: Buffer): Set<number> {
  const ids = new Set<number>();
  let pos = 0;
  while (pos + 12 <= buf.length) {
    const count = buf.readUInt32BE(pos + 4);
    const end = pos + 12 + count * 8;
    if (buf.readUInt32BE(pos) === ACK_MAGIC && end <= buf.length && crc32(buf.subarray(pos + 12, end)) === buf.readUInt32BE(pos + 8)) {
      for (let p = pos + 12; p < end; p += 8) ids.add(buf.readDoubleBE(p));
      pos = end;
      continue;
    }
    const next = buf.indexOf(ACK_MAGIC_BYTES, pos + 1);
    if (next < 0) break;
    pos = next;
  }
  return ids;
}

export const SEGMENT_SUFFIX = '.seg';
export const TOMBSTONE_SUFFIX = '.ack';

/** Segment files are named by the first id they may hold, zero-padded so names sort like ids. */
export function segmentName(firstId: number): string {
  return String(firstId).padStart(16, '0') + SEGMENT_SUFFIX;
}

export function parseSegmentName(name: string): number | undefined {
  const m = /^(\d{16})\.seg$/.exec(name);
  return m ? Number(m[1]) : undefined;
}
