// Per-connection limits for the embedded MQTT broker, applied to the bytes before
// aedes sees them. aedes has no maximum packet size: its parser keeps reading a
// packet until it is complete, however large its header says it is. So every
// accepted socket is wrapped in a LimitedConnection that reads only the MQTT fixed
// headers (type and remaining length, MQTT 3.1.1 section 2.2) as bytes flow, and
//  - closes the connection as soon as a header announces more than maxPacketBytes,
//    before any byte of that packet reaches aedes;
//  - paces PUBLISH packets per client id with a token bucket: a PUBLISH without a
//    token is held (and the socket paused) until one is there, so the client is
//    slowed by TCP backpressure and its PUBACKs come later; nothing it sent is lost.
//    A client paced without a break for disconnectAfterPacedMs is disconnected.
// aedes speaks MQTT 3.1 and 3.1.1 only, which have no DISCONNECT reason codes:
// a closed connection is logged with its reason and counted instead.
import { EventEmitter } from 'node:events';
import { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { BurstLog } from '../observe/burst-log.ts';

export const PUBLISH = 3;
/** A fixed header is 1 type byte and at most 4 remaining-length bytes. */
const MAX_HEADER_BYTES = 5;
/** The largest remaining length four bytes can encode. */
export const MQTT_MAX_REMAINING_LENGTH = 268_435_455;

export type GateStep =
  /** Body bytes of the current packet: forward them. */
  | { kind: 'body'; length: number }
  /** A complete fixed header at the current position; the body follows. */
  | { kind: 'header'; type: number; headerLength: number; remainingLength: number }
  /** The header is split across chunks: keep these (fewer than 5) bytes and wait for more. */
  | { kind: 'incomplete' }
  | { kind: 'too-large'; type: number; remainingLength: number }
  /** A fifth remaining-length byte: not MQTT. */
  | { kind: 'malformed' };

const INCOMPLETE: GateStep = { kind: 'incomplete' };
const MALFORMED: GateStep = { kind: 'malformed' };

/**
 * Walks a byte stream packet by packet without holding any of it. `next` looks at
 * the bytes from `offset` on; a 'body' or 'header' step counts as stepped over.
 */
export class PacketGate {
  private bodyLeft = 0;

  constructor(readonly maxRemainingLength: number) {}

  next(data: Buffer, offset: number): GateStep {
    if (this.bodyLeft > 0) {
      const length = Math.min(this.bodyLeft, data.length - offset);
      this.bodyLeft -= length;
      return { kind: 'body', length };
    }
    let value = 0;
    let multiplier = 1;
    for (let i = 1; i < MAX_HEADER_BYTES; i++) {
      if (offset + i >= data.length) return INCOMPLETE;
      const byte = data[offset + i]!;
      value += (byte & 0x7f) * multiplier;
      if ((byte & 0x80) === 0) {
        const type = data[offset]! >> 4;
        if (value > this.maxRemainingLength) return { kind: 'too-large', type, remainingLength: value };
        this.bodyLeft = value;
        return { kind: 'header', type, headerLength: i + 1, remainingLength: value };
      }
      multiplier *= 128;
    }
    return MALFORMED;
  }
}

/** Token bucket: `perSecond` tokens a second, at most `burst` kept. Times in ms from a monotonic clock. */
export class TokenBucket {
  private tokens: number;
  private at: number;

  constructor(
    readonly perSecond: number,
    readonly burst: number,
    now: number,
  ) {
    this.tokens = burst;
    this.at = now;
  }

  /** Takes a token and returns 0, or returns the ms until one is there (and takes nothing). */
  take(now: number): number {
    this.refill(now);
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return 0;
    }
    return Math.max(1, Math.ceil(((1 - this.tokens) * 1000) / this.perSecond));
  }

  msUntilFull(now: number): number {
    this.refill(now);
    return this.tokens >= this.burst ? 0 : Math.ceil(((this.burst - this.tokens) * 1000) / this.perSecond);
  }

  private refill(now: number): void {
    if (now > this.at) this.tokens = Math.min(this.burst, this.tokens + ((now - this.at) * this.perSecond) / 1000);
    this.at = now;
  }
}

export interface ConnectionLimits {
  /** Largest MQTT packet (its remaining length, in bytes) a client may send. */
  maxPacketBytes: number;
  /** PUBLISH packets per second per client id; 0 turns pacing off. */
  publishesPerSecond: number;
  /** PUBLISH packets a client may send at once before it is paced. */
  publishBurst: number;
  /** A client paced without a break for this long is disconnected; 0: never. */
  disconnectAfterPacedMs: number;
  /** Open connections at once, over all addresses; 0: unlimited. */
  maxConnections: number;
  /** Open connections at once from one remote address; 0: unlimited. */
  maxConnectionsPerAddress: number;
}

