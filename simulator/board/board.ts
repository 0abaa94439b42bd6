// The browser board: one ESP32 node drawn with @wokwi/elements whose logic is the real
// firmware core (edge_core.wasm) running in the page. The page speaks MQTT over WebSocket
// to the bridge (mqtt.js's browser build); this server only serves the page, the module,
// the vendored scripts and the node's settings. Its sensors are the page's sliders and
// knob, "Drop Wi-Fi" cuts the link, and commands arrive through the core's parser.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AddressInfo } from 'node:net';
import { build } from 'esbuild';
import { WASM_PATH } from '../nodes/wasm-node.ts';

export interface BoardOptions {
  /** The bridge's MQTT-over-WebSocket listener, ws://host:port/path. */
  wsUrl: string;
  device: string;
  prefix?: string;
  /** The device's login, when the bridge has logins on. */
  username?: string;
  password?: string;
  host?: string;
  port?: number;
  intervalMs?: number;
  batchSize?: number;
  firmware?: string;
  /** Injected readings (one row per sample, one value per sensor), replayed in a loop, instead of the controls. */
  readings?: number[][];
  /** Fixed clock, as edge-node --clock-start. */
  clockStartMs?: number;
}

/** What the page reads from /config.json. */
export interface BoardConfig {
  wsUrl: string;
  device: string;
  prefix: string;
  username?: string;
  password?: string;
  intervalMs: number;
  batchSize: number;
  firmware: string;
  sensors: string[];
  readings?: number[][];
  clockStartMs?: number;
}

const HERE = dirname(fileURLToPath(import.meta.url));
const PUBLIC = join(HERE, 'public');
const require = createRequire(import.meta.url);
const WOKWI_BUNDLE = join(dirname(require.resolve('@wokwi/elements/package.json')), 'dist', 'wokwi-elements.bundle.js');
const MQTT_BROWSER = join(dirname(require.resolve('mqtt/package.json')), 'dist', 'mqtt.min.js');
const JS = 'text/javascript; charset=utf-8';

export class Board {
  private server: Server | undefined;
  private files = new Map<string, { body: Buffer | string; type: string }>();

  constructor(private readonly o: BoardOptions) {}

  config(): BoardConfig {
    const o = this.o;
    return {
      wsUrl: o.wsUrl, device: o.device, prefix: o.prefix ?? 'factory/floor1', username: o.username, password: o.password,
      intervalMs: o.intervalMs ?? 500, batchSize: o.batchSize ?? 6, firmware: o.firmware ?? 'board-1.0.0',
      sensors: ['temperature', 'humidity', 'pot'], readings: o.readings, clockStartMs: o.clockStartMs,
    };
  }

  async start(): Promise<string> {
    // The page script and wasm-core.ts, bundled once at start (esbuild, ~50 ms): no build step to forget.
    const bundle = await build({ entryPoints: [join(HERE, 'page.ts')], bundle: true, format: 'esm', platform: 'browser', target: 'es2022', write: false, logLevel: 'silent' });
    this.files = new Map<string, { body: Buffer | string; type: string }>([
      ['/', { body: readFileSync(join(PUBLIC, 'index.html')), type: 'text/html; charset=utf-8' }],
      ['/page.js', { body: bundle.outputFiles[0]!.text, type: JS }],
      ['/edge_core.wasm', { body: readWasm(), type: 'application/wasm' }],
      ['/vendor/wokwi-elements.js', { body: readFileSync(WOKWI_BUNDLE), type: JS }],
      ['/vendor/mqtt.min.js', { body: readFileSync(MQTT_BROWSER), type: JS }],
      ['/config.json', { body: JSON.stringify(this.config()), type: 'application/json' }],
    ]);
    this.server = createServer((req, res) => this.route(req, res));
    await new Promise<void>((resolve) => this.server!.listen(this.o.port ?? 0, this.o.host ?? '127.0.0.1', resolve));
    const { port } = this.server!.address() as AddressInfo;
    return `http://${this.o.host ?? '127.0.0.1'}:${port}/`;
  }

  private route(req: IncomingMessage, res: ServerResponse): void {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const file = req.method === 'GET' ? this.files.get(path) : undefined;
    if (!file) {
      res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: `no route ${req.method} ${path}` }));
      return;
    }
    res.writeHead(200, { 'content-type': file.type, 'cache-control': 'no-cache' }).end(file.body);
  }

  async stop(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    if (!s) return;
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }
}

function readWasm(): Buffer {
  try {
    return readFileSync(WASM_PATH);
  } catch (err) {
    throw new Error(`cannot read ${WASM_PATH}: build it with make -C firmware wasm (${(err as Error).message})`, { cause: err });
  }
}
