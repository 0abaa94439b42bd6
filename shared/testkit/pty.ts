// A pseudo-terminal pair made by socat: two symlinks whose bytes cross over, like
// a null-modem cable. stop() ends socat, so both links vanish ("unplug");
// restart() makes a new pair at the same link paths ("replug").
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { waitFor } from './unique.ts';

export interface PtyPair {
  /** Link to one end (give it to the "node"). */
  a: string;
  /** Link to the other end (give it to the bridge). */
  b: string;
  stop(): Promise<void>;
  restart(): Promise<void>;
}

export async function startPtyPair(dir: string, names: { a?: string; b?: string } = {}): Promise<PtyPair> {
  const a = join(dir, names.a ?? 'ttyA');
  const b = join(dir, names.b ?? 'ttyB');
  let socat: ChildProcess | undefined;
  let stderr = '';

  const launch = async () => {
    stderr = '';
    const child = spawn('socat', ['-d', '-d', `pty,raw,echo=0,link=${a}`, `pty,raw,echo=0,link=${b}`], { stdio: ['ignore', 'ignore', 'pipe'] });
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    socat = child;
    // socat logs "starting data transfer loop" once both ptys and links exist.
    await waitFor(() => existsSync(a) && existsSync(b) && stderr.includes('starting data transfer loop'), {
      timeoutMs: 5000,
      intervalMs: 10,
      what: `socat pty pair at ${a} / ${b} (${stderr.trim().split('\n').at(-1) ?? ''})`,
    }).catch((err: unknown) => {
      child.kill('SIGKILL');
      throw err;
    });
  };

  const stop = async () => {
    const child = socat;
    socat = undefined;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    // SIGTERM lets socat remove its links, which is what a vanished device looks like.
    child.kill('SIGTERM');
    await exited;
    await waitFor(() => !existsSync(a) && !existsSync(b), { timeoutMs: 3000, intervalMs: 10, what: 'pty links to vanish' });
  };

  await launch();
  return {
    a,
    b,
    stop,
    restart: async () => {
      await stop();
      await launch();
    },
  };
}
