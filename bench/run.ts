// npm run bench [-- --quick]
// Issue #9's benchmark: this bridge against its peers, in one run, on one private
// RabbitMQ node owned by the bench, reported as ratios (the box is shared and noisy,
// so only figures from the same run are compared). Every scenario carries the same
// shared-protocol batches (16 readings) into the same durable queue, and one consumer
// process counts them and measures publish-to-receipt latency. Load generators run in
// their own processes; the bridge runs as `edge-bridge start`, as deployed.
//   1 ceiling   amqplib straight to the exchange, pool of confirm channels, windowed
//   2 bridge    embedded MQTT ingress, durable store, confirms
//   3 external  the bridge as a client of a private Mosquitto, offered scenario 2's rate
//   4 plugin    RabbitMQ's MQTT plugin on the bench's node, QoS1
//   5 naive     Mosquitto subscriber awaiting each confirm (the tutorial bridge)
//   6 nodered   Node-RED 4.1, mqtt in -> amqp out (node-red-contrib-amqp: no confirms), from
//               bench/peers/node-red: installed on first use by full runs, by hand for --quick
// plus drain of a 1M backlog under live traffic (200k with --quick), 10k idle
// connections (2k with --quick), the firmware figures, and the store backends.
// Outputs: a table, bench/results/<date>.json and .svg, and (full runs) README.md.
import { spawnSync } from 'node:child_process';
import { closeSync, fdatasyncSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import amqp from 'amqplib';
import mqtt from 'mqtt';
import { startPrivateRabbit, type PrivateRabbit } from '../shared/testkit/rabbit-node.ts';
import { startPrivateMosquitto, type PrivateMosquitto } from '../shared/testkit/mosquitto.ts';
import { freePort } from '../shared/testkit/ports.ts';
import { bridgeConfigSchema } from '../bridge/src/config/schema.ts';
import { topologyFromConfig } from '../bridge/src/compose.ts';
import { declareTopology } from '../bridge/src/egress/amqp/index.ts';
import { Worker } from './lib/worker.ts';
import { sampleCpu, sampleProcess, rssBytes, type CpuShare, type ProcSample } from './lib/proc-stats.ts';
import { summariseProfile } from './lib/profile-summary.ts';
import { benchBridgeConfig, startBridge, type BridgeProcess } from './lib/bridge-process.ts';
import { INSTALL_HINT, installNodeRed, installedNodeRed, startNodeRed, type NodeRedProcess, type NodeRedVersions } from './lib/node-red.ts';
import { TARGETS, consoleReport, markdownReport, median, svgChart, updateReadme, verdict, type ProfileRow, type ScenarioRow, type LatencyStages, type TargetRow, type TargetSpec } from './lib/report.ts';
import { READINGS_PER_BATCH, batchPayload, deviceId, topicFor, type SendLog } from './load/payload.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const quick = process.argv.includes('--quick');
// --only=embedded,drain runs a subset (for profiling one scenario); targets needing the rest are skipped.
// Names: firmware store ceiling plugin embedded external naive nodered profile drain scale. --profile adds the
// profiled phase to a quick run.
const only = process.argv.find((a) => a.startsWith('--only='))?.slice(7).split(',');
// --baseline-root=<checkout> runs scenario 2 a second time per round with the bridge of another
// checkout (e.g. a git worktree of an older commit): old against new in one run.
const baselineRoot = process.argv.find((a) => a.startsWith('--baseline-root='))?.slice('--baseline-root='.length);
// --bridge-root=<checkout> puts another checkout's bridge in every scenario that runs this bridge (bisecting a change).
const bridgeRoot = process.argv.find((a) => a.startsWith('--bridge-root='))?.slice('--bridge-root='.length);
const want = (name: string) => !only || only.includes(name);
const P = quick
  ? { rounds: Number(process.env.BENCH_ROUNDS ?? 1), tputMs: 3000, warmMs: 1000, latMs: 2000, settleMs: 8000, drainN: Number(process.env.BENCH_DRAIN_N ?? 200_000), scaleConns: Number(process.env.BENCH_SCALE_CONNS ?? 2000), scaleProcs: 2, trickleMs: 4000, devices: 50 }
  : { rounds: Number(process.env.BENCH_ROUNDS ?? 3), tputMs: 10_000, warmMs: 3000, latMs: 8000, settleMs: 60_000, drainN: 1_000_000, scaleConns: 10_000, scaleProcs: 4, trickleMs: 20_000, devices: 50 };
// BENCH_COST_RATE=<msg/s>: see cost().
const COST_RATE = Number(process.env.BENCH_COST_RATE ?? 0);
const RUN = `b${Date.now().toString(36)}`;
const PREFIX = `bench/${RUN}`;
const KEY_PREFIX = `bench.${RUN}`;
const QUEUE = 'bench.all';
const EXCHANGE = 'bench.telemetry';
const started = Date.now();
const workDir = mkdtempSync(join(tmpdir(), 'edge-bench-'));

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const mb = (bytes: number) => bytes / 1024 / 1024;
function progress(msg: string): void {
  const s = Math.round((Date.now() - started) / 1000);
  process.stderr.write(`[bench ${String(Math.floor(s / 60)).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}] ${msg}\n`);
}
async function waitUntil(what: string, cond: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await cond()) return true;
    await sleep(200);
  }
  progress(`  (gave up waiting: ${what})`);
  return false;
}

