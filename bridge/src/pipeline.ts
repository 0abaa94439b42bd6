// The only file that knows every stage. It wires
//   ingress -> codec -> routing -> store -> forwarder -> AMQP egress
// and decides what each sender is told (IngestOutcome).
//
// The promise: `stored` (PUBACK / ack frame) is returned only after
// store.append() resolved, and append resolves only after fsync. A message whose
// payload speaks for another device than the ingress verified is never stored:
// message ids and headers come from that verified identity.
import type { Logger } from 'pino';
import type { BridgeConfig } from './config/index.ts';
import { readTlsFiles } from './config/tls-files.ts';
import type { Ingress, IngestOutcome, RawMessage, StoredRecord } from './types.ts';
import { decodeBatch, decodeStatus, type BatchForm } from './codec/index.ts';
import { Router, checkRoutes } from './routing/index.ts';
import { openStore, StoreFullError, type StoreAndForward, type StoreIo } from './store/index.ts';
import { ConfirmPool, type Topology } from './egress/amqp/index.ts';
import { EmbeddedMqttIngress } from './ingress/mqtt-broker.ts';
import { ExternalMqttIngress } from './ingress/mqtt-client.ts';
import { SerialIngress } from './ingress/serial.ts';
import { DeviceAccess } from './ingress/mqtt-auth.ts';
import type { StatusSnapshot } from './observe/console-status.ts';
import type { HealthSource } from './observe/http.ts';
import { Forwarder } from './forwarder.ts';
import { Quarantine } from './quarantine/quarantine.ts';
import { BurstLog } from './observe/burst-log.ts';
import { DeviceRegistry } from './observe/devices.ts';
import { BridgeMetrics } from './observe/metrics.ts';
import { LiveFeed } from './observe/live-feed.ts';
import { DeviceTable } from './observe/device-table.ts';
import { QueueHealth, managementEndpoint } from './observe/queue-health.ts';
import { CommandStore } from './downlink/command-store.ts';
import { Downlink } from './downlink/downlink.ts';

export interface BridgeParts {
  store: StoreAndForward;
  pool: ConfirmPool;
  forwarder: Forwarder;
  router: Router;
  quarantine: Quarantine;
  devices: DeviceRegistry;
  metrics: BridgeMetrics;
  ingresses: Ingress[];
  /** Absent when queueHealth.enabled is false. */
  queueHealth?: QueueHealth;
  /** Absent when downlink.enabled is false. */
  downlink?: Downlink;
}

/** Builds the AMQP topology (as data) that the config declares. */
export function topologyFromConfig(config: BridgeConfig): Topology {
  const t = config.amqp.topology;
  return {
    exchange: { name: t.exchange, type: 'topic', durable: true },
    alternate: { exchange: t.alternateExchange, queue: t.unroutableQueue },
    deadLetter: { exchange: t.deadLetterExchange, queue: t.deadLetterQueue },
    queues: t.queues.map((q) => ({
      name: q.name,
      bindings: q.bindings,
      type: q.type,
      messageTtlMs: q.messageTtlMs,
      maxLength: q.maxLength,
      deadLetter: true,
    })),
  };
}

/** The answer to nearly every message: one frozen object rather than one per message. */
const STORED: IngestOutcome = Object.freeze({ kind: 'stored' });

/** A degraded-state check: returns the reason while degraded, else undefined. Never makes /readyz 503. */
export type DegradedCheck = () => string | undefined;

export class Pipeline implements HealthSource {
  private stopping = false;
  private storeWritable = true;
  private readonly degradedChecks: DegradedCheck[] = [];
  /** decodeBatch's out-parameter, read before the first await: one object serves every message. */
  private readonly batchForm: BatchForm = { lazyReadings: true };
  /** The dashboard's live feed (undefined when observe.dashboard.enabled is false). */
  feed: LiveFeed | undefined;
  /** Quarantined input is logged once per burst, with the last entry as an example. */
  private lastRejected: Record<string, string> = {};
  private readonly rejectedLog = new BurstLog(({ counts, sinceMs }) => this.log.warn({ counts, sinceMs, last: this.lastRejected }, 'payloads quarantined'));

  constructor(
    readonly config: BridgeConfig,
    readonly parts: BridgeParts,
    private readonly log: Logger,
  ) {}

