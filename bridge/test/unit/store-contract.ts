// The contract every StoreAndForward passes (run by store.test.ts against the
// segment log and the memory store). Reopen cases run only for durable stores.
import { describe, expect, it, afterEach } from 'vitest';
import type { OutboundMessage, StoredRecord } from '../../src/types.ts';
import { StoreClosedError, StoreFullError, type StoreAndForward, type StoreOptions } from '../../src/store/store.ts';
import { waitFor } from '../../../shared/testkit/unique.ts';

export interface StoreHarness {
  store: StoreAndForward;
  /** Closes `store` and opens a fresh instance on the same data (durable stores only). */
  reopen?: (overrides?: Partial<StoreOptions>) => Promise<StoreAndForward>;
}

export type StoreFactory = (overrides: Partial<StoreOptions>) => Promise<StoreHarness>;

export function message(n: number, device = `dev-${n % 3}`, acceptedAt = Date.now()): OutboundMessage {
  return {
    routingKey: `telemetry.${device}`,
    messageId: `${device}-${n}`,
    device,
    contentType: 'application/msgpack',
    headers: { seq: n, fw: '1.0.0' },
    body: Buffer.from(`body-${n}-`.padEnd(64, 'x')),
    acceptedAt,
  };
}

const ids = (recs: StoredRecord[]) => recs.map((r) => r.id);