function make(args: string[], env: NodeJS.ProcessEnv = {}): string {
  progress(`make ${args.join(' ')}`);
  const r = spawnSync('make', args, { cwd: root, encoding: 'utf8', env: { ...process.env, ...env }, maxBuffer: 64 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`make ${args.join(' ')} failed (exit ${r.status}):\n${r.stdout}\n${r.stderr}`);
  return `${r.stdout}\n${r.stderr}`;
}

const targets: TargetRow[] = [];
const scenarios: ScenarioRow[] = [];
const raw: Record<string, unknown> = { run: RUN, quick, params: P };
const cleanups: Array<() => Promise<unknown>> = [];

// ------------------------------------------------------------------ firmware
function firmware(): void {
  const size = make(['-s', '-C', 'firmware', 'size']);
  const text = Number(/^\s*(\d+)\s+\d+\s+\d+\s+\d+\s+\w+\s+\(TOTALS\)/m.exec(size)?.[1]);
  const bss = Number(/(\d+) bytes bss/.exec(size)?.[1]);
  const cg = make(['-s', '-C', 'firmware', 'callgrind']);
  const perReading = Number(/(\d+) per reading/.exec(cg)?.[1]);
  raw.firmware = { textBytes: text, nodeStateBytes: bss, instructionsPerReading: perReading, sizeTable: size.trim() };
  process.stdout.write(`\nrv32imc size table (make -C firmware size):\n${size.trim()}\n\n`);
  targets.push({ what: 'Firmware core text (rv32imc)', target: '<= 24 KB', result: `${(text / 1024).toFixed(1)} KB`, met: text <= 24 * 1024 });
  targets.push({ what: 'Firmware static RAM (edge_node_t)', target: '<= 16 KB', result: `${(bss / 1024).toFixed(1)} KB`, met: bss <= 16 * 1024 });
  targets.push({ what: 'Encode + enqueue per reading (batch 16)', target: '<= 2000 instr', result: `${perReading} instr`, met: perReading <= 2000 });
}

// ------------------------------------------------------------------ the shared parts
let rabbit: PrivateRabbit;
let mosq: PrivateMosquitto;
let consumer: Worker;
let topology: ReturnType<typeof topologyFromConfig>;

async function brokers(): Promise<void> {
  progress('starting the bench RabbitMQ node (MQTT plugin on) and a private Mosquitto');
  const [r, m] = await Promise.all([startPrivateRabbit({ plugins: ['rabbitmq_mqtt'], label: 'bench' }), startPrivateMosquitto()]);
  rabbit = r;
  mosq = m;
  cleanups.push(() => rabbit.dispose(), () => mosq.dispose());
  // The same queue (and arguments) the bridge declares, so every scenario lands in it.
  topology = topologyFromConfig(bridgeConfigSchema.parse(bridgeConfig({ mode: 'embedded', port: 1 }, rabbit.amqpUrl, 'x', 1)));
  const conn = await amqp.connect(rabbit.amqpUrl);
  const ch = await conn.createChannel();
  await declareTopology(ch, topology);
  await ch.bindQueue(QUEUE, 'amq.topic', `${KEY_PREFIX}.#`);
  await conn.close();
  consumer = Worker.start(join(root, 'bench/load/consumer.ts'), 'consumer');
  cleanups.push(() => consumer.stop());
  await consumer.call('start', { url: rabbit.amqpUrl, queue: QUEUE });
}

function bridgeConfig(mqttCfg: Parameters<typeof benchBridgeConfig>[0]['mqtt'], amqpUrl: string, dir: string, httpPort: number) {
  return benchBridgeConfig({
    amqpUrl,
    dir,
    httpPort,
    mqtt: mqttCfg,
    topology: {
      exchange: EXCHANGE,
      alternateExchange: 'bench.unroutable',
      unroutableQueue: 'bench.unroutable',
      deadLetterExchange: 'bench.dlx',
      deadLetterQueue: 'bench.dlq',
      queues: [{ name: QUEUE, bindings: ['#'] }],
    },
  });
}

// The bench stops its bridges with SIGKILL: shutdown is not measured, the store is
// durable by design, and a graceful stop with a backlog waits out the forwarder's drain.
let bridgeCount = 0;
async function bridge(mqttCfg: Parameters<typeof benchBridgeConfig>[0]['mqtt'], amqpUrl = rabbit.amqpUrl, dir?: string, nodeArgs: string[] = [], checkout = bridgeRoot ?? root): Promise<BridgeProcess & { dir: string }> {
  const name = `bridge-${++bridgeCount}`;
  const bdir = dir ?? join(workDir, name);
  const httpPort = await freePort();
  const b = await startBridge({ root: checkout, dir: bdir, name, config: bridgeConfig(mqttCfg, amqpUrl, bdir, httpPort), httpPort, mqttPort: mqttCfg.mode === 'embedded' ? mqttCfg.port : 0, nodeArgs });
  cleanups.push(() => b.stop('SIGKILL'));
  return { ...b, dir: bdir };
}

async function devices(url: string, clients: number, label: string, extra: Record<string, unknown> = {}): Promise<Worker> {
  const w = Worker.start(join(root, 'bench/load/mqtt-devices.ts'), `devices-${label}`);
  cleanups.push(() => w.stop());
  const r = await w.call<{ connected: number; ms: number }>('connect', { url, clients, prefix: PREFIX, clientIdPrefix: `${RUN}-${label}`, ...extra });
  if (r.connected !== clients) throw new Error(`${label}: only ${r.connected}/${clients} clients connected`);
  return w;
}

const count = async (phase: string) => (await consumer.call<{ count: number }>('count', { phase })).count;

/** A device generator's load for one phase: `run(phase)(rate, durationMs)`, rate 0 being max rate. */
const phaseRunner = (gen: Worker) => (phase: string) => (rate: number, d: number) => gen.call<LoadResult>('run', { phase, rate, durationMs: d });
type PhaseRunner = ReturnType<typeof phaseRunner>;

interface LoadResult {
  sent: number;
  acked: number;
  failed: number;
  /** Paced phases: when each batch was sent (the consumer joins its receipts to it). */
  sends?: SendLog;
}

type Procs = Record<string, number | undefined>;

interface Tput {
  rate: number;
  load: LoadResult;
  proc?: ProcSample;
  cpu: CpuShare;
}

/** Max-rate phase: the consumer's receive rate after the warm-up is the sustained rate; CPU of every process over the same window. */
async function throughput(phase: string, load: (durationMs: number) => Promise<LoadResult>, procs: Procs): Promise<Tput> {
  progress(`  ${phase}: max rate for ${P.tputMs / 1000} s`);
  const t = Date.now();
  const running = load(P.tputMs);
  await sleep(P.warmMs);
  const underTest = procs['under test'];
  const sampler = underTest ? sampleProcess(underTest) : undefined;
  const cpuSampler = sampleCpu({ ...procs, RabbitMQ: rabbit.osPid, consumer: consumer.pid });
  const c0 = await count(phase);
  const t0 = Date.now();
  await sleep(Math.max(0, t + P.tputMs - Date.now()));
  const c1 = await count(phase);
  const t1 = Date.now();
  const cpu = cpuSampler.stop();
  const proc = sampler?.stop();
  const result = await running;
  const rate = ((c1 - c0) * 1000) / (t1 - t0);
  progress(`  ${phase}: ${rate.toFixed(0)} msg/s delivered (${result.acked} acknowledged to the sender), box ${(cpu.boxBusy * 100).toFixed(0)} % busy`);
  return { rate, load: result, proc, cpu };
}

interface Latency {
  rate: number;
  /** Batches the senders had acknowledged in the phase (all of them delivered before it returns). */
  acked: number;
  p50: number;
  p99: number;
  stages?: LatencyStages;
  /** CPU of every process on the path over the paced phase. */
  cpu: CpuShare;
}

const STAGE_HISTOGRAMS = ['edge_accept_to_durable_seconds', 'edge_accept_to_publish_seconds', 'edge_accept_to_confirm_seconds'];

/** Paced phase at `rate`: publish-to-receipt latency, skipping the first second. */
async function latency(phase: string, rate: number, load: (rate: number, durationMs: number) => Promise<LoadResult>, procs: Procs, bridgeUnderTest?: BridgeProcess): Promise<Latency> {
  progress(`  ${phase}: ${rate.toFixed(0)} msg/s for ${P.latMs / 1000} s (latency)`);
  const before = await bridgeUnderTest?.histograms(STAGE_HISTOGRAMS);
  await consumer.call('track', { phase });
  const cpuSampler = sampleCpu({ ...procs, RabbitMQ: rabbit.osPid, consumer: consumer.pid });
  const r = await load(rate, P.latMs);
  const cpu = cpuSampler.stop();
  await waitUntil(`${phase} delivered`, async () => (await count(phase)) >= r.acked, P.settleMs);
  const lat = await consumer.call<{ count: number; samples: number; p50: number; p99: number; meanAll: number; exact: boolean }>('latency', { phase, skip: Math.round(rate), sends: r.sends });
  progress(`  ${phase}: p50 ${lat.p50.toFixed(2)} ms, p99 ${lat.p99.toFixed(2)} ms over ${lat.samples} batches${lat.exact ? '' : ' (whole ms: no send log)'}`);
  let stages: LatencyStages | undefined;
  if (bridgeUnderTest && before) {
    const after = await bridgeUnderTest.histograms(STAGE_HISTOGRAMS);
    const meanMs = (name: string) => ((after[name]!.sum - before[name]!.sum) / (after[name]!.count - before[name]!.count)) * 1000;
    stages = { phase, deviceToReceived: lat.meanAll, acceptToDurable: meanMs(STAGE_HISTOGRAMS[0]!), acceptToPublish: meanMs(STAGE_HISTOGRAMS[1]!), acceptToConfirm: meanMs(STAGE_HISTOGRAMS[2]!) };
  }
  return { p50: lat.p50, p99: lat.p99, rate, acked: r.acked, stages, cpu };
}

/** One round of one scenario. */
interface Round {
  tput: Tput;
  lat: Latency;
  /** Scenario 2 only: latency at 50 % of the same round's plugin max. */
  atPluginRate?: Latency;
}

/** Every round of every scenario, by scenario key (s1..s6). */
const rounds: Record<string, Round[]> = {};
function record(key: string, r: Round): Round {
  (rounds[key] ??= []).push(r);
  return r;
}

/**
 * What a paced phase cost the box, median of rounds: "81 % busy (CPU µs per message: ...; 270 in
 * all)". Latency tails grow as the shared box nears saturation.
 */
function pathCostNote(phases: (Latency | undefined)[]): string {
  const ls = phases.filter((l): l is Latency => l !== undefined && l.acked > 0);
  if (ls.length === 0) return 'n/a';
  const us = Object.keys(ls[0]!.cpu.cores).map((name) => `${name} ${median(ls.map((l) => pacedUsPerMsg(l)[name] ?? NaN)).toFixed(0)}`);
  const total = median(ls.map((l) => Object.values(pacedUsPerMsg(l)).reduce((a, b) => a + b, 0)));
  return `${(median(ls.map((l) => l.cpu.boxBusy)) * 100).toFixed(0)} % busy (CPU µs per message: ${us.join(', ')}; ${total.toFixed(0)} in all)`;
}

/** CPU microseconds per acknowledged message, per process, over a paced phase. */
function pacedUsPerMsg(l: Latency): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [name, cores] of Object.entries(l.cpu.cores)) out[name] = (cores * l.cpu.seconds * 1e6) / l.acked;
  return out;
}

