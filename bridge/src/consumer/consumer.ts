// Reference consumer for the bridge's telemetry queues (docs/downstream.md).
//
// - Batches are decoded with the bridge's own codec, so handlers get a typed Batch.
// - Manual acks; prefetch bounds how many messages are unacked (and handled at once).
// - A handler error republishes a copy to the tail of the same queue with
//   x-retry-count + 1; after maxRetries the message goes to the dead-letter exchange
//   with x-dead-letter-reason. The original is acked only after the broker confirmed
//   the copy, so a crash in between redelivers instead of losing it.
//   We publish to the DLX ourselves instead of basic.nack(requeue=false) because a
//   nack cannot carry a reason: RabbitMQ's x-death only says "rejected".
// - Message ids are remembered in a window (DedupWindow); a redelivered id that was
//   already processed is acked and skipped.
// - stop() cancels the subscription, lets in-flight handlers finish, then closes.
//   Anything still unacked after that is redelivered by the broker to another consumer.
import type { ChannelModel, ConfirmChannel, ConsumeMessage, Options } from 'amqplib';
import type { Logger } from 'pino';
import { decodeBatch } from '../codec/index.ts';
import type { Batch } from '../types.ts';
import { DedupWindow, type DedupWindowOptions } from './dedup-window.ts';
import { AmqpSession, type AmqpTls, type ReconnectPolicy } from '../amqp/session.ts';

export const RETRY_COUNT_HEADER = 'x-retry-count';
export const DEAD_LETTER_REASON_HEADER = 'x-dead-letter-reason';
export const ORIGINAL_EXCHANGE_HEADER = 'x-original-exchange';
export const ORIGINAL_ROUTING_KEY_HEADER = 'x-original-routing-key';

export interface DeliveryInfo {
  /** `device:boot:seq[:part]` as the bridge set it. */
  messageId: string | undefined;
  /** As the bridge published it, also for a retried copy (which travels via the default exchange). */
  routingKey: string;
  exchange: string;
  /** Attempts that failed before this one. */
  retries: number;
  redelivered: boolean;
  headers: Record<string, unknown>;
}

export type BatchHandler = (batch: Batch, info: DeliveryInfo) => Promise<void> | void;

export interface TelemetryConsumerOptions {
  /** amqp:// or amqps:// URL of the broker. */
  url: string;
  /** Further URLs to fail over to, in turn. */
  failoverUrls?: string[];
  tls?: AmqpTls;
  queue: string;
  handler: BatchHandler;
  /** Unacked messages at most; also how many handlers run at once. 1 keeps a queue's order. Default 10. */
  prefetch?: number;
  /** Retries after the first failure; the handler runs at most maxRetries + 1 times per message. Default 3. */
  maxRetries?: number;
  /** Wait before requeueing a failed message (the message stays unacked meanwhile). Default 0. */
  retryDelayMs?: number;
  /** Where messages go after the last retry, and undecodable ones at once (the bridge's default is telemetry.dlx). */
  deadLetterExchange: string;
  /** false turns dedup off. */
  dedup?: DedupWindowOptions | false;
  /** stop() waits this long for in-flight handlers. Default 30 s. */
  shutdownTimeoutMs?: number;
  /** Reconnect backoff (exponential, equal jitter) after the connection is lost; the bridge's amqp.reconnect has the same shape. */
  reconnect?: ReconnectPolicy;
  logger?: Logger;
}

export interface ConsumerCounts {
  /** Handler succeeded and the message was acked. */
  processed: number;
  /** Skipped: the id was already processed within the window. */
  duplicates: number;
  /** Handler failed and a copy was requeued. */
  retried: number;
  /** Sent to the dead-letter exchange (after retries, or undecodable). */
  deadLettered: number;
  undecodable: number;
}

export class TelemetryConsumer {
  readonly counts: ConsumerCounts = { processed: 0, duplicates: 0, retried: 0, deadLettered: 0, undecodable: 0 };
  private readonly opts: Required<Omit<TelemetryConsumerOptions, 'logger' | 'dedup' | 'tls' | 'failoverUrls'>> & Pick<TelemetryConsumerOptions, 'logger'>;
  private readonly session: AmqpSession;
  private readonly dedup: DedupWindow | undefined;
  private readonly inFlight = new Map<ConsumeMessage, Promise<void>>();
  /** Per message id, the attempt running now: a duplicate waits for it instead of running beside it. */
  private readonly running = new Map<string, Promise<void>>();
  private ch: ConfirmChannel | undefined;
  private consumerTag: string | undefined;
  private stopping = false;

