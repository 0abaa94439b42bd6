// The nodes' uplink, between the fleet and the bridge: a TCP relay that can go
// down (an outage: every connection cut, new ones refused) and be slow (a fixed
// delay per chunk, and a byte rate per direction). No netem on these machines,
// so a relay is how the simulator shapes the link.
import { createServer, connect, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';

export interface LinkShape {
  /** Added to every chunk, each way, ms. */
  delayMs?: number;
  /** Per connection and direction; 0 or undefined is unlimited. */
  bytesPerSec?: number;
}

export interface LinkStats {
  connections: number;
  cut: number;
  refused: number;
}

/** Forwards `from` to `to` in order, each chunk no earlier than delayMs after it arrived, paced to bytesPerSec. */
function pipeShaped(from: Socket, to: Socket, shape: LinkShape): void {
  const delay = shape.delayMs ?? 0;
  const rate = shape.bytesPerSec ?? 0;
  if (delay === 0 && rate === 0) {
    from.pipe(to);
    return;
  }
  let nextFree = 0; // when the shaped line is free again, ms
  let chain = Promise.resolve();
  from.on('data', (chunk: Buffer) => {
    const arrived = Date.now();
    const sendAt = Math.max(arrived + delay, nextFree);
    nextFree = sendAt + (rate > 0 ? (chunk.length * 1000) / rate : 0);
    // Chained so a small chunk never overtakes a big one.
    chain = chain.then(
      () =>
        new Promise<void>((resolve) => {
          setTimeout(() => {
            if (!to.destroyed) to.write(chunk);
            resolve();
          }, Math.max(0, sendAt - Date.now()));
        }),
    );
  });
  from.on('end', () => void chain.then(() => to.end()));
}

export class LinkProxy {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  private readonly clients = new Set<Socket>();
  private up = true;
  readonly stats: LinkStats = { connections: 0, cut: 0, refused: 0 };

  constructor(
    private readonly target: { host: string; port: number },
    private readonly shape: LinkShape = {},
  ) {}

  async start(): Promise<number> {
    this.server = createServer((client) => this.accept(client));
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    return (this.server!.address() as AddressInfo).port;
  }

  private accept(client: Socket): void {
    if (!this.up) {
      this.stats.refused++;
      client.destroy();
      return;
    }
    this.stats.connections++;
    this.clients.add(client);
    client.on('close', () => this.clients.delete(client));
    const upstream = connect(this.target.port, this.target.host);
    for (const s of [client, upstream]) {
      this.sockets.add(s);
      s.setNoDelay(true);
      s.on('error', () => undefined);
      s.on('close', () => {
        this.sockets.delete(s);
        client.destroy();
        upstream.destroy();
      });
    }
    pipeShaped(client, upstream, this.shape);
    pipeShaped(upstream, client, this.shape);
  }

  get isUp(): boolean {
    return this.up;
  }

  /** The uplink fails: open connections are cut and new ones refused until up(). */
  down(): void {
    this.up = false;
    this.stats.cut += this.clients.size;
    for (const s of this.sockets) s.destroy();
  }

  restore(): void {
    this.up = true;
  }

  async stop(): Promise<void> {
    this.down();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}
