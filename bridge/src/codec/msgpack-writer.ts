// A tiny MessagePack writer for the canonical forms of PROTOCOL §3.1: smallest
// uint form, float32 values, fixstr/str8, fixmap, fixarray/array16. msgpackr cannot
// follow these rules (it cannot tell a float 20.0 from an int 20), so we write bytes.
// Writers reject values the protocol cannot carry: that is a bug in the caller.

const SCRATCH_START = 1024;

export class MsgpackWriter {
  private buf = Buffer.allocUnsafe(SCRATCH_START);
  private pos = 0;

  /** Starts a new message, reusing the scratch buffer. */
  reset(): this {
    this.pos = 0;
    return this;
  }

  /** An exact-size copy of what was written. */
  finish(): Buffer {
    return Buffer.from(this.buf.subarray(0, this.pos));
  }

  /** Copies what was written into `target` at `offset` (no allocation). */
  copyTo(target: Uint8Array, offset: number): void {
    target.set(this.buf.subarray(0, this.pos), offset);
  }

  /** Overwrites two bytes already written (a count known only at the end). */
  patchUint16(at: number, value: number): void {
    this.buf.writeUInt16BE(value, at);
  }

  /** Bytes written since reset(). */
  get length(): number {
    return this.pos;
  }

  private ensure(extra: number): void {
    if (this.pos + extra <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + extra) size *= 2;
    const bigger = Buffer.allocUnsafe(size);
    this.buf.copy(bigger, 0, 0, this.pos);
    this.buf = bigger;
  }

  raw(bytes: Uint8Array): void {
    this.ensure(bytes.length);
    this.buf.set(bytes, this.pos);
    this.pos += bytes.length;
  }

  mapHeader(count: number): void {
    if (count > 15) throw new RangeError(`map of ${count} keys: only fixmap is used`);
    this.ensure(1);
    this.buf[this.pos++] = 0x80 | count;
  }

  /** map16 (0xde) whatever the count, as msgpackr's Packr writes a plain object. */
  map16Header(count: number): void {
    if (count > 0xffff) throw new RangeError(`map of ${count} keys is too large for map16`);
    this.ensure(3);
    this.buf[this.pos] = 0xde;
    this.buf.writeUInt16BE(count, this.pos + 1);
    this.pos += 3;
  }

  arrayHeader(count: number): void {
    this.ensure(5);
    if (count <= 15) this.buf[this.pos++] = 0x90 | count;
    else if (count <= 0xffff) {
      this.buf[this.pos] = 0xdc;
      this.buf.writeUInt16BE(count, this.pos + 1);
      this.pos += 3;
    } else {
      this.buf[this.pos] = 0xdd;
      this.buf.writeUInt32BE(count, this.pos + 1);
      this.pos += 5;
    }
  }

  bool(value: boolean): void {
    this.ensure(1);
    this.buf[this.pos++] = value ? 0xc3 : 0xc2;
  }

  /** Smallest unsigned form. `what` names the field in the error. */
  uint(value: number, max: number, what: string): void {
    if (!Number.isInteger(value) || value < 0 || value > max) {
      throw new RangeError(`${what}: ${value} is not an integer in 0..${max}`);
    }
    this.ensure(9);
    const b = this.buf;
    if (value < 0x80) b[this.pos++] = value;
    else if (value <= 0xff) {
      b[this.pos] = 0xcc;
      b[this.pos + 1] = value;
      this.pos += 2;
    } else if (value <= 0xffff) {
      b[this.pos] = 0xcd;
      b.writeUInt16BE(value, this.pos + 1);
      this.pos += 3;
    } else if (value <= 0xffff_ffff) {
      b[this.pos] = 0xce;
      b.writeUInt32BE(value, this.pos + 1);
      this.pos += 5;
    } else {
      b[this.pos] = 0xcf;
      b.writeUInt32BE(Math.floor(value / 0x1_0000_0000), this.pos + 1);
      b.writeUInt32BE(value % 0x1_0000_0000, this.pos + 5);
      this.pos += 9;
    }
  }