function usPerMsg(t: Tput): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [name, cores] of Object.entries(t.cpu.cores)) out[name] = (cores * 1e6) / t.rate;
  return out;
}

/** The scenario's row: medians over its rounds. */
function row(key: string, name: string): ScenarioRow | undefined {
  const rs = rounds[key];
  if (!rs?.length) return undefined;
  const rates = rs.map((r) => r.tput.rate);
  const per = rs.map((r) => usPerMsg(r.tput));
  const cpuUsPerMsg: Record<string, number> = {};
  for (const name of Object.keys(per[0]!)) cpuUsPerMsg[name] = median(per.map((p) => p[name]!));
  const procs = rs.map((r) => r.tput.proc).filter((p): p is ProcSample => p !== undefined);
  const s: ScenarioRow = {
    name,
    msgsPerSec: median(rates),
    readingsPerSec: median(rates) * READINGS_PER_BATCH,
    latencyRate: median(rs.map((r) => r.lat.rate)),
    p50Ms: median(rs.map((r) => r.lat.p50)),
    p99Ms: median(rs.map((r) => r.lat.p99)),
    rssMb: procs.length ? mb(Math.max(...procs.map((p) => p.maxRss))) : undefined,
    cpu: procs.length ? median(procs.map((p) => p.cpu)) : undefined,
    range: [Math.min(...rates), Math.max(...rates)],
    rounds: rs.length,
    cpuUsPerMsg,
    boxBusy: median(rs.map((r) => r.tput.cpu.boxBusy)),
    acceptedPerSec: median(rs.map((r) => (r.tput.load.acked * 1000) / P.tputMs)),
  };
  scenarios.push(s);
  return s;
}

// ------------------------------------------------------------------ scenarios
async function ceiling(round: number, light = false): Promise<Round> {
  const key = light ? 's1b' : 's1';
  progress(`scenario 1${light ? 'b' : ''}/6, round ${round + 1}: ceiling (amqplib, 2 connections x 2 confirm channels x 500 in flight, ${light ? 'light messages: no headers, not mandatory' : "the bridge's message properties"})`);
  const pub = Worker.start(join(root, 'bench/load/amqp-publisher.ts'), 'ceiling');
  cleanups.push(() => pub.stop());
  await pub.call('connect', { url: rabbit.amqpUrl, exchange: EXCHANGE, keyPrefix: KEY_PREFIX, topicPrefix: PREFIX, connections: 2, channelsPerConnection: 2, window: 500, devices: P.devices, bridgeProperties: !light });
  const procs = { 'load generators': pub.pid };
  const t = await throughput(`${key}t${round}`, (d) => pub.call('run', { phase: `${key}t${round}`, rate: 0, durationMs: d }), procs);
  await waitUntil(`${key}t drained`, async () => (await count(`${key}t${round}`)) >= t.load.acked, P.settleMs);
  const l = await latency(`${key}l${round}`, t.rate / 2, (rate, d) => pub.call('run', { phase: `${key}l${round}`, rate, durationMs: d }), procs);
  await pub.stop();
  return record(key, { tput: t, lat: l });
}

