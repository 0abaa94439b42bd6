// The dashboard's live feed over Server-Sent Events (/events). Every interval
// it builds one JSON snapshot from named sources and sends it to every open
// page. A new source is one addSource() call, and the page gets it as a field
// of the same snapshot: a panel reads `snapshot.<name>`.
// The timer runs only while a page is open, so an unwatched bridge pays nothing.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';

export type SnapshotSource = () => unknown;

/** A page that reads slower than we write is dropped rather than buffered without bound. */
const MAX_BUFFERED_BYTES = 1024 * 1024;

export class LiveFeed {
  private readonly sources = new Map<string, SnapshotSource>();
  private readonly clients = new Set<ServerResponse>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    readonly intervalMs: number,
    private readonly log?: Logger,
  ) {}

  /** Adds (or replaces) a field of every snapshot. Names `at` and `intervalMs` are taken. */
  addSource(name: string, source: SnapshotSource): this {
    if (name === 'at' || name === 'intervalMs') throw new Error(`live feed source name '${name}' is reserved`);
    this.sources.set(name, source);
    return this;
  }

  get clientCount(): number {
    return this.clients.size;
  }

  snapshot(): Record<string, unknown> {
    const snap: Record<string, unknown> = { at: Date.now(), intervalMs: this.intervalMs };
    for (const [name, source] of this.sources) {
      try {
        snap[name] = source();
      } catch (err) {
        // One broken source must not blank the whole page.
        snap[name] = { error: (err as Error).message };
        this.log?.warn({ err, source: name }, 'live feed source failed');
      }
    }
    return snap;
  }

  /** Handles GET /events: keeps the response open and streams snapshots. */
  attach(req: IncomingMessage, res: ServerResponse): void {
    res.writeHead(200, {
      'content-type': 'text/event-stream',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    res.write(`retry: 2000\n\n`);
    this.clients.add(res);
    const drop = () => {
      this.clients.delete(res);
      if (this.clients.size === 0) this.stopTimer();
    };
    req.on('close', drop);
    res.on('error', drop);
    this.send(res, this.snapshot());
    if (!this.timer) this.timer = setInterval(() => this.broadcast(), this.intervalMs);
  }

  /** Sends one snapshot now (also used by tests and after important changes). */
  broadcast(): void {
    if (this.clients.size === 0) return;
    const data = this.snapshot();
    for (const res of this.clients) this.send(res, data);
  }

  close(): void {
    this.stopTimer();
    for (const res of this.clients) res.end();
    this.clients.clear();
  }

  private send(res: ServerResponse, data: unknown): void {
    if (res.writableLength > MAX_BUFFERED_BYTES) {
      this.log?.warn('dashboard client too slow; closing its feed (the page reconnects)');
      this.clients.delete(res);
      res.destroy();
      return;
    }
    res.write(`event: snapshot\ndata: ${JSON.stringify(data)}\n\n`);
  }

  private stopTimer(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
