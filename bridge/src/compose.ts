// The composition root: builds every part from the config, in dependency order, and
// wires them. Nothing touches the network or disk until start().
//
//   counters, quarantine, devices -> store -> egress pool -> forwarder -> ingresses
//   -> router -> queue health, downlink -> pipeline -> health (metrics, feed)
import { Registry } from 'prom-client';
import type { Logger } from 'pino';
import type { BridgeConfig } from './config/index.ts';
import { readTlsFiles } from './config/tls-files.ts';
import type { Ingress, StoredRecord } from './types.ts';
import { Router, checkRoutes } from './routing/index.ts';
import { openStore, type StoreIo } from './store/index.ts';
import { ConfirmPool, type Topology } from './egress/amqp/index.ts';
import { EmbeddedMqttIngress } from './ingress/mqtt-broker.ts';
import { ExternalMqttIngress } from './ingress/mqtt-client.ts';
import { SerialIngress } from './ingress/serial.ts';
import { DeviceAccess } from './ingress/mqtt-auth.ts';
import { Forwarder } from './forwarder.ts';
import { Quarantine } from './quarantine/quarantine.ts';
import { BurstLog } from './observe/burst-log.ts';
import { Pipeline, type Service } from './pipeline.ts';
import { Counters } from './observe/counters.ts';
import { DeviceRegistry } from './observe/devices.ts';
import { BridgeHealth } from './observe/bridge-health.ts';
import { LiveFeed } from './observe/live-feed.ts';
import { DeviceTable } from './observe/device-table.ts';
import { QueueHealth, managementEndpoint } from './observe/queue-health.ts';
import { CommandStore } from './downlink/command-store.ts';
import { Downlink } from './downlink/downlink.ts';

/** A running bridge as its callers see it: lifecycle, health and the embedded broker's port. */
export interface Bridge {
  start(): Promise<void>;
  stop(): Promise<void>;
  /** /readyz, /metrics, the dashboard feed and the status line. */
  readonly health: BridgeHealth;
  /** The embedded broker's bound port (0 without one). */
  mqttPort(): number;
  /** Its MQTT-over-WebSocket port (0 when that listener is off). */
  mqttWebSocketPort(): number;
}

