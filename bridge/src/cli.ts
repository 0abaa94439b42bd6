// edge-bridge: start | check-config | routes check | store verify | store inspect | tail | plan | cmd
import { Command } from 'commander';
import { readTlsFiles, type TlsFileNames, type TlsMaterial } from './config/tls-files.ts';
import { createLogger } from './observe/logger.ts';
import { redactSecrets, redactUrl } from './observe/redact.ts';
import { loadConfig, ConfigError, type BridgeConfig } from './config/index.ts';
import { checkRoutes } from './routing/index.ts';
import { verifyStore, inspectStore } from './store/index.ts';
import { composeBridge, bindingsOf } from './compose.ts';
import { ConsoleStatus } from './observe/console-status.ts';
import { startHttp } from './observe/http.ts';
import { ConfigErrorHealth, httpAddressOf } from './observe/config-error-health.ts';
import { startTail, TailError } from './consumer/tail.ts';
import { publishCommand } from './downlink/publish.ts';
import { addCredential, CredentialsError } from './ingress/mqtt-auth.ts';
import { randomBytes } from 'node:crypto';
import { plan, formatPlan, parseSize, parseDuration, PlanInputError } from './plan/capacity.ts';

const program = new Command()
  .name('edge-bridge')
  .description('Edge bridge: MQTT/serial sensor batches -> durable store-and-forward -> RabbitMQ');

const collect = (v: string, prev: string[]) => [...prev, v];
const configOptions = (cmd: Command) =>
  cmd
    .option('-c, --config <file>', 'config file (YAML or JSON)')
    .option('--set <path=value>', 'override one setting, e.g. --set mqtt.embedded.port=1884 (repeatable)', collect, []);

