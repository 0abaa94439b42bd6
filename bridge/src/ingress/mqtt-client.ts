import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import type { IPublishPacket, Packet } from 'mqtt-packet';
import { pino, type Logger } from 'pino';
import type { IngestHandler, Ingress, RawMessage } from '../types.ts';
import { redactSecrets, redactUrl } from '../observe/redact.ts';
import { parseDeviceTopic, prefixAllowed } from './mqtt-topics.ts';
import { loadMqttPacket } from '../adapters/mqtt-packet.ts';

// Loaded by start(), after mqtt-packet's per-packet debug calls are quieted (adapters/mqtt-packet.ts).
let generate: typeof import('mqtt-packet').generate;
let mqttParser: typeof import('mqtt-packet').parser;

export interface ExternalMqttOptions {
  /** `mqtt://host:port` or `mqtts://host:port` (also `tcp://`, `ssl://`). */
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
  /** MQTT keepalive, seconds. Default 30. */
  keepaliveSec?: number;
}

export interface ExternalMqttStats {
  received: number;
  acked: number;
  /** Times the connection was dropped so the broker redelivers (busy or handler failure). */
  redeliveries: number;
  handlerErrors: number;
  /** The most PUBLISHes the broker had outstanding to us at once: its in-flight window, as seen. */
  maxInFlight: number;
  /** What the broker says it dropped, broker-wide ($SYS/broker/publish/messages/dropped; Mosquitto 2 publishes it). */
  brokerDropped?: number;
}

const SESSION_NEVER_EXPIRES = 0xffffffff;
/** What we tell the broker we accept unacknowledged (MQTT 5 Receive Maximum); the broker's own window may be smaller. */
const RECEIVE_MAXIMUM = 1024;
const PROTOCOL = { protocolVersion: 5 } as const;
/** Mosquitto's count of messages it dropped at its queue or in-flight limits. */
export const BROKER_DROPPED_TOPIC = '$SYS/broker/publish/messages/dropped';

/** One QoS 1 PUBLISH of the current connection, in arrival order, until its PUBACK is sent. */
interface Unacked {
  messageId: number;
  done: boolean;
}

/** One connection's state: a new one starts with nothing outstanding. */
interface Session {
  socket: Socket;
  /** Arrival order; entries before `ackedUpTo` were PUBACKed (the array is compacted now and then, not shifted per ack). */
  unacked: Unacked[];
  ackedUpTo: number;
  /** A PUBACK flush is queued: acks finished in one tick (a group commit) leave in one write. */
  flushQueued: boolean;
  /** Set when this connection must not PUBACK anything more (busy, failure, closing). */
  abandoned: boolean;
  pingTimer?: NodeJS.Timeout;
  lastPacketAt: number;
}

/**
 * The bridge as a subscriber of an external broker (Mosquitto) that the devices talk to.
 *
 * Where the guarantee starts: the external broker has already PUBACKed the device, so the
 * promise starts at the bridge's session on that broker. We hold that session (MQTT 5, clean
 * start off, stable client id, session expiry "never", QoS 1 subscriptions) and PUBACK a message
 * only after the handler resolved 'stored' or 'rejected'. Until then the broker keeps it and
 * redelivers it on our next connection.
 *
 * Pipelined: every PUBLISH goes to the handler as it arrives, so the broker's whole in-flight
 * window is being stored (and group-committed) at once. MQTT requires PUBACKs in the order the
 * PUBLISHes arrived (3.1.1 section 4.6, 5.0 section 4.6), so each PUBACK waits for every earlier
 * message's; the PUBLISHes themselves are not serialised.
 *
 * 'busy' (store full) or a failing handler: that message and everything after it stay unacked and
 * the connection is dropped; after `reconnectPeriodMs` the broker redelivers every unacked message
 * (DUP set). Messages after it that were already stored are stored again: duplicates with the same
 * message id, never a loss.
 *
 * Identity: the bridge has no logins of its own here, so a message speaks for the device level of
 * its topic; the external broker's ACL must bind that level to the device's login
 * (docs/security.md). A topic that is not `<allowed prefix>/<device>/<telemetry|status>` is
 * quarantined.
 *
 * Broker settings this relies on (check them on the external broker!):
 * - Mosquitto `max_queued_messages` (default 1000) silently DROPS QoS 1 messages for a persistent
 *   subscriber that is slow or offline. Set `max_queued_messages 0` (no limit) there, and
 *   `persistence true` so queued messages survive a broker restart. `max_inflight_messages`
 *   (default 20) is the window this subscriber pipelines; raise it (e.g. 1000) for throughput.
 * - Shared subscriptions (`$share/...`) do not reliably redeliver a message unacked by one member
 *   to another across disconnects: run one bridge per session, no shared groups.
 */
