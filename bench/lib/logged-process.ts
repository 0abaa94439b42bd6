// A bench child process whose stdout and stderr go to a log file: how it exited, and the end of its log.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';

export interface LoggedProcess {
  child: ChildProcess;
  /** How it exited (exit code or signal), undefined while it runs. */
  exited(): string | undefined;
  /** Resolves once it has exited. */
  exit: Promise<void>;
  /** The last `lines` lines of its log ('' before there is one). */
  logTail(lines?: number): string;
}

export function spawnLogged(command: string, args: string[], opts: { cwd: string; env: NodeJS.ProcessEnv; logFile: string }): LoggedProcess {
  const out = openSync(opts.logFile, 'w');
  const child = spawn(command, args, { cwd: opts.cwd, env: opts.env, stdio: ['ignore', out, out] });
  closeSync(out);
  let exited: string | undefined;
  const exit = new Promise<void>((r) =>
    child.once('exit', (code, signal) => {
      exited = `${code ?? signal}`;
      r();
    }),
  );
  const logTail = (lines = 15) => {
    try {
      return readFileSync(opts.logFile, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
    } catch {
      return '';
    }
  };
  return { child, exited: () => exited, exit, logTail };
}
