// Rows of the dashboard's device table: the registry's view plus a reading
// rate, smoothed over consecutive snapshots so a node that sends a batch every
// few seconds does not flicker between 0 and a spike.
import type { DeviceRegistry } from './devices.ts';

export interface DeviceRow {
  device: string;
  online: boolean;
  lastSeen: number;
  /** Readings per second, smoothed. */
  rate: number;
  batches: number;
  readings: number;
  gaps: number;
  duplicates: number;
  drops: number;
  boot: number;
  lastSeq: number;
  intervalMs?: number;
}

export class DeviceTable {
  private readonly prev = new Map<string, { at: number; readings: number; rate: number }>();

  constructor(
    private readonly devices: DeviceRegistry,
    private readonly maxRows: number,
  ) {}

  rows(now = Date.now()): DeviceRow[] {
    const list = this.devices.list(this.maxRows);
    const seen = new Set<string>();
    const rows = list.map((d): DeviceRow => {
      seen.add(d.device);
      const p = this.prev.get(d.device);
      let rate = 0;
      if (p && now > p.at) {
        const instant = (d.readings - p.readings) / ((now - p.at) / 1000);
        rate = p.rate === 0 ? instant : 0.5 * p.rate + 0.5 * instant;
      }
      this.prev.set(d.device, { at: now, readings: d.readings, rate });
      return {
        device: d.device, online: d.online, lastSeen: d.lastSeen, rate, batches: d.batches, readings: d.readings,
        gaps: d.gaps, duplicates: d.duplicates, drops: d.drops, boot: d.boot, lastSeq: d.lastSeq, intervalMs: d.intervalMs,
      };
    });
    // Forget devices that fell off the table, so the map stays as small as the table.
    for (const id of this.prev.keys()) if (!seen.has(id)) this.prev.delete(id);
    return rows;
  }
}