async function plugin(round: number): Promise<Round> {
  progress(`scenario 4/6, round ${round + 1}: RabbitMQ MQTT plugin, QoS1 straight into amq.topic`);
  const gen = await devices(rabbit.mqttUrl!, P.devices, `s4r${round}`, { username: 'guest', password: 'guest' });
  const run = phaseRunner(gen);
  const procs = { 'load generators': gen.pid };
  const t = await throughput(`s4t${round}`, (d) => run(`s4t${round}`)(0, d), procs);
  await waitUntil('s4t drained', async () => (await count(`s4t${round}`)) >= t.load.acked, P.settleMs);
  if (COST_RATE > 0) await cost('s4', round, run, procs);
  const l = await latency(`s4l${round}`, t.rate / 2, run(`s4l${round}`), procs);
  await gen.stop();
  return record('s4', { tput: t, lat: l });
}

async function embedded(round: number, pluginRate: number | undefined, key = 's2', bridgeRoot: string = root): Promise<Round> {
  progress(`scenario 2/6${key === 's2' ? '' : ` (${key}: the bridge of ${bridgeRoot})`}, round ${round + 1}: this bridge, embedded MQTT ingress, durable store, confirms`);
  const port = await freePort();
  let b = await bridge({ mode: 'embedded', port }, rabbit.amqpUrl, undefined, [], bridgeRoot);
  const gen = await devices(`mqtt://127.0.0.1:${port}`, P.devices, `${key}r${round}`);
  const run = phaseRunner(gen);
  const t = await throughput(`${key}t${round}`, (d) => run(`${key}t${round}`)(0, d), { 'under test': b.pid, 'load generators': gen.pid });
  if (!(await waitUntil(`${key}t backlog forwarded`, async () => (await b.storeRecords()) === 0, P.settleMs))) {
    // Start the latency phases from an empty store rather than wait for the backlog.
    await b.stop('SIGKILL');
    rmSync(join(b.dir, 'store'), { recursive: true, force: true });
    b = await bridge({ mode: 'embedded', port }, rabbit.amqpUrl, b.dir, [], bridgeRoot);
  }
  const procs = { 'under test': b.pid, 'load generators': gen.pid };
  if (COST_RATE > 0) await cost(key, round, run, procs);
  const l = await latency(`${key}l${round}`, t.rate / 2, run(`${key}l${round}`), procs, b);
  const p = pluginRate === undefined ? undefined : await latency(`${key}p${round}`, pluginRate / 2, run(`${key}p${round}`), procs);
  await gen.stop();
  await b.stop('SIGKILL');
  return record(key, { tput: t, lat: l, atPluginRate: p });
}

/**
 * BENCH_COST_RATE=<msg/s>: one more paced phase per round at that rate, the same for every bridge
 * and the MQTT plugin, printing the CPU each process spent per message and the phase's p50 / p99.
 * Far steadier than max-rate figures on a busy box, and at the same rate for old and new, so old
 * against new (--baseline-root) shows a few microseconds, and latency at one load.
 */
async function cost(key: string, round: number, run: PhaseRunner, procs: Procs): Promise<void> {
  const phase = `${key}c${round}`;
  const lat = await latency(phase, COST_RATE, run(phase), procs);
  const us = Object.entries(pacedUsPerMsg(lat)).map(([name, v]) => `${name} ${v.toFixed(1)}`);
  ((raw.cost ??= []) as unknown[]).push({ key, round, rate: COST_RATE, p50: lat.p50, p99: lat.p99, cores: lat.cpu.cores, seconds: lat.cpu.seconds });
  progress(`  ${phase}: CPU µs per message at ${COST_RATE}/s: ${us.join(', ')}; p50 ${lat.p50.toFixed(2)} ms, p99 ${lat.p99.toFixed(2)} ms`);
}

/** Scenario 2 once more at max rate with --cpu-prof: the bridge's CPU by stage over the measured window. */
async function profileBridge(): Promise<ProfileRow[]> {
  progress('profile: scenario 2 at max rate with the bridge under --cpu-prof');
  const profDir = join(workDir, 'cpu-prof');
  const port = await freePort();
  const b = await bridge({ mode: 'embedded', port }, rabbit.amqpUrl, undefined, ['--cpu-prof', `--cpu-prof-dir=${profDir}`]);
  const gen = await devices(`mqtt://127.0.0.1:${port}`, P.devices, 'prof');
  const running = gen.call<LoadResult>('run', { phase: 'prof', rate: 0, durationMs: P.tputMs });
  await sleep(P.warmMs);
  const fromUs = Number(process.hrtime.bigint() / 1000n);
  const c0 = await count('prof');
  const t0 = Date.now();
  await sleep(P.tputMs - P.warmMs);
  const c1 = await count('prof');
  const rate = ((c1 - c0) * 1000) / (Date.now() - t0);
  const toUs = Number(process.hrtime.bigint() / 1000n);
  await running;
  await gen.stop();
  await b.stop('SIGTERM'); // the profile is written at exit
  const file = readdirSync(profDir).find((f) => f.endsWith('.cpuprofile'));
  if (!file) throw new Error('the profiled bridge wrote no .cpuprofile');
  const summary = summariseProfile(JSON.parse(readFileSync(join(profDir, file), 'utf8')), { fromUs, toUs });
  // CPU per message: busy time sampled in the window over the messages delivered in it (the profiler's own cost included).
  const usPerBusyShare = (summary.busyMs * 1000) / Math.max(1, c1 - c0);
  raw.profile = { ...summary, rate, messages: c1 - c0 };
  progress(`  profiled at ${rate.toFixed(0)} msg/s, bridge ${((summary.busyMs * 1000) / Math.max(1, c1 - c0)).toFixed(0)} µs busy per message, idle ${(summary.idle * 100).toFixed(0)} %`);
  return summary.stages.filter((x) => x.share >= 0.005).map((x) => ({ stage: x.stage, share: x.share, usPerMsg: x.share * usPerBusyShare }));
}

/** Empties a broker-side persistent session left behind by a stopped subscriber. */
async function dropSession(url: string, clientId: string): Promise<void> {
  const c = await mqtt.connectAsync(url, { clientId, clean: true });
  await c.endAsync();
}

/**
 * Scenario 3 is offered the rate scenario 2 reached in the same round, not an unpaced flood:
 * Mosquitto acknowledges devices at its own pace (~30k msg/s here), so unpaced devices would
 * measure how fast Mosquitto queues, and the CPU its backlog costs, rather than how fast the
 * bridge takes messages out of it. What reaches RabbitMQ is the result: at most the offered rate.
 */
