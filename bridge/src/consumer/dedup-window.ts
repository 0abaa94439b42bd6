// Message ids seen recently, bounded by count and by age. The bridge delivers at
// least once and its ids are stable (device:boot:seq[:part]), so a consumer that
// remembers the ids it has processed for a while drops the redeliveries.
// A Map keeps insertion order, so the oldest entry is always first: eviction is O(1).

export interface DedupWindowOptions {
  /** Forget an id after this long. Default 10 min: longer than any redelivery storm we expect. */
  windowMs?: number;
  /** Forget the oldest ids beyond this many. Default 100 000 (a few MB of strings). */
  maxIds?: number;
  /** Clock, for tests of the age bound. */
  now?: () => number;
}

export class DedupWindow {
  private readonly seen = new Map<string, number>();
  private readonly windowMs: number;
  private readonly maxIds: number;
  private readonly now: () => number;

  constructor(opts: DedupWindowOptions = {}) {
    this.windowMs = opts.windowMs ?? 10 * 60_000;
    this.maxIds = opts.maxIds ?? 100_000;
    this.now = opts.now ?? Date.now;
    if (!(this.windowMs > 0)) throw new RangeError(`dedup windowMs: expected > 0, got ${this.windowMs}`);
    if (!(Number.isInteger(this.maxIds) && this.maxIds > 0)) throw new RangeError(`dedup maxIds: expected a positive integer, got ${this.maxIds}`);
  }

  has(id: string): boolean {
    this.expire();
    return this.seen.has(id);
  }

  add(id: string): void {
    this.seen.delete(id); // re-insert at the end: it is the newest now
    this.seen.set(id, this.now());
    this.expire();
  }

  get size(): number {
    return this.seen.size;
  }

  private expire(): void {
    const cutoff = this.now() - this.windowMs;
    for (const [id, at] of this.seen) {
      if (this.seen.size <= this.maxIds && at > cutoff) break;
      this.seen.delete(id);
    }
  }
}
