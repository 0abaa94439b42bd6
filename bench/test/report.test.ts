// The bench's outputs: table, README section, chart. (Its figures are measured by
// `npm run bench`, never asserted here.)
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { TARGETS, consoleReport, markdownReport, stageRows, svgChart, updateReadme, verdict, type ScenarioRow, type TargetRow } from '../lib/report.ts';
import { cpuSeconds, rssBytes, sampleProcess } from '../lib/proc-stats.ts';
import { deployedEnvironment, deployedNodeOptions } from '../lib/bridge-process.ts';

const scenarios: ScenarioRow[] = [
  { name: '1 ceiling', msgsPerSec: 10_000, readingsPerSec: 160_000, latencyRate: 5000, p50Ms: 1, p99Ms: 8, rssMb: undefined, cpu: undefined },
  { name: '2 bridge <embedded>', msgsPerSec: 5000, readingsPerSec: 80_000, latencyRate: 2500, p50Ms: 9, p99Ms: NaN, rssMb: 120.4, cpu: 0.9 },
];
const targets: TargetRow[] = [
  { what: 'Bridge vs ceiling', target: '>= 0.8x', result: '0.50x', met: false },
  { what: 'Firmware text', target: '<= 24 KB', result: '11.5 KB', met: true },
  { what: 'Scale (2k only)', target: '<= 250 MB (10k)', result: '170 MB', met: undefined },
];

describe('bench targets', () => {
  it('holds the performance goals, each with its bound', () => {
    expect(TARGETS.externalVsEmbedded).toMatchObject({ target: '>= 0.8x', atLeast: 0.8 });
    expect(TARGETS.vsPlugin).toMatchObject({ target: '>= 1.0x', atLeast: 1.0 });
    expect(TARGETS.vsCeiling).toMatchObject({ target: '>= 0.85x', atLeast: 0.85 });
    expect(TARGETS.vsNaive).toMatchObject({ target: '>= 10x', atLeast: 10 });
    expect(TARGETS.p99VsPlugin).toMatchObject({ target: '<= 1.5x', atMost: 1.5 });
    expect(TARGETS.p50VsPlugin).toMatchObject({ target: '<= 2.0x', atMost: 2.0 });
    expect(TARGETS.backlogRss).toMatchObject({ atMost: 150 });
    expect(TARGETS.connectionsRss).toMatchObject({ atMost: 250 });
    expect(TARGETS.drainVsCeiling).toMatchObject({ atLeast: 0.8 });
  });

  it('judges a figure at, beyond and inside each bound; an unmeasured one is no verdict', () => {
    expect(verdict(TARGETS.vsCeiling, 0.85)).toBe(true);
    expect(verdict(TARGETS.vsCeiling, 0.849)).toBe(false);
    expect(verdict(TARGETS.p99VsPlugin, 1.5)).toBe(true);
    expect(verdict(TARGETS.p99VsPlugin, 1.51)).toBe(false);
    expect(verdict(TARGETS.p50VsPlugin, 0.4)).toBe(true);
    expect(verdict(TARGETS.vsNaive, 12)).toBe(true);
    expect(verdict(TARGETS.vsNaive, NaN)).toBeUndefined();
  });

  it('gives a comparison without a bound (Node-RED) no verdict, whatever the figure', () => {
    expect(TARGETS.vsNodeRed).not.toHaveProperty('atLeast');
    expect(TARGETS.vsNodeRed).not.toHaveProperty('atMost');
    for (const x of [0.1, 1, 100]) expect(verdict(TARGETS.vsNodeRed, x)).toBeUndefined();
    const row: TargetRow = { what: TARGETS.vsNodeRed.what, target: TARGETS.vsNodeRed.target, result: '0.78x (11314 vs 14498 msg/s); Node-RED publishes without confirms', met: verdict(TARGETS.vsNodeRed, 0.78) };
    expect(consoleReport([], [row])).toMatch(/Bridge vs Node-RED \(mqtt in -> amqp out\)\s+none \(comparison\)\s+0\.78x .*without confirms$/m);
    expect(markdownReport([], [row], 'Full run.')).toContain('| Bridge vs Node-RED (mqtt in -> amqp out) | none (comparison) | 0.78x (11314 vs 14498 msg/s); Node-RED publishes without confirms | n/a |');
  });

  it('prints every target text as the console table shows it', () => {
    const rows: TargetRow[] = Object.values(TARGETS).map((t) => ({ what: t.what, target: t.target, result: '1.00x', met: verdict(t, 1) }));
    const text = consoleReport([], rows);
    for (const t of Object.values(TARGETS)) expect(text).toContain(t.target);
    expect(text).toMatch(/Bridge vs the naive bridge\s+>= 10x\s+1\.00x\s+MISSED/);
  });
});

