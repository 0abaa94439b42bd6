// Pending downlink commands, one small file each.
//
// Invariants:
// - put() returns only after the file and its directory entry are fsynced: the AMQP
//   message is acked after put(), so a crash never loses an accepted command.
// - A command leaves the store only when its device confirms it (status `cmd` equals
//   its id) or its TTL passes (counted apart as expired). Delivery is at least once:
//   a command may be sent again after a reconnect or a restart; the node applies an id
//   it has just applied only once (the core ignores a repeat of its last command id).
// - A file that does not parse is moved aside to `<name>.bad` and reported, never
//   fatal, never looped on.
// Commands are few (operators send them), so a file per command is simple and fast enough.
import { closeSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { validateCommand, type Command } from '../codec/index.ts';

export interface PendingCommand {
  device: string;
  command: Command;
  receivedAt: number;
  expiresAt: number;
  /** Times handed to a transport. */
  sends: number;
  lastSentAt: number;
}

const DEVICE = /^[A-Za-z0-9_-]{1,64}$/;

export class CommandStore {
  private readonly pending = new Map<string, PendingCommand>();
  /** Files that could not be read at open, moved aside. */
  readonly bad: string[] = [];

  constructor(private readonly dir: string) {}

  private static key(device: string, id: number): string {
    return `${device}.${id}`;
  }

  open(): void {
    mkdirSync(this.dir, { recursive: true });
    for (const name of readdirSync(this.dir)) {
      if (!name.endsWith('.json')) continue;
      const file = join(this.dir, name);
      try {
        const p = JSON.parse(readFileSync(file, 'utf8')) as PendingCommand;
        const v = validateCommand(p.command as unknown);
        if (!v.ok || typeof p.device !== 'string' || !DEVICE.test(p.device) || !Number.isFinite(p.expiresAt)) throw new Error('bad entry');
        this.pending.set(CommandStore.key(p.device, v.value.id), { ...p, command: v.value, sends: 0, lastSentAt: 0 });
      } catch {
        renameSync(file, `${file}.bad`);
        this.bad.push(name);
      }
    }
  }

  /** Durable before it returns. A repeat of a pending (device, id) keeps the first. */
  put(device: string, command: Command, ttlMs: number, now = Date.now()): PendingCommand {
    if (!DEVICE.test(device)) throw new Error(`device id '${device}' is not [A-Za-z0-9_-]{1,64}`);
    const key = CommandStore.key(device, command.id);
    const existing = this.pending.get(key);
    if (existing) return existing;
    const entry: PendingCommand = { device, command, receivedAt: now, expiresAt: now + ttlMs, sends: 0, lastSentAt: 0 };
    const file = join(this.dir, `${key}.json`);
    const tmp = `${file}.tmp`;
    const fd = openSync(tmp, 'w');
    try {
      writeSync(fd, JSON.stringify({ device, command, receivedAt: entry.receivedAt, expiresAt: entry.expiresAt }));
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, file);
    this.syncDir();
    this.pending.set(key, entry);
    return entry;
  }

  /** The device confirmed command `id`: forget it (and report whether it was pending). */
  confirm(device: string, id: number): PendingCommand | undefined {
    return this.remove(CommandStore.key(device, id));
  }

  /** Removes and returns the commands whose TTL has passed. */
  expire(now = Date.now()): PendingCommand[] {
    const out: PendingCommand[] = [];
    for (const [key, p] of this.pending) {
      if (p.expiresAt <= now) {
        this.remove(key);
        out.push(p);
      }
    }
    return out;
  }

  forDevice(device: string): PendingCommand[] {
    return [...this.pending.values()].filter((p) => p.device === device).sort((a, b) => a.receivedAt - b.receivedAt);
  }

  all(): PendingCommand[] {
    return [...this.pending.values()];
  }

  get size(): number {
    return this.pending.size;
  }

  private remove(key: string): PendingCommand | undefined {
    const p = this.pending.get(key);
    if (!p) return undefined;
    this.pending.delete(key);
    try {
      unlinkSync(join(this.dir, `${key}.json`));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    // Not fsynced: a removal lost to a crash only means one more, harmless, delivery.
    return p;
  }

  private syncDir(): void {
    const fd = openSync(this.dir, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  }
}
