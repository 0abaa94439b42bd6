// One virtual node on a page: its sensors are the page's controls, its LEDs show
// the node's Wi-Fi and MQTT state, and the downlink commands it applies are listed.
// The node is a TS VirtualNode; "Wi-Fi" is a LinkProxy between it and the bridge.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AddressInfo } from 'node:net';
import { VirtualNode } from '../nodes/virtual-node.ts';
import { LinkProxy } from '../fleet/link-proxy.ts';
import type { Command } from '../../bridge/src/codec/index.ts';

export interface BoardOptions {
  /** The bridge's MQTT listener, mqtt://host:port. */
  bridgeUrl: string;
  device: string;
  prefix?: string;
  stateDir: string;
  host?: string;
  port?: number;
  intervalMs?: number;
}

export interface SensorValues {
  temperature: number;
  humidity: number;
  /** Potentiometer position, 0..100 %. */
  pot: number;
}

export interface BoardState {
  device: string;
  boot: number;
  wifi: boolean;
  mqtt: boolean;
  values: SensorValues;
  settings: { intervalMs: number; batchSize: number };
  acked: number;
  lastBatch?: { seq: number; at: number; readings: Array<{ sensor: string; value: number }> };
  commands: Array<{ at: string; id: number; op: string; arg: number }>;
}

const PUBLIC = join(dirname(fileURLToPath(import.meta.url)), 'public');
const WOKWI_BUNDLE = join(dirname(createRequire(import.meta.url).resolve('@wokwi/elements/package.json')), 'dist', 'wokwi-elements.bundle.js');
const STATIC: Record<string, { file: string; type: string }> = {
  '/': { file: join(PUBLIC, 'index.html'), type: 'text/html; charset=utf-8' },
  '/board.js': { file: join(PUBLIC, 'board.js'), type: 'text/javascript; charset=utf-8' },
  '/vendor/wokwi-elements.js': { file: WOKWI_BUNDLE, type: 'text/javascript; charset=utf-8' },
};

const RANGES: Record<keyof SensorValues, [number, number]> = { temperature: [-40, 80], humidity: [0, 100], pot: [0, 100] };

/** Checks a sensor update from the page; returns the problem, or undefined. */
export function checkSensorUpdate(body: unknown): string | undefined {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return 'expected a JSON object';
  for (const [k, v] of Object.entries(body)) {
    const range = RANGES[k as keyof SensorValues];
    if (!range) return `unknown sensor '${k}' (temperature, humidity, pot)`;
    if (typeof v !== 'number' || !Number.isFinite(v) || v < range[0] || v > range[1]) return `${k} must be a number in ${range[0]}..${range[1]}, got ${JSON.stringify(v)}`;
  }
  return undefined;
}

export class Board {
  readonly values: SensorValues = { temperature: 22.5, humidity: 45, pot: 50 };
  private node!: VirtualNode;
  private link!: LinkProxy;
  private server: Server | undefined;
  private readonly clients = new Set<ServerResponse>();
  private readonly commands: BoardState['commands'] = [];
  private lastBatch: BoardState['lastBatch'];
  private pushTimer: NodeJS.Timeout | undefined;

  constructor(private readonly o: BoardOptions) {}

  async start(): Promise<string> {
    const target = new URL(this.o.bridgeUrl);
    this.link = new LinkProxy({ host: target.hostname, port: Number(target.port || 1883) });
    const linkPort = await this.link.start();
    this.node = new VirtualNode({
      url: `mqtt://127.0.0.1:${linkPort}`, device: this.o.device, prefix: this.o.prefix, stateDir: this.o.stateDir,
      intervalMs: this.o.intervalMs ?? 500, batchSize: 6, fw: 'board-1.0.0',
      sensors: () => {
        const readings = [
          { sensor: 'temperature', value: this.values.temperature },
          { sensor: 'humidity', value: this.values.humidity },
          { sensor: 'pot', value: this.values.pot },
        ];
        return readings;
      },
      onBatch: (seq, readings) => {
        this.lastBatch = { seq, at: Date.now(), readings: readings.map(({ sensor, value }) => ({ sensor, value })) };
        this.push();
      },
      onCommand: (cmd: Command) => {
        this.commands.unshift({ at: new Date().toISOString(), id: cmd.id, op: cmd.op, arg: cmd.arg });
        this.commands.length = Math.min(this.commands.length, 20);
        this.push();
      },
      onState: () => this.push(),
    });
    this.node.start();
    this.server = createServer((req, res) => void this.route(req, res));
    await new Promise<void>((resolve) => this.server!.listen(this.o.port ?? 0, this.o.host ?? '127.0.0.1', resolve));
    // A heartbeat, so "acked" and the LEDs stay current even with no events.
    this.pushTimer = setInterval(() => this.push(), 1000);
    const { port } = this.server!.address() as AddressInfo;
    return `http://${this.o.host ?? '127.0.0.1'}:${port}/`;
  }

  state(): BoardState {
    return {
      device: this.o.device, boot: this.node.boot, wifi: this.link.isUp, mqtt: this.node.connected, values: { ...this.values },
      settings: this.node.settings, acked: this.node.acked, lastBatch: this.lastBatch, commands: this.commands,
    };
  }

  setValues(v: Partial<SensorValues>): void {
    Object.assign(this.values, v);
    this.push();
  }

  setWifi(on: boolean): void {
    if (on) this.link.restore();
    else this.link.down();
    this.push();
  }

  private push(): void {
    const data = `data: ${JSON.stringify(this.state())}\n\n`;
    for (const c of this.clients) c.write(data);
  }

  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    try {
      if (req.method === 'GET' && STATIC[path]) {
        const { file, type } = STATIC[path]!;
        res.writeHead(200, { 'content-type': type, 'cache-control': 'no-cache' }).end(readFileSync(file));
      } else if (req.method === 'GET' && path === '/events') {
        res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
        res.write(`data: ${JSON.stringify(this.state())}\n\n`);
        this.clients.add(res);
        req.once('close', () => this.clients.delete(res));
      } else if (req.method === 'GET' && path === '/api/state') {
        json(res, 200, this.state());
      } else if (req.method === 'POST' && path === '/api/sensors') {
        const body = await readJson(req);
        const problem = checkSensorUpdate(body);
        if (problem) return json(res, 400, { error: problem });
        this.setValues(body as Partial<SensorValues>);
        json(res, 200, this.state());
      } else if (req.method === 'POST' && path === '/api/wifi') {
        const body = (await readJson(req)) as { on?: unknown };
        if (typeof body?.on !== 'boolean') return json(res, 400, { error: 'expected {"on": true|false}' });
        this.setWifi(body.on);
        json(res, 200, this.state());
      } else {
        json(res, 404, { error: `no route ${req.method} ${path}` });
      }
    } catch (err) {
      json(res, 400, { error: (err as Error).message });
    }
  }

  async stop(): Promise<void> {
    clearInterval(this.pushTimer);
    for (const c of this.clients) c.end();
    this.clients.clear();
    this.link.restore();
    await this.node.stop(true);
    await this.link.stop();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  let text = '';
  for await (const chunk of req) {
    text += chunk;
    if (text.length > 4096) throw new Error('request body over 4 KiB');
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new Error('request body is not JSON');
  }
}
