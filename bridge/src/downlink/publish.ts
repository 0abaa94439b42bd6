// The sending side of the downlink, for operators and tools: one command, published
// with a publisher confirm to the commands exchange the bridge consumes from.
import { randomInt } from 'node:crypto';
import { AmqpSession, connectFirst, type AmqpTls } from '../amqp/session.ts';
import { validateCommand, type Command } from '../codec/index.ts';

export interface PublishCommandOptions {
  urls: string[];
  tls?: AmqpTls;
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
  let returned = false;
  const body = Buffer.from(JSON.stringify({ id: command.id, op: command.op, arg: command.arg }));
  const session = new AmqpSession({
    name: 'edge-bridge-cmd',
    urls: o.urls,
    tls: o.tls,
    reconnect: { initialMs: 100, maxMs: 1_000 },
    // Declared as the bridge declares it, so a command sent before the bridge ever ran is not dropped by a missing exchange.
    topology: { exchange: { name: o.exchange, type: 'topic', durable: true }, queues: [] },
    setup: async (model) => {
      const ch = await model.createConfirmChannel();
      ch.on('return', () => (returned = true));
      ch.publish(o.exchange, `cmd.${o.device}`, body, { persistent: true, contentType: 'application/json', messageId: `cmd:${o.device}:${command.id}`, mandatory: true });
      await ch.waitForConfirms();
    },
  });
  try {
    await connectFirst(session, o.urls.length);
  } finally {
    await session.close();
  }
  if (returned) throw new Error(`no queue is bound to '${o.exchange}' for cmd.${o.device}: start the bridge with downlink.enabled (it declares the queue), then send again`);
  return command;
}
