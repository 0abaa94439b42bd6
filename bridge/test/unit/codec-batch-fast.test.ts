// The one-pass canonical reader (codec/batch-fast.ts) against the lenient path it
// short-cuts (msgpackr + validateBatchMap): on valid, mutated and random payloads
// decodeBatch must give exactly what the lenient path gives, and whatever the fast
// reader accepts must be canonical (isCanonicalBatch). Runs per property: 1000, or
// FUZZ_RUNS shared between them, as in codec-properties.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { decodeBatch, decodeBatchLenient, encodeBatch, encodeBatchJson, type BatchForm } from '../../src/codec/index.ts';
import { LazyBatch, readCanonicalBatch } from '../../src/codec/batch-fast.ts';
import { isCanonicalBatch } from '../../src/codec/canonical.ts';
import type { Batch } from '../../src/types.ts';

const PROPERTY_COUNT = 5;
const fuzzTotal = Number(process.env.FUZZ_RUNS);
const numRuns = fuzzTotal > 0 ? Math.max(1, Math.floor(fuzzTotal / PROPERTY_COUNT)) : 1000;
const timeout = 20_000 + numRuns * 5;
const params = { numRuns };

const uint32 = fc.oneof(
  fc.integer({ min: 0, max: 0x7f }),
  fc.integer({ min: 0x80, max: 0xff }),
  fc.integer({ min: 0x100, max: 0xffff }),
  fc.integer({ min: 0x1_0000, max: 0xffff_ffff }),
  fc.constantFrom(0, 0x7f, 0x80, 0xff, 0x100, 0xffff, 0x1_0000, 0xffff_ffff),
);
const ts = fc.oneof(uint32, fc.integer({ min: 2 ** 32, max: Number.MAX_SAFE_INTEGER }), fc.constantFrom(2 ** 32, Number.MAX_SAFE_INTEGER));
const ascii = fc.string({ minLength: 1, maxLength: 32, unit: fc.integer({ min: 0, max: 0x7f }).map((c) => String.fromCharCode(c)) });
const anyFw = fc.string({ minLength: 1, maxLength: 32, unit: 'binary' }).filter((s) => {
  const n = Buffer.byteLength(s);
  return n >= 1 && n <= 32 && Buffer.from(s).toString() === s;
});
// Few distinct names, so the interning caches see hits, misses and collisions.
const sensor = fc.oneof(fc.stringMatching(/^[a-z0-9_]{1,32}$/), fc.constantFrom('temperature', 'humidity', 'pot', 'a', 'x'.repeat(32)));
const device = fc.oneof(fc.stringMatching(/^[A-Za-z0-9_-]{1,64}$/), fc.constantFrom('node-1', 'node-2', 'esp32-a1b2c3d4e5f6', 'd'.repeat(64)));
const value = fc.oneof(
  fc.float({ noNaN: true, noDefaultInfinity: true }),
  fc.constantFrom(0, -0, 20, 1.401298464324817e-45, 3.4028234663852886e38),
);
const batchArb: fc.Arbitrary<Batch> = fc.record({
  v: fc.constant(1 as const),
  device,
  boot: uint32,
  seq: uint32,
  fw: fc.oneof(ascii, anyFw),
  ts,
  unsynced: fc.boolean(),
  readings: fc.array(fc.record({ sensor, offset: uint32, value }), { minLength: 1, maxLength: 256, size: 'small' }),
});

/** Byte edits: overwrite, insert, delete, truncate, each at a random place. */
const edit = fc.oneof(
  fc.record({ kind: fc.constant('set' as const), at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), byte: fc.constant(0) }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat(), byte: fc.constant(0) }),
);
type Edit = { kind: 'set' | 'insert' | 'delete' | 'truncate'; at: number; byte: number };

function mutate(payload: Buffer, edits: Edit[]): Buffer {
  let b = Buffer.from(payload);
  for (const e of edits) {
    const at = b.length === 0 ? 0 : e.at % b.length;
    if (e.kind === 'set' && b.length > 0) b[at] = e.byte;
    else if (e.kind === 'insert') b = Buffer.concat([b.subarray(0, at), Buffer.of(e.byte), b.subarray(at)]);
    else if (e.kind === 'delete') b = Buffer.concat([b.subarray(0, at), b.subarray(at + 1)]);
    else if (e.kind === 'truncate') b = b.subarray(0, at);
  }
  return b;
}

/** decodeBatch must agree with the lenient path; a fast-path batch must be canonical. */
function checkAgreement(payload: Buffer): void {
  const form: BatchForm = {};
  const got = decodeBatch(payload, form);
  const want = decodeBatchLenient(payload);
  expect(got).toEqual(want);
  expect(form.canonical === true).toBe(payload.length <= 4096 && readCanonicalBatch(payload) !== undefined);
  if (form.canonical) {
    expect(want.ok).toBe(true);
    expect(got.ok && isCanonicalBatch(payload, got.value)).toBe(true);
  }
  expect(form.readingCount).toBe(want.ok ? want.value.readings.length : undefined);
  // As the pipeline decodes: readings read on first use, the same batch once they are.
  const lazyForm: BatchForm = { lazyReadings: true };
  const lazy = decodeBatch(payload, lazyForm);
  expect(lazy.ok).toBe(want.ok);
  expect(lazyForm.canonical).toBe(form.canonical);
  expect(lazyForm.readingCount).toBe(form.readingCount);
  if (lazy.ok && want.ok) {
    const { device, boot, seq, fw, ts, unsynced, v } = lazy.value;
    expect({ v, device, boot, seq, fw, ts, unsynced, readings: lazy.value.readings }).toEqual(want.value);
    expect(lazy.value.readings).toBe(lazy.value.readings); // read once
  } else {
    expect(lazy).toEqual(want);
  }
}