export class ExternalMqttIngress implements Ingress {
  readonly name = 'mqtt-external';
  private readonly log: Logger;
  private handler: IngestHandler | undefined;
  private session: Session | undefined;
  private stopping = false;
  private started = false;
  private reconnectTimer: NodeJS.Timeout | undefined;
  /** Handler calls not yet settled; stop() waits for them. */
  private inFlight = 0;
  private idle: (() => void) | undefined;
  private firstConnect: { resolve(): void; reject(err: Error): void } | undefined;
  private readonly counters: ExternalMqttStats = { received: 0, acked: 0, redeliveries: 0, handlerErrors: 0, maxInFlight: 0 };

  constructor(private readonly options: ExternalMqttOptions) {
    this.log = options.logger ?? pino({ enabled: false });
  }

  get stats(): Readonly<ExternalMqttStats> {
    return { ...this.counters };
  }

  get connected(): boolean {
    return this.session !== undefined && !this.session.abandoned;
  }

  /** Resolves once connected and subscribed; rejects if the first connection does not come up in time. */
  async start(handler: IngestHandler): Promise<void> {
    if (this.started) throw new Error('external MQTT ingress already started');
    this.started = true;
    ({ generate, parser: mqttParser } = await loadMqttPacket());
    this.handler = handler;
    this.stopping = false;
    const timeoutMs = this.options.connectTimeoutMs ?? 30_000;
    const first = new Promise<void>((resolve, reject) => (this.firstConnect = { resolve, reject }));
    const timer = setTimeout(
      () => this.firstConnect?.reject(new Error(`external MQTT broker ${redactUrl(this.options.url)} not reachable within ${timeoutMs} ms`)),
      timeoutMs,
    );
    this.connect();
    try {
      await first;
    } catch (err) {
      await this.shutdown(false);
      this.started = false;
      throw err;
    } finally {
      clearTimeout(timer);
      this.firstConnect = undefined;
    }
  }

  /** Let the handler calls in flight finish and their PUBACKs go out, then disconnect (the session stays on the broker). */
  async stop(): Promise<void> {
    if (!this.started) return;
    this.stopping = true;
    if (this.inFlight > 0) await new Promise<void>((resolve) => (this.idle = resolve));
    if (this.session) this.ackInOrder(this.session);
    await this.shutdown(true);
    this.started = false;
  }

  private async shutdown(graceful: boolean): Promise<void> {
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    const s = this.session;
    this.session = undefined;
    if (!s) return;
    s.abandoned = true;
    clearInterval(s.pingTimer);
    if (graceful && !s.socket.destroyed) {
      await new Promise<void>((resolve) => {
        s.socket.once('close', () => resolve());
        s.socket.end(generate({ cmd: 'disconnect', reasonCode: 0 }, PROTOCOL));
        setTimeout(() => {
          s.socket.destroy();
          resolve();
        }, 2000).unref();
      });
    } else s.socket.destroy();
  }

