// Downlink: AMQP commands -> durable command store -> the device, over whichever
// transport has it (MQTT cmd topic or a serial cmd frame) -> confirmed by the
// device's status `cmd`. Its own path: it shares no stage with telemetry.
//
// A command is a message on `exchange` with routing key `cmd.<device>` and a body of
// JSON `{"op": "set_interval", "arg": 500, "id": 7}` (id optional: it is then derived
// from the AMQP message id, or drawn at random) or the msgpack command map of
// PROTOCOL.md section 6 (content type application/msgpack). It is acked to RabbitMQ
// only after the command store has fsynced it; invalid ones are rejected (nack, no
// requeue: to the queue's dead-letter exchange if it has one) and counted.
import { createHash, randomInt } from 'node:crypto';
import type { Channel, ChannelModel, ConsumeMessage } from 'amqplib';
import type { Logger } from 'pino';
import { Counter, Gauge, type Registry } from 'prom-client';
import { decodeCommand, encodeCommand, validateCommand, type Command, type CommandResult } from '../codec/index.ts';
import type { Ingress } from '../types.ts';
import type { CommandStore, PendingCommand } from './command-store.ts';
import { AmqpSession, type AmqpTls, type ReconnectPolicy } from '../amqp/session.ts';
import type { Topology } from '../amqp/topology.ts';

export interface DownlinkOptions {
  amqp: { urls: string[]; tls?: AmqpTls; heartbeatSec?: number; reconnect: ReconnectPolicy };
  exchange: string;
  queue: string;
  prefetch: number;
  ttlMs: number;
  /** A sent but unconfirmed command is sent again after this long. */
  retryMs: number;
  store: CommandStore;
  transports: Ingress[];
  registry?: Registry;
  logger: Logger;
}

export type DownlinkOutcome = 'received' | 'invalid' | 'sent' | 'confirmed' | 'expired';

/** Parses one AMQP command message; never throws. */
export function parseCommandMessage(routingKey: string, body: Buffer, contentType: string | undefined, messageId: string | undefined): { ok: true; device: string; command: Command } | { ok: false; reason: string } {
  const m = /^cmd\.([A-Za-z0-9_-]{1,64})$/.exec(routingKey);
  if (!m) return { ok: false, reason: `routing key '${routingKey}' is not cmd.<device>` };
  let r: CommandResult;
  if (contentType === 'application/msgpack') {
    r = decodeCommand(body);
  } else {
    let raw: unknown;
    try {
      raw = JSON.parse(body.toString('utf8'));
    } catch {
      return { ok: false, reason: 'body is neither JSON nor (with content type application/msgpack) a command map' };
    }
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return { ok: false, reason: 'JSON body is not an object' };
    const o = raw as Record<string, unknown>;
    r = validateCommand({ v: 1, arg: 0, ...o, id: o.id ?? commandIdFor(messageId) });
  }
  if (!r.ok) return { ok: false, reason: `${r.error}: ${r.detail}` };
  return { ok: true, device: m[1]!, command: r.value };
}

/** A stable id for a redelivered message (so it is not applied twice under two ids), else a random one. */
function commandIdFor(messageId: string | undefined): number {
  if (!messageId) return randomInt(1, 2 ** 32 - 1);
  return (createHash('sha256').update(messageId).digest().readUInt32BE(0) >>> 0) || 1;
}

/** The downlink's exchange and queue, as data: declared on every connect. */
export function downlinkTopology(exchange: string, queue: string): Topology {
  return { exchange: { name: exchange, type: 'topic', durable: true }, queues: [{ name: queue, bindings: ['cmd.*'] }] };
}

export class Downlink {
  private readonly session: AmqpSession;
  private tick: NodeJS.Timeout | undefined;
  private readonly sending = new Set<string>();
  readonly counts: Record<DownlinkOutcome, number> = { received: 0, invalid: 0, sent: 0, confirmed: 0, expired: 0 };

  constructor(private readonly o: DownlinkOptions) {
    this.session = new AmqpSession({
      name: 'edge-bridge-downlink',
      ...o.amqp,
      topology: downlinkTopology(o.exchange, o.queue),
      setup: (model) => this.consume(model),
      logger: o.logger,
    });
    if (o.registry) {
      const counts = this.counts;
      new Counter({
        name: 'edge_downlink_commands_total',
        help: 'Downlink commands, by outcome (received, invalid, sent, confirmed, expired)',
        labelNames: ['outcome'],
        registers: [o.registry],
        collect() {
          this.reset();
          for (const [outcome, n] of Object.entries(counts)) if (n > 0) this.inc({ outcome }, n);
        },
      });
      const store = o.store;
      new Gauge({ name: 'edge_downlink_pending', help: 'Commands stored and not yet confirmed by their device', registers: [o.registry], collect() { this.set(store.size); } });
    }
  }

