// Runs the store contract against both implementations.
import { describe, expect, it } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryStore } from '../doubles/memory-store.ts';
import { SegmentLogStore } from '../../src/store/segment-log.ts';
import type { StoreAndForward, StoreOptions } from '../../src/store/store.ts';
import { storeContract } from './store-contract.ts';

const defaults = { maxBytes: 64 * 1024 * 1024, maxRecords: 1_000_000, overflow: 'reject' as const };

storeContract('segment log', async (overrides) => {
  const options: StoreOptions = { dir: mkdtempSync(join(tmpdir(), 'store-')), ...defaults, segmentBytes: 4096, ...overrides };
  let current: StoreAndForward = new SegmentLogStore(options);
  return {
    store: current,
    reopen: async (more?: Partial<StoreOptions>) => {
      await current.close();
      current = new SegmentLogStore({ ...options, ...more });
      await current.open();
      return current;
    },
  };
}, { durable: true });

// The same contract with the hot tail off: every take() reads back from disk.
storeContract('segment log, no hot cache', async (overrides) => {
  const options: StoreOptions = { dir: mkdtempSync(join(tmpdir(), 'store-')), ...defaults, segmentBytes: 4096, hotBytes: 0, ...overrides };
  let current: StoreAndForward = new SegmentLogStore(options);
  return {
    store: current,
    reopen: async (more?: Partial<StoreOptions>) => {
      await current.close();
      current = new SegmentLogStore({ ...options, ...more });
      await current.open();
      return current;
    },
  };
}, { durable: true });

storeContract('memory store', async (overrides) => ({ store: new MemoryStore({ ...defaults, ...overrides }) }), { durable: false });

describe('segment log tombstones', () => {
  const msg = (i: number) => ({ messageId: `d:1:${i}`, routingKey: 'k', device: 'd', body: Buffer.from([i & 0xff]), headers: {}, contentType: 'application/msgpack' as const, acceptedAt: 0 });
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

  it('written over many flushes to one file, they keep confirmed records from coming back after a crash (no close)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'store-'));
    const first = new SegmentLogStore({ dir, ...defaults, segmentBytes: 1 << 20, ackFlushMs: 1 });
    await first.open();
    await first.append(Array.from({ length: 100 }, (_, i) => msg(i)));
    const taken = await first.take(100);
    // Ten confirms, each followed by its own tombstone flush, all appended to the segment's one .ack file.
    for (let round = 0; round < 10; round++) {
      first.confirm(taken.slice(round * 9, round * 9 + 9).map((r) => r.id));
      await sleep(15);
    }
    // A second process opens the same directory while the first never closed: what kill -9 leaves.
    const second = new SegmentLogStore({ dir, ...defaults, segmentBytes: 1 << 20 });
    await second.open();
    const left = (await second.take(200)).map((r) => r.messageId);
    expect(left).toEqual(taken.slice(90).map((r) => r.messageId));
    await second.close();
    await first.close();
  });
});
