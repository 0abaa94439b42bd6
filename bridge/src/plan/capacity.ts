// Capacity planner: from fleet size and consumer speed to broker and bridge sizing.
// Pure arithmetic, no I/O; every figure carries the formula that produced it, with
// the numbers filled in, so an operator can check it by hand.
//
// Sizes are decimal (1 KB = 1000 B, 1 MB = 10^6 B), as RabbitMQ reports them.

export interface PlanInput {
  devices: number;
  /** Readings per second per device. */
  readingsPerSecond: number;
  /** Readings per batch (one batch = one AMQP message unless a routing rule splits it). */
  batchSize: number;
  /** AMQP messages per batch: 1, or the parts a routing rule with split: sensor|reading makes. Default 1. */
  messagesPerBatch?: number;
  /** Bytes per AMQP message body. */
  messageBytes: number;
  /** Seconds of backlog a queue must be able to hold. */
  backlogSeconds: number;
  /** Consumer handler time per message, ms (W in Little's law). */
  handlerMs: number;
  /** Uplink outage the bridge's local store must ride out, seconds. */
  outageSeconds?: number;
  /** Consumer <-> broker round trip, ms: what prefetch must hide. Default 10. */
  rttMs?: number;
  /** Target consumer utilisation (0..1]: headroom for bursts and redeliveries. Default 0.7. */
  utilization?: number;
  /** Bytes the store adds per record (frame header, routing key, id, headers). Default 200. */
  recordOverheadBytes?: number;
  /** For the check against store.maxBytes. Default 1 GiB (the config default). */
  storeMaxBytes?: number;
}

export interface Figure {
  name: string;
  value: number;
  unit: string;
  /** The formula with symbols, then with the numbers substituted. */
  formula: string;
  note?: string;
}

export interface Plan {
  messagesPerSecond: Figure;
  queueMemoryBytes: Figure;
  inFlight: Figure;
  consumers: Figure;
  prefetch: Figure;
  unackedTotal: Figure;
  storeBytes?: Figure;
  warnings: string[];
}

export const PLAN_DEFAULTS = { messagesPerBatch: 1, rttMs: 10, utilization: 0.7, recordOverheadBytes: 200, storeMaxBytes: 1024 ** 3 } as const;
/** The queue-health warning threshold for unacked messages (docs/downstream.md). */
const UNACKED_WARNING = 1000;

export class PlanInputError extends Error {
  override readonly name = 'PlanInputError';
}

/** Validates and computes. Throws PlanInputError naming the bad input. */
export function plan(input: PlanInput): Plan {
  const i = { ...PLAN_DEFAULTS, ...stripUndefined(input) };
  positive('devices', i.devices, true);
  positive('rate', i.readingsPerSecond);
  positive('batch', i.batchSize, true);
  positive('parts', i.messagesPerBatch, true);
  positive('msg-size', i.messageBytes);
  nonNegative('backlog-seconds', i.backlogSeconds);
  positive('handler-ms', i.handlerMs);
  positive('rtt-ms', i.rttMs, false, true);
  if (!(i.utilization > 0 && i.utilization <= 1)) throw new PlanInputError(`utilization: expected a number in (0, 1], got ${i.utilization}`);
  nonNegative('record-overhead', i.recordOverheadBytes);
  if (i.outageSeconds !== undefined) nonNegative('outage', i.outageSeconds);

  const warnings: string[] = [];
  const lambda = ((i.devices * i.readingsPerSecond) / i.batchSize) * i.messagesPerBatch;
  const messagesPerSecond: Figure = {
    name: 'messages/s',
    value: lambda,
    unit: 'msg/s',
    formula:
      i.messagesPerBatch === 1
        ? `λ = devices × rate / batch = ${n(i.devices)} × ${n(i.readingsPerSecond)} / ${n(i.batchSize)} = ${n(lambda)} msg/s`
        : `λ = devices × rate / batch × parts = ${n(i.devices)} × ${n(i.readingsPerSecond)} / ${n(i.batchSize)} × ${n(i.messagesPerBatch)} = ${n(lambda)} msg/s`,
  };

  const mem = lambda * i.backlogSeconds * i.messageBytes;
  const queueMemoryBytes: Figure = {
    name: 'queue memory for the backlog',
    value: mem,
    unit: 'B',
    formula: `M = λ × backlog × size = ${n(lambda)} msg/s × ${n(i.backlogSeconds)} s × ${bytes(i.messageBytes)} = ${bytes(mem)} per queue`,
    note: 'each queue bound to the exchange holds its own copy; RabbitMQ adds per-message overhead on top',
  };

  const w = i.handlerMs / 1000;
  const l = lambda * w;
  const inFlight: Figure = {
    name: 'messages in process (Little)',
    value: l,
    unit: 'msg',
    formula: `L = λ × W = ${n(lambda)} msg/s × ${n(w)} s = ${n(l)}`,
  };

  // A consumer here handles one message at a time, so L is the minimum number of consumers busy all the time.
  const needed = Math.max(1, Math.ceil(l / i.utilization));
  const consumers: Figure = {
    name: 'consumers needed',
    value: needed,
    unit: 'consumers',
    formula: `N = ⌈L / u⌉ = ⌈${n(l)} / ${n(i.utilization)}⌉ = ${needed}`,
    note: `at least ⌈L⌉ = ${Math.max(1, Math.ceil(l))} keep up with no headroom; u = ${n(i.utilization)} is the target utilisation`,
  };

  // While an ack travels to the broker and the next delivery comes back (one RTT) the
  // consumer must have work buffered: one message in hand plus RTT / W more.
  const pf = 1 + Math.ceil(i.rttMs / i.handlerMs);
  const prefetch: Figure = {
    name: 'suggested prefetch',
    value: pf,
    unit: 'msg per consumer',
    formula: `P = 1 + ⌈RTT / W⌉ = 1 + ⌈${n(i.rttMs)} ms / ${n(i.handlerMs)} ms⌉ = ${pf}`,
    note: 'enough buffered to hide the ack round trip; more only adds unacked messages and redeliveries on a crash',
  };

  const unacked = needed * pf;
  const unackedTotal: Figure = {
    name: 'unacked at most',
    value: unacked,
    unit: 'msg',
    formula: `N × P = ${needed} × ${pf} = ${unacked}`,
  };
  if (unacked > UNACKED_WARNING) warnings.push(`N × P = ${unacked} unacked messages exceeds the queue-health warning threshold (${UNACKED_WARNING})`);

  let storeBytes: Figure | undefined;
  if (i.outageSeconds !== undefined) {
    const rec = i.messageBytes + i.recordOverheadBytes;
    const s = lambda * i.outageSeconds * rec;
    storeBytes = {
      name: 'local store for the outage',
      value: s,
      unit: 'B',
      formula: `S = λ × outage × (size + overhead) = ${n(lambda)} msg/s × ${n(i.outageSeconds)} s × (${bytes(i.messageBytes)} + ${bytes(i.recordOverheadBytes)}) = ${bytes(s)}`,
      note: 'set store.maxBytes above this, and keep that much free disk',
    };
    if (s > i.storeMaxBytes) warnings.push(`the outage needs ${bytes(s)} of store, more than store.maxBytes (${bytes(i.storeMaxBytes)})`);
  }

  return { messagesPerSecond, queueMemoryBytes, inFlight, consumers, prefetch, unackedTotal, storeBytes, warnings };
}