  constructor(opts: TelemetryConsumerOptions) {
    this.opts = {
      prefetch: 10,
      maxRetries: 3,
      retryDelayMs: 0,
      shutdownTimeoutMs: 30_000,
      reconnect: { initialMs: 500, maxMs: 30_000 },
      ...opts,
    };
    if (!(Number.isInteger(this.opts.prefetch) && this.opts.prefetch > 0)) throw new RangeError(`prefetch: expected a positive integer, got ${this.opts.prefetch}`);
    if (!(Number.isInteger(this.opts.maxRetries) && this.opts.maxRetries >= 0)) throw new RangeError(`maxRetries: expected an integer >= 0, got ${this.opts.maxRetries}`);
    this.dedup = opts.dedup === false ? undefined : new DedupWindow(opts.dedup);
    this.session = new AmqpSession({
      name: `edge-consumer-${opts.queue}`,
      urls: [opts.url, ...(opts.failoverUrls ?? [])],
      tls: opts.tls,
      reconnect: this.opts.reconnect,
      setup: (model) => this.subscribe(model),
      logger: opts.logger,
    });
  }

  /** Connects and subscribes; rejects if the first connection or the queue check fails. */
  async start(): Promise<void> {
    this.stopping = false;
    await this.session.start();
    if (this.session.state === 'open' || this.session.state === 'blocked') return;
    const why = this.session.lastError;
    await this.session.close();
    throw why ?? new Error('consumer: could not connect');
  }

  /** Graceful: no new deliveries, in-flight handlers finish and are acked, then the connection closes. */
  async stop(): Promise<void> {
    this.stopping = true;
    const ch = this.ch;
    if (ch && this.consumerTag) await ch.cancel(this.consumerTag).catch(() => {});
    const drained = Promise.allSettled([...this.inFlight.values()]);
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<void>((r) => (timer = setTimeout(r, this.opts.shutdownTimeoutMs)));
    await Promise.race([drained, timedOut]);
    clearTimeout(timer);
    if (this.inFlight.size > 0) this.opts.logger?.warn({ inFlight: this.inFlight.size }, 'consumer stop: handlers still running; their messages will be redelivered');
    await this.session.close();
    this.ch = undefined;
  }

  private async subscribe(model: ChannelModel): Promise<void> {
    if (this.stopping) throw new Error('consumer is stopping');
    const ch = await model.createConfirmChannel();
    ch.on('error', (err: Error) => this.opts.logger?.warn({ err }, 'consumer channel error'));
    // A channel closed by the broker (e.g. queue deleted) leaves the connection up: start over.
    ch.on('close', () => {
      if (this.session.model === model) void this.session.restart();
    });
    await ch.checkQueue(this.opts.queue);
    await ch.prefetch(this.opts.prefetch);
    this.ch = ch;
    const { consumerTag } = await ch.consume(this.opts.queue, (msg) => {
      if (msg) this.track(ch, msg);
    }, { noAck: false });
    this.consumerTag = consumerTag;
  }

  private track(ch: ConfirmChannel, msg: ConsumeMessage): void {
    const p = this.handle(ch, msg)
      .catch((err: Error) => {
        // Only broker-side failures reach here (ack/publish on a dead channel): the broker redelivers.
        this.opts.logger?.warn({ err: err.message, messageId: msg.properties.messageId }, 'message left unacked; the broker will redeliver it');
      })
      .finally(() => this.inFlight.delete(msg));
    this.inFlight.set(msg, p);
  }

