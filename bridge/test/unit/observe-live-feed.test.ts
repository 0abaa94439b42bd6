// The dashboard's SSE feed over a real HTTP server, and the device table's rates.
import { describe, it, expect } from 'vitest';
import { pino } from 'pino';
import { LiveFeed } from '../../src/observe/live-feed.ts';
import { DeviceRegistry } from '../../src/observe/devices.ts';
import { DeviceTable } from '../../src/observe/device-table.ts';
import { startHttp, type HealthSource } from '../../src/observe/http.ts';
import { waitFor } from '../../../shared/testkit/unique.ts';

/** Reads SSE `snapshot` events from a fetch body until `n` arrived. */
async function readSnapshots(body: ReadableStream<Uint8Array>, n: number): Promise<Array<Record<string, unknown>>> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buf = '';
  const out: Array<Record<string, unknown>> = [];
  while (out.length < n) {
    const { value, done } = await reader.read();
    if (done) break;
    buf += decoder.decode(value, { stream: true });
    let end: number;
    while ((end = buf.indexOf('\n\n')) >= 0) {
      const block = buf.slice(0, end);
      buf = buf.slice(end + 2);
      if (block.startsWith('event: snapshot\n')) out.push(JSON.parse(block.slice(block.indexOf('data: ') + 6)) as Record<string, unknown>);
    }
  }
  await reader.cancel();
  return out;
}

describe('LiveFeed over HTTP', () => {
  it('streams snapshots of every source; a failing source is reported in place; the timer stops with the last page', async () => {
    let n = 0;
    const feed = new LiveFeed(100, pino({ level: 'silent' }))
      .addSource('counter', () => ++n)
      .addSource('broken', () => {
        throw new Error('source exploded');
      });
    const src: HealthSource = {
      readiness: () => ({ ready: true, degraded: [], details: {} }),
      metricsText: async () => '',
      metricsContentType: 'text/plain',
      feed,
    };
    const http = await startHttp({ host: '127.0.0.1', port: 0 }, src, pino({ level: 'silent' }));
    try {
      const ac = new AbortController();
      const res = await fetch(`http://127.0.0.1:${http.port}/events`, { signal: ac.signal });
      expect(res.headers.get('content-type')).toBe('text/event-stream');
      const snaps = await readSnapshots(res.body!, 3);
      expect(snaps).toHaveLength(3);
      const counters = snaps.map((s) => s.counter as number);
      expect(counters[1]! > counters[0]! && counters[2]! > counters[1]!).toBe(true);
      for (const s of snaps) {
        expect(s.broken).toEqual({ error: 'source exploded' });
        expect(s.intervalMs).toBe(100);
        expect(typeof s.at).toBe('number');
      }
      ac.abort();
      await waitFor(() => feed.clientCount === 0, { what: 'client dropped after the page closed' });
      // No page open: broadcasting builds nothing.
      const before = n;
      feed.broadcast();
      expect(n).toBe(before);
      // The page itself is served.
      const page = await fetch(`http://127.0.0.1:${http.port}/`);
      expect(page.status).toBe(200);
      expect(await page.text()).toContain('/dashboard/app.js');
    } finally {
      await http.close();
    }
  });

  it('rejects the reserved source names', () => {
    expect(() => new LiveFeed(1000).addSource('at', () => 1)).toThrow(/reserved/);
  });
});

describe('DeviceTable', () => {
  it('rates are readings per second between snapshots, smoothed, and rows are capped', () => {
    const reg = new DeviceRegistry();
    const table = new DeviceTable(reg, 2);
    reg.onBatch('a', 1, 0, 10, 1000);
    expect(table.rows(1000)[0]!.rate).toBe(0); // no previous snapshot
    reg.onBatch('a', 1, 1, 10, 2000);
    expect(table.rows(2000)[0]!.rate).toBe(10); // 10 readings in 1 s
    reg.onBatch('a', 1, 2, 30, 3000);
    expect(table.rows(3000)[0]!.rate).toBe(20); // half old (10), half new (30)
    reg.onBatch('b', 1, 0, 1, 3500);
    reg.onBatch('c', 1, 0, 1, 3600);
    const rows = table.rows(4000);
    expect(rows.map((r) => r.device)).toEqual(['c', 'b']); // most recently seen, capped at 2
  });
});