  /** The handler every ingress calls. Never throws: every failure becomes an outcome. */
  readonly handle = async (msg: RawMessage): Promise<IngestOutcome> => {
    const { metrics, quarantine, devices, router, store } = this.parts;
    const ingress = metrics.hot.ingress[msg.transport];
    ingress.messages.inc();
    ingress.bytes.inc(msg.payload.length);
    if (this.stopping) return { kind: 'busy', reason: 'bridge is stopping' };
    if (msg.refused) return this.reject(msg, msg.refused.reason, msg.refused.detail);
    if (msg.kind === 'status') return this.handleStatus(msg);

    const form = this.batchForm;
    const decoded = decodeBatch(msg.payload, form);
    if (!decoded.ok) return this.reject(msg, decoded.error, decoded.detail);
    const batch = decoded.value;
    if (batch.device !== msg.identity) return this.rejectImpostor(msg, batch.device);
    const readingCount = form.readingCount ?? batch.readings.length;

    // The decoder already knows whether the payload can be forwarded as it is.
    const routed = router.route(msg, batch, form.canonical);
    if (!routed.ok) return this.reject(msg, routed.reason, routed.detail);

    try {
      await store.append(routed.messages);
    } catch (err) {
      metrics.busy.inc({ transport: msg.transport });
      if (err instanceof StoreFullError) return { kind: 'busy', reason: 'store full' };
      this.storeWritable = false;
      this.log.error({ err, topic: msg.topic }, 'store append failed; not acknowledging');
      return { kind: 'busy', reason: (err as Error).message };
    }
    this.storeWritable = true;
    devices.onBatch(batch.device, batch.boot, batch.seq, readingCount);
    metrics.hot.readings.inc(readingCount);
    metrics.hot.batches.inc();
    return STORED;
  };

  private async handleStatus(msg: RawMessage): Promise<IngestOutcome> {
    const decoded = decodeStatus(msg.payload);
    if (!decoded.ok) return this.reject(msg, decoded.error, decoded.detail);
    const s = decoded.value;
    if (s.d !== msg.identity) return this.rejectImpostor(msg, s.d);
    this.parts.devices.onStatus(s.d, { online: s.st === 'online', boot: s.b, drop: s.drop, iv: s.iv, bs: s.bs, cmd: s.cmd });
    this.parts.downlink?.onStatus(s.d, s.cmd ?? 0, s.st === 'online');
    return STORED;
  }

  /** A payload that names another device than the one the ingress verified: kept aside, acknowledged. */
  private rejectImpostor(msg: RawMessage, claimed: string): Promise<IngestOutcome> {
    if (msg.identity) this.parts.devices.onIdentityMismatch(msg.identity);
    const who = msg.identity ? `'${msg.identity}'` : `none (no device '${claimed}' declared on ${msg.source})`;
    return this.reject(msg, 'identity_mismatch', `payload says device '${claimed}', the connection's identity is ${who}`);
  }

  /**
   * Quarantines the message and answers 'rejected' (acknowledged: resending cannot fix it) once
   * the entry is written, or at once when the quarantine queue is full (counted as dropped). A
   * failed write answers 'busy': the sender keeps it.
   */
  private async reject(msg: RawMessage, reason: string, detail: string): Promise<IngestOutcome> {
    this.parts.metrics.decodeFailures.inc({ reason });
    this.lastRejected = { reason, detail, topic: msg.topic, source: msg.source, identity: msg.identity };
    this.rejectedLog.count(reason);
    try {
      await this.parts.quarantine.put({ reason, detail, topic: msg.topic, source: msg.source, identity: msg.identity, payload: msg.payload });
    } catch (err) {
      this.log.error({ err }, 'quarantine write failed; not acknowledging');
      return { kind: 'busy', reason: 'quarantine unavailable' };
    }
    return { kind: 'rejected', reason: `${reason}: ${detail}` };
  }

  async start(): Promise<void> {
    const { store, pool, forwarder, quarantine, ingresses, metrics } = this.parts;
    const report = await store.open();
    this.log.info({ report }, 'store opened');
    await quarantine.open();
    const reach = checkRoutes(this.config.routing.rules, bindingsOf(this.config));
    const unreachable = reach.filter((r) => !r.reachable);
    metrics.unreachableRoutes.set(unreachable.length);
    for (const r of unreachable) this.log.warn({ rule: r.rule }, 'routing rule reaches no queue: its messages will be parked');
    this.warnAboutOpenDoors();
    await pool.start();
    forwarder.start();
    this.parts.queueHealth?.start();
    for (const ingress of ingresses) {
      await ingress.start(this.handle);
      this.log.info({ ingress: ingress.name }, 'ingress started');
    }
    await this.parts.downlink?.start();
    this.log.info({ mqttPort: this.mqttPort(), store: this.config.store.dir }, 'bridge ready');
  }

