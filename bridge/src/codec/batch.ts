// The telemetry batch (PROTOCOL §3): a lenient reader for MessagePack or JSON, a
// canonical MessagePack writer (§3.1) and a JSON writer. Hot path: no zod here.

import type { Batch, DecodeErrorCode, DecodeResult, Reading } from '../types.ts';
import {
  asFloat32,
  asSafeUint,
  asUint32,
  describe,
  isDeviceId,
  isPlainMap,
  isSensorName,
  isShortString,
} from './fields.ts';
import { MAX_FW_BYTES, MAX_PAYLOAD_BYTES, MAX_READINGS, MIN_READINGS, PROTOCOL_VERSION, UINT32_MAX } from './limits.ts';
import { keyBytes, MsgpackWriter } from './msgpack-writer.ts';
import { looksLikeJson, parseJson, unpackMsgpack } from './payload-reader.ts';
import { LazyBatch, readCanonicalBatch } from './batch-fast.ts';


function fail(error: DecodeErrorCode, detail: string): { ok: false; error: DecodeErrorCode; detail: string } {
  return { ok: false, error, detail };
}

function missing(key: string, name: string) {
  return fail('missing_field', `missing ${key} (${name})`);
}

function bad(key: string, name: string, expected: string, got: unknown) {
  return fail('bad_field', `bad ${key} (${name}): expected ${expected}, got ${describe(got)}`);
}

/** What decodeBatch learnt about the payload's form, beside its result. */
export interface BatchForm {
  /** true: the payload is the canonical encoding of the batch (PROTOCOL §3.1); undefined: not known. */
  canonical?: boolean;
  /** In: a canonical batch may read its readings on first use (see LazyBatch); the payload must not change meanwhile. */
  lazyReadings?: boolean;
  /** Out: how many readings the batch holds (without touching `readings`). */
  readingCount?: number;
}

/**
 * Decodes and validates one batch payload. MessagePack unless the first
 * non-whitespace byte is `{` (then JSON). Never throws: bad input gives a typed error.
 * Canonical msgpack (what nodes send) is read in one pass (batch-fast.ts) and `form`,
 * when given, says so; everything else, and every error, goes through msgpackr/JSON
 * and validateBatchMap.
 */
export function decodeBatch(payload: Buffer, form?: BatchForm): DecodeResult<Batch> {
  if (form) {
    form.canonical = undefined;
    form.readingCount = undefined;
  }
  if (payload.length > MAX_PAYLOAD_BYTES) {
    return fail('too_large', `payload of ${payload.length} bytes exceeds ${MAX_PAYLOAD_BYTES}`);
  }
  try {
    const fast = readCanonicalBatch(payload, form?.lazyReadings === true);
    if (fast) {
      if (form) {
        form.canonical = true;
        form.readingCount = fast instanceof LazyBatch ? fast.readingCount : fast.readings.length;
      }
      return { ok: true, value: fast };
    }
  } catch {
    // It checks every bound and should not throw; if it ever does, the lenient path decides.
  }
  const lenient = decodeBatchLenient(payload);
  if (form && lenient.ok) form.readingCount = lenient.value.readings.length;
  return lenient;
}

/** decodeBatch without the canonical fast path: msgpackr or JSON, then validateBatchMap. */
export function decodeBatchLenient(payload: Buffer): DecodeResult<Batch> {
  if (payload.length > MAX_PAYLOAD_BYTES) {
    return fail('too_large', `payload of ${payload.length} bytes exceeds ${MAX_PAYLOAD_BYTES}`);
  }
  try {
    const raw = looksLikeJson(payload) ? parseJson(payload) : unpackMsgpack(payload);
    if (!raw.ok) return fail('malformed', raw.detail);
    return validateBatchMap(raw.value);
  } catch (err) {
    // Validation does not throw on any input we know of; this keeps the promise if it ever does.
    return fail('malformed', `unexpected decoder failure: ${String(err)}`);
  }
}