function load(opts: { config?: string; set: string[] }, extra: string[] = []): BridgeConfig {
  try {
    return loadConfig({ file: opts.config, env: process.env, overrides: [...extra, ...opts.set] });
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
}

/** `npm start`: embedded defaults on 1884 (Mosquitto may hold 1883), data under ./data. */
const DEMO_DEFAULTS = ['mqtt.embedded.port=1884', 'mqtt.embedded.host=127.0.0.1', 'store.dir=./data/store', 'quarantine.dir=./data/quarantine'];

configOptions(program.command('start'))
  .description('run the bridge')
  .option('--demo', 'embedded defaults on port 1884, a human-readable status line instead of JSON logs (npm start adds virtual nodes)')
  .action(async (opts: { config?: string; set: string[]; demo?: boolean }) => {
    let config: BridgeConfig;
    try {
      config = loadConfig({ file: opts.config, env: process.env, overrides: [...(opts.demo ? DEMO_DEFAULTS : []), ...opts.set] });
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      return waitWithInvalidConfig(err);
    }
    const log = createLogger(opts.demo ? 'warn' : config.log.level);
    let bridge: ReturnType<typeof composeBridge>;
    try {
      bridge = composeBridge(config, log);
    } catch (err) {
      // Files the config names (TLS) that cannot be used: the same as an invalid config.
      if (!(err instanceof ConfigError)) throw err;
      return waitWithInvalidConfig(new ConfigError(err.problems, config));
    }
    try {
      await bridge.start();
    } catch (err) {
      process.stderr.write(`edge-bridge: cannot start: ${redactSecrets((err as Error).message)}\n`);
      await bridge.stop().catch(() => {});
      process.exit(1);
    }
    const http = await startHttp(config.http, bridge.health, log).catch((err: Error) => {
      log.error({ err }, 'http server failed to start; continuing without it');
      return undefined;
    });
    let statusTimer: NodeJS.Timeout | undefined;
    if (opts.demo) {
      const status = new ConsoleStatus();
      const where = http ? ` dashboard http://${config.http.host}:${http.port}/ metrics http://${config.http.host}:${http.port}/metrics` : '';
      const ws = config.mqtt.embedded.websocket;
      const wsAt = ws && bridge.mqttWebSocketPort() ? ` (WebSocket ws://${ws.host}:${bridge.mqttWebSocketPort()}${ws.path})` : '';
      process.stdout.write(`[edge-bridge] MQTT on 127.0.0.1:${bridge.mqttPort()}${wsAt}, RabbitMQ ${config.amqp.urls.map(redactUrl).join(', ')}, exchange '${config.amqp.topology.exchange}';${where}\n`);
      statusTimer = setInterval(() => process.stdout.write(status.line(bridge.health.snapshot()) + '\n'), 2000);
    }
    let stopping = false;
    const shutdown = async (sig: string) => {
      if (stopping) return;
      stopping = true;
      if (statusTimer) clearInterval(statusTimer);
      process.stdout.write(`[edge-bridge] ${sig}: stopping ingress, finishing in-flight work, closing the store\n`);
      await bridge.stop();
      await http?.close();
      process.exit(0);
    };
    process.on('SIGTERM', () => void shutdown('SIGTERM'));
    process.on('SIGINT', () => void shutdown('SIGINT'));
  });

configOptions(program.command('check-config'))
  .description('validate a config without running')
  .action((opts: { config?: string; set: string[] }) => {
    const config = load(opts);
    // The files the config names must be usable too.
    tlsOrExit('amqp.tls', config.amqp.tls);
    if (config.mqtt.mode === 'embedded') tlsOrExit('mqtt.embedded.tls', config.mqtt.embedded.tls);
    process.stdout.write(`config OK: mqtt ${config.mqtt.mode}, ${config.routing.rules.length} routing rules, ${config.amqp.topology.queues.length} queues, store ${config.store.dir}\n`);
  });

const routes = program.command('routes').description('routing rules');
configOptions(routes.command('check'))
  .description('check that every routing rule reaches at least one declared queue')
  .action((opts: { config?: string; set: string[] }) => {
    const config = load(opts);
    const results = checkRoutes(config.routing.rules, bindingsOf(config));
    let bad = 0;
    for (const r of results) {
      if (r.reachable) process.stdout.write(`ok       ${r.rule.filter} -> ${r.rule.key}: ${r.queues.join(', ')}\n`);
      else {
        bad++;
        process.stdout.write(`NOWHERE  ${r.rule.filter} -> ${r.rule.key}: reaches no queue (messages will be parked)\n`);
      }
    }
    process.exitCode = bad > 0 ? 1 : 0;
  });

const store = program.command('store').description('inspect the store-and-forward directory');
configOptions(store.command('verify'))
  .description('check every record checksum; report corrupt regions')
  .option('--dir <dir>', 'store directory (default: store.dir from config)')
  .action(async (opts: { config?: string; set: string[]; dir?: string }) => {
    const dir = opts.dir ?? load(opts).store.dir;
    const report = await verifyStore(dir);
    process.stdout.write(JSON.stringify(report, null, 2) + '\n');
    process.exitCode = report.ok ? 0 : 1;
  });
configOptions(store.command('inspect'))
  .description('summarise what the store holds')
  .option('--dir <dir>', 'store directory (default: store.dir from config)')
  .action(async (opts: { config?: string; set: string[]; dir?: string }) => {
    const dir = opts.dir ?? load(opts).store.dir;
    process.stdout.write(JSON.stringify(await inspectStore(dir), null, 2) + '\n');
  });

configOptions(program.command('tail'))
  .description("print readings as they arrive, from a temporary queue bound to the telemetry exchange, e.g. tail 'factory.*.temperature'")
  .argument('<pattern>', 'AMQP topic binding pattern (* one word, # any number of words)')
  .option('--json', 'one JSON object per reading')
  .option('--exchange <name>', 'exchange to bind to (default: amqp.topology.exchange from config)')
  .option('--count <n>', 'exit after this many readings')
  .action(async (pattern: string, opts: { config?: string; set: string[]; json?: boolean; exchange?: string; count?: string }) => {
    const config = load(opts);
    const count = opts.count === undefined ? undefined : Number(opts.count);
    if (count !== undefined && !(Number.isInteger(count) && count > 0)) {
      process.stderr.write(`edge-bridge tail: --count: expected a positive integer, got "${opts.count}"\n`);
      process.exit(2);
    }
    const exchange = opts.exchange ?? config.amqp.topology.exchange;
    const tls = tlsOrExit('amqp.tls', config.amqp.tls);
    try {
      const tail = await startTail({
        urls: config.amqp.urls,
        exchange,
        pattern,
        json: Boolean(opts.json),
        count,
        tls,
        reconnect: config.amqp.reconnect,
        out: (line) => process.stdout.write(line + '\n'),
        err: (line) => process.stderr.write(line + '\n'),
      });
      process.stderr.write(`tailing '${pattern}' on exchange '${exchange}' (temporary queue ${tail.queue}); Ctrl-C to stop\n`);
      for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => void tail.stop());
      await tail.done;
      process.exit(0);
    } catch (err) {
      if (!(err instanceof TailError)) throw err;
      process.stderr.write(`edge-bridge tail: ${err.message}\n`);
      process.exit(1);
    }
  });

