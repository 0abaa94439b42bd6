// The segment log's hot tail: just-committed records are forwarded from memory, within
// its byte bound, and everything else is read back from disk.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { nodeIo, type StoreIo } from '../../src/store/io.ts';
import { SegmentLogStore } from '../../src/store/segment-log.ts';
import { READ_AHEAD_BYTES } from '../../src/store/segment-files.ts';
import type { OutboundMessage } from '../../src/types.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function countingIo(): StoreIo & { reads: number } {
  const io = { ...nodeIo, reads: 0 } as StoreIo & { reads: number };
  io.read = (fd, length, position) => {
    io.reads++;
    return nodeIo.read(fd, length, position);
  };
  return io;
}

function msg(n: number, bytes = 100): OutboundMessage {
  return { routingKey: 'k', messageId: `m-${n}`, device: 'd', contentType: 'application/msgpack', headers: { n }, body: Buffer.alloc(bytes, n % 256), acceptedAt: Date.now() };
}

async function open(hotBytes?: number) {
  const dir = mkdtempSync(join(tmpdir(), 'store-hot-'));
  dirs.push(dir);
  const io = countingIo();
  const store = new SegmentLogStore({ dir, io, maxBytes: 64 << 20, maxRecords: 100_000, overflow: 'reject', hotBytes });
  await store.open();
  return { store, io, dir };
}

describe('segment log hot tail', () => {
  it('serves just-committed records without reading the disk, byte for byte', async () => {
    const { store, io } = await open();
    await store.append([msg(1), msg(2), msg(3)]);
    const reads = io.reads;
    const got = await store.take(10);
    expect(io.reads).toBe(reads);
    expect(store.servingFromDisk).toBe(false);
    expect(got.map((r) => r.messageId)).toEqual(['m-1', 'm-2', 'm-3']);
    expect(got[1]!.body).toEqual(Buffer.alloc(100, 2));
    await store.close();
  });

  it('reads from disk beyond its bound, in id order', async () => {
    const { store, io } = await open(1000);
    await store.append(Array.from({ length: 20 }, (_, i) => msg(i + 1)));
    const reads = io.reads;
    const got = await store.take(20);
    expect(got.map((r) => r.messageId)).toEqual(Array.from({ length: 20 }, (_, i) => `m-${i + 1}`));
    expect(io.reads).toBeGreaterThan(reads);
    await store.close();
  });

  it('after a release the record is read back from disk, and a confirmed pending record leaves the cache', async () => {
    const { store, io } = await open();
    await store.append([msg(1), msg(2)]);
    const [first] = await store.take(1);
    store.release([first!.id]);
    const reads = io.reads;
    const again = await store.take(1);
    expect(again[0]!.messageId).toBe('m-1');
    expect(io.reads).toBeGreaterThan(reads);
    // m-2 is pending and hot: confirming it without a take removes it everywhere.
    store.confirm([again[0]!.id, again[0]!.id + 1]);
    expect(await store.take(10)).toEqual([]);
    expect(store.stats().records).toBe(0);
    await store.close();
  });

  it('holds its records in about their own bytes, whatever shared a buffer with their frames', async () => {
    const { store, io } = await open(1 << 20);
    const appends: Promise<unknown>[] = [];
    for (let i = 1; i <= 1000; i++) {
      // Small allocations between appends, as a busy bridge makes: each frame lands in another pool slab.
      Buffer.allocUnsafe(4000);
      Buffer.allocUnsafe(4000);
      appends.push(store.append([msg(i)]));
    }
    await Promise.all(appends);
    const reads = io.reads;
    const got = await store.take(1000);
    expect(io.reads).toBe(reads);
    expect(got.map((r) => r.body[0])).toEqual(Array.from({ length: 1000 }, (_, i) => (i + 1) % 256));
    const held = new Set(got.map((r) => r.body.buffer));
    const heldBytes = [...held].reduce((n, b) => n + b.byteLength, 0);
    expect(heldBytes).toBeLessThan(2 * 1000 * 100);
    await store.close();
  });

  it('keeps no record in memory that waits behind a backlog of many tails', async () => {
    // ~170-byte frames and a 1000-byte tail: 200 records ahead are far more than 16 tails.
    const { store, io, dir } = await open(1000);
    await store.append(Array.from({ length: 200 }, (_, i) => msg(i + 1)));
    await store.close();
    const reopened = new SegmentLogStore({ dir, io, maxBytes: 64 << 20, maxRecords: 100_000, overflow: 'reject', hotBytes: 1000 });
    await reopened.open();
    await reopened.append([msg(201)]);
    expect((await reopened.take(200)).map((r) => r.messageId)).toEqual(Array.from({ length: 200 }, (_, i) => `m-${i + 1}`));
    let reads = io.reads;
    const late = await reopened.take(10);
    expect(late.map((r) => r.messageId)).toEqual(['m-201']);
    expect(late[0]!.body).toEqual(Buffer.alloc(100, 201));
    expect(io.reads).toBeGreaterThan(reads);
    // Once the queue has caught up, new records are served from memory again.
    await reopened.append([msg(202)]);
    reads = io.reads;
    expect((await reopened.take(10)).map((r) => r.messageId)).toEqual(['m-202']);
    expect(io.reads).toBe(reads);
    await reopened.close();
  });

  it('a reopened store starts cold and still delivers everything', async () => {
    const { store, dir } = await open();
    await store.append([msg(1), msg(2)]);
    await store.close();
    const io = countingIo();
    const reopened = new SegmentLogStore({ dir, io, maxBytes: 64 << 20, maxRecords: 100_000, overflow: 'reject' });
    await reopened.open();
    const reads = io.reads;
    expect((await reopened.take(10)).map((r) => r.messageId)).toEqual(['m-1', 'm-2']);
    expect(io.reads).toBeGreaterThan(reads);
    await reopened.close();
  });
});

describe('segment log cold reads', () => {
  it('a drain that takes a few records at a time reads the disk in large reads ahead, says it serves from disk, and hands out every record once, in order, byte for byte', async () => {
    const { store, io } = await open(0);
    const n = 3000;
    for (let i = 0; i < n; i += 500) await store.append(Array.from({ length: 500 }, (_, j) => msg(i + j + 1)));
    const bytes = store.stats().bytes;
    const reads = io.reads;
    const seen: string[] = [];
    for (;;) {
      const got = await store.take(10);
      if (got.length === 0) break;
      expect(store.servingFromDisk).toBe(true);
      for (const r of got) {
        seen.push(r.messageId);
        expect(r.body).toEqual(Buffer.alloc(100, Number(r.messageId.slice(2)) % 256));
      }
      store.confirm(got.map((r) => r.id));
    }
    expect(seen).toEqual(Array.from({ length: n }, (_, i) => `m-${i + 1}`));
    // One read per READ_AHEAD_BYTES (segments end early, so a few more), not one per take (300).
    expect(io.reads - reads).toBeLessThanOrEqual(Math.ceil(bytes / READ_AHEAD_BYTES) + 4);
    await store.close();
  });
});
