// The chaos oracle (bridge/test/chaos/store-reader.ts, written from docs/store-format.md)
// reads what the real store writes: every record, its id, its message id, its tombstone.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openStore } from '../../src/store/index.ts';
import { readStore } from '../chaos/store-reader.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('chaos store reader against the store', () => {
  it('finds every appended record and the confirmed ones as deleted', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'store-reader-'));
    dirs.push(dir);
    // small segments so records span several files
    const store = openStore({ dir, segmentBytes: 4096, ackFlushMs: 1, maxBytes: 1 << 30, maxRecords: 1_000_000, overflow: 'reject' });
    await store.open();
    const msgs = Array.from({ length: 200 }, (_, i) => ({
      routingKey: `k.${i % 7}`,
      messageId: `dev-${i % 5}:1:${i}`,
      device: `dev-${i % 5}`,
      contentType: 'application/msgpack' as const,
      headers: { seq: i, fw: i % 2 ? 'x' : 'ü' },
      body: Buffer.alloc(i % 50, i),
      acceptedAt: 1_700_000_000_000 + i,
    }));
    const stored = [];
    for (let i = 0; i < msgs.length; i += 10) stored.push(...(await store.append(msgs.slice(i, i + 10))));
    // 55: the segment holding ids 51-60 keeps a tombstone
    const taken = await store.take(55);
    store.confirm(taken.map((r) => r.id));
    await store.close();
    const frames = readStore(dir);
    expect(new Set(frames.map((f) => f.file)).size).toBeGreaterThan(1);
    const byId = new Map(stored.map((r) => [r.id, r.messageId]));
    const confirmed = new Set(taken.map((r) => r.id));
    // segments whose every record was confirmed may be gone; every other record is read, with its message id
    expect(frames.every((f) => byId.get(f.id) === f.messageId)).toBe(true);
    expect(frames.filter((f) => !f.deleted).map((f) => f.id)).toEqual(stored.filter((r) => !confirmed.has(r.id)).map((r) => r.id));
    expect(frames.filter((f) => f.deleted).every((f) => confirmed.has(f.id))).toBe(true);
    expect(frames.some((f) => f.deleted)).toBe(true);
  });
});
