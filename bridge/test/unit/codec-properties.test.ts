// Property tests for the codec. Runs per property: 1000, or FUZZ_RUNS (a total for
// this whole file, e.g. 1e6 in the chaos run) shared evenly between the properties.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  cobsDecode,
  cobsEncode,
  cobsMaxEncodedLength,
  decodeBatch,
  decodeCommand,
  decodeStatus,
  encodeBatch,
  encodeBatchJson,
  encodeFrame,
  FrameDecoder,
  MAX_ENCODED_FRAME,
  type Frame,
  type FrameTypeCode,
} from '../../src/codec/index.ts';
import type { Batch } from '../../src/types.ts';

const PROPERTY_COUNT = 8;
const fuzzTotal = Number(process.env.FUZZ_RUNS);
const numRuns = fuzzTotal > 0 ? Math.max(1, Math.floor(fuzzTotal / PROPERTY_COUNT)) : 1000;
// Generous per-property time, growing with the run count.
const timeout = 20_000 + numRuns * 5;
const params = { numRuns };

const DECODE_ERRORS = ['malformed', 'not_a_map', 'unsupported_version', 'missing_field', 'bad_field', 'too_large'];
const COMMAND_ERRORS = ['malformed', 'bad_field', 'bad_op', 'bad_arg', 'unsupported_version'];

const bytes = (maxLength: number) => fc.uint8Array({ maxLength }).map((a) => Buffer.from(a));

/** Splits a buffer at arbitrary points. */
function chunked(wire: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => c % (wire.length + 1)))].sort((a, b) => a - b);
  const chunks: Buffer[] = [];
  let from = 0;
  for (const p of [...points, wire.length]) {
    chunks.push(wire.subarray(from, p));
    from = p;
  }
  return chunks;
}

const deviceId = fc.stringMatching(/^[A-Za-z0-9_-]{1,64}$/);
const sensorName = fc.stringMatching(/^[a-z0-9_]{1,32}$/);
const uint32 = fc.integer({ min: 0, max: 0xffff_ffff });
const firmware = fc.string({ minLength: 1, maxLength: 32, unit: 'binary' }).filter((s) => {
  const n = Buffer.byteLength(s);
  return n >= 1 && n <= 32 && Buffer.from(s).toString() === s; // lone surrogates do not survive UTF-8
});
const batchArb: fc.Arbitrary<Batch> = fc.record({
  v: fc.constant(1 as const),
  device: deviceId,
  boot: uint32,
  seq: uint32,
  fw: firmware,
  ts: fc.oneof(fc.integer({ min: 0, max: 0xffff_ffff }), fc.maxSafeNat()),
  unsynced: fc.boolean(),
  readings: fc.array(
    fc.record({ sensor: fc.oneof(sensorName, fc.constantFrom('temperature', 'humidity', 'pot')), offset: uint32, value: fc.float({ noNaN: true, noDefaultInfinity: true }) }),
    { minLength: 1, maxLength: 256, size: 'small' },
  ),
});

const frameArb = fc.record({
  type: fc.constantFrom<FrameTypeCode>(1, 2, 3, 4),
  seq: uint32,
  payload: fc.oneof(bytes(64), bytes(4096)),
});

