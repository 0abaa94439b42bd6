// Field checks shared by the batch, status and command readers. They accept any
// MessagePack or JSON number form that holds a valid value (PROTOCOL §3.1, §8):
// msgpackr hands back numbers, or bigints for the 64-bit forms.

import { INT32_MAX, INT32_MIN, MAX_DEVICE_ID_BYTES, MAX_SENSOR_BYTES, UINT32_MAX } from './limits.ts';

const UINT32_MAX_BIG = BigInt(UINT32_MAX);
const SAFE_MAX_BIG = BigInt(Number.MAX_SAFE_INTEGER);

const DEVICE_ID = new RegExp(`^[A-Za-z0-9_-]{1,${MAX_DEVICE_ID_BYTES}}$`);
const SENSOR_NAME = new RegExp(`^[a-z0-9_]{1,${MAX_SENSOR_BYTES}}$`);

function uintUpTo(x: unknown, max: number, maxBig: bigint): number | undefined {
  if (typeof x === 'number') return Number.isInteger(x) && x >= 0 && x <= max ? x + 0 : undefined; // +0 turns -0 into 0
  if (typeof x === 'bigint') return x >= 0n && x <= maxBig ? Number(x) : undefined;
  return undefined;
}

/** A uint32 in any integer or whole-float form, else undefined. */
export function asUint32(x: unknown): number | undefined {
  return uintUpTo(x, UINT32_MAX, UINT32_MAX_BIG);
}

/** A uint64 that a JS number holds exactly (≤ 2^53-1), else undefined. */
export function asSafeUint(x: unknown): number | undefined {
  return uintUpTo(x, Number.MAX_SAFE_INTEGER, SAFE_MAX_BIG);
}

/** A signed int32 in any integer or whole-float form, else undefined. */
export function asInt32(x: unknown): number | undefined {
  if (typeof x === 'number') return Number.isInteger(x) && x >= INT32_MIN && x <= INT32_MAX ? x + 0 : undefined;
  if (typeof x === 'bigint') return x >= BigInt(INT32_MIN) && x <= BigInt(INT32_MAX) ? Number(x) : undefined;
  return undefined;
}

/** Any number form, rounded to the float32 the protocol carries; undefined if not finite there. */
export function asFloat32(x: unknown): number | undefined {
  const n = typeof x === 'number' ? x : typeof x === 'bigint' ? Number(x) : NaN;
  const f = Math.fround(n);
  return Number.isFinite(f) ? f : undefined;
}

export function isDeviceId(x: unknown): x is string {
  return typeof x === 'string' && DEVICE_ID.test(x);
}

export function isSensorName(x: unknown): x is string {
  return typeof x === 'string' && SENSOR_NAME.test(x);
}

/** 1..max UTF-8 bytes. */
export function isShortString(x: unknown, maxBytes: number): x is string {
  // A JS string needs at least one byte per UTF-16 unit and at most three, so most calls skip byteLength.
  if (typeof x !== 'string' || x.length === 0 || x.length > maxBytes) return false;
  return x.length * 3 <= maxBytes || Buffer.byteLength(x, 'utf8') <= maxBytes;
}

/** True for a decoded map: a plain object, not an array, Map, Date or other extension value. */
export function isPlainMap(x: unknown): x is Record<string, unknown> {
  if (typeof x !== 'object' || x === null) return false;
  const proto = Object.getPrototypeOf(x) as unknown;
  return proto === Object.prototype || proto === null;
}

/** A short, safe rendering of a bad value for error details. */
export function describe(x: unknown): string {
  let text: string;
  if (typeof x === 'string') text = JSON.stringify(x);
  else if (typeof x === 'bigint') text = `${x}`;
  else if (typeof x === 'number' || typeof x === 'boolean' || x === null || x === undefined) text = String(x);
  else if (Array.isArray(x)) text = `array(${x.length})`;
  else if (x instanceof Uint8Array) text = `bin(${x.length})`;
  else if (isPlainMap(x)) text = 'map';
  else text = typeof x === 'object' ? (x.constructor?.name ?? 'object') : typeof x;
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}
