// Runs the store contract against both implementations.
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
