// What the amqplib adapter relies on, checked against the installed amqplib and the shared
// RabbitMQ: an upgrade that changes it fails here, naming the version the adapter was checked against.
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Socket } from 'node:net';
import amqp, { IllegalOperationError, type Message } from 'amqplib';
import { AMQPLIB_CHECKED, connectionSocket, destroySocket, publishFast, returnReason, type PublishOptions } from '../../src/adapters/amqplib.ts';
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

  it('publishes what ch.publish publishes, confirmed, and refuses on a closed channel and connection', async () => {
    const model = await amqp.connect('amqp://guest:guest@127.0.0.1:5672');
    try {
      const ch = await model.createConfirmChannel();
      const exchange = uniquePrefix('adapter-publish');
      await ch.assertExchange(exchange, 'topic', { durable: false, autoDelete: true });
      const { queue } = await ch.assertQueue('', { exclusive: true });
      await ch.bindQueue(queue, exchange, '#');
      const options: PublishOptions = {
        persistent: true,
        mandatory: true,
        messageId: 'dev-1:3:77',
        timestamp: 1_765_000_000,
        contentType: 'application/msgpack',
        headers: { 'x-device': 'dev-1', 'x-boot': 3, 'x-seq': 2 ** 32 - 1, 'x-fw': '1.0.0', 'x-topic': 'plant/dev-1/telemetry', 'x-part': 0 },
      };
      const body = Buffer.from('a batch');
      ch.publish(exchange, 'telemetry.dev-1', body, options);
      expect(publishFast(ch, exchange, 'telemetry.dev-1', body, options), because).toBe(true);
      await ch.waitForConfirms();
      const got: Message[] = [];
      await ch.consume(queue, (m) => m && got.push(m), { noAck: true });
      await waitFor(() => got.length === 2, { what: 'both messages' });
      const [theirs, ours] = got;
      expect(ours!.content.equals(body), because).toBe(true);
      expect(ours!.properties, because).toEqual(theirs!.properties);
      expect({ ...ours!.fields, deliveryTag: 0 }, because).toEqual({ ...theirs!.fields, deliveryTag: 0 });

      await ch.close();
      expect(() => publishFast(ch, exchange, 'k', body, options), because).toThrow(IllegalOperationError);
      const open = await model.createConfirmChannel();
      await model.close();
      expect(() => publishFast(open, exchange, 'k', body, options), because).toThrow(IllegalOperationError);
    } finally {
      await model.close().catch(() => {});
    }
  });
});
