import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Quarantine } from '../../src/quarantine/quarantine.ts';

const entry = (n: number, reason = 'malformed') => ({ reason, detail: `entry ${n}`, topic: 't/d/telemetry', source: 'c', payload: Buffer.from([n & 0xff]) });
const lines = (dir: string) => readFileSync(join(dir, 'quarantine.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as { detail: string; identity?: string });

describe('Quarantine', () => {
  it('resolves each put once its line is on disk, in order, with the identity when given', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'quarantine-'));
    const q = new Quarantine(dir, 1 << 20);
    await q.open();
    const results = Array.from({ length: 50 }, (_, i) => q.put(i === 7 ? { ...entry(i, 'identity_mismatch'), identity: 'dev-a' } : entry(i)));
    expect(await Promise.all(results)).toEqual(Array(50).fill(true));
    const written = lines(dir);
    expect(written.map((l) => l.detail)).toEqual(Array.from({ length: 50 }, (_, i) => `entry ${i}`));
    expect(written[7]!.identity).toBe('dev-a');
    await q.close();
  });

  it('past maxQueued, drops and counts device input at once; parked records are always kept', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'quarantine-'));
    const q = new Quarantine(dir, 1 << 20, 10);
    await q.open();
    const queued = Array.from({ length: 10 }, (_, i) => q.put(entry(1 + i)));
    const over = Array.from({ length: 5 }, (_, i) => q.put(entry(100 + i)));
    const parked = q.put(entry(200, 'unroutable_returned'), true);
    expect(await Promise.all(over)).toEqual(Array(5).fill(false));
    expect(await Promise.all([...queued, parked])).toEqual(Array(11).fill(true));
    const details = lines(dir).map((l) => l.detail);
    expect(details).toContain('entry 200');
    expect(details.filter((d) => /entry 10[0-4]$/.test(d))).toEqual([]);
    expect(details).toHaveLength(11);
    await q.close();
  });

  it('rolls the file over past maxBytes', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'quarantine-'));
    const q = new Quarantine(dir, 600);
    await q.open();
    for (let i = 0; i < 6; i++) await q.put(entry(i));
    await q.close();
    const older = readFileSync(join(dir, 'quarantine.jsonl.1'), 'utf8');
    expect(older.length).toBeGreaterThan(0);
    expect(lines(dir).at(-1)!.detail).toBe('entry 5');
  });
});
