import { pino, type Logger } from 'pino';
import { encodeFrame, FrameType } from '../codec/index.ts';
import type { IngestHandler, Ingress } from '../types.ts';
import type { SerialPortSpec } from './serial-channel.ts';
import { SerialPortLink, type SerialPortStats } from './serial-link.ts';

export type { SerialPortSpec } from './serial-channel.ts';
export type { SerialPortStats } from './serial-link.ts';

export interface SerialIngressOptions {
  /** Local ports ({ path, baudRate }) or raw TCP serial servers ({ tcp: 'host:port' }). */
  ports: SerialPortSpec[];
  /** Pause between attempts to reopen a port whose device went away. Default 1000. */
  reopenMs?: number;
  /** Frames a port may queue for the handler before further telemetry is answered busy. Default 256. */
  maxQueuedPerPort?: number;
  logger?: Logger;
}

/**
 * Serial ingress (PROTOCOL.md section 10): nodes on UART, or behind a raw TCP serial server.
 *
 * Each port is a SerialPortLink. Telemetry frames go to the handler as `serial:<port>`, status
 * frames as `serial:<port>/status`; frames of one port are handled one at a time, in order. Once
 * the handler has answered, a telemetry frame is acked with its own seq: 0x00 stored, 0x01
 * rejected, 0x02 busy. A handler that throws gets no ack, so the node resends. Bad input is
 * counted per kind and skipped; a port that disappears is reopened every `reopenMs`.
 *
 * Downlink: a device is reachable on the port where its last telemetry or status came from.
 */
export class SerialIngress implements Ingress {
  readonly name = 'serial';
  private readonly log: Logger;
  private links: SerialPortLink[] = [];
  private readonly deviceLinks = new Map<string, SerialPortLink>();

  constructor(private readonly options: SerialIngressOptions) {
    this.log = options.logger ?? pino({ enabled: false });
  }

  get stats(): { ports: SerialPortStats[] } {
    return { ports: this.links.map((link) => link.stats) };
  }

  /** Device ids seen, with the port each was last seen on. */
  get devices(): Record<string, string> {
    return Object.fromEntries([...this.deviceLinks].map(([device, link]) => [device, link.label]));
  }

  async start(handler: IngestHandler): Promise<void> {
    if (this.links.length > 0) throw new Error('serial ingress already started');
    this.links = this.options.ports.map((spec) => {
      const link: SerialPortLink = new SerialPortLink(spec, {
        handler,
        log: this.log,
        reopenMs: this.options.reopenMs ?? 1000,
        maxQueued: this.options.maxQueuedPerPort ?? 256,
        onDeviceSeen: (device) => this.deviceLinks.set(device, link),
      });
      return link;
    });
    // An absent device does not fail start: its port keeps being retried.
    await Promise.all(this.links.map((link) => link.start()));
  }

  async stop(): Promise<void> {
    await Promise.all(this.links.map((link) => link.stop()));
    this.links = [];
    this.deviceLinks.clear();
  }

  /**
   * Writes a cmd frame (seq = cmdId) to the port where `device` was last seen. `topicPrefix`
   * does not apply to serial. Resolves true once written, false when the device is unknown here,
   * its port is closed, or the command does not fit a frame.
   */
  async sendCommand(device: string, _topicPrefix: string | undefined, payload: Buffer, cmdId: number): Promise<boolean> {
    const link = this.deviceLinks.get(device);
    if (!link) return false;
    let frame: Buffer;
    try {
      frame = encodeFrame({ type: FrameType.cmd, seq: cmdId, payload });
    } catch (err) {
      this.log.warn({ device, cmdId, err: (err as Error).message }, 'serial command not sent');
      return false;
    }
    const written = await link.writeFrame(frame);
    if (written) link.countCommandSent();
    this.log.debug({ device, port: link.label, cmdId, written }, 'serial command');
    return written;
  }
}
