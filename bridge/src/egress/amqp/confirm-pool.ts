// ConfirmPool: N sessions (connections) x M confirm channels (ConfirmWindow), each with a window of unconfirmed
// publishes. Callers fire publish() concurrently; each promise settles on the broker's
// ack/nack (or on the link dying), never by awaiting confirms one at a time.
//
// Invariants:
// - every publish() promise settles: confirmed / returned / nacked, or failed when its
//   channel closes first (nothing waits on a confirm from a dead channel);
// - a message is written to the wire at most once by the pool; retrying is the caller's call;
// - a channel whose publish() returned false gets no more messages until 'drain' (or it closes);
// - topology is declared on every (re)connect before any channel publishes.
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import type { ChannelModel, Message } from 'amqplib';
import type { OutboundMessage, PublishOutcome } from '../../types.ts';
import type { Topology } from '../../amqp/topology.ts';
import { AmqpSession, type AmqpTls, type ReconnectPolicy, type SessionState } from '../../amqp/session.ts';
import { PoolClosedError, UnpublishableError, maxMessageSizeRefusal } from '../../amqp/errors.ts';
import { ConfirmWindow, type PublishJob } from './confirm-window.ts';

export interface ConfirmPoolOptions {
  /** Tried in turn: every failed attempt or lost connection moves that connection to the next URL. */
  urls: string[];
  connections: number;
  channelsPerConnection: number;
  /** Unconfirmed publishes per channel. Size it as rate x confirm latency. */
  windowPerChannel: number;
  /** 0 disables heartbeats (amqplib >= 2). A dead link is noticed after 2-3 intervals. */
  heartbeatSec: number;
  tls?: AmqpTls;
  exchange: string;
  topology: Topology;
  reconnect: ReconnectPolicy;
  /** Socket connect + AMQP handshake must finish within this; a blackholed broker otherwise hangs the attempt. Default 10 s. */
  connectTimeoutMs?: number;
  logger?: Logger;
}

export type ConnectionState = SessionState;

export interface ConnectionInfo {
  /** The URL in use (or next to try), password removed. */
  url: string;
  state: ConnectionState;
  channels: number;
  inFlight: number;
  /** Why the last attempt failed or the connection was lost (e.g. a TLS certificate error); cleared once it is open again. */
  lastError?: string;
}

export interface PoolCounters {
  published: number;
  confirmed: number;
  nacked: number;
  returned: number;
  failed: number;
  /** Reconnect attempts scheduled (one per 'reconnect' event). */
  reconnects: number;
  /** Highest number of unconfirmed messages seen at once across the pool. */
  maxInFlight: number;
}

export interface PoolState {
  ready: boolean;
  blocked: boolean;
  /** publish() calls waiting for a window slot. */
  queued: number;
  connections: ConnectionInfo[];
  counters: PoolCounters;
}

const MAX_MESSAGE_SIZE_MEMORY_MS = 10 * 60_000;
/** Publishes nacked in a row, with no ack between, after which a channel is replaced. */
const NACKS_BEFORE_NEW_CHANNEL = 200;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

interface Slot {
  index: number;
  session: AmqpSession;
  channels: ConfirmWindow[];
}

export class ConfirmPool extends EventEmitter {
  private readonly opts: ConfirmPoolOptions;
  private readonly log: Logger | undefined;
  private readonly slots: Slot[] = [];
  // FIFO of publishes waiting for a slot; head index avoids O(n) shift on big bursts.
  private queue: (PublishJob | undefined)[] = [];
  private head = 0;
  private inFlightTotal = 0;
  private closing = false;
  private pumping = false;
  /** The broker's max_message_size, learnt from a 406 that named it; bigger messages are parked without a send (each send would close a channel). Forgotten after a while, in case the limit is raised. */
  private knownMaxMessageSize: { bytes: number; until: number } | undefined;
  private idleWaiters: (() => void)[] = [];
  private readonly counters: PoolCounters = {
    published: 0,
    confirmed: 0,
    nacked: 0,
    returned: 0,
    failed: 0,
    reconnects: 0,
    maxInFlight: 0,
  };