async function external(round: number, offeredRate: number): Promise<Round> {
  progress(`scenario 3/6, round ${round + 1}: this bridge as a client of a private Mosquitto, offered ${offeredRate > 0 ? `${offeredRate.toFixed(0)} msg/s (scenario 2's rate)` : 'an unpaced flood'}`);
  const clientId = `${RUN}-bridge-ext${round}`;
  const mqttCfg = { mode: 'external' as const, url: mosq.url, clientId, topics: [`${PREFIX}/+/telemetry`] };
  let b = await bridge(mqttCfg);
  const gen = await devices(mosq.url, P.devices, `s3r${round}`);
  const run = phaseRunner(gen);
  const t = await throughput(`s3t${round}`, (d) => run(`s3t${round}`)(offeredRate, d), { 'under test': b.pid, 'load generators': gen.pid, Mosquitto: mosq.pid });
  if (!(await waitUntil(`s3t${round} forwarded`, async () => (await count(`s3t${round}`)) >= t.load.acked, P.settleMs))) {
    // Mosquitto still holds a backlog for the bridge's session: start over without it.
    await b.stop('SIGKILL');
    await dropSession(mosq.url, clientId);
    rmSync(join(b.dir, 'store'), { recursive: true, force: true });
    b = await bridge(mqttCfg, rabbit.amqpUrl, b.dir);
  }
  const l = await latency(`s3l${round}`, t.rate / 2, run(`s3l${round}`), { 'under test': b.pid, 'load generators': gen.pid, Mosquitto: mosq.pid }, b);
  await gen.stop();
  await b.stop('SIGKILL');
  await dropSession(mosq.url, clientId);
  return record('s3', { tput: t, lat: l });
}

async function naive(round: number): Promise<Round> {
  progress(`scenario 5/6, round ${round + 1}: naive bridge (Mosquitto subscriber, awaits each confirm)`);
  const startNaive = async () => {
    const n = Worker.start(join(root, 'bench/load/naive-bridge.ts'), 'naive');
    cleanups.push(() => n.stop());
    await n.call('start', { mqttUrl: mosq.url, amqpUrl: rabbit.amqpUrl, exchange: EXCHANGE, filter: `${PREFIX}/+/telemetry`, clientId: `${RUN}-naive${round}` });
    return n;
  };
  let n = await startNaive();
  const gen = await devices(mosq.url, P.devices, `s5r${round}`);
  const run = phaseRunner(gen);
  const procs = () => ({ 'under test': n.pid, 'load generators': gen.pid, Mosquitto: mosq.pid });
  const t = await throughput(`s5t${round}`, (d) => run(`s5t${round}`)(0, d), procs());
  // Its clean session holds the unforwarded rest; a fresh one starts empty.
  await n.stop();
  n = await startNaive();
  const l = await latency(`s5l${round}`, t.rate / 2, run(`s5l${round}`), procs());
  await gen.stop();
  await n.stop();
  return record('s5', { tput: t, lat: l });
}

/** Scenario 6's peer, if it can run: installed already, or installed now by a full run. */
async function nodeRedPeer(): Promise<NodeRedVersions | undefined> {
  let v = installedNodeRed(root);
  if (!v && quick) {
    // --quick (CI on every landing) never installs: ~300 packages is not a smoke test's job.
    progress(`scenario 6 (Node-RED) skipped: not installed; ${INSTALL_HINT} installs it`);
    raw.nodered = { skipped: `not installed; ${INSTALL_HINT} installs it` };
    return undefined;
  }
  if (!v) {
    progress(`installing the Node-RED peer for scenario 6, once (npm ci --prefix bench/peers/node-red)`);
    const r = installNodeRed(root);
    v = installedNodeRed(root);
    if (!r.ok || !v) {
      const reason = r.ok ? 'installed, but its packages are not where expected' : r.reason;
      progress(`scenario 6 (Node-RED) skipped: ${reason}`);
      raw.nodered = { skipped: reason };
      return undefined;
    }
  }
  raw.nodered = { ...v, confirms: false };
  return v;
}

/** Publishes one batch a time until the consumer has counted one for `phase`: the flow is deployed, subscribed and connected to RabbitMQ. */
async function untilForwarding(nr: NodeRedProcess, phase: string): Promise<void> {
  const c = await mqtt.connectAsync(mosq.url, { clientId: `${RUN}-${phase}-probe`, clean: true });
  const device = deviceId(phase, 0);
  let seq = 0;
  try {
    const ok = await waitUntil(`Node-RED forwarding (${phase})`, async () => {
      if (nr.exited() !== undefined) throw new Error(`Node-RED exited (${nr.exited()}):\n${nr.logTail()}`);
      if ((await count(phase)) > 0) return true;
      await c.publishAsync(topicFor(PREFIX, device), batchPayload(device, seq++), { qos: 1 });
      await sleep(300);
      return (await count(phase)) > 0;
    }, 60_000);
    if (!ok) throw new Error(`Node-RED did not forward a probe within 60 s:\n${nr.logTail()}`);
  } finally {
    await c.endAsync();
  }
}

async function nodered(round: number, v: NodeRedVersions): Promise<Round> {
  progress(`scenario 6/6, round ${round + 1}: Node-RED ${v.nodeRed}, mqtt in (QoS1, Mosquitto) -> amqp out (node-red-contrib-amqp ${v.amqpNode}: no publisher confirms)`);
  let starts = 0;
  const startNr = async () => {
    const tag = `${round}${String.fromCharCode(97 + starts++)}`;
    const t0 = Date.now();
    const nr = startNodeRed({
      root,
      dir: join(workDir, `node-red-${tag}`),
      uiPort: await freePort(),
      flow: { mqttUrl: mosq.url, clientId: `${RUN}-nodered${tag}`, filter: `${PREFIX}/+/telemetry`, amqpUrl: rabbit.amqpUrl, exchange: EXCHANGE },
    });
    cleanups.push(() => nr.stop());
    await untilForwarding(nr, `s6w${tag}`);
    progress(`  Node-RED up and forwarding in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    return nr;
  };
  let nr = await startNr();
  const gen = await devices(mosq.url, P.devices, `s6r${round}`);
  const run = phaseRunner(gen);
  const procs = () => ({ 'under test': nr.pid, 'load generators': gen.pid, Mosquitto: mosq.pid });
  const t = await throughput(`s6t${round}`, (d) => run(`s6t${round}`)(0, d), procs());
  // Once (a quick run on a loaded box) it forwarded ~nothing of what Mosquitto took, cause unknown: leave its log in the output.
  if ((t.rate * (P.tputMs - P.warmMs)) / 1000 < 0.05 * t.load.acked) progress(`  s6t${round}: Node-RED forwarded almost nothing; its log ends:\n${nr.logTail()}`);
  // As for the naive bridge: whatever it still holds is dropped with it; a fresh one starts empty.
  await nr.stop();
  nr = await startNr();
  const l = await latency(`s6l${round}`, t.rate / 2, run(`s6l${round}`), procs());
  await gen.stop();
  await nr.stop();
  return record('s6', { tput: t, lat: l });
}

// ------------------------------------------------------------------ drain and scale
async function drain(ceilingRate: number, liveRate: number): Promise<{ rate: number; rssBackloggedMb: number; rssDrainMb: number; memBacklogged: { rss: number; heapTotal: number; heapUsed: number; external: number }; cpu: CpuShare }> {
  const n = P.drainN;
  progress(`drain: storing ${n} batches with RabbitMQ unreachable`);
  const port = await freePort();
  const dead = `amqp://guest:guest@127.0.0.1:${await freePort()}`;
  let b = await bridge({ mode: 'embedded', port }, dead);
  const gen = await devices(`mqtt://127.0.0.1:${port}`, P.devices, 'drain');
  const fillStart = Date.now();
  const filled = await gen.call<LoadResult>('run', { phase: 'fill', rate: 0, durationMs: 600_000, total: n, window: 50 });
  const fillMs = Date.now() - fillStart;
  progress(`  stored ${filled.acked} in ${(fillMs / 1000).toFixed(1)} s (${((filled.acked * 1000) / fillMs).toFixed(0)} msg/s into the store)`);
  await sleep(quick ? 1000 : 3000);
  const backlog = await b.storeRecords();
  const rssBacklogged = rssBytes(b.pid);
  const memBacklogged = await b.memory();
  progress(`  backlog ${backlog}, bridge RSS ${mb(rssBacklogged).toFixed(0)} MB (MB: ${JSON.stringify(memBacklogged, (_k, v) => (typeof v === 'number' ? Math.round(v) : v))})`);
  await b.stop('SIGKILL');
  progress(`drain: restarting on the same store with RabbitMQ up, live traffic at ${liveRate.toFixed(0)} msg/s`);
  const t0 = Date.now();
  b = await bridge({ mode: 'embedded', port }, rabbit.amqpUrl, b.dir);
  const readyMs = Date.now() - t0;
  const sampler = sampleProcess(b.pid);
  const cpuSampler = sampleCpu({ 'under test': b.pid, RabbitMQ: rabbit.osPid, 'load generators': gen.pid, consumer: consumer.pid });
  const live = gen.call<LoadResult>('run', { phase: 'live', rate: liveRate, durationMs: 900_000, total: Number.MAX_SAFE_INTEGER });
  let last = 0;
  await waitUntil('backlog drained', async () => {
    const c = await count('fill');
    if (c - last >= n / 10) {
      last = c;
      progress(`  drained ${c}/${filled.acked}`);
    }
    return c >= filled.acked;
  }, 900_000);
  const drainMs = Date.now() - t0;
  const proc = sampler.stop();
  const cpu = cpuSampler.stop();
  const memDrained = await b.memory();
  await gen.stop();
  await live.catch(() => undefined);
  await b.stop('SIGKILL');
  const rate = (filled.acked * 1000) / drainMs;
  progress(`  drained ${filled.acked} in ${(drainMs / 1000).toFixed(1)} s (${rate.toFixed(0)} msg/s, recovery to ready ${readyMs} ms), RSS max ${mb(proc.maxRss).toFixed(0)} MB`);
  raw.drain = { memBacklogged, memDrained, n: filled.acked, fillMs, fillRate: (filled.acked * 1000) / fillMs, backlog, rssBackloggedMb: mb(rssBacklogged), readyMs, drainMs, rate, liveRate, rssDrainMb: mb(proc.maxRss), cpu: proc.cpu, cpuShare: cpu, vsCeiling: rate / ceilingRate };
  return { rate, rssBackloggedMb: mb(rssBacklogged), rssDrainMb: mb(proc.maxRss), memBacklogged, cpu };
}

async function scale(): Promise<{ idleMb: number; trickleMb: number; baseMb: number }> {
  const conns = P.scaleConns;
  progress(`scale: ${conns} MQTT connections from ${P.scaleProcs} client processes`);
  const port = await freePort();
  const b = await bridge({ mode: 'embedded', port });
  const baseMb = mb(rssBytes(b.pid));
  const per = conns / P.scaleProcs;
  const t0 = Date.now();
  const gens = await Promise.all(
    // Each process from its own block of 16 loopback addresses: at most ~160 connections per address, under the bridge's per-address cap.
    Array.from({ length: P.scaleProcs }, (_, i) => devices(`mqtt://127.0.0.1:${port}`, per, `scale${i}`, { connectPerSec: 1000, keepalive: 120, sourceAddresses: 16, sourceBlock: i })),
  );
  progress(`  ${conns} connected in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  await sleep(quick ? 1000 : 3000);
  const idleMb = mb(rssBytes(b.pid));
  progress(`  idle RSS ${idleMb.toFixed(0)} MB (bridge alone ${baseMb.toFixed(0)} MB); trickle: each client one batch per 10 s`);
  const sampler = sampleProcess(b.pid);
  const trickled = await Promise.all(gens.map((g) => g.call<LoadResult>('trickle', { phase: 'trickle', intervalMs: 10_000, durationMs: P.trickleMs })));
  const proc = sampler.stop();
  const acked = trickled.reduce((n, r) => n + r.acked, 0);
  await waitUntil('trickle delivered', async () => (await count('trickle')) >= acked, P.settleMs);
  const delivered = await count('trickle');
  progress(`  trickle: ${acked} acknowledged, ${delivered} delivered, RSS max ${mb(proc.maxRss).toFixed(0)} MB, CPU ${proc.cpu.toFixed(2)}`);
  await Promise.all(gens.map((g) => g.stop()));
  await b.stop('SIGKILL');
  raw.scale = { conns, baseMb, idleMb, trickleMb: mb(proc.maxRss), trickleAcked: acked, trickleDelivered: delivered, cpu: proc.cpu };
  return { idleMb, trickleMb: mb(proc.maxRss), baseMb };
}

/** fdatasync latency of the disk the bridge's store is on (4 KiB appends, as a group commit does): the floor under the bridge's latency. */
function fsyncLatency(n = 200): { p50: number; p99: number } {
  const file = join(workDir, 'fsync-probe');
  const fd = openSync(file, 'w');
  const block = Buffer.alloc(4096, 1);
  const ms: number[] = [];
  try {
    for (let i = 0; i < n; i++) {
      writeSync(fd, block);
      const t = process.hrtime.bigint();
      fdatasyncSync(fd);
      ms.push(Number(process.hrtime.bigint() - t) / 1e6);
    }
  } finally {
    closeSync(fd);
    rmSync(file, { force: true });
  }
  ms.sort((a, b) => a - b);
  return { p50: ms[Math.floor(n / 2)]!, p99: ms[Math.floor(n * 0.99)]! };
}

/** What the CPU accounting (and the profile) say about a throughput gap between two scenarios. */
function throughputFindings(a: ScenarioRow, b: ScenarioRow, profile: ProfileRow[]): string {
  const us = (s: ScenarioRow) =>
    Object.entries(s.cpuUsPerMsg ?? {})
      .filter(([, v]) => Number.isFinite(v))
      .map(([k, v]) => `${k} ${v.toFixed(0)}`)
      .join(', ');
  const top = profile
    .slice(0, 4)
    .map((p) => `${p.stage} ${(p.share * 100).toFixed(0)} %`)
    .join(', ');
  // The bridge acknowledges a batch once it is on disk (the naive bridge's Mosquitto once it has
  // it), not once RabbitMQ has it: at max rate the senders are acknowledged, and send, faster than
  // it forwards, and the box pays for the difference.
  const ahead = (s: ScenarioRow) => (s.acceptedPerSec ?? 0) / s.msgsPerSec;
  const taken = [a, b]
    .filter((s) => ahead(s) > 1.1)
    .map((s) => `${s.name.slice(2)} acknowledged its senders ${s.acceptedPerSec!.toFixed(0)} msg/s, ${ahead(s).toFixed(2)}x what it forwarded (acknowledged before RabbitMQ has the batch, so the senders, and the CPU they and its ingest take, run ahead of the broker)`);
  return `box ${((a.boxBusy ?? NaN) * 100).toFixed(0)} % / ${((b.boxBusy ?? NaN) * 100).toFixed(0)} % busy; CPU µs per message: ${a.name.slice(2)}: ${us(a)}; ${b.name.slice(2)}: ${us(b)}${taken.length ? `; ${taken.join('; ')}` : ''}${top ? `; the bridge's top stages: ${top}` : ''}`;
}

// ------------------------------------------------------------------ main
async function main(): Promise<void> {
  if (want('firmware')) firmware();
  if (!quick && want('store')) {
    progress('store backends, side by side');
    const r = spawnSync(process.execPath, ['--import', 'tsx', 'bench/store-backends.ts'], { cwd: root, encoding: 'utf8', env: { ...process.env, BENCH_MS: '2500' } });
    raw.storeBackends = `${r.stdout}`.trim();
  }
  const nodeRed = want('nodered') ? await nodeRedPeer() : undefined;
  await brokers();
  // Rounds interleave the scenarios, so a noisy minute on the box hits each of them
  // once rather than one scenario every time; each figure is the median of its rounds.
  for (let round = 0; round < P.rounds; round++) {
    if (want('ceiling')) await ceiling(round);
    // The same publisher with lighter messages: what PROTOCOL.md's headers and mandatory cost RabbitMQ (no target).
    if (want('ceiling') && !quick) await ceiling(round, true);
    const pl = want('plugin') ? await plugin(round) : undefined;
    // Old and new swap places every round, so neither always runs first.
    if (want('embedded') && baselineRoot && round % 2 === 1) await embedded(round, undefined, 's2o', baselineRoot);
    const s2 = want('embedded') ? await embedded(round, pl?.tput.rate, 's2', bridgeRoot) : undefined;
    if (want('embedded') && baselineRoot && round % 2 === 0) await embedded(round, undefined, 's2o', baselineRoot);
    if (want('external')) await external(round, s2?.tput.rate ?? 0);
    if (want('naive')) await naive(round);
    if (nodeRed) await nodered(round, nodeRed);
  }
  const profile = want('profile') && (!quick || process.argv.includes('--profile')) ? await profileBridge() : [];
  const s1 = row('s1', '1 ceiling: amqplib direct');
  row('s1b', '1b ceiling, light messages');
  const s4 = row('s4', '4 RabbitMQ MQTT plugin');
  const s2 = row('s2', '2 bridge, embedded MQTT');
  const s2o = baselineRoot ? row('s2o', '2o baseline bridge (--baseline-root), embedded MQTT') : undefined;
  const s3 = row('s3', '3 bridge, external Mosquitto');
  const s5 = row('s5', '5 naive bridge');
  const s6 = row('s6', '6 Node-RED, mqtt in -> amqp out (no confirms)');
  const d = want('drain') ? await drain(s1?.msgsPerSec ?? NaN, Math.min(500, (s2?.msgsPerSec ?? 5000) / 10)) : undefined;
  const sc = want('scale') ? await scale() : undefined;

  raw.rounds = rounds;
  raw.profileStages = profile;
  const r = (x: number) => `${x.toFixed(2)}x`;
  const range = (xs: number[]) => (xs.length > 1 ? `; rounds ${r(Math.min(...xs))}-${r(Math.max(...xs))}` : '');
  // Ratios are taken within each round (peers measured minutes apart, not tens of minutes), then the median.
  const perRound = (a: string, b: string, f: (x: Round, y: Round) => number) => {
    const xs: number[] = [];
    for (let i = 0; i < Math.min(rounds[a]?.length ?? 0, rounds[b]?.length ?? 0); i++) xs.push(f(rounds[a]![i]!, rounds[b]![i]!));
    return xs;
  };
  const vs = (spec: TargetSpec, a: ScenarioRow | undefined, b: ScenarioRow | undefined, keys: [string, string], note = '') => {
    if (!a || !b) return;
    const xs = perRound(keys[0], keys[1], (x, y) => x.tput.rate / y.tput.rate);
    const x = median(xs);
    targets.push({ what: spec.what, target: spec.target, result: `${r(x)} (${a.msgsPerSec.toFixed(0)} vs ${b.msgsPerSec.toFixed(0)} msg/s${range(xs)})${note}`, met: verdict(spec, x), findings: throughputFindings(a, b, profile) });
  };
  const before = targets.splice(0);
  vs(TARGETS.vsCeiling, s2, s1, ['s2', 's1']);
  vs(TARGETS.vsBaseline, s2, s2o, ['s2', 's2o']);
  vs(TARGETS.vsNaive, s2, s5, ['s2', 's5']);
  vs(TARGETS.vsPlugin, s2, s4, ['s2', 's4']);
  vs(TARGETS.externalVsEmbedded, s3, s2, ['s3', 's2']);
  // A comparison, no goal; Node-RED's figure is without publisher confirms, the bridge's with them.
  vs(TARGETS.vsNodeRed, s2, s6, ['s2', 's6'], '; Node-RED publishes without confirms');
  if (want('nodered') && !nodeRed) targets.push({ what: TARGETS.vsNodeRed.what, target: TARGETS.vsNodeRed.target, result: `not run: ${(raw.nodered as { skipped: string }).skipped}`, met: undefined });
  const sync = fsyncLatency();
  raw.fsyncMs = sync;
  // Means of the last round's stages: where the bridge's latency goes (the table below has them all).
  const st = rounds.s2?.at(-1)?.lat.stages;
  const stageNote = st
    ? `stage means (${st.phase}): read → handed to the confirm pool ${st.acceptToPublish.toFixed(2)} ms, publish → confirm ${(st.acceptToConfirm - st.acceptToPublish).toFixed(2)} ms, the rest ${(st.deviceToReceived - st.acceptToConfirm).toFixed(2)} ms of ${st.deviceToReceived.toFixed(2)}; the PUBACK's way to durable runs beside them (${st.acceptToDurable.toFixed(2)} ms; fdatasync p50 ${sync.p50.toFixed(1)} / p99 ${sync.p99.toFixed(1)} ms on this disk)`
    : `fdatasync p50 ${sync.p50.toFixed(1)} / p99 ${sync.p99.toFixed(1)} ms on this disk`;
  const p99s = perRound('s2', 's4', (x, y) => (x.atPluginRate?.p99 ?? NaN) / y.lat.p99);
  if (s2 && s4 && p99s.some(Number.isFinite)) {
    const x = median(p99s);
    const atP = median(rounds.s2!.map((x) => x.atPluginRate?.p99 ?? NaN));
    const load = median(perRound('s2', 's4', (x, y) => y.tput.rate / 2 / x.tput.rate));
    targets.push({
      what: TARGETS.p99VsPlugin.what,
      target: TARGETS.p99VsPlugin.target,
      result: `${r(x)} (${atP.toFixed(2)} vs ${s4.p99Ms.toFixed(2)} ms at ${s4.latencyRate.toFixed(0)}/s${range(p99s)})`,
      met: verdict(TARGETS.p99VsPlugin, x),
      findings: `that rate is ${(load * 100).toFixed(0)} % of the bridge's own max, where the plugin runs at 50 %; at that rate the box was ${pathCostNote(rounds.s2!.map((x) => x.atPluginRate))} on the bridge's path and ${pathCostNote(rounds.s4!.map((x) => x.lat))} on the plugin's; at 50 % of its own max the bridge's p99 is ${s2.p99Ms.toFixed(2)} ms (p50 ${s2.p50Ms.toFixed(2)}); ${stageNote}; a batch crosses one more process than on the plugin's path, on a box whose two cores it shares with RabbitMQ, the generators and the consumer`,
    });
  }
  const p50s = perRound('s2', 's4', (x, y) => x.lat.p50 / y.lat.p50);
  if (s2 && s4 && p50s.length) {
    const x = median(p50s);
    targets.push({
      what: TARGETS.p50VsPlugin.what,
      target: TARGETS.p50VsPlugin.target,
      result: `${r(x)} (${s2.p50Ms.toFixed(2)} vs ${s4.p50Ms.toFixed(2)} ms${range(p50s)})`,
      met: verdict(TARGETS.p50VsPlugin, x),
      findings: `${stageNote}; one more process hop than the plugin's path`,
    });
  }
  if (d) {
    const m = d.memBacklogged;
    targets.push({
      what: `RSS with ${P.drainN / 1e6}M messages backlogged`,
      target: TARGETS.backlogRss.target,
      result: `${d.rssBackloggedMb.toFixed(0)} MB (draining: ${d.rssDrainMb.toFixed(0)} MB)`,
      met: verdict(TARGETS.backlogRss, Math.max(d.rssBackloggedMb, d.rssDrainMb)),
      findings: `backlogged: V8 heap ${m.heapTotal.toFixed(0)} MB (${m.heapUsed.toFixed(0)} used), external buffers ${m.external.toFixed(0)} MB (the store index is 25 B a record), the rest (${(m.rss - m.heapTotal - m.external).toFixed(0)} MB) code, stacks and V8 itself`,
    });
    if (s1) {
      targets.push({
        what: `Drain of ${P.drainN / 1e6}M under live traffic vs the ceiling`,
        target: TARGETS.drainVsCeiling.target,
        result: `${r(d.rate / s1.msgsPerSec)} (${d.rate.toFixed(0)} msg/s)`,
        met: verdict(TARGETS.drainVsCeiling, d.rate / s1.msgsPerSec),
        findings: `box ${(d.cpu.boxBusy * 100).toFixed(0)} % busy while draining; per message the bridge spent ${((d.cpu.cores['under test'] ?? NaN) * 1e6 / d.rate).toFixed(0)} µs and RabbitMQ ${((d.cpu.cores.RabbitMQ ?? NaN) * 1e6 / d.rate).toFixed(0)} µs, against the ceiling's publisher ${(s1.cpuUsPerMsg?.['load generators'] ?? NaN).toFixed(0)} µs and RabbitMQ ${(s1.cpuUsPerMsg?.RabbitMQ ?? NaN).toFixed(0)} µs`,
      });
    }
  }
  if (sc) {
    targets.push({
      what: `${P.scaleConns} MQTT connections, RSS idle / trickle`,
      target: TARGETS.connectionsRss.target,
      result: `${sc.idleMb.toFixed(0)} / ${sc.trickleMb.toFixed(0)} MB`,
      met: P.scaleConns >= 10_000 ? verdict(TARGETS.connectionsRss, Math.max(sc.idleMb, sc.trickleMb)) : undefined,
    });
  }
  targets.push(...before);
  const totalS = (Date.now() - started) / 1000;
  const meta = `${quick ? 'Quick' : 'Full'} run of ${new Date().toISOString().slice(0, 10)}, ${totalS.toFixed(0)} s, ${quick ? 'shortened phases (a smoke test, not for the targets)' : `${P.rounds} interleaved rounds of each scenario (medians shown, msg/s range in brackets), phases of ${P.tputMs / 1000} s (max rate) and ${P.latMs / 1000} s (latency)`}; batches of ${READINGS_PER_BATCH} readings; ${P.devices} devices per scenario.`;
  // The stages of scenario 2's last latency phase at 50 % of its own max.
  const stages = rounds.s2?.at(-1)?.lat.stages;
  raw.latencyStages = stages;
  process.stdout.write(`\n${consoleReport(scenarios, targets, profile, stages)}\n\n${meta}\n`);
  const dir = join(root, 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  // Only full runs of everything are kept in git; quick and --only runs get their own (ignored) names.
  const base = join(dir, `${new Date().toISOString().slice(0, 10)}${quick ? '-quick' : only ? '-partial' : ''}`);
  writeFileSync(`${base}.json`, JSON.stringify({ at: new Date().toISOString(), quick, durationS: totalS, targets, scenarios, raw }, null, 2) + '\n');
  writeFileSync(`${base}.svg`, svgChart(scenarios, meta.split(';')[0]!));
  process.stdout.write(`written: ${base}.json, ${base}.svg\n`);
  if (!quick && !only && !baselineRoot && !bridgeRoot && updateReadme(join(root, 'README.md'), markdownReport(scenarios, targets, `${meta} Chart: \`bench/results/${base.split('/').pop()}.svg\`.`, profile, stages))) {
    process.stdout.write('README.md: benchmark section updated\n');
  }
}

let failed = false;
try {
  await main();
} catch (err) {
  failed = true;
  process.stderr.write(`bench failed: ${(err as Error).stack}\n`);
} finally {
  for (const c of cleanups.reverse()) await c().catch(() => {});
  // BENCH_KEEP_WORKDIR=1 keeps the bridges' logs and stores (e.g. with BENCH_BRIDGE_NODE_ARGS=--trace-gc).
  if (process.env.BENCH_KEEP_WORKDIR) progress(`kept ${workDir}`);
  else rmSync(workDir, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
