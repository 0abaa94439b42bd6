// A byte channel to one serial device: a real port through node-serialport, or a
// raw TCP socket to a serial server (ser2net-style). The serial ingress sees only
// this seam: bytes in, whole frames out, and one "closed" call when the device goes.
import { connect, type Socket } from 'node:net';

/**
 * A serial link as declared: where it is, and who may speak on it. `topicPrefix` gives its
 * messages the topic `<topicPrefix>/<device>/<kind>`, routed as MQTT would be; `devices` lists
 * the ids allowed on it ('any' by default).
 */
export type SerialPortSpec = ({ path: string; baudRate: number } | { tcp: string }) & {
  topicPrefix?: string;
  devices?: readonly string[] | 'any';
};

export interface ByteChannel {
  /** Resolves once the bytes were handed to the OS; rejects if the channel closed first. */
  write(bytes: Buffer): Promise<void>;
  close(): Promise<void>;
}

export interface ChannelEvents {
  onData(chunk: Buffer): void;
  /** Called once, when the device went away or close() finished. */
  onClosed(reason: string): void;
}

/** The name a port goes by in topics, logs and stats: its path, or `tcp:host:port`. */
export function portLabel(spec: SerialPortSpec): string {
  return 'path' in spec ? spec.path : `tcp:${spec.tcp}`;
}

export function openChannel(spec: SerialPortSpec, events: ChannelEvents): Promise<ByteChannel> {
  return 'path' in spec ? openSerialChannel(spec, events) : openTcpChannel(spec.tcp, events);
}

/** Rejects writes that were pending when the channel closed (serialport would hold them forever). */
class PendingWrites {
  private readonly rejecters = new Set<(err: Error) => void>();

  track(start: (done: (err?: Error | null) => void) => void): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const fail = (err: Error) => {
        this.rejecters.delete(fail);
        reject(err);
      };
      this.rejecters.add(fail);
      start((err) => {
        if (!this.rejecters.delete(fail)) return;
        if (err) reject(err);
        else resolve();
      });
    });
  }

  failAll(reason: string): void {
    for (const fail of [...this.rejecters]) fail(new Error(`channel closed before the write finished: ${reason}`));
  }
}

function onceOnly(events: ChannelEvents, pending: PendingWrites): (reason: string) => void {
  let closed = false;
  return (reason) => {
    if (closed) return;
    closed = true;
    pending.failAll(reason);
    events.onClosed(reason);
  };
}

async function openSerialChannel(spec: { path: string; baudRate: number }, events: ChannelEvents): Promise<ByteChannel> {
  // Loaded on first use: its native binding costs the bridge ~10 MB RSS when no port is configured.
  const { SerialPort } = await import('serialport');
  const port = new SerialPort({ path: spec.path, baudRate: spec.baudRate, autoOpen: false });
  await new Promise<void>((resolve, reject) => port.open((err) => (err ? reject(err) : resolve())));
  const pending = new PendingWrites();
  const closed = onceOnly(events, pending);
  port.on('data', (chunk: Buffer) => events.onData(chunk));
  // A vanished device (unplugged USB, ended pty) surfaces as a read error that serialport turns into 'close'.
  let lastError = '';
  port.on('close', (err: Error | null) => closed(err?.message ?? (lastError || 'closed')));
  port.on('error', (err: Error) => {
    lastError = err.message;
    if (port.isOpen) port.close(() => undefined);
    else closed(err.message);
  });
  return {
    write: (bytes) => {
      if (!port.isOpen) return Promise.reject(new Error(`serial port ${spec.path} is not open`));
      return pending.track((done) => port.write(bytes, done));
    },
    close: () =>
      new Promise<void>((resolve) => {
        if (!port.isOpen) return resolve();
        port.close(() => {
          closed('closed');
          resolve();
        });
      }),
  };
}

function parseHostPort(text: string): { host: string; port: number } {
  const colon = text.lastIndexOf(':');
  const port = Number(text.slice(colon + 1));
  if (colon <= 0 || !Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`"${text}" is not host:port`);
  return { host: text.slice(0, colon).replace(/^\[(.*)\]$/, '$1'), port };
}

async function openTcpChannel(address: string, events: ChannelEvents): Promise<ByteChannel> {
  const { host, port } = parseHostPort(address);
  const socket: Socket = connect({ host, port });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  }).catch((err: unknown) => {
    socket.destroy();
    throw err;
  });
  socket.setNoDelay(true);
  const pending = new PendingWrites();
  const closed = onceOnly(events, pending);
  socket.on('data', (chunk: Buffer) => events.onData(chunk));
  // 'close' always follows 'error' on a socket; the reason comes from whichever tells more.
  let lastError = '';
  socket.on('error', (err) => (lastError = err.message));
  socket.on('close', () => closed(lastError || 'connection closed'));
  return {
    write: (bytes) => {
      if (socket.destroyed || !socket.writable) return Promise.reject(new Error(`tcp serial ${address} is not connected`));
      return pending.track((done) => socket.write(bytes, done));
    },
    close: () =>
      new Promise<void>((resolve) => {
        if (socket.destroyed) return resolve();
        socket.once('close', () => resolve());
        socket.destroy();
      }),
  };
}
