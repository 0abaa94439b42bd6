// The consumer every scenario delivers to: counts batches per phase (the device id's
// prefix) and records publish-to-receipt latency: from the batch's `t` field (whole ms),
// and, for a tracked phase, exactly, by joining its receipts to the generator's send log.
import amqp from 'amqplib';
import { unpack } from 'msgpackr';
import { serve } from '../lib/worker.ts';
import { preciseNow, type SendLog } from './payload.ts';

interface PhaseStats {
  count: number;
  latencies: Float64Array;
  samples: number;
  /** Tracked phases: receipt time by `<device number>:<seq>`. */
  receipts?: Map<string, number>;
}

const phases = new Map<string, PhaseStats>();
let conn: amqp.ChannelModel | undefined;
let undecodable = 0;

function statsOf(phase: string): PhaseStats {
  let s = phases.get(phase);
  if (!s) {
    s = { count: 0, latencies: new Float64Array(1 << 16), samples: 0 };
    phases.set(phase, s);
  }
  return s;
}

function onMessage(body: Buffer, now: number): void {
  let batch: { d?: unknown; t?: unknown };
  try {
    batch = unpack(body) as { d?: unknown; t?: unknown };
  } catch {
    undecodable++;
    return;
  }
  const d = typeof batch.d === 'string' ? batch.d : '';
  const s = statsOf(d.slice(0, d.lastIndexOf('-')));
  s.count++;
  if (s.receipts) {
    const seq = (batch as { s?: unknown }).s;
    s.receipts.set(`${d.slice(d.lastIndexOf('-') + 1)}:${seq}`, preciseNow());
  }
  // ts is a uint64 on the wire; msgpackr gives a bigint for it
  const t = typeof batch.t === 'bigint' ? Number(batch.t) : batch.t;
  if (typeof t === 'number') {
    if (s.samples === s.latencies.length) {
      const grown = new Float64Array(s.latencies.length * 2);
      grown.set(s.latencies);
      s.latencies = grown;
    }
    s.latencies[s.samples++] = now - t;
  }
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

serve({
  async start(args: { url: string; queue: string }) {
    conn = await amqp.connect(args.url);
    const ch = await conn.createChannel();
    await ch.consume(args.queue, (m) => m && onMessage(m.content, Date.now()), { noAck: true });
    return {};
  },
  /** Record exact receipt times for this phase (call before its load starts). */
  track(args: { phase: string }) {
    statsOf(args.phase).receipts = new Map();
    return {};
  },
  count(args: { phase: string }) {
    return { count: phases.get(args.phase)?.count ?? 0, undecodable };
  },
  /**
   * Latency over the samples after the first `skip` of the phase (its warm-up). With the
   * generator's send log, exact (receipt minus send, in sending order); without, whole ms from `t`.
   */
  latency(args: { phase: string; skip?: number; sends?: SendLog }) {
    const s = phases.get(args.phase);
    if (!s) return { count: 0, samples: 0, p50: NaN, p99: NaN, max: NaN, mean: NaN, meanAll: NaN, exact: false };
    let all = s.latencies.subarray(0, s.samples);
    let exact = false;
    if (args.sends && s.receipts) {
      const joined: number[] = [];
      const { device, seq, at } = args.sends;
      for (let i = 0; i < at.length; i++) {
        const got = s.receipts.get(`${device[i]}:${seq[i]}`);
        if (got !== undefined) joined.push(got - at[i]!);
      }
      all = Float64Array.from(joined);
      exact = true;
    }
    const from = Math.min(args.skip ?? 0, all.length);
    const sorted = all.slice(from).sort();
    const mean = (xs: Float64Array) => xs.reduce((a, b) => a + b, 0) / xs.length;
    // meanAll includes the warm-up, as the bridge's histograms do.
    return { count: s.count, samples: sorted.length, p50: percentile(sorted, 50), p99: percentile(sorted, 99), max: sorted[sorted.length - 1] ?? NaN, mean: mean(sorted), meanAll: mean(all), exact };
  },
  async exit() {
    await conn?.close().catch(() => {});
  },
});