  private connect(): void {
    if (this.stopping) return;
    const url = new URL(this.options.url);
    const secure = url.protocol === 'mqtts:' || url.protocol === 'ssl:';
    const host = url.hostname.replace(/^\[|\]$/g, '');
    const port = Number(url.port || (secure ? 8883 : 1883));
    const socket = secure ? tlsConnect({ host, port, servername: host }) : netConnect({ host, port });
    socket.setNoDelay(true);
    const session: Session = { socket, unacked: [], ackedUpTo: 0, flushQueued: false, abandoned: false, lastPacketAt: Date.now() };
    this.session = session;
    const parser = mqttParser(PROTOCOL);
    parser.on('packet', (packet: Packet) => this.onPacket(session, packet));
    parser.on('error', (err: Error) => this.drop(session, `protocol error: ${err.message}`));
    socket.on('data', (chunk: Buffer) => {
      session.lastPacketAt = Date.now();
      parser.parse(chunk);
    });
    socket.once(secure ? 'secureConnect' : 'connect', () => {
      const { clientId, username, password } = this.options;
      socket.write(
        generate(
          {
            cmd: 'connect',
            protocolId: 'MQTT',
            protocolVersion: 5,
            clientId,
            clean: false,
            keepalive: this.options.keepaliveSec ?? 30,
            ...(username !== undefined && { username }),
            ...(password !== undefined && { password: Buffer.from(password) }),
            properties: { sessionExpiryInterval: this.options.sessionExpirySeconds ?? SESSION_NEVER_EXPIRES, receiveMaximum: RECEIVE_MAXIMUM },
          },
          PROTOCOL,
        ),
      );
    });
    socket.on('error', (err) => this.log.warn({ err: redactSecrets(err.message), url: redactUrl(this.options.url) }, 'external MQTT error'));
    socket.on('close', () => this.onClosed(session));
  }

  private onPacket(s: Session, packet: Packet): void {
    if (s !== this.session || s.abandoned) return;
    switch (packet.cmd) {
      case 'connack': {
        if (packet.reasonCode !== 0 && packet.reasonCode !== undefined) {
          const err = new Error(`external MQTT broker refused the connection (reason ${packet.reasonCode})`);
          this.log.warn({ url: redactUrl(this.options.url), reasonCode: packet.reasonCode }, err.message);
          this.drop(s, err.message);
          return;
        }
        this.log.info({ url: redactUrl(this.options.url), clientId: this.options.clientId, sessionPresent: packet.sessionPresent }, 'external MQTT connected');
        // A resumed session still has its subscriptions; subscribing again is harmless and covers new topics.
        s.socket.write(generate({ cmd: 'subscribe', messageId: 1, subscriptions: this.options.topics.map((topic) => ({ topic, qos: 1 as const })) }, PROTOCOL));
        // Best effort: a broker without it, or an ACL that refuses it, just answers SUBACK 0x80.
        s.socket.write(generate({ cmd: 'subscribe', messageId: 2, subscriptions: [{ topic: BROKER_DROPPED_TOPIC, qos: 0 }] }, PROTOCOL));
        const keepaliveMs = (this.options.keepaliveSec ?? 30) * 1000;
        s.pingTimer = setInterval(() => {
          if (Date.now() - s.lastPacketAt > keepaliveMs * 1.5) return this.drop(s, 'keepalive: no packet from the broker');
          s.socket.write(generate({ cmd: 'pingreq' }, PROTOCOL));
        }, keepaliveMs / 2);
        s.pingTimer.unref();
        return;
      }
      case 'suback':
        if (packet.messageId === 1) this.firstConnect?.resolve();
        return;
      case 'publish':
        this.onPublish(s, packet);
        return;
      case 'disconnect':
        this.drop(s, `broker disconnected (reason ${packet.reasonCode ?? 0})`);
        return;
      default:
        return; // pingresp, and acks of nothing we send
    }
  }