  private count(outcome: DownlinkOutcome, n = 1): void {
    this.counts[outcome] += n;
  }

  async start(): Promise<void> {
    this.o.store.open();
    if (this.o.store.bad.length) this.o.logger.warn({ files: this.o.store.bad }, 'unreadable command files moved aside (.bad)');
    this.tick = setInterval(() => this.sweep(), Math.min(250, this.o.retryMs));
    await this.session.start();
  }

  private async consume(model: ChannelModel): Promise<void> {
    const ch = await model.createChannel();
    ch.on('error', (err: Error) => this.o.logger.warn({ err: err.message }, 'downlink channel error'));
    // A channel the broker closed (e.g. its queue deleted) on a live connection: start over.
    ch.on('close', () => {
      if (this.session.model === model) void this.session.restart();
    });
    await ch.prefetch(this.o.prefetch);
    await ch.consume(this.o.queue, (m) => m && this.onMessage(ch, m));
    this.o.logger.info({ exchange: this.o.exchange, queue: this.o.queue }, 'downlink consuming');
  }

  private onMessage(ch: Channel, m: ConsumeMessage): void {
    const parsed = parseCommandMessage(m.fields.routingKey, m.content, m.properties.contentType as string | undefined, m.properties.messageId as string | undefined);
    if (!parsed.ok) {
      this.count('invalid');
      this.o.logger.warn({ routingKey: m.fields.routingKey, reason: parsed.reason }, 'downlink command rejected');
      ch.nack(m, false, false);
      return;
    }
    try {
      this.o.store.put(parsed.device, parsed.command, this.o.ttlMs);
    } catch (err) {
      // Not stored, so not acked: RabbitMQ keeps it and redelivers.
      this.o.logger.error({ err: (err as Error).message, device: parsed.device }, 'downlink: command store write failed');
      ch.nack(m, false, true);
      return;
    }
    ch.ack(m);
    this.count('received');
    this.o.logger.info({ device: parsed.device, id: parsed.command.id, op: parsed.command.op, arg: parsed.command.arg }, 'downlink command stored');
    void this.deliver(parsed.device);
  }

  /** From the pipeline: a status arrived. A matching `cmd` confirms; coming online triggers delivery. */
  onStatus(device: string, cmd: number, online: boolean): void {
    if (cmd !== 0) {
      const done = this.o.store.confirm(device, cmd);
      if (done) {
        this.count('confirmed');
        this.o.logger.info({ device, id: cmd, op: done.command.op }, 'downlink command confirmed');
      }
    }
    if (online) void this.deliver(device);
  }

  /** Sends the device's pending commands that are unsent or due for a resend. */
  private async deliver(device: string, now = Date.now()): Promise<void> {
    for (const p of this.o.store.forDevice(device)) {
      if (p.sends > 0 && now - p.lastSentAt < this.o.retryMs) continue;
      await this.send(p);
    }
  }

  private async send(p: PendingCommand): Promise<void> {
    const key = `${p.device}.${p.command.id}`;
    if (this.sending.has(key)) return;
    this.sending.add(key);
    try {
      const payload = encodeCommand(p.command);
      for (const t of this.o.transports) {
        if (!t.sendCommand) continue;
        if (await t.sendCommand(p.device, undefined, payload, p.command.id)) {
          p.sends++;
          p.lastSentAt = Date.now();
          this.count('sent');
          return;
        }
      }
    } catch (err) {
      this.o.logger.warn({ err: (err as Error).message, device: p.device }, 'downlink send failed');
    } finally {
      this.sending.delete(key);
    }
  }

  private sweep(): void {
    const expired = this.o.store.expire();
    if (expired.length) {
      this.count('expired', expired.length);
      this.o.logger.warn({ commands: expired.map((p) => `${p.device}#${p.command.id} ${p.command.op}`) }, 'downlink commands expired undelivered');
    }
    const devices = new Set(this.o.store.all().map((p) => p.device));
    for (const d of devices) void this.deliver(d);
  }

  async stop(): Promise<void> {
    clearInterval(this.tick);
    await this.session.close();
  }
}
