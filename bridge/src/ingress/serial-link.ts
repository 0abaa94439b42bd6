// One serial port as the ingress sees it: keeps a channel open (reopening it when
// the device goes away), turns its bytes into frames, hands frames to the pipeline
// one at a time and writes each telemetry frame's ack back with the same seq.
import type { Logger } from 'pino';
import { AckCode, decodeBatch, decodeStatus, encodeAck, FRAME_ERROR_KINDS, FrameDecoder, FrameType } from '../codec/index.ts';
import type { AckCodeValue, BatchForm, Frame, FrameErrorKind } from '../codec/index.ts';
import type { DecodedBatch, IngestHandler, IngestOutcome, RawMessage } from '../types.ts';
import { BurstLog } from '../observe/burst-log.ts';
import { openChannel, portLabel, type ByteChannel, type SerialPortSpec } from './serial-channel.ts';

export interface SerialPortStats {
  port: string;
  open: boolean;
  /** Good frames decoded. */
  frames: number;
  /** Bytes read from the device. */
  bytes: number;
  /** Frames rejected by the decoder, per kind. */
  errors: Record<FrameErrorKind, number>;
  /** Times the port came back after it was lost. */
  reopens: number;
  /** Acks written, per code. */
  acks: { stored: number; rejected: number; busy: number };
  /** Acks that could not be written (port gone): the node resends those frames. */
  acksLost: number;
  /** Handler calls that threw: no ack, so the node resends. */
  handlerErrors: number;
  /** Frames answered busy without a handler call because too many were queued. */
  overflowed: number;
  /** Ack or cmd frames from the device, which only the bridge sends. */
  unexpected: number;
  commandsSent: number;
}

export interface SerialLinkDeps {
  handler: IngestHandler;
  log: Logger;
  reopenMs: number;
  /** Frames waiting for the handler beyond this are answered busy at once. */
  maxQueued: number;
  /** Told the device id found in each telemetry or status payload (for downlink). */
  onDeviceSeen(device: string): void;
}

const ACK_FOR: Record<IngestOutcome['kind'], AckCodeValue> = { stored: AckCode.stored, rejected: AckCode.rejected, busy: AckCode.busy };

export class SerialPortLink {
  readonly label: string;
  private channel: ByteChannel | undefined;
  private reopenTimer: NodeJS.Timeout | undefined;
  /** An open attempt under way; stop() waits for it so no port is left open behind it. */
  private opening: Promise<void> | undefined;
  private stopped = false;
  private wasOpen = false;
  private announcedMissing = false;
  /** Frames are handled one at a time, in arrival order, like an MQTT connection. */
  private handling: Promise<void> = Promise.resolve();
  private queued = 0;
  private readonly decoder = new FrameDecoder({
    onFrame: (frame) => this.onFrame(frame),
    onError: (kind, bytesDropped) => this.badInput.count(kind, bytesDropped),
  });
  private readonly badInput: BurstLog;
  private readonly counters = {
    bytes: 0,
    reopens: 0,
    acks: { stored: 0, rejected: 0, busy: 0 },
    acksLost: 0,
    handlerErrors: 0,
    overflowed: 0,
    unexpected: 0,
    commandsSent: 0,
  };

  constructor(
    private readonly spec: SerialPortSpec,
    private readonly deps: SerialLinkDeps,
  ) {
    this.label = portLabel(spec);
    this.badInput = new BurstLog(({ counts, bytesDropped, sinceMs }) =>
      deps.log.warn({ port: this.label, counts, bytesDropped, sinceMs }, 'serial: bad frames skipped'),
    );
  }

  get isOpen(): boolean {
    return this.channel !== undefined;
  }

  get stats(): SerialPortStats {
    const c = this.counters;
    const errors = Object.fromEntries(FRAME_ERROR_KINDS.map((k) => [k, this.decoder.errors[k]])) as Record<FrameErrorKind, number>;
    return { port: this.label, open: this.isOpen, frames: this.decoder.frames, errors, ...c, acks: { ...c.acks } };
  }

  /** First attempt; when the device is absent it keeps trying in the background. */
  async start(): Promise<void> {
    await this.attemptOpen();
  }

  /** Stop reading new frames, let the frame being handled finish (and ack), then close. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.reopenTimer);
    this.reopenTimer = undefined;
    await this.opening;
    await this.handling;
    const channel = this.channel;
    this.channel = undefined;
    await channel?.close();
    this.badInput.flush();
  }

  /** Writes a whole frame; false when the port is not open or the write failed. */
  async writeFrame(bytes: Buffer): Promise<boolean> {
    const channel = this.channel;
    if (!channel) return false;
    try {
      await channel.write(bytes);
      return true;
    } catch (err) {
      this.deps.log.debug({ port: this.label, err: (err as Error).message }, 'serial write failed');
      return false;
    }
  }

  countCommandSent(): void {
    this.counters.commandsSent++;
  }

  private attemptOpen(): Promise<void> {
    this.reopenTimer = undefined;
    this.opening = this.tryOpen().finally(() => (this.opening = undefined));
    return this.opening;
  }

