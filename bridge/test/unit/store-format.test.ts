// Record frames: encodeRecord writes the meta with MsgpackWriter and decodeRecord reads
// the usual metas itself. Frames must be byte-identical to what msgpackr's Packr writes
// for the whole meta, and decode as msgpackr decodes them (both reference codecs are
// below), so every store on disk reads the same.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { crc32 } from 'node:zlib';
import { Packr } from 'msgpackr';
import { checkFrame, decodeRecord, encodeRecord, FRAME_MAGIC, HEADER_BYTES } from '../../src/store/format.ts';
import type { OutboundMessage } from '../../src/types.ts';

const numRuns = Number(process.env.FUZZ_RUNS) > 0 ? Math.max(1, Math.floor(Number(process.env.FUZZ_RUNS) / 2)) : 1000;
const timeout = 20_000 + numRuns * 5;

// Reference encoder: msgpackr's Packr for the whole meta.
const referencePackr = new Packr({ useRecords: false });
function referenceEncodeFrame(id: number, msg: OutboundMessage): Buffer {
  const meta = referencePackr.pack([msg.routingKey, msg.messageId, msg.device, msg.contentType, msg.headers]);
  const frameLen = HEADER_BYTES + meta.length + msg.body.length;
  const frame = Buffer.allocUnsafe(frameLen);
  frame.writeUInt32BE(FRAME_MAGIC, 0);
  frame.writeUInt32BE(frameLen, 8);
  frame.writeUInt32BE(Math.floor(id / 0x1_0000_0000), 12);
  frame.writeUInt32BE(id >>> 0, 16);
  frame.writeDoubleBE(msg.acceptedAt, 20);
  frame.writeUInt32BE(meta.length, 28);
  meta.copy(frame, HEADER_BYTES);
  msg.body.copy(frame, HEADER_BYTES + meta.length);
  frame.writeUInt32BE(crc32(frame.subarray(8)), 4);
  return frame;
}

// Reference decoder: msgpackr for the whole meta.
function referenceDecodeFrame(frame: Buffer) {
  const metaLen = frame.readUInt32BE(28);
  const [routingKey, messageId, device, contentType, headers] = referencePackr.unpack(frame.subarray(HEADER_BYTES, HEADER_BYTES + metaLen)) as [
    string,
    string,
    string,
    OutboundMessage['contentType'],
    Record<string, string | number>,
  ];
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

/** The outcome of a decode, or the fact that it threw (a garbled meta may make msgpackr throw). */
function attempt<T>(run: () => T): { ok: true; value: T } | { ok: false } {
  try {
    return { ok: true, value: run() };
  } catch {
    return { ok: false };
  }
}

// A frame the reference encoder wrote (id 42, a split part), as it sits on disk.
const OLD_FRAME_HEX =
  '45465231c4118c72000000cf000000000000002a4278bcfe5687b000000000ab95bf666163746f72792e666c6f6f72312e6e6f64652d372e74656c656d65747279' +
  'ad6e6f64652d373a333a34323a31a66e6f64652d37b36170706c69636174696f6e2f6d73677061636bde0006a8782d646576696365a66e6f64652d37a6782d626f' +
  '6f7403a5782d736571ce00011170a4782d6677a5312e302e30a7782d746f706963bf666163746f72792f666c6f6f72312f6e6f64652d372f74656c656d65747279' +
  'a6782d706172740188a17601';
const OLD_FRAME_MSG: OutboundMessage = {
  routingKey: 'factory.floor1.node-7.telemetry',
  messageId: 'node-7:3:42:1',
  device: 'node-7',
  contentType: 'application/msgpack',
  headers: { 'x-device': 'node-7', 'x-boot': 3, 'x-seq': 70000, 'x-fw': '1.0.0', 'x-topic': 'factory/floor1/node-7/telemetry', 'x-part': 1 },
  body: Buffer.from('88a17601', 'hex'),
  acceptedAt: 1700000000123,
};

const text = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ minLength: 30, maxLength: 300 }),
  fc.string({ maxLength: 40, unit: 'binary' }),
  fc.string({ maxLength: 20, unit: 'grapheme' }),
  fc.constantFrom('', 'x'.repeat(31), 'x'.repeat(32), 'x'.repeat(255), 'x'.repeat(256), 'x'.repeat(70_000), 'caf\u00e9', '\ud800'),
);
const num = fc.oneof(
  fc.integer({ min: -0x8000_0000, max: 0xffff_ffff }),
  fc.constantFrom(0, -0, 0x7f, 0x80, 0xff, 0x100, 0xffff, 0x1_0000, 0xffff_ffff, 2 ** 32, -32, -33, -128, -129, -32768, -32769, Number.MAX_SAFE_INTEGER, -(2 ** 31) - 1, 1.5, NaN, Infinity),
  fc.double(),
);
const headers = fc.oneof(
  fc.record({
    'x-device': text,
    'x-boot': num,
    'x-seq': num,
    'x-fw': text,
    'x-topic': text,
  }),
  fc.record({ 'x-device': text, 'x-boot': num, 'x-seq': num, 'x-fw': text, 'x-topic': text, 'x-part': fc.nat(4096) }),
  fc.dictionary(text, fc.oneof(text, num), { maxKeys: 20 }),
);
const message: fc.Arbitrary<OutboundMessage> = fc.record({
  routingKey: text,
  messageId: text,
  device: text,
  contentType: fc.constantFrom('application/msgpack' as const, 'application/json' as const),
  headers,
  body: fc.uint8Array({ maxLength: 600 }).map((a) => Buffer.from(a)),
  acceptedAt: fc.oneof(fc.integer({ min: 0, max: 2 ** 45 }), fc.double({ noNaN: true })),
});
const id = fc.oneof(fc.integer({ min: 1, max: 0xffff_ffff }), fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }));

