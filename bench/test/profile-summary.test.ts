// The bench's profile findings: a V8 .cpuprofile folded into stages, including samples
// that land in the esbuild bundle and are mapped back to their source module.
import { describe, expect, it } from 'vitest';
import { bundleModules, summariseProfile } from '../lib/profile-summary.ts';
import { median } from '../lib/report.ts';
import { boxTicks, sampleCpu } from '../lib/proc-stats.ts';

const bundle = [
  '// ../../../x/bridge/src/codec/batch.ts', // line 0
  'function decodeBatch() {}',
  '// ../../../x/bridge/src/store/segment-log.ts', // line 2
  'class SegmentLog {}',
  '// ../../../x/bridge/src/pipeline.ts', // line 4
  'class Pipeline {}',
].join('\n');

const frame = (functionName: string, url: string, lineNumber = 0) => ({ functionName, url, lineNumber, scriptId: '0', columnNumber: 0 });

describe('profile summary', () => {
  it('finds the module boundaries esbuild leaves in a bundle', () => {
    expect(bundleModules(bundle)).toEqual([
      [0, 'codec/batch.ts'],
      [2, 'store/segment-log.ts'],
      [4, 'pipeline.ts'],
    ]);
  });

  it('shares busy time by stage, leaving idle out and keeping only the window', () => {
    const nodes = [
      { id: 1, callFrame: frame('(idle)', '') },
      { id: 2, callFrame: frame('(garbage collector)', '') },
      { id: 3, callFrame: frame('decodeBatch', 'file:///r/bridge/dist/b1/cli.mjs', 1) },
      { id: 4, callFrame: frame('commitGroup', 'file:///r/bridge/dist/b1/cli.mjs', 3) },
      { id: 5, callFrame: frame('publish', 'file:///r/node_modules/amqplib/lib/channel.js', 10) },
      { id: 6, callFrame: frame('parse', 'file:///r/node_modules/mqtt-packet/parser.js', 3) },
      { id: 7, callFrame: frame('writev', '') },
      { id: 8, callFrame: frame('emit', 'node:events', 400) },
      { id: 9, callFrame: frame('handle', 'file:///r/bridge/dist/b1/cli.mjs', 5) },
    ];
    // Sample i at startTime + 100 * (i + 1) µs; the window drops the first and the last sample.
    const samples = [3, 1, 1, 2, 3, 3, 4, 5, 6, 7, 8, 9, 3];
    const profile = { startTime: 1000, nodes, samples, timeDeltas: samples.map(() => 100) };
    const s = summariseProfile(profile, { fromUs: 1150, toUs: 2250 }, () => bundle);
    const share = Object.fromEntries(s.stages.map((x) => [x.stage, x.share]));
    // 11 samples in the window, 2 idle: 9 busy, decodeBatch twice.
    expect(s.busyMs).toBeCloseTo(0.9);
    expect(s.idle).toBeCloseTo(2 / 11);
    expect(share['codec and routing']).toBeCloseTo(2 / 9);
    expect(share['store (frames, group commit, index)']).toBeCloseTo(1 / 9);
    expect(share['GC']).toBeCloseTo(1 / 9);
    expect(share['AMQP egress (amqplib, pool, forwarder)']).toBeCloseTo(1 / 9);
    expect(share['MQTT ingress (aedes, mqtt-packet)']).toBeCloseTo(1 / 9);
    expect(share['syscalls and buffer natives']).toBeCloseTo(1 / 9);
    expect(share['Node core (streams, sockets, timers)']).toBeCloseTo(1 / 9);
    expect(share['pipeline, CLI and other bridge code']).toBeCloseTo(1 / 9);
    expect(s.stages.reduce((n, x) => n + x.share, 0)).toBeCloseTo(1);
    expect(s.stages[0]!.stage).toBe('codec and routing');
  });
});

describe('medians and CPU shares', () => {
  it('takes the median of the finite values', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([NaN, 5])).toBe(5);
    expect(median([])).toBeNaN();
  });

  it('counts a busy process and the whole box over one window', () => {
    const b0 = boxTicks();
    expect(b0.total).toBeGreaterThan(b0.busy);
    const s = sampleCpu({ me: process.pid, gone: 2 ** 22 + 12345, none: undefined });
    const until = Date.now() + 400;
    while (Date.now() < until); // burn CPU so there is something to count
    const r = s.stop();
    expect(r.cores.me).toBeGreaterThan(0.3);
    expect(r.cores.me).toBeLessThan(1.5);
    expect('gone' in r.cores).toBe(false);
    expect(r.boxBusy).toBeGreaterThan(0);
    expect(r.boxBusy).toBeLessThanOrEqual(1);
  });
});
