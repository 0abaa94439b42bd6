// Streaming frame reader for a serial byte stream (PROTOCOL §10). Bytes are
// collected up to the next 0x00 delimiter, then COBS-decoded and checked. After
// any error it drops the bytes up to the next delimiter and resynchronises there.
// It never holds more than one maximum-size encoded frame: a longer run is
// discarded as it arrives and reported as oversized at its delimiter.

import { cobsDecode } from './cobs.ts';
import { FRAME_ERROR_KINDS, MAX_ENCODED_FRAME, parseRawFrame, type Frame, type FrameErrorKind } from './frame.ts';

export interface FrameDecoderHandlers {
  onFrame(frame: Frame): void;
  /** bytesDropped: the encoded bytes of the rejected frame, not counting its delimiter. */
  onError?(kind: FrameErrorKind, bytesDropped: number): void;
}

export class FrameDecoder {
  /** Good frames handed to onFrame. */
  frames = 0;
  /** Rejected frames, per kind. */
  readonly errors: Record<FrameErrorKind, number> = Object.fromEntries(FRAME_ERROR_KINDS.map((k) => [k, 0])) as Record<
    FrameErrorKind,
    number
  >;

  private readonly pending = Buffer.allocUnsafe(MAX_ENCODED_FRAME);
  private pendingLength = 0;
  /** Bytes thrown away since the current frame outgrew the limit; -1 when not discarding. */
  private discarded = -1;

  constructor(private readonly handlers: FrameDecoderHandlers) {}

  /** Bytes held for the frame in progress (never more than MAX_ENCODED_FRAME). */
  get buffered(): number {
    return this.pendingLength;
  }

  /**
   * Feeds bytes in any chunking. Handlers run synchronously; the decoder's state is
   * settled before each call, but if a handler throws, the rest of this chunk is lost.
   */
  push(chunk: Uint8Array): void {
    let start = 0;
    while (start < chunk.length) {
      const delimiter = chunk.indexOf(0x00, start);
      const end = delimiter === -1 ? chunk.length : delimiter;
      this.collect(chunk, start, end);
      if (delimiter === -1) return;
      this.endOfFrame();
      start = delimiter + 1;
    }
  }

  /** Forgets a partial frame (e.g. after the port was reopened). */
  reset(): void {
    this.pendingLength = 0;
    this.discarded = -1;
  }

  private collect(chunk: Uint8Array, start: number, end: number): void {
    const n = end - start;
    if (n === 0) return;
    if (this.discarded >= 0) {
      this.discarded += n;
    } else if (this.pendingLength + n > this.pending.length) {
      this.discarded = this.pendingLength + n;
      this.pendingLength = 0;
    } else {
      this.pending.set(chunk.subarray(start, end), this.pendingLength);
      this.pendingLength += n;
    }
  }

  private endOfFrame(): void {
    if (this.discarded >= 0) {
      const dropped = this.discarded;
      this.discarded = -1;
      return this.fail('oversized', dropped);
    }
    const length = this.pendingLength;
    this.pendingLength = 0;
    // Back-to-back delimiters are idle line noise (senders may lead with a 0x00 to flush), not an error.
    if (length === 0) return;
    const decoded = cobsDecode(this.pending, 0, length);
    if (!decoded.ok) return this.fail('bad_cobs', length);
    const parsed = parseRawFrame(decoded.value);
    if (!parsed.ok) return this.fail(parsed.error, length);
    this.frames++;
    this.handlers.onFrame(parsed.frame);
  }

  private fail(kind: FrameErrorKind, bytesDropped: number): void {
    this.errors[kind]++;
    this.handlers.onError?.(kind, bytesDropped);
  }
}