describe('codec properties', () => {
  it('COBS: decode(encode(x)) = x, no zero in the encoding, overhead within bounds', { timeout }, () => {
    fc.assert(
      fc.property(fc.oneof(bytes(600), fc.uint8Array({ maxLength: 600, max: 3 }).map((a) => Buffer.from(a))), (data) => {
        const encoded = cobsEncode(data);
        expect(encoded.includes(0)).toBe(false);
        expect(encoded.length).toBeLessThanOrEqual(cobsMaxEncodedLength(data.length));
        expect(cobsDecode(encoded)).toEqual({ ok: true, value: data });
      }),
      params,
    );
  });

  it('FrameDecoder never throws on arbitrary bytes and never holds more than one frame', { timeout }, () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(bytes(64), bytes(5000)), { maxLength: 8 }), (chunks) => {
        const decoder = new FrameDecoder({ onFrame: () => {}, onError: () => {} });
        for (const chunk of chunks) {
          decoder.push(chunk);
          expect(decoder.buffered).toBeLessThanOrEqual(MAX_ENCODED_FRAME);
        }
      }),
      params,
    );
  });

  it('FrameDecoder recovers every good frame after garbage and a delimiter, in any chunking', { timeout }, () => {
    fc.assert(
      fc.property(fc.oneof(bytes(64), bytes(6000)), fc.array(frameArb, { minLength: 1, maxLength: 4 }), fc.array(fc.nat(), { maxLength: 12 }), (garbage, sent, cuts) => {
        const received: Frame[] = [];
        const decoder = new FrameDecoder({ onFrame: (f) => received.push(f) });
        const wire = Buffer.concat([garbage, Buffer.of(0), ...sent.map((f) => encodeFrame(f))]);
        for (const chunk of chunked(wire, cuts)) decoder.push(chunk);
        // Garbage may itself hold a valid frame by chance; the good ones are the last received.
        expect(received.slice(-sent.length)).toEqual(sent.map((f) => ({ version: 1, type: f.type, seq: f.seq, payload: f.payload })));
        expect(decoder.buffered).toBe(0);
      }),
      params,
    );
  });

  it('batch: decodeBatch(encodeBatch(b)) = b with values as float32, or too_large beyond 4096 bytes', { timeout }, () => {
    fc.assert(
      fc.property(batchArb, (batch) => {
        const encoded = encodeBatch(batch);
        const result = decodeBatch(encoded);
        if (encoded.length > 4096) return expect(result).toMatchObject({ ok: false, error: 'too_large' });
        expect(result).toEqual({ ok: true, value: batch });
        expect(encodeBatch((result as { value: Batch }).value)).toEqual(encoded);
      }),
      params,
    );
  });

  it('batch: the JSON form decodes to the same batch', { timeout }, () => {
    fc.assert(
      fc.property(batchArb, (batch) => {
        const encoded = encodeBatchJson(batch);
        const result = decodeBatch(encoded);
        if (encoded.length > 4096) return expect(result).toMatchObject({ ok: false, error: 'too_large' });
        // JSON has no -0; everything else survives exactly.
        const expected = { ...batch, readings: batch.readings.map((r) => ({ ...r, value: r.value + 0 })) };
        expect(result).toEqual({ ok: true, value: expected });
      }),
      params,
    );
  });

  it('decodeBatch, decodeStatus and decodeCommand never throw on arbitrary bytes', { timeout }, () => {
    const jsonish = fc.json().map((s) => Buffer.from(s));
    fc.assert(
      fc.property(fc.oneof(bytes(64), bytes(5000), jsonish), (payload) => {
        for (const result of [decodeBatch(payload), decodeStatus(payload)]) {
          if (!result.ok) expect(DECODE_ERRORS).toContain(result.error);
        }
        const command = decodeCommand(payload);
        if (!command.ok) expect(COMMAND_ERRORS).toContain(command.error);
      }),
      params,
    );
  });

  it('decodeBatch never throws on a valid batch with bytes changed, cut or appended', { timeout }, () => {
    fc.assert(
      fc.property(batchArb, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }), fc.nat(), fc.boolean(), (batch, edits, cut, appendByte) => {
        const payload = Buffer.from(encodeBatch(batch));
        for (const [at, value] of edits) payload[at % payload.length] = value;
        const mutated = appendByte ? Buffer.concat([payload, Buffer.of(cut & 0xff)]) : payload.subarray(0, cut % (payload.length + 1));
        const result = decodeBatch(mutated);
        if (!result.ok) expect(DECODE_ERRORS).toContain(result.error);
        else expect(decodeBatch(encodeBatch(result.value))).toEqual(result);
      }),
      params,
    );
  });

  it('a trailing byte after a valid batch is always malformed', { timeout }, () => {
    fc.assert(
      fc.property(batchArb, fc.integer({ min: 0, max: 255 }), (batch, extra) => {
        const encoded = encodeBatch(batch);
        fc.pre(encoded.length < 4096);
        expect(decodeBatch(Buffer.concat([encoded, Buffer.of(extra)]))).toMatchObject({ ok: false, error: 'malformed' });
      }),
      params,
    );
  });
});
