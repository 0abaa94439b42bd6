// Consistent Overhead Byte Stuffing (Cheshire & Baker), PROTOCOL §10: code bytes
// 0x01..0xFF, no trailing zero in the encoding (the frame layer adds the delimiter).

export type CobsResult = { ok: true; value: Buffer } | { ok: false; error: 'bad_cobs'; detail: string };

/** Worst-case encoded size of n bytes: one code byte per 254 data bytes, plus one. */
export function cobsMaxEncodedLength(n: number): number {
  return n + Math.floor(n / 254) + 1;
}

export function cobsEncode(input: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(cobsMaxEncodedLength(input.length));
  let codeAt = 0; // where the current block's code byte goes
  let pos = 1;
  let code = 1;
  for (let i = 0; i < input.length; i++) {
    const byte = input[i]!;
    if (byte === 0) {
      out[codeAt] = code;
      codeAt = pos++;
      code = 1;
      continue;
    }
    out[pos++] = byte;
    if (++code === 0xff) {
      // A full block of 254 data bytes carries no implied zero.
      out[codeAt] = code;
      codeAt = pos++;
      code = 1;
    }
  }
  out[codeAt] = code;
  return out.subarray(0, pos);
}

/** Decodes one COBS block sequence (without its 0x00 delimiter). Never throws. */
export function cobsDecode(input: Uint8Array, start = 0, end = input.length): CobsResult {
  if (end <= start) return { ok: false, error: 'bad_cobs', detail: 'empty input: at least one code byte is needed' };
  const out = Buffer.allocUnsafe(end - start);
  let length = 0;
  let pos = start;
  while (pos < end) {
    const code = input[pos]!;
    if (code === 0) return { ok: false, error: 'bad_cobs', detail: `zero code byte at offset ${pos - start}` };
    const blockEnd = pos + code;
    if (blockEnd > end) {
      return { ok: false, error: 'bad_cobs', detail: `code ${code} at offset ${pos - start} points past the end (${end - start} bytes)` };
    }
    for (let i = pos + 1; i < blockEnd; i++) {
      const byte = input[i]!;
      if (byte === 0) return { ok: false, error: 'bad_cobs', detail: `zero byte inside a block at offset ${i - start}` };
      out[length++] = byte;
    }
    pos = blockEnd;
    // Each block shorter than 254 data bytes stands for a zero, except the last one.
    if (code !== 0xff && pos < end) out[length++] = 0;
  }
  return { ok: true, value: out.subarray(0, length) };
}
