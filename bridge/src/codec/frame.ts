// Serial frames (PROTOCOL §10): version, type, seq (u32 BE), payload, CRC-16 (BE),
// COBS-encoded and followed by one 0x00 delimiter.

import { cobsEncode, cobsMaxEncodedLength } from './cobs.ts';
import { crc16 } from './crc16.ts';
import { MAX_PAYLOAD_BYTES, PROTOCOL_VERSION, UINT32_MAX } from './limits.ts';

export const FRAME_VERSION = PROTOCOL_VERSION;

export const FrameType = { telemetry: 0x01, status: 0x02, ack: 0x03, cmd: 0x04 } as const;
export type FrameTypeCode = (typeof FrameType)[keyof typeof FrameType];

/** The one-byte payload of an ack frame. */
export const AckCode = { stored: 0x00, rejected: 0x01, busy: 0x02 } as const;
export type AckCodeValue = (typeof AckCode)[keyof typeof AckCode];

const HEADER_BYTES = 6;
const CRC_BYTES = 2;
export const MAX_FRAME_PAYLOAD = MAX_PAYLOAD_BYTES;
/** Largest frame before COBS: header + 4096-byte payload + CRC = 4104. */
export const MAX_RAW_FRAME = HEADER_BYTES + MAX_FRAME_PAYLOAD + CRC_BYTES;
/** Largest frame after COBS, without the delimiter. */
export const MAX_ENCODED_FRAME = cobsMaxEncodedLength(MAX_RAW_FRAME);

export interface Frame {
  version: number;
  type: FrameTypeCode;
  seq: number;
  payload: Buffer;
}

export type FrameErrorKind = 'bad_crc' | 'bad_cobs' | 'oversized' | 'truncated' | 'bad_version' | 'bad_type';
export const FRAME_ERROR_KINDS: readonly FrameErrorKind[] = ['bad_crc', 'bad_cobs', 'oversized', 'truncated', 'bad_version', 'bad_type'];

export type FrameResult = { ok: true; frame: Frame } | { ok: false; error: FrameErrorKind; detail: string };

function isFrameType(x: number): x is FrameTypeCode {
  return x >= FrameType.telemetry && x <= FrameType.cmd;
}

/** The bytes of a frame before COBS (header, payload, CRC). */
export function encodeRawFrame(frame: { type: FrameTypeCode; seq: number; payload: Uint8Array }): Buffer {
  if (!isFrameType(frame.type)) throw new RangeError(`frame type ${frame.type} is not 1..4`);
  if (!Number.isInteger(frame.seq) || frame.seq < 0 || frame.seq > UINT32_MAX) throw new RangeError(`frame seq ${frame.seq} is not a uint32`);
  if (frame.payload.length > MAX_FRAME_PAYLOAD) {
    throw new RangeError(`frame payload of ${frame.payload.length} bytes exceeds ${MAX_FRAME_PAYLOAD}`);
  }
  const raw = Buffer.allocUnsafe(HEADER_BYTES + frame.payload.length + CRC_BYTES);
  raw[0] = FRAME_VERSION;
  raw[1] = frame.type;
  raw.writeUInt32BE(frame.seq, 2);
  raw.set(frame.payload, HEADER_BYTES);
  const crcAt = HEADER_BYTES + frame.payload.length;
  raw.writeUInt16BE(crc16(raw, 0, crcAt), crcAt);
  return raw;
}

/** Wire bytes of a frame: COBS of the raw frame plus the 0x00 delimiter. */
export function encodeFrame(frame: { type: FrameTypeCode; seq: number; payload: Uint8Array }): Buffer {
  const encoded = cobsEncode(encodeRawFrame(frame));
  const wire = Buffer.allocUnsafe(encoded.length + 1);
  wire.set(encoded, 0);
  wire[encoded.length] = 0x00;
  return wire;
}

/** Wire bytes of an ack for a telemetry frame's seq. */
export function encodeAck(seq: number, code: AckCodeValue): Buffer {
  return encodeFrame({ type: FrameType.ack, seq, payload: Buffer.of(code) });
}

/**
 * Checks a frame after COBS decoding. CRC is checked before version and type, so a
 * damaged header reads as bad_crc. Never throws. The payload is a view into `raw`.
 */
export function parseRawFrame(raw: Buffer): FrameResult {
  if (raw.length > MAX_RAW_FRAME) return { ok: false, error: 'oversized', detail: `frame of ${raw.length} bytes exceeds ${MAX_RAW_FRAME}` };
  if (raw.length < HEADER_BYTES + CRC_BYTES) {
    return { ok: false, error: 'truncated', detail: `frame of ${raw.length} bytes is shorter than header + CRC (${HEADER_BYTES + CRC_BYTES})` };
  }
  const crcAt = raw.length - CRC_BYTES;
  const expected = raw.readUInt16BE(crcAt);
  const actual = crc16(raw, 0, crcAt);
  if (expected !== actual) {
    return { ok: false, error: 'bad_crc', detail: `CRC 0x${hex4(actual)} does not match 0x${hex4(expected)}` };
  }
  const version = raw[0]!;
  if (version !== FRAME_VERSION) return { ok: false, error: 'bad_version', detail: `version byte ${version}, expected ${FRAME_VERSION}` };
  const type = raw[1]!;
  if (!isFrameType(type)) return { ok: false, error: 'bad_type', detail: `unknown frame type ${type}` };
  return { ok: true, frame: { version, type, seq: raw.readUInt32BE(2), payload: raw.subarray(HEADER_BYTES, crcAt) } };
}

function hex4(n: number): string {
  return n.toString(16).padStart(4, '0');
}
