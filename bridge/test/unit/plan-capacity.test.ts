// The capacity planner against cases worked out by hand.
import { describe, it, expect } from 'vitest';
import { plan, formatPlan, parseSize, parseDuration, bytes, PlanInputError, type PlanInput } from '../../src/plan/capacity.ts';

// 1000 devices × 8 readings/s / 16 per batch = 500 msg/s, 1 KB each.
const seeds: PlanInput = { devices: 1000, readingsPerSecond: 8, batchSize: 16, messageBytes: 1000, backlogSeconds: 10, handlerMs: 20 };

describe('plan', () => {
  it("the seeds' example: 10 s of backlog at 500 msg/s × 1 KB = 5 MB per queue", () => {
    const p = plan(seeds);
    expect(p.messagesPerSecond.value).toBe(500);
    expect(p.queueMemoryBytes.value).toBe(5_000_000);
    expect(bytes(p.queueMemoryBytes.value)).toBe('5 MB');
    expect(p.queueMemoryBytes.formula).toBe('M = λ × backlog × size = 500 msg/s × 10 s × 1 KB = 5 MB per queue');
  });

  it("Little's law: L = λW = 500 × 0.02 = 10 in process; with u = 0.7, ⌈10/0.7⌉ = 15 consumers", () => {
    const p = plan(seeds);
    expect(p.inFlight.value).toBeCloseTo(10, 9);
    expect(p.consumers.value).toBe(15);
    expect(plan({ ...seeds, utilization: 1 }).consumers.value).toBe(10);
    expect(p.consumers.formula).toContain('⌈10 / 0.7⌉ = 15');
  });

  it('prefetch = 1 + ⌈RTT / W⌉: 10 ms / 20 ms -> 2; 100 ms / 5 ms -> 21; unacked N × P', () => {
    expect(plan(seeds).prefetch.value).toBe(2);
    expect(plan(seeds).unackedTotal.value).toBe(30);
    const slowLink = plan({ ...seeds, handlerMs: 5, rttMs: 100 });
    // L = 500 × 0.005 = 2.5; N = ⌈2.5 / 0.7⌉ = 4; P = 1 + 20 = 21; N × P = 84
    expect(slowLink.consumers.value).toBe(4);
    expect(slowLink.prefetch.value).toBe(21);
    expect(slowLink.unackedTotal.value).toBe(84);
    expect(slowLink.warnings).toEqual([]);
  });

  it('store for a 1 h outage: 500 msg/s × 3600 s × (1000 + 200) B = 2.16 GB, over the 1 GiB default', () => {
    const p = plan({ ...seeds, outageSeconds: 3600 });
    expect(p.storeBytes!.value).toBe(2_160_000_000);
    expect(p.storeBytes!.formula).toContain('= 2.16 GB');
    expect(p.warnings.join('\n')).toMatch(/more than store\.maxBytes \(1\.07 GB\)/);
    const small = plan({ ...seeds, outageSeconds: 600, recordOverheadBytes: 0 }); // 500 × 600 × 1000 = 300 MB
    expect(small.storeBytes!.value).toBe(300_000_000);
    expect(small.warnings).toEqual([]);
  });

  it('a small fleet: 20 devices × 1/s / 4 = 5 msg/s; 60 s × 300 B = 90 KB; one consumer suffices', () => {
    const p = plan({ devices: 20, readingsPerSecond: 1, batchSize: 4, messageBytes: 300, backlogSeconds: 60, handlerMs: 50 });
    expect(p.messagesPerSecond.value).toBe(5);
    expect(p.queueMemoryBytes.value).toBe(90_000);
    // L = 5 × 0.05 = 0.25 -> ⌈0.25/0.7⌉ = 1
    expect(p.consumers.value).toBe(1);
    expect(p.prefetch.value).toBe(2); // 1 + ⌈10/50⌉
    expect(p.storeBytes).toBeUndefined();
  });

  it('warns when N × P passes the unacked warning threshold', () => {
    // λ = 5000; L = 5000 × 0.1 = 500; N = ⌈500/0.7⌉ = 715; P = 1 + ⌈10/100⌉ = 2; 1430 unacked
    const p = plan({ ...seeds, devices: 10_000, handlerMs: 100 });
    expect(p.unackedTotal.value).toBe(1430);
    expect(p.warnings.some((w) => w.includes('1430 unacked'))).toBe(true);
  });

  it('a split routing rule multiplies the messages: 2 sensors per batch -> 1000 msg/s, 10 MB of backlog', () => {
    const p = plan({ ...seeds, messagesPerBatch: 2 });
    expect(p.messagesPerSecond.value).toBe(1000);
    expect(p.messagesPerSecond.formula).toBe('λ = devices × rate / batch × parts = 1000 × 8 / 16 × 2 = 1000 msg/s');
    expect(p.queueMemoryBytes.value).toBe(10_000_000);
    expect(() => plan({ ...seeds, messagesPerBatch: 0 })).toThrow(/parts/);
  });

  it('names the bad input', () => {
    expect(() => plan({ ...seeds, devices: 0 })).toThrow(PlanInputError);
    expect(() => plan({ ...seeds, devices: 1.5 })).toThrow(/devices: expected a whole number > 0, got 1.5/);
    expect(() => plan({ ...seeds, handlerMs: -1 })).toThrow(/handler-ms/);
    expect(() => plan({ ...seeds, utilization: 1.5 })).toThrow(/utilization/);
    expect(() => plan({ ...seeds, messageBytes: Number.NaN })).toThrow(/msg-size/);
  });

  it('formats every figure with its formula', () => {
    const text = formatPlan(plan({ ...seeds, outageSeconds: 3600 }));
    for (const f of ['messages/s: 500 msg/s', 'λ = devices × rate / batch = 1000 × 8 / 16 = 500 msg/s', 'queue memory for the backlog: 5 MB', 'L = λ × W', 'consumers needed: 15', 'suggested prefetch: 2', 'local store for the outage: 2.16 GB', 'WARNING:']) {
      expect(text).toContain(f);
    }
  });
});

describe('units', () => {
  it('sizes are decimal unless written with i', () => {
    expect(parseSize('1000')).toBe(1000);
    expect(parseSize('1KB')).toBe(1000);
    expect(parseSize('1 kb')).toBe(1000);
    expect(parseSize('4KiB')).toBe(4096);
    expect(parseSize('1.5MB')).toBe(1_500_000);
    expect(() => parseSize('lots')).toThrow(/expected a size/);
  });
  it('durations', () => {
    expect(parseDuration('90')).toBe(90);
    expect(parseDuration('30m')).toBe(1800);
    expect(parseDuration('2h')).toBe(7200);
    expect(parseDuration('500ms')).toBe(0.5);
    expect(() => parseDuration('soon')).toThrow(/expected a duration/);
  });
});