  constructor(opts: ConfirmPoolOptions) {
    super();
    if (opts.urls.length === 0) throw new TypeError('ConfirmPool needs at least one url');
    if (opts.connections < 1 || opts.channelsPerConnection < 1 || opts.windowPerChannel < 1) {
      throw new TypeError('connections, channelsPerConnection and windowPerChannel must be >= 1');
    }
    this.opts = opts;
    this.log = opts.logger;
    for (let index = 0; index < opts.connections; index++) {
      const slot: Slot = {
        index,
        channels: [],
        session: new AmqpSession({
          name: `edge-bridge-egress-${index}`,
          urls: opts.urls,
          // Spread connections over the URLs from the start; each then fails over in turn.
          firstUrl: index,
          heartbeatSec: opts.heartbeatSec,
          tls: opts.tls,
          reconnect: opts.reconnect,
          connectTimeoutMs: opts.connectTimeoutMs,
          topology: opts.topology,
          coalesceWrites: true,
          logger: opts.logger,
          setup: async (model) => {
            slot.channels = [];
            for (let i = 0; i < opts.channelsPerConnection; i++) await this.openChannel(slot, model);
          },
        }),
      };
      const s = slot.session;
      s.on('connected', (e: { url: string }) => {
        this.emit('connected', { index, ...e });
        this.pump();
      });
      s.on('disconnected', (e: { url: string; error?: Error }) => {
        slot.channels = [];
        this.emit('disconnected', { index, ...e });
      });
      s.on('reconnect', (e: { url: string; attempt: number; delayMs: number; error?: Error }) => {
        this.counters.reconnects++;
        this.emit('reconnect', { index, ...e });
      });
      s.on('blocked', (e: { url: string; reason: string }) => this.emit('blocked', { index, ...e }));
      s.on('unblocked', (e: { url: string }) => {
        this.emit('unblocked', { index, ...e });
        this.pump();
      });
      s.on('topologyError', (err: Error) => this.emit('topologyError', err));
      this.slots.push(slot);
    }
  }

  /** Starts connecting. Never throws for an unreachable broker: it keeps retrying. Resolves once each connection has made its first attempt. */
  async start(): Promise<void> {
    await Promise.all(this.slots.map((s) => s.session.start()));
  }

  get ready(): boolean {
    return this.slots.some((s) => s.session.state === 'open' && s.channels.some((c) => c.open));
  }

  /** True while some open connection is blocked by the broker (memory/disk alarm). */
  get blocked(): boolean {
    return this.slots.some((s) => s.session.blocked);
  }

  state(): PoolState {
    return {
      ready: this.ready,
      blocked: this.blocked,
      queued: this.queue.length - this.head,
      connections: this.slots.map((s) => ({
        url: s.session.url,
        state: s.session.state,
        channels: s.channels.filter((c) => c.open).length,
        inFlight: s.channels.reduce((n, c) => n + c.size, 0),
        ...(s.session.lastError !== undefined && { lastError: s.session.lastError.message }),
      })),
      counters: { ...this.counters },
    };
  }

  /** Waits for a window slot, publishes persistent + mandatory, resolves on the broker's answer. Never rejects. */
  publish(msg: OutboundMessage): Promise<PublishOutcome> {
    return new Promise<PublishOutcome>((resolve) => this.publishWith(msg, resolve));
  }

  /** publish() with a callback, for the forwarder's per-message path. `done` is called once, maybe synchronously. */
  publishWith<M extends OutboundMessage>(msg: M, done: (res: PublishOutcome, msg: M) => void): void {
    if (this.closing) return done(this.fail(new PoolClosedError()), msg);
    this.queue.push({ msg, resolve: done as PublishJob['resolve'] });
    this.pump();
  }

