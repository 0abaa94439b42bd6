// A StoreIo for tests: real files underneath, plus the faults that matter for
// durability.
//
// Model of a power cut (powerCut()):
// - a file keeps only the bytes that an fdatasync covered; later bytes vanish;
// - a file created after the last fsync of its directory vanishes entirely;
// - unlink and rename count as durable at once (a simplification: undoing them
//   could only resurrect data, i.e. duplicates, never lose it).
// While the power is off every call fails with EIO, including syncs that were
// already running: their callers must not believe they succeeded.
import { dirname } from 'node:path';
import { nodeIo, type StoreIo } from '../../src/store/io.ts';

interface TrackedFile {
  writtenLength: number;
  syncedLength: number;
  entryDurable: boolean;
}

function ioError(code: string, what: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: ${what} (injected)`), { code });
}

export class FaultyIo implements StoreIo {
  private readonly files = new Map<string, TrackedFile>();
  private readonly fdPaths = new Map<number, string>();
  private heldSyncs: Array<() => void> | undefined;
  private writeFault: string | undefined;
  private powered = true;
  private running = 0;
  private idle: Array<() => void> = [];
  /** fdatasync calls that completed, for tests that count commits. */
  syncCount = 0;

  constructor(private readonly inner: StoreIo = nodeIo) {}

  /** From now on fdatasync calls wait until releaseSyncs(). */
  holdSyncs(): void {
    this.heldSyncs ??= [];
  }

  releaseSyncs(): void {
    const held = this.heldSyncs ?? [];
    this.heldSyncs = undefined;
    for (const go of held) go();
  }

  /** Writes fail with `code` after writing half their bytes, as a full disk does. */
  failWrites(code = 'ENOSPC'): void {
    this.writeFault = code;
  }

  clearFaults(): void {
    this.writeFault = undefined;
  }

  /** Cuts the power: waits for running calls, then drops everything not synced. */
  async powerCut(): Promise<void> {
    this.powered = false;
    this.releaseSyncs();
    while (this.running > 0) await new Promise<void>((r) => this.idle.push(r));
    for (const fd of this.fdPaths.keys()) await this.inner.close(fd).catch(() => {});
    this.fdPaths.clear();
    for (const [path, file] of this.files) {
      if (!file.entryDurable) {
        await this.inner.unlink(path).catch(() => {});
        continue;
      }
      const fd = await this.inner.open(path, 'r+').catch(() => undefined);
      if (fd === undefined) continue;
      await this.inner.ftruncate(fd, file.syncedLength);
      await this.inner.close(fd);
    }
    this.files.clear();
  }

  /** Power back on: the files left are taken as they are now (fully durable). */
  powerOn(): void {
    this.powered = true;
  }

  /** Bytes of `path` that would survive a power cut now (test introspection). */
  syncedLength(path: string): number | undefined {
    return this.files.get(path)?.syncedLength;
  }

  private async guard<T>(what: string, run: () => Promise<T>): Promise<T> {
    if (!this.powered) throw ioError('EIO', `${what} while powered off`);
    this.running++;
    try {
      const value = await run();
      if (!this.powered) throw ioError('EIO', `${what} lost in a power cut`);
      return value;
    } finally {
      if (--this.running === 0) for (const wake of this.idle.splice(0)) wake();
    }
  }

  open(path: string, flags: string): Promise<number> {
    return this.guard('open', async () => {
      const before = await this.inner.size(path);
      const fd = await this.inner.open(path, flags);
      this.fdPaths.set(fd, path);
      const truncates = flags.startsWith('w');
      if (before === undefined) {
        this.files.set(path, { writtenLength: 0, syncedLength: 0, entryDurable: false });
      } else if (!this.files.has(path)) {
        const length = truncates ? 0 : before;
        this.files.set(path, { writtenLength: length, syncedLength: length, entryDurable: true });
      } else if (truncates) {
        const f = this.files.get(path)!;
        f.writtenLength = f.syncedLength = 0;
      }
      return fd;
    });
  }

  close(fd: number): Promise<void> {
    this.fdPaths.delete(fd);
    if (!this.powered) return Promise.resolve();
    return this.inner.close(fd);
  }

  write(fd: number, data: Buffer, position: number): Promise<void> {
    return this.guard('write', async () => {
      const file = this.fileOf(fd);
      if (this.writeFault) {
        const half = data.subarray(0, data.length >> 1);
        await this.inner.write(fd, half, position);
        if (file) file.writtenLength = Math.max(file.writtenLength, position + half.length);
        throw ioError(this.writeFault, 'write');
      }
      await this.inner.write(fd, data, position);
      if (file) file.writtenLength = Math.max(file.writtenLength, position + data.length);
    });
  }

  read(fd: number, length: number, position: number, into?: Buffer): Promise<Buffer> {
    return this.guard('read', () => this.inner.read(fd, length, position, into));
  }

  fdatasync(fd: number): Promise<void> {
    return this.guard('fdatasync', async () => {
      const file = this.fileOf(fd);
      const covered = file?.writtenLength ?? 0;
      if (this.heldSyncs) await new Promise<void>((r) => this.heldSyncs!.push(r));
      if (!this.powered) throw ioError('EIO', 'fdatasync lost in a power cut');
      await this.inner.fdatasync(fd);
      if (!this.powered) throw ioError('EIO', 'fdatasync lost in a power cut');
      if (file) file.syncedLength = Math.max(file.syncedLength, covered);
      this.syncCount++;
    });
  }

  fsyncDir(dir: string): Promise<void> {
    return this.guard('fsyncDir', async () => {
      await this.inner.fsyncDir(dir);
      if (!this.powered) throw ioError('EIO', 'fsyncDir lost in a power cut');
      for (const [path, file] of this.files) if (dirname(path) === dir) file.entryDurable = true;
    });
  }

  ftruncate(fd: number, length: number): Promise<void> {
    return this.guard('ftruncate', async () => {
      await this.inner.ftruncate(fd, length);
      const file = this.fileOf(fd);
      if (file) {
        file.writtenLength = Math.min(file.writtenLength, length);
        file.syncedLength = Math.min(file.syncedLength, length);
      }
    });
  }

  unlink(path: string): Promise<void> {
    return this.guard('unlink', async () => {
      await this.inner.unlink(path);
      this.files.delete(path);
    });
  }

  rename(from: string, to: string): Promise<void> {
    return this.guard('rename', async () => {
      await this.inner.rename(from, to);
      const file = this.files.get(from);
      this.files.delete(from);
      if (file) this.files.set(to, { ...file, entryDurable: true });
      for (const [fd, path] of this.fdPaths) if (path === from) this.fdPaths.set(fd, to);
    });
  }

  readdir(dir: string): Promise<string[]> {
    return this.guard('readdir', () => this.inner.readdir(dir));
  }

  size(path: string): Promise<number | undefined> {
    return this.guard('size', () => this.inner.size(path));
  }

  mkdirp(dir: string): Promise<void> {
    return this.guard('mkdirp', () => this.inner.mkdirp(dir));
  }

  private fileOf(fd: number): TrackedFile | undefined {
    const path = this.fdPaths.get(fd);
    return path === undefined ? undefined : this.files.get(path);
  }
}