describe('canonical fast path', () => {
  it('reads every canonical batch, equal to the lenient path', { timeout }, () => {
    fc.assert(
      fc.property(batchArb, (batch) => {
        const payload = encodeBatch(batch);
        if (payload.length > 4096) return;
        const fast = readCanonicalBatch(payload);
        const ascii = /^[\x00-\x7f]*$/.test(batch.fw);
        // Non-ASCII fw is left to the lenient path on purpose.
        expect(fast !== undefined).toBe(ascii);
        checkAgreement(payload);
        const lenient = decodeBatchLenient(payload);
        expect(lenient.ok).toBe(true);
        if (fast && lenient.ok) expect(fast).toEqual(lenient.value);
      }),
      params,
    );
  });

  it('agrees with the lenient path on mutated canonical batches', { timeout }, () => {
    fc.assert(
      fc.property(batchArb, fc.array(edit, { minLength: 1, maxLength: 4 }), (batch, edits) => {
        checkAgreement(mutate(encodeBatch(batch), edits));
      }),
      params,
    );
  });

  it('agrees with the lenient path on random bytes behind a canonical prefix, and on JSON', { timeout }, () => {
    fc.assert(
      fc.property(batchArb, fc.nat(), fc.uint8Array({ maxLength: 64 }), (batch, cut, tail) => {
        const payload = encodeBatch(batch);
        checkAgreement(Buffer.concat([payload.subarray(0, cut % (payload.length + 1)), tail]));
        checkAgreement(encodeBatchJson(batch));
      }),
      params,
    );
  });

  it('agrees with the lenient path on arbitrary bytes', { timeout }, () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), (bytes) => {
        checkAgreement(Buffer.from(bytes));
        checkAgreement(Buffer.concat([Buffer.of(0x88), Buffer.from(bytes)]));
      }),
      params,
    );
  });

  it('leaves a wider integer form (same value, not canonical) to the lenient path', { timeout }, () => {
    fc.assert(
      fc.property(batchArb.map((b) => ({ ...b, boot: b.boot & 0x7f })), (batch) => {
        const payload = encodeBatch(batch);
        // b's value follows 88, a1 76 01, a1 64 <device>, a1 62: widen its fixint to uint8 (0xcc).
        const deviceBytes = Buffer.byteLength(batch.device);
        const at = 1 + 3 + 2 + (deviceBytes <= 31 ? 1 : 2) + deviceBytes + 2;
        expect(payload[at]).toBe(batch.boot);
        const wide = Buffer.concat([payload.subarray(0, at), Buffer.of(0xcc, batch.boot), payload.subarray(at + 1)]);
        expect(readCanonicalBatch(wide)).toBeUndefined();
        checkAgreement(wide);
        const want = decodeBatch(payload);
        if (want.ok) expect(decodeBatch(wide)).toEqual({ ok: true, value: want.value });
      }),
      params,
    );
  });

  it('reads a lazy batch\'s readings only when asked, from the checked payload', () => {
    const batch: Batch = { v: 1, device: 'node-1', boot: 7, seq: 9, fw: '1.0', ts: 1_700_000_000_000, unsynced: false, readings: [
      { sensor: 'temperature', offset: 0, value: Math.fround(21.5) },
      { sensor: 'humidity', offset: 1000, value: Math.fround(40.25) },
    ] };
    const payload = encodeBatch(batch);
    const form: BatchForm = { lazyReadings: true };
    const r = decodeBatch(payload, form);
    expect(r.ok && r.value instanceof LazyBatch).toBe(true);
    expect(form.readingCount).toBe(2);
    if (!r.ok) return;
    expect(r.value.readings).toEqual(batch.readings);
    // Without the flag (every other caller): plain readings.
    const plain = decodeBatch(payload);
    expect(plain.ok && plain.value instanceof LazyBatch).toBe(false);
  });

  it('agrees with the lenient path on every shared vector', () => {
    const vectors = JSON.parse(readFileSync(new URL('../../../shared/protocol/vectors/batch.json', import.meta.url), 'utf8')) as {
      valid: { hex: string; canonical: boolean }[];
      invalid: { hex: string }[];
    };
    for (const v of vectors.valid) {
      const payload = Buffer.from(v.hex, 'hex');
      checkAgreement(payload);
      expect(readCanonicalBatch(payload) !== undefined).toBe(v.canonical);
    }
    for (const v of vectors.invalid) checkAgreement(Buffer.from(v.hex, 'hex'));
  });
});
