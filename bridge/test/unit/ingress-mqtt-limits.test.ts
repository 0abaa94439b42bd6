// The per-connection limits of the embedded MQTT broker, on an in-memory socket:
// the fixed-header gate (split headers, several packets per chunk, every length
// encoding), the token bucket, pacing and the disconnects, and properties over
// arbitrary packet sequences and chunkings.
import { Duplex } from 'node:stream';
import { describe, expect, it, vi } from 'vitest';
import fc from 'fast-check';
import { pino } from 'pino';
import {
  ConnectionLimiter,
  MQTT_MAX_REMAINING_LENGTH,
  PacketGate,
  PUBLISH,
  TokenBucket,
  type ConnectionLimits,
  type LimitDisconnect,
} from '../../src/ingress/mqtt-limits.ts';
import { waitFor } from '../../../shared/testkit/unique.ts';

const quiet = pino({ enabled: false });
const OFF: ConnectionLimits = { maxPacketBytes: 1024, publishesPerSecond: 0, publishBurst: 1, disconnectAfterPacedMs: 0, maxConnections: 0, maxConnectionsPerAddress: 0 };

function remainingLength(n: number): Buffer {
  const out: number[] = [];
  do {
    let byte = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) byte |= 0x80;
    out.push(byte);
  } while (n > 0);
  return Buffer.from(out);
}

function packet(type: number, body: Buffer | number, flags = 0): Buffer {
  const bytes = typeof body === 'number' ? Buffer.alloc(body, 0xab) : body;
  return Buffer.concat([Buffer.from([(type << 4) | flags]), remainingLength(bytes.length), bytes]);
}

/** A socket whose incoming bytes the test pushes and whose writes it keeps. */
class FakeSocket extends Duplex {
  readonly written: Buffer[] = [];
  override _read(): void {}
  override _write(chunk: Buffer, _enc: BufferEncoding, done: () => void): void {
    this.written.push(chunk);
    done();
  }
}

interface Run {
  out: Buffer;
  disconnect: LimitDisconnect | undefined;
  limiter: ConnectionLimiter;
}

/** Feeds `chunks` through a LimitedConnection; resolves when it has closed. */
async function run(chunks: Buffer[], limits: ConnectionLimits, options: { clientId?: string; limiter?: ConnectionLimiter; yieldEvery?: number } = {}): Promise<Run> {
  const limiter = options.limiter ?? new ConnectionLimiter(limits, quiet);
  const socket = new FakeSocket();
  const conn = limiter.wrap(socket);
  if (options.clientId) limiter.bind(conn, options.clientId);
  const out: Buffer[] = [];
  let disconnect: LimitDisconnect | undefined;
  const onDisconnect = (d: LimitDisconnect) => (disconnect = d);
  limiter.on('disconnect', onDisconnect);
  conn.on('data', (b: Buffer) => out.push(b));
  conn.on('error', () => undefined);
  const closed = new Promise((resolve) => conn.once('close', resolve));
  for (const [i, chunk] of chunks.entries()) {
    socket.push(chunk);
    if (options.yieldEvery && i % options.yieldEvery === 0) await new Promise(setImmediate);
  }
  socket.push(null);
  await closed;
  limiter.off('disconnect', onDisconnect);
  return { out: Buffer.concat(out), disconnect, limiter };
}

/** Splits a buffer at arbitrary points (empty chunks included). */
function chunked(wire: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => c % (wire.length + 1)))].sort((a, b) => a - b);
  const chunks: Buffer[] = [];
  let from = 0;
  for (const p of [...points, wire.length]) {
    chunks.push(wire.subarray(from, p));
    from = p;
  }
  return chunks.filter((c) => c.length > 0);
}

const numRuns = 500;
const timeout = 60_000;

/** Valid packets of any type 1..14 whose remaining length is at most `limit`. */
const packetsUnder = (limit: number, maxCount = 12) =>
  fc.array(
    fc.record({
      type: fc.integer({ min: 1, max: 14 }),
      flags: fc.integer({ min: 0, max: 15 }),
      length: fc.oneof({ weight: 4, arbitrary: fc.integer({ min: 0, max: Math.min(limit, 200) }) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: limit }) }),
    }),
    { maxLength: maxCount },
  ).map((ps) => ps.map((p) => packet(p.type, p.length, p.flags)));

