// Topology as data. declareTopology() runs after every (re)connect, so a broker
// restart, or an exchange deleted by hand, heals itself on the next connect.
import type { Channel } from 'amqplib';
import { TopologyError } from './errors.ts';

export interface QueueSpec {
  name: string;
  /** Binding patterns on the main exchange. */
  bindings: string[];
  type?: 'classic' | 'quorum';
  messageTtlMs?: number;
  maxLength?: number;
  /** Dead-letter expired/overflowed/rejected messages to topology.deadLetter. */
  deadLetter?: boolean;
}

/**
 * An exchange and its one queue. type 'quorum' on a cluster: a classic queue whose
 * home node is down cannot be re-declared (404), so the topology would not heal.
 */
export interface SideQueue {
  exchange: string;
  queue: string;
  /** Unset: the broker's default (classic). Quorum survives its home node's loss; a classic side queue then cannot be re-declared (404). */
  type?: 'classic' | 'quorum';
}

export interface Topology {
  exchange: { name: string; type: 'topic'; durable: true };
  /**
   * Alternate exchange (fanout) and its queue: unroutable messages land there instead of
   * being returned. Optional so an exchange without an AE can be declared (then mandatory
   * publishes that match no binding come back as 'returned').
   */
  alternate?: SideQueue;
  /** Dead-letter exchange (fanout) and its queue, used by queues with `deadLetter: true`. */
  deadLetter?: SideQueue;
  queues: QueueSpec[];
}

/** Arguments are part of a queue's identity: redeclaring with other ones fails with 406, so build them in one place. */
function queueArguments(q: QueueSpec, t: Topology): Record<string, unknown> {
  const args: Record<string, unknown> = {};
  if (q.type) args['x-queue-type'] = q.type;
  if (q.messageTtlMs !== undefined) args['x-message-ttl'] = q.messageTtlMs;
  if (q.maxLength !== undefined) args['x-max-length'] = q.maxLength;
  if (q.deadLetter) {
    if (!t.deadLetter) throw new TopologyError(`queue ${q.name} wants dead-lettering but the topology has no deadLetter exchange`);
    args['x-dead-letter-exchange'] = t.deadLetter.exchange;
  }
  return args;
}

function sideQueueOptions(s: SideQueue): { durable: true; arguments?: Record<string, unknown> } {
  return s.type ? { durable: true, arguments: { 'x-queue-type': s.type } } : { durable: true };
}

/** Idempotent: declares exchanges, queues and bindings; safe to run on every connect. */
export async function declareTopology(ch: Channel, t: Topology): Promise<void> {
  // Check everything we can before touching the broker.
  const plan = t.queues.map((q) => ({ q, args: queueArguments(q, t) }));
  try {
    if (t.alternate) {
      await ch.assertExchange(t.alternate.exchange, 'fanout', { durable: true });
      await ch.assertQueue(t.alternate.queue, sideQueueOptions(t.alternate));
      await ch.bindQueue(t.alternate.queue, t.alternate.exchange, '');
    }
    if (t.deadLetter) {
      await ch.assertExchange(t.deadLetter.exchange, 'fanout', { durable: true });
      await ch.assertQueue(t.deadLetter.queue, sideQueueOptions(t.deadLetter));
      await ch.bindQueue(t.deadLetter.queue, t.deadLetter.exchange, '');
    }
    await ch.assertExchange(t.exchange.name, t.exchange.type, {
      durable: t.exchange.durable,
      ...(t.alternate ? { alternateExchange: t.alternate.exchange } : {}),
    });
    for (const { q, args } of plan) {
      await ch.assertQueue(q.name, { durable: true, arguments: args });
      for (const pattern of q.bindings) await ch.bindQueue(q.name, t.exchange.name, pattern);
    }
  } catch (err) {
    // 406 PRECONDITION_FAILED: something with this name exists with other settings. Not healed by retrying.
    if ((err as { code?: number }).code === 406) {
      throw new TopologyError(`topology conflicts with what the broker has: ${(err as Error).message}`, { cause: err });
    }
    throw err;
  }
}

/** Deletes everything declareTopology created (tests, teardown). Missing pieces are fine. */
export async function deleteTopology(ch: Channel, t: Topology): Promise<void> {
  // deleteQueue/deleteExchange on a missing name is not an error in RabbitMQ 3.x.
  for (const q of t.queues) await ch.deleteQueue(q.name);
  await ch.deleteExchange(t.exchange.name);
  if (t.alternate) {
    await ch.deleteQueue(t.alternate.queue);
    await ch.deleteExchange(t.alternate.exchange);
  }
  if (t.deadLetter) {
    await ch.deleteQueue(t.deadLetter.queue);
    await ch.deleteExchange(t.deadLetter.exchange);
  }
}
