// Quarantine: malformed, refused or unroutable input is kept locally with its reason
// and raw bytes, counted, and acknowledged to the sender (resending cannot fix it).
//
// Invariants:
// - One JSON line per entry, written and fdatasynced before put() resolves true: an
//   acknowledged message that was quarantined survives a crash too.
// - Writes never block the event loop: entries queue for one writer, which gathers them
//   for up to `gatherMs`, then writes and syncs them at once (group commit). Bad input
//   waits a little for its acknowledgement so a flood costs few syncs, and the store's
//   own syncs (honest traffic) do not queue behind hundreds of them.
// - Input from devices is bounded by `maxQueued`: past it put() resolves false at once
//   and the entry is only counted (`dropped`), so a flood of bad input costs no memory
//   and never delays honest traffic. Records parked from the store are always queued.
// - The file rolls over to `.1` past maxBytes, so a misbehaving device cannot fill the disk.
import { mkdirSync, statSync } from 'node:fs';
import { open, rename, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';

export interface QuarantineEntry {
  reason: string;
  detail: string;
  topic: string;
  source: string;
  payload: Buffer;
  /** The verified identity the message came with, when it matters (identity_mismatch). */
  identity?: string;
}

interface Pending {
  line: string;
  done: (written: boolean) => void;
  fail: (err: Error) => void;
}

export class Quarantine {
  private fh: FileHandle | undefined;
  private size = 0;
  private readonly file: string;
  private queue: Pending[] = [];
  private writing: Promise<void> | undefined;

  constructor(
    private readonly dir: string,
    private readonly maxBytes: number,
    private readonly maxQueued = 1024,
    private readonly gatherMs = 20,
  ) {
    this.file = join(dir, 'quarantine.jsonl');
  }

  async open(): Promise<void> {
    mkdirSync(this.dir, { recursive: true });
    this.fh = await open(this.file, 'a');
    this.size = statSync(this.file).size;
  }

  /**
   * Queues the entry: resolves true once it is on disk, false when the queue was full (not kept;
   * the caller counts it); rejects when the write failed. `always`: queue it even past the bound
   * (records parked from the store, which are bounded by the store itself).
   */
  put(e: QuarantineEntry, always = false): Promise<boolean> {
    if (!always && this.queue.length >= this.maxQueued) return Promise.resolve(false);
    if (this.fh === undefined) return Promise.resolve(true);
    const line =
      JSON.stringify({
        at: new Date().toISOString(),
        reason: e.reason,
        detail: e.detail,
        topic: e.topic,
        source: e.source,
        ...(e.identity !== undefined && { identity: e.identity }),
        payloadHex: e.payload.subarray(0, 65536).toString('hex'),
        payloadBytes: e.payload.length,
      }) + '\n';
    return new Promise<boolean>((done, fail) => {
      this.queue.push({ line, done, fail });
      this.writing ??= this.drain();
    });
  }

  /** Writes what is queued, then closes the file. */
  async close(): Promise<void> {
    while (this.writing) await this.writing;
    await this.fh?.close();
    this.fh = undefined;
  }

  private async drain(): Promise<void> {
    try {
      if (this.gatherMs > 0) await new Promise((r) => setTimeout(r, this.gatherMs));
      while (this.queue.length > 0 && this.fh) {
        const group = this.queue;
        this.queue = [];
        const bytes = Buffer.from(group.map((p) => p.line).join(''));
        try {
          if (this.size > 0 && this.size + bytes.length > this.maxBytes) await this.roll();
          await this.fh.write(bytes);
          await this.fh.datasync();
          this.size += bytes.length;
          for (const p of group) p.done(true);
        } catch (err) {
          for (const p of group) p.fail(err as Error);
        }
      }
    } finally {
      this.writing = undefined;
    }
  }

  private async roll(): Promise<void> {
    await this.fh?.close();
    await rename(this.file, `${this.file}.1`);
    this.fh = await open(this.file, 'a');
    this.size = 0;
  }
}
