// A TCP proxy for fault injection (this kernel has no netem).
//   reset():         destroy every current connection (RST where Node supports it).
//   blackhole(on):   stop moving bytes both ways but keep sockets open, like a partition.
//                    Reading is paused, so TCP flow control holds the bytes in kernel
//                    buffers; turning it off lets them through in order, as TCP would.
//   setDelayMs(ms):  delay every chunk by ms (order kept).
//   setTarget(port): where new connections go (existing ones stay put).
//   injectToClient(bytes): AMQP only: insert whole frames into the server->client stream at
//                    the next frame boundary (e.g. a connection.blocked the broker never sent).
import { createServer, connect, type Socket } from 'node:net';

export interface TcpProxy {
  port: number;
  reset(): void;
  blackhole(on: boolean): void;
  setDelayMs(ms: number): void;
  setTarget(port: number, host?: string): void;
  injectToClient(bytes: Buffer): void;
  /** Connections currently proxied. */
  connections(): number;
  /** When each connection was accepted (Date.now()), oldest first. */
  acceptedAt(): number[];
  close(): Promise<void>;
}

/** Follows AMQP 0-9-1 frames (7-byte header with a u32 size, payload, 0xCE) to find their ends. */
class FrameCursor {
  private header: Buffer[] = [];
  private headerLen = 0;
  private remaining = 0;

  atBoundary(): boolean {
    return this.remaining === 0 && this.headerLen === 0;
  }

  /** Offsets in `chunk` just past each frame that ends inside it. */
  ends(chunk: Buffer): number[] {
    const out: number[] = [];
    let i = 0;
    while (i < chunk.length) {
      if (this.remaining === 0) {
        const take = Math.min(7 - this.headerLen, chunk.length - i);
        this.header.push(chunk.subarray(i, i + take));
        this.headerLen += take;
        i += take;
        if (this.headerLen === 7) {
          this.remaining = Buffer.concat(this.header).readUInt32BE(3) + 1; // payload + frame-end octet
          this.header = [];
          this.headerLen = 0;
        }
      } else {
        const take = Math.min(this.remaining, chunk.length - i);
        i += take;
        this.remaining -= take;
        if (this.remaining === 0) out.push(i);
      }
    }
    return out;
  }
}

interface Pair {
  client: Socket;
  upstream: Socket;
  /** A side closed while blackholed: the other side must not hear of it until the hole lifts. */
  dead?: boolean;
  toClient: (buf: Buffer) => void;
  cursor: FrameCursor;
  injections: Buffer[];
}

function kill(s: Socket): void {
  // resetAndDestroy sends RST (Node >= 16.17); a connecting socket cannot be reset.
  if (!s.destroyed && !s.connecting && typeof s.resetAndDestroy === 'function') s.resetAndDestroy();
  else s.destroy();
}

export async function startTcpProxy(opts: { targetPort: number; targetHost?: string; port?: number }): Promise<TcpProxy> {
  let targetPort = opts.targetPort;
  let targetHost = opts.targetHost ?? '127.0.0.1';
  let delayMs = 0;
  let holed = false;
  const pairs = new Set<Pair>();
  const accepted: number[] = [];

  // A writer with an optional delay; due times never go backwards, so chunks stay in order.
  function writer(to: Socket): (buf: Buffer) => void {
    let lastDue = 0;
    return (buf) => {
      if (delayMs <= 0 && lastDue <= Date.now()) {
        if (!to.destroyed) to.write(buf);
        return;
      }
      const due = Math.max(Date.now() + delayMs, lastDue);
      lastDue = due;
      setTimeout(() => {
        if (!to.destroyed) to.write(buf);
      }, due - Date.now());
    };
  }

  const server = createServer((client) => {
    accepted.push(Date.now());
    const upstream = connect({ port: targetPort, host: targetHost });
    const pair: Pair = { client, upstream, toClient: writer(client), cursor: new FrameCursor(), injections: [] };
    pairs.add(pair);
    const drop = () => {
      if (holed) {
        pair.dead = true;
        return;
      }
      pairs.delete(pair);
      kill(client);
      kill(upstream);
    };
    client.on('error', drop);
    upstream.on('error', drop);
    client.on('close', drop);
    upstream.on('close', drop);

    const toUpstream = writer(upstream);
    client.on('data', (chunk: Buffer) => toUpstream(chunk));
    upstream.on('data', (chunk: Buffer) => {
      let from = 0;
      for (const end of pair.cursor.ends(chunk)) {
        if (!pair.injections.length) continue;
        pair.toClient(chunk.subarray(from, end));
        for (const b of pair.injections.splice(0)) pair.toClient(b);
        from = end;
      }
      if (from < chunk.length) pair.toClient(chunk.subarray(from));
    });
    client.on('end', () => upstream.end());
    upstream.on('end', () => client.end());
    if (holed) {
      client.pause();
      upstream.pause();
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, '127.0.0.1', () => resolve());
  });
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;

  function reset(): void {
    for (const p of [...pairs]) {
      pairs.delete(p);
      kill(p.client);
      kill(p.upstream);
    }
  }

  return {
    port,
    reset,
    acceptedAt: () => [...accepted],
    blackhole(on: boolean) {
      holed = on;
      for (const p of [...pairs]) {
        if (!on && p.dead) {
          pairs.delete(p);
          kill(p.client);
          kill(p.upstream);
        } else if (on) {
          p.client.pause();
          p.upstream.pause();
        } else {
          p.client.resume();
          p.upstream.resume();
        }
      }
    },
    setDelayMs(ms: number) {
      delayMs = ms;
    },
    setTarget(port: number, host?: string) {
      targetPort = port;
      if (host) targetHost = host;
    },
    injectToClient(bytes: Buffer) {
      for (const p of pairs) {
        if (p.cursor.atBoundary() && !p.injections.length) p.toClient(bytes);
        else p.injections.push(bytes);
      }
    },
    connections() {
      return pairs.size;
    },
    async close() {
      reset();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
