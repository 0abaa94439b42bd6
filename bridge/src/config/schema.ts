// The whole bridge config as one zod schema. Every field has a default, so the
// bridge runs with no file at all (embedded MQTT on 1883, RabbitMQ on localhost).
// Objects are strict: an unknown key is an error, so a typo never passes silently.
// Messages are written as "expected ..." because load.ts prints them as
// `<path>: expected ..., found ... (from ...)`.
import { z } from 'zod';
import { compileRule, DEFAULT_RULE, RoutingRuleError } from '../routing/rules.ts';
import { isDeviceId } from '../codec/index.ts';
import { isTopicPrefix } from '../ingress/mqtt-auth.ts';

const expect = (what: string) => ({ error: `expected ${what}` });

const posInt = () => z.int(expect('a positive integer')).positive(expect('a positive integer'));
const nonNegInt = () => z.int(expect('a non-negative integer')).nonnegative(expect('a non-negative integer'));
const port = () => z.int(expect('a port number 0..65535')).min(0, expect('a port number 0..65535')).max(65535, expect('a port number 0..65535'));
const text = () => z.string(expect('a non-empty string')).min(1, expect('a non-empty string'));
const bool = () => z.boolean(expect('true or false'));
const oneOf = <const T extends readonly [string, ...string[]]>(values: T) =>
  z.enum(values, expect(`one of ${values.map((v) => `'${v}'`).join(', ')}`));
const hostPort = () => z.string(expect('"host:port"')).regex(/^[^\s:]+:\d{1,5}$|^\[[0-9a-fA-F:]+\]:\d{1,5}$/, expect('"host:port"'));
const amqpUrl = () => z.string(expect('an amqp:// or amqps:// URL')).regex(/^amqps?:\/\/\S+$/, expect('an amqp:// or amqps:// URL'));
const mqttUrl = () => z.string(expect('an mqtt://, mqtts://, ws:// or wss:// URL')).regex(/^(mqtts?|wss?|tcp|ssl):\/\/\S+$/, expect('an mqtt://, mqtts://, ws:// or wss:// URL'));

const topicPrefix = () => z.string(expect('a topic prefix such as "factory/floor1"')).refine(isTopicPrefix, expect('a topic prefix such as "factory/floor1" (no wildcards, no empty level)'));
const deviceId = () => z.string(expect('a device id')).refine(isDeviceId, expect('a device id ([A-Za-z0-9_-]{1,64})'));

const tlsFiles = z.strictObject({ certFile: text(), keyFile: text() }, expect('{ certFile, keyFile }'));

/** Per-connection limits of the embedded broker, enforced on the bytes before aedes reads a packet. */
const connectionLimits = z.strictObject({
  /**
   * Largest MQTT packet (remaining length). A larger one closes the connection as its header
   * arrives, unread. 64 KiB: a batch is at most 4096 bytes (PROTOCOL.md 3.3), and a payload above
   * maxPayloadBytes but under this is still read, quarantined with its reason and acknowledged.
   */
  maxPacketBytes: z.int(expect('an integer 2..268435455')).min(2, expect('an integer 2..268435455')).max(268_435_455, expect('an integer 2..268435455')).default(64 * 1024),
  /** PUBLISH packets per second per client id (token bucket); above it the client is paced, unread. 0: off. */
  publishesPerSecond: nonNegInt().default(200),
  publishBurst: posInt().default(400),
  /** A client paced without a break this long is disconnected. 0: never. */
  disconnectAfterPacedMs: nonNegInt().default(60_000),
  /** Open connections at once; past it a new one is closed unread. 0: unlimited. Each costs a file descriptor. */
  maxConnections: nonNegInt().default(16_000),
  /** Open connections at once from one remote address (devices behind one NAT share it). 0: unlimited. */
  maxConnectionsPerAddress: nonNegInt().default(1000),
});