  private async tryOpen(): Promise<void> {
    if (this.stopped) return;
    let channel: ByteChannel;
    try {
      channel = await openChannel(this.spec, {
        onData: (chunk) => this.onData(channel, chunk),
        onClosed: (reason) => this.onClosed(channel, reason),
      });
    } catch (err) {
      // Logged once per outage: a missing device is retried quietly.
      if (!this.announcedMissing) {
        this.announcedMissing = true;
        this.deps.log.warn({ port: this.label, err: (err as Error).message, retryMs: this.deps.reopenMs }, 'serial port not available; retrying');
      }
      this.scheduleReopen();
      return;
    }
    if (this.stopped) return void (await channel.close());
    this.channel = channel;
    this.decoder.reset();
    this.announcedMissing = false;
    if (this.wasOpen) this.counters.reopens++;
    this.wasOpen = true;
    this.deps.log.info({ port: this.label, reopens: this.counters.reopens }, 'serial port open');
  }

  private scheduleReopen(): void {
    if (this.stopped || this.reopenTimer) return;
    this.reopenTimer = setTimeout(() => void this.attemptOpen(), this.deps.reopenMs);
  }

  private onClosed(channel: ByteChannel, reason: string): void {
    if (this.channel !== channel) return;
    this.channel = undefined;
    if (this.stopped) return;
    this.deps.log.warn({ port: this.label, reason, retryMs: this.deps.reopenMs }, 'serial port lost; reopening');
    this.announcedMissing = true;
    this.scheduleReopen();
  }

  private onData(channel: ByteChannel, chunk: Buffer): void {
    if (this.stopped || this.channel !== channel) return;
    this.counters.bytes += chunk.length;
    this.decoder.push(chunk);
  }

  private onFrame(frame: Frame): void {
    if (frame.type === FrameType.ack || frame.type === FrameType.cmd) {
      this.counters.unexpected++;
      this.badInput.count(frame.type === FrameType.ack ? 'unexpected_ack' : 'unexpected_cmd');
      return;
    }
    const isStatus = frame.type === FrameType.status;
    // Telemetry is decoded once, here: the device id decides who may speak, and the pipeline reuses it.
    const decoded = isStatus ? undefined : decodeOnce(frame.payload);
    const device = decoded ? (decoded.result.ok ? decoded.result.value.device : undefined) : statusDevice(frame.payload);
    const declared = device !== undefined && this.declares(device);
    if (declared) this.deps.onDeviceSeen(device);

    if (this.queued >= this.deps.maxQueued) {
      this.counters.overflowed++;
      this.badInput.count('overflowed');
      // Status is best effort; telemetry gets "busy" so the node keeps it and retries.
      if (!isStatus) void this.ack(frame.seq, AckCode.busy);
      return;
    }
    this.queued++;
    const kind = isStatus ? 'status' : 'telemetry';
    const prefix = this.spec.topicPrefix;
    const message: RawMessage = {
      transport: 'serial',
      topic: prefix !== undefined && device !== undefined ? `${prefix}/${device}/${kind}` : isStatus ? `serial:${this.label}/status` : `serial:${this.label}`,
      payload: frame.payload,
      source: this.label,
      receivedAt: Date.now(),
      // A payload that does not decode has no device: the pipeline quarantines it as malformed first.
      identity: declared ? device : '',
      kind,
      decoded,
    };
    this.handling = this.handling.then(() => this.handle(message, isStatus ? undefined : frame.seq)).finally(() => this.queued--);
  }

  /** seq is undefined for status frames, which are not acked. */
  /** True when `device` may speak on this port. */
  private declares(device: string): boolean {
    const devices = this.spec.devices ?? 'any';
    return devices === 'any' || devices.includes(device);
  }

  private async handle(message: RawMessage, seq: number | undefined): Promise<void> {
    // Frames queued behind the one in flight when stop() came are left unanswered: the node resends them.
    if (this.stopped) return;
    let outcome: IngestOutcome;
    try {
      outcome = await this.deps.handler(message);
    } catch (err) {
      this.counters.handlerErrors++;
      this.deps.log.error({ port: this.label, seq, err }, 'ingest handler failed; frame not acked');
      return;
    }
    if (seq !== undefined) await this.ack(seq, ACK_FOR[outcome.kind]);
  }

  private async ack(seq: number, code: AckCodeValue): Promise<void> {
    if (await this.writeFrame(encodeAck(seq, code))) {
      const name = code === AckCode.stored ? 'stored' : code === AckCode.rejected ? 'rejected' : 'busy';
      this.counters.acks[name]++;
    } else {
      this.counters.acksLost++;
    }
  }
}

function decodeOnce(payload: Buffer): DecodedBatch {
  const form: BatchForm = { lazyReadings: true };
  const result = decodeBatch(payload, form);
  return { result, canonical: form.canonical, readingCount: form.readingCount };
}

/** The device id of a status payload; undefined when it does not decode. */
function statusDevice(payload: Buffer): string | undefined {
  const status = decodeStatus(payload);
  return status.ok ? status.value.d : undefined;
}
