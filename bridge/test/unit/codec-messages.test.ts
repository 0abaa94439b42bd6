import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import {
  decodeCommand,
  decodeStatus,
  encodeCommand,
  encodeLastWill,
  encodeStatus,
  validateCommand,
  type Command,
  type DeviceStatus,
} from '../../src/codec/index.ts';

function load<T>(file: string): T {
  return JSON.parse(readFileSync(new URL(`../../../shared/protocol/vectors/${file}`, import.meta.url), 'utf8')) as T;
}

interface Vectors<T> {
  valid: { name: string; canonical: boolean; hex: string; value: T }[];
  invalid: { name: string; hex: string; error: string }[];
}
const statusVectors = load<Vectors<Record<string, unknown>>>('status.json');
const cmdVectors = load<Vectors<Command>>('cmd.json');
const bytes = (hex: string) => Buffer.from(hex, 'hex');

describe('status (PROTOCOL §5)', () => {
  it.each(statusVectors.valid)('$name decodes to its value', ({ hex, value }) => {
    const result = decodeStatus(bytes(hex));
    expect(result).toEqual({ ok: true, value });
  });

  it.each(statusVectors.valid.filter((v) => v.canonical))('$name re-encodes byte-identically', ({ hex, value }) => {
    const encoded = 'up' in value ? encodeStatus(value as unknown as DeviceStatus) : encodeLastWill({ d: value.d as string, b: value.b as number });
    expect(encoded.toString('hex')).toBe(hex);
  });

  it.each(statusVectors.invalid)('$name gives $error', ({ hex, error }) => {
    const result = decodeStatus(bytes(hex));
    expect(result.ok ? 'ok' : result.error).toBe(error);
  });

  it('checks optional keys when present and reports missing required ones', () => {
    const will = { v: 1, d: 'n1', b: 1, st: 'offline' };
    const good = decodeStatus(encodeLastWill({ d: 'n1', b: 1 }));
    expect(good).toEqual({ ok: true, value: will });
    expect(decodeStatus(Buffer.from([0x80]))).toMatchObject({ ok: false, error: 'missing_field' });
    expect(decodeStatus(Buffer.from([0x91, 0x01]))).toMatchObject({ ok: false, error: 'not_a_map' });
    expect(decodeStatus(Buffer.alloc(0))).toMatchObject({ ok: false, error: 'malformed' });
    // {v:1,d:"n1",b:1,st:"offline",heap:-1}
    const badHeap = Buffer.concat([Buffer.from([0x85]), encodeLastWill({ d: 'n1', b: 1 }).subarray(1), Buffer.from('a468656170ff', 'hex')]);
    expect(decodeStatus(badHeap)).toMatchObject({ ok: false, error: 'bad_field' });
  });

  it('writes rssi in the smallest signed form', () => {
    const base: DeviceStatus = { v: 1, d: 'n', b: 1, st: 'online', up: 0, rssi: 0, heap: 0, drop: 0, iv: 1000, bs: 16, cmd: 0 };
    const rssiBytes = (rssi: number) => {
      const hex = encodeStatus({ ...base, rssi }).toString('hex');
      return hex.slice(hex.indexOf('a472737369') + 10, hex.indexOf('a468656170'));
    };
    expect(rssiBytes(0)).toBe('00');
    expect(rssiBytes(-1)).toBe('ff');
    expect(rssiBytes(-32)).toBe('e0');
    expect(rssiBytes(-33)).toBe('d0df');
    expect(rssiBytes(-200)).toBe('d1ff38');
  });
});

describe('command (PROTOCOL §6)', () => {
  it.each(cmdVectors.valid)('$name decodes to its value', ({ hex, value }) => {
    expect(decodeCommand(bytes(hex))).toEqual({ ok: true, value });
  });

  it.each(cmdVectors.valid.filter((v) => v.canonical))('$name re-encodes byte-identically', ({ hex, value }) => {
    expect(encodeCommand(value).toString('hex')).toBe(hex);
  });

  it.each(cmdVectors.invalid)('$name gives $error', ({ hex, error }) => {
    const result = decodeCommand(bytes(hex));
    expect(result.ok ? 'ok' : result.error).toBe(error);
    if (!result.ok) expect(result.detail.length).toBeGreaterThan(0);
  });

  it('refuses to encode a command the node would reject', () => {
    expect(() => encodeCommand({ v: 1, id: 1, op: 'set_batch', arg: 65 })).toThrow(RangeError);
    expect(() => encodeCommand({ v: 1, id: 0, op: 'ping', arg: 0 })).toThrow(RangeError);
    expect(() => encodeCommand({ v: 1, id: 1, op: 'explode' as 'ping', arg: 0 })).toThrow(RangeError);
  });

  it('validates a command given as a plain object', () => {
    expect(validateCommand({ v: 1, id: 9, op: 'ping', arg: 0 })).toMatchObject({ ok: true });
    expect(validateCommand({ v: 1, id: 9, op: 'ping', arg: 'x' })).toMatchObject({ ok: false, error: 'bad_field' });
    expect(validateCommand({ v: 1, id: 9, op: 'reboot', arg: 1 })).toMatchObject({ ok: false, error: 'bad_arg' });
    expect(validateCommand(null)).toMatchObject({ ok: false, error: 'malformed' });
  });
});
