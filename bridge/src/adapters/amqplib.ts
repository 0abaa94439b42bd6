// The amqplib internals the AMQP session and the confirm pool rely on, in one place.
// Checked against amqplib 2.3.1; bridge/test/unit/adapters.test.ts fails if an upgrade changes them.
import type { Writable } from 'node:stream';
import type { ChannelModel, ConfirmChannel, Message } from 'amqplib';

export const AMQPLIB_CHECKED = '2.3.1';

/** The socket under a connection (connection.stream): amqplib exposes no public handle to it. */
export function connectionSocket(model: ChannelModel): (Writable & { destroy(): void }) | undefined {
  return (model as unknown as { connection?: { stream?: Writable & { destroy(): void } } }).connection?.stream;
}

/** Frees the socket amqplib only half-closes (stream.end) after a heartbeat timeout. */
export function destroySocket(model: ChannelModel): void {
  connectionSocket(model)?.destroy();
}

/** basic.return's reply code and text: amqplib passes them in `fields`, which its types do not declare. */
export function returnReason(m: Message): { replyCode: number; replyText: string } {
  const f = m.fields as unknown as { replyCode: number; replyText: string };
  return { replyCode: f.replyCode, replyText: f.replyText };
}

/** The publish options the bridge sends; encodePublish takes no others. */
export interface PublishOptions {
  persistent?: boolean;
  mandatory?: boolean;
  contentType?: string;
  messageId?: string;
  /** Seconds since the epoch. */
  timestamp?: number;
  headers?: Record<string, string | number | boolean | undefined>;
}

/** What publishFast touches inside a channel: its number, its connection's per-channel write streams, amqplib's confirm bookkeeping. */
interface ChannelInternals {
  ch: number;
  connection: { channels: ({ buffer: Writable } | null)[]; frameMax: number; sentSinceLastCheck: boolean };
  pushConfirmCallback(cb: undefined): void;
}

/**
 * ch.publish(exchange, routingKey, content, options) with the frames encoded here: amqplib
 * re-encodes every property through generic code per publish (a field table walked through a
 * prototype chain, a closure per header, BigInts, four buffers and two copies), ~12 % of the
 * bridge's CPU. Same bytes on the wire (the adapter test compares both encoders), written as
 * one chunk to the channel's own write stream, so order with its other frames holds. Anything
 * encodePublish does not take, and a channel or connection amqplib has closed, goes through
 * ch.publish, which throws what it always did.
 */
export function publishFast(ch: ConfirmChannel, exchange: string, routingKey: string, content: Buffer, options: PublishOptions): boolean {
  const c = ch as unknown as ChannelInternals;
  const conn = c.connection;
  // amqplib closes a channel or connection by shadowing sendMessage with a function that throws.
  const writer = Object.hasOwn(ch, 'sendMessage') || Object.hasOwn(conn, 'sendMessage') ? undefined : conn.channels[c.ch]?.buffer;
  const frames = writer && Buffer.isBuffer(content) && content.length <= conn.frameMax - FRAME_OVERHEAD ? encodePublish(c.ch, exchange, routingKey, content, options) : undefined;
  if (!frames) return ch.publish(exchange, routingKey, content, options);
  conn.sentSinceLastCheck = true;
  const ok = writer!.write(frames);
  c.pushConfirmCallback(undefined);
  return ok;
}

const FRAME_OVERHEAD = 8;
const FRAME_END = 206;
const BASIC_PUBLISH = (60 << 16) | 40;
const BASIC_CLASS = 60 << 16;
// Property flags, in the order amqplib writes them.
const F_CONTENT_TYPE = 0x8000;
const F_HEADERS = 0x2000;
const F_DELIVERY_MODE = 0x1000;
const F_MESSAGE_ID = 0x80;
const F_TIMESTAMP = 0x40;
const TWO_32 = 2 ** 32;
/** amqplib encodes field tables in a 64 KiB scratch buffer and throws past it: leave those to it. */
const MAX_TABLE = 60_000;

// Publishes are encoded in one pass into a shared slab and handed out as slices of it (no size
// pass over every string, no pool buffer each): they live until the socket has written them.
const SLAB_BYTES = 64 * 1024;
let slab = Buffer.allocUnsafeSlow(0);
let slabAt = 0;