describe('PacketGate', () => {
  it('reads every remaining-length encoding, at the edges of 1, 2, 3 and 4 bytes', () => {
    for (const [length, headerLength] of [
      [0, 2], [127, 2], [128, 3], [16_383, 3], [16_384, 4], [2_097_151, 4], [2_097_152, 5], [MQTT_MAX_REMAINING_LENGTH, 5],
    ] as const) {
      const header = Buffer.concat([Buffer.from([0x32]), remainingLength(length)]);
      expect(header.length).toBe(headerLength);
      const gate = new PacketGate(MQTT_MAX_REMAINING_LENGTH);
      expect(gate.next(header, 0)).toEqual({ kind: 'header', type: PUBLISH, headerLength, remainingLength: length });
      // Every shorter prefix is an incomplete header, and stepping over it changes nothing.
      for (let cut = 0; cut < header.length; cut++) expect(new PacketGate(MQTT_MAX_REMAINING_LENGTH).next(header.subarray(0, cut), 0)).toEqual({ kind: 'incomplete' });
    }
  });

  it('walks several packets in one buffer, bodies split across buffers', () => {
    const gate = new PacketGate(1000);
    const wire = Buffer.concat([packet(3, 10), packet(12, 0), packet(8, 300)]);
    const first = wire.subarray(0, 20);
    expect(gate.next(first, 0)).toMatchObject({ kind: 'header', type: 3, headerLength: 2, remainingLength: 10 });
    expect(gate.next(first, 2)).toEqual({ kind: 'body', length: 10 });
    expect(gate.next(first, 12)).toMatchObject({ kind: 'header', type: 12, headerLength: 2, remainingLength: 0 });
    expect(gate.next(first, 14)).toMatchObject({ kind: 'header', type: 8, headerLength: 3, remainingLength: 300 });
    expect(gate.next(first, 17)).toEqual({ kind: 'body', length: 3 });
    const rest = wire.subarray(20);
    expect(gate.next(rest, 0)).toEqual({ kind: 'body', length: 297 });
  });

  it('stops at a header above the limit and at a fifth length byte', () => {
    expect(new PacketGate(1000).next(Buffer.concat([Buffer.from([0x30]), remainingLength(1001)]), 0)).toEqual({ kind: 'too-large', type: 3, remainingLength: 1001 });
    expect(new PacketGate(1000).next(Buffer.concat([Buffer.from([0x30]), remainingLength(1000)]), 0)).toMatchObject({ kind: 'header', remainingLength: 1000 });
    expect(new PacketGate(MQTT_MAX_REMAINING_LENGTH).next(Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x01]), 0)).toEqual({ kind: 'malformed' });
  });
});

describe('TokenBucket', () => {
  it('gives the burst at once, then one token per 1/rate, never more than the burst', () => {
    const bucket = new TokenBucket(10, 3, 0);
    expect([bucket.take(0), bucket.take(0), bucket.take(0)]).toEqual([0, 0, 0]);
    expect(bucket.take(0)).toBe(100);
    expect(bucket.take(60)).toBe(40);
    expect(bucket.take(100)).toBe(0);
    expect(bucket.msUntilFull(100)).toBe(300);
    expect(bucket.msUntilFull(10_000)).toBe(0);
    expect([bucket.take(10_000), bucket.take(10_000), bucket.take(10_000), bucket.take(10_000)]).toEqual([0, 0, 0, 100]);
  });
});

