import { EventEmitter } from 'node:events';
import { createServer as createNetServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { Duplex } from 'node:stream';
import { WebSocketServer, createWebSocketStream, type WebSocket } from 'ws';
import type { Aedes, AuthenticateError, Client, PublishPacket } from 'aedes';
import { pino, type Logger } from 'pino';
import type { IngestHandler, IngestOutcome, Ingress, RawMessage } from '../types.ts';
import { isCommandTopic, isCommandTopicOf, isSysTopic } from './mqtt-topics.ts';
import { DeviceAccess, type PublishVerdict } from './mqtt-auth.ts';
import { BurstLog } from '../observe/burst-log.ts';
import { releaseRead, restoreRead, routeClientMessagesOnlyWhen, subscriptionsOf } from '../adapters/aedes.ts';
import { AnswerOrder, type AnswerSlot, type Verdict } from './answer-order.ts';
import { coalesceWrites } from '../coalesce-writes.ts';
import { loadAedes } from '../adapters/mqtt-packet.ts';
import { ConnectionLimiter, type ConnectionLimits, type LimitDisconnect, type LimitStats } from './mqtt-limits.ts';

export interface EmbeddedMqttOptions {
  host: string;
  /** 0 binds a free port; read it back from `port`. */
  port: number;
  maxPayloadBytes: number;
  /**
   * Logins and the topic ACL; default: anonymous, any prefix. A denied PUBLISH is acknowledged
   * and dropped (as Mosquitto does for MQTT 3.1.1); a denied subscription gets SUBACK 0x80.
   */
  access?: DeviceAccess;
  tls?: { cert: Buffer; key: Buffer };
  /**
   * MQTT over WebSocket beside TCP (browsers speak only this), with the same logins, ACL,
   * limits and PUBACK-after-fsync: its streams enter the same aedes instance through the same
   * limiter. wss:// when `tls` is set. Off when undefined; port 0 binds a free one.
   */
  websocket?: { host: string; port: number; path: string };
  /** Packet size and PUBLISH rate per connection, enforced before aedes reads a packet (mqtt-limits.ts). None: unlimited. */
  limits?: ConnectionLimits;
  logger?: Logger;
  /** First and largest pause between handler attempts while the pipeline answers 'busy'. */
  busyRetryMs?: { initial: number; max: number };
}

export interface EmbeddedMqttStats {
  /** Client PUBLISHes handed to the handler (first attempts only). */
  received: number;
  /** Handler calls repeated because the pipeline was busy. */
  busyRetries: number;
  /** Messages given up while busy because the client left or the ingress stopped (the client still holds them). */
  abandoned: number;
  /** QoS 0 messages dropped because the pipeline was busy (QoS 0 is best effort). */
  droppedQos0: number;
  oversized: number;
  /** PUBLISHes and subscriptions the ACL denied. */
  denied: number;
  subscribeDenied: number;
  handlerErrors: number;
}

/** PUBLISHes of one client taken in while earlier ones wait for their answer (bounds its memory). */
const READ_AHEAD_PER_CLIENT = 16;

/**
 * MQTT broker inside the bridge (aedes over TCP or TLS): devices publish here directly.
 *
 * How the PUBACK waits for the pipeline. In aedes (lib/handlers/publish.js) a PUBLISH runs
 * `authorizePublish` and then `enqueuePublish`, which writes the PUBACK and only then routes the
 * message. So the handler runs inside `authorizePublish`, and its callback is called only once
 * the handler resolved 'stored' or 'rejected': no PUBACK can leave before that.
 *
 * Read-ahead: aedes reads a client's next socket chunk only when every packet of the current one
 * is done, so a device's next PUBLISH would wait in the kernel for the previous one's fdatasync.
 * Up to READ_AHEAD_PER_CLIENT messages of a client are taken in meanwhile (releaseRead), and their
 * answers go back in arrival order (AnswerOrder), so PUBACKs keep the order MQTT requires.
 *
 * 'busy' (store full): the callback is withheld and the handler is asked again after a growing
 * pause, for as long as the connection lives. Meanwhile no further packets are read from that
 * socket (no read-ahead while a message of the client is busy), so the
 * device is slowed by TCP backpressure and keeps its unacked messages. If the connection ends first
 * (the device gives up, its keepalive expires because PINGREQs are not read, or `stop()`), the
 * attempt is abandoned without a PUBACK and the device resends the message on its next connection
 * (mqtt.js and esp-mqtt resend unacked QoS 1 after reconnecting). Never lost, possibly repeated:
 * consumers dedupe on message_id.
 *
 * A handler that throws is not an answer: the connection is closed without a PUBACK, so the device
 * resends. QoS 0 also waits for the handler (same backpressure) but is dropped and counted on 'busy'.
 *
 * Routing: client messages are not routed to subscribers except cmd topics, because nobody
 * subscribes to telemetry here and routing costs throughput. Retained status is therefore not kept
 * by this broker; the pipeline gets every status (and every last will) through the handler.
 *
 * Limits (options.limits): every socket is wrapped before aedes gets it, so a packet above
 * maxPacketBytes closes the connection from its header on, and PUBLISHes above a client's rate
 * are held unread (mqtt-limits.ts); connections past the caps are closed unread. A payload above
 * maxPayloadBytes that passed is handed on marked `refused`, to be quarantined and acknowledged.
 *
 * Identity (mqtt-auth.ts): every PUBLISH is judged by the ACL, which names the device it may speak
 * for. The pipeline checks the payload against that identity.
 *
 * Events: 'clientConnected' (clientId), 'clientDisconnected' (clientId),
 * 'limitDisconnect' (LimitDisconnect), 'paced' (clientId, once per PUBLISH held back for its rate).
 */
export class EmbeddedMqttIngress extends EventEmitter implements Ingress {
  readonly name = 'mqtt-embedded';
  private readonly log: Logger;
  private readonly access: DeviceAccess;
  private readonly busyRetryMs: { initial: number; max: number };
  /** Denied publishes and subscriptions, logged once per burst. */
  private readonly deniedLog: BurstLog;
  private broker: Aedes | undefined;
  private server: Server | undefined;
  private wsServer: { http: HttpServer; ws: WebSocketServer } | undefined;
  private limiter: ConnectionLimiter | undefined;
  private handler: IngestHandler | undefined;
  private stopping = false;
  /** Messages handed to the handler and not yet answered to aedes. */
  private inFlight = 0;
  private idleWaiters: (() => void)[] = [];
  private readonly online = new Map<string, Client>();
  private readonly answerOrders = new WeakMap<Client, AnswerOrder>();
  /** Packets denied by the ACL hook: acknowledged, but never routed. */
  private readonly notRouted = new WeakSet<object>();
  private lastDenied: Record<string, string> = {};
  private readonly counters: EmbeddedMqttStats = {
    received: 0,
    busyRetries: 0,
    abandoned: 0,
    droppedQos0: 0,
    oversized: 0,
    denied: 0,
    subscribeDenied: 0,
    handlerErrors: 0,
  };

  constructor(private readonly options: EmbeddedMqttOptions) {
    super();
    this.log = options.logger ?? pino({ enabled: false });
    this.access = options.access ?? new DeviceAccess({});
    this.deniedLog = new BurstLog(({ counts, sinceMs }) => this.log.warn({ counts, sinceMs, last: this.lastDenied }, 'mqtt publishes and subscriptions denied by the ACL'));
    this.busyRetryMs = options.busyRetryMs ?? { initial: 100, max: 2000 };
  }

  /** The bound port (the real one when `port: 0` was asked for). */
  get port(): number {
    const address = this.server?.address() as AddressInfo | null | undefined;
    if (!address) throw new Error('embedded MQTT broker is not listening');
    return address.port;
  }

  /** The WebSocket listener's bound port (undefined when it is off). */
  get websocketPort(): number | undefined {
    const address = this.wsServer?.http.address() as AddressInfo | null | undefined;
    return address ? address.port : undefined;
  }

  /** Client ids connected right now (the "devices online" metric). */
  get connectedClientIds(): string[] {
    return [...this.online.keys()];
  }

  get stats(): Readonly<EmbeddedMqttStats> {
    return { ...this.counters };
  }

  /** Connections closed by a limit and PUBLISHes paced (undefined without options.limits). */
  get limitStats(): LimitStats | undefined {
    const s = this.limiter?.stats;
    return s && { ...s, disconnects: { ...s.disconnects } };
  }

  async start(handler: IngestHandler): Promise<void> {
    if (this.server) throw new Error('embedded MQTT broker already started');
    this.handler = handler;
    this.stopping = false;
    const { Aedes: AedesBroker } = await loadAedes();
    const broker = await AedesBroker.createBroker({
      authenticate: (client, username, password, done) => this.authenticate(client, username, password, done),
      authorizePublish: (client, packet, done) => this.onPublish(client, packet, done),
      authorizeSubscribe: (client, sub, done) => done(null, this.authorizeSubscribe(client, sub.topic) ? sub : null),
    });
    this.skipRoutingExceptCommands(broker);
    const limiter = this.options.limits ? new ConnectionLimiter(this.options.limits, this.log) : undefined;
    limiter?.on('disconnect', (info: LimitDisconnect) => this.emit('limitDisconnect', info));
    limiter?.on('paced', (clientId: string) => this.emit('paced', clientId));
    broker.on('client', (client) => {
      limiter?.bind(client.conn, client.id);
      this.online.set(client.id, client);
      this.emit('clientConnected', client.id);
    });
    broker.on('clientDisconnect', (client) => {
      // A takeover by the same client id disconnects the old client after the new one registered.
      if (this.online.get(client.id) === client) this.online.delete(client.id);
      this.emit('clientDisconnected', client.id);
    });
    broker.on('clientError', (client, err) => this.log.debug({ clientId: client.id, err: err.message }, 'mqtt client error'));
    broker.on('connectionError', (_client, err) => this.log.debug({ err: err.message }, 'mqtt connection error'));

    // Every connection, TCP or WebSocket, passes the same caps and limiter before aedes reads it.
    const onConnection = (socket: Socket | Duplex) => {
      if (limiter && !limiter.admit(socket)) return;
      coalesceWrites(socket);
      broker.handle(limiter ? limiter.wrap(socket) : socket);
    };
    const { tls, websocket } = this.options;
    const server = tls ? createTlsServer({ cert: tls.cert, key: tls.key }, onConnection) : createNetServer(onConnection);
    const { host, port } = this.options;
    let wsServer: { http: HttpServer; ws: WebSocketServer } | undefined;
    try {
      await listen(server, host, port, 'mqtt.embedded.port');
      if (websocket) {
        const http = tls ? createHttpsServer({ cert: tls.cert, key: tls.key }) : createHttpServer();
        http.on('request', (_req, res) => res.writeHead(426, { 'content-type': 'text/plain' }).end('MQTT over WebSocket only\n'));
        // maxPayload: a frame above the packet limit is refused by ws before it is buffered.
        const maxPayload = this.options.limits?.maxPacketBytes || 256 * 1024 * 1024;
        const ws = new WebSocketServer({ server: http, path: websocket.path, maxPayload, handleProtocols: (p) => (p.has('mqtt') ? 'mqtt' : false) });
        ws.on('connection', (sock: WebSocket, req: IncomingMessage) => onConnection(webSocketDuplex(sock, req)));
        ws.on('error', (err) => this.log.error({ err }, 'MQTT WebSocket server error'));
        wsServer = { http, ws };
        await listen(http, websocket.host, websocket.port, 'mqtt.embedded.websocket.port');
      }
    } catch (err) {
      server.close();
      wsServer?.ws.close();
      await new Promise<void>((resolve) => broker.close(() => resolve()));
      throw err;
    }
    server.on('error', (err) => this.log.error({ err }, 'embedded MQTT server error'));
    // A client that fails the handshake (plain TCP, a CA it does not trust) never reaches aedes.
    server.on('tlsClientError', (err: Error) => this.log.debug({ err: err.message }, 'mqtt TLS handshake failed'));
    wsServer?.http.on('error', (err) => this.log.error({ err }, 'MQTT WebSocket server error'));
    this.broker = broker;
    this.server = server;
    this.wsServer = wsServer;
    this.limiter = limiter;
    this.log.info({ host, port: this.port, tls: Boolean(tls) }, 'embedded MQTT broker listening');
    if (websocket) this.log.info({ host: websocket.host, port: this.websocketPort, path: websocket.path, tls: Boolean(tls) }, 'embedded MQTT broker listening on WebSocket');
  }

  /** Stop accepting, let handler calls in flight finish (and their PUBACKs go out), then close every client. */
  async stop(): Promise<void> {
    const { server, broker } = this;
    if (!server || !broker) return;
    this.stopping = true;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    const ws = this.wsServer;
    const wsClosed = ws ? new Promise<void>((resolve) => ws.http.close(() => resolve())) : undefined;
    if (this.inFlight > 0) await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
    await new Promise<void>((resolve) => broker.close(() => resolve()));
    await closed;
    if (ws) {
      ws.ws.close();
      ws.http.closeAllConnections();
      await wsClosed;
    }
    this.server = undefined;
    this.wsServer = undefined;
    this.broker = undefined;
    this.online.clear();
    this.deniedLog.flush();
  }

  /**
   * Publish a command QoS 1 to `<prefix>/<device>/cmd` for the device's own connection, if it is
   * subscribed to it (any prefix when `topicPrefix` is undefined). Resolves true once aedes has written it to that
   * client's socket, false when no such client is here. The device's PUBACK is not tracked (aedes
   * reports acks only for persistent sessions); the device confirms a command with a status whose
   * `cmd` equals `cmdId` (PROTOCOL.md section 6).
   */
  async sendCommand(device: string, topicPrefix: string | undefined, payload: Buffer, cmdId: number): Promise<boolean> {
    const target = this.findCommandSubscriber(device, topicPrefix);
    if (!target) return false;
    const { client, topic } = target;
    await new Promise<void>((resolve) =>
      client.publish({ cmd: 'publish', topic, payload, qos: 1, retain: false, dup: false }, () => resolve()),
    );
    const delivered = !client.closed;
    this.log.debug({ device, topic, cmdId, delivered }, 'command sent');
    return delivered;
  }

  /**
   * Only the device's own connection (client id = device id, authenticated as it when logins are
   * on) receives its commands: while it is offline nobody does, whoever else subscribed.
   */
  private findCommandSubscriber(device: string, topicPrefix: string | undefined): { client: Client; topic: string } | undefined {
    const client = this.online.get(device);
    if (!client || client.closed) return undefined;
    const topic = subscriptionsOf(client).find((t) => isCommandTopicOf(t, device, topicPrefix));
    return topic === undefined ? undefined : { client, topic };
  }

  private authenticate(
    client: Client,
    username: string | undefined,
    password: Buffer | undefined,
    done: (error: AuthenticateError | null, success: boolean | null) => void,
  ): void {
    if (!this.access.logins) return done(null, true);
    this.access.authenticate(client.id, username, password).then(
      (ok) => {
        if (!ok) this.log.warn({ clientId: client.id, username }, 'mqtt authentication failed');
        done(null, ok);
      },
      (err: unknown) => {
        this.log.error({ clientId: client.id, err }, 'mqtt authenticate hook failed');
        done(null, false);
      },
    );
  }

  private authorizeSubscribe(client: Client, topic: string): boolean {
    const ok = this.access.maySubscribe(client.id, topic);
    if (!ok) {
      this.counters.subscribeDenied++;
      this.noteDenied('subscribe', client.id, topic, 'not its own cmd topic');
    }
    return ok;
  }

  private noteDenied(what: 'publish' | 'subscribe', clientId: string, topic: string, reason: string): void {
    this.lastDenied = { what, clientId, topic, reason };
    this.deniedLog.count(what);
  }

  /**
   * Decides when (and whether) aedes may PUBACK and continue: see the class comment. The usual
   * message costs one reaction to the handler's promise (no async frame of its own: these ran
   * per message); 'busy' goes on in retryWhileBusy.
   */
  private onPublish(client: Client | null, packet: PublishPacket, aedesDone: (verdict: Verdict) => void): void {
    // aedes publishes a last will through this hook after the client closed; the will has no PUBACK.
    const isWill = client === null || client.closed;
    const order = isWill ? undefined : this.answerOrderOf(client);
    const slot = order?.add(aedesDone);
    const reply = (verdict: Verdict) => (order ? order.settle(slot!, verdict) : aedesDone(verdict));
    const { topic, payload } = packet;
    if (isSysTopic(topic)) return reply(new Error('$SYS topics are reserved'));
    const clientId = client?.id ?? '';
    // While stopping, new messages close their connection unacked: the device resends them later.
    if (this.stopping && !isWill) return reply(new Error('embedded MQTT broker is stopping'));

    const verdict: PublishVerdict = this.access.publish(clientId, topic);
    if (!verdict.allowed) {
      this.counters.denied++;
      this.notRouted.add(packet);
      this.noteDenied('publish', clientId, topic, verdict.reason);
      return reply(null);
    }
    // Commands from an operator client are routed to the device, not ingested.
    if (verdict.kind === 'cmd') return reply(null);

    const handler = this.handler;
    if (!handler) return reply(new Error('embedded MQTT broker has no handler'));
    const limit = this.options.maxPayloadBytes;
    const message: RawMessage = {
      transport: 'mqtt',
      topic,
      payload: Buffer.isBuffer(payload) ? payload : Buffer.from(payload),
      source: clientId,
      receivedAt: Date.now(),
      identity: verdict.identity,
      kind: verdict.kind,
    };
    if (payload.length > limit) {
      // Quarantined with its reason and acknowledged: resending the same bytes cannot help.
      this.counters.oversized++;
      message.refused = { reason: 'oversized', detail: `payload of ${payload.length} bytes exceeds mqtt.embedded.maxPayloadBytes ${limit}` };
    }
    this.counters.received++;
    this.inFlight++;
    let first: Promise<IngestOutcome>;
    try {
      first = handler(message);
    } catch (err) {
      first = Promise.reject(err);
    }
    first.then(
      (outcome) => {
        if (outcome.kind !== 'busy') return this.answer(reply, null);
        if (slot) order!.markBusy(slot);
        this.retryWhileBusy(handler, message, client, isWill, packet.qos, outcome).then(
          (v) => this.answer(reply, v),
          (err: unknown) => {
            // retryWhileBusy does not reject; if it does, that is a bug: surfaced as an unhandled rejection, and stop() stops waiting for this message.
            this.answered();
            throw err;
          },
        );
      },
      (err: unknown) => this.answer(reply, this.handlerFailed(clientId, topic, err)),
    );
    // Last, once this message's state is in place: reading ahead may run this hook for the next ones.
    if (slot && order!.busy === 0 && order!.pending <= READ_AHEAD_PER_CLIENT) slot.readAhead = releaseRead(client!);
  }

  /** The client's answer order; a slot that read ahead is counted back in before aedes's done runs. */
  private answerOrderOf(client: Client): AnswerOrder {
    let order = this.answerOrders.get(client);
    if (!order) {
      order = new AnswerOrder((slot: AnswerSlot) => {
        if (slot.readAhead) restoreRead(client);
      });
      this.answerOrders.set(client, order);
    }
    return order;
  }

  /** The pipeline answered 'busy': withhold the callback and ask again after a growing pause, while the connection lives. */
  private async retryWhileBusy(handler: IngestHandler, message: RawMessage, client: Client | null, isWill: boolean, qos: number, outcome: IngestOutcome): Promise<Verdict> {
    const { source: clientId, topic } = message;
    let pauseMs = this.busyRetryMs.initial;
    while (outcome.kind === 'busy') {
      if (qos === 0) {
        this.counters.droppedQos0++;
        return null;
      }
      const gone = this.stopping || (!isWill && client?.closed);
      if (gone) {
        this.counters.abandoned++;
        this.log.info({ clientId, topic, reason: outcome.reason }, 'busy message abandoned without PUBACK; the client resends it');
        return new Error(`pipeline busy (${outcome.reason}) and connection closing`);
      }
      this.counters.busyRetries++;
      this.log.debug({ clientId, topic, reason: outcome.reason, pauseMs }, 'pipeline busy; PUBACK withheld');
      await new Promise((resolve) => setTimeout(resolve, pauseMs));
      pauseMs = Math.min(pauseMs * 2, this.busyRetryMs.max);
      try {
        outcome = await handler(message);
      } catch (err) {
        return this.handlerFailed(clientId, topic, err);
      }
    }
    return null;
  }

  /** A handler that throws is not an answer: the connection closes without PUBACK. */
  private handlerFailed(clientId: string, topic: string, err: unknown): Error {
    this.counters.handlerErrors++;
    this.log.error({ clientId, topic, err }, 'ingest handler failed; closing the connection without PUBACK');
    return err instanceof Error ? err : new Error(String(err));
  }

  /** Answers aedes; stop() waits until every message taken in was answered. */
  private answer(done: (verdict: Verdict) => void, verdict: Verdict): void {
    this.answered();
    done(verdict);
  }

  private answered(): void {
    if (--this.inFlight > 0 || this.idleWaiters.length === 0) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }

  /** Only cmd topics have subscribers here, so other client messages skip aedes's routing work. */
  private skipRoutingExceptCommands(broker: Aedes): void {
    routeClientMessagesOnlyWhen(broker, (packet) => isCommandTopic(packet.topic) && !this.notRouted.has(packet));
  }
}

async function listen(server: Server | HttpServer, host: string, port: number, setting: string): Promise<void> {
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE') {
      throw new Error(`port ${port} on ${host} is already in use; set ${setting} to a free port (or stop whatever holds it)`, { cause: err });
    }
    throw new Error(`embedded MQTT broker cannot listen on ${host}:${port}: ${(err as Error).message}`, { cause: err });
  }
}

/** A WebSocket as the byte stream aedes and the limiter read, with the peer address the caps count by. */
function webSocketDuplex(sock: WebSocket, req: IncomingMessage): Duplex & { remoteAddress?: string; remotePort?: number; bytesRead?: number } {
  const stream = createWebSocketStream(sock) as Duplex & { remoteAddress?: string; remotePort?: number; bytesRead?: number };
  stream.remoteAddress = req.socket.remoteAddress;
  stream.remotePort = req.socket.remotePort;
  Object.defineProperty(stream, 'bytesRead', { get: () => req.socket.bytesRead });
  return stream;
}