describe('latency stages', () => {
  const stages = { phase: 's2l2', deviceToReceived: 10, acceptToDurable: 2, acceptToPublish: 3, acceptToConfirm: 7 };

  it('turns cumulative means into consecutive stages that add up to the total, with the way to durable beside them', () => {
    const rows = stageRows(stages);
    const ms = rows.map((r) => Number(r[1]));
    expect(ms).toEqual([3, 3, 4, 10, 2]);
    expect(ms.slice(0, 3).reduce((a, b) => a + b, 0)).toBe(ms[3]);
    expect(rows.map((r) => r[2])).toEqual(['30 %', '30 %', '40 %', '100 %', '(20 %)']);
    expect(rows[4]![0]).toMatch(/^beside it: read → durable/);
  });

  it('is printed in the console and README reports when measured', () => {
    expect(consoleReport([], [], [], stages)).toContain('Where the latency goes (s2l2, means)');
    expect(markdownReport([], [], 'Full run.', [], stages)).toMatch(/\| publish → broker confirm \| 4(\.0+)? \| 40 % \|/);
    expect(consoleReport([], [])).not.toContain('Where the latency goes');
  });
});

describe('bench report', () => {
  it('prints every scenario and a verdict per target, n/a for what was not measured', () => {
    const text = consoleReport(scenarios, targets);
    expect(text).toMatch(/1 ceiling\s+10000\s+160000\s+5000\/s\s+1\.00\s+8\.00\s+-\s+-/);
    expect(text).toMatch(/2 bridge <embedded>\s+5000\s+80000\s+2500\/s\s+9\.00\s+n\/a\s+120\s+0\.90/);
    expect(text).toMatch(/Bridge vs ceiling\s+>= 0\.8x\s+0\.50x\s+MISSED/);
    expect(text).toMatch(/Firmware text\s+<= 24 KB\s+11\.5 KB\s+met/);
    expect(text).not.toMatch(/Scale \(2k only\).*(met|MISSED)/);
  });

  it('rewrites only the README text between the bench markers', () => {
    const dir = mkdtempSync(join(tmpdir(), 'bench-readme-'));
    try {
      const file = join(dir, 'README.md');
      writeFileSync(file, 'before\n<!-- bench:begin -->\nold table\n<!-- bench:end -->\nafter\n');
      expect(updateReadme(file, markdownReport(scenarios, targets, 'Full run of today.'))).toBe(true);
      const text = readFileSync(file, 'utf8');
      expect(text.startsWith('before\n<!-- bench:begin -->\nFull run of today.\n')).toBe(true);
      expect(text.endsWith('<!-- bench:end -->\nafter\n')).toBe(true);
      expect(text).not.toContain('old table');
      expect(text).toContain('| Bridge vs ceiling | >= 0.8x | 0.50x | **missed** |');
      expect(text).toContain('| Scale (2k only) | <= 250 MB (10k) | 170 MB | n/a |');
      writeFileSync(file, 'no markers\n');
      expect(updateReadme(file, 'x')).toBe(false);
      expect(readFileSync(file, 'utf8')).toBe('no markers\n');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('draws a well-formed SVG with a bar per figure and escaped labels', () => {
    const svg = svgChart(scenarios, 'run <1>');
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg).toContain('run &lt;1>');
    expect(svg).toContain('2 bridge &lt;embedded>');
    // 2 throughput bars + 2x2 latency bars + the background
    expect(svg.match(/<rect /g)).toHaveLength(7);
    expect(svg).not.toContain('NaN');
  });

  it('reads RSS and CPU time of a live process from /proc', async () => {
    expect(rssBytes(process.pid)).toBeGreaterThan(10 * 1024 * 1024);
    const c0 = cpuSeconds(process.pid);
    const sampler = sampleProcess(process.pid);
    const until = Date.now() + 300;
    while (Date.now() < until); // burn CPU so the sample has something to count
    const s = sampler.stop();
    expect(cpuSeconds(process.pid)).toBeGreaterThan(c0);
    expect(s.cpu).toBeGreaterThan(0);
    expect(s.maxRss).toBeGreaterThanOrEqual(s.lastRss);
  });

  it('runs the bridge with the NODE_OPTIONS of the shipped systemd unit', () => {
    const unit = readFileSync('deploy/systemd/edge-bridge.service', 'utf8');
    const opts = deployedNodeOptions('.');
    expect(opts.length).toBeGreaterThan(0);
    for (const o of opts) expect(unit).toContain(o);
    const env = deployedEnvironment('.');
    expect(env.MALLOC_ARENA_MAX).toBe('2');
    expect(env.NODE_ENV).toBe('production');
    expect(env.NODE_OPTIONS?.split(/\s+/)).toEqual(opts);
  });
});
