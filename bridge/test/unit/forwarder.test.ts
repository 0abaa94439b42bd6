// The forwarder's window: how many records it takes from the store, and when. The store is
// the in-memory double (same take/confirm contract as the segment log) with its
// servingFromDisk flag set by the test; the publisher holds every publish until the test
// confirms it, as a broker's ack would.
import { afterEach, describe, expect, it } from 'vitest';
import { Forwarder } from '../../src/forwarder.ts';
import type { OutboundMessage, PublishOutcome, StoredRecord } from '../../src/types.ts';
import { MemoryStore } from '../doubles/memory-store.ts';
import { waitFor } from '../../../shared/testkit/unique.ts';

function message(i: number): OutboundMessage {
  return { routingKey: 'k', messageId: `dev:1:${i}`, device: 'dev', contentType: 'application/msgpack', headers: {}, body: Buffer.from([i & 0xff]), acceptedAt: 0 };
}

/** A broker that answers only when told: `ack(n)` confirms the n oldest unanswered publishes at once. */
class HeldPublisher {
  readonly held: Array<{ rec: StoredRecord; done: (res: PublishOutcome, rec: StoredRecord) => void }> = [];
  publish(): Promise<PublishOutcome> {
    throw new Error('the forwarder uses publishWith');
  }
  publishWith<M extends OutboundMessage>(msg: M, done: (res: PublishOutcome, msg: M) => void): void {
    this.held.push({ rec: msg as unknown as StoredRecord, done: done as never });
  }
  ack(n: number): void {
    for (const { rec, done } of this.held.splice(0, n)) done({ kind: 'confirmed' }, rec);
  }
}

const settled = () => new Promise((r) => setImmediate(r));
const running: Forwarder[] = [];
afterEach(async () => {
  for (const f of running.splice(0)) await f.stop(100);
});

async function setup(pending: number, maxInFlight: number, fromDisk: boolean) {
  const store = new MemoryStore({ maxBytes: 1 << 30, maxRecords: 1_000_000, overflow: 'reject' }) as MemoryStore & { servingFromDisk: boolean };
  store.servingFromDisk = fromDisk;
  await store.open();
  await store.append(Array.from({ length: pending }, (_, i) => message(i + 1)));
  const takes: number[] = [];
  const take = store.take.bind(store);
  store.take = async (max: number) => {
    const recs = await take(max);
    if (recs.length > 0) takes.push(recs.length);
    return recs;
  };
  const publisher = new HeldPublisher();
  const forwarder = new Forwarder(store, publisher, { maxInFlight, retry: { initialMs: 10, maxMs: 100 } });
  running.push(forwarder);
  forwarder.start();
  await waitFor(() => publisher.held.length === Math.min(pending, maxInFlight), { what: 'the first window published' });
  return { store, takes, publisher, forwarder };
}

describe('Forwarder window', () => {
  it('while the store serves from disk, refills a full window once a quarter of it is free, in one take', async () => {
    const { takes, publisher, forwarder } = await setup(100, 8, true);
    expect(takes).toEqual([8]);
    publisher.ack(1);
    await settled();
    expect(takes).toEqual([8]); // one slot free: no take of 1
    expect(forwarder.inFlightCount).toBe(7);
    publisher.ack(1);
    await waitFor(() => takes.length === 2, { what: 'the refill take' });
    expect(takes).toEqual([8, 2]);
    expect(publisher.held.length).toBe(8);
    // A broker ack that settles many at once refills them in one take.
    publisher.ack(5);
    await waitFor(() => takes.length === 3, { what: 'the next refill' });
    expect(takes).toEqual([8, 2, 5]);
  });

  it('while the store serves from memory, takes as soon as a slot is free', async () => {
    const { takes, publisher } = await setup(100, 8, false);
    publisher.ack(1);
    await waitFor(() => takes.length === 2, { what: 'the take of one' });
    expect(takes).toEqual([8, 1]);
    expect(publisher.held.length).toBe(8);
  });

  it('never has more than maxInFlight out, and every record leaves the store once confirmed', async () => {
    const { store, publisher, forwarder } = await setup(50, 8, true);
    let peak = 0;
    while (store.stats().records > 0) {
      peak = Math.max(peak, publisher.held.length, forwarder.inFlightCount);
      publisher.ack(3);
      await settled();
    }
    expect(peak).toBe(8);
    expect(forwarder.counts.confirmed).toBe(50);
  });

  it('below a full window takes a new record at once, wherever the store serves from', async () => {
    const { store, takes, publisher } = await setup(3, 8, true);
    expect(takes).toEqual([3]);
    await store.append([message(4)]);
    await waitFor(() => publisher.held.length === 4, { what: 'the new record published' });
    expect(takes).toEqual([3, 1]);
  });
});
