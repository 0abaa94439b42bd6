// `edge-bridge tail <pattern>`: a temporary queue (exclusive, auto-delete, server-named)
// bound to the telemetry exchange, printing readings as they arrive. No acks: the
// queue is ours alone and disappears with the connection, so nothing is taken from
// the bridge's real queues.
import { connect } from 'amqplib';
import type { ChannelModel, ConsumeMessage } from 'amqplib';
import { decodeBatch, float32Text } from '../codec/index.ts';
import type { Batch, Reading } from '../types.ts';
import { redactSecrets } from '../observe/redact.ts';

export interface TailOptions {
  urls: string[];
  exchange: string;
  /** AMQP topic binding pattern, e.g. factory.*.temperature */
  pattern: string;
  json: boolean;
  /** Stop after this many readings. */
  count?: number;
  socketOptions?: Record<string, unknown>;
  out(line: string): void;
  err(line: string): void;
}

export interface TailHandle {
  queue: string;
  /** Resolves when tail ends: stop(), the count reached, or the connection lost (with the error). */
  done: Promise<Error | undefined>;
  stop(): Promise<void>;
}

export class TailError extends Error {
  override readonly name = 'TailError';
}

export async function startTail(opts: TailOptions): Promise<TailHandle> {
  let conn: ChannelModel | undefined;
  const failures: string[] = [];
  for (const url of opts.urls) {
    try {
      conn = await connect(url, opts.socketOptions);
      break;
    } catch (err) {
      failures.push(redactSecrets(`${url}: ${(err as Error).message}`));
    }
  }
  if (!conn) throw new TailError(`cannot connect to RabbitMQ (${failures.join('; ')})`);
  const c = conn;
  let finish!: (e: Error | undefined) => void;
  const done = new Promise<Error | undefined>((r) => (finish = r));
  let stopping = false;
  c.on('error', () => {}); // 'close' follows with the reason
  c.on('close', (err?: Error) => finish(stopping ? undefined : (err ?? new Error('connection closed'))));
  try {
    const ch = await c.createChannel();
    ch.on('error', () => {});
    await ch.checkExchange(opts.exchange).catch((err: Error) => {
      throw new TailError(`exchange '${opts.exchange}' does not exist on the broker (start the bridge once to declare its topology): ${err.message}`);
    });
    // checkExchange's 404 closed that channel; this one is fresh either way.
    const data = await c.createChannel();
    data.on('error', () => {});
    const { queue } = await data.assertQueue('', { exclusive: true, autoDelete: true, durable: false });
    await data.bindQueue(queue, opts.exchange, opts.pattern);
    let printed = 0;
    const stop = async () => {
      stopping = true;
      await c.close().catch(() => {});
      finish(undefined);
    };
    await data.consume(
      queue,
      (msg) => {
        if (!msg || (opts.count !== undefined && printed >= opts.count)) return;
        const decoded = decodeBatch(msg.content);
        if (!decoded.ok) {
          opts.err(`undecodable message ${String(msg.properties.messageId ?? '?')} on ${msg.fields.routingKey}: ${decoded.error}: ${decoded.detail}`);
          return;
        }
        for (const r of decoded.value.readings) {
          if (opts.count !== undefined && printed >= opts.count) break;
          opts.out(opts.json ? JSON.stringify(readingJson(msg, decoded.value, r)) : readingText(msg, decoded.value, r));
          printed++;
        }
        if (opts.count !== undefined && printed >= opts.count) void stop();
      },
      { noAck: true },
    );
    return { queue, done, stop };
  } catch (err) {
    stopping = true;
    await c.close().catch(() => {});
    throw err instanceof TailError ? err : new TailError((err as Error).message);
  }
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