/** `seams.storeIo` is the store's file-system seam, for fault-injection tests. */
export function composeBridge(config: BridgeConfig, log: Logger, seams: { storeIo?: StoreIo } = {}): Bridge {
  const counters = new Counters();
  const quarantine = new Quarantine(config.quarantine.dir, config.quarantine.maxBytes);
  const devices = new DeviceRegistry();
  // Records that will never be delivered are kept where an operator can find them.
  const park = async (reason: string, records: StoredRecord[], why?: string): Promise<void> => {
    counters.parked.add(reason, records.length);
    await Promise.all(
      records.map((r) => {
        const entry = { reason, detail: `${r.messageId} -> ${r.routingKey}${why ? `: ${why}` : ''}`, topic: String(r.headers['x-topic'] ?? ''), source: r.device, payload: r.body };
        return quarantine.put(entry, true);
      }),
    );
  };
  const parkRemoved = (reason: string, records: StoredRecord[]) => {
    park(reason, records).catch((err: unknown) => log.error({ err, reason, records: records.length }, 'parked records not written to the quarantine'));
  };
  const store = openStore({
    dir: config.store.dir,
    maxBytes: config.store.maxBytes,
    maxRecords: config.store.maxRecords,
    overflow: config.store.overflow,
    ttlMs: config.store.ttlMs,
    groupCommitMaxDelayMs: config.store.groupCommitMaxDelayMs,
    io: seams.storeIo,
    onDropped: (recs) => parkRemoved('dropped_overflow', recs),
    onExpired: (recs) => parkRemoved('expired_ttl', recs),
  });

  const a = config.amqp;
  // TLS files are read and checked here, so a bad one stops the start with a config error.
  const amqpTls = a.tls ? readTlsFiles('amqp.tls', a.tls) : undefined;
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
  pool.on('reconnect', () => counters.amqpReconnects++);
  const registry = new Registry();
  const forwarder = new Forwarder(
    store,
    pool,
    { maxInFlight: a.connections * a.channelsPerConnection * a.windowPerChannel, retry: { initialMs: 100, maxMs: a.reconnect.maxMs } },
    {
      onConfirmed: (rec, publishMs) => {
        counters.published.confirmed++;
        counters.confirmLatency.observe(publishMs / 1000);
        counters.acceptToConfirm.observe((Date.now() - rec.acceptedAt) / 1000);
      },
      onParked: (rec, why, reason) => {
        counters.published[reason === 'unroutable_returned' ? 'returned' : 'failed']++;
        log.warn({ messageId: rec.messageId, routingKey: rec.routingKey, bytes: rec.body.length, why }, reason === 'unroutable_returned' ? 'broker returned message: parked' : 'broker can never take this message: parked');
        return park(reason, [rec], why);
      },
      onRetry: (_rec, _why, kind) => counters.published[kind]++,
      onPublish: (rec) => counters.acceptToPublish.observe((Date.now() - rec.acceptedAt) / 1000),
    },
  );

  const ingresses = buildIngresses(config, log, devices);
  const embedded = ingresses.find((i): i is EmbeddedMqttIngress => i instanceof EmbeddedMqttIngress);
  const external = ingresses.find((i): i is ExternalMqttIngress => i instanceof ExternalMqttIngress);
  // External mode: a seq gap means the external broker acknowledged batches and then lost them.
  let lastGap: Record<string, unknown> = {};
  const upstreamGapLog = new BurstLog(({ counts, sinceMs }) =>
    log.warn(
      { missing: counts.missing, sinceMs, last: lastGap },
      'seq gaps in external-broker mode: the external broker acknowledged batches to devices and dropped them before the bridge got them; on Mosquitto set max_queued_messages 0 and persistence true',
    ),
  );
  const onSeqGap = external
    ? (device: string, missing: number) => {
        counters.upstreamGaps += missing;
        lastGap = { device, missing };
        upstreamGapLog.count('missing', 0, missing);
      }
    : undefined;
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
        registry,
        logger: log.child({ stage: 'queue-health' }),
      })
    : undefined;
  const dl = config.downlink;
  const downlink = dl.enabled
    ? new Downlink({
        amqp: { urls: a.urls, tls: amqpTls, heartbeatSec: a.heartbeatSec, reconnect: a.reconnect },
        exchange: dl.exchange,
        queue: dl.queue,
        prefetch: dl.prefetch,
        ttlMs: dl.ttlMs,
        retryMs: dl.retryMs,
        store: new CommandStore(dl.dir),
        transports: ingresses,
        registry,
        logger: log.child({ stage: 'downlink' }),
      })
    : undefined;

  const services: Service[] = [{ start: () => pool.start(), stop: () => pool.close() }, forwarder];
  if (queueHealth) services.push(queueHealth);
  if (downlink) services.push(downlink);
  const pipeline = new Pipeline(
    { store, quarantine, router, counters, devices, onSeqGap, onStatus: downlink ? (d, cmd, online) => downlink.onStatus(d, cmd, online) : undefined, services, ingresses },
    log,
  );

  const dash = config.observe.dashboard;
  const feed = dash.enabled ? new LiveFeed(dash.intervalMs, log.child({ stage: 'dashboard' })) : undefined;
  const health = new BridgeHealth(
    {
      store,
      egress: pool,
      counters,
      devices,
      storeWritable: () => pipeline.storeWritable,
      queueHealth,
      registry,
      gauges: {
        store: () => store.stats(),
        devicesOnline: () => devices.onlineCount(),
        devicesKnown: () => devices.size,
        seqGaps: () => devices.gapsTotal,
        nodeDrops: () => devices.dropsTotal(),
        amqpConnections: () => pool.state().connections,
        amqpBlocked: () => pool.blocked,
        perDevice: () => devices.topByTraffic(config.observe.deviceMetrics.top, config.observe.deviceMetrics.devices),
        serialPorts: () => ingresses.flatMap((i) => (i instanceof SerialIngress ? i.stats.ports : [])),
        mqttLimits: () => embedded?.limitStats,
        externalBrokerDropped: () => external?.stats.brokerDropped,
        mqttClients: () => embedded && { connected: embedded.connectedClientIds.length, publishDenied: embedded.stats.denied, subscribeDenied: embedded.stats.subscribeDenied },
      },
    },
    feed,
  );
  if (queueHealth) {
    health.addDegradedCheck(() => {
      const r = queueHealth.report();
      return r.reachable || r.checkedAt === null ? undefined : `queue health unknown: ${r.error ?? 'management API unreachable'}`;
    });
  }
  if (feed) {
    const table = new DeviceTable(devices, dash.maxDevices);
    feed
      .addSource('status', () => {
        const r = health.readiness();
        return { ready: r.ready, state: !r.ready ? 'not ready' : r.degraded.length ? 'degraded' : 'ok', reasons: r.degraded };
      })
      .addSource('totals', () => health.totals())
      .addSource('store', () => store.stats())
      .addSource('amqp', () => pool.state())
      .addSource('devices', () => table.rows())
      .addSource('queues', () => queueHealth?.report() ?? { enabled: false });
  }

  const mqttPort = () => embedded?.port ?? 0;
  return {
    health,
    mqttPort,
    mqttWebSocketPort: () => embedded?.websocketPort ?? 0,
    async start() {
      const unreachable = checkRoutes(config.routing.rules, bindingsOf(config)).filter((r) => !r.reachable);
      health.metrics.unreachableRoutes.set(unreachable.length);
      for (const r of unreachable) log.warn({ rule: r.rule }, 'routing rule reaches no queue: its messages will be parked');
      warnAboutOpenDoors(config, log);
      await pipeline.start();
      log.info({ mqttPort: mqttPort(), store: config.store.dir }, 'bridge ready');
    },
    stop: () => pipeline.stop(),
  };
}

