// Scenario 6's peer: Node-RED 4.1 with node-red-contrib-amqp, the low-code bridge users
// pick instead of this one. It lives in bench/peers/node-red with its own lockfile, so
// the root `npm ci` (CI, every landing) stays short; full runs install it on first use.
// Run headless as a child process: generated settings, flow and credentials in a temp
// userDir; flow = mqtt in (QoS1) -> change (topic '/' -> '.', persistent) -> amqp out.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnLogged } from './logged-process.ts';

export const PEER_DIR = 'bench/peers/node-red';
export const INSTALL_HINT = `npm run bench:peers (npm ci --prefix ${PEER_DIR})`;

export interface NodeRedVersions {
  nodeRed: string;
  amqpNode: string;
  amqpTs: string;
  amqplib: string;
}

function version(root: string, pkg: string): string | undefined {
  try {
    return (JSON.parse(readFileSync(join(root, PEER_DIR, 'node_modules', pkg, 'package.json'), 'utf8')) as { version?: string }).version;
  } catch {
    return undefined;
  }
}

/** What is installed under bench/peers/node-red, or undefined if it is not (completely) there. */
export function installedNodeRed(root: string): NodeRedVersions | undefined {
  const v = { nodeRed: version(root, 'node-red'), amqpNode: version(root, 'node-red-contrib-amqp'), amqpTs: version(root, 'amqp-ts'), amqplib: version(root, 'amqplib') };
  return v.nodeRed && v.amqpNode && v.amqpTs && v.amqplib ? (v as NodeRedVersions) : undefined;
}

/** `npm ci` in the peer folder, quietly; the reason when it fails. */
export function installNodeRed(root: string): { ok: true } | { ok: false; reason: string } {
  const r = spawnSync('npm', ['ci', '--prefix', PEER_DIR, '--no-audit', '--no-fund', '--loglevel=error'], { cwd: root, encoding: 'utf8', timeout: 600_000 });
  if (r.status === 0 && installedNodeRed(root)) return { ok: true };
  const why = r.error ? r.error.message : `exit ${r.status ?? r.signal}: ${`${r.stderr}`.trim().split('\n').slice(-3).join(' / ')}`;
  return { ok: false, reason: `npm ci --prefix ${PEER_DIR} failed (${why})` };
}

export interface NodeRedFlow {
  mqttUrl: string;
  clientId: string;
  /** MQTT topic filter, e.g. `bench/<run>/+/telemetry`. */
  filter: string;
  amqpUrl: string;
  exchange: string;
}

export interface NodeRedProcess {
  pid: number;
  /** Whether it has exited, and how. */
  exited(): string | undefined;
  logTail(lines?: number): string;
  stop(): Promise<void>;
}

// Node ids as the editor makes them: a config node whose property equals a config node's id is
// taken as a reference to it (an id 'mosquitto' beside name 'mosquitto' is a 'circular dependency').
const ID = { tab: 'b3c1000000000001', broker: 'b3c1000000000002', mqttIn: 'b3c1000000000003', change: 'b3c1000000000004', amqpServer: 'b3c1000000000005', amqpOut: 'b3c1000000000006' };

