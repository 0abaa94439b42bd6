import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import {
  AckCode,
  cobsDecode,
  cobsEncode,
  crc16,
  encodeAck,
  encodeFrame,
  encodeRawFrame,
  FrameDecoder,
  FrameType,
  MAX_ENCODED_FRAME,
  type Frame,
  type FrameErrorKind,
  type FrameTypeCode,
} from '../../src/codec/index.ts';

function load<T>(file: string): T {
  return JSON.parse(readFileSync(new URL(`../../../shared/protocol/vectors/${file}`, import.meta.url), 'utf8')) as T;
}
const crcVectors = load<{ vectors: { data: string; crc: string }[] }>('crc16.json');
const cobsVectors = load<{
  valid: { decoded: string; encoded: string }[];
  invalid: { name: string; encoded: string; error: string }[];
}>('cobs.json');
const frameVectors = load<{
  valid: { name: string; version: number; type: FrameTypeCode; seq: number; payload: string; raw: string; wire: string }[];
  invalid: { name: string; wire: string; error: FrameErrorKind }[];
}>('frame.json');
const bytes = (hex: string) => Buffer.from(hex, 'hex');

/** A decoder that records everything it reports. */
function recordingDecoder() {
  const frames: Frame[] = [];
  const errors: [FrameErrorKind, number][] = [];
  const decoder = new FrameDecoder({ onFrame: (f) => frames.push(f), onError: (k, n) => errors.push([k, n]) });
  return { decoder, frames, errors };
}

/** Small deterministic PRNG, so a failing chunking can be replayed. */
function mulberry32(seed: number) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function pushInRandomChunks(decoder: FrameDecoder, wire: Buffer, seed: number): void {
  const rand = mulberry32(seed);
  let at = 0;
  while (at < wire.length) {
    const size = 1 + Math.floor(rand() * (rand() < 0.5 ? 8 : 600));
    decoder.push(wire.subarray(at, at + size));
    at += size;
  }
}

describe('crc16 (CRC-16/CCITT-FALSE)', () => {
  it.each(crcVectors.vectors.map((v) => ({ ...v, size: v.data.length / 2 })))('$size bytes -> $crc', ({ data, crc }) => {
    expect(crc16(bytes(data)).toString(16).padStart(4, '0')).toBe(crc);
  });
});

describe('COBS', () => {
  it.each(cobsVectors.valid.map((v) => ({ ...v, size: v.decoded.length / 2 })))('$size bytes encode and decode', ({ decoded, encoded }) => {
    expect(cobsEncode(bytes(decoded)).toString('hex')).toBe(encoded);
    expect(cobsDecode(bytes(encoded))).toEqual({ ok: true, value: bytes(decoded) });
  });

  it.each(cobsVectors.invalid)('$name gives $error', ({ encoded, error }) => {
    const result = cobsDecode(bytes(encoded));
    expect(result.ok ? 'ok' : result.error).toBe(error);
  });

  it('rejects empty input', () => expect(cobsDecode(Buffer.alloc(0)).ok).toBe(false));
});

