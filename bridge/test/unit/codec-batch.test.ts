import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { decodeBatch, encodeBatch, encodeBatchJson } from '../../src/codec/index.ts';
import type { Batch } from '../../src/types.ts';

type WireBatch = { v: number; d: string; b: number; s: number; f: string; t: number; u: boolean; r: [string, number, number][] };
interface BatchVectors {
  valid: { name: string; canonical: boolean; hex: string; value: WireBatch }[];
  invalid: { name: string; hex: string; error: string }[];
  json_valid: { name: string; text: string; value: WireBatch }[];
  json_invalid: { name: string; text: string; error: string }[];
}
const vectors = JSON.parse(
  readFileSync(new URL('../../../shared/protocol/vectors/batch.json', import.meta.url), 'utf8'),
) as BatchVectors;

/** The vector's wire-keyed value as a Batch, with values rounded to float32 as the wire carries them. */
function expectedBatch(w: WireBatch): Batch {
  return {
    v: 1,
    device: w.d,
    boot: w.b,
    seq: w.s,
    fw: w.f,
    ts: w.t,
    unsynced: w.u,
    readings: w.r.map(([sensor, offset, value]) => ({ sensor, offset, value: Math.fround(value) })),
  };
}

function decodeOk(payload: Buffer): Batch {
  const result = decodeBatch(payload);
  if (!result.ok) throw new Error(`expected ok, got ${result.error}: ${result.detail}`);
  return result.value;
}

describe('decodeBatch: valid vectors', () => {
  it.each(vectors.valid)('$name decodes to its value', ({ hex, value }) => {
    expect(decodeOk(Buffer.from(hex, 'hex'))).toEqual(expectedBatch(value));
  });

  it.each(vectors.json_valid)('$name (JSON) decodes to its value', ({ text, value }) => {
    expect(decodeOk(Buffer.from(text, 'utf8'))).toEqual(expectedBatch(value));
  });

  it('accepts JSON after leading whitespace', () => {
    const text = vectors.json_valid[0]!.text;
    expect(decodeOk(Buffer.from(` \r\n\t${text}`))).toEqual(expectedBatch(vectors.json_valid[0]!.value));
  });
});

describe('encodeBatch: canonical vectors', () => {
  const canonical = vectors.valid.filter((v) => v.canonical);
  it('there are canonical vectors to check', () => expect(canonical.length).toBeGreaterThan(5));

  it.each(canonical)('$name re-encodes byte-identically', ({ hex, value }) => {
    expect(encodeBatch(expectedBatch(value)).toString('hex')).toBe(hex);
  });

  it.each(vectors.valid.filter((v) => !v.canonical))('$name re-encodes to canonical bytes that decode the same', ({ hex }) => {
    const batch = decodeOk(Buffer.from(hex, 'hex'));
    expect(decodeOk(encodeBatch(batch))).toEqual(batch);
  });

  it('writes whole-number values as float32, never as ints', () => {
    const batch = expectedBatch(vectors.valid[0]!.value);
    batch.readings = [{ sensor: 'x', offset: 0, value: 20 }];
    expect(encodeBatch(batch).subarray(-5).toString('hex')).toBe('ca41a00000');
  });

  it('refuses values the protocol cannot carry', () => {
    const batch = expectedBatch(vectors.valid[0]!.value);
    for (const value of [NaN, Infinity, -Infinity, 1e39]) {
      expect(() => encodeBatch({ ...batch, readings: [{ sensor: 'x', offset: 0, value }] })).toThrow(RangeError);
    }
    expect(() => encodeBatch({ ...batch, seq: -1 })).toThrow(RangeError);
    expect(() => encodeBatch({ ...batch, boot: 2 ** 32 })).toThrow(RangeError);
    expect(() => encodeBatch({ ...batch, ts: 1.5 })).toThrow(RangeError);
  });
});

describe('encodeBatchJson', () => {
  it.each(vectors.json_valid)('$name re-encodes to the same JSON text', ({ text, value }) => {
    expect(encodeBatchJson(expectedBatch(value)).toString('utf8')).toBe(text);
  });

  it.each(vectors.valid)('$name survives a JSON round trip', ({ hex }) => {
    const batch = decodeOk(Buffer.from(hex, 'hex'));
    expect(decodeOk(encodeBatchJson(batch))).toEqual(batch);
  });

  it('writes the shortest text of a float32', () => {
    const batch = expectedBatch(vectors.valid[0]!.value);
    batch.readings = [{ sensor: 'x', offset: 0, value: Math.fround(21.3) }];
    expect(encodeBatchJson(batch).toString()).toContain('["x",0,21.3]');
  });
});

describe('decodeBatch: invalid vectors', () => {
  it.each(vectors.invalid)('$name gives $error', ({ hex, error }) => {
    const result = decodeBatch(Buffer.from(hex, 'hex'));
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.error).toBe(error);
      expect(result.detail.length).toBeGreaterThan(0);
    }
  });

  it.each(vectors.json_invalid)('$name (JSON) gives $error', ({ text, error }) => {
    const result = decodeBatch(Buffer.from(text, 'utf8'));
    expect(result.ok ? 'ok' : result.error).toBe(error);
  });

  it('names the field and the value in the detail', () => {
    const bad = vectors.invalid.find((v) => v.name === 'negative_seq')!;
    const result = decodeBatch(Buffer.from(bad.hex, 'hex'));
    expect(result.ok ? '' : result.detail).toMatch(/s \(seq\).*-1/);
  });
});

describe('decodeBatch: lenient reader', () => {
  const base = vectors.json_valid[0]!.value;
  const json = (over: Record<string, unknown>) => Buffer.from(JSON.stringify({ ...base, ...over }));

  it('accepts whole floats for integer fields and ints for values', () => {
    expect(decodeOk(json({ b: 3.0, r: [['temperature', 0, 20]] })).readings[0]!.value).toBe(20);
  });

  it('rejects a fractional integer field, a t beyond 2^53 and an over-long fw', () => {
    expect(decodeBatch(json({ b: 1.5 }))).toMatchObject({ ok: false, error: 'bad_field' });
    expect(decodeBatch(json({ t: 2 ** 60 }))).toMatchObject({ ok: false, error: 'bad_field' });
    expect(decodeBatch(json({ f: 'x'.repeat(33) }))).toMatchObject({ ok: false, error: 'bad_field' });
    expect(decodeBatch(json({ f: '' }))).toMatchObject({ ok: false, error: 'bad_field' });
  });

  it('treats a JSON top level other than a map as not_a_map or malformed', () => {
    expect(decodeBatch(Buffer.from('{}')).ok).toBe(false);
    expect(decodeBatch(Buffer.from('[1,2]'))).toMatchObject({ ok: false, error: 'malformed' });
  });

  it('leaves the caller\'s buffer untouched (msgpackr would cache a DataView on it)', () => {
    const payload = Buffer.from(vectors.valid[0]!.hex, 'hex');
    decodeOk(payload);
    expect(Object.keys(payload).filter((k) => !/^\d+$/.test(k))).toEqual([]);
  });

  it('does not let a __proto__ key stand in for fields', () => {
    const payload = Buffer.from(`{"__proto__":{"v":1},"d":"n","b":1,"s":0,"f":"1","t":1,"u":false,"r":[["a",0,1]]}`);
    expect(decodeBatch(payload)).toMatchObject({ ok: false, error: 'missing_field' });
  });
});