/** A buffer with `bound` bytes free from the returned offset. */
function room(bound: number): number {
  if (slabAt + bound <= slab.length) return slabAt;
  slab = Buffer.allocUnsafeSlow(Math.max(SLAB_BYTES, bound));
  slabAt = 0;
  return 0;
}

/** Writes s as UTF-8 at off (room for 3 bytes per UTF-16 unit is reserved); returns the end. ASCII without a call into C++. */
function putStr(buf: Buffer, s: string, off: number): number {
  const n = s.length;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x80) return off + buf.write(s, off, 'utf8');
    buf[off + i] = c;
  }
  return off + n;
}

/** A shortstr (length byte, then UTF-8) at off; -1 past 255 bytes, which amqplib refuses. */
function putShort(buf: Buffer, s: string, off: number): number {
  const end = putStr(buf, s, off + 1);
  const n = end - off - 1;
  if (n > 255) return -1;
  buf[off] = n;
  return end;
}

/** Bytes a field table can take at most (3 per UTF-16 unit), or -1 for a value left to amqplib. */
function tableBound(t: Record<string, unknown>): number {
  let n = 4;
  for (const key in t) {
    const v = t[key];
    if (v === undefined) continue;
    const kind = kindOf(v);
    if (kind < 0) return -1;
    n += 2 + 3 * key.length + VALUE_SIZE[kind]! + (kind === Kind.Str ? 3 * (v as string).length : 0);
  }
  return n;
}

// Field-table value types, indexes into VALUE_SIZE.
const Kind = { Str: 0, Bool: 1, Byte: 2, Short: 3, Int: 4, Long: 5, Double: 6 } as const;
// Bytes after the type tag (a string adds its own length).
const VALUE_SIZE = [4, 1, 1, 2, 4, 8, 8];

/** The table type amqplib's encodeFieldValue picks for a value, or -1 for one left to amqplib. */
function kindOf(v: unknown): number {
  if (typeof v === 'string') return Kind.Str;
  if (typeof v === 'boolean') return Kind.Bool;
  if (typeof v !== 'number') return -1;
  // amqplib's isFloatingPoint: fractional below 2^50, or at least 2^63.
  if (v >= 0x8000000000000000 || (Math.abs(v) < 0x4000000000000 && Math.floor(v) !== v)) return Kind.Double;
  if (!Number.isSafeInteger(v)) return -1;
  if (v < 128 && v >= -128) return Kind.Byte;
  if (v >= -0x8000 && v < 0x8000) return Kind.Short;
  if (v >= -0x80000000 && v < 0x80000000) return Kind.Int;
  return Kind.Long;
}

/** Writes a field table at off as amqplib's encodeTable does; -1 for a key over 255 bytes or a table past MAX_TABLE. */
function putTable(buf: Buffer, t: Record<string, unknown>, off: number): number {
  const start = off;
  off += 4;
  for (const key in t) {
    const v = t[key];
    if (v === undefined) continue;
    off = putShort(buf, key, off);
    if (off < 0) return -1;
    switch (kindOf(v)) {
      case Kind.Str: {
        buf[off] = 0x53; // 'S': a table has no shortstr
        const end = putStr(buf, v as string, off + 5);
        buf.writeUInt32BE(end - off - 5, off + 1);
        off = end;
        break;
      }
      case Kind.Bool:
        buf[off++] = 0x74; // 't'
        buf[off++] = v ? 1 : 0;
        break;
      case Kind.Byte:
        buf[off++] = 0x62; // 'b'
        off = buf.writeInt8(v as number, off);
        break;
      case Kind.Short:
        buf[off++] = 0x73; // 's'
        off = buf.writeInt16BE(v as number, off);
        break;
      case Kind.Int:
        buf[off++] = 0x49; // 'I'
        off = buf.writeInt32BE(v as number, off);
        break;
      case Kind.Long: {
        // Two's complement from two halves: no BigInt per value.
        buf[off++] = 0x6c; // 'l'
        const hi = Math.floor((v as number) / TWO_32);
        off = buf.writeInt32BE(hi, off);
        off = buf.writeUInt32BE((v as number) - hi * TWO_32, off);
        break;
      }
      default:
        buf[off++] = 0x64; // 'd'
        off = buf.writeDoubleBE(v as number, off);
    }
  }
  if (off - start > MAX_TABLE) return -1;
  buf.writeUInt32BE(off - start - 4, start);
  return off;
}

