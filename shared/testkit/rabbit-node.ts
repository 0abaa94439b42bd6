import { spawn, type ChildProcess } from 'node:child_process';
import { chownSync, closeSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './ports.ts';
import { uniquePrefix, waitFor } from './unique.ts';

/**
 * A private RabbitMQ node for tests that must stop, kill or reconfigure a broker.
 *
 * It runs beside the shared node (rabbit@localhost on 5672) and shares nothing
 * with it but the Erlang installation, epmd and the Erlang cookie:
 * - its own directory under os.tmpdir() (data, logs, config, pid file), owned by
 *   the `rabbitmq` user when we run as root, since the node runs as that user;
 * - its own rabbitmq.conf, enabled_plugins and an empty rabbitmq-env.conf, so it
 *   inherits neither the shared listeners nor /etc/rabbitmq/rabbitmq-env.conf's NODENAME;
 * - its own node name and free loopback ports (AMQP, distribution, plugins).
 *
 * Cookie: as root we start the node and run rabbitmqctl as the `rabbitmq` user
 * with HOME set to its home (/var/lib/rabbitmq on Debian), which is what Debian's
 * wrapper script does with `su`; both therefore read the shared node's cookie.
 * We bypass the wrapper (it would `cd /var/lib/rabbitmq` and re-quote arguments
 * through a shell) and call the scripts in /usr/lib/rabbitmq/bin directly.
 */

export type RabbitPlugin = 'rabbitmq_management' | 'rabbitmq_mqtt';

export interface PrivateRabbitOptions {
  plugins?: RabbitPlugin[];
  /** Extra rabbitmq.conf lines (new-style sysctl format), appended to the generated ones. */
  config?: string;
  /** Seconds to wait for the node to boot (await_startup). Default 90. */
  startupTimeoutSec?: number;
  /** Label put into the node name; default 'edge'. */
  label?: string;
  /**
   * An AMQPS listener on a free loopback port (listeners.ssl.default) with these PEM files,
   * copied into the node's directory so the `rabbitmq` user can read them.
   * verifyPeer: ask for a client certificate and refuse a connection without one signed by caFile.
   */
  tls?: { caFile: string; certFile: string; keyFile: string; verifyPeer?: boolean };
}

export interface PrivateRabbit {
  /** e.g. edge-t-1234-lx9k2-abcdef@localhost */
  nodeName: string;
  amqpPort: number;
  /** amqp://guest:guest@127.0.0.1:<amqpPort> */
  amqpUrl: string;
  /** Erlang distribution port of the node. */
  distPort: number;
  managementPort?: number;
  /** http://127.0.0.1:<managementPort> (guest/guest works from loopback). */
  managementUrl?: string;
  mqttPort?: number;
  /** mqtt://127.0.0.1:<mqttPort> */
  mqttUrl?: string;
  /** With the tls option: the AMQPS listener's port. */
  amqpsPort?: number;
  /** amqps://guest:guest@127.0.0.1:<amqpsPort> */
  amqpsUrl?: string;
  /** The node's private directory (config, mnesia, logs). */
  dir: string;
  /** OS pid of the node's beam.smp while it runs. */
  readonly osPid: number | undefined;
  /** 'graceful' = `rabbitmqctl -n <node> stop`; 'kill' = SIGKILL to this node's beam.smp only. */
  stop(mode?: 'graceful' | 'kill'): Promise<void>;
  /** Start again on the same name, ports and data (durable queues and persistent messages survive). */
  start(): Promise<void>;
  /**
   * Flush the node's metadata log to disk (`mnesia:sync_log()`). RabbitMQ 3.10 keeps
   * queue/exchange/binding definitions in Mnesia, whose log writes are buffered for a
   * moment: a durable queue declared just before a kill -9 was lost in about 1 run in 3
   * here, and its confirmed persistent messages with it. Call this after declaring
   * topology when a test kills the node and that window is not what it tests.
   */
  syncMetadata(): Promise<void>;
  /** Runs `rabbitmqctl -n <node> ...args` and resolves with its stdout. */
  rabbitmqctl(args: string[], opts?: { timeoutMs?: number }): Promise<string>;
  /** The tail of the node's log files, for failure messages. */
  logTail(lines?: number): string;
  /** Kill the node (SIGKILL: its data goes anyway) and delete its directory. Idempotent. */
  dispose(): Promise<void>;
}

interface RunAs {
  uid: number;
  gid: number;
  home: string;
  user: string;
}

const SBIN_DIR = '/usr/lib/rabbitmq/bin';

function binary(name: 'rabbitmq-server' | 'rabbitmqctl'): string {
  const direct = join(SBIN_DIR, name);
  return existsSync(direct) ? direct : name;
}

/** When we are root the node must run as `rabbitmq` (Debian's layout); otherwise as ourselves. */
function runAs(): RunAs | undefined {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return undefined;
  let passwd = '';
  try {
    passwd = readFileSync('/etc/passwd', 'utf8');
  } catch {
    return undefined;
  }
  for (const line of passwd.split('\n')) {
    const f = line.split(':');
    if (f[0] === 'rabbitmq' && f.length >= 6) {
      return { user: 'rabbitmq', uid: Number(f[2]), gid: Number(f[3]), home: f[5] || '/var/lib/rabbitmq' };
    }
  }
  return undefined;
}

/** process.env without anything RabbitMQ or Erlang specific that could leak in from the caller. */
function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (k.startsWith('RABBITMQ_') || k.startsWith('ERL_') || k === 'NODENAME' || k === 'CONFIG_FILE') continue;
    env[k] = v;
  }
  return env;
}

