// The prom-client internals the metrics rely on, in one place. Checked against
// prom-client 15.1.3; bridge/test/unit/adapters.test.ts fails if an upgrade changes them.
import type { Histogram } from 'prom-client';

export const PROM_CLIENT_CHECKED = '15.1.3';

/**
 * Adds observations gathered elsewhere (per-bucket counts, not cumulative; their sum and
 * count) to a histogram's unlabelled series: prom-client's own observe() builds a closure
 * and a labels object per call. The series is the internal hashMap entry '' (no labels);
 * its bucketValues are per bucket, made cumulative when exposed.
 */
export function addToUnlabelledHistogram(h: Histogram<string>, bounds: readonly number[], counts: ArrayLike<number>, sum: number, count: number): void {
  type Series = { bucketValues: Record<number, number>; sum: number; count: number };
  const series = (h as unknown as { hashMap: Record<string, Series | undefined> }).hashMap;
  if (!series['']) h.zero({});
  const entry = series['']!;
  bounds.forEach((bound, i) => (entry.bucketValues[bound]! += counts[i]!));
  entry.sum += sum;
  entry.count += count;
}
