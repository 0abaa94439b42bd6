// What the amqplib adapter relies on, checked against the installed amqplib and the shared
// RabbitMQ: an upgrade that changes it fails here, naming the version the adapter was checked against.
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Socket } from 'node:net';
import amqp, { type Message } from 'amqplib';
import { AMQPLIB_CHECKED, connectionSocket, destroySocket, returnReason } from '../../src/adapters/amqplib.ts';
import { uniquePrefix, waitFor } from '../../../shared/testkit/unique.ts';

const installed = (JSON.parse(readFileSync(join(import.meta.dirname, '../../../node_modules/amqplib/package.json'), 'utf8')) as { version: string }).version;
const because = `amqplib ${installed} installed, the adapter was checked against ${AMQPLIB_CHECKED}`;

describe('amqplib adapter', () => {
  it('reaches the connection\'s socket, and destroys it', async () => {
    const model = await amqp.connect('amqp://guest:guest@127.0.0.1:5672');
    model.on('error', () => {});
    const socket = connectionSocket(model);
    expect(socket instanceof Socket, because).toBe(true);
    expect((socket as Socket).remotePort, because).toBe(5672);
    destroySocket(model);
    expect(socket!.destroyed, because).toBe(true);
  });

  it('reads the reply code and text of a basic.return', async () => {
    const model = await amqp.connect('amqp://guest:guest@127.0.0.1:5672');
    try {
      const ch = await model.createConfirmChannel();
      const exchange = uniquePrefix('adapter-return');
      await ch.assertExchange(exchange, 'topic', { durable: false, autoDelete: true });
      let returned: Message | undefined;
      ch.on('return', (m: Message) => (returned = m));
      ch.publish(exchange, 'nowhere', Buffer.from('x'), { mandatory: true });
      await ch.waitForConfirms();
      await waitFor(() => returned !== undefined, { what: 'basic.return' });
      expect(returnReason(returned!), because).toEqual({ replyCode: 312, replyText: 'NO_ROUTE' });
      await ch.deleteExchange(exchange);
    } finally {
      await model.close().catch(() => {});
    }
  });
});
