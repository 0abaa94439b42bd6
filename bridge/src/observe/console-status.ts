// The human status line `npm start` prints every few seconds: is data flowing,
// and if RabbitMQ is away, how much is buffered and for how long.
export interface StatusSnapshot {
  devicesOnline: number;
  batchesIn: number;
  readingsIn: number;
  forwarded: number;
  backlog: number;
  oldestAgeMs: number;
  brokerUp: boolean;
  blocked: boolean;
  quarantined: number;
}

export class ConsoleStatus {
  private prev: StatusSnapshot | undefined;
  private prevAt = 0;

  line(s: StatusSnapshot, now = Date.now()): string {
    const dt = this.prev ? Math.max(0.001, (now - this.prevAt) / 1000) : 1;
    const rate = (a: number, b: number | undefined) => ((a - (b ?? a)) / dt).toFixed(1);
    const p = this.prev;
    this.prev = s;
    this.prevAt = now;
    const flow = `in ${rate(s.batchesIn, p?.batchesIn)} batches/s (${rate(s.readingsIn, p?.readingsIn)} readings/s), forwarded ${rate(s.forwarded, p?.forwarded)}/s`;
    const broker = s.blocked
      ? 'rabbitmq BLOCKED (alarm): ingress paced'
      : s.brokerUp
        ? 'rabbitmq connected'
        : 'rabbitmq DOWN: buffering to disk';
    const backlog = `backlog ${s.backlog}${s.backlog > 0 ? ` (oldest ${Math.round(s.oldestAgeMs / 1000)} s)` : ''}`;
    const q = s.quarantined > 0 ? ` | quarantined ${s.quarantined}` : '';
    return `[edge-bridge] ${s.devicesOnline} devices online | ${flow} | ${backlog} | ${broker}${q}`;
  }
}
