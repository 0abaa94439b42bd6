// Queue health from RabbitMQ's management HTTP API: for every queue bound to the
// bridge's exchange, depth (against its max-length), consumers, unacked, publish and
// ack rates; for the dead-letter exchange, dead-lettered / published. Each signal is
// judged against warning/critical thresholds from config.
//
// This only reports. An unreachable API is itself a report ("unreachable: ..."),
// never an exception, a crash or a 503: the bridge's job does not depend on it.
// Credentials travel in the Authorization header only; they are never logged and the
// URL cannot hold them (config rejects that).
import type { Logger } from 'pino';
import { Gauge, type Registry } from 'prom-client';

export type Level = 'ok' | 'warning' | 'critical';

export interface Thresholds {
  depthRatio: { warning: number; critical: number };
  consumers: { warning: number; critical: number };
  unacked: { warning: number; critical: number };
  deadLetterRatio: { warning: number; critical: number };
}

export const DEFAULT_THRESHOLDS: Thresholds = {
  depthRatio: { warning: 0.5, critical: 0.8 },
  consumers: { warning: 2, critical: 0 },
  unacked: { warning: 1000, critical: 5000 },
  deadLetterRatio: { warning: 0.01, critical: 0.05 },
};

export interface Signal {
  level: Level;
  value: number | null;
  detail: string;
}

export interface QueueSample {
  name: string;
  messages: number;
  unacked: number;
  consumers: number;
  /** x-max-length from the queue's arguments or its policy; null when unbounded. */
  maxLength: number | null;
}

export interface QueueReport extends QueueSample {
  /** Messages/s published into the queue, and acked from it, over the rate window; null until two polls. */
  publishRate: number | null;
  ackRate: number | null;
  level: Level;
  signals: { depth: Signal; consumers: Signal; unacked: Signal };
}

export interface DeadLetterReport {
  exchange: string;
  queues: string[];
  /** Dead-lettered messages/s over the rate window. */
  rate: number | null;
  /** Dead-lettered / published into the bridge's exchange over the window. */
  ratio: number | null;
  signal: Signal;
}

export interface QueueHealthReport {
  /** False when the management API could not be asked at all. */
  reachable: boolean;
  level: Level | 'unknown';
  checkedAt: string | null;
  /** Why the report is incomplete (unreachable, 401, exchange missing). */
  error: string | null;
  queues: QueueReport[];
  deadLetter: DeadLetterReport | null;
  /** One line per signal that is not ok, e.g. "queue telemetry.all: consumers 0 (critical: 0 or fewer)". */
  problems: string[];
}

export interface QueueHealthOptions {
  url: string;
  username: string;
  password: string;
  vhost: string;
  exchange: string;
  deadLetterExchange: string;
  intervalMs: number;
  timeoutMs: number;
  rateWindowMs: number;
  thresholds: Thresholds;
  /** Gauges are registered here (the bridge's /metrics registry). */
  registry?: Registry;
  logger?: Logger;
}

const rank: Record<Level, number> = { ok: 0, warning: 1, critical: 2 };
const worst = (levels: Level[]): Level => levels.reduce<Level>((a, b) => (rank[b] > rank[a] ? b : a), 'ok');

/** Pure: judges one queue's sample. */
export function evaluateQueue(q: QueueSample, t: Thresholds): QueueReport['signals'] {
  let depth: Signal;
  if (q.maxLength === null || q.maxLength <= 0) {
    depth = { level: 'ok', value: null, detail: `${q.messages} messages, no max-length` };
  } else {
    const ratio = q.messages / q.maxLength;
    const level: Level = ratio > t.depthRatio.critical ? 'critical' : ratio > t.depthRatio.warning ? 'warning' : 'ok';
    depth = { level, value: ratio, detail: `${q.messages} of max-length ${q.maxLength} (${pct(ratio)})${bound(level, `> ${pct(t.depthRatio.warning)}`, `> ${pct(t.depthRatio.critical)}`)}` };
  }
  const cl: Level = q.consumers <= t.consumers.critical ? 'critical' : q.consumers < t.consumers.warning ? 'warning' : 'ok';
  const consumers: Signal = { level: cl, value: q.consumers, detail: `${q.consumers} consumers${bound(cl, `< ${t.consumers.warning}`, `${t.consumers.critical} or fewer`)}` };
  const ul: Level = q.unacked > t.unacked.critical ? 'critical' : q.unacked > t.unacked.warning ? 'warning' : 'ok';
  const unacked: Signal = { level: ul, value: q.unacked, detail: `${q.unacked} unacked${bound(ul, `> ${t.unacked.warning}`, `> ${t.unacked.critical}`)}` };
  return { depth, consumers, unacked };
}

