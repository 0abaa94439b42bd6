// Read-only views of a store directory for `edge-bridge store verify|inspect`.
// They never modify anything (no quarantine, no rewrite), so they are safe to run
// next to a live bridge; what they read of the active segment may be mid-write.
import { join } from 'node:path';
import { decodeRecord, decodeTombstones, parseSegmentName, scanSegment, segmentName, type DamagedRegion } from './format.ts';
import { nodeIo, type StoreIo } from './io.ts';
import { QUARANTINE_FILE, QUARANTINE_REPORT } from './segment-files.ts';

export interface SegmentReport {
  name: string;
  bytes: number;
  records: number;
  pending: number;
  corrupt: DamagedRegion[];
}

export interface VerifyReport {
  ok: boolean;
  dir: string;
  segments: number;
  /** Valid frames on disk (deleted or not). */
  records: number;
  /** Valid frames without a tombstone: what a restart would deliver. */
  pending: number;
  pendingBytes: number;
  bytes: number;
  corrupt: Array<DamagedRegion & { segment: string }>;
  quarantinedBytes: number;
  /** Earliest acceptedAt among pending records (ISO), if any. */
  oldest: string | undefined;
  lastId: number;
}

export interface InspectReport extends VerifyReport {
  perSegment: SegmentReport[];
  /** Pending records per device (top 50). */
  devices: Array<{ device: string; pending: number }>;
  /** Lines of quarantine.jsonl (the last 20). */
  quarantineLog: unknown[];
}

async function readAll(io: StoreIo, path: string): Promise<Buffer | undefined> {
  const size = await io.size(path);
  if (size === undefined) return undefined;
  const fd = await io.open(path, 'r');
  try {
    return await io.read(fd, size, 0);
  } finally {
    await io.close(fd);
  }
}

async function walk(dir: string, io: StoreIo, withDevices: boolean): Promise<InspectReport> {
  const names = (await io.readdir(dir)).sort();
  const report: InspectReport = {
    ok: true,
    dir,
    segments: 0,
    records: 0,
    pending: 0,
    pendingBytes: 0,
    bytes: 0,
    corrupt: [],
    quarantinedBytes: (await io.size(join(dir, QUARANTINE_FILE))) ?? 0,
    oldest: undefined,
    lastId: 0,
    perSegment: [],
    devices: [],
    quarantineLog: [],
  };
  let oldest = Infinity;
  const devices = new Map<string, number>();
  for (const name of names) {
    const firstId = parseSegmentName(name);
    if (firstId === undefined) continue;
    const image = (await readAll(io, join(dir, name))) ?? Buffer.alloc(0);
    const tombstones = decodeTombstones((await readAll(io, join(dir, name.replace(/\.seg$/, '.ack')))) ?? Buffer.alloc(0));
    const seg: SegmentReport = { name: segmentName(firstId), bytes: image.length, records: 0, pending: 0, corrupt: [] };
    seg.corrupt = scanSegment(image, (f) => {
      seg.records++;
      report.lastId = Math.max(report.lastId, f.id);
      if (tombstones.has(f.id)) return;
      seg.pending++;
      report.pendingBytes += f.length;
      oldest = Math.min(oldest, f.acceptedAt);
      if (withDevices) {
        const device = decodeRecord(image.subarray(f.offset, f.offset + f.length)).device;
        devices.set(device, (devices.get(device) ?? 0) + 1);
      }
    });
    report.segments++;
    report.records += seg.records;
    report.pending += seg.pending;
    report.bytes += image.length;
    report.corrupt.push(...seg.corrupt.map((c) => ({ segment: seg.name, ...c })));
    report.perSegment.push(seg);
  }
  report.ok = report.corrupt.length === 0;
  report.oldest = Number.isFinite(oldest) ? new Date(oldest).toISOString() : undefined;
  report.devices = [...devices].sort((a, b) => b[1] - a[1]).slice(0, 50).map(([device, pending]) => ({ device, pending }));
  const log = (await readAll(io, join(dir, QUARANTINE_REPORT)))?.toString('utf8') ?? '';
  report.quarantineLog = log
    .split('\n')
    .filter(Boolean)
    .slice(-20)
    .map((l) => {
      try {
        return JSON.parse(l) as unknown;
      } catch {
        return l;
      }
    });
  return report;
}

/** Checks every frame's CRC; `ok` is false when any region is damaged (open() would quarantine it). */
export async function verifyStore(dir: string, io: StoreIo = nodeIo): Promise<VerifyReport> {
  const { perSegment: _s, devices: _d, quarantineLog: _q, ...summary } = await walk(dir, io, false);
  return summary;
}

/** Summary plus per-segment, per-device and quarantine details. */
export async function inspectStore(dir: string, io: StoreIo = nodeIo): Promise<InspectReport> {
  return walk(dir, io, true);
}