configOptions(program.command('cmd <device> <op> [arg]'))
  .description('send a downlink command to a node through RabbitMQ (op: set_interval, set_batch, ping, reboot)')
  .option('--id <n>', 'command id (default: random); the node echoes it in its status to confirm')
  .action(async (device: string, op: string, arg: string | undefined, opts: { config?: string; set: string[]; id?: string }) => {
    const config = load(opts);
    const tls = tlsOrExit('amqp.tls', config.amqp.tls);
    try {
      const sent = await publishCommand({
        urls: config.amqp.urls,
        tls,
        exchange: config.downlink.exchange,
        device,
        op,
        arg: arg === undefined ? 0 : Number(arg),
        id: opts.id === undefined ? undefined : Number(opts.id),
      });
      process.stdout.write(`command #${sent.id} ${sent.op}${sent.arg ? ` ${sent.arg}` : ''} for ${device} confirmed by RabbitMQ (exchange '${config.downlink.exchange}', key cmd.${device})\n`);
    } catch (err) {
      process.stderr.write(`edge-bridge cmd: ${redactSecrets((err as Error).message)}\n`);
      process.exit(1);
    }
  });

program
  .command('credentials')
  .description('MQTT logins for the embedded broker (scrypt-hashed; see docs/security.md)')
  .command('add <device>')
  .description('add or replace a login; the username and client id are the device id')
  .requiredOption('--file <path>', 'credentials file (mqtt.embedded.auth.credentialsFile); created with mode 0600')
  .option('--secret-env <name>', 'read the secret from this environment variable (default: generate one and print it once)')
  .option('--operator', 'an operator login: may publish and subscribe to any device\'s cmd topic, nothing else')
  .option('--prefix <prefix>', 'a topic prefix this login may use, e.g. factory/floor1 (repeatable; default: mqtt.topicPrefixes, else any)', collect, [])
  .action(async (device: string, o: { file: string; secretEnv?: string; operator?: boolean; prefix: string[] }) => {
    const given = o.secretEnv ? process.env[o.secretEnv] : undefined;
    if (o.secretEnv && !given) {
      process.stderr.write(`edge-bridge credentials: environment variable ${o.secretEnv} is not set\n`);
      process.exit(2);
    }
    const secret = given ?? randomBytes(18).toString('base64url');
    try {
      await addCredential(o.file, device, secret, o.operator ? 'operator' : 'device', o.prefix);
    } catch (err) {
      if (!(err instanceof CredentialsError)) throw err;
      process.stderr.write(`edge-bridge credentials: ${err.message}\n`);
      process.exit(2);
    }
    process.stdout.write(given ? `${device}: login stored in ${o.file}\n` : `${device}: login stored in ${o.file}; its secret (shown once): ${secret}\n`);
  });

