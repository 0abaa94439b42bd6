// Quarantine: malformed or unroutable input is kept locally with its reason and
// raw bytes, counted, and acknowledged to the sender (resending cannot fix it).
// One JSON line per entry; the file rolls over to `.1` past maxBytes so a
// misbehaving device cannot fill the disk.
import { mkdirSync, openSync, writeSync, closeSync, fsyncSync, renameSync, statSync } from 'node:fs';
import { join } from 'node:path';

export interface QuarantineEntry {
  reason: string;
  detail: string;
  topic: string;
  source: string;
  payload: Buffer;
}

export class Quarantine {
  readonly counts = new Map<string, number>();
  private fd: number | undefined;
  private size = 0;
  private readonly file: string;

  constructor(
    private readonly dir: string,
    private readonly maxBytes: number,
  ) {
    this.file = join(dir, 'quarantine.jsonl');
  }

  open(): void {
    mkdirSync(this.dir, { recursive: true });
    this.fd = openSync(this.file, 'a');
    this.size = statSync(this.file).size;
  }

  /** Records the entry and fsyncs it: a quarantined message has been acknowledged, so it must survive too. */
  put(e: QuarantineEntry): void {
    this.counts.set(e.reason, (this.counts.get(e.reason) ?? 0) + 1);
    if (this.fd === undefined) return;
    const line =
      JSON.stringify({
        at: new Date().toISOString(),
        reason: e.reason,
        detail: e.detail,
        topic: e.topic,
        source: e.source,
        payloadHex: e.payload.subarray(0, 65536).toString('hex'),
        payloadBytes: e.payload.length,
      }) + '\n';
    if (this.size + line.length > this.maxBytes) this.roll();
    writeSync(this.fd, line);
    fsyncSync(this.fd);
    this.size += line.length;
  }

  total(): number {
    let n = 0;
    for (const v of this.counts.values()) n += v;
    return n;
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }

  private roll(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    renameSync(this.file, `${this.file}.1`);
    this.fd = openSync(this.file, 'a');
    this.size = 0;
  }
}