/** The flow a user would draw: mqtt in -> change -> amqp out, against the broker and exchange given. */
export function flowFor(f: NodeRedFlow): { flows: unknown[]; credentials: Record<string, { user: string; password: string }> } {
  const mqttUrl = new URL(f.mqttUrl);
  const amqpUrl = new URL(f.amqpUrl);
  const flows = [
    { id: ID.tab, type: 'tab', label: 'bench' },
    {
      id: ID.broker,
      type: 'mqtt-broker',
      name: 'mosquitto',
      broker: mqttUrl.hostname,
      port: mqttUrl.port,
      clientid: f.clientId,
      autoConnect: true,
      usetls: false,
      protocolVersion: '4',
      keepalive: '60',
      cleansession: true,
      autoUnsubscribe: true,
    },
    // datatype buffer: the msgpack batch passes through untouched.
    { id: ID.mqttIn, type: 'mqtt in', z: ID.tab, name: 'telemetry', topic: f.filter, qos: '1', datatype: 'buffer', broker: ID.broker, nl: false, rap: true, rh: 0, inputs: 0, x: 100, y: 40, wires: [[ID.change]] },
    // The amqp out node takes msg.topic as the routing key verbatim: map it as the naive bridge does, and publish persistent as it does.
    {
      id: ID.change,
      type: 'change',
      z: ID.tab,
      name: 'routing key',
      rules: [
        { t: 'change', p: 'topic', pt: 'msg', from: '/', fromt: 'str', to: '.', tot: 'str' },
        { t: 'set', p: 'options', pt: 'msg', to: '{"persistent":true}', tot: 'json' },
      ],
      x: 300,
      y: 40,
      wires: [[ID.amqpOut]],
    },
    {
      id: ID.amqpServer,
      type: 'amqp-server',
      host: amqpUrl.hostname,
      port: amqpUrl.port,
      vhost: '',
      keepalive: '30',
      usetls: false,
      // The bench owns the exchange (with its alternate exchange): only check that it exists,
      // since the out node's own declare (no arguments) would be refused with a 406.
      usetopology: true,
      topology: JSON.stringify({ exchanges: [{ name: f.exchange, type: 'topic', options: { noCreate: true } }] }),
    },
    // iotype 3: topic exchange.
    { id: ID.amqpOut, type: 'amqp out', z: ID.tab, name: 'rabbitmq', routingkey: '', iotype: '3', ioname: f.exchange, server: ID.amqpServer, x: 500, y: 40, wires: [] },
  ];
  return { flows, credentials: { [ID.amqpServer]: { user: decodeURIComponent(amqpUrl.username), password: decodeURIComponent(amqpUrl.password) } } };
}

/** Starts Node-RED headless with the flow deployed from its flow file. Readiness is the caller's to check (a message end to end). */
export function startNodeRed(opts: { root: string; dir: string; uiPort: number; flow: NodeRedFlow }): NodeRedProcess {
  const peer = join(opts.root, PEER_DIR);
  mkdirSync(opts.dir, { recursive: true });
  const { flows, credentials } = flowFor(opts.flow);
  writeFileSync(join(opts.dir, 'flows.json'), JSON.stringify(flows, null, 2));
  // credentialSecret false: the credentials file is plain JSON, so the bench can write it.
  writeFileSync(join(opts.dir, 'flows_cred.json'), JSON.stringify(credentials));
  const settings = {
    userDir: opts.dir,
    flowFile: 'flows.json',
    credentialSecret: false,
    // Only the AMQP module from the peer folder; the core nodes (mqtt, change) come with node-red.
    nodesDir: [join(peer, 'node_modules', 'node-red-contrib-amqp')],
    // Headless: no editor, no admin API, no HTTP nodes, so nothing listens; loopback and a free port in case that changes.
    httpAdminRoot: false,
    httpNodeRoot: false,
    disableEditor: true,
    uiHost: '127.0.0.1',
    uiPort: opts.uiPort,
    // info: broker connects and drops are in the log.
    logging: { console: { level: 'info', metrics: false, audit: false } },
    diagnostics: { enabled: false, ui: false },
    runtimeState: { enabled: false, ui: false },
    telemetry: { enabled: false, updateNotification: false },
    externalModules: { autoInstall: false, palette: { allowInstall: false, allowUpdate: false, allowUpload: false } },
    functionExternalModules: false,
  };
  const settingsFile = join(opts.dir, 'settings.js');
  writeFileSync(settingsFile, `module.exports = ${JSON.stringify(settings, null, 2)};\n`);
  const p = spawnLogged(process.execPath, [join(peer, 'node_modules', 'node-red', 'red.js'), '--userDir', opts.dir, '--settings', settingsFile], {
    cwd: opts.dir,
    // amqp-ts logs connection failures and reconnects at warn (its default is error).
    env: { AMQPTS_LOGLEVEL: 'warn', ...process.env, NODE_ENV: 'production' },
    logFile: join(opts.dir, 'node-red.log'),
  });
  return {
    pid: p.child.pid!,
    exited: p.exited,
    logTail: p.logTail,
    // SIGKILL as for the bridges: shutdown is not measured, and a graceful close with a backlog waits on it.
    async stop() {
      if (p.exited() === undefined) p.child.kill('SIGKILL');
      await p.exit;
    },
  };
}
