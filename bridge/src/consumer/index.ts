// Public API of the reference consumer library (docs/downstream.md).
export { TelemetryConsumer, RETRY_COUNT_HEADER, DEAD_LETTER_REASON_HEADER } from './consumer.ts';
export type { TelemetryConsumerOptions, BatchHandler, DeliveryInfo, ConsumerCounts } from './consumer.ts';
export { DedupWindow } from './dedup-window.ts';
export type { DedupWindowOptions } from './dedup-window.ts';
export type { Batch, Reading } from '../types.ts';