  /** Settings that are allowed but leave a door open: said once at start. */
  private warnAboutOpenDoors(): void {
    const e = this.config.mqtt.embedded;
    if (this.config.mqtt.mode === 'embedded' && e.allowAnonymous && !e.auth) {
      this.log.warn({ host: e.host }, 'mqtt.embedded.allowAnonymous: true: the MQTT listener takes anyone who reaches it, and any client can publish as any device');
    }
    for (const port of this.config.serial.ports) {
      if (port.topicPrefix === undefined) {
        const where = 'path' in port ? port.path : `tcp:${port.tcp}`;
        this.log.warn({ port: where }, `serial port without topicPrefix: its batches are routed by the topic serial:${where}; set serial.ports[].topicPrefix (e.g. factory/floor1) to route them as <topicPrefix>/<device>/telemetry`);
      }
    }
  }

  /** Graceful stop: no new input, finish in-flight work, close the store. */
  async stop(): Promise<void> {
    this.stopping = true;
    const { store, pool, forwarder, quarantine, ingresses } = this.parts;
    await this.parts.downlink?.stop();
    for (const ingress of ingresses) await ingress.stop().catch((err) => this.log.error({ err }, 'ingress stop failed'));
    await forwarder.stop();
    await this.parts.queueHealth?.stop();
    await pool.close().catch((err: unknown) => this.log.error({ err }, 'amqp close failed'));
    await store.close();
    this.rejectedLog.flush();
    await quarantine.close();
  }

  /** The embedded broker's bound port (the demo's virtual nodes connect to it). */
  mqttPort(): number {
    const embedded = this.parts.ingresses.find((i): i is EmbeddedMqttIngress => i instanceof EmbeddedMqttIngress);
    return embedded?.port ?? 0;
  }

  snapshot(): StatusSnapshot {
    const { store, pool, forwarder, devices, quarantine } = this.parts;
    const st = store.stats();
    return {
      devicesOnline: devices.onlineCount(),
      batchesIn: devices.batchesTotal,
      readingsIn: devices.readingsTotal,
      forwarded: forwarder.counts.confirmed,
      backlog: st.records,
      oldestAgeMs: st.oldestAgeMs,
      brokerUp: pool.ready,
      blocked: pool.blocked,
      quarantined: quarantine.total(),
    };
  }

  readiness(): { ready: boolean; degraded: string[]; details: Record<string, unknown> } {
    const { store, pool } = this.parts;
    const st = store.stats();
    const degraded: string[] = [];
    if (!pool.ready) degraded.push('rabbitmq unreachable: buffering to disk');
    if (pool.blocked) degraded.push('rabbitmq blocked the connection (resource alarm)');
    if (st.records > 0 && st.oldestAgeMs > 60_000) degraded.push(`backlog of ${st.records} records, oldest ${Math.round(st.oldestAgeMs / 1000)} s`);
    if (!this.storeWritable) degraded.push('store not writable');
    for (const check of this.degradedChecks) {
      const reason = check();
      if (reason) degraded.push(reason);
    }
    return {
      ready: this.storeWritable,
      degraded,
      details: {
        store: st,
        amqp: pool.state(),
        devicesOnline: this.parts.devices.onlineCount(),
        // Reported only: a queue without consumers is the consumers' problem, not a reason to restart the bridge.
        queueHealth: this.parts.queueHealth?.report() ?? { enabled: false },
      },
    };
  }

  /** Adds a reason /readyz reports (200, 'degraded') while it holds. */
  addDegradedCheck(check: DegradedCheck): void {
    this.degradedChecks.push(check);
  }

  metricsText(): Promise<string> {
    return this.parts.metrics.registry.metrics();
  }

  get metricsContentType(): string {
    return this.parts.metrics.registry.contentType;
  }
}