describe('LimitedConnection', () => {
  it('passes bytes both ways unchanged', async () => {
    const limiter = new ConnectionLimiter({ ...OFF, publishesPerSecond: 100, publishBurst: 10 }, quiet);
    const socket = new FakeSocket();
    const conn = limiter.wrap(socket);
    conn.write(Buffer.from([0x20, 0x02, 0x00, 0x00]));
    conn.write(Buffer.from([0x40, 0x02, 0x00, 0x01]));
    await waitFor(() => Buffer.concat(socket.written).length === 8, { what: 'writes reach the socket' });
    expect(Buffer.concat(socket.written)).toEqual(Buffer.from([0x20, 0x02, 0x00, 0x00, 0x40, 0x02, 0x00, 0x01]));
    const wire = Buffer.concat([packet(1, 20), packet(3, 30, 2), packet(12, 0)]);
    const { out, disconnect } = await run([wire.subarray(0, 1), wire.subarray(1, 23), wire.subarray(23)], OFF);
    expect(disconnect).toBeUndefined();
    expect(out).toEqual(wire);
  });

  it('closes the connection at a header above maxPacketBytes without forwarding a byte of that packet', async () => {
    const good = packet(3, 100);
    const bad = Buffer.concat([Buffer.from([0x32]), remainingLength(10 * 1024 * 1024), Buffer.alloc(4000)]);
    const { out, disconnect, limiter } = await run([Buffer.concat([good, bad.subarray(0, 2)]), bad.subarray(2, 3), bad.subarray(3)], OFF);
    expect(disconnect).toMatchObject({ reason: 'packet_too_large', clientId: undefined });
    expect(disconnect!.detail).toBe('packet type 3 announces 10485760 bytes, above maxPacketBytes 1024');
    expect(good.subarray(0, out.length)).toEqual(out);
    expect(limiter.stats.disconnects).toEqual({ packet_too_large: 1, malformed_header: 0, rate_exceeded: 0, max_connections: 0, max_connections_per_address: 0 });
  });

  it('paces PUBLISH packets to the rate, logs once per episode, and forwards everything', async () => {
    const lines: Array<{ msg: string; clientId?: string; pacedPublishes?: number }> = [];
    const log = pino({ level: 'info' }, { write: (line: string) => lines.push(JSON.parse(line)) });
    const limiter = new ConnectionLimiter({ maxPacketBytes: 1024, publishesPerSecond: 1000, publishBurst: 5, disconnectAfterPacedMs: 0, maxConnections: 0, maxConnectionsPerAddress: 0 }, log);
    const publishes = Array.from({ length: 30 }, (_, i) => packet(3, Buffer.from(`m${i}`)));
    const pings = Array.from({ length: 30 }, () => packet(12, 0));
    const wire = Buffer.concat(publishes.flatMap((p, i) => [p, pings[i]!]));
    // A fake clock makes the count exact: a late timer would bring more than one token.
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
    let result: Run | undefined;
    try {
      const running = run([wire], OFF, { limiter, clientId: 'dev-1' }).then((r) => (result = r));
      while (!result) await vi.advanceTimersByTimeAsync(1);
      await running;
      await vi.runAllTimersAsync();
    } finally {
      vi.useRealTimers();
    }
    const { out, disconnect } = result;
    expect(disconnect).toBeUndefined();
    expect(out).toEqual(wire);
    // 30 at once with a burst of 5: the other 25 waited for a token.
    expect(limiter.stats.pacedPublishes).toBe(25);
    expect(limiter.stats.pacingEpisodes).toBe(1);
    expect(lines.filter((l) => l.msg.startsWith('mqtt client above its publish rate'))).toEqual([expect.objectContaining({ clientId: 'dev-1' })]);
    expect(lines.filter((l) => l.msg.startsWith('mqtt pacing ended') || l.msg.startsWith('mqtt client back under'))).toHaveLength(1);
  });

  it('disconnects a client that stays above the rate for disconnectAfterPacedMs, at a packet boundary', async () => {
    const limits = { maxPacketBytes: 1024, publishesPerSecond: 200, publishBurst: 20, disconnectAfterPacedMs: 40, maxConnections: 0, maxConnectionsPerAddress: 0 };
    const publishes = Array.from({ length: 200 }, (_, i) => packet(3, Buffer.from(String(i).padStart(4, '0'))));
    const wire = Buffer.concat(publishes);
    const { out, disconnect, limiter } = await run([wire], limits, { clientId: 'loud' });
    expect(disconnect).toMatchObject({ reason: 'rate_exceeded', clientId: 'loud' });
    expect(disconnect!.detail).toBe('client kept above 200 PUBLISH/s (burst 20) for 40 ms');
    expect(limiter.stats.disconnects.rate_exceeded).toBe(1);
    // Whole packets only: a PUBLISH is held before its first byte is forwarded.
    expect(out.length % publishes[0]!.length).toBe(0);
    expect(out.length).toBeGreaterThanOrEqual(20 * publishes[0]!.length);
    expect(out.length).toBeLessThan(wire.length);
    expect(wire.subarray(0, out.length)).toEqual(out);
  });

  it('disconnects only after disconnectAfterPacedMs of pacing without a break, not a client back under its rate after a burst', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
    try {
      const limiter = new ConnectionLimiter({ maxPacketBytes: 1024, publishesPerSecond: 100, publishBurst: 5, disconnectAfterPacedMs: 300, maxConnections: 0, maxConnectionsPerAddress: 0 }, quiet);
      const socket = new FakeSocket();
      const conn = limiter.wrap(socket);
      limiter.bind(conn, 'c');
      conn.on('data', () => undefined);
      conn.on('error', () => undefined);
      let disconnectedAt: number | undefined;
      limiter.on('disconnect', (d: LimitDisconnect) => {
        expect(d.reason).toBe('rate_exceeded');
        disconnectedAt = performance.now();
      });
      const publish = packet(3, 4);
      for (let i = 0; i < 10; i++) socket.push(publish); // a burst: 5 paced, and caught up within ~100 ms
      for (let t = 0; t < 100; t++) {
        socket.push(publish); // then 2 s at 50/s, half the rate
        await vi.advanceTimersByTimeAsync(20);
      }
      expect(disconnectedAt).toBeUndefined();
      expect(limiter.stats.pacedPublishes).toBeGreaterThanOrEqual(5);
      const loudFrom = performance.now();
      for (let t = 0; t < 100 && disconnectedAt === undefined; t++) {
        for (let i = 0; i < 3; i++) socket.push(publish); // 150/s
        await vi.advanceTimersByTimeAsync(20);
      }
      expect(disconnectedAt).toBeDefined();
      expect(disconnectedAt! - loudFrom).toBeGreaterThanOrEqual(300);
      expect(disconnectedAt! - loudFrom).toBeLessThan(400);
    } finally {
      vi.useRealTimers();
    }
  });

  it('a client id keeps its bucket across connections until it is full again', async () => {
    const limits = { maxPacketBytes: 1024, publishesPerSecond: 100, publishBurst: 3, disconnectAfterPacedMs: 0, maxConnections: 0, maxConnectionsPerAddress: 0 };
    const limiter = new ConnectionLimiter(limits, quiet);
    const three = Buffer.concat([packet(3, 1), packet(3, 1), packet(3, 1)]);
    await run([three], limits, { limiter, clientId: 'again' });
    expect(limiter.stats.pacedPublishes).toBe(0);
    expect(limiter.bucketCount).toBe(1);
    // Reconnecting at once does not bring a fresh burst.
    await run([three], limits, { limiter, clientId: 'again' });
    expect(limiter.stats.pacedPublishes).toBeGreaterThan(0);
    await waitFor(() => limiter.bucketCount === 0, { what: 'the full bucket forgotten' });
  });

  it('property: valid packets under the limit pass unchanged in any chunking, and nothing is closed', async () => {
    await fc.assert(
      fc.asyncProperty(packetsUnder(20_000), fc.array(fc.nat(), { maxLength: 20 }), fc.boolean(), async (packets, cuts, yieldBetween) => {
        const wire = Buffer.concat(packets);
        const { out, disconnect } = await run(chunked(wire, cuts), { ...OFF, maxPacketBytes: 20_000 }, { yieldEvery: yieldBetween ? 1 : 0 });
        expect(disconnect).toBeUndefined();
        expect(out.equals(wire)).toBe(true);
      }),
      { numRuns },
    );
  }, timeout);

  it('property: pacing delays but never changes, drops or reorders bytes', async () => {
    await fc.assert(
      fc.asyncProperty(packetsUnder(300, 8), fc.array(fc.nat(), { maxLength: 10 }), fc.integer({ min: 1, max: 3 }), async (packets, cuts, burst) => {
        const wire = Buffer.concat(packets);
        const limits = { maxPacketBytes: 300, publishesPerSecond: 2000, publishBurst: burst, disconnectAfterPacedMs: 0, maxConnections: 0, maxConnectionsPerAddress: 0 };
        const { out, disconnect } = await run(chunked(wire, cuts), limits, { clientId: 'p' });
        expect(disconnect).toBeUndefined();
        expect(out.equals(wire)).toBe(true);
      }),
      { numRuns: 150 },
    );
  }, timeout);

  it('property: a packet over the limit closes the connection before any byte of it is forwarded', async () => {
    const limit = 5000;
    await fc.assert(
      fc.asyncProperty(
        packetsUnder(limit, 6),
        fc.integer({ min: 1, max: 14 }),
        fc.integer({ min: limit + 1, max: MQTT_MAX_REMAINING_LENGTH }),
        fc.uint8Array({ maxLength: 300 }),
        fc.array(fc.nat(), { maxLength: 12 }),
        async (before, type, announced, after, cuts) => {
          const prefix = Buffer.concat(before);
          const wire = Buffer.concat([prefix, Buffer.from([type << 4]), remainingLength(announced), after]);
          const { out, disconnect } = await run(chunked(wire, cuts), { ...OFF, maxPacketBytes: limit });
          expect(disconnect?.reason).toBe('packet_too_large');
          expect(out.length).toBeLessThanOrEqual(prefix.length);
          expect(out.equals(prefix.subarray(0, out.length))).toBe(true);
        },
      ),
      { numRuns },
    );
  }, timeout);

  it('property: a remaining length of five bytes closes the connection as malformed', async () => {
    await fc.assert(
      fc.asyncProperty(packetsUnder(1024, 4), fc.array(fc.nat(), { maxLength: 6 }), async (before, cuts) => {
        const prefix = Buffer.concat(before);
        const wire = Buffer.concat([prefix, Buffer.from([0x30, 0x80, 0x80, 0x80, 0x80, 0x01, 0x00])]);
        const { out, disconnect } = await run(chunked(wire, cuts), OFF);
        expect(disconnect?.reason).toBe('malformed_header');
        expect(out.equals(prefix.subarray(0, out.length))).toBe(true);
      }),
      { numRuns: 200 },
    );
  }, timeout);
});
