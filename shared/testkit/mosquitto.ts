import { spawn, type ChildProcess } from 'node:child_process';
import { chownSync, mkdtempSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:net';
import { freePort } from './ports.ts';
import { waitFor } from './unique.ts';

export interface PrivateMosquitto {
  port: number;
  url: string;
  dir: string;
  /** OS pid while it runs (the bench samples its CPU). */
  readonly pid: number | undefined;
  /** SIGKILL or SIGTERM the broker; `start()` brings it back on the same port with its persisted state. */
  stop(signal?: NodeJS.Signals): Promise<void>;
  start(): Promise<void>;
  /** Stop and delete its directory. */
  dispose(): Promise<void>;
}

/**
 * A private Mosquitto on a free loopback port, with persistence on and no
 * per-client queue limit (max_queued_messages 0), so tests may stop it freely.
 *
 * Run as root, mosquitto drops privileges to the `mosquitto` user after reading
 * its config, so its directory (persistence, log) is handed to that user;
 * otherwise every save failed with EACCES and nothing survived a restart.
 */
export async function startPrivateMosquitto(settings: { maxQueuedMessages?: number; sysIntervalSec?: number } = {}): Promise<PrivateMosquitto> {
  const dir = mkdtempSync(join(tmpdir(), 'edge-mosq-'));
  const port = await freePort();
  const dropTo = privilegeDropTarget();
  const conf = join(dir, 'mosquitto.conf');
  writeFileSync(
    conf,
    [
      `listener ${port} 127.0.0.1`,
      'allow_anonymous true',
      'persistence true',
      `persistence_location ${dir}/`,
      `max_queued_messages ${settings.maxQueuedMessages ?? 0}`,
      ...(settings.sysIntervalSec !== undefined ? [`sys_interval ${settings.sysIntervalSec}`] : []),
      'max_inflight_messages 0',
      'autosave_interval 1',
      ...(dropTo === 'root' ? ['user root'] : []),
      'log_dest file ' + join(dir, 'mosquitto.log'),
      'log_type error',
      'log_type warning',
      '',
    ].join('\n'),
  );
  if (typeof dropTo === 'object') chownSync(dir, dropTo.uid, dropTo.gid);
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  const running = (c: ChildProcess | undefined): c is ChildProcess => !!c && c.exitCode === null && c.signalCode === null;
  const start = async () => {
    if (running(child)) throw new Error(`private mosquitto on ${port} is already running`);
    const spawned = spawn('mosquitto', ['-c', conf], { stdio: 'ignore' });
    child = spawned;
    let gone: Error | undefined;
    exited = new Promise<void>((resolve) => {
      spawned.once('error', (err) => {
        gone = err;
        resolve();
      });
      spawned.once('exit', (code, signal) => {
        gone = new Error(`mosquitto exited (${signal ?? code})\n${logTail(dir)}`);
        resolve();
      });
    });
    try {
      await waitFor(
        () => {
          if (gone) throw gone;
          return portOpen(port);
        },
        { timeoutMs: 10_000, what: `private mosquitto on ${port}` },
      );
    } catch (err) {
      await stop('SIGKILL');
      throw gone ?? err;
    }
  };
  const stop = async (signal: NodeJS.Signals = 'SIGTERM') => {
    const c = child;
    child = undefined;
    // A child killed by a signal has exitCode null: check signalCode too, or this waits forever.
    if (!running(c)) return;
    c.kill(signal);
    await exited;
  };
  await start();
  return {
    port,
    url: `mqtt://127.0.0.1:${port}`,
    dir,
    get pid() {
      return child?.pid;
    },
    stop,
    start,
    async dispose() {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export function portOpen(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ port, host });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/** Where a root mosquitto will drop to: the `mosquitto` user, or stay root if there is none. */
function privilegeDropTarget(): { uid: number; gid: number } | 'root' | undefined {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return undefined;
  try {
    for (const line of readFileSync('/etc/passwd', 'utf8').split('\n')) {
      const f = line.split(':');
      if (f[0] === 'mosquitto' && f.length >= 4) return { uid: Number(f[2]), gid: Number(f[3]) };
    }
  } catch {
    /* no passwd file: keep root */
  }
  return 'root';
}

function logTail(dir: string, lines = 20): string {
  try {
    return readFileSync(join(dir, 'mosquitto.log'), 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}