export const LIMIT_REASONS = ['packet_too_large', 'malformed_header', 'rate_exceeded', 'max_connections', 'max_connections_per_address'] as const;
export type LimitReason = (typeof LIMIT_REASONS)[number];

export interface LimitStats {
  /** Connections closed by a limit, per reason. */
  disconnects: Record<LimitReason, number>;
  /** PUBLISH packets held back for a token. */
  pacedPublishes: number;
  /** Times a client went above its rate and started being paced. */
  pacingEpisodes: number;
}

export interface LimitDisconnect {
  reason: LimitReason;
  detail: string;
  /** Undefined when the connection had not completed CONNECT. */
  clientId: string | undefined;
  address: string;
  /** Bytes the bridge had read from this socket when it closed it. */
  bytesRead: number;
}

/** What a LimitedConnection needs of the socket under it (a net.Socket or tls.TLSSocket). */
type Socket = Duplex & { remoteAddress?: string; remotePort?: number; bytesRead?: number };

const monotonicMs = () => performance.now();

/**
 * Owns the limits of every connection of one broker: the shared per-client-id
 * buckets, the counters, the log lines. Events: 'disconnect' (LimitDisconnect),
 * 'paced' (clientId, once per held PUBLISH).
 */
export class ConnectionLimiter extends EventEmitter {
  readonly stats: LimitStats = {
    disconnects: { packet_too_large: 0, malformed_header: 0, rate_exceeded: 0, max_connections: 0, max_connections_per_address: 0 },
    pacedPublishes: 0,
    pacingEpisodes: 0,
  };
  /** Open connections, in all and by remote address. */
  private open = 0;
  private readonly openByAddress = new Map<string, number>();
  /** Buckets by client id, kept after a disconnect until they are full again (so reconnecting does not refill them). */
  private readonly buckets = new Map<string, { bucket: TokenBucket; users: number; expiry?: NodeJS.Timeout }>();

  constructor(
    readonly limits: ConnectionLimits,
    readonly log: Logger,
    readonly now: () => number = monotonicMs,
  ) {
    super();
  }

  get pacing(): boolean {
    return this.limits.publishesPerSecond > 0;
  }

  wrap(socket: Socket): LimitedConnection {
    return new LimitedConnection(socket, this);
  }

  /**
   * Counts a new socket against the connection caps, before any byte of it is read. Over a
   * cap it is closed at once (counted, logged) and false is returned.
   */
  admit(socket: Socket): boolean {
    const address = socket.remoteAddress ?? '?';
    const fromAddress = this.openByAddress.get(address) ?? 0;
    const { maxConnections, maxConnectionsPerAddress } = this.limits;
    const refused: [LimitReason, string] | undefined =
      maxConnections > 0 && this.open >= maxConnections
        ? ['max_connections', `${this.open} connections open, mqtt.embedded.limits.maxConnections is ${maxConnections}`]
        : maxConnectionsPerAddress > 0 && fromAddress >= maxConnectionsPerAddress
          ? ['max_connections_per_address', `${fromAddress} connections open from ${address}, mqtt.embedded.limits.maxConnectionsPerAddress is ${maxConnectionsPerAddress}`]
          : undefined;
    if (refused) {
      this.stats.disconnects[refused[0]]++;
      this.refusedLog.count(refused[0]);
      this.lastRefusal = refused[1];
      socket.destroy();
      return false;
    }
    this.open++;
    this.openByAddress.set(address, fromAddress + 1);
    socket.once('close', () => {
      this.open--;
      const n = (this.openByAddress.get(address) ?? 1) - 1;
      if (n > 0) this.openByAddress.set(address, n);
      else this.openByAddress.delete(address);
    });
    return true;
  }

  /** Connections refused at the caps, logged once per burst: a flood must not flood the log too. */
  private lastRefusal = '';
  private readonly refusedLog = new BurstLog(({ counts, sinceMs }) =>
    this.log.warn({ counts, sinceMs, last: this.lastRefusal }, 'mqtt connections refused at the connection caps'),
  );

  get openConnections(): number {
    return this.open;
  }

  /** Called once the client id is known (after CONNECT): its PUBLISHes draw on the bucket of that id from now on. */
  bind(conn: unknown, clientId: string): void {
    if (conn instanceof LimitedConnection) conn.bind(clientId);
  }

  newBucket(): TokenBucket {
    return new TokenBucket(this.limits.publishesPerSecond, this.limits.publishBurst, this.now());
  }