  /** Stops accepting, waits up to timeoutMs for in-flight confirms, then closes everything. */
  async close(timeoutMs = 5_000): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    // Not yet written: hand back now, the caller still has them.
    for (let i = this.head; i < this.queue.length; i++) {
      const job = this.queue[i];
      if (job) job.resolve(this.fail(new PoolClosedError()), job.msg);
    }
    this.queue = [];
    this.head = 0;
    if (this.inFlightTotal > 0) {
      await Promise.race([new Promise<void>((r) => this.idleWaiters.push(r)), sleep(timeoutMs)]);
    }
    await Promise.all(this.slots.map((s) => s.session.close()));
  }

  // ---- channels ----

  private async openChannel(slot: Slot, model: ChannelModel): Promise<void> {
    const ch = await model.createConfirmChannel();
    const w = new ConfirmWindow(ch, this.opts.exchange, (outcome, job) => this.settled(outcome, job));
    let channelError: (Error & { code?: number }) | undefined;
    let nacksInARow = 0;
    let replacing = false;
    ch.on('error', (err: Error) => {
      channelError = err;
      this.log?.warn({ err, index: slot.index }, 'amqp channel error');
    });
    ch.on('ack', (f: { deliveryTag: number; multiple: boolean }) => {
      nacksInARow = 0;
      w.confirm(f.deliveryTag, f.multiple, true);
      this.pump();
    });
    ch.on('nack', (f: { deliveryTag: number; multiple: boolean }) => {
      nacksInARow += w.confirm(f.deliveryTag, f.multiple, false);
      // A quorum queue's failover nacks a burst; a channel that nacks everything long after
      // (seen on a 3.10 cluster after its node was killed) is replaced: a new one publishes fine.
      if (nacksInARow >= NACKS_BEFORE_NEW_CHANNEL && w.open && !this.closing) {
        replacing = true;
        w.open = false;
        this.log?.warn({ index: slot.index, nacks: nacksInARow }, 'the broker nacks every publish on this channel; replacing it');
        ch.close().catch(() => {});
      }
      this.pump();
    });
    ch.on('return', (m: Message) => {
      if (!w.returned(m)) this.log?.warn({ messageId: m.properties.messageId }, 'basic.return for no in-flight message');
    });
    ch.on('drain', () => {
      w.draining = false;
      this.pump();
    });
    ch.on('close', () => {
      const limit = maxMessageSizeRefusal(channelError);
      if (limit !== undefined) this.knownMaxMessageSize = { bytes: limit, until: Date.now() + MAX_MESSAGE_SIZE_MEMORY_MS };
      w.closed(channelError, limit);
      slot.channels = slot.channels.filter((c) => c !== w);
      // A channel the broker closed (e.g. 404: exchange deleted under us) on a live connection:
      // re-declare and reopen. When the whole connection went, the session reconnects instead.
      if (!this.closing && (channelError || replacing)) {
        setTimeout(() => void this.reopenChannel(slot, model), Math.min(this.opts.reconnect.initialMs, 1_000));
      }
      this.pump();
    });
    slot.channels.push(w);
  }

  private async reopenChannel(slot: Slot, model: ChannelModel): Promise<void> {
    if (this.closing || slot.session.model !== model) return;
    try {
      await slot.session.redeclare();
      await this.openChannel(slot, model);
      this.pump();
    } catch (err) {
      this.log?.warn({ err }, 'reopening channel failed; closing connection to start over');
      await slot.session.restart();
    }
  }

  // ---- publishing ----

  // One device always goes out on the same channel while the pool is stable:
  // RabbitMQ keeps publish order per channel, so per-device order holds.
  // A full pinned channel stalls the queue (head of line) rather than reorder.
  private pickChannel(device: string): ConfirmWindow | undefined {
    // Counted, then walked to the picked one: no array per message.
    let usable = 0;
    for (const slot of this.slots) {
      if (slot.session.state !== 'open') continue;
      for (const c of slot.channels) if (c.open) usable++;
    }
    if (usable === 0) return undefined;
    let n = hashDevice(device) % usable;
    for (const slot of this.slots) {
      if (slot.session.state !== 'open') continue;
      for (const c of slot.channels) {
        if (!c.open || n-- > 0) continue;
        if (c.draining || c.size >= this.opts.windowPerChannel) return undefined;
        return c;
      }
    }
    return undefined;
  }

  private pump(): void {
    if (this.pumping) return;
    this.pumping = true;
    try {
      while (this.head < this.queue.length) {
        const job = this.queue[this.head]!;
        const w = this.pickChannel(job.msg.device);
        if (!w) break;
        this.queue[this.head++] = undefined;
        this.send(w, job);
      }
      if (this.head > 1024 && this.head * 2 > this.queue.length) {
        this.queue = this.queue.slice(this.head);
        this.head = 0;
      }
    } finally {
      this.pumping = false;
    }
  }

  private send(w: ConfirmWindow, job: PublishJob): void {
    const known = this.knownMaxMessageSize;
    if (known !== undefined && job.msg.body.length > known.bytes) {
      if (Date.now() < known.until) return job.resolve(this.fail(new UnpublishableError(`${job.msg.body.length} bytes is over the broker's max_message_size ${known.bytes}`)), job.msg);
      this.knownMaxMessageSize = undefined;
    }
    const sent = w.send(job);
    if (sent === 'closing') {
      this.queue[--this.head] = job;
      return;
    }
    if (sent !== 'sent') return job.resolve(this.fail(sent.refused), job.msg);
    this.counters.published++;
    this.inFlightTotal++;
    if (this.inFlightTotal > this.counters.maxInFlight) this.counters.maxInFlight = this.inFlightTotal;
  }

  private settled(outcome: PublishOutcome, job: PublishJob): void {
    this.inFlightTotal--;
    if (outcome.kind === 'failed') this.counters.failed++;
    else this.counters[outcome.kind]++;
    job.resolve(outcome, job.msg);
    if (this.inFlightTotal === 0 && this.idleWaiters.length) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const w of waiters) w();
    }
  }

  private fail(error: Error): PublishOutcome {
    this.counters.failed++;
    return { kind: 'failed', error };
  }
}

/** FNV-1a: cheap, stable, spreads device ids evenly over channels. */
function hashDevice(device: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < device.length; i++) {
    h ^= device.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}
