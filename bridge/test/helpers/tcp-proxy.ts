// A TCP proxy for fault injection (this kernel has no netem).
//   reset():        destroy every current connection (RST where Node supports it).
//   blackhole(on):  stop moving bytes both ways but keep sockets open, like a partition.
//                   Reading is paused, so TCP flow control holds the bytes in kernel
//                   buffers; turning it off lets them through in order, as TCP would.
//   setDelayMs(ms): delay every chunk by ms (order kept).
//   setTarget(port):where new connections go (existing ones stay put).
import { createServer, connect, type Socket } from 'node:net';

export interface TcpProxy {
  port: number;
  reset(): void;
  blackhole(on: boolean): void;
  setDelayMs(ms: number): void;
  setTarget(port: number, host?: string): void;
  /** Connections currently proxied. */
  connections(): number;
  close(): Promise<void>;
}

interface Pair {
  client: Socket;
  upstream: Socket;
  /** A side closed while blackholed: the other side must not hear of it until the hole lifts. */
  dead?: boolean;
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

  // Forward with an optional delay; due times never go backwards, so chunks stay in order.
  function forward(from: Socket, to: Socket): void {
    let lastDue = 0;
    from.on('data', (chunk: Buffer) => {
      if (delayMs <= 0 && lastDue <= Date.now()) {
        if (!to.destroyed) to.write(chunk);
        return;
      }
      const due = Math.max(Date.now() + delayMs, lastDue);
      lastDue = due;
      setTimeout(() => {
        if (!to.destroyed) to.write(chunk);
      }, due - Date.now());
    });
    from.on('end', () => to.end());
  }

  const server = createServer((client) => {
    const upstream = connect({ port: targetPort, host: targetHost });
    const pair: Pair = { client, upstream };
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
    forward(client, upstream);
    forward(upstream, client);
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

  return {
    port,
    reset() {
      for (const p of [...pairs]) {
        pairs.delete(p);
        kill(p.client);
        kill(p.upstream);
      }
    },
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
    connections() {
      return pairs.size;
    },
    async close() {
      this.reset();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