  acquireBucket(clientId: string): TokenBucket {
    let entry = this.buckets.get(clientId);
    if (!entry) {
      entry = { bucket: this.newBucket(), users: 0 };
      this.buckets.set(clientId, entry);
    }
    clearTimeout(entry.expiry);
    entry.users++;
    return entry.bucket;
  }

  releaseBucket(clientId: string): void {
    const entry = this.buckets.get(clientId);
    if (!entry || --entry.users > 0) return;
    const forget = () => {
      if (entry.users > 0) return;
      const ms = entry.bucket.msUntilFull(this.now());
      if (ms === 0) this.buckets.delete(clientId);
      else entry.expiry = setTimeout(forget, ms).unref();
    };
    forget();
  }

  /** Client ids with a bucket kept (for tests: it must not grow without bound). */
  get bucketCount(): number {
    return this.buckets.size;
  }

  onPacingStarted(conn: LimitedConnection): void {
    this.stats.pacingEpisodes++;
    const { publishesPerSecond, publishBurst } = this.limits;
    this.log.warn(
      { clientId: conn.clientId, address: conn.address, limit: `${publishesPerSecond}/s, burst ${publishBurst}` },
      'mqtt client above its publish rate: paced (its packets are read, and acknowledged, more slowly)',
    );
  }

  onPacingEnded(conn: LimitedConnection, paced: number, ms: number, closed: boolean): void {
    const what = closed ? 'mqtt pacing ended: connection closed' : 'mqtt client back under its publish rate';
    this.log.info({ clientId: conn.clientId, address: conn.address, pacedPublishes: paced, pacedMs: Math.round(ms) }, what);
  }

  onPaced(conn: LimitedConnection): void {
    this.stats.pacedPublishes++;
    if (conn.clientId !== undefined) this.emit('paced', conn.clientId);
  }

  onDisconnect(info: LimitDisconnect): void {
    this.stats.disconnects[info.reason]++;
    this.log.warn({ clientId: info.clientId, address: info.address, reason: info.reason, bytesRead: info.bytesRead }, `mqtt connection closed: ${info.detail}`);
    this.emit('disconnect', info);
  }
}

const EMPTY = Buffer.alloc(0);

/**
 * The socket as aedes sees it: writes go straight through; reads pass through a
 * PacketGate and, for PUBLISH packets, the client's token bucket. Bytes are never
 * changed or reordered; at most one socket chunk (plus a split header) is held.
 */
export class LimitedConnection extends Duplex {
  readonly address: string;
  clientId: string | undefined;
  private readonly gate: PacketGate;
  private bucket: TokenBucket | undefined;
  /** Bytes read and not yet pushed; the first `approved` of them may be pushed. */
  private input: Buffer = EMPTY;
  private approved = 0;
  /** Header length of a PUBLISH waiting for a token (0: none). */
  private heldHeader = 0;
  private heldWasPaced = false;
  private wake: NodeJS.Timeout | undefined;
  private socketEnded = false;
  private readerFull = false;
  /** Since when this client has been paced without a break, and when it last waited. */
  private saturatedSince: number | undefined;
  private lastPacedAt: number | undefined;
  private episode: { since: number; paced: number; check?: NodeJS.Timeout } | undefined;