function chownTree(path: string, who: RunAs | undefined): void {
  if (!who) return;
  chownSync(path, who.uid, who.gid);
  if (statSync(path).isDirectory()) {
    for (const entry of readdirSync(path)) chownTree(join(path, entry), who);
  }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * True only if `pid` is a beam process started for `nodeName` (never the shared node).
 * RabbitMQ 3.10 sets the node name at runtime, so it is not on the command line;
 * the environment we gave the node carries it.
 */
function isBeamOf(pid: number, nodeName: string): boolean {
  try {
    const exe = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[0] ?? '';
    if (!/beam/.test(exe)) return false;
    return readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').includes(`RABBITMQ_NODENAME=${nodeName}`);
  } catch {
    return false;
  }
}

// Nodes still running when the test process exits are killed, so a crashed test
// run does not leave brokers behind (best effort: 'exit' handlers must be sync).
const live = new Set<{ killNow(): void }>();
let exitHookInstalled = false;
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const n of live) n.killNow();
  });
}

/**
 * `rabbitmqctl -n <node> ...args` with the same identity handling as the private
 * nodes (as root: run as the `rabbitmq` user with its HOME, hence its cookie).
 * Also usable read-only against the shared node, e.g. `status --formatter json`.
 */
export function rabbitmqctlAt(
  node: string,
  args: string[],
  { timeoutMs = 120_000, cwd = tmpdir(), env }: { timeoutMs?: number; cwd?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<string> {
  const who = runAs();
  const childEnv = env ?? { ...cleanEnv(), ...(who ? { HOME: who.home, USER: who.user, LOGNAME: who.user } : {}) };
  return new Promise((resolve, reject) => {
    const p = spawn(binary('rabbitmqctl'), ['-n', node, ...args], {
      env: childEnv,
      cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
      ...(who ? { uid: who.uid, gid: who.gid } : {}),
    });
    let stdout = '';
    let stderr = '';
    p.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    p.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
    p.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    p.once('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve(stdout);
      else reject(new Error(`rabbitmqctl -n ${node} ${args.join(' ')} failed (${signal ?? code}): ${(stderr || stdout).trim()}`));
    });
  });
}

export async function startPrivateRabbit(opts: PrivateRabbitOptions = {}): Promise<PrivateRabbit> {
  const plugins = [...new Set(opts.plugins ?? [])];
  const startupTimeoutSec = opts.startupTimeoutSec ?? 90;
  const who = runAs();
  const prefix = uniquePrefix(opts.label ?? 'edge');
  const nodeName = `${prefix}@localhost`;

  const dir = mkdtempSync(join(tmpdir(), 'edge-rabbit-'));
  const mnesiaBase = join(dir, 'mnesia');
  const logBase = join(dir, 'log');
  mkdirSync(mnesiaBase);
  mkdirSync(logBase);

  const amqpPort = await freePort();
  const distPort = await freePort();
  const managementPort = plugins.includes('rabbitmq_management') ? await freePort() : undefined;
  const mqttPort = plugins.includes('rabbitmq_mqtt') ? await freePort() : undefined;
  const amqpsPort = opts.tls ? await freePort() : undefined;

  const confFile = join(dir, 'rabbitmq.conf');
  const conf = [`listeners.tcp.1 = 127.0.0.1:${amqpPort}`, 'log.console = false', 'log.file.level = info'];
  if (opts.tls) {
    const tlsDir = join(dir, 'tls');
    mkdirSync(tlsDir);
    const copy = (from: string, name: string) => {
      copyFileSync(from, join(tlsDir, name));
      return join(tlsDir, name);
    };
    conf.push(
      `listeners.ssl.default = 127.0.0.1:${amqpsPort}`,
      `ssl_options.cacertfile = ${copy(opts.tls.caFile, 'ca.pem')}`,
      `ssl_options.certfile = ${copy(opts.tls.certFile, 'cert.pem')}`,
      `ssl_options.keyfile = ${copy(opts.tls.keyFile, 'key.pem')}`,
      `ssl_options.verify = ${opts.tls.verifyPeer ? 'verify_peer' : 'verify_none'}`,
      `ssl_options.fail_if_no_peer_cert = ${opts.tls.verifyPeer ? 'true' : 'false'}`,
    );
  } else {
    conf.push('listeners.ssl = none');
  }
  if (managementPort !== undefined) conf.push(`management.tcp.ip = 127.0.0.1`, `management.tcp.port = ${managementPort}`);
  if (mqttPort !== undefined) conf.push(`mqtt.listeners.tcp.1 = 127.0.0.1:${mqttPort}`, 'mqtt.listeners.ssl = none');
  if (opts.config) conf.push(opts.config.trim());
  writeFileSync(confFile, `${conf.join('\n')}\n`);
  const pluginsFile = join(dir, 'enabled_plugins');
  writeFileSync(pluginsFile, `[${plugins.join(',')}].\n`);
  // An empty env file instead of /etc/rabbitmq/rabbitmq-env.conf (NODENAME, ERL_FLAGS, ...).
  const confEnvFile = join(dir, 'rabbitmq-env.conf');
  writeFileSync(confEnvFile, '# private test node: nothing inherited from /etc/rabbitmq/rabbitmq-env.conf\n');
  const pidFile = join(dir, 'node.pid');
  chownTree(dir, who);

  const base = cleanEnv();
  if (who) Object.assign(base, { HOME: who.home, USER: who.user, LOGNAME: who.user });
  base.RABBITMQ_CONF_ENV_FILE = confEnvFile;

  const serverEnv: NodeJS.ProcessEnv = {
    ...base,
    RABBITMQ_NODENAME: nodeName,
    RABBITMQ_USE_LONGNAME: 'false',
    RABBITMQ_NODE_IP_ADDRESS: '127.0.0.1',
    RABBITMQ_NODE_PORT: String(amqpPort),
    RABBITMQ_DIST_PORT: String(distPort),
    RABBITMQ_CONFIG_FILE: confFile,
    RABBITMQ_ADVANCED_CONFIG_FILE: join(dir, 'advanced.config'), // never created
    RABBITMQ_ENABLED_PLUGINS_FILE: pluginsFile,
    RABBITMQ_MNESIA_BASE: mnesiaBase,
    RABBITMQ_LOG_BASE: logBase,
    RABBITMQ_PID_FILE: pidFile,
    ERL_EPMD_ADDRESS: '127.0.0.1',
    // What the shared node gets from ERL_FLAGS in /etc/rabbitmq/rabbitmq-env.conf.
    RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS: '-kernel inet_dist_use_interface {127,0,0,1}',
  };
  const ctlEnv: NodeJS.ProcessEnv = { ...base };
  const idOpts = who ? { uid: who.uid, gid: who.gid } : {};

  let child: ChildProcess | undefined;
  let childExit: Promise<void> = Promise.resolve();
  let osPid: number | undefined;
  let disposed = false;

  const logTail = (lines = 40): string => {
    const out: string[] = [];
    for (const f of [join(logBase, 'console.out'), join(logBase, `${nodeName}.log`)]) {
      try {
        const text = readFileSync(f, 'utf8').trimEnd().split('\n');
        out.push(`--- ${f}`, ...text.slice(-lines));
      } catch {
        /* not there yet */
      }
    }
    return out.join('\n');
  };

  const rabbitmqctl = (args: string[], { timeoutMs = 120_000 } = {}): Promise<string> =>
    rabbitmqctlAt(nodeName, args, { timeoutMs, cwd: dir, env: ctlEnv });

  const readPid = (): number | undefined => {
    try {
      const pid = Number(readFileSync(pidFile, 'utf8').trim());
      return Number.isInteger(pid) && pid > 0 && isBeamOf(pid, nodeName) ? pid : undefined;
    } catch {
      return undefined;
    }
  };

  const handle = {
    killNow() {
      const pid = osPid ?? readPid();
      if (pid !== undefined && isBeamOf(pid, nodeName)) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          /* gone */
        }
      }
      if (child?.pid !== undefined && child.exitCode === null && child.signalCode === null) {
        try {
          process.kill(-child.pid, 'SIGKILL'); // its own process group (detached)
        } catch {
          /* gone */
        }
      }
      if (disposed) rmSync(dir, { recursive: true, force: true });
    },
  };

  const start = async (): Promise<void> => {
    if (child && child.exitCode === null && child.signalCode === null) throw new Error(`${nodeName} is already running`);
    const out = openSync(join(logBase, 'console.out'), 'a');
    if (who) chownSync(join(logBase, 'console.out'), who.uid, who.gid);
    let spawned: ChildProcess;
    try {
      spawned = spawn(binary('rabbitmq-server'), [], {
        env: serverEnv,
        cwd: dir,
        detached: true,
        stdio: ['ignore', out, out],
        ...idOpts,
      });
    } finally {
      closeSync(out);
    }
    child = spawned;
    spawned.unref();
    live.add(handle);
    installExitHook();
    let exited = false;
    childExit = new Promise<void>((resolve) => {
      spawned.once('error', () => {
        exited = true;
        resolve();
      });
      spawned.once('exit', () => {
        exited = true;
        resolve();
      });
    });
    const failed = childExit.then(() => {
      throw new Error(`private RabbitMQ ${nodeName} exited during startup\n${logTail()}`);
    });
    failed.catch(() => undefined);
    // await_startup fails at once while the node has not registered yet, so retry it.
    const deadline = Date.now() + startupTimeoutSec * 1000;
    const booted = (async () => {
      for (;;) {
        const left = Math.ceil((deadline - Date.now()) / 1000);
        try {
          await rabbitmqctl(['await_startup', '--timeout', String(Math.max(left, 1))], { timeoutMs: (left + 15) * 1000 });
          return;
        } catch (err) {
          if (exited) return; // `failed` reports it
          if (Date.now() > deadline) throw new Error(`private RabbitMQ ${nodeName} did not start in ${startupTimeoutSec} s: ${String(err)}\n${logTail()}`);
          await new Promise((r) => setTimeout(r, 250));
        }
      }
    })();
    try {
      await Promise.race([booted, failed]);
    } catch (err) {
      handle.killNow();
      await childExit;
      live.delete(handle);
      throw err;
    }
    osPid = await waitFor(readPid, { timeoutMs: 10_000, what: `pid file of ${nodeName}` });
  };

  const stop = async (mode: 'graceful' | 'kill' = 'graceful'): Promise<void> => {
    const c = child;
    if (!c || c.exitCode !== null || c.signalCode !== null) {
      osPid = undefined;
      live.delete(handle);
      return;
    }
    if (mode === 'kill') {
      const pid = osPid ?? readPid();
      if (pid === undefined) throw new Error(`cannot find the beam pid of ${nodeName}`);
      process.kill(pid, 'SIGKILL');
      await waitFor(() => !pidAlive(pid), { timeoutMs: 10_000, what: `${nodeName} (pid ${pid}) to die` });
    } else {
      try {
        await rabbitmqctl(['stop'], { timeoutMs: 60_000 });
      } catch {
        handle.killNow();
      }
    }
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), 30_000)));
    const outcome = await Promise.race([childExit.then(() => 'exited' as const), timeout]);
    clearTimeout(timer);
    if (outcome === 'timeout') {
      handle.killNow();
      await childExit;
    }
    osPid = undefined;
    live.delete(handle);
  };

  try {
    await start();
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }

  return {
    nodeName,
    amqpPort,
    amqpUrl: `amqp://guest:guest@127.0.0.1:${amqpPort}`,
    distPort,
    managementPort,
    managementUrl: managementPort !== undefined ? `http://127.0.0.1:${managementPort}` : undefined,
    mqttPort,
    mqttUrl: mqttPort !== undefined ? `mqtt://127.0.0.1:${mqttPort}` : undefined,
    amqpsPort,
    amqpsUrl: amqpsPort !== undefined ? `amqps://guest:guest@127.0.0.1:${amqpsPort}` : undefined,
    dir,
    get osPid() {
      return osPid;
    },
    stop,
    start,
    rabbitmqctl,
    async syncMetadata() {
      await rabbitmqctl(['eval', 'mnesia:sync_log().'], { timeoutMs: 60_000 });
    },
    logTail,
    async dispose() {
      if (disposed) return;
      disposed = true;
      try {
        await stop('kill'); // its data is deleted next, so there is nothing to shut down cleanly
      } catch {
        handle.killNow();
        await childExit;
      }
      live.delete(handle);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