function buildIngresses(config: BridgeConfig, log: Logger, devices: DeviceRegistry): Ingress[] {
  const ingresses: Ingress[] = [];
  const mq = config.mqtt;
  if (mq.mode === 'embedded') {
    const tls = mq.embedded.tls ? readTlsFiles('mqtt.embedded.tls', mq.embedded.tls) : undefined;
    // Read at start-up: a missing or malformed credentials file stops the bridge with its path.
    const access = new DeviceAccess({ credentialsFile: mq.embedded.auth?.credentialsFile, topicPrefixes: mq.topicPrefixes });
    const embedded = new EmbeddedMqttIngress({
      access,
      host: mq.embedded.host,
      port: mq.embedded.port,
      maxPayloadBytes: mq.embedded.maxPayloadBytes,
      tls: tls && { cert: tls.cert!, key: tls.key! },
      websocket: mq.embedded.websocket,
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
  return ingresses;
}

/** Settings that are allowed but leave a door open: said once at start. */
function warnAboutOpenDoors(config: BridgeConfig, log: Logger): void {
  const e = config.mqtt.embedded;
  if (config.mqtt.mode === 'embedded' && e.allowAnonymous && !e.auth) {
    log.warn({ host: e.host, websocketHost: e.websocket?.host }, 'mqtt.embedded.allowAnonymous: true: the MQTT listener takes anyone who reaches it, and any client can publish as any device');
  }
  for (const port of config.serial.ports) {
    if (port.topicPrefix === undefined) {
      const where = 'path' in port ? port.path : `tcp:${port.tcp}`;
      log.warn({ port: where }, `serial port without topicPrefix: its batches are routed by the topic serial:${where}; set serial.ports[].topicPrefix (e.g. factory/floor1) to route them as <topicPrefix>/<device>/telemetry`);
    }
  }
}

/** Builds the AMQP topology (as data) that the config declares. */
export function topologyFromConfig(config: BridgeConfig): Topology {
  const t = config.amqp.topology;
  return {
    exchange: { name: t.exchange, type: 'topic', durable: true },
    alternate: { exchange: t.alternateExchange, queue: t.unroutableQueue, type: t.unroutableQueueType },
    deadLetter: { exchange: t.deadLetterExchange, queue: t.deadLetterQueue, type: t.deadLetterQueueType },
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

export function bindingsOf(config: BridgeConfig): Array<{ queue: string; pattern: string }> {
  return config.amqp.topology.queues.flatMap((q) => q.bindings.map((pattern) => ({ queue: q.name, pattern })));
}
