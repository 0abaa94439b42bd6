// Turning bytes into a JS string (Buffer#toString) costs more on the hot path than
// reading the rest of a batch reading; most such strings repeat, so look them up by
// their bytes instead. Used by the canonical batch reader and the store's frame reader.

/** Every ASCII byte allowed (a class table for AsciiInterner.get). */
export const ANY_ASCII = new Uint8Array(256).fill(1, 0, 128);

/**
 * Strings that repeat from message to message (device ids, fw, sensor names, routing keys), kept by
 * their bytes: a hit returns the same string without making one (a Buffer-to-string
 * call costs more than the rest of a reading). Direct-mapped with a fixed size, so a
 * miss only costs the string it would have made anyway. Only validated strings are
 * stored, so bytes equal to a stored entry need no second check.
 */
export class AsciiInterner {
  private readonly bytes: Uint8Array;
  private readonly lengths: Uint8Array;
  private readonly strings: string[];
  private readonly mask: number;

  constructor(
    slots: number,
    private readonly maxBytes: number,
  ) {
    this.bytes = new Uint8Array(slots * maxBytes);
    this.lengths = new Uint8Array(slots);
    this.strings = new Array<string>(slots).fill('');
    this.mask = slots - 1;
  }

  /** The string of buf[start, end) (1..maxBytes) if every byte is in `allowed`, else undefined. */
  get(buf: Buffer, start: number, end: number, allowed: Uint8Array): string | undefined {
    const n = end - start;
    // Slot from the length, the first byte and the last four (ids such as node-12 and
    // node-42 differ only at the end), not a loop over every byte.
    let h = Math.imul(n ^ 0x811c9dc5, 0x01000193) ^ buf[start]!;
    for (let i = Math.max(start, end - 4); i < end; i++) h = Math.imul(h ^ buf[i]!, 0x01000193);
    h ^= h >>> 13;
    const slot = h & this.mask;
    const at = slot * this.maxBytes;
    const table = this.bytes;
    if (this.lengths[slot] === n) {
      let i = 0;
      while (i < n && table[at + i] === buf[start + i]) i++;
      if (i === n) return this.strings[slot];
    }
    for (let i = start; i < end; i++) if (allowed[buf[i]!] !== 1) return undefined;
    const s = buf.toString('latin1', start, end);
    table.set(buf.subarray(start, end), at);
    this.lengths[slot] = n;
    this.strings[slot] = s;
    return s;
  }
}
