// The hot path of decodeBatch: one pass over a batch that is canonical MessagePack
// (PROTOCOL §3.1, what our C and TypeScript writers send) and valid, straight from
// the bytes, with no msgpackr object tree. Anything else (JSON, other key orders,
// wider integer forms, float64 values, unknown keys, non-ASCII fw, any invalid
// value) returns undefined and decodeBatch takes the lenient path, which also
// words every error; so this reader never decides an error by itself.
// Accepting means: the lenient path would accept the same bytes with the same
// Batch, and isCanonicalBatch would say true (property-tested in codec-batch-fast).
import type { Batch, Reading } from '../types.ts';
import { BATCH_KEY, BATCH_MAP, FLOAT32, MAX_DEVICE_ID_BYTES, MAX_FW_BYTES, MAX_READINGS, MAX_SENSOR_BYTES, PROTOCOL_VERSION, READING_ARRAY } from './limits.ts';
import { AsciiInterner } from './ascii-interner.ts';

const MAX_SAFE_HI = 0x1f_ffff; // high 32 bits of Number.MAX_SAFE_INTEGER

// Per-byte classes: device [A-Za-z0-9_-], sensor [a-z0-9_], fw any ASCII (interned strings: ascii-interner.ts).
const DEVICE_CHAR = new Uint8Array(256);
const SENSOR_CHAR = new Uint8Array(256);
const FW_CHAR = new Uint8Array(256);
for (let c = 0; c < 128; c++) {
  const ch = String.fromCharCode(c);
  DEVICE_CHAR[c] = /[A-Za-z0-9_-]/.test(ch) ? 1 : 0;
  SENSOR_CHAR[c] = /[a-z0-9_]/.test(ch) ? 1 : 0;
  FW_CHAR[c] = 1;
}

const devices = new AsciiInterner(1024, MAX_DEVICE_ID_BYTES);
const firmwares = new AsciiInterner(64, MAX_FW_BYTES);
const sensors = new AsciiInterner(256, MAX_SENSOR_BYTES);

// The read position, shared by the helpers below (no tuple per field); reset by each call.
let pos = 0;

/** `a1 <k>`: a one-letter key in its canonical place. */
function key(buf: Buffer, k: number): boolean {
  if (buf[pos] !== 0xa1 || buf[pos + 1] !== k) return false;
  pos += 2;
  return true;
}

/** An unsigned int in its smallest form, up to uint32; -1 if not that. */
function uint32(buf: Buffer): number {
  const h = buf[pos]!;
  let v: number;
  if (h < 0x80) {
    pos += 1;
    return h;
  } else if (h === 0xcc && pos + 2 <= buf.length) {
    v = buf[pos + 1]!;
    if (v < 0x80) return -1;
    pos += 2;
  } else if (h === 0xcd && pos + 3 <= buf.length) {
    v = (buf[pos + 1]! << 8) | buf[pos + 2]!;
    if (v <= 0xff) return -1;
    pos += 3;
  } else if (h === 0xce && pos + 5 <= buf.length) {
    v = buf.readUInt32BE(pos + 1);
    if (v <= 0xffff) return -1;
    pos += 5;
  } else return -1;
  return v;
}

/** A fixstr, or a str8 only when it must be one (32..255 bytes); returns the byte length, -1 if not that. */
function strHeader(buf: Buffer, maxBytes: number): number {
  const h = buf[pos]!;
  let n: number;
  if (h >= 0xa1 && h <= 0xbf) {
    n = h & 0x1f;
    pos += 1;
  } else if (h === 0xd9) {
    n = buf[pos + 1]!;
    if (!(n >= 32)) return -1; // also catches a missing length byte
    pos += 2;
  } else return -1; // includes the empty fixstr 0xa0, never valid here
  if (n > maxBytes || pos + n > buf.length) return -1;
  return n;
}

function str(buf: Buffer, maxBytes: number, allowed: Uint8Array, cache: AsciiInterner): string | undefined {
  const n = strHeader(buf, maxBytes);
  if (n < 0) return undefined;
  const s = cache.get(buf, pos, pos + n, allowed);
  pos += n;
  return s;
}

