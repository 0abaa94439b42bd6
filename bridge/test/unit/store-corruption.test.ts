// Recovery over damaged segments: torn tails and garbled bytes (fixed seeds).
// The store must deliver every intact record, quarantine and report the rest,
// never loop and never refuse to open.
import { appendFileSync, mkdtempSync, readdirSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { scanSegment, type FrameInfo } from '../../src/store/format.ts';
import { inspectStore, verifyStore } from '../../src/store/inspect.ts';
import { QUARANTINE_REPORT, SegmentLogStore } from '../../src/store/segment-log.ts';
import type { StoreOptions } from '../../src/store/store.ts';
import { message } from './store-contract.ts';

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function opts(dir: string): StoreOptions {
  return { dir, maxBytes: 1 << 30, maxRecords: 1_000_000, overflow: 'reject', segmentBytes: 8 * 1024 };
}

/** A closed store with `n` records over several segments; returns the frames per segment file. */
async function buildStore(n: number): Promise<{ dir: string; frames: Map<string, FrameInfo[]>; messageOf: Map<number, string> }> {
  const dir = mkdtempSync(join(tmpdir(), 'store-corrupt-'));
  const store = new SegmentLogStore(opts(dir));
  await store.open();
  const messageOf = new Map<number, string>();
  for (let i = 0; i < n; i += 10) {
    const recs = await store.append(Array.from({ length: 10 }, (_, j) => message(i + j)));
    for (const r of recs) messageOf.set(r.id, r.messageId);
  }
  await store.close();
  const frames = new Map<string, FrameInfo[]>();
  for (const name of segmentFiles(dir)) {
    const list: FrameInfo[] = [];
    expect(scanSegment(readFileSync(join(dir, name)), (f) => list.push(f))).toEqual([]);
    frames.set(name, list);
  }
  return { dir, frames, messageOf };
}

const segmentFiles = (dir: string) => readdirSync(dir).filter((n) => n.endsWith('.seg')).sort();

async function reopenAndDrain(dir: string) {
  const store = new SegmentLogStore(opts(dir));
  const report = await store.open();
  const ids: number[] = [];
  const messageIds: string[] = [];
  for (;;) {
    const batch = await store.take(1000);
    if (batch.length === 0) break;
    for (const r of batch) {
      ids.push(r.id);
      messageIds.push(r.messageId);
    }
  }
  const stats = store.stats();
  await store.close();
  return { report, ids, messageIds, stats };
}

describe('segment log recovery over damaged data', () => {
  for (const seed of [1, 2, 3, 4, 5]) {
    it(`torn last segment (seed ${seed}): intact records delivered, tail quarantined`, async () => {
      const { dir, frames, messageOf } = await buildStore(300);
      const names = segmentFiles(dir);
      const last = names[names.length - 1]!;
      const lastFrames = frames.get(last)!;
      const size = readFileSync(join(dir, last)).length;
      const cut = Math.floor(mulberry32(seed)() * size);
      truncateSync(join(dir, last), cut);

      const expected = [...frames.entries()].flatMap(([name, list]) =>
        list.filter((f) => name !== last || f.offset + f.length <= cut).map((f) => f.id),
      );
      const { report, ids, messageIds, stats } = await reopenAndDrain(dir);
      expect(ids).toEqual(expected);
      expect(messageIds).toEqual(ids.map((id) => messageOf.get(id)));
      const tornBytes = cut - lastFrames.filter((f) => f.offset + f.length <= cut).reduce((n, f) => n + f.length, 0);
      if (tornBytes > 0) {
        expect(report.corrupt).toEqual([expect.objectContaining({ segment: last, bytes: tornBytes, reason: 'torn-tail' })]);
        expect(stats.quarantinedBytes).toBe(tornBytes);
      } else {
        expect(report.corrupt).toEqual([]);
      }
      // Quarantined once: a second open finds a clean store with the same records.
      const again = await reopenAndDrain(dir);
      expect(again.report.corrupt).toEqual([]);
      expect(again.ids).toEqual(expected);
    });
  }

  for (const seed of [11, 12, 13, 14, 15, 16]) {
    it(`garbled bytes (seed ${seed}): untouched records delivered, damaged ones quarantined`, async () => {
      const { dir, frames, messageOf } = await buildStore(300);
      const rand = mulberry32(seed);
      const names = segmentFiles(dir);
      const hit = new Map<string, number[]>();
      for (let k = 0; k < 1 + Math.floor(rand() * 8); k++) {
        const name = names[Math.floor(rand() * names.length)]!;
        const path = join(dir, name);
        const buf = readFileSync(path);
        const pos = Math.floor(rand() * buf.length);
        buf[pos] = buf[pos]! ^ (1 + Math.floor(rand() * 255));
        writeFileSync(path, buf);
        hit.set(name, [...(hit.get(name) ?? []), pos]);
      }
      const expected = [...frames.entries()].flatMap(([name, list]) =>
        list.filter((f) => !(hit.get(name) ?? []).some((p) => p >= f.offset && p < f.offset + f.length)).map((f) => f.id),
      );
      const before = await verifyStore(dir);
      expect(before.ok).toBe(false);

      const started = Date.now();
      const { report, ids, messageIds } = await reopenAndDrain(dir);
      expect(Date.now() - started).toBeLessThan(5000);
      expect(ids).toEqual(expected);
      expect(messageIds).toEqual(ids.map((id) => messageOf.get(id)));
      expect(report.corrupt.length).toBeGreaterThan(0);
      expect(report.quarantinedBytes).toBeGreaterThan(0);
      const logLines = readFileSync(join(dir, QUARANTINE_REPORT), 'utf8').trim().split('\n');
      expect(logLines).toHaveLength(report.corrupt.length);
      expect(JSON.parse(logLines[0]!)).toMatchObject({ segment: report.corrupt[0]!.segment, offset: report.corrupt[0]!.offset });
      expect((await verifyStore(dir)).ok).toBe(true);
    });
  }

  it('opens over pure garbage, zero-filled tails and empty segment files', async () => {
    const { dir, frames } = await buildStore(50);
    const rand = mulberry32(99);
    const junk = Buffer.from(Array.from({ length: 5000 }, () => Math.floor(rand() * 256)));
    // A lying length field right at the start of a garbage segment, plus a magic with no frame behind it.
    junk.write('EFR1', 0, 'latin1');
    junk.writeUInt32BE(0xffffffff, 8);
    junk.write('EFR1', 100, 'latin1');
    writeFileSync(join(dir, '9000000000000000.seg'), junk);
    writeFileSync(join(dir, '9000000000000001.seg'), Buffer.alloc(0));
    const names = segmentFiles(dir);
    appendFileSync(join(dir, names[0]!), Buffer.alloc(777));
    const { report, ids } = await reopenAndDrain(dir);
    expect(ids).toEqual([...frames.values()].flat().map((f) => f.id));
    expect(report.corrupt.map((c) => c.reason).sort()).toEqual(['bad-header', 'torn-tail']);
    expect(report.corrupt.find((c) => c.reason === 'bad-header')?.bytes).toBe(5000);
    // Ids keep growing past the highest segment name, even one made of garbage.
    expect(report.nextId).toBeGreaterThanOrEqual(9000000000000001);
  });

  it('inspectStore summarises records, devices and the quarantine log', async () => {
    const { dir } = await buildStore(30);
    const report = await inspectStore(dir);
    expect(report).toMatchObject({ ok: true, records: 30, pending: 30, lastId: 30 });
    expect(report.devices.map((d) => d.pending).reduce((a, b) => a + b, 0)).toBe(30);
    expect(report.oldest).toBeDefined();
  });
});