describe('frames: valid vectors', () => {
  it.each(frameVectors.valid)('$name encodes to its raw and wire bytes', ({ type, seq, payload, raw, wire }) => {
    expect(encodeRawFrame({ type, seq, payload: bytes(payload) }).toString('hex')).toBe(raw);
    expect(encodeFrame({ type, seq, payload: bytes(payload) }).toString('hex')).toBe(wire);
  });

  it.each(frameVectors.valid)('$name decodes from the stream, whole and in random chunks', ({ version, type, seq, payload, wire }) => {
    for (let seed = 0; seed < 20; seed++) {
      const { decoder, frames, errors } = recordingDecoder();
      if (seed === 0) decoder.push(bytes(wire));
      else pushInRandomChunks(decoder, bytes(wire), seed);
      expect(errors).toEqual([]);
      expect(frames).toEqual([{ version, type, seq, payload: bytes(payload) }]);
      expect(decoder.frames).toBe(1);
      expect(decoder.buffered).toBe(0);
    }
  });

  it('encodes acks with their one-byte codes', () => {
    const ack = frameVectors.valid.find((v) => v.name === 'ack_busy')!;
    expect(encodeAck(ack.seq, AckCode.busy).toString('hex')).toBe(ack.wire);
    expect(AckCode).toEqual({ stored: 0, rejected: 1, busy: 2 });
    expect(FrameType).toEqual({ telemetry: 1, status: 2, ack: 3, cmd: 4 });
  });

  it('refuses to encode what a receiver would reject', () => {
    expect(() => encodeFrame({ type: 1, seq: 0, payload: Buffer.alloc(4097) })).toThrow(RangeError);
    expect(() => encodeFrame({ type: 9 as FrameTypeCode, seq: 0, payload: Buffer.alloc(1) })).toThrow(RangeError);
    expect(() => encodeFrame({ type: 1, seq: -1, payload: Buffer.alloc(1) })).toThrow(RangeError);
  });
});

describe('frames: invalid vectors', () => {
  it.each(frameVectors.invalid)('$name gives $error, whole and in random chunks', ({ wire, error }) => {
    for (let seed = 0; seed < 20; seed++) {
      const { decoder, frames, errors } = recordingDecoder();
      if (seed === 0) decoder.push(bytes(wire));
      else pushInRandomChunks(decoder, bytes(wire), seed);
      expect(frames).toEqual([]);
      expect(errors.map(([kind]) => kind)).toEqual([error]);
      expect(decoder.errors[error]).toBe(1);
    }
  });

  it('resynchronises: every valid frame survives when each invalid one is spliced between them', () => {
    // The bad_cobs vector ends in a byte with no delimiter after it; the extra 0x00 is the resync point.
    const stream = Buffer.concat(
      frameVectors.valid.flatMap((v, i) => [bytes(v.wire), bytes(frameVectors.invalid[i % frameVectors.invalid.length]!.wire), Buffer.of(0)]),
    );
    for (let seed = 1; seed <= 20; seed++) {
      const { decoder, frames, errors } = recordingDecoder();
      pushInRandomChunks(decoder, stream, seed);
      expect(frames.map((f) => f.seq)).toEqual(frameVectors.valid.map((v) => v.seq));
      expect(errors.length).toBeGreaterThanOrEqual(frameVectors.valid.length);
    }
  });
});

describe('FrameDecoder limits', () => {
  it('never buffers more than one maximum encoded frame, and reports the whole oversized run', () => {
    const { decoder, errors, frames } = recordingDecoder();
    const noise = Buffer.alloc(1000, 0x55);
    for (let i = 0; i < 50; i++) {
      decoder.push(noise);
      expect(decoder.buffered).toBeLessThanOrEqual(MAX_ENCODED_FRAME);
    }
    decoder.push(Buffer.of(0));
    expect(errors).toEqual([['oversized', 50_000]]);
    const good = encodeFrame({ type: FrameType.status, seq: 0, payload: Buffer.from('hi') });
    decoder.push(good);
    expect(frames.map((f) => f.payload.toString())).toEqual(['hi']);
  });

  it('accepts a frame with the maximum payload', () => {
    const { decoder, frames, errors } = recordingDecoder();
    const payload = Buffer.alloc(4096, 0xff); // no zeros: the worst case for COBS overhead
    decoder.push(encodeFrame({ type: FrameType.telemetry, seq: 1, payload }));
    expect(errors).toEqual([]);
    expect(frames[0]?.payload).toEqual(payload);
  });

  it('ignores empty frames between delimiters', () => {
    const { decoder, frames, errors } = recordingDecoder();
    decoder.push(Buffer.of(0, 0, 0));
    decoder.push(encodeFrame({ type: FrameType.ack, seq: 5, payload: Buffer.of(AckCode.stored) }));
    expect(errors).toEqual([]);
    expect(frames.length).toBe(1);
  });
});