  private onPublish(s: Session, packet: IPublishPacket): void {
    if (packet.topic === BROKER_DROPPED_TOPIC) return this.onBrokerDropped(packet.payload.toString());
    this.counters.received++;
    const message = this.messageOf(packet.topic, Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload));
    if (packet.qos === 0) return this.ingest(message, undefined, s);
    const entry: Unacked = { messageId: packet.messageId!, done: false };
    const outstanding = s.unacked.push(entry) - s.ackedUpTo;
    if (outstanding > this.counters.maxInFlight) this.counters.maxInFlight = outstanding;
    // While stopping, leave it unacked: the broker redelivers it to our next session.
    if (this.stopping) return;
    this.ingest(message, entry, s);
  }

  private onBrokerDropped(text: string): void {
    const n = Number(text);
    if (!Number.isFinite(n)) return;
    const before = this.counters.brokerDropped;
    this.counters.brokerDropped = n;
    if (before !== undefined && n > before) {
      this.log.warn({ dropped: n - before, total: n }, 'the external broker dropped messages at its queue or in-flight limits; on Mosquitto set max_queued_messages 0');
    }
  }

  /**
   * Hands the message to the pipeline. Stored or rejected: `entry` (QoS 1) is done and PUBACKed
   * in order. Busy or a failing handler: the connection is dropped so the broker redelivers.
   */
  private ingest(message: RawMessage, entry: Unacked | undefined, s: Session): void {
    const handler = this.handler;
    if (!handler) throw new Error('external MQTT ingress has no handler');
    this.inFlight++;
    handler(message).then(
      (outcome) => {
        if (outcome.kind === 'busy') {
          if (entry) this.drop(s, `pipeline busy: ${outcome.reason}`, true);
        } else if (entry) {
          entry.done = true;
          if (!s.flushQueued) {
            s.flushQueued = true;
            // After the other messages of the same group commit have settled too.
            queueMicrotask(() => this.ackInOrder(s));
          }
        }
        this.settled();
      },
      (err: unknown) => {
        this.counters.handlerErrors++;
        this.log.error({ topic: message.topic, err }, 'ingest handler failed; message left unacked');
        if (entry) this.drop(s, String(err instanceof Error ? err.message : err), true);
        this.settled();
      },
    );
  }

  private settled(): void {
    if (--this.inFlight === 0 && this.idle) {
      const idle = this.idle;
      this.idle = undefined;
      idle();
    }
  }

  /** PUBACKs every finished message at the head, in arrival order, in one write. */
  private ackInOrder(s: Session): void {
    s.flushQueued = false;
    if (s.abandoned) return;
    const from = s.ackedUpTo;
    let to = from;
    while (to < s.unacked.length && s.unacked[to]!.done) to++;
    if (to === from) return;
    s.socket.write(pubackFrames(s.unacked, from, to));
    this.counters.acked += to - from;
    s.ackedUpTo = to;
    if (to === s.unacked.length) {
      s.unacked.length = 0;
      s.ackedUpTo = 0;
    } else if (to > 1024 && to * 2 > s.unacked.length) {
      s.unacked.splice(0, to);
      s.ackedUpTo = 0;
    }
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
   * Gives up this connection: nothing more is PUBACKed on it, and the broker redelivers every
   * unacked message on the next one. `forRedelivery`: a message must come back (busy, failure).
   */
  private drop(s: Session, reason: string, forRedelivery = false): void {
    if (s.abandoned) return;
    // What finished before the failing message still gets its PUBACK: only the rest comes back.
    if (forRedelivery) this.ackInOrder(s);
    s.abandoned = true;
    clearInterval(s.pingTimer);
    if (forRedelivery && !this.stopping) {
      this.counters.redeliveries++;
      this.log.warn({ reason, reconnectInMs: this.reconnectPeriod }, 'message not acked; reconnecting so the broker redelivers it');
    } else {
      this.log.info({ reason, url: redactUrl(this.options.url) }, 'external MQTT connection dropped; reconnecting');
    }
    s.socket.destroy();
  }

  private get reconnectPeriod(): number {
    return this.options.reconnectPeriodMs ?? 1000;
  }

  private onClosed(s: Session): void {
    s.abandoned = true;
    clearInterval(s.pingTimer);
    if (this.session !== s) return;
    this.session = undefined;
    if (this.stopping || !this.started) return;
    this.log.info({ url: redactUrl(this.options.url) }, 'external MQTT offline; reconnecting');
    this.reconnectTimer = setTimeout(() => this.connect(), this.reconnectPeriod);
  }
}

/**
 * PUBACKs for `entries[from..to)`, back to back. MQTT 5 section 3.4: a PUBACK with reason code 0
 * (Success) and no properties may leave both out, so each is 4 bytes: 0x40, remaining length 2,
 * the packet identifier. One buffer for a whole group instead of one generate() per message.
 */
export function pubackFrames(entries: readonly { messageId: number }[], from = 0, to = entries.length): Buffer {
  const out = Buffer.allocUnsafe((to - from) * 4);
  let at = 0;
  for (let i = from; i < to; i++) {
    const id = entries[i]!.messageId;
    out[at] = 0x40;
    out[at + 1] = 2;
    out[at + 2] = id >> 8;
    out[at + 3] = id & 0xff;
    at += 4;
  }
  return out;
}