function writeU64(buf: Buffer, v: number, off: number): number {
  const hi = Math.floor(v / TWO_32);
  off = buf.writeUInt32BE(hi, off);
  return buf.writeUInt32BE(v - hi * TWO_32, off);
}

/**
 * basic.publish, its content header and its body as one buffer: the bytes amqplib writes for
 * ch.publish(exchange, routingKey, content, options) on channel `channel`, body in one frame.
 * undefined for what amqplib would refuse or encodes in a way not copied here (other value
 * types, over-long strings, non-integer timestamps, huge tables): the caller leaves those to it.
 */
export function encodePublish(channel: number, exchange: string, routingKey: string, content: Buffer, o: PublishOptions): Buffer | undefined {
  const { contentType, messageId, timestamp, headers } = o;
  if (typeof exchange !== 'string' || typeof routingKey !== 'string') return undefined;
  if ((contentType !== undefined && typeof contentType !== 'string') || (messageId !== undefined && typeof messageId !== 'string')) return undefined;
  if (timestamp !== undefined && (!Number.isSafeInteger(timestamp) || timestamp < 0)) return undefined;
  const table = headers === undefined ? 4 : tableBound(headers);
  if (table < 0) return undefined;
  const strings = exchange.length + routingKey.length + (contentType?.length ?? 0) + (messageId?.length ?? 0);
  const bound = 64 + 3 * strings + table + content.length;
  const start = room(bound);
  const buf = slab;

  // basic.publish: ticket 0, exchange, routing key, mandatory (immediate is never set).
  buf[start] = 1;
  buf.writeUInt16BE(channel, start + 1);
  buf.writeUInt32BE(BASIC_PUBLISH, start + 7);
  buf.writeUInt16BE(0, start + 11);
  let off = putShort(buf, exchange, start + 13);
  if (off < 0) return undefined;
  off = putShort(buf, routingKey, off);
  if (off < 0) return undefined;
  buf[off++] = o.mandatory ? 1 : 0;
  buf[off] = FRAME_END;
  buf.writeUInt32BE(off - start - 7, start + 3);
  off++;

  // Content header: class 60, weight 0, body size, flags, then the properties in flag order.
  const header = off;
  buf[off] = 2;
  buf.writeUInt16BE(channel, off + 1);
  buf.writeUInt32BE(BASIC_CLASS, off + 7);
  writeU64(buf, content.length, off + 11);
  let flags = F_HEADERS;
  off += 21;
  if (contentType !== undefined) {
    flags |= F_CONTENT_TYPE;
    off = putShort(buf, contentType, off);
    if (off < 0) return undefined;
  }
  // amqplib always sends a header table (empty without options.headers).
  off = headers === undefined ? buf.writeUInt32BE(0, off) : putTable(buf, headers, off);
  if (off < 0) return undefined;
  if (o.persistent !== undefined) {
    flags |= F_DELIVERY_MODE;
    buf[off++] = o.persistent ? 2 : 1;
  }
  if (messageId !== undefined) {
    flags |= F_MESSAGE_ID;
    off = putShort(buf, messageId, off);
    if (off < 0) return undefined;
  }
  if (timestamp !== undefined) {
    flags |= F_TIMESTAMP;
    off = writeU64(buf, timestamp, off);
  }
  buf.writeUInt16BE(flags, header + 19);
  buf[off] = FRAME_END;
  buf.writeUInt32BE(off - header - 7, header + 3);
  off++;

  if (content.length > 0) {
    buf[off] = 3;
    buf.writeUInt16BE(channel, off + 1);
    buf.writeUInt32BE(content.length, off + 3);
    off += 7 + content.copy(buf, off + 7);
    buf[off++] = FRAME_END;
  }
  slabAt = off;
  return buf.subarray(start, off);
}