/** Text for `edge-bridge plan`: one figure per paragraph, its formula under it. */
export function formatPlan(p: Plan): string {
  const figs = [p.messagesPerSecond, p.queueMemoryBytes, p.inFlight, p.consumers, p.prefetch, p.unackedTotal, p.storeBytes].filter(
    (f): f is Figure => f !== undefined,
  );
  const lines: string[] = [];
  for (const f of figs) {
    lines.push(`${f.name}: ${f.unit === 'B' ? bytes(f.value) : `${n(f.value)} ${f.unit}`}`, `    ${f.formula}`);
    if (f.note) lines.push(`    (${f.note})`);
  }
  for (const w of p.warnings) lines.push(`WARNING: ${w}`);
  return lines.join('\n') + '\n';
}

/** "1000", "1KB", "1.5 MB", "4KiB" -> bytes. Decimal units unless the "i" form is used. */
export function parseSize(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kKmMgGtT]i?)?[bB]?\s*$/.exec(text);
  if (!m) throw new PlanInputError(`expected a size like 1000, 1KB or 4KiB, got "${text}"`);
  const unit = (m[2] ?? '').toLowerCase();
  const pow = { '': 0, k: 1, m: 2, g: 3, t: 4 }[unit.replace('i', '')] ?? 0;
  return Number(m[1]) * (unit.endsWith('i') ? 1024 : 1000) ** pow;
}

/** "90", "90s", "30m", "2h", "1d" -> seconds. */
export function parseDuration(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/.exec(text);
  if (!m) throw new PlanInputError(`expected a duration like 90, 90s, 30m or 2h, got "${text}"`);
  const mult = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86400 }[m[2] ?? 's']!;
  return Number(m[1]) * mult;
}

/** Decimal bytes, 3 significant digits: 5 MB, 2.16 GB, 1.2 KB. */
export function bytes(b: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let v = b;
  let u = 0;
  while (v >= 1000 && u < units.length - 1) {
    v /= 1000;
    u++;
  }
  return `${n(v)} ${units[u]}`;
}

/** Up to 3 significant digits for fractions, integers as they are, no trailing zeros. */
function n(v: number): string {
  if (Number.isInteger(v)) return String(v);
  return String(Number(v.toPrecision(3)));
}

function positive(name: string, v: number, integer = false, allowZero = false): void {
  const ok = Number.isFinite(v) && (allowZero ? v >= 0 : v > 0) && (!integer || Number.isInteger(v));
  if (!ok) throw new PlanInputError(`${name}: expected a ${integer ? 'whole ' : ''}number ${allowZero ? '>= 0' : '> 0'}, got ${v}`);
}

function nonNegative(name: string, v: number): void {
  positive(name, v, false, true);
}

function stripUndefined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}
