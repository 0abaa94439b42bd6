// The amqplib internals the AMQP session and the confirm pool rely on, in one place.
// Checked against amqplib 2.3.1; bridge/test/unit/adapters.test.ts fails if an upgrade changes them.
import type { Writable } from 'node:stream';
import type { ChannelModel, Message } from 'amqplib';

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
