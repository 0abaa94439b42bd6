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
