// Public face of the store. Backend chosen by bench/store-backends.ts: the segment log.
import { SegmentLogStore } from './segment-log.ts';
import type { StoreAndForward, StoreOptions } from './store.ts';

export * from './store.ts';
export type { StoreIo } from './io.ts';
export { nodeIo } from './io.ts';
export { SegmentLogStore } from './segment-log.ts';
export { verifyStore, inspectStore, type VerifyReport, type InspectReport } from './inspect.ts';

/** Creates the durable store for `options.dir`. Call open() before use (it recovers). */
export function openStore(options: StoreOptions): StoreAndForward {
  return new SegmentLogStore(options);
}