const mqtt = z.strictObject({
  /** embedded: the bridge is the broker (PUBACK after the durable write); external: it subscribes elsewhere. */
  mode: oneOf(['embedded', 'external', 'off']).default('embedded'),
  /**
   * Prefixes devices publish under (`<prefix>/<device>/telemetry`), matched whole. A login's own
   * `prefixes` (credentials add --prefix) take precedence. Unset: any prefix.
   */
  topicPrefixes: z.array(topicPrefix(), expect('a list of topic prefixes')).min(1, expect('at least one topic prefix')).optional(),
  embedded: z
    .strictObject({
      /** Loopback unless set: a listener on the network needs logins (auth) or allowAnonymous. */
      host: text().default('127.0.0.1'),
      port: port().default(1883),
      maxPayloadBytes: posInt().default(8192),
      auth: z.strictObject({ credentialsFile: text() }).optional(),
      /** Lets a non-loopback listener run without logins: anyone who reaches it can publish as any device. */
      allowAnonymous: bool().default(false),
      tls: tlsFiles.optional(),
      /**
       * MQTT over WebSocket (browsers, some gateways) beside the TCP listener: same logins, ACL,
       * limits and TLS. Off unless set; its host falls under the same loopback rule as `host`.
       */
      websocket: z
        .strictObject({
          host: text().default('127.0.0.1'),
          port: port(),
          path: text().regex(/^\//, expect('a path starting with /')).default('/mqtt'),
        })
        .optional(),
      limits: connectionLimits.prefault({}),
    })
    .superRefine((e, ctx) => {
      // Room for the topic and packet id, so an oversized payload is quarantined with its reason, not cut off.
      const least = e.maxPayloadBytes + 1024;
      if (e.limits.maxPacketBytes < least) {
        ctx.addIssue({ code: 'custom', path: ['limits', 'maxPacketBytes'], message: `expected at least maxPayloadBytes + 1024 (${least}), found ${e.limits.maxPacketBytes}` });
      }
    })
    .prefault({}),
  external: z
    .strictObject({
      url: mqttUrl().optional(),
      clientId: text().default('edge-bridge'),
      // Four levels match the default node prefix `factory/floor1`; never `#`, which would take in the cmd topics too.
      topics: z.array(text(), expect('a list of MQTT filters')).min(1, expect('at least one topic filter')).default(['+/+/+/telemetry', '+/+/+/status']),
      username: text().optional(),
      password: z.string(expect('a string')).optional(),
    })
    .prefault({}),
});

/** Who may speak on a serial link, and the topic its messages get (`<topicPrefix>/<device>/<kind>`). */
const serialLink = {
  topicPrefix: topicPrefix().optional(),
  devices: z.union([z.literal('any'), z.array(deviceId()).min(1, expect('at least one device id'))], expect("'any' or a list of device ids")).default('any'),
};
const serialPort = z.union(
  [
    z.strictObject({ path: text(), baudRate: posInt().default(115200), ...serialLink }),
    z.strictObject({ tcp: hostPort(), ...serialLink }),
  ],
  expect('a serial port { path, baudRate, topicPrefix, devices } or { tcp: "host:port", topicPrefix, devices }'),
);

const queue = z.strictObject({
  name: text(),
  bindings: z.array(z.string(expect('a binding pattern')), expect('a list of binding patterns')).default([]),
  type: oneOf(['classic', 'quorum']).optional(),
  messageTtlMs: posInt().optional(),
  maxLength: posInt().optional(),
});

const amqp = z.strictObject({
  urls: z.array(amqpUrl(), expect('a list of AMQP URLs')).min(1, expect('at least one AMQP URL')).default(['amqp://guest:guest@127.0.0.1:5672']),
  connections: posInt().default(2),
  channelsPerConnection: posInt().default(2),
  /** Unconfirmed publishes in flight per channel: rate × confirm latency. */
  windowPerChannel: posInt().default(500),
  heartbeatSec: nonNegInt().default(10),
  tls: z.strictObject({ caFile: text().optional(), certFile: text().optional(), keyFile: text().optional() }).optional(),
  /** production: true refuses a password sent in clear (amqp://) to a non-loopback broker unless this is set. */
  allowPlaintext: bool().default(false),
  contentType: oneOf(['application/msgpack', 'application/json']).default('application/msgpack'),
  reconnect: z.strictObject({ initialMs: posInt().default(500), maxMs: posInt().default(30_000) }).prefault({}),
  topology: z
    .strictObject({
      exchange: text().default('telemetry'),
      alternateExchange: text().default('telemetry.unroutable'),
      unroutableQueue: text().default('telemetry.unroutable'),
      /** quorum on a cluster: a classic queue whose home node is down cannot be re-declared (404). Unset: classic. */
      unroutableQueueType: oneOf(['classic', 'quorum']).optional(),
      deadLetterExchange: text().default('telemetry.dlx'),
      deadLetterQueue: text().default('telemetry.dlq'),
      deadLetterQueueType: oneOf(['classic', 'quorum']).optional(),
      queues: z.array(queue, expect('a list of queues')).default([{ name: 'telemetry.all', bindings: ['#'] }]),
    })
    .prefault({}),
});

const SPLIT = ['none', 'sensor', 'reading'] as const;
const routingRule = z
  .strictObject({
    name: text().optional(),
    filter: z.string(expect('an MQTT filter')),
    key: z.string(expect('a routing-key template')),
    split: oneOf(SPLIT).default('none'),
  })
  // Compile each rule here so a bad filter is a config error with its path.
  .superRefine((rule, ctx) => {
    try {
      compileRule(rule);
    } catch (err) {
      if (!(err instanceof RoutingRuleError)) throw err;
      ctx.addIssue({ code: 'custom', path: [err.field], message: err.message });
    }
  });

/** A warning and a critical level for one queue-health signal. */
const levels = (warning: number, critical: number) =>
  z.strictObject({ warning: z.number(expect('a number')).nonnegative(expect('a number >= 0')).default(warning), critical: z.number(expect('a number')).nonnegative(expect('a number >= 0')).default(critical) }).prefault({});

/** Queue health read from RabbitMQ's management HTTP API (docs/downstream.md). */
const queueHealth = z.strictObject({
  enabled: bool().default(true),
  /**
   * Base URL of the management API; credentials go in username/password, never in the URL.
   * Default: the first AMQP URL's host on 15672 (15671 for amqps), and its user and password.
   */
  url: z
    .string(expect('an http:// or https:// URL'))
    .regex(/^https?:\/\/[^\s@/]+(\/\S*)?$/, expect('an http:// or https:// URL without credentials (use queueHealth.username/password)'))
    .optional(),
  username: text().optional(),
  password: z.string(expect('a string')).optional(),
  vhost: text().default('/'),
  intervalMs: posInt().default(15_000),
  timeoutMs: posInt().default(5_000),
  /** Rates and the dead-letter ratio are taken over this window of polls. */
  rateWindowMs: posInt().default(60_000),
  thresholds: z
    .strictObject({
      /** Depth as a fraction of the queue's max-length: warning above 0.5, critical above 0.8. */
      depthRatio: levels(0.5, 0.8),
      /** Warning below 2 consumers, critical at 0 or fewer. */
      consumers: levels(2, 0),
      /** Unacked messages: warning above 1000, critical above 5000. */
      unacked: levels(1000, 5000),
      /** Dead-lettered / published over the window: warning above 1 %, critical above 5 %. */
      deadLetterRatio: levels(0.01, 0.05),
    })
    .prefault({}),
});

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

export const bridgeConfigSchema = z
  .strictObject({
    mqtt: mqtt.prefault({}),
    serial: z.strictObject({ ports: z.array(serialPort, expect('a list of serial ports')).default([]) }).prefault({}),
    amqp: amqp.prefault({}),
    routing: z
      .strictObject({
        rules: z.array(routingRule, expect('a list of routing rules')).default([{ ...DEFAULT_RULE }]),
      })
      .prefault({}),
    store: z
      .strictObject({
        dir: text().default('./data/store'),
        maxBytes: posInt().default(1024 ** 3),
        maxRecords: posInt().default(2_000_000),
        /** reject: withhold acks so senders keep their data; drop-oldest: keep the newest. */
        overflow: oneOf(['reject', 'drop-oldest']).default('reject'),
        ttlMs: posInt().optional(),
        groupCommitMaxDelayMs: nonNegInt().default(2),
      })
      .prefault({}),
    quarantine: z.strictObject({ dir: text().default('./data/quarantine'), maxBytes: posInt().default(256 * 1024 ** 2) }).prefault({}),
    http: z
      .strictObject({
        host: text().default('127.0.0.1'),
        port: port().default(8080),
        /**
         * Off loopback, the dashboard, /metrics and /events need this token (Authorization: Bearer,
         * a cookie, or ?token=); /healthz and /readyz stay open. Best set through the environment:
         * EDGE_BRIDGE__HTTP__TOKEN.
         */
        token: z.string(expect('a token of at least 16 characters')).min(16, expect('a token of at least 16 characters')).optional(),
      })
      .prefault({}),
    queueHealth: queueHealth.prefault({}),
    log: z.strictObject({ level: oneOf(LOG_LEVELS).default('info') }).prefault({}),
    /** AMQP commands (routing key cmd.<device>) delivered to nodes; docs/downlink.md. Off by default: it declares a queue. */
    downlink: z
      .strictObject({
        enabled: bool().default(false),
        exchange: text().default('edge.commands'),
        queue: text().default('edge.commands'),
        dir: text().default('./data/commands'),
        /** An undelivered or unconfirmed command is dropped (and counted as expired) after this long. */
        ttlMs: posInt().default(24 * 3600 * 1000),
        /** A sent command that its device has not confirmed is sent again after this long. */
        retryMs: posInt().default(10_000),
        prefetch: posInt().default(32),
      })
      .prefault({}),
    observe: z
      .strictObject({
        /** Per-device Prometheus series: the `top` devices by readings plus every device listed (0 and [] turn them off). */
        deviceMetrics: z
          .strictObject({
            top: nonNegInt().default(50),
            devices: z.array(text(), expect('a list of device ids')).default([]),
          })
          .prefault({}),
        /** The live dashboard on the HTTP port (`/`), fed over SSE (`/events`). */
        dashboard: z
          .strictObject({
            enabled: bool().default(true),
            intervalMs: z.int(expect('an interval in ms, 100..60000')).min(100, expect('an interval in ms, 100..60000')).max(60_000, expect('an interval in ms, 100..60000')).default(1000),
            /** Device table rows sent per update (most recently seen first). */
            maxDevices: posInt().default(200),
          })
          .prefault({}),
      })
      .prefault({}),
    production: bool().default(false),
  })
  .superRefine((c, ctx) => {
    if (c.mqtt.mode === 'external' && !c.mqtt.external.url) {
      ctx.addIssue({ code: 'custom', path: ['mqtt', 'external', 'url'], message: "expected an MQTT URL when mqtt.mode is 'external'" });
    }
    if (c.amqp.reconnect.maxMs < c.amqp.reconnect.initialMs) {
      ctx.addIssue({ code: 'custom', path: ['amqp', 'reconnect', 'maxMs'], message: `expected at least amqp.reconnect.initialMs (${c.amqp.reconnect.initialMs})` });
    }
    const th = c.queueHealth.thresholds;
    for (const k of ['depthRatio', 'unacked', 'deadLetterRatio'] as const) {
      if (th[k].critical < th[k].warning) ctx.addIssue({ code: 'custom', path: ['queueHealth', 'thresholds', k, 'critical'], message: `expected at least the warning level (${th[k].warning})` });
    }
    if (th.consumers.critical > th.consumers.warning) {
      ctx.addIssue({ code: 'custom', path: ['queueHealth', 'thresholds', 'consumers', 'critical'], message: `expected at most the warning level (${th.consumers.warning}): fewer consumers is worse` });
    }
    const e = c.mqtt.embedded;
    // Every listener of the embedded broker, TCP and WebSocket, under one rule.
    const listeners: Array<[string[], string]> = [[['mqtt', 'embedded', 'host'], e.host]];
    if (e.websocket) listeners.push([['mqtt', 'embedded', 'websocket', 'host'], e.websocket.host]);
    for (const [path, host] of listeners) {
      if (c.mqtt.mode === 'embedded' && !e.auth && !e.allowAnonymous && !isLoopback(host)) {
        ctx.addIssue({
          code: 'custom',
          path,
          message: `expected a loopback address without logins, found "${host}": anyone on the network could publish as any device. Add logins (mqtt.embedded.auth.credentialsFile, see edge-bridge credentials add), or set mqtt.embedded.allowAnonymous: true to accept that`,
        });
      }
    }
    if (c.production) productionChecks(c, ctx);
    const names = new Set<string>();
    c.amqp.topology.queues.forEach((q, i) => {
      if (names.has(q.name)) ctx.addIssue({ code: 'custom', path: ['amqp', 'topology', 'queues', i, 'name'], message: 'expected a queue name not used before' });
      names.add(q.name);
    });
  });

export type BridgeConfig = z.infer<typeof bridgeConfigSchema>;

export const isLoopback = (host: string) => /^(127\.\d+\.\d+\.\d+|::1|\[::1\]|localhost)$/i.test(host);

type ProductionView = Pick<BridgeConfig, 'mqtt' | 'amqp' | 'queueHealth' | 'http'>;

/** production: true refuses what is fine on a laptop and dangerous on a factory network. */
function productionChecks(c: ProductionView, ctx: z.RefinementCtx): void {
  const refuse = (path: Array<string | number>, message: string) => ctx.addIssue({ code: 'custom', path, message: `${message} (production: true)` });
  c.amqp.urls.forEach((raw, i) => {
    let u: URL;
    try {
      u = new URL(raw);
    } catch {
      return; // the URL check reports it
    }
    const user = decodeURIComponent(u.username);
    if (isLoopback(u.hostname)) return;
    if (user === '' || user === 'guest') {
      refuse(['amqp', 'urls', i], `expected credentials other than guest/none towards the non-loopback broker ${u.hostname} (RabbitMQ's default user)`);
    } else if (u.protocol === 'amqp:' && u.password !== '' && !c.amqp.allowPlaintext) {
      refuse(['amqp', 'urls', i], `expected amqps:// towards the non-loopback broker ${u.hostname}: amqp:// sends the password in clear (set amqp.allowPlaintext: true to accept that)`);
    }
  });
  if (c.mqtt.mode === 'external' && c.mqtt.external.url) {
    const u = safeUrl(c.mqtt.external.url);
    if (u && !isLoopback(u.hostname) && u.protocol !== 'mqtts:' && u.protocol !== 'wss:' && u.protocol !== 'ssl:') {
      refuse(['mqtt', 'external', 'url'], `expected mqtts:// or wss:// towards the non-loopback broker ${u.hostname}: device data and the bridge's login would cross the network in clear`);
    }
  }
  if (!isLoopback(c.http.host) && !c.http.token) {
    refuse(['http', 'token'], `expected a token (http.token or EDGE_BRIDGE__HTTP__TOKEN) for HTTP on ${c.http.host}: the dashboard and /metrics would be open to the network`);
  }
  if (c.queueHealth.enabled && c.queueHealth.username === 'guest' && c.queueHealth.url && !isLoopback(new URL(c.queueHealth.url).hostname)) {
    refuse(['queueHealth', 'username'], 'expected a management user other than guest towards a non-loopback broker');
  }
}

function safeUrl(raw: string): URL | undefined {
  try {
    return new URL(raw);
  } catch {
    return undefined;
  }
}
