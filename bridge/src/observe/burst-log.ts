// Line noise comes in bursts: a loose connector can spoil hundreds of frames a
// second. Rather than one log line per bad frame, counts are gathered and reported
// at most once per interval, with everything seen since the previous report.

export interface BurstReport {
  counts: Record<string, number>;
  bytesDropped: number;
  /** How long the counts were gathered, ms. */
  sinceMs: number;
}

export class BurstLog {
  private counts: Record<string, number> = {};
  private bytesDropped = 0;
  private firstAt = 0;
  private lastReportAt = Number.NEGATIVE_INFINITY;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly report: (burst: BurstReport) => void,
    private readonly everyMs = 1000,
  ) {}

  count(kind: string, bytesDropped = 0, by = 1): void {
    const now = Date.now();
    if (Object.keys(this.counts).length === 0) this.firstAt = now;
    this.counts[kind] = (this.counts[kind] ?? 0) + by;
    this.bytesDropped += bytesDropped;
    if (this.timer) return;
    const waitMs = this.lastReportAt + this.everyMs - now;
    if (waitMs <= 0) this.flush();
    else this.timer = setTimeout(() => this.flush(), waitMs).unref();
  }

  /** Reports what is pending now (also used on stop, so a burst's tail is not lost). */
  flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (Object.keys(this.counts).length === 0) return;
    const now = Date.now();
    const burst = { counts: this.counts, bytesDropped: this.bytesDropped, sinceMs: now - this.firstAt };
    this.counts = {};
    this.bytesDropped = 0;
    this.lastReportAt = now;
    this.report(burst);
  }
}
