// The bridge under test, as its own process: `edge-bridge start -c <config>`, exactly
// as deployed, with a generated config. RSS/CPU come from its pid; the store backlog
// from its /metrics.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnLogged } from './logged-process.ts';

export interface BridgeProcess {
  pid: number;
  mqttPort: number;
  httpPort: number;
  storeRecords(): Promise<number>;
  /** Heap, external and array-buffer bytes from the bridge's own default metrics, MB. */
  memory(): Promise<{ rss: number; heapTotal: number; heapUsed: number; external: number }>;
  /** Sum and count of each named histogram (unlabelled), from /metrics. */
  histograms(names: string[]): Promise<Record<string, { sum: number; count: number }>>;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/** The Environment= settings of the systemd unit, e.g. { NODE_OPTIONS: '--max-semi-space-size=8 ...', MALLOC_ARENA_MAX: '2' }. */
export function deployedEnvironment(root: string): Record<string, string> {
  const unit = readFileSync(join(root, 'deploy/systemd/edge-bridge.service'), 'utf8');
  const env: Record<string, string> = {};
  for (const m of unit.matchAll(/^Environment=(?:"([^"\n]*)"|(\S+))$/gm)) {
    const [k, ...v] = (m[1] ?? m[2]!).split('=');
    env[k!] = v.join('=');
  }
  return env;
}

/** The NODE_OPTIONS the systemd unit runs the bridge with. */
export function deployedNodeOptions(root: string): string[] {
  return deployedEnvironment(root).NODE_OPTIONS?.trim().split(/\s+/) ?? [];
}

export async function startBridge(opts: { root: string; dir: string; name: string; config: Record<string, unknown>; httpPort: number; mqttPort: number; nodeArgs?: string[] }): Promise<BridgeProcess> {
  mkdirSync(opts.dir, { recursive: true });
  const cfgFile = join(opts.dir, `${opts.name}.json`);
  const logFile = join(opts.dir, `${opts.name}.log`);
  writeFileSync(cfgFile, JSON.stringify(opts.config, null, 2));
  // As deployed: the systemd unit's NODE_OPTIONS (heap settings), plus BENCH_BRIDGE_NODE_ARGS,
  // e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof" to profile the bridge under test.
  const nodeArgs = [...deployedNodeOptions(opts.root), ...(process.env.BENCH_BRIDGE_NODE_ARGS ?? '').split(' ').filter(Boolean), ...(opts.nodeArgs ?? [])];
  const profiling = nodeArgs.some((a) => a.startsWith('--cpu-prof') || a.startsWith('--heap-prof'));
  // The unit's other settings (MALLOC_ARENA_MAX) too; its NODE_OPTIONS are passed as arguments above.
  const { NODE_OPTIONS: _asArgs, ...unitEnv } = deployedEnvironment(opts.root);
  const { child, exited, exit } = spawnLogged(process.execPath, [...nodeArgs, join(opts.root, 'bridge/bin/edge-bridge.js'), 'start', '-c', cfgFile], {
    cwd: opts.dir,
    env: { ...process.env, ...unitEnv },
    logFile,
  });
  const deadline = Date.now() + 120_000;
  for (;;) {
    if (exited() !== undefined) throw new Error(`bridge ${opts.name} exited (${exited()}) before ready:\n${readFileSync(logFile, 'utf8').slice(-3000)}`);
    if (readFileSync(logFile, 'utf8').includes('"msg":"bridge ready"')) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`bridge ${opts.name} not ready in 120 s:\n${readFileSync(logFile, 'utf8').slice(-3000)}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  const metricsUrl = `http://127.0.0.1:${opts.httpPort}/metrics`;
  return {
    pid: child.pid!,
    mqttPort: opts.mqttPort,
    httpPort: opts.httpPort,
    async storeRecords() {
      const text = await (await fetch(metricsUrl)).text();
      const m = /^edge_store_records (\S+)$/m.exec(text);
      return m ? Number(m[1]) : NaN;
    },
    async histograms(names: string[]) {
      const text = await (await fetch(metricsUrl)).text();
      const read = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1]);
      return Object.fromEntries(names.map((n) => [n, { sum: read(`${n}_sum`), count: read(`${n}_count`) }]));
    },
    async memory() {
      const text = await (await fetch(metricsUrl)).text();
      const pick = (name: string) => Number(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text)?.[1]) / 1024 / 1024;
      return {
        rss: pick('process_resident_memory_bytes'),
        heapTotal: pick('nodejs_heap_size_total_bytes'),
        heapUsed: pick('nodejs_heap_size_used_bytes'),
        external: pick('nodejs_external_memory_bytes'),
      };
    },
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (exited() !== undefined) return;
      // A profile is written at exit: a SIGKILL would lose it.
      child.kill(profiling ? 'SIGTERM' : signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      await exit;
      clearTimeout(timer);
    },
  };
}

/** A bridge config for the bench: everything on the bench's private brokers, one queue, the default rule. */
export function benchBridgeConfig(o: {
  amqpUrl: string;
  dir: string;
  httpPort: number;
  mqtt: { mode: 'embedded'; port: number } | { mode: 'external'; url: string; clientId: string; topics: string[] };
  topology: Record<string, unknown>;
}): Record<string, unknown> {
  return {
    mqtt:
      o.mqtt.mode === 'embedded'
        ? // The per-device rate limit (200/s by default) is not the bridge's capacity: off for the bench's max-rate devices.
          { mode: 'embedded', embedded: { host: '127.0.0.1', port: o.mqtt.port, limits: { publishesPerSecond: 0 } } }
        : { mode: 'external', external: { url: o.mqtt.url, clientId: o.mqtt.clientId, topics: o.mqtt.topics } },
    amqp: { urls: [o.amqpUrl], topology: o.topology, reconnect: { initialMs: 200, maxMs: 1000 } },
    store: { dir: join(o.dir, 'store') },
    quarantine: { dir: join(o.dir, 'quarantine') },
    http: { host: '127.0.0.1', port: o.httpPort },
    queueHealth: { enabled: false },
    log: { level: 'info' },
  };
}
