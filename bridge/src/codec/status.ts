// The status payload (PROTOCOL §5): birth / periodic status, and the 4-key last will.
// Keys stay the wire keys: the status is small and consumers read them directly.

import type { DecodeErrorCode, DecodeResult } from '../types.ts';
import { asInt32, asUint32, describe, isDeviceId, isPlainMap } from './fields.ts';
import { MAX_PAYLOAD_BYTES, PROTOCOL_VERSION, UINT32_MAX } from './limits.ts';
import { keyBytes, MsgpackWriter } from './msgpack-writer.ts';
import { unpackMsgpack } from './payload-reader.ts';

export type StatusState = 'online' | 'offline';

/** A full status, as a node sends at birth, every 60 s and after each command. */
export interface DeviceStatus {
  v: 1;
  d: string;
  b: number;
  st: StatusState;
  /** Uptime, s. */
  up: number;
  /** Wi-Fi RSSI, dBm; 0 when not on Wi-Fi. */
  rssi: number;
  heap: number;
  drop: number;
  /** Sample interval, ms. */
  iv: number;
  /** Batch size, readings. */
  bs: number;
  /** Id of the last command applied, 0 if none. */
  cmd: number;
}

/** What decodeStatus returns: the last will carries only v, d, b and st. */
export type StatusMessage = Pick<DeviceStatus, 'v' | 'd' | 'b' | 'st'> & Partial<Omit<DeviceStatus, 'v' | 'd' | 'b' | 'st'>>;

/** The optional numeric keys, in wire order, with their checks. */
const DETAIL_FIELDS = [
  ['up', asUint32, 'uint32'],
  ['rssi', asInt32, 'int32'],
  ['heap', asUint32, 'uint32'],
  ['drop', asUint32, 'uint32'],
  ['iv', asUint32, 'uint32'],
  ['bs', asUint32, 'uint32'],
  ['cmd', asUint32, 'uint32'],
] as const;

function fail(error: DecodeErrorCode, detail: string): { ok: false; error: DecodeErrorCode; detail: string } {
  return { ok: false, error, detail };
}

/**
 * Decodes a status or last-will payload. Keys after `st` are optional (the will has
 * none) but checked when present; unknown keys are ignored. Never throws.
 */
export function decodeStatus(payload: Buffer): DecodeResult<StatusMessage> {
  if (payload.length > MAX_PAYLOAD_BYTES) {
    return fail('too_large', `payload of ${payload.length} bytes exceeds ${MAX_PAYLOAD_BYTES}`);
  }
  const raw = unpackMsgpack(payload);
  if (!raw.ok) return fail('malformed', raw.detail);
  const map = raw.value;
  if (!isPlainMap(map)) return fail('not_a_map', `top level is ${describe(map)}, expected a map`);

  if (map.v === undefined) return fail('missing_field', 'missing v (version)');
  if (asUint32(map.v) !== PROTOCOL_VERSION) {
    return fail('unsupported_version', `v (version) is ${describe(map.v)}, expected ${PROTOCOL_VERSION}`);
  }
  if (map.d === undefined) return fail('missing_field', 'missing d (device)');
  if (!isDeviceId(map.d)) return fail('bad_field', `bad d (device): expected 1..64 bytes of [A-Za-z0-9_-], got ${describe(map.d)}`);
  if (map.b === undefined) return fail('missing_field', 'missing b (boot)');
  const b = asUint32(map.b);
  if (b === undefined) return fail('bad_field', `bad b (boot): expected uint32, got ${describe(map.b)}`);
  if (map.st === undefined) return fail('missing_field', 'missing st (state)');
  if (map.st !== 'online' && map.st !== 'offline') {
    return fail('bad_field', `bad st (state): expected "online" or "offline", got ${describe(map.st)}`);
  }

  const status: StatusMessage = { v: PROTOCOL_VERSION, d: map.d, b, st: map.st };
  for (const [key, read, expected] of DETAIL_FIELDS) {
    const wire = map[key];
    if (wire === undefined) continue;
    const value = read(wire);
    if (value === undefined) return fail('bad_field', `bad ${key}: expected ${expected}, got ${describe(wire)}`);
    status[key] = value;
  }
  return { ok: true, value: status };
}

const KEY = {
  v: keyBytes('v'),
  d: keyBytes('d'),
  b: keyBytes('b'),
  st: keyBytes('st'),
  up: keyBytes('up'),
  rssi: keyBytes('rssi'),
  heap: keyBytes('heap'),
  drop: keyBytes('drop'),
  iv: keyBytes('iv'),
  bs: keyBytes('bs'),
  cmd: keyBytes('cmd'),
};

const writer = new MsgpackWriter();

function writeHead(w: MsgpackWriter, keys: number, d: string, b: number, st: StatusState): void {
  w.mapHeader(keys);
  w.raw(KEY.v);
  w.uint(PROTOCOL_VERSION, PROTOCOL_VERSION, 'v');
  w.raw(KEY.d);
  w.str(d);
  w.raw(KEY.b);
  w.uint(b, UINT32_MAX, 'b');
  w.raw(KEY.st);
  w.str(st);
}

/** Canonical bytes of a full 11-key status (birth, periodic, after a command). */
export function encodeStatus(status: DeviceStatus): Buffer {
  const w = writer.reset();
  writeHead(w, 11, status.d, status.b, status.st);
  w.raw(KEY.up);
  w.uint(status.up, UINT32_MAX, 'up');
  w.raw(KEY.rssi);
  w.int32(status.rssi, 'rssi');
  w.raw(KEY.heap);
  w.uint(status.heap, UINT32_MAX, 'heap');
  w.raw(KEY.drop);
  w.uint(status.drop, UINT32_MAX, 'drop');
  w.raw(KEY.iv);
  w.uint(status.iv, UINT32_MAX, 'iv');
  w.raw(KEY.bs);
  w.uint(status.bs, UINT32_MAX, 'bs');
  w.raw(KEY.cmd);
  w.uint(status.cmd, UINT32_MAX, 'cmd');
  return w.finish();
}

/** Canonical bytes of the last will registered at connect: {v, d, b, st: "offline"}. */
export function encodeLastWill(will: { d: string; b: number }): Buffer {
  const w = writer.reset();
  writeHead(w, 4, will.d, will.b, 'offline');
  return w.finish();
}
