// RSS and CPU of a process from /proc (Linux), sampled while a phase runs.
import { readFileSync } from 'node:fs';

const TICKS_PER_SEC = 100;

export function rssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : NaN;
}

/** utime + stime in seconds. */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SEC;
}

export interface ProcSample {
  /** Largest RSS seen, bytes. */
  maxRss: number;
  lastRss: number;
  /** CPU time / wall time over the sampling period (1.0 = one core). */
  cpu: number;
}

/** Samples every 250 ms until stop() is called. */
export function sampleProcess(pid: number): { stop(): ProcSample } {
  const t0 = Date.now();
  const c0 = cpuSeconds(pid);
  let maxRss = rssBytes(pid);
  let lastRss = maxRss;
  const timer = setInterval(() => {
    try {
      lastRss = rssBytes(pid);
      maxRss = Math.max(maxRss, lastRss);
    } catch {
      // the process exited; keep what we saw
    }
  }, 250);
  return {
    stop() {
      clearInterval(timer);
      let cpu = NaN;
      try {
        lastRss = rssBytes(pid);
        maxRss = Math.max(maxRss, lastRss);
        cpu = (cpuSeconds(pid) - c0) / ((Date.now() - t0) / 1000);
      } catch {
        // exited
      }
      return { maxRss, lastRss, cpu };
    },
  };
}

/** Busy and total jiffies of the whole box (all cores), from the first line of /proc/stat. */
export function boxTicks(): { busy: number; total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!;
  const f = line.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal ...: idle and iowait are not busy.
  const total = f.slice(0, 8).reduce((a, b) => a + b, 0);
  return { busy: total - f[3]! - f[4]!, total };
}

export interface CpuShare {
  /** CPU cores each named process used over the window (1.0 = one core). */
  cores: Record<string, number>;
  /** The whole box: busy share of all cores, 0..1. */
  boxBusy: number;
  seconds: number;
}

/** CPU time of several processes (and the box) over one window; a process that exits counts as what it used until then. */
export function sampleCpu(pids: Record<string, number | undefined>): { stop(): CpuShare } {
  const t0 = Date.now();
  const b0 = boxTicks();
  const c0: Record<string, number> = {};
  for (const [name, pid] of Object.entries(pids)) {
    if (pid === undefined) continue;
    try {
      c0[name] = cpuSeconds(pid);
    } catch {
      // not running
    }
  }
  return {
    stop() {
      const seconds = (Date.now() - t0) / 1000;
      const b1 = boxTicks();
      const cores: Record<string, number> = {};
      for (const name of Object.keys(c0)) {
        try {
          cores[name] = (cpuSeconds(pids[name]!) - c0[name]!) / seconds;
        } catch {
          cores[name] = NaN;
        }
      }
      return { cores, boxBusy: (b1.busy - b0.busy) / Math.max(1, b1.total - b0.total), seconds };
    },
  };
}
