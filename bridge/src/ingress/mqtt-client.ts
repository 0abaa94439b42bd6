import type { IClientOptions, MqttClient } from 'mqtt';
import { pino, type Logger } from 'pino';
import type { IngestHandler, Ingress, RawMessage } from '../types.ts';
import { redactSecrets, redactUrl } from '../observe/redact.ts';
import { parseDeviceTopic, prefixAllowed } from './mqtt-topics.ts';

export interface ExternalMqttOptions {
  /** e.g. `mqtt://127.0.0.1:1883` or `mqtts://...` */
  url: string;
  /** Stable across restarts: the broker keeps the session (and its queue) under this id. */
  clientId: string;
  /** Topic filters, subscribed QoS 1, e.g. `factory/+/+/telemetry`. */
  topics: string[];
  username?: string;
  password?: string;
  /** Prefixes devices may publish under; undefined: any (mqtt.topicPrefixes). */
  topicPrefixes?: readonly string[];
  logger?: Logger;
  /** Pause before reconnecting, after a network drop or after 'busy'. Default 1000. */
  reconnectPeriodMs?: number;
  /** How long the broker keeps the session while we are away. Default: never expires. */
  sessionExpirySeconds?: number;
  /** How long `start()` waits for the first connection. Default 30000. */
  connectTimeoutMs?: number;
}

export interface ExternalMqttStats {
  received: number;
  acked: number;
  /** Times the connection was dropped so the broker redelivers (busy or handler failure). */
  redeliveries: number;
  handlerErrors: number;
}

const SESSION_NEVER_EXPIRES = 0xffffffff;

/**
 * The bridge as a subscriber of an external broker (Mosquitto) that the devices talk to.
 *
 * Where the guarantee starts: in this mode the external broker has already PUBACKed the device,
 * so the promise starts at the bridge's session on that broker. We hold that session (MQTT 5,
 * clean start off, stable clientId, session expiry "never", QoS 1 subscriptions) and use mqtt.js
 * `customHandleAcks` so the broker gets our PUBACK only after the handler resolved 'stored' or
 * 'rejected'. Until then the broker keeps the message and redelivers it on our next connection.
 *
 * 'busy' (store full) or a failing handler: no PUBACK. We drop the TCP connection; mqtt.js
 * reconnects after `reconnectPeriodMs` and the broker redelivers every unacked message (DUP set),
 * then the ones queued meanwhile. mqtt.js handles incoming packets one at a time and the next one
 * only after the ack callback, so nothing after the busy message was handled twice.
 * Throughput is therefore one handler call at a time (rate = 1 / handler latency).
 *
 * Identity: the bridge has no logins of its own here, so a message speaks for the device level
 * of its topic; the external broker's ACL must bind that level to the device's login
 * (docs/security.md). A topic that is not `<allowed prefix>/<device>/<telemetry|status>` is
 * quarantined.
 *
 * Broker settings this relies on (check them on the external broker!):
 * - Mosquitto `max_queued_messages` (default 1000) silently DROPS QoS 1 messages for a persistent
 *   subscriber that is slow or offline. Set `max_queued_messages 0` (no limit) there, and
 *   `persistence true` so queued messages survive a broker restart.
 * - Shared subscriptions (`$share/...`) do not reliably redeliver a message unacked by one member
 *   to another across disconnects: run one bridge per session, no shared groups.
 */
export class ExternalMqttIngress implements Ingress {
  readonly name = 'mqtt-external';
  private readonly log: Logger;
  private client: MqttClient | undefined;
  private handler: IngestHandler | undefined;
  private stopping = false;
  private inFlight: Promise<void> | undefined;
  private readonly counters: ExternalMqttStats = { received: 0, acked: 0, redeliveries: 0, handlerErrors: 0 };

  constructor(private readonly options: ExternalMqttOptions) {
    this.log = options.logger ?? pino({ enabled: false });
  }

  get stats(): Readonly<ExternalMqttStats> {
    return { ...this.counters };
  }

  get connected(): boolean {
    return this.client?.connected ?? false;
  }

