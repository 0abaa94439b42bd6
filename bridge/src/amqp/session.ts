// AmqpSession: one AMQP connection that stays up. Egress, downlink, the reference consumer
// and tail each hold sessions; what they do on a connection is their `setup`.
//
// Invariants:
// - at most one connection is open per session, and `setup` runs on it after the topology
//   was declared, before 'connected' is emitted;
// - every failed attempt or lost connection moves to the next URL and waits a backoff with
//   equal jitter from `reconnect`; a connection that stayed up a while starts the backoff over;
// - an attempt that does not finish within connectTimeoutMs fails (a blackholed broker
//   would otherwise hang it); close() always returns, even on a dead link.
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import { connect, type ChannelModel } from 'amqplib';
import { coalesceWrites } from '../coalesce-writes.ts';
import { connectionSocket, destroySocket } from '../adapters/amqplib.ts';
import { redactSecrets, redactUrl } from '../observe/redact.ts';
import { TopologyError } from './errors.ts';
import { declareTopology, type Topology } from './topology.ts';

export interface AmqpTls {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  passphrase?: string;
}

export interface ReconnectPolicy {
  initialMs: number;
  maxMs: number;
}

export interface AmqpSessionOptions {
  /** Shown as connection_name in RabbitMQ's management UI, and in logs. */
  name: string;
  /** Tried in turn, starting at firstUrl. */
  urls: string[];
  firstUrl?: number;
  /** 0 disables heartbeats. A dead link is noticed after 2-3 intervals. */
  heartbeatSec?: number;
  /** Used for amqps:// URLs. */
  tls?: AmqpTls;
  reconnect: ReconnectPolicy;
  connectTimeoutMs?: number;
  /** Declared on every connect, so a broker restart or a deleted exchange heals itself. */
  topology?: Topology;
  /** Runs on every new connection; throwing closes it and the session tries again. */
  setup?: (model: ChannelModel) => Promise<void>;
  /** Writes made in one tick leave in one syscall (the egress hot path). */
  coalesceWrites?: boolean;
  logger?: Logger;
}

export type SessionState = 'connecting' | 'open' | 'blocked' | 'closed';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Exponential backoff with equal jitter: half fixed, half random, capped at maxMs. */
export function backoffMs(policy: ReconnectPolicy, attempt: number): number {
  const base = Math.min(policy.maxMs, policy.initialMs * 2 ** Math.min(attempt - 1, 30));
  return Math.round(base / 2 + Math.random() * (base / 2));
}

function withHeartbeat(url: string, sec: number | undefined): string {
  if (sec === undefined) return url;
  const u = new URL(url);
  if (!u.searchParams.has('heartbeat')) u.searchParams.set('heartbeat', String(sec));
  return u.toString();
}

export class AmqpSession extends EventEmitter {
  private urlIndex: number;
  private attempt = 0;
  private closing = false;
  private started = false;
  private current: ChannelModel | undefined;
  private wake: (() => void) | undefined;
  private done: Promise<void> = Promise.resolve();
  private isBlocked = false;
  private connecting = false;
  /** Why the last attempt failed or the connection was lost; cleared once open again. */
  lastError: Error | undefined;

  constructor(private readonly opts: AmqpSessionOptions) {
    super();
    if (opts.urls.length === 0) throw new TypeError(`${opts.name}: needs at least one AMQP URL`);
    this.urlIndex = opts.firstUrl ?? 0;
  }

  get state(): SessionState {
    if (this.current) return this.isBlocked ? 'blocked' : 'open';
    return this.connecting ? 'connecting' : 'closed';
  }

  /** The open connection, if any. */
  get model(): ChannelModel | undefined {
    return this.current;
  }

  /** The URL in use, or next to try, password removed. */
  get url(): string {
    return redactUrl(this.rawUrl());
  }

  get blocked(): boolean {
    return this.current !== undefined && this.isBlocked;
  }

  /** Starts the connect loop; resolves after the first attempt, whether it connected or not. */
  start(): Promise<void> {
    if (this.started) return Promise.resolve();
    this.started = true;
    return new Promise<void>((firstAttemptDone) => {
      this.done = this.run(firstAttemptDone);
    });
  }

  /** Drops the current connection; the loop reconnects after a backoff. */
  async restart(): Promise<void> {
    await this.closeModel();
  }

  /** Declares the topology again on the open connection (after the broker closed a channel). */
  async redeclare(): Promise<void> {
    const model = this.current;
    if (model && this.opts.topology) await this.declare(model, this.opts.topology);
  }

  async close(): Promise<void> {
    this.closing = true;
    this.wake?.();
    await this.closeModel();
    await this.done;
  }

  private rawUrl(): string {
    return this.opts.urls[this.urlIndex % this.opts.urls.length]!;
  }