/** Pure: judges the dead-letter ratio (null while there is nothing to compare). */
export function evaluateDeadLetter(ratio: number | null, t: Thresholds): Signal {
  if (ratio === null) return { level: 'ok', value: null, detail: 'no traffic in the window yet' };
  const level: Level = ratio > t.deadLetterRatio.critical ? 'critical' : ratio > t.deadLetterRatio.warning ? 'warning' : 'ok';
  return { level, value: ratio, detail: `${pct(ratio)} dead-lettered${bound(level, `> ${pct(t.deadLetterRatio.warning)}`, `> ${pct(t.deadLetterRatio.critical)}`)}` };
}

function bound(level: Level, warning: string, critical: string): string {
  return level === 'ok' ? '' : ` (${level}: ${level === 'critical' ? critical : warning})`;
}

function pct(x: number): string {
  return `${Number((x * 100).toPrecision(3))} %`;
}

/**
 * Where the management API is: the configured URL and credentials, or else the host,
 * user and password of the first AMQP URL (15672, or 15671 for amqps), or else guest.
 */
export function managementEndpoint(cfg: { url?: string; username?: string; password?: string }, amqpUrl: string | undefined): { url: string; username: string; password: string } {
  let fromAmqp: URL | undefined;
  try {
    fromAmqp = amqpUrl ? new URL(amqpUrl) : undefined;
  } catch {
    fromAmqp = undefined;
  }
  const tls = fromAmqp?.protocol === 'amqps:';
  const host = fromAmqp?.hostname || '127.0.0.1';
  return {
    url: cfg.url ?? `${tls ? 'https' : 'http'}://${host.includes(':') && !host.startsWith('[') ? `[${host}]` : host}:${tls ? 15671 : 15672}`,
    username: cfg.username ?? (fromAmqp?.username ? decodeURIComponent(fromAmqp.username) : 'guest'),
    password: cfg.password ?? (fromAmqp?.username ? decodeURIComponent(fromAmqp.password) : 'guest'),
  };
}

/** Counters at one poll; rates are differences between polls across the window. */
interface Counters {
  at: number;
  exchangePublished: number;
  deadLettered: number;
  queues: Map<string, { publish: number; ack: number }>;
}

class ManagementError extends Error {
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
  }
}

interface ApiQueue {
  name: string;
  messages?: number;
  messages_unacknowledged?: number;
  consumers?: number;
  arguments?: Record<string, unknown>;
  effective_policy_definition?: Record<string, unknown>;
  message_stats?: { publish?: number; ack?: number };
}

export class QueueHealth {
  private latest: QueueHealthReport = { reachable: false, level: 'unknown', checkedAt: null, error: 'not polled yet', queues: [], deadLetter: null, problems: [] };
  private readonly samples: Counters[] = [];
  private timer: NodeJS.Timeout | undefined;
  private polling: Promise<QueueHealthReport> | undefined;
  private readonly auth: string;
  private wasReachable: boolean | undefined;

  constructor(private readonly opts: QueueHealthOptions) {
    this.auth = 'Basic ' + Buffer.from(`${opts.username}:${opts.password}`).toString('base64');
    if (opts.registry) this.registerGauges(opts.registry);
  }

  report(): QueueHealthReport {
    return this.latest;
  }

