// The bench's outputs: the console table, the results JSON, an SVG chart, and (full
// runs) the results section of README.md between its bench markers.
import { readFileSync, writeFileSync } from 'node:fs';

export interface TargetRow {
  what: string;
  target: string;
  result: string;
  met: boolean | undefined;
  /** For a missed target: what the CPU accounting and the profile show, generated from this run. */
  findings?: string;
}

/** The bench's targets, in one place: each compares a ratio or a figure from one run against its bound. */
export interface TargetSpec {
  what: string;
  /** As printed, e.g. '>= 0.85x'. */
  target: string;
  atLeast?: number;
  atMost?: number;
}

export const TARGETS = {
  vsCeiling: { what: 'Bridge (scenario 2) vs the ceiling', target: '>= 0.85x', atLeast: 0.85 },
  vsPlugin: { what: 'Bridge vs the MQTT plugin', target: '>= 1.0x', atLeast: 1.0 },
  vsNaive: { what: 'Bridge vs the naive bridge', target: '>= 10x', atLeast: 10 },
  externalVsEmbedded: { what: 'External-broker mode (scenario 3) vs embedded (scenario 2)', target: '>= 0.8x', atLeast: 0.8 },
  p99VsPlugin: { what: 'Bridge p99 vs plugin p99, both at 50 % of the plugin max', target: '<= 1.5x', atMost: 1.5 },
  p50VsPlugin: { what: 'Bridge p50 at 50 % of its own max vs plugin p50 at 50 % of its own', target: '<= 2.0x', atMost: 2.0 },
  vsBaseline: { what: 'Bridge vs the baseline checkout (old against new)', target: '>= 0.9x', atLeast: 0.9 },
  backlogRss: { what: 'RSS with the backlog stored', target: '<= 150 MB', atMost: 150 },
  drainVsCeiling: { what: 'Drain of the backlog under live traffic vs the ceiling', target: '>= 0.8x', atLeast: 0.8 },
  connectionsRss: { what: 'MQTT connections, RSS idle / trickle', target: '<= 250 MB (10k)', atMost: 250 },
  // Informational: no bound, so never met or missed.
  vsNodeRed: { what: 'Bridge vs Node-RED (mqtt in -> amqp out)', target: 'none (comparison)' },
} as const satisfies Record<string, TargetSpec>;

/** Met, missed, or undefined when the figure was not measured (NaN) or the spec has no bound (a plain comparison). */
export function verdict(spec: TargetSpec, value: number): boolean | undefined {
  if (!Number.isFinite(value) || (spec.atLeast === undefined && spec.atMost === undefined)) return undefined;
  if (spec.atLeast !== undefined && value < spec.atLeast) return false;
  if (spec.atMost !== undefined && value > spec.atMost) return false;
  return true;
}

export interface ScenarioRow {
  name: string;
  msgsPerSec: number;
  readingsPerSec: number;
  /** Latency at 50 % of this scenario's own maximum rate. */
  latencyRate: number;
  p50Ms: number;
  p99Ms: number;
  /** RSS and CPU of the process under test during the throughput phase (undefined: the broker itself). */
  rssMb?: number;
  cpu?: number;
  /** Lowest and highest msg/s over the rounds (the row shows their median). */
  range?: [number, number];
  rounds?: number;
  /** CPU microseconds per delivered message, per process, at max rate (median of rounds). */
  cpuUsPerMsg?: Record<string, number>;
  /** Busy share of the whole box at max rate, 0..1. */
  boxBusy?: number;
  /** Batches the senders had acknowledged per second in the max-rate phase (median of rounds). */
  acceptedPerSec?: number;
}

/** Stage shares of the bridge's own CPU, from a --cpu-prof of scenario 2 at max rate. */
export interface ProfileRow {
  stage: string;
  share: number;
  usPerMsg: number;
}

export function median(xs: number[]): number {
  const v = xs.filter(Number.isFinite).sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  const m = v.length >> 1;
  return v.length % 2 ? v[m]! : (v[m - 1]! + v[m]!) / 2;
}

const fmt = (n: number, digits = 0) => (Number.isFinite(n) ? n.toFixed(digits) : 'n/a');

