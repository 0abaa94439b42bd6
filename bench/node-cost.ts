// What a fleet of virtual nodes costs: N TypeScript nodes (virtual-node.ts) against N
// firmware cores (edge_core.wasm through wasm-node.ts), each kind in its own process, CPU
// and RSS read from /proc over a steady window. The broker is a bare aedes that PUBACKs at
// once, the same for both, so the figure is the nodes' own cost.
//   node --import tsx bench/node-cost.ts [--devices 500] [--seconds 30] [--rounds 2]
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Aedes } from 'aedes';
import { sampleProcess } from './lib/proc-stats.ts';

type Kind = 'ts' | 'wasm';
const { values: args } = parseArgs({
  options: {
    devices: { type: 'string', default: '500' },
    seconds: { type: 'string', default: '30' },
    warmup: { type: 'string', default: '15' },
    rounds: { type: 'string', default: '2' },
    child: { type: 'string' },
    port: { type: 'string' },
    dir: { type: 'string' },
  },
});
const devices = Number(args.devices);
// One batch a second per node: 2 sensors every 250 ms, 8 readings a batch.
const INTERVAL_MS = 250;
const BATCH_READINGS = 8;

async function child(kind: Kind, port: number, dir: string): Promise<void> {
  const url = `mqtt://127.0.0.1:${port}`;
  const stops: Array<() => Promise<void>> = [];
  if (kind === 'ts') {
    const { VirtualNode } = await import('../simulator/nodes/virtual-node.ts');
    for (let i = 0; i < devices; i++) {
      const n = new VirtualNode({ url, device: `cost-ts-${i}`, stateDir: join(dir, `ts-${i}`), intervalMs: INTERVAL_MS, batchSize: BATCH_READINGS, seed: i + 1 });
      n.start();
      stops.push(() => n.stop(true));
    }
  } else {
    const { startWasmNode } = await import('../simulator/nodes/wasm-node.ts');
    for (let i = 0; i < devices; i++) {
      const core = await startWasmNode({
        url, device: `cost-wasm-${i}`, stateDir: join(dir, `wasm-${i}`), sensors: ['temperature', 'humidity'],
        intervalMs: INTERVAL_MS, batchSize: BATCH_READINGS, readSensor: (index) => Math.round((21 + index * 24 + Math.random()) * 100) / 100,
      });
      stops.push(() => core.stop(true));
    }
  }
  process.send?.('started');
  // BENCH_PROFILE_DIR: a CPU profile of the measured window only (startup excluded).
  const profileDir = process.env.BENCH_PROFILE_DIR;
  if (profileDir) {
    const { Session } = await import('node:inspector/promises');
    const { writeFileSync } = await import('node:fs');
    const session = new Session();
    session.connect();
    await session.post('Profiler.enable');
    process.on('message', async (m) => {
      if (m === 'window-start') await session.post('Profiler.start');
      if (m === 'window-end') {
        const { profile } = await session.post('Profiler.stop');
        writeFileSync(join(profileDir, `${kind}-${process.pid}.cpuprofile`), JSON.stringify(profile));
        process.send?.('profiled');
      }
    });
  }
  process.once('SIGTERM', () => void Promise.all(stops.map((s) => s())).then(() => process.exit(0)));
}

async function measure(kind: Kind, port: number, dir: string, acked: () => number): Promise<{ cpu: number; rssMb: number; batchesPerSec: number }> {
  // BENCH_CHILD_NODE_ARGS: e.g. --cpu-prof, to see where a kind's CPU goes.
  const extra = (process.env.BENCH_CHILD_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const c: ChildProcess = spawn(process.execPath, [...extra, '--import', 'tsx', new URL(import.meta.url).pathname, '--child', kind, '--port', String(port), '--dir', dir, '--devices', String(devices)], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  await new Promise<void>((resolve, reject) => {
    c.once('message', () => resolve());
    c.once('exit', (code) => reject(new Error(`${kind} child exited with ${code}`)));
  });
  await new Promise((r) => setTimeout(r, Number(args.warmup) * 1000));
  const a0 = acked();
  const t0 = Date.now();
  const s = sampleProcess(c.pid!);
  c.send('window-start');
  await new Promise((r) => setTimeout(r, Number(args.seconds) * 1000));
  const r = s.stop();
  if (process.env.BENCH_PROFILE_DIR) {
    const done = new Promise((resolve) => c.once('message', resolve));
    c.send('window-end');
    await done;
  }
  const batchesPerSec = (acked() - a0) / ((Date.now() - t0) / 1000);
  c.kill('SIGTERM');
  await new Promise((resolve) => c.once('exit', resolve));
  return { cpu: r.cpu, rssMb: r.lastRss / 1e6, batchesPerSec };
}

async function main(): Promise<void> {
  if (args.child) return child(args.child as Kind, Number(args.port), args.dir!);
  const dir = mkdtempSync(join(tmpdir(), 'node-cost-'));
  const broker = await Aedes.createBroker();
  let telemetry = 0;
  broker.on('publish', (packet, client) => {
    if (client && packet.topic.endsWith('/telemetry')) telemetry++;
  });
  const server = createServer(broker.handle);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const rows: Array<{ kind: Kind; cpu: number; rssMb: number; batchesPerSec: number }> = [];
  try {
    for (let round = 0; round < Number(args.rounds); round++) {
      for (const kind of ['ts', 'wasm'] as const) {
        const r = await measure(kind, port, dir, () => telemetry);
        rows.push({ kind, ...r });
        process.stdout.write(`round ${round + 1} ${kind.padEnd(4)} ${devices} nodes: CPU ${(r.cpu * 100).toFixed(1)} % of a core, RSS ${r.rssMb.toFixed(0)} MB, ${r.batchesPerSec.toFixed(0)} batches/s\n`);
      }
    }
  } finally {
    server.close();
    await new Promise<void>((resolve) => broker.close(() => resolve()));
    rmSync(dir, { recursive: true, force: true });
  }
  const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)]!;
  const of = (kind: Kind, k: 'cpu' | 'rssMb') => median(rows.filter((r) => r.kind === kind).map((r) => r[k]));
  process.stdout.write(`wasm/ts: CPU ${(of('wasm', 'cpu') / of('ts', 'cpu')).toFixed(2)}x, RSS ${(of('wasm', 'rssMb') / of('ts', 'rssMb')).toFixed(2)}x (rule: use the wasm core in the fleet if both <= 1.5x)\n`);
}

await main();