export function storeContract(name: string, factory: StoreFactory, opts: { durable: boolean }): void {
  describe(`StoreAndForward contract: ${name}`, () => {
    const open: StoreAndForward[] = [];
    async function make(overrides: Partial<StoreOptions> = {}): Promise<StoreHarness> {
      const h = await factory(overrides);
      open.push(h.store);
      await h.store.open();
      return h;
    }
    afterEach(async () => {
      for (const s of open.splice(0)) await s.close();
    });

    it('assigns increasing ids and hands records out in id order with their content', async () => {
      const { store } = await make();
      const a = await store.append([message(1), message(2)]);
      const b = await store.append([message(3)]);
      expect(ids(a)).toEqual([ids(a)[0], ids(a)[0]! + 1]);
      expect(ids(b)[0]).toBeGreaterThan(ids(a)[1]!);
      const taken = await store.take(10);
      expect(ids(taken)).toEqual([...ids(a), ...ids(b)]);
      const first = taken[0]!;
      expect(first.messageId).toBe('dev-1-1');
      expect(first.headers).toEqual({ seq: 1, fw: '1.0.0' });
      expect(first.body.equals(message(1).body)).toBe(true);
      expect(first.size).toBeGreaterThan(64);
      expect(store.stats()).toMatchObject({ records: 3, inFlight: 3 });
    });

    it('take skips in-flight records; release puts them back ahead of newer ones; confirm deletes', async () => {
      const { store } = await make();
      const recs = await store.append([1, 2, 3, 4].map((n) => message(n)));
      const first = await store.take(2);
      expect(ids(first)).toEqual(ids(recs).slice(0, 2));
      const second = await store.take(1);
      expect(ids(second)).toEqual([recs[2]!.id]);
      store.release([recs[0]!.id]);
      store.confirm([recs[1]!.id, recs[2]!.id]);
      expect(ids(await store.take(10))).toEqual([recs[0]!.id, recs[3]!.id]);
      expect(await store.take(10)).toEqual([]);
      store.confirm(ids(recs));
      expect(store.stats()).toMatchObject({ records: 0, bytes: 0, inFlight: 0 });
      store.confirm([999_999]); // unknown ids are ignored
    });

    it('keeps order under many concurrent appends (group commit)', async () => {
      const { store } = await make();
      const results = await Promise.all(Array.from({ length: 200 }, (_, i) => store.append([message(i)])));
      const got = results.map((r) => r[0]!.id);
      expect(got).toEqual([...got].sort((a, b) => a - b));
      expect(new Set(got).size).toBe(200);
      const taken = await store.take(1000);
      expect(taken.map((r) => r.messageId)).toEqual(Array.from({ length: 200 }, (_, i) => message(i).messageId));
    });

    it("overflow 'reject': all-or-nothing StoreFullError, accepts again after confirm", async () => {
      const { store } = await make({ maxRecords: 3, overflow: 'reject' });
      await store.append([message(1), message(2)]);
      await expect(store.append([message(3), message(4)])).rejects.toBeInstanceOf(StoreFullError);
      expect(store.stats().records).toBe(2);
      await expect(store.append([1, 2, 3, 4].map((n) => message(n)))).rejects.toBeInstanceOf(StoreFullError);
      const taken = await store.take(1);
      store.confirm(ids(taken));
      await store.append([message(3), message(4)]);
      expect(store.stats().records).toBe(3);
      expect(store.stats().dropped).toBe(0);
    });

    it("overflow 'reject' honours maxBytes", async () => {
      const { store } = await make({ maxBytes: 400, overflow: 'reject' });
      await store.append([message(1), message(2)]);
      await expect(store.append([message(3), message(4), message(5)])).rejects.toBeInstanceOf(StoreFullError);
      expect(store.stats().bytes).toBeLessThanOrEqual(400);
    });

    it("overflow 'drop-oldest': oldest pending records make room, counted and reported", async () => {
      const droppedIds: number[] = [];
      const { store } = await make({ maxRecords: 3, overflow: 'drop-oldest', onDropped: (r) => droppedIds.push(...ids(r)) });
      const a = await store.append([1, 2, 3].map((n) => message(n)));
      const b = await store.append([message(4), message(5)]);
      expect(store.stats()).toMatchObject({ records: 3, dropped: 2 });
      await waitFor(() => droppedIds.length === 2);
      expect(droppedIds).toEqual(ids(a).slice(0, 2));
      expect(ids(await store.take(10))).toEqual([a[2]!.id, ...ids(b)]);
      // Everything is in flight now: nothing may be dropped, so the store refuses.
      await expect(store.append([message(6)])).rejects.toBeInstanceOf(StoreFullError);
    });

    it('expires pending records older than ttlMs, counted and reported, never handed out', async () => {
      const expiredIds: number[] = [];
      const { store } = await make({ ttlMs: 100, onExpired: (r) => expiredIds.push(...ids(r)) });
      const old = await store.append([message(1, 'd', Date.now() - 10_000), message(2, 'd', Date.now() - 10_000)]);
      const fresh = await store.append([message(3, 'd')]);
      expect(ids(await store.take(10))).toEqual(ids(fresh));
      expect(store.stats().expired).toBe(2);
      await waitFor(() => expiredIds.length === 2);
      expect(expiredIds).toEqual(ids(old));
      expect(store.stats().records).toBe(1);
      // The timer expires without take() too.
      store.release(ids(fresh));
      await waitFor(() => store.stats().expired === 3, { timeoutMs: 3000 });
    });

    it('waitForPending resolves on append and release, rejects on abort', async () => {
      const { store } = await make();
      const ac = new AbortController();
      const aborted = store.waitForPending(ac.signal);
      ac.abort(new Error('stop'));
      await expect(aborted).rejects.toThrow('stop');
      let woke = false;
      const waiting = store.waitForPending().then(() => (woke = true));
      await new Promise((r) => setTimeout(r, 20));
      expect(woke).toBe(false);
      await store.append([message(1)]);
      await waiting;
      const taken = await store.take(1);
      let again = false;
      const waiting2 = store.waitForPending().then(() => (again = true));
      await new Promise((r) => setTimeout(r, 20));
      expect(again).toBe(false);
      store.release(ids(taken));
      await waiting2;
    });

    it('stats report age of the oldest record', async () => {
      const { store } = await make();
      expect(store.stats().oldestAgeMs).toBe(0);
      await store.append([message(1, 'd', Date.now() - 5000)]);
      expect(store.stats().oldestAgeMs).toBeGreaterThanOrEqual(5000);
    });

    it('rejects appends after close with StoreClosedError', async () => {
      const { store } = await make();
      await store.close();
      await expect(store.append([message(1)])).rejects.toBeInstanceOf(StoreClosedError);
      await expect(store.waitForPending()).rejects.toBeInstanceOf(StoreClosedError);
    });

    // Registered only for durable stores: a memory store has nothing to reopen.
    const durableIt = opts.durable ? it : () => {};
    durableIt('reopen keeps unconfirmed records (in flight included) and drops confirmed ones', async () => {
      const h = await make();
      if (!h.reopen) throw new Error('a durable store factory must provide reopen()');
      const recs = await h.store.append([1, 2, 3, 4, 5].map((n) => message(n)));
      await h.store.take(3);
      h.store.confirm([recs[0]!.id, recs[2]!.id]);
      const store = await h.reopen();
      open.push(store);
      const taken = await store.take(10);
      expect(ids(taken)).toEqual([recs[1]!.id, recs[3]!.id, recs[4]!.id]);
      expect(taken.map((r) => r.messageId)).toEqual(['dev-2-2', 'dev-1-4', 'dev-2-5']);
      expect(store.stats()).toMatchObject({ records: 3, inFlight: 3 });
    });

    durableIt('never reuses ids after reopen, even when everything was confirmed', async () => {
      const h = await make();
      if (!h.reopen) throw new Error('a durable store factory must provide reopen()');
      const recs = await h.store.append([message(1), message(2), message(3)]);
      h.store.confirm(ids(await h.store.take(10)));
      let store = await h.reopen();
      open.push(store);
      expect(store.stats().records).toBe(0);
      const next = await store.append([message(4)]);
      expect(next[0]!.id).toBeGreaterThan(recs[2]!.id);
      store.confirm(ids(await store.take(10)));
      store = await h.reopen();
      open.push(store);
      const after = await store.append([message(5)]);
      expect(after[0]!.id).toBeGreaterThan(next[0]!.id);
    });
  });
}