  private async run(firstAttemptDone: () => void): Promise<void> {
    const log = this.opts.logger;
    while (!this.closing) {
      const url = this.rawUrl();
      let openedAt = 0;
      let lost: Error | undefined;
      this.connecting = true;
      try {
        const closed = await this.open(url);
        if (this.closing) {
          await this.closeModel();
          break;
        }
        openedAt = Date.now();
        this.lastError = undefined;
        log?.info({ url: redactUrl(url), name: this.opts.name }, 'amqp connected');
        this.emit('connected', { url: redactUrl(url) });
        firstAttemptDone();
        lost = await closed.promise;
        if (!this.closing) log?.warn({ url: redactUrl(url), name: this.opts.name, err: lost }, 'amqp connection lost');
        this.emit('disconnected', { url: redactUrl(url), error: lost });
      } catch (err) {
        lost = err as Error;
        if (err instanceof TopologyError) {
          log?.error({ err, url: redactUrl(url) }, 'topology rejected by broker; will retry with backoff');
          this.emit('topologyError', err);
        } else if (!this.closing) {
          log?.warn({ err, url: redactUrl(url), name: this.opts.name }, 'amqp connect failed');
        }
        await this.closeModel();
      }
      this.connecting = false;
      this.isBlocked = false;
      if (lost) this.lastError = new Error(redactSecrets(lost.message), { cause: lost });
      firstAttemptDone();
      if (this.closing) break;
      if (openedAt && Date.now() - openedAt >= Math.max(this.opts.reconnect.maxMs, 5_000)) this.attempt = 0;
      this.attempt++;
      this.urlIndex++;
      const delayMs = backoffMs(this.opts.reconnect, this.attempt);
      // `failure` names the URL that failed (password masked): `url` is already the next one.
      this.emit('reconnect', { url: this.url, attempt: this.attempt, delayMs, error: lost, failure: redactSecrets(`${url}: ${lost?.message ?? 'connection lost'}`) });
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, delayMs);
        this.wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
      this.wake = undefined;
    }
    this.connecting = false;
  }

  /** Connects, declares the topology, runs setup. The returned promise settles when the connection goes (boxed: an async function would adopt a bare promise). */
  private async open(url: string): Promise<{ promise: Promise<Error | undefined> }> {
    const secure = url.startsWith('amqps:');
    const tls = this.opts.tls ?? {};
    const model = await connect(withHeartbeat(url, this.opts.heartbeatSec), {
      timeout: this.opts.connectTimeoutMs ?? 10_000,
      noDelay: true,
      clientProperties: { connection_name: this.opts.name },
      ...(secure ? { ca: tls.ca, cert: tls.cert, key: tls.key, passphrase: tls.passphrase } : {}),
    });
    if (this.opts.coalesceWrites) {
      const socket = connectionSocket(model);
      if (socket) coalesceWrites(socket);
    }
    this.current = model;
    this.isBlocked = false;
    let lastError: Error | undefined;
    const promise = new Promise<Error | undefined>((resolve) => {
      model.on('error', (err: Error) => {
        lastError = err;
      });
      model.on('close', (err?: Error) => {
        destroySocket(model);
        if (this.current === model) this.current = undefined;
        resolve(err ?? lastError);
      });
    });
    model.on('blocked', (reason: string) => {
      this.isBlocked = true;
      this.opts.logger?.warn({ url: redactUrl(url), reason }, 'amqp connection blocked by broker');
      this.emit('blocked', { url: redactUrl(url), reason });
    });
    model.on('unblocked', () => {
      this.isBlocked = false;
      this.emit('unblocked', { url: redactUrl(url) });
    });
    if (this.closing) throw new Error(`${this.opts.name}: closed while connecting`);
    if (this.opts.topology) await this.declare(model, this.opts.topology);
    await this.opts.setup?.(model);
    return { promise };
  }

  private async declare(model: ChannelModel, topology: Topology): Promise<void> {
    const ch = await model.createChannel();
    ch.on('error', () => {}); // a failed declare closes the channel; the rejection carries the error
    await declareTopology(ch, topology);
    await ch.close().catch(() => {});
  }

  private async closeModel(): Promise<void> {
    const model = this.current;
    if (!model) return;
    this.current = undefined;
    // close() waits for CloseOk, which a blackholed link never sends.
    await Promise.race([model.close().catch(() => {}), sleep(2_000)]);
    destroySocket(model);
  }
}

/** An error thrown by a session's setup that no other URL or retry can cure (e.g. a missing exchange). */
export class SetupRefusedError extends Error {
  override readonly name = 'SetupRefusedError';
}

/**
 * For one-shot tools: starts the session and resolves once it is open. Every URL gets one
 * try; then, or at a SetupRefusedError from setup, the session is closed and this throws.
 */
export async function connectFirst(session: AmqpSession, urlCount: number): Promise<void> {
  const failures: string[] = [];
  const opened = new Promise<Error | undefined>((resolve) => {
    const onConnected = () => done(undefined);
    const onReconnect = (e: { error?: Error; failure: string }) => {
      if (e.error instanceof SetupRefusedError) return done(e.error);
      failures.push(e.failure);
      if (failures.length >= urlCount) done(new Error(`cannot connect to RabbitMQ (${failures.join('; ')})`));
    };
    const done = (err: Error | undefined) => {
      session.off('connected', onConnected);
      session.off('reconnect', onReconnect);
      resolve(err);
    };
    session.on('connected', onConnected);
    session.on('reconnect', onReconnect);
  });
  void session.start();
  const err = await opened;
  if (err) {
    await session.close();
    throw err;
  }
}
