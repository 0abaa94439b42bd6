// The store's only door to the file system. Everything durable goes through here,
// so tests can swap in FaultyIo (held syncs, power cuts, ENOSPC) without touching
// the store. Callback fs wrapped by hand: cheaper per call than fs/promises
// FileHandles, and it keeps the event loop free while fdatasync waits on the disk.
import * as fs from 'node:fs';
import { dirname } from 'node:path';

export interface StoreIo {
  /** flags as node:fs ('r', 'r+', 'wx', 'a'...). Returns a file descriptor. */
  open(path: string, flags: string): Promise<number>;
  close(fd: number): Promise<void>;
  /** Writes all of `data` at `position` (loops over short writes). */
  write(fd: number, data: Buffer, position: number): Promise<void>;
  /** Reads up to `length` bytes at `position` into a new buffer (shorter at EOF). */
  /** Reads into `into` when it is large enough (recovery reuses one buffer), else into a new one. */
  read(fd: number, length: number, position: number, into?: Buffer): Promise<Buffer>;
  fdatasync(fd: number): Promise<void>;
  /** Makes creations, renames and unlinks in `dir` durable. */
  fsyncDir(dir: string): Promise<void>;
  ftruncate(fd: number, length: number): Promise<void>;
  unlink(path: string): Promise<void>;
  rename(from: string, to: string): Promise<void>;
  readdir(dir: string): Promise<string[]>;
  /** Size in bytes, or undefined when the file does not exist. */
  size(path: string): Promise<number | undefined>;
  mkdirp(dir: string): Promise<void>;
}

function cb<T>(run: (done: (err: NodeJS.ErrnoException | null, value?: T) => void) => void): Promise<T> {
  return new Promise((resolve, reject) => run((err, value) => (err ? reject(err) : resolve(value as T))));
}

export const nodeIo: StoreIo = {
  open: (path, flags) => cb<number>((d) => fs.open(path, flags, 0o644, d)),
  close: (fd) => cb<void>((d) => fs.close(fd, d)),
  async write(fd, data, position) {
    let done = 0;
    while (done < data.length) {
      const n = await cb<number>((d) => fs.write(fd, data, done, data.length - done, position + done, d));
      if (n <= 0) throw Object.assign(new Error('short write'), { code: 'EIO' });
      done += n;
    }
  },
  async read(fd, length, position, into) {
    const buf = into && into.length >= length ? into.subarray(0, length) : Buffer.allocUnsafe(length);
    let got = 0;
    while (got < length) {
      const n = await cb<number>((d) => fs.read(fd, buf, got, length - got, position + got, d));
      if (n === 0) break;
      got += n;
    }
    return got === length ? buf : buf.subarray(0, got);
  },
  fdatasync: (fd) => cb<void>((d) => fs.fdatasync(fd, d)),
  async fsyncDir(dir) {
    const fd = await cb<number>((d) => fs.open(dir, 'r', d));
    try {
      await cb<void>((d) => fs.fsync(fd, d));
    } finally {
      await cb<void>((d) => fs.close(fd, d));
    }
  },
  ftruncate: (fd, length) => cb<void>((d) => fs.ftruncate(fd, length, d)),
  unlink: (path) => cb<void>((d) => fs.unlink(path, d)),
  rename: (from, to) => cb<void>((d) => fs.rename(from, to, d)),
  readdir: (dir) => cb<string[]>((d) => fs.readdir(dir, d)),
  async size(path) {
    try {
      return (await cb<fs.Stats>((d) => fs.stat(path, d))).size;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  },
  async mkdirp(dir) {
    await cb<string | undefined>((d) => fs.mkdir(dir, { recursive: true }, d));
    // The new directory's own entry must survive a power cut too.
    await nodeIo.fsyncDir(dirname(dir));
  },
};
