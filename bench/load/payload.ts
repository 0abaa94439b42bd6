// The batches every scenario carries: shared-protocol v1 msgpack, 16 readings, the
// device's publish time in `t` so a consumer can measure publish-to-receipt latency.
// The device id is `<phase>-<n>`, so the consumer can count per phase.
import { encodeBatch } from '../../bridge/src/codec/index.ts';
import type { Reading } from '../../bridge/src/types.ts';

export const READINGS_PER_BATCH = 16;
const SENSORS = ['temperature', 'humidity'];

export function batchPayload(device: string, seq: number): Buffer {
  const readings: Reading[] = [];
  for (let i = 0; i < READINGS_PER_BATCH; i++) {
    readings.push({ sensor: SENSORS[i % 2]!, offset: Math.floor(i / 2) * 1000, value: 20 + ((seq + i) % 50) / 10 });
  }
  return encodeBatch({ v: 1, device, boot: 1, seq, fw: 'bench', ts: Date.now(), unsynced: false, readings });
}

/** Epoch milliseconds with sub-millisecond precision: the same clock in every bench process (a batch's `ts` is whole ms). */
export function preciseNow(): number {
  return performance.timeOrigin + performance.now();
}

/** When each batch of a paced phase left its generator, by device number and seq: the consumer joins its receipts to these. */
export interface SendLog {
  device: number[];
  seq: number[];
  at: number[];
}

/** Paced phases log their sends, up to this many (a latency phase sends far fewer). */
export const SEND_LOG_MAX = 200_000;

export function newSendLog(): SendLog {
  return { device: [], seq: [], at: [] };
}

export function logSend(log: SendLog | undefined, device: number, seq: number): void {
  if (!log || log.at.length >= SEND_LOG_MAX) return;
  log.device.push(device);
  log.seq.push(seq);
  log.at.push(preciseNow());
}

export function deviceId(phase: string, n: number): string {
  return `${phase}-${n}`;
}

/** Topic `<prefix>/<device>/telemetry`; RabbitMQ's MQTT plugin and the bridge's default rule both turn `/` into `.`. */
export function topicFor(prefix: string, device: string): string {
  return `${prefix}/${device}/telemetry`;
}

/**
 * Paces `total`-rate work in small ticks; `rate` 0 means as fast as the window allows.
 * `trySend` returns false when the window is full (the tick moves on).
 */
export async function pace(opts: {
  rate: number;
  durationMs: number;
  trySend: () => boolean;
  windowFree: () => Promise<void>;
  /** Ends the phase early (e.g. a fixed number of batches was sent). */
  done?: () => boolean;
}): Promise<void> {
  const start = Date.now();
  const end = start + opts.durationMs;
  const done = opts.done ?? (() => false);
  if (opts.rate === 0) {
    while (Date.now() < end && !done()) {
      let n = 0;
      while (n < 256 && opts.trySend()) n++;
      if (n < 256) await opts.windowFree();
      else await new Promise((r) => setImmediate(r));
    }
    return;
  }
  let sent = 0;
  while (Date.now() < end && !done()) {
    const due = Math.floor((opts.rate * (Date.now() - start)) / 1000) - sent;
    // Never burst more than 50 ms worth after a stall: latency is measured at a steady rate.
    const batch = Math.min(due, Math.max(1, Math.ceil(opts.rate / 20)));
    for (let i = 0; i < batch; i++) {
      if (!opts.trySend()) break;
      sent++;
    }
    if (due > batch) sent += due - batch;
    await new Promise((r) => setTimeout(r, 2));
  }
}
