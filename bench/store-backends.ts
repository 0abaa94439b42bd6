// Which durable backend for the store? Measured, not guessed.
//   node --import tsx bench/store-backends.ts            throughput + confirm cost
//   node --import tsx bench/store-backends.ts --rss      RSS with 1M backlogged records
// Workload: 64 concurrent appenders, each awaiting a durable append of one ~300-byte
// record before the next (as 64 MQTT clients waiting for PUBACK). Every backend
// group-commits and resolves only after its data is synced:
//   (a) lmdb, default sync commits (no noSync); lmdb-js batches puts of a turn into one txn
//   (b) better-sqlite3, WAL + synchronous=FULL, one transaction per event-loop turn
//   (c) the segment log (async fs: write + fdatasync on the libuv pool)
//   (d) the segment log over sync fs calls (blocks the event loop during fdatasync)
import * as fs from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { open as openLmdb } from 'lmdb';
import { nodeIo, type StoreIo } from '../bridge/src/store/io.ts';
import { SegmentLogStore } from '../bridge/src/store/segment-log.ts';
import type { OutboundMessage } from '../bridge/src/types.ts';

const CONCURRENCY = 64;
const DURATION_MS = Number(process.env.BENCH_MS ?? 2500);
const BODY = Buffer.alloc(300, 0x61);

interface Backend {
  name: string;
  append(n: number): Promise<unknown>;
  /** Deletes `count` oldest records in batches of 100, as broker confirms would. */
  confirmAll(): Promise<number>;
  close(): Promise<void>;
}

function msg(n: number): OutboundMessage {
  return { routingKey: 'telemetry.dev', messageId: `m-${n}`, device: `dev-${n % 64}`, contentType: 'application/msgpack', headers: { seq: n }, body: BODY, acceptedAt: Date.now() };
}

async function lmdbBackend(dir: string): Promise<Backend> {
  const db = openLmdb<Buffer, number>({ path: dir, encoding: 'binary', compression: false });
  let next = 1;
  return {
    name: 'lmdb (sync commits)',
    append: (n) => db.put(next++, Buffer.concat([Buffer.from(JSON.stringify({ n })), BODY])),
    async confirmAll() {
      const keys = [...db.getKeys()];
      for (let i = 0; i < keys.length; i += 100) await Promise.all(keys.slice(i, i + 100).map((k) => db.remove(k)));
      return keys.length;
    },
    close: () => db.close(),
  };
}

async function sqliteBackend(dir: string): Promise<Backend> {
  const db = new Database(join(dir, 'q.db'));
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.exec('CREATE TABLE q (id INTEGER PRIMARY KEY, meta TEXT, body BLOB)');
  const insert = db.prepare('INSERT INTO q (meta, body) VALUES (?, ?)');
  const insertAll = db.transaction((rows: number[]) => rows.map((n) => insert.run(JSON.stringify({ n }), BODY)));
  let queued: Array<{ n: number; resolve(): void }> = [];
  const flush = () => {
    const group = queued;
    queued = [];
    insertAll(group.map((g) => g.n));
    for (const g of group) g.resolve();
  };
  const del = db.prepare('DELETE FROM q WHERE id = ?');
  const deleteAll = db.transaction((ids: number[]) => ids.forEach((id) => del.run(id)));
  return {
    name: 'sqlite WAL sync=FULL',
    append: (n) =>
      new Promise<void>((resolve) => {
        if (queued.length === 0) setImmediate(flush);
        queued.push({ n, resolve });
      }),
    async confirmAll() {
      const ids = (db.prepare('SELECT id FROM q ORDER BY id').pluck().all() as number[]);
      for (let i = 0; i < ids.length; i += 100) deleteAll(ids.slice(i, i + 100));
      return ids.length;
    },
    close: async () => void db.close(),
  };
}

const syncIo: StoreIo = {
  ...nodeIo,
  write: async (fd, data, position) => void fs.writeSync(fd, data, 0, data.length, position),
  fdatasync: async (fd) => fs.fdatasyncSync(fd),
  read: async (fd, length, position) => {
    const buf = Buffer.allocUnsafe(length);
    return buf.subarray(0, fs.readSync(fd, buf, 0, length, position));
  },
};

/** Page-cache copy inline (microseconds), fdatasync on the pool: one thread hop per group instead of two. */
const hybridIo: StoreIo = { ...nodeIo, write: syncIo.write };

async function segmentBackend(dir: string, io: StoreIo, name: string): Promise<Backend> {
  const store = new SegmentLogStore({ dir, maxBytes: 1 << 30, maxRecords: 10_000_000, overflow: 'reject', io });
  await store.open();
  return {
    name,
    append: (n) => store.append([msg(n)]),
    async confirmAll() {
      let count = 0;
      for (;;) {
        const recs = await store.take(100);
        if (recs.length === 0) break;
        store.confirm(recs.map((r) => r.id));
        count += recs.length;
      }
      return count;
    },
    close: () => store.close(),
  };
}