  /** Smallest form for a signed int32: uint forms when ≥ 0, else negative fixint, int8, int16, int32. */
  int32(value: number, what: string): void {
    if (!Number.isInteger(value) || value < -0x8000_0000 || value > 0x7fff_ffff) {
      throw new RangeError(`${what}: ${value} is not an int32`);
    }
    if (value >= 0) return this.uint(value, 0x7fff_ffff, what);
    this.ensure(5);
    const b = this.buf;
    if (value >= -32) b[this.pos++] = value & 0xff;
    else if (value >= -128) {
      b[this.pos] = 0xd0;
      b.writeInt8(value, this.pos + 1);
      this.pos += 2;
    } else if (value >= -32768) {
      b[this.pos] = 0xd1;
      b.writeInt16BE(value, this.pos + 1);
      this.pos += 3;
    } else {
      b[this.pos] = 0xd2;
      b.writeInt32BE(value, this.pos + 1);
      this.pos += 5;
    }
  }

  /** Always float32 (0xca), even for whole numbers; NaN and ±Infinity are not allowed. */
  float32(value: number, what: string): void {
    if (!Number.isFinite(Math.fround(value))) throw new RangeError(`${what}: ${value} is not a finite float32`);
    this.ensure(5);
    this.buf[this.pos] = 0xca;
    this.buf.writeFloatBE(value, this.pos + 1);
    this.pos += 5;
  }

  /**
   * Any JS number as msgpackr's Packr writes it (the store's meta, read back by
   * msgpackr): uint32 and int32 in their smallest int forms, anything else float64.
   */
  number(value: number): void {
    if (value >>> 0 === value) return this.uint(value, 0xffff_ffff, 'number');
    if (value >> 0 === value) return this.int32(value, 'number');
    this.ensure(9);
    this.buf[this.pos] = 0xcb;
    this.buf.writeDoubleBE(value, this.pos + 1);
    this.pos += 9;
  }

  /**
   * An all-ASCII string in its smallest form (fixstr, str8, str16, str32), as msgpackr
   * writes it; returns false, having written nothing, if the string is not all ASCII.
   */
  asciiStr(value: string): boolean {
    const n = value.length;
    this.ensure(n + 5);
    const b = this.buf;
    const head = n < 0x20 ? 1 : n < 0x100 ? 2 : n < 0x10000 ? 3 : 5;
    const start = this.pos + head;
    for (let i = 0; i < n; i++) {
      const c = value.charCodeAt(i);
      if (c >= 0x80) return false;
      b[start + i] = c;
    }
    if (head === 1) b[this.pos] = 0xa0 | n;
    else if (head === 2) {
      b[this.pos] = 0xd9;
      b[this.pos + 1] = n;
    } else if (head === 3) {
      b[this.pos] = 0xda;
      b.writeUInt16BE(n, this.pos + 1);
    } else {
      b[this.pos] = 0xdb;
      b.writeUInt32BE(n, this.pos + 1);
    }
    this.pos = start + n;
    return true;
  }

  /** fixstr up to 31 bytes, then str8, str16. */
  str(value: string): void {
    // Short ASCII (ids, keys, sensor names): copy char codes, no byteLength + write.
    if (value.length <= 31 && this.asciiStr(value)) return;
    const length = Buffer.byteLength(value, 'utf8');
    this.ensure(length + 3);
    const b = this.buf;
    if (length <= 31) b[this.pos++] = 0xa0 | length;
    else if (length <= 0xff) {
      b[this.pos] = 0xd9;
      b[this.pos + 1] = length;
      this.pos += 2;
    } else if (length <= 0xffff) {
      b[this.pos] = 0xda;
      b.writeUInt16BE(length, this.pos + 1);
      this.pos += 3;
    } else throw new RangeError(`string of ${length} bytes is too long`);
    this.pos += b.write(value, this.pos, length, 'utf8');
  }
}

/** Pre-encoded fixstr keys, so hot writers copy bytes instead of re-encoding. */
export function keyBytes(key: string): Buffer {
  const body = Buffer.from(key, 'utf8');
  if (body.length > 31) throw new RangeError(`key ${key} is longer than a fixstr`);
  return Buffer.concat([Buffer.from([0xa0 | body.length]), body]);
}
