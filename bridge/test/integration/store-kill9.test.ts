// kill -9 mid-stream: every id the child printed (= every append that resolved,
// i.e. every record it would have acknowledged) is in the store after reopening.
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { SegmentLogStore } from '../../src/store/segment-log.ts';
import type { StoreOptions } from '../../src/store/store.ts';

const storeModule = pathToFileURL(fileURLToPath(new URL('../../src/store/segment-log.ts', import.meta.url))).href;

// Written to a temp dir at run time: 64 concurrent appenders, one line per resolved append.
const childSource = `
import { SegmentLogStore } from ${JSON.stringify(storeModule)};
const [dir, round] = process.argv.slice(2);
const store = new SegmentLogStore({ dir, maxBytes: 1 << 30, maxRecords: 10_000_000, overflow: 'reject', segmentBytes: 256 * 1024 });
const report = await store.open();
process.stdout.write('open ' + report.pending + '\\n');
let n = 0;
await Promise.all(Array.from({ length: 64 }, async (_, w) => {
  for (;;) {
    const id = 'r' + round + '-w' + w + '-' + n++;
    const [rec] = await store.append([{ routingKey: 'k', messageId: id, device: 'w' + w, contentType: 'application/json',
      headers: {}, body: Buffer.alloc(300, 120), acceptedAt: Date.now() }]);
    process.stdout.write('acked ' + id + ' ' + rec.id + '\\n');
  }
}));
`;

function options(dir: string): StoreOptions {
  return { dir, maxBytes: 1 << 30, maxRecords: 10_000_000, overflow: 'reject', segmentBytes: 256 * 1024 };
}

async function runAndKill(script: string, dir: string, round: number, ackedBeforeKill: number): Promise<Map<string, number>> {
  const child = spawn(process.execPath, ['--import', 'tsx', script, dir, String(round)], { stdio: ['ignore', 'pipe', 'inherit'] });
  const acked = new Map<string, number>();
  let buffered = '';
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    child.on('exit', (code, signal) => reject(new Error(`child exited early: ${code} ${signal}`)));
    child.stdout!.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop()!;
      for (const line of lines) {
        const [kind, messageId, id] = line.split(' ');
        if (kind === 'acked') acked.set(messageId!, Number(id));
      }
      if (acked.size >= ackedBeforeKill) resolve();
    });
  });
  child.kill('SIGKILL');
  await exited;
  return acked;
}

describe('segment log under kill -9', () => {
  it('keeps every acknowledged record across two kills', async () => {
    const work = mkdtempSync(join(tmpdir(), 'store-kill9-'));
    const script = join(work, 'child.mts');
    writeFileSync(script, childSource);
    const dir = join(work, 'store');

    const first = await runAndKill(script, dir, 1, 3000);
    const second = await runAndKill(script, dir, 2, 3000);
    const printed = new Map([...first, ...second]);

    const store = new SegmentLogStore(options(dir));
    const report = await store.open();
    const found = new Map<string, number>();
    for (;;) {
      const batch = await store.take(10_000);
      if (batch.length === 0) break;
      for (const r of batch) found.set(r.messageId, r.id);
    }
    await store.close();

    const missing = [...printed.keys()].filter((m) => !found.has(m));
    expect(missing).toEqual([]);
    for (const [m, id] of printed) expect(found.get(m)).toBe(id);
    // Round 2 ids continue after round 1's: never reused.
    expect(Math.min(...second.values())).toBeGreaterThan(Math.max(...first.values()));
    expect(report.corrupt.every((c) => c.reason === 'torn-tail')).toBe(true);
  });
});
