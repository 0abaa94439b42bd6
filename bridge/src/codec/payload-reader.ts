// Turns a payload's bytes into plain JS values (MessagePack, or JSON for batches)
// without throwing. Field validation happens in the per-message modules.

import { Unpackr } from 'msgpackr';

// - mapsAsObjects: maps become plain objects (fast property reads; msgpackr renames a
//   `__proto__` key, so a payload cannot swap an object's prototype).
// - int64AsType 'bigint': the 64-bit forms (t is uint64) come back exact; the field
//   checks accept them only when they fit.
// - useRecords false: we never ask for msgpackr's record extension. A payload can
//   still carry one; its structures are dropped after each call (not `trusted`).
const unpackr = new Unpackr({ mapsAsObjects: true, useRecords: false, int64AsType: 'bigint' });

export type RawResult = { ok: true; value: unknown } | { ok: false; detail: string };

/** MessagePack: exactly one value filling the whole buffer; trailing bytes are an error. */
export function unpackMsgpack(payload: Uint8Array): RawResult {
  if (payload.length === 0) return { ok: false, detail: 'empty payload' };
  try {
    // msgpackr throws "Data read, but end of buffer not reached" on trailing bytes,
    // and "Unexpected end of MessagePack data" on truncation.
    // msgpackr caches a DataView as a property on the buffer it reads; hand it a
    // throwaway view (no copy) so the caller's buffer is never modified.
    const view = Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
    return { ok: true, value: unpackr.unpack(view) };
  } catch (err) {
    // msgpackr marks errors that more bytes could have fixed.
    const truncated = typeof err === 'object' && err !== null && (err as { incomplete?: boolean }).incomplete === true;
    return { ok: false, detail: truncated ? 'MessagePack data ends early (truncated)' : `not valid MessagePack: ${errorText(err)}` };
  }
}

/** PROTOCOL §3.2: JSON when the first non-whitespace byte is `{`. */
export function looksLikeJson(payload: Uint8Array): boolean {
  for (let i = 0; i < payload.length; i++) {
    const byte = payload[i];
    if (byte === 0x20 || byte === 0x09 || byte === 0x0a || byte === 0x0d) continue;
    return byte === 0x7b;
  }
  return false;
}

export function parseJson(payload: Uint8Array): RawResult {
  try {
    const text = Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength).toString('utf8');
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch (err) {
    return { ok: false, detail: `not valid JSON: ${errorText(err)}` };
  }
}

function errorText(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  return text.length > 120 ? `${text.slice(0, 117)}...` : text;
}
