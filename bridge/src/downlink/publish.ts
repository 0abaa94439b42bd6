// The sending side of the downlink, for operators and tools: one command, published
// with a publisher confirm to the commands exchange the bridge consumes from.
import { randomInt } from 'node:crypto';
import amqp from 'amqplib';
import { validateCommand, type Command } from '../codec/index.ts';

export interface PublishCommandOptions {
  urls: string[];
  socketOptions?: Record<string, unknown>;
  exchange: string;
  device: string;
  op: string;
  arg: number;
  id?: number;
}

/** Validates, publishes (persistent, confirmed) and returns the command sent. Throws with a clear message. */
export async function publishCommand(o: PublishCommandOptions): Promise<Command> {
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(o.device)) throw new Error(`device id '${o.device}' is not [A-Za-z0-9_-]{1,64}`);
  const checked = validateCommand({ v: 1, id: o.id ?? randomInt(1, 2 ** 32 - 1), op: o.op, arg: o.arg });
  if (!checked.ok) throw new Error(`invalid command: ${checked.detail}`);
  const command = checked.value;
  let lastErr: unknown;
  for (const url of o.urls) {
    let conn;
    try {
      conn = await amqp.connect(url, o.socketOptions);
    } catch (err) {
      lastErr = err;
      continue;
    }
    try {
      const ch = await conn.createConfirmChannel();
      // Declared as the bridge declares it, so a command sent before the bridge ever ran is not dropped by a missing exchange.
      await ch.assertExchange(o.exchange, 'topic', { durable: true });
      let returned = false;
      ch.on('return', () => (returned = true));
      const body = Buffer.from(JSON.stringify({ id: command.id, op: command.op, arg: command.arg }));
      ch.publish(o.exchange, `cmd.${o.device}`, body, { persistent: true, contentType: 'application/json', messageId: `cmd:${o.device}:${command.id}`, mandatory: true });
      await ch.waitForConfirms();
      if (returned) throw new Error(`no queue is bound to '${o.exchange}' for cmd.${o.device}: start the bridge with downlink.enabled (it declares the queue), then send again`);
      return command;
    } finally {
      await conn.close().catch(() => undefined);
    }
  }
  throw new Error(`no AMQP URL reachable: ${(lastErr as Error)?.message ?? 'none configured'}`);
}
