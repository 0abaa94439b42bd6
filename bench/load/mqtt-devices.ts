// Load generator: many MQTT devices in one process, publishing QoS1 batches.
// Commands: connect, run (max or paced rate), trickle (one batch per client per interval), exit.
import { createConnection } from 'node:net';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { serve } from '../lib/worker.ts';
import { batchPayload, deviceId, logSend, newSendLog, pace, topicFor, type SendLog } from './payload.ts';

interface Setup {
  url: string;
  clients: number;
  /** Topic prefix, two levels: `bench/<run>`. */
  prefix: string;
  clientIdPrefix: string;
  username?: string;
  password?: string;
  /** Connections opened per second (so 10k clients do not arrive in one burst). */
  connectPerSec?: number;
  keepalive?: number;
  /**
   * Spread the connections over this many loopback source addresses (127.0.<n>.<k>), as devices
   * on a network have their own; the bridge caps connections per address. 0: the default one.
   */
  sourceAddresses?: number;
  /** Distinguishes the source addresses of several generator processes. */
  sourceBlock?: number;
}

interface Device {
  client: MqttClient;
  inFlight: number;
  seq: number;
}

let setup: Setup;
let devices: Device[] = [];
let waiters: Array<() => void> = [];
let errors = 0;
let lastError = '';

function wake(): void {
  const w = waiters;
  waiters = [];
  for (const f of w) f();
}

async function connect(args: Setup): Promise<{ connected: number; ms: number }> {
  setup = args;
  const started = Date.now();
  const perSec = args.connectPerSec ?? 2000;
  const connecting: Promise<void>[] = [];
  for (let i = 0; i < args.clients; i++) {
    const options: IClientOptions = {
      clientId: `${args.clientIdPrefix}-${i}`,
      clean: true,
      keepalive: args.keepalive ?? 60,
      reconnectPeriod: 1000,
      connectTimeout: 60_000,
      username: args.username,
      password: args.password,
      protocolVersion: 4,
    };
    const spread = args.sourceAddresses ?? 0;
    let client: MqttClient;
    if (spread > 0) {
      // mqtt.js has no localAddress option: the client takes our own stream instead.
      const { hostname, port } = new URL(args.url);
      const localAddress = `127.${1 + (args.sourceBlock ?? 0)}.${1 + (i % spread)}.1`;
      client = new mqtt.MqttClient(() => createConnection({ host: hostname, port: Number(port), localAddress }), options);
    } else {
      client = mqtt.connect(args.url, options);
    }
    client.on('error', (err) => {
      errors++;
      lastError = err.message;
    });
    devices.push({ client, inFlight: 0, seq: 0 });
    connecting.push(new Promise((r) => client.once('connect', () => r())));
    if ((i + 1) % Math.max(1, Math.floor(perSec / 20)) === 0) await new Promise((r) => setTimeout(r, 50));
  }
  await Promise.all(connecting);
  return { connected: devices.filter((d) => d.client.connected).length, ms: Date.now() - started };
}

function publisher(phase: string, window: number, total: number, sends?: SendLog) {
  let rr = 0;
  const counts = { sent: 0, acked: 0, failed: 0 };
  const trySend = (): boolean => {
    if (counts.sent >= total) return false;
    for (let tries = 0; tries < devices.length; tries++) {
      const i = rr++ % devices.length;
      const d = devices[i]!;
      if (d.inFlight >= window || !d.client.connected) continue;
      const device = deviceId(phase, i);
      d.inFlight++;
      counts.sent++;
      d.seq++;
      logSend(sends, i, d.seq);
      d.client.publish(topicFor(setup.prefix, device), batchPayload(device, d.seq), { qos: 1 }, (err) => {
        d.inFlight--;
        if (err) counts.failed++;
        else counts.acked++;
        wake();
      });
      return true;
    }
    return false;
  };
  return { counts, trySend };
}

async function run(args: { phase: string; rate: number; durationMs: number; window?: number; total?: number }) {
  const total = args.total ?? Infinity;
  const sends = args.rate > 0 ? newSendLog() : undefined;
  const { counts, trySend } = publisher(args.phase, args.window ?? Number(process.env.BENCH_WINDOW ?? 20), total, sends);
  await pace({
    rate: args.rate,
    durationMs: args.durationMs,
    trySend,
    done: () => counts.sent >= total,
    windowFree: () => new Promise<void>((r) => {
      waiters.push(r);
      setTimeout(r, 5);
    }),
  });
  // Let the window settle so `acked` is final for this phase.
  const deadline = Date.now() + 30_000;
  while (devices.some((d) => d.inFlight > 0) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  return { ...counts, errors, lastError, sends };
}

/** Every client publishes one batch per `intervalMs`, spread evenly, for `durationMs`. */
async function trickle(args: { phase: string; intervalMs: number; durationMs: number }) {
  const rate = (devices.length * 1000) / args.intervalMs;
  return run({ phase: args.phase, rate, durationMs: args.durationMs, window: 1 });
}

serve({
  connect,
  run,
  trickle,
  async exit() {
    await Promise.all(devices.map((d) => new Promise<void>((r) => d.client.end(true, {}, () => r()))));
    devices = [];
  },
});