/** Checks an already-parsed batch map (wire keys) and maps it onto Batch. */
export function validateBatchMap(map: unknown): DecodeResult<Batch> {
  if (!isPlainMap(map)) return fail('not_a_map', `top level is ${describe(map)}, expected a map`);

  const v = map.v;
  if (v === undefined) return missing('v', 'version');
  if (asUint32(v) !== PROTOCOL_VERSION) return fail('unsupported_version', `v (version) is ${describe(v)}, expected ${PROTOCOL_VERSION}`);

  const d = map.d;
  if (d === undefined) return missing('d', 'device');
  if (!isDeviceId(d)) return bad('d', 'device', '1..64 bytes of [A-Za-z0-9_-]', d);

  if (map.b === undefined) return missing('b', 'boot');
  const boot = asUint32(map.b);
  if (boot === undefined) return bad('b', 'boot', 'uint32', map.b);

  if (map.s === undefined) return missing('s', 'seq');
  const seq = asUint32(map.s);
  if (seq === undefined) return bad('s', 'seq', 'uint32', map.s);

  const f = map.f;
  if (f === undefined) return missing('f', 'fw');
  if (!isShortString(f, MAX_FW_BYTES)) return bad('f', 'fw', `string of 1..${MAX_FW_BYTES} bytes`, f);

  if (map.t === undefined) return missing('t', 'ts');
  const ts = asSafeUint(map.t);
  if (ts === undefined) return bad('t', 'ts', 'uint64 up to 2^53-1', map.t);

  const u = map.u;
  if (u === undefined) return missing('u', 'unsynced');
  if (typeof u !== 'boolean') return bad('u', 'unsynced', 'bool', u);

  const r = map.r;
  if (r === undefined) return missing('r', 'readings');
  if (!Array.isArray(r)) return bad('r', 'readings', 'array', r);
  if (r.length < MIN_READINGS || r.length > MAX_READINGS) {
    return bad('r', 'readings', `${MIN_READINGS}..${MAX_READINGS} entries`, r);
  }

  const readings: Reading[] = new Array<Reading>(r.length);
  for (let i = 0; i < r.length; i++) {
    const entry: unknown = r[i];
    if (!Array.isArray(entry) || entry.length !== 3) return bad(`r[${i}]`, 'reading', '[sensor, offset, value]', entry);
    const sensor: unknown = entry[0];
    if (!isSensorName(sensor)) return bad(`r[${i}][0]`, 'sensor', '1..32 bytes of [a-z0-9_]', sensor);
    const offset = asUint32(entry[1]);
    if (offset === undefined) return bad(`r[${i}][1]`, 'offset', 'uint32', entry[1]);
    const value = asFloat32(entry[2]);
    if (value === undefined) return bad(`r[${i}][2]`, 'value', 'finite float32', entry[2]);
    readings[i] = { sensor, offset, value };
  }

  return { ok: true, value: { v: PROTOCOL_VERSION, device: d, boot, seq, fw: f, ts, unsynced: u, readings } };
}

const KEY = {
  v: keyBytes('v'),
  d: keyBytes('d'),
  b: keyBytes('b'),
  s: keyBytes('s'),
  f: keyBytes('f'),
  t: keyBytes('t'),
  u: keyBytes('u'),
  r: keyBytes('r'),
};

// Encoding is synchronous, so one scratch writer serves every call.
const writer = new MsgpackWriter();

/** The canonical MessagePack bytes of a batch (PROTOCOL §3.1), identical to the C writer's. */
export function encodeBatch(batch: Batch): Buffer {
  const w = writer.reset();
  w.mapHeader(8);
  w.raw(KEY.v);
  w.uint(batch.v, PROTOCOL_VERSION, 'v');
  w.raw(KEY.d);
  w.str(batch.device);
  w.raw(KEY.b);
  w.uint(batch.boot, UINT32_MAX, 'boot');
  w.raw(KEY.s);
  w.uint(batch.seq, UINT32_MAX, 'seq');
  w.raw(KEY.f);
  w.str(batch.fw);
  w.raw(KEY.t);
  w.uint(batch.ts, Number.MAX_SAFE_INTEGER, 'ts');
  w.raw(KEY.u);
  w.bool(batch.unsynced);
  w.raw(KEY.r);
  w.arrayHeader(batch.readings.length);
  for (const reading of batch.readings) {
    w.arrayHeader(3);
    w.str(reading.sensor);
    w.uint(reading.offset, UINT32_MAX, 'offset');
    w.float32(reading.value, 'value');
  }
  return w.finish();
}

/** The JSON form (PROTOCOL §3.2), same keys and order; values as the shortest text of their float32. */
export function encodeBatchJson(batch: Batch): Buffer {
  const readings = batch.readings.map(
    (r) => `[${JSON.stringify(r.sensor)},${jsonUint(r.offset, UINT32_MAX, 'offset')},${float32Text(r.value)}]`,
  );
  const text =
    `{"v":${jsonUint(batch.v, PROTOCOL_VERSION, 'v')},"d":${JSON.stringify(batch.device)}` +
    `,"b":${jsonUint(batch.boot, UINT32_MAX, 'boot')},"s":${jsonUint(batch.seq, UINT32_MAX, 'seq')}` +
    `,"f":${JSON.stringify(batch.fw)},"t":${jsonUint(batch.ts, Number.MAX_SAFE_INTEGER, 'ts')}` +
    `,"u":${batch.unsynced ? 'true' : 'false'},"r":[${readings.join(',')}]}`;
  return Buffer.from(text, 'utf8');
}

function jsonUint(value: number, max: number, what: string): string {
  if (!Number.isInteger(value) || value < 0 || value > max) {
    throw new RangeError(`${what}: ${value} is not an integer in 0..${max}`);
  }
  return String(value);
}

/** Shortest decimal that reads back as the same float32, so 21.3 stays "21.3" rather than "21.299999237060547". */
export function float32Text(value: number): string {
  const f = Math.fround(value);
  if (!Number.isFinite(f)) throw new RangeError(`value: ${value} is not a finite float32`);
  for (let digits = 1; digits < 9; digits++) {
    const candidate = Number(f.toPrecision(digits));
    if (Math.fround(candidate) === f) return String(candidate);
  }
  return String(Number(f.toPrecision(9))); // 9 significant digits always round-trip a float32
}
