import { randomBytes } from 'node:crypto';

/**
 * Run-unique names. The shared brokers keep durable queues and persistent
 * sessions between runs, and CI runs right after a session on the same machine,
 * so every name a test creates starts with a fresh prefix.
 */
export function uniquePrefix(label = 't'): string {
  return `${label}-${process.pid}-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
}

/** Polls `check` until it returns a truthy value or the deadline passes. */
export async function waitFor<T>(
  check: () => T | Promise<T>,
  { timeoutMs = 10_000, intervalMs = 25, what = 'condition' } = {},
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value) return value as NonNullable<T>;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** The bridge's amqp.topology under run-unique names: one catch-all queue `<prefix>.all`. */
export function uniqueTopology(prefix: string) {
  return {
    exchange: `${prefix}.tele`,
    alternateExchange: `${prefix}.ae`,
    unroutableQueue: `${prefix}.unroutable`,
    deadLetterExchange: `${prefix}.dlx`,
    deadLetterQueue: `${prefix}.dlq`,
    queues: [{ name: `${prefix}.all`, bindings: ['#'] }],
  };
}
