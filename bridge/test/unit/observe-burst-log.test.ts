import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { BurstLog, type BurstReport } from '../../src/observe/burst-log.ts';

describe('BurstLog', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('reports the first error at once, then at most once per interval with the counts since', () => {
    const reports: BurstReport[] = [];
    const log = new BurstLog((r) => reports.push(r), 1000);

    log.count('bad_crc', 10);
    expect(reports).toHaveLength(1);
    expect(reports[0]).toMatchObject({ counts: { bad_crc: 1 }, bytesDropped: 10 });

    for (let i = 0; i < 500; i++) log.count(i % 2 ? 'bad_cobs' : 'bad_crc', 2);
    expect(reports).toHaveLength(1);
    vi.advanceTimersByTime(999);
    expect(reports).toHaveLength(1);
    vi.advanceTimersByTime(1);
    expect(reports).toHaveLength(2);
    expect(reports[1]).toMatchObject({ counts: { bad_crc: 250, bad_cobs: 250 }, bytesDropped: 1000 });

    vi.advanceTimersByTime(10_000);
    expect(reports).toHaveLength(2); // nothing new, nothing said
  });

  it('flush() reports what is pending and cancels the timer', () => {
    const reports: BurstReport[] = [];
    const log = new BurstLog((r) => reports.push(r), 1000);
    log.count('oversized');
    log.count('truncated');
    log.flush();
    expect(reports.map((r) => r.counts)).toEqual([{ oversized: 1 }, { truncated: 1 }]);
    vi.advanceTimersByTime(5000);
    expect(reports).toHaveLength(2);
  });
});