  private async handle(ch: ConfirmChannel, msg: ConsumeMessage): Promise<void> {
    const id = typeof msg.properties.messageId === 'string' ? msg.properties.messageId : undefined;
    const headers = (msg.properties.headers ?? {}) as Record<string, unknown>;
    const retries = Number(headers[RETRY_COUNT_HEADER] ?? 0) || 0;
    // A retried copy came back through the default exchange: its first hop is in the headers.
    const routingKey = typeof headers[ORIGINAL_ROUTING_KEY_HEADER] === 'string' ? headers[ORIGINAL_ROUTING_KEY_HEADER] : msg.fields.routingKey;
    const exchange = typeof headers[ORIGINAL_EXCHANGE_HEADER] === 'string' ? headers[ORIGINAL_EXCHANGE_HEADER] : msg.fields.exchange;
    const info: DeliveryInfo = { messageId: id, routingKey, exchange, retries, redelivered: msg.fields.redelivered, headers };

    const decoded = decodeBatch(msg.content);
    if (!decoded.ok) {
      this.counts.undecodable++;
      await this.deadLetter(ch, msg, info, `undecodable: ${decoded.error}: ${decoded.detail}`);
      return;
    }

    if (id !== undefined) {
      // Wait for an attempt on the same id that is running now, then decide.
      for (let other = this.running.get(id); other; other = this.running.get(id)) await other.catch(() => {});
      if (this.dedup?.has(id)) {
        this.counts.duplicates++;
        ch.ack(msg);
        return;
      }
    }

    const attempt = this.attempt(ch, msg, decoded.value, info);
    if (id === undefined) return attempt;
    this.running.set(id, attempt);
    try {
      await attempt;
    } finally {
      if (this.running.get(id) === attempt) this.running.delete(id);
    }
  }

  private async attempt(ch: ConfirmChannel, msg: ConsumeMessage, batch: Batch, info: DeliveryInfo): Promise<void> {
    try {
      await this.opts.handler(batch, info);
    } catch (err) {
      const why = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
      if (info.retries < this.opts.maxRetries) {
        if (this.opts.retryDelayMs > 0) await new Promise((r) => setTimeout(r, this.opts.retryDelayMs));
        // Default exchange, routing key = queue name: the copy goes back to this queue only.
        await publishConfirmed(ch, '', this.opts.queue, msg, {
          ...info.headers,
          [RETRY_COUNT_HEADER]: info.retries + 1,
          [ORIGINAL_EXCHANGE_HEADER]: info.exchange,
          [ORIGINAL_ROUTING_KEY_HEADER]: info.routingKey,
          'x-last-error': why,
        });
        this.counts.retried++;
        ch.ack(msg);
        return;
      }
      await this.deadLetter(ch, msg, info, `handler failed after ${info.retries} retries: ${why}`);
      return;
    }
    // Remember before acking: if the ack is lost, the redelivery is skipped.
    if (info.messageId !== undefined) this.dedup?.add(info.messageId);
    this.counts.processed++;
    ch.ack(msg);
  }

  private async deadLetter(ch: ConfirmChannel, msg: ConsumeMessage, info: DeliveryInfo, reason: string): Promise<void> {
    const headers = {
      ...info.headers,
      [RETRY_COUNT_HEADER]: info.retries,
      [DEAD_LETTER_REASON_HEADER]: reason,
      [ORIGINAL_EXCHANGE_HEADER]: info.exchange,
      [ORIGINAL_ROUTING_KEY_HEADER]: info.routingKey,
      'x-original-queue': this.opts.queue,
    };
    await publishConfirmed(ch, this.opts.deadLetterExchange, info.routingKey, msg, headers);
    this.counts.deadLettered++;
    this.opts.logger?.warn({ messageId: msg.properties.messageId, reason }, 'message dead-lettered');
    ch.ack(msg);
  }
}

/** Publishes a copy of `msg` with new headers and resolves on the broker's confirm. */
function publishConfirmed(ch: ConfirmChannel, exchange: string, routingKey: string, msg: ConsumeMessage, headers: Record<string, unknown>): Promise<void> {
  const p = msg.properties;
  const options: Options.Publish = {
    persistent: true,
    headers,
    ...(p.messageId !== undefined ? { messageId: String(p.messageId) } : {}),
    ...(p.contentType !== undefined ? { contentType: String(p.contentType) } : {}),
    ...(p.timestamp !== undefined ? { timestamp: Number(p.timestamp) } : {}),
  };
  return new Promise((resolve, reject) => {
    ch.publish(exchange, routingKey, msg.content, options, (err) => (err ? reject(err instanceof Error ? err : new Error(`broker nacked the copy to '${exchange}'`)) : resolve()));
  });
}
