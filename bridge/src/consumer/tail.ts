// `edge-bridge tail <pattern>`: a temporary queue (exclusive, auto-delete, server-named)
// bound to the telemetry exchange, printing readings as they arrive. No acks: the
// queue is ours alone and disappears with the connection, so nothing is taken from
// the bridge's real queues. After a lost connection it reconnects with a new queue.
import type { ChannelModel, ConsumeMessage } from 'amqplib';
import { decodeBatch, float32Text } from '../codec/index.ts';
import type { Batch, Reading } from '../types.ts';
import { redactSecrets } from '../observe/redact.ts';
import { AmqpSession, SetupRefusedError, connectFirst, type AmqpTls, type ReconnectPolicy } from '../amqp/session.ts';

export interface TailOptions {
  urls: string[];
  exchange: string;
  /** AMQP topic binding pattern, e.g. factory.*.temperature */
  pattern: string;
  json: boolean;
  /** Stop after this many readings. */
  count?: number;
  tls?: AmqpTls;
  /** After a lost connection: the bridge's amqp.reconnect. */
  reconnect: ReconnectPolicy;
  out(line: string): void;
  err(line: string): void;
}

export interface TailHandle {
  /** The temporary queue in use (a new one after each reconnect). */
  readonly queue: string;
  /** Resolves when tail ends: stop() or the count reached. A lost connection is retried, not an end. */
  done: Promise<void>;
  stop(): Promise<void>;
}

export class TailError extends Error {
  override readonly name = 'TailError';
}

/** Connects (every URL gets one try before it gives up), then keeps tailing across lost connections. */
export async function startTail(opts: TailOptions): Promise<TailHandle> {
  let printed = 0;
  let queue = '';
  let finish!: () => void;
  const done = new Promise<void>((r) => (finish = r));
  const reached = () => opts.count !== undefined && printed >= opts.count;

  const onMessage = (msg: ConsumeMessage | null) => {
    if (!msg || reached()) return;
    const decoded = decodeBatch(msg.content);
    if (!decoded.ok) {
      opts.err(`undecodable message ${String(msg.properties.messageId ?? '?')} on ${msg.fields.routingKey}: ${decoded.error}: ${decoded.detail}`);
      return;
    }
    for (const r of decoded.value.readings) {
      if (reached()) break;
      opts.out(opts.json ? JSON.stringify(readingJson(msg, decoded.value, r)) : readingText(msg, decoded.value, r));
      printed++;
    }
    if (reached()) void stop();
  };

  const subscribe = async (model: ChannelModel) => {
    const ch = await model.createChannel();
    ch.on('error', () => {});
    await ch.checkExchange(opts.exchange).catch((err: Error) => {
      throw new SetupRefusedError(`exchange '${opts.exchange}' does not exist on the broker (start the bridge once to declare its topology): ${err.message}`);
    });
    // checkExchange's 404 closed that channel; this one is fresh either way.
    const data = await model.createChannel();
    data.on('error', () => {});
    const q = await data.assertQueue('', { exclusive: true, autoDelete: true, durable: false });
    await data.bindQueue(q.queue, opts.exchange, opts.pattern);
    await data.consume(q.queue, onMessage, { noAck: true });
    if (queue) opts.err(`resumed on temporary queue ${q.queue}; readings published while the connection was down are not shown`);
    queue = q.queue;
  };

  const session = new AmqpSession({ name: 'edge-bridge-tail', urls: opts.urls, tls: opts.tls, reconnect: opts.reconnect, setup: subscribe });
  const stop = async () => {
    await session.close();
    finish();
  };

  try {
    await connectFirst(session, opts.urls.length);
  } catch (err) {
    throw new TailError((err as Error).message);
  }
  session.on('disconnected', (e: { error?: Error }) => opts.err(`connection lost${e.error ? `: ${redactSecrets(e.error.message)}` : ''}; reconnecting`));
  return {
    get queue() {
      return queue;
    },
    done,
    stop,
  };
}

/** Epoch time when the node's clock was synced; otherwise ms since its boot. */
function readingTime(b: Batch, r: Reading): string {
  return b.unsynced ? `boot+${b.ts + r.offset}ms` : new Date(b.ts + r.offset).toISOString();
}

export function readingText(msg: ConsumeMessage, b: Batch, r: Reading): string {
  return `${readingTime(b, r)}  ${msg.fields.routingKey}  ${b.device}  ${r.sensor}=${float32Text(r.value)}  (${String(msg.properties.messageId ?? `${b.device}:${b.boot}:${b.seq}`)})`;
}

export function readingJson(msg: ConsumeMessage, b: Batch, r: Reading): Record<string, unknown> {
  return {
    time: readingTime(b, r),
    routingKey: msg.fields.routingKey,
    messageId: msg.properties.messageId ?? null,
    device: b.device,
    boot: b.boot,
    seq: b.seq,
    sensor: r.sensor,
    // The shortest text that is the same float32: 21.3, not 21.299999237060547.
    value: Number(float32Text(r.value)),
    unsynced: b.unsynced,
  };
}

