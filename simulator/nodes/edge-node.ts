// Spawns the POSIX port of the firmware core (firmware/build/edge-node), the
// "virtual node" that runs the real C state machine. Builds nothing: run
// `make -C firmware posix` first (EDGE_NODE_BIN overrides the binary, e.g.
// firmware/build/edge-node-asan from `make -C firmware posix-asan`).
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';

export const EDGE_NODE_BIN = fileURLToPath(new URL('../../firmware/build/edge-node', import.meta.url));

export interface EdgeNodeOptions {
  device: string;
  stateDir: string;
  transport?: 'mqtt' | 'serial';
  /** mqtt://host:port */
  broker?: string;
  prefix?: string;
  /** Pty or tty path for the serial transport. */
  serial?: string;
  baud?: number;
  /** Sample interval, ms (the core accepts 100..3600000). */
  intervalMs?: number;
  /** Readings per batch, 1..64. */
  batch?: number;
  batchAgeMs?: number;
  /** Serial retransmit timeout, ms. */
  ackTimeoutMs?: number;
  /** PUBACK wait before a batch is resent, ms. */
  mqttAckTimeoutMs?: number;
  statusPeriodMs?: number;
  sensors?: string[];
  seed?: number;
  /** Exit once this many batches are acknowledged. */
  count?: number;
  fw?: string;
  /** Info logs on stderr and an `edge-node: acked ...` stdout line per batch. */
  verbose?: boolean;
  binary?: string;
}

export interface EdgeNodeExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface EdgeNodeHandle {
  process: ChildProcess;
  /** stdout lines so far (the process keeps appending). */
  readonly lines: string[];
  /** stderr text so far, for failure messages. */
  readonly stderr: () => string;
  /** Resolves with the first stdout line that matches. */
  waitForLine(match: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  /** Sends the signal (default SIGTERM) and waits for the exit. */
  stop(signal?: NodeJS.Signals): Promise<EdgeNodeExit>;
  waitForExit(): Promise<EdgeNodeExit>;
}

export function edgeNodeArgs(o: EdgeNodeOptions): string[] {
  const args = ['--device', o.device, '--state-dir', o.stateDir];
  const add = (flag: string, value: string | number | undefined) => {
    if (value !== undefined) args.push(flag, String(value));
  };
  add('--transport', o.transport);
  add('--broker', o.broker);
  add('--prefix', o.prefix);
  add('--serial', o.serial);
  add('--baud', o.baud);
  add('--interval', o.intervalMs);
  add('--batch', o.batch);
  add('--batch-age', o.batchAgeMs);
  add('--ack-timeout', o.ackTimeoutMs);
  add('--mqtt-ack-timeout', o.mqttAckTimeoutMs);
  add('--status-period', o.statusPeriodMs);
  add('--sensors', o.sensors?.join(','));
  add('--seed', o.seed);
  add('--count', o.count);
  add('--fw', o.fw);
  if (o.verbose) args.push('--verbose');
  return args;
}

export function spawnEdgeNode(opts: EdgeNodeOptions): EdgeNodeHandle {
  const binary = opts.binary ?? process.env.EDGE_NODE_BIN ?? EDGE_NODE_BIN;
  if (!existsSync(binary)) {
    throw new Error(`edge-node binary not found at ${binary}: run make -C firmware posix`);
  }
  const child = spawn(binary, edgeNodeArgs(opts), { stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  const waiters = new Set<() => void>();
  let stderr = '';
  createInterface({ input: child.stdout! }).on('line', (line) => {
    lines.push(line);
    for (const wake of waiters) wake();
  });
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));

  const exited = new Promise<EdgeNodeExit>((resolve) => {
    child.once('close', (code, signal) => {
      resolve({ code, signal });
      for (const wake of waiters) wake();
    });
  });
  const running = () => child.exitCode === null && child.signalCode === null;

  const waitForLine = (match: RegExp, timeoutMs = 10_000) =>
    new Promise<RegExpMatchArray>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const check = () => {
        for (const line of lines) {
          const m = line.match(match);
          if (m) return done(() => resolve(m));
        }
        if (!running()) done(() => reject(new Error(`edge-node exited before printing ${match}\n${stderr}`)));
      };
      const done = (settle: () => void) => {
        clearTimeout(timer);
        waiters.delete(check);
        settle();
      };
      timer = setTimeout(() => done(() => reject(new Error(`timed out waiting for ${match} from edge-node\n${stderr}`))), timeoutMs);
      waiters.add(check);
      check();
    });

  return {
    process: child,
    lines,
    stderr: () => stderr,
    waitForLine,
    waitForExit: () => exited,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (running()) child.kill(signal);
      return exited;
    },
  };
}