/** The batch when `buf` is canonical and valid, else undefined (see the note at the top). `lazy`: readings are checked now and read on first use. */
export function readCanonicalBatch(buf: Buffer, lazy = false): Batch | undefined {
  // Smallest canonical batch is well over 32 bytes; this also keeps fixed reads below in bounds.
  if (buf.length < 32 || buf[0] !== BATCH_MAP) return undefined;
  pos = 1;
  if (!key(buf, BATCH_KEY.v) || buf[pos] !== PROTOCOL_VERSION) return undefined;
  pos += 1;
  if (!key(buf, BATCH_KEY.d)) return undefined;
  const device = str(buf, MAX_DEVICE_ID_BYTES, DEVICE_CHAR, devices);
  if (device === undefined || pos + 8 > buf.length || !key(buf, BATCH_KEY.b)) return undefined;
  const boot = uint32(buf);
  if (boot < 0 || pos + 8 > buf.length || !key(buf, BATCH_KEY.s)) return undefined;
  const seq = uint32(buf);
  if (seq < 0 || pos + 8 > buf.length || !key(buf, BATCH_KEY.f)) return undefined;
  const fw = str(buf, MAX_FW_BYTES, FW_CHAR, firmwares);
  if (fw === undefined || pos + 12 > buf.length || !key(buf, BATCH_KEY.t)) return undefined;
  let ts: number;
  if (buf[pos] === 0xcf) {
    if (pos + 9 > buf.length) return undefined;
    const hi = buf.readUInt32BE(pos + 1);
    if (hi === 0 || hi > MAX_SAFE_HI) return undefined;
    ts = hi * 0x1_0000_0000 + buf.readUInt32BE(pos + 5);
    pos += 9;
  } else {
    ts = uint32(buf);
    if (ts < 0) return undefined;
  }
  if (pos + 6 > buf.length || !key(buf, BATCH_KEY.u)) return undefined;
  const u = buf[pos];
  if (u !== 0xc2 && u !== 0xc3) return undefined;
  pos += 1;
  if (!key(buf, BATCH_KEY.r)) return undefined;
  const h = buf[pos]!;
  let count: number;
  if (h >= 0x91 && h <= 0x9f) {
    count = h & 0x0f;
    pos += 1;
  } else if (h === 0xdc && pos + 3 <= buf.length) {
    count = (buf[pos + 1]! << 8) | buf[pos + 2]!;
    if (count < 16 || count > MAX_READINGS) return undefined;
    pos += 3;
  } else return undefined;
  // Each reading takes at least 9 bytes: a truncated or lying count fails here, before any allocation.
  if (pos + count * 9 > buf.length) return undefined;
  const at = pos;
  const readings = lazy ? undefined : new Array<Reading>(count);
  if (!readReadings(buf, count, readings)) return undefined;
  if (pos !== buf.length) return undefined;
  if (!readings) return new LazyBatch(device, boot, seq, fw, ts, u === 0xc3, buf, at, count);
  return { v: PROTOCOL_VERSION, device, boot, seq, fw, ts, unsynced: u === 0xc3, readings };
}

/** Reads (or, without `into`, only checks) `count` readings from `pos`. */
function readReadings(buf: Buffer, count: number, into: Reading[] | undefined): boolean {
  for (let i = 0; i < count; i++) {
    if (buf[pos] !== READING_ARRAY) return false;
    pos += 1;
    const sensor = str(buf, MAX_SENSOR_BYTES, SENSOR_CHAR, sensors);
    if (sensor === undefined || pos + 6 > buf.length) return false;
    const offset = uint32(buf);
    if (offset < 0 || pos + 5 > buf.length || buf[pos] !== FLOAT32) return false;
    const value = buf.readFloatBE(pos + 1);
    if (!Number.isFinite(value)) return false;
    pos += 5;
    if (into) into[i] = { sensor, offset, value };
  }
  return true;
}

/**
 * A checked batch whose readings are read from the payload on first use. Ingest only
 * needs their count unless a rule splits the batch, and 16 small objects per batch
 * were about a tenth of the bridge's allocations.
 */
export class LazyBatch implements Batch {
  readonly v = PROTOCOL_VERSION;
  private list: Reading[] | undefined;

  constructor(
    readonly device: string,
    readonly boot: number,
    readonly seq: number,
    readonly fw: string,
    readonly ts: number,
    readonly unsynced: boolean,
    private readonly payload: Buffer,
    private readonly at: number,
    readonly readingCount: number,
  ) {}

  get readings(): Reading[] {
    if (!this.list) {
      const list = new Array<Reading>(this.readingCount);
      pos = this.at;
      // Already checked once; the bytes are the same (ingress never reuses a payload buffer while it is handled).
      if (!readReadings(this.payload, this.readingCount, list)) throw new Error('batch payload changed after it was checked');
      this.list = list;
    }
    return this.list;
  }
}
