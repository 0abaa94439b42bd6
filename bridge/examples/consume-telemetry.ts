// Example: a downstream service reading the bridge's telemetry queue.
//
//   node --import tsx bridge/examples/consume-telemetry.ts [queue] [amqp-url]
//
// Defaults match the bridge's default topology: queue telemetry.all, dead-letter
// exchange telemetry.dlx, RabbitMQ on localhost. Stop with Ctrl-C: the readings in
// hand are finished and acked first.
import { pino } from 'pino';
import { TelemetryConsumer, type Batch, type DeliveryInfo } from '../src/consumer/index.ts';

const queue = process.argv[2] ?? 'telemetry.all';
const url = process.argv[3] ?? 'amqp://guest:guest@127.0.0.1:5672';
const log = pino({ level: 'info' });

async function store(batch: Batch, info: DeliveryInfo): Promise<void> {
  // Your work goes here (write to a database, raise an alarm...). Throwing retries the
  // batch (info.retries counts the attempts so far); after maxRetries it goes to the DLQ.
  for (const r of batch.readings) {
    const at = new Date(batch.unsynced ? Date.now() : batch.ts + r.offset).toISOString();
    log.info({ id: info.messageId, key: info.routingKey, device: batch.device, sensor: r.sensor, value: r.value, at }, 'reading');
  }
}

const consumer = new TelemetryConsumer({
  url,
  queue,
  deadLetterExchange: 'telemetry.dlx',
  prefetch: 20,
  maxRetries: 3,
  retryDelayMs: 1000,
  dedup: { windowMs: 10 * 60_000, maxIds: 100_000 },
  handler: store,
  logger: log,
});

await consumer.start();
log.info({ queue }, 'consuming; Ctrl-C to stop');
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    consumer.stop().then(() => {
      log.info({ counts: consumer.counts }, 'stopped');
      process.exit(0);
    });
  });
}