/** Builds every stage from the config. Nothing touches the network or disk until start(). */
/** `seams.storeIo` is the store's file-system seam, for fault-injection tests. */
export function createPipeline(config: BridgeConfig, log: Logger, seams: { storeIo?: StoreIo } = {}): Pipeline {
  const quarantine = new Quarantine(config.quarantine.dir, config.quarantine.maxBytes);
  const devices = new DeviceRegistry();
  // Records removed by policy are never delivered: keep them where an operator can find them.
  const park = (reason: string) => (records: StoredRecord[]) => {
    for (const r of records) {
      const entry = { reason, detail: `${r.messageId} -> ${r.routingKey}`, topic: String(r.headers['x-topic'] ?? ''), source: r.device, payload: r.body };
      quarantine.put(entry, true).catch((err: unknown) => log.error({ err, messageId: r.messageId }, 'parked record not written to the quarantine'));
    }
  };
  let metrics: BridgeMetrics | undefined;
  const store = openStore({
    dir: config.store.dir,
    maxBytes: config.store.maxBytes,
    maxRecords: config.store.maxRecords,
    overflow: config.store.overflow,
    ttlMs: config.store.ttlMs,
    groupCommitMaxDelayMs: config.store.groupCommitMaxDelayMs,
    io: seams.storeIo,
    onDropped: (recs) => {
      metrics?.storeDropped.inc(recs.length);
      metrics?.parked.inc({ reason: 'dropped_overflow' }, recs.length);
      park('dropped_overflow')(recs);
    },
    onExpired: (recs) => {
      metrics?.storeExpired.inc(recs.length);
      metrics?.parked.inc({ reason: 'expired_ttl' }, recs.length);
      park('expired_ttl')(recs);
    },
  });
  const a = config.amqp;
  // TLS files are read and checked here, so a bad one stops the start with a config error.
  const amqpTls = a.tls ? readTlsFiles('amqp.tls', a.tls) : undefined;
  const mqttTls = config.mqtt.mode === 'embedded' && config.mqtt.embedded.tls ? readTlsFiles('mqtt.embedded.tls', config.mqtt.embedded.tls) : undefined;
  const pool = new ConfirmPool({
    urls: a.urls,
    connections: a.connections,
    channelsPerConnection: a.channelsPerConnection,
    windowPerChannel: a.windowPerChannel,
    heartbeatSec: a.heartbeatSec,
    tls: amqpTls,
    exchange: a.topology.exchange,
    topology: topologyFromConfig(config),
    reconnect: a.reconnect,
    logger: log.child({ stage: 'amqp' }),
  });
  const m = new BridgeMetrics({
    store: () => store.stats(),
    devicesOnline: () => devices.onlineCount(),
    devicesKnown: () => devices.size,
    seqGaps: () => devices.gapsTotal,
    nodeDrops: () => devices.dropsTotal(),
    amqpConnections: () => pool.state().connections,
    amqpBlocked: () => pool.blocked,
    perDevice: () => devices.topByTraffic(config.observe.deviceMetrics.top, config.observe.deviceMetrics.devices),
    serialPorts: () => ingresses.flatMap((i) => (i instanceof SerialIngress ? i.stats.ports : [])),
    quarantineDropped: () => quarantine.dropped,
    mqttLimits: () => ingresses.find((i): i is EmbeddedMqttIngress => i instanceof EmbeddedMqttIngress)?.limitStats,
    readiness: () => {
      const r = pipeline.readiness();
      return !r.ready ? 0 : r.degraded.length ? 1 : 2;
    },
  });
  metrics = m;
  pool.on('reconnect', () => m.reconnects.inc());
  const forwarder = new Forwarder(
    store,
    pool,
    { maxInFlight: a.connections * a.channelsPerConnection * a.windowPerChannel, retry: { initialMs: 100, maxMs: a.reconnect.maxMs } },
    {
      onConfirmed: (rec, publishMs) => {
        m.hot.confirmed.inc();
        m.hot.confirmLatency.observe(publishMs / 1000);
        m.hot.endToEnd.observe((Date.now() - rec.acceptedAt) / 1000);
      },
      onParked: (rec, why) => {
        m.published.inc({ result: 'returned' });
        m.parked.inc({ reason: 'unroutable_returned' });
        park('unroutable_returned')([rec]);
        log.warn({ messageId: rec.messageId, routingKey: rec.routingKey, why }, 'broker returned message: parked');
      },
      onRetry: (_rec, _why, kind) => m.published.inc({ result: kind }),
    },
  );
  const ingresses: Ingress[] = [];
  const mq = config.mqtt;
  if (mq.mode === 'embedded') {
    // Read at start-up: a missing or malformed credentials file stops the bridge with its path.
    const access = new DeviceAccess({ credentialsFile: mq.embedded.auth?.credentialsFile, topicPrefixes: mq.topicPrefixes });
    const embedded = new EmbeddedMqttIngress({
      access,
      host: mq.embedded.host,
      port: mq.embedded.port,
      maxPayloadBytes: mq.embedded.maxPayloadBytes,
      tls: mqttTls && { cert: mqttTls.cert!, key: mqttTls.key! },
      limits: mq.embedded.limits,
      logger: log.child({ stage: 'mqtt' }),
    });
    embedded.on('paced', (clientId: string) => devices.onPaced(clientId));
    ingresses.push(embedded);
  } else if (mq.mode === 'external') {
    ingresses.push(
      new ExternalMqttIngress({
        url: mq.external.url!,
        clientId: mq.external.clientId,
        topics: mq.external.topics,
        username: mq.external.username,
        password: mq.external.password,
        topicPrefixes: mq.topicPrefixes,
        logger: log.child({ stage: 'mqtt' }),
      }),
    );
  }
  if (config.serial.ports.length > 0) {
    ingresses.push(new SerialIngress({ ports: config.serial.ports, logger: log.child({ stage: 'serial' }) }));
  }
  const router = new Router(config.routing.rules, { contentType: a.contentType });
  const qh = config.queueHealth;
  const queueHealth = qh.enabled
    ? new QueueHealth({
        ...managementEndpoint(qh, a.urls[0]),
        vhost: qh.vhost,
        exchange: a.topology.exchange,
        deadLetterExchange: a.topology.deadLetterExchange,
        intervalMs: qh.intervalMs,
        timeoutMs: qh.timeoutMs,
        rateWindowMs: qh.rateWindowMs,
        thresholds: qh.thresholds,
        registry: m.registry,
        logger: log.child({ stage: 'queue-health' }),
      })
    : undefined;
  const dl = config.downlink;
  const downlink = dl.enabled
    ? new Downlink({
        urls: a.urls,
        socketOptions: amqpTls,
        exchange: dl.exchange,
        queue: dl.queue,
        prefetch: dl.prefetch,
        ttlMs: dl.ttlMs,
        retryMs: dl.retryMs,
        store: new CommandStore(dl.dir),
        transports: ingresses,
        registry: m.registry,
        logger: log.child({ stage: 'downlink' }),
      })
    : undefined;
  const pipeline = new Pipeline(config, { store, pool, forwarder, router, quarantine, devices, metrics: m, ingresses, queueHealth, downlink }, log);
  if (queueHealth) {
    pipeline.addDegradedCheck(() => {
      const r = queueHealth.report();
      return r.reachable || r.checkedAt === null ? undefined : `queue health unknown: ${r.error ?? 'management API unreachable'}`;
    });
  }
  const dash = config.observe.dashboard;
  if (dash.enabled) {
    const table = new DeviceTable(devices, dash.maxDevices);
    pipeline.feed = new LiveFeed(dash.intervalMs, log.child({ stage: 'dashboard' }))
      .addSource('status', () => {
        const r = pipeline.readiness();
        return { ready: r.ready, state: !r.ready ? 'not ready' : r.degraded.length ? 'degraded' : 'ok', reasons: r.degraded };
      })
      .addSource('totals', () => ({
        ingressMessages: sumOf(m, m.ingressMessages),
        batches: devices.batchesTotal,
        readings: devices.readingsTotal,
        forwarded: forwarder.counts.confirmed,
        parked: forwarder.counts.parked,
        retried: forwarder.counts.retried,
        quarantined: quarantine.total(),
        gaps: devices.gapsTotal,
        drops: devices.dropsTotal(),
        devicesOnline: devices.onlineCount(),
        devicesKnown: devices.size,
      }))
      .addSource('store', () => store.stats())
      .addSource('amqp', () => pool.state())
      .addSource('devices', () => table.rows())
      .addSource('queues', () => queueHealth?.report() ?? { enabled: false });
  }
  return pipeline;
}

/** Sum of a labelled counter, read without a scrape. */
function sumOf(metrics: BridgeMetrics, counter: BridgeMetrics['ingressMessages']): number {
  metrics.flushHot();
  const byLabels = (counter as unknown as { hashMap: Record<string, { value: number }> }).hashMap;
  let n = 0;
  for (const k in byLabels) n += byLabels[k]!.value;
  return n;
}

export function bindingsOf(config: BridgeConfig): Array<{ queue: string; pattern: string }> {
  return config.amqp.topology.queues.flatMap((q) => q.bindings.map((pattern) => ({ queue: q.name, pattern })));
}