async function measure(make: (dir: string) => Promise<Backend>) {
  const dir = mkdtempSync(join(tmpdir(), 'bench-store-'));
  const backend = await make(dir);
  let done = 0;
  let n = 0;
  const loopDelay = monitorEventLoopDelay({ resolution: 1 });
  loopDelay.enable();
  const deadline = Date.now() + DURATION_MS;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (Date.now() < deadline) {
        await backend.append(n++);
        done++;
      }
    }),
  );
  const appendSecs = (performance.now() - started) / 1000;
  loopDelay.disable();
  const t = performance.now();
  const confirmed = await backend.confirmAll();
  const confirmSecs = (performance.now() - t) / 1000;
  await backend.close();
  rmSync(dir, { recursive: true, force: true });
  return { name: backend.name, appendRate: done / appendSecs, confirmRate: confirmed / confirmSecs, loopP99Ms: loopDelay.percentile(99) / 1e6 };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;

async function throughput() {
  const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
  console.log(`durable append, ${CONCURRENCY} concurrent appenders, ~300 B records, ${DURATION_MS} ms per run, median of ${rounds} interleaved rounds`);
  const makers = [
    lmdbBackend,
    sqliteBackend,
    (d: string) => segmentBackend(d, nodeIo, 'segment log (async fs)'),
    (d: string) => segmentBackend(d, hybridIo, 'segment log (sync write)'),
    (d: string) => segmentBackend(d, syncIo, 'segment log (sync fs)'),
  ];
  // Interleaved rounds, so a noisy neighbour on the disk hits every backend alike.
  const runs: Array<Awaited<ReturnType<typeof measure>>[]> = makers.map(() => []);
  for (let r = 0; r < rounds; r++) for (const [i, make] of makers.entries()) runs[i]!.push(await measure(make));
  const results = runs.map((rs) => ({
    name: rs[0]!.name,
    appendRate: median(rs.map((x) => x.appendRate)),
    confirmRate: median(rs.map((x) => x.confirmRate)),
    loopP99Ms: median(rs.map((x) => x.loopP99Ms)),
    spread: rs.map((x) => Math.round(x.appendRate / 1000)).join('/'),
  }));
  const bestAppend = Math.max(...results.map((r) => r.appendRate));
  const bestConfirm = Math.max(...results.map((r) => r.confirmRate));
  console.log('backend                     append msg/s  vs best  (runs, k/s)     take+confirm msg/s  vs best   loop delay p99');
  for (const r of results) {
    console.log(
      `${r.name.padEnd(27)} ${Math.round(r.appendRate).toString().padStart(12)}  ${(r.appendRate / bestAppend).toFixed(2).padStart(7)}  (${r.spread})`.padEnd(68) +
        `${Math.round(r.confirmRate).toString().padStart(18)}  ${(r.confirmRate / bestConfirm).toFixed(2).padStart(7)}   ${r.loopP99Ms.toFixed(2)} ms`,
    );
  }
}

async function rss() {
  const dir = mkdtempSync(join(tmpdir(), 'bench-rss-'));
  const mb = (n: number) => `${Math.round(n / 1024 / 1024)} MB`;
  const opts = { dir, maxBytes: 2 * 1024 ** 3, maxRecords: 2_000_000, overflow: 'reject' as const };
  console.log(`baseline RSS ${mb(process.memoryUsage().rss)}`);
  let store = new SegmentLogStore(opts);
  await store.open();
  for (let i = 0; i < 1_000_000; i += 1000) await store.append(Array.from({ length: 1000 }, (_, j) => msg(i + j)));
  globalThis.gc?.();
  console.log(`1M records appended: RSS ${mb(process.memoryUsage().rss)}, heap ${mb(process.memoryUsage().heapUsed)}, arrayBuffers ${mb(process.memoryUsage().arrayBuffers)}, stats ${JSON.stringify(store.stats())}`);
  await store.close();
  store = new SegmentLogStore(opts);
  const t = performance.now();
  const report = await store.open();
  globalThis.gc?.();
  console.log(`reopened in ${Math.round(performance.now() - t)} ms (${report.pending} pending): RSS ${mb(process.memoryUsage().rss)}, heap ${mb(process.memoryUsage().heapUsed)}`);
  const t2 = performance.now();
  let taken = 0;
  for (;;) {
    const recs = await store.take(1000);
    if (recs.length === 0) break;
    store.confirm(recs.map((r) => r.id));
    taken += recs.length;
  }
  console.log(`drained ${taken} via take+confirm in ${Math.round(performance.now() - t2)} ms: RSS ${mb(process.memoryUsage().rss)}`);
  await store.close();
  rmSync(dir, { recursive: true, force: true });
}

await (process.argv.includes('--rss') ? rss() : throughput());