  constructor(
    private readonly socket: Socket,
    private readonly limiter: ConnectionLimiter,
  ) {
    super({ allowHalfOpen: false });
    this.address = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`;
    this.gate = new PacketGate(limiter.limits.maxPacketBytes);
    this.bucket = limiter.pacing ? limiter.newBucket() : undefined;
    socket.on('data', (chunk: Buffer) => {
      this.input = this.input.length === 0 ? chunk : Buffer.concat([this.input, chunk]);
      this.pump();
    });
    socket.on('end', () => {
      this.socketEnded = true;
      this.pump();
    });
    socket.on('error', (err) => this.destroy(err));
    socket.on('close', () => this.destroy());
  }

  bind(clientId: string): void {
    if (this.clientId !== undefined || this.destroyed) return;
    this.clientId = clientId;
    if (this.limiter.pacing) this.bucket = this.limiter.acquireBucket(clientId);
  }

  override _read(): void {
    this.readerFull = false;
    if (!this.wake) this.socket.resume();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: (err?: Error | null) => void): void {
    if (this.socket.write(chunk)) done();
    else this.socket.once('drain', () => done());
  }

  override _writev(chunks: Array<{ chunk: Buffer }>, done: (err?: Error | null) => void): void {
    const all = Buffer.concat(chunks.map((c) => c.chunk));
    if (this.socket.write(all)) done();
    else this.socket.once('drain', () => done());
  }

  override _final(done: (err?: Error | null) => void): void {
    this.socket.end();
    done();
  }

  override _destroy(err: Error | null, done: (err?: Error | null) => void): void {
    clearTimeout(this.wake);
    this.wake = undefined;
    this.endEpisode(true);
    if (this.clientId !== undefined && this.limiter.pacing) this.limiter.releaseBucket(this.clientId);
    this.input = EMPTY;
    this.socket.destroy();
    done(err);
  }

  /** Approves what the limits allow, pushes it, and pauses the socket while waiting. */
  private pump(): void {
    if (this.wake || this.destroyed) return;
    for (;;) {
      if (this.heldHeader > 0) {
        const waitMs = this.admitPublish();
        if (waitMs < 0) return; // disconnected
        if (waitMs > 0) {
          this.flush();
          this.socket.pause();
          this.wake = setTimeout(() => {
            this.wake = undefined;
            this.pump();
          }, waitMs);
          return;
        }
        this.approved += this.heldHeader;
        this.heldHeader = 0;
      }
      if (this.approved >= this.input.length) break;
      const step = this.gate.next(this.input, this.approved);
      if (step.kind === 'body') {
        this.approved += step.length;
      } else if (step.kind === 'header') {
        if (step.type === PUBLISH && this.bucket) this.heldHeader = step.headerLength;
        else this.approved += step.headerLength;
      } else if (step.kind === 'incomplete') {
        break;
      } else if (step.kind === 'too-large') {
        return this.close('packet_too_large', `packet type ${step.type} announces ${step.remainingLength} bytes, above maxPacketBytes ${this.gate.maxRemainingLength}`);
      } else {
        return this.close('malformed_header', 'remaining length longer than 4 bytes: not MQTT');
      }
    }
    this.flush();
    if (this.socketEnded) this.push(null);
    else if (!this.readerFull) this.socket.resume();
  }

  private flush(): void {
    if (this.approved === 0) return;
    const out = this.input.subarray(0, this.approved);
    this.input = this.approved === this.input.length ? EMPTY : this.input.subarray(this.approved);
    this.approved = 0;
    if (!this.push(out)) {
      this.readerFull = true;
      this.socket.pause();
    }
  }

  /** 0: go; > 0: ms to wait; < 0: the connection was closed. */
  private admitPublish(): number {
    const now = this.limiter.now();
    const waitMs = this.bucket!.take(now);
    if (waitMs === 0) {
      this.heldWasPaced = false;
      return 0;
    }
    if (!this.heldWasPaced) {
      this.heldWasPaced = true;
      // Paced without a break: this wait follows the last one within a token's time (plus
      // 100 ms for timers that fire late). A client under its rate leaves longer gaps.
      const chained = this.lastPacedAt !== undefined && now - this.lastPacedAt <= 100 + 1000 / this.bucket!.perSecond;
      if (!chained) this.saturatedSince = now;
      this.limiter.onPaced(this);
      this.noteEpisode(now);
    }
    this.lastPacedAt = now;
    const limit = this.limiter.limits.disconnectAfterPacedMs;
    if (limit > 0 && now - this.saturatedSince! >= limit) {
      const { publishesPerSecond, publishBurst } = this.limiter.limits;
      this.close('rate_exceeded', `client kept above ${publishesPerSecond} PUBLISH/s (burst ${publishBurst}) for ${limit} ms`);
      return -1;
    }
    return waitMs;
  }

  /** An episode lasts until the bucket is full again: logged once at its start and once at its end. */
  private noteEpisode(now: number): void {
    if (this.episode) {
      this.episode.paced++;
      return;
    }
    this.episode = { since: now, paced: 1 };
    this.limiter.onPacingStarted(this);
    const check = () => {
      const episode = this.episode;
      if (!episode) return;
      const ms = this.bucket!.msUntilFull(this.limiter.now());
      if (ms === 0) this.endEpisode(false);
      else episode.check = setTimeout(check, ms).unref();
    };
    this.episode.check = setTimeout(check, this.bucket!.msUntilFull(now)).unref();
  }

  private endEpisode(closed: boolean): void {
    const episode = this.episode;
    if (!episode) return;
    this.episode = undefined;
    clearTimeout(episode.check);
    this.limiter.onPacingEnded(this, episode.paced, this.limiter.now() - episode.since, closed);
  }

  private close(reason: LimitReason, detail: string): void {
    this.limiter.onDisconnect({ reason, detail, clientId: this.clientId, address: this.address, bytesRead: this.socket.bytesRead ?? 0 });
    this.destroy(new Error(`connection closed by limit: ${detail}`));
  }
}