describe('record frame encoding', () => {
  it('is byte-identical to the Packr reference encoder, and decodes the same', { timeout }, () => {
    fc.assert(
      fc.property(id, message, (n, msg) => {
        const now = encodeRecord(n, msg);
        const before = referenceEncodeFrame(n, msg);
        expect(now.toString('hex')).toBe(before.toString('hex'));
        expect(checkFrame(now, 0).ok).toBe(true);
        expect(decodeRecord(now)).toEqual(referenceDecodeFrame(before));
      }),
      { numRuns },
    );
  });

  it('decodes garbled metas as msgpackr does (same record, or both throw)', { timeout }, () => {
    fc.assert(
      fc.property(message, fc.array(fc.record({ at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }), { minLength: 1, maxLength: 3 }), (msg, edits) => {
        const frame = encodeRecord(1, msg);
        const metaLen = frame.readUInt32BE(28);
        for (const e of edits) frame[HEADER_BYTES + (e.at % Math.max(1, metaLen))] = e.byte;
        const now = attempt(() => decodeRecord(frame));
        const before = attempt(() => referenceDecodeFrame(frame));
        expect(now.ok).toBe(before.ok);
        if (now.ok && before.ok) expect(now.value).toEqual(before.value);
      }),
      { numRuns },
    );
  });

  it('decodes the forms Packr never writes here (fixmap, str32, float32, uint64) as msgpackr does', () => {
    const meta = (hex: string) => {
      const m = Buffer.from(hex, 'hex');
      const frame = Buffer.concat([Buffer.alloc(HEADER_BYTES), m, Buffer.from('ab', 'hex')]);
      frame.writeUInt32BE(m.length, 28);
      return frame;
    };
    const frames = [
      meta('95a16ba16da164a1638182a178cc05'), // fixmap, uint8
      meta('95a16ba16da164a16381a178ca3fc00000'), // float32
      meta('95a16ba16da164a16381a178cf0000000100000000'), // uint64
      meta('95db000000016ba16da164a163de0000'), // str32
      meta('95a16ba16da164a16381a95f5f70726f746f5f5f01'), // a __proto__ key
      meta('95a16ba26dc3a164a163de0000'), // non-ASCII message id
    ];
    for (const f of frames) expect(attempt(() => decodeRecord(f))).toEqual(attempt(() => referenceDecodeFrame(f)));
  });

  it('reads a frame the reference encoder wrote, and writes the same bytes for it', () => {
    const old = Buffer.from(OLD_FRAME_HEX, 'hex');
    expect(checkFrame(old, 0)).toMatchObject({ ok: true, info: { id: 42, length: old.length, acceptedAt: 1700000000123 } });
    expect(decodeRecord(old)).toEqual({ ...OLD_FRAME_MSG, id: 42, size: old.length });
    expect(encodeRecord(42, OLD_FRAME_MSG).toString('hex')).toBe(OLD_FRAME_HEX);
    expect(referenceEncodeFrame(42, OLD_FRAME_MSG).toString('hex')).toBe(OLD_FRAME_HEX);
  });

  it('round-trips numeric and string headers, x-part included', () => {
    const msg: OutboundMessage = {
      ...OLD_FRAME_MSG,
      headers: { 'x-device': 'd', 'x-boot': 0xffff_ffff, 'x-seq': 0, 'x-fw': 'f'.repeat(32), 'x-topic': 't/'.repeat(200), 'x-part': 255, neg: -1, big: 2 ** 40, frac: 0.5 },
    };
    expect(decodeRecord(encodeRecord(7, msg))).toEqual({ ...msg, id: 7, size: encodeRecord(7, msg).length });
  });
});