  /** Resolves once connected and subscribed; rejects if the first connection does not come up in time. */
  async start(handler: IngestHandler): Promise<void> {
    if (this.client) throw new Error('external MQTT ingress already started');
    this.handler = handler;
    this.stopping = false;
    const { url, clientId, topics, username, password } = this.options;
    const clientOptions: IClientOptions = {
      clientId,
      username,
      password,
      protocolVersion: 5,
      clean: false,
      properties: { sessionExpiryInterval: this.options.sessionExpirySeconds ?? SESSION_NEVER_EXPIRES },
      reconnectPeriod: this.options.reconnectPeriodMs ?? 1000,
      // Called for QoS 1/2 only; the PUBACK goes out when `ack` is called.
      customHandleAcks: (topic, payload, _packet, ack) => this.onMessage(topic, payload, ack),
    };
    // mqtt.js is loaded only in external mode: it costs the embedded-mode bridge ~15 MB RSS.
    const { connect } = await import('mqtt');
    const client = connect(url, clientOptions);
    this.client = client;
    const where = redactUrl(url);
    client.on('error', (err) => this.log.warn({ err: redactSecrets(err.message), url: where }, 'external MQTT error'));
    client.on('offline', () => this.log.info({ url: where }, 'external MQTT offline; reconnecting'));
    // QoS 0 messages do not pass through customHandleAcks.
    client.on('message', (topic, payload, packet) => {
      if (packet.qos === 0) void this.ingest(topic, payload).catch(() => undefined);
    });
    client.on('connect', (connack) => {
      this.log.info({ url: where, clientId, sessionPresent: connack.sessionPresent }, 'external MQTT connected');
    });

    try {
      await this.firstConnect(client);
      // A resumed session still has its subscriptions; subscribing again is harmless and covers new topics.
      if (topics.length > 0) await client.subscribeAsync(topics, { qos: 1 });
    } catch (err) {
      this.client = undefined;
      await client.endAsync(true).catch(() => undefined);
      throw err;
    }
  }

  /** Let the handler call in flight finish and its PUBACK go out, then disconnect (the session stays on the broker). */
  async stop(): Promise<void> {
    const client = this.client;
    if (!client) return;
    this.stopping = true;
    while (this.inFlight) await this.inFlight;
    await client.endAsync(false);
    this.client = undefined;
  }

  private firstConnect(client: MqttClient): Promise<{ sessionPresent: boolean }> {
    const timeoutMs = this.options.connectTimeoutMs ?? 30_000;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        client.off('connect', onConnect);
        reject(new Error(`external MQTT broker ${redactUrl(this.options.url)} not reachable within ${timeoutMs} ms`));
      }, timeoutMs);
      const onConnect = (connack: { sessionPresent: boolean }) => {
        clearTimeout(timer);
        resolve(connack);
      };
      client.once('connect', onConnect);
    });
  }

  private onMessage(topic: string, payload: Buffer, ack: (error: Error | number, code?: number) => void): void {
    // While stopping, leave it unacked: the broker redelivers it to our next session.
    if (this.stopping) return;
    const work = this.ingest(topic, payload).then(
      () => {
        this.counters.acked++;
        ack(0);
      },
      (reason: unknown) => this.dropConnectionForRedelivery(String(reason instanceof Error ? reason.message : reason)),
    );
    const tracked = work.finally(() => {
      if (this.inFlight === tracked) this.inFlight = undefined;
    });
    this.inFlight = tracked;
  }

  /** Resolves when the pipeline stored or rejected the message; rejects when it must come back later. */
  private async ingest(topic: string, payload: Buffer): Promise<void> {
    const handler = this.handler;
    if (!handler) throw new Error('external MQTT ingress has no handler');
    const message = this.messageOf(topic, payload);
    this.counters.received++;
    let outcome;
    try {
      outcome = await handler(message);
    } catch (err) {
      this.counters.handlerErrors++;
      this.log.error({ topic, err }, 'ingest handler failed; message left unacked');
      throw err;
    }
    if (outcome.kind === 'busy') throw new Error(`pipeline busy: ${outcome.reason}`);
  }

  private messageOf(topic: string, payload: Buffer): RawMessage {
    const t = parseDeviceTopic(topic);
    const usable = t && t.kind !== 'cmd' && prefixAllowed(t.prefix, this.options.topicPrefixes);
    const message: RawMessage = {
      transport: 'mqtt',
      topic,
      payload,
      source: this.options.clientId,
      receivedAt: Date.now(),
      identity: usable ? t.device : '',
      kind: usable && t.kind === 'status' ? 'status' : 'telemetry',
    };
    if (!usable) message.refused = { reason: 'bad_topic', detail: `topic "${topic}" is not <allowed prefix>/<device>/<telemetry|status>` };
    return message;
  }

  /**
   * Without a PUBACK the broker keeps the message in flight, but it resends it only on a new
   * connection. Dropping the socket is the network-failure path mqtt.js already handles: it
   * reconnects after reconnectPeriod and the broker redelivers.
   */
  private dropConnectionForRedelivery(reason: string): void {
    const client = this.client;
    if (!client || this.stopping) return;
    this.counters.redeliveries++;
    this.log.warn({ reason, reconnectInMs: client.options.reconnectPeriod }, 'message not acked; reconnecting so the broker redelivers it');
    client.stream.destroy();
  }
}