  start(): void {
    if (this.timer) return;
    void this.poll();
    this.timer = setInterval(() => void this.poll(), this.opts.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.polling?.catch(() => {});
  }

  /** One poll now (a poll already running is shared). Never rejects. */
  poll(): Promise<QueueHealthReport> {
    this.polling ??= this.pollOnce().finally(() => (this.polling = undefined));
    return this.polling;
  }

  private async pollOnce(): Promise<QueueHealthReport> {
    const checkedAt = new Date().toISOString();
    try {
      this.latest = await this.collect(checkedAt);
    } catch (err) {
      const reachable = err instanceof ManagementError && err.status !== undefined && err.status !== 401;
      const message = err instanceof ManagementError ? err.message : `management API unreachable at ${this.opts.url}: ${describe(err)}`;
      this.latest = { reachable, level: 'unknown', checkedAt, error: message, queues: [], deadLetter: null, problems: [message] };
    }
    const reachable = this.latest.reachable;
    if (reachable !== this.wasReachable) {
      // One line per change, not one per poll.
      if (reachable) this.opts.logger?.info({ url: this.opts.url }, 'queue health: management API reachable');
      else this.opts.logger?.warn({ url: this.opts.url, error: this.latest.error }, 'queue health: management API not available; queue health is unknown, the bridge carries on');
      this.wasReachable = reachable;
    }
    return this.latest;
  }

  private async collect(checkedAt: string): Promise<QueueHealthReport> {
    const vhost = encodeURIComponent(this.opts.vhost);
    const exchange = await this.get<{ message_stats?: { publish_in?: number } }>(`/api/exchanges/${vhost}/${encodeURIComponent(this.opts.exchange)}`, `exchange '${this.opts.exchange}'`);
    const bound = await this.boundQueues(this.opts.exchange);
    const dlQueues = await this.boundQueues(this.opts.deadLetterExchange).catch((err: unknown) => {
      if (err instanceof ManagementError && err.status === 404) return [];
      throw err;
    });
    const all = await this.get<ApiQueue[]>(`/api/queues/${vhost}?columns=name,messages,messages_unacknowledged,consumers,arguments,effective_policy_definition,message_stats.publish,message_stats.ack`, 'queues');
    const byName = new Map(all.map((q) => [q.name, q]));

    const now = Date.now();
    const counters: Counters = {
      at: now,
      exchangePublished: exchange.message_stats?.publish_in ?? 0,
      deadLettered: dlQueues.reduce((n, name) => n + (byName.get(name)?.message_stats?.publish ?? 0), 0),
      queues: new Map(bound.map((name) => [name, { publish: byName.get(name)?.message_stats?.publish ?? 0, ack: byName.get(name)?.message_stats?.ack ?? 0 }])),
    };
    this.samples.push(counters);
    // Keep the newest sample that is at least a window old as the base, and everything after it.
    while (this.samples.length > 2 && this.samples[1]!.at <= now - this.opts.rateWindowMs) this.samples.shift();
    const base = this.samples.length > 1 ? this.samples[0]! : undefined;
    const dt = base ? (now - base.at) / 1000 : 0;
    // A counter that went down means the queue was recreated: count from zero.
    const delta = (cur: number, old: number | undefined) => (old === undefined || cur < old ? cur : cur - old);

    const t = this.opts.thresholds;
    const problems: string[] = [];
    const queues: QueueReport[] = bound.map((name) => {
      const q = byName.get(name);
      const sample: QueueSample = {
        name,
        messages: q?.messages ?? 0,
        unacked: q?.messages_unacknowledged ?? 0,
        consumers: q?.consumers ?? 0,
        maxLength: maxLengthOf(q),
      };
      const signals = evaluateQueue(sample, t);
      const c = counters.queues.get(name)!;
      const old = base?.queues.get(name);
      const level = worst([signals.depth.level, signals.consumers.level, signals.unacked.level]);
      for (const s of Object.values(signals)) if (s.level !== 'ok') problems.push(`queue ${name}: ${s.detail}`);
      return {
        ...sample,
        publishRate: base && dt > 0 ? delta(c.publish, old?.publish) / dt : null,
        ackRate: base && dt > 0 ? delta(c.ack, old?.ack) / dt : null,
        level,
        signals,
      };
    });

    let deadLetter: DeadLetterReport | null = null;
    {
      let ratio: number | null = null;
      let rate: number | null = null;
      if (base && dt > 0) {
        const dead = delta(counters.deadLettered, base.deadLettered);
        const published = delta(counters.exchangePublished, base.exchangePublished);
        rate = dead / dt;
        // Dead-lettering a backlog can outrun new publishes: cap at 1 (everything that moved died).
        ratio = published > 0 ? Math.min(1, dead / published) : dead > 0 ? 1 : null;
      }
      const signal = evaluateDeadLetter(ratio, t);
      if (signal.level !== 'ok') problems.push(`dead-letter exchange ${this.opts.deadLetterExchange}: ${signal.detail}`);
      deadLetter = { exchange: this.opts.deadLetterExchange, queues: dlQueues, rate, ratio, signal };
    }

    const level = worst([...queues.map((q) => q.level), deadLetter.signal.level]);
    return { reachable: true, level, checkedAt, error: null, queues, deadLetter, problems };
  }

  private async boundQueues(exchange: string): Promise<string[]> {
    const vhost = encodeURIComponent(this.opts.vhost);
    // The bindings list of a missing exchange is an empty list, not a 404: ask for the exchange first.
    await this.get(`/api/exchanges/${vhost}/${encodeURIComponent(exchange)}`, `exchange '${exchange}'`);
    const bindings = await this.get<Array<{ destination: string; destination_type: string }>>(`/api/exchanges/${vhost}/${encodeURIComponent(exchange)}/bindings/source`, `bindings of '${exchange}'`);
    return [...new Set(bindings.filter((b) => b.destination_type === 'queue').map((b) => b.destination))].sort();
  }

  private async get<T>(path: string, what: string): Promise<T> {
    const res = await fetch(this.opts.url.replace(/\/$/, '') + path, {
      headers: { authorization: this.auth, accept: 'application/json' },
      signal: AbortSignal.timeout(this.opts.timeoutMs),
    });
    if (res.status === 401) throw new ManagementError(`management API at ${this.opts.url} refused the credentials of user '${this.opts.username}' (401)`, 401);
    if (res.status === 404) throw new ManagementError(`${what} not found in vhost '${this.opts.vhost}' (404)`, 404);
    if (!res.ok) throw new ManagementError(`management API at ${this.opts.url}: ${what}: HTTP ${res.status}`, res.status);
    return (await res.json()) as T;
  }

  private registerGauges(registry: Registry): void {
    const self = this;
    const perQueue = (name: string, help: string, read: (q: QueueReport) => number | null) =>
      new Gauge({
        name,
        help,
        labelNames: ['queue'],
        registers: [registry],
        collect() {
          this.reset();
          for (const q of self.latest.queues) {
            const v = read(q);
            if (v !== null) this.set({ queue: q.name }, v);
          }
        },
      });
    new Gauge({
      name: 'edge_queue_health_up',
      help: '1 when the RabbitMQ management API answered the last poll',
      registers: [registry],
      collect() {
        this.set(self.latest.reachable && self.latest.error === null ? 1 : 0);
      },
    });
    new Gauge({
      name: 'edge_queue_health_level',
      help: 'Worst queue-health signal: 0 ok, 1 warning, 2 critical, -1 unknown (management API not available)',
      registers: [registry],
      collect() {
        this.set(self.latest.level === 'unknown' ? -1 : rank[self.latest.level]);
      },
    });
    perQueue('edge_queue_messages', 'Messages in a queue bound to the exchange (ready + unacked)', (q) => q.messages);
    perQueue('edge_queue_max_length', "The queue's max-length, when it has one", (q) => q.maxLength);
    perQueue('edge_queue_consumers', 'Consumers on the queue', (q) => q.consumers);
    perQueue('edge_queue_unacked', 'Messages delivered and not yet acked', (q) => q.unacked);
    perQueue('edge_queue_publish_rate', 'Messages/s into the queue over the rate window', (q) => q.publishRate);
    perQueue('edge_queue_ack_rate', 'Messages/s acked from the queue over the rate window', (q) => q.ackRate);
    new Gauge({
      name: 'edge_queue_signal_level',
      help: 'Per queue and signal (depth, consumers, unacked): 0 ok, 1 warning, 2 critical',
      labelNames: ['queue', 'signal'],
      registers: [registry],
      collect() {
        this.reset();
        for (const q of self.latest.queues) for (const [signal, s] of Object.entries(q.signals)) this.set({ queue: q.name, signal }, rank[s.level]);
      },
    });
    new Gauge({
      name: 'edge_dead_letter_rate',
      help: 'Messages/s into the dead-letter exchange\'s queues over the rate window',
      registers: [registry],
      collect() {
        this.reset();
        const r = self.latest.deadLetter?.rate;
        if (r !== null && r !== undefined) this.set(r);
      },
    });
    new Gauge({
      name: 'edge_dead_letter_ratio',
      help: 'Dead-lettered / published into the exchange over the rate window',
      registers: [registry],
      collect() {
        this.reset();
        const r = self.latest.deadLetter?.ratio;
        if (r !== null && r !== undefined) this.set(r);
      },
    });
  }
}

function maxLengthOf(q: ApiQueue | undefined): number | null {
  const fromArgs = q?.arguments?.['x-max-length'];
  const fromPolicy = q?.effective_policy_definition?.['max-length'];
  const values = [fromArgs, fromPolicy].filter((v): v is number => typeof v === 'number' && v >= 0);
  // Both set: RabbitMQ applies the smaller.
  return values.length ? Math.min(...values) : null;
}

function describe(err: unknown): string {
  const e = err as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (e?.name === 'TimeoutError') return 'timed out';
  return e?.cause?.code ?? e?.cause?.message ?? e?.message ?? String(err);
}
