// What the bridge knows about each device, from its batches and status
// messages: online state, last seen, seq gaps (lost or skipped batches) and the
// drops the node itself reports. Capped so 10k devices cannot grow it without bound.
export interface DeviceView {
  device: string;
  online: boolean;
  lastSeen: number;
  boot: number;
  lastSeq: number;
  batches: number;
  readings: number;
  gaps: number;
  duplicates: number;
  drops: number;
  /** PUBLISHes held back by the embedded broker's rate limit (client id = device id). */
  paced: number;
  /** Messages sent under this identity whose payload named another device. */
  identityMismatches: number;
  intervalMs?: number;
  batchSize?: number;
  lastCmd?: number;
}

export class DeviceRegistry {
  private readonly devices = new Map<string, DeviceView>();
  gapsTotal = 0;
  duplicatesTotal = 0;

  constructor(private readonly maxDevices = 100_000) {}

  /** Returns how many batches are missing before this one (a seq gap), 0 if none. */
  onBatch(device: string, boot: number, seq: number, readings: number, now = Date.now()): number {
    const d = this.get(device, now);
    if (!d) return 0;
    let missing = 0;
    if (d.batches > 0 && boot === d.boot) {
      if (seq > d.lastSeq + 1) {
        missing = seq - d.lastSeq - 1;
        d.gaps += missing;
        this.gapsTotal += missing;
      } else if (seq <= d.lastSeq) {
        d.duplicates++;
        this.duplicatesTotal++;
      }
    }
    if (boot !== d.boot || seq > d.lastSeq || d.batches === 0) {
      d.boot = boot;
      d.lastSeq = seq;
    }
    d.batches++;
    d.readings += readings;
    d.lastSeen = now;
    d.online = true;
    return missing;
  }

  onStatus(
    device: string,
    s: { online: boolean; boot?: number; drop?: number; iv?: number; bs?: number; cmd?: number },
    now = Date.now(),
  ): void {
    const d = this.get(device, now);
    if (!d) return;
    d.online = s.online;
    d.lastSeen = now;
    if (s.drop !== undefined) d.drops = s.drop;
    if (s.iv !== undefined) d.intervalMs = s.iv;
    if (s.bs !== undefined) d.batchSize = s.bs;
    if (s.cmd !== undefined) d.lastCmd = s.cmd;
  }

  /** Counted only for a device already known: a client id that never sent a batch gets no entry. */
  onPaced(device: string): void {
    const d = this.devices.get(device);
    if (d) d.paced++;
  }

  /** The device behind a connection sent a payload that names another device. */
  onIdentityMismatch(device: string, now = Date.now()): void {
    const d = this.get(device, now);
    if (d) d.identityMismatches++;
  }

  setOffline(device: string): void {
    const d = this.devices.get(device);
    if (d) d.online = false;
  }

  onlineCount(): number {
    let n = 0;
    for (const d of this.devices.values()) if (d.online) n++;
    return n;
  }

  dropsTotal(): number {
    let n = 0;
    for (const d of this.devices.values()) n += d.drops;
    return n;
  }

  list(limit = 200): DeviceView[] {
    return [...this.devices.values()].sort((a, b) => b.lastSeen - a.lastSeen).slice(0, limit);
  }

  get size(): number {
    return this.devices.size;
  }

  /** The `n` devices with the most readings, plus every device in `always` that has been seen. */
  topByTraffic(n: number, always: readonly string[] = []): DeviceView[] {
    const picked = new Map<string, DeviceView>();
    for (const id of always) {
      const d = this.devices.get(id);
      if (d) picked.set(id, d);
    }
    if (n > 0) {
      // A bounded min-heap would avoid the sort; at 10k devices a sort per scrape is a few ms.
      const ranked = [...this.devices.values()].sort((a, b) => b.readings - a.readings || (a.device < b.device ? -1 : 1));
      for (const d of ranked.slice(0, n)) picked.set(d.device, d);
    }
    return [...picked.values()];
  }

  view(device: string): DeviceView | undefined {
    return this.devices.get(device);
  }

  private get(device: string, now: number): DeviceView | undefined {
    let d = this.devices.get(device);
    if (!d) {
      if (this.devices.size >= this.maxDevices) return undefined;
      d = { device, online: true, lastSeen: now, boot: 0, lastSeq: -1, batches: 0, readings: 0, gaps: 0, duplicates: 0, drops: 0, paced: 0, identityMismatches: 0 };
      this.devices.set(device, d);
    }
    return d;
  }
}