program
  .command('plan')
  .description("capacity plan: messages/s, queue memory, consumers (Little's law), prefetch, store size for an outage; each with its formula")
  .requiredOption('--devices <n>', 'number of devices')
  .requiredOption('--rate <r>', 'readings per second per device')
  .requiredOption('--batch <n>', 'readings per batch (one batch = one message)')
  .requiredOption('--msg-size <size>', 'bytes per message, e.g. 300, 1KB, 4KiB')
  .option('--parts <n>', 'messages per batch when a routing rule splits it (split: sensor -> sensors per batch)', '1')
  .requiredOption('--backlog-seconds <s>', 'seconds of backlog a queue must hold')
  .requiredOption('--handler-ms <ms>', 'consumer handling time per message')
  .option('--outage <duration>', 'uplink outage the local store must ride out, e.g. 3600, 30m, 2h')
  .option('--rtt-ms <ms>', 'consumer <-> broker round trip', '10')
  .option('--utilization <u>', 'target consumer utilisation (0..1]', '0.7')
  .option('--record-overhead <size>', 'store bytes added per record', '200')
  .option('--store-max <size>', 'store.maxBytes to check the outage against', '1GiB')
  .option('--json', 'print the figures as JSON')
  .action((o: Record<string, string | boolean | undefined>) => {
    try {
      const num = (name: string, v: unknown) => {
        const x = Number(v);
        if (typeof v !== 'string' || v.trim() === '' || !Number.isFinite(x)) throw new PlanInputError(`${name}: expected a number, got "${String(v)}"`);
        return x;
      };
      const p = plan({
        devices: num('devices', o.devices),
        readingsPerSecond: num('rate', o.rate),
        batchSize: num('batch', o.batch),
        messagesPerBatch: num('parts', o.parts),
        messageBytes: parseSize(String(o.msgSize)),
        backlogSeconds: parseDuration(String(o.backlogSeconds)),
        handlerMs: num('handler-ms', o.handlerMs),
        outageSeconds: o.outage === undefined ? undefined : parseDuration(String(o.outage)),
        rttMs: num('rtt-ms', o.rttMs),
        utilization: num('utilization', o.utilization),
        recordOverheadBytes: parseSize(String(o.recordOverhead)),
        storeMaxBytes: parseSize(String(o.storeMax)),
      });
      process.stdout.write(o.json ? JSON.stringify(p, null, 2) + '\n' : formatPlan(p));
    } catch (err) {
      if (!(err instanceof PlanInputError)) throw err;
      process.stderr.write(`edge-bridge plan: ${err.message}\n`);
      process.exitCode = 2;
    }
  });

/** A TLS section's files for a command; unusable ones end it like an invalid config. */
function tlsOrExit(section: string, names: TlsFileNames | undefined): TlsMaterial | undefined {
  try {
    return names ? readTlsFiles(section, names) : undefined;
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`${err.message}\n`);
    process.exit(2);
  }
}

/**
 * `start` with an invalid config: say so on stderr and stay up serving /healthz
 * (200) and /readyz (503, with the problems) until stopped, then exit 2. A
 * supervisor sees why instead of restarting into the same error.
 */
async function waitWithInvalidConfig(err: ConfigError): Promise<void> {
  process.stderr.write(`${err.message}\n`);
  const addr = httpAddressOf(err.raw);
  const log = createLogger('warn');
  const http = await startHttp(addr, new ConfigErrorHealth(err.problems), log).catch((e: Error) => {
    process.stderr.write(`edge-bridge: cannot serve /readyz either: ${e.message}\n`);
    process.exit(2);
  });
  process.stderr.write(`edge-bridge: not started; /readyz on http://${addr.host}:${http.port}/readyz answers 503 until the config is fixed and the bridge restarted\n`);
  const stop = () => void http.close().then(() => process.exit(2));
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}


await program.parseAsync(process.argv);
