// Is this payload already the canonical msgpack of this batch (PROTOCOL.md 3.1)?
// If so the router forwards the bytes it received instead of re-encoding: the
// hot path. The codec has already decoded and validated `payload` into `batch`,
// so it is enough to check every structural byte (map/array/str headers, keys,
// integer and float type bytes) against the canonical layout: same structure,
// same values -> same bytes. Anything else (reordered or unknown keys, wider
// integer forms, float64 values) returns false and the caller re-encodes.
import type { Batch } from '../types.ts';
import { BATCH_KEY as K, BATCH_MAP, FLOAT32, READING_ARRAY } from './limits.ts';

export function isCanonicalBatch(buf: Buffer, batch: Batch): boolean {
  if (buf[0] !== BATCH_MAP) return false;
  let p = 1;
  p = key(buf, p, K.v); p = uint(buf, p, batch.v);
  p = key(buf, p, K.d); p = str(buf, p, batch.device);
  p = key(buf, p, K.b); p = uint(buf, p, batch.boot);
  p = key(buf, p, K.s); p = uint(buf, p, batch.seq);
  p = key(buf, p, K.f); p = str(buf, p, batch.fw);
  p = key(buf, p, K.t); p = uint(buf, p, batch.ts);
  p = key(buf, p, K.u);
  if (p < 0 || buf[p] !== (batch.unsynced ? 0xc3 : 0xc2)) return false;
  p = key(buf, p + 1, K.r);
  if (p < 0) return false;
  const n = batch.readings.length;
  if (n <= 15) {
    if (buf[p] !== (0x90 | n)) return false;
    p += 1;
  } else {
    if (buf[p] !== 0xdc || p + 3 > buf.length || buf.readUInt16BE(p + 1) !== n) return false;
    p += 3;
  }
  for (const r of batch.readings) {
    if (buf[p] !== READING_ARRAY) return false;
    p = str(buf, p + 1, r.sensor);
    p = uint(buf, p, r.offset);
    if (p < 0 || buf[p] !== FLOAT32) return false;
    p += 5;
  }
  return p === buf.length;
}

// Each helper returns the next position, or -1 (and keeps returning -1: buf[-1] is undefined).
function key(buf: Buffer, p: number, k: number): number {
  return p >= 0 && buf[p] === 0xa1 && buf[p + 1] === k ? p + 2 : -1;
}

function uint(buf: Buffer, p: number, n: number): number {
  if (p < 0) return -1;
  const h = buf[p];
  if (n <= 0x7f) return h === n ? p + 1 : -1;
  if (n <= 0xff) return h === 0xcc ? p + 2 : -1;
  if (n <= 0xffff) return h === 0xcd ? p + 3 : -1;
  if (n <= 0xffffffff) return h === 0xce ? p + 5 : -1;
  return h === 0xcf ? p + 9 : -1;
}

function str(buf: Buffer, p: number, s: string): number {
  if (p < 0) return -1;
  const len = Buffer.byteLength(s);
  if (len <= 31) return buf[p] === (0xa0 | len) ? p + 1 + len : -1;
  if (len <= 255) return buf[p] === 0xd9 && buf[p + 1] === len ? p + 2 + len : -1;
  return -1;
}