function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  return [line(headers), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

export function scenarioCells(s: ScenarioRow): string[] {
  return [
    s.name,
    s.range && (s.rounds ?? 0) > 1 ? `${fmt(s.msgsPerSec)} (${fmt(s.range[0])}-${fmt(s.range[1])})` : fmt(s.msgsPerSec),
    fmt(s.readingsPerSec),
    `${fmt(s.latencyRate)}/s`,
    fmt(s.p50Ms, 2),
    fmt(s.p99Ms, 2),
    s.rssMb === undefined ? '-' : fmt(s.rssMb),
    s.cpu === undefined ? '-' : fmt(s.cpu, 2),
  ];
}

/** Mean milliseconds of one latency phase, by where they were spent: the consumer's device-to-receipt, and the bridge's own stage histograms. */
export interface LatencyStages {
  phase: string;
  deviceToReceived: number;
  acceptToDurable: number;
  acceptToPublish: number;
  acceptToConfirm: number;
}

const STAGE_HEADERS = ['stage', 'mean ms', 'share'];

/**
 * Consecutive stages of the forwarding path from the cumulative means (means add up;
 * percentiles would not). Records are forwarded while their group commit runs, so the
 * way to durable (when the PUBACK is due) runs beside them: its own row, not in the sum.
 */
export function stageRows(s: LatencyStages): string[][] {
  const stages: Array<[string, number]> = [
    ['device publish → bridge reads it, plus broker → consumer past the confirm (the rest)', s.deviceToReceived - s.acceptToConfirm],
    ['read → handed to the confirm pool (decode, route, append, the forwarder\'s take)', s.acceptToPublish],
    ['publish → broker confirm', s.acceptToConfirm - s.acceptToPublish],
  ];
  const total = s.deviceToReceived;
  const share = (ms: number) => `${fmt((ms / total) * 100)} %`;
  return [
    ...stages.map(([name, ms]) => [name, fmt(ms, 2), share(ms)]),
    ['device publish → consumer receipt (total)', fmt(total, 2), '100 %'],
    ['beside it: read → durable, group commit and fdatasync (the PUBACK is due)', fmt(s.acceptToDurable, 2), `(${share(s.acceptToDurable)})`],
  ];
}

const SCENARIO_HEADERS = ['scenario', 'msg/s', 'readings/s', 'latency at', 'p50 ms', 'p99 ms', 'RSS MB', 'CPU cores'];
const TARGET_HEADERS = ['what', 'target', 'result', ''];
const CPU_PROCS = ['under test', 'RabbitMQ', 'Mosquitto', 'load generators', 'consumer'];
const CPU_HEADERS = ['scenario', ...CPU_PROCS.map((p) => `${p} µs`), 'box busy'];

function cpuCells(s: ScenarioRow): string[] {
  const c = s.cpuUsPerMsg ?? {};
  return [s.name, ...CPU_PROCS.map((p) => (c[p] === undefined ? '-' : fmt(c[p]!))), s.boxBusy === undefined ? '-' : `${fmt(s.boxBusy * 100)} %`];
}

function profileCells(p: ProfileRow): string[] {
  return [p.stage, `${fmt(p.share * 100, 1)} %`, fmt(p.usPerMsg, 1)];
}
const PROFILE_HEADERS = ['bridge stage (self time)', 'share of busy CPU', 'µs per message'];

export function consoleReport(scenarios: ScenarioRow[], targets: TargetRow[], profile: ProfileRow[] = [], stages?: LatencyStages): string {
  const out = [table(SCENARIO_HEADERS, scenarios.map(scenarioCells))];
  if (stages) out.push('', `Where the latency goes (${stages.phase}, means):`, table(STAGE_HEADERS, stageRows(stages)));
  if (scenarios.some((s) => s.cpuUsPerMsg)) out.push('', 'CPU per delivered message at max rate:', table(CPU_HEADERS, scenarios.map(cpuCells)));
  if (profile.length) out.push('', table(PROFILE_HEADERS, profile.map(profileCells)));
  out.push('', table(TARGET_HEADERS, targets.map((t) => [t.what, t.target, t.result, t.met === undefined ? '' : t.met ? 'met' : 'MISSED'])));
  for (const t of targets) if (t.met === false && t.findings) out.push(`  ${t.what}: ${t.findings}`);
  return out.join('\n');
}

function markdownTable(headers: string[], rows: string[][]): string {
  return [`| ${headers.join(' | ')} |`, `|${headers.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
}

export function markdownReport(scenarios: ScenarioRow[], targets: TargetRow[], meta: string, profile: ProfileRow[] = [], stages?: LatencyStages): string {
  const out = [
    meta,
    '',
    markdownTable(
      TARGET_HEADERS.slice(0, 3).concat('met?', 'profile findings (this run)'),
      targets.map((t) => [t.what, t.target, t.result, t.met === undefined ? 'n/a' : t.met ? 'met' : '**missed**', t.met === false ? (t.findings ?? '') : '']),
    ),
    '',
    markdownTable(SCENARIO_HEADERS, scenarios.map(scenarioCells)),
  ];
  if (scenarios.some((s) => s.cpuUsPerMsg)) out.push('', 'CPU per delivered message at max rate (median of rounds; "under test" is the bridge, the naive bridge, or Node-RED):', '', markdownTable(CPU_HEADERS, scenarios.map(cpuCells)));
  if (stages) out.push('', `Where the latency goes (${stages.phase}; means, from the consumer's device-to-receipt and the bridge's stage histograms):`, '', markdownTable(STAGE_HEADERS, stageRows(stages)));
  if (profile.length) out.push('', 'Where the bridge\'s own CPU goes (scenario 2 at max rate, `--cpu-prof`, self time by stage):', '', markdownTable(PROFILE_HEADERS, profile.map(profileCells)));
  return out.join('\n');
}

/** Replaces the text between `<!-- bench:begin -->` and `<!-- bench:end -->`. */
export function updateReadme(file: string, body: string): boolean {
  const text = readFileSync(file, 'utf8');
  const re = /(<!-- bench:begin -->\n)[\s\S]*?(<!-- bench:end -->)/;
  if (!re.test(text)) return false;
  writeFileSync(file, text.replace(re, `$1${body}\n$2`));
  return true;
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');

/** Two horizontal bar charts: sustained msg/s, and p50/p99 latency at 50 % load. */
export function svgChart(scenarios: ScenarioRow[], title: string): string {
  const W = 760;
  const left = 230;
  const barH = 18;
  const gap = 8;
  const plotW = W - left - 90;
  const parts: string[] = [];
  let y = 40;
  const section = (heading: string, values: Array<{ label: string; bars: Array<{ v: number; color: string; text: string }> }>) => {
    parts.push(`<text x="10" y="${y}" font-weight="bold">${esc(heading)}</text>`);
    y += 12;
    const max = Math.max(1e-9, ...values.flatMap((r) => r.bars.map((b) => (Number.isFinite(b.v) ? b.v : 0))));
    for (const row of values) {
      parts.push(`<text x="${left - 8}" y="${y + barH * row.bars.length * 0.5 + 4}" text-anchor="end">${esc(row.label)}</text>`);
      for (const b of row.bars) {
        const w = Number.isFinite(b.v) ? Math.max(1, (b.v / max) * plotW) : 0;
        parts.push(`<rect x="${left}" y="${y}" width="${w.toFixed(1)}" height="${barH - 3}" fill="${b.color}"/>`);
        parts.push(`<text x="${left + w + 4}" y="${y + barH - 7}">${esc(b.text)}</text>`);
        y += barH;
      }
      y += gap;
    }
    y += 20;
  };
  section('Sustained msg/s (16 readings each)', scenarios.map((s) => ({ label: s.name, bars: [{ v: s.msgsPerSec, color: '#3b7dd8', text: fmt(s.msgsPerSec) }] })));
  section('Latency at 50 % of own max, ms (p50, p99)', scenarios.map((s) => ({
    label: s.name,
    bars: [
      { v: s.p50Ms, color: '#8fbf5a', text: `p50 ${fmt(s.p50Ms, 1)}` },
      { v: s.p99Ms, color: '#d8843b', text: `p99 ${fmt(s.p99Ms, 1)}` },
    ],
  })));
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${y}" font-family="sans-serif" font-size="12">
<rect width="100%" height="100%" fill="white"/>
<text x="10" y="20" font-size="14" font-weight="bold">${esc(title)}</text>
${parts.join('\n')}
</svg>
`;
}
